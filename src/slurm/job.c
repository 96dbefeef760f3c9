/*
 * The job model: what pitwall sends (the submission) and what it makes of
 * the answers (state, exit status, usage, the attempt's outcome).
 *
 * The command goes in the batch script as one `exec` line, each word
 * single-quoted for /bin/sh, rather than in the job's argv field:
 * slurmrestd 22.05.8 crashes on a submission with argv (the job runs, the
 * daemon dies before answering).
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pitwall/slurm.h"
#include "slurm/slurm_internal.h"

#define COMMENT_PREFIX "pitwall:"

int64_t pw_slurm_jint(json_t *v, int64_t fallback)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long long x = strtoll(s, &end, 10);
		return end != s && !*end ? x : fallback;
	}
	if (json_is_object(v)) {
		json_t *set = json_object_get(v, "set");
		if (set && !json_is_true(set))
			return fallback;
		return pw_slurm_jint(json_object_get(v, "number"), fallback);
	}
	return fallback;
}

void pw_slurm_job_init(pw_slurm_job *j, int64_t job_id)
{
	memset(j, 0, sizeof(*j));
	j->job_id = job_id;
	j->exit_status = -1;
	j->exit_code = -1;
	j->cpu_ms = -1;
	j->max_rss_bytes = -1;
}

static void copy_str(char *dst, size_t size, json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(dst, size, "%s", s ? s : "");
}

/* "cpu=2,mem=100M,node=1,billing=2": the allocated CPUs and memory. */
static void parse_tres(const char *s, int *cpus, int64_t *mem)
{
	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (len > 4 && !strncmp(s, "cpu=", 4)) {
			*cpus = atoi(s + 4);
		} else if (len > 4 && !strncmp(s, "mem=", 4)) {
			char *end;
			double v = strtod(s + 4, &end);
			int64_t unit = 1024 * 1024; /* plain numbers are MiB */
			switch (toupper((unsigned char)*end)) {
			case 'K': unit = 1024; break;
			case 'G': unit = 1024LL * 1024 * 1024; break;
			case 'T': unit = 1024LL * 1024 * 1024 * 1024; break;
			default: break;
			}
			*mem = (int64_t)(v * (double)unit);
		}
		s = comma ? comma + 1 : NULL;
	}
}

static bool state_terminal(const char *st)
{
	static const char *const done[] = {"COMPLETED", "FAILED",    "CANCELLED", "TIMEOUT",
					   "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "OUT_OF_MEMORY",
					   "DEADLINE",	"REVOKED",   "VANISHED"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(done); i++)
		if (!strcmp(st, done[i]))
			return true;
	return false;
}

static void decode_exit(pw_slurm_job *j, json_t *ec)
{
	if (json_is_object(ec)) {
		/* v0.0.39 on: {status, return_code, signal: {id / signal_id}} */
		j->exit_code = (int)pw_slurm_jint(json_object_get(ec, "return_code"), -1);
		json_t *sig = json_object_get(ec, "signal");
		int s = (int)pw_slurm_jint(json_object_get(sig, "id"), 0);
		if (!s)
			s = (int)pw_slurm_jint(json_object_get(sig, "signal_id"), 0);
		j->signal = s > 0 ? s : 0;
		if (j->signal)
			j->exit_code = -1;
		return;
	}
	/* v0.0.38: the batch script's wait status. */
	int64_t st = pw_slurm_jint(ec, -1);
	if (st < 0)
		return;
	j->exit_status = (int)st;
	if (WIFEXITED((int)st)) {
		j->exit_code = WEXITSTATUS((int)st);
		j->signal = 0;
	} else if (WIFSIGNALED((int)st)) {
		j->exit_code = -1;
		j->signal = WTERMSIG((int)st);
	}
}

bool pw_slurm_job_update(pw_slurm_job *j, json_t *job)
{
	char state[32];
	json_t *js = json_object_get(job, "job_state");
	if (json_is_array(js)) /* v0.0.40: a list of flags, the base state first */
		js = json_array_get(js, 0);
	copy_str(state, sizeof(state), js);
	if (!state[0])
		return false;
	bool changed = strcmp(state, j->state) != 0;
	memcpy(j->state, state, sizeof(state));
	j->terminal = state_terminal(state);
	j->misses = 0;
	copy_str(j->nodes, sizeof(j->nodes), json_object_get(job, "nodes"));
	copy_str(j->reason, sizeof(j->reason), json_object_get(job, "state_reason"));
	copy_str(j->comment, sizeof(j->comment), json_object_get(job, "comment"));
	j->submit_time = pw_slurm_jint(json_object_get(job, "submit_time"), 0);
	/* A pending job's start and end times are the scheduler's guesses. */
	if (strcmp(state, "PENDING") != 0)
		j->start_time = pw_slurm_jint(json_object_get(job, "start_time"), 0);
	if (j->terminal)
		j->end_time = pw_slurm_jint(json_object_get(job, "end_time"), 0);
	int cpus = (int)pw_slurm_jint(json_object_get(job, "cpus"), 0);
	int64_t mem = 0;
	parse_tres(json_string_value(json_object_get(job, "tres_alloc_str")), &cpus, &mem);
	if (cpus > 0)
		j->cpus = cpus;
	if (mem > 0)
		j->mem_bytes = mem;
	if (j->terminal)
		decode_exit(j, json_object_get(job, "exit_code"));
	return changed;
}

/* ---- submission ---- */

char *pw_slurm_sh_quote(char *const *argv)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			pw_strbuf_addc(&sb, ' ');
		pw_strbuf_addc(&sb, '\'');
		for (const char *p = argv[i]; *p; p++) {
			if (*p == '\'')
				pw_strbuf_adds(&sb, "'\\''");
			else
				pw_strbuf_addc(&sb, *p);
		}
		pw_strbuf_addc(&sb, '\'');
	}
	if (!sb.buf)
		pw_strbuf_adds(&sb, "");
	return pw_strbuf_detach(&sb);
}

char *pw_slurm_comment(const char *dag_id, const char *run_id, const char *task_id, int attempt)
{
	return pw_xasprintf(COMMENT_PREFIX "%s/%s/%s/%d", dag_id, run_id, task_id, attempt);
}

bool pw_slurm_parse_comment(const char *comment, char **dag_id, char **run_id, char **task_id,
			    int *attempt)
{
	size_t plen = strlen(COMMENT_PREFIX);
	if (strncmp(comment, COMMENT_PREFIX, plen) != 0)
		return false;
	const char *d = comment + plen;
	/* DAG and task ids hold no '/'; the run id may: split at the first and the last two. */
	const char *s1 = strchr(d, '/');
	const char *s3 = strrchr(d, '/');
	if (!s1 || s3 <= s1)
		return false;
	const char *s2 = s3 - 1;
	while (s2 > s1 && *s2 != '/')
		s2--;
	if (s2 == s1 || s1 == d || s2 == s1 + 1 || s3 == s2 + 1)
		return false;
	char *end;
	long a = strtol(s3 + 1, &end, 10);
	if (*end || end == s3 + 1 || a < 1 || a > 1000000)
		return false;
	*dag_id = pw_xstrndup(d, (size_t)(s1 - d));
	*run_id = pw_xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
	*task_id = pw_xstrndup(s2 + 1, (size_t)(s3 - s2 - 1));
	*attempt = (int)a;
	return true;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

char *pw_slurm_submit_body(const pw_slurm_submit_req *rq, bool env_mapping)
{
	const pw_task *t = rq->task;
	json_t *job = json_object();
	char *name = pw_xasprintf("%s.%s", rq->dag->dag_id, t->task_id);
	set_str(job, "name", name);
	free(name);
	char *comment = pw_slurm_comment(rq->dag->dag_id, rq->run_id, t->task_id, rq->attempt);
	set_str(job, "comment", comment);
	free(comment);
	set_str(job, "current_working_directory", rq->cwd);
	set_str(job, "standard_output", rq->log);
	set_str(job, "standard_error", rq->log);
	set_str(job, "partition", t->partition);
	set_str(job, "account", t->account);
	set_str(job, "qos", t->qos);
	set_str(job, "constraints", t->constraint);
	int cpus = t->resources.cpu_limit > 0 ? (int)ceil(t->resources.cpu_limit) : 1;
	json_object_set_new(job, "cpus_per_task", json_integer(cpus));
	if (t->resources.memory_limit > 0) {
		int64_t mib = (t->resources.memory_limit + (1 << 20) - 1) >> 20;
		json_object_set_new(job, "memory_per_node", json_integer(mib));
	}
	if (t->timeout_ms > 0) {
		/* Slurm's limit is whole minutes; pitwall cancels at the exact timeout. */
		int64_t min = (t->timeout_ms + 59999) / 60000;
		json_object_set_new(job, "time_limit", json_integer(min));
	}
	/* An attempt is one job: pitwall retries, Slurm does not requeue it. */
	json_object_set_new(job, "requeue", json_false());
	json_t *env = env_mapping ? json_object() : json_array();
	for (size_t i = 0; rq->envp && rq->envp[i]; i++) {
		const char *eq = strchr(rq->envp[i], '=');
		if (!eq || eq == rq->envp[i])
			continue;
		if (env_mapping) {
			char *k = pw_xstrndup(rq->envp[i], (size_t)(eq - rq->envp[i]));
			json_object_set_new(env, k, json_string(eq + 1));
			free(k);
		} else {
			json_array_append_new(env, json_string(rq->envp[i]));
		}
	}
	json_object_set_new(job, "environment", env);

	char *words = pw_slurm_sh_quote(rq->argv);
	char *script = pw_xasprintf("#!/bin/sh\n# pitwall: %s run %s task %s attempt %d\nexec %s\n",
				    rq->dag->dag_id, rq->run_id, t->task_id, rq->attempt, words);
	free(words);
	json_t *root = json_object();
	json_object_set_new(root, "script", json_string(script));
	json_object_set_new(root, "job", job);
	free(script);
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

/* ---- outcome ---- */

pw_task_state pw_slurm_outcome(const pw_slurm_job *j, pw_failure_class *cls, char *why,
			       size_t whysize)
{
	char dummy[8];
	if (!why) {
		why = dummy;
		whysize = sizeof(dummy);
	}
	why[0] = '\0';
	const char *st = j->state;
	const char *on = j->nodes[0] ? j->nodes : "no node";
	*cls = PW_CLASS_ERROR;
	if (!strcmp(st, "COMPLETED") && j->exit_code <= 0 && !j->signal)
		return PW_TS_SUCCESS;
	if (!strcmp(st, "FAILED") || !strcmp(st, "COMPLETED")) {
		if (j->exit_code > 0) {
			*cls = PW_CLASS_COUNT;
			return PW_TS_FAILED;
		}
		if (j->signal) {
			*cls = PW_CLASS_WORKER_PREEMPTED;
			snprintf(why, whysize, "Slurm job %" PRId64 " killed by signal %d on %s",
				 j->job_id, j->signal, on);
			return PW_TS_FAILED;
		}
		snprintf(why, whysize, "Slurm job %" PRId64 " FAILED (%s) on %s", j->job_id,
			 j->reason[0] ? j->reason : "no reason given", on);
		return PW_TS_FAILED;
	}
	if (!strcmp(st, "OUT_OF_MEMORY")) {
		*cls = PW_CLASS_OUT_OF_MEMORY;
		snprintf(why, whysize, "Slurm job %" PRId64 " ran out of memory on %s", j->job_id,
			 on);
		return PW_TS_OOM;
	}
	if (!strcmp(st, "TIMEOUT") || !strcmp(st, "DEADLINE")) {
		*cls = PW_CLASS_NETWORK_TIMEOUT;
		snprintf(why, whysize, "Slurm job %" PRId64 " %s on %s", j->job_id,
			 !strcmp(st, "TIMEOUT") ? "reached its time limit" : "missed its deadline",
			 on);
		return PW_TS_TIMEOUT;
	}
	*cls = PW_CLASS_WORKER_PREEMPTED;
	if (!strcmp(st, "CANCELLED"))
		snprintf(why, whysize, "Slurm job %" PRId64 " was cancelled outside pitwall (%s)",
			 j->job_id, on);
	else if (!strcmp(st, "VANISHED"))
		snprintf(why, whysize, "slurmctld no longer knows Slurm job %" PRId64, j->job_id);
	else
		snprintf(why, whysize, "Slurm job %" PRId64 " ended %s on %s", j->job_id, st, on);
	return PW_TS_FAILED;
}

void pw_slurm_attempt_usage(const pw_slurm_job *j, pw_attempt_result *a)
{
	int64_t elapsed_ms = 0;
	if (j->start_time > 0 && j->end_time >= j->start_time)
		elapsed_ms = (j->end_time - j->start_time) * 1000;
	int cpus = j->cpus > 0 ? j->cpus : 1;
	a->cpu_ms = j->cpu_ms >= 0 ? j->cpu_ms : cpus * elapsed_ms;
	a->cpu_user_ms = a->cpu_ms;
	a->cpu_sys_ms = 0;
	a->max_rss_kb = j->max_rss_bytes >= 0 ? j->max_rss_bytes / 1024 : 0;
	a->memory_peak_bytes = j->max_rss_bytes >= 0 ? j->max_rss_bytes : j->mem_bytes;
	a->cpu_throttled_ms = -1;
}

char *pw_slurm_job_json(const pw_slurm_job *j)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb, "{\"job_id\":%" PRId64, j->job_id);
	if (j->state[0]) {
		pw_strbuf_adds(&sb, ",\"state\":");
		pw_strbuf_add_json_str(&sb, j->state);
	}
	if (j->nodes[0]) {
		pw_strbuf_adds(&sb, ",\"nodes\":");
		pw_strbuf_add_json_str(&sb, j->nodes);
	}
	if (j->terminal) {
		if (j->reason[0] && strcmp(j->reason, "None") != 0) {
			pw_strbuf_adds(&sb, ",\"reason\":");
			pw_strbuf_add_json_str(&sb, j->reason);
		}
		if (j->exit_status >= 0)
			pw_strbuf_addf(&sb, ",\"exit_status\":%d", j->exit_status);
		pw_strbuf_addf(&sb,
			       ",\"submit_time\":%" PRId64 ",\"start_time\":%" PRId64
			       ",\"end_time\":%" PRId64 ",\"cpus\":%d,\"mem_bytes\":%" PRId64,
			       j->submit_time, j->start_time, j->end_time, j->cpus, j->mem_bytes);
		/* Slurm's CPUTime: allocated CPUs x elapsed seconds. */
		int64_t elapsed = j->start_time > 0 && j->end_time >= j->start_time
				      ? j->end_time - j->start_time
				      : 0;
		pw_strbuf_addf(&sb, ",\"elapsed_s\":%" PRId64 ",\"cpu_time_s\":%" PRId64, elapsed,
			       elapsed * (j->cpus > 0 ? j->cpus : 1));
		if (j->cpu_ms >= 0)
			pw_strbuf_addf(&sb,
				       ",\"accounting\":\"slurmdbd\",\"total_cpu_ms\":%" PRId64
				       ",\"max_rss_bytes\":%" PRId64,
				       j->cpu_ms, j->max_rss_bytes);
		else
			pw_strbuf_adds(&sb, ",\"accounting\":\"none\"");
	}
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}
