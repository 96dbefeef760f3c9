#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pitwall/bundle.h"
#include "pitwall/sha256.h"
#include "pitwall/views.h"

typedef struct {
	pw_audit_row *v;
	size_t n, cap;
} row_vec;

static int collect_rows(const pw_audit_row *r, void *payload)
{
	row_vec *rv = payload;
	PW_GROW(rv->v, rv->cap, rv->n + 1);
	pw_audit_row_copy(&rv->v[rv->n++], r);
	return 0;
}

typedef struct {
	int64_t last;
	const char *run_id;
	pw_strbuf *out;
} chain_state;

/* (seq, prev_hash, hash) of every row of the store between the run's first and last. */
static int chain_row(const pw_audit_row *r, void *payload)
{
	chain_state *c = payload;
	if (r->seq > c->last)
		return 1;
	pw_strbuf_addf(c->out, "{\"seq\":%lld,\"prev_hash\":\"%s\",\"hash\":\"%s\",\"run\":%s}\n",
		       (long long)r->seq, r->prev_hash, r->hash,
		       strcmp(r->dag_run_id, c->run_id) == 0 ? "true" : "false");
	return 0;
}

static int add_mem(struct archive *a, const char *name, const void *data, size_t len,
		   pw_strbuf *err)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	int rc = 0;
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(a, data, len) != (la_ssize_t)len)) {
		pw_strbuf_addf(err, "cannot write %s into the bundle: %s", name,
			       archive_error_string(a));
		rc = -1;
	}
	archive_entry_free(e);
	return rc;
}

static int add_file(struct archive *a, const char *name, const char *path, pw_strbuf *err)
{
	char *data = NULL;
	size_t len = 0;
	int e = pw_read_file(path, &data, &len);
	if (e) {
		pw_strbuf_addf(err, "cannot read %s: %s", path, strerror(-e));
		return -1;
	}
	int rc = add_mem(a, name, data, len, err);
	free(data);
	return rc;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pw_bundle_export(pw_audit_store *s, const char *run_id, const char *path, bool manifest_only,
		     pw_strbuf *err)
{
	row_vec rows = {0};
	pw_run_view rv;
	memset(&rv, 0, sizeof(rv));
	pw_audit_filter f = {.dag_run_id = run_id};
	int rc = -1;
	struct archive *a = NULL;
	json_t *outputs = json_array(), *exes = json_object(), *logs = json_object();
	if (pw_audit_query(s, &f, collect_rows, &rows, err) != 0)
		goto out;
	if (!rows.n) {
		pw_strbuf_addf(err, "no run '%s' in %s", run_id, s->display);
		goto out;
	}
	for (size_t i = 0; i < rows.n; i++)
		pw_run_view_fold(&rv, &rows.v[i]);
	if (!rv.dag_text) {
		pw_strbuf_addf(err, "run %s has no recorded DAG text", run_id);
		goto out;
	}
	/* The last lineage of each task, and the digests of what ran. */
	json_t *by_task = json_object();
	for (size_t i = 0; i < rows.n; i++) {
		pw_audit_row *r = &rows.v[i];
		if (!r->task_id)
			continue;
		json_error_t je;
		json_t *m = json_loads(r->metadata, 0, &je);
		if (strcmp(r->event_type, "lineage") == 0)
			json_object_set(by_task, r->task_id, json_object_get(m, "outputs"));
		if (strcmp(r->event_type, "task_start") == 0 && r->container_image_digest)
			json_object_set_new(exes, r->task_id,
					    json_string(r->container_image_digest));
		if ((strcmp(r->event_type, "task_end") == 0 ||
		     strcmp(r->event_type, "task_retry") == 0) &&
		    json_is_string(json_object_get(m, "log")))
			json_object_set(logs, json_string_value(json_object_get(m, "log")),
					json_object_get(m, "log_sha256"));
		json_decref(m);
	}
	const char *tid;
	json_t *outs;
	json_object_foreach(by_task, tid, outs)
	{
		size_t k;
		json_t *o;
		json_array_foreach(outs, k, o)
		{
			json_t *e = json_deep_copy(o);
			json_object_set_new(e, "task_id", json_string(tid));
			json_array_append_new(outputs, e);
		}
	}
	json_decref(by_task);

	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	size_t pl = strlen(path);
	if (pl > 4 && strcmp(path + pl - 4, ".zst") == 0)
		archive_write_add_filter_zstd(a);
	else if (pl > 3 && strcmp(path + pl - 3, ".gz") == 0)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
		pw_strbuf_addf(err, "cannot create %s: %s", path, archive_error_string(a));
		goto out;
	}
	json_t *head = json_object();
	json_object_set_new(head, "format", json_string("pitwall-bundle"));
	json_object_set_new(head, "version", json_integer(1));
	json_object_set_new(head, "run_id", json_string(run_id));
	json_object_set_new(head, "dag_id", json_string(rv.dag_id ? rv.dag_id : ""));
	json_object_set_new(head, "pitwall_version", json_string(PW_VERSION));
	json_object_set_new(head, "events", json_integer((json_int_t)rows.n));
	json_object_set_new(head, "manifest_only", json_boolean(manifest_only));
	char *hs = json_dumps(head, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(head);
	rc = add_mem(a, "pitwall-bundle.json", hs, strlen(hs), err);
	free(hs);
	if (rc == 0)
		rc = add_mem(a, "dag.yaml", rv.dag_text, strlen(rv.dag_text), err);
	pw_strbuf ev = PW_STRBUF_INIT;
	for (size_t i = 0; i < rows.n; i++) {
		char *line = pw_audit_row_to_json(&rows.v[i]);
		pw_strbuf_adds(&ev, line);
		pw_strbuf_addc(&ev, '\n');
		free(line);
	}
	if (rc == 0)
		rc = add_mem(a, "events.jsonl", ev.buf, ev.len, err);
	pw_strbuf_release(&ev);
	/*
	 * The stretch of the store's hash chain the run's events sit in (other
	 * runs' rows by their hashes only), so a deleted event shows as a hole.
	 */
	pw_strbuf chain = PW_STRBUF_INIT;
	chain_state cs = {rows.v[rows.n - 1].seq, run_id, &chain};
	pw_audit_filter cf = {.after_seq = rows.v[0].seq - 1};
	if (rc == 0 && pw_audit_query(s, &cf, chain_row, &cs, err) != 0)
		rc = -1;
	if (rc == 0)
		rc = add_mem(a, "chain.jsonl", chain.buf ? chain.buf : "", chain.len, err);
	pw_strbuf_release(&chain);
	json_t *lin = json_object();
	json_object_set(lin, "outputs", outputs);
	json_object_set(lin, "executables", exes);
	json_object_set(lin, "logs", logs);
	char *ls = json_dumps(lin, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(lin);
	if (rc == 0)
		rc = add_mem(a, "lineage.json", ls, strlen(ls), err);
	free(ls);

	/* Artifacts and logs, sorted by name. */
	size_t nfiles = json_array_size(outputs) + json_object_size(logs), nf = 0;
	char **names = pw_xcalloc(nfiles + 1, sizeof(*names));
	size_t k;
	json_t *o;
	if (!manifest_only)
		json_array_foreach(outputs, k, o)
		{
			names[nf++] = pw_xasprintf("artifacts/%s",
						   json_string_value(json_object_get(o, "path")));
		}
	const char *lname;
	json_t *lv;
	json_object_foreach(logs, lname, lv)
	{
		names[nf++] = pw_xasprintf("%s", lname);
	}
	qsort(names, nf, sizeof(*names), strcmp_p);
	for (size_t i = 0; i < nf && rc == 0; i++) {
		if (i && strcmp(names[i], names[i - 1]) == 0)
			continue;
		const char *rel =
		    strncmp(names[i], "artifacts/", 10) == 0 ? names[i] + 10 : names[i];
		char *full = pw_xasprintf("%s/%s", rv.workspace ? rv.workspace : ".", rel);
		struct stat st;
		if (stat(full, &st) == 0)
			rc = add_file(a, names[i], full, err);
		else if (strncmp(names[i], "artifacts/", 10) == 0) {
			pw_strbuf_addf(err, "output %s of run %s is gone from %s", rel, run_id,
				       rv.workspace ? rv.workspace : "its workspace");
			rc = -1;
		}
		free(full);
	}
	for (size_t i = 0; i < nf; i++)
		free(names[i]);
	free(names);
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0) {
		pw_strbuf_addf(err, "cannot finish %s: %s", path, archive_error_string(a));
		rc = -1;
	}
out:
	if (a)
		archive_write_free(a);
	json_decref(outputs);
	json_decref(exes);
	json_decref(logs);
	for (size_t i = 0; i < rows.n; i++)
		pw_audit_row_release(&rows.v[i]);
	free(rows.v);
	pw_run_view_release(&rv);
	return rc;
}

int pw_bundle_extract(const char *path, const char *dir, pw_strbuf *err)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	int rc = 0;
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		pw_strbuf_addf(err, "cannot open bundle %s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	pw_mkdir_p(dir, 0755);
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		while (name && name[0] == '.' && name[1] == '/')
			name += 2;
		if (name && archive_entry_filetype(e) == AE_IFDIR && name[0] != '/' &&
		    !strstr(name, "..")) {
			continue; /* directories are made as files need them */
		}
		if (!name || name[0] == '/' || strstr(name, "..") ||
		    archive_entry_filetype(e) != AE_IFREG) {
			pw_strbuf_addf(err, "bundle %s: refusing entry '%s'", path,
				       name ? name : "?");
			rc = -1;
			break;
		}
		char *full = pw_xasprintf("%s/%s", dir, name);
		char *slash = strrchr(full, '/');
		*slash = '\0';
		pw_mkdir_p(full, 0755);
		*slash = '/';
		int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			pw_strbuf_addf(err, "cannot write %s: %s", full, strerror(errno));
			free(full);
			rc = -1;
			break;
		}
		if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
			pw_strbuf_addf(err, "bundle %s: %s: %s", path, name,
				       archive_error_string(a));
			rc = -1;
		}
		close(fd);
		free(full);
		if (rc)
			break;
	}
	if (r != ARCHIVE_EOF && r != ARCHIVE_OK && rc == 0) {
		pw_strbuf_addf(err, "bundle %s is damaged: %s", path, archive_error_string(a));
		rc = -1;
	}
	archive_read_free(a);
	return rc;
}

int pw_bundle_load(pw_bundle *b, const char *dir, pw_strbuf *err)
{
	memset(b, 0, sizeof(*b));
	b->dir = pw_xstrdup(dir);
	int problems = 0;
	char *p = pw_xasprintf("%s/pitwall-bundle.json", dir);
	json_error_t je;
	json_t *head = json_load_file(p, 0, &je);
	free(p);
	if (!head || strcmp(json_string_value(json_object_get(head, "format")) ?: "",
			    "pitwall-bundle") != 0) {
		pw_strbuf_addf(err,
			       "not a pitwall bundle (pitwall-bundle.json missing or wrong)\n");
		json_decref(head);
		return -1;
	}
	b->manifest_only = json_is_true(json_object_get(head, "manifest_only"));
	json_decref(head);

	char *text = NULL;
	size_t len = 0;
	p = pw_xasprintf("%s/events.jsonl", dir);
	int e = pw_read_file(p, &text, &len);
	free(p);
	if (e) {
		pw_strbuf_addf(err, "events.jsonl missing from the bundle\n");
		return -1;
	}
	size_t cap = 0;
	char *save = NULL;
	int lineno = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		PW_GROW(b->rows, cap, b->nrows + 1);
		pw_audit_row *r = &b->rows[b->nrows];
		if (pw_audit_row_from_json(r, line) != 0) {
			pw_strbuf_addf(err, "events.jsonl:%d: not an audit row\n", lineno);
			problems++;
			continue;
		}
		b->nrows++;
		char h[65];
		pw_audit_row_hash(r, h);
		if (strcmp(h, r->hash) != 0) {
			pw_strbuf_addf(
			    err,
			    "events.jsonl:%d: seq %lld: hash does not match the row (edited)\n",
			    lineno, (long long)r->seq);
			problems++;
		}
		if (b->nrows > 1 && r->seq <= b->rows[b->nrows - 2].seq) {
			pw_strbuf_addf(err, "events.jsonl:%d: seq %lld out of order\n", lineno,
				       (long long)r->seq);
			problems++;
		}
		if (!b->run_id) {
			b->run_id = pw_xstrdup(r->dag_run_id);
			b->dag_id = pw_xstrdup(r->dag_id);
		} else if (strcmp(b->run_id, r->dag_run_id) != 0) {
			pw_strbuf_addf(err, "events.jsonl:%d: event of another run (%s)\n", lineno,
				       r->dag_run_id);
			problems++;
		}
	}
	free(text);
	if (!b->nrows) {
		pw_strbuf_addf(err, "the bundle holds no events\n");
		return -1;
	}

	/* The DAG text is the one the run recorded. */
	pw_run_view rv;
	memset(&rv, 0, sizeof(rv));
	for (size_t i = 0; i < b->nrows; i++)
		pw_run_view_fold(&rv, &b->rows[i]);
	p = pw_xasprintf("%s/dag.yaml", dir);
	char hex[65];
	if (pw_sha256_file(p, hex, NULL) != 0 || !rv.dag_sha256 ||
	    strcmp(hex, rv.dag_sha256) != 0) {
		pw_strbuf_addf(err, "dag.yaml does not match the recorded DAG digest\n");
		problems++;
	}
	free(p);
	pw_run_view_release(&rv);

	/* The chain segment: contiguous, linked, and holding every event of the run. */
	p = pw_xasprintf("%s/chain.jsonl", dir);
	text = NULL;
	if (pw_read_file(p, &text, &len) != 0) {
		pw_strbuf_addf(err, "chain.jsonl missing from the bundle\n");
		problems++;
	} else {
		char prev[65] = "";
		int64_t expect = 0;
		size_t ri = 0;
		save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			json_t *c = json_loads(line, 0, &je);
			int64_t seq = json_integer_value(json_object_get(c, "seq"));
			const char *ph = json_string_value(json_object_get(c, "prev_hash"));
			const char *h = json_string_value(json_object_get(c, "hash"));
			bool run = json_is_true(json_object_get(c, "run"));
			if (!c || !ph || !h || (expect && seq != expect) ||
			    (prev[0] && strcmp(ph, prev))) {
				pw_strbuf_addf(err,
					       "chain.jsonl: the chain is broken at seq %lld\n",
					       (long long)seq);
				problems++;
				json_decref(c);
				break;
			}
			if (run) {
				if (ri >= b->nrows || b->rows[ri].seq != seq ||
				    strcmp(b->rows[ri].hash, h) != 0) {
					pw_strbuf_addf(
					    err,
					    "events.jsonl: the run's event at seq %lld is missing "
					    "or differs from the chain\n",
					    (long long)seq);
					problems++;
					json_decref(c);
					break;
				}
				ri++;
			}
			snprintf(prev, sizeof(prev), "%s", h);
			expect = seq + 1;
			json_decref(c);
		}
		if (!problems && ri != b->nrows) {
			pw_strbuf_addf(err, "events.jsonl holds events the chain does not\n");
			problems++;
		}
	}
	free(text);
	free(p);

	/*
	 * Artifacts and logs against the hashed events (lineage.json is a
	 * convenience copy and must agree with them).
	 */
	json_t *want = json_object(), *logs = json_object();
	for (size_t i = 0; i < b->nrows; i++) {
		pw_audit_row *r = &b->rows[i];
		json_t *m = json_loads(r->metadata, 0, &je);
		if (strcmp(r->event_type, "lineage") == 0) {
			size_t k;
			json_t *o;
			json_array_foreach(json_object_get(m, "outputs"), k, o)
			{
				const char *path = json_string_value(json_object_get(o, "path"));
				if (path)
					json_object_set(want, path, json_object_get(o, "sha256"));
			}
		} else if ((strcmp(r->event_type, "task_end") == 0 ||
			    strcmp(r->event_type, "task_retry") == 0) &&
			   json_is_string(json_object_get(m, "log_sha256"))) {
			json_object_set(logs, json_string_value(json_object_get(m, "log")),
					json_object_get(m, "log_sha256"));
		}
		json_decref(m);
	}
	p = pw_xasprintf("%s/lineage.json", dir);
	json_t *lin = json_load_file(p, 0, &je);
	free(p);
	if (!lin) {
		pw_strbuf_addf(err, "lineage.json missing or damaged: %s\n", je.text);
		problems++;
	} else {
		size_t k;
		json_t *o;
		json_array_foreach(json_object_get(lin, "outputs"), k, o)
		{
			const char *path = json_string_value(json_object_get(o, "path"));
			json_t *w = path ? json_object_get(want, path) : NULL;
			if (!w || !json_equal(w, json_object_get(o, "sha256"))) {
				pw_strbuf_addf(
				    err,
				    "lineage.json: %s does not match the recorded lineage events\n",
				    path ? path : "?");
				problems++;
			}
		}
	}
	const char *path;
	json_t *sha;
	if (!b->manifest_only) {
		json_object_foreach(want, path, sha)
		{
			char *full = pw_xasprintf("%s/artifacts/%s", dir, path);
			if (pw_sha256_file(full, hex, NULL) != 0) {
				pw_strbuf_addf(err, "artifact %s is missing from the bundle\n",
					       path);
				problems++;
			} else if (strcmp(hex, json_string_value(sha)) != 0) {
				pw_strbuf_addf(
				    err, "artifact %s does not match its recorded sha256\n", path);
				problems++;
			}
			free(full);
		}
	}
	json_object_foreach(logs, path, sha)
	{
		char *full = pw_xasprintf("%s/%s", dir, path);
		if (pw_sha256_file(full, hex, NULL) == 0 &&
		    strcmp(hex, json_string_value(sha)) != 0) {
			pw_strbuf_addf(err, "log %s does not match its recorded sha256\n", path);
			problems++;
		}
		free(full);
	}
	json_decref(want);
	json_decref(logs);
	json_decref(lin);
	return problems ? -1 : 0;
}

void pw_bundle_release(pw_bundle *b)
{
	for (size_t i = 0; i < b->nrows; i++)
		pw_audit_row_release(&b->rows[i]);
	free(b->rows);
	free(b->dir);
	free(b->run_id);
	free(b->dag_id);
	memset(b, 0, sizeof(*b));
}
