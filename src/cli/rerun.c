/*
 * pitwall rerun / pitwall resume: carry on an existing run (same
 * dag_run_id, same workspace, same logical date and seed).
 *
 * rerun re-executes a chosen set of tasks of a finished run; resume
 * finishes a run whose pitwall process died.  Both keep every task outside
 * the set at its recorded final state, and before reusing a successful
 * task's outputs they re-hash them against the recorded lineage: a changed
 * or vanished file refuses the re-run (or, with --rehash-upstream, its
 * producer runs again).  Downstream tasks left upstream_failed or skipped
 * are always part of the set, so no task is left stuck.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pitwall/cost.h"
#include "exec/events.h"
#include "pitwall/plan.h"
#include "pitwall/recorder.h"
#include "pitwall/run.h"
#include "pitwall/sha256.h"
#include "pitwall/slurm.h"
#include "pitwall/views.h"

static pw_task_state state_from_name(const char *name)
{
	for (int s = 0; s < PW_TS_COUNT; s++)
		if (strcmp(pw_task_state_name((pw_task_state)s), name) == 0)
			return (pw_task_state)s;
	return PW_TS_PENDING;
}

/* Mark t and everything downstream of it. */
static void mark_downstream(const pw_dag *dag, size_t t, bool *set)
{
	size_t *stack = pw_xmalloc(dag->ntasks * sizeof(*stack)), n = 0;
	bool *seen = pw_xcalloc(dag->ntasks, sizeof(*seen));
	stack[n++] = t;
	seen[t] = true;
	while (n) {
		size_t x = stack[--n];
		set[x] = true;
		for (size_t i = 0; i < dag->tasks[x].ndependents; i++) {
			size_t d = dag->tasks[x].dependents[i];
			if (!seen[d]) {
				seen[d] = true;
				stack[n++] = d;
			}
		}
	}
	free(stack);
	free(seen);
}

/* task_id -> the outputs of its last recorded lineage event */
static int collect_outputs(const pw_audit_row *r, void *payload)
{
	json_t *map = payload;
	json_error_t e;
	json_t *m = json_loads(r->metadata, 0, &e);
	if (m && r->task_id)
		json_object_set(map, r->task_id, json_object_get(m, "outputs"));
	json_decref(m);
	return 0;
}

static bool same_graph_around(const pw_dag *old, const pw_dag *cur, const bool *reused,
			      pw_strbuf *why)
{
	for (size_t i = 0; i < old->ntasks; i++) {
		if (!reused[i])
			continue;
		const pw_task *a = &old->tasks[i];
		const pw_task *b = pw_dag_find(cur, a->task_id);
		if (!b) {
			pw_strbuf_addf(why, "reused task '%s' is gone from the current definition",
				       a->task_id);
			return false;
		}
		bool same = a->ndeps == b->ndeps && a->argc == b->argc && !a->shell == !b->shell &&
			    (!a->shell || strcmp(a->shell, b->shell) == 0);
		for (size_t k = 0; same && k < a->ndeps; k++)
			same = strcmp(a->deps[k].name, b->deps[k].name) == 0;
		for (size_t k = 0; same && k < a->argc; k++)
			same = strcmp(a->argv[k], b->argv[k]) == 0;
		if (!same) {
			pw_strbuf_addf(
			    why,
			    "reused task '%s' has other dependencies or another command in "
			    "the current definition",
			    a->task_id);
			return false;
		}
	}
	return true;
}

static void kill_leftovers(pw_run_view *rv, pw_audit_store *store, const char *actor)
{
	for (size_t i = 0; i < rv->ntasks; i++) {
		pw_task_view *t = &rv->tasks[i];
		if (strcmp(t->state, "running") != 0 || t->pid <= 0)
			continue;
		unsigned long long st = pw_proc_start_time(t->pid);
		if (st == 0 || st != t->pid_start) {
			/* Gone, or the pid now belongs to someone else: never signal it. */
			continue;
		}
		kill(-t->pid, SIGTERM);
		for (int k = 0; k < 100 && kill(-t->pid, 0) == 0; k++)
			usleep(50000);
		if (kill(-t->pid, 0) == 0)
			kill(-t->pid, SIGKILL);
		fprintf(stderr, "pitwall resume: terminated leftover process group %d of task %s\n",
			t->pid, t->task_id);
		pw_audit_row row;
		pw_audit_row_init(&row, rv->dag_id, rv->run_id, t->task_id, "orphan_killed");
		pw_audit_row_set(&row.actor, actor);
		pw_audit_row_set(&row.action, "kill");
		pw_audit_row_set(&row.status, "cancelled");
		char *md = pw_xasprintf("{\"pid\":%d,\"pid_start\":%llu,\"attempt\":%d}", t->pid,
					t->pid_start, t->attempts);
		pw_audit_row_set(&row.metadata, md);
		free(md);
		pw_strbuf err = PW_STRBUF_INIT;
		pw_audit_append(store, &row, 1, &err);
		pw_strbuf_release(&err);
		pw_audit_row_release(&row);
	}
}

typedef struct {
	bool resume;
	const char *run_id;
	const char *from;
	const char **only;
	size_t nonly;
	bool dry_run, rehash_upstream, use_current;
	const char *reason;
	const char *store_url;
	pw_run_opts o;
} cont_opts;

static int continue_run(cont_opts *co)
{
	const char *cmd = co->resume ? "resume" : "rerun";
	int rc = PW_EXIT_OK;
	pw_strbuf err = PW_STRBUF_INIT, why = PW_STRBUF_INIT;
	pw_audit_store *store = pw_cli_open_store(cmd, co->store_url);
	if (!store)
		return PW_EXIT_SOFTWARE;
	pw_run_view rv;
	pw_dag *dag = NULL, *cur = NULL;
	bool *sel = NULL;
	pw_task_state *preset = NULL;
	int *base = NULL;
	json_t *outputs = json_object();
	char *actor = co->o.actor ? pw_xstrdup(co->o.actor) : pw_default_actor();
	int claim_fd = -1;
	pw_run_adopt *adopt = NULL;
	size_t nadopt = 0;

	memset(&rv, 0, sizeof(rv));
	if (pw_cli_claim_run_id(store, co->run_id, &claim_fd) != 0) {
		fprintf(stderr,
			"pitwall %s: run %s is still running in another pitwall process (it holds "
			"the run's "
			"lock)\n",
			cmd, co->run_id);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	int lr = pw_run_view_load(store, co->run_id, &rv, &err);
	if (lr != 0) {
		fprintf(stderr, "pitwall %s: %s\n", cmd,
			lr > 0 ? "no such run in the audit store (see 'pitwall history')"
			       : err.buf);
		rc = lr > 0 ? PW_EXIT_FAILED : PW_EXIT_SOFTWARE;
		goto out;
	}
	if (strcmp(rv.status, "running") == 0) {
		fprintf(stderr, "pitwall %s: run %s is still running (pitwall pid %d)\n", cmd,
			rv.run_id, rv.pid);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	if (co->resume && strcmp(rv.status, "interrupted") != 0) {
		fprintf(stderr,
			"pitwall resume: run %s is not interrupted (it ended %s)\n  hint: 'pitwall "
			"rerun %s' re-executes its failed tasks\n",
			rv.run_id, rv.status, rv.run_id);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	if (!rv.dag_text) {
		fprintf(stderr, "pitwall %s: the run's DAG text is not in the audit record\n", cmd);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	if (!(dag = pw_run_view_recorded_dag(&rv))) {
		fprintf(stderr, "pitwall %s: the recorded DAG text no longer loads\n", cmd);
		rc = PW_EXIT_INVALID;
		goto out;
	}

	size_t n = dag->ntasks;
	sel = pw_xcalloc(n, sizeof(*sel));
	preset = pw_xcalloc(n, sizeof(*preset));
	base = pw_xcalloc(n, sizeof(*base));
	pw_task_state *rec = pw_xcalloc(n, sizeof(*rec));
	for (size_t i = 0; i < n; i++) {
		pw_task_view *tv = pw_run_view_task(&rv, dag->tasks[i].task_id);
		rec[i] = tv ? state_from_name(tv->state) : PW_TS_PENDING;
		base[i] = tv ? tv->attempts : 0;
	}

	if (co->resume) {
		kill_leftovers(&rv, store, actor);
		/* A Slurm job is not a leftover: it is taken over, not killed. */
		char aerr[1024];
		if (pw_slurm_adoptions(dag, &rv, &adopt, &nadopt, stderr, aerr, sizeof(aerr)) < 0) {
			fprintf(stderr,
				"pitwall resume: %s\n  hint: resume once slurmrestd answers\n",
				aerr);
			rc = PW_EXIT_FAILED;
			free(rec);
			goto out;
		}
		for (size_t k = 0; k < nadopt; k++)
			base[adopt[k].task] = adopt[k].attempt - 1;
		for (size_t i = 0; i < n; i++)
			sel[i] = !pw_task_state_terminal(rec[i]);
	} else if (co->from) {
		const pw_task *t = pw_dag_find(dag, co->from);
		if (!t) {
			fprintf(stderr, "pitwall rerun: no task '%s' in run %s's DAG\n", co->from,
				rv.run_id);
			rc = PW_EXIT_USAGE;
			free(rec);
			goto out;
		}
		mark_downstream(dag, t->index, sel);
	} else if (co->nonly) {
		for (size_t k = 0; k < co->nonly; k++) {
			const pw_task *t = pw_dag_find(dag, co->only[k]);
			if (!t) {
				fprintf(stderr, "pitwall rerun: no task '%s' in run %s's DAG\n",
					co->only[k], rv.run_id);
				rc = PW_EXIT_USAGE;
				free(rec);
				goto out;
			}
			sel[t->index] = true;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			sel[i] = rec[i] != PW_TS_SUCCESS;
	}
	/* Never leave a stuck task: what was blocked downstream of the set runs too. */
	for (size_t i = 0; i < n; i++)
		if (!sel[i] && !pw_task_state_terminal(rec[i]))
			sel[i] = true;
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!sel[i])
				continue;
			for (size_t k = 0; k < dag->tasks[i].ndependents; k++) {
				size_t dd = dag->tasks[i].dependents[k];
				if (!sel[dd] && rec[dd] != PW_TS_SUCCESS) {
					sel[dd] = true;
					changed = true;
				}
			}
		}
	}

	if (co->use_current) {
		pw_diags d2 = PW_DIAGS_INIT;
		if (!rv.dag_file || pw_dag_load_file(&cur, rv.dag_file, &d2) != 0) {
			pw_diags_print(&d2, stderr);
			pw_diags_release(&d2);
			fprintf(stderr, "pitwall rerun: cannot load the current definition %s\n",
				rv.dag_file ? rv.dag_file : "(unknown)");
			rc = PW_EXIT_INVALID;
			free(rec);
			goto out;
		}
		pw_diags_release(&d2);
		bool *reused = pw_xcalloc(n, sizeof(*reused));
		for (size_t i = 0; i < n; i++)
			reused[i] = !sel[i];
		bool ok = same_graph_around(dag, cur, reused, &why);
		free(reused);
		if (!ok) {
			fprintf(
			    stderr,
			    "pitwall rerun: refusing --use-current-definition: %s\n  hint: re-run "
			    "those tasks too (--from), or start a new run\n",
			    why.buf);
			rc = PW_EXIT_FAILED;
			free(rec);
			goto out;
		}
	}

	/* Re-hash what will be reused against the recorded lineage. */
	pw_audit_filter lf = {.dag_run_id = rv.run_id, .event_type = "lineage"};
	if (pw_audit_query(store, &lf, collect_outputs, outputs, &err) != 0) {
		fprintf(stderr, "pitwall %s: %s\n", cmd, err.buf);
		rc = PW_EXIT_SOFTWARE;
		free(rec);
		goto out;
	}
	for (int round = 0; round < 64; round++) {
		pw_strbuf bad = PW_STRBUF_INIT;
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			/*
			 * Every reused success: upstream outputs feed the re-run,
			 * the others are part of the run's result all the same.
			 */
			if (sel[i] || rec[i] != PW_TS_SUCCESS)
				continue;
			json_t *outs = json_object_get(outputs, dag->tasks[i].task_id);
			size_t k;
			json_t *f;
			bool task_bad = false;
			json_array_foreach(outs, k, f)
			{
				const char *p = json_string_value(json_object_get(f, "path"));
				const char *h = json_string_value(json_object_get(f, "sha256"));
				if (!p || !h)
					continue;
				char *full = pw_xasprintf("%s/%s", rv.workspace, p);
				char hex[65];
				if (pw_sha256_file(full, hex, NULL) != 0) {
					pw_strbuf_addf(&bad, "  %s (from task %s): missing\n", p,
						       dag->tasks[i].task_id);
					task_bad = true;
				} else if (strcmp(hex, h) != 0) {
					pw_strbuf_addf(
					    &bad,
					    "  %s (from task %s): changed (recorded sha256 %.16s…, "
					    "now %.16s…)\n",
					    p, dag->tasks[i].task_id, h, hex);
					task_bad = true;
				}
				free(full);
			}
			if (task_bad) {
				any = true;
				if (co->rehash_upstream)
					mark_downstream(dag, i, sel);
			}
		}
		if (any && !co->rehash_upstream) {
			fprintf(stderr,
				"pitwall %s: refusing to reuse outputs that no longer match the "
				"recorded lineage:\n%s  hint: restore them, or pass "
				"--rehash-upstream to "
				"re-run their producers\n",
				cmd, bad.buf);
			pw_strbuf_release(&bad);
			rc = PW_EXIT_FAILED;
			free(rec);
			goto out;
		}
		if (any)
			fprintf(stderr, "pitwall %s: re-running producers of changed outputs:\n%s",
				cmd, bad.buf);
		pw_strbuf_release(&bad);
		if (!any)
			break;
	}

	pw_strbuf list = PW_STRBUF_INIT, kept = PW_STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		pw_strbuf *b = sel[i] ? &list : &kept;
		if (b->len)
			pw_strbuf_adds(b, ", ");
		pw_strbuf_adds(b, dag->tasks[i].task_id);
		preset[i] = sel[i] ? PW_TS_PENDING : rec[i];
		if (!sel[i] && !pw_task_state_terminal(rec[i]))
			preset[i] =
			    PW_TS_CANCELLED; /* cannot happen: non-final tasks are selected */
	}
	free(rec);
	printf("%s %s: %s: %s\n", co->dry_run ? "would re-run in" : "re-running in", rv.run_id,
	       co->resume ? "resume" : "rerun", list.len ? list.buf : "(nothing)");
	printf("reusing: %s\n", kept.len ? kept.buf : "(nothing)");
	fflush(stdout);
	if (co->dry_run || !list.len) {
		pw_strbuf_release(&list);
		pw_strbuf_release(&kept);
		goto out;
	}

	/* Record the request, then run it as the next execution of the same run. */
	pw_audit_row req;
	pw_audit_row_init(&req, rv.dag_id, rv.run_id, NULL,
			  co->resume ? "run_resumed" : "rerun_requested");
	pw_audit_row_set(&req.actor, actor);
	pw_audit_row_set(&req.action, co->resume ? "resume" : "rerun");
	pw_audit_row_set(&req.status, "requested");
	pw_audit_row_set(&req.git_commit_sha, rv.git_sha);
	json_t *m = json_object();
	json_object_set_new(m, "tasks", json_string(list.buf));
	json_object_set_new(m, "reused", json_string(kept.buf));
	json_object_set_new(m, "reason", json_string(co->reason ? co->reason : ""));
	json_object_set_new(m, "previous_status", json_string(rv.status));
	if (co->from)
		json_object_set_new(m, "from", json_string(co->from));
	json_object_set_new(m, "execution", json_integer(rv.executions + 1));
	char *ms = json_dumps(m, JSON_COMPACT);
	pw_audit_row_set(&req.metadata, ms);
	free(ms);
	json_decref(m);
	pw_strbuf_release(&list);
	pw_strbuf_release(&kept);
	if (pw_audit_append(store, &req, 1, &err) != 0) {
		fprintf(stderr, "pitwall %s: cannot record the request: %s\n", cmd, err.buf);
		pw_audit_row_release(&req);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	pw_audit_row_release(&req);

	pw_run_opts o = co->o;
	o.run_id = rv.run_id;
	o.workspace = rv.workspace;
	pw_dag *use = cur ? cur : dag;
	if (cur) {
		/*
		 * The current definition may order (or add) tasks differently:
		 * carry the decisions over by task id, not by position.
		 */
		pw_task_state *p2 = pw_xcalloc(cur->ntasks, sizeof(*p2));
		int *b2 = pw_xcalloc(cur->ntasks, sizeof(*b2));
		for (size_t i = 0; i < n; i++) {
			const pw_task *ct = pw_dag_find(cur, dag->tasks[i].task_id);
			if (ct) {
				p2[ct->index] = preset[i];
				b2[ct->index] = base[i];
			}
		}
		free(preset);
		free(base);
		preset = p2;
		base = b2;
	}
	o.preset = preset;
	o.attempt_base = base;
	o.actor = actor;
	if (rv.logical_date && pw_parse_iso8601(rv.logical_date, &o.logical_date_s) == 0)
		o.logical_date_set = true;
	o.seed = rv.seed;
	o.seed_set = true;
	char extra[128];
	snprintf(extra, sizeof(extra), "{\"%s\":true,\"execution\":%d}",
		 co->resume ? "resume" : "rerun", rv.executions + 1);
	o.run_start_extra = extra;
	o.month_spend = pw_cost_month_spend_cb;
	o.month_spend_payload = store;
	o.adopt = adopt;
	o.nadopt = nadopt;

	pw_recorder rec_obs;
	pw_recorder_init(&rec_obs, store, use, actor);
	pw_log_observer lo;
	pw_log_observer_init(&lo, o.log_format, stderr);
	pw_run_observer obs[] = {
	    {pw_log_observer_event, &lo, NULL, NULL},
	    {pw_recorder_event, &rec_obs, pw_recorder_flush_due, pw_recorder_deadline}};
	pw_run_result res;
	char rerr[512] = "";
	if (pw_run_dag(use, &o, obs, PW_ARRAY_SIZE(obs), &res, rerr, sizeof(rerr)) != 0) {
		fprintf(stderr, "pitwall %s: %s\n", cmd, rerr);
		rc = PW_EXIT_CANTCREAT;
	} else {
		pw_recorder_flush(&rec_obs);
		char *jp = pw_xasprintf("%s/run.json", res.workspace);
		pw_run_write_json(use, &res, jp);
		free(jp);
		pw_run_print_summary(use, &res, stdout);
		rc = res.exit_code;
	}
	pw_run_result_release(&res);
	pw_recorder_release(&rec_obs);
out:
	json_decref(outputs);
	free(adopt);
	free(sel);
	free(preset);
	free(base);
	free(actor);
	pw_dag_free(dag);
	pw_dag_free(cur);
	pw_run_view_release(&rv);
	pw_strbuf_release(&err);
	pw_strbuf_release(&why);
	pw_audit_close(store);
	if (claim_fd >= 0)
		close(claim_fd);
	return rc;
}

static int parse_common(cont_opts *co, const char *cmd, int argc, char **argv)
{
	const char *v;
	co->only = pw_xcalloc((size_t)argc + 1, sizeof(*co->only));
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error(cmd, "--store needs a URL or path");
			co->store_url = v;
		} else if (!co->resume && pw_cli_opt(argc, argv, &i, NULL, "--from", &v)) {
			if (!v)
				return pw_cli_usage_error(cmd, "--from needs a task id");
			co->from = v;
		} else if (!co->resume && pw_cli_opt(argc, argv, &i, NULL, "--only", &v)) {
			if (!v)
				return pw_cli_usage_error(cmd, "--only needs a task id");
			co->only[co->nonly++] = v;
			/* --only a b c: take the following plain words too */
			while (i + 1 < argc && argv[i + 1][0] != '-')
				co->only[co->nonly++] = argv[++i];
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--reason", &v)) {
			if (!v)
				return pw_cli_usage_error(cmd, "--reason needs a text");
			co->reason = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--actor", &v)) {
			if (!v)
				return pw_cli_usage_error(cmd, "--actor needs a name");
			co->o.actor = v;
		} else if (pw_cli_opt(argc, argv, &i, "-j", "--jobs", &v)) {
			int j = v ? atoi(v) : 0;
			if (j < 1)
				return pw_cli_usage_error(cmd, "-j needs a positive number");
			co->o.max_active = j;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--log-format", &v)) {
			if (v && strcmp(v, "json") == 0)
				co->o.log_format = PW_LOG_JSON;
			else if (v && strcmp(v, "text") == 0)
				co->o.log_format = PW_LOG_TEXT;
			else
				return pw_cli_usage_error(cmd, "--log-format takes json or text");
		} else if (pw_cli_flag(argv, i, "-q", "--quiet")) {
			co->o.log_format = PW_LOG_NONE;
		} else if (pw_cli_flag(argv, i, NULL, "--dry-run")) {
			co->dry_run = true;
		} else if (!co->resume && pw_cli_flag(argv, i, NULL, "--rehash-upstream")) {
			co->rehash_upstream = true;
		} else if (!co->resume && pw_cli_flag(argv, i, NULL, "--use-current-definition")) {
			co->use_current = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
		} else if (co->run_id) {
			return pw_cli_usage_error(cmd, "only one RUN_ID");
		} else {
			co->run_id = argv[i];
		}
	}
	if (!co->run_id)
		return pw_cli_usage_error(cmd, "no RUN_ID given (see 'pitwall history')");
	if (co->from && co->nonly)
		return pw_cli_usage_error(cmd, "--from and --only do not go together");
	return 0;
}

int pw_cmd_rerun(int argc, char **argv)
{
	cont_opts co = {.o = PW_RUN_OPTS_INIT};
	int rc = parse_common(&co, "rerun", argc, argv);
	if (rc == 0)
		rc = continue_run(&co);
	free(co.only);
	return rc;
}

int pw_cmd_resume(int argc, char **argv)
{
	cont_opts co = {.resume = true, .o = PW_RUN_OPTS_INIT};
	int rc = parse_common(&co, "resume", argc, argv);
	if (rc == 0)
		rc = continue_run(&co);
	free(co.only);
	return rc;
}
