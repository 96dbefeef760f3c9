/*
 * pw_spin SECONDS [THREADS]
 *
 * A task for the CPU-limit and cost tests: THREADS busy threads (default
 * 1) spin for SECONDS of wall time, then it prints "cpu_ms=N wall_ms=M"
 * (its own CPU time from getrusage) and exits 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double wall_s;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;

static void *spin(void *arg)
{
	unsigned long x = 0;
	double end = *(double *)arg;
	while (now() < end)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	sink = x; /* keeps the loop from being optimised away */
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pw_spin SECONDS [THREADS]\n");
		return 2;
	}
	wall_s = atof(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	double start = now(), end = start + wall_s;
	pthread_t t[64];
	if (threads < 1 || threads > 64)
		threads = 1;
	for (int i = 1; i < threads; i++)
		pthread_create(&t[i], NULL, spin, &end);
	spin(&end);
	for (int i = 1; i < threads; i++)
		pthread_join(t[i], NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long cpu_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
		      ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
	printf("cpu_ms=%ld wall_ms=%ld\n", cpu_ms, (long)((now() - start) * 1000));
	return 0;
}
