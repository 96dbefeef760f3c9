/*
 * Internal time-zone and calendar helpers shared by cron.c and tz.c.
 * "Local seconds" are seconds since 1970-01-01 00:00 on the local wall clock.
 */
#ifndef PW_SCHED_TZ_INTERNAL_H
#define PW_SCHED_TZ_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pitwall/cron.h"

/* Instants are clamped to this range (about +-35 million years) so that no
 * arithmetic on them can overflow. */
#define PW_TZ_T_MAX ((int64_t)1 << 50)

int64_t pw_floor_div(int64_t a, int64_t b);
int64_t pw_days_from_civil(int64_t y, int m, int d);
void pw_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
bool pw_is_leap(int64_t y);
int pw_days_in_month(int64_t y, int m);
/* 0 = Sunday. */
int pw_wday_of_days(int64_t days);

/*
 * The UTC offset in effect at t, and the first instant after t at which the
 * zone's rules change (INT64_MAX when they never do).  tz NULL means UTC.
 */
void pw_tz_segment(const pw_tz *tz, int64_t t, int32_t *off, int64_t *end);

#endif
