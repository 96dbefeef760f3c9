/*
 * CSV as the Ergast dump and the pipeline's own files spell it: RFC 4180
 * quoting (a quoted field may hold commas, doubled quotes and newlines), an
 * unquoted \N is NULL, a quoted "\N" is the two characters. The whole file is
 * read into memory and every field is unescaped and NUL-terminated in place,
 * so a table is one buffer plus an array of pointers into it.
 */
#include "pwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Line and column (1-based, in bytes) of offset off. */
static void line_col(const char *data, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1;
	size_t start = 0;

	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*col = (unsigned)(off - start + 1);
}

static int read_file(const char *path, char **out, size_t *len, pwt_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap = 0, want = 65536;

	if (fd < 0)
		return pwt_err_set(err, errno == ENOENT ? PWT_EX_NOINPUT : PWT_EX_IOERR,
				   "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		want = (size_t)st.st_size + 2;
	for (;;) {
		pwt_grow((void **)&buf, &cap, n + want, 1);
		want = 65536;
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			free(buf);
			return pwt_err_set(err, PWT_EX_IOERR, "%s: read error: %s", path,
					   strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int pwt_csv_load(pwt_table *out, const char *path, unsigned flags, pwt_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (read_file(path, &data, &len, err) < 0)
		return -1;
	rc = pwt_csv_parse(out, path, data, len, flags, err);
	free(data);
	return rc;
}

struct parser {
	const char *path;
	char *buf;	  /* our copy, rewritten in place */
	const char *orig; /* the caller's bytes, for error positions */
	size_t len, pos;
	unsigned line;
	pwt_err *err;
};

static int perr(struct parser *p, size_t off, const char *fmt, const char *detail)
{
	unsigned line, col;

	line_col(p->orig, off, &line, &col);
	return pwt_err_set(p->err, PWT_EX_DATAERR, "%s:%u:%u: %s%s", p->path, line, col, fmt,
			   detail ? detail : "");
}

/* Parses one field at p->pos. Sets *field (NULL for \N) and *end to the
 * delimiter: ',' '\n' or '\0' (end of data). */
static int parse_field(struct parser *p, char **field, char *end)
{
	char *b = p->buf;
	size_t i = p->pos;

	if (i < p->len && b[i] == '"') {
		size_t start = i, w = i + 1;
		i++;
		for (;;) {
			if (i >= p->len)
				return perr(p, start, "unterminated quoted field (opened here)",
					    NULL);
			if (b[i] == '"') {
				if (i + 1 < p->len && b[i + 1] == '"') {
					b[w++] = '"';
					i += 2;
					continue;
				}
				i++;
				break;
			}
			if (b[i] == '\n')
				p->line++;
			b[w++] = b[i++];
		}
		if (i + 1 < p->len && b[i] == '\r' && b[i + 1] == '\n')
			i++;
		if (i < p->len && b[i] != ',' && b[i] != '\n')
			return perr(p, i, "unexpected character after closing quote", NULL);
		*end = i < p->len ? b[i] : '\0';
		b[w] = '\0';
		*field = b + start + 1;
		p->pos = i < p->len ? i + 1 : i;
		return 0;
	}
	size_t start = i;
	while (i < p->len && b[i] != ',' && b[i] != '\n') {
		if (b[i] == '"')
			return perr(p, i, "quote inside an unquoted field", NULL);
		i++;
	}
	size_t stop = i;
	if (stop > start && b[stop - 1] == '\r' && (i >= p->len || b[i] == '\n'))
		stop--;
	*end = i < p->len ? b[i] : '\0';
	b[stop] = '\0';
	p->pos = i < p->len ? i + 1 : i;
	if (stop - start == 2 && b[start] == '\\' && b[start + 1] == 'N')
		*field = NULL;
	else
		*field = b + start;
	return 0;
}

/* True when the record starting at pos is an empty line. */
static int blank_line(const struct parser *p)
{
	size_t i = p->pos;

	if (i < p->len && p->buf[i] == '\r')
		i++;
	return i >= p->len || p->buf[i] == '\n';
}

int pwt_csv_parse(pwt_table *out, const char *path, const char *data, size_t len, unsigned flags,
		  pwt_err *err)
{
	struct parser p = {path, NULL, data, len, 0, 1, err};
	pwt_table t = PWT_TABLE_INIT;
	char **row = NULL;
	size_t rowcap = 0, cellcap = 0, linecap = 0;
	size_t bad;

	if (pwt_utf8_check(data, len, &bad) < 0) {
		unsigned line, col;
		line_col(data, bad, &line, &col);
		if (data[bad] == '\0')
			return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u:%u: NUL byte in text", path,
					   line, col);
		return pwt_err_set(err, PWT_EX_DATAERR,
				   "%s:%u:%u: invalid UTF-8 (byte 0x%02x); the file must be UTF-8",
				   path, line, col, (unsigned char)data[bad]);
	}
	p.buf = pwt_xmalloc(len + 1);
	memcpy(p.buf, data, len);
	p.buf[len] = '\0';
	t.path = pwt_xstrdup(path);
	t.data = p.buf;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		p.pos = 3; /* a BOM is not part of the first column's name */

	int header_done = 0;
	while (p.pos < p.len) {
		size_t rec_start = p.pos;
		unsigned rec_line = p.line;
		size_t nf = 0;
		char end;

		if (blank_line(&p)) {
			while (p.pos < p.len && p.buf[p.pos] != '\n')
				p.pos++;
			p.pos++;
			p.line++;
			continue;
		}
		do {
			char *f = NULL;
			if (parse_field(&p, &f, &end) < 0)
				goto fail;
			PWT_PUSH(row, nf, rowcap, f);
		} while (end == ',');
		p.line++;
		if (!header_done) {
			for (size_t k = 0; k < nf; k++)
				if (!row[k] || !row[k][0]) {
					perr(&p, rec_start,
					     "empty or \\N column name in the header", NULL);
					goto fail;
				}
			t.ncols = nf;
			t.header = pwt_xmalloc(nf * sizeof(char *));
			memcpy(t.header, row, nf * sizeof(char *));
			header_done = 1;
			continue;
		}
		if (nf != t.ncols) {
			if (nf > t.ncols || !(flags & PWT_CSV_PAD_SHORT)) {
				char detail[96];
				snprintf(detail, sizeof(detail), ": expected %zu fields, got %zu",
					 t.ncols, nf);
				perr(&p, rec_start, "wrong number of fields", detail);
				goto fail;
			}
			t.padded++;
			while (nf < t.ncols)
				PWT_PUSH(row, nf, rowcap, NULL);
		}
		pwt_grow((void **)&t.cells, &cellcap, (t.nrows + 1) * t.ncols, sizeof(char *));
		memcpy(t.cells + t.nrows * t.ncols, row, t.ncols * sizeof(char *));
		PWT_PUSH(t.lines, t.nrows, linecap, rec_line);
	}
	if (!header_done) {
		pwt_err_set(err, PWT_EX_DATAERR, "%s:1:1: empty file (no header row)", path);
		goto fail;
	}
	free(row);
	*out = t;
	return 0;
fail:
	free(row);
	pwt_table_release(&t);
	return -1;
}

void pwt_table_release(pwt_table *t)
{
	free(t->path);
	free(t->data);
	free(t->header);
	free(t->cells);
	free(t->lines);
	memset(t, 0, sizeof(*t));
}

int pwt_col(const pwt_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->header[i], name) == 0)
			return (int)i;
	return -1;
}

int pwt_cols(const pwt_table *t, const char *const *names, int *idx, size_t n, pwt_err *err)
{
	for (size_t i = 0; i < n; i++) {
		idx[i] = pwt_col(t, names[i]);
		if (idx[i] < 0)
			return pwt_err_set(err, PWT_EX_DATAERR,
					   "%s:1: missing column '%s' in the header", t->path,
					   names[i]);
	}
	return 0;
}

static int cell_bad(const pwt_table *t, size_t row, int col, const char *what, const char *v,
		    pwt_err *err)
{
	return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: column '%s': expected %s, got '%.60s'",
			   t->path, t->lines[row], t->header[col], what, v);
}

int pwt_cell_long(const pwt_table *t, size_t row, int col, long *out, pwt_err *err)
{
	const char *v = pwt_cell(t, row, col);

	if (!v || !*v)
		return 0;
	if (pwt_parse_long(v, out) < 0)
		return cell_bad(t, row, col, "an integer", v, err);
	return 1;
}

int pwt_cell_double(const pwt_table *t, size_t row, int col, double *out, pwt_err *err)
{
	const char *v = pwt_cell(t, row, col);

	if (!v || !*v)
		return 0;
	if (pwt_parse_double(v, out) < 0)
		return cell_bad(t, row, col, "a number", v, err);
	return 1;
}

int pwt_cell_ms(const pwt_table *t, size_t row, int col, long *out, pwt_err *err)
{
	const char *v = pwt_cell(t, row, col);

	if (!v || !*v)
		return 0;
	if (pwt_parse_duration_ms(v, out) < 0)
		return cell_bad(t, row, col, "a duration (ss.mmm or m:ss.mmm)", v, err);
	return 1;
}

int pwt_cell_date(const pwt_table *t, size_t row, int col, long *out, pwt_err *err)
{
	const char *v = pwt_cell(t, row, col);

	if (!v || !*v)
		return 0;
	if (pwt_parse_date(v, out) < 0)
		return cell_bad(t, row, col, "a date (YYYY-MM-DD)", v, err);
	return 1;
}

int pwt_req_long(const pwt_table *t, size_t row, int col, long *out, pwt_err *err)
{
	int rc = pwt_cell_long(t, row, col, out, err);

	if (rc == 0)
		return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: column '%s' is missing (\\N)",
				   t->path, t->lines[row], t->header[col]);
	return rc;
}

int pwt_req_str(const pwt_table *t, size_t row, int col, const char **out, pwt_err *err)
{
	const char *v = pwt_cell(t, row, col);

	if (!v || !*v)
		return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: column '%s' is missing (\\N)",
				   t->path, t->lines[row], t->header[col]);
	*out = v;
	return 1;
}

/* ---- output files ---------------------------------------------------------- */

int pwt_out_open(pwt_out *o, const char *path, pwt_err *err)
{
	char *dir = pwt_dirname(path);
	int rc = pwt_mkdirs(dir, err);

	free(dir);
	if (rc < 0)
		return -1;
	o->path = pwt_xstrdup(path);
	o->tmp = pwt_xasprintf("%s.tmp", path);
	o->f = fopen(o->tmp, "w");
	if (!o->f) {
		int e = errno;
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return pwt_err_set(err, PWT_EX_CANTCREAT, "%s: cannot create: %s", path,
				   strerror(e));
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 16);
	return 0;
}

int pwt_out_commit(pwt_out *o, pwt_err *err)
{
	int rc = 0;

	if (ferror(o->f) || fclose(o->f) != 0) {
		rc = pwt_err_set(err, PWT_EX_IOERR, "%s: write error: %s", o->tmp, strerror(errno));
		unlink(o->tmp);
	} else if (rename(o->tmp, o->path) < 0) {
		rc = pwt_err_set(err, PWT_EX_IOERR, "%s: cannot rename into place: %s", o->path,
				 strerror(errno));
		unlink(o->tmp);
	}
	o->f = NULL;
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
	return rc;
}

void pwt_out_abort(pwt_out *o)
{
	if (o->f) {
		fclose(o->f);
		unlink(o->tmp);
	}
	o->f = NULL;
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
}

/* ---- CSV writing ------------------------------------------------------------ */

void pwt_csv_put_field(FILE *f, const char *s)
{
	if (!s) {
		fputs("\\N", f);
		return;
	}
	if (!strpbrk(s, ",\"\r\n") && strcmp(s, "\\N") != 0) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int pwt_csvw_open(pwt_csvw *w, const char *path, const char *const *header, size_t ncols,
		  pwt_err *err)
{
	memset(w, 0, sizeof(*w));
	if (pwt_out_open(&w->out, path, err) < 0)
		return -1;
	w->ncols = ncols;
	for (size_t i = 0; i < ncols; i++)
		pwt_csvw_str(w, header[i]);
	pwt_csvw_end_row(w);
	w->rows = 0;
	return 0;
}

static void sep(pwt_csvw *w)
{
	if (w->col++)
		fputc(',', w->out.f);
}

void pwt_csvw_str(pwt_csvw *w, const char *s)
{
	sep(w);
	pwt_csv_put_field(w->out.f, s);
}

void pwt_csvw_long(pwt_csvw *w, long v)
{
	sep(w);
	fprintf(w->out.f, "%ld", v);
}

void pwt_csvw_fixed(pwt_csvw *w, double v, int decimals)
{
	char buf[64];

	sep(w);
	if (v != v) {
		fputs("\\N", w->out.f);
		return;
	}
	fputs(pwt_fmt_fixed(buf, sizeof(buf), v, decimals), w->out.f);
}

void pwt_csvw_null(pwt_csvw *w)
{
	sep(w);
	fputs("\\N", w->out.f);
}

void pwt_csvw_end_row(pwt_csvw *w)
{
	if (w->col != w->ncols) {
		fprintf(stderr, "%s: internal error: %s: row with %zu fields, header has %zu\n",
			pwt_progname(), w->out.path, w->col, w->ncols);
		abort();
	}
	fputc('\n', w->out.f);
	w->col = 0;
	w->rows++;
}

int pwt_csvw_commit(pwt_csvw *w, pwt_err *err)
{
	return pwt_out_commit(&w->out, err);
}

void pwt_csvw_abort(pwt_csvw *w)
{
	pwt_out_abort(&w->out);
}
