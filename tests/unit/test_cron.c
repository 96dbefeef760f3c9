/*
 * Cron parsing, Vixie day matching, time zones (TZif files and POSIX TZ
 * footers) and next-fire computation across daylight-saving changes.
 */
#include "pitwall/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pw_test.h"

/* Unix seconds of a UTC civil time (timegm ignores TZ). */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static const char *fmt_utc(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%MZ", &tm);
	return buf;
}

static pw_cron parse_ok(const char *expr)
{
	pw_cron c;
	pw_cron_error e;
	memset(&c, 0, sizeof(c));
	int rc = pw_cron_parse(&c, expr, &e);
	PW_CHECK(rc == 0, "parse '%s'%s%s", expr, rc ? ": " : "", rc ? e.msg : "");
	return c;
}

static void parse_bad(const char *expr, int field, int col, const char *msg)
{
	pw_cron c;
	pw_cron_error e;
	int rc = pw_cron_parse(&c, expr, &e);
	PW_CHECK(rc == -1, "'%s' is rejected", expr);
	PW_CHECK_STR(e.msg, msg, "'%s' message", expr);
	PW_CHECK_INT(e.col, col, "'%s' column", expr);
	PW_CHECK_INT(e.field, field, "'%s' field", expr);
}

/* Check the next n fires after `after` against want[] (UTC instants). */
static void expect_fires(const char *expr, const pw_tz *tz, const char *zone, int64_t after,
			 const int64_t *want, int n)
{
	pw_cron c = parse_ok(expr);
	char b1[32], b2[32], b3[32];
	for (int i = 0; i < n; i++) {
		int64_t got = 0;
		int rc = pw_cron_next(&c, tz, after, &got);
		PW_CHECK(rc == 0 && got == want[i], "'%s' in %s fire %d after %s: %s (want %s)",
			 expr, zone, i + 1, fmt_utc(after, b1), rc ? "none" : fmt_utc(got, b2),
			 fmt_utc(want[i], b3));
		if (rc)
			return;
		after = got;
	}
}

static void test_parse_good(void)
{
	pw_cron c = parse_ok("*/15 * * * *");
	PW_CHECK_INT(c.minutes, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45), "*/15");
	PW_CHECK_INT(c.hours, 0xffffff, "* hours");
	PW_CHECK_INT(c.mdays, 0xfffffffe, "* mdays");
	PW_CHECK_INT(c.months, 0x1ffe, "* months");
	PW_CHECK_INT(c.wdays, 0x7f, "* wdays");
	PW_CHECK(c.mday_star && c.wday_star, "stars");

	c = parse_ok("1-30/5 0,12 1 jan-MAR Mon-fri");
	PW_CHECK_INT(c.minutes,
		     (1ull << 1) | (1ull << 6) | (1ull << 11) | (1ull << 16) | (1ull << 21) |
			 (1ull << 26),
		     "1-30/5");
	PW_CHECK_INT(c.hours, (1 << 0) | (1 << 12), "0,12");
	PW_CHECK_INT(c.mdays, 1 << 1, "1");
	PW_CHECK_INT(c.months, 0xe, "jan-MAR");
	PW_CHECK_INT(c.wdays, 0x3e, "Mon-fri");
	PW_CHECK(!c.mday_star && !c.wday_star, "no stars");

	c = parse_ok("5/20 \t 22/1   * DEC sun");
	PW_CHECK_INT(c.minutes, (1ull << 5) | (1ull << 25) | (1ull << 45), "5/20 is 5-59/20");
	PW_CHECK_INT(c.hours, (1 << 22) | (1 << 23), "22/1 is 22-23");
	PW_CHECK_INT(c.months, 1 << 12, "DEC");
	PW_CHECK_INT(c.wdays, 1, "sun");

	c = parse_ok("0 0 * * 7");
	PW_CHECK_INT(c.wdays, 1, "7 is Sunday");
	c = parse_ok("0 0 * * 5-7");
	PW_CHECK_INT(c.wdays, (1 << 5) | (1 << 6) | 1, "5-7 is fri,sat,sun");
	c = parse_ok("0 0 * * 0-7");
	PW_CHECK_INT(c.wdays, 0x7f, "0-7 is every day");
	c = parse_ok("0 0 */2 * 1");
	PW_CHECK(c.mday_star && !c.wday_star, "*/2 counts as a star (Vixie)");
	PW_CHECK_INT(c.mdays, 0xaaaaaaaa, "*/2 days are odd");
	c = parse_ok("  0 0 1 * *  ");
	PW_CHECK_INT(c.mdays, 2, "surrounding blanks");
	c = parse_ok("0 0 1,15 * *");
	PW_CHECK_INT(c.mdays, (1 << 1) | (1 << 15), "list");

	static const struct {
		const char *macro, *same;
	} macros[] = {
	    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},	  {"@midnight", "0 0 * * *"},
	    {"@hourly", "0 * * * *"}, {" @DAILY ", "0 0 * * *"},
	};
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		pw_cron a = parse_ok(macros[i].macro), b = parse_ok(macros[i].same);
		PW_CHECK(memcmp(&a, &b, sizeof(a)) == 0, "%s is '%s'", macros[i].macro,
			 macros[i].same);
	}
}

static void test_parse_bad(void)
{
	parse_bad("60 * * * *", 0, 1, "minute value 60 is out of range 0-59");
	parse_bad("* 24 * * *", 1, 3, "hour value 24 is out of range 0-23");
	parse_bad("* * 0 * *", 2, 5, "day-of-month value 0 is out of range 1-31");
	parse_bad("* * 32 * *", 2, 5, "day-of-month value 32 is out of range 1-31");
	parse_bad("* * * 13 *", 3, 7, "month value 13 is out of range 1-12");
	parse_bad("* * * * 8", 4, 9, "day-of-week value 8 is out of range 0-7");
	parse_bad("0 0 1 1 1-9", 4, 11, "day-of-week value 9 is out of range 0-7");
	parse_bad("* * * * * *", -1, 11,
		  "expected 5 fields (minute hour day-of-month month day-of-week), got 6");
	parse_bad("* * * * * * *", -1, 11,
		  "expected 5 fields (minute hour day-of-month month day-of-week), got 7");
	parse_bad("* * *", -1, 6,
		  "expected 5 fields (minute hour day-of-month month day-of-week), got 3");
	parse_bad("", -1, 1,
		  "empty cron expression: expected 5 fields (minute hour day-of-month month "
		  "day-of-week)");
	parse_bad("0 5-2 * * *", 1, 3, "hour range 5-2 is backwards");
	parse_bad("0 0 * * sat-sun", 4, 9,
		  "day-of-week range sat-sun is backwards (Sunday ends a range as 7)");
	parse_bad("*/0 * * * *", 0, 3, "minute step 0 is not allowed");
	parse_bad("0 0 1-10/0 * *", 2, 10, "day-of-month step 0 is not allowed");
	parse_bad("*/60 * * * *", 0, 3, "minute step 60 is out of range 1-59");
	parse_bad("1/x * * * *", 0, 3, "minute step 'x' is not a number");
	parse_bad("1/ * * * *", 0, 2, "minute step is missing after '/'");
	parse_bad("0 0 * jna *", 3, 7, "unknown month name 'jna'");
	parse_bad("0 0 * * monday", 4, 9, "unknown day-of-week name 'monday'");
	parse_bad("0 0 jan * *", 2, 5, "day-of-month value 'jan' is not a number");
	parse_bad("0 mon * * *", 1, 3, "hour value 'mon' is not a number");
	parse_bad("1,,2 * * * *", 0, 3, "empty item in minute list");
	parse_bad("1, * * * *", 0, 2, "minute list ends with ','");
	parse_bad("*5 * * * *", 0, 2, "unexpected character '5' in minute field");
	parse_bad("0 1-* * * *", 1, 5, "unexpected character '*' in hour field");
	parse_bad("0 0 1- * *", 2, 5, "day-of-month range '1-' has no end");
	parse_bad("0 0 ? * *", 2, 5, "unexpected character '?' in day-of-month field");
	parse_bad("99999999999 * * * *", 0, 1, "minute value 99999999999 is out of range 0-59");
	parse_bad("@reboot", -1, 1, "@reboot is not supported: pitwall schedules by time only");
	parse_bad("  @daily x", -1, 10,
		  "unexpected text after @daily (a macro replaces all 5 fields)");
	parse_bad("@often", -1, 1,
		  "unknown macro '@often' (known: @yearly @annually @monthly @weekly @daily "
		  "@midnight @hourly)");

	pw_cron c;
	PW_CHECK(pw_cron_parse(&c, NULL, NULL) == -1, "NULL expression, NULL err");
}

static void test_next_utc(void)
{
	pw_tz *tz = pw_tz_load("UTC");
	PW_CHECK(tz != NULL, "UTC loads");
	int64_t t0 = utc(2026, 1, 1, 0, 0);

	int64_t w1[] = {utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 0, 45),
			utc(2026, 1, 1, 1, 0)};
	expect_fires("*/15 * * * *", tz, "UTC", t0, w1, 4);
	/* strictly after: from 00:14:59 the next is 00:15 */
	expect_fires("*/15 * * * *", tz, "UTC", t0 + 14 * 60 + 59, w1, 1);

	/* Vixie OR: Friday or the 13th (2026-01-02 is a Friday). */
	int64_t w2[] = {utc(2026, 1, 2, 0, 0), utc(2026, 1, 9, 0, 0), utc(2026, 1, 13, 0, 0),
			utc(2026, 1, 16, 0, 0)};
	expect_fires("0 0 13 * 5", tz, "UTC", t0, w2, 4);
	/* A '*' field (even "*\/2") makes it AND: odd days that are Mondays. */
	int64_t w3[] = {utc(2026, 1, 5, 0, 0), utc(2026, 1, 19, 0, 0), utc(2026, 2, 9, 0, 0),
			utc(2026, 2, 23, 0, 0)};
	expect_fires("0 0 */2 * 1", tz, "UTC", t0, w3, 4);
	/* Names, lists and ranges. */
	int64_t w4[] = {utc(2026, 1, 1, 9, 30), utc(2026, 1, 2, 9, 30), utc(2026, 1, 5, 9, 30),
			utc(2026, 7, 1, 9, 30)};
	expect_fires("30 9 * jan,JUL mon-fri", tz, "UTC", t0, w4, 3);
	expect_fires("30 9 * jan,JUL mon-fri", tz, "UTC", utc(2026, 1, 31, 0, 0), w4 + 3, 1);
	/* Steps with an offset start. */
	int64_t w5[] = {utc(2026, 1, 1, 1, 5), utc(2026, 1, 1, 1, 15), utc(2026, 1, 1, 1, 25)};
	expect_fires("5/10 1 * * *", tz, "UTC", t0, w5, 3);
	/* Leap day only. */
	int64_t w6[] = {utc(2028, 2, 29, 0, 0), utc(2032, 2, 29, 0, 0)};
	expect_fires("0 0 29 2 *", tz, "UTC", t0, w6, 2);
	/* Macros. */
	int64_t w7[] = {utc(2027, 1, 1, 0, 0)};
	expect_fires("@yearly", tz, "UTC", t0, w7, 1);
	int64_t w8[] = {utc(2026, 1, 4, 0, 0)};
	expect_fires("@weekly", tz, "UTC", t0, w8, 1);
	/* Year end rollover. */
	int64_t w9[] = {utc(2026, 12, 31, 23, 59), utc(2027, 12, 31, 23, 59)};
	expect_fires("59 23 31 12 *", tz, "UTC", utc(2026, 6, 1, 0, 0), w9, 2);

	pw_cron c = parse_ok("0 0 30 2 *");
	int64_t out = 0;
	PW_CHECK_INT(pw_cron_next(&c, tz, t0, &out), -1, "'0 0 30 2 *' never fires");
	c = parse_ok("0 0 31 4,6,9,11 *");
	PW_CHECK_INT(pw_cron_next(&c, tz, t0, &out), -1, "'0 0 31 4,6,9,11 *' never fires");
	PW_CHECK_INT(pw_cron_next(&c, NULL, t0, &out), -1, "NULL zone is UTC");
	c = parse_ok("0 12 * * *");
	PW_CHECK(pw_cron_next(&c, NULL, t0, &out) == 0 && out == utc(2026, 1, 1, 12, 0),
		 "NULL zone is UTC");

	/* Far from the epoch in both directions. */
	c = parse_ok("0 0 1 1 *");
	PW_CHECK(pw_cron_next(&c, tz, utc(1969, 6, 1, 0, 0), &out) == 0 &&
		     out == utc(1970, 1, 1, 0, 0),
		 "before the epoch");
	pw_tz_free(tz);

	static const char *const utc_names[] = {"Etc/UTC", "Z"};
	for (int i = 0; i < 2; i++) {
		tz = pw_tz_load(utc_names[i]);
		PW_CHECK(tz && pw_tz_offset_at(tz, utc(2026, 7, 1, 0, 0)) == 0, "%s is UTC",
			 utc_names[i]);
		pw_tz_free(tz);
	}
}

static void test_zone_names(void)
{
	PW_CHECK(pw_tz_load("../../../etc/passwd") == NULL, "'..' rejected");
	PW_CHECK(pw_tz_load("Europe/../Europe/London") == NULL, "'..' inside rejected");
	PW_CHECK(pw_tz_load("/usr/share/zoneinfo/Europe/London") == NULL, "absolute rejected");
	PW_CHECK(pw_tz_load("") == NULL, "empty rejected");
	PW_CHECK(pw_tz_load(NULL) == NULL, "NULL rejected");
	PW_CHECK(pw_tz_load("Mars/Olympus_Mons") == NULL, "unknown zone");
	PW_CHECK(pw_tz_load("Europe") == NULL, "a directory is not a zone");
	if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0 && !getenv("TZDIR"))
		PW_CHECK(pw_tz_load("right/UTC") == NULL, "leap-second zones are rejected");

	/* UTC needs no tzdata. */
	const char *old = getenv("TZDIR");
	char *saved = old ? strdup(old) : NULL;
	setenv("TZDIR", "/nonexistent-pitwall", 1);
	pw_tz *tz = pw_tz_load("UTC");
	PW_CHECK(tz != NULL && pw_tz_offset_at(tz, 1700000000) == 0, "UTC without tzdata");
	pw_tz_free(tz);
	PW_CHECK(pw_tz_load("Europe/London") == NULL, "TZDIR is honoured");
	if (saved) {
		setenv("TZDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TZDIR");
	}
}

static void check_civil(const pw_tz *tz, const char *zone, int64_t t, int y, int mo, int d, int h,
			int mi, int wday)
{
	pw_civil c;
	char b[32];
	pw_tz_to_civil(tz, t, &c);
	PW_CHECK(c.year == y && c.month == mo && c.day == d && c.hour == h && c.minute == mi &&
		     c.wday == wday,
		 "%s civil at %s: %04d-%02d-%02d %02d:%02d wday %d", zone, fmt_utc(t, b), c.year,
		 c.month, c.day, c.hour, c.minute, c.wday);
}

static void test_offsets(pw_tz *lon, pw_tz *ny)
{
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 7, 1, 0, 0)), 3600, "London summer");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 1, 15, 12, 0)), 0, "London winter");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 3, 29, 0, 59)), 0, "London before spring");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 3, 29, 1, 0)), 3600, "London at spring");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 10, 25, 0, 59)), 3600, "London before fall");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2026, 10, 25, 1, 0)), 0, "London at fall");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(2060, 7, 1, 0, 0)), 3600, "London 2060 (footer)");
	PW_CHECK_INT(pw_tz_offset_at(lon, utc(1970, 1, 1, 0, 0)), 3600,
		     "London 1970 (British Standard Time)");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 7, 1, 0, 0)), -4 * 3600, "New York summer");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 1, 15, 0, 0)), -5 * 3600, "New York winter");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 3, 8, 6, 59)), -5 * 3600, "NY before spring");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 3, 8, 7, 0)), -4 * 3600, "NY at spring");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 11, 1, 5, 59)), -4 * 3600, "NY before fall");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2026, 11, 1, 6, 0)), -5 * 3600, "NY at fall");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2099, 1, 1, 0, 0)), -5 * 3600, "NY 2099 (footer)");
	PW_CHECK_INT(pw_tz_offset_at(ny, utc(2099, 8, 1, 0, 0)), -4 * 3600, "NY 2099 summer");

	check_civil(lon, "London", utc(2026, 7, 1, 0, 0), 2026, 7, 1, 1, 0, 3);
	check_civil(ny, "New York", utc(2026, 7, 1, 0, 0), 2026, 6, 30, 20, 0, 2);
	check_civil(ny, "New York", utc(2026, 1, 1, 4, 59), 2025, 12, 31, 23, 59, 3);
	check_civil(ny, "New York", utc(1960, 3, 1, 12, 0), 1960, 3, 1, 7, 0, 2);
}

/* "0 2 * * 1" all year: one fire per Monday, each at 02:00 local, 7 days apart. */
static void test_weekly_year(pw_tz *tz, const char *zone)
{
	pw_cron c = parse_ok("0 2 * * 1");
	int64_t t = utc(2025, 12, 31, 12, 0), end = utc(2027, 1, 1, 12, 0), prev_day = 0;
	int n = 0, bad = 0;
	pw_civil cv;
	while (pw_cron_next(&c, tz, t, &t) == 0 && t < end) {
		pw_tz_to_civil(tz, t, &cv);
		if (cv.year != 2026)
			break;
		int64_t day = (t + pw_tz_offset_at(tz, t)) / 86400;
		if (cv.wday != 1 || cv.hour != 2 || cv.minute != 0 || (n && day != prev_day + 7))
			bad++;
		prev_day = day;
		n++;
	}
	/* 2026 starts on a Thursday and is not a leap year: 52 Mondays. */
	PW_CHECK_INT(n, 52, "%s: '0 2 * * 1' fires on every Monday of 2026", zone);
	PW_CHECK_INT(bad, 0, "%s: every fire is Monday 02:00 local, a week apart", zone);
}

static void test_dst_london(pw_tz *lon)
{
	const char *z = "Europe/London";
	/* Spring forward 2026-03-29 01:00 GMT -> 02:00 BST: 01:30 does not exist. */
	int64_t a[] = {utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)};
	expect_fires("30 1 * * *", lon, z, utc(2026, 3, 27, 12, 0), a, 3);
	/* Several times in the gap, and 02:00 itself, collapse into one fire. */
	int64_t b[] = {utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 0)};
	expect_fires("0,30 1,2 * * *", lon, z, utc(2026, 3, 29, 0, 0), b, 3);
	/* Interval jobs go on by elapsed time: no catch-up in the gap. */
	int64_t c[] = {utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)};
	expect_fires("30 * * * *", lon, z, utc(2026, 3, 29, 0, 0), c, 3);
	int64_t d[] = {utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 15)};
	expect_fires("*/15 * * * *", lon, z, utc(2026, 3, 29, 0, 30), d, 3);

	/* Fall back 2026-10-25 02:00 BST -> 01:00 GMT: 01:00-01:59 happens twice. */
	int64_t e[] = {utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
		       utc(2026, 10, 26, 1, 30)};
	expect_fires("30 1 * * *", lon, z, utc(2026, 10, 23, 12, 0), e, 3);
	/* From inside the second 01:xx, the first occurrence is already past. */
	int64_t f[] = {utc(2026, 10, 26, 1, 30)};
	expect_fires("30 1 * * *", lon, z, utc(2026, 10, 25, 1, 10), f, 1);
	/* Fixed hour, several minutes: once each, in the first 01:xx. */
	int64_t g[] = {utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 30),
		       utc(2026, 10, 25, 0, 45), utc(2026, 10, 26, 1, 0)};
	expect_fires("*/15 1 * * *", lon, z, utc(2026, 10, 24, 12, 0), g, 5);
	/* Every-hour jobs keep firing by real time through the repeated hour. */
	int64_t h[] = {utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 1, 0),  utc(2026, 10, 25, 1, 15),
		       utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 45), utc(2026, 10, 25, 2, 0)};
	expect_fires("*/15 * * * *", lon, z, utc(2026, 10, 25, 0, 30), h, 6);
	int64_t i[] = {utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0)};
	expect_fires("0 * * * *", lon, z, utc(2026, 10, 24, 23, 30), i, 3);
}

static void test_dst_new_york(pw_tz *ny)
{
	const char *z = "America/New_York";
	/* Spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC). */
	int64_t a[] = {utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)};
	expect_fires("30 2 * * *", ny, z, utc(2026, 3, 7, 0, 0), a, 3);
	int64_t b[] = {utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 0)};
	expect_fires("0 2 * * *", ny, z, utc(2026, 3, 8, 0, 0), b, 2);
	int64_t c[] = {utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0)};
	expect_fires("0 * * * *", ny, z, utc(2026, 3, 8, 5, 30), c, 3);

	/* Fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC). */
	int64_t d[] = {utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)};
	expect_fires("30 1 * * *", ny, z, utc(2026, 10, 31, 12, 0), d, 2);
	int64_t e[] = {utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 6, 0),
		       utc(2026, 11, 1, 7, 0)};
	expect_fires("0 * * * *", ny, z, utc(2026, 11, 1, 3, 30), e, 4);
	/* 02:00 exists once (EST); 01:00 only its first time. */
	int64_t f[] = {utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0), utc(2026, 11, 2, 6, 0)};
	expect_fires("0 1,2 * * *", ny, z, utc(2026, 11, 1, 0, 0), f, 3);
}

/* A minimal version 2 TZif file: no transitions, one type, the footer. */
static int write_tzif(const char *dir, const char *name, const char *footer)
{
	unsigned char hdr[44];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	for (int v = 0; v < 2; v++) {
		memset(hdr, 0, sizeof(hdr));
		memcpy(hdr, "TZif2", 5);
		hdr[39] = 1; /* typecnt */
		hdr[43] = 4; /* charcnt */
		fwrite(hdr, 1, sizeof(hdr), f);
		static const unsigned char type[6] = {0, 0, 0, 0, 0, 0};
		fwrite(type, 1, sizeof(type), f);
		fwrite("XXX", 1, 4, f);
	}
	fprintf(f, "\n%s\n", footer);
	return fclose(f);
}

static void test_footers(void)
{
	char dir[] = "/tmp/pw-test-cron-XXXXXX";
	if (!mkdtemp(dir)) {
		PW_CHECK(0, "mkdtemp");
		return;
	}
	static const struct {
		const char *footer;
		int y, mo, d, h, mi; /* a change, in UTC */
		int32_t before, after;
	} cases[] = {
	    {"GMT0BST,M3.5.0/1,M10.5.0", 2026, 3, 29, 1, 0, 0, 3600},
	    {"GMT0BST,M3.5.0/1,M10.5.0", 2026, 10, 25, 1, 0, 3600, 0},
	    {"EST5EDT,M3.2.0,M11.1.0", 2026, 3, 8, 7, 0, -18000, -14400},
	    {"EST5EDT,M3.2.0,M11.1.0", 2026, 11, 1, 6, 0, -14400, -18000},
	    {"EST5EDT", 2026, 11, 1, 6, 0, -14400, -18000}, /* default rules */
	    /* southern hemisphere */
	    {"AEST-10AEDT,M10.1.0,M4.1.0/3", 2026, 4, 4, 16, 0, 39600, 36000},
	    {"AEST-10AEDT,M10.1.0,M4.1.0/3", 2026, 10, 3, 16, 0, 36000, 39600},
	    /* negative and over-24h rule times */
	    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 2026, 3, 29, 1, 0, -10800, -7200},
	    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 2026, 10, 25, 1, 0, -7200, -10800},
	    {"IST-2IDT,M3.4.4/26,M10.5.0", 2026, 3, 27, 0, 0, 7200, 10800},
	    {"IST-2IDT,M3.4.4/26,M10.5.0", 2026, 10, 24, 23, 0, 10800, 7200},
	    /* Jn never counts Feb 29; n counts from 0 and does */
	    {"XXX3YYY,J60/1,300/-1", 2028, 3, 1, 4, 0, -10800, -7200},
	    {"XXX3YYY,J60/1,300/-1", 2028, 10, 27, 1, 0, -7200, -10800},
	    {"XXX3YYY,J60/1,300/-1", 2026, 10, 28, 1, 0, -7200, -10800},
	    {"ABC+5DEF+4,59/3,J59/4", 2028, 2, 29, 8, 0, -18000, -14400},
	    /* half-hour offsets */
	    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 2026, 4, 4, 15, 0, 39600, 37800},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "Test%zu", i);
		write_tzif(dir, name, cases[i].footer);
	}
	write_tzif(dir, "AllYearDST", "EST5EDT,0/0,J365/25");
	write_tzif(dir, "Fixed", "<+0545>-5:45");
	write_tzif(dir, "BadFooter", "EST5EDT,M13.1.0,M11.1.0");

	const char *old = getenv("TZDIR");
	char *saved = old ? strdup(old) : NULL;
	setenv("TZDIR", dir, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "Test%zu", i);
		pw_tz *tz = pw_tz_load(name);
		PW_CHECK(tz != NULL, "footer '%s' loads", cases[i].footer);
		if (!tz)
			continue;
		int64_t t = utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi);
		PW_CHECK_INT(pw_tz_offset_at(tz, t - 1), cases[i].before,
			     "'%s' just before %04d-%02d-%02d", cases[i].footer, cases[i].y,
			     cases[i].mo, cases[i].d);
		PW_CHECK_INT(pw_tz_offset_at(tz, t), cases[i].after, "'%s' at %04d-%02d-%02d",
			     cases[i].footer, cases[i].y, cases[i].mo, cases[i].d);
		pw_tz_free(tz);
	}
	pw_tz *tz = pw_tz_load("AllYearDST");
	int ok = tz != NULL;
	for (int64_t t = utc(2025, 12, 30, 0, 0); ok && t < utc(2026, 1, 3, 0, 0); t += 1800)
		ok = pw_tz_offset_at(tz, t) == -14400;
	PW_CHECK(ok, "'EST5EDT,0/0,J365/25' is daylight time all year, across new year");
	pw_tz_free(tz);
	tz = pw_tz_load("Fixed");
	PW_CHECK(tz && pw_tz_offset_at(tz, utc(2026, 6, 1, 0, 0)) == 5 * 3600 + 45 * 60,
		 "'<+0545>-5:45' fixed offset");
	pw_cron c = parse_ok("0 9 * * *");
	int64_t out = 0;
	PW_CHECK(tz && pw_cron_next(&c, tz, utc(2026, 6, 1, 0, 0), &out) == 0 &&
		     out == utc(2026, 6, 1, 3, 15),
		 "09:00 at +05:45 is 03:15 UTC");
	pw_tz_free(tz);
	PW_CHECK(pw_tz_load("BadFooter") == NULL, "a malformed footer is rejected");

	if (saved) {
		setenv("TZDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TZDIR");
	}
	char path[512];
	static const char *const names[] = {"AllYearDST", "Fixed", "BadFooter"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) + 3; i++) {
		if (i < sizeof(cases) / sizeof(cases[0]))
			snprintf(path, sizeof(path), "%s/Test%zu", dir, i);
		else
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i - sizeof(cases) / sizeof(cases[0])]);
		unlink(path);
	}
	rmdir(dir);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void bench(pw_tz *tz, const char *zone, const char *expr)
{
	pw_cron c = parse_ok(expr);
	int64_t t = utc(2026, 1, 1, 0, 0);
	int n = 0;
	double t0 = now_ms();
	for (; n < 10000; n++)
		if (pw_cron_next(&c, tz, t, &t) < 0)
			break;
	double ms = now_ms() - t0;
	printf("# 10000 next fires of '%s' in %s: %.2f ms\n", expr, zone, ms);
	PW_CHECK(n == 10000 && ms < 2000, "'%s' in %s: 10000 fires in %.2f ms", expr, zone, ms);
}

int main(void)
{
	test_parse_good();
	test_parse_bad();
	test_next_utc();
	test_zone_names();
	test_footers();

	pw_tz *lon = pw_tz_load("Europe/London"), *ny = pw_tz_load("America/New_York");
	if (!lon || !ny) {
		printf("# tzdata not found (install tzdata or set TZDIR): zone tests skipped\n");
		if (pw_test_failed)
			PW_TEST_DONE();
		return 77;
	}
	test_offsets(lon, ny);
	test_weekly_year(lon, "Europe/London");
	test_weekly_year(ny, "America/New_York");
	test_dst_london(lon);
	test_dst_new_york(ny);
	bench(lon, "Europe/London", "*/5 * * * *");
	bench(lon, "Europe/London", "0 2 * * 1");
	bench(ny, "America/New_York", "*/5 * * * *");
	bench(ny, "America/New_York", "0 2 * * 1");
	pw_tz_free(lon);
	pw_tz_free(ny);
	PW_TEST_DONE();
}
