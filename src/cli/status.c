#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/views.h"

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int pw_cmd_status(int argc, char **argv)
{
	const char *run_id = NULL, *store_url = NULL, *v;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("status", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			json = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("status", "unknown option '%s'", argv[i]);
		} else if (run_id) {
			return pw_cli_usage_error("status", "only one RUN_ID");
		} else {
			run_id = argv[i];
		}
	}
	if (!run_id)
		return pw_cli_usage_error("status", "no RUN_ID given (see 'pitwall history')");
	pw_audit_store *s = pw_cli_open_store("status", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	pw_run_view rv;
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pw_run_view_load(s, run_id, &rv, &err);
	if (rc != 0) {
		if (rc > 0)
			fprintf(stderr,
				"pitwall status: no run '%s' in %s\n  hint: 'pitwall history' "
				"lists runs\n",
				run_id, s->display);
		else
			fprintf(stderr, "pitwall status: %s\n", err.buf);
		pw_strbuf_release(&err);
		pw_run_view_release(&rv);
		pw_audit_close(s);
		return rc > 0 ? PW_EXIT_FAILED : PW_EXIT_SOFTWARE;
	}
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "dag_id", jstr_or_null(rv.dag_id));
		json_object_set_new(o, "run_id", jstr_or_null(rv.run_id));
		json_object_set_new(o, "status", jstr_or_null(rv.status));
		json_object_set_new(o, "started", jstr_or_null(rv.started));
		json_object_set_new(o, "ended", jstr_or_null(rv.ended));
		json_object_set_new(o, "logical_date", jstr_or_null(rv.logical_date));
		json_object_set_new(o, "actor", jstr_or_null(rv.actor));
		json_object_set_new(o, "git_commit_sha", jstr_or_null(rv.git_sha));
		json_object_set_new(o, "workspace", jstr_or_null(rv.workspace));
		json_object_set_new(o, "dag_sha256", jstr_or_null(rv.dag_sha256));
		json_object_set_new(o, "duration_ms", json_integer(rv.duration_ms));
		json_t *tasks = json_array();
		for (size_t i = 0; i < rv.ntasks; i++) {
			pw_task_view *t = &rv.tasks[i];
			json_t *jt = json_object();
			json_object_set_new(jt, "task_id", json_string(t->task_id));
			json_object_set_new(jt, "state", json_string(t->state));
			json_object_set_new(jt, "attempts", json_integer(t->attempts));
			json_object_set_new(jt, "duration_ms", json_integer(t->duration_ms));
			json_object_set_new(jt, "exit_code",
					    t->exit_code >= 0 ? json_integer(t->exit_code)
							      : json_null());
			json_object_set_new(jt, "signal",
					    t->signal ? json_integer(t->signal) : json_null());
			json_object_set_new(jt, "error", jstr_or_null(t->error));
			json_object_set_new(jt, "log", jstr_or_null(t->log));
			json_array_append_new(tasks, jt);
		}
		json_object_set_new(o, "tasks", tasks);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		printf("run %s of %s: %s\n", rv.run_id, rv.dag_id, rv.status);
		printf("started %s%s%s by %s, logical date %s, git %s\n", rv.started,
		       rv.ended ? ", ended " : "", rv.ended ? rv.ended : "",
		       rv.actor ? rv.actor : "?", rv.logical_date ? rv.logical_date : "?",
		       rv.git_sha ? rv.git_sha : "unknown");
		if (rv.workspace)
			printf("workspace %s\n", rv.workspace);
		size_t w = 4;
		for (size_t i = 0; i < rv.ntasks; i++)
			if (strlen(rv.tasks[i].task_id) > w)
				w = strlen(rv.tasks[i].task_id);
		printf("%-*s  %-15s  %8s  %8s  %s\n", (int)w, "TASK", "STATE", "ATTEMPTS",
		       "DURATION", "EXIT");
		for (size_t i = 0; i < rv.ntasks; i++) {
			pw_task_view *t = &rv.tasks[i];
			char dur[32] = "-", ex[80] = "-";
			if (t->duration_ms || t->exit_code >= 0)
				pw_format_duration(t->duration_ms, dur, sizeof(dur));
			if (t->error)
				snprintf(ex, sizeof(ex), "error: %.60s", t->error);
			else if (t->signal)
				snprintf(ex, sizeof(ex), "signal %d", t->signal);
			else if (t->exit_code >= 0)
				snprintf(ex, sizeof(ex), "%d", t->exit_code);
			printf("%-*s  %-15s  %8d  %8s  %s\n", (int)w, t->task_id, t->state,
			       t->attempts, dur, ex);
		}
		if (strcmp(rv.status, "interrupted") == 0)
			printf("the pitwall process of this run is gone; 'pitwall resume %s' "
			       "carries on\n",
			       rv.run_id);
	}
	pw_strbuf_release(&err);
	pw_run_view_release(&rv);
	pw_audit_close(s);
	return PW_EXIT_OK;
}
