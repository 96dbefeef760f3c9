/*
 * f1-profiles: one behavioural profile per driver, from lap features
 * (splits/train.csv by default: the spec extracts profiles from the training
 * period, so nothing from validation or test leaks into them).
 *
 * A "clean lap" below is a lap that is not lap 1, not an in-lap (pit_stop),
 * not an out-lap (tire_age 1 after a stop) and within 107% of the race's
 * median (which leaves out safety-car and yellow-flag laps). A race's median
 * is the median time of all drivers' laps in that race that pass the first
 * three tests.
 *
 *   consistency       spread of a driver's clean laps relative to the race
 *                     median: per race with >= 5 clean laps, the standard
 *                     deviation of lap_time / median, in %; averaged over
 *                     races weighted by laps. Lower is steadier.
 *   aggression        on-track overtakes per race: from one lap to the next,
 *                     each car that was ahead and is now behind, unless
 *                     either car's in-lap or out-lap is one of the two laps
 *                     (a position won in the pits is not an overtake).
 *   tire_management   degradation: per stint with >= 5 clean laps, the
 *                     least-squares slope of fuel-corrected lap time
 *                     (lap_time_ms - 30 ms/kg x fuel_remaining) on tire_age,
 *                     in ms per lap of tyre age; averaged over stints weighted
 *                     by laps. Lower is gentler on tyres.
 *   pressure_response mean pace (lap_time / race median, %) on clean laps
 *                     with a car less than 1 s behind, minus the same on clean
 *                     laps without; negative means quicker under pressure.
 *                     Needs >= 5 laps of each kind.
 *   career_races      results in clean/results.csv up to the last race date
 *                     of the input (no later races).
 *   data_quality      % of the driver's timed laps in the input's races that
 *                     reached the features with position and gap known (the
 *                     rest were removed as outliers or follow a missing lap).
 * A metric without enough data is \N.
 */
#include "pwt.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lap {
	int race, driver;
	long lap, ms, pos, gap_ms, tire_age, stint;
	double fuel;
	int has_pos, has_gap, has_fuel, pit, clean;
};

struct race {
	long year, round, date;
	double median;
};

struct drv {
	const char *id;
	/* consistency */
	double cons_sum, cons_w;
	/* aggression */
	long overtakes, races;
	/* tire management */
	double deg_sum, deg_w;
	/* pressure */
	double p_sum, f_sum;
	long p_n, f_n;
	/* data quality */
	long laps_ok, laps_all;
	long career;
};

static struct lap *laps;
static size_t nlaps, caplaps;
static struct race *races;
static size_t nraces, capraces;
static struct drv *drvs;
static size_t ndrvs, capdrvs;
static pwt_map race_idx = PWT_MAP_INIT, drv_idx = PWT_MAP_INIT;

static PWT_NORETURN void die(pwt_err *err)
{
	pwt_die_err(err);
}

static int race_get(long year, long round, long date)
{
	char *k = pwt_pair_key(year, round);
	size_t v;

	if (!pwt_map_put(&race_idx, k, nraces, &v)) {
		free(k);
		return (int)v;
	}
	free(k);
	struct race r = {year, round, date, 0};
	PWT_PUSH(races, nraces, capraces, r);
	return (int)(nraces - 1);
}

static int race_find(long year, long round)
{
	char *k = pwt_pair_key(year, round);
	size_t v;
	int ok = pwt_map_get(&race_idx, k, &v);

	free(k);
	return ok ? (int)v : -1;
}

static int drv_get(const char *id)
{
	size_t v;

	if (!pwt_map_put(&drv_idx, id, ndrvs, &v))
		return (int)v;
	struct drv d = {0};
	d.id = pwt_xstrdup(id);
	PWT_PUSH(drvs, ndrvs, capdrvs, d);
	return (int)(ndrvs - 1);
}

static void load_laps(const char *path)
{
	static const char *const names[] = {
	    "year",	"round",    "race_date",      "driver_id", "lap_number", "lap_time_ms",
	    "tire_age", "pit_stop", "fuel_remaining", "position",  "stint",	 "gap_to_leader"};
	int c[12];
	pwt_table t = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;

	if (pwt_csv_load(&t, path, 0, &err) < 0 || pwt_cols(&t, names, c, 12, &err) < 0)
		die(&err);
	pwt_progress("read %s: %zu rows", path, t.nrows);
	for (size_t r = 0; r < t.nrows; r++) {
		struct lap l = {0};
		long y, rd, date, pit;
		const char *id;
		double gap;
		int rc;
		if (pwt_req_long(&t, r, c[0], &y, &err) < 0 ||
		    pwt_req_long(&t, r, c[1], &rd, &err) < 0 ||
		    pwt_cell_date(&t, r, c[2], &date, &err) < 0 ||
		    pwt_req_str(&t, r, c[3], &id, &err) < 0 ||
		    pwt_req_long(&t, r, c[4], &l.lap, &err) < 0 ||
		    pwt_req_long(&t, r, c[5], &l.ms, &err) < 0 ||
		    pwt_req_long(&t, r, c[6], &l.tire_age, &err) < 0 ||
		    pwt_req_long(&t, r, c[7], &pit, &err) < 0 ||
		    (l.has_fuel = pwt_cell_double(&t, r, c[8], &l.fuel, &err)) < 0 ||
		    (l.has_pos = pwt_cell_long(&t, r, c[9], &l.pos, &err)) < 0 ||
		    pwt_req_long(&t, r, c[10], &l.stint, &err) < 0 ||
		    (rc = pwt_cell_double(&t, r, c[11], &gap, &err)) < 0)
			die(&err);
		l.has_gap = rc;
		l.gap_ms = rc ? lround(gap * 1000.0) : 0;
		l.pit = pit != 0;
		l.race = race_get(y, rd, date);
		l.driver = drv_get(id);
		l.clean = l.lap > 1 && !l.pit && !(l.tire_age == 1 && l.stint > 1);
		PWT_PUSH(laps, nlaps, caplaps, l);
	}
	pwt_table_release(&t);
}

static int cmp_lap(const void *a, const void *b)
{
	const struct lap *x = a, *y = b;

	if (x->race != y->race)
		return x->race < y->race ? -1 : 1;
	if (x->driver != y->driver)
		return strcmp(drvs[x->driver].id, drvs[y->driver].id);
	return x->lap < y->lap ? -1 : x->lap > y->lap;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static void race_medians(void)
{
	long *v = pwt_xmalloc((nlaps + 1) * sizeof(long));

	for (size_t i = 0; i < nlaps;) {
		size_t j = i, n = 0;
		while (j < nlaps && laps[j].race == laps[i].race)
			j++;
		for (size_t k = i; k < j; k++)
			if (laps[k].clean)
				v[n++] = laps[k].ms;
		pwt_sort(v, n, sizeof(long), cmp_long);
		double med = !n	     ? 0
			     : n % 2 ? (double)v[n / 2]
				     : (double)(v[n / 2 - 1] + v[n / 2]) / 2.0;
		races[laps[i].race].median = med;
		for (size_t k = i; k < j; k++)
			if (laps[k].clean && (double)laps[k].ms > 1.07 * med)
				laps[k].clean = 0;
		i = j;
	}
	free(v);
}

/* consistency, tire management and pressure, per (race, driver) group. */
static void per_driver_race(size_t i, size_t j)
{
	struct drv *d = &drvs[laps[i].driver];
	double med = races[laps[i].race].median;
	double sum = 0, sq = 0;
	size_t n = 0;

	d->races++;
	if (med <= 0)
		return;
	for (size_t k = i; k < j; k++) {
		if (!laps[k].clean)
			continue;
		double r = (double)laps[k].ms / med * 100.0;
		sum += r;
		sq += r * r;
		n++;
	}
	if (n >= 5) {
		double mean = sum / (double)n;
		double var = (sq - (double)n * mean * mean) / (double)(n - 1);
		d->cons_sum += sqrt(var > 0 ? var : 0) * (double)n;
		d->cons_w += (double)n;
	}
	/* Stints: runs of equal stint number. */
	for (size_t s = i; s < j;) {
		size_t e = s;
		double sx = 0, sy = 0, sxx = 0, sxy = 0;
		size_t m = 0;
		while (e < j && laps[e].stint == laps[s].stint)
			e++;
		for (size_t k = s; k < e; k++) {
			if (!laps[k].clean)
				continue;
			double x = (double)laps[k].tire_age;
			double y =
			    (double)laps[k].ms - (laps[k].has_fuel ? 30.0 * laps[k].fuel : 0);
			sx += x;
			sy += y;
			sxx += x * x;
			sxy += x * y;
			m++;
		}
		double den = (double)m * sxx - sx * sx;
		if (m >= 5 && den > 0) {
			double slope = ((double)m * sxy - sx * sy) / den;
			d->deg_sum += slope * (double)m;
			d->deg_w += (double)m;
		}
		s = e;
	}
}

/* Per race: a grid [driver slot][lap] of positions, pit flags and gaps. */
static void per_race(size_t i, size_t j)
{
	int slots[64];
	size_t nslots = 0;
	long maxlap = 0;

	for (size_t k = i; k < j; k++) {
		if (laps[k].lap > maxlap)
			maxlap = laps[k].lap;
		if (nslots == 0 || slots[nslots - 1] != laps[k].driver) {
			if (nslots == 64)
				break;
			slots[nslots++] = laps[k].driver;
		}
	}
	size_t w = (size_t)maxlap + 2;
	long *pos = pwt_xcalloc(nslots * w, sizeof(long));
	long *gap = pwt_xcalloc(nslots * w, sizeof(long));
	unsigned char *pitish = pwt_xcalloc(nslots * w, 1);
	unsigned char *has_gap = pwt_xcalloc(nslots * w, 1);
	size_t slot = 0;
	for (size_t k = i; k < j; k++) {
		while (slot < nslots && slots[slot] != laps[k].driver)
			slot++;
		if (slot == nslots)
			break;
		size_t at = slot * w + (size_t)laps[k].lap;
		if (laps[k].has_pos)
			pos[at] = laps[k].pos;
		if (laps[k].has_gap) {
			gap[at] = laps[k].gap_ms;
			has_gap[at] = 1;
		}
		if (laps[k].pit)
			pitish[at] = 1;
		if (laps[k].tire_age == 1 && laps[k].stint > 1)
			pitish[at] = 1; /* out-lap */
	}
	for (size_t a = 0; a < nslots; a++) {
		struct drv *d = &drvs[slots[a]];
		for (long l = 2; l <= maxlap; l++) {
			size_t p0 = a * w + (size_t)l - 1, p1 = a * w + (size_t)l;
			if (!pos[p0] || !pos[p1] || pitish[p0] || pitish[p1])
				continue;
			for (size_t b = 0; b < nslots; b++) {
				size_t q0 = b * w + (size_t)l - 1, q1 = b * w + (size_t)l;
				if (b == a || !pos[q0] || !pos[q1] || pitish[q0] || pitish[q1])
					continue;
				if (pos[q0] < pos[p0] && pos[q1] > pos[p1])
					d->overtakes++;
			}
		}
	}
	/* Pressure: a car within 1 s behind (the next position's gap). */
	double med = races[laps[i].race].median;
	slot = 0;
	for (size_t k = i; k < j && med > 0; k++) {
		while (slot < nslots && slots[slot] != laps[k].driver)
			slot++;
		if (slot == nslots)
			break;
		if (!laps[k].clean || !laps[k].has_pos || !laps[k].has_gap)
			continue;
		int pressed = 0;
		for (size_t b = 0; b < nslots; b++) {
			size_t q = b * w + (size_t)laps[k].lap;
			if (pos[q] == laps[k].pos + 1 && has_gap[q]) {
				long behind = gap[q] - laps[k].gap_ms;
				pressed = behind >= 0 && behind < 1000;
			}
		}
		struct drv *d = &drvs[laps[k].driver];
		double r = (double)laps[k].ms / med * 100.0;
		if (pressed) {
			d->p_sum += r;
			d->p_n++;
		} else {
			d->f_sum += r;
			d->f_n++;
		}
	}
	free(pos);
	free(gap);
	free(pitish);
	free(has_gap);
}

static void count_quality(const char *clean_dir)
{
	pwt_table t = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;
	char *path = pwt_path_join(clean_dir, "outliers.csv");
	static const char *const names[] = {"year", "round", "driver_id"};
	int c[3];

	for (size_t k = 0; k < nlaps; k++) {
		drvs[laps[k].driver].laps_all++;
		if (laps[k].has_pos && laps[k].has_gap)
			drvs[laps[k].driver].laps_ok++;
	}
	if (pwt_csv_load(&t, path, 0, &err) < 0 || pwt_cols(&t, names, c, 3, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t.nrows; r++) {
		long y, rd;
		const char *id;
		size_t v;
		if (pwt_req_long(&t, r, c[0], &y, &err) < 0 ||
		    pwt_req_long(&t, r, c[1], &rd, &err) < 0 ||
		    pwt_req_str(&t, r, c[2], &id, &err) < 0)
			die(&err);
		if (race_find(y, rd) >= 0 && pwt_map_get(&drv_idx, id, &v))
			drvs[v].laps_all++;
	}
	pwt_table_release(&t);
	free(path);
}

static void count_careers(const char *clean_dir)
{
	pwt_table t = PWT_TABLE_INIT, tr = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;
	char *path = pwt_path_join(clean_dir, "results.csv");
	char *rpath = pwt_path_join(clean_dir, "races.csv");
	static const char *const names[] = {"year", "round", "driver_id"};
	static const char *const rnames[] = {"year", "round", "race_date"};
	int c[3], rc[3];
	long last = 0;
	pwt_map dates = PWT_MAP_INIT;
	pwt_map seen = PWT_MAP_INIT;

	for (size_t i = 0; i < nraces; i++)
		if (races[i].date > last)
			last = races[i].date;
	if (pwt_csv_load(&tr, rpath, 0, &err) < 0 || pwt_cols(&tr, rnames, rc, 3, &err) < 0)
		die(&err);
	for (size_t r = 0; r < tr.nrows; r++) {
		long y, rd, date;
		if (pwt_req_long(&tr, r, rc[0], &y, &err) < 0 ||
		    pwt_req_long(&tr, r, rc[1], &rd, &err) < 0 ||
		    pwt_cell_date(&tr, r, rc[2], &date, &err) < 0)
			die(&err);
		char *k = pwt_pair_key(y, rd);
		pwt_map_put(&dates, k, (size_t)date, NULL);
		free(k);
	}
	if (pwt_csv_load(&t, path, 0, &err) < 0 || pwt_cols(&t, names, c, 3, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t.nrows; r++) {
		long y, rd;
		const char *id;
		size_t v, date = 0;
		if (pwt_req_long(&t, r, c[0], &y, &err) < 0 ||
		    pwt_req_long(&t, r, c[1], &rd, &err) < 0 ||
		    pwt_req_str(&t, r, c[2], &id, &err) < 0)
			die(&err);
		if (!pwt_map_get(&drv_idx, id, &v))
			continue;
		char *k = pwt_pair_key(y, rd);
		pwt_map_get(&dates, k, &date);
		free(k);
		/* A shared drive (two cars in one race) is one race. */
		k = pwt_xasprintf("%ld/%ld/%s", y, rd, id);
		if (pwt_map_put(&seen, k, 0, NULL) && (long)date <= last)
			drvs[v].career++;
		free(k);
	}
	pwt_map_release(&dates);
	pwt_map_release(&seen);
	pwt_table_release(&t);
	pwt_table_release(&tr);
	free(path);
	free(rpath);
}

static int cmp_drv(const void *a, const void *b)
{
	return strcmp(drvs[*(const size_t *)a].id, drvs[*(const size_t *)b].id);
}

static void usage(void)
{
	printf("Usage: f1-profiles [--splits LIST | --in FILE...] [OPTIONS]\n"
	       "\n"
	       "Per driver: consistency (lap-time spread vs each race's median, %%),\n"
	       "aggression (on-track overtakes per race, pit-stop position changes\n"
	       "excluded), tire_management (degradation, ms per lap of tyre age),\n"
	       "pressure_response (pace with a car < 1 s behind minus without, %%),\n"
	       "career_races and data_quality (%% of laps usable). Writes driver_id, name\n"
	       "and those columns, one row per driver, sorted by driver_id.\n"
	       "\n"
	       "Options:\n"
	       "  --splits LIST    comma-separated splits to read from --splits-dir\n"
	       "                   (default: train)\n"
	       "  --splits-dir DIR (default: splits)\n"
	       "  --in FILE        read this lap-features file instead (repeatable)\n"
	       "  --clean DIR      clean tables: drivers, results, races, outliers\n"
	       "                   (default: clean)\n"
	       "  --out FILE       (default: profiles/driver_profiles.csv)\n"
	       "  --pg CONNINFO    also load the driver_profiles table (COPY) (default:\n"
	       "                   $F1_PG)\n"
	       "  -q, --quiet      no progress messages\n"
	       "  -h, --help       this help\n"
	       "\n"
	       "Exit status: 0 ok; 65 malformed input (FILE:LINE in the message); 66 an\n"
	       "input is missing; 73/74 output errors; 75 the database is unreachable.\n");
}

int main(int argc, char **argv)
{
	const char *splits = "train", *splits_dir = "splits", *clean = "clean",
		   *out = "profiles/driver_profiles.csv", *pg = NULL;
	const char **ins = NULL;
	size_t nins = 0, capins = 0;
	static const struct option opts[] = {
	    {"splits", required_argument, NULL, 's'},
	    {"splits-dir", required_argument, NULL, 'S'},
	    {"in", required_argument, NULL, 'i'},
	    {"clean", required_argument, NULL, 'c'},
	    {"out", required_argument, NULL, 'o'},
	    {"pg", required_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	pwt_err err = PWT_ERR_INIT;
	int c;

	pwt_init(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': splits = optarg; break;
		case 'S': splits_dir = optarg; break;
		case 'i': PWT_PUSH(ins, nins, capins, optarg); break;
		case 'c': clean = optarg; break;
		case 'o': out = optarg; break;
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
	if (nins) {
		for (size_t i = 0; i < nins; i++)
			load_laps(ins[i]);
	} else {
		char *list = pwt_xstrdup(splits), *save = NULL;
		for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
			if (strcmp(s, "train") && strcmp(s, "validation") && strcmp(s, "test"))
				pwt_usage_error("--splits: unknown split '%s'", s);
			char *name = pwt_xasprintf("%s.csv", s);
			char *path = pwt_path_join(splits_dir, name);
			load_laps(path);
			free(name);
			free(path);
		}
		free(list);
	}
	pwt_sort(laps, nlaps, sizeof(*laps), cmp_lap);
	race_medians();
	for (size_t i = 0; i < nlaps;) {
		size_t j = i;
		while (j < nlaps && laps[j].race == laps[i].race)
			j++;
		per_race(i, j);
		for (size_t k = i; k < j;) {
			size_t e = k;
			while (e < j && laps[e].driver == laps[k].driver)
				e++;
			per_driver_race(k, e);
			k = e;
		}
		i = j;
	}
	count_quality(clean);
	count_careers(clean);

	/* Names from clean/drivers.csv. */
	pwt_table td = PWT_TABLE_INIT;
	char *dpath = pwt_path_join(clean, "drivers.csv");
	static const char *const dnames[] = {"driver_id", "name"};
	int dc[2];
	if (pwt_csv_load(&td, dpath, 0, &err) < 0 || pwt_cols(&td, dnames, dc, 2, &err) < 0)
		die(&err);
	const char **names = pwt_xcalloc(ndrvs + 1, sizeof(char *));
	for (size_t r = 0; r < td.nrows; r++) {
		size_t v;
		const char *id = pwt_cell(&td, r, dc[0]);
		if (id && pwt_map_get(&drv_idx, id, &v))
			names[v] = pwt_cell(&td, r, dc[1]);
	}

	static const char *const cols[] = {
	    "driver_id",       "name",	       "aggression",  "consistency", "pressure_response",
	    "tire_management", "career_races", "data_quality"};
	size_t *order = pwt_xmalloc((ndrvs + 1) * sizeof(size_t));
	for (size_t i = 0; i < ndrvs; i++)
		order[i] = i;
	pwt_sort(order, ndrvs, sizeof(size_t), cmp_drv);
	pwt_csvw w;
	if (pwt_csvw_open(&w, out, cols, 8, &err) < 0)
		die(&err);
	for (size_t i = 0; i < ndrvs; i++) {
		const struct drv *d = &drvs[order[i]];
		pwt_csvw_str(&w, d->id);
		pwt_csvw_str(&w, names[order[i]]);
		pwt_csvw_fixed(&w, d->races ? (double)d->overtakes / (double)d->races : NAN, 3);
		pwt_csvw_fixed(&w, d->cons_w > 0 ? d->cons_sum / d->cons_w : NAN, 4);
		pwt_csvw_fixed(&w,
			       d->p_n >= 5 && d->f_n >= 5
				   ? d->p_sum / (double)d->p_n - d->f_sum / (double)d->f_n
				   : NAN,
			       4);
		pwt_csvw_fixed(&w, d->deg_w > 0 ? d->deg_sum / d->deg_w : NAN, 3);
		pwt_csvw_long(&w, d->career);
		pwt_csvw_fixed(
		    &w, d->laps_all ? 100.0 * (double)d->laps_ok / (double)d->laps_all : NAN, 2);
		pwt_csvw_end_row(&w);
	}
	if (pwt_csvw_commit(&w, &err) < 0)
		die(&err);
	pwt_progress("wrote %s: %zu drivers from %zu laps in %zu races", out, ndrvs, nlaps, nraces);
	if (!ndrvs)
		pwt_warn("no laps in the input: the profile table is empty");

	if (pg) {
		pwt_table tp = PWT_TABLE_INIT;
		if (pwt_csv_load(&tp, out, 0, &err) < 0 ||
		    pwt_pg_load(pg, "driver_profiles", cols, 8, &tp, NULL, &err) < 0)
			die(&err);
		pwt_progress("loaded %zu rows into driver_profiles", tp.nrows);
		pwt_table_release(&tp);
	}
	free(order);
	free(names);
	free(dpath);
	free(ins);
	pwt_table_release(&td);
	return 0;
}
