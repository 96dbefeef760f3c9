/*
 * pitwall doctor [--store URL] [--json]: what this machine offers pitwall.
 * Every check is one line marked ok, missing or error; nothing here fails
 * the command, so it can run anywhere (CI, a new host) and be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pitwall/limits.h"

extern char **environ;

#define PROBE_TIMEOUT_MS 5000

typedef struct {
	json_t *checks;
	bool json;
} doctor;

static void report(doctor *d, const char *check, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(doctor *d, const char *check, const char *status, const char *fmt, ...)
{
	char detail[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (d->json) {
		json_t *o = json_object();
		json_object_set_new(o, "check", json_string(check));
		json_object_set_new(o, "status", json_string(status));
		json_object_set_new(o, "detail", json_string(detail));
		json_array_append_new(d->checks, o);
	} else {
		printf("%-8s %-14s %s\n", status, check, detail);
	}
}

/* Absolute path of name in PATH (plus the sbin directories root's PATH may lack). */
static char *which(const char *name)
{
	const char *path = getenv("PATH");
	char *all =
	    pw_xasprintf("%s:/usr/local/sbin:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	char *save = NULL, *found = NULL;
	for (char *d = strtok_r(all, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *cand = pw_xasprintf("%s/%s", *d ? d : ".", name);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(all);
	return found;
}

/*
 * Run argv with stdin from /dev/null, stdout and stderr captured (the
 * first line in out), killed after PROBE_TIMEOUT_MS.  Returns the exit
 * status, 124 on a timeout, or -1 when it cannot start.
 */
static int probe(char *const *argv, char *out, size_t outsize)
{
	int fds[2];
	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int e = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	if (e != 0) {
		close(fds[0]);
		snprintf(out, outsize, "%s", strerror(e));
		return -1;
	}
	size_t len = 0;
	int64_t deadline = pw_now_mono_ms() + PROBE_TIMEOUT_MS;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - pw_now_mono_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p = {fds[0], POLLIN, 0};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char buf[512];
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		size_t take = (size_t)n < outsize - 1 - len ? (size_t)n : outsize - 1 - len;
		memcpy(out + len, buf, take);
		len += take;
		out[len] = '\0';
	}
	close(fds[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* The first line with something on it. */
	char *first = out + strspn(out, " \t\r\n");
	memmove(out, first, strlen(first) + 1);
	out[strcspn(out, "\n")] = '\0';
	if (timed_out)
		return 124;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void check_cgroups(doctor *d)
{
	const pw_limits_caps *c = pw_limits_redetect();
	if (!c->v2_mount) {
		report(d, "cgroup v2", "missing", "no cgroup2 mount in /proc/self/mountinfo");
	} else {
		char ctl[128] = "";
		for (int i = 0; i < PW_CTL_COUNT; i++)
			if (c->v2_available & (1u << i))
				snprintf(ctl + strlen(ctl), sizeof(ctl) - strlen(ctl), "%s%s",
					 ctl[0] ? " " : "", pw_cg_ctl_name(i));
		char en[128] = "";
		for (int i = 0; i < PW_CTL_COUNT; i++)
			if (c->v2_enabled & (1u << i))
				snprintf(en + strlen(en), sizeof(en) - strlen(en), "%s%s",
					 en[0] ? " " : "", pw_cg_ctl_name(i));
		report(d, "cgroup v2", c->v2_parent ? "ok" : "error",
		       "%s (own cgroup %s); controllers: %s; usable by tasks: %s; cgroup.kill: %s; "
		       "child cgroup: %s%s%s%s",
		       c->v2_mount, c->v2_self, ctl[0] ? ctl : "none", en[0] ? en : "none",
		       c->v2_kill ? "yes" : "no", c->v2_parent ? "yes, " : "no",
		       c->v2_parent ? c->v2_parent : "", c->v2_problem[0] ? "; note: " : "",
		       c->v2_problem);
	}
	char mounted[256] = "", usable[256] = "";
	for (int i = 0; i < PW_CTL_COUNT; i++) {
		if (c->v1_mount[i])
			snprintf(mounted + strlen(mounted), sizeof(mounted) - strlen(mounted),
				 "%s%s (%s)", mounted[0] ? ", " : "", pw_cg_ctl_name(i),
				 c->v1_mount[i]);
		if (c->v1_parent[i])
			snprintf(usable + strlen(usable), sizeof(usable) - strlen(usable), "%s%s",
				 usable[0] ? " " : "", pw_cg_ctl_name(i));
	}
	if (!mounted[0])
		report(d, "cgroup v1", "missing", "no memory, cpu, cpuacct or pids hierarchy");
	else
		report(d, "cgroup v1", usable[0] ? "ok" : "error", "%s; child cgroup: %s%s%s",
		       mounted, usable[0] ? "yes for " : "no", usable,
		       c->v1_problem[0] && !usable[0] ? c->v1_problem : "");
	bool cg_mem = c->memory == PW_VIA_V1 || c->memory == PW_VIA_V2;
	bool cg_cpu = c->cpu == PW_VIA_V1 || c->cpu == PW_VIA_V2;
	report(d, "limits", cg_mem && cg_cpu ? "ok" : "missing",
	       "memory_limit: %s; cpu_limit: %s%s; pids_limit: %s; usage: memory %s, cpu %s; OOM "
	       "detection: %s; tree kill: %s%s",
	       pw_limit_via_name(c->memory), pw_limit_via_name(c->cpu),
	       c->cpu == PW_VIA_RLIMIT ? " (total CPU time, only with a timeout)" : "",
	       pw_limit_via_name(c->pids), pw_limit_via_name(c->mem_usage),
	       pw_limit_via_name(c->cpu_usage), pw_limit_via_name(c->oom),
	       pw_limit_via_name(c->kill),
	       c->kill == PW_VIA_V2 && c->v2_kill ? " (cgroup.kill)" : "");
	if (d->json) {
		/* Machine-readable: how each limit would be enforced. */
		json_t *o = json_array_get(d->checks, json_array_size(d->checks) - 1);
		json_object_set_new(o, "memory", json_string(pw_limit_via_name(c->memory)));
		json_object_set_new(o, "cpu", json_string(pw_limit_via_name(c->cpu)));
		json_object_set_new(o, "pids", json_string(pw_limit_via_name(c->pids)));
		json_object_set_new(o, "oom", json_string(pw_limit_via_name(c->oom)));
		json_object_set_new(o, "kill", json_string(pw_limit_via_name(c->kill)));
	}
	/* Leave no empty pitwall cgroups behind. */
	pw_limits_run_done(NULL);
}

static void check_tool(doctor *d, const char *check, const char *name, char *const *extra_argv)
{
	char *path = which(name);
	if (!path) {
		report(d, check, "missing", "%s not found in PATH", name);
		return;
	}
	char out[512];
	char *argv[] = {path, "--version", NULL};
	int rc = probe(argv, out, sizeof(out));
	if (rc != 0) {
		report(d, check, "error", "%s --version failed (exit %d): %s", path, rc, out);
		free(path);
		return;
	}
	char version[512];
	snprintf(version, sizeof(version), "%s", out);
	if (extra_argv) {
		/* A second probe that needs the thing to work (a daemon, a controller). */
		char *argv2[8] = {path};
		size_t n = 1;
		for (size_t i = 0; extra_argv[i] && n < 7; i++)
			argv2[n++] = extra_argv[i];
		argv2[n] = NULL;
		rc = probe(argv2, out, sizeof(out));
		if (rc != 0) {
			report(d, check, "error", "%s (%s), but '%s %s' failed (exit %d): %s",
			       version, path, name, extra_argv[0], rc, out[0] ? out : "no output");
			free(path);
			return;
		}
	}
	report(d, check, "ok", "%s (%s)", version, path);
	free(path);
}

static void check_slurm(doctor *d)
{
	char *sinfo = which("sinfo");
	char *rest = which("slurmrestd");
	char *scontrol = which("scontrol");
	if (!sinfo && !rest) {
		report(d, "slurm", "missing", "neither sinfo nor slurmrestd found in PATH");
	} else {
		char out[512] = "", ping[512] = "";
		if (sinfo) {
			char *argv[] = {sinfo, "--version", NULL};
			probe(argv, out, sizeof(out));
		}
		int prc = -1;
		if (scontrol) {
			char *argv[] = {scontrol, "ping", NULL};
			prc = probe(argv, ping, sizeof(ping));
		}
		report(d, "slurm", prc == 0 ? "ok" : "error",
		       "%s%s; slurmrestd: %s; controller: %s", sinfo ? "sinfo " : "sinfo missing",
		       sinfo ? out : "", rest ? rest : "missing",
		       prc == 0	  ? ping
		       : scontrol ? (ping[0] ? ping : "not reachable")
				  : "scontrol missing");
	}
	free(sinfo);
	free(rest);
	free(scontrol);
}

static int last_row(const pw_audit_row *row, void *payload)
{
	*(int64_t *)payload = row->seq;
	return 0;
}

static void check_store(doctor *d, const char *url)
{
	pw_audit_store *s = NULL;
	pw_strbuf err = PW_STRBUF_INIT;
	if (pw_audit_open(&s, url, &err) != 0) {
		report(d, "store", "error", "%s",
		       err.buf ? err.buf : "cannot open the audit store");
		pw_strbuf_release(&err);
		return;
	}
	int64_t seq = 0;
	pw_audit_filter f = {.limit = 1};
	pw_strbuf_reset(&err);
	if (pw_audit_query(s, &f, last_row, &seq, &err) != 0)
		report(d, "store", "error", "%s (%s) opened, but cannot be read: %s", s->display,
		       s->backend->name, err.buf ? err.buf : "?");
	else
		report(d, "store", "ok", "%s (%s): %lld event%s%s", s->display, s->backend->name,
		       (long long)seq, seq == 1 ? "" : "s",
		       pw_audit_spool_pending(s) ? " (events spooled, server was unreachable)"
						 : "");
	pw_audit_close(s);
	pw_strbuf_release(&err);
}

static void check_git(doctor *d)
{
	git_libgit2_init();
	git_repository *repo = NULL;
	if (git_repository_open_ext(&repo, ".", 0, NULL) != 0) {
		report(d, "git", "missing", "the current directory is not in a git repository");
		git_libgit2_shutdown();
		return;
	}
	const char *wd = git_repository_workdir(repo);
	char sha[41] = "none";
	git_oid oid;
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0)
		git_oid_tostr(sha, sizeof(sha), &oid);
	git_reference *head = NULL;
	const char *branch = "detached";
	if (git_repository_head(&head, repo) == 0 && git_reference_is_branch(head))
		branch = git_reference_shorthand(head);
	size_t changed = 0;
	git_status_options so;
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	git_status_list *sl = NULL;
	if (git_status_list_new(&sl, repo, &so) == 0)
		changed = git_status_list_entrycount(sl);
	report(d, "git", "ok", "%s on %s at %.12s; %zu changed or untracked path%s",
	       wd ? wd : git_repository_path(repo), branch, sha, changed, changed == 1 ? "" : "s");
	git_status_list_free(sl);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

int pw_cmd_doctor(int argc, char **argv)
{
	const char *store_url = NULL, *v;
	doctor d = {NULL, false};
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("doctor", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_flag(argv, i, NULL, "--json")) {
			d.json = true;
		} else {
			return pw_cli_usage_error("doctor", "unknown argument '%s'", argv[i]);
		}
	}
	if (d.json)
		d.checks = json_array();
	check_cgroups(&d);
	check_tool(&d, "runc", "runc", NULL);
	check_tool(&d, "crun", "crun", NULL);
	check_tool(&d, "podman", "podman", NULL);
	char *docker_info[] = {"info", "--format", "{{.ServerVersion}}", NULL};
	check_tool(&d, "docker", "docker", docker_info);
	check_slurm(&d);
	check_store(&d, store_url);
	check_git(&d);
	if (d.json) {
		json_t *root = json_object();
		json_object_set_new(root, "checks", d.checks);
		char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(root);
	}
	fflush(stdout);
	return PW_EXIT_OK;
}
