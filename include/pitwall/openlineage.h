/*
 * OpenLineage (spec 2-0-2) for a run: an observer that turns the run's
 * events into RunEvents, one START and one COMPLETE / FAIL / ABORT per task
 * attempt and per DAG run, and sends them to a file (JSON lines) or to an
 * HTTP endpoint (Marquez and the like).  docs/openlineage.md has the
 * mapping and the facets.
 *
 * The executor never waits for the endpoint: event() only builds JSON,
 * flush() hands the batch to a sender thread, and that thread POSTs with
 * retries and backoff.  What cannot be delivered goes to a spool file under
 * the state directory ($PITWALL_HOME/.pitwall, else ./.pitwall) and is sent
 * first the next time, in this run or the next one, so a down endpoint
 * never fails a run and never loses events; it costs one warning on stderr.
 */
#ifndef PITWALL_OPENLINEAGE_H
#define PITWALL_OPENLINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/run.h"

#define PW_OL_SCHEMA_URL "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

typedef struct pw_openlineage pw_openlineage;

/*
 * target: "file:PATH" (also "file:///abs/path") or an http(s) URL; a URL
 * without a path gets /api/v1/lineage.  Environment: PITWALL_OPENLINEAGE_NAMESPACE
 * (job namespace, default "pitwall"), PITWALL_OPENLINEAGE_API_KEY (sent as
 * "Authorization: Bearer", never printed).  Starts the sender, which first
 * delivers what an earlier run left in the spool.  Returns NULL with a
 * message in err when target is not understood.
 */
pw_openlineage *pw_openlineage_open(const char *target, const pw_dag *dag, char *err,
				    size_t errsize);
/* The observer: pw_run_observer{pw_openlineage_event, ol, pw_openlineage_flush}. */
void pw_openlineage_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev);
void pw_openlineage_flush(void *payload);
/*
 * Deliver what is left (for at most about five seconds), spool the rest and
 * stop the sender.  Returns how many events are left in the spool.
 */
size_t pw_openlineage_close(pw_openlineage *ol);

/* ---- building blocks, public for the tests ---- */

/*
 * Parse a target.  *is_file tells which transport; *where is the absolute
 * file path or the full URL (malloc'd).  Returns 0, or -1 with a message.
 */
int pw_openlineage_parse_target(const char *target, bool *is_file, char **where, char *err,
				size_t errsize);
/* A URL for messages: no user:password@, no query string (malloc'd). */
char *pw_openlineage_display_url(const char *url);
/* A version 7 UUID (time-ordered, RFC 9562) for wall_ms: 36 characters and a NUL. */
void pw_uuid_v7(int64_t wall_ms, char out[37]);

#endif
