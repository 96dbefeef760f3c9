#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/clock.h"
#include "pitwall/cron.h"
#include "pitwall/run.h"

static void print_local(const pw_tz *tz, int64_t t, char *buf, size_t size)
{
	pw_civil c;
	pw_tz_to_civil(tz, t, &c);
	int32_t off = pw_tz_offset_at(tz, t);
	int a = off < 0 ? -off : off;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.day,
		 c.hour, c.minute, c.second, off < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
}

int pw_cmd_next(int argc, char **argv)
{
	const char *file = NULL, *v;
	long n = 5;
	int64_t after = pw_clock_now();
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, "-n", "--count", &v)) {
			char *end;
			n = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || n < 1 || n > 100000)
				return pw_cli_usage_error("next",
							  "-n needs a number from 1 to 100000");
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--after", &v)) {
			if (!v || pw_parse_iso8601(v, &after) != 0)
				return pw_cli_usage_error("next", "--after needs an ISO 8601 time");
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("next", "unknown option '%s'", argv[i]);
		} else if (file) {
			return pw_cli_usage_error("next", "only one DAG file");
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return pw_cli_usage_error("next", "no DAG file given");
	pw_dag *dag = pw_cli_load(file);
	if (!dag)
		return PW_EXIT_INVALID;
	int rc = PW_EXIT_OK;
	if (!dag->schedule) {
		fprintf(stderr, "pitwall next: %s has no schedule\n", file);
		pw_dag_free(dag);
		return PW_EXIT_FAILED;
	}
	const char *zone = dag->timezone ? dag->timezone : "UTC";
	pw_cron c;
	pw_cron_error ce;
	pw_tz *tz = pw_tz_load(zone);
	if (pw_cron_parse(&c, dag->schedule, &ce) != 0 || !tz) {
		fprintf(stderr, "pitwall next: %s: %s\n", file,
			tz ? ce.msg : "unknown time zone (is tzdata installed?)");
		pw_tz_free(tz);
		pw_dag_free(dag);
		return PW_EXIT_INVALID;
	}
	printf("%s: schedule \"%s\" in %s\n", dag->dag_id, dag->schedule, zone);
	int64_t t = after;
	for (long k = 0; k < n; k++) {
		int64_t next;
		if (pw_cron_next(&c, tz, t, &next) != 0) {
			printf("(no further fire within 5 years)\n");
			break;
		}
		char local[40], utc[32];
		print_local(tz, next, local, sizeof(local));
		pw_format_iso8601(next, utc, sizeof(utc));
		printf("%s  %s\n", local, utc);
		t = next;
	}
	pw_tz_free(tz);
	pw_dag_free(dag);
	return rc;
}
