/*
 * Durations and sizes as people write them in DAG files.
 *
 * Both parsers read the number as an integer part plus up to 18 fraction
 * digits and scale with integer arithmetic, so "1.5Gi" and "0.1s" are exact
 * and overflow is detected rather than wrapped.
 */
#include "pitwall/dag.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * Read digits[.digits] at *pp.  The value is ip + fp / fscale.  Returns -1
 * when there is no digit at all or the integer part overflows.
 */
static int read_number(const char **pp, uint64_t *ip, uint64_t *fp, uint64_t *fscale)
{
	const char *p = *pp;
	uint64_t i = 0, f = 0, sc = 1;
	int ndig = 0;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (i > (UINT64_MAX - d) / 10)
			return -1;
		i = i * 10 + d;
		p++;
		ndig++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (sc < UINT64_C(1000000000000000000)) {
				f = f * 10 + (uint64_t)(*p - '0');
				sc *= 10;
			}
			p++;
			ndig++;
		}
	}
	if (!ndig)
		return -1;
	*ip = i;
	*fp = f;
	*fscale = sc;
	*pp = p;
	return 0;
}

/* (ip + fp/fscale) * unit, rounded to nearest; -1 on overflow past INT64_MAX. */
static int scale(uint64_t ip, uint64_t fp, uint64_t fscale, uint64_t unit, int64_t *out)
{
	if (ip && unit > (uint64_t)INT64_MAX / ip)
		return -1;
	uint64_t v = ip * unit;
	if (fp) {
		/* fp/fscale < 1, so fp * unit / fscale < unit; split to avoid overflow. */
		uint64_t q = unit / fscale, r = unit % fscale;
		uint64_t frac = fp * q;
		/* r < fscale <= 1e18 and fp < fscale: use 128-bit for fp * r. */
		unsigned __int128 x = (unsigned __int128)fp * r;
		frac += (uint64_t)((x + fscale / 2) / fscale);
		if (frac > (uint64_t)INT64_MAX - v)
			return -1;
		v += frac;
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int pw_parse_duration(const char *s, int64_t *out_ms)
{
	if (!s)
		return -1;
	const char *p = s;
	bool neg = false;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (!*p)
		return -1;
	int64_t total = 0;
	int ncomp = 0;
	while (*p) {
		uint64_t ip, fp, fs;
		if (read_number(&p, &ip, &fp, &fs) < 0)
			return -1;
		uint64_t unit;
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000;
			p++;
		} else if (*p == '\0' && ncomp == 0) {
			unit = 1000; /* a bare number is seconds */
		} else {
			return -1;
		}
		int64_t v;
		if (scale(ip, fp, fs, unit, &v) < 0 || v > INT64_MAX - total)
			return -1;
		total += v;
		ncomp++;
	}
	/*
	 * At most 100 years: deadlines are "now + duration" in int64
	 * milliseconds, and nothing meaningful waits longer.
	 */
	if (total > (int64_t)100 * 366 * 86400 * 1000)
		return -1;
	*out_ms = neg ? -total : total;
	return 0;
}

int pw_parse_size(const char *s, int64_t *out_bytes)
{
	if (!s)
		return -1;
	const char *p = s;
	uint64_t ip, fp, fs;
	if (read_number(&p, &ip, &fp, &fs) < 0)
		return -1;
	static const char prefixes[] = "KMGTPE";
	uint64_t unit = 1;
	if (*p) {
		char c = *p == 'k' ? 'K' : *p;
		const char *at = c ? strchr(prefixes, c) : NULL;
		if (at) {
			int power = (int)(at - prefixes) + 1;
			p++;
			uint64_t base = 1000;
			if (*p == 'i') {
				base = 1024;
				p++;
			}
			for (int i = 0; i < power; i++)
				unit *= base;
		}
		if (*p == 'B')
			p++;
		if (*p)
			return -1;
	}
	int64_t v;
	if (scale(ip, fp, fs, unit, &v) < 0)
		return -1;
	*out_bytes = v;
	return 0;
}

void pw_format_duration(int64_t ms, char *buf, size_t size)
{
	if (!size)
		return;
	const char *sign = "";
	uint64_t u = (uint64_t)ms;
	if (ms < 0) {
		sign = "-";
		u = -(uint64_t)ms;
	}
	if (u < 1000)
		snprintf(buf, size, "%s%" PRIu64 "ms", sign, u);
	else if (u < 60 * 1000)
		snprintf(buf, size, "%s%" PRIu64 ".%" PRIu64 "s", sign, u / 1000, u % 1000 / 100);
	else if (u < 3600 * 1000)
		snprintf(buf, size, "%s%" PRIu64 "m%02" PRIu64 "s", sign, u / 60000, u / 1000 % 60);
	else if (u < 86400 * 1000)
		snprintf(buf, size, "%s%" PRIu64 "h%02" PRIu64 "m", sign, u / 3600000,
			 u / 60000 % 60);
	else
		snprintf(buf, size, "%s%" PRIu64 "d%02" PRIu64 "h", sign, u / 86400000,
			 u / 3600000 % 24);
}
