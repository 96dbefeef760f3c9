#include "pitwall/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "pitwall/run.h"
#include "pitwall/util.h"

static bool inited, injected;
static int64_t base_s;	  /* virtual time at base_mono */
static int64_t base_mono; /* ms */
static double scale = 1.0;

static void init(void)
{
	if (inited)
		return;
	inited = true;
	const char *sc = getenv("PITWALL_TIME_SCALE");
	if (sc && *sc) {
		double v = strtod(sc, NULL);
		if (v > 0)
			scale = v;
	}
	const char *now = getenv("PITWALL_NOW");
	int64_t t;
	if (now && *now && pw_parse_iso8601(now, &t) == 0) {
		base_s = t;
		injected = true;
	} else {
		if (now && *now)
			fprintf(stderr,
				"pitwall: warning: ignoring PITWALL_NOW='%s' (not ISO 8601)\n",
				now);
		base_s = pw_now_wall_ms() / 1000;
	}
	base_mono = pw_now_mono_ms();
}

int64_t pw_clock_now(void)
{
	init();
	if (!injected && scale == 1.0)
		return pw_now_wall_ms() / 1000;
	return base_s + (int64_t)((double)(pw_now_mono_ms() - base_mono) * scale / 1000.0);
}

void pw_clock_set(int64_t t)
{
	init();
	base_s = t;
	base_mono = pw_now_mono_ms();
	injected = true;
}

int64_t pw_clock_ms_until(int64_t t)
{
	int64_t now = pw_clock_now();
	if (t <= now)
		return 0;
	double ms = (double)(t - now) * 1000.0 / scale;
	if (ms > 86400000.0)
		ms = 86400000.0;
	return (int64_t)ms + 1;
}

int pw_clock_injected(void)
{
	init();
	return injected;
}
