/*
 * The planner driven by a fake runner (ninja's FakeCommandRunner idea): no
 * processes, just outcomes fed back into the plan, so trigger rules,
 * failure isolation and the concurrency limit are checked exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "pitwall/dag.h"
#include "pitwall/plan.h"
#include "pw_test.h"

typedef struct {
	const char *task_id;
	pw_task_state outcome;
} outcome;

typedef struct {
	const pw_dag *dag;
	const outcome *outcomes;
	size_t noutcomes;
	char order[4096]; /* start order, space separated */
	int max_running;
} fake_run;

static pw_task_state outcome_of(fake_run *f, const char *id)
{
	for (size_t i = 0; i < f->noutcomes; i++)
		if (strcmp(f->outcomes[i].task_id, id) == 0)
			return f->outcomes[i].outcome;
	return PW_TS_SUCCESS;
}

/* Run with at most j at once; running tasks finish oldest first. */
static void fake_execute(fake_run *f, pw_plan *p, int j)
{
	size_t running[64], nrun = 0, t;
	pw_plan_start(p, NULL, NULL);
	for (;;) {
		while ((int)nrun < j && pw_plan_next_ready(p, &t)) {
			pw_plan_set_running(p, t);
			running[nrun++] = t;
			strcat(f->order, f->dag->tasks[t].task_id);
			strcat(f->order, " ");
			if ((int)nrun > f->max_running)
				f->max_running = (int)nrun;
		}
		if (!nrun)
			break;
		size_t done = running[0];
		memmove(running, running + 1, (--nrun) * sizeof(*running));
		pw_plan_finish(p, done, outcome_of(f, f->dag->tasks[done].task_id), NULL, NULL);
	}
}

static pw_dag *load(const char *yaml)
{
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	if (pw_dag_load_buffer(&dag, "test.yaml", yaml, strlen(yaml), &d) != 0) {
		pw_diags_print(&d, stdout);
		dag = NULL;
	}
	pw_diags_release(&d);
	return dag;
}

static const char *state_of(const pw_plan *p, const char *id)
{
	const pw_task *t = pw_dag_find(p->dag, id);
	return t ? pw_task_state_name(p->state[t->index]) : "(no such task)";
}

static void run_case(const char *name, const char *yaml, const outcome *oc, size_t noc, int j,
		     const char *const *expect /* id, state, id, state, ..., NULL */,
		     const char *want_order)
{
	pw_dag *dag = load(yaml);
	PW_CHECK(dag != NULL, "%s: DAG loads", name);
	if (!dag)
		return;
	pw_plan p;
	pw_plan_init(&p, dag);
	fake_run f = {.dag = dag, .outcomes = oc, .noutcomes = noc};
	fake_execute(&f, &p, j);
	PW_CHECK(pw_plan_done(&p), "%s: every task reached a final state", name);
	for (size_t i = 0; expect[i]; i += 2)
		PW_CHECK_STR(state_of(&p, expect[i]), expect[i + 1], "%s: %s is %s", name,
			     expect[i], expect[i + 1]);
	if (want_order)
		PW_CHECK_STR(f.order, want_order, "%s: start order", name);
	PW_CHECK(f.max_running <= j, "%s: never more than %d running (saw %d)", name, j,
		 f.max_running);
	pw_plan_release(&p);
	pw_dag_free(dag);
}

#define T(id, deps) "  - task_id: " id "\n    command: [\"true\"]\n    dependencies: " deps "\n"
#define TR(id, deps, rule)                                                                         \
	"  - task_id: " id "\n    command: [\"true\"]\n    dependencies: " deps                    \
	"\n    trigger_rule: " rule "\n"

int main(void)
{
	/* File order breaks ties: b before c although both are ready together. */
	{
		const char *y =
		    "dag_id: d\ntasks:\n" T("a", "[]") T("c", "[a]") T("b", "[a]") T("d", "[b, c]");
		const char *e[] = {"d", "success", NULL};
		run_case("diamond", y, NULL, 0, 1, e, "a c b d ");
	}
	/* Failure isolation: a's failure stops b and c, not the independent x. */
	{
		const char *y = "dag_id: d\ntasks:\n" T("a", "[]") T("b", "[a]") T("c", "[b]")
		    T("x", "[]") T("y", "[x]");
		outcome oc[] = {{"a", PW_TS_FAILED}};
		const char *e[] = {"a", "failed",  "b", "upstream_failed", "c", "upstream_failed",
				   "x", "success", "y", "success",	   NULL};
		run_case("isolation", y, oc, 1, 2, e, NULL);
	}
	/* Optional dependency: its failure does not block. */
	{
		const char *y = "dag_id: d\ntasks:\n" T("a", "[]") T(
		    "opt", "[]") "  - task_id: b\n    command: [\"true\"]\n    dependencies: [a]\n"
				 "    optional_dependencies: [opt]\n";
		outcome oc[] = {{"opt", PW_TS_FAILED}};
		const char *e[] = {"opt", "failed", "b", "success", NULL};
		run_case("optional", y, oc, 1, 2, e, NULL);
	}
	/* Trigger rules, where they run and where they do not. */
	{
		const char *y = "dag_id: d\ntasks:\n" T("ok", "[]") T("bad", "[]")
		    TR("all_done", "[ok, bad]", "all_done")
			TR("one_success", "[ok, bad]", "one_success")
			    TR("none_failed", "[ok, bad]", "none_failed")
				TR("all_failed", "[ok, bad]", "all_failed")
				    TR("all_failed2", "[bad]", "all_failed")
					TR("all_success", "[ok, bad]", "all_success");
		outcome oc[] = {{"bad", PW_TS_FAILED}};
		const char *e[] = {"all_done",	 "success",	"one_success",
				   "success",	 "none_failed", "upstream_failed",
				   "all_failed", "skipped",	"all_failed2",
				   "success",	 "all_success", "upstream_failed",
				   NULL};
		run_case("trigger rules", y, oc, 1, 3, e, NULL);
	}
	{
		const char *y = "dag_id: d\ntasks:\n" T("b1", "[]") T("b2", "[]")
		    TR("one", "[b1, b2]", "one_success") TR("nf", "[b1]", "none_failed")
			TR("downstream_of_skip", "[skipper]", "all_success")
			    TR("skipper", "[b1]", "all_failed");
		outcome oc[] = {{"b1", PW_TS_SUCCESS}, {"b2", PW_TS_TIMEOUT}};
		const char *e2[] = {"one",
				    "success",
				    "nf",
				    "success",
				    "skipper",
				    "skipped",
				    "downstream_of_skip",
				    "skipped",
				    NULL};
		run_case("one_success and skip propagation", y, oc, 2, 2, e2, NULL);
	}
	/* The concurrency limit holds for a wide fan-out. */
	{
		pw_strbuf sb = PW_STRBUF_INIT;
		pw_strbuf_adds(
		    &sb, "dag_id: wide\ntasks:\n  - task_id: root\n    command: [\"true\"]\n");
		for (int i = 0; i < 40; i++)
			pw_strbuf_addf(&sb,
				       "  - task_id: w%02d\n    command: [\"true\"]\n    "
				       "dependencies: [root]\n",
				       i);
		const char *e[] = {"w39", "success", NULL};
		run_case("-j 3 fan-out", sb.buf, NULL, 0, 3, e, NULL);
		pw_strbuf_release(&sb);
	}
	/* A 100,000-task chain failing at its root settles without deep recursion. */
	{
		pw_strbuf sb = PW_STRBUF_INIT;
		pw_strbuf_adds(&sb,
			       "dag_id: chain\ntasks:\n  - {task_id: t0, command: [\"true\"]}\n");
		for (int i = 1; i < 100000; i++)
			pw_strbuf_addf(
			    &sb, "  - {task_id: t%d, command: [\"true\"], dependencies: [t%d]}\n",
			    i, i - 1);
		outcome oc[] = {{"t0", PW_TS_FAILED}};
		const char *e[] = {"t0",     "failed",		"t1", "upstream_failed",
				   "t99999", "upstream_failed", NULL};
		run_case("100k chain", sb.buf, oc, 1, 2, e, "t0 ");
		pw_strbuf_release(&sb);
	}
	PW_TEST_DONE();
}
