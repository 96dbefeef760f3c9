/*
 * OpenLineage RunEvents from a run's events (include/pitwall/openlineage.h).
 *
 * Two halves.  The executor thread calls event() and flush(): event() turns
 * a pitwall event into zero or one RunEvent (compact JSON, one line) and
 * keeps it in `pending`; flush() moves the batch to `queue` for the sender
 * thread.  The sender thread owns the transport (a file, or libcurl) and the
 * spool: each batch goes out after whatever waits in the spool, in order;
 * what cannot be sent is appended to the spool.  After a failure the
 * endpoint rests (1 s, doubling to 60 s) and batches go straight to the
 * spool, so a down endpoint costs neither the run nor the loop any time.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pitwall/audit.h"
#include "pitwall/openlineage.h"
#include "pitwall/provenance.h"
#include "pitwall/sha256.h"
#include "pitwall/util.h"

#define OL_PRODUCER "https://github.com/pitwall/pitwall/tree/v" PW_VERSION
#define OL_FACETS "https://openlineage.io/spec/facets/"
#define OL_PARENT_URL OL_FACETS "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
#define OL_NOMINAL_URL OL_FACETS "1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
#define OL_ERROR_URL OL_FACETS "1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
#define OL_SOURCE_URL                                                                              \
	OL_FACETS "1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
#define OL_VERSION_URL                                                                             \
	OL_FACETS "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
#define OL_PITWALL_URL                                                                             \
	"https://github.com/pitwall/pitwall/blob/v" PW_VERSION                                     \
	"/docs/openlineage.md#the-pitwall-run-facet"
#define OL_DEFAULT_PATH "/api/v1/lineage"

enum {
	OL_TRIES = 3, /* per event and delivery: 100 ms, then 400 ms apart */
	OL_CONNECT_TIMEOUT_MS = 2000,
	OL_TIMEOUT_MS = 5000,
	OL_CLOSE_BUDGET_MS = 5000, /* what close() may spend on the last delivery */
	OL_REST_MIN_MS = 1000,	   /* after a failure, the endpoint rests this long... */
	OL_REST_MAX_MS = 60000,	   /* ...doubling up to this */
};

typedef struct {
	char **v;
	size_t n, cap;
} ol_lines;

typedef struct {
	char run_id[37]; /* the current attempt's runId */
	int attempt;
	bool open;			    /* START sent, no end yet */
	json_t *inputs;			    /* datasets as hashed at start */
	json_t *done_inputs, *done_outputs; /* from the lineage event, after success */
} ol_task;

struct pw_openlineage {
	/* Configuration, read-only once open() returns. */
	bool is_file;
	char *where;   /* absolute path or full URL */
	char *display; /* for messages: no credentials, no query */
	char *spool_path;
	char *auth; /* "Authorization: Bearer ..." or NULL */
	char *ns;
	char *dataset_ns; /* file://<host> */

	/* The executor thread's. */
	const pw_dag *dag;
	json_t *source_facet; /* sourceCodeLocation, or NULL outside a repository */
	bool git_dirty;
	char dag_run_id[37];
	char *workspace;
	char *run_id;
	char logical_date[40];
	ol_task *tasks;
	size_t ntasks;
	ol_lines pending;

	/* Shared: under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	ol_lines queue;
	bool stopping;
	int64_t deadline; /* monotonic ms, set by close(); read atomically by the sender */
	bool started;
	pthread_t thread;

	/* The sender thread's (or the caller's when there is no thread). */
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	bool down;
	int64_t rest_until, rest_ms;
	bool warned, warned_spool;
	size_t rejected;
	long reject_code;
	char last_error[CURL_ERROR_SIZE + 64];
};

/* ---- small things ---- */

static void lines_push(ol_lines *l, char *s)
{
	PW_GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = s;
}

static void lines_release(ol_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void fill_random(uint8_t *buf, size_t n)
{
	static uint64_t counter;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, GRND_NONBLOCK);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* No entropy yet (early boot): splitmix64 over time, pid and a counter. */
	uint64_t x = (uint64_t)pw_now_mono_ms() ^ ((uint64_t)getpid() << 32) ^ ++counter;
	for (; got < n; got++) {
		x += 0x9e3779b97f4a7c15ULL;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		buf[got] = (uint8_t)(z ^ (z >> 31));
	}
}

void pw_uuid_v7(int64_t wall_ms, char out[37])
{
	uint8_t b[16];
	fill_random(b + 6, 10);
	uint64_t t = (uint64_t)wall_ms;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(t >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* variant 10 */
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

/* file:// URI of an absolute path, percent-encoding all but unreserved characters and '/'. */
static char *file_uri(const char *path)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			pw_strbuf_addc(&sb, (char)*p);
		else
			pw_strbuf_addf(&sb, "%%%02X", *p);
	}
	return pw_strbuf_detach(&sb);
}

/* A remote URL without user[:password]@ (an https token must not travel on). */
static char *strip_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (!scheme)
		return pw_xstrdup(url); /* scp-like git@host:path: the user is no secret */
	const char *auth = scheme + 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return pw_xstrdup(url);
	return pw_xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
}

/* ---- targets ---- */

int pw_openlineage_parse_target(const char *target, bool *is_file, char **where, char *err,
				size_t errsize)
{
	*where = NULL;
	if (!target || !*target) {
		snprintf(err, errsize, "the OpenLineage target is empty");
		return -1;
	}
	if (strncmp(target, "file:", 5) == 0) {
		const char *p = target + 5;
		if (strncmp(p, "//", 2) == 0) {
			p += 2;
			if (strncmp(p, "localhost/", 10) == 0)
				p += 9;
			if (*p != '/') {
				snprintf(
				    err, errsize,
				    "a file:// URL needs an absolute local path (file:///PATH)");
				return -1;
			}
		}
		if (!*p) {
			snprintf(err, errsize, "file: needs a path, e.g. file:lineage.jsonl");
			return -1;
		}
		if (*p == '/') {
			*where = pw_xstrdup(p);
		} else {
			char *cwd = getcwd(NULL, 0);
			if (!cwd) {
				snprintf(err, errsize, "cannot resolve %s: %s", p, strerror(errno));
				return -1;
			}
			*where = pw_xasprintf("%s/%s", cwd, p);
			free(cwd);
		}
		*is_file = true;
		return 0;
	}
	if (strncasecmp(target, "http://", 7) != 0 && strncasecmp(target, "https://", 8) != 0) {
		snprintf(err, errsize, "the OpenLineage target takes an http(s) URL or file:PATH");
		return -1;
	}
	CURLU *u = curl_url();
	char *path = NULL, *full = NULL;
	int rc = -1;
	if (!u || curl_url_set(u, CURLUPART_URL, target, 0) != CURLUE_OK) {
		snprintf(err, errsize, "the OpenLineage URL is not valid");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || !path || !*path ||
	    strcmp(path, "/") == 0)
		curl_url_set(u, CURLUPART_PATH, OL_DEFAULT_PATH, 0);
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		snprintf(err, errsize, "the OpenLineage URL is not valid");
		goto out;
	}
	*where = pw_xstrdup(full);
	*is_file = false;
	rc = 0;
out:
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

char *pw_openlineage_display_url(const char *url)
{
	CURLU *u = curl_url();
	char *full = NULL, *out = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
			out = pw_xstrdup(full);
	}
	curl_free(full);
	curl_url_cleanup(u);
	return out ? out : pw_xstrdup("(the OpenLineage URL)");
}

/* ---- building events (executor thread) ---- */

static json_t *facet(const char *schema_url)
{
	return json_pack("{s:s, s:s}", "_producer", OL_PRODUCER, "_schemaURL", schema_url);
}

static char *origin_url(const char *dir)
{
	char *out = NULL;
	git_libgit2_init();
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	if (git_repository_open_ext(&repo, dir, 0, NULL) == 0 &&
	    git_remote_lookup(&remote, repo, "origin") == 0 && git_remote_url(remote))
		out = strip_userinfo(git_remote_url(remote));
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return out;
}

/* sourceCodeLocation: the DAG file at its commit; NULL outside a git work tree. */
static json_t *source_facet(const pw_dag *dag, bool *dirty)
{
	*dirty = false;
	if (!dag->path)
		return NULL;
	pw_git_info g;
	pw_git_describe(dag->path, NULL, 0, &g);
	char *abs = realpath(dag->path, NULL);
	json_t *f = NULL;
	if (abs && g.workdir && strcmp(g.sha, "unknown") != 0) {
		size_t wl = strlen(g.workdir);
		const char *rel = strncmp(abs, g.workdir, wl) == 0 ? abs + wl : abs;
		char *uri = file_uri(abs);
		f = facet(OL_SOURCE_URL);
		json_object_set_new(f, "type", json_string("git"));
		json_object_set_new(f, "url", json_string(uri));
		char *remote = origin_url(g.workdir);
		if (remote)
			json_object_set_new(f, "repoUrl", json_string(remote));
		json_object_set_new(f, "path", json_string(rel));
		json_object_set_new(f, "version", json_string(g.sha));
		free(remote);
		free(uri);
		*dirty = g.dirty;
	}
	free(abs);
	pw_git_info_release(&g);
	return f;
}

static json_t *new_event(pw_openlineage *ol, const char *type, int64_t wall_ms, const char *run_id,
			 const char *job_name)
{
	char ts[32];
	pw_format_iso8601_ms(wall_ms, ts, sizeof(ts));
	json_t *job_facets = json_object();
	if (ol->source_facet)
		json_object_set(job_facets, "sourceCodeLocation", ol->source_facet);
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{}}, s:{s:s, s:s, s:o}}", "eventTime", ts,
			 "producer", OL_PRODUCER, "schemaURL", PW_OL_SCHEMA_URL, "eventType", type,
			 "run", "runId", run_id, "facets", "job", "namespace", ol->ns, "name",
			 job_name, "facets", job_facets);
}

static json_t *run_facets(json_t *ev)
{
	return json_object_get(json_object_get(ev, "run"), "facets");
}

static void add_common_run_facets(pw_openlineage *ol, json_t *ev, bool child)
{
	json_t *rf = run_facets(ev);
	if (child) {
		json_t *p = facet(OL_PARENT_URL);
		json_t *run = json_pack("{s:s}", "runId", ol->dag_run_id);
		json_t *job = json_pack("{s:s, s:s}", "namespace", ol->ns, "name", ol->dag->dag_id);
		json_object_set(p, "run", run);
		json_object_set(p, "job", job);
		json_object_set_new(p, "root", json_pack("{s:o, s:o}", "run", run, "job", job));
		json_object_set_new(rf, "parent", p);
	}
	if (ol->logical_date[0]) {
		json_t *n = facet(OL_NOMINAL_URL);
		json_object_set_new(n, "nominalStartTime", json_string(ol->logical_date));
		json_object_set_new(rf, "nominalTime", n);
	}
}

/* The pitwall facet: what ties the RunEvent to the run's own record. */
static json_t *pitwall_facet(pw_openlineage *ol, const char *task_id)
{
	json_t *f = facet(OL_PITWALL_URL);
	json_object_set_new(f, "dag_id", json_string(ol->dag->dag_id));
	if (ol->run_id)
		json_object_set_new(f, "run_id", json_string(ol->run_id));
	if (task_id)
		json_object_set_new(f, "task_id", json_string(task_id));
	return f;
}

static void add_error_facet(json_t *ev, const char *message, const char *language)
{
	json_t *e = facet(OL_ERROR_URL);
	json_object_set_new(e, "message", json_string(message && *message ? message : "failed"));
	json_object_set_new(e, "programmingLanguage", json_string(language));
	json_object_set_new(run_facets(ev), "errorMessage", e);
}

/* [{path,size,sha256}] -> file datasets with a version facet holding the sha256. */
static json_t *datasets(pw_openlineage *ol, json_t *digests)
{
	json_t *arr = json_array(), *d;
	size_t i;
	json_array_foreach(digests, i, d)
	{
		const char *path = json_string_value(json_object_get(d, "path"));
		const char *sha = json_string_value(json_object_get(d, "sha256"));
		if (!path)
			continue;
		char *name = path[0] == '/' || !ol->workspace
				 ? pw_xstrdup(path)
				 : pw_xasprintf("%s/%s", ol->workspace, path);
		json_t *ds = json_pack("{s:s, s:s, s:{}}", "namespace", ol->dataset_ns, "name",
				       name, "facets");
		if (sha) {
			json_t *v = facet(OL_VERSION_URL);
			json_object_set_new(v, "datasetVersion", json_string(sha));
			json_object_set_new(json_object_get(ds, "facets"), "version", v);
		}
		json_array_append_new(arr, ds);
		free(name);
	}
	return arr;
}

static void push(pw_openlineage *ol, json_t *ev)
{
	char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (s)
		lines_push(&ol->pending, s);
}

static const char *language_of(const pw_task *t)
{
	if (t->shell || !t->argv || !t->argv[0])
		return "shell";
	const char *slash = strrchr(t->argv[0], '/');
	return slash ? slash + 1 : t->argv[0];
}

static void task_reset(ol_task *t)
{
	json_decref(t->inputs);
	json_decref(t->done_inputs);
	json_decref(t->done_outputs);
	t->inputs = t->done_inputs = t->done_outputs = NULL;
	t->open = false;
}

static void task_start(pw_openlineage *ol, size_t ti, const pw_event *ev, json_t *md)
{
	ol_task *t = &ol->tasks[ti];
	task_reset(t);
	pw_uuid_v7(ev->wall_ms, t->run_id);
	t->attempt = ev->attempt ? ev->attempt->attempt
				 : (int)json_integer_value(json_object_get(md, "attempt"));
	json_t *in = json_object_get(md, "inputs");
	t->inputs = json_is_array(in) ? datasets(ol, in) : json_array();
	t->open = true;

	char *name = pw_xasprintf("%s.%s", ol->dag->dag_id, ev->task->task_id);
	json_t *e = new_event(ol, "START", ev->wall_ms, t->run_id, name);
	free(name);
	add_common_run_facets(ol, e, true);
	json_t *pf = pitwall_facet(ol, ev->task->task_id);
	json_object_set_new(pf, "attempt", json_integer(t->attempt));
	json_object_set_new(run_facets(e), "pitwall", pf);
	json_object_set(e, "inputs", t->inputs);
	json_object_set_new(e, "outputs", json_array());
	push(ol, e);
}

static void task_end(pw_openlineage *ol, size_t ti, const char *type, const pw_event *ev)
{
	ol_task *t = &ol->tasks[ti];
	char *name = pw_xasprintf("%s.%s", ol->dag->dag_id, ev->task->task_id);
	json_t *e = new_event(ol, type, ev->wall_ms, t->run_id, name);
	free(name);
	add_common_run_facets(ol, e, true);
	json_t *pf = pitwall_facet(ol, ev->task->task_id);
	json_object_set_new(pf, "attempt", json_integer(t->attempt));
	const pw_attempt_result *a = ev->attempt;
	json_object_set_new(pf, "status",
			    json_string(pw_task_state_name(a ? a->state : ev->state)));
	if (a && a->exit_code >= 0)
		json_object_set_new(pf, "exit_code", json_integer(a->exit_code));
	if (a && a->signal)
		json_object_set_new(pf, "signal", json_integer(a->signal));
	if (a)
		json_object_set_new(pf, "duration_ms", json_integer(a->duration_ms));
	json_object_set_new(run_facets(e), "pitwall", pf);
	bool ok = strcmp(type, "COMPLETE") == 0;
	if (!ok)
		add_error_facet(e, ev->message, language_of(ev->task));
	if (ok && t->done_inputs)
		json_object_set_new(e, "inputs", datasets(ol, t->done_inputs));
	else
		json_object_set_new(e, "inputs", t->inputs ? json_incref(t->inputs) : json_array());
	if (ok && t->done_outputs)
		json_object_set_new(e, "outputs", datasets(ol, t->done_outputs));
	else
		json_object_set_new(e, "outputs", json_array());
	push(ol, e);
	task_reset(t);
}

static const char *end_type(pw_task_state st)
{
	if (st == PW_TS_SUCCESS)
		return "COMPLETE";
	return st == PW_TS_CANCELLED ? "ABORT" : "FAIL";
}

static void dag_run_start(pw_openlineage *ol, const pw_run_ctx *ctx, const pw_event *ev, json_t *md)
{
	free(ol->run_id);
	ol->run_id = pw_xstrdup(pw_run_ctx_run_id(ctx));
	const char *ws = json_string_value(json_object_get(md, "workspace"));
	free(ol->workspace);
	ol->workspace = ws ? pw_xstrdup(ws) : NULL;
	const char *ld = json_string_value(json_object_get(md, "logical_date"));
	snprintf(ol->logical_date, sizeof(ol->logical_date), "%s", ld ? ld : "");
	pw_uuid_v7(ev->wall_ms, ol->dag_run_id);

	json_t *e = new_event(ol, "START", ev->wall_ms, ol->dag_run_id, ol->dag->dag_id);
	add_common_run_facets(ol, e, false);
	json_t *pf = pitwall_facet(ol, NULL);
	if (ol->git_dirty)
		json_object_set_new(pf, "git_dirty", json_true());
	json_object_set_new(run_facets(e), "pitwall", pf);
	push(ol, e);
}

static void dag_run_end(pw_openlineage *ol, const pw_event *ev, json_t *md)
{
	const char *status = json_string_value(json_object_get(md, "status"));
	const char *type = !status || strcmp(status, "success") == 0 ? "COMPLETE"
			   : strcmp(status, "cancelled") == 0	     ? "ABORT"
								     : "FAIL";
	json_t *e = new_event(ol, type, ev->wall_ms, ol->dag_run_id, ol->dag->dag_id);
	add_common_run_facets(ol, e, false);
	json_t *pf = pitwall_facet(ol, NULL);
	if (status)
		json_object_set_new(pf, "status", json_string(status));
	json_t *code = json_object_get(md, "exit_code");
	if (json_is_integer(code))
		json_object_set(pf, "exit_code", code);
	json_object_set_new(run_facets(e), "pitwall", pf);
	if (strcmp(type, "COMPLETE") != 0) {
		/* "run X failed (2 failed, 1 upstream_failed)" */
		pw_strbuf msg = PW_STRBUF_INIT;
		pw_strbuf_adds(&msg, ev->message ? ev->message : "run failed");
		bool first = true;
		for (int s = PW_TS_SUCCESS; s < PW_TS_COUNT; s++) {
			json_t *n = json_object_get(md, pw_task_state_name(s));
			if (!json_is_integer(n))
				continue;
			pw_strbuf_addf(&msg, "%s%lld %s", first ? " (" : ", ",
				       (long long)json_integer_value(n), pw_task_state_name(s));
			first = false;
		}
		if (!first)
			pw_strbuf_addc(&msg, ')');
		add_error_facet(e, msg.buf, "pitwall");
		pw_strbuf_release(&msg);
	}
	push(ol, e);
}

void pw_openlineage_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev)
{
	pw_openlineage *ol = payload;
	size_t ti = SIZE_MAX;
	if (ev->task && ev->task >= ol->dag->tasks && ev->task < ol->dag->tasks + ol->ntasks)
		ti = (size_t)(ev->task - ol->dag->tasks);
	if (ev->type != PW_EV_DAG_RUN_START && ev->type != PW_EV_DAG_RUN_END && ti == SIZE_MAX)
		return;
	if (ev->type != PW_EV_DAG_RUN_START && !ol->dag_run_id[0])
		pw_uuid_v7(ev->wall_ms, ol->dag_run_id); /* not expected: start comes first */
	json_error_t jerr;
	json_t *md = ev->metadata_json ? json_loads(ev->metadata_json, 0, &jerr) : NULL;
	switch (ev->type) {
	case PW_EV_DAG_RUN_START: dag_run_start(ol, ctx, ev, md); break;
	case PW_EV_TASK_START: task_start(ol, ti, ev, md); break;
	case PW_EV_LINEAGE:
		json_decref(ol->tasks[ti].done_inputs);
		json_decref(ol->tasks[ti].done_outputs);
		ol->tasks[ti].done_inputs = json_incref(json_object_get(md, "inputs"));
		ol->tasks[ti].done_outputs = json_incref(json_object_get(md, "outputs"));
		break;
	case PW_EV_TASK_RETRY:
		if (ol->tasks[ti].open)
			task_end(ol, ti, "FAIL", ev);
		break;
	case PW_EV_TASK_END:
		/* A task that never started (upstream_failed, skipped) has no run to end. */
		if (ol->tasks[ti].open)
			task_end(ol, ti, end_type(ev->state), ev);
		break;
	case PW_EV_DAG_RUN_END: dag_run_end(ol, ev, md); break;
	case PW_EV_TASK_QUEUED:
	case PW_EV_HOOK:
	case PW_EV_COST_TASK:
	case PW_EV_COST_RUN:
	case PW_EV_BUDGET_WARN:
	case PW_EV_BUDGET_THROTTLE:
	case PW_EV_BUDGET_STOP:
	case PW_EV_BUDGET_RUN_EXCEEDED: break;
	}
	json_decref(md);
}

/* ---- sending (sender thread) ---- */

enum { SEND_OK, SEND_REJECTED, SEND_FAILED };

static curl_socket_t open_cloexec_socket(void *clientp, curlsocktype purpose,
					 struct curl_sockaddr *a)
{
	/* Tasks are spawned while we send: they must not inherit the connection. */
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* Abort a request in flight once close()'s budget is spent. */
static int check_deadline(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			  curl_off_t ulnow)
{
	pw_openlineage *ol = clientp;
	int64_t deadline = __atomic_load_n(&ol->deadline, __ATOMIC_RELAXED);
	return deadline && pw_now_mono_ms() > deadline;
}

static bool curl_setup(pw_openlineage *ol)
{
	if (ol->curl)
		return true;
	ol->curl = curl_easy_init();
	if (!ol->curl)
		return false;
	ol->headers = curl_slist_append(ol->headers, "Content-Type: application/json");
	ol->headers = curl_slist_append(ol->headers, "Expect:");
	if (ol->auth)
		ol->headers = curl_slist_append(ol->headers, ol->auth);
	CURL *c = ol->curl;
	curl_easy_setopt(c, CURLOPT_URL, ol->where);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, ol->headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pitwall/" PW_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ol->curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cloexec_socket);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_deadline);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, ol);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	return true;
}

static int http_post(pw_openlineage *ol, const char *body, bool final)
{
	if (!curl_setup(ol)) {
		snprintf(ol->last_error, sizeof(ol->last_error), "libcurl could not start");
		return SEND_FAILED;
	}
	int tries = final && ol->down ? 1 : OL_TRIES;
	for (int t = 0; t < tries; t++) {
		if (t)
			sleep_ms(t == 1 ? 100 : 400);
		long timeout = OL_TIMEOUT_MS;
		int64_t deadline = __atomic_load_n(&ol->deadline, __ATOMIC_RELAXED);
		if (deadline) {
			int64_t left = deadline - pw_now_mono_ms();
			if (left <= 0) {
				snprintf(ol->last_error, sizeof(ol->last_error),
					 "out of time at exit");
				return SEND_FAILED;
			}
			if (left < timeout)
				timeout = (long)left;
		}
		curl_easy_setopt(ol->curl, CURLOPT_TIMEOUT_MS, timeout);
		curl_easy_setopt(ol->curl, CURLOPT_CONNECTTIMEOUT_MS,
				 timeout < OL_CONNECT_TIMEOUT_MS ? timeout
								 : (long)OL_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(ol->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(ol->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		ol->curl_err[0] = '\0';
		CURLcode rc = curl_easy_perform(ol->curl);
		if (rc != CURLE_OK) {
			snprintf(ol->last_error, sizeof(ol->last_error), "%s",
				 ol->curl_err[0] ? ol->curl_err : curl_easy_strerror(rc));
			continue;
		}
		long code = 0;
		curl_easy_getinfo(ol->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300)
			return SEND_OK;
		if (code == 400 || code == 413 || code == 422) {
			/* The event itself is refused: sending it again will not help. */
			ol->rejected++;
			ol->reject_code = code;
			return SEND_REJECTED;
		}
		snprintf(ol->last_error, sizeof(ol->last_error), "HTTP %ld", code);
	}
	return SEND_FAILED;
}

static bool write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

static void join_lines(pw_strbuf *sb, char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pw_strbuf_adds(sb, lines[i]);
		pw_strbuf_addc(sb, '\n');
	}
}

static bool file_append(pw_openlineage *ol, char **lines, size_t n)
{
	int fd = open(ol->where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(ol->last_error, sizeof(ol->last_error), "%s", strerror(errno));
		return false;
	}
	flock(fd, LOCK_EX);
	pw_strbuf sb = PW_STRBUF_INIT;
	join_lines(&sb, lines, n);
	bool ok = write_all(fd, sb.buf, sb.len);
	if (!ok)
		snprintf(ol->last_error, sizeof(ol->last_error), "%s", strerror(errno));
	pw_strbuf_release(&sb);
	close(fd);
	return ok;
}

/* Send lines in order; *sent counts those delivered (or refused for good). */
static bool send_lines(pw_openlineage *ol, char **lines, size_t n, size_t *sent, bool final)
{
	*sent = 0;
	if (!n)
		return true;
	if (ol->is_file) {
		if (!file_append(ol, lines, n))
			return false;
		*sent = n;
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if (http_post(ol, lines[i], final) == SEND_FAILED)
			return false;
		*sent = i + 1;
	}
	return true;
}

/* Open and lock the spool, making sure the locked file is still the spool (see spool_rewrite). */
static int spool_lock(pw_openlineage *ol)
{
	for (int i = 0; i < 8; i++) {
		int fd = open(ol->spool_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		flock(fd, LOCK_EX);
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(ol->spool_path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	return -1;
}

static void spool_read(int fd, ol_lines *out)
{
	pw_strbuf text = PW_STRBUF_INIT;
	char buf[65536];
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		pw_strbuf_add(&text, buf, (size_t)r);
	char *save = NULL;
	for (char *line = text.buf ? strtok_r(text.buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		if (*line)
			lines_push(out, pw_xstrdup(line));
	pw_strbuf_release(&text);
}

/* Replace the spool's contents atomically: a new file renamed over the old one. */
static bool spool_rewrite(pw_openlineage *ol, char **a, size_t na, char **b, size_t nb)
{
	char *tmp = pw_xasprintf("%s.%d.tmp", ol->spool_path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;
	if (ok) {
		pw_strbuf sb = PW_STRBUF_INIT;
		join_lines(&sb, a, na);
		join_lines(&sb, b, nb);
		ok = write_all(fd, sb.buf ? sb.buf : "", sb.len) && fsync(fd) == 0;
		pw_strbuf_release(&sb);
		close(fd);
		ok = ok && rename(tmp, ol->spool_path) == 0;
		if (!ok)
			unlink(tmp);
	}
	free(tmp);
	return ok;
}

static bool spool_append_fd(int fd, char **lines, size_t n)
{
	if (!n)
		return true;
	pw_strbuf sb = PW_STRBUF_INIT;
	join_lines(&sb, lines, n);
	bool ok = lseek(fd, 0, SEEK_END) >= 0 && write_all(fd, sb.buf, sb.len);
	pw_strbuf_release(&sb);
	return ok;
}

static void warn_spool_lost(pw_openlineage *ol, size_t n)
{
	if (ol->warned_spool || !n)
		return;
	ol->warned_spool = true;
	fprintf(stderr,
		"pitwall: warning: cannot write the OpenLineage spool %s: %s; %zu event%s lost\n",
		ol->spool_path, strerror(errno), n, n == 1 ? "" : "s");
}

static void mark_down(pw_openlineage *ol)
{
	if (!ol->warned) {
		ol->warned = true;
		fprintf(
		    stderr,
		    "pitwall: warning: OpenLineage %s %s: %s; events are spooled to %s and sent "
		    "when it is back\n",
		    ol->is_file ? "file" : "endpoint", ol->display,
		    ol->last_error[0] ? ol->last_error : "unavailable", ol->spool_path);
	}
	ol->down = true;
	ol->rest_ms = ol->rest_ms ? ol->rest_ms * 2 : OL_REST_MIN_MS;
	if (ol->rest_ms > OL_REST_MAX_MS)
		ol->rest_ms = OL_REST_MAX_MS;
	ol->rest_until = pw_now_mono_ms() + ol->rest_ms;
}

/*
 * Deliver what the spool holds, then lines; whatever is not delivered ends
 * in the spool, in order.  final: the run is over, try even a resting
 * endpoint (once).
 */
static void deliver(pw_openlineage *ol, char **lines, size_t n, bool final)
{
	int fd = spool_lock(ol);
	if (fd < 0) {
		size_t sent = 0;
		if (!send_lines(ol, lines, n, &sent, final)) {
			mark_down(ol);
			warn_spool_lost(ol, n - sent);
		}
		return;
	}
	if (ol->down && !final && pw_now_mono_ms() < ol->rest_until) {
		if (!spool_append_fd(fd, lines, n))
			warn_spool_lost(ol, n);
		close(fd);
		return;
	}
	ol_lines old = {0};
	spool_read(fd, &old);
	size_t sent_old = 0, sent_new = 0;
	bool ok = send_lines(ol, old.v, old.n, &sent_old, final);
	if (ok)
		ok = send_lines(ol, lines, n, &sent_new, final);
	bool kept;
	if (sent_old == old.n) {
		kept = (!old.n || ftruncate(fd, 0) == 0) &&
		       (sent_new == n || spool_append_fd(fd, lines + sent_new, n - sent_new));
		if (old.n)
			fprintf(stderr, "pitwall: sent %zu spooled OpenLineage event%s to %s\n",
				old.n, old.n == 1 ? "" : "s", ol->display);
	} else if (sent_old == 0) {
		kept = spool_append_fd(fd, lines, n);
	} else {
		kept = spool_rewrite(ol, old.v + sent_old, old.n - sent_old, lines, lines ? n : 0);
	}
	if (!kept)
		warn_spool_lost(ol, n - sent_new);
	if (ok) {
		ol->down = false;
		ol->rest_ms = 0;
	} else {
		mark_down(ol);
	}
	lines_release(&old);
	close(fd);
}

static void *sender_main(void *arg)
{
	pw_openlineage *ol = arg;
	deliver(ol, NULL, 0, false); /* what earlier runs left behind */
	pthread_mutex_lock(&ol->mu);
	for (;;) {
		while (!ol->queue.n && !ol->stopping)
			pthread_cond_wait(&ol->cv, &ol->mu);
		ol_lines batch = ol->queue;
		memset(&ol->queue, 0, sizeof(ol->queue));
		bool final = ol->stopping;
		pthread_mutex_unlock(&ol->mu);
		deliver(ol, batch.v, batch.n, final);
		lines_release(&batch);
		pthread_mutex_lock(&ol->mu);
		if (final && !ol->queue.n)
			break;
	}
	pthread_mutex_unlock(&ol->mu);
	return NULL;
}

/* ---- the observer's life ---- */

pw_openlineage *pw_openlineage_open(const char *target, const pw_dag *dag, char *err,
				    size_t errsize)
{
	bool is_file = false;
	char *where = NULL;
	if (pw_openlineage_parse_target(target, &is_file, &where, err, errsize) != 0)
		return NULL;
	if (!is_file && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errsize, "libcurl could not be initialised");
		free(where);
		return NULL;
	}
	pw_openlineage *ol = pw_xcalloc(1, sizeof(*ol));
	ol->is_file = is_file;
	ol->where = where;
	ol->display = is_file ? pw_xstrdup(where) : pw_openlineage_display_url(where);
	char hex[65];
	pw_sha256_hex(where, strlen(where), hex);
	char *state = pw_state_dir();
	ol->spool_path = pw_xasprintf("%s/openlineage-spool-%.16s.jsonl", state, hex);
	free(state);
	const char *key = getenv("PITWALL_OPENLINEAGE_API_KEY");
	if (key && *key && !is_file)
		ol->auth = pw_xasprintf("Authorization: Bearer %s", key);
	const char *ns = getenv("PITWALL_OPENLINEAGE_NAMESPACE");
	ol->ns = pw_xstrdup(ns && *ns ? ns : "pitwall");
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	ol->dataset_ns = pw_xasprintf("file://%s", host);

	ol->dag = dag;
	ol->ntasks = dag->ntasks;
	ol->tasks = pw_xcalloc(dag->ntasks ? dag->ntasks : 1, sizeof(*ol->tasks));
	ol->source_facet = source_facet(dag, &ol->git_dirty);

	pthread_mutex_init(&ol->mu, NULL);
	pthread_cond_init(&ol->cv, NULL);
	/* The executor takes its signals through a signalfd: the sender must never take one. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ol->started = pthread_create(&ol->thread, NULL, sender_main, ol) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ol->started)
		deliver(ol, NULL, 0, false);
	return ol;
}

void pw_openlineage_flush(void *payload)
{
	pw_openlineage *ol = payload;
	if (!ol->pending.n)
		return;
	if (!ol->started) {
		/* No thread: send here (the endpoint's rest keeps a down one cheap). */
		deliver(ol, ol->pending.v, ol->pending.n, false);
		lines_release(&ol->pending);
		return;
	}
	pthread_mutex_lock(&ol->mu);
	for (size_t i = 0; i < ol->pending.n; i++)
		lines_push(&ol->queue, ol->pending.v[i]);
	pthread_cond_signal(&ol->cv);
	pthread_mutex_unlock(&ol->mu);
	free(ol->pending.v);
	memset(&ol->pending, 0, sizeof(ol->pending));
}

static size_t spool_count(pw_openlineage *ol)
{
	int fd = open(ol->spool_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	flock(fd, LOCK_SH);
	ol_lines l = {0};
	spool_read(fd, &l);
	size_t n = l.n;
	lines_release(&l);
	close(fd);
	return n;
}

size_t pw_openlineage_close(pw_openlineage *ol)
{
	if (!ol)
		return 0;
	int64_t deadline = pw_now_mono_ms() + OL_CLOSE_BUDGET_MS;
	if (ol->started) {
		pw_openlineage_flush(ol);
		pthread_mutex_lock(&ol->mu);
		ol->stopping = true;
		__atomic_store_n(&ol->deadline, deadline, __ATOMIC_RELAXED);
		pthread_cond_signal(&ol->cv);
		pthread_mutex_unlock(&ol->mu);
		pthread_join(ol->thread, NULL);
	} else {
		ol->deadline = deadline;
		deliver(ol, ol->pending.v, ol->pending.n, true);
		lines_release(&ol->pending);
	}
	size_t left = spool_count(ol);
	if (ol->rejected)
		fprintf(
		    stderr,
		    "pitwall: warning: OpenLineage endpoint %s refused %zu event%s (HTTP %ld)\n",
		    ol->display, ol->rejected, ol->rejected == 1 ? "" : "s", ol->reject_code);

	for (size_t i = 0; i < ol->ntasks; i++)
		task_reset(&ol->tasks[i]);
	free(ol->tasks);
	lines_release(&ol->pending);
	lines_release(&ol->queue);
	json_decref(ol->source_facet);
	if (ol->curl)
		curl_easy_cleanup(ol->curl);
	curl_slist_free_all(ol->headers);
	if (!ol->is_file)
		curl_global_cleanup();
	pthread_mutex_destroy(&ol->mu);
	pthread_cond_destroy(&ol->cv);
	if (ol->auth) {
		explicit_bzero(ol->auth, strlen(ol->auth));
		free(ol->auth);
	}
	free(ol->where);
	free(ol->display);
	free(ol->spool_path);
	free(ol->ns);
	free(ol->dataset_ns);
	free(ol->workspace);
	free(ol->run_id);
	free(ol);
	return left;
}
