/*
 * Starting one task attempt as a child process in its own process group.
 * Everything is prepared in the parent (argv, envp, the resolved path);
 * the child is started with posix_spawn, which glibc implements with
 * clone(CLONE_VM|CLONE_VFORK), so an exec failure comes back as the
 * return value instead of a mysterious exit 127.
 */
#ifndef PW_EXEC_SPAWN_H
#define PW_EXEC_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
	char **argv; /* argv[0] as written */
	char **envp;
	const char *cwd;
	const char *log_path; /* stdout and stderr go through a pipe to here */
	/*
	 * NULL, or a program to start instead, NULL-terminated, to which the
	 * resolved path and argv are appended (the limits shim; see limits.h).
	 */
	char *const *wrapper;
} pw_spawn_spec;

typedef struct {
	pid_t pid;   /* also the process group id */
	int pidfd;   /* -1 when the kernel has no pidfd_open */
	int pipe_fd; /* read end of the output pipe, non-blocking */
	int log_fd;
	char *path; /* the resolved executable, malloc'd */
} pw_spawned;

/*
 * Returns 0, or -1 with a message a user can act on in err ("command
 * 'frobnicate' not found in PATH (/usr/bin:/bin)").
 */
int pw_spawn(const pw_spawn_spec *spec, pw_spawned *out, char *err, size_t errsize);

/* envp lookup: the value of NAME in a NULL-terminated "K=V" array, or NULL. */
const char *pw_env_get(char *const *envp, const char *name);

/*
 * Env list builder: later pw_env_set calls override earlier ones.  The
 * strings are malloc'd and owned by the list.
 */
typedef struct {
	char **v;
	size_t n, cap;
} pw_envlist;

void pw_envlist_from_environ(pw_envlist *e, char **environ_);
void pw_envlist_copy(pw_envlist *e, const pw_envlist *from);
void pw_envlist_set(pw_envlist *e, const char *name, const char *value);
void pw_envlist_unset(pw_envlist *e, const char *name);
/* NULL-terminated view, valid until the next set. */
char **pw_envlist_array(pw_envlist *e);
void pw_envlist_release(pw_envlist *e);

#endif
