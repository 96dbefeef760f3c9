/*
 * Loading good DAGs: every resolved field of the files in tests/dags/good,
 * the spec's own DAG, and generated 100,000-task files.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/dag.h"
#include "pw_test.h"

static char *good_path(const char *name)
{
	const char *src = getenv("PW_SOURCE_DIR");
	return pw_xasprintf("%s/tests/dags/good/%s", src ? src : ".", name);
}

static pw_dag *load_good(const char *name)
{
	char *path = good_path(name);
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_file(&dag, path, &d);
	PW_CHECK(rc == 0 && dag, "%s loads", name);
	PW_CHECK_INT(d.n, 0, "%s: no diagnostics", name);
	if (d.n)
		pw_diags_print(&d, stdout);
	pw_diags_release(&d);
	free(path);
	return dag;
}

static const pw_task *task(const pw_dag *dag, const char *id)
{
	const pw_task *t = pw_dag_find(dag, id);
	PW_CHECK(t != NULL, "task %s found", id);
	if (!t) {
		printf("Bail out! task %s missing\n", id);
		exit(1);
	}
	return t;
}

static bool argv_is(const pw_task *t, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	if (!t->argv || t->argc != n || t->argv[n] != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t->argv[i], want[i]))
			return false;
	return true;
}

static void check_dep(const pw_dag *dag, const pw_task *t, size_t i, const char *name,
		      bool optional)
{
	PW_CHECK(i < t->ndeps, "%s has dep %zu", t->task_id, i);
	if (i >= t->ndeps)
		return;
	const pw_dep *d = &t->deps[i];
	PW_CHECK_STR(d->name, name, "%s dep %zu name", t->task_id, i);
	PW_CHECK(d->task < dag->ntasks && !strcmp(dag->tasks[d->task].task_id, name),
		 "%s dep %zu resolves to %s", t->task_id, i, name);
	PW_CHECK(d->optional == optional, "%s dep %zu optional=%d", t->task_id, i, optional);
	PW_CHECK(d->loc.line > 0 && d->loc.col > 0, "%s dep %zu has a position", t->task_id, i);
}

static bool dependents_are(const pw_dag *dag, const pw_task *t, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	if (t->ndependents != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(dag->tasks[t->dependents[i]].task_id, want[i]))
			return false;
	return true;
}

static const char *env_get(const pw_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static void test_spec_dag(void)
{
	pw_dag *dag = load_good("spec_data_pipeline.yaml");
	if (!dag)
		return;
	PW_CHECK_STR(dag->dag_id, "f1_data_pipeline", "spec dag_id");
	PW_CHECK_INT(dag->dag_id_loc.line, 1, "dag_id line");
	PW_CHECK_INT(dag->dag_id_loc.col, 9, "dag_id col");
	PW_CHECK_STR(dag->description, "Complete F1 data ingestion and processing pipeline",
		     "spec description");
	PW_CHECK_STR(dag->schedule, "0 2 * * 1", "spec schedule");
	PW_CHECK_INT(dag->schedule_loc.line, 3, "schedule line");
	PW_CHECK_INT(dag->schedule_loc.col, 11, "schedule col");
	PW_CHECK(dag->timezone == NULL, "no timezone = UTC");
	PW_CHECK_INT(dag->default_timeout_ms, 3600000, "default_timeout 3600 s");
	PW_CHECK_INT(dag->default_retries, 2, "default_retries");
	PW_CHECK_INT(dag->default_retry_delay_ms, -1, "default_retry_delay unset");
	PW_CHECK_INT(dag->ntasks, 4, "spec has 4 tasks");
	PW_CHECK(dag->path && strstr(dag->path, "spec_data_pipeline.yaml"), "path kept");
	PW_CHECK(dag->dir && dag->dir[0] == '/' && strstr(dag->dir, "tests/dags/good"),
		 "dir is absolute: %s", dag->dir ? dag->dir : "(null)");
	PW_CHECK(dag->text && dag->text_len > 100 && !strncmp(dag->text, "dag_id: f1_data", 15) &&
		     dag->text[dag->text_len] == '\0',
		 "text kept");

	const pw_task *j = task(dag, "ingest_jolpica");
	PW_CHECK_INT(j->index, 0, "jolpica index");
	PW_CHECK(
	    argv_is(j, (const char *[]){"python", "data/download.py", "--source=ergast", NULL}),
	    "jolpica argv");
	PW_CHECK(j->shell == NULL, "jolpica has no shell");
	PW_CHECK_STR(j->container, "gcr.io/f1-strategy/data-ingestion:latest", "jolpica container");
	PW_CHECK_STR(j->executor, "local", "executor defaults to local");
	PW_CHECK_INT(j->timeout_ms, 3600000, "jolpica timeout");
	PW_CHECK_INT(j->retries, 3, "jolpica retries");
	PW_CHECK_INT(j->retry_delay_ms, 0, "jolpica retry_delay default 0");
	PW_CHECK(j->retry_backoff == 2.0, "backoff from the DAG default");
	PW_CHECK_INT(j->max_retry_delay_ms, 600000, "max_retry_delay default 10 min");
	PW_CHECK_INT(j->ndeps, 0, "jolpica has no deps");
	PW_CHECK_INT(j->level, 0, "jolpica level 0");
	PW_CHECK(dependents_are(dag, j, (const char *[]){"validate_raw_data", NULL}),
		 "jolpica dependents");
	PW_CHECK_INT(j->loc.line, 8, "jolpica mapping line");
	PW_CHECK_INT(j->loc.col, 5, "jolpica mapping col");
	PW_CHECK_INT(j->id_loc.line, 8, "jolpica id line");
	PW_CHECK_INT(j->id_loc.col, 14, "jolpica id col");
	PW_CHECK_INT(j->command_loc.line, 10, "jolpica command line");
	PW_CHECK_INT(j->trigger_rule, PW_TRIGGER_ALL_SUCCESS, "default trigger rule");

	const pw_task *f = task(dag, "ingest_fastf1");
	PW_CHECK_INT(f->timeout_ms, 21600000, "fastf1 timeout");
	const pw_task *v = task(dag, "validate_raw_data");
	PW_CHECK_INT(v->timeout_ms, 300000, "validate timeout");
	PW_CHECK_INT(v->retries, 1, "validate retries");
	PW_CHECK_INT(v->ndeps, 2, "validate has 2 deps");
	check_dep(dag, v, 0, "ingest_jolpica", false);
	check_dep(dag, v, 1, "ingest_fastf1", false);
	PW_CHECK_INT(v->level, 1, "validate level 1");
	const pw_task *p = task(dag, "process_clean");
	check_dep(dag, p, 0, "validate_raw_data", false);
	PW_CHECK_INT(p->level, 2, "process level 2");
	PW_CHECK_INT(p->ndependents, 0, "process has no dependents");
	PW_CHECK(p->dependents != NULL, "dependents array allocated even when empty");

	PW_CHECK(dag->on_failure.present, "on_failure present");
	PW_CHECK_STR(dag->on_failure.action, "notify", "on_failure action");
	PW_CHECK_INT(dag->on_failure.nchannels, 2, "two channels");
	if (dag->on_failure.nchannels == 2) {
		PW_CHECK_STR(dag->on_failure.channels[0], "slack", "channel 0");
		PW_CHECK_STR(dag->on_failure.channels[1], "pagerduty", "channel 1");
		PW_CHECK(dag->on_failure.channels[2] == NULL, "channels NULL-terminated");
	}
	PW_CHECK(dag->on_success.present, "on_success present");
	PW_CHECK_STR(dag->on_success.action, "log", "on_success action");
	PW_CHECK_STR(dag->on_success.message, "Data pipeline completed successfully", "message");
	PW_CHECK(dag->on_success.argv == NULL && dag->on_success.shell == NULL, "no hook command");

	PW_CHECK(pw_dag_find(dag, "nope") == NULL, "find unknown id");
	PW_CHECK(pw_dag_find(dag, NULL) == NULL, "find NULL id");
	pw_dag_free(dag);
}

static void test_spec_nodes(void)
{
	pw_dag *dag = load_good("spec_nodes.yaml");
	if (!dag)
		return;
	PW_CHECK_INT(dag->ntasks, 9, "nine spec nodes");
	const pw_task *j = task(dag, "ingest_jolpica");
	PW_CHECK_INT(j->retries, 3, "retry_policy.max_retries");
	PW_CHECK_INT(j->retry_delay_ms, 60000, "retry_policy.retry_delay 60s");
	PW_CHECK_INT(j->timeout_ms, 3600000, "timeout 3600s");
	const pw_task *f = task(dag, "ingest_fastf1");
	PW_CHECK_INT(f->retry_delay_ms, 120000, "fastf1 retry_delay 120s");
	PW_CHECK_INT(f->timeout_ms, 21600000, "fastf1 timeout 21600s");
	const pw_task *v = task(dag, "validate_raw_data");
	PW_CHECK_INT(v->retries, 1, "validate retries");
	PW_CHECK_INT(v->retry_delay_ms, 0, "retry_delay 0s is allowed");
	const pw_task *s = task(dag, "create_train_split");
	PW_CHECK_INT(s->timeout_ms, 0, "no timeout anywhere = 0");
	PW_CHECK_INT(s->retries, 0, "no retries anywhere = 0");
	PW_CHECK_INT(s->level, 4, "split level");
	const pw_task *fe = task(dag, "feature_engineering");
	PW_CHECK(dependents_are(dag, fe,
				(const char *[]){"create_train_split", "create_val_split",
						 "create_test_split", NULL}),
		 "feature_engineering dependents in file order");
	const pw_task *x = task(dag, "extract_driver_profiles");
	PW_CHECK_INT(x->level, 5, "profiles level (longest path)");
	PW_CHECK_INT(x->ndeps, 3, "profiles deps");
	check_dep(dag, x, 2, "create_test_split", false);
	PW_CHECK_INT(x->timeout_ms, 1800000, "profiles timeout");
	pw_dag_free(dag);
}

static void test_full(void)
{
	pw_dag *dag = load_good("full.yaml");
	if (!dag)
		return;
	PW_CHECK_STR(dag->dag_id, "full.example-1", "dag_id with . and -");
	PW_CHECK_STR(dag->schedule, "*/15 6-18 * * mon-fri", "schedule");
	PW_CHECK_STR(dag->timezone, "Europe/London", "timezone");
	PW_CHECK_INT(dag->default_timeout_ms, 5400000, "default_timeout 1h30m");
	PW_CHECK_INT(dag->default_retries, 2, "default_retries");
	PW_CHECK_INT(dag->default_retry_delay_ms, 45000, "default_retry_delay");
	PW_CHECK(dag->retry_backoff == 1.5, "retry_backoff");
	PW_CHECK_INT(dag->max_retry_delay_ms, 300000, "max_retry_delay");
	PW_CHECK(dag->retry_jitter == 0.25, "retry_jitter");
	PW_CHECK_INT(dag->max_active_tasks, 4, "max_active_tasks");
	PW_CHECK_INT(dag->kill_grace_ms, 2500, "kill_grace");
	PW_CHECK_INT(dag->nenv, 3, "dag env");
	PW_CHECK_STR(env_get(dag->env, dag->nenv, "REGION"), "eu-west-1", "env REGION");
	PW_CHECK_STR(env_get(dag->env, dag->nenv, "RUN_TAG"), "{{ run_id }}",
		     "placeholder kept verbatim in env");
	PW_CHECK_STR(env_get(dag->env, dag->nenv, "LEVEL"), "3", "number kept as text");
	PW_CHECK_STR(dag->env[0].key, "REGION", "env in file order");
	PW_CHECK_INT(dag->env[0].loc.line, 15, "env key position");

	const pw_task *e = task(dag, "extract");
	PW_CHECK(argv_is(e, (const char *[]){"fetch", "--date", "{{ logical_date }}", "--out",
					     "{{ workspace }}/raw", NULL}),
		 "placeholders kept verbatim in argv");
	PW_CHECK_INT(e->noutputs, 1, "outputs");
	PW_CHECK_STR(e->outputs[0], "raw/*.json", "output glob");
	PW_CHECK(e->outputs[1] == NULL, "outputs NULL-terminated");
	PW_CHECK(e->source, "source: true");
	PW_CHECK_INT(e->timeout_ms, 90000, "timeout 90");
	PW_CHECK_INT(e->retries, 5, "retries");
	PW_CHECK_INT(e->retry_delay_ms, 0, "retry_delay 0 overrides the default");
	PW_CHECK(e->retry_on.classes ==
		     ((1u << PW_CLASS_NETWORK_TIMEOUT) | (1u << PW_CLASS_RESOURCE_UNAVAILABLE)),
		 "retry_on classes");
	PW_CHECK(e->retry_on.ncodes == 1 && e->retry_on.codes[0] == 75, "retry_on codes");
	PW_CHECK(e->no_retry_on.classes == 1u << PW_CLASS_PERMISSION_DENIED, "no_retry_on classes");
	PW_CHECK(e->no_retry_on.ncodes == 1 && e->no_retry_on.codes[0] == 3, "no_retry_on codes");
	PW_CHECK_INT(e->nenv, 1, "task env");
	PW_CHECK_STR(e->env[0].value, "https://example.test/api", "task env value");
	PW_CHECK(e->resources.cpu_limit == 2.0, "cpu 2 cores");
	PW_CHECK_INT(e->resources.memory_limit, 8LL << 30, "memory 8Gi");
	PW_CHECK(fabs(e->resources.max_cost_per_run - 0.5) < 1e-9, "cost $0.50");
	PW_CHECK_INT(e->resources.loc.line, 38, "resources position (the key)");

	const pw_task *c = task(dag, "clean");
	PW_CHECK(c->argv == NULL && c->argc == 0, "shell task has no argv");
	PW_CHECK_STR(c->shell, "clean < raw/in.json > clean/out.csv", "shell line");
	PW_CHECK_INT(c->shell_loc.line, 44, "shell position");
	PW_CHECK_INT(c->shell_loc.col, 12, "shell column");
	PW_CHECK_INT(c->trigger_rule, PW_TRIGGER_ALL_DONE, "trigger all_done");
	PW_CHECK_STR(c->working_dir, "/tmp", "working_dir");
	PW_CHECK_STR(c->inputs[0], "raw/*.json", "inputs");
	PW_CHECK(fabs(c->resources.cpu_limit - 0.5) < 1e-9, "cpu 500m");
	PW_CHECK_INT(c->resources.memory_limit, 3LL << 29, "memory 1.5Gi");
	PW_CHECK(c->resources.max_cost_per_run == 2.0, "cost 2");
	PW_CHECK_INT(c->retries, 1, "retry_policy.max_retries");
	PW_CHECK_INT(c->retry_delay_ms, 120000, "retry_policy.retry_delay");
	PW_CHECK(c->retry_backoff == 3.0, "retry_policy.backoff_multiplier");
	PW_CHECK_INT(c->max_retry_delay_ms, 3600000, "retry_policy.max_retry_delay");
	PW_CHECK_INT(c->timeout_ms, 5400000, "timeout from default_timeout");
	PW_CHECK_INT(c->level, 1, "clean level");

	const pw_task *a = task(dag, "audit");
	PW_CHECK_STR(a->executor, "container", "executor container");
	PW_CHECK_STR(a->container, "registry.local/audit:1.0", "container");
	PW_CHECK_INT(a->timeout_ms, 86400000, "timeout 1d");
	PW_CHECK_INT(a->retries, 2, "retries from default");
	PW_CHECK_INT(a->retry_delay_ms, 45000, "retry_delay from default");
	PW_CHECK(a->retry_backoff == 1.5, "backoff from the DAG");
	PW_CHECK_INT(a->max_retry_delay_ms, 300000, "max_retry_delay from the DAG");
	PW_CHECK(a->resources.cpu_limit == 0 && a->resources.memory_limit == 0 &&
		     a->resources.max_cost_per_run == 0,
		 "no resources = 0");

	const pw_task *r = task(dag, "report");
	PW_CHECK_INT(r->ndeps, 3, "report deps");
	check_dep(dag, r, 0, "clean", false);
	check_dep(dag, r, 1, "audit", false);
	check_dep(dag, r, 2, "extract", true);
	PW_CHECK_INT(r->trigger_rule, PW_TRIGGER_NONE_FAILED, "trigger none_failed");
	PW_CHECK(r->retry_on.classes == 1u << PW_CLASS_ERROR, "retry_policy.retry_on");
	PW_CHECK_INT(r->level, 2, "report level");
	PW_CHECK(dependents_are(dag, e, (const char *[]){"clean", "audit", "report", NULL}),
		 "optional dependents included");

	PW_CHECK(dag->on_failure.present, "on_failure");
	PW_CHECK_STR(dag->on_failure.message, "{{ dag_id }} failed", "hook message verbatim");
	PW_CHECK_STR(dag->on_success.action, "command", "shell hook -> action command");
	PW_CHECK_STR(dag->on_success.shell, "echo done >> notes.txt", "hook shell");
	pw_dag_free(dag);
}

static void test_minimal_and_anchors(void)
{
	pw_dag *dag = load_good("minimal.yaml");
	if (dag) {
		PW_CHECK(dag->schedule == NULL && dag->timezone == NULL && dag->description == NULL,
			 "unset strings are NULL");
		PW_CHECK_INT(dag->default_timeout_ms, -1, "default_timeout unset");
		PW_CHECK_INT(dag->default_retries, -1, "default_retries unset");
		PW_CHECK(dag->retry_backoff == 2.0, "retry_backoff default");
		PW_CHECK(dag->retry_jitter == 1.0, "retry_jitter default");
		PW_CHECK_INT(dag->max_active_tasks, 10, "max_active_tasks default");
		PW_CHECK_INT(dag->kill_grace_ms, 10000, "kill_grace default");
		PW_CHECK_INT(dag->max_retry_delay_ms, 600000, "max_retry_delay default");
		PW_CHECK(!dag->on_failure.present && !dag->on_success.present, "no hooks");
		PW_CHECK(dag->env == NULL && dag->nenv == 0, "no env");
		const pw_task *t = task(dag, "only");
		PW_CHECK(argv_is(t, (const char *[]){"true", NULL}), "argv true");
		PW_CHECK(t->deps != NULL && t->ndeps == 0, "no deps");
		PW_CHECK_INT(t->timeout_ms, 0, "timeout 0 = none");
		PW_CHECK_INT(t->retries, 0, "retries 0");
		PW_CHECK(t->working_dir == NULL && t->container == NULL, "unset task strings");
		pw_dag_free(dag);
	}

	dag = load_good("anchors.yaml");
	if (dag) {
		const pw_task *a = task(dag, "a"), *b = task(dag, "b"), *c = task(dag, "c");
		PW_CHECK_INT(a->timeout_ms, 600000, "merged timeout");
		PW_CHECK_INT(a->retries, 1, "merged retries");
		PW_CHECK_INT(b->retries, 4, "own key wins over merged one");
		PW_CHECK(argv_is(b, (const char *[]){"run", "step", NULL}), "aliased command");
		PW_CHECK_INT(a->nenv, 1, "merged env");
		PW_CHECK_STR(c->env[0].value, "batch", "aliased env");
		PW_CHECK_STR(c->argv[1], "{{ task_id }}", "quoted placeholder");
		PW_CHECK_INT(c->level, 2, "c level");
		pw_dag_free(dag);
	}
}

/* Every file in tests/dags/good loads without a single diagnostic. */
static void test_all_good(void)
{
	const char *src = getenv("PW_SOURCE_DIR");
	char *dir = pw_xasprintf("%s/tests/dags/good", src ? src : ".");
	DIR *d = opendir(dir);
	PW_CHECK(d != NULL, "open %s", dir);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		pw_dag *dag = load_good(e->d_name);
		pw_dag_free(dag);
		n++;
	}
	if (d)
		closedir(d);
	PW_CHECK(n >= 6, "%zu good files", n);
	free(dir);

	pw_dag *dag = load_good("crlf_bom.yaml");
	if (dag) {
		PW_CHECK_STR(dag->dag_id, "crlf_bom", "BOM skipped, CR not in values");
		PW_CHECK_INT(dag->dag_id_loc.line, 2, "line after the comment");
		PW_CHECK_INT(dag->dag_id_loc.col, 9, "columns do not count the BOM");
		const pw_task *a = task(dag, "a");
		PW_CHECK_STR(a->argv[1], "caf\xc3\xa9", "UTF-8 argument kept");
		PW_CHECK_STR(task(dag, "b")->shell, "echo b", "shell without CR");
		pw_dag_free(dag);
	}
}

/* Diagnostics of one file never decide another's result. */
static void test_shared_diags(void)
{
	/* PW_CHECK evaluates its condition twice: calls go outside it. */
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag;
	const char bad[] = "dag_id: x\n";
	const char good[] = "dag_id: y\ntasks: [{task_id: a, command: [\"true\"]}]\n";
	int rc = pw_dag_load_buffer(&dag, "bad.yaml", bad, strlen(bad), &d);
	PW_CHECK(rc < 0 && !dag, "bad buffer fails");
	size_t n = d.n;
	PW_CHECK_INT(n, 1, "one diagnostic");
	rc = pw_dag_load_buffer(&dag, "good.yaml", good, strlen(good), &d);
	PW_CHECK(rc == 0 && dag, "good buffer after a bad one loads");
	PW_CHECK(d.n == n, "no new diagnostics");
	pw_dag_free(dag);
	rc = pw_dag_load_buffer(&dag, NULL, good, strlen(good), &d);
	PW_CHECK(rc == 0, "NULL path");
	PW_CHECK_STR(dag ? dag->path : NULL, "<input>", "NULL path is <input>");
	pw_dag_free(dag);
	rc = pw_dag_load_file(&dag, "/nonexistent/dag.yaml", &d);
	PW_CHECK(rc < 0 && !dag, "missing file fails");
	bool found = false;
	for (size_t i = 0; i < d.n; i++)
		if (!strcmp(d.v[i].file, "/nonexistent/dag.yaml") &&
		    strstr(d.v[i].msg, "cannot read the file: No such file"))
			found = true;
	PW_CHECK(d.n == n + 1 && found, "missing file is a diagnostic");
	pw_diags_release(&d);
	pw_dag_free(NULL);
}

/*
 * n tasks; each depends on the one before and, with extra, on two more
 * within 50 (never the same one twice).  close_cycle makes the first
 * depend on the last.
 */
static char *gen_big(size_t n, bool extra, bool close_cycle, size_t *len)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "dag_id: big\ntasks:\n");
	uint32_t seed = 12345;
	for (size_t i = 0; i < n; i++) {
		pw_strbuf_addf(&sb, "  - task_id: t%06zu\n    command: [\"true\"]\n", i);
		if (i == 0 && close_cycle)
			pw_strbuf_addf(&sb, "    dependencies: [t%06zu]\n", n - 1);
		if (i == 0)
			continue;
		pw_strbuf_addf(&sb, "    dependencies: [t%06zu", i - 1);
		for (int k = 0; k < 2 && extra; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t back = (k ? 26 : 2) + (seed >> 16) % 24;
			if (back <= i)
				pw_strbuf_addf(&sb, ", t%06zu", i - back);
		}
		pw_strbuf_adds(&sb, "]\n");
	}
	*len = sb.len;
	return pw_strbuf_detach(&sb);
}

static void test_big(void)
{
	const size_t n = 100000;
	size_t len;
	char *buf = gen_big(n, true, false, &len);
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_buffer(&dag, "big.yaml", buf, len, &d);
	if (rc != 0)
		pw_diags_print(&d, stdout);
	PW_CHECK(rc == 0 && dag, "100,000-task DAG loads");
	if (dag) {
		PW_CHECK_INT(dag->ntasks, n, "all tasks");
		PW_CHECK_INT(dag->tasks[n - 1].level, n - 1, "chain: last level is n-1");
		PW_CHECK_INT(dag->tasks[0].ndependents >= 1, 1, "first task has dependents");
		PW_CHECK(pw_dag_find(dag, "t099999") == &dag->tasks[n - 1], "find last");
		pw_dag_free(dag);
	}
	pw_diags_release(&d);
	free(buf);

	/* The same chain closed into one cycle of 100,000 tasks: no recursion, one report. */
	buf = gen_big(n, false, true, &len);
	rc = pw_dag_load_buffer(&dag, "cycle.yaml", buf, len, &d);
	PW_CHECK(rc < 0 && !dag, "100,000-task cycle fails");
	PW_CHECK_INT(d.nerrors, 1, "one cycle, one report");
	if (d.n) {
		PW_CHECK(
		    !strncmp(d.v[0].msg, "dependency cycle: t000000 -> t099999 -> t099998 -> ", 51),
		    "cycle starts at the first task: %s", d.v[0].msg);
		PW_CHECK(strstr(d.v[0].msg, "more) ->") != NULL, "long cycle abbreviated");
		PW_CHECK_INT(d.v[0].line, 5, "reported at t000000's dependency");
		PW_CHECK_INT(d.v[0].col, 20, "reported at t000000's dependency (column)");
	}
	pw_diags_release(&d);
	free(buf);
}

int main(void)
{
	test_spec_dag();
	test_spec_nodes();
	test_full();
	test_minimal_and_anchors();
	test_all_good();
	test_shared_diags();
	test_big();
	PW_TEST_DONE();
}
