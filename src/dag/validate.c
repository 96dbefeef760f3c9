/*
 * The graph pass: dependency names -> task indexes, unknown and self
 * dependencies, cycles, and (for a valid DAG) dependents and levels.
 *
 * Every walk here is iterative with explicit stacks and queues: a DAG may
 * be a 100,000-task chain, far deeper than a thread's stack allows
 * recursion to go.  Cycles are found as strongly connected components
 * (Tarjan), one report per component, naming its shortest cycle through
 * the component's first task in file order, so the output is the same on
 * every run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag_internal.h"

/*
 * A "did you mean" scans every id with an edit distance (len x len cells
 * each); past this many cells in total, unknown names get no suggestion,
 * so a file with thousands of bad names in 100,000 tasks stays fast.
 */
#define SUGGEST_BUDGET 50000000u

static void resolve_deps(pw_dag *dag, const char *path, pw_diags *diags)
{
	const char **ids = NULL;
	uint64_t budget = SUGGEST_BUDGET;
	for (size_t i = 0; i < dag->ntasks; i++) {
		pw_task *t = &dag->tasks[i];
		for (size_t j = 0; j < t->ndeps; j++) {
			pw_dep *d = &t->deps[j];
			size_t idx;
			if (pw_strmap_get(&dag->ids, d->name, &idx)) {
				if (idx == i) {
					pw_diags_add(diags, PW_DIAG_ERROR, path, d->loc.line,
						     d->loc.col, "remove it from the list",
						     "task '%s' depends on itself", t->task_id);
					continue;
				}
				d->task = idx;
				continue;
			}
			const char *dym = NULL;
			uint64_t len = strlen(d->name) + 1;
			uint64_t cost = (uint64_t)dag->ntasks * (len > 65 ? 65 : len) * len;
			if (cost <= budget) {
				budget -= cost;
				if (!ids) {
					ids = pw_xmalloc((dag->ntasks ? dag->ntasks : 1) *
							 sizeof(*ids));
					for (size_t k = 0; k < dag->ntasks; k++)
						ids[k] = dag->tasks[k].task_id;
				}
				dym = pw_did_you_mean(d->name, ids, dag->ntasks);
			}
			const char *hint =
			    "dependencies name other tasks' task_id in the same file";
			if (dym)
				pw_diags_add(diags, PW_DIAG_ERROR, path, d->loc.line, d->loc.col,
					     hint,
					     "task '%s' depends on unknown task '%s' (did you mean "
					     "'%s'?)",
					     t->task_id, d->name, dym);
			else
				pw_diags_add(diags, PW_DIAG_ERROR, path, d->loc.line, d->loc.col,
					     hint, "task '%s' depends on unknown task '%s'",
					     t->task_id, d->name);
		}
	}
	free(ids);
}

/* Shown names of a long cycle: the first ones and the last ones. */
#define CYCLE_HEAD 8
#define CYCLE_TAIL 4

/*
 * Report the shortest cycle from s back to s inside component comp
 * (breadth-first over the dependency edges).  dist/prev are scratch
 * arrays, SIZE_MAX for members not reached yet; reset before returning.
 */
static void report_cycle(pw_dag *dag, const char *path, pw_diags *diags, size_t s,
			 const size_t *comp, size_t *prev, size_t *queue, const size_t *members,
			 size_t nmembers)
{
	size_t head = 0, tail = 0, last = SIZE_MAX;
	queue[tail++] = s;
	prev[s] = s;
	while (head < tail && last == SIZE_MAX) {
		size_t u = queue[head++];
		const pw_task *t = &dag->tasks[u];
		for (size_t j = 0; j < t->ndeps; j++) {
			size_t w = t->deps[j].task;
			if (w == SIZE_MAX || comp[w] != comp[s])
				continue;
			if (w == s) {
				last = u;
				break;
			}
			if (prev[w] == SIZE_MAX) {
				prev[w] = u;
				queue[tail++] = w;
			}
		}
	}
	/* Walk back from last to s: that is the cycle reversed. */
	size_t len = 0;
	for (size_t v = last; v != s; v = prev[v])
		queue[len++] = v;
	queue[len++] = s;
	/* queue[len-1] = s, queue[len-2] = what s depends on, ... queue[0] = last. */
	pw_strbuf sb = PW_STRBUF_INIT;
	for (size_t k = 0; k < len; k++) {
		size_t v = queue[len - 1 - k];
		if (len > CYCLE_HEAD + CYCLE_TAIL && k == CYCLE_HEAD)
			pw_strbuf_addf(&sb, "... (%zu more) -> ", len - CYCLE_HEAD - CYCLE_TAIL);
		if (len > CYCLE_HEAD + CYCLE_TAIL && k >= CYCLE_HEAD && k < len - CYCLE_TAIL)
			continue;
		pw_strbuf_addf(&sb, "%s -> ", dag->tasks[v].task_id);
	}
	pw_strbuf_adds(&sb, dag->tasks[s].task_id);

	/* Point at s's dependency on the next task of the cycle. */
	size_t next = len > 1 ? queue[len - 2] : s;
	pw_loc loc = dag->tasks[s].id_loc;
	for (size_t j = 0; j < dag->tasks[s].ndeps; j++) {
		if (dag->tasks[s].deps[j].task == next) {
			loc = dag->tasks[s].deps[j].loc;
			break;
		}
	}
	pw_diags_add(diags, PW_DIAG_ERROR, path, loc.line, loc.col,
		     "each task depends on the next; remove one of these dependencies",
		     "dependency cycle: %s", sb.buf);
	pw_strbuf_release(&sb);
	for (size_t k = 0; k < nmembers; k++)
		prev[members[k]] = SIZE_MAX;
}

/* Tarjan's strongly connected components, iteratively. */
static void find_cycles(pw_dag *dag, const char *path, pw_diags *diags)
{
	size_t n = dag->ntasks;
	if (!n)
		return;
	size_t *index = pw_xmalloc(n * sizeof(size_t));
	size_t *low = pw_xmalloc(n * sizeof(size_t));
	size_t *comp = pw_xmalloc(n * sizeof(size_t));
	size_t *stack = pw_xmalloc(n * sizeof(size_t));
	bool *on = pw_xcalloc(n, sizeof(bool));
	struct call {
		size_t v, edge;
	} *calls = pw_xmalloc(n * sizeof(*calls));
	size_t *prev = pw_xmalloc(n * sizeof(size_t));
	size_t *queue = pw_xmalloc(n * sizeof(size_t));
	size_t *members = pw_xmalloc(n * sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		index[i] = SIZE_MAX;
		comp[i] = SIZE_MAX;
		prev[i] = SIZE_MAX;
	}
	size_t counter = 0, sp = 0, ncomp = 0;

	for (size_t root = 0; root < n; root++) {
		if (index[root] != SIZE_MAX)
			continue;
		size_t depth = 0;
		calls[depth++] = (struct call){root, 0};
		index[root] = low[root] = counter++;
		stack[sp++] = root;
		on[root] = true;
		while (depth) {
			struct call *cl = &calls[depth - 1];
			size_t v = cl->v;
			const pw_task *t = &dag->tasks[v];
			bool descended = false;
			while (cl->edge < t->ndeps) {
				size_t w = t->deps[cl->edge++].task;
				if (w == SIZE_MAX)
					continue;
				if (index[w] == SIZE_MAX) {
					index[w] = low[w] = counter++;
					stack[sp++] = w;
					on[w] = true;
					calls[depth++] = (struct call){w, 0};
					descended = true;
					break;
				}
				if (on[w] && index[w] < low[v])
					low[v] = index[w];
			}
			if (descended)
				continue;
			if (low[v] == index[v]) {
				size_t nm = 0, first = SIZE_MAX;
				size_t w;
				do {
					w = stack[--sp];
					on[w] = false;
					comp[w] = ncomp;
					members[nm++] = w;
					if (w < first)
						first = w;
				} while (w != v);
				if (nm > 1)
					report_cycle(dag, path, diags, first, comp, prev, queue,
						     members, nm);
				ncomp++;
			}
			depth--;
			if (depth) {
				size_t p = calls[depth - 1].v;
				if (low[v] < low[p])
					low[p] = low[v];
			}
		}
	}
	free(index);
	free(low);
	free(comp);
	free(stack);
	free(on);
	free(calls);
	free(prev);
	free(queue);
	free(members);
}

/* dependents (file order) and levels (longest path from a root), by Kahn's algorithm. */
static void fill_graph(pw_dag *dag)
{
	size_t n = dag->ntasks;
	if (!n)
		return;
	size_t *cnt = pw_xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < dag->tasks[i].ndeps; j++)
			cnt[dag->tasks[i].deps[j].task]++;
	for (size_t i = 0; i < n; i++) {
		dag->tasks[i].dependents =
		    pw_arena_alloc(&dag->arena, (cnt[i] ? cnt[i] : 1) * sizeof(size_t));
		dag->tasks[i].ndependents = 0;
		dag->tasks[i].level = 0;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < dag->tasks[i].ndeps; j++) {
			pw_task *d = &dag->tasks[dag->tasks[i].deps[j].task];
			d->dependents[d->ndependents++] = i;
		}
	}
	size_t *queue = pw_xmalloc(n * sizeof(size_t));
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++) {
		cnt[i] = dag->tasks[i].ndeps;
		if (!cnt[i])
			queue[tail++] = i;
	}
	while (head < tail) {
		const pw_task *u = &dag->tasks[queue[head++]];
		for (size_t j = 0; j < u->ndependents; j++) {
			pw_task *w = &dag->tasks[u->dependents[j]];
			if (u->level + 1 > w->level)
				w->level = u->level + 1;
			if (--cnt[u->dependents[j]] == 0)
				queue[tail++] = u->dependents[j];
		}
	}
	free(queue);
	free(cnt);
}

void pw_dag_check_graph(pw_dag *dag, const char *path, pw_diags *diags, bool had_errors)
{
	size_t before = diags->nerrors;
	resolve_deps(dag, path, diags);
	find_cycles(dag, path, diags);
	if (!had_errors && diags->nerrors == before)
		fill_graph(dag);
}
