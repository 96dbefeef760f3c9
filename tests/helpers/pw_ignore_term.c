/*
 * pw_ignore_term [-p] [-s] [-t SECONDS] PIDDIR NAME
 *
 * A task that leaves a hard-to-kill process behind: it writes its pid to
 * PIDDIR/NAME.pid, forks a grandchild that ignores SIGTERM and writes
 * PIDDIR/NAME.gc.pid, and both sleep SECONDS (default 60).  The grandchild
 * keeps the task's stdout/stderr open, so the log pipe does not reach EOF
 * when the task itself dies.
 *   -p  the task process ignores SIGTERM too
 *   -s  the grandchild calls setsid() (leaves the task's process group)
 * Pid files are written atomically (write + rename), so a waiter that sees
 * the file sees the whole pid.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_pid(const char *dir, const char *name, const char *suffix)
{
	char tmp[4200], path[4096];
	snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "pw_ignore_term: %s: %s\n", tmp, strerror(errno));
		exit(1);
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "pw_ignore_term: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void sleep_s(long s)
{
	struct timespec ts = {s, 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	int ignore_parent = 0, new_session = 0, opt;
	long secs = 60;
	while ((opt = getopt(argc, argv, "pst:")) != -1) {
		switch (opt) {
		case 'p': ignore_parent = 1; break;
		case 's': new_session = 1; break;
		case 't': secs = atol(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: pw_ignore_term [-p] [-s] [-t SECONDS] PIDDIR NAME\n");
		return 2;
	}
	const char *dir = argv[optind], *name = argv[optind + 1];

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		if (new_session)
			setsid();
		write_pid(dir, name, ".gc.pid");
		printf("grandchild %ld sleeping %lds\n", (long)getpid(), secs);
		fflush(stdout);
		sleep_s(secs);
		_exit(0);
	}
	if (ignore_parent)
		signal(SIGTERM, SIG_IGN);
	write_pid(dir, name, ".pid");
	printf("task %ld sleeping %lds\n", (long)getpid(), secs);
	fflush(stdout);
	sleep_s(secs);
	return 0;
}
