#include <dirent.h>
#include <git2.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pitwall/provenance.h"
#include "pitwall/sha256.h"
#include "pitwall/util.h"

static bool path_dirty(git_repository *repo, const char *workdir, const char *path)
{
	char *abs = realpath(path, NULL);
	if (!abs)
		return false;
	size_t wl = strlen(workdir);
	bool dirty = false;
	if (strncmp(abs, workdir, wl) == 0) {
		unsigned int flags = 0;
		const char *rel = abs + wl;
		if (git_status_file(&flags, repo, rel) == 0)
			dirty = flags != GIT_STATUS_CURRENT && !(flags & GIT_STATUS_IGNORED);
		else
			dirty = true; /* not tracked at all */
	}
	free(abs);
	return dirty;
}

void pw_git_describe(const char *path, const char *const *extra, size_t nextra, pw_git_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->sha, sizeof(out->sha), "unknown");
	git_libgit2_init();
	char *abs = realpath(path, NULL);
	if (!abs)
		goto done;
	char *dir = pw_xstrdup(abs);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	git_repository *repo = NULL;
	if (git_repository_open_ext(&repo, dir, 0, NULL) != 0 || git_repository_is_bare(repo)) {
		free(dir);
		git_repository_free(repo);
		goto done;
	}
	free(dir);
	git_oid oid;
	if (git_reference_name_to_id(&oid, repo, "HEAD") == 0)
		git_oid_tostr(out->sha, sizeof(out->sha), &oid);
	const char *wd = git_repository_workdir(repo);
	if (wd) {
		out->workdir = pw_xstrdup(wd);
		pw_strbuf dirty = PW_STRBUF_INIT;
		if (path_dirty(repo, wd, abs))
			pw_strbuf_adds(&dirty, abs + strlen(wd));
		for (size_t i = 0; i < nextra; i++) {
			if (extra[i] && path_dirty(repo, wd, extra[i])) {
				if (dirty.len)
					pw_strbuf_addc(&dirty, ',');
				pw_strbuf_adds(&dirty, extra[i]);
			}
		}
		out->dirty = dirty.len > 0;
		out->dirty_paths = dirty.len ? pw_strbuf_detach(&dirty) : NULL;
		pw_strbuf_release(&dirty);
	}
	git_repository_free(repo);
done:
	free(abs);
	git_libgit2_shutdown();
}

void pw_git_info_release(pw_git_info *g)
{
	free(g->workdir);
	free(g->dirty_paths);
	memset(g, 0, sizeof(*g));
}

static void add_file(pw_file_digests *d, const char *base, const char *rel)
{
	char *full = pw_xasprintf("%s/%s", base, rel);
	char hex[65];
	int64_t size;
	if (pw_sha256_file(full, hex, &size) == 0) {
		for (size_t i = 0; i < d->n; i++)
			if (strcmp(d->v[i].path, rel) == 0)
				goto out;
		PW_GROW(d->v, d->cap, d->n + 1);
		pw_file_digest *f = &d->v[d->n++];
		f->path = pw_xstrdup(rel);
		f->size = size;
		memcpy(f->sha256, hex, sizeof(hex));
	}
out:
	free(full);
}

static void add_tree(pw_file_digests *d, const char *base, const char *rel, int depth)
{
	char *full = pw_xasprintf("%s/%s", base, rel);
	struct stat st;
	if (depth > 32 || lstat(full, &st) < 0) {
		free(full);
		return;
	}
	if (S_ISREG(st.st_mode)) {
		add_file(d, base, rel);
	} else if (S_ISDIR(st.st_mode)) {
		struct dirent **names = NULL;
		int n = scandir(full, &names, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			if (strcmp(nm, ".") && strcmp(nm, "..")) {
				char *child = pw_xasprintf("%s/%s", rel, nm);
				add_tree(d, base, child, depth + 1);
				free(child);
			}
			free(names[i]);
		}
		free(names);
	}
	free(full);
}

static int digest_cmp(const void *a, const void *b)
{
	return strcmp(((const pw_file_digest *)a)->path, ((const pw_file_digest *)b)->path);
}

void pw_digest_globs(const char *base, const char *const *globs, size_t nglobs,
		     pw_file_digests *out)
{
	memset(out, 0, sizeof(*out));
	size_t bl = strlen(base);
	for (size_t i = 0; i < nglobs; i++) {
		const char *g = globs[i];
		while (g[0] == '.' && g[1] == '/')
			g += 2;
		char *pattern = pw_xasprintf("%s/%s", base, g);
		size_t pl = strlen(pattern);
		while (pl > bl + 1 && pattern[pl - 1] == '/')
			pattern[--pl] = '\0';
		glob_t gl;
		if (glob(pattern, GLOB_NOSORT | GLOB_BRACE, NULL, &gl) == 0) {
			for (size_t k = 0; k < gl.gl_pathc; k++) {
				const char *m = gl.gl_pathv[k];
				if (strncmp(m, base, bl) == 0 && m[bl] == '/')
					add_tree(out, base, m + bl + 1, 0);
			}
			globfree(&gl);
		}
		free(pattern);
	}
	qsort(out->v, out->n, sizeof(*out->v), digest_cmp);
}

void pw_file_digests_release(pw_file_digests *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].path);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void pw_file_digests_json(const pw_file_digests *d, void *strbuf)
{
	pw_strbuf *sb = strbuf;
	pw_strbuf_addc(sb, '[');
	for (size_t i = 0; i < d->n; i++) {
		if (i)
			pw_strbuf_addc(sb, ',');
		pw_strbuf_adds(sb, "{\"path\":");
		pw_strbuf_add_json_str(sb, d->v[i].path);
		pw_strbuf_addf(sb, ",\"size\":%lld,\"sha256\":\"%s\"}", (long long)d->v[i].size,
			       d->v[i].sha256);
	}
	pw_strbuf_addc(sb, ']');
}
