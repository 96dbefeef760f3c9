#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pitwall/bundle.h"
#include "pitwall/recorder.h"

int pw_cmd_export(int argc, char **argv)
{
	const char *run_id = NULL, *out = NULL, *store_url = NULL, *v;
	bool manifest_only = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, "-o", "--output", &v)) {
			if (!v)
				return pw_cli_usage_error("export", "-o needs a file name");
			out = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("export", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_flag(argv, i, NULL, "--manifest-only")) {
			manifest_only = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("export", "unknown option '%s'", argv[i]);
		} else if (run_id) {
			return pw_cli_usage_error("export", "only one RUN_ID");
		} else {
			run_id = argv[i];
		}
	}
	if (!run_id || !out)
		return pw_cli_usage_error("export", "usage: pitwall export RUN_ID -o FILE.tar.zst");
	pw_audit_store *s = pw_cli_open_store("export", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pw_bundle_export(s, run_id, out, manifest_only, &err);
	if (rc != 0) {
		fprintf(stderr, "pitwall export: %s\n", err.buf);
		unlink(out);
	} else {
		printf("exported run %s to %s%s\n", run_id, out,
		       manifest_only ? " (manifest only)" : "");
	}
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc ? PW_EXIT_FAILED : PW_EXIT_OK;
}

static int count_run(const pw_audit_row *r, void *payload)
{
	(void)r;
	(*(size_t *)payload)++;
	return 1;
}

int pw_cmd_import(int argc, char **argv)
{
	const char *file = NULL, *store_url = NULL, *v;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("import", "--store needs a URL or path");
			store_url = v;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("import", "unknown option '%s'", argv[i]);
		} else if (file) {
			return pw_cli_usage_error("import", "only one FILE");
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return pw_cli_usage_error("import", "usage: pitwall import FILE [--store URL]");
	char tmpl[] = "/tmp/pitwall-import-XXXXXX";
	if (!mkdtemp(tmpl)) {
		perror("pitwall import: mkdtemp");
		return PW_EXIT_CANTCREAT;
	}
	int rc = PW_EXIT_OK;
	pw_strbuf err = PW_STRBUF_INIT;
	pw_bundle b;
	memset(&b, 0, sizeof(b));
	pw_audit_store *s = NULL;
	if (pw_bundle_extract(file, tmpl, &err) != 0 || pw_bundle_load(&b, tmpl, &err) != 0) {
		fprintf(stderr, "pitwall import: %s is not a valid bundle:\n%s", file, err.buf);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	s = pw_cli_open_store("import", store_url);
	if (!s) {
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	size_t have = 0;
	pw_audit_filter f = {.dag_run_id = b.run_id, .limit = 1};
	if (pw_audit_query(s, &f, count_run, &have, &err) != 0) {
		fprintf(stderr, "pitwall import: %s\n", err.buf);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	if (have) {
		fprintf(stderr, "pitwall import: run %s is already in %s; duplicates are refused\n",
			b.run_id, s->display);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	/*
	 * The rows join this store's chain (new seq, prev_hash, hash); where
	 * they came from stays in their metadata.
	 */
	for (size_t i = 0; i < b.nrows; i++) {
		pw_audit_row *r = &b.rows[i];
		json_error_t je;
		json_t *m = json_loads(r->metadata, 0, &je);
		if (!m)
			m = json_object();
		json_t *imp = json_object();
		json_object_set_new(imp, "bundle", json_string(file));
		json_object_set_new(imp, "seq", json_integer(r->seq));
		json_object_set_new(imp, "hash", json_string(r->hash));
		json_object_set_new(m, "imported", imp);
		free(r->metadata);
		r->metadata = json_dumps(m, JSON_COMPACT);
		json_decref(m);
	}
	b.rows = pw_xrealloc(b.rows, (b.nrows + 1) * sizeof(*b.rows));
	pw_audit_row *last = &b.rows[b.nrows];
	pw_audit_row_init(last, b.dag_id, b.run_id, NULL, "run_imported");
	char *actor = pw_default_actor();
	pw_audit_row_set(&last->actor, actor);
	free(actor);
	pw_audit_row_set(&last->action, "import");
	pw_audit_row_set(&last->status, "success");
	char *md = pw_xasprintf("{\"events\":%zu}", b.nrows);
	pw_audit_row_set(&last->metadata, md);
	free(md);
	b.nrows++;
	if (pw_audit_append(s, b.rows, b.nrows, &err) != 0) {
		fprintf(stderr, "pitwall import: %s\n", err.buf);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	printf("imported run %s (%zu events) into %s\n", b.run_id, b.nrows - 1, s->display);
out:
	pw_bundle_release(&b);
	pw_audit_close(s);
	pw_strbuf_release(&err);
	pw_rm_rf(tmpl);
	return rc;
}
