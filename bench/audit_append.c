/*
 * audit_append STORE N BATCH: append N task_end-like rows to the audit store
 * STORE (a SQLite path or a PostgreSQL URL), BATCH rows per append (one
 * transaction each; the recorder commits every 50 ms or 512 rows), and
 * print one line: "STORE N BATCH SECONDS EVENTS_PER_SECOND".  The time
 * covers what pitwall does per event: canonical JSON, sha256 chain, insert
 * and commit.  Built by bench/audit.sh against the build's
 * libpitwall_core.a.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/audit.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: audit_append STORE N BATCH\n");
		return 64;
	}
	long n = strtol(argv[2], NULL, 10), batch = strtol(argv[3], NULL, 10);
	if (n < 1 || batch < 1) {
		fprintf(stderr, "audit_append: N and BATCH must be positive\n");
		return 64;
	}
	pw_audit_store *s = NULL;
	pw_strbuf err = PW_STRBUF_INIT;
	if (pw_audit_open(&s, argv[1], &err) != 0) {
		fprintf(stderr, "audit_append: %s\n", err.buf ? err.buf : "cannot open the store");
		return 1;
	}
	pw_audit_row *rows = pw_xcalloc((size_t)batch, sizeof(*rows));
	char run_id[64];
	snprintf(run_id, sizeof(run_id), "bench_%lld", (long long)pw_now_wall_ms());
	int64_t t0 = pw_now_mono_ms();
	int rc = 0;
	for (long done = 0; done < n && rc == 0;) {
		long m = n - done < batch ? n - done : batch;
		for (long i = 0; i < m; i++) {
			char task[32], md[256];
			snprintf(task, sizeof(task), "t%05ld", done + i);
			snprintf(
			    md, sizeof(md),
			    "{\"attempt\":1,\"exit_code\":0,\"signal\":null,\"duration_ms\":%ld,"
			    "\"log\":\"logs/"
			    "%s.1.log\",\"log_sha256\":\"e3b0c44298fc1c149afbf4c8996f"
			    "b92427ae41e4649b934ca495991b7852b855\",\"error\":null}",
			    (done + i) % 97, task);
			pw_audit_row_init(&rows[i], "bench_audit", run_id, task, "task_end");
			pw_audit_row_set(&rows[i].actor, "bench@localhost");
			pw_audit_row_set(&rows[i].action, "complete");
			pw_audit_row_set(&rows[i].status, "success");
			pw_audit_row_set(&rows[i].resource, "logs/t.1.log");
			pw_audit_row_set(&rows[i].metadata, md);
		}
		rc = pw_audit_append(s, rows, (size_t)m, &err);
		for (long i = 0; i < m; i++)
			pw_audit_row_release(&rows[i]);
		done += m;
	}
	double secs = (double)(pw_now_mono_ms() - t0) / 1000.0;
	if (rc != 0) {
		fprintf(stderr, "audit_append: %s\n", err.buf ? err.buf : "append failed");
	} else if (pw_audit_spool_pending(s)) {
		fprintf(stderr,
			"audit_append: rows went to the spool; the server is unreachable\n");
		rc = 1;
	} else {
		printf("%s %ld %ld %.3f %.0f\n", s->display, n, batch, secs,
		       secs > 0 ? (double)n / secs : 0.0);
	}
	free(rows);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc ? 1 : 0;
}
