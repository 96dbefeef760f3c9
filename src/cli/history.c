#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/views.h"

int pw_cmd_history(int argc, char **argv)
{
	const char *dag_id = NULL, *store_url = NULL, *v;
	long limit = 20;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("history", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, "-n", "--limit", &v)) {
			char *end;
			limit = v ? strtol(v, &end, 10) : -1;
			if (!v || *end || limit < 1)
				return pw_cli_usage_error("history",
							  "--limit needs a positive number");
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			json = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("history", "unknown option '%s'", argv[i]);
		} else if (dag_id) {
			return pw_cli_usage_error("history", "only one DAG_ID");
		} else {
			dag_id = argv[i];
		}
	}
	pw_audit_store *s = pw_cli_open_store("history", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	pw_run_list l;
	pw_strbuf err = PW_STRBUF_INIT;
	if (pw_run_list_load(s, dag_id, limit, &l, &err) != 0) {
		fprintf(stderr, "pitwall history: %s\n", err.buf);
		pw_strbuf_release(&err);
		pw_audit_close(s);
		return PW_EXIT_SOFTWARE;
	}
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < l.n; i++) {
			pw_run_view *r = &l.v[i];
			json_t *o = json_object();
			json_object_set_new(o, "run_id", json_string(r->run_id));
			json_object_set_new(o, "dag_id", json_string(r->dag_id));
			json_object_set_new(o, "status", json_string(r->status ? r->status : "?"));
			json_object_set_new(o, "started",
					    json_string(r->started ? r->started : ""));
			json_object_set_new(o, "ended",
					    r->ended ? json_string(r->ended) : json_null());
			json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
			json_object_set_new(o, "actor",
					    r->actor ? json_string(r->actor) : json_null());
			json_object_set_new(o, "logical_date",
					    r->logical_date ? json_string(r->logical_date)
							    : json_null());
			json_object_set_new(o, "git_commit_sha",
					    r->git_sha ? json_string(r->git_sha) : json_null());
			json_array_append_new(a, o);
		}
		json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(a);
	} else {
		printf("%-40s  %-20s  %-11s  %-24s  %9s  %s\n", "RUN", "DAG", "STATUS", "STARTED",
		       "DURATION", "ACTOR");
		for (size_t i = 0; i < l.n; i++) {
			pw_run_view *r = &l.v[i];
			char dur[32] = "-";
			if (r->ended)
				pw_format_duration(r->duration_ms, dur, sizeof(dur));
			printf("%-40s  %-20s  %-11s  %-24s  %9s  %s\n", r->run_id, r->dag_id,
			       r->status ? r->status : "?", r->started ? r->started : "", dur,
			       r->actor ? r->actor : "");
		}
		if (!l.n)
			printf("(no runs recorded in %s)\n", s->display);
	}
	pw_run_list_release(&l);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return PW_EXIT_OK;
}
