/* Shared between the REST client (client.c) and the job model (job.c). */
#ifndef PW_SLURM_INTERNAL_H
#define PW_SLURM_INTERNAL_H

#include <jansson.h>

#include "pitwall/slurm.h"

/*
 * An integer in any of the shapes the API versions use: 7, 7.0, "7", or
 * {"set": true, "number": 7} (v0.0.40 on).  fallback when absent or unset.
 */
int64_t pw_slurm_jint(json_t *v, int64_t fallback);

/* Take what a listing says about one job; returns whether its state changed. */
bool pw_slurm_job_update(pw_slurm_job *j, json_t *job);

/* The body of POST .../job/submit (malloc'd JSON text). */
char *pw_slurm_submit_body(const pw_slurm_submit_req *rq, bool env_mapping);

#endif
