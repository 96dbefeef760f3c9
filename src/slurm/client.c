/*
 * The slurmrestd client: one libcurl easy handle (kept alive between
 * requests), the JWT headers, and the four calls pitwall makes: submit,
 * list, cancel and (where slurmdbd is behind slurmrestd) accounting.
 *
 * Requests are synchronous and bounded (3 s to connect, 20 s in all): the
 * executor makes at most one listing per tick, whatever the number of jobs.
 * slurmrestd 22.05 answers a listing with update_time with 304 when no job
 * changed since then, so an idle tick costs an empty response; a listing
 * that does come back holds every job of the cluster, filtered here.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pitwall/slurm.h"
#include "slurm/slurm_internal.h"

#define CONNECT_TIMEOUT_MS 3000
#define REQUEST_TIMEOUT_MS 20000
/* Full listings at least this often, whatever update_time says (clock skew). */
#define FULL_LISTING_MS 30000
/* update_time is in the controller's clock, in seconds: ask from a little earlier. */
#define UPDATE_TIME_SLACK_S 2

enum token_source { TOKEN_NONE, TOKEN_ENV, TOKEN_FILE, TOKEN_SCONTROL };

struct pw_slurm {
	CURL *curl;
	char *base;   /* http://host:port, or http://localhost for a unix socket */
	char *socket; /* the unix socket, or NULL */
	char *shown;  /* the endpoint as configured, for messages */
	char *api;    /* v0.0.38 */
	char *user;   /* X-SLURM-USER-NAME, or NULL */
	char *token;  /* X-SLURM-USER-TOKEN, or NULL; never printed */
	enum token_source token_source;
	int64_t poll_interval_ms;
	bool env_mapping; /* job environment as a mapping (v0.0.38 and before), else a list */
	bool accounting_off;
	int64_t listed_wall_s; /* when the last listing that came back was asked for */
	int64_t full_mono;     /* when the last full listing came back */
};

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* `scontrol token`: "SLURM_JWT=..." on stdout. */
static char *scontrol_token(char *err, size_t errsize)
{
	FILE *p = popen("scontrol token 2>/dev/null", "re");
	if (!p) {
		snprintf(err, errsize, "cannot run scontrol token: %s", strerror(errno));
		return NULL;
	}
	char line[4096], *tok = NULL;
	while (fgets(line, sizeof(line), p)) {
		if (strncmp(line, "SLURM_JWT=", 10) != 0)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		free(tok);
		tok = pw_xstrdup(line + 10);
	}
	int st = pclose(p);
	if (!tok || !*tok) {
		free(tok);
		snprintf(err, errsize,
			 "no JWT for slurmrestd: `scontrol token` %s; set SLURM_JWT, "
			 "PITWALL_SLURM_JWT_FILE or slurm.jwt_file",
			 st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) == 127 ? "could not run"
									      : "gave none");
		return NULL;
	}
	return tok;
}

static int load_token(pw_slurm *s, const pw_slurm_config *cfg, char *err, size_t errsize)
{
	const char *env = getenv("SLURM_JWT");
	if (env && *env) {
		s->token = pw_xstrdup(env);
		s->token_source = TOKEN_ENV;
		return 0;
	}
	const char *file = env_or("PITWALL_SLURM_JWT_FILE", cfg ? cfg->jwt_file : NULL);
	if (file) {
		char *buf = NULL;
		size_t len = 0;
		if (pw_read_file(file, &buf, &len) != 0) {
			snprintf(err, errsize, "cannot read the Slurm JWT file %s: %s", file,
				 strerror(errno));
			return -1;
		}
		/* The file may be `SLURM_JWT=...` as scontrol prints it, or the bare token. */
		char *t = buf;
		if (!strncmp(t, "SLURM_JWT=", 10))
			t += 10;
		t[strcspn(t, "\r\n")] = '\0';
		s->token = pw_xstrdup(t);
		free(buf);
		s->token_source = TOKEN_FILE;
		if (!*s->token) {
			snprintf(err, errsize, "the Slurm JWT file %s is empty", file);
			return -1;
		}
		return 0;
	}
	/* rest_auth/local: the socket's peer credentials are the authentication. */
	if (s->socket)
		return 0;
	s->token = scontrol_token(err, errsize);
	s->token_source = TOKEN_SCONTROL;
	return s->token ? 0 : -1;
}

int pw_slurm_open(pw_slurm **out, const pw_slurm_config *cfg, char *err, size_t errsize)
{
	*out = NULL;
	const char *url = env_or("PITWALL_SLURM_URL", cfg ? cfg->url : NULL);
	if (!url) {
		snprintf(err, errsize,
			 "no Slurm endpoint: set slurm.url in the DAG or PITWALL_SLURM_URL "
			 "(http://HOST:6820 or unix:/path/to/slurmrestd.socket)");
		return -1;
	}
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
	    strncmp(url, "unix:/", 6)) {
		snprintf(err, errsize,
			 "Slurm endpoint '%s' is not http://, https:// or unix:/path (from %s)",
			 url, getenv("PITWALL_SLURM_URL") ? "PITWALL_SLURM_URL" : "slurm.url");
		return -1;
	}
	static bool curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			snprintf(err, errsize, "libcurl failed to initialise");
			return -1;
		}
		curl_ready = true;
	}
	pw_slurm *s = pw_xcalloc(1, sizeof(*s));
	s->shown = pw_xstrdup(url);
	if (!strncmp(url, "unix:", 5)) {
		s->socket = pw_xstrdup(url + 5);
		s->base = pw_xstrdup("http://localhost");
	} else {
		s->base = pw_xstrdup(url);
		size_t n = strlen(s->base);
		while (n > 0 && s->base[n - 1] == '/')
			s->base[--n] = '\0';
	}
	s->api =
	    pw_xstrdup(env_or("PITWALL_SLURM_API_VERSION",
			      cfg && cfg->api_version ? cfg->api_version : PW_SLURM_API_VERSION));
	/* v0.0.39 (Slurm 23.02) turned the environment into a list of NAME=value. */
	int major = 0, minor = 0, patch = 0;
	sscanf(s->api, "v%d.%d.%d", &major, &minor, &patch);
	s->env_mapping = major == 0 && minor == 0 && patch <= 38;
	s->poll_interval_ms =
	    cfg && cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : PW_SLURM_POLL_INTERVAL_MS;
	if (load_token(s, cfg, err, errsize) < 0) {
		pw_slurm_close(s);
		return -1;
	}
	const char *user = env_or("PITWALL_SLURM_USER", cfg ? cfg->user : NULL);
	if (!user && s->token) {
		struct passwd *pw = getpwuid(getuid());
		user = pw ? pw->pw_name : NULL;
	}
	s->user = user ? pw_xstrdup(user) : NULL;
	s->curl = curl_easy_init();
	if (!s->curl) {
		snprintf(err, errsize, "libcurl: cannot make a handle");
		pw_slurm_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void pw_slurm_close(pw_slurm *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->token) {
		memset(s->token, 0, strlen(s->token));
		free(s->token);
	}
	free(s->base);
	free(s->socket);
	free(s->shown);
	free(s->api);
	free(s->user);
	free(s);
}

const char *pw_slurm_endpoint(const pw_slurm *s)
{
	return s->shown;
}

int64_t pw_slurm_poll_interval(const pw_slurm *s)
{
	return s->poll_interval_ms;
}

static size_t on_body(char *data, size_t size, size_t n, void *payload)
{
	pw_strbuf_add(payload, data, size * n);
	return size * n;
}

/* The first of the response's errors[], for messages. */
static void response_error(const char *body, char *buf, size_t size)
{
	buf[0] = '\0';
	json_error_t e;
	json_t *r = json_loads(body ? body : "", 0, &e);
	json_t *errs = json_object_get(r, "errors");
	json_t *first = json_array_get(errs, 0);
	if (first) {
		const char *d = json_string_value(json_object_get(first, "description"));
		const char *what = json_string_value(json_object_get(first, "error"));
		json_int_t num = json_integer_value(json_object_get(first, "error_number"));
		snprintf(buf, size, "%s%s%s (error %" JSON_INTEGER_FORMAT ")", d && *d ? d : "",
			 d && *d && what && *what ? ": " : "", what ? what : "", num);
	}
	json_decref(r);
}

/*
 * One request: path is below /slurm/API (or /slurmdb/API with db).  Returns
 * the HTTP status (body in *resp), or -1 with a message when there was no
 * answer.
 */
static long request_once(pw_slurm *s, const char *method, const char *path, bool db,
			 const char *body, pw_strbuf *resp, char *err, size_t errsize)
{
	CURL *c = s->curl;
	curl_easy_reset(c);
	char *url = pw_xasprintf("%s/%s/%s%s", s->base, db ? "slurmdb" : "slurm", s->api, path);
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Accept: application/json");
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	char *hu = NULL, *ht = NULL;
	if (s->user) {
		hu = pw_xasprintf("X-SLURM-USER-NAME: %s", s->user);
		h = curl_slist_append(h, hu);
	}
	if (s->token) {
		ht = pw_xasprintf("X-SLURM-USER-TOKEN: %s", s->token);
		h = curl_slist_append(h, ht);
	}
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (s->socket)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, s->socket);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	CURLcode rc = curl_easy_perform(c);
	long status = -1;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	} else {
		snprintf(err, errsize, "slurmrestd at %s: %s %s/%s%s: %s", s->shown, method,
			 db ? "slurmdb" : "slurm", s->api, path,
			 cerr[0] ? cerr : curl_easy_strerror(rc));
	}
	curl_slist_free_all(h);
	free(hu);
	if (ht) {
		memset(ht, 0, strlen(ht));
		free(ht);
	}
	free(url);
	return status;
}

static long request(pw_slurm *s, const char *method, const char *path, bool db, const char *body,
		    pw_strbuf *resp, char *err, size_t errsize)
{
	long st = request_once(s, method, path, db, body, resp, err, errsize);
	/* A token from scontrol may have expired during a long run: get a new one, once. */
	if ((st == 401 || st == 403) && s->token_source == TOKEN_SCONTROL) {
		char terr[256];
		char *t = scontrol_token(terr, sizeof(terr));
		if (t) {
			memset(s->token, 0, strlen(s->token));
			free(s->token);
			s->token = t;
			pw_strbuf_reset(resp);
			st = request_once(s, method, path, db, body, resp, err, errsize);
		}
	}
	if (st >= 400) {
		char why[512];
		response_error(resp->buf, why, sizeof(why));
		snprintf(err, errsize, "slurmrestd at %s: %s %s/%s%s: HTTP %ld%s%s", s->shown,
			 method, db ? "slurmdb" : "slurm", s->api, path, st, why[0] ? ": " : "",
			 why);
		if (st == 401 || st == 403)
			snprintf(err + strlen(err), errsize - strlen(err),
				 " (authentication: check SLURM_JWT / the JWT file, and that the "
				 "user name matches the token)");
	}
	return st;
}

/* ---- submit ---- */

int pw_slurm_submit(pw_slurm *s, const pw_slurm_submit_req *rq, int64_t *job_id, bool *transient,
		    char *err, size_t errsize)
{
	*transient = false;
	*job_id = 0;
	char *body = pw_slurm_submit_body(rq, s->env_mapping);
	pw_strbuf resp = PW_STRBUF_INIT;
	long st = request(s, "POST", "/job/submit", false, body, &resp, err, errsize);
	free(body);
	int rc = -1;
	if (st < 0 || st >= 500) {
		*transient = true;
		goto out;
	}
	if (st >= 400)
		goto out;
	json_error_t e;
	json_t *r = json_loads(resp.buf ? resp.buf : "", 0, &e);
	int64_t id = pw_slurm_jint(json_object_get(r, "job_id"), 0);
	if (id > 0) {
		*job_id = id;
		rc = 0;
	} else {
		char why[512];
		response_error(resp.buf, why, sizeof(why));
		snprintf(err, errsize, "slurmrestd at %s refused the job: %s", s->shown,
			 why[0] ? why : "no job id in its answer");
	}
	json_decref(r);
out:
	pw_strbuf_release(&resp);
	return rc;
}

/* ---- listing ---- */

static int cmp_job_ptr(const void *a, const void *b)
{
	int64_t x = (*(pw_slurm_job *const *)a)->job_id, y = (*(pw_slurm_job *const *)b)->job_id;
	return x < y ? -1 : x > y;
}

/* GET .../jobs, conditional when it can be.  Returns the parsed answer, or NULL (304 / error). */
static json_t *list_jobs(pw_slurm *s, bool conditional, bool *unchanged, char *err, size_t errsize)
{
	*unchanged = false;
	int64_t now_s = pw_now_wall_ms() / 1000, mono = pw_now_mono_ms();
	char path[64] = "/jobs";
	if (conditional && s->listed_wall_s && s->full_mono &&
	    mono - s->full_mono < FULL_LISTING_MS)
		snprintf(path, sizeof(path), "/jobs?update_time=%" PRId64,
			 s->listed_wall_s - UPDATE_TIME_SLACK_S);
	pw_strbuf resp = PW_STRBUF_INIT;
	long st = request(s, "GET", path, false, NULL, &resp, err, errsize);
	json_t *r = NULL;
	if (st == 304) {
		*unchanged = true;
	} else if (st == 200) {
		json_error_t e;
		r = json_loads(resp.buf ? resp.buf : "", 0, &e);
		if (!json_is_array(json_object_get(r, "jobs"))) {
			snprintf(err, errsize, "slurmrestd at %s: GET slurm/%s/jobs: no jobs list",
				 s->shown, s->api);
			json_decref(r);
			r = NULL;
		} else {
			s->listed_wall_s = now_s;
			s->full_mono = mono;
		}
	} else if (st > 0 && st < 400) {
		snprintf(err, errsize, "slurmrestd at %s: GET slurm/%s/jobs: HTTP %ld", s->shown,
			 s->api, st);
	}
	pw_strbuf_release(&resp);
	return r;
}

int pw_slurm_refresh(pw_slurm *s, pw_slurm_job *const *jobs, size_t n, bool *changed, char *err,
		     size_t errsize)
{
	*changed = false;
	if (!n)
		return 0;
	/* A job never listed yet needs a full answer; after that, only changes. */
	bool conditional = true;
	for (size_t i = 0; i < n && conditional; i++)
		conditional = jobs[i]->state[0] != '\0';
	bool unchanged;
	json_t *r = list_jobs(s, conditional, &unchanged, err, errsize);
	if (unchanged)
		return 0;
	if (!r)
		return -1;
	pw_slurm_job **idx = pw_xmalloc(n * sizeof(*idx));
	memcpy(idx, jobs, n * sizeof(*idx));
	qsort(idx, n, sizeof(*idx), cmp_job_ptr);
	bool *seen = pw_xcalloc(n, sizeof(*seen));
	size_t k;
	json_t *jj;
	json_array_foreach(json_object_get(r, "jobs"), k, jj)
	{
		pw_slurm_job key = {.job_id = pw_slurm_jint(json_object_get(jj, "job_id"), 0)};
		pw_slurm_job *kp = &key;
		pw_slurm_job **hit = bsearch(&kp, idx, n, sizeof(*idx), cmp_job_ptr);
		if (!hit)
			continue;
		seen[hit - idx] = true;
		if (pw_slurm_job_update(*hit, jj))
			*changed = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (seen[i] || idx[i]->terminal)
			continue;
		/* Purged (MinJobAge) or lost with the controller's state. */
		if (++idx[i]->misses >= 3) {
			snprintf(idx[i]->state, sizeof(idx[i]->state), "VANISHED");
			idx[i]->terminal = true;
			*changed = true;
		}
	}
	free(seen);
	free(idx);
	json_decref(r);
	return 0;
}

int pw_slurm_find_run(pw_slurm *s, const char *dag_id, const char *run_id, pw_slurm_found **out,
		      size_t *n, char *err, size_t errsize)
{
	*out = NULL;
	*n = 0;
	bool unchanged;
	json_t *r = list_jobs(s, false, &unchanged, err, errsize);
	if (!r)
		return -1;
	size_t k, cap = 0;
	json_t *jj;
	json_array_foreach(json_object_get(r, "jobs"), k, jj)
	{
		const char *comment = json_string_value(json_object_get(jj, "comment"));
		char *d = NULL, *rid = NULL, *tid = NULL;
		int attempt = 0;
		if (!comment || !pw_slurm_parse_comment(comment, &d, &rid, &tid, &attempt))
			continue;
		if (!strcmp(d, dag_id) && !strcmp(rid, run_id)) {
			PW_GROW(*out, cap, *n + 1);
			pw_slurm_found *f = &(*out)[(*n)++];
			pw_slurm_job_init(&f->job, pw_slurm_jint(json_object_get(jj, "job_id"), 0));
			pw_slurm_job_update(&f->job, jj);
			f->task_id = tid;
			f->attempt = attempt;
			tid = NULL;
		}
		free(d);
		free(rid);
		free(tid);
	}
	json_decref(r);
	return 0;
}

void pw_slurm_found_free(pw_slurm_found *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].task_id);
	free(f);
}

/* ---- cancel ---- */

int pw_slurm_cancel(pw_slurm *s, int64_t job_id, int sig, char *err, size_t errsize)
{
	char path[96];
	if (sig)
		snprintf(path, sizeof(path), "/job/%" PRId64 "?signal=%d", job_id, sig);
	else
		snprintf(path, sizeof(path), "/job/%" PRId64, job_id);
	pw_strbuf resp = PW_STRBUF_INIT;
	long st = request(s, "DELETE", path, false, NULL, &resp, err, errsize);
	pw_strbuf_release(&resp);
	return st == 200 ? 0 : -1;
}

/* ---- accounting ---- */

static int64_t seconds_ms(json_t *t)
{
	if (!json_is_object(t))
		return -1;
	return pw_slurm_jint(json_object_get(t, "seconds"), 0) * 1000 +
	       pw_slurm_jint(json_object_get(t, "microseconds"), 0) / 1000;
}

int pw_slurm_accounting(pw_slurm *s, pw_slurm_job *j)
{
	if (s->accounting_off)
		return -1;
	char path[64], err[512];
	snprintf(path, sizeof(path), "/job/%" PRId64, j->job_id);
	pw_strbuf resp = PW_STRBUF_INIT;
	long st = request(s, "GET", path, true, NULL, &resp, err, sizeof(err));
	int rc = -1;
	json_error_t e;
	json_t *r = st == 200 ? json_loads(resp.buf ? resp.buf : "", 0, &e) : NULL;
	json_t *job = json_array_get(json_object_get(r, "jobs"), 0);
	if (!job) {
		/* No slurmdbd (or no openapi/dbv plugin): /jobs is all there is. */
		s->accounting_off = true;
		goto out;
	}
	int64_t cpu = seconds_ms(json_object_get(json_object_get(job, "time"), "total"));
	int64_t rss = -1;
	size_t k, m;
	json_t *step, *tres;
	json_array_foreach(json_object_get(job, "steps"), k, step)
	{
		json_t *max = json_object_get(
		    json_object_get(json_object_get(step, "tres"), "requested"), "max");
		json_array_foreach(max, m, tres)
		{
			const char *type = json_string_value(json_object_get(tres, "type"));
			int64_t c = pw_slurm_jint(json_object_get(tres, "count"), -1);
			if (type && !strcmp(type, "mem") && c > rss)
				rss = c;
		}
	}
	if (cpu >= 0) {
		j->cpu_ms = cpu;
		j->max_rss_bytes = rss;
		rc = 0;
	}
out:
	json_decref(r);
	pw_strbuf_release(&resp);
	return rc;
}
