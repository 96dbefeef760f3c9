/*
 * What a task attempt costs, and a DAG's budget (docs/resources.md).
 *
 *     cost = vcpu_second x CPU seconds
 *          + gib_second  x peak GiB x wall seconds
 *          + task_start
 *
 * CPU seconds are the whole tree's (the cgroup's counter where there is
 * one, else the leader's rusage, which includes the children it waited
 * for).  Memory is the attempt's peak held for its whole duration: an upper
 * bound, as cloud functions bill configured memory x duration, and one that
 * does not depend on how often a short task happened to be sampled.
 *
 * Amounts are kept as integer micro-units of the currency (1 = 0.000001),
 * so the audit's hash chain, whose canonical JSON must be byte-stable, never
 * carries a floating-point number: events record "cost_micros" integers and
 * "cost" decimal strings.
 */
#ifndef PITWALL_COST_H
#define PITWALL_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/audit.h"
#include "pitwall/dag.h"

#define PW_MICROS 1000000

/* An amount in currency units, rounded to micro-units. */
int64_t pw_amount_micros(double amount);
/* Negative inputs (unknown) count as 0. */
int64_t pw_cost_micros(const pw_prices *p, int64_t cpu_ns, int64_t mem_peak_bytes, int64_t wall_ms);
/* "12.345678" (always six decimals). */
void pw_micros_format(int64_t micros, char *buf, size_t size);
/* {"vcpu_second":"1.12e-05",...}: strings, for the same reason as above. */
void pw_prices_json(const pw_prices *p, pw_strbuf *sb);

/* $PITWALL_PRICES, else $PITWALL_HOME/.pitwall/prices.yaml, else .pitwall/prices.yaml. */
char *pw_prices_file_path(void);
/*
 * The run's price table: the DAG's, else the price file's.  Returns 0
 * (out->set false when there is none), or -1 with a message when the price
 * file is broken.  *source is "dag", the file's path (malloc'd), or NULL.
 */
int pw_prices_for_dag(const pw_dag *dag, pw_prices *out, char **source, char *err, size_t errsize);

/*
 * Months are UTC calendar months.  label "2026-02"; [start, end) as the
 * audit's timestamps ("2026-02-01T00:00:00.000Z").
 */
void pw_month_of(int64_t wall_ms, char label[8], char start[32], char end[32]);
/* "2026-02" -> start and end; returns 0, or -1 when malformed. */
int pw_month_parse(const char *label, char start[32], char end[32]);

/*
 * A DAG's spend in [start, end): the sum of its cost.task_compute events.
 * (Summing the attempts rather than the runs' cost.dag_run_total counts a
 * run whose pitwall died before recording its total; for every other run the
 * two agree.)
 */
int pw_cost_spend(pw_audit_store *s, const char *dag_id, const char *start, const char *end,
		  int64_t *out_micros, pw_strbuf *err);
/* pw_run_opts.month_spend for a store (payload): the spend of wall_ms's month. */
int pw_cost_month_spend_cb(void *store, const char *dag_id, int64_t wall_ms, int64_t *out_micros);

typedef enum {
	PW_BUDGET_OK = 0,
	PW_BUDGET_WARN,
	PW_BUDGET_THROTTLE,
	PW_BUDGET_STOP,
} pw_budget_level;

/* Where spent stands against b's monthly thresholds (OK without a monthly budget). */
pw_budget_level pw_budget_level_for(const pw_budget *b, int64_t spent_micros);
const char *pw_budget_level_name(pw_budget_level l);

#endif
