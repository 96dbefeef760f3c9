#include "pitwall/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/util.h"

void pw_diags_add(pw_diags *d, pw_diag_level level, const char *file, int line, int col,
		  const char *hint, const char *fmt, ...)
{
	PW_GROW(d->v, d->cap, d->n + 1);
	pw_diag *g = &d->v[d->n++];
	pw_strbuf sb = PW_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	pw_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	g->level = level;
	g->file = pw_xstrdup(file ? file : "<input>");
	g->line = line;
	g->col = col;
	g->msg = pw_strbuf_detach(&sb);
	g->hint = hint ? pw_xstrdup(hint) : NULL;
	if (level == PW_DIAG_ERROR)
		d->nerrors++;
}

struct diag_idx {
	pw_diag g;
	size_t i;
};

static int diag_cmp(const void *pa, const void *pb)
{
	const struct diag_idx *x = pa, *y = pb;
	const pw_diag *a = &x->g, *b = &y->g;
	int c = strcmp(a->file, b->file);
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	/* qsort is not stable: equal positions keep the order they were found in. */
	return (x->i > y->i) - (x->i < y->i);
}

void pw_diags_sort(pw_diags *d)
{
	if (d->n < 2)
		return;
	struct diag_idx *tmp = pw_xmalloc(d->n * sizeof(*tmp));
	for (size_t i = 0; i < d->n; i++) {
		tmp[i].g = d->v[i];
		tmp[i].i = i;
	}
	qsort(tmp, d->n, sizeof(*tmp), diag_cmp);
	for (size_t i = 0; i < d->n; i++)
		d->v[i] = tmp[i].g;
	free(tmp);
}

void pw_diags_print(const pw_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const pw_diag *g = &d->v[i];
		const char *lv = g->level == PW_DIAG_ERROR ? "error" : "warning";
		if (g->line > 0)
			fprintf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col, lv, g->msg);
		else
			fprintf(out, "%s: %s: %s\n", g->file, lv, g->msg);
		if (g->hint)
			fprintf(out, "  hint: %s\n", g->hint);
	}
}

void pw_diags_release(pw_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
		free(d->v[i].hint);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = d->nerrors = 0;
}
