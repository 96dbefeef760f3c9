/*
 * Reading OCI image layouts: index.json -> manifest -> config and layers,
 * every blob checked against its digest before it is trusted.  Unpacking
 * for an OCI runtime, and the one-file archive podman and docker load.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "pitwall/audit.h"
#include "pitwall/sha256.h"
#include "pitwall/util.h"

void pw_layout_release(pw_layout *l)
{
	free(l->dir);
	for (size_t i = 0; i < l->nlayers; i++) {
		free(l->layers[i]);
		free(l->layer_types[i]);
	}
	free(l->layers);
	free(l->layer_types);
	for (size_t i = 0; i < l->nenv; i++)
		free(l->env[i]);
	free(l->env);
	free(l->ref_name);
	memset(l, 0, sizeof(*l));
}

static bool hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* "sha256:<hex>" -> hex, or NULL for another algorithm or a malformed digest. */
static const char *digest_hex(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || !hex64(d + 7))
		return NULL;
	return d + 7;
}

/* A blob, read and checked against its digest. */
static json_t *load_blob(const char *dir, const char *hex, char *err, size_t errsize)
{
	char *path = pw_xasprintf("%s/blobs/sha256/%s", dir, hex);
	char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int e = pw_read_file(path, &text, &len);
	if (e) {
		snprintf(err, errsize, "%s: %s", path, strerror(-e));
		goto out;
	}
	char got[65];
	pw_sha256_hex(text, len, got);
	if (strcmp(got, hex) != 0) {
		snprintf(err, errsize, "%s: content does not match its digest (sha256:%s)", path,
			 got);
		goto out;
	}
	json_error_t je;
	j = json_loadb(text, len, 0, &je);
	if (!j)
		snprintf(err, errsize, "%s:%d:%d: %s", path, je.line, je.column, je.text);
out:
	free(path);
	free(text);
	return j;
}

int pw_layout_read(const char *dir, pw_layout *out, char *err, size_t errsize)
{
	memset(out, 0, sizeof(*out));
	char *ipath = pw_xasprintf("%s/index.json", dir);
	json_error_t je;
	json_t *index = json_load_file(ipath, 0, &je), *manifest = NULL, *config = NULL;
	int rc = -1;
	if (!index) {
		if (access(ipath, F_OK) < 0)
			snprintf(err, errsize, "%s is not an OCI image layout (no index.json)",
				 dir);
		else
			snprintf(err, errsize, "%s:%d:%d: %s", ipath, je.line, je.column, je.text);
		goto out;
	}
	json_t *mans = json_object_get(index, "manifests");
	json_t *m0 = json_array_get(mans, 0);
	const char *mhex = digest_hex(json_string_value(json_object_get(m0, "digest")));
	if (!mhex) {
		snprintf(err, errsize, "%s: no sha256 manifest in 'manifests'", ipath);
		goto out;
	}
	const char *ref = json_string_value(json_object_get(json_object_get(m0, "annotations"),
							    "org.opencontainers.image.ref.name"));
	out->ref_name = ref ? pw_xstrdup(ref) : NULL;
	manifest = load_blob(dir, mhex, err, errsize);
	if (!manifest)
		goto out;
	const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
	if (mt && strstr(mt, "index")) {
		snprintf(err, errsize,
			 "%s: the first entry is an image index (multi-platform); pitwall runs "
			 "single-platform layouts",
			 dir);
		goto out;
	}
	const char *chex = digest_hex(
	    json_string_value(json_object_get(json_object_get(manifest, "config"), "digest")));
	if (!chex) {
		snprintf(err, errsize, "%s: manifest sha256:%s has no config digest", dir, mhex);
		goto out;
	}
	config = load_blob(dir, chex, err, errsize);
	if (!config)
		goto out;
	json_t *layers = json_object_get(manifest, "layers");
	size_t i;
	json_t *x;
	out->layers = pw_xcalloc(json_array_size(layers) + 1, sizeof(char *));
	out->layer_types = pw_xcalloc(json_array_size(layers) + 1, sizeof(char *));
	json_array_foreach(layers, i, x)
	{
		const char *lh = digest_hex(json_string_value(json_object_get(x, "digest")));
		if (!lh) {
			snprintf(err, errsize, "%s: layer %zu has no sha256 digest", dir, i);
			goto out;
		}
		const char *lt = json_string_value(json_object_get(x, "mediaType"));
		out->layers[out->nlayers] = pw_xstrdup(lh);
		out->layer_types[out->nlayers++] = pw_xstrdup(lt ? lt : "");
	}
	json_t *env = json_object_get(json_object_get(config, "config"), "Env");
	out->env = pw_xcalloc(json_array_size(env) + 1, sizeof(char *));
	json_array_foreach(env, i, x) if (json_is_string(x)) out->env[out->nenv++] =
	    pw_xstrdup(json_string_value(x));
	out->dir = pw_xstrdup(dir);
	snprintf(out->manifest_hex, sizeof(out->manifest_hex), "%s", mhex);
	snprintf(out->config_hex, sizeof(out->config_hex), "%s", chex);
	rc = 0;
out:
	if (rc != 0)
		pw_layout_release(out);
	json_decref(index);
	json_decref(manifest);
	json_decref(config);
	free(ipath);
	return rc;
}

int pw_image_inspect(const char *layout_dir, pw_image_info *out, char *err, size_t errsize)
{
	memset(out, 0, sizeof(*out));
	pw_layout l;
	if (pw_layout_read(layout_dir, &l, err, errsize) < 0)
		return -1;
	snprintf(out->digest, sizeof(out->digest), "sha256:%s", l.manifest_hex);
	snprintf(out->config_digest, sizeof(out->config_digest), "sha256:%s", l.config_hex);
	out->name = l.ref_name ? pw_xstrdup(l.ref_name) : NULL;
	out->dir = pw_xstrdup(layout_dir);
	for (size_t i = 0; i < l.nlayers; i++) {
		char *p = pw_xasprintf("%s/blobs/sha256/%s", layout_dir, l.layers[i]);
		struct stat st;
		if (stat(p, &st) == 0)
			out->layer_size += st.st_size;
		free(p);
	}
	pw_layout_release(&l);
	return 0;
}

static bool is_layout(const char *dir)
{
	char *p = pw_xasprintf("%s/index.json", dir);
	bool ok = access(p, R_OK) == 0;
	free(p);
	return ok;
}

char *pw_image_find(const char *ref, const char *dag_dir)
{
	bool pathlike = ref[0] == '/' || ref[0] == '.' || strchr(ref, '/');
	if (pathlike) {
		char *cand[2] = {NULL, NULL};
		if (ref[0] == '/')
			cand[0] = pw_xstrdup(ref);
		else {
			if (dag_dir)
				cand[0] = pw_xasprintf("%s/%s", dag_dir, ref);
			cand[1] = pw_xstrdup(ref);
		}
		char *found = NULL;
		for (int i = 0; i < 2; i++) {
			if (!found && cand[i] && is_layout(cand[i]))
				found = realpath(cand[i], NULL);
			free(cand[i]);
		}
		if (found || ref[0] == '/' || ref[0] == '.')
			return found;
	}
	/* A name: NAME or NAME:TAG, looked up where `pitwall image build` puts layouts. */
	char *name = pw_xstrdup(ref);
	char *colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/'))
		*colon = '\0';
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char *found = NULL;
	char *state = pw_state_dir();
	pw_strbuf dirs = PW_STRBUF_INIT;
	pw_strbuf_addf(&dirs, "%s/images", state);
	const char *extra = getenv("PITWALL_IMAGE_PATH");
	if (extra && *extra)
		pw_strbuf_addf(&dirs, ":%s", extra);
	char *save = NULL;
	for (char *d = strtok_r(dirs.buf, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = pw_xasprintf("%s/%s", d, base);
		if (is_layout(p))
			found = realpath(p, NULL);
		free(p);
	}
	pw_strbuf_release(&dirs);
	free(state);
	free(name);
	return found;
}

/* ---- unpacking ---- */

/* "a/.wh.b": remove a/b; "a/.wh..wh..opq": empty a (entries of lower layers only). */
static void apply_whiteout(const char *dest, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t dirlen = (size_t)(base - path);
	if (strcmp(base, ".wh..wh..opq") == 0) {
		char *dir = pw_xasprintf("%s/%.*s", dest, (int)dirlen, path);
		DIR *d = opendir(dir);
		for (struct dirent *de; d && (de = readdir(d));) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *p = pw_xasprintf("%s/%s", dir, de->d_name);
			pw_rm_rf(p);
			free(p);
		}
		if (d)
			closedir(d);
		free(dir);
		return;
	}
	char *victim = pw_xasprintf("%s/%.*s%s", dest, (int)dirlen, path, base + 4);
	pw_rm_rf(victim);
	free(victim);
}

/* Entry names are relative: "./a", "/a" and "a" are the same; ".." anywhere is refused. */
static const char *clean_name(const char *name)
{
	while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
		name += name[0] == '/' ? 1 : 2;
	if (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
	    (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
		return NULL;
	return name;
}

static int unpack_layer(const char *blob, const char *dest, char *err, size_t errsize)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	struct archive *disk = archive_write_disk_new();
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_TIME;
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	archive_write_disk_set_options(disk, flags);
	int rc = 0;
	if (archive_read_open_filename(a, blob, 65536) != ARCHIVE_OK) {
		snprintf(err, errsize, "%s: %s", blob, archive_error_string(a));
		rc = -1;
	}
	struct archive_entry *e;
	while (rc == 0) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			snprintf(err, errsize, "%s: %s", blob, archive_error_string(a));
			rc = -1;
			break;
		}
		const char *name = clean_name(archive_entry_pathname(e));
		if (!name) {
			snprintf(err, errsize, "%s: refusing entry '%s'", blob,
				 archive_entry_pathname(e));
			rc = -1;
			break;
		}
		if (!*name || strcmp(name, ".") == 0)
			continue;
		const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
		if (strncmp(base, ".wh.", 4) == 0) {
			apply_whiteout(dest, name);
			continue;
		}
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFCHR || type == AE_IFBLK)
			continue; /* the runtime provides /dev */
		char *full = pw_xasprintf("%s/%s", dest, name);
		archive_entry_set_pathname(e, full);
		free(full);
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			const char *target = clean_name(hl);
			if (!target) {
				snprintf(err, errsize, "%s: refusing hard link to '%s'", blob, hl);
				rc = -1;
				break;
			}
			char *ft = pw_xasprintf("%s/%s", dest, target);
			archive_entry_set_hardlink(e, ft);
			free(ft);
		}
		r = archive_write_header(disk, e);
		if (r >= ARCHIVE_WARN && archive_entry_size(e) > 0) {
			const void *buf;
			size_t size;
			la_int64_t off;
			while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(disk, buf, size, off) < ARCHIVE_WARN)
					break;
			r = r == ARCHIVE_EOF ? ARCHIVE_OK : r;
		}
		if (r < ARCHIVE_WARN) {
			snprintf(err, errsize, "%s: %s: %s", blob, name,
				 archive_error_string(disk) ? archive_error_string(disk)
							    : archive_error_string(a));
			rc = -1;
		}
		if (rc == 0 && archive_write_finish_entry(disk) < ARCHIVE_WARN) {
			snprintf(err, errsize, "%s: %s: %s", blob, name,
				 archive_error_string(disk));
			rc = -1;
		}
	}
	archive_read_free(a);
	archive_write_free(disk);
	return rc;
}

int pw_layout_unpack(const pw_layout *l, const char *dest, char *err, size_t errsize)
{
	for (size_t i = 0; i < l->nlayers; i++) {
		char *blob = pw_xasprintf("%s/blobs/sha256/%s", l->dir, l->layers[i]);
		char hex[65];
		int e = pw_sha256_file(blob, hex, NULL);
		int rc = 0;
		if (e) {
			snprintf(err, errsize, "%s: %s", blob, strerror(-e));
			rc = -1;
		} else if (strcmp(hex, l->layers[i]) != 0) {
			snprintf(err, errsize, "%s: content does not match its digest (sha256:%s)",
				 blob, hex);
			rc = -1;
		}
		if (rc == 0)
			rc = unpack_layer(blob, dest, err, errsize);
		free(blob);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- the load archive ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pw_layout_write_archive(const pw_layout *l, const char *repo_tag, const char *path, char *err,
			    size_t errsize)
{
	/* docker load reads manifest.json; podman load takes either. */
	json_t *layers = json_array();
	for (size_t i = 0; i < l->nlayers; i++) {
		char *p = pw_xasprintf("blobs/sha256/%s", l->layers[i]);
		json_array_append_new(layers, json_string(p));
		free(p);
	}
	char *cfg = pw_xasprintf("blobs/sha256/%s", l->config_hex);
	json_t *tags = json_array();
	if (repo_tag)
		json_array_append_new(tags, json_string(repo_tag));
	json_t *dm =
	    json_pack("[{s:s, s:o, s:o}]", "Config", cfg, "RepoTags", tags, "Layers", layers);
	free(cfg);
	char *dm_s = json_dumps(dm, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(dm);

	/* The blobs, by name, then the small files: all sorted by path. */
	char *bdir = pw_xasprintf("%s/blobs/sha256", l->dir);
	DIR *d = opendir(bdir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (!hex64(de->d_name))
			continue;
		PW_GROW(names, cap, n + 1);
		names[n++] = pw_xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	pw_tarw w;
	int rc = pw_tarw_open(&w, path, err, errsize);
	if (rc == 0) {
		pw_tarw_dir(&w, "blobs", 0755);
		pw_tarw_dir(&w, "blobs/sha256", 0755);
		for (size_t i = 0; i < n; i++) {
			char *src = pw_xasprintf("%s/%s", bdir, names[i]);
			char *name = pw_xasprintf("blobs/sha256/%s", names[i]);
			pw_tarw_file(&w, name, src, 0644);
			free(src);
			free(name);
		}
		char *ipath = pw_xasprintf("%s/index.json", l->dir);
		pw_tarw_file(&w, "index.json", ipath, 0644);
		free(ipath);
		pw_tarw_data(&w, "manifest.json", dm_s, strlen(dm_s), 0644);
		const char *ol = "{\"imageLayoutVersion\":\"1.0.0\"}";
		pw_tarw_data(&w, "oci-layout", ol, strlen(ol), 0644);
		char hex[65];
		rc = pw_tarw_close(&w, hex, err, errsize);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(bdir);
	free(dm_s);
	return rc;
}
