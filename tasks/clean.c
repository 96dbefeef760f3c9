/*
 * f1-clean: raw/ -> clean/. Parses the raw tables (\N, quoting, m:ss.mmm lap
 * times, red-flag pit durations), puts every lap on the Ergast keys, fixes
 * the lap-timing source's numbering, computes the race order, and removes
 * outlier laps.
 *
 * Joining laps to drivers. The API names drivers by driverRef (id_kind ref);
 * the lap-times file by "forename_surname" (id_kind name), which is not the
 * driverRef ("charles_leclerc" is "leclerc"). A name is matched on letters
 * and digits only, accents folded, against forename+surname and
 * surname+forename ("zhou_guanyu" is Guanyu Zhou); several matches are
 * narrowed to the drivers with a result in that race. A driver that still
 * does not match is written to clean/unmatched_drivers.csv and warned about,
 * and --strict turns that into exit 65: never silently dropped.
 *
 * Lap numbering. In the lap-times file a lapped car's laps carry the
 * leader's lap numbers, so a driver can have lap 39 twice and no lap 40.
 * When a driver's number of timed laps equals the laps of their result, the
 * laps are renumbered 1..n in (lap, file order); otherwise a repeated lap
 * number keeps its first row and the rest are dropped and counted.
 *
 * Outliers. Laps under 30 s or over 500 s are removed; then, per race, laps
 * slower than the race's mean + 3 standard deviations (over the laps left)
 * are removed, except pit in and out laps, which are slow for a known reason
 * and only flagged. Removed laps go to clean/outliers.csv with the reason.
 * Cumulative race time and the running order are computed before removal,
 * over every timed lap.
 */
#include "pwt.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct race {
	long year, round, date, total_laps;
	const char *date_s, *circuit, *name;
};

struct driver {
	const char *ref, *code, *forename, *surname, *dob, *nationality;
};

struct result {
	int race, driver;
	long grid, position, order, laps, number, time_ms, fastest_ms;
	int has_pos, has_number, has_time, has_fastest;
	double points;
	const char *constructor, *status;
};

struct stop {
	int race, driver;
	long stop, lap, ms;
};

enum { KEEP, UNDER_30S, OVER_500S, ABOVE_MEAN_3SD };
static const char *const reasons[] = {"", "under_30s", "over_500s", "above_mean_3sd"};

struct lap {
	int race, driver;
	long src_lap, lap, ms, cum, pos;
	int has_pos, has_cum, pit_in, pit_out, reason;
	size_t row;
	const char *compound;
};

struct unmatched {
	int race;
	const char *source_id, *kind;
	long laps;
};

static struct race *races;
static size_t nraces, capraces;
static struct driver *drivers;
static size_t ndrivers, capdrivers;
static struct result *results;
static size_t nresults, capresults;
static struct stop *stops;
static size_t nstops, capstops;
static struct lap *laps;
static size_t nlaps, caplaps;
static struct unmatched *unmatched;
static size_t nunmatched, capunmatched;

static pwt_map race_idx = PWT_MAP_INIT;	  /* "year/round" */
static pwt_map driver_idx = PWT_MAP_INIT; /* driverRef */
static pwt_map name_idx = PWT_MAP_INIT;	  /* folded name -> first driver; see name_next */
static size_t *name_next;		  /* chain of drivers sharing a folded name */
static pwt_map result_idx = PWT_MAP_INIT; /* "race/driver" -> result */

static long n_renumbered, n_dup_dropped, n_unmatched_laps, n_cum_unknown;

static PWT_NORETURN void die(pwt_err *err)
{
	pwt_die_err(err);
}

static int find_race(const pwt_table *t, size_t r, int cy, int cr, pwt_err *err)
{
	int v = pwt_race_index(&race_idx, t, r, cy, cr, err);
	if (v < 0)
		die(err);
	return v;
}

static void load_races(pwt_table *t)
{
	static const char *const names[] = {"year", "round", "date", "name", "circuitRef"};
	int c[5];
	pwt_err err = PWT_ERR_INIT;

	if (pwt_cols(t, names, c, 5, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t->nrows; r++) {
		struct race ra = {0};
		if (pwt_req_long(t, r, c[0], &ra.year, &err) < 0 ||
		    pwt_req_long(t, r, c[1], &ra.round, &err) < 0 ||
		    pwt_req_str(t, r, c[2], &ra.date_s, &err) < 0 ||
		    pwt_cell_date(t, r, c[2], &ra.date, &err) < 0)
			die(&err);
		ra.name = pwt_cell(t, r, c[3]);
		ra.circuit = pwt_cell(t, r, c[4]);
		char *k = pwt_pair_key(ra.year, ra.round);
		if (!pwt_map_put(&race_idx, k, nraces, NULL)) {
			pwt_err_set(&err, PWT_EX_DATAERR, "%s:%u: duplicate race %ld round %ld",
				    t->path, t->lines[r], ra.year, ra.round);
			die(&err);
		}
		free(k);
		PWT_PUSH(races, nraces, capraces, ra);
	}
}

static void load_drivers(pwt_table *t)
{
	static const char *const names[] = {"driverRef", "code", "forename",
					    "surname",	 "dob",	 "nationality"};
	int c[6];
	pwt_err err = PWT_ERR_INIT;

	if (pwt_cols(t, names, c, 6, &err) < 0)
		die(&err);
	name_next = pwt_xmalloc((t->nrows + 1) * sizeof(size_t));
	for (size_t r = 0; r < t->nrows; r++) {
		struct driver d = {0};
		if (pwt_req_str(t, r, c[0], &d.ref, &err) < 0)
			die(&err);
		d.code = pwt_cell(t, r, c[1]);
		d.forename = pwt_cell(t, r, c[2]);
		d.surname = pwt_cell(t, r, c[3]);
		d.dob = pwt_cell(t, r, c[4]);
		d.nationality = pwt_cell(t, r, c[5]);
		if (!pwt_map_put(&driver_idx, d.ref, ndrivers, NULL)) {
			pwt_err_set(&err, PWT_EX_DATAERR, "%s:%u: duplicate driverRef '%s'",
				    t->path, t->lines[r], d.ref);
			die(&err);
		}
		/* Both name orders point at the driver; a chain holds namesakes. */
		name_next[ndrivers] = SIZE_MAX;
		if (d.forename && d.surname) {
			char *f = pwt_fold_alnum(d.forename), *s = pwt_fold_alnum(d.surname);
			char *k = pwt_xasprintf("%s%s", f, s);
			size_t old;
			if (!pwt_map_put(&name_idx, k, ndrivers, &old)) {
				size_t i = old;
				while (name_next[i] != SIZE_MAX)
					i = name_next[i];
				name_next[i] = ndrivers;
			}
			free(k);
			free(f);
			free(s);
		}
		PWT_PUSH(drivers, ndrivers, capdrivers, d);
	}
}

static void load_results(pwt_table *t)
{
	static const char *const names[] = {"year",	     "round", "driverRef", "constructorRef",
					    "number",	     "grid",  "position",  "positionOrder",
					    "points",	     "laps",  "status",	   "milliseconds",
					    "fastestLapTime"};
	int c[13];
	pwt_err err = PWT_ERR_INIT;

	if (pwt_cols(t, names, c, 13, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t->nrows; r++) {
		struct result re = {0};
		const char *ref;
		size_t v;
		int rc;

		re.race = find_race(t, r, c[0], c[1], &err);
		if (pwt_req_str(t, r, c[2], &ref, &err) < 0)
			die(&err);
		if (!pwt_map_get(&driver_idx, ref, &v)) {
			pwt_err_set(&err, PWT_EX_DATAERR,
				    "%s:%u: driverRef '%s' is not in drivers.csv", t->path,
				    t->lines[r], ref);
			die(&err);
		}
		re.driver = (int)v;
		re.constructor = pwt_cell(t, r, c[3]);
		if ((rc = pwt_cell_long(t, r, c[4], &re.number, &err)) < 0)
			die(&err);
		re.has_number = rc;
		if (pwt_req_long(t, r, c[5], &re.grid, &err) < 0)
			die(&err);
		if ((rc = pwt_cell_long(t, r, c[6], &re.position, &err)) < 0)
			die(&err);
		re.has_pos = rc;
		if (pwt_req_long(t, r, c[7], &re.order, &err) < 0)
			die(&err);
		if (pwt_cell_double(t, r, c[8], &re.points, &err) < 0)
			die(&err);
		if (pwt_cell_long(t, r, c[9], &re.laps, &err) < 0)
			die(&err);
		re.status = pwt_cell(t, r, c[10]);
		if ((rc = pwt_cell_long(t, r, c[11], &re.time_ms, &err)) < 0)
			die(&err);
		re.has_time = rc;
		if ((rc = pwt_cell_ms(t, r, c[12], &re.fastest_ms, &err)) < 0)
			die(&err);
		re.has_fastest = rc;
		char *k = pwt_pair_key(re.race, re.driver);
		pwt_map_put(&result_idx, k, nresults, NULL); /* shared drives: first car */
		free(k);
		if (re.order == 1 && re.laps > races[re.race].total_laps)
			races[re.race].total_laps = re.laps;
		PWT_PUSH(results, nresults, capresults, re);
	}
}

static void load_stops(pwt_table *t)
{
	static const char *const names[] = {"year", "round", "driverRef",
					    "stop", "lap",   "duration"};
	int c[6];
	pwt_err err = PWT_ERR_INIT;

	if (pwt_cols(t, names, c, 6, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t->nrows; r++) {
		struct stop s = {0};
		const char *ref;
		size_t v;
		s.race = find_race(t, r, c[0], c[1], &err);
		if (pwt_req_str(t, r, c[2], &ref, &err) < 0)
			die(&err);
		if (!pwt_map_get(&driver_idx, ref, &v)) {
			pwt_err_set(&err, PWT_EX_DATAERR,
				    "%s:%u: driverRef '%s' is not in drivers.csv", t->path,
				    t->lines[r], ref);
			die(&err);
		}
		s.driver = (int)v;
		if (pwt_req_long(t, r, c[3], &s.stop, &err) < 0 ||
		    pwt_req_long(t, r, c[4], &s.lap, &err) < 0)
			die(&err);
		int rc = pwt_cell_ms(t, r, c[5], &s.ms, &err);
		if (rc < 0)
			die(&err);
		if (rc == 0)
			s.ms = -1;
		PWT_PUSH(stops, nstops, capstops, s);
	}
}

/* The driver a lap row names, or -1. */
static int match_driver(int race, const char *id, const char *kind)
{
	size_t v;

	if (strcmp(kind, "ref") == 0)
		return pwt_map_get(&driver_idx, id, &v) ? (int)v : -1;
	char *key = pwt_fold_alnum(id);
	int best = -1, nbest = 0, in_race = -1, nin = 0;
	/* forename+surname, then the same letters read as surname+forename:
	 * "zhouguanyu" is stored as "guanyuzhou". */
	size_t len = strlen(key);
	for (size_t split = 0; split <= len && nbest == 0; split++) {
		char *k = split ? pwt_xasprintf("%s%.*s", key + split, (int)split, key)
				: pwt_xstrdup(key);
		if (pwt_map_get(&name_idx, k, &v)) {
			for (size_t i = v; i != SIZE_MAX; i = name_next[i]) {
				char *rk = pwt_pair_key(race, (long)i);
				size_t rv;
				if (pwt_map_get(&result_idx, rk, &rv)) {
					in_race = (int)i;
					nin++;
				}
				free(rk);
				best = (int)i;
				nbest++;
			}
		}
		free(k);
	}
	free(key);
	if (nin == 1)
		return in_race;
	if (nbest == 1)
		return best;
	/* Last resort: the id is a driverRef after all ("max_verstappen"). */
	return pwt_map_get(&driver_idx, id, &v) ? (int)v : -1;
}

static const char *map_compound(const char *c)
{
	static const struct {
		const char *from, *to;
	} map[] = {
	    {"option", "Soft"},
	    {"prime", "Medium"},
	    {"soft", "Soft"},
	    {"medium", "Medium"},
	    {"hard", "Hard"},
	    {"supersoft", "Supersoft"},
	    {"ultrasoft", "Ultrasoft"},
	    {"hypersoft", "Hypersoft"},
	    {"intermediate", "Intermediate"},
	    {"wet", "Wet"},
	};
	if (!c || !*c)
		return NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(c, map[i].from) == 0)
			return map[i].to;
	return c;
}

static void load_laps(pwt_table *t)
{
	static const char *const names[] = {"year",    "round",	   "lap",     "driver_id",
					    "id_kind", "position", "lap_time"};
	int c[7];
	pwt_err err = PWT_ERR_INIT;
	pwt_map seen = PWT_MAP_INIT; /* "race/kind/id" -> driver+1 or unmatched index */
	int ccomp = pwt_col(t, "tire_compound");

	if (ccomp < 0)
		ccomp = pwt_col(t, "compound");
	if (pwt_cols(t, names, c, 7, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t->nrows; r++) {
		struct lap l = {0};
		const char *id, *kind;
		int rc;

		l.race = find_race(t, r, c[0], c[1], &err);
		if (pwt_req_long(t, r, c[2], &l.src_lap, &err) < 0 ||
		    pwt_req_str(t, r, c[3], &id, &err) < 0 ||
		    pwt_req_str(t, r, c[4], &kind, &err) < 0)
			die(&err);
		if (strcmp(kind, "ref") != 0 && strcmp(kind, "name") != 0) {
			pwt_err_set(&err, PWT_EX_DATAERR,
				    "%s:%u: column 'id_kind': expected 'ref' or 'name', got '%s'",
				    t->path, t->lines[r], kind);
			die(&err);
		}
		if ((rc = pwt_cell_long(t, r, c[5], &l.pos, &err)) < 0)
			die(&err);
		l.has_pos = rc;
		if ((rc = pwt_cell_ms(t, r, c[6], &l.ms, &err)) < 0)
			die(&err);
		if (rc == 0) {
			pwt_err_set(&err, PWT_EX_DATAERR,
				    "%s:%u: column 'lap_time' is missing (\\N)", t->path,
				    t->lines[r]);
			die(&err);
		}
		l.compound = ccomp >= 0 ? map_compound(pwt_cell(t, r, ccomp)) : NULL;
		l.row = r;

		char *k = pwt_xasprintf("%d/%s/%s", l.race, kind, id);
		size_t v;
		if (!pwt_map_get(&seen, k, &v)) {
			int d = match_driver(l.race, id, kind);
			if (d >= 0) {
				v = (size_t)d + 1;
			} else {
				struct unmatched u = {l.race, id, kind, 0};
				v = (size_t) - (ssize_t)(nunmatched + 1);
				PWT_PUSH(unmatched, nunmatched, capunmatched, u);
				pwt_warn(
				    "%s:%u: driver '%s' (%s) of %ld round %ld matches no driver "
				    "in drivers.csv; its laps are reported in "
				    "clean/unmatched_drivers.csv",
				    t->path, t->lines[r], id, kind, races[l.race].year,
				    races[l.race].round);
			}
			pwt_map_put(&seen, k, v, NULL);
		}
		free(k);
		if ((ssize_t)v < 0) {
			unmatched[(size_t)(-(ssize_t)v) - 1].laps++;
			n_unmatched_laps++;
			continue;
		}
		l.driver = (int)(v - 1);
		PWT_PUSH(laps, nlaps, caplaps, l);
	}
	pwt_map_release(&seen);
}

static int cmp_src(const void *a, const void *b)
{
	const struct lap *x = a, *y = b;

	if (x->race != y->race)
		return x->race < y->race ? -1 : 1;
	if (x->driver != y->driver)
		return strcmp(drivers[x->driver].ref, drivers[y->driver].ref);
	if (x->src_lap != y->src_lap)
		return x->src_lap < y->src_lap ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* Renumbers or de-duplicates each driver's laps, then computes cumulative
 * time. laps must be sorted by cmp_src; rows to drop get lap = -1. */
static void fix_numbering(void)
{
	for (size_t i = 0; i < nlaps;) {
		size_t j = i;
		while (j < nlaps && laps[j].race == laps[i].race &&
		       laps[j].driver == laps[i].driver)
			j++;
		size_t n = j - i, rv;
		int sequential = 1, dups = 0;
		for (size_t k = i; k < j; k++) {
			if (laps[k].src_lap != (long)(k - i + 1))
				sequential = 0;
			if (k > i && laps[k].src_lap == laps[k - 1].src_lap)
				dups = 1;
		}
		long result_laps = -1;
		char *rk = pwt_pair_key(laps[i].race, laps[i].driver);
		if (pwt_map_get(&result_idx, rk, &rv))
			result_laps = results[rv].laps;
		free(rk);
		if (!sequential && (long)n == result_laps) {
			for (size_t k = i; k < j; k++)
				laps[k].lap = (long)(k - i + 1);
			n_renumbered++;
		} else {
			for (size_t k = i; k < j; k++) {
				laps[k].lap = laps[k].src_lap;
				if (dups && k > i && laps[k].src_lap == laps[k - 1].src_lap) {
					laps[k].lap = -1;
					n_dup_dropped++;
				}
			}
		}
		/* Cumulative time is known up to the first missing lap: after
		 * it, the running order and gaps would be off by a whole lap. */
		long cum = 0, expect = 1;
		for (size_t k = i; k < j; k++) {
			if (laps[k].lap < 0)
				continue;
			cum += laps[k].ms;
			laps[k].cum = cum;
			if (laps[k].lap != expect)
				expect = -1;
			laps[k].has_cum = expect > 0;
			if (expect > 0)
				expect++;
			else
				n_cum_unknown++;
		}
		i = j;
	}
	size_t w = 0;
	for (size_t k = 0; k < nlaps; k++)
		if (laps[k].lap >= 0)
			laps[w++] = laps[k];
	nlaps = w;
}

static int cmp_order(const void *a, const void *b)
{
	const struct lap *x = *(struct lap *const *)a, *y = *(struct lap *const *)b;

	if (x->race != y->race)
		return x->race < y->race ? -1 : 1;
	if (x->lap != y->lap)
		return x->lap < y->lap ? -1 : 1;
	if (x->has_cum != y->has_cum)
		return x->has_cum ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum < y->cum ? -1 : 1;
	return strcmp(drivers[x->driver].ref, drivers[y->driver].ref);
}

/* Running order at each lap, from cumulative time, where the source gave
 * no position. */
static void compute_positions(void)
{
	struct lap **v = pwt_xmalloc((nlaps + 1) * sizeof(*v));

	for (size_t i = 0; i < nlaps; i++)
		v[i] = &laps[i];
	pwt_sort(v, nlaps, sizeof(*v), cmp_order);
	for (size_t i = 0; i < nlaps;) {
		size_t j = i;
		while (j < nlaps && v[j]->race == v[i]->race && v[j]->lap == v[i]->lap)
			j++;
		for (size_t k = i; k < j; k++) {
			if (v[k]->has_pos)
				continue;
			if (v[k]->has_cum) {
				v[k]->pos = (long)(k - i + 1);
				v[k]->has_pos = 1;
			}
		}
		i = j;
	}
	free(v);
}

static int cmp_stop(const void *a, const void *b)
{
	const struct stop *x = a, *y = b;

	if (x->race != y->race)
		return x->race < y->race ? -1 : 1;
	if (x->driver != y->driver)
		return strcmp(drivers[x->driver].ref, drivers[y->driver].ref);
	if (x->stop != y->stop)
		return x->stop < y->stop ? -1 : 1;
	return x->lap < y->lap ? -1 : x->lap > y->lap;
}

static void flag_pits(void)
{
	pwt_map first = PWT_MAP_INIT; /* "race/driver" -> first stop index */

	pwt_sort(stops, nstops, sizeof(*stops), cmp_stop);
	for (size_t i = 0; i < nstops; i++) {
		char *k = pwt_pair_key(stops[i].race, stops[i].driver);
		pwt_map_put(&first, k, i, NULL);
		free(k);
	}
	for (size_t i = 0; i < nlaps; i++) {
		size_t s;
		char *k = pwt_pair_key(laps[i].race, laps[i].driver);
		int has = pwt_map_get(&first, k, &s);
		free(k);
		for (; has && s < nstops && stops[s].race == laps[i].race &&
		       stops[s].driver == laps[i].driver;
		     s++) {
			if (stops[s].lap == laps[i].lap)
				laps[i].pit_in = 1;
			if (stops[s].lap + 1 == laps[i].lap)
				laps[i].pit_out = 1;
		}
	}
	pwt_map_release(&first);
}

static long n_reason[4];

static void mark_outliers(void)
{
	for (size_t i = 0; i < nlaps; i++) {
		if (laps[i].ms < 30000)
			laps[i].reason = UNDER_30S;
		else if (laps[i].ms > 500000)
			laps[i].reason = OVER_500S;
	}
	/* laps are sorted by race first: one pass per race. */
	for (size_t i = 0; i < nlaps;) {
		size_t j = i, n = 0;
		double sum = 0, sq = 0;
		while (j < nlaps && laps[j].race == laps[i].race)
			j++;
		for (size_t k = i; k < j; k++) {
			if (laps[k].reason != KEEP)
				continue;
			sum += (double)laps[k].ms;
			n++;
		}
		double mean = n ? sum / (double)n : 0;
		for (size_t k = i; k < j; k++)
			if (laps[k].reason == KEEP)
				sq += ((double)laps[k].ms - mean) * ((double)laps[k].ms - mean);
		double sd = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
		for (size_t k = i; k < j && n > 1; k++)
			if (laps[k].reason == KEEP && !laps[k].pit_in && !laps[k].pit_out &&
			    (double)laps[k].ms > mean + 3 * sd)
				laps[k].reason = ABOVE_MEAN_3SD;
		i = j;
	}
	for (size_t i = 0; i < nlaps; i++)
		n_reason[laps[i].reason]++;
}

static int cmp_final(const void *a, const void *b)
{
	const struct lap *x = a, *y = b;
	const struct race *rx = &races[x->race], *ry = &races[y->race];

	if (rx->year != ry->year)
		return rx->year < ry->year ? -1 : 1;
	if (rx->round != ry->round)
		return rx->round < ry->round ? -1 : 1;
	int c = strcmp(drivers[x->driver].ref, drivers[y->driver].ref);
	if (c)
		return c;
	return x->lap < y->lap ? -1 : x->lap > y->lap;
}

static const char *const lap_cols[] = {
    "year",	   "round",    "driver_id", "lap",     "lap_time_ms",
    "cum_time_ms", "position", "pit_in",    "pit_out", "tire_compound",
};

static void write_laps(const char *dir, int outliers, pwt_err *err)
{
	const char *cols[11];
	pwt_csvw w;
	size_t n = sizeof(lap_cols) / sizeof(lap_cols[0]);
	char *path = pwt_path_join(dir, outliers ? "outliers.csv" : "laps.csv");

	memcpy(cols, lap_cols, sizeof(lap_cols));
	if (outliers)
		cols[n++] = "reason";
	if (pwt_csvw_open(&w, path, cols, n, err) < 0)
		die(err);
	for (size_t i = 0; i < nlaps; i++) {
		const struct lap *l = &laps[i];
		if ((l->reason != KEEP) != outliers)
			continue;
		pwt_csvw_long(&w, races[l->race].year);
		pwt_csvw_long(&w, races[l->race].round);
		pwt_csvw_str(&w, drivers[l->driver].ref);
		pwt_csvw_long(&w, l->lap);
		pwt_csvw_long(&w, l->ms);
		if (l->has_cum)
			pwt_csvw_long(&w, l->cum);
		else
			pwt_csvw_null(&w);
		if (l->has_pos)
			pwt_csvw_long(&w, l->pos);
		else
			pwt_csvw_null(&w);
		pwt_csvw_long(&w, l->pit_in);
		pwt_csvw_long(&w, l->pit_out);
		pwt_csvw_str(&w, l->compound);
		if (outliers)
			pwt_csvw_str(&w, reasons[l->reason]);
		pwt_csvw_end_row(&w);
	}
	pwt_progress("wrote %s: %lu rows", path, w.rows);
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(path);
}

static int cmp_race(const void *a, const void *b)
{
	const struct race *x = &races[*(const size_t *)a], *y = &races[*(const size_t *)b];

	if (x->year != y->year)
		return x->year < y->year ? -1 : 1;
	return x->round < y->round ? -1 : x->round > y->round;
}

static void write_races(const char *dir, pwt_err *err)
{
	static const char *const cols[] = {"year",	 "round",     "race_date",
					   "circuit_id", "race_name", "total_laps"};
	size_t *order = pwt_xmalloc((nraces + 1) * sizeof(size_t));
	char *path = pwt_path_join(dir, "races.csv");
	pwt_csvw w;

	for (size_t i = 0; i < nraces; i++)
		order[i] = i;
	pwt_sort(order, nraces, sizeof(size_t), cmp_race);
	if (pwt_csvw_open(&w, path, cols, 6, err) < 0)
		die(err);
	for (size_t i = 0; i < nraces; i++) {
		const struct race *r = &races[order[i]];
		pwt_csvw_long(&w, r->year);
		pwt_csvw_long(&w, r->round);
		pwt_csvw_str(&w, r->date_s);
		pwt_csvw_str(&w, r->circuit);
		pwt_csvw_str(&w, r->name);
		if (r->total_laps > 0)
			pwt_csvw_long(&w, r->total_laps);
		else
			pwt_csvw_null(&w);
		pwt_csvw_end_row(&w);
	}
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(order);
	free(path);
}

static int cmp_driver(const void *a, const void *b)
{
	return strcmp(drivers[*(const size_t *)a].ref, drivers[*(const size_t *)b].ref);
}

static void write_drivers(const char *dir, pwt_err *err)
{
	static const char *const cols[] = {"driver_id", "code", "forename",   "surname",
					   "name",	"dob",	"nationality"};
	size_t *order = pwt_xmalloc((ndrivers + 1) * sizeof(size_t));
	char *path = pwt_path_join(dir, "drivers.csv");
	pwt_csvw w;

	for (size_t i = 0; i < ndrivers; i++)
		order[i] = i;
	pwt_sort(order, ndrivers, sizeof(size_t), cmp_driver);
	if (pwt_csvw_open(&w, path, cols, 7, err) < 0)
		die(err);
	for (size_t i = 0; i < ndrivers; i++) {
		const struct driver *d = &drivers[order[i]];
		char *name = pwt_xasprintf("%s %s", d->forename ? d->forename : "",
					   d->surname ? d->surname : "");
		pwt_csvw_str(&w, d->ref);
		pwt_csvw_str(&w, d->code);
		pwt_csvw_str(&w, d->forename);
		pwt_csvw_str(&w, d->surname);
		pwt_csvw_str(&w, name);
		pwt_csvw_str(&w, d->dob);
		pwt_csvw_str(&w, d->nationality);
		pwt_csvw_end_row(&w);
		free(name);
	}
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(order);
	free(path);
}

static int cmp_result(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	int c = cmp_race(&(size_t){(size_t)x->race}, &(size_t){(size_t)y->race});

	if (c)
		return c;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	c = strcmp(drivers[x->driver].ref, drivers[y->driver].ref);
	if (c)
		return c;
	return x->number < y->number ? -1 : x->number > y->number;
}

static void write_results(const char *dir, pwt_err *err)
{
	static const char *const cols[] = {
	    "year", "round",	      "driver_id",    "constructor_id", "number",
	    "grid", "pit_lane_start", "position",     "position_order", "points",
	    "laps", "status",	      "race_time_ms", "fastest_lap_ms",
	};
	char *path = pwt_path_join(dir, "results.csv");
	pwt_csvw w;

	pwt_sort(results, nresults, sizeof(*results), cmp_result);
	if (pwt_csvw_open(&w, path, cols, 14, err) < 0)
		die(err);
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		pwt_csvw_long(&w, races[r->race].year);
		pwt_csvw_long(&w, races[r->race].round);
		pwt_csvw_str(&w, drivers[r->driver].ref);
		pwt_csvw_str(&w, r->constructor);
		if (r->has_number)
			pwt_csvw_long(&w, r->number);
		else
			pwt_csvw_null(&w);
		pwt_csvw_long(&w, r->grid);
		pwt_csvw_long(&w, r->grid == 0);
		if (r->has_pos)
			pwt_csvw_long(&w, r->position);
		else
			pwt_csvw_null(&w);
		pwt_csvw_long(&w, r->order);
		pwt_csvw_fixed(&w, r->points, 2);
		pwt_csvw_long(&w, r->laps);
		pwt_csvw_str(&w, r->status);
		if (r->has_time)
			pwt_csvw_long(&w, r->time_ms);
		else
			pwt_csvw_null(&w);
		if (r->has_fastest)
			pwt_csvw_long(&w, r->fastest_ms);
		else
			pwt_csvw_null(&w);
		pwt_csvw_end_row(&w);
	}
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(path);
}

static int cmp_stop_out(const void *a, const void *b)
{
	const struct stop *x = a, *y = b;
	int c = cmp_race(&(size_t){(size_t)x->race}, &(size_t){(size_t)y->race});

	return c ? c : cmp_stop(a, b);
}

static void write_stops(const char *dir, pwt_err *err)
{
	static const char *const cols[] = {"year", "round",	  "driver_id", "stop",
					   "lap",  "duration_ms", "red_flag"};
	char *path = pwt_path_join(dir, "pit_stops.csv");
	pwt_csvw w;
	struct stop *sorted = pwt_xmalloc((nstops + 1) * sizeof(*sorted));

	if (nstops)
		memcpy(sorted, stops, nstops * sizeof(*sorted));
	pwt_sort(sorted, nstops, sizeof(*sorted), cmp_stop_out);
	if (pwt_csvw_open(&w, path, cols, 7, err) < 0)
		die(err);
	for (size_t i = 0; i < nstops; i++) {
		const struct stop *s = &sorted[i];
		pwt_csvw_long(&w, races[s->race].year);
		pwt_csvw_long(&w, races[s->race].round);
		pwt_csvw_str(&w, drivers[s->driver].ref);
		pwt_csvw_long(&w, s->stop);
		pwt_csvw_long(&w, s->lap);
		if (s->ms >= 0)
			pwt_csvw_long(&w, s->ms);
		else
			pwt_csvw_null(&w);
		/* A stationary time over a minute is the car parked in the pit lane
		 * under a red flag, not a tyre change. */
		pwt_csvw_long(&w, s->ms > 60000);
		pwt_csvw_end_row(&w);
	}
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(sorted);
	free(path);
}

static void write_unmatched(const char *dir, pwt_err *err)
{
	static const char *const cols[] = {"year", "round", "source_driver_id", "id_kind", "laps"};
	char *path = pwt_path_join(dir, "unmatched_drivers.csv");
	pwt_csvw w;

	if (pwt_csvw_open(&w, path, cols, 5, err) < 0)
		die(err);
	/* Already in a stable order: first appearance in the raw file. */
	for (size_t i = 0; i < nunmatched; i++) {
		pwt_csvw_long(&w, races[unmatched[i].race].year);
		pwt_csvw_long(&w, races[unmatched[i].race].round);
		pwt_csvw_str(&w, unmatched[i].source_id);
		pwt_csvw_str(&w, unmatched[i].kind);
		pwt_csvw_long(&w, unmatched[i].laps);
		pwt_csvw_end_row(&w);
	}
	if (pwt_csvw_commit(&w, err) < 0)
		die(err);
	free(path);
}

static void write_report(const char *dir, size_t raw_laps, pwt_err *err)
{
	char *path = pwt_path_join(dir, "report.json");
	pwt_json j;

	if (pwt_json_open(&j, path, err) < 0)
		die(err);
	pwt_json_obj(&j, NULL);
	pwt_json_long(&j, "races", (long)nraces);
	pwt_json_long(&j, "results", (long)nresults);
	pwt_json_long(&j, "pit_stops", (long)nstops);
	pwt_json_long(&j, "raw_laps", (long)raw_laps);
	pwt_json_long(&j, "unmatched_driver_laps", n_unmatched_laps);
	pwt_json_long(&j, "unmatched_drivers", (long)nunmatched);
	pwt_json_long(&j, "driver_races_renumbered", n_renumbered);
	pwt_json_long(&j, "duplicate_laps_dropped", n_dup_dropped);
	pwt_json_long(&j, "laps_after_a_missing_lap", n_cum_unknown);
	pwt_json_long(&j, "laps_kept", n_reason[KEEP]);
	pwt_json_obj(&j, "laps_removed");
	for (int r = UNDER_30S; r <= ABOVE_MEAN_3SD; r++)
		pwt_json_long(&j, reasons[r], n_reason[r]);
	pwt_json_end(&j, '}');
	pwt_json_end(&j, '}');
	if (pwt_json_commit(&j, err) < 0)
		die(err);
	free(path);
}

static void usage(void)
{
	printf("Usage: f1-clean [--raw DIR] [--out DIR] [--strict] [--pg CONNINFO]\n"
	       "\n"
	       "Cleans the raw F1 tables: parses \\N, quoted fields, m:ss.mmm lap times and\n"
	       "red-flag pit durations; joins lap times to Ergast drivers (by name when the\n"
	       "source gives forename_surname); renumbers lapped cars' laps; computes\n"
	       "cumulative time and running order; flags pit in/out laps; removes outlier\n"
	       "laps (under 30 s, over 500 s, above the race mean + 3 sd); maps historic\n"
	       "tyre names (Option -> Soft, Prime -> Medium).\n"
	       "\n"
	       "Writes DIR/races.csv, drivers.csv, results.csv, pit_stops.csv, laps.csv,\n"
	       "outliers.csv, unmatched_drivers.csv and report.json.\n"
	       "\n"
	       "Options:\n"
	       "  --raw DIR        raw tables (default: raw)\n"
	       "  --out DIR        output directory (default: clean)\n"
	       "  --strict         exit 65 when a lap's driver cannot be matched\n"
	       "  --pg CONNINFO    also create the PostgreSQL schema (lap_features,\n"
	       "                   driver_profiles) in that database (default: $F1_PG)\n"
	       "  -q, --quiet      no progress messages\n"
	       "  -h, --help       this help\n"
	       "\n"
	       "Exit status: 0 ok; 65 malformed or inconsistent input (FILE:LINE in the\n"
	       "message); 66 an input is missing; 73/74 output errors; 75 the database is\n"
	       "unreachable.\n");
}

int main(int argc, char **argv)
{
	const char *raw = "raw", *out = "clean", *pg = NULL;
	int strict = 0, c;
	static const struct option opts[] = {
	    {"raw", required_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},
	    {"strict", no_argument, NULL, 's'},
	    {"pg", required_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	pwt_table t_races = PWT_TABLE_INIT, t_drivers = PWT_TABLE_INIT, t_results = PWT_TABLE_INIT,
		  t_stops = PWT_TABLE_INIT, t_laps = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;

	pwt_init(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': raw = optarg; break;
		case 'o': out = optarg; break;
		case 's': strict = 1; break;
		case 'p': pg = optarg; break;
		case 'q': pwt_set_quiet(1); break;
		case 'h': usage(); return 0;
		default: pwt_usage_error("unknown option");
		}
	}
	if (optind < argc)
		pwt_usage_error("unexpected argument '%s'", argv[optind]);
	if (!pg)
		pg = getenv("F1_PG");
	if (pg && !*pg)
		pg = NULL;

	struct {
		pwt_table *t;
		const char *name;
	} inputs[] = {
	    {&t_races, "races.csv"},	 {&t_drivers, "drivers.csv"}, {&t_results, "results.csv"},
	    {&t_stops, "pit_stops.csv"}, {&t_laps, "lap_times.csv"},
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char *path = pwt_path_join(raw, inputs[i].name);
		if (pwt_csv_load(inputs[i].t, path, 0, &err) < 0)
			die(&err);
		pwt_progress("read %s: %zu rows", path, inputs[i].t->nrows);
		free(path);
	}
	load_races(&t_races);
	load_drivers(&t_drivers);
	load_results(&t_results);
	load_stops(&t_stops);
	load_laps(&t_laps);
	pwt_progress("matched %zu of %zu laps to drivers (%zu unmatched driver(s))", nlaps,
		     t_laps.nrows, nunmatched);

	pwt_sort(laps, nlaps, sizeof(*laps), cmp_src);
	fix_numbering();
	compute_positions();
	flag_pits();
	mark_outliers();
	pwt_sort(laps, nlaps, sizeof(*laps), cmp_final);
	pwt_progress("laps: %ld driver-races renumbered, %ld duplicate laps dropped, %ld kept, "
		     "%ld removed (%ld under 30 s, %ld over 500 s, %ld above mean + 3 sd)",
		     n_renumbered, n_dup_dropped, n_reason[KEEP],
		     n_reason[UNDER_30S] + n_reason[OVER_500S] + n_reason[ABOVE_MEAN_3SD],
		     n_reason[UNDER_30S], n_reason[OVER_500S], n_reason[ABOVE_MEAN_3SD]);

	write_races(out, &err);
	write_drivers(out, &err);
	write_results(out, &err);
	write_stops(out, &err);
	write_laps(out, 0, &err);
	write_laps(out, 1, &err);
	write_unmatched(out, &err);
	write_report(out, t_laps.nrows, &err);

	if (pg) {
		if (pwt_pg_schema(pg, &err) < 0)
			die(&err);
		pwt_progress("created the PostgreSQL schema");
	}
	size_t n_unmatched = nunmatched;
	pwt_table_release(&t_races);
	pwt_table_release(&t_drivers);
	pwt_table_release(&t_results);
	pwt_table_release(&t_stops);
	pwt_table_release(&t_laps);
	if (n_unmatched && strict)
		pwt_die(PWT_EX_DATAERR,
			"%zu driver(s) in %s/lap_times.csv match no driver (see "
			"%s/unmatched_drivers.csv)",
			n_unmatched, raw, out);
	return 0;
}
