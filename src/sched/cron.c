/*
 * Cron expressions: parsing (Vixie syntax) and next-fire computation in a
 * time zone, with the daylight-saving rules described in docs/scheduling.md.
 */
#include "pitwall/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sched/tz_internal.h"

enum { F_MIN, F_HOUR, F_MDAY, F_MON, F_WDAY, NFIELDS };

static const char *const field_names[NFIELDS] = {"minute", "hour", "day-of-month", "month",
						 "day-of-week"};
static const int field_lo[NFIELDS] = {0, 0, 1, 1, 0};
static const int field_hi[NFIELDS] = {59, 23, 31, 12, 7};

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
					    "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

#define FIELDS_HINT "(minute hour day-of-month month day-of-week)"

static int fail(pw_cron_error *err, int field, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(pw_cron_error *err, int field, int col, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->field = field;
		err->col = col;
	}
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A printable rendering of one character for messages. */
static const char *show_char(char c, char buf[8])
{
	if (c > ' ' && c < 127)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", (unsigned char)c);
	return buf;
}

/* State for parsing one field: the whole expression and the field's extent. */
typedef struct {
	const char *expr; /* for columns */
	int field;
	const char *p, *end;
	pw_cron_error *err;
} field_parser;

static int col_of(const field_parser *fp, const char *at)
{
	return (int)(at - fp->expr) + 1;
}

static int unexpected(field_parser *fp, const char *at)
{
	char buf[8];
	return fail(fp->err, fp->field, col_of(fp, at), "unexpected character %s in %s field",
		    show_char(*at, buf), field_names[fp->field]);
}

/*
 * One value: a number or (for month and day-of-week) a three-letter name.
 * Range checking is done here so the column points at the value.
 */
static int parse_value(field_parser *fp, int *out)
{
	const char *s = fp->p, *q = s;
	const char *fname = field_names[fp->field];
	int lo = field_lo[fp->field], hi = field_hi[fp->field];

	if (q < fp->end && is_digit(*q)) {
		long v = 0;
		while (q < fp->end && is_digit(*q)) {
			if (v < 100000)
				v = v * 10 + (*q - '0');
			q++;
		}
		if (v < lo || v > hi) {
			if (v >= 100000)
				return fail(fp->err, fp->field, col_of(fp, s),
					    "%s value %.*s is out of range %d-%d", fname,
					    (int)(q - s) > 20 ? 20 : (int)(q - s), s, lo, hi);
			return fail(fp->err, fp->field, col_of(fp, s),
				    "%s value %ld is out of range %d-%d", fname, v, lo, hi);
		}
		*out = (int)v;
		fp->p = q;
		return 0;
	}
	if (q < fp->end && is_alpha(*q)) {
		while (q < fp->end && (is_alpha(*q) || is_digit(*q)))
			q++;
		int len = (int)(q - s), shown = len > 20 ? 20 : len;
		const char *const *names = NULL;
		int n = 0, base = 0;
		if (fp->field == F_MON) {
			names = month_names;
			n = 12;
			base = 1;
		} else if (fp->field == F_WDAY) {
			names = wday_names;
			n = 7;
		} else {
			return fail(fp->err, fp->field, col_of(fp, s),
				    "%s value '%.*s' is not a number", fname, shown, s);
		}
		for (int i = 0; i < n && len == 3; i++) {
			if (strncasecmp(s, names[i], 3) == 0) {
				*out = i + base;
				fp->p = q;
				return 0;
			}
		}
		return fail(fp->err, fp->field, col_of(fp, s), "unknown %s name '%.*s'", fname,
			    shown, s);
	}
	if (q >= fp->end || *q == ',')
		return fail(fp->err, fp->field, col_of(fp, s), "missing %s value", fname);
	return unexpected(fp, q);
}

static void set_bits(pw_cron *c, int field, int lo, int hi, int step)
{
	for (int v = lo; v <= hi; v += step) {
		switch (field) {
		case F_MIN: c->minutes |= (uint64_t)1 << v; break;
		case F_HOUR: c->hours |= (uint32_t)1 << v; break;
		case F_MDAY: c->mdays |= (uint32_t)1 << v; break;
		case F_MON: c->months |= (uint16_t)(1u << v); break;
		case F_WDAY: c->wdays |= (uint8_t)(1u << (v == 7 ? 0 : v)); break;
		}
	}
}

/* One list item: "*", "v", "a-b", each optionally followed by "/step". */
static int parse_item(field_parser *fp, pw_cron *c)
{
	const char *item = fp->p;
	const char *fname = field_names[fp->field];
	int lo, hi, step = 1;
	bool single = false;

	if (fp->p >= fp->end || *fp->p == ',')
		return fail(fp->err, fp->field, col_of(fp, item), "empty item in %s list", fname);
	if (*fp->p == '*') {
		lo = field_lo[fp->field];
		hi = field_hi[fp->field];
		fp->p++;
	} else {
		if (parse_value(fp, &lo) < 0)
			return -1;
		hi = lo;
		single = true;
		if (fp->p < fp->end && *fp->p == '-') {
			fp->p++;
			if (fp->p >= fp->end || *fp->p == ',' || *fp->p == '/')
				return fail(fp->err, fp->field, col_of(fp, item),
					    "%s range '%.*s' has no end", fname,
					    (int)(fp->p - item), item);
			if (parse_value(fp, &hi) < 0)
				return -1;
			single = false;
			if (hi < lo)
				return fail(fp->err, fp->field, col_of(fp, item),
					    "%s range %.*s is backwards%s", fname,
					    (int)(fp->p - item), item,
					    fp->field == F_WDAY && hi == 0
						? " (Sunday ends a range as 7)"
						: "");
		}
	}
	if (fp->p < fp->end && *fp->p == '/') {
		const char *s = ++fp->p;
		long v = 0;
		int maxstep = field_hi[fp->field] - field_lo[fp->field];
		if (fp->p >= fp->end || *fp->p == ',')
			return fail(fp->err, fp->field, col_of(fp, s - 1),
				    "%s step is missing after '/'", fname);
		if (!is_digit(*fp->p)) {
			const char *q = fp->p;
			while (q < fp->end && *q != ',')
				q++;
			int len = (int)(q - s);
			return fail(fp->err, fp->field, col_of(fp, s),
				    "%s step '%.*s' is not a number", fname, len > 20 ? 20 : len,
				    s);
		}
		while (fp->p < fp->end && is_digit(*fp->p)) {
			if (v < 100000)
				v = v * 10 + (*fp->p - '0');
			fp->p++;
		}
		if (v == 0)
			return fail(fp->err, fp->field, col_of(fp, s), "%s step 0 is not allowed",
				    fname);
		if (v > maxstep)
			return fail(fp->err, fp->field, col_of(fp, s),
				    "%s step %.*s is out of range 1-%d", fname,
				    (int)(fp->p - s) > 20 ? 20 : (int)(fp->p - s), s, maxstep);
		step = (int)v;
		if (single) /* "5/10" means 5-max/10 */
			hi = field_hi[fp->field];
	}
	if (fp->p < fp->end && *fp->p != ',')
		return unexpected(fp, fp->p);
	set_bits(c, fp->field, lo, hi, step);
	return 0;
}

static int parse_field(const char *expr, int field, const char *s, const char *e, pw_cron *c,
		       pw_cron_error *err)
{
	field_parser fp = {expr, field, s, e, err};
	for (;;) {
		if (parse_item(&fp, c) < 0)
			return -1;
		if (fp.p >= fp.end)
			return 0;
		fp.p++; /* ',' */
		if (fp.p >= fp.end)
			return fail(err, field, col_of(&fp, fp.p - 1), "%s list ends with ','",
				    field_names[field]);
	}
}

static const struct {
	const char *name;
	const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},	  {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static int parse_macro(pw_cron *out, const char *expr, const char *s, pw_cron_error *err)
{
	const char *e = s;
	while (*e && !is_space(*e))
		e++;
	int len = (int)(e - s), shown = len > 20 ? 20 : len;
	int col = (int)(s - expr) + 1;
	const char *rest = e;
	while (*rest && is_space(*rest))
		rest++;

	if (len == 7 && strncasecmp(s, "@reboot", 7) == 0)
		return fail(err, -1, col,
			    "@reboot is not supported: pitwall schedules by time only");
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if ((size_t)len != strlen(macros[i].name) || strncasecmp(s, macros[i].name, len))
			continue;
		if (*rest)
			return fail(err, -1, (int)(rest - expr) + 1,
				    "unexpected text after %s (a macro replaces all 5 fields)",
				    macros[i].name);
		return pw_cron_parse(out, macros[i].expansion, err);
	}
	return fail(err, -1, col,
		    "unknown macro '%.*s' (known: @yearly @annually @monthly @weekly @daily "
		    "@midnight @hourly)",
		    shown, s);
}

int pw_cron_parse(pw_cron *out, const char *expr, pw_cron_error *err)
{
	const char *start[NFIELDS + 1], *end[NFIELDS + 1];
	int n = 0;
	const char *p = expr ? expr : "";
	pw_cron c;

	memset(&c, 0, sizeof(c));
	if (err) {
		err->col = 0;
		err->field = -1;
		err->msg[0] = '\0';
	}
	expr = p;
	while (*p && is_space(*p))
		p++;
	if (*p == '@')
		return parse_macro(out, expr, p, err);

	while (*p) {
		if (n == NFIELDS) {
			int extra = 0;
			while (*p) {
				extra++;
				while (*p && !is_space(*p))
					p++;
				while (*p && is_space(*p))
					p++;
			}
			return fail(err, -1, (int)(start[NFIELDS] - expr) + 1,
				    "expected 5 fields " FIELDS_HINT ", got %d", NFIELDS + extra);
		}
		start[n] = p;
		while (*p && !is_space(*p))
			p++;
		end[n] = p;
		n++;
		while (*p && is_space(*p))
			p++;
		if (n == NFIELDS)
			start[NFIELDS] = p;
	}
	if (n != NFIELDS) {
		if (n == 0)
			return fail(err, -1, 1,
				    "empty cron expression: expected 5 fields " FIELDS_HINT);
		return fail(err, -1, (int)(p - expr) + 1,
			    "expected 5 fields " FIELDS_HINT ", got %d", n);
	}
	for (int f = 0; f < NFIELDS; f++)
		if (parse_field(expr, f, start[f], end[f], &c, err) < 0)
			return -1;
	c.mday_star = *start[F_MDAY] == '*';
	c.wday_star = *start[F_WDAY] == '*';
	*out = c;
	return 0;
}

/* ---- next fire --------------------------------------------------------- */

/* Lowest set bit of mask at or above from, up to max; -1 if none. */
static int next_bit(uint64_t mask, int from, int max)
{
	if (from > max)
		return -1;
	uint64_t m = mask >> from;
	if (!m)
		return -1;
	int b = from + __builtin_ctzll(m);
	return b <= max ? b : -1;
}

/* Vixie: when either day field starts with '*', both must match; else either. */
static bool day_matches(const pw_cron *c, int mday, int wday)
{
	bool dom = (c->mdays >> mday) & 1, dow = (c->wdays >> wday) & 1;
	if (c->mday_star || c->wday_star)
		return dom && dow;
	return dom || dow;
}

/*
 * The first local time (local seconds, a whole minute) at or after `from`
 * and at most `limit` that matches c, walking months, days, hours and
 * minutes rather than single minutes.
 */
static bool next_local(const pw_cron *c, int64_t from, int64_t limit, int64_t *out)
{
	int64_t days = pw_floor_div(from, 86400), y;
	int sod = (int)(from - days * 86400);
	int h = sod / 3600, mi = sod / 60 % 60, m, d;

	pw_civil_from_days(days, &y, &m, &d);
	while (days * 86400 <= limit) {
		if (!((c->months >> m) & 1)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			days = pw_days_from_civil(y, m, 1);
			continue;
		}
		if (day_matches(c, d, pw_wday_of_days(days))) {
			for (int hh = next_bit(c->hours, h, 23); hh >= 0;
			     hh = next_bit(c->hours, hh + 1, 23)) {
				int mm = next_bit(c->minutes, hh == h ? mi : 0, 59);
				if (mm >= 0) {
					*out = days * 86400 + hh * 3600 + mm * 60;
					return *out <= limit;
				}
			}
		}
		days++;
		h = mi = 0;
		if (++d > pw_days_in_month(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	return false;
}

/*
 * When the local time L (local seconds) fires for a fixed-time job: its
 * first occurrence, or the end of the gap (rounded up to a whole local
 * minute) when the clocks skip over it.
 */
static int64_t resolve_local(const pw_tz *tz, int64_t L)
{
	/* Offsets are within +-26h, so every occurrence lies in this window. */
	int64_t t = L - 30 * 3600;
	int32_t off, off2;
	int64_t end, end2;

	while (t <= L + 30 * 3600) {
		pw_tz_segment(tz, t, &off, &end);
		int64_t cand = L - off;
		if (cand >= t && cand < end)
			return cand;
		if (end == INT64_MAX)
			break;
		pw_tz_segment(tz, end, &off2, &end2);
		if (end + off <= L && L < end + off2) {
			int64_t frac = (end + off2) - pw_floor_div(end + off2, 60) * 60;
			return frac ? end + 60 - frac : end;
		}
		t = end;
	}
	return L - pw_tz_offset_at(tz, L); /* unreachable with sane zone data */
}

/* Nothing matches within this long, e.g. "0 0 30 2 *": give up. */
#define HORIZON ((int64_t)(5 * 366 + 2) * 86400)

int pw_cron_next(const pw_cron *c, const pw_tz *tz, int64_t after, int64_t *out)
{
	int64_t m;

	if (!c || !out || !c->minutes || !c->hours || !c->months || (!c->mdays && !c->wdays))
		return -1;
	if (after > PW_TZ_T_MAX - 2 * HORIZON || after < -PW_TZ_T_MAX + 2 * HORIZON)
		return -1;

	if ((c->hours & 0xffffff) == 0xffffff) {
		/*
		 * Interval job (every hour): fire at every real instant whose
		 * local wall-clock minute matches.  Walk the zone's segments of
		 * constant offset; within one, local time is monotonic.  Minutes
		 * skipped by a spring-forward gap are not made up (the pattern
		 * goes on by elapsed time) and a repeated hour fires again.
		 */
		int64_t t = after + 1, stop = after + HORIZON;
		while (t <= stop) {
			int32_t off;
			int64_t end;
			pw_tz_segment(tz, t, &off, &end);
			int64_t last = end == INT64_MAX || end - 1 > stop ? stop : end - 1;
			int64_t from = t + off;
			from = pw_floor_div(from + 59, 60) * 60;
			if (next_local(c, from, last + off, &m)) {
				*out = m - off;
				return 0;
			}
			if (end == INT64_MAX)
				break;
			t = end;
		}
		return -1;
	}

	/*
	 * Fixed-time job: every matching local time fires once, at its first
	 * occurrence or at the end of a gap.  That instant never decreases as
	 * the local time increases, so walk local times from the minute after
	 * `after` and return the first whose fire is still in the future.
	 */
	int64_t L = pw_floor_div(after + pw_tz_offset_at(tz, after), 60) * 60 + 60;
	int64_t limit = L + HORIZON;
	while (next_local(c, L, limit, &m)) {
		int64_t f = resolve_local(tz, m);
		if (f > after) {
			*out = f;
			return 0;
		}
		L = m + 60;
	}
	return -1;
}
