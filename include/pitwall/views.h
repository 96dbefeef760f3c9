/*
 * Read models: a run's state, the run history and lineage, each a fold
 * over the audit events, so every read command agrees with the record.
 */
#ifndef PITWALL_VIEWS_H
#define PITWALL_VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include "pitwall/audit.h"
#include "pitwall/dag.h"

typedef struct {
	char *task_id;
	char *state; /* pending, queued, running, retry_wait, success, failed, ... */
	int attempts;
	int64_t duration_ms; /* sum over ended attempts */
	int exit_code;	     /* of the last ended attempt; -1 = none */
	int signal;
	char *error;
	char *log;	  /* relative to the workspace, of the last attempt */
	char *log_sha256; /* recorded when that attempt ended */
	int pid;	  /* of the running attempt */
	unsigned long long pid_start;
	int64_t slurm_job; /* the running attempt's Slurm job (executor: slurm); 0 = none */
	int64_t last_seq;
} pw_task_view;

typedef struct {
	char *dag_id;
	char *run_id;
	char *status; /* running, success, failed, cancelled, interrupted */
	char *started;
	char *ended;
	char *actor;
	char *git_sha;
	char *logical_date;
	char *workspace;
	char *dag_file;
	char *dag_text;
	char *dag_sha256;
	int64_t duration_ms;
	uint64_t seed;
	int pid;
	unsigned long long pid_start;
	int64_t events;
	int executions;	     /* dag_run_start events: 1 + re-runs and resumes */
	pw_task_view *tasks; /* in the DAG's file order when the recorded text parses */
	size_t ntasks;
} pw_run_view;

/* Fold one event into a view (the rows of one run, in seq order). */
void pw_run_view_fold(pw_run_view *v, const pw_audit_row *r);
/* Seed the task list in the recorded DAG's file order (after folding dag_run_start). */
void pw_run_view_seed_tasks(pw_run_view *v);

/*
 * Load the DAG exactly as the run recorded it (its text, under its original
 * path so {{ dag_dir }} resolves the same).  Diagnostics go to stderr.
 */
pw_dag *pw_run_view_recorded_dag(const pw_run_view *v);

/* Returns 0, 1 when the run is not in the store, -1 on error. */
int pw_run_view_load(pw_audit_store *s, const char *run_id, pw_run_view *out, pw_strbuf *err);
void pw_run_view_release(pw_run_view *v);
pw_task_view *pw_run_view_task(pw_run_view *v, const char *task_id);
/* Whether the process that recorded this run is gone (pid + start time). */
bool pw_run_view_orphaned(const pw_run_view *v);

/* Recent runs, newest first (status folded from start/end events). */
typedef struct {
	pw_run_view *v;
	size_t n, cap;
} pw_run_list;

int pw_run_list_load(pw_audit_store *s, const char *dag_id, int64_t limit, pw_run_list *out,
		     pw_strbuf *err);
void pw_run_list_release(pw_run_list *l);

#endif
