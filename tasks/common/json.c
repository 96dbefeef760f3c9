/*
 * A JSON writer small enough to read in one sitting. Keys come out in the
 * order the caller writes them and numbers in fixed formats, so a report is
 * byte-for-byte reproducible (jansson would sort keys, but its real-number
 * format is %.17g, which is exact but not what a reader wants to diff).
 */
#include "pwt.h"

#include <string.h>

int pwt_json_open(pwt_json *j, const char *path, pwt_err *err)
{
	memset(j, 0, sizeof(*j));
	return pwt_out_open(&j->out, path, err);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Comma, newline and indentation before a value, then its key. */
static void lead(pwt_json *j, const char *key)
{
	FILE *f = j->out.f;

	if (j->depth > 0) {
		if (j->count[j->depth]++)
			fputc(',', f);
		fputc('\n', f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", f);
	}
	if (key) {
		put_string(f, key);
		fputs(": ", f);
	}
}

static void open_(pwt_json *j, const char *key, char c)
{
	lead(j, key);
	fputc(c, j->out.f);
	if (j->depth < 31)
		j->depth++;
	j->count[j->depth] = 0;
}

void pwt_json_obj(pwt_json *j, const char *key)
{
	open_(j, key, '{');
}

void pwt_json_arr(pwt_json *j, const char *key)
{
	open_(j, key, '[');
}

void pwt_json_end(pwt_json *j, char close)
{
	int had = j->count[j->depth];

	j->depth--;
	if (had) {
		fputc('\n', j->out.f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->out.f);
	}
	fputc(close, j->out.f);
}

void pwt_json_str(pwt_json *j, const char *key, const char *v)
{
	lead(j, key);
	if (v)
		put_string(j->out.f, v);
	else
		fputs("null", j->out.f);
}

void pwt_json_long(pwt_json *j, const char *key, long v)
{
	lead(j, key);
	fprintf(j->out.f, "%ld", v);
}

void pwt_json_fixed(pwt_json *j, const char *key, double v, int decimals)
{
	char buf[64];

	lead(j, key);
	if (v != v)
		fputs("null", j->out.f);
	else
		fputs(pwt_fmt_fixed(buf, sizeof(buf), v, decimals), j->out.f);
}

void pwt_json_bool(pwt_json *j, const char *key, int v)
{
	lead(j, key);
	fputs(v ? "true" : "false", j->out.f);
}

int pwt_json_commit(pwt_json *j, pwt_err *err)
{
	fputc('\n', j->out.f);
	return pwt_out_commit(&j->out, err);
}
