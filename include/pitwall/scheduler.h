/*
 * The scheduler: every DAG in a directory with a schedule fires runs at
 * its cron times, in its time zone, as child `pitwall run` processes with
 * logical_date = the scheduled time.
 *
 * Its state is the audit store: a DAG's last handled slot is the newest
 * schedule_fired / schedule_skipped / schedule_registered event for it, so
 * a restarted scheduler neither loses nor repeats a fire.  A fire is
 * recorded before its run starts, and the run id is derived from the slot
 * (<dag_id>_scheduled_<YYYYmmdd_HHMMSS>), which `pitwall run` refuses to
 * record twice; fired slots whose run never started are started on restart.
 */
#ifndef PITWALL_SCHEDULER_H
#define PITWALL_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "pitwall/audit.h"
#include "pitwall/cron.h"
#include "pitwall/dag.h"

typedef struct {
	const char *dags_dir;
	const char *store_url; /* passed on to the runs */
	const char *pitwall;   /* the pitwall binary for child runs */
	bool once;	       /* one pass at now, wait for its runs, exit */
	bool quiet;
} pw_scheduler_opts;

/* Runs until SIGTERM/SIGINT (or after one pass with once); returns an exit code. */
int pw_scheduler_main(const pw_scheduler_opts *o, pw_audit_store *store);

/*
 * Slots in (after, until] of a cron schedule, oldest first, at most max
 * (the newest max when there are more).  Returns how many were written.
 */
size_t pw_cron_slots(const pw_cron *c, const pw_tz *tz, int64_t after, int64_t until, int64_t *out,
		     size_t max);
/* The newest slot at or before t; returns 0 or -1 when none in the last 5 years. */
int pw_cron_prev(const pw_cron *c, const pw_tz *tz, int64_t t, int64_t *out);

/* "<dag_id>_scheduled_<YYYYmmdd_HHMMSS>" of a slot (UTC), malloc'd. */
char *pw_scheduled_run_id(const char *dag_id, int64_t slot);

/* The newest slot the store says was handled for dag_id (fired, skipped or registered). */
int pw_schedule_last_slot(pw_audit_store *s, const char *dag_id, int64_t *out, bool *found);
/* Record a scheduling event (schedule_fired, schedule_skipped, schedule_registered). */
int pw_schedule_record(pw_audit_store *s, const char *event, const char *dag_id, const char *run_id,
		       int64_t slot, const char *status, const char *reason, const char *dag_file);

#endif
