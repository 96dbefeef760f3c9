/*
 * Running a DAG: options, what each task did, and the events a run emits.
 *
 * The executor is one thread: a poll() loop over the tasks' pidfds and log
 * pipes and a signalfd, sleeping until the earliest deadline (a timeout, a
 * kill grace period, a retry backoff).  Every state change is an event,
 * handed to the observers in order; logging to stderr is one observer and
 * the audit store is another.
 */
#ifndef PITWALL_RUN_H
#define PITWALL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pitwall/dag.h"
#include "pitwall/plan.h"

typedef enum {
	PW_LOG_AUTO = 0, /* live view on a terminal, JSON lines otherwise */
	PW_LOG_JSON,
	PW_LOG_TEXT,
	PW_LOG_LIVE,
	PW_LOG_NONE,
} pw_log_format;

/*
 * A cluster job a resumed run takes over instead of starting the task: it
 * is tracked as the task's attempt until it ends (pw_slurm_adoptions).
 */
typedef struct {
	size_t task;	/* index into the DAG's tasks */
	int attempt;	/* the attempt the job is (attempt_base must be attempt - 1) */
	int64_t job_id; /* its Slurm job */
} pw_run_adopt;

typedef struct {
	int max_active;		/* 0 = the DAG's max_active_tasks */
	const char *workspace;	/* NULL = runs/<dag_id>/<run_id> */
	const char *run_id;	/* NULL = derived from the logical date */
	int64_t logical_date_s; /* Unix seconds */
	bool logical_date_set;	/* false = now */
	uint64_t seed;
	bool seed_set;
	int64_t kill_grace_ms; /* -1 = the DAG's kill_grace */
	pw_log_format log_format;
	FILE *events;	   /* where events go; NULL = stderr */
	FILE *summary;	   /* where the summary table goes; NULL = none */
	const char *actor; /* user@host or "scheduler"; NULL = derived */
	/*
	 * Re-runs and resumes: per task, a final state to keep instead of
	 * running it (PW_TS_PENDING = run it), and the attempts already made
	 * (new attempts are numbered after them, so logs are never overwritten).
	 */
	const pw_task_state *preset;
	const int *attempt_base;
	const char *run_start_extra; /* JSON object text merged into dag_run_start's metadata */
	/* Tasks with container: runc, crun, podman, docker, auto; NULL = the DAG's. */
	const char *container_runtime;
	/* Whether a derived run id is already recorded (the audit store); may be NULL. */
	bool (*run_id_taken)(void *payload, const char *run_id);
	void *run_id_taken_payload;
	/*
	 * The DAG's spend so far in the month holding wall_ms, in micro-units
	 * (pw_cost_month_spend_cb with the audit store); returns 0, or -1 when
	 * it cannot tell.  NULL: the monthly budget is not checked.
	 */
	int (*month_spend)(void *payload, const char *dag_id, int64_t wall_ms, int64_t *out_micros);
	void *month_spend_payload;
	/* Resume: Slurm jobs still known to slurmctld, re-attached rather than resubmitted. */
	const pw_run_adopt *adopt;
	size_t nadopt;
} pw_run_opts;

#define PW_RUN_OPTS_INIT                                                                           \
	{                                                                                          \
		.kill_grace_ms = -1, .log_format = PW_LOG_AUTO                                     \
	}

typedef struct {
	int attempt; /* 1-based */
	pw_task_state state;
	int exit_code;	   /* -1 when none */
	int signal;	   /* 0 when none */
	int failure_class; /* pw_failure_class, or -1 on success */
	int64_t start_wall_ms;
	int64_t duration_ms;
	int64_t max_rss_kb;
	int64_t cpu_user_ms, cpu_sys_ms;
	int64_t cpu_ms;		   /* the whole tree where a cgroup counted it, else user + sys */
	int64_t memory_peak_bytes; /* the cgroup's peak, else max_rss */
	int64_t cpu_throttled_ms;  /* held back by cpu_limit (cgroup cpu.stat); -1 unknown */
	bool costed;		   /* priced: cost_micros is set */
	int64_t cost_micros;
	int pid;
	char *log_path; /* relative to the workspace */
	int64_t log_size;
	char log_sha256[65]; /* of the log once the attempt ended */
	char *error;	     /* exec failure and the like; NULL otherwise */
	/* executor: slurm: the job as task_end records it ({"job_id":..}), else NULL. */
	char *slurm_json;
	char *
	    resource; /* what the attempt's audit rows are about ("slurm:job/42"); NULL = its log */
} pw_attempt_result;

typedef struct {
	pw_task_state state;
	bool reused; /* preset: kept from an earlier execution of the run */
	pw_attempt_result *attempts;
	size_t nattempts;
	int64_t duration_ms; /* sum over attempts */
} pw_task_result;

typedef struct {
	char *run_id;
	char *workspace; /* absolute */
	char logical_date[32];
	uint64_t seed;
	pw_task_result *tasks; /* parallel to dag->tasks */
	size_t ntasks;
	int max_concurrent;
	int64_t duration_ms;
	int interrupted_by; /* signal number, 0 */
	int exit_code;	    /* the process exit code run would return */
	size_t counts[PW_TS_COUNT];
	bool costed; /* some attempt was priced */
	int64_t cost_micros;
	bool budget_refused; /* the monthly budget was spent: nothing ran (exit_code 3) */
	bool cost_exceeded;  /* budget.max_cost_per_run stopped the run */
} pw_run_result;

/* pw_run_result.exit_code of a run the monthly budget refused. */
#define PW_RUN_EXIT_BUDGET 3

/* Events, in the spec's log schema. */
typedef enum {
	PW_EV_DAG_RUN_START,
	PW_EV_TASK_QUEUED,
	PW_EV_TASK_START,
	PW_EV_TASK_RETRY,
	PW_EV_TASK_END,
	PW_EV_DAG_RUN_END,
	PW_EV_HOOK,
	PW_EV_LINEAGE,	       /* inputs when a task starts; inputs and outputs after it succeeds */
	PW_EV_COST_TASK,       /* cost.task_compute: one attempt's cost */
	PW_EV_COST_RUN,	       /* cost.dag_run_total: the run's (this execution's) cost */
	PW_EV_BUDGET_WARN,     /* budget.warn: the month's spend passed warn_at */
	PW_EV_BUDGET_THROTTLE, /* budget.throttle: only critical tasks run */
	PW_EV_BUDGET_STOP,     /* budget.stop: the run is refused */
	PW_EV_BUDGET_RUN_EXCEEDED, /* budget.run_exceeded: max_cost_per_run stopped the run */
} pw_event_type;

typedef struct {
	pw_event_type type;
	int64_t wall_ms;
	const char *level;   /* INFO, WARNING, ERROR */
	const pw_task *task; /* NULL for run events */
	const char *message;
	const char *metadata_json;	  /* a JSON object */
	const pw_attempt_result *attempt; /* task_start / task_end / task_retry */
	pw_task_state state;		  /* task_end */
	const char *image_digest;	  /* "sha256:..." of the executable or image, or NULL */
} pw_event;

typedef struct pw_run_ctx pw_run_ctx;

typedef struct {
	void (*event)(void *payload, const pw_run_ctx *ctx, const pw_event *ev);
	void *payload;
	/* Called before the loop sleeps and when the run ends: write what is due. */
	void (*flush)(void *payload);
	/* When flush next has something due (monotonic ms), 0 = nothing; may be NULL. */
	int64_t (*deadline)(void *payload);
} pw_run_observer;

/* Start time of a process (clock ticks since boot, /proc/PID/stat field 22), 0 if gone. */
unsigned long long pw_proc_start_time(int pid);

/* Read-only view of a run in progress, for observers. */
const pw_dag *pw_run_ctx_dag(const pw_run_ctx *ctx);
const char *pw_run_ctx_run_id(const pw_run_ctx *ctx);
const pw_plan *pw_run_ctx_plan(const pw_run_ctx *ctx);
int pw_run_ctx_running(const pw_run_ctx *ctx);

/*
 * Run every task of dag.  Returns 0 when the run could be carried out (its
 * tasks may still have failed: see result->exit_code), or a negative errno
 * with a message in err when the workspace cannot be made.
 */
int pw_run_dag(const pw_dag *dag, const pw_run_opts *opts, const pw_run_observer *observers,
	       size_t nobservers, pw_run_result *result, char *err, size_t errsize);
void pw_run_result_release(pw_run_result *r);

/* Parse "2026-02-14", "2026-02-14T12:00:00Z", "...+01:00", "..., 12:00". Returns 0 or -1. */
int pw_parse_iso8601(const char *s, int64_t *out_s);
void pw_format_iso8601(int64_t t, char *buf, size_t size);

/* The summary table (docs/cli.md). */
void pw_run_print_summary(const pw_dag *dag, const pw_run_result *r, FILE *out);
/* run.json (docs/cli.md); returns 0 or -errno. */
int pw_run_write_json(const pw_dag *dag, const pw_run_result *r, const char *path);

/*
 * Substitute {{ name }} placeholders.  Returns a malloc'd string, or NULL
 * with the unknown name in *bad (malloc'd) when a placeholder is unknown.
 */
typedef struct {
	const char *names[16];
	const char *values[16];
	size_t n;
} pw_template_vars;
char *pw_template_expand(const char *in, const pw_template_vars *vars, char **bad);

#endif
