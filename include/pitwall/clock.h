/*
 * The one clock every scheduling decision reads, so tests can inject time:
 * PITWALL_NOW (ISO 8601) or --now fixes "now" at start, and
 * PITWALL_TIME_SCALE (default 1) makes it run faster than real time
 * (3600: one real second is one virtual hour).  Sleeps are scaled to match.
 */
#ifndef PITWALL_CLOCK_H
#define PITWALL_CLOCK_H

#include <stdint.h>

/* Unix seconds. */
int64_t pw_clock_now(void);
/* Fix now at t (and restart the scaled clock from there). */
void pw_clock_set(int64_t t);
/* Real milliseconds to wait until virtual time t (0 if past; capped at 1 day). */
int64_t pw_clock_ms_until(int64_t t);
/* Whether time was injected (then nothing should wait on the real wall clock). */
int pw_clock_injected(void);

#endif
