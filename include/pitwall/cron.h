/*
 * Cron expressions (Vixie semantics) and time zones.
 *
 * Five fields: minute hour day-of-month month day-of-week, each a list of
 * values, ranges (a-b), steps (*\/n, a-b/n, a/n) and names (jan..dec,
 * sun..sat; 7 is Sunday too), or one of the macros @yearly @annually
 * @monthly @weekly @daily @midnight @hourly.  When both day-of-month and
 * day-of-week are restricted (neither starts with '*'), a day matches when
 * either matches.
 *
 * Zones are read from the system's TZif files (/usr/share/zoneinfo, or
 * $TZDIR), including the POSIX TZ footer for dates past the table, so
 * nothing depends on the process-wide TZ variable.
 */
#ifndef PITWALL_CRON_H
#define PITWALL_CRON_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint64_t minutes; /* bits 0..59 */
	uint32_t hours;	  /* bits 0..23 */
	uint32_t mdays;	  /* bits 1..31 */
	uint16_t months;  /* bits 1..12 */
	uint8_t wdays;	  /* bits 0..6, Sunday = 0 */
	bool mday_star;	  /* day-of-month field started with '*' */
	bool wday_star;	  /* day-of-week field started with '*' */
} pw_cron;

typedef struct {
	int col;   /* 1-based column in the expression of the bad field or value */
	int field; /* 0..4, or -1 for the whole expression */
	char msg[160];
} pw_cron_error;

/* Returns 0, or -1 with err filled in ("day-of-week value 8 is out of range 0-7"). */
int pw_cron_parse(pw_cron *out, const char *expr, pw_cron_error *err);

typedef struct pw_tz pw_tz;

/* "UTC", "Europe/London", ...  Returns NULL for an unknown zone. */
pw_tz *pw_tz_load(const char *name);
void pw_tz_free(pw_tz *tz);
/* Offset from UTC in seconds at the instant t (Unix seconds). */
int32_t pw_tz_offset_at(const pw_tz *tz, int64_t t);

/* Broken-down local time. */
typedef struct {
	int year, month, day; /* month 1..12 */
	int hour, minute, second;
	int wday; /* 0 = Sunday */
} pw_civil;

void pw_tz_to_civil(const pw_tz *tz, int64_t t, pw_civil *out);

/*
 * The first fire strictly after `after` (Unix seconds), in zone tz.
 * Daylight saving: a local time that does not exist (spring forward) fires
 * once, at the first valid minute after the gap; a local time that occurs
 * twice (fall back) fires once, at its first occurrence.
 * Returns 0, or -1 when nothing matches within 5 years (e.g. "0 0 30 2 *").
 */
int pw_cron_next(const pw_cron *c, const pw_tz *tz, int64_t after, int64_t *out);

#endif
