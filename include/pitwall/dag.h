/*
 * The DAG model: what a YAML file says, resolved and checked.
 *
 * Everything a pw_dag points to lives in its arena, so loading and freeing
 * a 100,000-task file is a handful of large allocations.  Durations are in
 * milliseconds, sizes in bytes.  A value of -1 means "not set in the file"
 * where a default applies later.
 */
#ifndef PITWALL_DAG_H
#define PITWALL_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/diag.h"
#include "pitwall/util.h"

typedef struct {
	int line; /* 1-based, 0 = unknown */
	int col;
} pw_loc;

typedef enum {
	PW_TRIGGER_ALL_SUCCESS = 0,
	PW_TRIGGER_ALL_DONE,
	PW_TRIGGER_ONE_SUCCESS,
	PW_TRIGGER_NONE_FAILED,
	PW_TRIGGER_ALL_FAILED,
} pw_trigger_rule;

/*
 * Failure classes of DESIGN.md's task contract.  The first eight are the
 * spec's names; the rest are pitwall's own for outcomes the spec leaves
 * unnamed.
 */
typedef enum {
	PW_CLASS_NETWORK_TIMEOUT = 0,	  /* task timeout, exit 124 */
	PW_CLASS_RESOURCE_UNAVAILABLE,	  /* exit 69 (EX_UNAVAILABLE) */
	PW_CLASS_TRANSIENT_ERROR,	  /* exit 75 (EX_TEMPFAIL) */
	PW_CLASS_WORKER_PREEMPTED,	  /* killed by a signal pitwall did not send */
	PW_CLASS_DATA_VALIDATION_FAILURE, /* exit 65 (EX_DATAERR) */
	PW_CLASS_PERMISSION_DENIED,	  /* exit 77 (EX_NOPERM) */
	PW_CLASS_INVALID_CONFIGURATION,	  /* exit 78 (EX_CONFIG), exec failure */
	PW_CLASS_OUT_OF_MEMORY,		  /* OOM kill */
	PW_CLASS_ERROR,			  /* any other non-zero exit */
	PW_CLASS_COUNT
} pw_failure_class;

const char *pw_failure_class_name(pw_failure_class c);
/* Returns -1 for an unknown name. */
int pw_failure_class_from_name(const char *name);
/* Whether a class is retried when neither retry_on nor no_retry_on names it. */
bool pw_failure_class_retried_by_default(pw_failure_class c);

/* retry_on / no_retry_on: a set of classes and plain exit codes. */
typedef struct {
	uint32_t classes; /* bit (1u << pw_failure_class) */
	int *codes;
	size_t ncodes;
} pw_retry_match;

typedef struct {
	const char *key;
	const char *value;
	pw_loc loc;
} pw_kv;

typedef struct {
	double cpu_limit;	 /* cores; 0 = none */
	int64_t memory_limit;	 /* bytes; 0 = none */
	int64_t pids_limit;	 /* processes and threads; 0 = none */
	double max_cost_per_run; /* currency units; 0 = none */
	pw_loc loc;
} pw_resources;

/*
 * A price table (docs/resources.md): what a CPU second, a GiB of memory
 * held for a second and starting a task cost, in one currency.  Top level
 * (`prices:`), per task (a container or cluster task may cost more), or a
 * config file.  A table is complete: a key left out costs 0.
 */
typedef struct {
	bool set;
	double vcpu_second;
	double gib_second;
	double task_start;
	pw_loc loc;
} pw_prices;

/*
 * The DAG's budget: a ceiling per run and a monthly amount with the
 * fractions of it at which pitwall warns, runs only critical tasks, and
 * refuses new runs.  Amounts are currency units; 0 = none.
 */
typedef struct {
	bool set;
	double max_cost_per_run;
	double monthly;
	double warn_at;	    /* default 0.8 */
	double throttle_at; /* default 0.9 */
	double stop_at;	    /* default 1.0 */
	pw_loc loc;
} pw_budget;

/*
 * The top-level slurm: block (docs/slurm.md): where slurmrestd is and how to
 * talk to it, and the defaults of the tasks that run there.  Environment
 * variables (PITWALL_SLURM_URL, SLURM_JWT, ...) are applied when a run
 * connects, not here.
 */
typedef struct {
	bool set;
	const char *url;	 /* http://host:6820, https://..., unix:/path.sock; NULL = unset */
	const char *api_version; /* "v0.0.38" (default) */
	const char *jwt_file;	 /* a file holding the token; NULL = unset */
	const char *user;	 /* X-SLURM-USER-NAME; NULL = the token's owner (our user) */
	const char *partition, *account, *qos, *constraint;
	int64_t poll_interval_ms; /* the slowest status poll; 0 = default (1 s) */
	pw_loc loc;
} pw_slurm_config;

/* A dependency edge as written, resolved to a task index by validation. */
typedef struct {
	const char *name;
	size_t task; /* index into pw_dag.tasks; SIZE_MAX when unresolved */
	bool optional;
	pw_loc loc;
} pw_dep;

typedef struct {
	const char *task_id;
	pw_loc loc;    /* of the task's mapping */
	pw_loc id_loc; /* of the task_id value */
	size_t index;  /* position in file order */

	const char **argv; /* NULL-terminated; NULL when shell is used */
	size_t argc;
	pw_loc command_loc;
	const char *shell; /* NULL unless the task opted into a shell */
	pw_loc shell_loc;

	pw_dep *deps; /* required deps first, then optional ones */
	size_t ndeps;
	pw_trigger_rule trigger_rule;

	int64_t timeout_ms;	    /* resolved: task, else default_timeout, else 0 = none */
	int retries;		    /* resolved: task, else default_retries, else 0 */
	int64_t retry_delay_ms;	    /* resolved: task, else default_retry_delay, else 0 */
	double retry_backoff;	    /* resolved: retry_policy.backoff_multiplier, else the DAG's */
	int64_t max_retry_delay_ms; /* resolved: retry_policy.max_retry_delay, else the DAG's */
	pw_retry_match retry_on;
	pw_retry_match no_retry_on;

	pw_kv *env;
	size_t nenv;
	const char *working_dir; /* NULL = the run workspace */

	const char **inputs; /* globs relative to the run workspace */
	size_t ninputs;
	const char **outputs;
	size_t noutputs;

	pw_resources resources;
	pw_prices prices;      /* the task's own; unset = the DAG's */
	bool critical;	       /* still runs when the monthly budget throttles */
	const char *container; /* image reference, or NULL */
	const char *executor; /* "local" (default), "container", "slurm"; resolved with the DAG's */
	/* Slurm (executor: slurm): the task's own, else the DAG's slurm: block; NULL = none. */
	const char *partition;
	const char *account;
	const char *qos;
	const char *constraint;
	bool source;  /* fetches from outside the workspace */
	bool network; /* container: share the host's network (default: none) */

	/* Graph, filled by validation: indexes of the tasks that depend on this. */
	size_t *dependents;
	size_t ndependents;
	size_t level; /* longest path from a root; for display */
} pw_task;

/* on_success / on_failure. */
typedef struct {
	bool present;
	pw_loc loc;
	const char *action;    /* "log", "notify", "command" (when command/shell given) */
	const char **channels; /* for notify */
	size_t nchannels;
	const char *message;
	const char **argv; /* NULL-terminated, or NULL */
	const char *shell;
} pw_hook;

typedef struct {
	pw_arena arena;

	const char *path; /* as given */
	const char *dir;  /* absolute directory holding the file */
	char *text;	  /* the file's bytes, NUL-terminated (in the arena) */
	size_t text_len;

	const char *dag_id;
	pw_loc dag_id_loc;
	const char *description;
	const char *schedule; /* NULL = unscheduled */
	pw_loc schedule_loc;
	const char *timezone; /* NULL = UTC */

	int64_t default_timeout_ms;	/* -1 = unset */
	int default_retries;		/* -1 = unset */
	int64_t default_retry_delay_ms; /* -1 = unset */
	double retry_backoff;		/* multiplier, default 2.0 */
	int64_t max_retry_delay_ms;	/* default 10 min */
	double retry_jitter;   /* 0..1 fraction of the delay randomised; default 1 (full) */
	int max_active_tasks;  /* default 10 */
	int64_t kill_grace_ms; /* default 10 s */

	pw_kv *env;
	size_t nenv;

	const char *executor; /* default of tasks without container: local, slurm */
	pw_slurm_config slurm;
	const char *container_runtime; /* runc, crun, podman, docker, auto; NULL = auto */
	const char **container_env;    /* host variables passed into containers */
	size_t ncontainer_env;

	pw_hook on_success;
	pw_hook on_failure;

	pw_prices prices;
	pw_budget budget;

	/* Scheduling (docs/scheduling.md). */
	int catchup;	     /* pw_catchup */
	int catchup_window;  /* the most missed intervals run; default 10 */
	int max_active_runs; /* default 1 */
	int overlap;	     /* pw_overlap */

	pw_task *tasks; /* file order */
	size_t ntasks;
	pw_strmap ids; /* task_id -> index */
} pw_dag;

/*
 * Parse and validate a DAG from memory.  Every problem found goes to diags
 * (file name "path" in messages).  Returns 0 and a DAG in *out when there
 * are no errors; otherwise -1 and *out == NULL.  Warnings do not fail.
 */
int pw_dag_load_buffer(pw_dag **out, const char *path, const char *buf, size_t len,
		       pw_diags *diags);
/* Read path and call pw_dag_load_buffer; an unreadable file is a diagnostic too. */
int pw_dag_load_file(pw_dag **out, const char *path, pw_diags *diags);
void pw_dag_free(pw_dag *dag);

/*
 * A price file (docs/resources.md): `prices: {vcpu_second: ...}` or the
 * same keys at the top.  Returns 0 with the table in *out (set), -1 with
 * diagnostics, or -2 when the file does not exist.
 */
int pw_prices_load_file(pw_prices *out, const char *path, pw_diags *diags);

/* Lookup by id; NULL if absent. */
const pw_task *pw_dag_find(const pw_dag *dag, const char *task_id);

/*
 * "30", 30, "30s", "5m", "2h", "1d", "1500ms", "1h30m" -> milliseconds.
 * Returns 0 on success, -1 for a malformed value.
 */
int pw_parse_duration(const char *s, int64_t *out_ms);
/* "512Mi", "8Gi", "1G", "1024", "100k" -> bytes.  Returns 0 or -1. */
int pw_parse_size(const char *s, int64_t *out_bytes);
/* Format ms as a short human duration ("1.2s", "3m04s"). */
void pw_format_duration(int64_t ms, char *buf, size_t size);

const char *pw_trigger_rule_name(pw_trigger_rule r);

typedef enum { PW_CATCHUP_LATEST = 0, PW_CATCHUP_NONE, PW_CATCHUP_ALL } pw_catchup;
typedef enum { PW_OVERLAP_SKIP = 0, PW_OVERLAP_QUEUE } pw_overlap;
const char *pw_catchup_name(int c);
const char *pw_overlap_name(int o);

#endif
