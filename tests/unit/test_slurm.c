/*
 * The Slurm module without a cluster: the DAG's slurm keys, the job
 * submission's body, quoting for /bin/sh, the job comment, and what each
 * job state (in v0.0.38's shapes and later ones') means for the attempt.
 * tests/integration/slurm_*.sh run the real thing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pitwall/slurm.h"
#include "pw_test.h"
#include "slurm/slurm_internal.h"

static pw_dag *load(const char *text, pw_diags *d)
{
	pw_dag *dag = NULL;
	pw_dag_load_buffer(&dag, "t.yaml", text, strlen(text), d);
	return dag;
}

static void test_dag_keys(void)
{
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag =
	    load("dag_id: s\n"
		 "executor: slurm\n"
		 "slurm: {url: \"http://127.0.0.1:6820\", api_version: v0.0.38, partition: "
		 "batch, account: proj, qos: normal, constraint: avx2, poll_interval: 2s, "
		 "user: alice, jwt_file: /etc/jwt}\n"
		 "tasks:\n"
		 "  - task_id: a\n    command: [\"true\"]\n"
		 "  - task_id: b\n    command: [\"true\"]\n    partition: gpu\n    qos: "
		 "high\n"
		 "  - task_id: c\n    command: [\"true\"]\n    executor: local\n"
		 "  - task_id: d\n    command: [\"true\"]\n    container: img\n",
		 &d);
	PW_CHECK(dag != NULL, "a DAG with slurm: loads");
	if (!dag) {
		pw_diags_print(&d, stdout);
		pw_diags_release(&d);
		return;
	}
	PW_CHECK_STR(dag->executor, "slurm", "DAG executor");
	PW_CHECK_STR(dag->slurm.url, "http://127.0.0.1:6820", "slurm.url");
	PW_CHECK_STR(dag->slurm.user, "alice", "slurm.user");
	PW_CHECK_STR(dag->slurm.jwt_file, "/etc/jwt", "slurm.jwt_file");
	PW_CHECK_INT(dag->slurm.poll_interval_ms, 2000, "slurm.poll_interval");
	const pw_task *a = pw_dag_find(dag, "a"), *b = pw_dag_find(dag, "b");
	const pw_task *c = pw_dag_find(dag, "c"), *dd = pw_dag_find(dag, "d");
	PW_CHECK_STR(a->executor, "slurm", "a task takes the DAG's executor");
	PW_CHECK_STR(a->partition, "batch", "... and the DAG's partition");
	PW_CHECK_STR(a->constraint, "avx2", "... and constraint");
	PW_CHECK_STR(b->partition, "gpu", "a task's own partition wins");
	PW_CHECK_STR(b->qos, "high", "a task's own qos wins");
	PW_CHECK_STR(b->account, "proj", "... the DAG's account still applies");
	PW_CHECK_STR(c->executor, "local", "an explicit executor: local wins");
	PW_CHECK(c->partition == NULL, "a local task gets no partition");
	PW_CHECK_STR(dd->executor, "local", "a container task stays here");
	pw_dag_free(dag);
	pw_diags_release(&d);

	static const char *const bad[][2] = {
	    {"slurm: {url: \"ftp://x\"}", "is not an http(s) URL or a unix socket"},
	    {"slurm: {api_version: latest}", "is not an OpenAPI version"},
	    {"slurm: {poll_interval: 0}", "slurm.poll_interval must be greater than zero"},
	    {"slurm: {partiton: x}", "unknown key 'partiton' in slurm (did you mean 'partition'?)"},
	    {"executor: container", "unknown executor 'container'"},
	    {"slurm: [1]", "slurm: expected a mapping"},
	};
	for (size_t i = 0; i < PW_ARRAY_SIZE(bad); i++) {
		char *text = pw_xasprintf("dag_id: s\n%s\ntasks:\n  - task_id: a\n    command: "
					  "[\"true\"]\n",
					  bad[i][0]);
		pw_diags d2 = PW_DIAGS_INIT;
		pw_dag *x = load(text, &d2);
		pw_strbuf sb = PW_STRBUF_INIT;
		for (size_t k = 0; k < d2.n; k++)
			pw_strbuf_addf(&sb, "%s\n", d2.v[k].msg);
		PW_CHECK(!x && sb.buf && strstr(sb.buf, bad[i][1]), "rejected: %s", bad[i][0]);
		if (x || !sb.buf || !strstr(sb.buf, bad[i][1]))
			printf("#   got: %s\n", sb.buf ? sb.buf : "(nothing)");
		pw_strbuf_release(&sb);
		pw_dag_free(x);
		pw_diags_release(&d2);
		free(text);
	}
	pw_diags d3 = PW_DIAGS_INIT;
	pw_dag *x =
	    load("dag_id: s\ntasks:\n  - task_id: a\n    command: [\"true\"]\n    executor: "
		 "slurm\n    container: img\n",
		 &d3);
	PW_CHECK(x == NULL && d3.n == 1 && strstr(d3.v[0].msg, "names a container"),
		 "executor: slurm with a container is an error");
	pw_dag_free(x);
	pw_diags_release(&d3);
}

/* What /bin/sh makes of the quoted words: each one bracketed. */
static char *sh_words(char *const *argv)
{
	char *q = pw_slurm_sh_quote(argv);
	char *script = pw_xasprintf("/tmp/pw-test-slurm-%d.sh", (int)getpid());
	FILE *f = fopen(script, "w");
	if (f) {
		fprintf(f, "for w in %s; do printf '[%%s]' \"$w\"; done", q);
		fclose(f);
	}
	char *run = pw_xasprintf("/bin/sh %s", script);
	FILE *p = popen(run, "r");
	pw_strbuf sb = PW_STRBUF_INIT;
	char buf[512];
	size_t n;
	while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0)
		pw_strbuf_add(&sb, buf, n);
	if (p)
		pclose(p);
	unlink(script);
	free(script);
	free(run);
	free(q);
	return pw_strbuf_detach(&sb);
}

static void test_quote(void)
{
	char *argv[] = {"plain",     "two words", "it's", "$HOME", "`date`", "back\\slash",
			"new\nline", "",	  "'''",  "*",	   "a\"b",   NULL};
	char *got = sh_words(argv);
	pw_strbuf want = PW_STRBUF_INIT;
	for (size_t i = 0; argv[i]; i++)
		pw_strbuf_addf(&want, "[%s]", argv[i]);
	PW_CHECK_STR(got, want.buf, "every word reaches the program as it was, through /bin/sh");
	free(got);
	pw_strbuf_release(&want);
	char *q = pw_slurm_sh_quote((char *[]){"it's", NULL});
	PW_CHECK_STR(q, "'it'\\''s'", "a single quote is closed, escaped and reopened");
	free(q);
}

static void test_comment(void)
{
	char *c = pw_slurm_comment("f1", "run/with/slashes_2", "clean.v2", 3);
	PW_CHECK_STR(c, "pitwall:f1/run/with/slashes_2/clean.v2/3", "comment");
	char *d, *r, *t;
	int a;
	PW_CHECK(pw_slurm_parse_comment(c, &d, &r, &t, &a), "comment parses back");
	PW_CHECK_STR(d, "f1", "... dag");
	PW_CHECK_STR(r, "run/with/slashes_2", "... run id with slashes");
	PW_CHECK_STR(t, "clean.v2", "... task");
	PW_CHECK_INT(a, 3, "... attempt");
	free(d);
	free(r);
	free(t);
	free(c);
	static const char *const bad[] = {"",
					  "pitwall:",
					  "pitwall:a/b/c",
					  "pitwall:a/b/c/x",
					  "pitwall:a//c/1",
					  "other:a/b/c/1",
					  "pitwall:a/b/c/0"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(bad); i++)
		PW_CHECK(!pw_slurm_parse_comment(bad[i], &d, &r, &t, &a), "not ours: '%s'", bad[i]);
}

static pw_slurm_job job_from(const char *text)
{
	pw_slurm_job j;
	pw_slurm_job_init(&j, 7);
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);
	if (!o)
		printf("# bad JSON in the test: %s\n", e.text);
	pw_slurm_job_update(&j, o);
	json_decref(o);
	return j;
}

static void test_outcome(void)
{
	static const struct {
		const char *json;
		pw_task_state state;
		int cls; /* PW_CLASS_COUNT: by exit code */
		int exit_code, signal;
		const char *why;
	} cases[] = {
	    {"{\"job_state\":\"COMPLETED\",\"exit_code\":0}", PW_TS_SUCCESS, -1, 0, 0, NULL},
	    {"{\"job_state\":\"FAILED\",\"exit_code\":768}", PW_TS_FAILED, PW_CLASS_COUNT, 3, 0,
	     NULL},
	    {"{\"job_state\":\"FAILED\",\"exit_code\":19200}", PW_TS_FAILED, PW_CLASS_COUNT, 75, 0,
	     NULL},
	    {"{\"job_state\":\"FAILED\",\"exit_code\":9,\"nodes\":\"n1\"}", PW_TS_FAILED,
	     PW_CLASS_WORKER_PREEMPTED, -1, 9, "killed by signal 9 on n1"},
	    {"{\"job_state\":\"FAILED\",\"exit_code\":0,\"state_reason\":\"JobLaunchFailure\"}",
	     PW_TS_FAILED, PW_CLASS_ERROR, 0, 0, "FAILED (JobLaunchFailure)"},
	    {"{\"job_state\":\"CANCELLED\",\"exit_code\":15}", PW_TS_FAILED,
	     PW_CLASS_WORKER_PREEMPTED, -1, 15, "cancelled outside pitwall"},
	    {"{\"job_state\":\"NODE_FAIL\",\"nodes\":\"n3\"}", PW_TS_FAILED,
	     PW_CLASS_WORKER_PREEMPTED, -1, 0, "ended NODE_FAIL on n3"},
	    {"{\"job_state\":\"PREEMPTED\"}", PW_TS_FAILED, PW_CLASS_WORKER_PREEMPTED, -1, 0,
	     "PREEMPTED"},
	    {"{\"job_state\":\"BOOT_FAIL\"}", PW_TS_FAILED, PW_CLASS_WORKER_PREEMPTED, -1, 0,
	     "BOOT_FAIL"},
	    {"{\"job_state\":\"OUT_OF_MEMORY\",\"exit_code\":9}", PW_TS_OOM, PW_CLASS_OUT_OF_MEMORY,
	     -1, 9, "ran out of memory"},
	    {"{\"job_state\":\"TIMEOUT\",\"exit_code\":15}", PW_TS_TIMEOUT,
	     PW_CLASS_NETWORK_TIMEOUT, -1, 15, "time limit"},
	    {"{\"job_state\":\"DEADLINE\"}", PW_TS_TIMEOUT, PW_CLASS_NETWORK_TIMEOUT, -1, 0,
	     "deadline"},
	    /* v0.0.40's shapes: a list of states, an exit-code object, numbers in objects. */
	    {"{\"job_state\":[\"FAILED\"],\"exit_code\":{\"status\":[\"ERROR\"],\"return_code\":"
	     "{\"set\":true,\"number\":65}}}",
	     PW_TS_FAILED, PW_CLASS_COUNT, 65, 0, NULL},
	    {"{\"job_state\":[\"COMPLETED\"],\"exit_code\":{\"return_code\":{\"set\":true,"
	     "\"number\":0}}}",
	     PW_TS_SUCCESS, -1, 0, 0, NULL},
	};
	for (size_t i = 0; i < PW_ARRAY_SIZE(cases); i++) {
		pw_slurm_job j = job_from(cases[i].json);
		pw_failure_class cls;
		char why[256];
		PW_CHECK(j.terminal, "%s is final", j.state);
		pw_task_state st = pw_slurm_outcome(&j, &cls, why, sizeof(why));
		PW_CHECK_STR(pw_task_state_name(st), pw_task_state_name(cases[i].state),
			     "%s -> state", cases[i].json);
		if (cases[i].cls >= 0)
			PW_CHECK_INT(cls, cases[i].cls, "... class");
		PW_CHECK_INT(j.exit_code, cases[i].exit_code, "... exit code");
		PW_CHECK_INT(j.signal, cases[i].signal, "... signal");
		if (cases[i].why)
			PW_CHECK(strstr(why, cases[i].why) != NULL, "... says '%s' (%s)",
				 cases[i].why, why);
	}
	static const char *const open[] = {"PENDING",	  "RUNNING",   "COMPLETING",
					   "CONFIGURING", "SUSPENDED", "REQUEUED"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(open); i++) {
		char *t = pw_xasprintf("{\"job_state\":\"%s\",\"exit_code\":0}", open[i]);
		pw_slurm_job j = job_from(t);
		PW_CHECK(!j.terminal, "%s is not final", open[i]);
		free(t);
	}
	pw_slurm_job j = job_from("{\"job_state\":\"PENDING\",\"start_time\":4000000000}");
	PW_CHECK_INT(j.start_time, 0, "a pending job's expected start time is not taken");

	pw_slurm_job u = job_from("{\"job_state\":\"COMPLETED\",\"exit_code\":0,\"start_time\":100,"
				  "\"end_time\":103,\"cpus\":1,\"tres_alloc_str\":\"cpu=2,mem=1.5G,"
				  "node=1\",\"nodes\":\"n1\"}");
	pw_attempt_result a;
	memset(&a, 0, sizeof(a));
	pw_slurm_attempt_usage(&u, &a);
	PW_CHECK_INT(u.cpus, 2, "allocated CPUs from tres_alloc_str");
	PW_CHECK_INT(a.cpu_ms, 6000, "CPU time = allocated CPUs x elapsed (Slurm's CPUTime)");
	PW_CHECK_INT(a.memory_peak_bytes, 1536LL << 20, "memory = the allocation (no MaxRSS)");
	u.cpu_ms = 1234;
	u.max_rss_bytes = 10 << 20;
	pw_slurm_attempt_usage(&u, &a);
	PW_CHECK_INT(a.cpu_ms, 1234, "slurmdbd's TotalCPU wins where there is one");
	PW_CHECK_INT(a.memory_peak_bytes, 10 << 20, "... and MaxRSS");
	char *js = pw_slurm_job_json(&u);
	json_error_t e;
	json_t *o = json_loads(js, 0, &e);
	PW_CHECK(o && json_integer_value(json_object_get(o, "job_id")) == 7 &&
		     !strcmp(json_string_value(json_object_get(o, "nodes")), "n1") &&
		     json_integer_value(json_object_get(o, "cpu_time_s")) == 6,
		 "job metadata: %s", js);
	json_decref(o);
	free(js);
}

static void test_submit_body(void)
{
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag =
	    load("dag_id: s\nslurm: {partition: batch, account: proj}\ntasks:\n"
		 "  - task_id: a\n    command: [\"echo\", \"it's\"]\n    executor: slurm\n"
		 "    timeout: 90s\n    qos: high\n    constraint: avx2\n"
		 "    resources: {cpu_limit: 1.5, memory_limit: 100Mi}\n",
		 &d);
	PW_CHECK(dag != NULL, "the DAG for the submission loads");
	if (!dag)
		return;
	char *argv[] = {"echo", "it's", NULL};
	char *envp[] = {"PATH=/bin", "PITWALL_TASK_ID=a", "EMPTY=", NULL};
	pw_slurm_submit_req rq = {dag,	 pw_dag_find(dag, "a"), "r1", 2, argv, envp,
				  "/ws", "/ws/logs/a.2.log"};
	for (int mapping = 1; mapping >= 0; mapping--) {
		char *body = pw_slurm_submit_body(&rq, mapping);
		json_error_t e;
		json_t *o = json_loads(body, 0, &e), *job = json_object_get(o, "job");
		const char *script = json_string_value(json_object_get(o, "script"));
		PW_CHECK(script && strstr(script, "#!/bin/sh\n") == script &&
			     strstr(script, "\nexec 'echo' 'it'\\''s'\n"),
			 "the script execs the quoted argv");
#define JS(k) json_string_value(json_object_get(job, k))
#define JI(k) json_integer_value(json_object_get(job, k))
		PW_CHECK_STR(JS("name"), "s.a", "job name DAG.TASK");
		PW_CHECK_STR(JS("comment"), "pitwall:s/r1/a/2", "job comment");
		PW_CHECK_STR(JS("current_working_directory"), "/ws", "working directory");
		PW_CHECK_STR(JS("standard_output"), "/ws/logs/a.2.log", "stdout to the log");
		PW_CHECK_STR(JS("standard_error"), "/ws/logs/a.2.log", "stderr to the log");
		PW_CHECK_STR(JS("partition"), "batch", "partition from the DAG");
		PW_CHECK_STR(JS("account"), "proj", "account from the DAG");
		PW_CHECK_STR(JS("qos"), "high", "qos from the task");
		PW_CHECK_STR(JS("constraints"), "avx2", "constraint from the task");
		PW_CHECK_INT(JI("cpus_per_task"), 2, "cpu_limit 1.5 -> 2 CPUs");
		PW_CHECK_INT(JI("memory_per_node"), 100, "memory_limit 100Mi -> 100 MB");
		PW_CHECK_INT(JI("time_limit"), 2, "timeout 90s -> 2 minutes");
		PW_CHECK(json_is_false(json_object_get(job, "requeue")), "no requeue");
		json_t *env = json_object_get(job, "environment");
		if (mapping)
			PW_CHECK(
			    json_is_object(env) &&
				!strcmp(json_string_value(json_object_get(env, "PATH")), "/bin") &&
				json_object_get(env, "EMPTY") && json_object_size(env) == 3,
			    "v0.0.38: the environment is a mapping");
		else
			PW_CHECK(json_is_array(env) && json_array_size(env) == 3 &&
				     !strcmp(json_string_value(json_array_get(env, 1)),
					     "PITWALL_TASK_ID=a"),
				 "v0.0.39 on: the environment is a list of NAME=value");
		PW_CHECK(!json_object_get(job, "argv"), "no argv field (slurmrestd 22.05 crashes)");
		json_decref(o);
		free(body);
	}
	pw_dag_free(dag);
	pw_diags_release(&d);
}

static void test_open(void)
{
	unsetenv("PITWALL_SLURM_URL");
	pw_slurm_config cfg = {0};
	pw_slurm *s = NULL;
	char err[512];
	PW_CHECK(pw_slurm_open(&s, &cfg, err, sizeof(err)) < 0 && strstr(err, "slurm.url"),
		 "no endpoint: an error naming slurm.url (%s)", err);
	setenv("SLURM_JWT", "secret-token", 1);
	cfg.url = "http://127.0.0.1:1";
	PW_CHECK(pw_slurm_open(&s, &cfg, err, sizeof(err)) == 0, "opens with SLURM_JWT");
	PW_CHECK_STR(pw_slurm_endpoint(s), "http://127.0.0.1:1", "endpoint");
	PW_CHECK_INT(pw_slurm_poll_interval(s), PW_SLURM_POLL_INTERVAL_MS, "default poll interval");
	pw_slurm_job j, *jp = &j;
	pw_slurm_job_init(&j, 5);
	bool changed;
	PW_CHECK(pw_slurm_refresh(s, &jp, 1, &changed, err, sizeof(err)) < 0 &&
		     !strstr(err, "secret-token"),
		 "nothing listening: an error, without the token (%s)", err);
	int64_t id;
	bool transient;
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = load("dag_id: s\ntasks:\n  - task_id: a\n    command: [\"true\"]\n", &d);
	char *argv[] = {"true", NULL}, *envp[] = {NULL};
	pw_slurm_submit_req rq = {dag, pw_dag_find(dag, "a"), "r", 1, argv, envp, "/", "/x.log"};
	PW_CHECK(pw_slurm_submit(s, &rq, &id, &transient, err, sizeof(err)) < 0 && transient,
		 "a submission slurmrestd never got is transient");
	pw_dag_free(dag);
	pw_diags_release(&d);
	pw_slurm_close(s);
	unsetenv("SLURM_JWT");
}

int main(void)
{
	test_dag_keys();
	test_quote();
	test_comment();
	test_outcome();
	test_submit_body();
	test_open();
	PW_TEST_DONE();
}
