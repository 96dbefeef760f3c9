/*
 * Running a task in a container.
 *
 * The engine turns a task's (argv, env, cwd) into the command of a runtime
 * whose process stands for the task: `runc run` (or crun) on a bundle
 * written here, or `podman run` / `docker run`.  Both stay in the
 * foreground with stdout and stderr on the task's pipe and forward SIGTERM
 * to the container, so the executor's log, timeout and signal handling work
 * as for a plain process.  What the executor cannot see is the container
 * itself: its processes live in their own session (and, for podman, under
 * conmon), so a SIGKILL that ends the runtime's process would leave them
 * running.  pw_container_job_finish closes that gap after every attempt:
 * `runc delete -f` when the container's state is still there, `podman rm
 * -f` unless `podman run --rm` exited by itself.
 *
 * Inside, the run workspace is /workspace: the workspace's host path is
 * rewritten to /workspace in the command, the environment and the working
 * directory.  The environment is not pitwall's: the image's, PITWALL_*, the
 * DAG's and the task's env, and the host variables the DAG names in
 * container_env.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "exec/spawn.h"
#include "pitwall/audit.h"
#include "pitwall/util.h"

/* resources.pids_limit, else this: a fork bomb in a container stops here. */
#define PIDS_LIMIT 4096
#define HELPER_TIMEOUT_MS 60000
#define LOAD_TIMEOUT_MS 600000

const char *const pw_container_runtime_names[PW_CRT_COUNT] = {"auto", "runc", "crun", "podman",
							      "docker"};

int pw_container_runtime_from_name(const char *name)
{
	for (int i = 0; name && i < PW_CRT_COUNT; i++)
		if (strcmp(name, pw_container_runtime_names[i]) == 0)
			return i;
	return -1;
}

typedef struct {
	char *ref;	  /* as the task wrote it */
	char *layout_dir; /* NULL: a name only podman / docker can resolve */
	pw_layout layout;
	char *digest;  /* "sha256:<manifest>", or NULL when unknown */
	char *rootfs;  /* runc, crun: the unpacked image */
	char *run_ref; /* podman, docker: what to run */
	bool ready;    /* unpacked or loaded */
	char *error;   /* why it cannot be used (kept: every task gets the same answer) */
} image_ent;

struct pw_container_engine {
	bool resolved;
	pw_container_runtime rt;
	char *rt_path;
	char *rt_error;
	char *state;	 /* absolute */
	char *runc_root; /* runc / crun --root */
	char *conf;	 /* CONTAINERS_CONF for podman, or NULL to keep the user's */
	image_ent *images;
	size_t nimages, cap;
	unsigned seq;
};

struct pw_container_job {
	pw_container_engine *e;
	char *id;
	char *bundle; /* runc, crun */
	char **argv;
	size_t argc;
	pw_envlist env;
	const char *digest;
};

pw_container_engine *pw_container_engine_new(void)
{
	return pw_xcalloc(1, sizeof(pw_container_engine));
}

void pw_container_engine_free(pw_container_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nimages; i++) {
		image_ent *im = &e->images[i];
		free(im->ref);
		free(im->layout_dir);
		pw_layout_release(&im->layout);
		free(im->digest);
		free(im->rootfs);
		free(im->run_ref);
		free(im->error);
	}
	free(e->images);
	free(e->rt_path);
	free(e->rt_error);
	free(e->state);
	free(e->runc_root);
	free(e->conf);
	free(e);
}

/* ---- choosing the runtime ---- */

static bool docker_daemon_reachable(void)
{
	const char *host = getenv("DOCKER_HOST");
	if (host && *host)
		return true;
	struct stat st;
	return stat("/var/run/docker.sock", &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Whether rt can be used here; its path in *path. */
static bool usable(pw_container_runtime rt, char **path, char *why, size_t whysize)
{
	const char *name = pw_container_runtime_names[rt];
	*path = pw_ctr_which(name, NULL);
	if (!*path) {
		snprintf(why, whysize, "%s is not installed (Debian: apt-get install %s)", name,
			 rt == PW_CRT_DOCKER ? "docker.io" : name);
		return false;
	}
	if ((rt == PW_CRT_RUNC || rt == PW_CRT_CRUN) && geteuid() != 0) {
		snprintf(why, whysize,
			 "%s is driven directly only as root (rootless: container_runtime: "
			 "podman)",
			 name);
		goto no;
	}
	if (rt == PW_CRT_DOCKER && !docker_daemon_reachable()) {
		snprintf(why, whysize,
			 "docker is installed but no daemon is reachable (no /var/run/docker.sock, "
			 "no DOCKER_HOST)");
		goto no;
	}
	return true;
no:
	free(*path);
	*path = NULL;
	return false;
}

int pw_container_detect(pw_container_runtime want, char *err, size_t errsize)
{
	char why[256];
	char *path = NULL;
	if (want != PW_CRT_AUTO) {
		bool ok = usable(want, &path, why, sizeof(why));
		free(path);
		if (!ok) {
			snprintf(err, errsize, "container runtime %s: %s",
				 pw_container_runtime_names[want], why);
			return -1;
		}
		return want;
	}
	static const pw_container_runtime order[] = {PW_CRT_RUNC, PW_CRT_PODMAN, PW_CRT_DOCKER};
	pw_strbuf sb = PW_STRBUF_INIT;
	for (size_t i = 0; i < PW_ARRAY_SIZE(order); i++) {
		if (usable(order[i], &path, why, sizeof(why))) {
			free(path);
			pw_strbuf_release(&sb);
			return order[i];
		}
		pw_strbuf_addf(&sb, "%s%s", i ? "; " : "", why);
	}
	snprintf(err, errsize, "no container runtime available (%s)", sb.buf);
	pw_strbuf_release(&sb);
	return -1;
}

/*
 * podman reads containers.conf from CONTAINERS_CONF.  These settings are
 * what podman needs on hosts like ours (DESIGN.md): runc (crun refuses
 * hybrid cgroups), cgroupfs (no systemd), and rlimits no higher than the
 * hard limits we have, since a process without CAP_SYS_RESOURCE cannot
 * raise them (podman's defaults ask for more than that).
 */
static char *write_containers_conf(const char *state, bool have_runc, char *err, size_t errsize)
{
	struct rlimit nofile = {1024, 1024}, nproc = {32768, 32768};
	struct rlimit cur;
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < nofile.rlim_max)
		nofile.rlim_cur = nofile.rlim_max = cur.rlim_max;
	if (getrlimit(RLIMIT_NPROC, &cur) == 0 && cur.rlim_max < nproc.rlim_max)
		nproc.rlim_cur = nproc.rlim_max = cur.rlim_max;
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb,
		       "# Written by pitwall for the podman processes it starts "
		       "(docs/containers.md).\n"
		       "[containers]\n"
		       "default_ulimits = [\"nofile=%llu:%llu\", \"nproc=%llu:%llu\"]\n"
		       "[engine]\n"
		       "cgroup_manager = \"cgroupfs\"\n"
		       "events_logger = \"file\"\n",
		       (unsigned long long)nofile.rlim_cur, (unsigned long long)nofile.rlim_max,
		       (unsigned long long)nproc.rlim_cur, (unsigned long long)nproc.rlim_max);
	if (have_runc)
		pw_strbuf_adds(&sb, "runtime = \"runc\"\n");
	char *path = pw_xasprintf("%s/containers.conf", state);
	char *old = NULL;
	size_t oldlen = 0;
	int rc = 0;
	if (pw_read_file(path, &old, &oldlen) != 0 || oldlen != sb.len ||
	    memcmp(old, sb.buf, sb.len) != 0) {
		char *tmp = pw_xasprintf("%s.%d", path, (int)getpid());
		FILE *f = fopen(tmp, "we");
		if (!f || fputs(sb.buf, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
			snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
			rc = -1;
		}
		free(tmp);
	}
	free(old);
	pw_strbuf_release(&sb);
	if (rc) {
		free(path);
		return NULL;
	}
	return path;
}

static int resolve_runtime(pw_container_engine *e, pw_container_runtime want, char *err,
			   size_t errsize)
{
	if (e->resolved) {
		if (e->rt_error) {
			snprintf(err, errsize, "%s", e->rt_error);
			return -1;
		}
		return 0;
	}
	e->resolved = true;
	char msg[768];
	int rt = pw_container_detect(want, msg, sizeof(msg));
	if (rt < 0) {
		e->rt_error = pw_xstrdup(msg);
		snprintf(err, errsize, "%s", msg);
		return -1;
	}
	e->rt = (pw_container_runtime)rt;
	char why[256];
	usable(e->rt, &e->rt_path, why, sizeof(why));
	char *state = pw_state_dir();
	e->state = realpath(state, NULL);
	free(state);
	if (!e->state) {
		e->rt_error =
		    pw_xasprintf("cannot resolve the state directory: %s", strerror(errno));
		snprintf(err, errsize, "%s", e->rt_error);
		return -1;
	}
	const char *rr = getenv("PITWALL_RUNC_ROOT");
	e->runc_root = rr && *rr ? pw_xstrdup(rr) : pw_xasprintf("%s/runc", e->state);
	if (e->rt == PW_CRT_PODMAN && !(getenv("CONTAINERS_CONF") && *getenv("CONTAINERS_CONF"))) {
		char *runc = pw_ctr_which("runc", NULL);
		e->conf = write_containers_conf(e->state, runc != NULL, msg, sizeof(msg));
		free(runc);
		if (!e->conf) {
			e->rt_error = pw_xstrdup(msg);
			snprintf(err, errsize, "%s", msg);
			return -1;
		}
	}
	return 0;
}

/* ---- images ---- */

/* argv for a runtime helper: the runtime, its global options, then the rest. */
static int helper(pw_container_engine *e, int64_t timeout_ms, pw_ctr_proc *r, char *err,
		  size_t errsize, ...)
{
	char *argv[32];
	size_t n = 0;
	argv[n++] = e->rt_path;
	if (e->rt == PW_CRT_RUNC || e->rt == PW_CRT_CRUN) {
		argv[n++] = "--root";
		argv[n++] = e->runc_root;
	}
	va_list ap;
	va_start(ap, errsize);
	for (char *a; n < PW_ARRAY_SIZE(argv) - 1 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	extern char **environ;
	pw_envlist env;
	pw_envlist_from_environ(&env, environ);
	if (e->conf)
		pw_envlist_set(&env, "CONTAINERS_CONF", e->conf);
	int rc = pw_ctr_run(argv, pw_envlist_array(&env), timeout_ms, r, err, errsize);
	pw_envlist_release(&env);
	return rc;
}

static const char *first_line(char *s)
{
	char *nl = strchr(s, '\n');
	while (nl && nl[1] == '\0' && nl > s) {
		*nl = '\0';
		nl = strchr(s, '\n');
	}
	return s;
}

/* The image unpacked under <state>/rootfs/<manifest hex>, once per digest and machine. */
static int unpack_cached(pw_container_engine *e, image_ent *im, char *err, size_t errsize)
{
	char *dir = pw_xasprintf("%s/rootfs/%s", e->state, im->layout.manifest_hex);
	char *rootfs = pw_xasprintf("%s/rootfs", dir);
	struct stat st;
	if (stat(rootfs, &st) == 0) {
		im->rootfs = rootfs;
		free(dir);
		return 0;
	}
	/* Unpack beside it and rename: a concurrent run sees all of it or nothing. */
	char *tmp = pw_xasprintf("%s.tmp.%d", dir, (int)getpid());
	char *tmp_rootfs = pw_xasprintf("%s/rootfs", tmp);
	pw_rm_rf(tmp);
	int rc = pw_mkdir_p(tmp_rootfs, 0755) == 0 ? 0 : -1;
	if (rc)
		snprintf(err, errsize, "cannot create %s: %s", tmp_rootfs, strerror(errno));
	if (rc == 0)
		rc = pw_layout_unpack(&im->layout, tmp_rootfs, err, errsize);
	if (rc == 0) {
		/*
		 * Mount points exist before the container starts: the root is
		 * read-only and shared by every container of this image.
		 */
		static const char *const dirs[] = {"proc", "dev", "sys", "tmp", "workspace", "etc"};
		for (size_t i = 0; i < PW_ARRAY_SIZE(dirs); i++) {
			char *p = pw_xasprintf("%s/%s", tmp_rootfs, dirs[i]);
			mkdir(p, strcmp(dirs[i], "tmp") == 0 ? 01777 : 0755);
			free(p);
		}
		static const char *const files[] = {"etc/hosts", "etc/resolv.conf"};
		for (size_t i = 0; i < PW_ARRAY_SIZE(files); i++) {
			char *p = pw_xasprintf("%s/%s", tmp_rootfs, files[i]);
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
			free(p);
		}
		if (rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
			snprintf(err, errsize, "cannot create %s: %s", dir, strerror(errno));
			rc = -1;
		}
	}
	pw_rm_rf(tmp);
	free(tmp);
	free(tmp_rootfs);
	free(dir);
	if (rc == 0)
		im->rootfs = rootfs;
	else
		free(rootfs);
	return rc;
}

/* podman / docker: the image loaded into the runtime's store, once per digest. */
static int load_cached(pw_container_engine *e, image_ent *im, char *err, size_t errsize)
{
	const char *hex = im->layout.manifest_hex;
	char *tag = pw_xasprintf("localhost/pitwall-image:%s", hex);
	/* podman names an image by its config digest; docker's classic store does too. */
	char *id = e->rt == PW_CRT_PODMAN ? pw_xstrdup(im->layout.config_hex) : pw_xstrdup(tag);
	pw_ctr_proc r;
	int rc = helper(e, HELPER_TIMEOUT_MS, &r, err, errsize, "image", "inspect", "--format",
			"{{.Id}}", id, NULL);
	bool present = rc == 0 && pw_ctr_proc_ok(&r);
	pw_ctr_proc_release(&r);
	if (!present) {
		char *archive =
		    pw_xasprintf("%s/images/.load-%s.%d.tar", e->state, hex, (int)getpid());
		char *dir = pw_xasprintf("%s/images", e->state);
		pw_mkdir_p(dir, 0755);
		free(dir);
		rc = pw_layout_write_archive(&im->layout, tag, archive, err, errsize);
		if (rc == 0) {
			rc = helper(e, LOAD_TIMEOUT_MS, &r, err, errsize, "load", "-q", "-i",
				    archive, NULL);
			if (rc == 0 && !pw_ctr_proc_ok(&r)) {
				snprintf(err, errsize, "%s load of %s failed: %.400s",
					 pw_container_runtime_names[e->rt], im->layout_dir,
					 first_line(r.out));
				rc = -1;
			}
			pw_ctr_proc_release(&r);
		}
		unlink(archive);
		free(archive);
	}
	free(tag);
	if (rc == 0)
		im->run_ref = id;
	else
		free(id);
	return rc;
}

static image_ent *get_image(pw_container_engine *e, const char *ref, const char *dag_dir, char *err,
			    size_t errsize)
{
	for (size_t i = 0; i < e->nimages; i++) {
		if (strcmp(e->images[i].ref, ref) == 0) {
			if (e->images[i].error) {
				snprintf(err, errsize, "%s", e->images[i].error);
				return NULL;
			}
			return &e->images[i];
		}
	}
	PW_GROW(e->images, e->cap, e->nimages + 1);
	image_ent *im = &e->images[e->nimages++];
	memset(im, 0, sizeof(*im));
	im->ref = pw_xstrdup(ref);
	char msg[1024] = "";
	int rc = 0;
	im->layout_dir = pw_image_find(ref, dag_dir);
	if (im->layout_dir) {
		rc = pw_layout_read(im->layout_dir, &im->layout, msg, sizeof(msg));
		if (rc == 0)
			im->digest = pw_xasprintf("sha256:%s", im->layout.manifest_hex);
	} else if (e->rt == PW_CRT_RUNC || e->rt == PW_CRT_CRUN) {
		snprintf(msg, sizeof(msg),
			 "image '%s' not found: no OCI image layout at that path (relative to the "
			 "DAG's directory) nor under %s/images or $PITWALL_IMAGE_PATH\n  hint: "
			 "build one with 'pitwall image build containers/NAME'",
			 ref, e->state);
		rc = -1;
	}
	if (rc == 0 && im->layout_dir) {
		if (e->rt == PW_CRT_RUNC || e->rt == PW_CRT_CRUN)
			rc = unpack_cached(e, im, msg, sizeof(msg));
		else
			rc = load_cached(e, im, msg, sizeof(msg));
	} else if (rc == 0) {
		/* A name for podman / docker: run as is; its digest if the store has it. */
		im->run_ref = pw_xstrdup(ref);
		pw_ctr_proc r;
		char ignore[256];
		if (helper(e, HELPER_TIMEOUT_MS, &r, ignore, sizeof(ignore), "image", "inspect",
			   "--format", "{{.Digest}}", ref, NULL) == 0 &&
		    pw_ctr_proc_ok(&r) && strncmp(r.out, "sha256:", 7) == 0)
			im->digest = pw_xstrdup(first_line(r.out));
		pw_ctr_proc_release(&r);
	}
	if (rc != 0) {
		im->error = pw_xstrdup(msg);
		snprintf(err, errsize, "%s", msg);
		return NULL;
	}
	return im;
}

/* ---- one attempt ---- */

/* Every occurrence of the workspace's host path becomes /workspace. */
static char *map_ws(const char *s, const char *ws)
{
	size_t wl = strlen(ws);
	pw_strbuf sb = PW_STRBUF_INIT;
	for (const char *p = s; *p;) {
		const char *hit = strstr(p, ws);
		if (!hit) {
			pw_strbuf_adds(&sb, p);
			break;
		}
		pw_strbuf_add(&sb, p, (size_t)(hit - p));
		pw_strbuf_adds(&sb, "/workspace");
		p = hit + wl;
	}
	return pw_strbuf_detach(&sb);
}

static bool named_in(const char *name, size_t nl, const pw_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(kv[i].key) == nl && strncmp(kv[i].key, name, nl) == 0)
			return true;
	return false;
}

static bool listed(const char *name, size_t nl, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == nl && strncmp(list[i], name, nl) == 0)
			return true;
	return false;
}

/* The container's environment: the image's, then what the task may see from ours. */
static void container_env(const pw_container_request *rq, const image_ent *im, pw_envlist *out)
{
	/* The task contract's variables; PITWALL_DAG_DIR is a host path, not visible inside. */
	static const char *const run_vars[] = {"PITWALL_DAG_ID",       "PITWALL_RUN_ID",
					       "PITWALL_TASK_ID",      "PITWALL_ATTEMPT",
					       "PITWALL_LOGICAL_DATE", "PITWALL_SEED"};
	memset(out, 0, sizeof(*out));
	bool have_path = false, have_home = false;
	for (size_t i = 0; im->layout_dir && i < im->layout.nenv; i++) {
		const char *kv = im->layout.env[i];
		const char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		char *name = pw_xstrndup(kv, (size_t)(eq - kv));
		pw_envlist_set(out, name, eq + 1);
		have_path = have_path || strcmp(name, "PATH") == 0;
		have_home = have_home || strcmp(name, "HOME") == 0;
		free(name);
	}
	if (!have_path && im->layout_dir)
		pw_envlist_set(out, "PATH",
			       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (!have_home && im->layout_dir)
		pw_envlist_set(out, "HOME", "/root");
	const pw_dag *d = rq->dag;
	const pw_task *t = rq->task;
	for (char *const *p = rq->envp; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		if (!eq)
			continue;
		size_t nl = (size_t)(eq - *p);
		bool pass = listed(*p, nl, run_vars, PW_ARRAY_SIZE(run_vars)) ||
			    named_in(*p, nl, d->env, d->nenv) ||
			    named_in(*p, nl, t->env, t->nenv) ||
			    listed(*p, nl, d->container_env, d->ncontainer_env);
		if (!pass)
			continue;
		char *name = pw_xstrndup(*p, nl);
		char *val = map_ws(eq + 1, rq->workspace);
		pw_envlist_set(out, name, val);
		free(name);
		free(val);
	}
	pw_envlist_set(out, "PITWALL_WORKSPACE", "/workspace");
	pw_envlist_set(out, "PITWALL_CONTAINER", "1");
}

/* For runc / crun: a command that is not in the image is a clear error, not exit 127. */
static bool in_image(const char *rootfs, const char *cmd, const pw_envlist *env)
{
	if (strchr(cmd, '/')) {
		if (cmd[0] != '/')
			return true; /* relative to the working directory: the workspace */
		char *p = pw_xasprintf("%s%s", rootfs, cmd);
		struct stat st;
		bool ok = lstat(p, &st) == 0;
		free(p);
		return ok;
	}
	const char *path = pw_env_get(env->v, "PATH");
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, path ? path : "/usr/bin:/bin");
	bool ok = false;
	char *save = NULL;
	for (char *d = strtok_r(sb.buf, ":", &save); d && !ok; d = strtok_r(NULL, ":", &save)) {
		char *p = pw_xasprintf("%s%s/%s", rootfs, d, cmd);
		struct stat st;
		ok = lstat(p, &st) == 0;
		free(p);
	}
	pw_strbuf_release(&sb);
	return ok;
}

static int64_t pids_limit(const pw_task *t)
{
	return t->resources.pids_limit > 0 ? t->resources.pids_limit : PIDS_LIMIT;
}

static json_t *mount(const char *dest, const char *type, const char *source, const char *opts)
{
	json_t *o = json_array();
	char *copy = pw_xstrdup(opts);
	char *save = NULL;
	for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(s));
	free(copy);
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source",
			 source, "options", o);
}

static json_t *str_list(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* config.json of the OCI runtime spec, for one attempt. */
static char *bundle_config(const pw_container_request *rq, const image_ent *im, char **argv,
			   size_t argc, const pw_envlist *env, const char *cwd, const char *id)
{
	const pw_task *t = rq->task;
	static const char *const caps[] = {
	    "CAP_CHOWN",      "CAP_DAC_OVERRIDE", "CAP_FOWNER",
	    "CAP_FSETID",     "CAP_KILL",	  "CAP_SETGID",
	    "CAP_SETUID",     "CAP_SETPCAP",	  "CAP_NET_BIND_SERVICE",
	    "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",  "CAP_SETFCAP"};
	json_t *capset = json_array();
	for (size_t i = 0; i < PW_ARRAY_SIZE(caps); i++)
		json_array_append_new(capset, json_string(caps[i]));
	struct rlimit nofile = {1024, 1024}, cur;
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < nofile.rlim_max)
		nofile.rlim_cur = nofile.rlim_max = cur.rlim_max;
	json_t *process = json_pack(
	    "{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:{s:O, s:O, s:O}, s:[{s:s, s:I, s:I}], s:b}",
	    "terminal", 0, "user", "uid", (int)geteuid(), "gid", (int)getegid(), "args",
	    str_list(argv, argc), "env", str_list(env->v, env->n), "cwd", cwd, "capabilities",
	    "bounding", capset, "effective", capset, "permitted", capset, "rlimits", "type",
	    "RLIMIT_NOFILE", "hard", (json_int_t)nofile.rlim_max, "soft",
	    (json_int_t)nofile.rlim_cur, "noNewPrivileges", 1);
	json_decref(capset);

	json_t *mounts = json_array();
	json_array_append_new(mounts, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(
	    mounts, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts, mount("/dev/pts", "devpts", "devpts",
					    "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
	json_array_append_new(
	    mounts, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts,
			      mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	/* sysfs needs a network namespace of its own; with the host's, bind it read-only. */
	if (t->network)
		json_array_append_new(
		    mounts, mount("/sys", "none", "/sys", "rbind,nosuid,noexec,nodev,ro"));
	else
		json_array_append_new(mounts,
				      mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(
	    mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	json_array_append_new(mounts, mount("/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777"));
	json_array_append_new(mounts, mount("/workspace", "none", rq->workspace, "rbind,rw"));
	if (t->network) {
		static const char *const etc[] = {"/etc/resolv.conf", "/etc/hosts"};
		for (size_t i = 0; i < PW_ARRAY_SIZE(etc); i++)
			if (access(etc[i], R_OK) == 0)
				json_array_append_new(mounts,
						      mount(etc[i], "none", etc[i], "bind,ro"));
	}

	json_t *ns = json_array();
	static const char *const nss[] = {"pid", "ipc", "uts", "mount", "network"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(nss); i++)
		if (!(t->network && !strcmp(nss[i], "network")))
			json_array_append_new(ns, json_pack("{s:s}", "type", nss[i]));

	json_t *res = json_pack("{s:[{s:b, s:s}], s:{s:I}}", "devices", "allow", 0, "access", "rwm",
				"pids", "limit", (json_int_t)pids_limit(t));
	if (t->resources.memory_limit > 0)
		json_object_set_new(
		    res, "memory",
		    json_pack("{s:I}", "limit", (json_int_t)t->resources.memory_limit));
	if (t->resources.cpu_limit > 0)
		json_object_set_new(res, "cpu",
				    json_pack("{s:I, s:I}", "quota",
					      (json_int_t)(t->resources.cpu_limit * 100000.0 + 0.5),
					      "period", (json_int_t)100000));
	char *cgpath = pw_xasprintf("/pitwall/%s", id);
	json_t *linux_ = json_pack(
	    "{s:o, s:o, s:s, s:[s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s,s]}", "namespaces", ns,
	    "resources", res, "cgroupsPath", cgpath, "maskedPaths", "/proc/acpi", "/proc/kcore",
	    "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	    "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "readonlyPaths", "/proc/asound",
	    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
	free(cgpath);
	json_t *cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2",
				"process", process, "root", "path", im->rootfs, "readonly", 1,
				"hostname", "pitwall", "mounts", mounts, "linux", linux_);
	char *s = json_dumps(cfg, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(cfg);
	return s;
}

static void job_arg(pw_container_job *j, const char *s)
{
	j->argv = pw_xrealloc(j->argv, (j->argc + 2) * sizeof(*j->argv));
	j->argv[j->argc++] = pw_xstrdup(s);
	j->argv[j->argc] = NULL;
}

static void job_argf(pw_container_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void job_argf(pw_container_job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	job_arg(j, sb.buf);
	pw_strbuf_release(&sb);
}

static void job_free(pw_container_job *j)
{
	for (size_t i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	pw_envlist_release(&j->env);
	free(j->id);
	free(j->bundle);
	free(j);
}

/* A name both runtimes accept: [a-zA-Z0-9][a-zA-Z0-9_.-]*, unique per attempt and process. */
static char *make_id(pw_container_engine *e, const pw_container_request *rq)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "pw-");
	for (const char *p = rq->task->task_id; *p && sb.len < 43; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
		pw_strbuf_addc(&sb, ok ? ch : '_');
	}
	char *seed = pw_xasprintf("%s/%s/%d/%d/%u/%" PRId64, rq->run_id, rq->task->task_id,
				  rq->attempt, (int)getpid(), e->seq++, pw_now_wall_ms());
	pw_strbuf_addf(&sb, "-%d-%08llx", rq->attempt,
		       (unsigned long long)(pw_hash_str(seed) & 0xffffffffULL));
	free(seed);
	return pw_strbuf_detach(&sb);
}

int pw_container_prepare(pw_container_engine *e, const pw_container_request *rq,
			 pw_container_job **out, char *err, size_t errsize)
{
	*out = NULL;
	pw_container_runtime want = rq->runtime;
	if (want == PW_CRT_AUTO && rq->dag->container_runtime) {
		int r = pw_container_runtime_from_name(rq->dag->container_runtime);
		want = r < 0 ? PW_CRT_AUTO : (pw_container_runtime)r;
	}
	if (resolve_runtime(e, want, err, errsize) < 0)
		return -1;
	const pw_task *t = rq->task;
	image_ent *im = get_image(e, t->container, rq->dag->dir, err, errsize);
	if (!im)
		return -1;

	/* The working directory, seen from inside. */
	size_t wl = strlen(rq->workspace);
	const char *cwd_host = rq->cwd ? rq->cwd : rq->workspace;
	if (strncmp(cwd_host, rq->workspace, wl) != 0 || (cwd_host[wl] && cwd_host[wl] != '/')) {
		snprintf(err, errsize,
			 "working_dir %s is outside the run workspace, which is all a container "
			 "sees (at /workspace)",
			 cwd_host);
		return -1;
	}
	char *cwd = pw_xasprintf("/workspace%s", cwd_host + wl);

	pw_container_job *j = pw_xcalloc(1, sizeof(*j));
	j->e = e;
	j->digest = im->digest;
	j->id = make_id(e, rq);
	pw_envlist cenv;
	container_env(rq, im, &cenv);
	size_t argc = 0;
	while (rq->argv[argc])
		argc++;
	char **cargv = pw_xcalloc(argc + 1, sizeof(*cargv));
	for (size_t i = 0; i < argc; i++)
		cargv[i] = map_ws(rq->argv[i], rq->workspace);

	extern char **environ;
	pw_envlist_from_environ(&j->env, rq->envp ? (char **)rq->envp : environ);
	int rc = 0;
	job_arg(j, e->rt_path);
	if (e->rt == PW_CRT_RUNC || e->rt == PW_CRT_CRUN) {
		if (!in_image(im->rootfs, cargv[0], &cenv)) {
			const char *path = pw_env_get(pw_envlist_array(&cenv), "PATH");
			snprintf(err, errsize, "command '%s' not found in image %s (PATH %s)",
				 cargv[0], t->container, path ? path : "unset");
			rc = -1;
		}
		j->bundle = pw_xasprintf("%s/bundles/%s", e->state, j->id);
		if (rc == 0 && pw_mkdir_p(j->bundle, 0700) != 0) {
			snprintf(err, errsize, "cannot create %s: %s", j->bundle, strerror(errno));
			rc = -1;
		}
		if (rc == 0) {
			pw_envlist_array(&cenv);
			char *cfg = bundle_config(rq, im, cargv, argc, &cenv, cwd, j->id);
			char *path = pw_xasprintf("%s/config.json", j->bundle);
			FILE *f = fopen(path, "we");
			if (!f || fputs(cfg, f) < 0 || fclose(f) != 0) {
				snprintf(err, errsize, "cannot write %s: %s", path,
					 strerror(errno));
				rc = -1;
			}
			free(path);
			free(cfg);
		}
		job_arg(j, "--root");
		job_arg(j, e->runc_root);
		job_arg(j, "run");
		job_arg(j, "--bundle");
		job_arg(j, j->bundle);
		job_arg(j, j->id);
	} else {
		job_arg(j, "run");
		job_arg(j, "--rm");
		job_argf(j, "--name=%s", j->id);
		job_argf(j, "--network=%s", t->network ? "host" : "none");
		job_argf(j, "--user=%d:%d", (int)geteuid(), (int)getegid());
		job_arg(j, "--read-only");
		job_argf(j, "--pids-limit=%" PRId64, pids_limit(t));
		if (t->resources.memory_limit > 0)
			job_argf(j, "--memory=%" PRId64 "b", t->resources.memory_limit);
		if (t->resources.cpu_limit > 0)
			job_argf(j, "--cpus=%g", t->resources.cpu_limit);
		job_argf(j, "--volume=%s:/workspace", rq->workspace);
		job_argf(j, "--workdir=%s", cwd);
		if (im->layout_dir)
			job_arg(j, "--pull=never");
		pw_envlist_array(&cenv);
		for (size_t i = 0; i < cenv.n; i++)
			job_argf(j, "--env=%s", cenv.v[i]);
		/* The task's argv is the whole command: the image's entrypoint does not apply. */
		json_t *ep = json_pack("[s]", cargv[0]);
		char *eps = json_dumps(ep, JSON_COMPACT);
		json_decref(ep);
		job_argf(j, "--entrypoint=%s", eps);
		free(eps);
		job_arg(j, im->run_ref);
		for (size_t i = 1; i < argc; i++)
			job_arg(j, cargv[i]);
		if (e->conf)
			pw_envlist_set(&j->env, "CONTAINERS_CONF", e->conf);
	}
	for (size_t i = 0; i < argc; i++)
		free(cargv[i]);
	free(cargv);
	free(cwd);
	pw_envlist_release(&cenv);
	if (rc != 0) {
		if (j->bundle)
			pw_rm_rf(j->bundle);
		job_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

char **pw_container_job_argv(pw_container_job *j)
{
	return j->argv;
}

char **pw_container_job_envp(pw_container_job *j)
{
	return pw_envlist_array(&j->env);
}

const char *pw_container_job_digest(const pw_container_job *j)
{
	return j->digest;
}

const char *pw_container_job_id(const pw_container_job *j)
{
	return j->id;
}

const char *pw_container_job_runtime(const pw_container_job *j)
{
	return pw_container_runtime_names[j->e->rt];
}

void pw_container_job_finish(pw_container_job *j, bool exited_ok)
{
	if (!j)
		return;
	pw_container_engine *e = j->e;
	char err[256];
	pw_ctr_proc r;
	if (e->rt == PW_CRT_RUNC || e->rt == PW_CRT_CRUN) {
		/* `runc run` deletes its container when it exits by itself; a SIGKILL skips that.
		 */
		char *state = pw_xasprintf("%s/%s", e->runc_root, j->id);
		struct stat st;
		if (stat(state, &st) == 0) {
			if (helper(e, HELPER_TIMEOUT_MS, &r, err, sizeof(err), "kill", j->id,
				   "KILL", NULL) == 0)
				pw_ctr_proc_release(&r);
			if (helper(e, HELPER_TIMEOUT_MS, &r, err, sizeof(err), "delete", "-f",
				   j->id, NULL) == 0)
				pw_ctr_proc_release(&r);
		}
		free(state);
		if (j->bundle)
			pw_rm_rf(j->bundle);
	} else if (!exited_ok) {
		if (e->rt == PW_CRT_PODMAN) {
			if (helper(e, HELPER_TIMEOUT_MS, &r, err, sizeof(err), "rm", "-f", "-t",
				   "0", "-i", j->id, NULL) == 0)
				pw_ctr_proc_release(&r);
		} else if (helper(e, HELPER_TIMEOUT_MS, &r, err, sizeof(err), "rm", "-f", j->id,
				  NULL) == 0) {
			pw_ctr_proc_release(&r);
		}
	}
	job_free(j);
}
