/*
 * The embedded SQLite backend: one file, WAL, append-only triggers.  A
 * batch is one BEGIN IMMEDIATE transaction, which takes the write lock
 * before reading the chain's tail, so two processes appending at once
 * still build a single chain.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/audit.h"

typedef struct {
	sqlite3 *db;
	sqlite3_stmt *insert;
	sqlite3_stmt *tail;
} sq_impl;

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS pipeline_audit_log ("
    " audit_id TEXT PRIMARY KEY,"
    " seq INTEGER NOT NULL UNIQUE,"
    " timestamp TEXT NOT NULL,"
    " dag_id TEXT NOT NULL,"
    " dag_run_id TEXT NOT NULL,"
    " task_id TEXT,"
    " event_type TEXT NOT NULL,"
    " actor TEXT,"
    " resource TEXT,"
    " action TEXT,"
    " status TEXT,"
    " metadata TEXT NOT NULL CHECK (json_valid(metadata)),"
    " git_commit_sha TEXT,"
    " container_image_digest TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_dag_task ON pipeline_audit_log (dag_id, "
    "task_id);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_run ON pipeline_audit_log (dag_run_id);"
    "CREATE INDEX IF NOT EXISTS pipeline_audit_log_ts ON pipeline_audit_log (timestamp);"
    "CREATE TRIGGER IF NOT EXISTS pipeline_audit_log_no_update BEFORE UPDATE ON pipeline_audit_log"
    " BEGIN SELECT RAISE(ABORT, 'pipeline_audit_log is append-only: UPDATE is not allowed'); END;"
    "CREATE TRIGGER IF NOT EXISTS pipeline_audit_log_no_delete BEFORE DELETE ON pipeline_audit_log"
    " BEGIN SELECT RAISE(ABORT, 'pipeline_audit_log is append-only: DELETE is not allowed'); END;"
    "CREATE TABLE IF NOT EXISTS pitwall_schema (version INTEGER NOT NULL);"
    "INSERT INTO pitwall_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM "
    "pitwall_schema);";

#define COLUMNS                                                                                    \
	"audit_id, seq, timestamp, dag_id, dag_run_id, task_id, event_type, actor, resource, "     \
	"action, status, metadata, git_commit_sha, container_image_digest, prev_hash, hash"

static int sq_fail(sq_impl *q, pw_strbuf *err, const char *what)
{
	pw_strbuf_addf(err, "sqlite: %s: %s", what, sqlite3_errmsg(q->db));
	return -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int sq_append(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err)
{
	sq_impl *q = s->impl;
	char *msg = NULL;
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
		pw_strbuf_addf(err, "sqlite: cannot lock the audit table: %s", msg);
		sqlite3_free(msg);
		return -1;
	}
	int64_t seq = 0;
	char prev[65];
	memcpy(prev, PW_AUDIT_GENESIS_HASH, sizeof(prev));
	sqlite3_reset(q->tail);
	if (sqlite3_step(q->tail) == SQLITE_ROW) {
		seq = sqlite3_column_int64(q->tail, 0);
		const char *h = (const char *)sqlite3_column_text(q->tail, 1);
		snprintf(prev, sizeof(prev), "%s", h ? h : "");
	}
	sqlite3_reset(q->tail);
	for (size_t i = 0; i < n; i++) {
		pw_audit_row *r = &rows[i];
		r->seq = ++seq;
		memcpy(r->prev_hash, prev, sizeof(prev));
		pw_audit_row_hash(r, r->hash);
		memcpy(prev, r->hash, sizeof(prev));
		sqlite3_stmt *st = q->insert;
		sqlite3_reset(st);
		bind_text(st, 1, r->audit_id);
		sqlite3_bind_int64(st, 2, r->seq);
		bind_text(st, 3, r->timestamp);
		bind_text(st, 4, r->dag_id);
		bind_text(st, 5, r->dag_run_id);
		bind_text(st, 6, r->task_id);
		bind_text(st, 7, r->event_type);
		bind_text(st, 8, r->actor);
		bind_text(st, 9, r->resource);
		bind_text(st, 10, r->action);
		bind_text(st, 11, r->status);
		bind_text(st, 12, r->metadata);
		bind_text(st, 13, r->git_commit_sha);
		bind_text(st, 14, r->container_image_digest);
		bind_text(st, 15, r->prev_hash);
		bind_text(st, 16, r->hash);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sq_fail(q, err, "insert");
			sqlite3_reset(st);
			sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	sqlite3_reset(q->insert);
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
		pw_strbuf_addf(err, "sqlite: commit: %s", msg);
		sqlite3_free(msg);
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? pw_xstrdup((const char *)t) : NULL;
}

static int sq_query(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb, void *payload,
		    pw_strbuf *err)
{
	sq_impl *q = s->impl;
	pw_strbuf sql = PW_STRBUF_INIT;
	/* Only fixed text goes into the SQL; every value is a bound parameter. */
	pw_strbuf_adds(&sql, "SELECT " COLUMNS " FROM pipeline_audit_log WHERE 1=1");
	if (f->dag_id)
		pw_strbuf_adds(&sql, " AND dag_id = :dag");
	if (f->dag_run_id)
		pw_strbuf_adds(&sql, " AND dag_run_id = :run");
	if (f->task_id)
		pw_strbuf_adds(&sql, " AND task_id = :task");
	if (f->event_type)
		pw_strbuf_adds(&sql, " AND event_type = :ev");
	if (f->since)
		pw_strbuf_adds(&sql, " AND timestamp >= :since");
	if (f->after_seq)
		pw_strbuf_adds(&sql, " AND seq > :after");
	if (f->limit > 0) {
		pw_strbuf sub = PW_STRBUF_INIT;
		pw_strbuf_addf(&sub,
			       "SELECT * FROM (%s ORDER BY seq DESC LIMIT :limit) ORDER BY seq",
			       sql.buf);
		pw_strbuf_release(&sql);
		sql = sub;
	} else {
		pw_strbuf_adds(&sql, " ORDER BY seq");
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
		pw_strbuf_release(&sql);
		return sq_fail(q, err, "query");
	}
	pw_strbuf_release(&sql);
	struct {
		const char *name;
		const char *val;
	} binds[] = {{":dag", f->dag_id},
		     {":run", f->dag_run_id},
		     {":task", f->task_id},
		     {":ev", f->event_type},
		     {":since", f->since}};
	for (size_t i = 0; i < PW_ARRAY_SIZE(binds); i++) {
		int idx = sqlite3_bind_parameter_index(st, binds[i].name);
		if (idx)
			sqlite3_bind_text(st, idx, binds[i].val, -1, SQLITE_STATIC);
	}
	int idx = sqlite3_bind_parameter_index(st, ":after");
	if (idx)
		sqlite3_bind_int64(st, idx, f->after_seq);
	idx = sqlite3_bind_parameter_index(st, ":limit");
	if (idx)
		sqlite3_bind_int64(st, idx, f->limit);

	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		pw_audit_row r;
		memset(&r, 0, sizeof(r));
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *ts = (const char *)sqlite3_column_text(st, 2);
		snprintf(r.audit_id, sizeof(r.audit_id), "%s", id ? id : "");
		r.seq = sqlite3_column_int64(st, 1);
		snprintf(r.timestamp, sizeof(r.timestamp), "%s", ts ? ts : "");
		r.dag_id = col_dup(st, 3);
		r.dag_run_id = col_dup(st, 4);
		r.task_id = col_dup(st, 5);
		r.event_type = col_dup(st, 6);
		r.actor = col_dup(st, 7);
		r.resource = col_dup(st, 8);
		r.action = col_dup(st, 9);
		r.status = col_dup(st, 10);
		r.metadata = col_dup(st, 11);
		r.git_commit_sha = col_dup(st, 12);
		r.container_image_digest = col_dup(st, 13);
		const char *ph = (const char *)sqlite3_column_text(st, 14);
		const char *h = (const char *)sqlite3_column_text(st, 15);
		snprintf(r.prev_hash, sizeof(r.prev_hash), "%s", ph ? ph : "");
		snprintf(r.hash, sizeof(r.hash), "%s", h ? h : "");
		int stop = cb(&r, payload);
		pw_audit_row_release(&r);
		if (stop)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_fail(q, err, "query");
	sqlite3_finalize(st);
	return rc;
}

static void sq_close(pw_audit_store *s)
{
	sq_impl *q = s->impl;
	sqlite3_finalize(q->insert);
	sqlite3_finalize(q->tail);
	sqlite3_close(q->db);
	free(q);
	s->impl = NULL;
}

static const pw_audit_backend sqlite_backend = {
    PW_AUDIT_BACKEND_VERSION, "sqlite", sq_append, sq_query, sq_close,
};

int pw_audit_sqlite_open(pw_audit_store *s, const char *path, pw_strbuf *err)
{
	sq_impl *q = pw_xcalloc(1, sizeof(*q));
	s->backend = &sqlite_backend;
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		pw_strbuf_addf(err, "cannot open audit store %s: %s", path,
			       q->db ? sqlite3_errmsg(q->db) : "out of memory");
		sqlite3_close(q->db);
		free(q);
		return -1;
	}
	s->impl = q;
	sqlite3_busy_timeout(q->db, 30000);
	char *msg = NULL;
	/*
	 * WAL with synchronous=NORMAL: a commit is a write to the WAL, not an
	 * fsync, so the recorder's batches (every 50 ms) keep the audit off the
	 * scheduler's critical path; a power loss can lose the last commits,
	 * never corrupt the file.  The fsyncs come with checkpoints: one per
	 * 10,000 WAL pages (40 MB) instead of SQLite's 1,000 cuts them tenfold.
	 */
	if (sqlite3_exec(q->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			 "PRAGMA wal_autocheckpoint=10000;",
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
		pw_strbuf_addf(err, "cannot set up audit store %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		sq_close(s);
		return -1;
	}
	if (sqlite3_prepare_v2(q->db,
			       "INSERT INTO pipeline_audit_log (" COLUMNS ") VALUES "
			       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &q->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(q->db,
			       "SELECT seq, hash FROM pipeline_audit_log ORDER BY seq DESC LIMIT 1",
			       -1, &q->tail, NULL) != SQLITE_OK) {
		sq_fail(q, err, "prepare");
		sq_close(s);
		return -1;
	}
	return 0;
}
