/*
 * libFuzzer entry for the DAG loader: any bytes in, a DAG or diagnostics
 * out, nothing leaked, nothing read out of bounds.  The loaded DAG is
 * walked so that every pointer it holds is touched.
 *
 *   CC=clang cmake -S . -B build-fuzz -DPITWALL_FUZZ=ON -DPITWALL_SANITIZE=ON
 *   ninja -C build-fuzz fuzz_dag
 *   build-fuzz/tests/fuzz_dag -max_total_time=60 corpus tests/dags/good tests/dags/bad
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pitwall/dag.h"

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t walk(const pw_dag *dag)
{
	size_t sum = touch(dag->dag_id) + touch(dag->schedule) + touch(dag->timezone) +
		     touch(dag->description) + touch(dag->path) + touch(dag->dir);
	for (size_t i = 0; i < dag->nenv; i++)
		sum += touch(dag->env[i].key) + touch(dag->env[i].value);
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task *t = &dag->tasks[i];
		sum += touch(t->task_id) + touch(t->shell) + touch(t->executor);
		for (size_t j = 0; t->argv && t->argv[j]; j++)
			sum += touch(t->argv[j]);
		for (size_t j = 0; j < t->ndeps; j++)
			sum += t->deps[j].task < dag->ntasks
				   ? touch(dag->tasks[t->deps[j].task].task_id)
				   : 0;
		for (size_t j = 0; j < t->ndependents; j++)
			sum += dag->tasks[t->dependents[j]].index;
		for (size_t j = 0; j < t->nenv; j++)
			sum += touch(t->env[j].key) + touch(t->env[j].value);
		for (size_t j = 0; j < t->ninputs; j++)
			sum += touch(t->inputs[j]);
		for (size_t j = 0; j < t->noutputs; j++)
			sum += touch(t->outputs[j]);
		for (size_t j = 0; j < t->retry_on.ncodes; j++)
			sum += (size_t)t->retry_on.codes[j];
		if (pw_dag_find(dag, t->task_id) == NULL)
			__builtin_trap();
	}
	const pw_hook *hooks[] = {&dag->on_success, &dag->on_failure};
	for (size_t h = 0; h < 2; h++) {
		sum += touch(hooks[h]->action) + touch(hooks[h]->message) + touch(hooks[h]->shell);
		for (size_t j = 0; j < hooks[h]->nchannels; j++)
			sum += touch(hooks[h]->channels[j]);
		for (size_t j = 0; hooks[h]->argv && hooks[h]->argv[j]; j++)
			sum += touch(hooks[h]->argv[j]);
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_buffer(&dag, "fuzz.yaml", (const char *)data, size, &d);
	if ((rc == 0) != (dag != NULL) || (rc == 0 && d.nerrors) || (rc != 0 && !d.nerrors))
		__builtin_trap();
	if (dag) {
		volatile size_t sink = walk(dag);
		(void)sink;
	}
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		pw_diags_print(&d, devnull);
		fclose(devnull);
	}
	pw_dag_free(dag);
	pw_diags_release(&d);
	return 0;
}
