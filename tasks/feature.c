/*
 * f1-feature: clean/ -> features/lap_features.csv, one row per clean lap.
 *
 *   tire_age        laps since the last pit stop: lap - (last stop lap before
 *                   this lap, or 0), so the first lap of a stint is 1 (the
 *                   spec's cumcount + 1 within a stint, robust to removed laps)
 *   stint           1 + the number of pit stops made before this lap
 *   pit_stop        1 on a lap the driver pitted at the end of (the in-lap)
 *   fuel_remaining  110 kg - lap x rate, rate = 110 kg / the circuit's race
 *                   distance in laps (the most laps a winner covered there, so
 *                   a race shortened by rain does not skew it), never below 0
 *   gap_to_leader   seconds behind the car with the least cumulative time at
 *                   that lap, over every timed lap (outliers included: a
 *                   leader's slow lap still sets the gap)
 *   laps_remaining  the race's laps (its winner's) - lap, never below 0
 *   position        the running order from clean (source, or by cumulative time)
 */
#include "pwt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct race {
	long year, round, date, total_laps;
	const char *date_s, *circuit;
	double fuel_rate;
};

struct row {
	int race;
	const char *driver, *compound;
	long lap, ms, cum, pos;
	int has_cum, has_pos, tire_age, stint, pit;
	long leader_cum;
};

static struct race *races;
static size_t nraces, capraces;
static pwt_map race_idx = PWT_MAP_INIT;

static PWT_NORETURN void die(pwt_err *err)
{
	pwt_die_err(err);
}

static void load(pwt_table *t, const char *dir, const char *name)
{
	char *path = pwt_path_join(dir, name);
	pwt_err err = PWT_ERR_INIT;

	if (pwt_csv_load(t, path, 0, &err) < 0)
		die(&err);
	pwt_progress("read %s: %zu rows", path, t->nrows);
	free(path);
}

static int race_of(const pwt_table *t, size_t r, int cy, int cr, pwt_err *err)
{
	int v = pwt_race_index(&race_idx, t, r, cy, cr, err);
	if (v < 0)
		die(err);
	return v;
}

static void load_races(const pwt_table *t)
{
	static const char *const names[] = {"year", "round", "race_date", "circuit_id",
					    "total_laps"};
	int c[5];
	pwt_err err = PWT_ERR_INIT;
	pwt_map circuit_laps = PWT_MAP_INIT; /* circuit -> max total laps */

	if (pwt_cols(t, names, c, 5, &err) < 0)
		die(&err);
	for (size_t r = 0; r < t->nrows; r++) {
		struct race ra = {0};
		if (pwt_req_long(t, r, c[0], &ra.year, &err) < 0 ||
		    pwt_req_long(t, r, c[1], &ra.round, &err) < 0 ||
		    pwt_req_str(t, r, c[2], &ra.date_s, &err) < 0 ||
		    pwt_cell_date(t, r, c[2], &ra.date, &err) < 0 ||
		    pwt_cell_long(t, r, c[4], &ra.total_laps, &err) < 0)
			die(&err);
		ra.circuit = pwt_cell(t, r, c[3]);
		char *k = pwt_pair_key(ra.year, ra.round);
		pwt_map_put(&race_idx, k, nraces, NULL);
		free(k);
		if (ra.circuit && ra.total_laps > 0) {
			size_t *max;
			if (pwt_map_put(&circuit_laps, ra.circuit, (size_t)ra.total_laps, NULL) ==
				0 &&
			    (max = pwt_map_ref(&circuit_laps, ra.circuit)) &&
			    *max < (size_t)ra.total_laps)
				*max = (size_t)ra.total_laps;
		}
		PWT_PUSH(races, nraces, capraces, ra);
	}
	for (size_t i = 0; i < nraces; i++) {
		size_t laps = 0;
		if (races[i].circuit && pwt_map_get(&circuit_laps, races[i].circuit, &laps) &&
		    laps > 0)
			races[i].fuel_rate = 110.0 / (double)laps;
	}
	pwt_map_release(&circuit_laps);
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	const struct race *rx = &races[x->race], *ry = &races[y->race];

	if (rx->date != ry->date)
		return rx->date < ry->date ? -1 : 1;
	if (rx->year != ry->year)
		return rx->year < ry->year ? -1 : 1;
	if (rx->round != ry->round)
		return rx->round < ry->round ? -1 : 1;
	int c = strcmp(x->driver, y->driver);
	if (c)
		return c;
	return x->lap < y->lap ? -1 : x->lap > y->lap;
}

static const char *const out_cols[] = {
    "year",	      "round",	     "circuit_id",    "race_date",     "driver_id",
    "lap_number",     "lap_time_ms", "tire_compound", "tire_age",      "pit_stop",
    "fuel_remaining", "position",    "stint",	      "gap_to_leader", "laps_remaining",
};

static void usage(void)
{
	printf("Usage: f1-feature [--clean DIR] [--out FILE] [--pg CONNINFO [BOUNDS]]\n"
	       "\n"
	       "Builds one feature row per clean lap: tire_age (laps since the last pit\n"
	       "stop), stint, pit_stop, fuel_remaining (110 kg - lap x the circuit's rate),\n"
	       "gap_to_leader (s), position and laps_remaining, with year, round, circuit_id,\n"
	       "race_date, driver_id, lap_number, lap_time_ms and tire_compound.\n"
	       "\n"
	       "Options:\n"
	       "  --clean DIR          clean tables (default: clean)\n"
	       "  --out FILE           output (default: features/lap_features.csv)\n"
	       "  --pg CONNINFO        also load the lap_features table (COPY) and create\n"
	       "                       the train, validation and test views (default:\n"
	       "                       $F1_PG)\n" PWT_BOUNDS_HELP
	       "  -q, --quiet          no progress messages\n"
	       "  -h, --help           this help\n"
	       "\n"
	       "Exit status: 0 ok; 65 malformed input (FILE:LINE in the message); 66 an\n"
	       "input is missing; 73/74 output errors; 75 the database is unreachable.\n");
}

int main(int argc, char **argv)
{
	const char *clean = "clean", *out = "features/lap_features.csv", *pg = NULL;
	pwt_bounds bounds = PWT_BOUNDS_DEFAULT;
	static const struct option opts[] = {
	    {"clean", required_argument, NULL, 'c'},
	    {"out", required_argument, NULL, 'o'},
	    {"pg", required_argument, NULL, 'p'},
	    {"train-end", required_argument, NULL, 'B'},
	    {"val-start", required_argument, NULL, 'B'},
	    {"val-end", required_argument, NULL, 'B'},
	    {"test-start", required_argument, NULL, 'B'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	pwt_table t_races = PWT_TABLE_INIT, t_laps = PWT_TABLE_INIT, t_out = PWT_TABLE_INIT,
		  t_stops = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;
	int c, li;

	pwt_init(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, &li)) != -1) {
		switch (c) {
		case 'c': clean = optarg; break;
		case 'o': out = optarg; break;
		case 'p': pg = optarg; break;
		case 'B': pwt_bounds_option(&bounds, opts[li].name, optarg); break;
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
	if (pwt_bounds_check(&bounds, &err) < 0)
		pwt_usage_error("%s", err.msg);

	load(&t_races, clean, "races.csv");
	load(&t_laps, clean, "laps.csv");
	load(&t_out, clean, "outliers.csv");
	load(&t_stops, clean, "pit_stops.csv");
	load_races(&t_races);

	/* Pit stop laps per (race, driver), in lap order. */
	pwt_map stop_first = PWT_MAP_INIT;
	long *stop_laps = pwt_xmalloc((t_stops.nrows + 1) * sizeof(long));
	size_t *stop_count = pwt_xcalloc(t_stops.nrows + 1, sizeof(size_t));
	{
		static const char *const names[] = {"year", "round", "driver_id", "lap"};
		int sc[4];
		if (pwt_cols(&t_stops, names, sc, 4, &err) < 0)
			die(&err);
		/* clean writes stops sorted by (race, driver, stop): a group is a run. */
		for (size_t r = 0; r < t_stops.nrows; r++) {
			int race = race_of(&t_stops, r, sc[0], sc[1], &err);
			const char *drv;
			size_t first;
			if (pwt_req_str(&t_stops, r, sc[2], &drv, &err) < 0 ||
			    pwt_req_long(&t_stops, r, sc[3], &stop_laps[r], &err) < 0)
				die(&err);
			char *k = pwt_xasprintf("%d/%s", race, drv);
			if (!pwt_map_put(&stop_first, k, r, &first) &&
			    first + stop_count[first] != r) {
				pwt_err_set(&err, PWT_EX_DATAERR,
					    "%s:%u: pit stops of '%s' are not contiguous (the file "
					    "must be sorted as f1-clean writes it)",
					    t_stops.path, t_stops.lines[r], drv);
				die(&err);
			}
			if (pwt_map_get(&stop_first, k, &first))
				stop_count[first]++;
			free(k);
		}
	}

	/* Leader's cumulative time per (race, lap), over laps and outliers. */
	pwt_map leader = PWT_MAP_INIT; /* "race/lap" -> index into lead */
	long *lead = NULL;
	size_t nlead = 0, caplead = 0;
	static const char *const lap_names[] = {"year",	    "round",	    "driver_id",
						"lap",	    "lap_time_ms",  "cum_time_ms",
						"position", "tire_compound"};
	int lc[8], oc[8];
	if (pwt_cols(&t_laps, lap_names, lc, 8, &err) < 0 ||
	    pwt_cols(&t_out, lap_names, oc, 8, &err) < 0)
		die(&err);
	for (int pass = 0; pass < 2; pass++) {
		const pwt_table *t = pass ? &t_out : &t_laps;
		const int *cc = pass ? oc : lc;
		for (size_t r = 0; r < t->nrows; r++) {
			long lap, cum;
			size_t v;
			int race = race_of(t, r, cc[0], cc[1], &err);
			int rc;
			if (pwt_req_long(t, r, cc[3], &lap, &err) < 0 ||
			    (rc = pwt_cell_long(t, r, cc[5], &cum, &err)) < 0)
				die(&err);
			if (rc == 0)
				continue; /* after a missing lap: unknown */
			char *k = pwt_xasprintf("%d/%ld", race, lap);
			if (pwt_map_put(&leader, k, nlead, &v))
				PWT_PUSH(lead, nlead, caplead, cum);
			else if (cum < lead[v])
				lead[v] = cum;
			free(k);
		}
	}

	struct row *rows = pwt_xmalloc((t_laps.nrows + 1) * sizeof(*rows));
	size_t nrows = 0;
	for (size_t r = 0; r < t_laps.nrows; r++) {
		struct row w = {0};
		size_t v, first;
		w.race = race_of(&t_laps, r, lc[0], lc[1], &err);
		if (pwt_req_str(&t_laps, r, lc[2], &w.driver, &err) < 0 ||
		    pwt_req_long(&t_laps, r, lc[3], &w.lap, &err) < 0 ||
		    pwt_req_long(&t_laps, r, lc[4], &w.ms, &err) < 0 ||
		    (w.has_cum = pwt_cell_long(&t_laps, r, lc[5], &w.cum, &err)) < 0 ||
		    (w.has_pos = pwt_cell_long(&t_laps, r, lc[6], &w.pos, &err)) < 0)
			die(&err);
		w.compound = pwt_cell(&t_laps, r, lc[7]);
		char *k = pwt_xasprintf("%d/%s", w.race, w.driver);
		long last_stop = 0;
		w.stint = 1;
		if (pwt_map_get(&stop_first, k, &first)) {
			long prev = -1;
			for (size_t s = first; s < first + stop_count[first]; s++) {
				long sl = stop_laps[s];
				if (sl == w.lap)
					w.pit = 1;
				/* Two stops on one lap (a penalty served, then tyres)
				 * start one stint. */
				if (sl < w.lap && sl != prev) {
					w.stint++;
					if (sl > last_stop)
						last_stop = sl;
				}
				prev = sl;
			}
		}
		free(k);
		w.tire_age = (int)(w.lap - last_stop);
		k = pwt_xasprintf("%d/%ld", w.race, w.lap);
		if (w.has_cum && pwt_map_get(&leader, k, &v))
			w.leader_cum = lead[v];
		else
			w.has_cum = 0;
		free(k);
		rows[nrows++] = w;
	}
	pwt_sort(rows, nrows, sizeof(*rows), cmp_row);

	pwt_csvw cw;
	if (pwt_csvw_open(&cw, out, out_cols, sizeof(out_cols) / sizeof(out_cols[0]), &err) < 0)
		die(&err);
	for (size_t i = 0; i < nrows; i++) {
		const struct row *w = &rows[i];
		const struct race *ra = &races[w->race];
		pwt_csvw_long(&cw, ra->year);
		pwt_csvw_long(&cw, ra->round);
		pwt_csvw_str(&cw, ra->circuit);
		pwt_csvw_str(&cw, ra->date_s);
		pwt_csvw_str(&cw, w->driver);
		pwt_csvw_long(&cw, w->lap);
		pwt_csvw_long(&cw, w->ms);
		pwt_csvw_str(&cw, w->compound);
		pwt_csvw_long(&cw, w->tire_age);
		pwt_csvw_long(&cw, w->pit);
		if (ra->fuel_rate > 0) {
			double fuel = 110.0 - (double)w->lap * ra->fuel_rate;
			pwt_csvw_fixed(&cw, fuel < 0 ? 0 : fuel, 3);
		} else {
			pwt_csvw_null(&cw);
		}
		if (w->has_pos)
			pwt_csvw_long(&cw, w->pos);
		else
			pwt_csvw_null(&cw);
		pwt_csvw_long(&cw, w->stint);
		if (w->has_cum)
			pwt_csvw_fixed(&cw, (double)(w->cum - w->leader_cum) / 1000.0, 3);
		else
			pwt_csvw_null(&cw);
		if (ra->total_laps > 0)
			pwt_csvw_long(&cw, ra->total_laps > w->lap ? ra->total_laps - w->lap : 0);
		else
			pwt_csvw_null(&cw);
		pwt_csvw_end_row(&cw);
		if ((i + 1) % 100000 == 0)
			pwt_progress("%zu of %zu laps (%zu%%)", i + 1, nrows,
				     (i + 1) * 100 / nrows);
	}
	if (pwt_csvw_commit(&cw, &err) < 0)
		die(&err);
	pwt_progress("wrote %s: %zu rows", out, nrows);

	if (pg) {
		pwt_table feats = PWT_TABLE_INIT;
		char *views = pwt_bounds_views_sql(&bounds);
		static const char *const pg_cols[] = {
		    "year",	 "round",	  "circuit_id",	    "race_date",
		    "driver_id", "lap_number",	  "lap_time_ms",    "tire_compound",
		    "tire_age",	 "pit_stop",	  "fuel_remaining", "position",
		    "stint",	 "gap_to_leader", "laps_remaining",
		};
		if (pwt_csv_load(&feats, out, 0, &err) < 0 ||
		    pwt_pg_load(pg, "lap_features", pg_cols, sizeof(pg_cols) / sizeof(pg_cols[0]),
				&feats, views, &err) < 0)
			die(&err);
		pwt_progress("loaded %zu rows into lap_features; views train, validation, test",
			     feats.nrows);
		free(views);
		pwt_table_release(&feats);
	}
	free(rows);
	free(lead);
	free(stop_laps);
	free(stop_count);
	pwt_map_release(&leader);
	pwt_map_release(&stop_first);
	pwt_map_release(&race_idx);
	free(races);
	pwt_table_release(&t_races);
	pwt_table_release(&t_laps);
	pwt_table_release(&t_out);
	pwt_table_release(&t_stops);
	return 0;
}
