/*
 * pwt: the small library the F1 pipeline's task programs share.
 *
 * CSV in and out (RFC 4180 quoting, unquoted \N is NULL, UTF-8 checked with
 * FILE:LINE:COL errors), a deterministic JSON writer, number and duration
 * parsing, a string hash map, and the sysexits classes of DESIGN.md.
 *
 * Everything a task writes goes through pwt_out_* so that a file appears
 * complete or not at all (written to NAME.tmp, renamed on commit), and every
 * number is formatted without the locale (tasks never call setlocale, so the
 * C library stays in the "C" locale).
 */
#ifndef PWT_H
#define PWT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* sysexits(3) classes, as DESIGN.md's retry policy reads them. */
enum {
	PWT_EX_OK = 0,
	PWT_EX_USAGE = 64,
	PWT_EX_DATAERR = 65,
	PWT_EX_NOINPUT = 66,
	PWT_EX_SOFTWARE = 70,
	PWT_EX_OSERR = 71,
	PWT_EX_CANTCREAT = 73,
	PWT_EX_IOERR = 74,
	PWT_EX_TEMPFAIL = 75,
	PWT_EX_CONFIG = 78,
};

/* An error travelling up: the exit class it maps to and a message that
 * already names the file, line and column when there is one. */
typedef struct pwt_err {
	int code;
	char msg[1024];
} pwt_err;

#define PWT_ERR_INIT                                                                               \
	{                                                                                          \
		0,                                                                                 \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

#if defined(__GNUC__)
#define PWT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PWT_NORETURN __attribute__((noreturn))
#else
#define PWT_PRINTF(a, b)
#define PWT_NORETURN
#endif

/* Returns -1 so that callers can write `return pwt_err_set(...)`. */
int pwt_err_set(pwt_err *err, int code, const char *fmt, ...) PWT_PRINTF(3, 4);

/* ---- process-wide helpers ------------------------------------------- */

/* Sets the program name used as the prefix of every message. */
void pwt_init(const char *progname);
const char *pwt_progname(void);
/* Silences pwt_progress (errors and warnings still print). */
void pwt_set_quiet(int quiet);
/* "f1-clean: MESSAGE" on stderr. */
void pwt_progress(const char *fmt, ...) PWT_PRINTF(1, 2);
void pwt_warn(const char *fmt, ...) PWT_PRINTF(1, 2);
/* Prints "PROG: error: MSG" and exits with err->code. */
PWT_NORETURN void pwt_die_err(const pwt_err *err);
PWT_NORETURN void pwt_die(int code, const char *fmt, ...) PWT_PRINTF(2, 3);
/* Prints "PROG: MSG" and a hint to use --help, exits 64. */
PWT_NORETURN void pwt_usage_error(const char *fmt, ...) PWT_PRINTF(1, 2);

void *pwt_xmalloc(size_t n);
void *pwt_xcalloc(size_t n, size_t size);
void *pwt_xrealloc(void *p, size_t n);
char *pwt_xstrdup(const char *s);
char *pwt_xasprintf(const char *fmt, ...) PWT_PRINTF(1, 2);

/* Grows *p (of *cap elements of size sz) so that it holds at least need. */
void pwt_grow(void **p, size_t *cap, size_t need, size_t sz);
#define PWT_PUSH(arr, n, cap, val)                                                                 \
	do {                                                                                       \
		pwt_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr)));                        \
		(arr)[(n)++] = (val);                                                              \
	} while (0)

/* qsort that accepts n == 0 with a NULL base (qsort itself may not). */
void pwt_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* mkdir -p; returns -1 with err (73) on failure. */
int pwt_mkdirs(const char *path, pwt_err *err);
/* Directory part of path, as a new string ("." when none). */
char *pwt_dirname(const char *path);
char *pwt_path_join(const char *dir, const char *name);

/* ---- parsing --------------------------------------------------------- */

/* Whole decimal integer, optional sign, no spaces. 0 on success. */
int pwt_parse_long(const char *s, long *out);
/* Decimal number (no exponent, no inf/nan). 0 on success. */
int pwt_parse_double(const char *s, double *out);
/* "ss", "ss.mmm", "m:ss.mmm" or "h:mm:ss.mmm" to whole milliseconds
 * (fraction rounded half up to the millisecond). 0 on success. */
int pwt_parse_duration_ms(const char *s, long *out);
/* "YYYY-MM-DD" (a real calendar date) to YYYYMMDD. 0 on success. */
int pwt_parse_date(const char *s, long *out);

/* Checks that [s, s+n) is valid UTF-8 (no overlongs, no surrogates, no NUL).
 * Returns 0, or -1 with *bad_off set to the offset of the first bad byte. */
int pwt_utf8_check(const char *s, size_t n, size_t *bad_off);
/* Lower-case ASCII letters and digits of s, accents folded ("Pérez" ->
 * "perez", "Hülkenberg" -> "hulkenberg", "ß" -> "ss"); everything else
 * (spaces, hyphens, apostrophes, unknown letters) is dropped. New string. */
char *pwt_fold_alnum(const char *s);

/* ---- deterministic number formatting ---------------------------------- */

/* %.Nf into buf, "-0.000" normalised to "0.000". Returns buf. */
char *pwt_fmt_fixed(char *buf, size_t n, double v, int decimals);

/* ---- a string -> size_t hash map (keys are copied) ------------------- */

typedef struct pwt_map {
	char **keys;
	size_t *vals;
	size_t cap, n;
} pwt_map;

#define PWT_MAP_INIT                                                                               \
	{                                                                                          \
		NULL, NULL, 0, 0                                                                   \
	}

/* Returns 1 and sets *val when present. */
int pwt_map_get(const pwt_map *m, const char *key, size_t *val);
/* Inserts key -> val unless present; returns 1 when inserted, 0 when the key
 * was there already (its value is left and stored in *old when old != NULL). */
int pwt_map_put(pwt_map *m, const char *key, size_t val, size_t *old);
/* The value slot of key, or NULL; valid until the next put. */
size_t *pwt_map_ref(const pwt_map *m, const char *key);
void pwt_map_release(pwt_map *m);

/* ---- CSV reading ------------------------------------------------------ */

enum {
	/* Rows with fewer fields than the header are padded with NULL (the
	 * Ergast dump's 2025 races rows, lap_times' `void` column) instead of
	 * being an error; table->padded counts them. */
	PWT_CSV_PAD_SHORT = 1u << 0,
};

typedef struct pwt_table {
	char *path;
	char *data; /* the file; fields unescaped and NUL-terminated in place */
	size_t ncols;
	char **header; /* ncols names */
	size_t nrows;
	char **cells;	 /* nrows * ncols; NULL is \N */
	unsigned *lines; /* physical line where each row starts (header is 1) */
	size_t padded;
} pwt_table;

#define PWT_TABLE_INIT                                                                             \
	{                                                                                          \
		0                                                                                  \
	}

/* Loads a whole CSV file. Errors (code 65, or 66 when the file is missing,
 * 74 on read errors) read "PATH:LINE:COL: what went wrong". */
int pwt_csv_load(pwt_table *out, const char *path, unsigned flags, pwt_err *err);
/* Same, from memory (path only names the data in messages). */
int pwt_csv_parse(pwt_table *out, const char *path, const char *data, size_t len, unsigned flags,
		  pwt_err *err);
void pwt_table_release(pwt_table *t);

/* Index of a column, or -1. */
int pwt_col(const pwt_table *t, const char *name);
/* Looks up n columns by name; error 65 "PATH:1: missing column 'x'". */
int pwt_cols(const pwt_table *t, const char *const *names, int *idx, size_t n, pwt_err *err);
static inline const char *pwt_cell(const pwt_table *t, size_t row, int col)
{
	return t->cells[row * t->ncols + (size_t)col];
}

/* Typed cells. Return 1 when a value was parsed, 0 for NULL (\N or an
 * empty field), -1 with err "PATH:LINE: column 'c': expected ..., got '...'". */
int pwt_cell_long(const pwt_table *t, size_t row, int col, long *out, pwt_err *err);
int pwt_cell_double(const pwt_table *t, size_t row, int col, double *out, pwt_err *err);
int pwt_cell_ms(const pwt_table *t, size_t row, int col, long *out, pwt_err *err);
int pwt_cell_date(const pwt_table *t, size_t row, int col, long *out, pwt_err *err);
/* The same checks, but a NULL is an error too ("... is missing"). */
int pwt_req_long(const pwt_table *t, size_t row, int col, long *out, pwt_err *err);

/* "a/b": the key of a (year, round) or (race, driver) pair in a pwt_map. */
char *pwt_pair_key(long a, long b);
/*
 * The value idx holds for the race (year, round) named by columns cy and cr
 * of row r; -1 with err set (FILE:LINE, exit 65) when the row does not parse
 * or no such race is indexed.
 */
int pwt_race_index(const pwt_map *idx, const pwt_table *t, size_t r, int cy, int cr, pwt_err *err);
int pwt_req_str(const pwt_table *t, size_t row, int col, const char **out, pwt_err *err);

/* ---- output files ---------------------------------------------------- */

/* A file written as PATH.tmp and renamed over PATH on commit, so a reader
 * never sees half a file. The parent directory is created. */
typedef struct pwt_out {
	FILE *f;
	char *path;
	char *tmp;
} pwt_out;

int pwt_out_open(pwt_out *o, const char *path, pwt_err *err);
int pwt_out_commit(pwt_out *o, pwt_err *err);
void pwt_out_abort(pwt_out *o);

/* ---- CSV writing ----------------------------------------------------- */

typedef struct pwt_csvw {
	pwt_out out;
	size_t ncols, col;
	unsigned long rows;
} pwt_csvw;

int pwt_csvw_open(pwt_csvw *w, const char *path, const char *const *header, size_t ncols,
		  pwt_err *err);
/* Field writers; NULL / NaN write \N. */
void pwt_csvw_str(pwt_csvw *w, const char *s);
void pwt_csvw_long(pwt_csvw *w, long v);
void pwt_csvw_fixed(pwt_csvw *w, double v, int decimals);
void pwt_csvw_null(pwt_csvw *w);
void pwt_csvw_end_row(pwt_csvw *w);
int pwt_csvw_commit(pwt_csvw *w, pwt_err *err);
void pwt_csvw_abort(pwt_csvw *w);
/* Writes one field with the pipeline's quoting rules to f. */
void pwt_csv_put_field(FILE *f, const char *s);

/* ---- JSON writing ---------------------------------------------------- */

/* Pretty-printed (two-space indent), keys in the order written: callers
 * write them in a fixed order, so output is byte-for-byte stable. */
typedef struct pwt_json {
	pwt_out out;
	int depth;
	int count[32];
} pwt_json;

int pwt_json_open(pwt_json *j, const char *path, pwt_err *err);
/* key is NULL inside arrays. */
void pwt_json_obj(pwt_json *j, const char *key);
void pwt_json_arr(pwt_json *j, const char *key);
void pwt_json_end(pwt_json *j, char close);
void pwt_json_str(pwt_json *j, const char *key, const char *v);
void pwt_json_long(pwt_json *j, const char *key, long v);
void pwt_json_fixed(pwt_json *j, const char *key, double v, int decimals);
void pwt_json_bool(pwt_json *j, const char *key, int v);
int pwt_json_commit(pwt_json *j, pwt_err *err);

/* ---- PostgreSQL (--pg CONNINFO) ---------------------------------------- */

/* Creates the spec's tables and indexes if they do not exist. Connection
 * failures are 75 (transient), SQL errors 74. */
int pwt_pg_schema(const char *conninfo, pwt_err *err);
/* In one transaction: creates the schema if needed, replaces table's rows
 * with the named columns of src (COPY), then runs after_sql (may be NULL). */
int pwt_pg_load(const char *conninfo, const char *table, const char *const *cols, size_t n,
		const pwt_table *src, const char *after_sql, pwt_err *err);

/* ---- split boundaries ---------------------------------------------------- */

/* The spec's temporal split: train <= train_end, validation in
 * [val_start, val_end], test >= test_start (YYYYMMDD). */
typedef struct pwt_bounds {
	long train_end, val_start, val_end, test_start;
} pwt_bounds;

#define PWT_BOUNDS_DEFAULT                                                                         \
	{                                                                                          \
		20221231, 20230101, 20230630, 20230701                                             \
	}

/* Checks that the ranges are ordered and do not overlap. */
int pwt_bounds_check(const pwt_bounds *b, pwt_err *err);
/* "train", "validation", "test" or NULL (between the ranges) for a date. */
const char *pwt_bounds_split(const pwt_bounds *b, long date);
/* The CREATE OR REPLACE VIEW statements for train, validation and test. */
char *pwt_bounds_views_sql(const pwt_bounds *b);
/* Handles --train-end, --val-start, --val-end and --test-start (name without
 * the dashes); exits 64 on a bad date. Returns 1 when name was one of them. */
int pwt_bounds_option(pwt_bounds *b, const char *name, const char *arg);
#define PWT_BOUNDS_HELP                                                                            \
	"  --train-end DATE     last race date of train (default: 2022-12-31)\n"                   \
	"  --val-start DATE     first race date of validation (default: 2023-01-01)\n"             \
	"  --val-end DATE       last race date of validation (default: 2023-06-30)\n"              \
	"  --test-start DATE    first race date of test (default: 2023-07-01)\n"
/* YYYYMMDD -> "YYYY-MM-DD" in buf (11 bytes). */
char *pwt_fmt_date(char *buf, long ymd);

#endif
