/*
 * pw_flaky CODE SUCCEED_AT [COUNTFILE]
 *
 * A task for the retry tests: fails with exit CODE while PITWALL_ATTEMPT is
 * below SUCCEED_AT, then exits 0.  SUCCEED_AT 0 means "never succeed".
 * Prints the attempt to stdout and to stderr (so each attempt's log shows
 * it) and appends one line per invocation to COUNTFILE, an independent count
 * of how many times the task really ran.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pw_flaky CODE SUCCEED_AT [COUNTFILE]\n");
		return 2;
	}
	int code = atoi(argv[1]);
	int succeed_at = atoi(argv[2]);
	const char *a = getenv("PITWALL_ATTEMPT");
	int attempt = a ? atoi(a) : -1;

	if (argc > 3) {
		FILE *f = fopen(argv[3], "a");
		if (f) {
			fprintf(f, "attempt=%s\n", a ? a : "unset");
			fclose(f);
		}
	}
	printf("pw_flaky stdout attempt=%d\n", attempt);
	fprintf(stderr, "pw_flaky stderr attempt=%d\n", attempt);
	fflush(NULL);
	if (succeed_at > 0 && attempt >= succeed_at)
		return 0;
	return code;
}
