/*
 * pitwall cost [DAG_ID] [--month YYYY-MM] [--json]: the month's spend by
 * DAG, run and task, folded from the audit table's cost events.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/cost.h"

typedef struct {
	char *task_id;
	int attempts;
	int64_t cost, cpu_ms;
} task_sum;

typedef struct {
	char *run_id;
	char *first_ts;
	int64_t cost;
	int64_t recorded; /* the run's cost.dag_run_total (summed over executions) */
	int nrecorded;
	task_sum *tasks;
	size_t ntasks, cap;
} run_sum;

typedef struct {
	char *dag_id;
	int64_t cost;
	run_sum *runs;
	size_t nruns, cap;
	/* The budget of the DAG as last recorded in the month, if it has one. */
	pw_budget budget;
} dag_sum;

typedef struct {
	const char *end;
	dag_sum *dags;
	size_t ndags, cap;
} report;

static dag_sum *dag_of(report *r, const char *id)
{
	for (size_t i = 0; i < r->ndags; i++)
		if (!strcmp(r->dags[i].dag_id, id))
			return &r->dags[i];
	PW_GROW(r->dags, r->cap, r->ndags + 1);
	dag_sum *d = &r->dags[r->ndags++];
	memset(d, 0, sizeof(*d));
	d->dag_id = pw_xstrdup(id);
	return d;
}

static run_sum *run_of(dag_sum *d, const char *id, const char *ts)
{
	for (size_t i = 0; i < d->nruns; i++)
		if (!strcmp(d->runs[i].run_id, id))
			return &d->runs[i];
	PW_GROW(d->runs, d->cap, d->nruns + 1);
	run_sum *r = &d->runs[d->nruns++];
	memset(r, 0, sizeof(*r));
	r->run_id = pw_xstrdup(id);
	r->first_ts = pw_xstrdup(ts);
	return r;
}

static task_sum *task_of(run_sum *r, const char *id)
{
	for (size_t i = 0; i < r->ntasks; i++)
		if (!strcmp(r->tasks[i].task_id, id))
			return &r->tasks[i];
	PW_GROW(r->tasks, r->cap, r->ntasks + 1);
	task_sum *t = &r->tasks[r->ntasks++];
	memset(t, 0, sizeof(*t));
	t->task_id = pw_xstrdup(id);
	return t;
}

static int64_t md_int(json_t *m, const char *key)
{
	json_t *v = json_object_get(m, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int add_row(const pw_audit_row *row, void *payload)
{
	report *r = payload;
	if (strcmp(row->timestamp, r->end) >= 0 || !row->dag_run_id)
		return 0;
	json_error_t e;
	json_t *m = json_loads(row->metadata ? row->metadata : "{}", 0, &e);
	if (!m)
		return 0;
	dag_sum *d = dag_of(r, row->dag_id);
	run_sum *run = run_of(d, row->dag_run_id, row->timestamp);
	if (!strcmp(row->event_type, "cost.task_compute") && row->task_id) {
		int64_t c = md_int(m, "cost_micros");
		task_sum *t = task_of(run, row->task_id);
		t->attempts++;
		t->cost += c;
		t->cpu_ms += md_int(m, "cpu_ms");
		run->cost += c;
		d->cost += c;
	} else if (!strcmp(row->event_type, "cost.dag_run_total")) {
		run->recorded += md_int(m, "cost_micros");
		run->nrecorded++;
	}
	json_decref(m);
	return 0;
}

/* The budget in the DAG text of the run's dag_run_start, if any. */
static int read_budget(const pw_audit_row *row, void *payload)
{
	pw_budget *b = payload;
	json_error_t e;
	json_t *m = json_loads(row->metadata ? row->metadata : "{}", 0, &e);
	const char *text = m ? json_string_value(json_object_get(m, "dag_text")) : NULL;
	if (text && strstr(text, "budget")) {
		pw_diags diags = PW_DIAGS_INIT;
		pw_dag *dag = NULL;
		if (pw_dag_load_buffer(&dag, "<recorded>", text, strlen(text), &diags) == 0) {
			if (dag->budget.set)
				*b = dag->budget;
			pw_dag_free(dag);
		}
		pw_diags_release(&diags);
	}
	json_decref(m);
	return 0;
}

static void release(report *r)
{
	for (size_t i = 0; i < r->ndags; i++) {
		dag_sum *d = &r->dags[i];
		for (size_t j = 0; j < d->nruns; j++) {
			for (size_t k = 0; k < d->runs[j].ntasks; k++)
				free(d->runs[j].tasks[k].task_id);
			free(d->runs[j].tasks);
			free(d->runs[j].run_id);
			free(d->runs[j].first_ts);
		}
		free(d->runs);
		free(d->dag_id);
	}
	free(r->dags);
}

static json_t *amount(int64_t micros)
{
	char buf[40];
	pw_micros_format(micros, buf, sizeof(buf));
	return json_string(buf);
}

static int64_t pct100(int64_t spent, int64_t of)
{
	return of > 0 ? (int64_t)((double)spent * 10000.0 / (double)of + 0.5) : 0;
}

static void print_json(const report *r, const char *month, int64_t total)
{
	json_t *root = json_object();
	json_object_set_new(root, "month", json_string(month));
	json_object_set_new(root, "total", amount(total));
	json_object_set_new(root, "total_micros", json_integer(total));
	json_t *dags = json_array();
	for (size_t i = 0; i < r->ndags; i++) {
		const dag_sum *d = &r->dags[i];
		json_t *jd = json_object();
		json_object_set_new(jd, "dag_id", json_string(d->dag_id));
		json_object_set_new(jd, "total", amount(d->cost));
		json_object_set_new(jd, "total_micros", json_integer(d->cost));
		if (d->budget.set && d->budget.monthly > 0) {
			int64_t m = pw_amount_micros(d->budget.monthly);
			json_t *jb = json_object();
			json_object_set_new(jb, "monthly", amount(m));
			json_object_set_new(jb, "monthly_micros", json_integer(m));
			json_object_set_new(jb, "percent_x100", json_integer(pct100(d->cost, m)));
			json_object_set_new(jb, "level",
					    json_string(pw_budget_level_name(
						pw_budget_level_for(&d->budget, d->cost))));
			json_object_set_new(jd, "budget", jb);
		} else {
			json_object_set_new(jd, "budget", json_null());
		}
		json_t *runs = json_array();
		for (size_t j = 0; j < d->nruns; j++) {
			const run_sum *rs = &d->runs[j];
			json_t *jr = json_object();
			json_object_set_new(jr, "run_id", json_string(rs->run_id));
			json_object_set_new(jr, "first_event", json_string(rs->first_ts));
			json_object_set_new(jr, "total", amount(rs->cost));
			json_object_set_new(jr, "total_micros", json_integer(rs->cost));
			json_object_set_new(jr, "recorded_total_micros",
					    rs->nrecorded ? json_integer(rs->recorded)
							  : json_null());
			json_t *tasks = json_array();
			for (size_t k = 0; k < rs->ntasks; k++) {
				const task_sum *t = &rs->tasks[k];
				json_t *jt = json_object();
				json_object_set_new(jt, "task_id", json_string(t->task_id));
				json_object_set_new(jt, "attempts", json_integer(t->attempts));
				json_object_set_new(jt, "cpu_ms", json_integer(t->cpu_ms));
				json_object_set_new(jt, "cost", amount(t->cost));
				json_object_set_new(jt, "cost_micros", json_integer(t->cost));
				json_array_append_new(tasks, jt);
			}
			json_object_set_new(jr, "tasks", tasks);
			json_array_append_new(runs, jr);
		}
		json_object_set_new(jd, "runs", runs);
		json_array_append_new(dags, jd);
	}
	json_object_set_new(root, "dags", dags);
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	free(s);
	json_decref(root);
}

static void print_text(const report *r, const char *month, int64_t total)
{
	char buf[40];
	size_t nruns = 0;
	for (size_t i = 0; i < r->ndags; i++)
		nruns += r->dags[i].nruns;
	pw_micros_format(total, buf, sizeof(buf));
	printf("month %s (UTC): %s over %zu run%s of %zu DAG%s\n", month, buf, nruns,
	       nruns == 1 ? "" : "s", r->ndags, r->ndags == 1 ? "" : "s");
	for (size_t i = 0; i < r->ndags; i++) {
		const dag_sum *d = &r->dags[i];
		pw_micros_format(d->cost, buf, sizeof(buf));
		printf("\ndag %s: %s in %zu run%s\n", d->dag_id, buf, d->nruns,
		       d->nruns == 1 ? "" : "s");
		if (d->budget.set && d->budget.monthly > 0) {
			int64_t m = pw_amount_micros(d->budget.monthly);
			char mb[40];
			pw_micros_format(m, mb, sizeof(mb));
			int64_t p = pct100(d->cost, m);
			printf("  budget: %s of %s monthly (%" PRId64 ".%02" PRId64 "%%): %s\n",
			       buf, mb, p / 100, p % 100,
			       pw_budget_level_name(pw_budget_level_for(&d->budget, d->cost)));
		}
		for (size_t j = 0; j < d->nruns; j++) {
			const run_sum *rs = &d->runs[j];
			pw_micros_format(rs->cost, buf, sizeof(buf));
			printf("  run %s (%.19s): %s", rs->run_id, rs->first_ts, buf);
			if (rs->nrecorded && rs->recorded != rs->cost) {
				char rb[40];
				pw_micros_format(rs->recorded, rb, sizeof(rb));
				printf(" (recorded total %s)", rb);
			} else if (!rs->nrecorded) {
				printf(" (no cost.dag_run_total: the run did not finish)");
			}
			printf("\n");
			for (size_t k = 0; k < rs->ntasks; k++) {
				const task_sum *t = &rs->tasks[k];
				char cpu[32];
				pw_format_duration(t->cpu_ms, cpu, sizeof(cpu));
				pw_micros_format(t->cost, buf, sizeof(buf));
				printf("    %-24s %2d attempt%s  cpu %8s  %s\n", t->task_id,
				       t->attempts, t->attempts == 1 ? " " : "s", cpu, buf);
			}
		}
	}
}

int pw_cmd_cost(int argc, char **argv)
{
	const char *dag_id = NULL, *store_url = NULL, *month = NULL, *v;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("cost", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--month", &v)) {
			char s[32], e[32];
			if (!v || pw_month_parse(v, s, e) != 0)
				return pw_cli_usage_error("cost",
							  "--month takes YYYY-MM, e.g. 2026-02");
			month = v;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			json = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("cost", "unknown option '%s'", argv[i]);
		} else if (dag_id) {
			return pw_cli_usage_error("cost", "only one DAG_ID");
		} else {
			dag_id = argv[i];
		}
	}
	char label[8], start[32], end[32];
	if (month) {
		snprintf(label, sizeof(label), "%s", month);
		pw_month_parse(month, start, end);
	} else {
		pw_month_of(pw_now_wall_ms(), label, start, end);
	}

	pw_audit_store *s = pw_cli_open_store("cost", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	report r = {.end = end};
	pw_strbuf err = PW_STRBUF_INIT;
	static const char *const types[] = {"cost.task_compute", "cost.dag_run_total"};
	int rc = 0;
	for (size_t i = 0; i < PW_ARRAY_SIZE(types) && rc == 0; i++) {
		pw_audit_filter f = {.dag_id = dag_id, .event_type = types[i], .since = start};
		rc = pw_audit_query(s, &f, add_row, &r, &err);
	}
	for (size_t i = 0; i < r.ndags && rc == 0; i++) {
		/* The last definition in the month that has a budget. */
		pw_audit_filter f = {
		    .dag_id = r.dags[i].dag_id, .event_type = "dag_run_start", .since = start};
		rc = pw_audit_query(s, &f, read_budget, &r.dags[i].budget, &err);
	}
	if (rc != 0) {
		fprintf(stderr, "pitwall cost: %s\n", err.buf ? err.buf : "cannot read the store");
		pw_strbuf_release(&err);
		release(&r);
		pw_audit_close(s);
		return PW_EXIT_SOFTWARE;
	}
	int64_t total = 0;
	for (size_t i = 0; i < r.ndags; i++)
		total += r.dags[i].cost;
	if (json)
		print_json(&r, label, total);
	else
		print_text(&r, label, total);
	pw_strbuf_release(&err);
	release(&r);
	pw_audit_close(s);
	return PW_EXIT_OK;
}
