/*
 * Diagnostics a user reads: FILE:LINE:COL: error: message, plus a hint that
 * says what to do.  Validation collects all of them instead of stopping at
 * the first, so one edit-run cycle fixes every problem in a file.
 */
#ifndef PITWALL_DIAG_H
#define PITWALL_DIAG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { PW_DIAG_ERROR, PW_DIAG_WARNING } pw_diag_level;

typedef struct {
	pw_diag_level level;
	char *file;
	int line; /* 1-based; 0 when the problem has no position */
	int col;  /* 1-based */
	char *msg;
	char *hint; /* may be NULL */
} pw_diag;

typedef struct {
	pw_diag *v;
	size_t n, cap;
	size_t nerrors;
} pw_diags;

#define PW_DIAGS_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void pw_diags_add(pw_diags *d, pw_diag_level level, const char *file, int line, int col,
		  const char *hint, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Sort by position (stable), so output follows the file. */
void pw_diags_sort(pw_diags *d);
/*
 * file:line:col: error: message
 *   hint: ...
 */
void pw_diags_print(const pw_diags *d, FILE *out);
void pw_diags_release(pw_diags *d);

#endif
