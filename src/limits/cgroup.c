/*
 * cgroups for task attempts: detection, creation, limits, sampling, kills.
 *
 * Why per-limit choices instead of "v1 or v2": real machines are often
 * hybrid.  Here, for instance, memory, cpu and pids are v1 hierarchies
 * while the v2 mount has no controllers but does have cgroup.kill and
 * cpu.stat.  So each attempt joins the v2 group when pitwall can create one
 * (whole-tree kill, CPU accounting) and whichever v1 hierarchies carry the
 * limits v2 cannot.  Everything is plain file I/O on cgroupfs; nothing here
 * runs in the child (the shim does the joining, see shim.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pitwall/limits.h"
#include "pitwall/util.h"

static const char *const ctl_names[PW_CTL_COUNT] = {"memory", "cpu", "cpuacct", "pids"};

const char *pw_cg_ctl_name(pw_cg_ctl c)
{
	return (unsigned)c < PW_CTL_COUNT ? ctl_names[c] : "?";
}

const char *pw_limit_via_name(pw_limit_via v)
{
	switch (v) {
	case PW_VIA_NONE: return "none";
	case PW_VIA_V2: return "cgroup v2";
	case PW_VIA_V1: return "cgroup v1";
	case PW_VIA_RLIMIT: return "rlimit";
	case PW_VIA_PROC: return "/proc";
	case PW_VIA_PGROUP: return "process group";
	}
	return "?";
}

/* ---- small file helpers ---- */

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int write_in(const char *dir, const char *file, const char *s)
{
	char *p = pw_xasprintf("%s/%s", dir, file);
	int e = write_str(p, s);
	free(p);
	return e;
}

static bool exists_in(const char *dir, const char *file)
{
	char *p = pw_xasprintf("%s/%s", dir, file);
	bool ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

/* A file holding one number ("max" reads as INT64_MAX); -1 when unreadable. */
static int64_t read_num_in(const char *dir, const char *file)
{
	char buf[64], *p = pw_xasprintf("%s/%s", dir, file);
	ssize_t n = read_small(p, buf, sizeof(buf));
	free(p);
	if (n <= 0)
		return -1;
	if (!strncmp(buf, "max", 3))
		return INT64_MAX;
	char *end;
	long long v = strtoll(buf, &end, 10);
	return end == buf ? -1 : (int64_t)v;
}

/* "key value" lines (cpu.stat, memory.events, memory.oom_control); -1 when absent. */
static int64_t read_key_in(const char *dir, const char *file, const char *key)
{
	char buf[4096], *p = pw_xasprintf("%s/%s", dir, file);
	ssize_t n = read_small(p, buf, sizeof(buf));
	free(p);
	if (n <= 0)
		return -1;
	size_t kl = strlen(key);
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			return strtoll(line + kl + 1, NULL, 10);
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += wl) {
		bool start = p == list || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\n';
		bool end = !p[wl] || p[wl] == ' ' || p[wl] == ',' || p[wl] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

/* mkdir that is fine with EEXIST; returns 0 or -errno. */
static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* ---- detection ---- */

/* mountinfo escapes spaces and the like as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && isdigit((unsigned char)r[1]) && isdigit((unsigned char)r[2]) &&
		    isdigit((unsigned char)r[3])) {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/*
 * The directory of our own cgroup: the mount point plus our path in the
 * hierarchy, relative to the mount's root (a bind mount of a subtree has a
 * root other than "/").  NULL when our cgroup is outside the mount.
 */
static char *self_dir(const char *mount, const char *root, const char *path)
{
	if (strcmp(root, "/") != 0) {
		size_t rl = strlen(root);
		if (strncmp(path, root, rl) != 0 || (path[rl] && path[rl] != '/'))
			return NULL;
		path += rl;
	}
	if (!*path || !strcmp(path, "/"))
		return pw_xstrdup(mount);
	return pw_xasprintf("%s%s", mount, path);
}

typedef struct {
	char *v2_path;
	char *v1_path[PW_CTL_COUNT];
} self_paths;

static void read_self_cgroups(self_paths *sp)
{
	memset(sp, 0, sizeof(*sp));
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		const char *ctls = c1 + 1, *path = c2 + 1;
		if (!strcmp(line, "0") && !*ctls) {
			free(sp->v2_path);
			sp->v2_path = pw_xstrdup(path);
			continue;
		}
		for (int i = 0; i < PW_CTL_COUNT; i++)
			if (word_in(ctls, ctl_names[i]) && !sp->v1_path[i])
				sp->v1_path[i] = pw_xstrdup(path);
	}
	fclose(f);
}

static void caps_release(pw_limits_caps *c)
{
	free(c->v2_mount);
	free(c->v2_self);
	free(c->v2_parent);
	for (int i = 0; i < PW_CTL_COUNT; i++) {
		free(c->v1_mount[i]);
		free(c->v1_self[i]);
		free(c->v1_parent[i]);
	}
	memset(c, 0, sizeof(*c));
}

static void read_mounts(pw_limits_caps *c, const self_paths *sp)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *fields[6] = {0};
		int nf = 0;
		for (char *tok = strtok(line, " "); tok && nf < 6; tok = strtok(NULL, " "))
			fields[nf++] = tok;
		if (nf < 5)
			continue;
		char *root = fields[3], *mnt = fields[4];
		char fstype[64] = "", source[256] = "", opts[1024] = "";
		if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) < 1)
			continue;
		unescape_octal(root);
		unescape_octal(mnt);
		if (!strcmp(fstype, "cgroup2")) {
			/* The first one, or the conventional place over a later one. */
			if (c->v2_mount && strcmp(mnt, "/sys/fs/cgroup") != 0)
				continue;
			if (!sp->v2_path)
				continue;
			char *self = self_dir(mnt, root, sp->v2_path);
			if (!self)
				continue;
			free(c->v2_mount);
			free(c->v2_self);
			c->v2_mount = pw_xstrdup(mnt);
			c->v2_self = self;
		} else if (!strcmp(fstype, "cgroup")) {
			for (int i = 0; i < PW_CTL_COUNT; i++) {
				if (c->v1_mount[i] || !word_in(opts, ctl_names[i]) ||
				    !sp->v1_path[i])
					continue;
				char *self = self_dir(mnt, root, sp->v1_path[i]);
				if (!self)
					continue;
				c->v1_mount[i] = pw_xstrdup(mnt);
				c->v1_self[i] = self;
			}
		}
	}
	fclose(f);
}

/* Enable the controllers in mask for the children of dir; returns the mask that took. */
static unsigned enable_ctls(const char *dir, unsigned mask, int *first_err)
{
	char cur[512] = "";
	char *p = pw_xasprintf("%s/cgroup.subtree_control", dir);
	read_small(p, cur, sizeof(cur));
	unsigned ok = 0;
	static const pw_cg_ctl v2ctls[] = {PW_CTL_MEMORY, PW_CTL_CPU, PW_CTL_PIDS};
	for (size_t i = 0; i < PW_ARRAY_SIZE(v2ctls); i++) {
		pw_cg_ctl k = v2ctls[i];
		if (!(mask & (1u << k)))
			continue;
		if (word_in(cur, ctl_names[k])) {
			ok |= 1u << k;
			continue;
		}
		char add[32];
		snprintf(add, sizeof(add), "+%s", ctl_names[k]);
		int e = write_str(p, add);
		if (e == 0)
			ok |= 1u << k;
		else if (first_err && !*first_err)
			*first_err = -e;
	}
	free(p);
	return ok;
}

/*
 * Make <base>/pitwall and enable what it can of want for its children.
 * Returns the directory (NULL with a problem noted) and the enabled set.
 */
static char *v2_parent_at(pw_limits_caps *c, const char *base, unsigned want, unsigned *enabled)
{
	int err = 0;
	*enabled = 0;
	unsigned at_base = want ? enable_ctls(base, want, &err) : 0;
	char *parent = pw_xasprintf("%s/pitwall", base);
	int e = mkdir_ok(parent);
	if (e) {
		snprintf(c->v2_problem, sizeof(c->v2_problem), "cannot create %s: %s", parent,
			 strerror(-e));
		free(parent);
		return NULL;
	}
	*enabled = at_base ? enable_ctls(parent, at_base, &err) : 0;
	if (*enabled != want)
		snprintf(c->v2_problem, sizeof(c->v2_problem),
			 "cannot enable every controller under %s: %s", base,
			 strerror(err ? err : EBUSY));
	return parent;
}

static int popcount(unsigned x)
{
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

static void detect_v2(pw_limits_caps *c)
{
	if (!c->v2_self) {
		snprintf(c->v2_problem, sizeof(c->v2_problem), "no cgroup2 mount");
		return;
	}
	char buf[512] = "";
	char *p = pw_xasprintf("%s/cgroup.controllers", c->v2_self);
	read_small(p, buf, sizeof(buf));
	free(p);
	for (int i = 0; i < PW_CTL_COUNT; i++)
		if (i != PW_CTL_CPUACCT && word_in(buf, ctl_names[i]))
			c->v2_available |= 1u << i;

	/*
	 * Children of our own cgroup first (a delegated subtree, or the root).
	 * A controller can only be enabled there when our cgroup holds no
	 * processes of its own ("no internal processes") or is the root.  When
	 * that leaves controllers out, the top of the hierarchy is tried (it
	 * works for root, as container engines' cgroupfs drivers do).
	 */
	unsigned want = c->v2_available, en = 0;
	c->v2_parent = v2_parent_at(c, c->v2_self, want, &en);
	c->v2_enabled = en;
	if ((!c->v2_parent || en != want) && strcmp(c->v2_self, c->v2_mount) != 0) {
		char problem[sizeof(c->v2_problem)];
		memcpy(problem, c->v2_problem, sizeof(problem));
		unsigned en2 = 0;
		char *top = v2_parent_at(c, c->v2_mount, want, &en2);
		if (top && (!c->v2_parent || popcount(en2) > popcount(en))) {
			if (c->v2_parent)
				rmdir(c->v2_parent);
			free(c->v2_parent);
			c->v2_parent = top;
			c->v2_enabled = en2;
		} else {
			if (top)
				rmdir(top);
			free(top);
			memcpy(c->v2_problem, problem, sizeof(problem));
		}
	}
	if (c->v2_parent)
		c->v2_kill = exists_in(c->v2_parent, "cgroup.kill");
	if (!c->v2_available && !c->v2_problem[0])
		snprintf(c->v2_problem, sizeof(c->v2_problem),
			 "no controllers in %s/cgroup.controllers", c->v2_self);
}

static void detect_v1(pw_limits_caps *c)
{
	for (int i = 0; i < PW_CTL_COUNT; i++) {
		if (!c->v1_self[i])
			continue;
		char *parent = pw_xasprintf("%s/pitwall", c->v1_self[i]);
		int e = mkdir_ok(parent);
		if (e) {
			if (!c->v1_problem[0])
				snprintf(c->v1_problem, sizeof(c->v1_problem),
					 "cannot create %s: %s", parent, strerror(-e));
			free(parent);
			continue;
		}
		c->v1_parent[i] = parent;
	}
}

static void choose(pw_limits_caps *c)
{
	bool v2m = c->v2_parent && (c->v2_enabled & (1u << PW_CTL_MEMORY));
	bool v2c = c->v2_parent && (c->v2_enabled & (1u << PW_CTL_CPU));
	bool v2p = c->v2_parent && (c->v2_enabled & (1u << PW_CTL_PIDS));
	c->memory = v2m ? PW_VIA_V2 : c->v1_parent[PW_CTL_MEMORY] ? PW_VIA_V1 : PW_VIA_RLIMIT;
	c->cpu = v2c ? PW_VIA_V2 : c->v1_parent[PW_CTL_CPU] ? PW_VIA_V1 : PW_VIA_RLIMIT;
	c->pids = v2p ? PW_VIA_V2 : c->v1_parent[PW_CTL_PIDS] ? PW_VIA_V1 : PW_VIA_NONE;
	c->mem_usage = v2m ? PW_VIA_V2 : c->v1_parent[PW_CTL_MEMORY] ? PW_VIA_V1 : PW_VIA_PROC;
	c->oom = v2m ? PW_VIA_V2 : c->v1_parent[PW_CTL_MEMORY] ? PW_VIA_V1 : PW_VIA_NONE;
	bool v2stat = c->v2_parent && exists_in(c->v2_parent, "cpu.stat");
	c->cpu_usage = v2stat ? PW_VIA_V2 : c->v1_parent[PW_CTL_CPUACCT] ? PW_VIA_V1 : PW_VIA_PROC;
	c->kill =
	    c->v2_parent ? PW_VIA_V2
	    : (c->v1_parent[PW_CTL_MEMORY] || c->v1_parent[PW_CTL_CPU] || c->v1_parent[PW_CTL_PIDS])
		? PW_VIA_V1
		: PW_VIA_PGROUP;
}

static pw_limits_caps g_caps;
static bool g_detected;

const pw_limits_caps *pw_limits_redetect(void)
{
	caps_release(&g_caps);
	self_paths sp;
	read_self_cgroups(&sp);
	/* PITWALL_LIMITS=rlimit: no cgroups at all (tests, or a host where they misbehave). */
	const char *force = getenv("PITWALL_LIMITS");
	if (!force || strcmp(force, "rlimit") != 0)
		read_mounts(&g_caps, &sp);
	free(sp.v2_path);
	for (int i = 0; i < PW_CTL_COUNT; i++)
		free(sp.v1_path[i]);
	detect_v2(&g_caps);
	detect_v1(&g_caps);
	choose(&g_caps);
	g_detected = true;
	return &g_caps;
}

const pw_limits_caps *pw_limits_detect(void)
{
	return g_detected ? &g_caps : pw_limits_redetect();
}

/* ---- one attempt ---- */

/* Slot 0 is the v2 group; slot 1 + ctl is a v1 hierarchy's. */
#define NDIRS (1 + PW_CTL_COUNT)

static char *g_shim;

void pw_limits_set_shim(const char *path)
{
	free(g_shim);
	g_shim = path ? pw_xstrdup(path) : NULL;
}

/*
 * pitwall-cgexec next to our executable (src/cgexec: libc only, cheap to
 * exec), else ourselves as `pitwall __cgexec` through /proc/self/exe, which
 * stays valid even when the binary is replaced while a run goes on.
 */
static const char *shim_path(void)
{
	if (g_shim)
		return g_shim;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			char *cand = pw_xasprintf("%s/pitwall-cgexec", self);
			if (access(cand, X_OK) == 0) {
				g_shim = cand;
				return g_shim;
			}
			free(cand);
		}
	}
	g_shim = pw_xstrdup("/proc/self/exe");
	return g_shim;
}

struct pw_limits_attempt {
	char *dir[NDIRS];
	pw_limit_via memory, cpu, pids, mem_usage, cpu_usage, oom, kill;
	int64_t rl_as, rl_cpu; /* shim rlimits; 0 = none */
	pid_t pgid;
	int64_t peak_seen;
	char **wrapper;
	size_t nwrapper;
	char *describe;
};

/* The first cgroup the attempt joined (its process list), or NULL. */
static const char *any_dir(const pw_limits_attempt *a)
{
	for (int i = 0; i < NDIRS; i++)
		if (a->dir[i])
			return a->dir[i];
	return NULL;
}

/*
 * Create <parent>/<run>/<task>.<attempt>.  For v2, the run directory
 * passes the enabled controllers on to the attempt.
 */
static char *make_attempt_dir(const char *parent, const pw_limits_request *r, unsigned v2ctl,
			      int *err)
{
	char *run = pw_xasprintf("%s/%s", parent, r->run_id);
	char *dir = pw_xasprintf("%s/%s.%d", run, r->task_id, r->attempt);
	int e = 0;
	/* The parent may have been removed by another run ending: make it again. */
	for (int tries = 0; tries < 3; tries++) {
		e = mkdir_ok(parent);
		if (!e && v2ctl) {
			char *hold = pw_xstrdup(parent);
			enable_ctls(hold, v2ctl, NULL);
			free(hold);
		}
		if (!e)
			e = mkdir_ok(run);
		if (!e && v2ctl)
			enable_ctls(run, v2ctl, NULL);
		if (!e) {
			if (mkdir(dir, 0755) == 0)
				break;
			e = -errno;
			if (e == -EEXIST) {
				/* Left by a pitwall that died: reuse it once it is empty. */
				if (rmdir(dir) == 0 && mkdir(dir, 0755) == 0)
					e = 0;
				else
					e = 0; /* still busy: join it anyway */
				break;
			}
		}
		if (e != -ENOENT)
			break;
	}
	free(run);
	if (e) {
		*err = -e;
		free(dir);
		return NULL;
	}
	return dir;
}

static void wrap_add(pw_limits_attempt *a, const char *s)
{
	a->wrapper = pw_xrealloc(a->wrapper, (a->nwrapper + 2) * sizeof(*a->wrapper));
	a->wrapper[a->nwrapper++] = pw_xstrdup(s);
	a->wrapper[a->nwrapper] = NULL;
}

int pw_limits_begin(pw_limits_attempt **out, const pw_limits_request *req, char *err,
		    size_t errsize)
{
	const pw_limits_caps *c = pw_limits_detect();
	pw_limits_attempt *a = pw_xcalloc(1, sizeof(*a));
	int e = 0;
	*out = NULL;
	(void)err;
	(void)errsize;

	if (c->v2_parent) {
		a->dir[0] = make_attempt_dir(c->v2_parent, req, c->v2_enabled, &e);
	}
	bool v2 = a->dir[0] != NULL;
	unsigned v2ctl = v2 ? c->v2_enabled : 0;

	/* Which v1 hierarchies this attempt needs: what v2 cannot do for it. */
	bool need[PW_CTL_COUNT] = {false};
	need[PW_CTL_MEMORY] = !(v2ctl & (1u << PW_CTL_MEMORY));
	need[PW_CTL_CPU] = req->cpu_limit > 0 && !(v2ctl & (1u << PW_CTL_CPU));
	need[PW_CTL_CPUACCT] = !(v2 && c->cpu_usage == PW_VIA_V2);
	need[PW_CTL_PIDS] = req->pids_limit > 0 && !(v2ctl & (1u << PW_CTL_PIDS));
	for (int i = 0; i < PW_CTL_COUNT; i++) {
		if (!need[i] || !c->v1_parent[i])
			continue;
		/* cpu and cpuacct mounted together: one directory serves both. */
		bool shared = false;
		for (int j = 0; j < i; j++)
			if (a->dir[1 + j] && c->v1_parent[j] &&
			    !strcmp(c->v1_parent[j], c->v1_parent[i])) {
				a->dir[1 + i] = pw_xstrdup(a->dir[1 + j]);
				shared = true;
			}
		if (!shared)
			a->dir[1 + i] = make_attempt_dir(c->v1_parent[i], req, 0, &e);
	}

	/* Limits, each by the best mechanism that works for this attempt. */
	char buf[64];
	a->memory = a->cpu = a->pids = PW_VIA_NONE;
	if (req->memory_limit > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, req->memory_limit);
		if ((v2ctl & (1u << PW_CTL_MEMORY)) &&
		    write_in(a->dir[0], "memory.max", buf) == 0) {
			a->memory = PW_VIA_V2;
			/* OOM at the limit rather than swapping; kill the whole group. */
			write_in(a->dir[0], "memory.swap.max", "0");
			write_in(a->dir[0], "memory.oom.group", "1");
		} else if (a->dir[1 + PW_CTL_MEMORY] &&
			   write_in(a->dir[1 + PW_CTL_MEMORY], "memory.limit_in_bytes", buf) == 0) {
			a->memory = PW_VIA_V1;
			write_in(a->dir[1 + PW_CTL_MEMORY], "memory.memsw.limit_in_bytes", buf);
		} else {
			a->memory = PW_VIA_RLIMIT;
			a->rl_as = req->memory_limit;
		}
	}
	if (req->cpu_limit > 0) {
		const long period = 100000;
		long quota = lround(req->cpu_limit * (double)period);
		if (quota < 1000)
			quota = 1000;
		snprintf(buf, sizeof(buf), "%ld %ld", quota, period);
		if ((v2ctl & (1u << PW_CTL_CPU)) && write_in(a->dir[0], "cpu.max", buf) == 0) {
			a->cpu = PW_VIA_V2;
		} else {
			const char *d = a->dir[1 + PW_CTL_CPU];
			snprintf(buf, sizeof(buf), "%ld", quota);
			char per[32];
			snprintf(per, sizeof(per), "%ld", period);
			if (d && write_in(d, "cpu.cfs_period_us", per) == 0 &&
			    write_in(d, "cpu.cfs_quota_us", buf) == 0) {
				a->cpu = PW_VIA_V1;
			} else if (req->timeout_ms > 0) {
				/* Only a total can be capped: cores x the timeout. */
				a->cpu = PW_VIA_RLIMIT;
				a->rl_cpu = (int64_t)ceil(req->cpu_limit * (double)req->timeout_ms /
							  1000.0);
				if (a->rl_cpu < 1)
					a->rl_cpu = 1;
			}
		}
	}
	if (req->pids_limit > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, req->pids_limit);
		if ((v2ctl & (1u << PW_CTL_PIDS)) && write_in(a->dir[0], "pids.max", buf) == 0)
			a->pids = PW_VIA_V2;
		else if (a->dir[1 + PW_CTL_PIDS] &&
			 write_in(a->dir[1 + PW_CTL_PIDS], "pids.max", buf) == 0)
			a->pids = PW_VIA_V1;
	}

	/* Measurements. */
	bool v2mem = v2ctl & (1u << PW_CTL_MEMORY);
	a->mem_usage = v2mem ? PW_VIA_V2 : a->dir[1 + PW_CTL_MEMORY] ? PW_VIA_V1 : PW_VIA_PROC;
	a->oom = v2mem ? PW_VIA_V2 : a->dir[1 + PW_CTL_MEMORY] ? PW_VIA_V1 : PW_VIA_NONE;
	a->cpu_usage = (v2 && c->cpu_usage == PW_VIA_V2) ? PW_VIA_V2
		       : a->dir[1 + PW_CTL_CPUACCT]	 ? PW_VIA_V1
							 : PW_VIA_PROC;
	a->kill = v2 ? PW_VIA_V2 : any_dir(a) ? PW_VIA_V1 : PW_VIA_PGROUP;

	wrap_add(a, shim_path());
	wrap_add(a, "__cgexec");
	for (int i = 0; i < NDIRS; i++) {
		bool dup = false;
		for (int j = 0; j < i; j++)
			dup |= a->dir[j] && a->dir[i] && !strcmp(a->dir[j], a->dir[i]);
		if (!a->dir[i] || dup)
			continue;
		char *procs = pw_xasprintf("%s/cgroup.procs", a->dir[i]);
		wrap_add(a, "--procs");
		wrap_add(a, procs);
		free(procs);
	}
	if (a->rl_as) {
		snprintf(buf, sizeof(buf), "%" PRId64, a->rl_as);
		wrap_add(a, "--rlimit-as");
		wrap_add(a, buf);
	}
	if (a->rl_cpu) {
		snprintf(buf, sizeof(buf), "%" PRId64, a->rl_cpu);
		wrap_add(a, "--rlimit-cpu");
		wrap_add(a, buf);
	}
	wrap_add(a, "--");

	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "{");
	const struct {
		const char *name;
		pw_limit_via via;
	} parts[] = {{"memory", a->memory},
		     {"cpu", a->cpu},
		     {"pids", a->pids},
		     {"memory_usage", a->mem_usage},
		     {"cpu_usage", a->cpu_usage},
		     {"oom", a->oom},
		     {"kill", a->kill}};
	for (size_t i = 0; i < PW_ARRAY_SIZE(parts); i++)
		pw_strbuf_addf(&sb, "%s\"%s\":\"%s\"", i ? "," : "", parts[i].name,
			       pw_limit_via_name(parts[i].via));
	pw_strbuf_adds(&sb, ",\"cgroups\":[");
	bool first = true;
	for (int i = 0; i < NDIRS; i++) {
		bool dup = false;
		for (int j = 0; j < i; j++)
			dup |= a->dir[j] && a->dir[i] && !strcmp(a->dir[j], a->dir[i]);
		if (!a->dir[i] || dup)
			continue;
		if (!first)
			pw_strbuf_addc(&sb, ',');
		pw_strbuf_add_json_str(&sb, a->dir[i]);
		first = false;
	}
	pw_strbuf_adds(&sb, "]}");
	a->describe = pw_strbuf_detach(&sb);
	*out = a;
	return 0;
}

char *const *pw_limits_wrapper(const pw_limits_attempt *a)
{
	return a->wrapper;
}

void pw_limits_started(pw_limits_attempt *a, pid_t pgid)
{
	a->pgid = pgid;
}

const char *pw_limits_describe(const pw_limits_attempt *a)
{
	return a->describe;
}

/* ---- sampling ---- */

/*
 * Without cgroups: the process group's members in /proc.  CPU time counts
 * each member's own and its waited-for children's (cutime, cstime); what
 * left the group (setsid) or was never waited for is not seen.
 */
static void proc_sample(pid_t pgid, int64_t *cpu_ns, int64_t *rss)
{
	*cpu_ns = 0;
	*rss = 0;
	DIR *d = opendir("/proc");
	if (!d) {
		*cpu_ns = *rss = -1;
		return;
	}
	long tck = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	struct dirent *de;
	char path[300], buf[1024];
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		char *p = strrchr(buf, ')');
		if (!p)
			continue;
		/* Fields from 3 (state) on; pgrp is 5, utime..cstime 14-17, rss 24. */
		long long v[25] = {0};
		int field = 3;
		for (char *tok = strtok(p + 1, " "); tok && field <= 24;
		     tok = strtok(NULL, " "), field++)
			v[field] = strtoll(tok, NULL, 10);
		if (v[5] != pgid)
			continue;
		*cpu_ns += (v[14] + v[15] + v[16] + v[17]) * (1000000000LL / (tck > 0 ? tck : 100));
		*rss += v[24] * page;
	}
	closedir(d);
}

void pw_limits_sample(pw_limits_attempt *a, pw_limits_usage *u)
{
	u->cpu_ns = u->mem_bytes = u->mem_peak = u->oom_kills = u->cpu_throttled_ns = -1;
	u->mem_failed = false;
	u->cpu_cgroup = a->cpu_usage == PW_VIA_V2 || a->cpu_usage == PW_VIA_V1;
	u->mem_cgroup = a->mem_usage == PW_VIA_V2 || a->mem_usage == PW_VIA_V1;
	int64_t pcpu = -1, prss = -1;
	if ((a->cpu_usage == PW_VIA_PROC || a->mem_usage == PW_VIA_PROC) && a->pgid > 0)
		proc_sample(a->pgid, &pcpu, &prss);

	if (a->cpu_usage == PW_VIA_V2) {
		int64_t us = read_key_in(a->dir[0], "cpu.stat", "usage_usec");
		u->cpu_ns = us >= 0 ? us * 1000 : -1;
	} else if (a->cpu_usage == PW_VIA_V1) {
		u->cpu_ns = read_num_in(a->dir[1 + PW_CTL_CPUACCT], "cpuacct.usage");
	} else {
		u->cpu_ns = pcpu;
	}

	if (a->mem_usage == PW_VIA_V2) {
		u->mem_bytes = read_num_in(a->dir[0], "memory.current");
		u->mem_peak = read_num_in(a->dir[0], "memory.peak"); /* Linux 5.19 */
	} else if (a->mem_usage == PW_VIA_V1) {
		const char *d = a->dir[1 + PW_CTL_MEMORY];
		u->mem_bytes = read_num_in(d, "memory.usage_in_bytes");
		u->mem_peak = read_num_in(d, "memory.max_usage_in_bytes");
		u->mem_failed = read_num_in(d, "memory.failcnt") > 0;
	} else {
		u->mem_bytes = prss;
	}
	if (u->mem_bytes > a->peak_seen)
		a->peak_seen = u->mem_bytes;
	if (u->mem_peak < a->peak_seen)
		u->mem_peak = a->peak_seen;
	if (u->mem_peak <= 0 && u->mem_bytes < 0)
		u->mem_peak = -1;

	if (a->cpu == PW_VIA_V2) {
		int64_t us = read_key_in(a->dir[0], "cpu.stat", "throttled_usec");
		u->cpu_throttled_ns = us >= 0 ? us * 1000 : -1;
	} else if (a->cpu == PW_VIA_V1) {
		u->cpu_throttled_ns =
		    read_key_in(a->dir[1 + PW_CTL_CPU], "cpu.stat", "throttled_time");
	}

	if (a->oom == PW_VIA_V2)
		u->oom_kills = read_key_in(a->dir[0], "memory.events", "oom_kill");
	else if (a->oom == PW_VIA_V1)
		u->oom_kills = read_key_in(a->dir[1 + PW_CTL_MEMORY], "memory.oom_control",
					   "oom_kill"); /* Linux 4.13 */
}

/* ---- kills and cleanup ---- */

bool pw_limits_empty(pw_limits_attempt *a)
{
	if (a->dir[0]) {
		int64_t pop = read_key_in(a->dir[0], "cgroup.events", "populated");
		if (pop >= 0)
			return pop == 0;
	}
	const char *d = any_dir(a);
	if (!d)
		return true;
	char buf[64], *p = pw_xasprintf("%s/cgroup.procs", d);
	ssize_t n = read_small(p, buf, sizeof(buf));
	free(p);
	return n <= 0;
}

/* Signal every pid listed in dir/cgroup.procs; returns how many there were. */
static int signal_procs(const char *dir, int sig)
{
	char *p = pw_xasprintf("%s/cgroup.procs", dir);
	FILE *f = fopen(p, "re");
	free(p);
	if (!f)
		return 0;
	int n = 0;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (pid > 0 && kill((pid_t)pid, sig) == 0)
			n++;
	}
	fclose(f);
	return n;
}

void pw_limits_signal(pw_limits_attempt *a, int sig)
{
	if (sig == SIGKILL && a->dir[0] && write_in(a->dir[0], "cgroup.kill", "1") == 0)
		return;
	const char *d = any_dir(a);
	if (!d)
		return;
	/* A process may fork between the read and the kill: go round a few times. */
	for (int round = 0; round < (sig == SIGKILL ? 4 : 1); round++)
		if (signal_procs(d, sig) == 0)
			break;
}

static void rmdir_run(const char *parent, const char *run_id)
{
	char *run = pw_xasprintf("%s/%s", parent, run_id);
	DIR *d = opendir(run);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			char *sub = pw_xasprintf("%s/%s", run, de->d_name);
			rmdir(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(run);
	free(run);
}

void pw_limits_end(pw_limits_attempt *a)
{
	if (!a)
		return;
	for (int i = 0; i < NDIRS; i++) {
		if (!a->dir[i])
			continue;
		rmdir(a->dir[i]); /* fails harmlessly for a shared (already removed) one */
		free(a->dir[i]);
	}
	for (size_t i = 0; i < a->nwrapper; i++)
		free(a->wrapper[i]);
	free(a->wrapper);
	free(a->describe);
	free(a);
}

void pw_limits_run_done(const char *run_id)
{
	if (!g_detected)
		return;
	const pw_limits_caps *c = &g_caps;
	const char *parents[1 + PW_CTL_COUNT] = {c->v2_parent};
	for (int i = 0; i < PW_CTL_COUNT; i++)
		parents[1 + i] = c->v1_parent[i];
	for (int i = 0; i < 1 + PW_CTL_COUNT; i++) {
		if (!parents[i])
			continue;
		if (run_id)
			rmdir_run(parents[i], run_id);
		/* Shared by concurrent runs: removed only when none is left. */
		rmdir(parents[i]);
	}
}
