/*
 * The plan: which tasks may start, updated one step at a time as tasks
 * finish (ninja's ready queue).  It knows nothing of processes, so the
 * executor and the tests' fake runner drive it the same way.
 */
#ifndef PITWALL_PLAN_H
#define PITWALL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "pitwall/dag.h"

typedef enum {
	PW_TS_PENDING = 0, /* waiting for dependencies */
	PW_TS_READY,	   /* in the ready queue */
	PW_TS_RUNNING,
	PW_TS_RETRY_WAIT, /* between attempts */
	PW_TS_SUCCESS,
	PW_TS_FAILED,
	PW_TS_TIMEOUT,
	PW_TS_UPSTREAM_FAILED,
	PW_TS_SKIPPED,
	PW_TS_CANCELLED,
	PW_TS_OOM,
	PW_TS_COST_EXCEEDED,
	PW_TS_COUNT
} pw_task_state;

const char *pw_task_state_name(pw_task_state s);
bool pw_task_state_terminal(pw_task_state s);
/* Terminal and counts as a failure for trigger rules and the run's result. */
bool pw_task_state_failed(pw_task_state s);

typedef struct {
	const pw_dag *dag;
	pw_task_state *state;
	size_t *pending; /* dependencies not yet terminal */
	size_t *heap;	 /* ready tasks, min-heap on file order */
	size_t nheap;
	bool *queued;	 /* already on a settle work list */
	bool cancelling; /* the run is stopping: finishing a task decides nothing more */
	size_t nterminal;
} pw_plan;

/*
 * Called for every task the plan itself decides, without running it
 * (upstream_failed, skipped, cancelled), and with PW_TS_READY for every
 * task that becomes ready, in a deterministic order.
 */
typedef void (*pw_plan_decided_cb)(size_t task, pw_task_state state, void *payload);

void pw_plan_init(pw_plan *p, const pw_dag *dag);
void pw_plan_release(pw_plan *p);

/*
 * Before pw_plan_start: a task already has a final state (a re-run reuses
 * it, a resume found it recorded).  Nothing is reported for it.
 */
void pw_plan_preset(pw_plan *p, size_t task, pw_task_state state);
/* Roots become ready; tasks decided at once are reported through cb. */
void pw_plan_start(pw_plan *p, pw_plan_decided_cb cb, void *payload);
/* Pop the ready task first in file order; false when none is ready. */
bool pw_plan_next_ready(pw_plan *p, size_t *out);
/* Put a task (back) into the ready queue, e.g. when its retry delay is over. */
void pw_plan_push_ready(pw_plan *p, size_t task);
void pw_plan_set_running(pw_plan *p, size_t task);
void pw_plan_set_retry_wait(pw_plan *p, size_t task);
/*
 * A task reached a terminal state: its dependents are re-evaluated in
 * O(out-degree); the ones that become ready enter the queue and the ones
 * the trigger rules decide are reported through cb (and their dependents
 * in turn).
 */
void pw_plan_finish(pw_plan *p, size_t task, pw_task_state final, pw_plan_decided_cb cb,
		    void *payload);
/* Every task not yet terminal becomes cancelled (reported through cb). */
void pw_plan_cancel_rest(pw_plan *p, pw_plan_decided_cb cb, void *payload);
bool pw_plan_done(const pw_plan *p);

/*
 * Topological order of the whole DAG, ties broken by file order.  out must
 * hold dag->ntasks entries.  Returns 0, or -1 when the graph has a cycle
 * (validation rejects those first).
 */
int pw_plan_topo_order(const pw_dag *dag, size_t *out);

#endif
