/*
 * The audit observer: turns a run's events into pipeline_audit_log rows,
 * batching them until the executor is about to sleep (one transaction per
 * loop iteration), so the audit never holds a task back.
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
	int failures;
	pw_strbuf err;
} pw_recorder;

void pw_recorder_init(pw_recorder *r, pw_audit_store *store, const pw_dag *dag, const char *actor);
void pw_recorder_release(pw_recorder *r);
void pw_recorder_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev);
void pw_recorder_flush(void *payload);

/* user@host of whoever runs pitwall. */
char *pw_default_actor(void);

#endif
