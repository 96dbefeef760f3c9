/*
 * Loading: bytes in (a buffer or a file), a checked pw_dag or diagnostics
 * out.  The stages are: encoding (UTF-8, no NUL), YAML tree (ytree.c),
 * conversion (parse.c), graph (validate.c).  A stage that fails stops the
 * ones after it only when their results would be noise: conversion
 * problems do not hide graph problems.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dag/dag_internal.h"

static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
	unsigned char b = p[0];
	size_t n;
	uint32_t cp;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF) {
		n = 2;
		cp = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		cp = b & 0x0F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		cp = b & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* The first NUL byte or invalid UTF-8 sequence, reported with its position. */
static bool check_encoding(pw_diags *diags, const char *path, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	int line = 1, col = 1;
	size_t i = 0;
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
		i = 3; /* a byte order mark takes no column */
	while (i < len) {
		if (p[i] == 0) {
			pw_diags_add(diags, PW_DIAG_ERROR, path, line, col,
				     "a DAG file is text; is this a binary file?",
				     "file contains a NUL byte at offset %zu", i);
			return false;
		}
		size_t n = utf8_seq_len(p + i, len - i);
		if (!n) {
			pw_diags_add(diags, PW_DIAG_ERROR, path, line, col,
				     "save the file as UTF-8",
				     "file is not valid UTF-8: byte 0x%02X at offset %zu", p[i], i);
			return false;
		}
		if (p[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += n;
	}
	return true;
}

static const char *abs_dir(pw_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? pw_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : pw_xstrdup(".");
	char *real = realpath(dir, NULL);
	const char *out;
	if (real) {
		out = pw_arena_strdup(a, real);
	} else if (dir[0] == '/') {
		out = pw_arena_strdup(a, dir);
	} else {
		char *cwd = getcwd(NULL, 0);
		out = pw_arena_sprintf(a, "%s/%s", cwd ? cwd : ".", dir);
		free(cwd);
	}
	free(real);
	free(dir);
	return out;
}

static pw_dag *dag_new(const char *path)
{
	pw_dag *dag = pw_xcalloc(1, sizeof(*dag));
	dag->path = pw_arena_strdup(&dag->arena, path);
	dag->dir = abs_dir(&dag->arena, path);
	dag->default_timeout_ms = -1;
	dag->default_retries = -1;
	dag->default_retry_delay_ms = -1;
	dag->retry_backoff = 2.0;
	dag->max_retry_delay_ms = 10 * 60 * 1000;
	dag->retry_jitter = 1.0;
	dag->max_active_tasks = 10;
	dag->catchup = PW_CATCHUP_LATEST;
	dag->catchup_window = 10;
	dag->max_active_runs = 1;
	dag->overlap = PW_OVERLAP_SKIP;
	dag->kill_grace_ms = 10 * 1000;
	return dag;
}

static bool too_large(pw_diags *diags, const char *path, size_t len)
{
	if (len <= PW_DAG_MAX_FILE_SIZE)
		return false;
	pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0, "split the DAG into smaller files",
		     "file is too large (%zu bytes; the limit is 1 GiB)", len);
	return true;
}

/* dag->text holds the file; parse, check, and hand the DAG over or free it. */
static int load_text(pw_dag **out, pw_dag *dag, pw_diags *diags, size_t errors_before)
{
	const char *path = dag->path;
	const char *buf = dag->text;
	size_t len = dag->text_len;
	pw_arena tmp = PW_ARENA_INIT;

	if (!len) {
		pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0,
			     "a DAG file needs at least dag_id and tasks", "file is empty");
		goto out;
	}
	if (!check_encoding(diags, path, buf, len))
		goto out;

	ynode *root;
	ytree_status st = pw_ytree_build(&root, path, buf, len, &dag->arena, &tmp, diags);
	if (st == YT_EMPTY)
		pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0,
			     "a DAG file needs at least dag_id and tasks",
			     "file has no content (only blank lines or comments)");
	if (st != YT_OK)
		goto out;
	pw_dag_convert(dag, root, &tmp, diags);
	/* The tree is not needed any more: give its memory back before the graph pass. */
	pw_arena_release(&tmp);
	pw_dag_check_graph(dag, path, diags, diags->nerrors > errors_before);

out:
	pw_arena_release(&tmp);
	pw_diags_sort(diags);
	if (diags->nerrors > errors_before) {
		pw_dag_free(dag);
		return -1;
	}
	*out = dag;
	return 0;
}

int pw_dag_load_buffer(pw_dag **out, const char *path, const char *buf, size_t len, pw_diags *diags)
{
	size_t errors_before = diags->nerrors;
	*out = NULL;
	if (!path)
		path = "<input>";
	if (too_large(diags, path, len)) {
		pw_diags_sort(diags);
		return -1;
	}
	pw_dag *dag = dag_new(path);
	dag->text = pw_arena_alloc(&dag->arena, len + 1);
	if (len)
		memcpy(dag->text, buf, len);
	dag->text[len] = '\0';
	dag->text_len = len;
	return load_text(out, dag, diags, errors_before);
}

/* Read up to cap bytes; returns the count, or -errno. */
static ssize_t read_full(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* Append the rest of fd to a malloc'd buffer; returns 0 or -errno. */
static int read_rest(int fd, char **buf, size_t *len, const char *path, pw_diags *diags)
{
	size_t cap = *len + 64 * 1024;
	*buf = pw_xrealloc(*buf, cap);
	for (;;) {
		if (*len == cap) {
			if (too_large(diags, path, *len))
				return -EFBIG;
			cap *= 2;
			*buf = pw_xrealloc(*buf, cap);
		}
		ssize_t n = read_full(fd, *buf + *len, cap - *len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

/*
 * A regular file is read straight into the DAG's arena: a second copy
 * would add the file's size to the peak memory of loading it.
 */
int pw_dag_load_file(pw_dag **out, const char *path, pw_diags *diags)
{
	size_t errors_before = diags->nerrors;
	*out = NULL;
	pw_dag *dag = NULL;
	char *extra = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int err = 0;
	if (fd < 0)
		err = errno;
	else if (fstat(fd, &sb) < 0)
		err = errno;
	else if (S_ISDIR(sb.st_mode))
		err = EISDIR;
	if (err)
		goto fail;
	if (S_ISREG(sb.st_mode) && too_large(diags, path, (size_t)sb.st_size))
		goto fail_reported;

	dag = dag_new(path);
	size_t size = S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 0;
	dag->text = pw_arena_alloc(&dag->arena, size + 1);
	ssize_t n = read_full(fd, dag->text, size);
	if (n < 0) {
		err = (int)-n;
		goto fail;
	}
	size_t len = (size_t)n;
	if (len == size) {
		/* A pipe, or a file that grew since fstat: read on. */
		size_t elen = 0;
		int rc = read_rest(fd, &extra, &elen, path, diags);
		if (rc == -EFBIG)
			goto fail_reported;
		if (rc < 0) {
			err = -rc;
			goto fail;
		}
		if (elen) {
			if (too_large(diags, path, len + elen))
				goto fail_reported;
			char *all = pw_arena_alloc(&dag->arena, len + elen + 1);
			memcpy(all, dag->text, len);
			memcpy(all + len, extra, elen);
			dag->text = all;
			len += elen;
		}
		free(extra);
		extra = NULL;
	}
	close(fd);
	dag->text[len] = '\0';
	dag->text_len = len;
	return load_text(out, dag, diags, errors_before);

fail:
	pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0, err == ENOENT ? "check the path" : NULL,
		     "cannot read the file: %s", strerror(err));
fail_reported:
	if (fd >= 0)
		close(fd);
	free(extra);
	pw_dag_free(dag);
	pw_diags_sort(diags);
	return -1;
}

void pw_dag_free(pw_dag *dag)
{
	if (!dag)
		return;
	pw_strmap_release(&dag->ids);
	pw_arena_release(&dag->arena);
	free(dag);
}

const pw_task *pw_dag_find(const pw_dag *dag, const char *task_id)
{
	size_t i;
	if (!dag || !task_id || !pw_strmap_get(&dag->ids, task_id, &i))
		return NULL;
	return &dag->tasks[i];
}
