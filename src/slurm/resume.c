/*
 * pitwall resume for Slurm tasks: a job outlives the pitwall that submitted
 * it, so a resumed run takes it over instead of submitting the task again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/slurm.h"

static bool unfinished(const char *state)
{
	static const char *const open[] = {"pending", "queued", "running", "retry_wait"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(open); i++)
		if (!strcmp(state, open[i]))
			return true;
	return false;
}

int pw_slurm_adoptions(const pw_dag *dag, const pw_run_view *rv, pw_run_adopt **out, size_t *n,
		       FILE *notes, char *err, size_t errsize)
{
	*out = NULL;
	*n = 0;
	bool any = false;
	for (size_t i = 0; i < dag->ntasks && !any; i++) {
		const pw_task_view *tv = pw_run_view_task((pw_run_view *)rv, dag->tasks[i].task_id);
		any = tv && !strcmp(dag->tasks[i].executor, "slurm") && unfinished(tv->state);
	}
	if (!any)
		return 0;
	pw_slurm *s = NULL;
	char e[1024];
	if (pw_slurm_open(&s, &dag->slurm, e, sizeof(e)) < 0) {
		snprintf(err, errsize, "cannot look for the run's Slurm jobs: %s", e);
		return -1;
	}
	pw_slurm_found *found = NULL;
	size_t nfound = 0;
	if (pw_slurm_find_run(s, rv->dag_id, rv->run_id, &found, &nfound, e, sizeof(e)) < 0) {
		snprintf(err, errsize, "cannot look for the run's Slurm jobs: %s", e);
		pw_slurm_close(s);
		return -1;
	}
	size_t cap = 0;
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task *t = &dag->tasks[i];
		const pw_task_view *tv = pw_run_view_task((pw_run_view *)rv, t->task_id);
		if (!tv || strcmp(t->executor, "slurm") != 0 || !unfinished(tv->state))
			continue;
		/*
		 * The running attempt's job, or a later attempt's (submitted, not
		 * yet recorded); never the job of an attempt already ended.
		 */
		bool running = !strcmp(tv->state, "running");
		int min_attempt = running ? tv->attempts : tv->attempts + 1;
		const pw_slurm_found *pick = NULL;
		for (size_t k = 0; k < nfound; k++) {
			const pw_slurm_found *f = &found[k];
			if (strcmp(f->task_id, t->task_id) != 0)
				continue;
			if (running && tv->slurm_job && f->job.job_id == tv->slurm_job) {
				pick = f;
				break;
			}
			if (f->attempt >= min_attempt && (!pick || f->attempt > pick->attempt))
				pick = f;
		}
		if (!pick) {
			if (running && tv->slurm_job)
				fprintf(notes,
					"pitwall resume: task %s: Slurm job %" PRId64
					" is no longer known to slurmctld; the task runs again\n",
					t->task_id, tv->slurm_job);
			continue;
		}
		PW_GROW(*out, cap, *n + 1);
		(*out)[(*n)++] = (pw_run_adopt){i, pick->attempt, pick->job.job_id};
		fprintf(notes,
			"pitwall resume: task %s: re-attaching to Slurm job %" PRId64
			" (attempt %d, %s%s%s)\n",
			t->task_id, pick->job.job_id, pick->attempt, pick->job.state,
			pick->job.nodes[0] ? " on " : "", pick->job.nodes);
	}
	pw_slurm_found_free(found, nfound);
	pw_slurm_close(s);
	return 0;
}
