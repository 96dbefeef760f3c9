/*
 * `pitwall __cgexec`: put ourselves into the attempt's cgroups, set the
 * fallback rlimits, then become the task with execve().
 *
 * Why a shim.  The child must be in its cgroups before the task's first
 * instruction, or a fast allocation escapes the memory limit.  posix_spawn
 * (which the executor keeps for its speed: no page-table copy, see
 * DESIGN.md) has no "join this cgroup" action.  clone3(CLONE_INTO_CGROUP)
 * places a child in exactly one cgroup v2 group, which cannot express a
 * hybrid machine (v1 memory, v2 kill).  A hand-written vfork child would
 * have to stay async-signal-safe while sharing our memory.  The shim is an
 * ordinary process: it costs one more execve (of /proc/self/exe, so a
 * rebuilt pitwall binary does not matter), and only tasks with limits pay it.
 * Its pid is the task's pid and its process group the task's, so nothing
 * changes for the executor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pitwall/limits.h"

extern char **environ;

/* EX_CONFIG: the limits asked for cannot be put in place; not retried. */
#define SHIM_EXIT_SETUP 78

static int join(const char *procs)
{
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* "0" is the writing process itself, in v1 and v2 alike. */
	ssize_t n = write(fd, "0", 1);
	int e = n == 1 ? 0 : -errno;
	close(fd);
	return e;
}

static int lower_limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit cur;
	if (getrlimit(resource, &cur) < 0)
		return -errno;
	/* Hard limits can only go down (no CAP_SYS_RESOURCE needed for that). */
	if (cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max)
		hard = cur.rlim_max;
	if (soft > hard)
		soft = hard;
	struct rlimit rl = {soft, hard};
	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

static long long num_arg(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	long long x = v ? strtoll(v, &end, 10) : -1;
	if (!v || errno || *end || x <= 0) {
		fprintf(stderr, "pitwall __cgexec: %s needs a positive number\n", opt);
		exit(SHIM_EXIT_SETUP);
	}
	return x;
}

int pw_limits_shim_main(int argc, char **argv)
{
	int i = 2;
	/* Every option takes a value: step over both. */
	for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--procs") && v) {
			int e = join(v);
			if (e) {
				fprintf(stderr, "pitwall: cannot join cgroup (%s): %s\n", v,
					strerror(-e));
				return SHIM_EXIT_SETUP;
			}
		} else if (!strcmp(opt, "--rlimit-as")) {
			rlim_t b = (rlim_t)num_arg(opt, v);
			int e = lower_limit(RLIMIT_AS, b, b);
			if (e) {
				fprintf(stderr, "pitwall: cannot set RLIMIT_AS: %s\n",
					strerror(-e));
				return SHIM_EXIT_SETUP;
			}
		} else if (!strcmp(opt, "--rlimit-cpu")) {
			/* SIGXCPU at the limit, SIGKILL a second later. */
			rlim_t s = (rlim_t)num_arg(opt, v);
			int e = lower_limit(RLIMIT_CPU, s, s + 1);
			if (e) {
				fprintf(stderr, "pitwall: cannot set RLIMIT_CPU: %s\n",
					strerror(-e));
				return SHIM_EXIT_SETUP;
			}
		} else {
			fprintf(stderr, "pitwall __cgexec: unknown option '%s'\n", opt);
			return SHIM_EXIT_SETUP;
		}
	}
	if (i + 2 >= argc) {
		fprintf(stderr, "usage: pitwall __cgexec [--procs FILE]... [--rlimit-as BYTES] "
				"[--rlimit-cpu SECONDS] -- PATH ARGV0 [ARG]...\n");
		return SHIM_EXIT_SETUP;
	}
	const char *path = argv[i + 1];
	char **child_argv = &argv[i + 2];
	execve(path, child_argv, environ);
	int e = errno;
	fprintf(stderr, "pitwall: cannot execute '%s': %s\n", path, strerror(e));
	return e == ENOENT ? 127 : 126;
}
