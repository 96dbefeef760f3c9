#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/sha256.h"
#include "pitwall/views.h"

typedef struct {
	int want; /* attempt, 0 = last */
	int found;
	char *log;
	char *sha;
	bool ended;
} find_log;

static int log_row(const pw_audit_row *r, void *payload)
{
	find_log *f = payload;
	bool start = strcmp(r->event_type, "task_start") == 0;
	bool end =
	    strcmp(r->event_type, "task_end") == 0 || strcmp(r->event_type, "task_retry") == 0;
	if (!start && !end)
		return 0;
	json_error_t e;
	json_t *m = json_loads(r->metadata, 0, &e);
	int attempt = (int)json_integer_value(json_object_get(m, "attempt"));
	const char *log = json_string_value(json_object_get(m, "log"));
	if (log && attempt > 0 && (f->want == 0 || f->want == attempt)) {
		if (attempt != f->found) {
			free(f->sha);
			f->sha = NULL;
			f->ended = false;
		}
		f->found = attempt;
		free(f->log);
		f->log = pw_xstrdup(log);
		if (end) {
			const char *sha = json_string_value(json_object_get(m, "log_sha256"));
			free(f->sha);
			f->sha = sha ? pw_xstrdup(sha) : NULL;
			f->ended = true;
		}
	}
	json_decref(m);
	return 0;
}

int pw_cmd_logs(int argc, char **argv)
{
	const char *run_id = NULL, *task_id = NULL, *store_url = NULL, *v;
	int attempt = 0;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("logs", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, "-a", "--attempt", &v)) {
			char *end;
			attempt = v ? (int)strtol(v, &end, 10) : 0;
			if (!v || *end || attempt < 1)
				return pw_cli_usage_error("logs",
							  "--attempt needs a number from 1");
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("logs", "unknown option '%s'", argv[i]);
		} else if (!run_id) {
			run_id = argv[i];
		} else if (!task_id) {
			task_id = argv[i];
		} else {
			return pw_cli_usage_error("logs", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!run_id || !task_id)
		return pw_cli_usage_error("logs",
					  "usage: pitwall logs RUN_ID TASK_ID [--attempt N]");
	pw_audit_store *s = pw_cli_open_store("logs", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	int rc = PW_EXIT_OK;
	pw_strbuf err = PW_STRBUF_INIT;
	pw_run_view rv;
	find_log f = {.want = attempt};
	int lr = pw_run_view_load(s, run_id, &rv, &err);
	if (lr != 0) {
		fprintf(stderr, "pitwall logs: %s\n",
			lr > 0 ? "no such run (see 'pitwall history')" : err.buf);
		rc = lr > 0 ? PW_EXIT_FAILED : PW_EXIT_SOFTWARE;
		goto out;
	}
	pw_audit_filter flt = {.dag_run_id = run_id, .task_id = task_id};
	if (pw_audit_query(s, &flt, log_row, &f, &err) != 0) {
		fprintf(stderr, "pitwall logs: %s\n", err.buf);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	if (!f.log) {
		fprintf(stderr, "pitwall logs: task '%s' has no %s in run %s\n", task_id,
			attempt ? "such attempt" : "recorded attempt", run_id);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	char *path = pw_xasprintf("%s/%s", rv.workspace ? rv.workspace : ".", f.log);
	char *text = NULL;
	size_t len = 0;
	int e = pw_read_file(path, &text, &len);
	if (e) {
		fprintf(stderr, "pitwall logs: cannot read %s: %s\n", path, strerror(-e));
		rc = PW_EXIT_FAILED;
	} else {
		fwrite(text, 1, len, stdout);
		if (f.sha) {
			char hex[65];
			pw_sha256_hex(text, len, hex);
			if (strcmp(hex, f.sha) != 0)
				fprintf(stderr,
					"pitwall logs: warning: %s changed since the attempt ended "
					"(recorded sha256 %s, now %s)\n",
					path, f.sha, hex);
		}
	}
	free(text);
	free(path);
out:
	free(f.log);
	free(f.sha);
	pw_run_view_release(&rv);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc;
}
