/*
 * on_success / on_failure: run a command with the run's summary in its
 * environment, log a message, or notify channels.  A hook never changes
 * the run's result: its failure is reported and that is all.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/hooks.h"
#include "exec/spawn.h"

#define HOOK_TIMEOUT_MS 60000

static int run_hook_command(char **argv, pw_envlist *env, const char *cwd, const char *log,
			    char *err, size_t errsize)
{
	pw_spawned sp;
	pw_spawn_spec spec = {argv, pw_envlist_array(env), cwd, log, NULL};
	if (pw_spawn(&spec, &sp, err, errsize) != 0)
		return -1;
	int64_t deadline = pw_now_mono_ms() + HOOK_TIMEOUT_MS;
	char buf[8192];
	int status = 0;
	bool killed = false;
	for (;;) {
		pid_t r = waitpid(sp.pid, &status, WNOHANG);
		if (r == sp.pid)
			break;
		int64_t left = deadline - pw_now_mono_ms();
		if (left <= 0 && !killed) {
			kill(-sp.pid, SIGKILL);
			killed = true;
			left = 100;
		}
		struct pollfd p = {sp.pipe_fd, POLLIN, 0};
		if (sp.pipe_fd >= 0 && poll(&p, 1, (int)(left > 100 ? 100 : left)) > 0) {
			ssize_t n = read(sp.pipe_fd, buf, sizeof(buf));
			if (n > 0) {
				if (write(sp.log_fd, buf, (size_t)n) < 0) {
					/* the log is best effort */
				}
			} else if (n == 0) {
				close(sp.pipe_fd);
				sp.pipe_fd = -1;
			}
		} else if (sp.pipe_fd < 0) {
			usleep(10000);
		}
	}
	kill(-sp.pid, SIGKILL); /* nothing the hook left behind outlives it */
	if (sp.pipe_fd >= 0)
		close(sp.pipe_fd);
	if (sp.pidfd >= 0)
		close(sp.pidfd);
	close(sp.log_fd);
	free(sp.path);
	if (killed) {
		snprintf(err, errsize, "timed out after %ds", HOOK_TIMEOUT_MS / 1000);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(err, errsize, "exit %d", WEXITSTATUS(status));
	else
		snprintf(err, errsize, "killed by signal %d", WTERMSIG(status));
	return -1;
}

void pw_hooks_run(const pw_dag *dag, const pw_hook_info *info, pw_hook_notice_fn notice,
		  void *payload)
{
	const pw_hook *h = info->success ? &dag->on_success : &dag->on_failure;
	const char *which = info->success ? "on_success" : "on_failure";
	char msg[1024], err[512];
	if (!h->present)
		return;

	pw_envlist env;
	pw_envlist_from_environ(&env, info->environ_);
	pw_envlist_set(&env, "PITWALL_HOOK", which);
	pw_envlist_set(&env, "PITWALL_RUN_STATUS", info->status);
	pw_envlist_set(&env, "PITWALL_RUN_SUMMARY", info->summary);
	pw_envlist_set(&env, "PITWALL_FAILED_TASKS", info->failed_tasks);
	if (h->message)
		pw_envlist_set(&env, "PITWALL_HOOK_MESSAGE", h->message);

	if (h->argv || h->shell) {
		char *sh[] = {"/bin/sh", "-c", (char *)h->shell, NULL};
		char **argv = h->shell ? sh : (char **)h->argv;
		char *log = pw_xasprintf("%s/logs/%s.log", info->workspace, which);
		if (run_hook_command(argv, &env, info->workspace, log, err, sizeof(err)) == 0)
			snprintf(msg, sizeof(msg), "%s command succeeded", which);
		else
			snprintf(msg, sizeof(msg), "%s command failed: %s (see logs/%s.log)", which,
				 err, which);
		notice(payload, msg);
		free(log);
	}
	if (h->action && strcmp(h->action, "log") == 0) {
		snprintf(msg, sizeof(msg), "%s: %s", which,
			 h->message ? h->message : info->summary);
		notice(payload, msg);
	}
	if (h->action && strcmp(h->action, "notify") == 0) {
		/*
		 * A channel is delivered by PITWALL_NOTIFY_COMMAND (an executable
		 * given the channel name as its argument and the summary in its
		 * environment); without one the notice is only logged.
		 */
		const char *cmd = pw_env_get(info->environ_, "PITWALL_NOTIFY_COMMAND");
		for (size_t i = 0; i < h->nchannels; i++) {
			const char *ch = h->channels[i];
			if (!cmd || !*cmd) {
				snprintf(
				    msg, sizeof(msg),
				    "%s: notify %s: %s (set PITWALL_NOTIFY_COMMAND to deliver it)",
				    which, ch, h->message ? h->message : info->summary);
				notice(payload, msg);
				continue;
			}
			pw_envlist_set(&env, "PITWALL_NOTIFY_CHANNEL", ch);
			char *argv[] = {(char *)cmd, (char *)ch, NULL};
			char *log =
			    pw_xasprintf("%s/logs/%s.notify-%s.log", info->workspace, which, ch);
			if (run_hook_command(argv, &env, info->workspace, log, err, sizeof(err)) ==
			    0)
				snprintf(msg, sizeof(msg), "%s: notified %s", which, ch);
			else
				snprintf(msg, sizeof(msg), "%s: notifying %s failed: %s", which, ch,
					 err);
			notice(payload, msg);
			free(log);
		}
	}
	pw_envlist_release(&env);
}
