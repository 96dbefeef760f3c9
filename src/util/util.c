#include "pitwall/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "pitwall: fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *pw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *pw_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *pw_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *pw_xstrdup(const char *s)
{
	return pw_xstrndup(s, strlen(s));
}

char *pw_xstrndup(const char *s, size_t n)
{
	char *p = pw_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pw_xasprintf(const char *fmt, ...)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	pw_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return pw_strbuf_detach(&sb);
}

void pw_grow(void **v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	*v = pw_xrealloc(*v, ncap * elem);
	*cap = ncap;
}

/* ---- arena ---- */

struct pw_arena_block {
	pw_arena_block *next;
	size_t size;
	max_align_t data[];
};

#define ARENA_BLOCK (64 * 1024)

void *pw_arena_alloc(pw_arena *a, size_t n)
{
	size_t align = sizeof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	if (!a->head || a->used + n > a->head->size) {
		size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		pw_arena_block *b = pw_xmalloc(sizeof(*b) + size);
		b->size = size;
		if (a->head && n > ARENA_BLOCK / 4) {
			/* Big allocation: keep the current block for small ones. */
			b->next = a->head->next;
			a->head->next = b;
			a->bytes += n;
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		a->used = 0;
	}
	void *p = (char *)a->head->data + a->used;
	a->used += n;
	a->bytes += n;
	return p;
}

void *pw_arena_calloc(pw_arena *a, size_t n)
{
	void *p = pw_arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *pw_arena_strndup(pw_arena *a, const char *s, size_t n)
{
	char *p = pw_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pw_arena_strdup(pw_arena *a, const char *s)
{
	return pw_arena_strndup(a, s, strlen(s));
}

char *pw_arena_sprintf(pw_arena *a, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = pw_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(small)) {
		memcpy(p, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	return p;
}

void pw_arena_release(pw_arena *a)
{
	pw_arena_block *b = a->head;
	while (b) {
		pw_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
	a->bytes = 0;
}

/* ---- strbuf ---- */

static void sb_reserve(pw_strbuf *sb, size_t extra)
{
	PW_GROW(sb->buf, sb->cap, sb->len + extra + 1);
}

void pw_strbuf_add(pw_strbuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void pw_strbuf_adds(pw_strbuf *sb, const char *s)
{
	pw_strbuf_add(sb, s, strlen(s));
}

void pw_strbuf_addc(pw_strbuf *sb, char c)
{
	pw_strbuf_add(sb, &c, 1);
}

void pw_strbuf_vaddf(pw_strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	sb_reserve(sb, 64);
	int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= sb->cap - sb->len) {
		sb_reserve(sb, (size_t)n);
		vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += (size_t)n;
}

void pw_strbuf_addf(pw_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void pw_strbuf_add_json_str(pw_strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	pw_strbuf_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': pw_strbuf_add(sb, "\\\"", 2); break;
		case '\\': pw_strbuf_add(sb, "\\\\", 2); break;
		case '\n': pw_strbuf_add(sb, "\\n", 2); break;
		case '\r': pw_strbuf_add(sb, "\\r", 2); break;
		case '\t': pw_strbuf_add(sb, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
				pw_strbuf_add(sb, u, 6);
			} else {
				pw_strbuf_addc(sb, (char)*p);
			}
		}
	}
	pw_strbuf_addc(sb, '"');
}

void pw_strbuf_reset(pw_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

char *pw_strbuf_detach(pw_strbuf *sb)
{
	char *p = sb->buf ? sb->buf : pw_xstrdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void pw_strbuf_release(pw_strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* ---- strmap ---- */

uint64_t pw_hash_str(const char *s)
{
	/* FNV-1a, 64 bit. */
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void strmap_rehash(pw_strmap *m, size_t ncap)
{
	const char **keys = pw_xcalloc(ncap, sizeof(*keys));
	size_t *vals = pw_xcalloc(ncap, sizeof(*vals));
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = pw_hash_str(m->keys[i]) & (ncap - 1);
		while (keys[j])
			j = (j + 1) & (ncap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = ncap;
}

bool pw_strmap_put(pw_strmap *m, const char *key, size_t val)
{
	if ((m->len + 1) * 4 >= m->cap * 3)
		strmap_rehash(m, m->cap ? m->cap * 2 : 16);
	size_t j = pw_hash_str(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (strcmp(m->keys[j], key) == 0)
			return false;
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->vals[j] = val;
	m->len++;
	return true;
}

bool pw_strmap_get(const pw_strmap *m, const char *key, size_t *out)
{
	if (!m->cap)
		return false;
	size_t j = pw_hash_str(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (strcmp(m->keys[j], key) == 0) {
			if (out)
				*out = m->vals[j];
			return true;
		}
		j = (j + 1) & (m->cap - 1);
	}
	return false;
}

void pw_strmap_release(pw_strmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->len = 0;
}

/* ---- did you mean ---- */

size_t pw_edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > lb + max || lb > la + max)
		return max + 1;
	if (la > 64 || lb > 64)
		return strcmp(a, b) == 0 ? 0 : max + 1;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb] > max ? max + 1 : d[la][lb];
}

const char *pw_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word);
	size_t max = len < 4 ? 1 : len < 8 ? 2 : 3;
	const char *best = NULL;
	size_t best_d = max + 1;
	for (size_t i = 0; i < n; i++) {
		size_t d = pw_edit_distance(word, candidates[i], max);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}

/* ---- time ---- */

int64_t pw_now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pw_now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pw_format_iso8601_ms(int64_t wall_ms, char *buf, size_t size)
{
	time_t secs = (time_t)(wall_ms / 1000);
	int ms = (int)(wall_ms % 1000);
	if (ms < 0) {
		ms += 1000;
		secs -= 1;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* ---- files ---- */

int pw_read_file(const char *path, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
	char *buf = pw_xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = pw_xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

int pw_mkdir_p(const char *path, unsigned mode)
{
	char *p = pw_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -errno;
out:
	free(p);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int pw_rm_rf(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int pw_copy_file(const char *from, const char *to)
{
	char *dir = pw_xstrdup(to);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		pw_mkdir_p(dir, 0755);
	}
	free(dir);
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		int e = errno;
		close(in);
		return -e;
	}
	char buf[65536];
	ssize_t r;
	int rc = 0;
	while ((r = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)r) != r) {
			rc = -EIO;
			break;
		}
	}
	if (r < 0)
		rc = -errno;
	close(in);
	if (close(out) < 0 && !rc)
		rc = -errno;
	return rc;
}

char *pw_default_actor(void)
{
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	struct passwd *pw = getpwuid(getuid());
	return pw_xasprintf("%s@%s", pw ? pw->pw_name : "unknown", host);
}
