/* Names of failure classes and trigger rules, as written in DAG files. */
#include "pitwall/dag.h"

#include <string.h>

#include "dag/dag_internal.h"

const char *const pw_failure_class_names[PW_CLASS_COUNT] = {
    [PW_CLASS_NETWORK_TIMEOUT] = "network_timeout",
    [PW_CLASS_RESOURCE_UNAVAILABLE] = "resource_unavailable",
    [PW_CLASS_TRANSIENT_ERROR] = "transient_error",
    [PW_CLASS_WORKER_PREEMPTED] = "worker_preempted",
    [PW_CLASS_DATA_VALIDATION_FAILURE] = "data_validation_failure",
    [PW_CLASS_PERMISSION_DENIED] = "permission_denied",
    [PW_CLASS_INVALID_CONFIGURATION] = "invalid_configuration",
    [PW_CLASS_OUT_OF_MEMORY] = "out_of_memory",
    [PW_CLASS_ERROR] = "error",
};

const char *pw_failure_class_name(pw_failure_class c)
{
	if ((unsigned)c >= PW_CLASS_COUNT)
		return "unknown";
	return pw_failure_class_names[c];
}

int pw_failure_class_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < PW_CLASS_COUNT; i++)
		if (strcmp(name, pw_failure_class_names[i]) == 0)
			return i;
	return -1;
}

/*
 * The spec retries what a second attempt can fix (timeouts, missing
 * resources, transient errors, preemption) and not what it cannot (bad
 * data, permissions, configuration, memory).  An unclassified failure is
 * retried: a task that wants otherwise says no_retry_on: [error].
 */
bool pw_failure_class_retried_by_default(pw_failure_class c)
{
	switch (c) {
	case PW_CLASS_NETWORK_TIMEOUT:
	case PW_CLASS_RESOURCE_UNAVAILABLE:
	case PW_CLASS_TRANSIENT_ERROR:
	case PW_CLASS_WORKER_PREEMPTED:
	case PW_CLASS_ERROR: return true;
	default: return false;
	}
}

const char *const pw_trigger_rule_names[] = {
    [PW_TRIGGER_ALL_SUCCESS] = "all_success", [PW_TRIGGER_ALL_DONE] = "all_done",
    [PW_TRIGGER_ONE_SUCCESS] = "one_success", [PW_TRIGGER_NONE_FAILED] = "none_failed",
    [PW_TRIGGER_ALL_FAILED] = "all_failed",
};
const size_t pw_trigger_rule_count = PW_ARRAY_SIZE(pw_trigger_rule_names);

const char *pw_trigger_rule_name(pw_trigger_rule r)
{
	if ((size_t)r >= pw_trigger_rule_count)
		return "unknown";
	return pw_trigger_rule_names[r];
}

const char *pw_catchup_name(int c)
{
	static const char *const n[] = {"latest", "none", "all"};
	return c >= 0 && c < 3 ? n[c] : "?";
}

const char *pw_overlap_name(int o)
{
	static const char *const n[] = {"skip", "queue"};
	return o >= 0 && o < 2 ? n[o] : "?";
}
