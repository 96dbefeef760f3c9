/* The end-of-run summary table and run.json. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pitwall/cost.h"
#include "pitwall/run.h"

void pw_run_print_summary(const pw_dag *dag, const pw_run_result *r, FILE *out)
{
	size_t w = 4;
	for (size_t i = 0; i < dag->ntasks; i++) {
		size_t l = strlen(dag->tasks[i].task_id);
		if (l > w)
			w = l;
	}
	if (w > 40)
		w = 40;
	fprintf(out, "%-*s  %-15s  %8s  %8s  %s\n", (int)w, "TASK", "STATUS", "ATTEMPTS",
		"DURATION", "EXIT");
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task_result *t = &r->tasks[i];
		char dur[32] = "-", ex[1100] = "-";
		if (t->nattempts) {
			const pw_attempt_result *a = &t->attempts[t->nattempts - 1];
			pw_format_duration(t->duration_ms, dur, sizeof(dur));
			if (a->error)
				snprintf(ex, sizeof(ex), "error: %s", a->error);
			else if (a->signal)
				snprintf(ex, sizeof(ex), "signal %d", a->signal);
			else if (a->exit_code >= 0)
				snprintf(ex, sizeof(ex), "%d", a->exit_code);
		}
		fprintf(out, "%-*s  %-15s  %8zu  %8s  %s\n", (int)w, dag->tasks[i].task_id,
			pw_task_state_name(t->state), t->nattempts, dur, ex);
	}
	char dur[32];
	pw_format_duration(r->duration_ms, dur, sizeof(dur));
	const char *status = r->interrupted_by	? "cancelled"
			     : r->cost_exceeded ? "cost_exceeded"
			     : r->exit_code	? "failed"
						: "success";
	fprintf(out, "run %s: %s (", r->run_id, status);
	bool first = true;
	for (int s = PW_TS_SUCCESS; s < PW_TS_COUNT; s++) {
		if (!r->counts[s])
			continue;
		fprintf(out, "%s%zu %s", first ? "" : ", ", r->counts[s],
			s == PW_TS_SUCCESS ? "succeeded" : pw_task_state_name(s));
		first = false;
	}
	fprintf(out, ") in %s\n", dur);
	if (r->costed) {
		char amount[40];
		pw_micros_format(r->cost_micros, amount, sizeof(amount));
		fprintf(out, "cost: %s\n", amount);
	}
	fprintf(out, "workspace: %s\n", r->workspace);
}

static json_t *int_or_null(int64_t v, bool present)
{
	return present ? json_integer(v) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int pw_run_write_json(const pw_dag *dag, const pw_run_result *r, const char *path)
{
	json_t *root = json_object();
	json_object_set_new(root, "dag_id", json_string(dag->dag_id));
	json_object_set_new(root, "run_id", json_string(r->run_id));
	json_object_set_new(root, "logical_date", json_string(r->logical_date));
	json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
	const char *status = r->interrupted_by	? "cancelled"
			     : r->cost_exceeded ? "cost_exceeded"
			     : r->exit_code	? "failed"
						: "success";
	json_object_set_new(root, "status", json_string(status));
	if (r->costed) {
		char amount[40];
		pw_micros_format(r->cost_micros, amount, sizeof(amount));
		json_object_set_new(root, "cost", json_string(amount));
		json_object_set_new(root, "cost_micros", json_integer(r->cost_micros));
	}
	json_object_set_new(root, "exit_code", json_integer(r->exit_code));
	json_object_set_new(root, "max_concurrent", json_integer(r->max_concurrent));
	json_object_set_new(root, "duration_ms", json_integer(r->duration_ms));
	json_t *tasks = json_array();
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task_result *t = &r->tasks[i];
		const pw_attempt_result *last =
		    t->nattempts ? &t->attempts[t->nattempts - 1] : NULL;
		json_t *jt = json_object();
		json_object_set_new(jt, "task_id", json_string(dag->tasks[i].task_id));
		json_object_set_new(jt, "status", json_string(pw_task_state_name(t->state)));
		json_object_set_new(jt, "attempts", json_integer((json_int_t)t->nattempts));
		json_object_set_new(
		    jt, "exit_code",
		    int_or_null(last ? last->exit_code : 0, last && last->exit_code >= 0));
		json_object_set_new(jt, "signal",
				    int_or_null(last ? last->signal : 0, last && last->signal));
		json_object_set_new(jt, "duration_ms", json_integer(t->duration_ms));
		json_object_set_new(jt, "error", str_or_null(last ? last->error : NULL));
		json_t *al = json_array();
		for (size_t j = 0; j < t->nattempts; j++) {
			const pw_attempt_result *a = &t->attempts[j];
			json_t *ja = json_object();
			json_object_set_new(ja, "attempt", json_integer(a->attempt));
			json_object_set_new(ja, "status",
					    json_string(pw_task_state_name(a->state)));
			json_object_set_new(ja, "exit_code",
					    int_or_null(a->exit_code, a->exit_code >= 0));
			json_object_set_new(ja, "signal", int_or_null(a->signal, a->signal));
			json_object_set_new(
			    ja, "class",
			    a->failure_class >= 0
				? json_string(pw_failure_class_name(a->failure_class))
				: json_null());
			json_object_set_new(ja, "pid", json_integer(a->pid));
			json_object_set_new(ja, "log", json_string(a->log_path));
			json_object_set_new(ja, "duration_ms", json_integer(a->duration_ms));
			json_object_set_new(ja, "max_rss_kb", json_integer(a->max_rss_kb));
			json_object_set_new(
			    ja, "cpu_ms",
			    json_integer(a->cpu_ms ? a->cpu_ms : a->cpu_user_ms + a->cpu_sys_ms));
			if (a->memory_peak_bytes)
				json_object_set_new(ja, "memory_peak_bytes",
						    json_integer(a->memory_peak_bytes));
			if (a->cpu_throttled_ms > 0)
				json_object_set_new(ja, "cpu_throttled_ms",
						    json_integer(a->cpu_throttled_ms));
			if (a->costed) {
				char amount[40];
				pw_micros_format(a->cost_micros, amount, sizeof(amount));
				json_object_set_new(ja, "cost", json_string(amount));
				json_object_set_new(ja, "cost_micros",
						    json_integer(a->cost_micros));
			}
			json_object_set_new(ja, "error", str_or_null(a->error));
			json_array_append_new(al, ja);
		}
		json_object_set_new(jt, "attempt_log", al);
		json_array_append_new(tasks, jt);
	}
	json_object_set_new(root, "tasks", tasks);
	char *tmp = pw_xasprintf("%s.tmp", path);
	int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	int e = rc ? (errno ? -errno : -EIO) : 0;
	free(tmp);
	return e;
}
