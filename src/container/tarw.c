/*
 * Deterministic tar output through libarchive.  Everything that could
 * differ between two builds of the same files is fixed: owner 0:0 without
 * names, mtime 0, no atime/ctime, modes reduced to 0755 / 0644 (and 01777
 * for sticky directories), the order of the caller, no compression (so a
 * layer's digest is also its diff_id).  libarchive's pax writer names its
 * extended headers "PaxHeader/..." without a pid, so even long paths are
 * stable.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "pitwall/sha256.h"
#include "pitwall/util.h"

static la_ssize_t tarw_write_cb(struct archive *a, void *payload, const void *buf, size_t n)
{
	pw_tarw *w = payload;
	const char *p = buf;
	size_t left = n;
	while (left) {
		ssize_t k = write(w->fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			archive_set_error(a, errno ? errno : EIO, "write %s: %s", w->path,
					  strerror(errno ? errno : EIO));
			return -1;
		}
		p += k;
		left -= (size_t)k;
	}
	pw_sha256_update(w->sha, buf, n);
	w->size += (int64_t)n;
	return (la_ssize_t)n;
}

int pw_tarw_open(pw_tarw *w, const char *path, char *err, size_t errsize)
{
	memset(w, 0, sizeof(*w));
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		snprintf(err, errsize, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	w->path = pw_xstrdup(path);
	w->sha = pw_xmalloc(sizeof(pw_sha256));
	pw_sha256_init(w->sha);
	w->a = archive_write_new();
	archive_write_set_format_pax_restricted(w->a);
	archive_write_add_filter_none(w->a);
	if (archive_write_open2(w->a, w, NULL, tarw_write_cb, NULL, NULL) != ARCHIVE_OK) {
		snprintf(err, errsize, "%s: %s", path, archive_error_string(w->a));
		pw_tarw_abort(w);
		return -1;
	}
	return 0;
}

static struct archive_entry *new_entry(const char *name, mode_t type, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	return e;
}

static int put_header(pw_tarw *w, struct archive_entry *e)
{
	int rc = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (rc != ARCHIVE_OK) {
		if (!w->err[0])
			snprintf(w->err, sizeof(w->err), "%s: %s", w->path,
				 archive_error_string(w->a));
		return -1;
	}
	return 0;
}

int pw_tarw_dir(pw_tarw *w, const char *name, unsigned mode)
{
	return put_header(w, new_entry(name, AE_IFDIR, mode));
}

int pw_tarw_symlink(pw_tarw *w, const char *name, const char *target)
{
	struct archive_entry *e = new_entry(name, AE_IFLNK, 0777);
	archive_entry_set_symlink(e, target);
	return put_header(w, e);
}

int pw_tarw_data(pw_tarw *w, const char *name, const void *data, size_t len, unsigned mode)
{
	struct archive_entry *e = new_entry(name, AE_IFREG, mode);
	archive_entry_set_size(e, (la_int64_t)len);
	if (put_header(w, e) < 0)
		return -1;
	if (len && archive_write_data(w->a, data, len) != (la_ssize_t)len) {
		snprintf(w->err, sizeof(w->err), "%s: %s", w->path, archive_error_string(w->a));
		return -1;
	}
	return 0;
}

int pw_tarw_file(pw_tarw *w, const char *name, const char *src, unsigned mode)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(w->err, sizeof(w->err), "cannot read %s: %s", src, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct archive_entry *e = new_entry(name, AE_IFREG, mode);
	archive_entry_set_size(e, (la_int64_t)st.st_size);
	if (put_header(w, e) < 0) {
		close(fd);
		return -1;
	}
	char buf[65536];
	int64_t left = st.st_size;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < (int64_t)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank while we read it: the header already promised its size.
			 */
			snprintf(w->err, sizeof(w->err), "%s changed while being read", src);
			close(fd);
			return -1;
		}
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			snprintf(w->err, sizeof(w->err), "%s: %s", w->path,
				 archive_error_string(w->a));
			close(fd);
			return -1;
		}
		left -= n;
	}
	close(fd);
	return 0;
}

static void tarw_free(pw_tarw *w)
{
	if (w->a)
		archive_write_free(w->a);
	w->a = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->sha);
	w->sha = NULL;
}

int pw_tarw_close(pw_tarw *w, char hex[65], char *err, size_t errsize)
{
	if (w->err[0]) {
		snprintf(err, errsize, "%s", w->err);
		pw_tarw_abort(w);
		return -1;
	}
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		snprintf(err, errsize, "%s: %s", w->path, archive_error_string(w->a));
		pw_tarw_abort(w);
		return -1;
	}
	uint8_t d[32];
	pw_sha256_final(w->sha, d);
	pw_sha256_to_hex(d, hex);
	int rc = 0;
	if (fsync(w->fd) < 0 && errno != EINVAL) {
		snprintf(err, errsize, "%s: %s", w->path, strerror(errno));
		rc = -1;
	}
	tarw_free(w);
	free(w->path);
	w->path = NULL;
	return rc;
}

void pw_tarw_abort(pw_tarw *w)
{
	tarw_free(w);
	if (w->path)
		unlink(w->path);
	free(w->path);
	w->path = NULL;
}
