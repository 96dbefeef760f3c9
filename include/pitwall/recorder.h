/*
 * The audit observer: turns a run's events into pipeline_audit_log rows
 * and writes them in batches, one transaction at most every 50 ms (or per
 * 512 rows), and at once for the run's start and end.  The writing happens
 * on a writer thread, in order, so the event loop never waits for the
 * database (the run's start and end, and pw_recorder_flush, do wait: they
 * must be on disk before what follows them).  What a SIGKILL or a power
 * loss can take is the last 50 ms of events; everything written before
 * stays.
 */
#ifndef PITWALL_RECORDER_H
#define PITWALL_RECORDER_H

#include <pthread.h>

#include "pitwall/audit.h"
#include "pitwall/provenance.h"
#include "pitwall/run.h"

typedef struct {
	pw_audit_store *store;
	const pw_dag *dag;
	char *actor;
	pw_git_info git;
	char dag_sha256[65];
	const char *extra_run_json; /* extra fields for dag_run_start (JSON object text), or NULL */
	pw_audit_row *buf;
	size_t n, cap;
	size_t written;
	int64_t first_pending_ms; /* monotonic time of the oldest unwritten row */
	int failures;
	pw_strbuf err;

	/* The writer thread and its queue of batches (FIFO). */
	pthread_t thread;
	bool thread_started, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pw_recorder_batch *qhead, *qtail;
	bool busy; /* the thread is appending a batch */
} pw_recorder;

void pw_recorder_init(pw_recorder *r, pw_audit_store *store, const pw_dag *dag, const char *actor);
void pw_recorder_release(pw_recorder *r);
void pw_recorder_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev);
/* Write everything now. */
void pw_recorder_flush(void *payload);
/* The observer's flush: write when the batch is full or its oldest row is 50 ms old. */
void pw_recorder_flush_due(void *payload);
int64_t pw_recorder_deadline(void *payload);

#endif
