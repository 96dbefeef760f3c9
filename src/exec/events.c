#include "exec/events.h"

#include <string.h>
#include <unistd.h>

static const char *const event_names[] = {
    [PW_EV_DAG_RUN_START] = "dag_run_start",
    [PW_EV_TASK_QUEUED] = "task_queued",
    [PW_EV_TASK_START] = "task_start",
    [PW_EV_TASK_RETRY] = "task_retry",
    [PW_EV_TASK_END] = "task_end",
    [PW_EV_DAG_RUN_END] = "dag_run_end",
    [PW_EV_HOOK] = "run_notice",
    [PW_EV_LINEAGE] = "lineage",
    [PW_EV_COST_TASK] = "cost.task_compute",
    [PW_EV_COST_RUN] = "cost.dag_run_total",
    [PW_EV_BUDGET_WARN] = "budget.warn",
    [PW_EV_BUDGET_THROTTLE] = "budget.throttle",
    [PW_EV_BUDGET_STOP] = "budget.stop",
    [PW_EV_BUDGET_RUN_EXCEEDED] = "budget.run_exceeded",
};

const char *pw_event_type_name(pw_event_type t)
{
	return (unsigned)t < PW_ARRAY_SIZE(event_names) ? event_names[t] : "unknown";
}

void pw_log_observer_init(pw_log_observer *lo, pw_log_format format, FILE *out)
{
	memset(lo, 0, sizeof(*lo));
	lo->out = out ? out : stderr;
	if (format == PW_LOG_AUTO)
		format = isatty(fileno(lo->out)) ? PW_LOG_LIVE : PW_LOG_JSON;
	lo->format = format;
}

static void print_json(pw_log_observer *lo, const pw_run_ctx *ctx, const pw_event *ev)
{
	char ts[40];
	pw_format_iso8601_ms(ev->wall_ms, ts, sizeof(ts));
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "{\"dag_run_id\":");
	pw_strbuf_add_json_str(&sb, pw_run_ctx_run_id(ctx));
	pw_strbuf_adds(&sb, ",\"task_id\":");
	if (ev->task)
		pw_strbuf_add_json_str(&sb, ev->task->task_id);
	else
		pw_strbuf_adds(&sb, "null");
	pw_strbuf_addf(&sb, ",\"timestamp\":\"%s\",\"level\":\"%s\",\"event_type\":\"%s\",", ts,
		       ev->level, pw_event_type_name(ev->type));
	pw_strbuf_adds(&sb, "\"message\":");
	pw_strbuf_add_json_str(&sb, ev->message ? ev->message : "");
	pw_strbuf_adds(&sb, ",\"metadata\":");
	pw_strbuf_adds(&sb, ev->metadata_json ? ev->metadata_json : "{}");
	pw_strbuf_adds(&sb, "}\n");
	fwrite(sb.buf, 1, sb.len, lo->out);
	pw_strbuf_release(&sb);
	if (ev->type == PW_EV_DAG_RUN_END)
		fflush(lo->out);
}

static void print_text(pw_log_observer *lo, const pw_event *ev)
{
	char ts[40];
	pw_format_iso8601_ms(ev->wall_ms, ts, sizeof(ts));
	fprintf(lo->out, "%s %-7s %-13s %s%s%s\n", ts + 11, ev->level, pw_event_type_name(ev->type),
		ev->task ? ev->task->task_id : "", ev->task ? ": " : "",
		ev->message ? ev->message : "");
}

static void clear_status(pw_log_observer *lo)
{
	if (lo->status_shown) {
		fputs("\r\033[K", lo->out);
		lo->status_shown = false;
	}
}

static void draw_status(pw_log_observer *lo, const pw_run_ctx *ctx)
{
	const pw_plan *p = pw_run_ctx_plan(ctx);
	const pw_dag *dag = pw_run_ctx_dag(ctx);
	size_t running = 0, queued = 0;
	pw_strbuf names = PW_STRBUF_INIT;
	for (size_t i = 0; i < dag->ntasks; i++) {
		if (p->state[i] == PW_TS_RUNNING) {
			if (running < 4) {
				pw_strbuf_adds(&names, running ? ", " : " ");
				pw_strbuf_adds(&names, dag->tasks[i].task_id);
			}
			running++;
		} else if (p->state[i] == PW_TS_READY || p->state[i] == PW_TS_RETRY_WAIT) {
			queued++;
		}
	}
	if (running > 4)
		pw_strbuf_addf(&names, ", +%zu", running - 4);
	fprintf(lo->out, "\r\033[K[%zu/%zu done] %zu ok, %zu failed, %zu running, %zu queued%s%s",
		p->nterminal, dag->ntasks, lo->succeeded, lo->failed, running, queued,
		running ? " |" : "", names.buf ? names.buf : "");
	pw_strbuf_release(&names);
	fflush(lo->out);
	lo->status_shown = true;
}

void pw_log_observer_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev)
{
	pw_log_observer *lo = payload;
	if (ev->type == PW_EV_TASK_END) {
		if (ev->state == PW_TS_SUCCESS)
			lo->succeeded++;
		else if (ev->state != PW_TS_SKIPPED)
			lo->failed++;
	}
	switch (lo->format) {
	case PW_LOG_NONE: return;
	case PW_LOG_JSON: print_json(lo, ctx, ev); return;
	case PW_LOG_TEXT:
		if (ev->type != PW_EV_TASK_QUEUED && ev->type != PW_EV_LINEAGE)
			print_text(lo, ev);
		return;
	case PW_LOG_LIVE:
	case PW_LOG_AUTO:
		/* Only what a person needs scrolls; the rest is the status line. */
		if (ev->type == PW_EV_TASK_RETRY || ev->type == PW_EV_HOOK ||
		    (ev->type >= PW_EV_BUDGET_WARN && ev->type <= PW_EV_BUDGET_RUN_EXCEEDED) ||
		    (ev->type == PW_EV_TASK_END && ev->state != PW_TS_SUCCESS)) {
			clear_status(lo);
			print_text(lo, ev);
		}
		if (ev->type == PW_EV_DAG_RUN_END) {
			clear_status(lo);
		} else if (ev->wall_ms - lo->last_draw_ms >= 100 || !lo->status_shown) {
			lo->last_draw_ms = ev->wall_ms;
			draw_status(lo, ctx);
		}
		return;
	}
}
