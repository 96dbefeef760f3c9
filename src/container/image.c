/*
 * `pitwall image build`: an OCI image layout from a definition, with no
 * daemon and no network.
 *
 * The definition (containers/NAME/image.json, docs/containers.md) names the
 * files to copy; every ELF file among them brings the shared libraries
 * `ldd` resolves for it, the dynamic loader included, at the same paths.
 * A few files every image needs (/etc/passwd, /etc/group, nsswitch.conf,
 * the mount points a runtime uses) are added unless the definition brings
 * its own.  The result is one uncompressed layer written in sorted order by
 * tarw.c, so the digest depends on the files' contents and nothing else.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "pitwall/audit.h"
#include "pitwall/sha256.h"
#include "pitwall/util.h"

typedef enum { ENT_DIR, ENT_FILE, ENT_DATA } ent_kind;

typedef struct {
	char *path; /* inside the image, without the leading '/' */
	ent_kind kind;
	char *src;  /* ENT_FILE: the host file; ENT_DATA: the contents */
	char *what; /* where it came from, for messages */
	unsigned mode;
} ent;

typedef struct {
	ent *v;
	size_t n, cap;
	pw_strmap ix;
	char *deffile; /* for messages */
	char *libdirs; /* ':'-separated library directories outside the loader's defaults */
} entset;

static void entset_release(entset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].src);
		free(s->v[i].what);
	}
	free(s->v);
	pw_strmap_release(&s->ix);
	free(s->deffile);
	free(s->libdirs);
}

/* "/usr//bin/./x" -> "usr/bin/x"; NULL for "..", an empty or a relative path. */
static char *norm_path(const char *p)
{
	if (!p || p[0] != '/')
		return NULL;
	pw_strbuf sb = PW_STRBUF_INIT;
	const char *s = p;
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = s + strcspn(s, "/");
		size_t n = (size_t)(e - s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			pw_strbuf_release(&sb);
			return NULL;
		}
		if (n && !(n == 1 && s[0] == '.')) {
			if (sb.len)
				pw_strbuf_addc(&sb, '/');
			pw_strbuf_add(&sb, s, n);
		}
		s = e;
	}
	if (!sb.len) {
		pw_strbuf_release(&sb);
		return NULL;
	}
	return pw_strbuf_detach(&sb);
}

static ent *find(entset *s, const char *path)
{
	size_t i;
	return pw_strmap_get(&s->ix, path, &i) ? &s->v[i] : NULL;
}

static int add_raw(entset *s, const char *path, ent_kind kind, const char *src, unsigned mode,
		   const char *what, char *err, size_t errsize)
{
	ent *old = find(s, path);
	if (old) {
		if (old->kind == ENT_DIR && kind == ENT_DIR)
			return 0;
		if (old->kind == kind && strcmp(old->src, src) == 0)
			return 0;
		snprintf(err, errsize, "%s: error: two different files for /%s (%s and %s)",
			 s->deffile, path, old->what, what);
		return -1;
	}
	PW_GROW(s->v, s->cap, s->n + 1);
	ent *e = &s->v[s->n];
	e->path = pw_xstrdup(path);
	e->kind = kind;
	e->src = pw_xstrdup(src ? src : "");
	e->what = pw_xstrdup(what);
	e->mode = mode;
	/* The map keeps the key pointer: e->path never moves, only the array does. */
	pw_strmap_put(&s->ix, e->path, s->n);
	s->n++;
	return 0;
}

static int add_parents(entset *s, const char *path, const char *what, char *err, size_t errsize)
{
	char *p = pw_xstrdup(path);
	int rc = 0;
	for (char *q = strchr(p, '/'); q && rc == 0; q = strchr(q + 1, '/')) {
		*q = '\0';
		ent *old = find(s, p);
		if (old && old->kind != ENT_DIR) {
			snprintf(err, errsize, "%s: error: /%s is a file (%s) and a directory (%s)",
				 s->deffile, p, old->what, what);
			rc = -1;
		} else if (!old) {
			rc = add_raw(s, p, ENT_DIR, NULL, strcmp(p, "tmp") == 0 ? 01777 : 0755,
				     what, err, errsize);
		}
		*q = '/';
	}
	free(p);
	return rc;
}

static int add_ent(entset *s, const char *path, ent_kind kind, const char *src, unsigned mode,
		   const char *what, char *err, size_t errsize)
{
	if (add_parents(s, path, what, err, errsize) < 0)
		return -1;
	return add_raw(s, path, kind, src, mode, what, err, errsize);
}

static bool is_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	unsigned char m[4];
	bool elf = read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
	close(fd);
	return elf;
}

/* Directories the dynamic loader searches without an ld.so.cache (Debian, multiarch). */
static bool default_libdir(const char *dir)
{
	static const char *const dirs[] = {"/lib",
					   "/usr/lib",
					   "/lib64",
					   "/usr/lib64",
					   "/lib/x86_64-linux-gnu",
					   "/usr/lib/x86_64-linux-gnu",
					   "/lib/aarch64-linux-gnu",
					   "/usr/lib/aarch64-linux-gnu"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(dirs); i++)
		if (strcmp(dir, dirs[i]) == 0)
			return true;
	return false;
}

static int add_host_file(entset *s, const char *to, const char *src, const char *what, bool libs,
			 char *err, size_t errsize);

/*
 * The libraries ldd resolves for an ELF file, the loader included.  ldd
 * lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)",
 * "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)" (in the
 * kernel, skipped), "libfoo.so.1 => not found" (an error).
 */
static int add_libraries(entset *s, const char *src, const char *what, char *err, size_t errsize)
{
	char *argv[] = {"ldd", (char *)src, NULL};
	char *envp[] = {"LC_ALL=C", "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	pw_ctr_proc r;
	if (pw_ctr_run(argv, envp, 30000, &r, err, errsize) < 0)
		return -1;
	int rc = 0;
	if (!pw_ctr_proc_ok(&r)) {
		/* A static executable: nothing to add. */
		if (!strstr(r.out, "not a dynamic executable") && !strstr(r.out, "statically")) {
			snprintf(err, errsize, "%s: error: ldd %s failed: %.300s", s->deffile, src,
				 r.out);
			rc = -1;
		}
		pw_ctr_proc_release(&r);
		return rc;
	}
	char *save = NULL;
	for (char *line = strtok_r(r.out, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "=> not found")) {
			while (*line == ' ' || *line == '\t')
				line++;
			snprintf(err, errsize,
				 "%s: error: %s needs %.200s (install it, or add its directory to "
				 "/etc/ld.so.conf and run ldconfig)",
				 s->deffile, src, line);
			rc = -1;
			break;
		}
		char *arrow = strstr(line, "=> ");
		char *lib = arrow ? arrow + 3 : line;
		while (*lib == ' ' || *lib == '\t')
			lib++;
		if (*lib != '/')
			continue;
		char *end = lib + strcspn(lib, " \t");
		*end = '\0';
		char *libwhat = pw_xasprintf("%s (needed by %s)", lib, what);
		rc = add_host_file(s, lib, lib, libwhat, false, err, errsize);
		free(libwhat);
		char *dir = pw_xstrdup(lib);
		*strrchr(dir, '/') = '\0';
		if (rc == 0 && arrow && !default_libdir(dir) &&
		    !(s->libdirs && strstr(s->libdirs, dir))) {
			char *nd =
			    s->libdirs ? pw_xasprintf("%s:%s", s->libdirs, dir) : pw_xstrdup(dir);
			free(s->libdirs);
			s->libdirs = nd;
		}
		free(dir);
	}
	pw_ctr_proc_release(&r);
	return rc;
}

/*
 * One host file at `to` (absolute, in the image).  Symbolic links are
 * followed: the image holds the file itself at every name it is asked for,
 * which keeps the layer independent of how the host arranges its links.
 */
static int add_host_file(entset *s, const char *to, const char *src, const char *what, bool libs,
			 char *err, size_t errsize)
{
	char *path = norm_path(to);
	if (!path) {
		snprintf(err, errsize, "%s: error: '%s' is not an absolute path inside the image",
			 s->deffile, to);
		return -1;
	}
	int rc = 0;
	struct stat st;
	if (stat(src, &st) < 0) {
		snprintf(err, errsize, "%s: error: cannot read %s: %s", s->deffile, src,
			 strerror(errno));
		rc = -1;
	} else if (S_ISREG(st.st_mode)) {
		bool known = find(s, path) != NULL;
		unsigned mode = (st.st_mode & 0111) ? 0755 : 0644;
		char *real = realpath(src, NULL);
		rc = add_ent(s, path, ENT_FILE, real ? real : src, mode, what, err, errsize);
		free(real);
		/* ldd lists every library, transitively: the libraries themselves need no run. */
		if (rc == 0 && !known && libs && is_elf(src))
			rc = add_libraries(s, src, what, err, errsize);
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsize, "%s: error: %s is neither a file nor a directory",
			 s->deffile, src);
		rc = -1;
	}
	free(path);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A directory, recursively, in name order (for stable messages; the layer is sorted anyway). */
static int add_host_tree(entset *s, const char *to, const char *src, const char *what, int depth,
			 char *err, size_t errsize)
{
	if (depth > 32) {
		snprintf(err, errsize, "%s: error: %s is nested too deeply (a symlink loop?)",
			 s->deffile, src);
		return -1;
	}
	struct stat st;
	if (stat(src, &st) < 0) {
		snprintf(err, errsize, "%s: error: cannot read %s: %s", s->deffile, src,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return add_host_file(s, to, src, what, true, err, errsize);
	char *path = norm_path(to);
	if (!path) {
		snprintf(err, errsize, "%s: error: '%s' is not an absolute path inside the image",
			 s->deffile, to);
		return -1;
	}
	int rc = add_ent(s, path, ENT_DIR, NULL, 0755, what, err, errsize);
	free(path);
	size_t n = 0, cap = 0;
	char **names = NULL;
	DIR *d = rc == 0 ? opendir(src) : NULL;
	if (rc == 0 && !d) {
		snprintf(err, errsize, "%s: error: cannot list %s: %s", s->deffile, src,
			 strerror(errno));
		rc = -1;
	}
	for (struct dirent *de; d && (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		PW_GROW(names, cap, n + 1);
		names[n++] = pw_xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			char *cs = pw_xasprintf("%s/%s", src, names[i]);
			char *ct = pw_xasprintf("%s/%s", to, names[i]);
			struct stat cst;
			if (stat(cs, &cst) == 0 && (S_ISDIR(cst.st_mode) || S_ISREG(cst.st_mode)))
				rc = add_host_tree(s, ct, cs, what, depth + 1, err, errsize);
			free(cs);
			free(ct);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- the definition ---- */

typedef struct {
	json_t *root;
	const char *name, *tag, *workdir, *user, *description;
	json_t *files, *entrypoint, *cmd, *env, *labels;
} def;

static const char *const def_keys[] = {"name", "tag", "description", "files",  "entrypoint",
				       "cmd",  "env", "workdir",     "labels", "user"};

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 100)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return s[0] != '.' && s[0] != '-';
}

static bool str_array(json_t *v)
{
	if (!json_is_array(v))
		return false;
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) if (!json_is_string(x)) return false;
	return true;
}

static int def_load(def *d, const char *file, char *err, size_t errsize)
{
	memset(d, 0, sizeof(*d));
	json_error_t je;
	d->root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	if (!d->root) {
		if (access(file, F_OK) < 0)
			snprintf(err, errsize,
				 "%s: error: no image definition here\n  hint: a definition "
				 "directory holds image.json (see docs/containers.md)",
				 file);
		else
			snprintf(err, errsize, "%s:%d:%d: error: %s", file, je.line, je.column,
				 je.text);
		return -1;
	}
	if (!json_is_object(d->root)) {
		snprintf(err, errsize, "%s: error: expected a JSON object", file);
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach(d->root, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < PW_ARRAY_SIZE(def_keys); i++)
			known = known || strcmp(k, def_keys[i]) == 0;
		if (!known) {
			const char *dym = pw_did_you_mean(k, def_keys, PW_ARRAY_SIZE(def_keys));
			snprintf(err, errsize, "%s: error: unknown key '%s'%s%s%s", file, k,
				 dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
			return -1;
		}
	}
	d->name = json_string_value(json_object_get(d->root, "name"));
	if (!d->name || !valid_name(d->name)) {
		snprintf(err, errsize,
			 "%s: error: 'name' must be a short name of a-z, 0-9, '-', '_' and '.' "
			 "(e.g. \"f1-ingest\")",
			 file);
		return -1;
	}
	d->tag = json_string_value(json_object_get(d->root, "tag"));
	if (!d->tag)
		d->tag = "latest";
	d->workdir = json_string_value(json_object_get(d->root, "workdir"));
	if (!d->workdir)
		d->workdir = "/workspace";
	d->user = json_string_value(json_object_get(d->root, "user"));
	d->description = json_string_value(json_object_get(d->root, "description"));
	d->files = json_object_get(d->root, "files");
	d->entrypoint = json_object_get(d->root, "entrypoint");
	d->cmd = json_object_get(d->root, "cmd");
	d->env = json_object_get(d->root, "env");
	d->labels = json_object_get(d->root, "labels");
	if (!json_is_array(d->files) || json_array_size(d->files) == 0) {
		snprintf(err, errsize,
			 "%s: error: 'files' must be a list of {\"from\": ..., \"to\": ...}", file);
		return -1;
	}
	if ((d->entrypoint && !str_array(d->entrypoint)) || (d->cmd && !str_array(d->cmd))) {
		snprintf(err, errsize, "%s: error: 'entrypoint' and 'cmd' are lists of strings",
			 file);
		return -1;
	}
	if (d->env && !json_is_object(d->env)) {
		snprintf(err, errsize, "%s: error: 'env' is an object of strings", file);
		return -1;
	}
	if (d->labels && !json_is_object(d->labels)) {
		snprintf(err, errsize, "%s: error: 'labels' is an object of strings", file);
		return -1;
	}
	return 0;
}

/*
 * "build:bin/f1-ingest" -> <build dir>/bin/f1-ingest; "/etc/x" -> itself;
 * anything else is relative to the definition's directory.
 */
static char *resolve_from(const char *from, const char *def_dir, const char *build_dir)
{
	if (strncmp(from, "build:", 6) == 0)
		return pw_xasprintf("%s/%s", build_dir, from + 6);
	if (from[0] == '/')
		return pw_xstrdup(from);
	return pw_xasprintf("%s/%s", def_dir, from);
}

static int add_files(entset *s, const def *d, const char *def_dir, const char *build_dir, char *err,
		     size_t errsize)
{
	size_t i;
	json_t *f;
	json_array_foreach(d->files, i, f)
	{
		const char *from = json_string_value(json_object_get(f, "from"));
		const char *to = json_string_value(json_object_get(f, "to"));
		if (!json_is_object(f) || !from || (!to && from[0] != '/')) {
			snprintf(
			    err, errsize,
			    "%s: error: files[%zu]: give \"from\" (build:PATH, /host/path or a "
			    "path here) and \"to\" (an absolute path in the image)",
			    s->deffile, i);
			return -1;
		}
		char *src = resolve_from(from, def_dir, build_dir);
		if (access(src, F_OK) < 0) {
			if (strncmp(from, "build:", 6) == 0)
				snprintf(
				    err, errsize,
				    "%s: error: files[%zu]: %s not found\n  hint: build the "
				    "project first, or point --from-build at its build directory",
				    s->deffile, i, src);
			else
				snprintf(err, errsize, "%s: error: files[%zu]: %s not found",
					 s->deffile, i, src);
			free(src);
			return -1;
		}
		char *dest;
		if (!to)
			dest = pw_xstrdup(from);
		else if (to[0] && to[strlen(to) - 1] == '/')
			dest = pw_xasprintf("%s%s", to, strrchr(src, '/') + 1);
		else
			dest = pw_xstrdup(to);
		int rc = add_host_tree(s, dest, src, from, 0, err, errsize);
		free(src);
		free(dest);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int add_defaults(entset *s, char *err, size_t errsize)
{
	static const struct {
		const char *path;
		const char *data;
		unsigned mode;
	} files[] = {
	    {"etc/passwd",
	     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	     0644},
	    {"etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644},
	    {"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n", 0644},
	    {"etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0644},
	    {"etc/resolv.conf", "", 0644},
	};
	static const char *const dirs[] = {"dev", "proc", "sys", "tmp", "workspace", "root"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(files); i++)
		if (!find(s, files[i].path) &&
		    add_ent(s, files[i].path, ENT_DATA, files[i].data, files[i].mode,
			    "pitwall's defaults", err, errsize) < 0)
			return -1;
	for (size_t i = 0; i < PW_ARRAY_SIZE(dirs); i++)
		if (!find(s, dirs[i]) && add_ent(s, dirs[i], ENT_DIR, NULL,
						 strcmp(dirs[i], "tmp") == 0	? 01777
						 : strcmp(dirs[i], "root") == 0 ? 0700
										: 0755,
						 "pitwall's defaults", err, errsize) < 0)
			return -1;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const ent *)a)->path, ((const ent *)b)->path);
}

static int write_blob(const char *dir, const char *data, size_t len, char hex[65], char *err,
		      size_t errsize)
{
	pw_sha256_hex(data, len, hex);
	char *path = pw_xasprintf("%s/blobs/sha256/%s", dir, hex);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int write_text(const char *path, const char *text, char *err, size_t errsize)
{
	FILE *f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static const char *oci_arch(void)
{
	struct utsname u;
	if (uname(&u) == 0) {
		if (!strcmp(u.machine, "aarch64"))
			return "arm64";
		if (!strcmp(u.machine, "armv7l"))
			return "arm";
		if (!strcmp(u.machine, "ppc64le") || !strcmp(u.machine, "s390x") ||
		    !strcmp(u.machine, "riscv64"))
			return "other";
	}
	return "amd64";
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* The layer, then config, manifest, index.json and oci-layout, in dir. */
static int write_layout(const entset *s, const def *d, const char *dir, pw_image_info *out,
			char *err, size_t errsize)
{
	char *blobs = pw_xasprintf("%s/blobs/sha256", dir);
	int e = pw_mkdir_p(blobs, 0755);
	char *tmp = pw_xasprintf("%s/layer.tmp", blobs);
	free(blobs);
	if (e) {
		snprintf(err, errsize, "cannot create %s: %s", dir, strerror(-e));
		free(tmp);
		return -1;
	}
	pw_tarw w;
	if (pw_tarw_open(&w, tmp, err, errsize) < 0) {
		free(tmp);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		const ent *x = &s->v[i];
		if (x->kind == ENT_DIR)
			rc = pw_tarw_dir(&w, x->path, x->mode);
		else if (x->kind == ENT_DATA)
			rc = pw_tarw_data(&w, x->path, x->src, strlen(x->src), x->mode);
		else
			rc = pw_tarw_file(&w, x->path, x->src, x->mode);
	}
	char layer_hex[65];
	if (pw_tarw_close(&w, layer_hex, err, errsize) < 0) {
		free(tmp);
		return -1;
	}
	int64_t layer_size = 0;
	struct stat st;
	if (stat(tmp, &st) == 0)
		layer_size = st.st_size;
	char *lpath = pw_xasprintf("%s/blobs/sha256/%s", dir, layer_hex);
	rename(tmp, lpath);
	free(lpath);
	free(tmp);

	char *repo_tag = pw_xasprintf("pitwall/%s:%s", d->name, d->tag);
	json_t *cfg = json_object();
	json_t *env = json_array();
	bool has_path = false;
	if (d->env) {
		/* Sorted by name, as JSON_SORT_KEYS would, so the order never depends on the file.
		 */
		const char *k;
		json_t *v;
		size_t nk = json_object_size(d->env), ki = 0;
		const char **keys = pw_xcalloc(nk ? nk : 1, sizeof(*keys));
		json_object_foreach(d->env, k, v) keys[ki++] = k;
		qsort(keys, nk, sizeof(*keys), cmp_str);
		for (size_t i = 0; i < nk; i++) {
			const char *val = json_string_value(json_object_get(d->env, keys[i]));
			char *kv = pw_xasprintf("%s=%s", keys[i], val ? val : "");
			json_array_append_new(env, json_string(kv));
			free(kv);
			has_path = has_path || strcmp(keys[i], "PATH") == 0;
		}
		free(keys);
	}
	if (!has_path)
		json_array_insert_new(
		    env, 0,
		    json_string(
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	if (s->libdirs) {
		char *kv = pw_xasprintf("LD_LIBRARY_PATH=%s", s->libdirs);
		json_array_append_new(env, json_string(kv));
		free(kv);
	}
	json_object_set_new(cfg, "Env", env);
	if (d->entrypoint)
		json_object_set(cfg, "Entrypoint", d->entrypoint);
	if (d->cmd)
		json_object_set(cfg, "Cmd", d->cmd);
	json_object_set_new(cfg, "WorkingDir", json_string(d->workdir));
	if (d->user)
		json_object_set_new(cfg, "User", json_string(d->user));
	json_t *labels = d->labels ? json_deep_copy(d->labels) : json_object();
	json_object_set_new(labels, "org.opencontainers.image.title", json_string(repo_tag));
	if (d->description)
		json_object_set_new(labels, "org.opencontainers.image.description",
				    json_string(d->description));
	json_object_set_new(cfg, "Labels", labels);
	char *diff_id = pw_xasprintf("sha256:%s", layer_hex);
	char *history = pw_xasprintf("pitwall image build (%s)", d->name);
	json_t *config =
	    json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "architecture",
		      oci_arch(), "os", "linux", "created", "1970-01-01T00:00:00Z", "config", cfg,
		      "rootfs", "type", "layers", "diff_ids", diff_id, "history", "created",
		      "1970-01-01T00:00:00Z", "created_by", history);
	free(history);
	char *config_s = dump(config);
	char config_hex[65];
	rc = write_blob(dir, config_s, strlen(config_s), config_hex, err, errsize);

	char *cfg_digest = pw_xasprintf("sha256:%s", config_hex);
	json_t *manifest =
	    json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
		      "mediaType", "application/vnd.oci.image.manifest.v1+json", "config",
		      "mediaType", "application/vnd.oci.image.config.v1+json", "digest", cfg_digest,
		      "size", (json_int_t)strlen(config_s), "layers", "mediaType",
		      "application/vnd.oci.image.layer.v1.tar", "digest", diff_id, "size",
		      (json_int_t)layer_size);
	char *manifest_s = dump(manifest);
	char manifest_hex[65];
	if (rc == 0)
		rc = write_blob(dir, manifest_s, strlen(manifest_s), manifest_hex, err, errsize);
	if (rc == 0) {
		char *mdigest = pw_xasprintf("sha256:%s", manifest_hex);
		json_t *index =
		    json_pack("{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2,
			      "mediaType", "application/vnd.oci.image.index.v1+json", "manifests",
			      "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest",
			      mdigest, "size", (json_int_t)strlen(manifest_s), "annotations",
			      "org.opencontainers.image.ref.name", repo_tag);
		char *index_s = dump(index);
		char *p = pw_xasprintf("%s/index.json", dir);
		rc = write_text(p, index_s, err, errsize);
		free(p);
		free(index_s);
		p = pw_xasprintf("%s/oci-layout", dir);
		if (rc == 0)
			rc = write_text(p, "{\"imageLayoutVersion\":\"1.0.0\"}", err, errsize);
		free(p);
		snprintf(out->digest, sizeof(out->digest), "%s", mdigest);
		snprintf(out->config_digest, sizeof(out->config_digest), "%s", cfg_digest);
		out->name = pw_xstrdup(repo_tag);
		out->layer_size = layer_size;
		out->nfiles = s->n;
		free(mdigest);
	}
	free(cfg_digest);
	free(diff_id);
	free(repo_tag);
	free(config_s);
	free(manifest_s);
	return rc;
}

int pw_image_build(const pw_image_build_opts *o, pw_image_info *out, char *err, size_t errsize)
{
	memset(out, 0, sizeof(*out));
	char *def_dir = realpath(o->def_dir, NULL);
	if (!def_dir) {
		snprintf(err, errsize, "%s: error: %s", o->def_dir, strerror(errno));
		return -1;
	}
	entset s = {0};
	s.deffile = pw_xasprintf("%s/image.json", o->def_dir);
	def d;
	char *build_dir = NULL, *out_dir = NULL, *tmp_dir = NULL, *old_dir = NULL;
	int rc = def_load(&d, s.deffile, err, errsize);
	if (rc == 0) {
		const char *b = o->build_dir;
		if (!b)
			b = getenv("PW_BUILD_DIR");
		build_dir = pw_xstrdup(b && *b ? b : "build");
		rc = add_files(&s, &d, def_dir, build_dir, err, errsize);
	}
	if (rc == 0)
		rc = add_defaults(&s, err, errsize);
	if (rc == 0) {
		qsort(s.v, s.n, sizeof(*s.v), cmp_ent);
		if (o->out_dir) {
			out_dir = pw_xstrdup(o->out_dir);
		} else {
			char *state = pw_state_dir();
			out_dir = pw_xasprintf("%s/images/%s", state, d.name);
			free(state);
		}
		/*
		 * Build beside the destination and swap it in, so a reader never
		 * sees half a layout, and an older layout's blobs do not linger.
		 */
		tmp_dir = pw_xasprintf("%s.tmp.%d", out_dir, (int)getpid());
		old_dir = pw_xasprintf("%s.old.%d", out_dir, (int)getpid());
		pw_rm_rf(tmp_dir);
		char *parent = pw_xstrdup(out_dir);
		char *sl = strrchr(parent, '/');
		if (sl && sl != parent) {
			*sl = '\0';
			pw_mkdir_p(parent, 0755);
		}
		free(parent);
		rc = write_layout(&s, &d, tmp_dir, out, err, errsize);
	}
	if (rc == 0) {
		struct stat st;
		if (stat(out_dir, &st) == 0) {
			char *marker = pw_xasprintf("%s/oci-layout", out_dir);
			bool is_layout = access(marker, F_OK) == 0;
			free(marker);
			if (!is_layout) {
				snprintf(
				    err, errsize,
				    "%s exists and is not an OCI image layout; not replacing it",
				    out_dir);
				rc = -1;
			} else if (rename(out_dir, old_dir) < 0) {
				snprintf(err, errsize, "cannot replace %s: %s", out_dir,
					 strerror(errno));
				rc = -1;
			}
		}
		if (rc == 0 && rename(tmp_dir, out_dir) < 0) {
			snprintf(err, errsize, "cannot create %s: %s", out_dir, strerror(errno));
			rc = -1;
		}
		pw_rm_rf(old_dir);
	}
	if (tmp_dir)
		pw_rm_rf(tmp_dir);
	if (rc == 0) {
		out->dir = out_dir;
		out_dir = NULL;
		if (o->archive) {
			pw_layout l;
			rc = pw_layout_read(out->dir, &l, err, errsize);
			if (rc == 0) {
				rc = pw_layout_write_archive(&l, out->name, o->archive, err,
							     errsize);
				pw_layout_release(&l);
			}
		}
	}
	if (rc != 0)
		pw_image_info_release(out);
	json_decref(d.root);
	entset_release(&s);
	free(def_dir);
	free(build_dir);
	free(out_dir);
	free(tmp_dir);
	free(old_dir);
	return rc;
}

void pw_image_info_release(pw_image_info *info)
{
	free(info->name);
	free(info->dir);
	memset(info, 0, sizeof(*info));
}
