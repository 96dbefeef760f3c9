/*
 * pw_conc COUNTERFILE [SLEEP_MS]
 *
 * A concurrency meter.  COUNTERFILE holds "CURRENT MAX\n".  On start it
 * increments CURRENT under flock and raises MAX if needed, sleeps SLEEP_MS
 * (default 100), then decrements CURRENT.  After a run, MAX is the most
 * copies that were ever alive at once, measured independently of pitwall.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static int update(const char *path, int delta)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		fprintf(stderr, "pw_conc: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0) {
		fprintf(stderr, "pw_conc: flock: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	char buf[64] = {0};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long cur = 0, max = 0;
	if (n > 0)
		sscanf(buf, "%ld %ld", &cur, &max);
	cur += delta;
	if (cur > max)
		max = cur;
	int len = snprintf(buf, sizeof buf, "%ld %ld\n", cur, max);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		fprintf(stderr, "pw_conc: write: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd); /* releases the lock */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pw_conc COUNTERFILE [SLEEP_MS]\n");
		return 2;
	}
	long ms = argc > 2 ? atol(argv[2]) : 100;
	if (update(argv[1], +1) != 0)
		return 1;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	if (update(argv[1], -1) != 0)
		return 1;
	return 0;
}
