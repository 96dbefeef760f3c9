/*
 * Slurm jobs through slurmrestd's REST API (docs/slurm.md).
 *
 * A task with executor: slurm is submitted as a batch job whose script
 * execs the task's argv (quoted for /bin/sh), with the task's environment,
 * the workspace as its working directory and the attempt's log as its
 * stdout and stderr.  The executor keeps one pw_slurm (a connection to
 * slurmrestd, opened at the first Slurm task) and refreshes the state of
 * all its jobs with one GET .../jobs per tick; nothing here blocks for
 * longer than one HTTP request (bounded by a timeout).
 *
 * The job's comment, "pitwall:DAG/RUN/TASK/ATTEMPT", marks it as pitwall's,
 * so a resumed run finds its jobs even when the audit missed the job id.
 *
 * The token (SLURM_JWT, a file, or `scontrol token`) is only ever sent as
 * a request header: no message, log line or event carries it.
 */
#ifndef PITWALL_SLURM_H
#define PITWALL_SLURM_H

#include <stdbool.h>
#include <stdint.h>

#include "pitwall/dag.h"
#include "pitwall/plan.h"
#include "pitwall/run.h"
#include "pitwall/views.h"

typedef struct pw_slurm pw_slurm;

/* The default OpenAPI version: Slurm 22.05's. */
#define PW_SLURM_API_VERSION "v0.0.38"
/* The slowest a job's state is polled, unless slurm.poll_interval says otherwise. */
#define PW_SLURM_POLL_INTERVAL_MS 1000
/* The quickest: right after a submission or a change of state. */
#define PW_SLURM_POLL_MIN_MS 50
/* After a job's log was closed (its script exited), before slurmctld has recorded the end. */
#define PW_SLURM_LOG_CLOSED_MS 10

/*
 * Connect to slurmrestd as the DAG's slurm: block says, with the
 * environment's overrides: PITWALL_SLURM_URL, PITWALL_SLURM_API_VERSION,
 * PITWALL_SLURM_USER, SLURM_JWT, PITWALL_SLURM_JWT_FILE.  No request is
 * made yet, except `scontrol token` when that is where the token comes
 * from.  Returns 0, or -1 with a message.
 */
int pw_slurm_open(pw_slurm **out, const pw_slurm_config *cfg, char *err, size_t errsize);
void pw_slurm_close(pw_slurm *s);
/* The endpoint, for messages (never the token). */
const char *pw_slurm_endpoint(const pw_slurm *s);
int64_t pw_slurm_poll_interval(const pw_slurm *s);

/* One job being tracked: what the last listing said about it. */
typedef struct {
	int64_t job_id;
	char state[32];	 /* PENDING, RUNNING, COMPLETED, ...; "" until listed */
	bool terminal;	 /* the job is over: state is final */
	int exit_status; /* the job's wait status (v0.0.38 exit_code); -1 unknown */
	int exit_code;	 /* decoded: exit code, or -1 */
	int signal;	 /* decoded: terminating signal, or 0 */
	char nodes[256]; /* node list, "" until allocated */
	char reason[64]; /* state_reason */
	char comment[256];
	int64_t submit_time, start_time, end_time; /* Unix seconds; 0 unknown */
	int cpus;				   /* allocated (tres_alloc_str), else requested */
	int64_t mem_bytes;			   /* allocated memory; 0 unknown */
	int64_t cpu_ms;				   /* TotalCPU from slurmdbd; -1 unknown */
	int64_t max_rss_bytes;			   /* MaxRSS from slurmdbd; -1 unknown */
	int misses;				   /* full listings that did not show it */
} pw_slurm_job;

void pw_slurm_job_init(pw_slurm_job *j, int64_t job_id);

typedef struct {
	const pw_dag *dag;
	const pw_task *task;
	const char *run_id;
	int attempt;
	char *const *argv; /* NULL-terminated */
	char *const *envp; /* NULL-terminated NAME=value */
	const char *cwd;   /* absolute */
	const char *log;   /* absolute: stdout and stderr */
} pw_slurm_submit_req;

/*
 * Submit one job.  Returns 0 with *job_id, or -1 with a message and
 * *transient set when slurmrestd could not be reached or failed (5xx), as
 * opposed to refusing the job (a bad partition, an invalid request).
 */
int pw_slurm_submit(pw_slurm *s, const pw_slurm_submit_req *rq, int64_t *job_id, bool *transient,
		    char *err, size_t errsize);

/*
 * Refresh jobs[0..n) with one listing (GET .../jobs, conditional on
 * update_time while nothing changed).  *changed tells whether some job's
 * state moved.  A job missing from three full listings in a row is given
 * up as "VANISHED" (terminal).  Returns 0, or -1 with a message when
 * slurmrestd could not be asked (the jobs are left as they were).
 */
int pw_slurm_refresh(pw_slurm *s, pw_slurm_job *const *jobs, size_t n, bool *changed, char *err,
		     size_t errsize);

/* Cancel a job (scancel): sig 0 = Slurm's own sequence, else that signal.  Returns 0 or -1. */
int pw_slurm_cancel(pw_slurm *s, int64_t job_id, int sig, char *err, size_t errsize);

/*
 * Where accounting is on (slurmdbd behind slurmrestd's /slurmdb/ API):
 * TotalCPU and MaxRSS of a finished job into j->cpu_ms, j->max_rss_bytes.
 * After the first failure (no slurmdbd) it is not asked again.  Returns 0
 * when the figures were filled in.
 */
int pw_slurm_accounting(pw_slurm *s, pw_slurm_job *j);

/* A job of the cluster that pitwall submitted (the comment says so). */
typedef struct {
	pw_slurm_job job;
	char *task_id;
	int attempt;
} pw_slurm_found;

/* Every job of run (dag_id, run_id) slurmctld still knows.  Returns 0 or -1 with a message. */
int pw_slurm_find_run(pw_slurm *s, const char *dag_id, const char *run_id, pw_slurm_found **out,
		      size_t *n, char *err, size_t errsize);
void pw_slurm_found_free(pw_slurm_found *f, size_t n);

/*
 * pitwall resume: for each Slurm task of rv left unfinished, the job of its
 * current attempt if slurmctld still knows it (by the job id the audit
 * recorded, else by the job's comment: pitwall may have died between
 * submitting and recording), finished or not.  What happens to each task
 * is said on notes.  Returns 0 (*n may be 0), or -1 with a message when
 * slurmrestd cannot be asked: resubmitting then could run a task twice.
 */
int pw_slurm_adoptions(const pw_dag *dag, const pw_run_view *rv, pw_run_adopt **out, size_t *n,
		       FILE *notes, char *err, size_t errsize);

/*
 * The attempt a finished job amounts to.  *cls is the failure class, or
 * PW_CLASS_COUNT when the task's exit code decides it (a FAILED job that
 * exited non-zero).  why (may be NULL) says what happened for anything but
 * a plain exit ("" otherwise).
 */
pw_task_state pw_slurm_outcome(const pw_slurm_job *j, pw_failure_class *cls, char *why,
			       size_t whysize);

/*
 * The attempt's usage from the job: CPU time (slurmdbd's TotalCPU, else
 * allocated CPUs x elapsed, Slurm's CPUTime) and memory (MaxRSS, else the
 * allocation), for the cost module.
 */
void pw_slurm_attempt_usage(const pw_slurm_job *j, pw_attempt_result *a);

/* {"job_id":..,"state":..,"nodes":..,...} for task_start / task_end metadata. */
char *pw_slurm_job_json(const pw_slurm_job *j);

/* "'a b' 'it'\''s'": argv quoted for /bin/sh (malloc'd). */
char *pw_slurm_sh_quote(char *const *argv);

/* The job comment for an attempt (malloc'd); pw_slurm_parse_comment is its inverse. */
char *pw_slurm_comment(const char *dag_id, const char *run_id, const char *task_id, int attempt);
/* Returns true and the parts (malloc'd) when comment is one of ours. */
bool pw_slurm_parse_comment(const char *comment, char **dag_id, char **run_id, char **task_id,
			    int *attempt);

#endif
