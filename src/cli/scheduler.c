#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pitwall/scheduler.h"

int pw_cmd_scheduler(int argc, char **argv)
{
	pw_scheduler_opts o = {0};
	const char *v;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--dags", &v)) {
			if (!v)
				return pw_cli_usage_error("scheduler", "--dags needs a directory");
			o.dags_dir = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("scheduler",
							  "--store needs a URL or path");
			o.store_url = v;
		} else if (pw_cli_flag(argv, i, NULL, "--once")) {
			o.once = true;
		} else if (pw_cli_flag(argv, i, "-q", "--quiet")) {
			o.quiet = true;
		} else {
			return pw_cli_usage_error("scheduler", "unknown argument '%s'", argv[i]);
		}
	}
	if (!o.dags_dir)
		return pw_cli_usage_error("scheduler", "--dags DIR is required");
	struct stat st;
	if (stat(o.dags_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pitwall scheduler: %s is not a directory\n", o.dags_dir);
		return PW_EXIT_USAGE;
	}
	/* Runs are started with this very binary. */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "pitwall scheduler: cannot find its own executable\n");
		return PW_EXIT_SOFTWARE;
	}
	self[n] = '\0';
	o.pitwall = self;
	pw_audit_store *s = pw_cli_open_store("scheduler", o.store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	int rc = pw_scheduler_main(&o, s);
	pw_audit_close(s);
	return rc;
}
