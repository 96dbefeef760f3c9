#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/run.h"

typedef struct {
	bool json;
	size_t n;
} query_state;

static int print_row(const pw_audit_row *r, void *payload)
{
	query_state *q = payload;
	q->n++;
	if (q->json) {
		char *line = pw_audit_row_to_json(r);
		puts(line);
		free(line);
	} else {
		printf("%6lld  %s  %-28s  %-18s  %-14s  %-15s  %s\n", (long long)r->seq,
		       r->timestamp, r->dag_run_id, r->task_id ? r->task_id : "-", r->event_type,
		       r->status ? r->status : "-", r->actor ? r->actor : "-");
	}
	return 0;
}

static int cmd_query(int argc, char **argv)
{
	pw_audit_filter f = {0};
	const char *store_url = NULL, *v;
	query_state q = {0};
	char since[40];
	for (int i = 1; i < argc; i++) {
		v = "";
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--run", &v)) {
			f.dag_run_id = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--task", &v)) {
			f.task_id = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--dag", &v)) {
			f.dag_id = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--event", &v)) {
			f.event_type = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--since", &v)) {
			int64_t t;
			if (!v || pw_parse_iso8601(v, &t) != 0)
				return pw_cli_usage_error("audit",
							  "--since needs an ISO 8601 time");
			pw_format_iso8601_ms(t * 1000, since, sizeof(since));
			f.since = since;
		} else if (pw_cli_opt(argc, argv, &i, "-n", "--limit", &v)) {
			f.limit = v ? strtoll(v, NULL, 10) : 0;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			q.json = true;
		} else {
			return pw_cli_usage_error("audit", "unknown argument '%s'", argv[i]);
		}
		if (!v)
			return pw_cli_usage_error("audit", "%s needs a value", argv[i]);
	}
	pw_audit_store *s = pw_cli_open_store("audit", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	pw_strbuf err = PW_STRBUF_INIT;
	if (!q.json)
		printf("%6s  %-24s  %-28s  %-18s  %-14s  %-15s  %s\n", "SEQ", "TIMESTAMP", "RUN",
		       "TASK", "EVENT", "STATUS", "ACTOR");
	int rc = pw_audit_query(s, &f, print_row, &q, &err);
	if (rc != 0)
		fprintf(stderr, "pitwall audit query: %s\n", err.buf);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc ? PW_EXIT_SOFTWARE : PW_EXIT_OK;
}

static int cmd_verify(int argc, char **argv)
{
	const char *store_url = NULL, *v;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("audit", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			json = true;
		} else {
			return pw_cli_usage_error("audit", "unknown argument '%s'", argv[i]);
		}
	}
	pw_audit_store *s = pw_cli_open_store("audit", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	pw_audit_verify_result res;
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pw_audit_verify(s, &res, &err);
	if (rc != 0) {
		fprintf(stderr, "pitwall audit verify: %s\n", err.buf);
		rc = PW_EXIT_SOFTWARE;
	} else if (json) {
		printf("{\"ok\":%s,\"rows\":%lld,\"store\":\"%s\"", res.ok ? "true" : "false",
		       (long long)res.rows, s->display);
		if (!res.ok)
			printf(",\"bad_seq\":%lld,\"audit_id\":\"%s\",\"problem\":\"%s\"",
			       (long long)res.bad_seq, res.bad_audit_id, res.problem);
		printf("}\n");
		rc = res.ok ? PW_EXIT_OK : PW_EXIT_FAILED;
	} else if (res.ok) {
		printf("audit chain intact: %lld rows verified in %s\n", (long long)res.rows,
		       s->display);
	} else {
		printf("audit chain BROKEN at seq %lld (audit_id %s): %s\n", (long long)res.bad_seq,
		       res.bad_audit_id, res.problem);
		printf("%lld rows before it verified\n", (long long)res.rows - 1);
		rc = PW_EXIT_FAILED;
	}
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc;
}

int pw_cmd_audit(int argc, char **argv)
{
	if (argc < 2)
		return pw_cli_usage_error("audit", "usage: pitwall audit query|verify [options]");
	if (strcmp(argv[1], "query") == 0)
		return cmd_query(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	return pw_cli_usage_error("audit", "unknown subcommand '%s' (query or verify)", argv[1]);
}
