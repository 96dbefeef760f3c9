/*
 * Small building blocks shared by every module: an arena for data that lives
 * as long as a DAG, a growable string buffer, and a string -> index hash map.
 */
#ifndef PITWALL_UTIL_H
#define PITWALL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation failure is not recoverable for a scheduler: print and abort. */
void *pw_xmalloc(size_t n);
void *pw_xcalloc(size_t n, size_t size);
void *pw_xrealloc(void *p, size_t n);
char *pw_xstrdup(const char *s);
char *pw_xstrndup(const char *s, size_t n);
char *pw_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *v (holding *cap elements of size elem) so that it can hold need. */
void pw_grow(void **v, size_t *cap, size_t need, size_t elem);
#define PW_GROW(v, cap, need) pw_grow((void **)&(v), &(cap), (need), sizeof(*(v)))

/* Arena: many small allocations freed at once. */
typedef struct pw_arena_block pw_arena_block;
typedef struct {
	pw_arena_block *head;
	size_t used;
	size_t bytes; /* total bytes handed out, for memory reports */
} pw_arena;

#define PW_ARENA_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void *pw_arena_alloc(pw_arena *a, size_t n);
void *pw_arena_calloc(pw_arena *a, size_t n);
char *pw_arena_strdup(pw_arena *a, const char *s);
char *pw_arena_strndup(pw_arena *a, const char *s, size_t n);
char *pw_arena_sprintf(pw_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pw_arena_release(pw_arena *a);

/* Growable NUL-terminated string. */
typedef struct {
	char *buf;
	size_t len;
	size_t cap;
} pw_strbuf;

#define PW_STRBUF_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void pw_strbuf_add(pw_strbuf *sb, const char *s, size_t n);
void pw_strbuf_adds(pw_strbuf *sb, const char *s);
void pw_strbuf_addc(pw_strbuf *sb, char c);
void pw_strbuf_addf(pw_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pw_strbuf_vaddf(pw_strbuf *sb, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included. */
void pw_strbuf_add_json_str(pw_strbuf *sb, const char *s);
void pw_strbuf_reset(pw_strbuf *sb);
/* Hand the buffer over to the caller (never NULL). */
char *pw_strbuf_detach(pw_strbuf *sb);
void pw_strbuf_release(pw_strbuf *sb);

/* Open-addressing map from string keys (not copied) to size_t values. */
typedef struct {
	const char **keys;
	size_t *vals;
	size_t cap; /* power of two */
	size_t len;
} pw_strmap;

#define PW_STRMAP_INIT                                                                             \
	{                                                                                          \
		NULL, NULL, 0, 0                                                                   \
	}
/* Returns false (and leaves the map unchanged) when key is already present. */
bool pw_strmap_put(pw_strmap *m, const char *key, size_t val);
bool pw_strmap_get(const pw_strmap *m, const char *key, size_t *out);
void pw_strmap_release(pw_strmap *m);

uint64_t pw_hash_str(const char *s);

/* Damerau-Levenshtein (optimal string alignment) distance, capped at max+1. */
size_t pw_edit_distance(const char *a, const char *b, size_t max);
/* The closest candidate within a sensible distance, or NULL. */
const char *pw_did_you_mean(const char *word, const char *const *candidates, size_t n);

/* Monotonic and wall clocks in milliseconds. */
int64_t pw_now_mono_ms(void);
int64_t pw_now_wall_ms(void);
/* ISO 8601 UTC with milliseconds: 2026-02-14T12:00:00.000Z (buf >= 32). */
void pw_format_iso8601_ms(int64_t wall_ms, char *buf, size_t size);

/* Read a whole file; returns 0 or -errno. */
int pw_read_file(const char *path, char **out, size_t *out_len);
/* user@host of whoever runs pitwall (the audit's actor for a person). */
char *pw_default_actor(void);

/* rm -rf (does not follow symlinks); returns 0 or -errno. */
int pw_rm_rf(const char *path);
/* Copy a file (mode 0644), creating parent directories; returns 0 or -errno. */
int pw_copy_file(const char *from, const char *to);
/* mkdir -p; returns 0 or -errno. */
int pw_mkdir_p(const char *path, unsigned mode);

#endif
