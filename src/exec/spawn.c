#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pitwall/util.h"

const char *pw_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

void pw_envlist_from_environ(pw_envlist *e, char **environ_)
{
	memset(e, 0, sizeof(*e));
	for (; environ_ && *environ_; environ_++) {
		PW_GROW(e->v, e->cap, e->n + 2);
		e->v[e->n++] = pw_xstrdup(*environ_);
	}
}

void pw_envlist_copy(pw_envlist *e, const pw_envlist *from)
{
	memset(e, 0, sizeof(*e));
	PW_GROW(e->v, e->cap, from->n + 8);
	for (size_t i = 0; i < from->n; i++)
		e->v[i] = pw_xstrdup(from->v[i]);
	e->n = from->n;
}

void pw_envlist_set(pw_envlist *e, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *kv = pw_xasprintf("%s=%s", name, value);
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	}
	PW_GROW(e->v, e->cap, e->n + 2);
	e->v[e->n++] = kv;
}

void pw_envlist_unset(pw_envlist *e, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
			free(e->v[i]);
			memmove(e->v + i, e->v + i + 1, (e->n - i - 1) * sizeof(*e->v));
			e->n--;
			return;
		}
	}
}

char **pw_envlist_array(pw_envlist *e)
{
	PW_GROW(e->v, e->cap, e->n + 1);
	e->v[e->n] = NULL;
	return e->v;
}

void pw_envlist_release(pw_envlist *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * PATH search with the task's own PATH (posix_spawnp would use pitwall's).
 * Returns a malloc'd path or NULL.
 */
static char *search_path(const char *name, const char *path, const char *cwd)
{
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	const char *p = path;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand;
		if (len == 0)
			cand = pw_xasprintf("%s/%s", cwd, name);
		else if (p[0] != '/')
			cand = pw_xasprintf("%s/%.*s/%s", cwd, (int)len, p, name);
		else
			cand = pw_xasprintf("%.*s/%s", (int)len, p, name);
		if (is_executable_file(cand))
			return cand;
		free(cand);
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

int pw_spawn(const pw_spawn_spec *spec, pw_spawned *out, char *err, size_t errsize)
{
	const char *name = spec->argv[0];
	char *resolved = NULL;
	int pipefd[2] = {-1, -1};
	int log_fd = -1, rc = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_init = false, attr_init = false;
	struct stat st;

	out->pid = -1;
	out->pidfd = out->pipe_fd = out->log_fd = -1;
	out->path = NULL;

	if (!name || !*name) {
		snprintf(err, errsize, "empty command");
		return -1;
	}
	if (stat(spec->cwd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsize, "working directory '%s' does not exist", spec->cwd);
		return -1;
	}
	if (strchr(name, '/')) {
		char *full =
		    name[0] == '/' ? pw_xstrdup(name) : pw_xasprintf("%s/%s", spec->cwd, name);
		if (stat(full, &st) < 0) {
			snprintf(err, errsize, "command '%s' not found (%s)", name, full);
			free(full);
			return -1;
		}
		if (!S_ISREG(st.st_mode) || access(full, X_OK) < 0) {
			snprintf(err, errsize, "command '%s' is not executable (%s)", name,
				 S_ISDIR(st.st_mode) ? "is a directory" : "permission denied");
			free(full);
			return -1;
		}
		resolved = full;
	} else {
		const char *path = pw_env_get(spec->envp, "PATH");
		resolved = search_path(name, path, spec->cwd);
		if (!resolved) {
			snprintf(err, errsize, "command '%s' not found in PATH (%s)", name,
				 path ? path : "/usr/local/bin:/usr/bin:/bin");
			return -1;
		}
	}

	log_fd = open(spec->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		snprintf(err, errsize, "cannot create log file %s: %s", spec->log_path,
			 strerror(errno));
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errsize, "pipe: %s", strerror(errno));
		goto out;
	}

	posix_spawn_file_actions_init(&fa);
	fa_init = true;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);

	posix_spawnattr_init(&attr);
	attr_init = true;
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
	char **wargv = NULL;
	if (spec->wrapper) {
		size_t nw = 0, na = 0;
		while (spec->wrapper[nw])
			nw++;
		while (spec->argv[na])
			na++;
		wargv = pw_xcalloc(nw + na + 2, sizeof(*wargv));
		memcpy(wargv, spec->wrapper, nw * sizeof(*wargv));
		wargv[nw] = resolved;
		memcpy(wargv + nw + 1, spec->argv, na * sizeof(*wargv));
	}
	int e = wargv ? posix_spawn(&pid, wargv[0], &fa, &attr, wargv, spec->envp)
		      : posix_spawn(&pid, resolved, &fa, &attr, spec->argv, spec->envp);
	free(wargv);
	if (e != 0) {
		if (e == ENOEXEC)
			snprintf(err, errsize,
				 "cannot execute '%s': not an executable format (a script needs a "
				 "#! line)",
				 resolved);
		else
			snprintf(err, errsize, "cannot execute '%s': %s", resolved, strerror(e));
		goto out;
	}

	out->pid = pid;
	out->pidfd = sys_pidfd_open(pid);
	close(pipefd[1]);
	pipefd[1] = -1;
	fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
	out->pipe_fd = pipefd[0];
	pipefd[0] = -1;
	out->log_fd = log_fd;
	log_fd = -1;
	out->path = resolved;
	resolved = NULL;
	rc = 0;
out:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	free(resolved);
	return rc;
}
