#include <stdio.h>

#include "cli/cli.h"

int pw_cmd_validate(int argc, char **argv)
{
	if (argc < 2)
		return pw_cli_usage_error("validate", "no DAG file given");
	int rc = PW_EXIT_OK;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return pw_cli_usage_error("validate", "unknown option '%s'", argv[i]);
	}
	for (int i = 1; i < argc; i++) {
		pw_dag *dag = pw_cli_load(argv[i]);
		if (!dag) {
			rc = PW_EXIT_INVALID;
			continue;
		}
		printf("%s: ok (%zu task%s)\n", argv[i], dag->ntasks, dag->ntasks == 1 ? "" : "s");
		pw_dag_free(dag);
	}
	return rc;
}
