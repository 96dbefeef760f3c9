/*
 * The PostgreSQL backend (libpq).  Every value travels as a query
 * parameter, never inside SQL text.  A batch is one transaction that takes
 * a transaction-level advisory lock before reading the chain's tail, so
 * concurrent writers on any number of hosts keep a single chain.  When the
 * server cannot be reached, append returns -2 and the caller spools.
 *
 * A server that stops answering (hung, or a network that drops packets)
 * must not hang the run either: connecting gives up after connect_timeout
 * (PW_PG_CONNECT_TIMEOUT s unless the connection string or
 * PGCONNECT_TIMEOUT sets one), waiting for an answer after
 * PW_PG_TIMEOUT_MS (the connection is then dropped, so the rows are
 * spooled), and after such a slow failure no new connection is tried for
 * PW_PG_BACKOFF_MS.  A refused connection costs nothing and is retried at
 * once.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/audit.h"

#define PW_PG_LOCK_KEY "727011"
#define BATCH_ROWS 100
#define NCOLS 16
#define PW_PG_CONNECT_TIMEOUT "5"
#define PW_PG_TIMEOUT_MS 10000
#define PW_PG_BACKOFF_MS 30000

typedef struct {
	char *conninfo;
	PGconn *conn;
	bool schema_ok;
	int64_t retry_at; /* monotonic ms; no connection attempt before */
} pg_impl;

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS pipeline_audit_log ("
    " audit_id UUID PRIMARY KEY,"
    " seq BIGINT NOT NULL UNIQUE,"
    " timestamp TIMESTAMPTZ NOT NULL,"
    " dag_id VARCHAR(128) NOT NULL,"
    " dag_run_id VARCHAR(256) NOT NULL,"
    " task_id VARCHAR(128),"
    " event_type VARCHAR(64) NOT NULL,"
    " actor VARCHAR(256),"
    " resource VARCHAR(512),"
    " action VARCHAR(32),"
    " status VARCHAR(32),"
    " metadata JSONB NOT NULL,"
    " git_commit_sha VARCHAR(64),"
    " container_image_digest VARCHAR(128),"
    " prev_hash CHAR(64) NOT NULL,"
    " hash CHAR(64) NOT NULL);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_dag_task ON pipeline_audit_log (dag_id, "
    "task_id);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_run ON pipeline_audit_log (dag_run_id);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_ts ON pipeline_audit_log (timestamp);"
    "CREATE OR REPLACE FUNCTION pitwall_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'pipeline_audit_log is append-only: % is not allowed', TG_OP; END $$;"
    "CREATE OR REPLACE TRIGGER pipeline_audit_log_no_change BEFORE UPDATE OR DELETE ON "
    " pipeline_audit_log FOR EACH ROW EXECUTE FUNCTION pitwall_audit_append_only();"
    "CREATE OR REPLACE TRIGGER pipeline_audit_log_no_truncate BEFORE TRUNCATE ON "
    " pipeline_audit_log FOR EACH STATEMENT EXECUTE FUNCTION pitwall_audit_append_only();"
    "CREATE TABLE IF NOT EXISTS pitwall_schema (version INTEGER NOT NULL);"
    "INSERT INTO pitwall_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM "
    "pitwall_schema);";

static void drop_conn(pg_impl *p)
{
	PQfinish(p->conn);
	p->conn = NULL;
	p->retry_at = pw_now_mono_ms() + PW_PG_BACKOFF_MS;
}

/*
 * Wait until the connection has a result to give without blocking.  After
 * PW_PG_TIMEOUT_MS without an answer the connection is dropped: -1.
 */
static int await_result(pg_impl *p, pw_strbuf *err)
{
	int64_t deadline = pw_now_mono_ms() + PW_PG_TIMEOUT_MS;
	while (PQisBusy(p->conn)) {
		int64_t left = deadline - pw_now_mono_ms();
		struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
		int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (n == 0) {
			pw_strbuf_addf(err, "postgresql: no answer from the server within %d s",
				       PW_PG_TIMEOUT_MS / 1000);
			drop_conn(p);
			return -1;
		}
		if (n > 0 && !PQconsumeInput(p->conn))
			break; /* PQgetResult reports the error */
	}
	return 0;
}

/* PQexecParams with a time limit; NULL when it timed out (connection dropped). */
static PGresult *exec_timed(pg_impl *p, const char *sql, int n, const char *const *vals,
			    pw_strbuf *err)
{
	if (!PQsendQueryParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0)) {
		pw_strbuf_addf(err, "postgresql: %s", PQerrorMessage(p->conn));
		return NULL;
	}
	PGresult *last = NULL, *r;
	for (;;) {
		if (await_result(p, err) != 0) {
			PQclear(last);
			return NULL;
		}
		if (!(r = PQgetResult(p->conn)))
			break;
		PQclear(last);
		last = r;
	}
	return last;
}

static bool exec_ok(pg_impl *p, const char *sql, pw_strbuf *err)
{
	PGresult *r = exec_timed(p, sql, 0, NULL, err);
	if (!r)
		return false;
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		pw_strbuf_addf(err, "postgresql: %s", PQerrorMessage(p->conn));
	PQclear(r);
	return ok;
}

/* The schema, several statements in one string: PQexec (no parameters). */
static bool exec_script(PGconn *c, const char *sql, pw_strbuf *err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		pw_strbuf_addf(err, "postgresql: %s", PQerrorMessage(c));
	PQclear(r);
	return ok;
}

static int ensure_schema(pg_impl *p, pw_strbuf *err)
{
	if (p->schema_ok)
		return 0;
	PGresult *r = PQexec(p->conn, "SELECT to_regclass('pipeline_audit_log') IS NOT NULL");
	bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		      strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists) {
		/*
		 * First use, by a role allowed to create it.  The session lock
		 * keeps two first users from racing.
		 */
		if (!exec_script(p->conn, "SELECT pg_advisory_lock(" PW_PG_LOCK_KEY ")", err))
			return -1;
		bool ok = exec_script(p->conn, "BEGIN", err) &&
			  exec_script(p->conn, schema_sql, err) &&
			  exec_script(p->conn, "COMMIT", err);
		if (!ok)
			exec_script(p->conn, "ROLLBACK", err);
		exec_script(p->conn, "SELECT pg_advisory_unlock(" PW_PG_LOCK_KEY ")", err);
		if (!ok)
			return -1;
	}
	p->schema_ok = true;
	return 0;
}

/* Connect (or reconnect); -2 when the server cannot be reached. */
static int pg_connect(pg_impl *p, pw_strbuf *err)
{
	if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	int64_t t0 = pw_now_mono_ms();
	if (t0 < p->retry_at) {
		pw_strbuf_adds(err, "postgresql: the server did not answer; not retrying yet");
		return -2;
	}
	if (p->conn) {
		PQreset(p->conn);
	} else {
		/* Our connect_timeout first: the connection string's own overrides it. */
		const char *keys[] = {"connect_timeout", "dbname", NULL};
		const char *vals[] = {PW_PG_CONNECT_TIMEOUT, p->conninfo, NULL};
		int skip = getenv("PGCONNECT_TIMEOUT") ? 1 : 0;
		p->conn = PQconnectdbParams(keys + skip, vals + skip, 1);
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		/* Refused at once: retry next time; timed out: back off. */
		if (pw_now_mono_ms() - t0 >= 1000)
			p->retry_at = pw_now_mono_ms() + PW_PG_BACKOFF_MS;
		/* libpq's message may echo the host, never the password. */
		char *m = pw_xstrdup(PQerrorMessage(p->conn));
		m[strcspn(m, "\n")] = '\0';
		pw_strbuf_addf(err, "postgresql: cannot connect: %s", m);
		free(m);
		return -2;
	}
	PQsetNoticeProcessor(p->conn, NULL, NULL);
	PGresult *r = PQexec(p->conn, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
	PQclear(r);
	return ensure_schema(p, err);
}

static void pg_noop_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int lost(pg_impl *p)
{
	return !p->conn || PQstatus(p->conn) != CONNECTION_OK ? -2 : -1;
}

static int pg_append(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err)
{
	pg_impl *p = s->impl;
	int rc = pg_connect(p, err);
	if (rc)
		return rc;
	PQsetNoticeProcessor(p->conn, pg_noop_notice, NULL);
	if (!exec_ok(p, "BEGIN", err) ||
	    !exec_ok(p, "SELECT pg_advisory_xact_lock(" PW_PG_LOCK_KEY ")", err))
		goto fail;
	PGresult *r = exec_timed(
	    p, "SELECT seq, hash FROM pipeline_audit_log ORDER BY seq DESC LIMIT 1", 0, NULL, err);
	if (!r)
		goto fail;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pw_strbuf_addf(err, "postgresql: %s", PQerrorMessage(p->conn));
		PQclear(r);
		goto fail;
	}
	int64_t seq = 0;
	char prev[65];
	memcpy(prev, PW_AUDIT_GENESIS_HASH, sizeof(prev));
	if (PQntuples(r) == 1) {
		seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		snprintf(prev, sizeof(prev), "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);

	for (size_t base = 0; base < n; base += BATCH_ROWS) {
		size_t m = n - base < BATCH_ROWS ? n - base : BATCH_ROWS;
		const char *vals[BATCH_ROWS * NCOLS];
		char seqs[BATCH_ROWS][24];
		pw_strbuf sql = PW_STRBUF_INIT;
		pw_strbuf_adds(&sql,
			       "INSERT INTO pipeline_audit_log (audit_id, seq, timestamp, dag_id, "
			       "dag_run_id, task_id, event_type, actor, resource, action, status, "
			       "metadata, git_commit_sha, container_image_digest, prev_hash, hash) "
			       "VALUES ");
		for (size_t i = 0; i < m; i++) {
			pw_audit_row *row = &rows[base + i];
			row->seq = ++seq;
			memcpy(row->prev_hash, prev, sizeof(prev));
			pw_audit_row_hash(row, row->hash);
			memcpy(prev, row->hash, sizeof(prev));
			snprintf(seqs[i], sizeof(seqs[i]), "%lld", (long long)row->seq);
			const char **v = &vals[i * NCOLS];
			v[0] = row->audit_id;
			v[1] = seqs[i];
			v[2] = row->timestamp;
			v[3] = row->dag_id;
			v[4] = row->dag_run_id;
			v[5] = row->task_id;
			v[6] = row->event_type;
			v[7] = row->actor;
			v[8] = row->resource;
			v[9] = row->action;
			v[10] = row->status;
			v[11] = row->metadata;
			v[12] = row->git_commit_sha;
			v[13] = row->container_image_digest;
			v[14] = row->prev_hash;
			v[15] = row->hash;
			int b = (int)(i * NCOLS);
			pw_strbuf_addf(
			    &sql,
			    "%s($%d::uuid,$%d::bigint,$%d::timestamptz,$%d,$%d,$%d,$%d,$%d,"
			    "$%d,$%d,$%d,$%d::jsonb,$%d,$%d,$%d,$%d)",
			    i ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
			    b + 9, b + 10, b + 11, b + 12, b + 13, b + 14, b + 15, b + 16);
		}
		r = exec_timed(p, sql.buf, (int)(m * NCOLS), vals, err);
		pw_strbuf_release(&sql);
		if (!r)
			goto fail;
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			pw_strbuf_addf(err, "postgresql: insert: %s", PQerrorMessage(p->conn));
			PQclear(r);
			goto fail;
		}
		PQclear(r);
	}
	if (!exec_ok(p, "COMMIT", err))
		goto fail;
	return 0;
fail:
	rc = lost(p);
	if (rc == -1) {
		pw_strbuf rb = PW_STRBUF_INIT;
		exec_ok(p, "ROLLBACK", &rb);
		pw_strbuf_release(&rb);
	}
	return rc;
}

static char *val_dup(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : pw_xstrdup(PQgetvalue(r, row, col));
}

static int pg_query(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb, void *payload,
		    pw_strbuf *err)
{
	pg_impl *p = s->impl;
	int rc = pg_connect(p, err);
	if (rc)
		return rc;
	const char *vals[7];
	char after[24], limit[24];
	int n = 0;
	pw_strbuf where = PW_STRBUF_INIT;
	pw_strbuf_adds(&where, "WHERE true");
#define FILTER(cond, val)                                                                          \
	do {                                                                                       \
		if (val) {                                                                         \
			vals[n++] = (val);                                                         \
			pw_strbuf_addf(&where, " AND " cond, n);                                   \
		}                                                                                  \
	} while (0)
	FILTER("dag_id = $%d", f->dag_id);
	FILTER("dag_run_id = $%d", f->dag_run_id);
	FILTER("task_id = $%d", f->task_id);
	FILTER("event_type = $%d", f->event_type);
	FILTER("timestamp >= $%d::timestamptz", f->since);
	snprintf(after, sizeof(after), "%lld", (long long)f->after_seq);
	const char *after_p = f->after_seq ? after : NULL;
	FILTER("seq > $%d::bigint", after_p);
#undef FILTER
	pw_strbuf sql = PW_STRBUF_INIT;
	const char *cols =
	    "audit_id::text, seq, to_char(timestamp AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), dag_id, dag_run_id, task_id, event_type, actor, "
	    "resource, action, status, metadata::text, git_commit_sha, container_image_digest, "
	    "prev_hash, hash";
	if (f->limit > 0) {
		snprintf(limit, sizeof(limit), "%lld", (long long)f->limit);
		vals[n++] = limit;
		pw_strbuf_addf(
		    &sql,
		    "SELECT * FROM (SELECT %s FROM pipeline_audit_log %s ORDER BY seq DESC "
		    "LIMIT $%d::bigint) t ORDER BY seq",
		    cols, where.buf, n);
	} else {
		pw_strbuf_addf(&sql, "SELECT %s FROM pipeline_audit_log %s ORDER BY seq", cols,
			       where.buf);
	}
	pw_strbuf_release(&where);
	if (!PQsendQueryParams(p->conn, sql.buf, n, NULL, vals, NULL, NULL, 0)) {
		pw_strbuf_addf(err, "postgresql: %s", PQerrorMessage(p->conn));
		pw_strbuf_release(&sql);
		return lost(p);
	}
	pw_strbuf_release(&sql);
	PQsetSingleRowMode(p->conn);
	PGresult *r;
	bool stop = false;
	rc = 0;
	while (await_result(p, err) == 0 && (r = PQgetResult(p->conn))) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE && !stop) {
			pw_audit_row row;
			memset(&row, 0, sizeof(row));
			snprintf(row.audit_id, sizeof(row.audit_id), "%s", PQgetvalue(r, 0, 0));
			row.seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			snprintf(row.timestamp, sizeof(row.timestamp), "%s", PQgetvalue(r, 0, 2));
			row.dag_id = val_dup(r, 0, 3);
			row.dag_run_id = val_dup(r, 0, 4);
			row.task_id = val_dup(r, 0, 5);
			row.event_type = val_dup(r, 0, 6);
			row.actor = val_dup(r, 0, 7);
			row.resource = val_dup(r, 0, 8);
			row.action = val_dup(r, 0, 9);
			row.status = val_dup(r, 0, 10);
			row.metadata = val_dup(r, 0, 11);
			/* JSONB reorders keys: hash the canonical form, as written. */
			pw_audit_canonicalize_metadata(&row.metadata);
			row.git_commit_sha = val_dup(r, 0, 12);
			row.container_image_digest = val_dup(r, 0, 13);
			snprintf(row.prev_hash, sizeof(row.prev_hash), "%s", PQgetvalue(r, 0, 14));
			snprintf(row.hash, sizeof(row.hash), "%s", PQgetvalue(r, 0, 15));
			stop = cb(&row, payload) != 0;
			pw_audit_row_release(&row);
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE) {
			pw_strbuf_addf(err, "postgresql: query: %s", PQerrorMessage(p->conn));
			rc = lost(p);
		}
		PQclear(r);
	}
	if (!p->conn)
		rc = -2; /* timed out: dropped */
	return rc;
}

static void pg_close(pw_audit_store *s)
{
	pg_impl *p = s->impl;
	if (p->conn)
		PQfinish(p->conn);
	free(p->conninfo);
	free(p);
	s->impl = NULL;
}

static const pw_audit_backend pg_backend = {
    PW_AUDIT_BACKEND_VERSION, "postgresql", pg_append, pg_query, pg_close,
};

int pw_audit_pg_open(pw_audit_store *s, const char *conninfo, pw_strbuf *err)
{
	pg_impl *p = pw_xcalloc(1, sizeof(*p));
	p->conninfo = pw_xstrdup(conninfo);
	s->backend = &pg_backend;
	s->impl = p;
	int rc = pg_connect(p, err);
	if (rc == -2 && PQping(conninfo) == PQPING_OK) {
		/*
		 * The server is up and answers, yet would not let us in: a wrong
		 * password, role or database is a configuration error, not an
		 * outage to spool through.
		 */
		return -1;
	}
	if (rc == -2) {
		fprintf(stderr, "pitwall: warning: %s (%s); events will be spooled\n", err->buf,
			s->display);
		pw_strbuf_reset(err);
	}
	return rc;
}

/*
 * A session-level advisory lock named by a string, held until the store
 * is closed (the connection ends): `pitwall run --scheduled` with a
 * PostgreSQL store serialises runs of one DAG across hosts this way.
 * Returns 1 when taken, 0 when someone else holds it, -1 on error or when
 * the store is not PostgreSQL.
 */
int pw_audit_pg_try_lock(pw_audit_store *s, const char *name)
{
	if (!s || s->backend != &pg_backend)
		return -1;
	pg_impl *p = s->impl;
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pg_connect(p, &err);
	pw_strbuf_release(&err);
	if (rc)
		return -1;
	const char *vals[1] = {name};
	PGresult *r = PQexecParams(p->conn, "SELECT pg_try_advisory_lock(727012, hashtext($1))", 1,
				   NULL, vals, NULL, NULL, 0);
	int out = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		out = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? 1 : 0;
	PQclear(r);
	return out;
}
