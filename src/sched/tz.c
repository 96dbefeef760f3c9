/*
 * Time zones from TZif files (RFC 8536 / tzfile(5)): version 1 data, the
 * 64-bit version 2+ data, and the POSIX TZ string in the footer that
 * describes instants after the last transition in the table.  Nothing here
 * consults the process TZ variable or localtime().
 */
#include "pitwall/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pitwall/util.h"
#include "sched/tz_internal.h"

#define TZ_MAX_FILE (4 << 20)
/* RFC 8536 recommends rejecting offsets outside -25:59:59 .. +25:59:59. */
#define TZ_MAX_UTOFF (26 * 3600 - 1)

/* A day of the year in a POSIX TZ rule, plus the local time of the change. */
typedef struct {
	char kind;    /* 'J': Julian day 1..365 without Feb 29, 'D': 0..365, 'M': Mm.w.d */
	int n;	      /* J and D: the day number; M: month */
	int week;     /* M: 1..5 (5 = last) */
	int wday;     /* M: 0 = Sunday */
	int32_t time; /* seconds after local midnight; may be negative or >24h */
} tz_rule_day;

typedef struct {
	int32_t std_off; /* UTC offsets, east positive */
	int32_t dst_off;
	bool has_dst;
	tz_rule_day start, end;
} tz_rule;

struct pw_tz {
	int64_t *trans; /* transition instants, ascending */
	uint8_t *tidx;	/* type in effect from trans[i] */
	size_t ntrans;
	int32_t *utoff; /* per type */
	size_t ntypes;
	bool has_rule; /* footer present: applies after the last transition */
	tz_rule rule;
};

/* ---- calendar arithmetic --------------------------------------------- */

int64_t pw_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

bool pw_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int pw_days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && pw_is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date.  Counting years from
 * March puts the leap day last, so a 400-year cycle (146097 days) splits
 * evenly into year-of-cycle and day-of-year parts.
 */
int64_t pw_days_from_civil(int64_t y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t cycle = pw_floor_div(yy, 400);
	int64_t yoc = yy - cycle * 400;			     /* 0..399 */
	int mar = m > 2 ? m - 3 : m + 9;		     /* 0 = March */
	int64_t doy = (153 * mar + 2) / 5 + d - 1;	     /* 0..365 */
	int64_t doc = yoc * 365 + yoc / 4 - yoc / 100 + doy; /* 0..146096 */
	return cycle * 146097 + doc - 719468;		     /* 719468: 0000-03-01 to 1970 */
}

void pw_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t cycle = pw_floor_div(z, 146097);
	int64_t doc = z - cycle * 146097;				     /* 0..146096 */
	int64_t yoc = (doc - doc / 1460 + doc / 36524 - doc / 146096) / 365; /* 0..399 */
	int64_t doy = doc - (365 * yoc + yoc / 4 - yoc / 100);		     /* 0..365 */
	int64_t mar = (5 * doy + 2) / 153;				     /* 0 = March */
	*d = (int)(doy - (153 * mar + 2) / 5 + 1);
	*m = (int)(mar < 10 ? mar + 3 : mar - 9);
	*y = yoc + cycle * 400 + (*m <= 2);
}

int pw_wday_of_days(int64_t days)
{
	return (int)(days - pw_floor_div(days + 4, 7) * 7 + 4); /* 1970-01-01 was a Thursday */
}

static int64_t clamp_t(int64_t t)
{
	return t > PW_TZ_T_MAX ? PW_TZ_T_MAX : t < -PW_TZ_T_MAX ? -PW_TZ_T_MAX : t;
}

/* ---- POSIX TZ rules (the TZif footer) -------------------------------- */

/* Days since the epoch of a rule's day in year y. */
static int64_t rule_day(const tz_rule_day *r, int64_t y)
{
	int64_t jan1 = pw_days_from_civil(y, 1, 1);
	switch (r->kind) {
	case 'J': /* Feb 29 is never counted: day 60 is always March 1 */
		return jan1 + r->n - 1 + (pw_is_leap(y) && r->n >= 60);
	case 'D': return jan1 + r->n;
	default: {
		int64_t first = pw_days_from_civil(y, r->n, 1);
		int d = 1 + (r->wday - pw_wday_of_days(first) + 7) % 7 + (r->week - 1) * 7;
		int dim = pw_days_in_month(y, r->n);
		while (d > dim)
			d -= 7;
		return first + d - 1;
	}
	}
}

typedef struct {
	int64_t at;
	int32_t off;
	int order; /* at equal instants, the end of DST sorts before a start */
} rule_change;

static void rule_segment(const tz_rule *r, int64_t t, int32_t *off, int64_t *end)
{
	if (!r->has_dst) {
		*off = r->std_off;
		*end = INT64_MAX;
		return;
	}
	int64_t y, days = pw_floor_div(t + r->std_off, 86400);
	int m, d;
	pw_civil_from_days(days, &y, &m, &d);

	/* Changes in years y-2..y+1 always bracket t, whatever the rule times. */
	rule_change ch[8];
	int n = 0;
	for (int64_t yy = y - 2; yy <= y + 1; yy++) {
		/* The start is given in standard time, the end in daylight time. */
		ch[n++] = (rule_change){
		    rule_day(&r->start, yy) * 86400 + r->start.time - r->std_off, r->dst_off, 1};
		ch[n++] = (rule_change){rule_day(&r->end, yy) * 86400 + r->end.time - r->dst_off,
					r->std_off, 0};
	}
	for (int i = 1; i < n; i++) {
		rule_change x = ch[i];
		int j = i;
		while (j > 0 && (ch[j - 1].at > x.at ||
				 (ch[j - 1].at == x.at && ch[j - 1].order > x.order))) {
			ch[j] = ch[j - 1];
			j--;
		}
		ch[j] = x;
	}
	*off = r->std_off;
	*end = INT64_MAX;
	for (int i = 0; i < n; i++) {
		if (ch[i].at <= t) {
			*off = ch[i].off;
		} else {
			*end = ch[i].at;
			break;
		}
	}
}

static const char *parse_tz_name(const char *p)
{
	const char *s = p;
	if (*p == '<') {
		for (s = ++p; *p && *p != '>'; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return NULL;
		return *p == '>' && p - s >= 3 ? p + 1 : NULL;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; returns seconds (sign as written). */
static const char *parse_hms(const char *p, int maxh, int32_t *out)
{
	int sign = 1, part[3] = {0, 0, 0};
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != ':')
				break;
			p++;
		}
		if (*p < '0' || *p > '9')
			return NULL;
		int v = 0, nd = 0;
		while (*p >= '0' && *p <= '9' && nd < 3) {
			v = v * 10 + (*p++ - '0');
			nd++;
		}
		if ((i == 0 && v > maxh) || (i > 0 && (nd > 2 || v > 59)))
			return NULL;
		part[i] = v;
	}
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *out)
{
	int v = 0, nd = 0;
	while (*p >= '0' && *p <= '9' && nd < 4) {
		v = v * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || v < lo || v > hi)
		return NULL;
	*out = v;
	return p;
}

static const char *parse_rule_day(const char *p, tz_rule_day *r)
{
	memset(r, 0, sizeof(*r));
	if (*p == 'J') {
		r->kind = 'J';
		p = parse_num(p + 1, 1, 365, &r->n);
	} else if (*p == 'M') {
		r->kind = 'M';
		p = parse_num(p + 1, 1, 12, &r->n);
		if (!p || *p++ != '.')
			return NULL;
		p = parse_num(p, 1, 5, &r->week);
		if (!p || *p++ != '.')
			return NULL;
		p = parse_num(p, 0, 6, &r->wday);
	} else {
		r->kind = 'D';
		p = parse_num(p, 0, 365, &r->n);
	}
	if (!p)
		return NULL;
	r->time = 2 * 3600;
	if (*p == '/') /* RFC 8536 allows -167..167 hours */
		p = parse_hms(p + 1, 167, &r->time);
	return p;
}

/* "GMT0BST,M3.5.0/1,M10.5.0", "EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", ... */
static int parse_posix_tz(const char *s, tz_rule *r)
{
	int32_t v;
	const char *p = parse_tz_name(s);

	memset(r, 0, sizeof(*r));
	if (!p || !(p = parse_hms(p, 24, &v)))
		return -1;
	r->std_off = -v; /* POSIX offsets count hours west of Greenwich */
	if (!*p)
		return 0;
	if (!(p = parse_tz_name(p)))
		return -1;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, 24, &v)))
			return -1;
		r->dst_off = -v;
	}
	if (!*p) {
		/* No rules: the traditional US default, as tzcode does. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p++ != ',' || !(p = parse_rule_day(p, &r->start)) || *p++ != ',' ||
	    !(p = parse_rule_day(p, &r->end)) || *p)
		return -1;
	return 0;
}

/* ---- TZif ------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
	uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static size_t tzif_header(const uint8_t *p, size_t len, tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return 0;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	return 44;
}

static uint64_t tzif_data_size(const tzif_counts *c, int tsize)
{
	return (uint64_t)c->time * (tsize + 1) + (uint64_t)c->type * 6 + c->chars +
	       (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int parse_tzif(pw_tz *tz, const uint8_t *buf, size_t len)
{
	tzif_counts c;
	int tsize = 4;
	size_t off = tzif_header(buf, len, &c);
	if (!off)
		return -1;
	uint8_t version = buf[4];
	if (version >= '2') {
		uint64_t skip = tzif_data_size(&c, 4);
		if (skip > len - off)
			return -1;
		off += skip;
		size_t h = tzif_header(buf + off, len - off, &c);
		if (!h)
			return -1;
		off += h;
		tsize = 8;
	}
	if (c.type == 0 || c.type > 256 || c.time > 1000000 ||
	    tzif_data_size(&c, tsize) > len - off)
		return -1;
	/* "right/" zones count leap seconds, so their instants are not Unix time. */
	if (c.leap != 0)
		return -1;
	const uint8_t *p = buf + off;
	const uint8_t *idx = p + (size_t)c.time * tsize;
	const uint8_t *types = idx + c.time;

	tz->ntrans = c.time;
	tz->ntypes = c.type;
	tz->trans = pw_xcalloc(c.time ? c.time : 1, sizeof(*tz->trans));
	tz->tidx = pw_xcalloc(c.time ? c.time : 1, 1);
	tz->utoff = pw_xcalloc(c.type, sizeof(*tz->utoff));
	for (uint32_t i = 0; i < c.type; i++) {
		int32_t u = (int32_t)be32(types + 6 * i);
		if (u < -TZ_MAX_UTOFF || u > TZ_MAX_UTOFF)
			return -1;
		tz->utoff[i] = u;
	}
	for (uint32_t i = 0; i < c.time; i++) {
		int64_t t = tsize == 8 ? be64(p + 8 * i) : (int64_t)(int32_t)be32(p + 4 * i);
		if (i > 0 && t <= tz->trans[i - 1])
			return -1;
		if (idx[i] >= c.type)
			return -1;
		tz->trans[i] = clamp_t(t);
		tz->tidx[i] = idx[i];
	}
	off += tzif_data_size(&c, tsize);

	/* Version 2+: "\n<POSIX TZ string>\n".  An empty string means none. */
	if (tsize == 8 && off < len) {
		const char *f = (const char *)buf + off;
		size_t flen = len - off;
		const char *nl = flen > 1 ? memchr(f + 1, '\n', flen - 1) : NULL;
		if (f[0] != '\n' || !nl)
			return -1;
		if (nl > f + 1) {
			char *s = pw_xstrndup(f + 1, (size_t)(nl - f - 1));
			int rc = parse_posix_tz(s, &tz->rule);
			free(s);
			if (rc < 0)
				return -1;
			tz->has_rule = true;
		}
	}
	return 0;
}

static bool valid_zone_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255 || name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' ||
		      ch == '+' || ch == '.'))
			return false;
	}
	return true;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf = NULL;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= TZ_MAX_FILE) {
		buf = pw_xmalloc((size_t)st.st_size);
		*len = fread(buf, 1, (size_t)st.st_size, f);
		if (*len != (size_t)st.st_size) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

pw_tz *pw_tz_load(const char *name)
{
	pw_tz *tz;

	if (!name)
		return NULL;
	tz = pw_xcalloc(1, sizeof(*tz));
	if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC") || !strcmp(name, "Z")) {
		tz->ntypes = 1;
		tz->utoff = pw_xcalloc(1, sizeof(*tz->utoff));
		return tz;
	}
	if (!valid_zone_name(name)) {
		free(tz);
		return NULL;
	}
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	char *path = pw_xasprintf("%s/%s", dir, name);
	size_t len = 0;
	uint8_t *buf = read_file(path, &len);
	free(path);
	if (!buf || parse_tzif(tz, buf, len) < 0) {
		free(buf);
		pw_tz_free(tz);
		return NULL;
	}
	free(buf);
	return tz;
}

void pw_tz_free(pw_tz *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->tidx);
	free(tz->utoff);
	free(tz);
}

void pw_tz_segment(const pw_tz *tz, int64_t t, int32_t *off, int64_t *end)
{
	t = clamp_t(t);
	if (!tz) {
		*off = 0;
		*end = INT64_MAX;
		return;
	}
	if (tz->ntrans == 0) {
		/* Without transitions the footer, if any, describes all time. */
		if (tz->has_rule) {
			rule_segment(&tz->rule, t, off, end);
		} else {
			*off = tz->utoff[0];
			*end = INT64_MAX;
		}
		return;
	}
	if (t < tz->trans[0]) {
		*off = tz->utoff[0]; /* type 0 before the first transition */
		*end = tz->trans[0];
		return;
	}
	size_t lo = 0, hi = tz->ntrans; /* find the last trans[i] <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo + 1 < tz->ntrans) {
		*off = tz->utoff[tz->tidx[lo]];
		*end = tz->trans[lo + 1];
	} else if (tz->has_rule) {
		rule_segment(&tz->rule, t, off, end);
	} else {
		*off = tz->utoff[tz->tidx[lo]];
		*end = INT64_MAX;
	}
}

int32_t pw_tz_offset_at(const pw_tz *tz, int64_t t)
{
	int32_t off;
	int64_t end;
	pw_tz_segment(tz, t, &off, &end);
	return off;
}

void pw_tz_to_civil(const pw_tz *tz, int64_t t, pw_civil *out)
{
	int64_t local = clamp_t(t) + pw_tz_offset_at(tz, t);
	int64_t days = pw_floor_div(local, 86400), y;
	int sod = (int)(local - days * 86400);

	pw_civil_from_days(days, &y, &out->month, &out->day);
	out->year = (int)y;
	out->hour = sod / 3600;
	out->minute = sod / 60 % 60;
	out->second = sod % 60;
	out->wday = pw_wday_of_days(days);
}
