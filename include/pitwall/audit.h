/*
 * The audit store: an append-only, tamper-evident table of every event of
 * every run (pipeline_audit_log), with two backends behind one interface
 * (a table of function pointers, as libgit2's backends are): SQLite, the
 * embedded default, and PostgreSQL through libpq.
 *
 * Every row carries the hash of the row before it:
 *     hash = sha256(prev_hash || canonical JSON of the row)
 * where the canonical JSON holds every column but prev_hash and hash, with
 * keys sorted and no spaces (metadata included, canonicalised the same way).
 * seq numbers the rows 1, 2, 3, ... across the whole table, so an edited,
 * deleted or reordered row breaks the chain even when the database's own
 * append-only triggers were disabled.
 */
#ifndef PITWALL_AUDIT_H
#define PITWALL_AUDIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/util.h"

#define PW_AUDIT_SCHEMA_VERSION 1
#define PW_AUDIT_GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
	char audit_id[40];  /* UUID */
	int64_t seq;	    /* assigned by the store when appended */
	char timestamp[32]; /* 2026-02-14T12:00:00.123Z */
	char *dag_id;
	char *dag_run_id;
	char *task_id; /* NULL for run-level events */
	char *event_type;
	char *actor;
	char *resource;
	char *action;
	char *status;
	char *metadata; /* a JSON object, canonical once appended */
	char *git_commit_sha;
	char *container_image_digest;
	char prev_hash[65];
	char hash[65];
} pw_audit_row;

/* Fills audit_id and timestamp (now); strings are copied. */
void pw_audit_row_init(pw_audit_row *r, const char *dag_id, const char *dag_run_id,
		       const char *task_id, const char *event_type);
void pw_audit_row_set(char **field, const char *value);
void pw_audit_row_release(pw_audit_row *r);
/* A deep copy. */
void pw_audit_row_copy(pw_audit_row *dst, const pw_audit_row *src);
/* Canonical JSON (sorted keys, compact) of every column but prev_hash and hash. */
char *pw_audit_row_canonical(const pw_audit_row *r);
/* hash = sha256(prev_hash || canonical); returns the hex in out. */
void pw_audit_row_hash(const pw_audit_row *r, char out[65]);
/* Rewrite metadata in canonical form; returns -1 if it is not a JSON object. */
int pw_audit_canonicalize_metadata(char **metadata);
/* One row as a JSON object line (for --json, export and the spool). */
char *pw_audit_row_to_json(const pw_audit_row *r);
int pw_audit_row_from_json(pw_audit_row *r, const char *line);

typedef struct {
	const char *dag_id;
	const char *dag_run_id;
	const char *task_id;
	const char *event_type;
	const char *since; /* ISO 8601; rows at or after */
	int64_t after_seq; /* rows with seq > after_seq */
	int64_t limit;	   /* 0 = all; otherwise the LAST limit rows (still in seq order) */
} pw_audit_filter;

/* Return non-zero to stop the iteration. */
typedef int (*pw_audit_row_cb)(const pw_audit_row *row, void *payload);

typedef struct pw_audit_store pw_audit_store;

typedef struct {
	int version; /* PW_AUDIT_BACKEND_VERSION */
	const char *name;
	/*
	 * Append rows as one transaction: under the store's write lock read
	 * the chain's tail, then assign seq, prev_hash and hash and insert.
	 * Returns 0, -1 for an error, or -2 when the server cannot be reached
	 * (the caller spools the rows and retries later).
	 */
	int (*append)(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err);
	int (*query)(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb, void *payload,
		     pw_strbuf *err);
	/* Distinct run ids with their first and last row, newest first. */
	void (*close)(pw_audit_store *s);
} pw_audit_backend;

#define PW_AUDIT_BACKEND_VERSION 1

struct pw_audit_store {
	const pw_audit_backend *backend;
	char *display; /* the store's location with any password removed */
	char *spool_path;
	void *impl;
	size_t spooled; /* rows written to the spool by this process */
	/* Serialises use from the recorder's writer thread and the caller's. */
	pthread_mutex_t mu;
	bool warned_spool;
};

/*
 * Open the store named by url: NULL or "" = $PITWALL_STORE, else the
 * SQLite file .pitwall/audit.db under $PITWALL_HOME or the working
 * directory; "sqlite:PATH" or a path; "postgresql://..." / "postgres://..."
 * or a libpq "key=value" string.  The schema is created on first use.
 * Events spooled earlier (server unreachable) are flushed first.
 */
int pw_audit_open(pw_audit_store **out, const char *url, pw_strbuf *err);
void pw_audit_close(pw_audit_store *s);
/*
 * Append rows in order.  When a PostgreSQL server is unreachable the rows
 * go to a local spool file and 0 is returned: the run goes on, and the
 * spool is flushed, in order, on the next append or the next open.
 */
int pw_audit_append(pw_audit_store *s, pw_audit_row *rows, size_t n, pw_strbuf *err);
int pw_audit_query(pw_audit_store *s, const pw_audit_filter *f, pw_audit_row_cb cb, void *payload,
		   pw_strbuf *err);
/* Whether the store holds any event of run_id (false when it cannot tell). */
bool pw_audit_run_exists(pw_audit_store *s, const char *run_id);
/* The same, shaped for pw_run_opts.run_id_taken (payload = the store). */
bool pw_audit_run_id_taken(void *store, const char *run_id);

/* Rows in the spool waiting for the server (0 when none). */
size_t pw_audit_spool_pending(pw_audit_store *s);
int pw_audit_flush_spool(pw_audit_store *s, pw_strbuf *err);

typedef struct {
	int64_t rows;
	bool ok;
	int64_t bad_seq; /* the first bad row's seq (or the seq expected there) */
	char bad_audit_id[40];
	char problem[256];
} pw_audit_verify_result;

int pw_audit_verify(pw_audit_store *s, pw_audit_verify_result *out, pw_strbuf *err);

/* A URL or conninfo with its password replaced by "***". */
char *pw_redact_conninfo(const char *url);
/* The state directory: $PITWALL_HOME/.pitwall or ./.pitwall (created). */
char *pw_state_dir(void);

/* PostgreSQL only: a named advisory lock held until the store closes (1 taken, 0 busy, -1 n/a). */
int pw_audit_pg_try_lock(pw_audit_store *s, const char *name);

/* Backends (src/audit/). */
int pw_audit_sqlite_open(pw_audit_store *s, const char *path, pw_strbuf *err);
int pw_audit_pg_open(pw_audit_store *s, const char *conninfo, pw_strbuf *err);

#endif
