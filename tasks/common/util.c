#include "pwt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *progname = "f1-task";
static int quiet;

int pwt_err_set(pwt_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void pwt_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *pwt_progname(void)
{
	return progname;
}

void pwt_set_quiet(int q)
{
	quiet = q;
}

void pwt_progress(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void pwt_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: warning: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void pwt_die_err(const pwt_err *err)
{
	fprintf(stderr, "%s: error: %s\n", progname, err->msg[0] ? err->msg : "unknown error");
	exit(err->code ? err->code : PWT_EX_SOFTWARE);
}

void pwt_die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: error: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void pwt_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", progname);
	exit(PWT_EX_USAGE);
}

static void oom(void)
{
	fprintf(stderr, "%s: error: out of memory\n", progname);
	exit(PWT_EX_OSERR);
}

void *pwt_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *pwt_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *pwt_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *pwt_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		oom();
	return d;
}

char *pwt_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return s;
}

void pwt_grow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;

	if (need <= *cap)
		return;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	*p = pwt_xrealloc(*p, ncap * sz);
	*cap = ncap;
}

void pwt_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

int pwt_mkdirs(const char *path, pwt_err *err)
{
	char *p = pwt_xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			rc = pwt_err_set(err, PWT_EX_CANTCREAT, "%s: cannot create directory: %s",
					 p, strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

char *pwt_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return pwt_xstrdup(".");
	if (slash == path)
		return pwt_xstrdup("/");
	return strndup(path, (size_t)(slash - path));
}

char *pwt_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (n && dir[n - 1] == '/')
		return pwt_xasprintf("%s%s", dir, name);
	return pwt_xasprintf("%s/%s", dir, name);
}

/* ---- parsing ------------------------------------------------------------ */

int pwt_parse_long(const char *s, long *out)
{
	const char *p = s;
	long v = 0;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';
		if (v > (LONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

int pwt_parse_double(const char *s, double *out)
{
	const char *p = s;
	int digits = 0;
	char *end;

	/* strtod alone would take "inf", "0x1p3" and leading spaces. */
	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits || *p)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !isfinite(*out))
		return -1;
	return 0;
}

/* Reads up to maxd digits (at least one) as an integer; NULL when none. */
static const char *read_uint(const char *p, int maxd, long *out)
{
	long v = 0;
	int n = 0;

	while (*p >= '0' && *p <= '9' && n < maxd) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (!n)
		return NULL;
	*out = v;
	return p;
}

int pwt_parse_duration_ms(const char *s, long *out)
{
	long parts[3], frac = 0;
	int nparts = 0;
	const char *p = s;

	for (;;) {
		if (nparts == 3)
			return -1;
		p = read_uint(p, 9, &parts[nparts]);
		if (!p)
			return -1;
		nparts++;
		if (*p != ':')
			break;
		p++;
	}
	if (*p == '.') {
		int nd = 0;
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++, nd++) {
			if (nd < 3)
				frac = frac * 10 + (*p - '0');
			else if (nd == 3 && *p >= '5')
				frac++; /* half up on the first dropped digit */
		}
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (*p)
		return -1;
	/* Every part but the first is a sexagesimal digit pair. */
	for (int i = 1; i < nparts; i++)
		if (parts[i] >= 60)
			return -1;
	long secs = 0;
	for (int i = 0; i < nparts; i++)
		secs = secs * 60 + parts[i];
	*out = secs * 1000 + frac;
	return 0;
}

int pwt_parse_date(const char *s, long *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long y, m, d;
	const char *p;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	p = read_uint(s, 4, &y);
	if (p != s + 4 || !(p = read_uint(s + 5, 2, &m)) || p != s + 7 ||
	    !(p = read_uint(s + 8, 2, &d)) || p != s + 10)
		return -1;
	if (m < 1 || m > 12 || d < 1)
		return -1;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] + (m == 2 && leap))
		return -1;
	*out = y * 10000 + m * 100 + d;
	return 0;
}

int pwt_utf8_check(const char *str, size_t n, size_t *bad_off)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned cp, min;

		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		if (c == 0)
			goto bad;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (i + len > n)
			goto bad;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad; /* report the sequence's first byte */
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += len;
	}
	return 0;
bad:
	*bad_off = i;
	return -1;
}

/* ASCII spellings of U+00C0..U+00FF ("" drops the character). */
static const char *const latin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",	 "i",
    "d", "n", "o", "o", "o", "o", "o",	"",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",	 "i",
    "d", "n", "o", "o", "o", "o", "o",	"",  "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Latin Extended-A, U+0100..U+017F, as ranges of one base letter. */
static const struct {
	unsigned lo, hi;
	const char *s;
} latin_ext[] = {
    {0x100, 0x105, "a"}, {0x106, 0x10d, "c"},  {0x10e, 0x111, "d"}, {0x112, 0x11b, "e"},
    {0x11c, 0x123, "g"}, {0x124, 0x127, "h"},  {0x128, 0x131, "i"}, {0x132, 0x133, "ij"},
    {0x134, 0x135, "j"}, {0x136, 0x138, "k"},  {0x139, 0x142, "l"}, {0x143, 0x14b, "n"},
    {0x14c, 0x151, "o"}, {0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15a, 0x161, "s"},
    {0x162, 0x167, "t"}, {0x168, 0x173, "u"},  {0x174, 0x175, "w"}, {0x176, 0x178, "y"},
    {0x179, 0x17e, "z"}, {0x17f, 0x17f, "s"},
};

char *pwt_fold_alnum(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), o = 0;
	char *out = pwt_xmalloc(2 * n + 1);

	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c >= 'A' && c <= 'Z')
				out[o++] = (char)(c - 'A' + 'a');
			else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
				out[o++] = (char)c;
			i++;
			continue;
		}
		unsigned cp = 0;
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (i + len > n)
			break;
		cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
		for (size_t k = 1; k < len; k++)
			cp = (cp << 6) | (s[i + k] & 0x3f);
		i += len;
		const char *rep = "";
		if (cp >= 0xc0 && cp <= 0xff) {
			rep = latin1[cp - 0xc0];
		} else {
			for (size_t k = 0; k < sizeof(latin_ext) / sizeof(latin_ext[0]); k++)
				if (cp >= latin_ext[k].lo && cp <= latin_ext[k].hi)
					rep = latin_ext[k].s;
		}
		for (; *rep; rep++)
			out[o++] = *rep;
	}
	out[o] = '\0';
	return out;
}

char *pwt_fmt_fixed(char *buf, size_t n, double v, int decimals)
{
	snprintf(buf, n, "%.*f", decimals, v);
	if (buf[0] == '-') {
		int zero = 1;
		for (const char *p = buf + 1; *p; p++)
			if (*p != '0' && *p != '.')
				zero = 0;
		if (zero)
			memmove(buf, buf + 1, strlen(buf));
	}
	return buf;
}

/* ---- map ------------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static size_t map_slot(const pwt_map *m, const char *key)
{
	size_t mask = m->cap - 1, i = (size_t)hash_str(key) & mask;

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & mask;
	return i;
}

int pwt_map_get(const pwt_map *m, const char *key, size_t *val)
{
	if (!m->cap)
		return 0;
	size_t i = map_slot(m, key);
	if (!m->keys[i])
		return 0;
	*val = m->vals[i];
	return 1;
}

size_t *pwt_map_ref(const pwt_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = map_slot(m, key);
	return m->keys[i] ? &m->vals[i] : NULL;
}

int pwt_map_put(pwt_map *m, const char *key, size_t val, size_t *old)
{
	if ((m->n + 1) * 2 > m->cap) {
		pwt_map bigger = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
		bigger.keys = pwt_xcalloc(bigger.cap, sizeof(char *));
		bigger.vals = pwt_xcalloc(bigger.cap, sizeof(size_t));
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t j = map_slot(&bigger, m->keys[i]);
			bigger.keys[j] = m->keys[i];
			bigger.vals[j] = m->vals[i];
			bigger.n++;
		}
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	size_t i = map_slot(m, key);
	if (m->keys[i]) {
		if (old)
			*old = m->vals[i];
		return 0;
	}
	m->keys[i] = pwt_xstrdup(key);
	m->vals[i] = val;
	m->n++;
	return 1;
}

void pwt_map_release(pwt_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

/* ---- split boundaries -------------------------------------------------------- */

char *pwt_fmt_date(char *buf, long ymd)
{
	unsigned long v = ymd < 0 ? 0 : (unsigned long)ymd;

	snprintf(buf, 11, "%04lu-%02lu-%02lu", v / 10000 % 10000, v / 100 % 100, v % 100);
	return buf;
}

int pwt_bounds_check(const pwt_bounds *b, pwt_err *err)
{
	char a[11], c[11];

	if (b->val_start > b->val_end)
		return pwt_err_set(err, PWT_EX_USAGE, "validation start %s is after its end %s",
				   pwt_fmt_date(a, b->val_start), pwt_fmt_date(c, b->val_end));
	if (b->train_end >= b->val_start)
		return pwt_err_set(err, PWT_EX_USAGE,
				   "train end %s must be before validation start %s",
				   pwt_fmt_date(a, b->train_end), pwt_fmt_date(c, b->val_start));
	if (b->val_end >= b->test_start)
		return pwt_err_set(err, PWT_EX_USAGE,
				   "validation end %s must be before test start %s",
				   pwt_fmt_date(a, b->val_end), pwt_fmt_date(c, b->test_start));
	return 0;
}

const char *pwt_bounds_split(const pwt_bounds *b, long date)
{
	if (date <= b->train_end)
		return "train";
	if (date >= b->val_start && date <= b->val_end)
		return "validation";
	if (date >= b->test_start)
		return "test";
	return NULL;
}

char *pwt_bounds_views_sql(const pwt_bounds *b)
{
	char te[11], vs[11], ve[11], ts[11];

	pwt_fmt_date(te, b->train_end);
	pwt_fmt_date(vs, b->val_start);
	pwt_fmt_date(ve, b->val_end);
	pwt_fmt_date(ts, b->test_start);
	return pwt_xasprintf(
	    "CREATE OR REPLACE VIEW train AS SELECT * FROM lap_features WHERE race_date <= "
	    "'%s';\n"
	    "CREATE OR REPLACE VIEW validation AS SELECT * FROM lap_features WHERE race_date "
	    "BETWEEN '%s' AND '%s';\n"
	    "CREATE OR REPLACE VIEW test AS SELECT * FROM lap_features WHERE race_date >= "
	    "'%s';\n",
	    te, vs, ve, ts);
}

int pwt_bounds_option(pwt_bounds *b, const char *name, const char *arg)
{
	long *slot = strcmp(name, "train-end") == 0    ? &b->train_end
		     : strcmp(name, "val-start") == 0  ? &b->val_start
		     : strcmp(name, "val-end") == 0    ? &b->val_end
		     : strcmp(name, "test-start") == 0 ? &b->test_start
						       : NULL;

	if (!slot)
		return 0;
	if (pwt_parse_date(arg, slot) < 0)
		pwt_usage_error("--%s: expected a date YYYY-MM-DD, got '%s'", name, arg);
	return 1;
}

char *pwt_pair_key(long a, long b)
{
	return pwt_xasprintf("%ld/%ld", a, b);
}

int pwt_race_index(const pwt_map *idx, const pwt_table *t, size_t r, int cy, int cr, pwt_err *err)
{
	long y, rd;
	size_t v;

	if (pwt_req_long(t, r, cy, &y, err) < 0 || pwt_req_long(t, r, cr, &rd, err) < 0)
		return -1;
	char *k = pwt_pair_key(y, rd);
	int found = pwt_map_get(idx, k, &v);
	free(k);
	if (!found)
		return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: no race %ld round %ld in races.csv",
				   t->path, t->lines[r], y, rd);
	return (int)v;
}
