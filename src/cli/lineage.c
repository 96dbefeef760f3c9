/*
 * pitwall lineage PATH: the provenance chain of an artifact, from the
 * lineage events of the audit table.  An input's producer is the task whose
 * recorded output has the same path and sha256, in the same run first and
 * in any run otherwise; a file nothing recorded producing is a source.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
	char *run_id, *task_id, *git, *timestamp;
	int64_t seq;
	json_t *inputs, *outputs;
} lin_event;

typedef struct {
	lin_event *v;
	size_t n, cap;
	json_t *ws; /* run_id -> workspace */
} lin_set;

static int collect(const pw_audit_row *r, void *payload)
{
	lin_set *s = payload;
	json_error_t e;
	json_t *m = json_loads(r->metadata, 0, &e);
	if (!m)
		return 0;
	if (strcmp(r->event_type, "dag_run_start") == 0) {
		json_t *w = json_object_get(m, "workspace");
		if (json_is_string(w))
			json_object_set(s->ws, r->dag_run_id, w);
		json_decref(m);
		return 0;
	}
	PW_GROW(s->v, s->cap, s->n + 1);
	lin_event *l = &s->v[s->n++];
	l->run_id = pw_xstrdup(r->dag_run_id);
	l->task_id = pw_xstrdup(r->task_id ? r->task_id : "?");
	l->git = pw_xstrdup(r->git_commit_sha ? r->git_commit_sha : "unknown");
	l->timestamp = pw_xstrdup(r->timestamp);
	l->seq = r->seq;
	l->inputs = json_incref(json_object_get(m, "inputs"));
	l->outputs = json_incref(json_object_get(m, "outputs"));
	json_decref(m);
	return 0;
}

static json_t *find_file(json_t *list, const char *path, const char *sha)
{
	size_t i;
	json_t *f;
	json_array_foreach(list, i, f)
	{
		const char *p = json_string_value(json_object_get(f, "path"));
		const char *h = json_string_value(json_object_get(f, "sha256"));
		if (p && strcmp(p, path) == 0 && (!sha || (h && strcmp(h, sha) == 0)))
			return f;
	}
	return NULL;
}

/* The newest event producing path (with sha if given), preferring run_id. */
static lin_event *producer(lin_set *s, const char *path, const char *sha, const char *run_id)
{
	lin_event *best = NULL;
	for (size_t pass = 0; pass < 2 && !best; pass++) {
		for (size_t i = s->n; i-- > 0;) {
			lin_event *l = &s->v[i];
			if (pass == 0 && run_id && strcmp(l->run_id, run_id) != 0)
				continue;
			if (find_file(l->outputs, path, sha)) {
				best = l;
				break;
			}
		}
		if (!run_id)
			break;
	}
	return best;
}

static json_t *build(lin_set *s, const char *path, const char *sha, const char *run_id, int depth)
{
	json_t *node = json_object();
	json_object_set_new(node, "path", json_string(path));
	lin_event *p = depth < 64 ? producer(s, path, sha, run_id) : NULL;
	if (!p) {
		if (sha)
			json_object_set_new(node, "sha256", json_string(sha));
		json_object_set_new(node, "source", json_true());
		return node;
	}
	json_t *f = find_file(p->outputs, path, sha);
	json_object_set(node, "sha256", json_object_get(f, "sha256"));
	json_object_set(node, "size", json_object_get(f, "size"));
	json_t *by = json_object();
	json_object_set_new(by, "task_id", json_string(p->task_id));
	json_object_set_new(by, "run_id", json_string(p->run_id));
	json_object_set_new(by, "git_commit_sha", json_string(p->git));
	json_object_set_new(by, "timestamp", json_string(p->timestamp));
	json_object_set_new(by, "audit_seq", json_integer(p->seq));
	json_object_set_new(node, "produced_by", by);
	json_t *ins = json_array();
	size_t i;
	json_t *in;
	json_array_foreach(p->inputs, i, in)
	{
		const char *ip = json_string_value(json_object_get(in, "path"));
		const char *ih = json_string_value(json_object_get(in, "sha256"));
		if (ip)
			json_array_append_new(ins, build(s, ip, ih, p->run_id, depth + 1));
	}
	json_object_set_new(node, "inputs", ins);
	return node;
}

static void print_tree(json_t *n, const char *prefix, bool last, bool root)
{
	const char *sha = json_string_value(json_object_get(n, "sha256"));
	json_t *by = json_object_get(n, "produced_by");
	printf("%s%s%s  sha256:%.12s", prefix,
	       root   ? ""
	       : last ? "└─ "
		      : "├─ ",
	       json_string_value(json_object_get(n, "path")), sha ? sha : "?");
	if (json_object_get(n, "size"))
		printf("  %lld bytes", (long long)json_integer_value(json_object_get(n, "size")));
	if (by)
		printf("\n%s%s   produced by task %s in run %s (git %.12s) at %s", prefix,
		       root   ? ""
		       : last ? "   "
			      : "│  ",
		       json_string_value(json_object_get(by, "task_id")),
		       json_string_value(json_object_get(by, "run_id")),
		       json_string_value(json_object_get(by, "git_commit_sha")),
		       json_string_value(json_object_get(by, "timestamp")));
	else
		printf("  (source: no recorded producer)");
	printf("\n");
	json_t *ins = json_object_get(n, "inputs");
	char *child = pw_xasprintf("%s%s", prefix, root ? "" : last ? "   " : "│  ");
	for (size_t i = 0; i < json_array_size(ins); i++)
		print_tree(json_array_get(ins, i), child, i + 1 == json_array_size(ins), false);
	free(child);
}

int pw_cmd_lineage(int argc, char **argv)
{
	const char *path = NULL, *run_id = NULL, *store_url = NULL, *v;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("lineage", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--run", &v)) {
			if (!v)
				return pw_cli_usage_error("lineage", "--run needs a run id");
			run_id = v;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			json = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("lineage", "unknown option '%s'", argv[i]);
		} else if (path) {
			return pw_cli_usage_error("lineage", "only one PATH");
		} else {
			path = argv[i];
		}
	}
	if (!path)
		return pw_cli_usage_error("lineage",
					  "no PATH given (a file a task declared in outputs)");
	pw_audit_store *s = pw_cli_open_store("lineage", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	lin_set set = {.ws = json_object()};
	pw_strbuf err = PW_STRBUF_INIT;
	pw_audit_filter f1 = {.event_type = "lineage"}, f0 = {.event_type = "dag_run_start"};
	int rc = PW_EXIT_OK;
	if (pw_audit_query(s, &f0, collect, &set, &err) != 0 ||
	    pw_audit_query(s, &f1, collect, &set, &err) != 0) {
		fprintf(stderr, "pitwall lineage: %s\n", err.buf);
		rc = PW_EXIT_SOFTWARE;
		goto out;
	}
	/* An absolute path inside a recorded workspace names a workspace-relative file. */
	char *rel = NULL;
	char *abs = realpath(path, NULL);
	const char *key;
	json_t *wsv;
	json_object_foreach(set.ws, key, wsv)
	{
		const char *w = json_string_value(wsv);
		size_t wl = strlen(w);
		if (abs && strncmp(abs, w, wl) == 0 && abs[wl] == '/') {
			if (!run_id || strcmp(run_id, key) == 0) {
				free(rel);
				rel = pw_xstrdup(abs + wl + 1);
			}
		}
	}
	free(abs);
	const char *want = rel ? rel : path;
	while (want[0] == '.' && want[1] == '/')
		want += 2;
	if (!producer(&set, want, NULL, run_id)) {
		fprintf(stderr,
			"pitwall lineage: no task recorded producing '%s'%s%s\n  hint: paths are "
			"relative to the run workspace and must match a task's outputs\n",
			want, run_id ? " in run " : "", run_id ? run_id : "");
		free(rel);
		rc = PW_EXIT_FAILED;
		goto out;
	}
	json_t *tree = build(&set, want, NULL, run_id, 0);
	if (json) {
		json_dumpf(tree, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		print_tree(tree, "", true, true);
	}
	json_decref(tree);
	free(rel);
out:
	for (size_t i = 0; i < set.n; i++) {
		free(set.v[i].run_id);
		free(set.v[i].task_id);
		free(set.v[i].git);
		free(set.v[i].timestamp);
		json_decref(set.v[i].inputs);
		json_decref(set.v[i].outputs);
	}
	free(set.v);
	json_decref(set.ws);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc;
}
