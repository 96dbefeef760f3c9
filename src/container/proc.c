/*
 * Helper commands run to completion.  The executor's loop is one thread
 * with SIGCHLD blocked (it reads a signalfd); waiting here on a pidfd, for
 * one known child, leaves that machinery alone.  Helpers are short
 * (runc delete, podman rm, ldd) and bounded by a timeout, after which the
 * whole process group is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "pitwall/util.h"

extern char **environ;

char *pw_ctr_which(const char *name, const char *path)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? pw_xstrdup(name) : NULL;
	if (!path)
		path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0 && p[0] == '/') {
			char *cand = pw_xasprintf("%.*s/%s", (int)len, p, name);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

void pw_ctr_proc_release(pw_ctr_proc *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

bool pw_ctr_proc_ok(const pw_ctr_proc *r)
{
	return r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void read_some(int fd, pw_strbuf *sb, bool *eof)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			/* Enough to explain a failure; ldd's output is far smaller. */
			if (sb->len < (1u << 20))
				pw_strbuf_add(sb, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			*eof = true;
		return;
	}
}

int pw_ctr_run(char *const argv[], char *const envp[], int64_t timeout_ms, pw_ctr_proc *r,
	       char *err, size_t errsize)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errsize, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_init(&attr);
	sigset_t empty, all;
	sigemptyset(&empty);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (e != 0) {
		close(pfd[0]);
		snprintf(err, errsize, "cannot run %s: %s", argv[0], strerror(e));
		return -1;
	}
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	int pidfd = pidfd_open_(pid);
	int64_t deadline = timeout_ms > 0 ? pw_now_mono_ms() + timeout_ms : 0;
	pw_strbuf sb = PW_STRBUF_INIT;
	bool eof = false, exited = false;
	int status = 0;
	while (!exited) {
		struct pollfd p[2];
		nfds_t np = 0;
		if (!eof)
			p[np++] = (struct pollfd){.fd = pfd[0], .events = POLLIN};
		if (pidfd >= 0)
			p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int wait_ms = pidfd >= 0 ? -1 : 10;
		if (deadline) {
			int64_t left = deadline - pw_now_mono_ms();
			if (left <= 0) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				r->timed_out = true;
				deadline = 0;
				continue;
			}
			if (wait_ms < 0 || left < wait_ms)
				wait_ms = (int)left;
		}
		if (np && poll(p, np, wait_ms) < 0 && errno != EINTR)
			break;
		if (!np)
			usleep(10000);
		if (!eof)
			read_some(pfd[0], &sb, &eof);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			exited = true;
		else if (w < 0 && errno != EINTR)
			break;
	}
	/* Whatever is already in the pipe; a daemon it left holding the pipe is not waited for. */
	if (!eof)
		read_some(pfd[0], &sb, &eof);
	close(pfd[0]);
	if (pidfd >= 0)
		close(pidfd);
	r->status = exited ? status : -1;
	pw_strbuf_adds(&sb, "");
	r->out_len = sb.len;
	r->out = pw_strbuf_detach(&sb);
	if (!exited) {
		snprintf(err, errsize, "waiting for %s: %s", argv[0], strerror(errno));
		return -1;
	}
	return 0;
}
