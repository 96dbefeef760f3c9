#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pitwall/audit.h"
#include "pitwall/sha256.h"

char *pw_state_dir(void)
{
	const char *home = getenv("PITWALL_HOME");
	char *dir = home && *home ? pw_xasprintf("%s/.pitwall", home) : pw_xstrdup(".pitwall");
	pw_mkdir_p(dir, 0700);
	return dir;
}

/*
 * Passwords never reach a log or the audit table: postgresql://u:PW@h/db
 * becomes postgresql://u:***@h/db, password=PW becomes password=***, and a
 * password=... query parameter likewise.
 */
char *pw_redact_conninfo(const char *url)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	const char *scheme = strstr(url, "://");
	if (scheme) {
		const char *auth = scheme + 3;
		/* libpq reads the user info up to the last '@' before the path's '/'. */
		const char *end = auth + strcspn(auth, "/");
		const char *at = NULL;
		for (const char *p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			pw_strbuf_add(&sb, url, (size_t)(colon + 1 - url));
			pw_strbuf_adds(&sb, "***");
			url = at;
		}
	}
	/*
	 * password=... and sslpassword=... in a conninfo string (libpq allows
	 * spaces around '=' there) or a query string.
	 */
	const char *p = url;
	while (*p) {
		const char *m = strstr(p, "password");
		if (!m) {
			pw_strbuf_adds(&sb, p);
			break;
		}
		const char *k = m;
		if (k - url >= 3 && strncmp(k - 3, "ssl", 3) == 0)
			k -= 3;
		bool word_start = k == url || (!isalnum((unsigned char)k[-1]) && k[-1] != '_');
		const char *q = m + 8;
		q += strspn(q, " \t");
		if (!word_start || *q != '=') {
			pw_strbuf_add(&sb, p, (size_t)(m + 8 - p));
			p = m + 8;
			continue;
		}
		q++;
		q += strspn(q, " \t");
		pw_strbuf_add(&sb, p, (size_t)(q - p));
		pw_strbuf_adds(&sb, "***");
		p = q;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
		} else {
			p += strcspn(p, " \t&#");
		}
	}
	return pw_strbuf_detach(&sb);
}

/* A libpq URI, or a "keyword=value ..." conninfo string (it starts with a keyword and '='). */
static bool is_pg_url(const char *url)
{
	if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0)
		return true;
	const char *p = url;
	while (isspace((unsigned char)*p))
		p++;
	const char *k = p;
	while (islower((unsigned char)*p) || *p == '_')
		p++;
	if (p == k)
		return false;
	while (isspace((unsigned char)*p))
		p++;
	return *p == '=';
}

int pw_audit_open(pw_audit_store **out, const char *url, pw_strbuf *err)
{
	*out = NULL;
	if (!url || !*url)
		url = getenv("PITWALL_STORE");
	pw_audit_store *s = pw_xcalloc(1, sizeof(*s));
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	char *state = pw_state_dir();
	int rc;
	if (url && *url && is_pg_url(url)) {
		s->display = pw_redact_conninfo(url);
		char hex[65];
		pw_sha256_hex(s->display, strlen(s->display), hex);
		s->spool_path = pw_xasprintf("%s/spool-%.16s.jsonl", state, hex);
		rc = pw_audit_pg_open(s, url, err);
		if (rc == -2) {
			/* Unreachable now: the spool keeps events until it is back. */
			rc = 0;
		}
	} else {
		char *path;
		if (url && *url)
			path = pw_xstrdup(strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url);
		else
			path = pw_xasprintf("%s/audit.db", state);
		s->display = pw_xasprintf("sqlite:%s", path);
		rc = pw_audit_sqlite_open(s, path, err);
		free(path);
	}
	free(state);
	if (rc != 0) {
		pw_audit_close(s);
		return rc;
	}
	if (s->spool_path && pw_audit_spool_pending(s))
		pw_audit_flush_spool(s, err); /* best effort; a failure leaves the spool */
	pw_strbuf_reset(err);
	*out = s;
	return 0;
}

void pw_audit_close(pw_audit_store *s)
{
	if (!s)
		return;
	if (s->backend && s->impl)
		s->backend->close(s);
	pthread_mutex_destroy(&s->mu);
	free(s->display);
	free(s->spool_path);
	free(s);
}

size_t pw_audit_spool_pending(pw_audit_store *s)
{
	if (!s->spool_path)
		return 0;
	FILE *f = fopen(s->spool_path, "re");
	if (!f)
		return 0;
	size_t n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

/* why: what kept the rows from the store, for the first warning. */
static int spool_write(pw_audit_store *s, pw_audit_row *rows, size_t n, const char *why,
		       pw_strbuf *err)
{
	int fd = open(s->spool_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		pw_strbuf_addf(err, "cannot write the audit spool %s: %s", s->spool_path,
			       strerror(errno));
		return -1;
	}
	flock(fd, LOCK_EX);
	pw_strbuf sb = PW_STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char *line = pw_audit_row_to_json(&rows[i]);
		pw_strbuf_adds(&sb, line);
		pw_strbuf_addc(&sb, '\n');
		free(line);
	}
	ssize_t w = write(fd, sb.buf, sb.len);
	int rc = w == (ssize_t)sb.len ? 0 : -1;
	if (rc == 0)
		fdatasync(fd);
	else
		pw_strbuf_addf(err, "short write to the audit spool %s", s->spool_path);
	pw_strbuf_release(&sb);
	flock(fd, LOCK_UN);
	close(fd);
	s->spooled += n;
	if (!s->warned_spool) {
		fprintf(stderr,
			"pitwall: warning: audit store %s %s; events are spooled to %s and "
			"will be written when it is back\n",
			s->display, why, s->spool_path);
		s->warned_spool = true;
	}
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
	const char **ids; /* sorted audit_ids of the spooled rows */
	size_t n;
	size_t found;
	char *present; /* per id: already in the store */
} dedup_state;

static int mark_present(const pw_audit_row *r, void *payload)
{
	dedup_state *d = payload;
	const char *key = r->audit_id;
	const char **hit = bsearch(&key, d->ids, d->n, sizeof(*d->ids), cmp_str);
	if (hit && !d->present[hit - d->ids]) {
		d->present[hit - d->ids] = 1;
		d->found++;
	}
	return 0;
}

/*
 * Drop the spooled rows the store already holds: a commit whose answer was
 * lost (the server died or stopped answering right then) may have gone
 * through, and inserting those rows again would fail for ever on their
 * audit_id.  Returns the backend's error when the store cannot be read.
 */
static int drop_already_stored(pw_audit_store *s, pw_audit_row *rows, size_t *n, pw_strbuf *err)
{
	dedup_state d = {.n = *n};
	d.ids = pw_xcalloc(*n, sizeof(*d.ids));
	d.present = pw_xcalloc(*n, 1);
	for (size_t i = 0; i < *n; i++)
		d.ids[i] = rows[i].audit_id;
	qsort(d.ids, d.n, sizeof(*d.ids), cmp_str);
	int rc = 0;
	for (size_t i = 0; i < *n && rc == 0; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(rows[j].dag_run_id, rows[i].dag_run_id) == 0;
		if (seen)
			continue;
		pw_audit_filter f = {.dag_run_id = rows[i].dag_run_id};
		rc = s->backend->query(s, &f, mark_present, &d, err);
	}
	if (rc == 0 && d.found) {
		/* Decide first: ids points into rows, which the compaction moves. */
		char *drop = pw_xcalloc(*n, 1);
		for (size_t i = 0; i < *n; i++) {
			const char *key = rows[i].audit_id;
			const char **hit = bsearch(&key, d.ids, d.n, sizeof(*d.ids), cmp_str);
			drop[i] = hit && d.present[hit - d.ids];
		}
		size_t k = 0;
		for (size_t i = 0; i < *n; i++) {
			if (drop[i])
				pw_audit_row_release(&rows[i]);
			else
				rows[k++] = rows[i];
		}
		free(drop);
		fprintf(stderr,
			"pitwall: %zu spooled audit event%s already in %s (a commit whose answer "
			"was lost); not written twice\n",
			d.found, d.found == 1 ? " was" : "s were", s->display);
		*n = k;
	}
	free(d.ids);
	free(d.present);
	return rc;
}

int pw_audit_flush_spool(pw_audit_store *s, pw_strbuf *err)
{
	if (!s->spool_path || !s->impl)
		return s->spool_path ? -2 : 0;
	int fd = open(s->spool_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	flock(fd, LOCK_EX);
	pw_strbuf text = PW_STRBUF_INIT;
	char buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		pw_strbuf_add(&text, buf, (size_t)r);
	pw_audit_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	char *save = NULL;
	for (char *line = text.buf ? strtok_r(text.buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		PW_GROW(rows, cap, n + 1);
		if (pw_audit_row_from_json(&rows[n], line) == 0)
			n++;
	}
	if (n)
		rc = drop_already_stored(s, rows, &n, err);
	if (rc == 0 && n) {
		rc = s->backend->append(s, rows, n, err);
		if (rc == 0) {
			if (ftruncate(fd, 0) < 0)
				rc = -1;
			fprintf(stderr, "pitwall: wrote %zu spooled audit event%s to %s\n", n,
				n == 1 ? "" : "s", s->display);
		}
	} else if (rc == 0) {
		if (ftruncate(fd, 0) < 0)
			rc = -1;
	}
	for (size_t i = 0; i < n; i++)
		pw_audit_row_release(&rows[i]);
	free(rows);
	pw_strbuf_release(&text);
	flock(fd, LOCK_UN);
	close(fd);
	return rc;
}

static int audit_append_locked(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err);

int pw_audit_append(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = audit_append_locked(s, rows, n, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int audit_append_locked(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (pw_audit_canonicalize_metadata(&rows[i].metadata) != 0) {
			pw_strbuf_addf(
			    err, "internal error: metadata of a %s event is not a JSON object",
			    rows[i].event_type);
			return -1;
		}
	}
	if (s->spool_path) {
		/* Order matters: what waits in the spool goes first. */
		if (pw_audit_spool_pending(s)) {
			int frc = pw_audit_flush_spool(s, err);
			if (frc != 0) {
				/* Behind the spooled rows, in order, whatever kept them. */
				char *why =
				    frc == -2 ? NULL
					      : pw_xasprintf("did not take the spooled events (%s)",
							     err->buf ? err->buf : "?");
				pw_strbuf_reset(err);
				int rc = spool_write(s, rows, n, why ? why : "unreachable", err);
				free(why);
				return rc;
			}
		}
		if (!s->impl)
			return spool_write(s, rows, n, "unreachable", err);
	}
	int rc = s->backend->append(s, rows, n, err);
	if (rc == -2) {
		pw_strbuf_reset(err);
		return spool_write(s, rows, n, "unreachable", err);
	}
	return rc;
}

static int audit_query_locked(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb,
			      void *payload, pw_strbuf *err);

int pw_audit_query(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb, void *payload,
		   pw_strbuf *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = audit_query_locked(s, f, cb, payload, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int audit_query_locked(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb,
			      void *payload, pw_strbuf *err)
{
	if (!s->impl) {
		pw_strbuf_addf(err, "audit store %s is unreachable", s->display);
		return -2;
	}
	pw_audit_filter none = {0};
	return s->backend->query(s, f ? f : &none, cb, payload, err);
}

typedef struct {
	pw_audit_verify_result *res;
	char prev[65];
	int64_t expect;
} verify_state;

static int verify_row(const pw_audit_row *r, void *payload)
{
	verify_state *v = payload;
	pw_audit_verify_result *res = v->res;
	res->rows++;
	char h[65];
	const char *problem = NULL;
	char buf[256];
	if (r->seq != v->expect) {
		snprintf(buf, sizeof(buf),
			 r->seq > v->expect ? "rows %lld..%lld are missing (deleted?)"
					    : "seq %lld appears out of order (expected %lld)",
			 (long long)(r->seq > v->expect ? v->expect : r->seq),
			 (long long)(r->seq > v->expect ? r->seq - 1 : v->expect));
		problem = buf;
	} else if (strcmp(r->prev_hash, v->prev) != 0) {
		problem = "prev_hash does not match the previous row's hash (a row before it was "
			  "removed or reordered)";
	} else {
		pw_audit_row_hash(r, h);
		if (strcmp(h, r->hash) != 0)
			problem = "hash does not match the row's contents (the row was edited)";
	}
	if (problem) {
		res->ok = false;
		res->bad_seq = r->seq;
		snprintf(res->bad_audit_id, sizeof(res->bad_audit_id), "%s", r->audit_id);
		snprintf(res->problem, sizeof(res->problem), "%s", problem);
		return 1;
	}
	memcpy(v->prev, r->hash, sizeof(v->prev));
	v->expect++;
	return 0;
}

int pw_audit_verify(pw_audit_store *s, pw_audit_verify_result *out, pw_strbuf *err)
{
	memset(out, 0, sizeof(*out));
	out->ok = true;
	verify_state v = {.res = out, .expect = 1};
	memcpy(v.prev, PW_AUDIT_GENESIS_HASH, sizeof(v.prev));
	return pw_audit_query(s, NULL, verify_row, &v, err);
}

static int found_row(const pw_audit_row *r, void *payload)
{
	(void)r;
	*(bool *)payload = true;
	return 1;
}

bool pw_audit_run_exists(pw_audit_store *s, const char *run_id)
{
	bool found = false;
	/* A run exists once it started; a recorded schedule_fired alone is not a run. */
	pw_audit_filter f = {.dag_run_id = run_id, .event_type = "dag_run_start", .limit = 1};
	pw_strbuf err = PW_STRBUF_INIT;
	pw_audit_query(s, &f, found_row, &found, &err);
	pw_strbuf_release(&err);
	return found;
}

bool pw_audit_run_id_taken(void *store, const char *run_id)
{
	return pw_audit_run_exists(store, run_id);
}
