/*
 * f1-validate: checks the raw tables (raw/NAME.csv) against the spec's quality rules and writes
 * quality/report.json.
 *
 * Rules are hard (the data is broken: exit 65, not retried) or warnings (the
 * data is odd but real, and clean deals with it). Real Ergast data breaks
 * several of the spec's bounds for good reasons — 1950s grids of 30+ cars,
 * shared drives, red-flag laps over 300 s, six-stop races — so those bounds
 * are warnings, and what makes a rule hard is that a downstream join or
 * computation would be wrong: a result without its race, a duplicate key, a
 * key column that is mostly missing, a value that does not parse, or lap
 * times out of range in bulk (a unit error rather than a red flag).
 */
#include "pwt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { T_RACES, T_RESULTS, T_PIT_STOPS, T_DRIVERS, T_CIRCUITS, T_LAP_TIMES, T_COUNT };

static const char *const table_names[T_COUNT] = {
    "races", "results", "pit_stops", "drivers", "circuits", "lap_times",
};

/* Columns whose completeness is a hard rule: the keys and what the pipeline
 * cannot do without. */
static const char *const required_cols[T_COUNT][8] = {
    [T_RACES] = {"year", "round", "name", "date", "circuitRef"},
    [T_RESULTS] = {"year", "round", "driverRef", "grid", "positionOrder", "laps"},
    [T_PIT_STOPS] = {"year", "round", "driverRef", "stop", "lap", "duration"},
    [T_DRIVERS] = {"driverRef", "forename", "surname"},
    [T_CIRCUITS] = {"circuitRef", "name"},
    [T_LAP_TIMES] = {"year", "round", "lap", "driver_id", "id_kind", "lap_time"},
};

/* The dump's numeric ids: always \N when the source is the API, so their
 * completeness says nothing about the data. */
static int source_id_col(const char *name)
{
	static const char *const ids[] = {"raceId",	   "driverId",	"resultId",
					  "constructorId", "circuitId", "statusId"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (strcmp(name, ids[i]) == 0)
			return 1;
	return 0;
}

enum severity { HARD, WARN, RATE };

struct rule {
	const char *name;
	int table;
	enum severity sev;
	const char *what;
	long checked, violations;
	char example[400];
	int printed;
};

enum {
	R_VALUE_TYPE_RACES,
	R_VALUE_TYPE_RESULTS,
	R_VALUE_TYPE_PIT_STOPS,
	R_VALUE_TYPE_LAP_TIMES,
	R_LAP_TIME_RANGE,
	R_POSITION_VALID,
	R_POSITION_RANGE,
	R_FUEL_RANGE,
	R_RESULT_RACE_EXISTS,
	R_PIT_STOP_RESULT_EXISTS,
	R_LAP_RACE_EXISTS,
	R_RACE_CIRCUIT_EXISTS,
	R_RESULT_DRIVER_EXISTS,
	R_LAP_DRIVER_REF_EXISTS,
	R_PIT_STOPS_PER_RESULT,
	R_DUP_RACES,
	R_DUP_RESULTS,
	R_DUP_PIT_STOPS,
	R_DUP_DRIVERS,
	R_DUP_CIRCUITS,
	R_DUP_LAP_TIMES,
	R_COMPLETENESS_REQUIRED,
	R_COMPLETENESS_OPTIONAL,
	R_COUNT
};

static struct rule rules[R_COUNT] = {
    [R_VALUE_TYPE_RACES] = {"value_type", T_RACES, HARD, "values parse (integers, dates)", 0, 0, "",
			    0},
    [R_VALUE_TYPE_RESULTS] = {"value_type", T_RESULTS, HARD, "values parse", 0, 0, "", 0},
    [R_VALUE_TYPE_PIT_STOPS] = {"value_type", T_PIT_STOPS, HARD, "values parse", 0, 0, "", 0},
    [R_VALUE_TYPE_LAP_TIMES] = {"value_type", T_LAP_TIMES, HARD, "values parse (m:ss.mmm)", 0, 0,
				"", 0},
    [R_LAP_TIME_RANGE] = {"lap_time_range", T_LAP_TIMES, RATE,
			  "lap time within 30-300 s (hard above the --max-out-of-range share)", 0,
			  0, "", 0},
    [R_POSITION_VALID] = {"position_valid", T_RESULTS, HARD,
			  "position >= 1, grid >= 0 (0 = pit lane start)", 0, 0, "", 0},
    [R_POSITION_RANGE] = {"position_range", T_RESULTS, WARN,
			  "position 1-24, grid 0-24, lap position 1-24", 0, 0, "", 0},
    [R_FUEL_RANGE] = {"fuel_range", T_LAP_TIMES, HARD, "fuel 0-150 kg where a fuel column exists",
		      0, 0, "", 0},
    [R_RESULT_RACE_EXISTS] = {"result_race_exists", T_RESULTS, HARD,
			      "every result's (year, round) is a race", 0, 0, "", 0},
    [R_PIT_STOP_RESULT_EXISTS] = {"pit_stop_result_exists", T_PIT_STOPS, HARD,
				  "every pit stop belongs to a result", 0, 0, "", 0},
    [R_LAP_RACE_EXISTS] = {"lap_race_exists", T_LAP_TIMES, HARD,
			   "every lap's (year, round) is a race", 0, 0, "", 0},
    [R_RACE_CIRCUIT_EXISTS] = {"race_circuit_exists", T_RACES, HARD,
			       "every race's circuitRef is a circuit", 0, 0, "", 0},
    [R_RESULT_DRIVER_EXISTS] = {"result_driver_exists", T_RESULTS, HARD,
				"every result's driverRef is a driver", 0, 0, "", 0},
    [R_LAP_DRIVER_REF_EXISTS] = {"lap_driver_ref_exists", T_LAP_TIMES, HARD,
				 "laps with id_kind ref name a driver", 0, 0, "", 0},
    [R_PIT_STOPS_PER_RESULT] = {"pit_stops_per_result", T_RESULTS, WARN, "0-5 pit stops per result",
				0, 0, "", 0},
    [R_DUP_RACES] = {"duplicate_keys", T_RACES, HARD, "(year, round) unique", 0, 0, "", 0},
    [R_DUP_RESULTS] = {"duplicate_keys", T_RESULTS, HARD, "(year, round, driverRef, number) unique",
		       0, 0, "", 0},
    [R_DUP_PIT_STOPS] = {"duplicate_keys", T_PIT_STOPS, HARD,
			 "(year, round, driverRef, stop) unique", 0, 0, "", 0},
    [R_DUP_DRIVERS] = {"duplicate_keys", T_DRIVERS, HARD, "driverRef unique", 0, 0, "", 0},
    [R_DUP_CIRCUITS] = {"duplicate_keys", T_CIRCUITS, HARD, "circuitRef unique", 0, 0, "", 0},
    [R_DUP_LAP_TIMES] = {"duplicate_keys", T_LAP_TIMES, WARN,
			 "(year, round, lap, driver_id) unique (clean renumbers or drops)", 0, 0,
			 "", 0},
    [R_COMPLETENESS_REQUIRED] = {"completeness", -1, HARD,
				 "required columns more than --min-completeness % present", 0, 0,
				 "", 0},
    [R_COMPLETENESS_OPTIONAL] = {"completeness", -1, WARN,
				 "other columns more than --min-completeness % present", 0, 0, "",
				 0},
};

struct tab {
	pwt_table t;
	int loaded;
	char load_error[1100];
	unsigned char *bad; /* rows with any violation */
	double req_completeness;
};

static struct tab tabs[T_COUNT];
static double max_out_of_range_pct = 1.0;
static double min_completeness = 95.0;

PWT_PRINTF(4, 5)
static void violate(int r, int table, size_t row, const char *fmt, ...)
{
	struct rule *ru = &rules[r];
	char detail[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ru->violations++;
	if (table >= 0 && tabs[table].bad)
		tabs[table].bad[row] = 1;
	if (!ru->example[0]) {
		if (table >= 0)
			snprintf(ru->example, sizeof(ru->example), "%s:%u: %s", tabs[table].t.path,
				 tabs[table].t.lines[row], detail);
		else
			snprintf(ru->example, sizeof(ru->example), "%s", detail);
	}
	if (ru->printed < 3 && ru->sev != WARN) {
		ru->printed++;
		if (table >= 0)
			pwt_warn("%s:%u: %s: %s", tabs[table].t.path, tabs[table].t.lines[row],
				 ru->name, detail);
		else
			pwt_warn("%s: %s", ru->name, detail);
	}
}

static int failed(const struct rule *ru)
{
	if (ru->sev == HARD)
		return ru->violations > 0;
	if (ru->sev == RATE)
		return ru->checked &&
		       100.0 * (double)ru->violations / (double)ru->checked > max_out_of_range_pct;
	return 0;
}

static void load(const char *dir, int t)
{
	char *name = pwt_xasprintf("%s.csv", table_names[t]);
	char *path = pwt_path_join(dir, name);
	pwt_err err = PWT_ERR_INIT;

	if (pwt_csv_load(&tabs[t].t, path, 0, &err) < 0) {
		snprintf(tabs[t].load_error, sizeof(tabs[t].load_error), "%s", err.msg);
		fprintf(stderr, "%s: error: %s\n", pwt_progname(), err.msg);
	} else {
		tabs[t].loaded = 1;
		tabs[t].bad = pwt_xcalloc(tabs[t].t.nrows ? tabs[t].t.nrows : 1, 1);
		pwt_progress("read %s: %zu rows", path, tabs[t].t.nrows);
	}
	free(name);
	free(path);
}

/* Column index or -1; a missing column is itself reported by completeness. */
static int col(int t, const char *name)
{
	return tabs[t].loaded ? pwt_col(&tabs[t].t, name) : -1;
}

/* An integer cell; on a parse error records a value_type violation. */
static int get_long(int r, int t, size_t row, int c, long *out)
{
	pwt_err err = PWT_ERR_INIT;
	int rc;

	if (c < 0)
		return 0;
	rc = pwt_cell_long(&tabs[t].t, row, c, out, &err);
	if (rc < 0) {
		violate(r, t, row, "column '%s': not an integer: '%.40s'", tabs[t].t.header[c],
			pwt_cell(&tabs[t].t, row, c));
		return 0;
	}
	return rc;
}

static const char *get_str(int t, size_t row, int c)
{
	return c < 0 ? NULL : pwt_cell(&tabs[t].t, row, c);
}

static void check_completeness(void)
{
	for (int t = 0; t < T_COUNT; t++) {
		struct tab *tb = &tabs[t];
		double sum = 0;
		int nreq = 0;

		if (!tb->loaded)
			continue;
		for (int k = 0; k < 8 && required_cols[t][k]; k++) {
			int c = pwt_col(&tb->t, required_cols[t][k]);
			rules[R_COMPLETENESS_REQUIRED].checked++;
			nreq++;
			if (c < 0) {
				violate(R_COMPLETENESS_REQUIRED, -1, 0, "%s: missing column '%s'",
					tb->t.path, required_cols[t][k]);
				continue;
			}
			size_t present = 0;
			for (size_t r = 0; r < tb->t.nrows; r++) {
				const char *v = pwt_cell(&tb->t, r, c);
				if (v && *v)
					present++;
			}
			double pct =
			    tb->t.nrows ? 100.0 * (double)present / (double)tb->t.nrows : 100.0;
			sum += pct;
			if (pct <= min_completeness)
				violate(R_COMPLETENESS_REQUIRED, -1, 0,
					"%s: column '%s' is %.1f%% complete", tb->t.path,
					required_cols[t][k], pct);
		}
		tb->req_completeness = nreq ? sum / nreq : 100.0;
	}
}

static int is_required(int t, const char *name)
{
	for (int k = 0; k < 8 && required_cols[t][k]; k++)
		if (strcmp(required_cols[t][k], name) == 0)
			return 1;
	return 0;
}

static double column_completeness(int t, size_t c)
{
	const pwt_table *tb = &tabs[t].t;
	size_t present = 0;

	for (size_t r = 0; r < tb->nrows; r++) {
		const char *v = pwt_cell(tb, r, (int)c);
		if (v && *v)
			present++;
	}
	return tb->nrows ? 100.0 * (double)present / (double)tb->nrows : 100.0;
}

static void check_optional_completeness(void)
{
	for (int t = 0; t < T_COUNT; t++) {
		if (!tabs[t].loaded)
			continue;
		for (size_t c = 0; c < tabs[t].t.ncols; c++) {
			const char *name = tabs[t].t.header[c];
			if (is_required(t, name) || source_id_col(name))
				continue;
			rules[R_COMPLETENESS_OPTIONAL].checked++;
			double pct = column_completeness(t, c);
			if (pct <= min_completeness)
				violate(R_COMPLETENESS_OPTIONAL, -1, 0,
					"%s: column '%s' is %.1f%% complete", tabs[t].t.path, name,
					pct);
		}
	}
}

static pwt_map races = PWT_MAP_INIT;   /* "year/round" -> row */
static pwt_map drivers = PWT_MAP_INIT; /* driverRef -> row */
static pwt_map results = PWT_MAP_INIT; /* "year/round/driverRef" -> stops */
static size_t *stops_per_result;

static void check_reference_tables(void)
{
	if (tabs[T_CIRCUITS].loaded) {
		pwt_map circuits = PWT_MAP_INIT;
		int c = col(T_CIRCUITS, "circuitRef");
		for (size_t r = 0; c >= 0 && r < tabs[T_CIRCUITS].t.nrows; r++) {
			const char *ref = get_str(T_CIRCUITS, r, c);
			if (!ref)
				continue;
			rules[R_DUP_CIRCUITS].checked++;
			if (!pwt_map_put(&circuits, ref, r, NULL))
				violate(R_DUP_CIRCUITS, T_CIRCUITS, r, "duplicate circuitRef '%s'",
					ref);
		}
		int rc = col(T_RACES, "circuitRef");
		for (size_t r = 0; rc >= 0 && r < tabs[T_RACES].t.nrows; r++) {
			const char *ref = get_str(T_RACES, r, rc);
			size_t v;
			if (!ref)
				continue;
			rules[R_RACE_CIRCUIT_EXISTS].checked++;
			if (!pwt_map_get(&circuits, ref, &v))
				violate(R_RACE_CIRCUIT_EXISTS, T_RACES, r,
					"circuitRef '%s' is not in circuits.csv", ref);
		}
		pwt_map_release(&circuits);
	}
	if (tabs[T_DRIVERS].loaded) {
		int c = col(T_DRIVERS, "driverRef");
		for (size_t r = 0; c >= 0 && r < tabs[T_DRIVERS].t.nrows; r++) {
			const char *ref = get_str(T_DRIVERS, r, c);
			if (!ref)
				continue;
			rules[R_DUP_DRIVERS].checked++;
			if (!pwt_map_put(&drivers, ref, r, NULL))
				violate(R_DUP_DRIVERS, T_DRIVERS, r, "duplicate driverRef '%s'",
					ref);
		}
	}
	if (tabs[T_RACES].loaded) {
		int cy = col(T_RACES, "year"), cr = col(T_RACES, "round"),
		    cd = col(T_RACES, "date");
		for (size_t r = 0; r < tabs[T_RACES].t.nrows; r++) {
			long y, rd, d;
			pwt_err err = PWT_ERR_INIT;
			int oky = get_long(R_VALUE_TYPE_RACES, T_RACES, r, cy, &y);
			int okr = get_long(R_VALUE_TYPE_RACES, T_RACES, r, cr, &rd);
			rules[R_VALUE_TYPE_RACES].checked++;
			if (cd >= 0 && pwt_cell_date(&tabs[T_RACES].t, r, cd, &d, &err) < 0)
				violate(R_VALUE_TYPE_RACES, T_RACES, r, "column 'date': '%.40s'",
					get_str(T_RACES, r, cd));
			if (!oky || !okr)
				continue;
			char *k = pwt_pair_key(y, rd);
			rules[R_DUP_RACES].checked++;
			if (!pwt_map_put(&races, k, r, NULL))
				violate(R_DUP_RACES, T_RACES, r, "duplicate race %ld round %ld", y,
					rd);
			free(k);
		}
	}
}

static void check_results(void)
{
	int t = T_RESULTS;
	pwt_map seen = PWT_MAP_INIT;

	if (!tabs[t].loaded)
		return;
	int cy = col(t, "year"), cr = col(t, "round"), cd = col(t, "driverRef"),
	    cn = col(t, "number"), cg = col(t, "grid"), cp = col(t, "position"),
	    co = col(t, "positionOrder"), cl = col(t, "laps");
	stops_per_result = pwt_xcalloc(tabs[t].t.nrows, sizeof(size_t));
	for (size_t r = 0; r < tabs[t].t.nrows; r++) {
		long y, rd, grid, pos, order, laps;
		size_t v;
		const char *ref = get_str(t, r, cd);

		rules[R_VALUE_TYPE_RESULTS].checked++;
		int oky = get_long(R_VALUE_TYPE_RESULTS, t, r, cy, &y);
		int okr = get_long(R_VALUE_TYPE_RESULTS, t, r, cr, &rd);
		int okg = get_long(R_VALUE_TYPE_RESULTS, t, r, cg, &grid);
		int okp = get_long(R_VALUE_TYPE_RESULTS, t, r, cp, &pos);
		int oko = get_long(R_VALUE_TYPE_RESULTS, t, r, co, &order);
		get_long(R_VALUE_TYPE_RESULTS, t, r, cl, &laps);

		rules[R_POSITION_VALID].checked++;
		rules[R_POSITION_RANGE].checked++;
		if ((okp && pos < 1) || (oko && order < 1) || (okg && grid < 0))
			violate(R_POSITION_VALID, t, r, "position %s, positionOrder %s, grid %s",
				okp ? get_str(t, r, cp) : "\\N", oko ? get_str(t, r, co) : "\\N",
				okg ? get_str(t, r, cg) : "\\N");
		else if ((okp && pos > 24) || (okg && grid > 24))
			violate(R_POSITION_RANGE, t, r, "position %s, grid %s (max 24)",
				okp ? get_str(t, r, cp) : "\\N", okg ? get_str(t, r, cg) : "\\N");

		if (!oky || !okr)
			continue;
		char *rk = pwt_pair_key(y, rd);
		rules[R_RESULT_RACE_EXISTS].checked++;
		if (tabs[T_RACES].loaded && !pwt_map_get(&races, rk, &v))
			violate(R_RESULT_RACE_EXISTS, t, r,
				"no race %ld round %ld in races.csv for driver '%s'", y, rd,
				ref ? ref : "\\N");
		free(rk);
		if (!ref)
			continue;
		rules[R_RESULT_DRIVER_EXISTS].checked++;
		if (tabs[T_DRIVERS].loaded && !pwt_map_get(&drivers, ref, &v))
			violate(R_RESULT_DRIVER_EXISTS, t, r,
				"driverRef '%s' is not in drivers.csv", ref);
		const char *num = get_str(t, r, cn);
		char *dk = pwt_xasprintf("%ld/%ld/%s/%s", y, rd, ref, num ? num : "\\N");
		rules[R_DUP_RESULTS].checked++;
		if (!pwt_map_put(&seen, dk, r, NULL))
			violate(R_DUP_RESULTS, t, r,
				"duplicate result: %ld round %ld driver '%s' car %s", y, rd, ref,
				num ? num : "\\N");
		free(dk);
		char *key = pwt_xasprintf("%ld/%ld/%s", y, rd, ref);
		pwt_map_put(&results, key, r, NULL);
		free(key);
	}
	pwt_map_release(&seen);
}

static void check_pit_stops(void)
{
	int t = T_PIT_STOPS;
	pwt_map seen = PWT_MAP_INIT;

	if (!tabs[t].loaded)
		return;
	int cy = col(t, "year"), cr = col(t, "round"), cd = col(t, "driverRef"),
	    cs = col(t, "stop"), cl = col(t, "lap"), cu = col(t, "duration");
	for (size_t r = 0; r < tabs[t].t.nrows; r++) {
		long y, rd, stop, lap, ms;
		size_t v;
		pwt_err err = PWT_ERR_INIT;

		rules[R_VALUE_TYPE_PIT_STOPS].checked++;
		int oky = get_long(R_VALUE_TYPE_PIT_STOPS, t, r, cy, &y);
		int okr = get_long(R_VALUE_TYPE_PIT_STOPS, t, r, cr, &rd);
		int oks = get_long(R_VALUE_TYPE_PIT_STOPS, t, r, cs, &stop);
		get_long(R_VALUE_TYPE_PIT_STOPS, t, r, cl, &lap);
		if (cu >= 0 && pwt_cell_ms(&tabs[t].t, r, cu, &ms, &err) < 0)
			violate(R_VALUE_TYPE_PIT_STOPS, t, r, "column 'duration': '%.40s'",
				get_str(t, r, cu));
		const char *ref = get_str(t, r, cd);
		if (!oky || !okr || !ref)
			continue;
		char *key = pwt_xasprintf("%ld/%ld/%s", y, rd, ref);
		rules[R_PIT_STOP_RESULT_EXISTS].checked++;
		if (!pwt_map_get(&results, key, &v)) {
			if (tabs[T_RESULTS].loaded)
				violate(R_PIT_STOP_RESULT_EXISTS, t, r,
					"no result for %ld round %ld driver '%s'", y, rd, ref);
		} else {
			stops_per_result[v]++;
		}
		free(key);
		if (!oks)
			continue;
		char *dk = pwt_xasprintf("%ld/%ld/%s/%ld", y, rd, ref, stop);
		rules[R_DUP_PIT_STOPS].checked++;
		if (!pwt_map_put(&seen, dk, r, NULL))
			violate(R_DUP_PIT_STOPS, t, r,
				"duplicate stop %ld of '%s' in %ld round %ld", stop, ref, y, rd);
		free(dk);
	}
	pwt_map_release(&seen);
	if (!tabs[T_RESULTS].loaded)
		return;
	int ry = col(T_RESULTS, "year"), rr = col(T_RESULTS, "round"),
	    rdrv = col(T_RESULTS, "driverRef");
	for (size_t r = 0; r < tabs[T_RESULTS].t.nrows; r++) {
		rules[R_PIT_STOPS_PER_RESULT].checked++;
		if (stops_per_result[r] > 5)
			violate(R_PIT_STOPS_PER_RESULT, T_RESULTS, r,
				"%zu pit stops for '%s' in %s round %s", stops_per_result[r],
				get_str(T_RESULTS, r, rdrv), get_str(T_RESULTS, r, ry),
				get_str(T_RESULTS, r, rr));
	}
}

static void check_lap_times(void)
{
	int t = T_LAP_TIMES;
	pwt_map seen = PWT_MAP_INIT;
	int fuel_cols[4], nfuel = 0;
	static const char *const fuel_names[] = {"fuel", "fuel_kg", "fuel_remaining"};

	if (!tabs[t].loaded)
		return;
	for (size_t k = 0; k < 3; k++) {
		int c = col(t, fuel_names[k]);
		if (c >= 0)
			fuel_cols[nfuel++] = c;
	}
	int cy = col(t, "year"), cr = col(t, "round"), cl = col(t, "lap"), cd = col(t, "driver_id"),
	    ck = col(t, "id_kind"), cp = col(t, "position"), ct = col(t, "lap_time");
	for (size_t r = 0; r < tabs[t].t.nrows; r++) {
		long y, rd, lap, pos, ms;
		size_t v;
		pwt_err err = PWT_ERR_INIT;

		rules[R_VALUE_TYPE_LAP_TIMES].checked++;
		int oky = get_long(R_VALUE_TYPE_LAP_TIMES, t, r, cy, &y);
		int okr = get_long(R_VALUE_TYPE_LAP_TIMES, t, r, cr, &rd);
		int okl = get_long(R_VALUE_TYPE_LAP_TIMES, t, r, cl, &lap);
		int okp = get_long(R_VALUE_TYPE_LAP_TIMES, t, r, cp, &pos);
		const char *kind = get_str(t, r, ck);
		if (kind && strcmp(kind, "ref") != 0 && strcmp(kind, "name") != 0)
			violate(R_VALUE_TYPE_LAP_TIMES, t, r,
				"column 'id_kind': expected 'ref' or 'name', got '%.20s'", kind);
		int okt = ct >= 0 ? pwt_cell_ms(&tabs[t].t, r, ct, &ms, &err) : 0;
		if (okt < 0)
			violate(R_VALUE_TYPE_LAP_TIMES, t, r, "column 'lap_time': '%.40s'",
				get_str(t, r, ct));
		if (okt > 0) {
			rules[R_LAP_TIME_RANGE].checked++;
			if (ms < 30000 || ms > 300000)
				violate(R_LAP_TIME_RANGE, t, r,
					"lap time %s (%.3f s) outside 30-300 s", get_str(t, r, ct),
					(double)ms / 1000.0);
		}
		if (okp) {
			rules[R_POSITION_VALID].checked++;
			rules[R_POSITION_RANGE].checked++;
			if (pos < 1)
				violate(R_POSITION_VALID, t, r, "lap position %ld", pos);
			else if (pos > 24)
				violate(R_POSITION_RANGE, t, r, "lap position %ld (max 24)", pos);
		}
		for (int k = 0; k < nfuel; k++) {
			double f;
			int rc = pwt_cell_double(&tabs[t].t, r, fuel_cols[k], &f, &err);
			rules[R_FUEL_RANGE].checked++;
			if (rc < 0 || (rc > 0 && (f < 0 || f > 150)))
				violate(R_FUEL_RANGE, t, r, "fuel '%.20s' outside 0-150 kg",
					get_str(t, r, fuel_cols[k]));
		}
		const char *drv = get_str(t, r, cd);
		if (!oky || !okr)
			continue;
		char *rk = pwt_pair_key(y, rd);
		rules[R_LAP_RACE_EXISTS].checked++;
		if (tabs[T_RACES].loaded && !pwt_map_get(&races, rk, &v))
			violate(R_LAP_RACE_EXISTS, t, r, "no race %ld round %ld in races.csv", y,
				rd);
		free(rk);
		if (!drv)
			continue;
		if (kind && strcmp(kind, "ref") == 0 && tabs[T_DRIVERS].loaded) {
			rules[R_LAP_DRIVER_REF_EXISTS].checked++;
			if (!pwt_map_get(&drivers, drv, &v))
				violate(R_LAP_DRIVER_REF_EXISTS, t, r,
					"driver '%s' is not in drivers.csv", drv);
		}
		if (!okl)
			continue;
		char *dk = pwt_xasprintf("%ld/%ld/%ld/%s", y, rd, lap, drv);
		rules[R_DUP_LAP_TIMES].checked++;
		if (!pwt_map_put(&seen, dk, r, NULL))
			violate(R_DUP_LAP_TIMES, t, r,
				"lap %ld of '%s' in %ld round %ld appears again", lap, drv, y, rd);
		free(dk);
	}
	pwt_map_release(&seen);
}

static double quality_score(int t)
{
	struct tab *tb = &tabs[t];
	size_t ok = 0;

	if (!tb->loaded)
		return 0.0;
	if (!tb->t.nrows)
		return 100.0;
	for (size_t r = 0; r < tb->t.nrows; r++)
		ok += !tb->bad[r];
	return (double)ok / (double)tb->t.nrows * tb->req_completeness;
}

static int write_report(const char *path, const char *raw_dir, int hard, int warnings, pwt_err *err)
{
	pwt_json j;

	if (pwt_json_open(&j, path, err) < 0)
		return -1;
	pwt_json_obj(&j, NULL);
	pwt_json_str(&j, "raw_dir", raw_dir);
	pwt_json_str(&j, "status", hard ? "fail" : "pass");
	pwt_json_long(&j, "hard_failures", hard);
	pwt_json_long(&j, "warnings", warnings);
	pwt_json_obj(&j, "thresholds");
	pwt_json_fixed(&j, "min_completeness_pct", min_completeness, 1);
	pwt_json_fixed(&j, "max_lap_time_out_of_range_pct", max_out_of_range_pct, 1);
	pwt_json_end(&j, '}');
	pwt_json_obj(&j, "tables");
	for (int t = 0; t < T_COUNT; t++) {
		struct tab *tb = &tabs[t];
		pwt_json_obj(&j, table_names[t]);
		if (!tb->loaded) {
			pwt_json_str(&j, "error", tb->load_error);
			pwt_json_fixed(&j, "quality_score", 0.0, 2);
			pwt_json_end(&j, '}');
			continue;
		}
		size_t bad = 0;
		for (size_t r = 0; r < tb->t.nrows; r++)
			bad += tb->bad[r];
		pwt_json_long(&j, "rows", (long)tb->t.nrows);
		pwt_json_long(&j, "rows_with_violations", (long)bad);
		pwt_json_fixed(&j, "quality_score", quality_score(t), 2);
		pwt_json_obj(&j, "completeness_pct");
		for (size_t c = 0; c < tb->t.ncols; c++)
			pwt_json_fixed(&j, tb->t.header[c], column_completeness(t, c), 2);
		pwt_json_end(&j, '}');
		pwt_json_end(&j, '}');
	}
	pwt_json_end(&j, '}');
	pwt_json_arr(&j, "rules");
	for (int r = 0; r < R_COUNT; r++) {
		struct rule *ru = &rules[r];
		pwt_json_obj(&j, NULL);
		pwt_json_str(&j, "rule", ru->name);
		pwt_json_str(&j, "table", ru->table >= 0 ? table_names[ru->table] : "*");
		pwt_json_str(&j, "severity", ru->sev == WARN ? "warning" : "hard");
		pwt_json_str(&j, "check", ru->what);
		pwt_json_long(&j, "checked", ru->checked);
		pwt_json_long(&j, "violations", ru->violations);
		pwt_json_str(&j, "status", failed(ru) ? "fail" : ru->violations ? "warn" : "pass");
		if (ru->example[0])
			pwt_json_str(&j, "first_violation", ru->example);
		pwt_json_end(&j, '}');
	}
	pwt_json_end(&j, ']');
	pwt_json_end(&j, '}');
	return pwt_json_commit(&j, err);
}

static void usage(void)
{
	printf("Usage: f1-validate [--raw DIR] [--report FILE] [OPTIONS]\n"
	       "\n"
	       "Checks the raw F1 tables (races, results, pit_stops, drivers, circuits,\n"
	       "lap_times .csv in DIR) against the pipeline's quality rules and writes a\n"
	       "JSON report: a 0-100 quality score per table and counts per rule.\n"
	       "\n"
	       "Options:\n"
	       "  --raw DIR                 raw tables (default: raw)\n"
	       "  --report FILE             report path (default: quality/report.json)\n"
	       "  --min-completeness PCT    column completeness threshold (default: 95)\n"
	       "  --max-out-of-range PCT    share of lap times outside 30-300 s above\n"
	       "                            which the range rule is hard (default: 1)\n"
	       "  -q, --quiet               no progress messages\n"
	       "  -h, --help                this help\n"
	       "\n"
	       "Exit status: 0 all hard rules pass (warnings allowed); 65 a hard rule\n"
	       "failed or a table is malformed (not retried); 66 a table is missing;\n"
	       "73/74 the report cannot be written.\n");
}

int main(int argc, char **argv)
{
	const char *raw_dir = "raw", *report = "quality/report.json";
	static const struct option opts[] = {
	    {"raw", required_argument, NULL, 'r'},
	    {"report", required_argument, NULL, 'o'},
	    {"min-completeness", required_argument, NULL, 'c'},
	    {"max-out-of-range", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	pwt_init(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': raw_dir = optarg; break;
		case 'o': report = optarg; break;
		case 'c':
			if (pwt_parse_double(optarg, &min_completeness) < 0)
				pwt_usage_error("--min-completeness: not a number: '%s'", optarg);
			break;
		case 'm':
			if (pwt_parse_double(optarg, &max_out_of_range_pct) < 0)
				pwt_usage_error("--max-out-of-range: not a number: '%s'", optarg);
			break;
		case 'q': pwt_set_quiet(1); break;
		case 'h': usage(); return 0;
		default: pwt_usage_error("unknown option");
		}
	}
	if (optind < argc)
		pwt_usage_error("unexpected argument '%s'", argv[optind]);

	int missing = 0, malformed = 0;
	for (int t = 0; t < T_COUNT; t++) {
		load(raw_dir, t);
		if (!tabs[t].loaded) {
			if (strstr(tabs[t].load_error, "cannot open"))
				missing++;
			else
				malformed++;
		}
	}
	check_reference_tables();
	check_results();
	check_pit_stops();
	check_lap_times();
	check_completeness();
	check_optional_completeness();

	int hard = malformed + missing, warnings = 0;
	for (int r = 0; r < R_COUNT; r++) {
		struct rule *ru = &rules[r];
		if (failed(ru)) {
			hard++;
			fprintf(stderr, "%s: error: rule %s (%s) failed: %ld of %ld; first: %s\n",
				pwt_progname(), ru->name,
				ru->table >= 0 ? table_names[ru->table] : "*", ru->violations,
				ru->checked, ru->example);
		} else if (ru->violations) {
			warnings++;
			pwt_warn("rule %s (%s): %ld of %ld; first: %s", ru->name,
				 ru->table >= 0 ? table_names[ru->table] : "*", ru->violations,
				 ru->checked, ru->example);
		}
	}
	pwt_err err = PWT_ERR_INIT;
	if (write_report(report, raw_dir, hard, warnings, &err) < 0)
		pwt_die_err(&err);
	for (int t = 0; t < T_COUNT; t++)
		if (tabs[t].loaded)
			pwt_progress("%s: quality score %.2f", table_names[t], quality_score(t));
	pwt_progress("wrote %s: %d hard failure(s), %d warning(s)", report, hard, warnings);
	for (int t = 0; t < T_COUNT; t++) {
		pwt_table_release(&tabs[t].t);
		free(tabs[t].bad);
	}
	pwt_map_release(&races);
	pwt_map_release(&drivers);
	pwt_map_release(&results);
	free(stops_per_result);
	if (hard)
		return missing && !malformed && hard == missing ? PWT_EX_NOINPUT : PWT_EX_DATAERR;
	return 0;
}
