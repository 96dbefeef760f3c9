/*
 * Cost arithmetic (micro-units, rounding, formatting), months, budget
 * levels, and the prices / budget / critical / pids_limit keys of the DAG
 * format and of a price file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pitwall/cost.h"
#include "pw_test.h"

static pw_dag *load(const char *text, pw_diags *d)
{
	pw_dag *dag = NULL;
	pw_dag_load_buffer(&dag, "t.yaml", text, strlen(text), d);
	return dag;
}

static bool has_error(const pw_diags *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].msg, needle))
			return true;
	return false;
}

static void fmt(int64_t micros, const char *want)
{
	char buf[40];
	pw_micros_format(micros, buf, sizeof(buf));
	PW_CHECK_STR(buf, want, "%lld micro-units print as %s", (long long)micros, want);
}

int main(void)
{
	/* ---- arithmetic ---- */
	pw_prices p = {
	    .set = true, .vcpu_second = 0.0000112, .gib_second = 0.0000012, .task_start = 0.0001};
	/* 3600 CPU seconds, 2 GiB peak for an hour: 0.04032 + 0.00864 + 0.0001 */
	PW_CHECK_INT(pw_cost_micros(&p, 3600LL * 1000000000, 2LL << 30, 3600 * 1000), 49060,
		     "an hour of one vCPU and 2 GiB at Fargate-like prices");
	PW_CHECK_INT(pw_cost_micros(&p, 0, 0, 0), 100, "an empty attempt costs task_start");
	PW_CHECK_INT(pw_cost_micros(&p, -1, -1, -1), 100, "unknown measurements count as 0");
	PW_CHECK_INT(pw_cost_micros(NULL, 1000000000, 1 << 30, 1000), 0, "no prices: no cost");
	pw_prices unit = {.set = true, .vcpu_second = 1, .gib_second = 0, .task_start = 0};
	PW_CHECK_INT(pw_cost_micros(&unit, 1500000000, 0, 0), 1500000,
		     "1.5 CPU seconds at 1 per second = 1.5");
	PW_CHECK_INT(pw_cost_micros(&unit, 1499, 0, 0), 1, "1499 ns at 1/s rounds to 1 micro");
	PW_CHECK_INT(pw_cost_micros(&unit, 499, 0, 0), 0, "499 ns rounds to 0");
	pw_prices mem = {.set = true, .gib_second = 2};
	PW_CHECK_INT(pw_cost_micros(&mem, 0, 512LL << 20, 3000), 3000000,
		     "half a GiB held 3 s at 2 per GiB-second = 3 (peak x wall time)");
	PW_CHECK_INT(pw_amount_micros(0.1 + 0.2), 300000, "0.1 + 0.2 is 300000 micro-units");
	PW_CHECK_INT(pw_amount_micros(70), 70000000, "70 units");
	PW_CHECK_INT(pw_amount_micros(1e300), INT64_MAX, "a huge amount saturates");
	int64_t sum = 0;
	for (int i = 0; i < 1000; i++)
		sum += pw_cost_micros(&p, 0, 0, 0);
	PW_CHECK_INT(sum, 100000, "1000 task starts add up exactly in micro-units");

	fmt(0, "0.000000");
	fmt(1, "0.000001");
	fmt(12345678, "12.345678");
	fmt(-1500000, "-1.500000");
	fmt(INT64_MIN, "-9223372036854.775808");

	/* ---- months ---- */
	char label[8], start[32], end[32];
	pw_month_of(1771070400000LL, label, start, end); /* 2026-02-14T12:00:00Z */
	PW_CHECK_STR(label, "2026-02", "month label");
	PW_CHECK_STR(start, "2026-02-01T00:00:00.000Z", "month start");
	PW_CHECK_STR(end, "2026-03-01T00:00:00.000Z", "month end");
	PW_CHECK(pw_month_parse("2026-12", start, end) == 0 &&
		     !strcmp(end, "2027-01-01T00:00:00.000Z"),
		 "December ends at the next year's January");
	PW_CHECK(pw_month_parse("2026-13", start, end) < 0, "month 13 is rejected");
	PW_CHECK(pw_month_parse("2026-2", start, end) < 0, "2026-2 is rejected");
	PW_CHECK(pw_month_parse("2026-02x", start, end) < 0, "trailing text is rejected");

	/* ---- budget levels ---- */
	pw_budget b = {
	    .set = true, .monthly = 70, .warn_at = 0.8, .throttle_at = 0.9, .stop_at = 1.0};
	PW_CHECK_INT(pw_budget_level_for(&b, 55999999), PW_BUDGET_OK, "just under 80%%: ok");
	PW_CHECK_INT(pw_budget_level_for(&b, 56000000), PW_BUDGET_WARN, "80%%: warn");
	PW_CHECK_INT(pw_budget_level_for(&b, 63000000), PW_BUDGET_THROTTLE, "90%%: throttle");
	PW_CHECK_INT(pw_budget_level_for(&b, 70000000), PW_BUDGET_STOP, "100%%: stop");
	PW_CHECK_INT(pw_budget_level_for(&b, 99000000), PW_BUDGET_STOP, "over: stop");
	pw_budget none = {.set = true, .max_cost_per_run = 5};
	PW_CHECK_INT(pw_budget_level_for(&none, 99000000000LL), PW_BUDGET_OK,
		     "no monthly amount: never throttled");

	/* ---- the DAG format ---- */
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = load("dag_id: c\n"
			   "prices: {vcpu_second: 0.0000112, gib_second: \"$0.0000012\", "
			   "task_start: 0}\n"
			   "budget: {max_cost_per_run: 5, monthly: 70, warn_at: 75%, throttle_at: "
			   "0.85}\n"
			   "tasks:\n"
			   "  - task_id: a\n"
			   "    command: [\"true\"]\n"
			   "    critical: true\n"
			   "    prices: {vcpu_second: 0.5}\n"
			   "    resources: {cpu_limit: 500m, memory_limit: 64Mi, pids_limit: 100, "
			   "max_cost_per_run: 0.25}\n"
			   "  - task_id: b\n"
			   "    command: [\"true\"]\n",
			   &d);
	PW_CHECK(dag != NULL, "prices, budget, critical and pids_limit load");
	if (dag) {
		PW_CHECK(dag->prices.set && dag->prices.vcpu_second == 0.0000112 &&
			     dag->prices.gib_second == 0.0000012 && dag->prices.task_start == 0,
			 "top-level prices");
		PW_CHECK(dag->budget.set && dag->budget.max_cost_per_run == 5 &&
			     dag->budget.monthly == 70 && dag->budget.warn_at == 0.75 &&
			     dag->budget.throttle_at == 0.85 && dag->budget.stop_at == 1.0,
			 "budget with a percentage, a fraction and the default stop_at");
		const pw_task *a = pw_dag_find(dag, "a"), *bt = pw_dag_find(dag, "b");
		PW_CHECK(a->critical && !bt->critical, "critical: true on a only");
		PW_CHECK(a->prices.set && a->prices.vcpu_second == 0.5 && a->prices.gib_second == 0,
			 "a task's own prices: a complete table (missing keys are 0)");
		PW_CHECK(!bt->prices.set, "b has no prices of its own");
		PW_CHECK(a->resources.pids_limit == 100 && a->resources.cpu_limit == 0.5 &&
			     a->resources.memory_limit == 64LL << 20 &&
			     a->resources.max_cost_per_run == 0.25,
			 "resources");
	}
	pw_dag_free(dag);
	pw_diags_release(&d);

	static const struct {
		const char *yaml, *error;
	} bad[] = {
	    {"prices: {vcpu_second: -1}\n", "prices.vcpu_second cannot be negative"},
	    {"prices: {vcpu_secnd: 1}\n", "unknown key 'vcpu_secnd' in prices"},
	    {"prices: 3\n", "prices: expected a mapping"},
	    {"budget: {monthly: 0}\n", "budget.monthly must be greater than zero"},
	    {"budget: {monthly: 10, warn_at: 0.95}\n", "budget thresholds are out of order"},
	    {"budget: {warn_at: 0.5}\n", "there is no budget.monthly"},
	    {"budget: {monthly: 10, stop_at: 200%x}\n", "is not a fraction"},
	    {"budget: {monthly: lots}\n", "'lots' is not an amount"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pw_diags e = PW_DIAGS_INIT;
		char *text = pw_xasprintf("dag_id: c\n%stasks:\n  - task_id: a\n    command: "
					  "[\"true\"]\n",
					  bad[i].yaml);
		pw_dag *x = load(text, &e);
		PW_CHECK(!x && has_error(&e, bad[i].error), "rejected: %.*s (%s)",
			 (int)strlen(bad[i].yaml) - 1, bad[i].yaml, bad[i].error);
		if (x || !has_error(&e, bad[i].error))
			pw_diags_print(&e, stdout);
		pw_dag_free(x);
		pw_diags_release(&e);
		free(text);
	}
	{
		pw_diags e = PW_DIAGS_INIT;
		pw_dag *x = load("dag_id: c\ntasks:\n  - task_id: a\n    command: [\"true\"]\n"
				 "    critical: maybe\n",
				 &e);
		PW_CHECK(!x && has_error(&e, "critical: expected true or false"),
			 "critical takes a boolean");
		pw_dag_free(x);
		pw_diags_release(&e);
	}

	/* ---- price files ---- */
	char dir[] = "/tmp/pw-cost-XXXXXX";
	PW_CHECK(mkdtemp(dir) != NULL, "temp dir");
	char *f1 = pw_xasprintf("%s/a.yaml", dir), *f2 = pw_xasprintf("%s/b.yaml", dir),
	     *f3 = pw_xasprintf("%s/c.yaml", dir);
	FILE *f = fopen(f1, "w");
	fputs("prices:\n  vcpu_second: 0.02\n  task_start: 0.5\n", f);
	fclose(f);
	f = fopen(f2, "w");
	fputs("gib_second: 0.25\n", f);
	fclose(f);
	f = fopen(f3, "w");
	fputs("prices: {vcpu_second: nope}\n", f);
	fclose(f);
	pw_prices fp;
	pw_diags e = PW_DIAGS_INIT;
	PW_CHECK(pw_prices_load_file(&fp, f1, &e) == 0 && fp.set && fp.vcpu_second == 0.02 &&
		     fp.task_start == 0.5 && fp.gib_second == 0,
		 "price file with prices:");
	PW_CHECK(pw_prices_load_file(&fp, f2, &e) == 0 && fp.gib_second == 0.25,
		 "price file with the keys at the top");
	PW_CHECK(pw_prices_load_file(&fp, f3, &e) == -1 && !fp.set && e.nerrors == 1,
		 "a bad price file is an error with a diagnostic");
	char *missing = pw_xasprintf("%s/none.yaml", dir);
	PW_CHECK(pw_prices_load_file(&fp, missing, &e) == -2, "a missing price file is -2");
	pw_diags_release(&e);

	/* The run's table: the DAG's, else the price file (PITWALL_PRICES). */
	setenv("PITWALL_PRICES", f1, 1);
	pw_diags d2 = PW_DIAGS_INIT;
	pw_dag *np = load("dag_id: c\ntasks:\n  - task_id: a\n    command: [\"true\"]\n", &d2);
	char *src = NULL, err[256];
	PW_CHECK(np && pw_prices_for_dag(np, &fp, &src, err, sizeof(err)) == 0 && fp.set &&
		     fp.vcpu_second == 0.02 && src && !strcmp(src, f1),
		 "a DAG without prices takes the price file's");
	free(src);
	setenv("PITWALL_PRICES", f3, 1);
	src = NULL;
	PW_CHECK(np && pw_prices_for_dag(np, &fp, &src, err, sizeof(err)) == -1 &&
		     strstr(err, "c.yaml"),
		 "a broken price file is reported with its name");
	free(src);
	setenv("PITWALL_PRICES", missing, 1);
	src = NULL;
	PW_CHECK(np && pw_prices_for_dag(np, &fp, &src, err, sizeof(err)) == 0 && !fp.set && !src,
		 "no price file: no prices");
	free(src);
	pw_dag_free(np);
	pw_diags_release(&d2);
	unsetenv("PITWALL_PRICES");

	pw_strbuf sb = PW_STRBUF_INIT;
	pw_prices_json(&p, &sb);
	PW_CHECK_STR(sb.buf,
		     "{\"vcpu_second\":\"1.12e-05\",\"gib_second\":\"1.2e-06\",\"task_start\":"
		     "\"0.0001\"}",
		     "prices are recorded as strings");
	pw_strbuf_release(&sb);

	unlink(f1);
	unlink(f2);
	unlink(f3);
	rmdir(dir);
	free(f1);
	free(f2);
	free(f3);
	free(missing);
	PW_TEST_DONE();
}
