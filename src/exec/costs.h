/*
 * The executor's side of resource limits, prices and budgets: which tasks
 * need cgroups or sampling, the run's price table and month, and the
 * metadata of cost and budget events.  Kept out of executor.c so the loop
 * stays a loop; tasks without limits or prices never get here.
 */
#ifndef PW_EXEC_COSTS_H
#define PW_EXEC_COSTS_H

#include "pitwall/cost.h"
#include "pitwall/limits.h"
#include "pitwall/run.h"

/* A task with a cost limit (or a run budget) is sampled this often. */
#define PW_COST_SAMPLE_MS 500

typedef struct {
	pw_prices prices;    /* the run's; .set false = none */
	char *prices_source; /* "dag", a price file's path, or NULL */
	bool any_prices;     /* the run's, or some task's own */
	int64_t run_max;     /* budget.max_cost_per_run in micro-units; 0 = none */
	int64_t total;	     /* this execution's finished attempts */
	int64_t cpu_ms;
	size_t nattempts;
	int64_t month_spent; /* micro-units; -1 = not known / not checked */
	pw_budget_level level;
	char month[8];
} pw_exec_costs;

/* Warnings (a broken price file, limits without prices) go to warn, one per line. */
void pw_exec_costs_init(pw_exec_costs *k, const pw_dag *dag, const pw_run_opts *o, pw_strbuf *warn);
void pw_exec_costs_release(pw_exec_costs *k);

/* The task's prices (its own, else the run's), or NULL when it is not priced. */
const pw_prices *pw_exec_task_prices(const pw_exec_costs *k, const pw_task *t);
/* Sampled while it runs: it has a cost limit, or the run has one. */
bool pw_exec_task_sampled(const pw_exec_costs *k, const pw_task *t);
/* Gets cgroups (or rlimits): a resource limit, or prices (to be measured). */
bool pw_exec_task_limited(const pw_exec_costs *k, const pw_task *t);
/* The attempt's request to the limits module. */
void pw_exec_limits_request(const pw_task *t, const char *run_id, int attempt,
			    pw_limits_request *out);

/* Fill a's cpu_ms / memory_peak_bytes from the cgroup usage u (NULL: rusage only). */
void pw_exec_attempt_usage(pw_attempt_result *a, const pw_limits_usage *u);
/* cost.task_compute metadata (a is priced). */
char *pw_exec_cost_metadata(const pw_attempt_result *a, const pw_prices *p,
			    const char *prices_source);
/* cost.dag_run_total metadata. */
char *pw_exec_run_cost_metadata(const pw_exec_costs *k, const char *status);
/* budget.* metadata: the month's figures and whatever extra (",\"k\":v" text) says. */
char *pw_exec_budget_metadata(const pw_exec_costs *k, const pw_budget *b, const char *extra);

#endif
