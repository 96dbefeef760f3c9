/*
 * The audit observer: turns a run's events into pipeline_audit_log rows
 * and writes them in batches, one transaction at most every 50 ms (or per
 * 512 rows), and at once for the run's start and end, so the audit never
 * holds a task back.  What a SIGKILL or a power loss can take is the last
 * 50 ms of events; everything written before stays.
 */
#ifndef PITWALL_RECORDER_H
#define PITWALL_RECORDER_H

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
