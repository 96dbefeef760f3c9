/*
 * pw_memhog MIB [HOLD_MS]
 *
 * A task for the memory-limit tests: allocates MIB mebibytes one at a time,
 * touching every page so it is really resident, reports its progress every
 * 64 MiB on stdout, holds the memory HOLD_MS milliseconds (default 0), and
 * exits 0.  Under a smaller memory limit it is killed by the OOM killer
 * part-way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pw_memhog MIB [HOLD_MS]\n");
		return 2;
	}
	long mib = atol(argv[1]);
	long hold = argc > 2 ? atol(argv[2]) : 0;
	setvbuf(stdout, NULL, _IONBF, 0);
	char **blocks = calloc((size_t)mib, sizeof(*blocks));
	if (!blocks)
		return 1;
	for (long i = 0; i < mib; i++) {
		blocks[i] = malloc(1 << 20);
		if (!blocks[i]) {
			printf("malloc failed at %ld MiB\n", i);
			return 1;
		}
		memset(blocks[i], (int)(i & 0xff) | 1, 1 << 20);
		if ((i + 1) % 64 == 0)
			printf("%ld MiB\n", i + 1);
	}
	printf("allocated %ld MiB\n", mib);
	if (hold > 0) {
		struct timespec ts = {hold / 1000, (hold % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}
