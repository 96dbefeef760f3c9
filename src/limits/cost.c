/* Cost arithmetic, price tables and monthly spend (include/pitwall/cost.h). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pitwall/cost.h"

int64_t pw_amount_micros(double amount)
{
	double m = amount * (double)PW_MICROS;
	if (!(m < 9.2e18))
		return INT64_MAX;
	if (!(m > -9.2e18))
		return INT64_MIN;
	return (int64_t)llround(m);
}

int64_t pw_cost_micros(const pw_prices *p, int64_t cpu_ns, int64_t mem_peak_bytes, int64_t wall_ms)
{
	if (!p || !p->set)
		return 0;
	double cpu_s = cpu_ns > 0 ? (double)cpu_ns / 1e9 : 0;
	double gib = mem_peak_bytes > 0 ? (double)mem_peak_bytes / (double)(1LL << 30) : 0;
	double secs = wall_ms > 0 ? (double)wall_ms / 1e3 : 0;
	return pw_amount_micros(p->vcpu_second * cpu_s + p->gib_second * gib * secs +
				p->task_start);
}

void pw_micros_format(int64_t micros, char *buf, size_t size)
{
	uint64_t a = micros < 0 ? (uint64_t)(-(micros + 1)) + 1 : (uint64_t)micros;
	snprintf(buf, size, "%s%" PRIu64 ".%06" PRIu64, micros < 0 ? "-" : "", a / PW_MICROS,
		 a % PW_MICROS);
}

void pw_prices_json(const pw_prices *p, pw_strbuf *sb)
{
	pw_strbuf_addf(
	    sb, "{\"vcpu_second\":\"%.12g\",\"gib_second\":\"%.12g\",\"task_start\":\"%.12g\"}",
	    p->vcpu_second, p->gib_second, p->task_start);
}

char *pw_prices_file_path(void)
{
	const char *f = getenv("PITWALL_PRICES");
	if (f && *f)
		return pw_xstrdup(f);
	const char *home = getenv("PITWALL_HOME");
	return home && *home ? pw_xasprintf("%s/.pitwall/prices.yaml", home)
			     : pw_xstrdup(".pitwall/prices.yaml");
}

int pw_prices_for_dag(const pw_dag *dag, pw_prices *out, char **source, char *err, size_t errsize)
{
	*source = NULL;
	if (dag->prices.set) {
		*out = dag->prices;
		*source = pw_xstrdup("dag");
		return 0;
	}
	memset(out, 0, sizeof(*out));
	char *path = pw_prices_file_path();
	pw_diags d = PW_DIAGS_INIT;
	int rc = pw_prices_load_file(out, path, &d);
	if (rc == 0) {
		*source = path;
		path = NULL;
	} else if (rc == -1) {
		const pw_diag *first = d.n ? &d.v[0] : NULL;
		snprintf(err, errsize, "%s:%d:%d: %s", path, first ? first->line : 0,
			 first ? first->col : 0, first ? first->msg : "invalid price file");
	}
	pw_diags_release(&d);
	free(path);
	return rc == -1 ? -1 : 0;
}

/* ---- months ---- */

static void month_bounds(int y, int m, char start[32], char end[32])
{
	int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
	snprintf(start, 32, "%04u-%02u-01T00:00:00.000Z", (unsigned)y % 10000u, (unsigned)m % 100u);
	snprintf(end, 32, "%04u-%02u-01T00:00:00.000Z", (unsigned)ny % 10000u, (unsigned)nm % 100u);
}

void pw_month_of(int64_t wall_ms, char label[8], char start[32], char end[32])
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
	snprintf(label, 8, "%04u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u);
	month_bounds(y, m, start, end);
}

int pw_month_parse(const char *label, char start[32], char end[32])
{
	int y, m;
	char tail;
	if (!label || strlen(label) != 7 || label[4] != '-' ||
	    sscanf(label, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 || m < 1 || m > 12)
		return -1;
	month_bounds(y, m, start, end);
	return 0;
}

/* ---- spend from the audit store ---- */

struct spend {
	const char *end;
	int64_t total;
};

static int add_spend(const pw_audit_row *r, void *payload)
{
	struct spend *s = payload;
	if (strcmp(r->timestamp, s->end) >= 0)
		return 0;
	json_error_t e;
	json_t *m = json_loads(r->metadata ? r->metadata : "{}", 0, &e);
	json_t *v = m ? json_object_get(m, "cost_micros") : NULL;
	if (json_is_integer(v))
		s->total += (int64_t)json_integer_value(v);
	json_decref(m);
	return 0;
}

int pw_cost_spend(pw_audit_store *st, const char *dag_id, const char *start, const char *end,
		  int64_t *out_micros, pw_strbuf *err)
{
	struct spend s = {end, 0};
	pw_audit_filter f = {.dag_id = dag_id, .event_type = "cost.task_compute", .since = start};
	int rc = pw_audit_query(st, &f, add_spend, &s, err);
	*out_micros = s.total;
	return rc;
}

int pw_cost_month_spend_cb(void *store, const char *dag_id, int64_t wall_ms, int64_t *out_micros)
{
	char label[8], start[32], end[32];
	pw_month_of(wall_ms, label, start, end);
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pw_cost_spend(store, dag_id, start, end, out_micros, &err);
	pw_strbuf_release(&err);
	return rc;
}

/* ---- budget ---- */

pw_budget_level pw_budget_level_for(const pw_budget *b, int64_t spent)
{
	if (!b || !b->set || b->monthly <= 0)
		return PW_BUDGET_OK;
	int64_t monthly = pw_amount_micros(b->monthly);
	/* Compare in micro-units: spent >= fraction x monthly. */
	if ((double)spent >= b->stop_at * (double)monthly)
		return PW_BUDGET_STOP;
	if ((double)spent >= b->throttle_at * (double)monthly)
		return PW_BUDGET_THROTTLE;
	if ((double)spent >= b->warn_at * (double)monthly)
		return PW_BUDGET_WARN;
	return PW_BUDGET_OK;
}

const char *pw_budget_level_name(pw_budget_level l)
{
	switch (l) {
	case PW_BUDGET_OK: return "ok";
	case PW_BUDGET_WARN: return "warn";
	case PW_BUDGET_THROTTLE: return "throttle";
	case PW_BUDGET_STOP: return "stop";
	}
	return "?";
}
