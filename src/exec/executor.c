/*
 * The local process executor.
 *
 * One thread, one poll() loop.  Each running attempt contributes its pidfd
 * (the leader exited) and its output pipe; a signalfd carries SIGCHLD (for
 * grandchildren re-parented to us as subreaper) and SIGINT/SIGTERM.  The
 * poll timeout is the earliest deadline: a task timeout, the end of a kill
 * grace period, or a retry backoff.  There is no polling interval, except
 * while a finished leader's process group still has members (then we look
 * every 20 ms until the group is empty or the grace period ends).
 *
 * A task is its process group.  Its attempt is over when the leader has
 * been reaped and nothing is left in the group: whatever the leader left
 * running is sent SIGTERM, then SIGKILL after the grace period, so no
 * orphan outlives its task and no zombie outlives pitwall.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/spawn.h"
#include "exec/events.h"
#include "exec/hooks.h"
#include "exec/costs.h"
#include "pitwall/clock.h"
#include "pitwall/container.h"
#include "pitwall/provenance.h"
#include "pitwall/sha256.h"
#include "pitwall/slurm.h"
#include "pitwall/run.h"

extern char **environ;

#define DRAIN_CHECK_MS 20
#define KILL_GIVE_UP_MS 5000

typedef struct {
	size_t task;
	pw_attempt_result *res;
	pid_t pid;
	int pidfd;
	int pipe_fd;
	int log_fd;
	/*
	 * Output reaches the log through pitwall, so it is hashed on its way
	 * there instead of reading the log back when the attempt ends.
	 */
	pw_sha256 log_hash;
	int64_t log_bytes;
	bool leader_exited;
	int wstatus;
	struct rusage ru;
	int64_t start_mono;
	int64_t deadline; /* timeout, 0 = none */
	int64_t kill_at;  /* SIGKILL the group then, 0 = not scheduled */
	int64_t give_up_at;
	int64_t next_check; /* group-emptiness check while draining */
	bool term_sent, kill_sent;
	bool timed_out, cancelled;
	const char *digest; /* "sha256:..." of the executable (owned by the ctx cache) */
	char *inputs_json;  /* lineage: the inputs as hashed at start, or NULL */
	/* The task runs in a container (src/container): cleaned up when the attempt ends. */
	pw_container_job *ctr;
	/* Limits and costs (exec/costs.h); NULL and 0 for a task with neither. */
	pw_limits_attempt *lim;
	int64_t next_sample;   /* monotonic ms; 0 = not sampled */
	int64_t cost_estimate; /* micro-units, as of the last sample */
	bool cost_exceeded;
	/*
	 * executor: slurm: the attempt is a Slurm job (no pid, no pipe).
	 * leader_exited means the job reached a final state in a listing.
	 */
	pw_slurm_job *sj;
} slot;

struct pw_run_ctx {
	const pw_dag *dag;
	const pw_run_opts *opts;
	pw_plan plan;
	pw_run_result *res;
	const pw_run_observer *obs;
	size_t nobs;

	slot *slots;
	size_t nslots, slots_cap;
	int max_active;
	int64_t kill_grace_ms;

	int64_t *retry_at; /* per task, monotonic ms; 0 = not waiting */
	size_t nretry;

	int sigfd;
	bool stopping;
	int stop_signal;
	int64_t hard_kill_at;
	uint64_t rng;

	pw_envlist base_env;
	char *logical_iso;
	char ds[16];
	char seed_str[32];
	int64_t start_mono;

	pw_exec_costs costs;
	bool throttled;	   /* the monthly budget lets only critical tasks start */
	bool cost_stopped; /* budget.max_cost_per_run was crossed */
	bool used_limits;  /* some attempt had cgroups to clean up */

	/* Executable digests by path: hashing /bin/sh once per run, not per task. */
	pw_strmap digest_ix;
	char **digest_keys;
	char **digest_vals;
	size_t ndigest, digest_cap;

	pw_container_engine *containers; /* made at the first task with container: */

	/* slurmrestd, opened at the first Slurm task; one listing per tick for all jobs. */
	pw_slurm *slurm;
	char *slurm_error; /* why it could not be opened (every Slurm attempt fails with it) */
	int64_t slurm_next_poll, slurm_delay;
	char *slurm_poll_error; /* the last listing's failure, reported once */
	int slurm_watch;	/* inotify on logs/: a job's output closing means it ended */
	int64_t *adopt_job;	/* per task: a job to re-attach instead of submitting; 0 = none */
};

/* ---- observers ---- */

static void emit_digest(pw_run_ctx *c, pw_event_type type, const char *level, const pw_task *task,
			const pw_attempt_result *att, pw_task_state state, const char *message,
			const char *metadata, const char *digest)
{
	pw_event ev = {
	    .type = type,
	    .wall_ms = pw_now_wall_ms(),
	    .level = level,
	    .task = task,
	    .message = message,
	    .metadata_json = metadata ? metadata : "{}",
	    .attempt = att,
	    .state = state,
	    .image_digest = digest,
	};
	for (size_t i = 0; i < c->nobs; i++)
		c->obs[i].event(c->obs[i].payload, c, &ev);
}

static int64_t observer_deadline(pw_run_ctx *c)
{
	int64_t d = 0;
	for (size_t i = 0; i < c->nobs; i++) {
		if (!c->obs[i].deadline)
			continue;
		int64_t t = c->obs[i].deadline(c->obs[i].payload);
		if (t && (!d || t < d))
			d = t;
	}
	return d;
}

static void flush_observers(pw_run_ctx *c)
{
	for (size_t i = 0; i < c->nobs; i++)
		if (c->obs[i].flush)
			c->obs[i].flush(c->obs[i].payload);
}

unsigned long long pw_proc_start_time(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long start = 0;
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		if (++field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	}
	return start;
}

static const char *exe_digest(pw_run_ctx *c, const char *path)
{
	size_t ix;
	if (!path)
		return NULL;
	if (pw_strmap_get(&c->digest_ix, path, &ix))
		return c->digest_vals[ix];
	char hex[65];
	if (pw_sha256_file(path, hex, NULL) != 0)
		return NULL;
	PW_GROW(c->digest_keys, c->digest_cap, c->ndigest + 1);
	c->digest_vals = pw_xrealloc(c->digest_vals, c->digest_cap * sizeof(*c->digest_vals));
	c->digest_keys[c->ndigest] = pw_xstrdup(path);
	c->digest_vals[c->ndigest] = pw_xasprintf("sha256:%s", hex);
	pw_strmap_put(&c->digest_ix, c->digest_keys[c->ndigest], c->ndigest);
	return c->digest_vals[c->ndigest++];
}

static void emit(pw_run_ctx *c, pw_event_type type, const char *level, const pw_task *task,
		 const pw_attempt_result *att, pw_task_state state, const char *message,
		 const char *metadata)
{
	emit_digest(c, type, level, task, att, state, message, metadata, NULL);
}

const pw_dag *pw_run_ctx_dag(const pw_run_ctx *ctx)
{
	return ctx->dag;
}

const char *pw_run_ctx_run_id(const pw_run_ctx *ctx)
{
	return ctx->res->run_id;
}

const pw_plan *pw_run_ctx_plan(const pw_run_ctx *ctx)
{
	return &ctx->plan;
}

int pw_run_ctx_running(const pw_run_ctx *ctx)
{
	return (int)ctx->nslots;
}

/* ---- failure classes and retries ---- */

static pw_failure_class classify_exit(int code)
{
	switch (code) {
	case 124: return PW_CLASS_NETWORK_TIMEOUT;
	case 69: return PW_CLASS_RESOURCE_UNAVAILABLE;
	case 75: return PW_CLASS_TRANSIENT_ERROR;
	case 65: return PW_CLASS_DATA_VALIDATION_FAILURE;
	case 77: return PW_CLASS_PERMISSION_DENIED;
	case 78:
	case 126:
	case 127: return PW_CLASS_INVALID_CONFIGURATION;
	default: return PW_CLASS_ERROR;
	}
}

static bool match_has(const pw_retry_match *m, pw_failure_class cls, int code)
{
	if (m->classes & (1u << cls))
		return true;
	if (code >= 0)
		for (size_t i = 0; i < m->ncodes; i++)
			if (m->codes[i] == code)
				return true;
	return false;
}

static bool should_retry(const pw_task *t, pw_failure_class cls, int code)
{
	if (match_has(&t->no_retry_on, cls, code))
		return false;
	if (match_has(&t->retry_on, cls, code))
		return true;
	return pw_failure_class_retried_by_default(cls);
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic for a given seed, so is the jitter. */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Exponential backoff with a cap and (full, by default) jitter. */
static int64_t retry_delay(pw_run_ctx *c, const pw_task *t, int failed_attempt)
{
	double d = (double)t->retry_delay_ms;
	double mult = t->retry_backoff > 0 ? t->retry_backoff : 1.0;
	for (int i = 1; i < failed_attempt && d < 1e15; i++)
		d *= mult;
	double cap = t->max_retry_delay_ms > 0 ? (double)t->max_retry_delay_ms : 1e15;
	if (d > cap)
		d = cap;
	double j = c->dag->retry_jitter;
	if (j > 0) {
		double u = (double)(rng_next(&c->rng) >> 11) / (double)(1ULL << 53);
		d = d * (1.0 - j) + u * d * j;
	}
	return (int64_t)d;
}

/* ---- starting an attempt ---- */

static void vars_for(pw_run_ctx *c, const pw_task *t, const char *attempt, pw_template_vars *v)
{
	const char *names[] = {"dag_id", "run_id",    "task_id", "attempt", "logical_date",
			       "ds",	 "workspace", "seed",	 "dag_dir"};
	const char *values[] = {c->dag->dag_id,	   c->res->run_id, t->task_id,
				attempt,	   c->logical_iso, c->ds,
				c->res->workspace, c->seed_str,	   c->dag->dir ? c->dag->dir : "."};
	v->n = PW_ARRAY_SIZE(names);
	for (size_t i = 0; i < v->n; i++) {
		v->names[i] = names[i];
		v->values[i] = values[i];
	}
}

static slot *slot_add(pw_run_ctx *c)
{
	PW_GROW(c->slots, c->slots_cap, c->nslots + 1);
	slot *s = &c->slots[c->nslots++];
	memset(s, 0, sizeof(*s));
	s->pidfd = s->pipe_fd = s->log_fd = -1;
	return s;
}

static void task_finished(pw_run_ctx *c, size_t ti, pw_attempt_result *a, pw_failure_class cls,
			  const char *digest, const char *inputs_json);
static void on_decided(size_t ti, pw_task_state st, void *payload);

/* Text of a JSON object with "key": json added. */
static char *md_add(char *md, const char *key, const char *json)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	size_t len = strlen(md);
	pw_strbuf_add(&sb, md, len - 1);
	pw_strbuf_addf(&sb, "%s\"%s\":%s}", len > 2 ? "," : "", key, json);
	free(md);
	return pw_strbuf_detach(&sb);
}

/* The monthly budget is past throttle_at: a task not marked critical is skipped. */
static void throttle_skip(pw_run_ctx *c, size_t ti)
{
	const pw_task *t = &c->dag->tasks[ti];
	c->res->tasks[ti].state = PW_TS_SKIPPED;
	emit(c, PW_EV_TASK_END, "WARNING", t, NULL, PW_TS_SKIPPED,
	     "skipped: the monthly budget is past throttle_at and the task is not critical",
	     "{\"status\":\"skipped\",\"attempt\":null,\"attempts\":0,\"exit_code\":null,"
	     "\"signal\":null,\"duration_ms\":0,\"reason\":\"budget_throttle\"}");
	pw_plan_finish(&c->plan, ti, PW_TS_SKIPPED, on_decided, c);
}

static pw_attempt_result *new_attempt(pw_run_ctx *c, size_t ti)
{
	pw_task_result *tr = &c->res->tasks[ti];
	tr->attempts = pw_xrealloc(tr->attempts, (tr->nattempts + 1) * sizeof(*tr->attempts));
	pw_attempt_result *a = &tr->attempts[tr->nattempts++];
	memset(a, 0, sizeof(*a));
	a->attempt = (int)tr->nattempts + (c->opts->attempt_base ? c->opts->attempt_base[ti] : 0);
	a->exit_code = -1;
	a->failure_class = -1;
	a->state = PW_TS_RUNNING;
	a->start_wall_ms = pw_now_wall_ms();
	a->log_path = pw_xasprintf("logs/%s.%d.log", c->dag->tasks[ti].task_id, a->attempt);
	return a;
}

static char *start_metadata(const pw_task *t, const pw_attempt_result *a, char **argv,
			    const char *exe, const char *inputs_json)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb, "{\"attempt\":%d,\"pid\":%d,\"pid_start\":%llu,\"pgid\":%d,",
		       a->attempt, a->pid, a->pid > 0 ? pw_proc_start_time(a->pid) : 0ULL, a->pid);
	pw_strbuf_adds(&sb, "\"executable\":");
	if (exe)
		pw_strbuf_add_json_str(&sb, exe);
	else
		pw_strbuf_adds(&sb, "null");
	if (inputs_json) {
		pw_strbuf_adds(&sb, ",\"inputs\":");
		pw_strbuf_adds(&sb, inputs_json);
	}
	pw_strbuf_adds(&sb, ",\"command\":[");
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			pw_strbuf_addc(&sb, ',');
		pw_strbuf_add_json_str(&sb, argv[i]);
	}
	pw_strbuf_adds(&sb, "],\"log\":");
	pw_strbuf_add_json_str(&sb, a->log_path);
	pw_strbuf_addf(&sb, ",\"timeout_ms\":%" PRId64 ",\"host\":", t->timeout_ms);
	static char host[256];
	if (!host[0])
		gethostname(host, sizeof(host) - 1);
	pw_strbuf_add_json_str(&sb, host);
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}

static char *digest_json(const pw_run_ctx *c, const char *const *globs, size_t n)
{
	pw_file_digests d;
	pw_digest_globs(c->res->workspace, globs, n, &d);
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_file_digests_json(&d, &sb);
	pw_file_digests_release(&d);
	return pw_strbuf_detach(&sb);
}

/*
 * container: IMAGE: the runtime's command (runc run, podman run) replaces
 * the task's and runs in the workspace; src/container does the rest.
 */
static int container_spec(pw_run_ctx *c, const pw_task *t, const pw_attempt_result *a,
			  pw_spawn_spec *spec, pw_container_job **job, char *err, size_t errsize)
{
	if (!c->containers)
		c->containers = pw_container_engine_new();
	int rt = c->opts->container_runtime
		     ? pw_container_runtime_from_name(c->opts->container_runtime)
		     : PW_CRT_AUTO;
	pw_container_request rq = {
	    .dag = c->dag,
	    .task = t,
	    .runtime = rt < 0 ? PW_CRT_AUTO : (pw_container_runtime)rt,
	    .run_id = c->res->run_id,
	    .attempt = a->attempt,
	    .workspace = c->res->workspace,
	    .argv = spec->argv,
	    .envp = spec->envp,
	    .cwd = spec->cwd,
	};
	if (pw_container_prepare(c->containers, &rq, job, err, errsize) < 0)
		return -1;
	spec->argv = pw_container_job_argv(*job);
	spec->envp = pw_container_job_envp(*job);
	spec->cwd = c->res->workspace;
	return 0;
}

/* The next listing no later than in_ms from now: something just happened. */
static void slurm_poll_soon(pw_run_ctx *c, int64_t in_ms)
{
	int64_t at = pw_now_mono_ms() + in_ms;
	c->slurm_delay = PW_SLURM_POLL_MIN_MS;
	if (!c->slurm_next_poll || at < c->slurm_next_poll)
		c->slurm_next_poll = at;
}

/*
 * executor: slurm: submit the attempt as a job (src/slurm), or re-attach to
 * the job a resume handed over (*cls PW_CLASS_COUNT then).  On failure *cls
 * is the class of the attempt that could not start: resource_unavailable
 * (retried) when slurmrestd could not be reached, else invalid_configuration.
 */
static int slurm_start(pw_run_ctx *c, size_t ti, pw_attempt_result *a, const pw_spawn_spec *spec,
		       pw_slurm_job **out, pw_failure_class *cls, char *err, size_t errsize)
{
	const pw_task *t = &c->dag->tasks[ti];
	if (!c->slurm && !c->slurm_error) {
		char e[1024];
		if (pw_slurm_open(&c->slurm, &c->dag->slurm, e, sizeof(e)) < 0)
			c->slurm_error = pw_xstrdup(e);
	}
	if (!c->slurm) {
		snprintf(err, errsize, "%s", c->slurm_error);
		return -1;
	}
	if (c->slurm_watch < 0) {
		/*
		 * Where the workspace is written locally (one node, or this one),
		 * a job's log closing is the cue to look at once; on a shared
		 * filesystem written from other nodes no event comes, and the
		 * listing's own backoff is all there is.
		 */
		c->slurm_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		char *logs = pw_xasprintf("%s/logs", c->res->workspace);
		if (c->slurm_watch >= 0 &&
		    inotify_add_watch(c->slurm_watch, logs, IN_CLOSE_WRITE) < 0) {
			close(c->slurm_watch);
			c->slurm_watch = -2; /* do not try again */
		}
		free(logs);
	}
	int64_t id = c->adopt_job ? c->adopt_job[ti] : 0;
	if (id) {
		c->adopt_job[ti] = 0; /* a retry is a new job */
		*cls = PW_CLASS_COUNT;
	} else {
		pw_slurm_submit_req rq = {c->dag,     t,	  c->res->run_id, a->attempt,
					  spec->argv, spec->envp, spec->cwd,	  spec->log_path};
		bool transient = false;
		if (pw_slurm_submit(c->slurm, &rq, &id, &transient, err, errsize) < 0) {
			if (transient)
				*cls = PW_CLASS_RESOURCE_UNAVAILABLE;
			return -1;
		}
	}
	*out = pw_xmalloc(sizeof(**out));
	pw_slurm_job_init(*out, id);
	a->resource = pw_xasprintf("slurm:job/%" PRId64, id);
	slurm_poll_soon(c, PW_SLURM_POLL_MIN_MS);
	return 0;
}

static void start_task(pw_run_ctx *c, size_t ti)
{
	const pw_task *t = &c->dag->tasks[ti];
	if (c->throttled && !t->critical) {
		throttle_skip(c, ti);
		return;
	}
	pw_attempt_result *a = new_attempt(c, ti);
	char attempt_str[16], err[1024] = "";
	snprintf(attempt_str, sizeof(attempt_str), "%d", a->attempt);
	pw_template_vars vars;
	vars_for(c, t, attempt_str, &vars);

	char **argv = NULL;
	size_t argc = 0;
	char *cwd = NULL, *log_abs = NULL, *bad = NULL;
	pw_envlist env;
	pw_envlist_copy(&env, &c->base_env);

	pw_envlist_set(&env, "PITWALL_TASK_ID", t->task_id);
	pw_envlist_set(&env, "PITWALL_ATTEMPT", attempt_str);
	for (size_t pass = 0; pass < 2 && !bad; pass++) {
		const pw_kv *kv = pass == 0 ? c->dag->env : t->env;
		size_t n = pass == 0 ? c->dag->nenv : t->nenv;
		for (size_t i = 0; i < n && !bad; i++) {
			char *v = pw_template_expand(kv[i].value, &vars, &bad);
			if (v) {
				pw_envlist_set(&env, kv[i].key, v);
				free(v);
			}
		}
	}

	if (!bad) {
		if (t->shell) {
			argv = pw_xcalloc(4, sizeof(*argv));
			argv[0] = pw_xstrdup("/bin/sh");
			argv[1] = pw_xstrdup("-c");
			argv[2] = pw_template_expand(t->shell, &vars, &bad);
			argc = 3;
		} else {
			argv = pw_xcalloc(t->argc + 1, sizeof(*argv));
			for (argc = 0; argc < t->argc && !bad; argc++)
				argv[argc] = pw_template_expand(t->argv[argc], &vars, &bad);
		}
	}
	if (!bad) {
		if (t->working_dir) {
			char *wd = pw_template_expand(t->working_dir, &vars, &bad);
			if (wd && wd[0] != '/') {
				cwd = pw_xasprintf("%s/%s", c->res->workspace, wd);
				free(wd);
			} else {
				cwd = wd;
			}
		} else {
			cwd = pw_xstrdup(c->res->workspace);
		}
	}

	char *inputs_json = t->ninputs ? digest_json(c, t->inputs, t->ninputs) : NULL;
	a->start_wall_ms = pw_now_wall_ms();
	int rc = -1;
	pw_spawned sp = {.path = NULL};
	pw_container_job *job = NULL;
	pw_limits_attempt *lim = NULL;
	bool remote = !strcmp(t->executor, "slurm");
	pw_slurm_job *sj = NULL;
	pw_failure_class start_cls = PW_CLASS_INVALID_CONFIGURATION;
	if (bad) {
		snprintf(err, sizeof(err),
			 "unknown placeholder '{{ %s }}' (known: dag_id, run_id, task_id, attempt, "
			 "logical_date, ds, workspace, seed, dag_dir)",
			 bad);
	} else {
		log_abs = pw_xasprintf("%s/%s", c->res->workspace, a->log_path);
		pw_spawn_spec spec = {argv, pw_envlist_array(&env), cwd, log_abs, NULL};
		rc = t->container ? container_spec(c, t, a, &spec, &job, err, sizeof(err)) : 0;
		/* A container is limited by its runtime (linux.resources), a Slurm job by Slurm. */
		if (rc == 0 && !t->container && !remote && pw_exec_task_limited(&c->costs, t)) {
			pw_limits_request lr;
			pw_exec_limits_request(t, c->res->run_id, a->attempt, &lr);
			rc = pw_limits_begin(&lim, &lr, err, sizeof(err));
			if (rc == 0)
				spec.wrapper = pw_limits_wrapper(lim);
		}
		if (rc == 0 && remote)
			rc = slurm_start(c, ti, a, &spec, &sj, &start_cls, err, sizeof(err));
		else if (rc == 0)
			rc = pw_spawn(&spec, &sp, err, sizeof(err));
		if (rc != 0 && job) {
			pw_container_job_finish(job, true);
			job = NULL;
		}
	}

	if (rc == 0) {
		slot *s = slot_add(c);
		s->task = ti;
		s->res = a;
		s->pid = sp.pid;
		s->pidfd = sp.pidfd;
		s->pipe_fd = sp.pipe_fd;
		s->log_fd = sp.log_fd;
		pw_sha256_init(&s->log_hash);
		s->start_mono = pw_now_mono_ms();
		s->deadline = t->timeout_ms > 0 ? s->start_mono + t->timeout_ms : 0;
		a->pid = sp.pid;
		s->ctr = job;
		s->digest = job ? pw_container_job_digest(job) : exe_digest(c, sp.path);
		if (sj) {
			s->pidfd = s->pipe_fd = s->log_fd = -1;
			s->sj = sj;
		}
		s->inputs_json = inputs_json;
		inputs_json = NULL;
		pw_plan_set_running(&c->plan, ti);
		if ((int)c->nslots > c->res->max_concurrent)
			c->res->max_concurrent = (int)c->nslots;
		char *md = start_metadata(t, a, argv, sp.path, s->inputs_json);
		if (job) {
			/* Named in the record, so a leftover container can be found by its id. */
			pw_strbuf cj = PW_STRBUF_INIT;
			pw_strbuf_adds(&cj, "{\"runtime\":");
			pw_strbuf_add_json_str(&cj, pw_container_job_runtime(job));
			pw_strbuf_adds(&cj, ",\"id\":");
			pw_strbuf_add_json_str(&cj, pw_container_job_id(job));
			pw_strbuf_adds(&cj, ",\"image\":");
			pw_strbuf_add_json_str(&cj, t->container);
			pw_strbuf_addc(&cj, '}');
			md = md_add(md, "container", cj.buf);
			pw_strbuf_release(&cj);
		}
		if (lim) {
			s->lim = lim;
			lim = NULL;
			c->used_limits = true;
			pw_limits_started(s->lim, sp.pid);
			if (pw_exec_task_sampled(&c->costs, t))
				s->next_sample = s->start_mono + PW_COST_SAMPLE_MS;
			md = md_add(md, "limits", pw_limits_describe(s->lim));
		}
		char msg[256];
		snprintf(msg, sizeof(msg), "attempt %d started (pid %d)", a->attempt, (int)sp.pid);
		if (sj) {
			char *jj = pw_slurm_job_json(sj);
			md = md_add(md, "slurm", jj);
			free(jj);
			if (start_cls == PW_CLASS_COUNT) /* re-attached by a resume */
				md = md_add(md, "adopted", "true");
			snprintf(msg, sizeof(msg), "attempt %d %s Slurm job %" PRId64, a->attempt,
				 start_cls == PW_CLASS_COUNT ? "re-attached to" : "submitted as",
				 sj->job_id);
		}
		emit_digest(c, PW_EV_TASK_START, "INFO", t, a, PW_TS_RUNNING, msg, md, s->digest);
		free(md);
	} else {
		/*
		 * Could not start: a configuration problem (missing command,
		 * bad working_dir), recorded like an attempt that failed at once.
		 */
		if (log_abs) {
			FILE *f = fopen(log_abs, "we");
			if (f) {
				fprintf(f, "pitwall: %s\n", err);
				fclose(f);
			}
		}
		a->error = pw_xstrdup(err);
		char *md = start_metadata(t, a, argv, NULL, inputs_json);
		emit(c, PW_EV_TASK_START, "INFO", t, a, PW_TS_RUNNING, "attempt could not start",
		     md);
		free(md);
		a->state = PW_TS_FAILED;
		a->duration_ms = 0;
		task_finished(c, ti, a, start_cls, NULL, NULL);
	}

	for (size_t i = 0; argv && i < argc; i++)
		free(argv[i]);
	free(argv);
	free(cwd);
	free(log_abs);
	free(bad);
	free(inputs_json);
	free(sp.path);
	pw_limits_end(lim);
	pw_envlist_release(&env);
}

/* ---- finishing ---- */

static void on_decided(size_t ti, pw_task_state st, void *payload)
{
	pw_run_ctx *c = payload;
	const pw_task *t = &c->dag->tasks[ti];
	char msg[256];
	if (st == PW_TS_READY) {
		emit(c, PW_EV_TASK_QUEUED, "INFO", t, NULL, st, "ready", "{}");
		return;
	}
	c->res->tasks[ti].state = st;
	if (st == PW_TS_UPSTREAM_FAILED)
		snprintf(msg, sizeof(msg), "not run: a dependency failed (trigger_rule %s)",
			 pw_trigger_rule_name(t->trigger_rule));
	else if (st == PW_TS_SKIPPED)
		snprintf(msg, sizeof(msg), "skipped by trigger_rule %s",
			 pw_trigger_rule_name(t->trigger_rule));
	else
		snprintf(msg, sizeof(msg), "%s", pw_task_state_name(st));
	char md[192];
	snprintf(md, sizeof(md),
		 "{\"status\":\"%s\",\"attempt\":null,\"attempts\":%zu,\"exit_code\":null,"
		 "\"signal\":null,\"duration_ms\":0}",
		 pw_task_state_name(st), c->res->tasks[ti].nattempts);
	emit(c, PW_EV_TASK_END, st == PW_TS_SKIPPED ? "INFO" : "WARNING", t, NULL, st, msg, md);
}

static char *end_metadata(const pw_attempt_result *a)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb, "{\"status\":\"%s\",\"attempt\":%d,", pw_task_state_name(a->state),
		       a->attempt);
	if (a->exit_code >= 0)
		pw_strbuf_addf(&sb, "\"exit_code\":%d,", a->exit_code);
	else
		pw_strbuf_adds(&sb, "\"exit_code\":null,");
	if (a->signal)
		pw_strbuf_addf(&sb, "\"signal\":%d,", a->signal);
	else
		pw_strbuf_adds(&sb, "\"signal\":null,");
	pw_strbuf_addf(&sb,
		       "\"duration_ms\":%" PRId64 ",\"max_rss_kb\":%" PRId64
		       ",\"cpu_user_ms\":%" PRId64 ",\"cpu_sys_ms\":%" PRId64 ",\"pid\":%d,",
		       a->duration_ms, a->max_rss_kb, a->cpu_user_ms, a->cpu_sys_ms, a->pid);
	if (a->costed || a->memory_peak_bytes)
		pw_strbuf_addf(&sb, "\"cpu_ms\":%" PRId64 ",\"memory_peak_bytes\":%" PRId64 ",",
			       a->cpu_ms, a->memory_peak_bytes);
	if (a->cpu_throttled_ms > 0)
		pw_strbuf_addf(&sb, "\"cpu_throttled_ms\":%" PRId64 ",", a->cpu_throttled_ms);
	if (a->costed) {
		char amount[40];
		pw_micros_format(a->cost_micros, amount, sizeof(amount));
		pw_strbuf_addf(&sb, "\"cost\":\"%s\",\"cost_micros\":%" PRId64 ",", amount,
			       a->cost_micros);
	}
	pw_strbuf_adds(&sb, "\"class\":");
	if (a->failure_class >= 0)
		pw_strbuf_add_json_str(&sb, pw_failure_class_name(a->failure_class));
	else
		pw_strbuf_adds(&sb, "null");
	pw_strbuf_adds(&sb, ",\"log\":");
	pw_strbuf_add_json_str(&sb, a->log_path);
	if (a->log_sha256[0])
		pw_strbuf_addf(&sb, ",\"log_size\":%" PRId64 ",\"log_sha256\":\"%s\"", a->log_size,
			       a->log_sha256);
	pw_strbuf_adds(&sb, ",\"error\":");
	if (a->error)
		pw_strbuf_add_json_str(&sb, a->error);
	else
		pw_strbuf_adds(&sb, "null");
	if (a->slurm_json) {
		pw_strbuf_adds(&sb, ",\"slurm\":");
		pw_strbuf_adds(&sb, a->slurm_json);
	}
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}

static void describe_attempt(const pw_attempt_result *a, char *buf, size_t size)
{
	if (a->error)
		snprintf(buf, size, "%s", a->error);
	else if (a->state == PW_TS_TIMEOUT)
		snprintf(buf, size, "timed out");
	else if (a->state == PW_TS_OOM)
		snprintf(buf, size, "out of memory: killed by the OOM killer at its memory_limit");
	else if (a->state == PW_TS_COST_EXCEEDED)
		snprintf(buf, size, "killed at its cost limit");
	else if (a->signal)
		snprintf(buf, size, "killed by signal %d (%s)", a->signal, strsignal(a->signal));
	else if (a->exit_code > 0)
		snprintf(buf, size, "exit %d", a->exit_code);
	else
		snprintf(buf, size, "%s", pw_task_state_name(a->state));
}

/*
 * An attempt is over.  Either the task is retried (after its backoff) or
 * it reaches its final state, and the plan releases its dependents.
 */
static void task_finished(pw_run_ctx *c, size_t ti, pw_attempt_result *a, pw_failure_class cls,
			  const char *digest, const char *inputs_json)
{
	const pw_task *t = &c->dag->tasks[ti];
	pw_task_result *tr = &c->res->tasks[ti];
	tr->duration_ms += a->duration_ms;
	if (a->state != PW_TS_SUCCESS)
		a->failure_class = (int)cls;

	char what[512], msg[768];
	describe_attempt(a, what, sizeof(what));

	bool retry = a->state != PW_TS_SUCCESS && a->state != PW_TS_CANCELLED &&
		     a->state != PW_TS_COST_EXCEEDED && !c->stopping &&
		     (int)tr->nattempts <= t->retries && should_retry(t, cls, a->exit_code);
	char *md = end_metadata(a);
	if (retry) {
		int64_t delay = retry_delay(c, t, (int)tr->nattempts);
		char d[32];
		pw_format_duration(delay, d, sizeof(d));
		snprintf(msg, sizeof(msg), "attempt %d failed (%s, %s); retrying in %s", a->attempt,
			 what, pw_failure_class_name(cls), d);
		pw_strbuf sb = PW_STRBUF_INIT;
		pw_strbuf_add(&sb, md, strlen(md) - 1);
		pw_strbuf_addf(&sb,
			       ",\"next_attempt\":%d,\"reason\":\"%s\",\"delay_ms\":%" PRId64 "}",
			       a->attempt + 1, pw_failure_class_name(cls), delay);
		emit_digest(c, PW_EV_TASK_RETRY, "WARNING", t, a, a->state, msg, sb.buf, digest);
		pw_strbuf_release(&sb);
		c->retry_at[ti] = pw_now_mono_ms() + delay;
		if (c->retry_at[ti] == 0)
			c->retry_at[ti] = 1;
		c->nretry++;
		pw_plan_set_retry_wait(&c->plan, ti);
	} else {
		tr->state = a->state;
		if (a->state == PW_TS_SUCCESS && (t->noutputs || t->ninputs)) {
			char *outs = digest_json(c, t->outputs, t->noutputs);
			pw_strbuf lj = PW_STRBUF_INIT;
			pw_strbuf_addf(&lj, "{\"attempt\":%d,\"inputs\":%s,\"outputs\":%s}",
				       a->attempt, inputs_json ? inputs_json : "[]", outs);
			emit_digest(c, PW_EV_LINEAGE, "INFO", t, a, a->state, "lineage recorded",
				    lj.buf, digest);
			pw_strbuf_release(&lj);
			free(outs);
		}
		if (a->state == PW_TS_SUCCESS)
			snprintf(msg, sizeof(msg), "succeeded after %d attempt%s", a->attempt,
				 a->attempt == 1 ? "" : "s");
		else
			snprintf(msg, sizeof(msg), "%s after %d attempt%s (%s)",
				 pw_task_state_name(a->state), a->attempt,
				 a->attempt == 1 ? "" : "s", what);
		emit_digest(c, PW_EV_TASK_END, a->state == PW_TS_SUCCESS ? "INFO" : "ERROR", t, a,
			    a->state, msg, md, digest);
		pw_plan_finish(&c->plan, ti, a->state, on_decided, c);
	}
	free(md);
}

static void slot_close_fds(slot *s)
{
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->pipe_fd >= 0)
		close(s->pipe_fd);
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->pidfd = s->pipe_fd = s->log_fd = -1;
}

static void drain_pipe(slot *s)
{
	char buf[65536];
	while (s->pipe_fd >= 0) {
		ssize_t r = read(s->pipe_fd, buf, sizeof(buf));
		if (r > 0) {
			pw_sha256_update(&s->log_hash, buf, (size_t)r);
			s->log_bytes += r;
			ssize_t off = 0;
			while (off < r) {
				ssize_t w = write(s->log_fd, buf + off, (size_t)(r - off));
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				off += w;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			close(s->pipe_fd);
			s->pipe_fd = -1;
		}
		break; /* EAGAIN: nothing more for now */
	}
}

static bool group_empty(pid_t pgid)
{
	return kill(-pgid, 0) < 0 && errno == ESRCH;
}

static void check_run_budget(pw_run_ctx *c, int64_t now);

/* An attempt's cost: recorded (cost.task_compute) and added to the run's. */
static void charge(pw_run_ctx *c, size_t ti, pw_attempt_result *a, const pw_prices *p,
		   const char *digest)
{
	const pw_task *t = &c->dag->tasks[ti];
	a->cost_micros =
	    pw_cost_micros(p, a->cpu_ms * 1000000, a->memory_peak_bytes, a->duration_ms);
	a->costed = true;
	c->costs.total += a->cost_micros;
	c->costs.cpu_ms += a->cpu_ms;
	c->costs.nattempts++;
	c->res->costed = true;
	c->res->cost_micros = c->costs.total;
	char amount[40], msg[128];
	pw_micros_format(a->cost_micros, amount, sizeof(amount));
	snprintf(msg, sizeof(msg), "attempt %d cost %s", a->attempt, amount);
	char *md = pw_exec_cost_metadata(a, p, t->prices.set ? "task" : c->costs.prices_source);
	emit_digest(c, PW_EV_COST_TASK, "INFO", t, a, a->state, msg, md, digest);
	free(md);
	check_run_budget(c, pw_now_mono_ms());
}

static void complete_slot(pw_run_ctx *c, size_t idx)
{
	slot s = c->slots[idx];
	/* Whatever the runtime's exit left running goes first, so its output ends too. */
	if (s.ctr) {
		bool exited = s.leader_exited && !s.term_sent && WIFEXITED(s.wstatus);
		pw_container_job_finish(s.ctr, exited && WEXITSTATUS(s.wstatus) < 125);
	}
	drain_pipe(&s);
	slot_close_fds(&s);
	c->slots[idx] = c->slots[--c->nslots];

	pw_attempt_result *a = s.res;
	a->duration_ms = pw_now_mono_ms() - s.start_mono;
	a->max_rss_kb = s.ru.ru_maxrss;
	a->cpu_user_ms = (int64_t)s.ru.ru_utime.tv_sec * 1000 + s.ru.ru_utime.tv_usec / 1000;
	a->cpu_sys_ms = (int64_t)s.ru.ru_stime.tv_sec * 1000 + s.ru.ru_stime.tv_usec / 1000;
	pw_failure_class cls = PW_CLASS_ERROR, job_cls = PW_CLASS_ERROR;
	pw_task_state job_state = PW_TS_FAILED;
	char why[256] = "";
	if (s.sj) {
		/* The job's own account of how it ended (src/slurm maps its states). */
		a->exit_code = s.sj->exit_code;
		a->signal = s.sj->signal;
		if (s.sj->terminal)
			job_state = pw_slurm_outcome(s.sj, &job_cls, why, sizeof(why));
		else
			snprintf(why, sizeof(why),
				 "Slurm job %" PRId64 " did not end after scancel", s.sj->job_id);
	} else if (WIFEXITED(s.wstatus)) {
		a->exit_code = WEXITSTATUS(s.wstatus);
	} else if (WIFSIGNALED(s.wstatus)) {
		a->signal = WTERMSIG(s.wstatus);
	}
	/*
	 * An OOM kill: the group's OOM counter moved, or (no counter) the task
	 * died of a SIGKILL we did not send with its memory at the limit.
	 */
	pw_limits_usage u, *up = NULL;
	if (s.lim) {
		pw_limits_sample(s.lim, &u);
		up = &u;
	}
	int64_t mem_limit = c->dag->tasks[s.task].resources.memory_limit;
	bool oom = up && (u.oom_kills > 0 ||
			  (u.oom_kills < 0 && a->signal == SIGKILL && !s.kill_sent &&
			   (u.mem_failed || (mem_limit > 0 && u.mem_peak >= mem_limit / 10 * 9))));
	if (s.cancelled) {
		a->state = PW_TS_CANCELLED;
	} else if (s.cost_exceeded) {
		a->state = PW_TS_COST_EXCEEDED;
	} else if (s.timed_out) {
		a->state = PW_TS_TIMEOUT;
		cls = PW_CLASS_NETWORK_TIMEOUT;
	} else if (s.sj) {
		a->state = job_state;
		cls = job_cls == PW_CLASS_COUNT ? classify_exit(a->exit_code) : job_cls;
		if (why[0])
			a->error = pw_xstrdup(why);
	} else if (WIFEXITED(s.wstatus) && a->exit_code == 0) {
		a->state = PW_TS_SUCCESS;
	} else if (oom) {
		a->state = PW_TS_OOM;
		cls = PW_CLASS_OUT_OF_MEMORY;
	} else if (WIFEXITED(s.wstatus)) {
		a->state = PW_TS_FAILED;
		cls = classify_exit(a->exit_code);
	} else {
		a->state = PW_TS_FAILED;
		cls = PW_CLASS_WORKER_PREEMPTED;
	}
	if (s.sj) {
		/* A Slurm job writes its log itself (on a shared filesystem): read it back. */
		char *log_abs = pw_xasprintf("%s/%s", c->res->workspace, a->log_path);
		pw_sha256_file(log_abs, a->log_sha256, &a->log_size);
		free(log_abs);
	} else {
		uint8_t d[32];
		pw_sha256_final(&s.log_hash, d);
		pw_sha256_to_hex(d, a->log_sha256);
		a->log_size = s.log_bytes;
	}
	const pw_prices *prices = pw_exec_task_prices(&c->costs, &c->dag->tasks[s.task]);
	if (s.sj) {
		if (s.sj->terminal)
			pw_slurm_accounting(c->slurm, s.sj);
		pw_slurm_attempt_usage(s.sj, a);
		a->slurm_json = pw_slurm_job_json(s.sj);
		free(s.sj);
	} else if (s.lim || prices) {
		pw_exec_attempt_usage(a, up);
	}
	pw_limits_end(s.lim);
	if (prices)
		charge(c, s.task, a, prices, s.digest);
	task_finished(c, s.task, a, cls, s.digest, s.inputs_json);
	free(s.inputs_json);
}

static void send_group(pw_run_ctx *c, slot *s, int sig)
{
	if (s->sj) {
		/* scancel: Slurm's own SIGTERM, KillWait, SIGKILL; a SIGKILL only hurries it. */
		char err[1024];
		if (!s->leader_exited &&
		    pw_slurm_cancel(c->slurm, s->sj->job_id, sig == SIGKILL ? SIGKILL : 0, err,
				    sizeof(err)) < 0)
			emit(c, PW_EV_HOOK, "WARNING", &c->dag->tasks[s->task], s->res,
			     PW_TS_RUNNING, err, "{}");
		slurm_poll_soon(c, PW_SLURM_POLL_MIN_MS);
		return;
	}
	if (kill(-s->pid, sig) < 0 && errno == ESRCH && !s->leader_exited)
		kill(s->pid, sig);
	if (s->lim)
		pw_limits_signal(s->lim, sig); /* what left the group (setsid) is still in here */
}

/* A cost limit was crossed: the money is spent, so no grace period. */
static void cost_kill(pw_run_ctx *c, slot *s, int64_t now)
{
	s->cost_exceeded = true;
	s->term_sent = s->kill_sent = true;
	s->kill_at = now ? now : 1;
	s->give_up_at = now + KILL_GIVE_UP_MS;
	send_group(c, s, SIGKILL);
}

/* budget.max_cost_per_run was crossed: kill what runs, start nothing more. */
static void budget_run_stop(pw_run_ctx *c, int64_t total, int64_t now)
{
	if (c->cost_stopped)
		return;
	c->cost_stopped = true;
	c->stopping = true;
	c->plan.cancelling = true;
	c->res->cost_exceeded = true;
	char spent[40], max[40], msg[256];
	pw_micros_format(total, spent, sizeof(spent));
	pw_micros_format(c->costs.run_max, max, sizeof(max));
	snprintf(msg, sizeof(msg),
		 "run cost %s passed budget.max_cost_per_run %s: killing %zu running task%s, "
		 "starting no more",
		 spent, max, c->nslots, c->nslots == 1 ? "" : "s");
	char md[256];
	snprintf(md, sizeof(md),
		 "{\"cost\":\"%s\",\"cost_micros\":%" PRId64 ",\"max_cost_per_run\":\"%s\","
		 "\"max_cost_per_run_micros\":%" PRId64 "}",
		 spent, total, max, c->costs.run_max);
	emit(c, PW_EV_BUDGET_RUN_EXCEEDED, "ERROR", NULL, NULL, PW_TS_COST_EXCEEDED, msg, md);
	for (size_t i = 0; i < c->nslots; i++)
		if (!c->slots[i].leader_exited && !c->slots[i].cost_exceeded)
			cost_kill(c, &c->slots[i], now);
}

/* The run's cost so far: finished attempts plus the running ones' last samples. */
static void check_run_budget(pw_run_ctx *c, int64_t now)
{
	if (!c->costs.run_max || c->cost_stopped)
		return;
	int64_t total = c->costs.total;
	for (size_t i = 0; i < c->nslots; i++)
		if (!c->slots[i].leader_exited)
			total += c->slots[i].cost_estimate;
	if (total > c->costs.run_max)
		budget_run_stop(c, total, now);
}

/* At least once a second while a task with a cost limit runs. */
static void sample_slot(pw_run_ctx *c, slot *s, int64_t now)
{
	const pw_task *t = &c->dag->tasks[s->task];
	pw_limits_usage u;
	pw_limits_sample(s->lim, &u);
	s->next_sample = now + PW_COST_SAMPLE_MS;
	s->cost_estimate = pw_cost_micros(pw_exec_task_prices(&c->costs, t), u.cpu_ns, u.mem_peak,
					  now - s->start_mono);
	if (t->resources.max_cost_per_run <= 0 || s->cost_exceeded || s->cancelled || s->timed_out)
		return;
	int64_t max = pw_amount_micros(t->resources.max_cost_per_run);
	if (s->cost_estimate <= max)
		return;
	char spent[40], lim[40], msg[256];
	pw_micros_format(s->cost_estimate, spent, sizeof(spent));
	pw_micros_format(max, lim, sizeof(lim));
	snprintf(msg, sizeof(msg), "attempt %d: cost %s passed max_cost_per_run %s: killing it",
		 s->res->attempt, spent, lim);
	emit(c, PW_EV_HOOK, "WARNING", t, s->res, PW_TS_COST_EXCEEDED, msg, "{}");
	cost_kill(c, s, now);
}

/* Start terminating a slot: SIGTERM now, SIGKILL after the grace period. */
static void terminate_slot(pw_run_ctx *c, slot *s, int64_t now)
{
	if (s->term_sent)
		return;
	s->term_sent = true;
	send_group(c, s, SIGTERM);
	s->kill_at = now + c->kill_grace_ms;
	if (s->kill_at == 0)
		s->kill_at = 1;
	s->give_up_at = s->kill_at + KILL_GIVE_UP_MS;
}

/* ---- the loop ---- */

static void reap(pw_run_ctx *c)
{
	for (;;) {
		int st;
		struct rusage ru;
		pid_t pid = wait4(-1, &st, WNOHANG | __WALL, &ru);
		if (pid <= 0)
			break;
		for (size_t i = 0; i < c->nslots; i++) {
			slot *s = &c->slots[i];
			if (s->pid == pid && !s->leader_exited) {
				s->leader_exited = true;
				s->wstatus = st;
				s->ru = ru;
				if (s->pidfd >= 0) {
					close(s->pidfd);
					s->pidfd = -1;
				}
				break;
			}
		}
		/* Anything else was an orphaned grandchild: reaped, nothing to record. */
	}
}

static void begin_stop(pw_run_ctx *c, int sig, int64_t now)
{
	if (c->stopping && c->stop_signal) {
		/* A second signal: no more grace. */
		for (size_t i = 0; i < c->nslots; i++) {
			send_group(c, &c->slots[i], SIGKILL);
			c->slots[i].kill_sent = true;
		}
		return;
	}
	c->stopping = true;
	c->stop_signal = sig;
	c->plan.cancelling = true;
	char msg[128];
	snprintf(msg, sizeof(msg), "received %s: stopping, terminating %zu running task%s",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", c->nslots, c->nslots == 1 ? "" : "s");
	emit(c, PW_EV_HOOK, "WARNING", NULL, NULL, PW_TS_CANCELLED, msg, "{}");
	for (size_t i = 0; i < c->nslots; i++) {
		if (!c->slots[i].leader_exited)
			c->slots[i].cancelled = true;
		terminate_slot(c, &c->slots[i], now);
	}
}

static void handle_signals(pw_run_ctx *c, int64_t now)
{
	struct signalfd_siginfo si;
	while (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
			begin_stop(c, (int)si.ssi_signo, now);
	}
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/*
 * One listing for every Slurm job: jobs that reached a final state end
 * their attempts (leader_exited), a job that starts running is recorded
 * with its nodes.  The next listing comes PW_SLURM_POLL_MIN_MS after a
 * change, then ever later (doubling) up to slurm.poll_interval.
 */
/* logs/ events: a Slurm attempt's log was closed (its job is ending): look soon. */
static void slurm_watch_events(pw_run_ctx *c)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	bool ours = false;
	while ((n = read(c->slurm_watch, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (size_t i = 0; ev->len && i < c->nslots && !ours; i++) {
				const slot *s = &c->slots[i];
				ours = s->sj && !strcmp(s->res->log_path + 5, ev->name);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (ours)
		slurm_poll_soon(c, PW_SLURM_LOG_CLOSED_MS);
}

static void slurm_tick(pw_run_ctx *c, int64_t now)
{
	pw_slurm_job **jobs = pw_xmalloc((c->nslots + 1) * sizeof(*jobs));
	char(*was)[32] = pw_xmalloc((c->nslots + 1) * sizeof(*was));
	size_t n = 0;
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i].sj && !c->slots[i].leader_exited) {
			memcpy(was[n], c->slots[i].sj->state, sizeof(was[n]));
			jobs[n++] = c->slots[i].sj;
		}
	}
	c->slurm_next_poll = 0;
	if (!n || !c->slurm)
		goto out;
	bool changed = false;
	char err[1024];
	if (pw_slurm_refresh(c->slurm, jobs, n, &changed, err, sizeof(err)) < 0) {
		if (!c->slurm_poll_error || strcmp(c->slurm_poll_error, err) != 0)
			emit(c, PW_EV_HOOK, "WARNING", NULL, NULL, PW_TS_RUNNING, err, "{}");
		free(c->slurm_poll_error);
		c->slurm_poll_error = pw_xstrdup(err);
	} else if (c->slurm_poll_error) {
		free(c->slurm_poll_error);
		c->slurm_poll_error = NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < c->nslots && k < n; i++) {
		slot *s = &c->slots[i];
		if (!s->sj || s->leader_exited)
			continue;
		const char *before = was[k++];
		if (!strcmp(s->sj->state, "RUNNING") && strcmp(before, "RUNNING") != 0) {
			char msg[384], *jj = pw_slurm_job_json(s->sj), *md = pw_xasprintf("{}");
			md = md_add(md, "slurm", jj);
			snprintf(msg, sizeof(msg), "Slurm job %" PRId64 " running on %s",
				 s->sj->job_id, s->sj->nodes);
			emit(c, PW_EV_HOOK, "INFO", &c->dag->tasks[s->task], s->res, PW_TS_RUNNING,
			     msg, md);
			free(jj);
			free(md);
		}
		if (s->sj->terminal)
			s->leader_exited = true;
	}
	int64_t interval = pw_slurm_poll_interval(c->slurm);
	c->slurm_delay = changed ? PW_SLURM_POLL_MIN_MS : c->slurm_delay * 2;
	if (c->slurm_delay < PW_SLURM_POLL_MIN_MS)
		c->slurm_delay = PW_SLURM_POLL_MIN_MS;
	if (c->slurm_delay > interval)
		c->slurm_delay = interval;
	c->slurm_next_poll = now + c->slurm_delay;
out:
	free(jobs);
	free(was);
}

static void run_loop(pw_run_ctx *c)
{
	struct pollfd *pfds = NULL;
	size_t *pslot = NULL;
	size_t pcap = 0, pscap = 0;

	for (;;) {
		int64_t now = pw_now_mono_ms();

		/* Retries whose backoff is over go back into the ready queue. */
		if (c->nretry) {
			for (size_t i = 0; i < c->dag->ntasks; i++) {
				if (c->retry_at[i] && (c->stopping || c->retry_at[i] <= now)) {
					c->retry_at[i] = 0;
					c->nretry--;
					if (!c->stopping)
						pw_plan_push_ready(&c->plan, i);
				}
			}
		}

		/* Fill free slots, first in file order. */
		size_t ti;
		while (!c->stopping && (int)c->nslots < c->max_active &&
		       pw_plan_next_ready(&c->plan, &ti))
			start_task(c, ti);

		if (c->nslots == 0 && (c->stopping || (c->nretry == 0 && c->plan.nheap == 0)))
			break;

		/* Timeouts and kill deadlines. */
		int64_t next = 0;
		for (size_t i = 0; i < c->nslots; i++) {
			slot *s = &c->slots[i];
			if (!s->leader_exited && s->deadline && now >= s->deadline &&
			    !s->timed_out && !s->cancelled) {
				s->timed_out = true;
				terminate_slot(c, s, now);
			}
			if (s->kill_at && now >= s->kill_at && !s->kill_sent) {
				s->kill_sent = true;
				send_group(c, s, SIGKILL);
			}
			if (s->sj && s->kill_sent && !s->leader_exited)
				next = min_deadline(next, s->give_up_at);
			if (!s->leader_exited && !s->timed_out && !s->cancelled)
				next = min_deadline(next, s->deadline);
			if (!s->kill_sent)
				next = min_deadline(next, s->kill_at);
			if (s->leader_exited)
				next = min_deadline(next, now + DRAIN_CHECK_MS);
			if (s->next_sample && !s->leader_exited && !s->kill_sent) {
				if (now >= s->next_sample)
					sample_slot(c, s, now);
				next = min_deadline(next, s->next_sample);
			}
		}
		if (c->costs.run_max)
			check_run_budget(c, now);
		if (c->nretry)
			for (size_t i = 0; i < c->dag->ntasks; i++)
				next = min_deadline(next, c->retry_at[i]);
		next = min_deadline(next, c->slurm_next_poll);

		PW_GROW(pfds, pcap, 2 + 2 * c->nslots);
		PW_GROW(pslot, pscap, 2 + 2 * c->nslots);
		size_t np = 0, watch_ix = 0;
		pfds[np++] = (struct pollfd){.fd = c->sigfd, .events = POLLIN};
		if (c->slurm_watch >= 0 && c->slurm_next_poll) {
			pslot[np] = SIZE_MAX;
			watch_ix = np;
			pfds[np++] = (struct pollfd){.fd = c->slurm_watch, .events = POLLIN};
		}
		for (size_t i = 0; i < c->nslots; i++) {
			if (c->slots[i].pidfd >= 0 && !c->slots[i].leader_exited) {
				pslot[np] = i;
				pfds[np++] =
				    (struct pollfd){.fd = c->slots[i].pidfd, .events = POLLIN};
			}
			if (c->slots[i].pipe_fd >= 0) {
				pslot[np] = i;
				pfds[np++] =
				    (struct pollfd){.fd = c->slots[i].pipe_fd, .events = POLLIN};
			}
		}
		flush_observers(c);
		int64_t od = observer_deadline(c);
		if (od && (!next || od < next))
			next = od;
		int timeout = -1;
		if (next) {
			int64_t d = next - now;
			timeout = d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
		}
		int pr = poll(pfds, np, timeout);
		if (pr < 0 && errno != EINTR)
			break;
		now = pw_now_mono_ms();

		if (pfds[0].revents)
			handle_signals(c, now);
		reap(c);
		if (watch_ix && pfds[watch_ix].revents)
			slurm_watch_events(c);
		if (c->slurm_next_poll && now >= c->slurm_next_poll)
			slurm_tick(c, now);
		for (size_t i = 1; i < np && pr > 0; i++)
			if (pfds[i].revents && pslot[i] < c->nslots &&
			    pfds[i].fd == c->slots[pslot[i]].pipe_fd)
				drain_pipe(&c->slots[pslot[i]]);

		/*
		 * Finished attempts: the leader is reaped and its group is
		 * empty.  Whatever it left behind gets the grace period.
		 */
		for (size_t i = 0; i < c->nslots;) {
			slot *s = &c->slots[i];
			bool finished = false;
			if (s->sj) {
				/* A job that will not end after scancel is given up on. */
				finished =
				    s->leader_exited || (s->kill_sent && now >= s->give_up_at);
			} else if (s->leader_exited) {
				if (group_empty(s->pid) && (!s->lim || pw_limits_empty(s->lim)))
					finished = true;
				else if (!s->term_sent)
					terminate_slot(c, s, now);
				else if (s->kill_sent && now >= s->give_up_at)
					finished = true; /* unkillable (D state): do not hang */
			}
			if (finished)
				complete_slot(c, i); /* moves the last slot into i */
			else
				i++;
		}
	}
	free(pfds);
	free(pslot);
}

/* ---- hooks ---- */

static void hook_notice(void *payload, const char *message)
{
	pw_run_ctx *c = payload;
	emit(c, PW_EV_HOOK, "INFO", NULL, NULL, PW_TS_COUNT, message, "{}");
}

static void run_hooks(pw_run_ctx *c, bool success, const char *status)
{
	pw_strbuf summary = PW_STRBUF_INIT, failed = PW_STRBUF_INIT;
	size_t counts[PW_TS_COUNT] = {0};
	for (size_t i = 0; i < c->dag->ntasks; i++) {
		pw_task_state st = c->plan.state[i];
		counts[st]++;
		if (pw_task_state_failed(st) && st != PW_TS_UPSTREAM_FAILED) {
			if (failed.len)
				pw_strbuf_addc(&failed, ',');
			pw_strbuf_adds(&failed, c->dag->tasks[i].task_id);
		}
	}
	pw_strbuf_addf(&summary, "run %s of %s: %s (", c->res->run_id, c->dag->dag_id, status);
	bool first = true;
	for (int st = PW_TS_SUCCESS; st < PW_TS_COUNT; st++) {
		if (!counts[st])
			continue;
		pw_strbuf_addf(&summary, "%s%zu %s", first ? "" : ", ", counts[st],
			       pw_task_state_name(st));
		first = false;
	}
	pw_strbuf_addc(&summary, ')');
	pw_hook_info info = {success,		status,
			     summary.buf,	failed.buf ? failed.buf : "",
			     c->res->workspace, c->base_env.v};
	pw_envlist_array(&c->base_env);
	pw_hooks_run(c->dag, &info, hook_notice, c);
	pw_strbuf_release(&summary);
	pw_strbuf_release(&failed);
}

/* ---- setup ---- */

static int make_workspace(pw_run_ctx *c, const pw_run_opts *o, char *err, size_t errsize)
{
	pw_run_result *r = c->res;
	char *ws = NULL;
	/*
	 * A derived run id must be new: neither its default workspace nor the
	 * audit store may know it (two runs in the same second get _2, _3).
	 */
	if (!o->run_id) {
		char *base = r->run_id;
		r->run_id = NULL;
		for (int n = 1;; n++) {
			char *id = n == 1 ? pw_xstrdup(base) : pw_xasprintf("%s_%d", base, n);
			char *cand = pw_xasprintf("runs/%s/%s", c->dag->dag_id, id);
			struct stat st;
			bool taken =
			    (!o->workspace && stat(cand, &st) == 0) ||
			    (o->run_id_taken && o->run_id_taken(o->run_id_taken_payload, id));
			free(cand);
			if (!taken) {
				r->run_id = id;
				break;
			}
			free(id);
		}
		free(base);
	}
	ws = o->workspace ? pw_xstrdup(o->workspace)
			  : pw_xasprintf("runs/%s/%s", c->dag->dag_id, r->run_id);
	int e = pw_mkdir_p(ws, 0755);
	char *logs = pw_xasprintf("%s/logs", ws);
	if (!e)
		e = pw_mkdir_p(logs, 0755);
	free(logs);
	if (e) {
		snprintf(err, errsize, "cannot create workspace %s: %s", ws, strerror(-e));
		free(ws);
		return e;
	}
	char *abs = realpath(ws, NULL);
	free(ws);
	if (!abs) {
		snprintf(err, errsize, "cannot resolve workspace: %s", strerror(errno));
		return -errno;
	}
	r->workspace = abs;
	return 0;
}

/* ---- budget ---- */

/* The month's spend reached stop_at: record why, and run nothing. */
static void refuse_run(pw_run_ctx *c)
{
	const pw_budget *b = &c->dag->budget;
	char spent[40], monthly[40], msg[512];
	pw_micros_format(c->costs.month_spent, spent, sizeof(spent));
	pw_micros_format(pw_amount_micros(b->monthly), monthly, sizeof(monthly));
	snprintf(msg, sizeof(msg),
		 "run refused: %s has spent %s of its monthly budget %s in %s (stop_at %g)",
		 c->dag->dag_id, spent, monthly, c->costs.month, b->stop_at);
	char *md = pw_exec_budget_metadata(&c->costs, b, NULL);
	pw_plan_init(&c->plan, c->dag); /* observers may look at it */
	emit(c, PW_EV_BUDGET_STOP, "ERROR", NULL, NULL, PW_TS_COUNT, msg, md);
	flush_observers(c);
	pw_plan_release(&c->plan);
	free(md);
	c->res->budget_refused = true;
	c->res->exit_code = PW_RUN_EXIT_BUDGET;
	if (!c->opts->workspace) {
		/* Nothing ran: leave no empty workspace behind. */
		char *logs = pw_xasprintf("%s/logs", c->res->workspace);
		rmdir(logs);
		rmdir(c->res->workspace);
		free(logs);
	}
}

/* After dag_run_start: warnings, and the monthly budget's warn / throttle. */
static void budget_at_start(pw_run_ctx *c, const char *warnings)
{
	for (const char *p = warnings; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = pw_xstrndup(p, len);
		emit(c, PW_EV_HOOK, "WARNING", NULL, NULL, PW_TS_COUNT, line, "{}");
		free(line);
		p = nl ? nl + 1 : p + len;
	}
	const pw_budget *b = &c->dag->budget;
	if (c->costs.level != PW_BUDGET_WARN && c->costs.level != PW_BUDGET_THROTTLE)
		return;
	char spent[40], monthly[40], msg[512];
	pw_micros_format(c->costs.month_spent, spent, sizeof(spent));
	pw_micros_format(pw_amount_micros(b->monthly), monthly, sizeof(monthly));
	if (c->costs.level == PW_BUDGET_WARN) {
		snprintf(msg, sizeof(msg),
			 "%s has spent %s of its monthly budget %s in %s (warn_at %g)",
			 c->dag->dag_id, spent, monthly, c->costs.month, b->warn_at);
		char *md = pw_exec_budget_metadata(&c->costs, b, NULL);
		emit(c, PW_EV_BUDGET_WARN, "WARNING", NULL, NULL, PW_TS_COUNT, msg, md);
		free(md);
		return;
	}
	c->throttled = true;
	pw_strbuf skipped = PW_STRBUF_INIT;
	pw_strbuf_adds(&skipped, ",\"not_critical\":[");
	size_t n = 0;
	for (size_t i = 0; i < c->dag->ntasks; i++) {
		if (c->dag->tasks[i].critical)
			continue;
		if (n++)
			pw_strbuf_addc(&skipped, ',');
		pw_strbuf_add_json_str(&skipped, c->dag->tasks[i].task_id);
	}
	pw_strbuf_addc(&skipped, ']');
	snprintf(msg, sizeof(msg),
		 "%s has spent %s of its monthly budget %s in %s (throttle_at %g): only critical "
		 "tasks run, %zu task%s will be skipped",
		 c->dag->dag_id, spent, monthly, c->costs.month, b->throttle_at, n,
		 n == 1 ? "" : "s");
	char *md = pw_exec_budget_metadata(&c->costs, b, skipped.buf);
	emit(c, PW_EV_BUDGET_THROTTLE, "WARNING", NULL, NULL, PW_TS_COUNT, msg, md);
	free(md);
	pw_strbuf_release(&skipped);
}

int pw_run_dag(const pw_dag *dag, const pw_run_opts *o, const pw_run_observer *observers,
	       size_t nobservers, pw_run_result *result, char *err, size_t errsize)
{
	pw_run_ctx ctx, *c = &ctx;
	memset(c, 0, sizeof(*c));
	memset(result, 0, sizeof(*result));
	c->dag = dag;
	c->opts = o;
	c->res = result;
	c->obs = observers;
	c->nobs = nobservers;
	c->sigfd = -1;
	c->slurm_watch = -1;
	c->start_mono = pw_now_mono_ms();

	int64_t logical = o->logical_date_set ? o->logical_date_s : pw_clock_now();
	pw_format_iso8601(logical, result->logical_date, sizeof(result->logical_date));
	c->logical_iso = result->logical_date;
	memcpy(c->ds, result->logical_date, 10);
	c->ds[10] = '\0';
	if (o->seed_set) {
		result->seed = o->seed;
	} else {
		char *k = pw_xasprintf("%s@%s", dag->dag_id, result->logical_date);
		result->seed = pw_hash_str(k) & 0x7fffffff;
		free(k);
	}
	snprintf(c->seed_str, sizeof(c->seed_str), "%" PRIu64, result->seed);
	c->rng = result->seed;

	if (o->run_id) {
		result->run_id = pw_xstrdup(o->run_id);
	} else {
		time_t tt = (time_t)logical;
		struct tm tm;
		gmtime_r(&tt, &tm);
		result->run_id =
		    pw_xasprintf("%s_%04d%02d%02d_%02d%02d%02d", dag->dag_id, tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	result->ntasks = dag->ntasks;
	result->tasks = pw_xcalloc(dag->ntasks, sizeof(*result->tasks));

	int e = make_workspace(c, o, err, errsize);
	if (e)
		return e;
	pw_strbuf cost_warn = PW_STRBUF_INIT;
	pw_exec_costs_init(&c->costs, dag, o, &cost_warn);
	if (c->costs.level == PW_BUDGET_STOP) {
		refuse_run(c);
		pw_strbuf_release(&cost_warn);
		pw_exec_costs_release(&c->costs);
		return 0;
	}

	c->max_active = o->max_active > 0 ? o->max_active : dag->max_active_tasks;
	if (c->max_active <= 0)
		c->max_active = 10;
	c->kill_grace_ms = o->kill_grace_ms >= 0 ? o->kill_grace_ms : dag->kill_grace_ms;
	if (c->kill_grace_ms < 0)
		c->kill_grace_ms = 10000;
	c->retry_at = pw_xcalloc(dag->ntasks, sizeof(*c->retry_at));

	pw_envlist_from_environ(&c->base_env, environ);
	/*
	 * pitwall's own secrets stay with pitwall: the store URL may carry a
	 * password, the OpenLineage key is a token.  A task that needs them is
	 * given them explicitly in its env.
	 */
	pw_envlist_unset(&c->base_env, "PITWALL_STORE");
	pw_envlist_unset(&c->base_env, "PITWALL_OPENLINEAGE_API_KEY");
	pw_envlist_unset(&c->base_env, "SLURM_JWT");
	if (o->nadopt) {
		c->adopt_job = pw_xcalloc(dag->ntasks, sizeof(*c->adopt_job));
		for (size_t i = 0; i < o->nadopt; i++)
			if (o->adopt[i].task < dag->ntasks)
				c->adopt_job[o->adopt[i].task] = o->adopt[i].job_id;
	}
	pw_envlist_set(&c->base_env, "PITWALL_DAG_ID", dag->dag_id);
	pw_envlist_set(&c->base_env, "PITWALL_RUN_ID", result->run_id);
	pw_envlist_set(&c->base_env, "PITWALL_LOGICAL_DATE", result->logical_date);
	pw_envlist_set(&c->base_env, "PITWALL_WORKSPACE", result->workspace);
	pw_envlist_set(&c->base_env, "PITWALL_SEED", c->seed_str);
	pw_envlist_set(&c->base_env, "PITWALL_DAG_DIR", dag->dir ? dag->dir : ".");

	/* Signals arrive through the signalfd only; children get defaults back. */
	sigset_t mask, oldmask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	c->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	struct sigaction old_pipe, ign = {.sa_handler = SIG_IGN};
	sigaction(SIGPIPE, &ign, &old_pipe);
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	pw_plan_init(&c->plan, dag);
	char *actor = o->actor ? pw_xstrdup(o->actor) : pw_default_actor();
	pw_strbuf md = PW_STRBUF_INIT;
	pw_strbuf_adds(&md, "{\"dag_id\":");
	pw_strbuf_add_json_str(&md, dag->dag_id);
	pw_strbuf_adds(&md, ",\"logical_date\":");
	pw_strbuf_add_json_str(&md, result->logical_date);
	pw_strbuf_addf(&md, ",\"seed\":%" PRIu64 ",\"tasks\":%zu,\"max_active_tasks\":%d",
		       result->seed, dag->ntasks, c->max_active);
	pw_strbuf_adds(&md, ",\"workspace\":");
	pw_strbuf_add_json_str(&md, result->workspace);
	pw_strbuf_adds(&md, ",\"actor\":");
	pw_strbuf_add_json_str(&md, actor);
	pw_strbuf_addf(&md, ",\"pid\":%d,\"pid_start\":%llu", (int)getpid(),
		       pw_proc_start_time((int)getpid()));
	pw_strbuf_adds(&md, ",\"dag_file\":");
	pw_strbuf_add_json_str(&md, dag->path ? dag->path : "");
	if (o->preset) {
		pw_strbuf_adds(&md, ",\"reused\":[");
		bool first = true;
		for (size_t i = 0; i < dag->ntasks; i++) {
			if (o->preset[i] == PW_TS_PENDING)
				continue;
			if (!first)
				pw_strbuf_addc(&md, ',');
			pw_strbuf_add_json_str(&md, dag->tasks[i].task_id);
			first = false;
		}
		pw_strbuf_addc(&md, ']');
	}
	if (o->run_start_extra && o->run_start_extra[0] == '{' && o->run_start_extra[1] != '}') {
		pw_strbuf_addc(&md, ',');
		pw_strbuf_adds(&md, o->run_start_extra + 1); /* its closing brace closes ours */
	} else {
		pw_strbuf_addc(&md, '}');
	}
	char msg[256];
	snprintf(msg, sizeof(msg), "run %s of %s started (%zu tasks)", result->run_id, dag->dag_id,
		 dag->ntasks);
	emit(c, PW_EV_DAG_RUN_START, "INFO", NULL, NULL, PW_TS_RUNNING, msg, md.buf);
	pw_strbuf_release(&md);
	free(actor);
	budget_at_start(c, cost_warn.buf);
	pw_strbuf_release(&cost_warn);

	if (o->preset) {
		for (size_t i = 0; i < dag->ntasks; i++) {
			if (o->preset[i] != PW_TS_PENDING) {
				pw_plan_preset(&c->plan, i, o->preset[i]);
				result->tasks[i].state = o->preset[i];
				result->tasks[i].reused = true;
			}
		}
	}
	pw_plan_start(&c->plan, on_decided, c);
	run_loop(c);
	pw_plan_cancel_rest(&c->plan, on_decided, c);

	for (size_t i = 0; i < dag->ntasks; i++) {
		pw_task_state st = c->plan.state[i];
		result->tasks[i].state = st;
		result->counts[st]++;
	}
	result->duration_ms = pw_now_mono_ms() - c->start_mono;
	result->interrupted_by = c->stop_signal;
	bool failed = false;
	for (size_t i = 0; i < dag->ntasks; i++)
		if (pw_task_state_failed(result->tasks[i].state))
			failed = true;
	result->exit_code = c->stop_signal ? 128 + c->stop_signal : failed ? 1 : 0;

	const char *status0 = c->stop_signal	? "cancelled"
			      : c->cost_stopped ? "cost_exceeded"
			      : failed		? "failed"
						: "success";
	if (!c->stop_signal)
		run_hooks(c, !failed, status0);

	pw_strbuf end = PW_STRBUF_INIT;
	const char *status = status0;
	pw_strbuf_addf(&end, "{\"status\":\"%s\",\"duration_ms\":%" PRId64 ",\"exit_code\":%d",
		       status, result->duration_ms, result->exit_code);
	if (c->costs.any_prices) {
		char *cmd = pw_exec_run_cost_metadata(&c->costs, status);
		char amount[40], cmsg[128];
		pw_micros_format(c->costs.total, amount, sizeof(amount));
		snprintf(cmsg, sizeof(cmsg), "run %s cost %s", result->run_id, amount);
		emit(c, PW_EV_COST_RUN, "INFO", NULL, NULL, PW_TS_COUNT, cmsg, cmd);
		free(cmd);
		pw_strbuf_addf(&end, ",\"cost\":\"%s\",\"cost_micros\":%" PRId64, amount,
			       c->costs.total);
	}
	for (int s = PW_TS_SUCCESS; s < PW_TS_COUNT; s++)
		if (result->counts[s])
			pw_strbuf_addf(&end, ",\"%s\":%zu", pw_task_state_name(s),
				       result->counts[s]);
	pw_strbuf_addc(&end, '}');
	snprintf(msg, sizeof(msg), "run %s %s", result->run_id, status);
	emit(c, PW_EV_DAG_RUN_END, failed || c->stop_signal ? "ERROR" : "INFO", NULL, NULL,
	     PW_TS_COUNT, msg, end.buf);
	pw_strbuf_release(&end);
	flush_observers(c);

	/* Anything still in our care (an unkillable straggler) is reaped if it can be. */
	reap(c);
	if (c->used_limits)
		pw_limits_run_done(result->run_id);
	pw_exec_costs_release(&c->costs);
	pw_plan_release(&c->plan);
	/*
	 * A SIGINT/SIGTERM that came after the loop (during a hook, say) is
	 * taken off the signalfd now, so unblocking below cannot kill us before
	 * the caller writes run.json and the summary; it still sets the exit code.
	 */
	struct signalfd_siginfo si;
	while (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) && !c->stop_signal)
			c->stop_signal = (int)si.ssi_signo;
	close(c->sigfd);
	c->sigfd = -1;
	free(c->slots);
	free(c->retry_at);
	for (size_t i = 0; i < c->ndigest; i++) {
		free(c->digest_keys[i]);
		free(c->digest_vals[i]);
	}
	free(c->digest_keys);
	free(c->digest_vals);
	pw_strmap_release(&c->digest_ix);
	pw_container_engine_free(c->containers);
	pw_slurm_close(c->slurm);
	if (c->slurm_watch >= 0)
		close(c->slurm_watch);
	free(c->slurm_error);
	free(c->slurm_poll_error);
	free(c->adopt_job);
	pw_envlist_release(&c->base_env);
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (c->stop_signal && !result->interrupted_by) {
		result->interrupted_by = c->stop_signal;
		result->exit_code = 128 + c->stop_signal;
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return 0;
}

void pw_run_result_release(pw_run_result *r)
{
	for (size_t i = 0; i < r->ntasks; i++) {
		for (size_t j = 0; j < r->tasks[i].nattempts; j++) {
			free(r->tasks[i].attempts[j].log_path);
			free(r->tasks[i].attempts[j].error);
			free(r->tasks[i].attempts[j].slurm_json);
			free(r->tasks[i].attempts[j].resource);
		}
		free(r->tasks[i].attempts);
	}
	free(r->tasks);
	free(r->run_id);
	free(r->workspace);
	memset(r, 0, sizeof(*r));
}
