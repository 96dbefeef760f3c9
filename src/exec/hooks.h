#ifndef PW_EXEC_HOOKS_H
#define PW_EXEC_HOOKS_H

#include <stdbool.h>

#include "pitwall/dag.h"

typedef struct {
	bool success;
	const char *status;	  /* success | failed | cancelled */
	const char *summary;	  /* one line */
	const char *failed_tasks; /* comma-separated */
	const char *workspace;
	char **environ_;
} pw_hook_info;

typedef void (*pw_hook_notice_fn)(void *payload, const char *message);

void pw_hooks_run(const pw_dag *dag, const pw_hook_info *info, pw_hook_notice_fn notice,
		  void *payload);

#endif
