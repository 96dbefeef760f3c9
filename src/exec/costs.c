#include "exec/costs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pw_exec_costs_init(pw_exec_costs *k, const pw_dag *dag, const pw_run_opts *o, pw_strbuf *warn)
{
	memset(k, 0, sizeof(*k));
	k->month_spent = -1;
	char err[512] = "";
	if (pw_prices_for_dag(dag, &k->prices, &k->prices_source, err, sizeof(err)) < 0)
		pw_strbuf_addf(warn, "price file ignored: %s\n", err);
	k->any_prices = k->prices.set;
	bool limited_cost = false;
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task *t = &dag->tasks[i];
		k->any_prices |= t->prices.set;
		if (t->resources.max_cost_per_run > 0 && !t->prices.set && !k->prices.set)
			limited_cost = true;
	}
	if (limited_cost)
		pw_strbuf_addf(warn,
			       "resources.max_cost_per_run is not enforced: no prices (add prices: "
			       "to the DAG or the price file %s)\n",
			       getenv("PITWALL_PRICES") ? getenv("PITWALL_PRICES")
							: ".pitwall/prices.yaml");
	const pw_budget *b = &dag->budget;
	if (b->set && b->max_cost_per_run > 0) {
		if (k->any_prices)
			k->run_max = pw_amount_micros(b->max_cost_per_run);
		else
			pw_strbuf_addf(warn,
				       "budget.max_cost_per_run is not enforced: no prices\n");
	}
	if (b->set && b->monthly > 0 && o->month_spend) {
		char start[32], end[32];
		int64_t now = pw_now_wall_ms();
		pw_month_of(now, k->month, start, end);
		int64_t spent = 0;
		if (o->month_spend(o->month_spend_payload, dag->dag_id, now, &spent) == 0) {
			k->month_spent = spent;
			k->level = pw_budget_level_for(b, spent);
		} else {
			pw_strbuf_addf(warn, "monthly budget not checked: the audit store cannot "
					     "be read\n");
		}
	}
}

void pw_exec_costs_release(pw_exec_costs *k)
{
	free(k->prices_source);
	k->prices_source = NULL;
}

const pw_prices *pw_exec_task_prices(const pw_exec_costs *k, const pw_task *t)
{
	if (t->prices.set)
		return &t->prices;
	return k->prices.set ? &k->prices : NULL;
}

bool pw_exec_task_sampled(const pw_exec_costs *k, const pw_task *t)
{
	return (t->resources.max_cost_per_run > 0 || k->run_max > 0) &&
	       pw_exec_task_prices(k, t) != NULL;
}

bool pw_exec_task_limited(const pw_exec_costs *k, const pw_task *t)
{
	const pw_resources *r = &t->resources;
	/* A priced task is measured through a cgroup too: the whole tree, true peak memory. */
	return r->cpu_limit > 0 || r->memory_limit > 0 || r->pids_limit > 0 ||
	       pw_exec_task_prices(k, t) != NULL;
}

void pw_exec_limits_request(const pw_task *t, const char *run_id, int attempt,
			    pw_limits_request *out)
{
	memset(out, 0, sizeof(*out));
	out->run_id = run_id;
	out->task_id = t->task_id;
	out->attempt = attempt;
	out->cpu_limit = t->resources.cpu_limit;
	out->memory_limit = t->resources.memory_limit;
	out->pids_limit = t->resources.pids_limit;
	out->timeout_ms = t->timeout_ms;
}

void pw_exec_attempt_usage(pw_attempt_result *a, const pw_limits_usage *u)
{
	a->cpu_ms = a->cpu_user_ms + a->cpu_sys_ms;
	a->memory_peak_bytes = a->max_rss_kb * 1024;
	a->cpu_throttled_ms = -1;
	if (!u)
		return;
	if (u->cpu_throttled_ns >= 0)
		a->cpu_throttled_ms = u->cpu_throttled_ns / 1000000;
	/*
	 * The cgroup sees the whole tree; rusage only the waited-for part, and
	 * its max RSS starts from pitwall's own (a posix_spawn child runs in
	 * our address space until it execs), so a cgroup's peak replaces it.
	 */
	if (u->cpu_ns >= 0 && (u->cpu_cgroup || u->cpu_ns / 1000000 > a->cpu_ms))
		a->cpu_ms = u->cpu_ns / 1000000;
	if (u->mem_peak >= 0 && (u->mem_cgroup || u->mem_peak > a->memory_peak_bytes))
		a->memory_peak_bytes = u->mem_peak;
}

char *pw_exec_cost_metadata(const pw_attempt_result *a, const pw_prices *p,
			    const char *prices_source)
{
	char amount[40];
	pw_micros_format(a->cost_micros, amount, sizeof(amount));
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb,
		       "{\"attempt\":%d,\"status\":\"%s\",\"cost\":\"%s\",\"cost_micros\":%" PRId64
		       ",\"cpu_ms\":%" PRId64 ",\"memory_peak_bytes\":%" PRId64
		       ",\"duration_ms\":%" PRId64 ",\"prices\":",
		       a->attempt, pw_task_state_name(a->state), amount, a->cost_micros, a->cpu_ms,
		       a->memory_peak_bytes, a->duration_ms);
	pw_prices_json(p, &sb);
	pw_strbuf_adds(&sb, ",\"prices_from\":");
	pw_strbuf_add_json_str(&sb, prices_source ? prices_source : "task");
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}

char *pw_exec_run_cost_metadata(const pw_exec_costs *k, const char *status)
{
	char amount[40];
	pw_micros_format(k->total, amount, sizeof(amount));
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb,
		       "{\"status\":\"%s\",\"cost\":\"%s\",\"cost_micros\":%" PRId64
		       ",\"attempts\":%zu,\"cpu_ms\":%" PRId64,
		       status, amount, k->total, k->nattempts, k->cpu_ms);
	if (k->prices.set) {
		pw_strbuf_adds(&sb, ",\"prices\":");
		pw_prices_json(&k->prices, &sb);
	}
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}

char *pw_exec_budget_metadata(const pw_exec_costs *k, const pw_budget *b, const char *extra)
{
	char spent[40], monthly[40];
	int64_t m = pw_amount_micros(b->monthly);
	pw_micros_format(k->month_spent > 0 ? k->month_spent : 0, spent, sizeof(spent));
	pw_micros_format(m, monthly, sizeof(monthly));
	/* Percent of the monthly budget, in hundredths (8512 = 85.12%): no floats. */
	int64_t pct100 = m > 0 && k->month_spent > 0
			     ? (int64_t)((double)k->month_spent * 10000.0 / (double)m + 0.5)
			     : 0;
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(
	    &sb,
	    "{\"month\":\"%s\",\"level\":\"%s\",\"spent\":\"%s\",\"spent_micros\":%" PRId64
	    ",\"monthly\":\"%s\",\"monthly_micros\":%" PRId64 ",\"percent_x100\":%" PRId64
	    ",\"warn_at\":\"%.6g\",\"throttle_at\":\"%.6g\",\"stop_at\":\"%.6g\"",
	    k->month, pw_budget_level_name(k->level), spent,
	    k->month_spent > 0 ? k->month_spent : 0, monthly, m, pct100, b->warn_at, b->throttle_at,
	    b->stop_at);
	if (extra)
		pw_strbuf_adds(&sb, extra);
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
}
