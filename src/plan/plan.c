#include "pitwall/plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[PW_TS_COUNT] = {
    [PW_TS_PENDING] = "pending", [PW_TS_READY] = "queued",
    [PW_TS_RUNNING] = "running", [PW_TS_RETRY_WAIT] = "retry_wait",
    [PW_TS_SUCCESS] = "success", [PW_TS_FAILED] = "failed",
    [PW_TS_TIMEOUT] = "timeout", [PW_TS_UPSTREAM_FAILED] = "upstream_failed",
    [PW_TS_SKIPPED] = "skipped", [PW_TS_CANCELLED] = "cancelled",
    [PW_TS_OOM] = "oom",	 [PW_TS_COST_EXCEEDED] = "cost_exceeded",
};

const char *pw_task_state_name(pw_task_state s)
{
	return (unsigned)s < PW_TS_COUNT ? state_names[s] : "unknown";
}

bool pw_task_state_terminal(pw_task_state s)
{
	return s >= PW_TS_SUCCESS;
}

bool pw_task_state_failed(pw_task_state s)
{
	switch (s) {
	case PW_TS_FAILED:
	case PW_TS_TIMEOUT:
	case PW_TS_UPSTREAM_FAILED:
	case PW_TS_CANCELLED:
	case PW_TS_OOM:
	case PW_TS_COST_EXCEEDED: return true;
	default: return false;
	}
}

/* ---- min-heap of task indexes ---- */

static void heap_push(size_t *h, size_t *n, size_t v)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h[parent] <= v)
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0];
	size_t last = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (last <= h[c])
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

void pw_plan_init(pw_plan *p, const pw_dag *dag)
{
	memset(p, 0, sizeof(*p));
	p->dag = dag;
	p->state = pw_xcalloc(dag->ntasks, sizeof(*p->state));
	p->pending = pw_xcalloc(dag->ntasks, sizeof(*p->pending));
	p->heap = pw_xcalloc(dag->ntasks, sizeof(*p->heap));
	p->queued = pw_xcalloc(dag->ntasks, sizeof(*p->queued));
	for (size_t i = 0; i < dag->ntasks; i++)
		p->pending[i] = dag->tasks[i].ndeps;
}

void pw_plan_release(pw_plan *p)
{
	free(p->state);
	free(p->pending);
	free(p->heap);
	free(p->queued);
	memset(p, 0, sizeof(*p));
}

enum verdict { V_WAIT, V_READY, V_UPSTREAM_FAILED, V_SKIPPED };

/*
 * Decide a pending task from what its dependencies did so far.  Rules that
 * can be decided early (one_success as soon as one succeeds, all_success as
 * soon as one fails) are, as Airflow does, so a failure is reported at once.
 * Optional dependencies are waited for, but their outcome does not count.
 */
static enum verdict evaluate(const pw_plan *p, const pw_task *t)
{
	size_t done = 0, success = 0, failed = 0, skipped = 0, required = 0;
	for (size_t i = 0; i < t->ndeps; i++) {
		pw_task_state s = p->state[t->deps[i].task];
		bool term = pw_task_state_terminal(s);
		done += term;
		if (t->deps[i].optional)
			continue;
		required++;
		if (s == PW_TS_SUCCESS)
			success++;
		else if (s == PW_TS_SKIPPED)
			skipped++;
		else if (term && pw_task_state_failed(s))
			failed++;
	}
	bool all_done = done == t->ndeps;

	switch (t->trigger_rule) {
	case PW_TRIGGER_ALL_SUCCESS:
		if (failed)
			return V_UPSTREAM_FAILED;
		if (!all_done)
			return V_WAIT;
		return skipped ? V_SKIPPED : V_READY;
	case PW_TRIGGER_ALL_DONE: return all_done ? V_READY : V_WAIT;
	case PW_TRIGGER_ONE_SUCCESS:
		if (success || required == 0)
			return all_done || success ? V_READY : V_WAIT;
		if (!all_done)
			return V_WAIT;
		return failed ? V_UPSTREAM_FAILED : V_SKIPPED;
	case PW_TRIGGER_NONE_FAILED:
		if (failed)
			return V_UPSTREAM_FAILED;
		return all_done ? V_READY : V_WAIT;
	case PW_TRIGGER_ALL_FAILED:
		if (success || skipped)
			return V_SKIPPED;
		return all_done ? V_READY : V_WAIT;
	}
	return V_WAIT;
}

/*
 * Settle a task and everything the trigger rules then decide, with an
 * explicit work list: a 100,000-task chain of upstream_failed must not
 * recurse 100,000 deep.
 */
static void settle(pw_plan *p, size_t task, pw_task_state final, pw_plan_decided_cb cb,
		   void *payload, bool report_first)
{
	size_t *work = NULL, nwork = 0, cap = 0;
	pw_task_state *wstate = NULL;
	size_t scap = 0;

	PW_GROW(work, cap, 1);
	PW_GROW(wstate, scap, 1);
	work[nwork] = task;
	wstate[nwork] = final;
	nwork++;
	bool first = true;

	/* FIFO in discovery order keeps the reporting order deterministic. */
	for (size_t head = 0; head < nwork; head++) {
		size_t t = work[head];
		pw_task_state st = wstate[head];
		if (pw_task_state_terminal(p->state[t]))
			continue;
		p->state[t] = st;
		p->nterminal++;
		if (cb && (!first || report_first))
			cb(t, st, payload);
		first = false;

		const pw_task *task_p = &p->dag->tasks[t];
		if (p->cancelling)
			continue;
		for (size_t i = 0; i < task_p->ndependents; i++) {
			size_t d = task_p->dependents[i];
			if (p->pending[d] > 0)
				p->pending[d]--;
			if (p->state[d] != PW_TS_PENDING)
				continue;
			enum verdict v = evaluate(p, &p->dag->tasks[d]);
			switch (v) {
			case V_WAIT: break;
			case V_READY:
				p->state[d] = PW_TS_READY;
				heap_push(p->heap, &p->nheap, d);
				if (cb)
					cb(d, PW_TS_READY, payload);
				break;
			case V_UPSTREAM_FAILED:
			case V_SKIPPED:
				if (p->queued[d])
					break;
				p->queued[d] = true;
				PW_GROW(work, cap, nwork + 1);
				PW_GROW(wstate, scap, nwork + 1);
				work[nwork] = d;
				wstate[nwork] =
				    v == V_SKIPPED ? PW_TS_SKIPPED : PW_TS_UPSTREAM_FAILED;
				nwork++;
				break;
			}
		}
	}
	free(work);
	free(wstate);
}

void pw_plan_preset(pw_plan *p, size_t task, pw_task_state state)
{
	if (pw_task_state_terminal(p->state[task]) || !pw_task_state_terminal(state))
		return;
	p->state[task] = state;
	p->nterminal++;
	const pw_task *t = &p->dag->tasks[task];
	for (size_t i = 0; i < t->ndependents; i++)
		if (p->pending[t->dependents[i]] > 0)
			p->pending[t->dependents[i]]--;
}

void pw_plan_start(pw_plan *p, pw_plan_decided_cb cb, void *payload)
{
	/*
	 * Normally only the roots are ready.  After pw_plan_preset (a re-run
	 * or a resume), any task may be decidable: evaluate each one in file
	 * order; decisions cascade to dependents through settle().
	 */
	for (size_t i = 0; i < p->dag->ntasks; i++) {
		if (p->state[i] != PW_TS_PENDING)
			continue;
		if (p->dag->tasks[i].ndeps == 0) {
			p->state[i] = PW_TS_READY;
			heap_push(p->heap, &p->nheap, i);
			if (cb)
				cb(i, PW_TS_READY, payload);
			continue;
		}
		switch (evaluate(p, &p->dag->tasks[i])) {
		case V_WAIT: break;
		case V_READY:
			p->state[i] = PW_TS_READY;
			heap_push(p->heap, &p->nheap, i);
			if (cb)
				cb(i, PW_TS_READY, payload);
			break;
		case V_UPSTREAM_FAILED:
			settle(p, i, PW_TS_UPSTREAM_FAILED, cb, payload, true);
			break;
		case V_SKIPPED: settle(p, i, PW_TS_SKIPPED, cb, payload, true); break;
		}
	}
}

bool pw_plan_next_ready(pw_plan *p, size_t *out)
{
	if (!p->nheap)
		return false;
	*out = heap_pop(p->heap, &p->nheap);
	return true;
}

void pw_plan_push_ready(pw_plan *p, size_t task)
{
	p->state[task] = PW_TS_READY;
	heap_push(p->heap, &p->nheap, task);
}

void pw_plan_set_running(pw_plan *p, size_t task)
{
	p->state[task] = PW_TS_RUNNING;
}

void pw_plan_set_retry_wait(pw_plan *p, size_t task)
{
	p->state[task] = PW_TS_RETRY_WAIT;
}

void pw_plan_finish(pw_plan *p, size_t task, pw_task_state final, pw_plan_decided_cb cb,
		    void *payload)
{
	settle(p, task, final, cb, payload, false);
}

void pw_plan_cancel_rest(pw_plan *p, pw_plan_decided_cb cb, void *payload)
{
	p->nheap = 0;
	for (size_t i = 0; i < p->dag->ntasks; i++) {
		if (pw_task_state_terminal(p->state[i]))
			continue;
		p->state[i] = PW_TS_CANCELLED;
		p->nterminal++;
		if (cb)
			cb(i, PW_TS_CANCELLED, payload);
	}
}

bool pw_plan_done(const pw_plan *p)
{
	return p->nterminal == p->dag->ntasks;
}

int pw_plan_topo_order(const pw_dag *dag, size_t *out)
{
	size_t n = dag->ntasks, nheap = 0, nout = 0;
	size_t *indeg = pw_xcalloc(n, sizeof(*indeg));
	size_t *heap = pw_xcalloc(n, sizeof(*heap));
	for (size_t i = 0; i < n; i++) {
		indeg[i] = dag->tasks[i].ndeps;
		if (!indeg[i])
			heap_push(heap, &nheap, i);
	}
	while (nheap) {
		size_t t = heap_pop(heap, &nheap);
		out[nout++] = t;
		for (size_t i = 0; i < dag->tasks[t].ndependents; i++) {
			size_t d = dag->tasks[t].dependents[i];
			if (--indeg[d] == 0)
				heap_push(heap, &nheap, d);
		}
	}
	free(indeg);
	free(heap);
	return nout == n ? 0 : -1;
}
