/*
 * Run bundles: a self-contained archive of one run (tar, zstd-compressed
 * when the name ends in .zst; libarchive).
 *
 *   pitwall-bundle.json   format, run id, what is inside
 *   dag.yaml              the recorded DAG text
 *   events.jsonl          the run's audit rows, with seq, prev_hash and hash
 *   lineage.json          every task's recorded outputs (path, size, sha256)
 *                         and the executables' digests
 *   artifacts/PATH        the outputs themselves (not with --manifest-only)
 *   logs/...              the task logs
 *
 * Entries are written in a fixed order with fixed owners and times, so the
 * same run exports to the same bytes.
 */
#ifndef PITWALL_BUNDLE_H
#define PITWALL_BUNDLE_H

#include <stdbool.h>

#include "pitwall/audit.h"

int pw_bundle_export(pw_audit_store *s, const char *run_id, const char *path, bool manifest_only,
		     pw_strbuf *err);
/* Unpack into dir (created); refuses absolute paths and "..". */
int pw_bundle_extract(const char *path, const char *dir, pw_strbuf *err);

/* An unpacked bundle, checked. */
typedef struct {
	char *dir;
	char *run_id;
	char *dag_id;
	pw_audit_row *rows;
	size_t nrows;
	bool manifest_only;
} pw_bundle;

/*
 * Load and verify an unpacked bundle: each event's hash matches its
 * contents and prev_hash, one run only, the DAG text matches its recorded
 * digest, and every artifact matches the lineage manifest.  Problems are
 * appended to err (one per line); returns 0 only when there are none.
 */
int pw_bundle_load(pw_bundle *b, const char *dir, pw_strbuf *err);
void pw_bundle_release(pw_bundle *b);

#endif
