/*
 * f1-ingest: the F1 pipeline's source task (docs/f1-pipeline.md, docs/f1-ingest.md).
 *
 * Two sources, one output contract (the raw/ tables):
 *   - the Jolpica API (https://api.jolpi.ca/ergast/f1/, Ergast-compatible), fetched with
 *     libcurl: paged with limit/offset/total, rate limited (4 requests/s and 500/hour by
 *     default), retried on network errors, 429 and 5xx honouring Retry-After with
 *     exponential backoff and jitter.  Every page is kept under raw/json/ (named as the
 *     Jolpica project names its recorded responses) and the CSVs are rebuilt from those
 *     pages, which also makes --incremental simple: a page chain already on disk and
 *     complete is not fetched again.
 *   - an Ergast CSV dump (--from-csv DIR), read directly, for offline runs.
 *
 * Exit status (DESIGN.md): 0 ok; 64 usage; 65 bad data (a malformed or truncated page, named
 * with its URL, file and line/column); 66 a dump file is missing; 73/74 output errors; 75
 * transient (network, 429, 5xx still failing after the retries); 77 HTTP 401/403; 78 bad
 * configuration (F1_SOURCE, a base URL that answers 404).
 */
#include "pwt.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOURCE "https://api.jolpi.ca/ergast/f1"
#define MAX_SEASONS 256

/* ------------------------------------------------------------------ tables */

enum tbl {
	T_RACES,
	T_RESULTS,
	T_PITS,
	T_DRIVERS,
	T_CIRCUITS,
	T_LAPS,
	/* only for --parse-fixture: the API has them, the pipeline does not use them */
	T_SEASONS,
	T_STATUS,
	T_QUALI,
	T_CONSTRUCTORS,
	NT
};

static const char *const races_hdr[] = {
    "raceId",	  "year",	"round",       "circuitId",   "name",	   "date",     "time",
    "url",	  "fp1_date",	"fp1_time",    "fp2_date",    "fp2_time",  "fp3_date", "fp3_time",
    "quali_date", "quali_time", "sprint_date", "sprint_time", "circuitRef"};
static const char *const results_hdr[] = {
    "resultId",	       "raceId",	 "driverId", "constructorId",
    "number",	       "grid",		 "position", "positionText",
    "positionOrder",   "points",	 "laps",     "time",
    "milliseconds",    "fastestLap",	 "rank",     "fastestLapTime",
    "fastestLapSpeed", "statusId",	 "year",     "round",
    "driverRef",       "constructorRef", "status"};
static const char *const pits_hdr[] = {"raceId",   "driverId",	   "stop", "lap",   "time",
				       "duration", "milliseconds", "year", "round", "driverRef"};
static const char *const drivers_hdr[] = {
    "driverId", "driverRef", "number", "code", "forename", "surname", "dob", "nationality", "url"};
static const char *const circuits_hdr[] = {"circuitId", "circuitRef", "name", "location", "country",
					   "lat",	"lng",	      "alt",  "url"};
static const char *const laps_hdr[] = {"year",	  "round",    "lap",	  "driver_id",
				       "id_kind", "position", "lap_time", "gap_to_leader"};
static const char *const seasons_hdr[] = {"year", "url"};
static const char *const status_hdr[] = {"statusId", "status", "count"};
static const char *const quali_hdr[] = {
    "year", "round", "driverRef", "constructorRef", "number", "position", "q1", "q2", "q3"};
static const char *const cons_hdr[] = {"constructorId", "constructorRef", "name", "nationality",
				       "url"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *file; /* raw/<file> */
	const char *const *hdr;
	size_t ncols;
} tdef[NT] = {
    [T_RACES] = {"races.csv", races_hdr, NELEM(races_hdr)},
    [T_RESULTS] = {"results.csv", results_hdr, NELEM(results_hdr)},
    [T_PITS] = {"pit_stops.csv", pits_hdr, NELEM(pits_hdr)},
    [T_DRIVERS] = {"drivers.csv", drivers_hdr, NELEM(drivers_hdr)},
    [T_CIRCUITS] = {"circuits.csv", circuits_hdr, NELEM(circuits_hdr)},
    [T_LAPS] = {"lap_times.csv", laps_hdr, NELEM(laps_hdr)},
    [T_SEASONS] = {"seasons.csv", seasons_hdr, NELEM(seasons_hdr)},
    [T_STATUS] = {"status.csv", status_hdr, NELEM(status_hdr)},
    [T_QUALI] = {"qualifying.csv", quali_hdr, NELEM(quali_hdr)},
    [T_CONSTRUCTORS] = {"constructors.csv", cons_hdr, NELEM(cons_hdr)},
};

/* Rows in memory: ncols strings per row (NULL is \N), owned. */
struct rows {
	enum tbl t;
	size_t ncols, nrows, cap;
	char **cells;
};

static void rows_init(struct rows *r, enum tbl t)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->ncols = tdef[t].ncols;
}

/* Starts a row of \N; returns its cells. */
static char **rows_add(struct rows *r)
{
	pwt_grow((void **)&r->cells, &r->cap, (r->nrows + 1) * r->ncols, sizeof(char *));
	char **row = r->cells + r->nrows * r->ncols;
	for (size_t i = 0; i < r->ncols; i++)
		row[i] = NULL;
	r->nrows++;
	return row;
}

/* Sets a cell: trimmed copy, NULL stays NULL. */
static void cell_set(char **row, size_t col, const char *v)
{
	free(row[col]);
	row[col] = NULL;
	if (!v)
		return;
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	row[col] = pwt_xmalloc(n + 1);
	memcpy(row[col], v, n);
	row[col][n] = '\0';
}

/* An API time: the trailing Z (UTC) is dropped. */
static void cell_set_time(char **row, size_t col, const char *v)
{
	cell_set(row, col, v);
	if (row[col]) {
		size_t n = strlen(row[col]);
		if (n && row[col][n - 1] == 'Z')
			row[col][n - 1] = '\0';
	}
}

static void rows_release(struct rows *r)
{
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	r->cells = NULL;
	r->nrows = r->cap = 0;
}

static int col_of(enum tbl t, const char *name)
{
	for (size_t i = 0; i < tdef[t].ncols; i++)
		if (strcmp(tdef[t].hdr[i], name) == 0)
			return (int)i;
	fprintf(stderr, "internal error: no column %s\n", name);
	abort();
}

/* Writes rows to DIR/<file>; when dedup_col >= 0, keeps the first row of each value. */
static int rows_write(const struct rows *r, const char *dir, int dedup_col, size_t *written,
		      pwt_err *err)
{
	char *path = pwt_path_join(dir, tdef[r->t].file);
	pwt_csvw w;
	pwt_map seen = PWT_MAP_INIT;

	if (pwt_csvw_open(&w, path, tdef[r->t].hdr, r->ncols, err) < 0) {
		free(path);
		return -1;
	}
	for (size_t i = 0; i < r->nrows; i++) {
		char **row = r->cells + i * r->ncols;
		if (dedup_col >= 0 && row[dedup_col] &&
		    !pwt_map_put(&seen, row[dedup_col], i, NULL))
			continue;
		for (size_t c = 0; c < r->ncols; c++)
			pwt_csvw_str(&w, row[c]);
		pwt_csvw_end_row(&w);
	}
	*written = w.rows;
	pwt_map_release(&seen);
	int rc = pwt_csvw_commit(&w, err);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ JSON pages */

struct page {
	long limit, offset, total;
	size_t nrows; /* rows this page added */
	enum tbl t;
	int has_t;
};

/* A field as text: strings as they are, integers printed; NULL when absent or null. */
static const char *jtext(json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, n, "%.15g", json_real_value(v));
		return buf;
	}
	return NULL;
}

/* Walks "a.b.c" from obj. */
static json_t *jpath(json_t *obj, const char *path)
{
	char key[64];
	while (obj && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = json_is_object(obj) ? json_object_get(obj, key) : NULL;
		path += n;
		if (*path == '.')
			path++;
	}
	return obj;
}

struct pctx {
	const char *name; /* the page as named in messages */
	pwt_err *err;
	char where[256]; /* JSON path of the current item */
	char buf[8][64];
	int nbuf;
};

static void set_where(struct pctx *c, const char *fmt, ...) PWT_PRINTF(2, 3);
static void set_where(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->where, sizeof(c->where), fmt, ap);
	va_end(ap);
}

/* Field at path below obj as text; a wrong type (object, array, bool) is bad data. */
static int fld(struct pctx *c, json_t *obj, const char *path, const char **out)
{
	json_t *v = jpath(obj, path);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	*out = jtext(v, c->buf[c->nbuf], sizeof(c->buf[0]));
	c->nbuf = (c->nbuf + 1) % 8;
	if (!*out)
		return pwt_err_set(c->err, PWT_EX_DATAERR,
				   "%s: %s.%s: expected a string, got a JSON %s", c->name, c->where,
				   path,
				   json_is_object(v)  ? "object"
				   : json_is_array(v) ? "array"
						      : "boolean");
	return 0;
}

/* Like fld, but the field must be present and not empty. */
static int req(struct pctx *c, json_t *obj, const char *path, const char **out)
{
	if (fld(c, obj, path, out) < 0)
		return -1;
	if (!*out || !**out)
		return pwt_err_set(c->err, PWT_EX_DATAERR, "%s: %s: missing \"%s\"", c->name,
				   c->where, path);
	return 0;
}

static int get_array(struct pctx *c, json_t *obj, const char *key, json_t **out, int required)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		return pwt_err_set(c->err, PWT_EX_DATAERR, "%s: %s: missing \"%s\" list", c->name,
				   c->where, key);
	}
	if (!json_is_array(v))
		return pwt_err_set(c->err, PWT_EX_DATAERR, "%s: %s.%s: expected a list", c->name,
				   c->where, key);
	*out = v;
	return 0;
}

static int page_num(struct pctx *c, json_t *mr, const char *key, long *out)
{
	const char *s;
	if (req(c, mr, key, &s) < 0)
		return -1;
	if (pwt_parse_long(s, out) < 0 || *out < 0)
		return pwt_err_set(c->err, PWT_EX_DATAERR,
				   "%s: MRData.%s: expected a whole number, got \"%.40s\"", c->name,
				   key, s);
	return 0;
}

static int race_fields(struct pctx *c, json_t *race, const char **season, const char **round)
{
	if (req(c, race, "season", season) < 0 || req(c, race, "round", round) < 0)
		return -1;
	return 0;
}

static int parse_race(struct pctx *c, json_t *race, struct rows *out)
{
	static const struct {
		const char *key, *alt;
	} sess[5] = {{"FirstPractice", NULL},
		     {"SecondPractice", "SprintQualifying"},
		     {"ThirdPractice", NULL},
		     {"Qualifying", NULL},
		     {"Sprint", NULL}};
	const char *season, *round, *name, *date, *time, *url, *cref, *d, *t;
	if (race_fields(c, race, &season, &round) < 0 || fld(c, race, "raceName", &name) < 0 ||
	    fld(c, race, "date", &date) < 0 || fld(c, race, "time", &time) < 0 ||
	    fld(c, race, "url", &url) < 0 || req(c, race, "Circuit.circuitId", &cref) < 0)
		return -1;
	char **row = rows_add(out);
	cell_set(row, 1, season);
	cell_set(row, 2, round);
	cell_set(row, 4, name);
	cell_set(row, 5, date);
	cell_set_time(row, 6, time);
	cell_set(row, 7, url);
	for (int s = 0; s < 5; s++) {
		json_t *o = json_object_get(race, sess[s].key);
		if (!o && sess[s].alt)
			o = json_object_get(race, sess[s].alt);
		if (!o)
			continue;
		if (fld(c, o, "date", &d) < 0 || fld(c, o, "time", &t) < 0)
			return -1;
		cell_set(row, (size_t)(8 + 2 * s), d);
		cell_set_time(row, (size_t)(9 + 2 * s), t);
	}
	cell_set(row, 18, cref);
	return 0;
}

static int parse_result(struct pctx *c, json_t *r, const char *season, const char *round,
			struct rows *out)
{
	const char *v[16];
	if (fld(c, r, "number", &v[0]) < 0 || fld(c, r, "grid", &v[1]) < 0 ||
	    req(c, r, "position", &v[2]) < 0 || req(c, r, "positionText", &v[3]) < 0 ||
	    fld(c, r, "points", &v[4]) < 0 || fld(c, r, "laps", &v[5]) < 0 ||
	    fld(c, r, "Time.time", &v[6]) < 0 || fld(c, r, "Time.millis", &v[7]) < 0 ||
	    fld(c, r, "FastestLap.lap", &v[8]) < 0 || fld(c, r, "FastestLap.rank", &v[9]) < 0 ||
	    fld(c, r, "FastestLap.Time.time", &v[10]) < 0 ||
	    fld(c, r, "FastestLap.AverageSpeed.speed", &v[11]) < 0 ||
	    req(c, r, "Driver.driverId", &v[12]) < 0 ||
	    fld(c, r, "Constructor.constructorId", &v[13]) < 0 || fld(c, r, "status", &v[14]) < 0)
		return -1;
	char **row = rows_add(out);
	int numeric = v[3][0] != '\0';
	for (const char *p = v[3]; *p; p++)
		if (*p < '0' || *p > '9')
			numeric = 0;
	cell_set(row, 4, v[0]);
	cell_set(row, 5, v[1]);
	/* The API's position is the classification order (positionOrder); the dump's position
	 * is the finishing position, \N for a car not classified: positionText when numeric. */
	cell_set(row, 6, numeric ? v[3] : NULL);
	cell_set(row, 7, v[3]);
	cell_set(row, 8, v[2]);
	cell_set(row, 9, v[4]);
	cell_set(row, 10, v[5]);
	cell_set(row, 11, v[6]);
	cell_set(row, 12, v[7]);
	cell_set(row, 13, v[8]);
	cell_set(row, 14, v[9]);
	cell_set(row, 15, v[10]);
	cell_set(row, 16, v[11]);
	cell_set(row, 18, season);
	cell_set(row, 19, round);
	cell_set(row, 20, v[12]);
	cell_set(row, 21, v[13]);
	cell_set(row, 22, v[14]);
	return 0;
}

static int parse_pit(struct pctx *c, json_t *p, const char *season, const char *round,
		     struct rows *out)
{
	const char *drv, *stop, *lap, *time, *dur;
	if (req(c, p, "driverId", &drv) < 0 || req(c, p, "stop", &stop) < 0 ||
	    req(c, p, "lap", &lap) < 0 || fld(c, p, "time", &time) < 0 ||
	    fld(c, p, "duration", &dur) < 0)
		return -1;
	char **row = rows_add(out);
	cell_set(row, 2, stop);
	cell_set(row, 3, lap);
	cell_set(row, 4, time);
	cell_set(row, 5, dur);
	cell_set(row, 7, season);
	cell_set(row, 8, round);
	cell_set(row, 9, drv);
	return 0;
}

static int parse_driver(struct pctx *c, json_t *d, struct rows *out)
{
	const char *v[8];
	if (req(c, d, "driverId", &v[0]) < 0 || fld(c, d, "permanentNumber", &v[1]) < 0 ||
	    fld(c, d, "code", &v[2]) < 0 || fld(c, d, "givenName", &v[3]) < 0 ||
	    fld(c, d, "familyName", &v[4]) < 0 || fld(c, d, "dateOfBirth", &v[5]) < 0 ||
	    fld(c, d, "nationality", &v[6]) < 0 || fld(c, d, "url", &v[7]) < 0)
		return -1;
	char **row = rows_add(out);
	for (int i = 0; i < 8; i++)
		cell_set(row, (size_t)(i + 1), v[i]);
	return 0;
}

static int parse_circuit(struct pctx *c, json_t *o, struct rows *out)
{
	const char *v[7];
	if (req(c, o, "circuitId", &v[0]) < 0 || fld(c, o, "circuitName", &v[1]) < 0 ||
	    fld(c, o, "Location.locality", &v[2]) < 0 || fld(c, o, "Location.country", &v[3]) < 0 ||
	    fld(c, o, "Location.lat", &v[4]) < 0 || fld(c, o, "Location.long", &v[5]) < 0 ||
	    fld(c, o, "url", &v[6]) < 0)
		return -1;
	char **row = rows_add(out);
	for (int i = 0; i < 6; i++)
		cell_set(row, (size_t)(i + 1), v[i]);
	cell_set(row, 8, v[6]);
	return 0;
}

/* Which list a RaceTable's races carry (the first one that is present). */
static const struct {
	const char *key;
	enum tbl t;
} race_lists[] = {
    {"Results", T_RESULTS}, {"PitStops", T_PITS}, {"Laps", T_LAPS}, {"QualifyingResults", T_QUALI}};

static int parse_racetable(struct pctx *c, json_t *table, enum tbl want, struct page *pg,
			   struct rows *out[NT])
{
	json_t *races, *race;
	size_t i;
	if (get_array(c, table, "Races", &races, 1) < 0)
		return -1;
	/* the kind of rows: asked for, or the first race's list, else races */
	enum tbl t = want;
	if (t == NT) {
		t = T_RACES;
		json_array_foreach(races, i, race)
		{
			for (size_t k = 0; k < NELEM(race_lists); k++)
				if (json_object_get(race, race_lists[k].key)) {
					t = race_lists[k].t;
					goto found;
				}
		}
	}
found:
	pg->t = t;
	pg->has_t = 1;
	json_array_foreach(races, i, race)
	{
		const char *season, *round;
		set_where(c, "MRData.RaceTable.Races[%zu]", i);
		if (!json_is_object(race))
			return pwt_err_set(c->err, PWT_EX_DATAERR, "%s: %s: expected an object",
					   c->name, c->where);
		if (race_fields(c, race, &season, &round) < 0)
			return -1;
		if (t == T_RACES) {
			if (parse_race(c, race, out[T_RACES]) < 0)
				return -1;
			pg->nrows++;
			continue;
		}
		const char *key = NULL;
		for (size_t k = 0; k < NELEM(race_lists); k++)
			if (race_lists[k].t == t)
				key = race_lists[k].key;
		json_t *list, *item;
		size_t j;
		if (get_array(c, race, key, &list, 1) < 0)
			return -1;
		char base[256];
		memcpy(base, c->where, sizeof(base));
		json_array_foreach(list, j, item)
		{
			set_where(c, "%s.%s[%zu]", base, key, j);
			if (!json_is_object(item))
				return pwt_err_set(c->err, PWT_EX_DATAERR,
						   "%s: %s: expected an object", c->name, c->where);
			if (t == T_RESULTS) {
				if (parse_result(c, item, season, round, out[T_RESULTS]) < 0)
					return -1;
				pg->nrows++;
			} else if (t == T_PITS) {
				if (parse_pit(c, item, season, round, out[T_PITS]) < 0)
					return -1;
				pg->nrows++;
			} else if (t == T_QUALI) {
				const char *v[7];
				if (req(c, item, "Driver.driverId", &v[0]) < 0 ||
				    fld(c, item, "Constructor.constructorId", &v[1]) < 0 ||
				    fld(c, item, "number", &v[2]) < 0 ||
				    fld(c, item, "position", &v[3]) < 0 ||
				    fld(c, item, "Q1", &v[4]) < 0 ||
				    fld(c, item, "Q2", &v[5]) < 0 || fld(c, item, "Q3", &v[6]) < 0)
					return -1;
				char **row = rows_add(out[T_QUALI]);
				cell_set(row, 0, season);
				cell_set(row, 1, round);
				for (int k = 0; k < 7; k++)
					cell_set(row, (size_t)(k + 2), v[k]);
				pg->nrows++;
			} else { /* laps: one row per timing; a page may end mid-lap */
				const char *lap;
				json_t *timings, *tm;
				size_t k;
				if (req(c, item, "number", &lap) < 0 ||
				    get_array(c, item, "Timings", &timings, 1) < 0)
					return -1;
				char lbase[256];
				memcpy(lbase, c->where, sizeof(lbase));
				json_array_foreach(timings, k, tm)
				{
					const char *drv, *pos, *time;
					set_where(c, "%s.Timings[%zu]", lbase, k);
					if (req(c, tm, "driverId", &drv) < 0 ||
					    fld(c, tm, "position", &pos) < 0 ||
					    req(c, tm, "time", &time) < 0)
						return -1;
					char **row = rows_add(out[T_LAPS]);
					cell_set(row, 0, season);
					cell_set(row, 1, round);
					cell_set(row, 2, lap);
					cell_set(row, 3, drv);
					cell_set(row, 4, "ref");
					cell_set(row, 5, pos);
					cell_set(row, 6, time);
					pg->nrows++;
				}
			}
		}
	}
	return 0;
}

/*
 * Parses one page (data, len) named `name` in messages.  want is the table expected (NT:
 * whatever the page holds).  Rows go to out[table].  Bad JSON names the line and column.
 */
static int parse_page(const char *name, const char *data, size_t len, enum tbl want,
		      struct page *pg, struct rows *out[NT], pwt_err *err)
{
	json_error_t jerr;
	struct pctx c = {.name = name, .err = err};
	memset(pg, 0, sizeof(*pg));
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return pwt_err_set(err, PWT_EX_DATAERR, "%s: line %d, column %d: %s%s", name,
				   jerr.line, jerr.column, jerr.text,
				   len == 0 ? " (empty body)" : "");
	int rc = -1;
	json_t *mr = json_object_get(root, "MRData");
	set_where(&c, "MRData");
	if (!json_is_object(mr)) {
		pwt_err_set(err, PWT_EX_DATAERR,
			    "%s: no \"MRData\" object: not a Jolpica/Ergast page", name);
		goto out;
	}
	if (page_num(&c, mr, "limit", &pg->limit) < 0 ||
	    page_num(&c, mr, "offset", &pg->offset) < 0 ||
	    page_num(&c, mr, "total", &pg->total) < 0)
		goto out;
	static const struct {
		const char *table, *list;
		enum tbl t;
	} tables[] = {{"DriverTable", "Drivers", T_DRIVERS},
		      {"CircuitTable", "Circuits", T_CIRCUITS},
		      {"SeasonTable", "Seasons", T_SEASONS},
		      {"StatusTable", "Status", T_STATUS},
		      {"ConstructorTable", "Constructors", T_CONSTRUCTORS}};
	json_t *rt = json_object_get(mr, "RaceTable");
	if (rt) {
		if (want != NT && want != T_RACES && want != T_RESULTS && want != T_PITS &&
		    want != T_LAPS && want != T_QUALI) {
			pwt_err_set(err, PWT_EX_DATAERR, "%s: a RaceTable where %s were expected",
				    name, tdef[want].file);
			goto out;
		}
		if (!json_is_object(rt)) {
			pwt_err_set(err, PWT_EX_DATAERR, "%s: MRData.RaceTable: expected an object",
				    name);
			goto out;
		}
		rc = parse_racetable(&c, rt, want, pg, out);
		goto out;
	}
	for (size_t k = 0; k < NELEM(tables); k++) {
		json_t *tb = json_object_get(mr, tables[k].table), *list, *item;
		size_t i;
		if (!tb)
			continue;
		if (want != NT && want != tables[k].t) {
			pwt_err_set(err, PWT_EX_DATAERR, "%s: a %s where %s were expected", name,
				    tables[k].table, tdef[want].file);
			goto out;
		}
		pg->t = tables[k].t;
		pg->has_t = 1;
		set_where(&c, "MRData.%s", tables[k].table);
		if (!json_is_object(tb) || get_array(&c, tb, tables[k].list, &list, 1) < 0) {
			if (!json_is_object(tb))
				pwt_err_set(err, PWT_EX_DATAERR, "%s: %s: expected an object", name,
					    c.where);
			goto out;
		}
		json_array_foreach(list, i, item)
		{
			set_where(&c, "MRData.%s.%s[%zu]", tables[k].table, tables[k].list, i);
			if (!json_is_object(item)) {
				pwt_err_set(err, PWT_EX_DATAERR, "%s: %s: expected an object", name,
					    c.where);
				goto out;
			}
			int r = 0;
			const char *v[5];
			char **row;
			switch (tables[k].t) {
			case T_DRIVERS: r = parse_driver(&c, item, out[T_DRIVERS]); break;
			case T_CIRCUITS: r = parse_circuit(&c, item, out[T_CIRCUITS]); break;
			case T_SEASONS:
				if (req(&c, item, "season", &v[0]) < 0 ||
				    fld(&c, item, "url", &v[1]) < 0)
					goto out;
				row = rows_add(out[T_SEASONS]);
				cell_set(row, 0, v[0]);
				cell_set(row, 1, v[1]);
				break;
			case T_STATUS:
				if (req(&c, item, "statusId", &v[0]) < 0 ||
				    fld(&c, item, "status", &v[1]) < 0 ||
				    fld(&c, item, "count", &v[2]) < 0)
					goto out;
				row = rows_add(out[T_STATUS]);
				for (int q = 0; q < 3; q++)
					cell_set(row, (size_t)q, v[q]);
				break;
			default:
				if (req(&c, item, "constructorId", &v[0]) < 0 ||
				    fld(&c, item, "name", &v[1]) < 0 ||
				    fld(&c, item, "nationality", &v[2]) < 0 ||
				    fld(&c, item, "url", &v[3]) < 0)
					goto out;
				row = rows_add(out[T_CONSTRUCTORS]);
				for (int q = 0; q < 4; q++)
					cell_set(row, (size_t)(q + 1), v[q]);
				break;
			}
			if (r < 0)
				goto out;
			pg->nrows++;
		}
		rc = 0;
		goto out;
	}
	pwt_err_set(err, PWT_EX_DATAERR,
		    "%s: MRData has no RaceTable, DriverTable, CircuitTable, "
		    "SeasonTable, StatusTable or ConstructorTable",
		    name);
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ options */

static struct {
	const char *source; /* URL, or NULL with csv_dir set */
	const char *csv_dir;
	const char *out;
	int seasons[MAX_SEASONS];
	int nseasons; /* 0: every season the source has */
	int want[NT];
	int incremental;
	double rate;	  /* requests per second, 0 = unlimited */
	long hourly;	  /* requests per rolling hour, 0 = unlimited */
	double window;	  /* that "hour", in seconds (shorter in tests) */
	char *rate_state; /* the shared limiter's file, NULL = per process */
	int max_retries;
	long backoff_ms, max_backoff_ms;
	long max_retry_after; /* seconds */
	long timeout_s;
	long page_size;
} opt = {.rate = -1,
	 .hourly = -1,
	 .window = 3600,
	 .max_retries = 5,
	 .backoff_ms = 1000,
	 .max_backoff_ms = 60000,
	 .max_retry_after = 900,
	 .timeout_s = 60,
	 .page_size = 100};

static int add_season(int y)
{
	for (int i = 0; i < opt.nseasons; i++)
		if (opt.seasons[i] == y)
			return 0;
	if (opt.nseasons >= MAX_SEASONS)
		return -1;
	opt.seasons[opt.nseasons++] = y;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* "2023", "2021-2023", "2019,2021-2023" */
static int parse_seasons(const char *s)
{
	char *copy = pwt_xstrdup(s), *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		long a, b;
		char *dash = strchr(tok, '-');
		if (dash) {
			*dash = '\0';
			if (pwt_parse_long(tok, &a) < 0 || pwt_parse_long(dash + 1, &b) < 0)
				rc = -1;
		} else {
			if (pwt_parse_long(tok, &a) < 0)
				rc = -1;
			b = a;
		}
		if (rc == 0 && (a < 1900 || b > 2999 || a > b || b - a >= MAX_SEASONS))
			rc = -1;
		for (long y = a; rc == 0 && y <= b; y++)
			rc = add_season((int)y);
	}
	free(copy);
	if (rc == 0 && opt.nseasons == 0)
		rc = -1;
	qsort(opt.seasons, (size_t)opt.nseasons, sizeof(int), cmp_int);
	return rc;
}

static int season_selected(long y)
{
	if (opt.nseasons == 0)
		return 1;
	for (int i = 0; i < opt.nseasons; i++)
		if (opt.seasons[i] == y)
			return 1;
	return 0;
}

static int parse_what(const char *s)
{
	char *copy = pwt_xstrdup(s), *save = NULL;
	int rc = 0;
	memset(opt.want, 0, sizeof(opt.want));
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			for (int t = 0; t <= T_LAPS; t++)
				opt.want[t] = 1;
		} else if (strcmp(tok, "core") == 0) {
			for (int t = 0; t < T_LAPS; t++)
				opt.want[t] = 1;
		} else if (strcmp(tok, "races") == 0) {
			opt.want[T_RACES] = 1;
		} else if (strcmp(tok, "results") == 0) {
			opt.want[T_RESULTS] = 1;
		} else if (strcmp(tok, "pitstops") == 0 || strcmp(tok, "pit_stops") == 0) {
			opt.want[T_PITS] = 1;
		} else if (strcmp(tok, "laps") == 0 || strcmp(tok, "lap_times") == 0) {
			opt.want[T_LAPS] = 1;
		} else if (strcmp(tok, "drivers") == 0) {
			opt.want[T_DRIVERS] = 1;
		} else if (strcmp(tok, "circuits") == 0) {
			opt.want[T_CIRCUITS] = 1;
		} else {
			rc = -1;
		}
	}
	free(copy);
	int any = 0;
	for (int t = 0; t < NT; t++)
		any |= opt.want[t];
	return rc == 0 && any ? 0 : -1;
}

/* "4", "4/s", "30/min", "1000/h", "0" (unlimited); returns per second or -1 */
static double parse_rate(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || v > 1e6)
		return -1;
	if (*end == '\0' || strcmp(end, "/s") == 0)
		return v;
	if (strcmp(end, "/min") == 0 || strcmp(end, "/m") == 0)
		return v / 60.0;
	if (strcmp(end, "/h") == 0 || strcmp(end, "/hour") == 0)
		return v / 3600.0;
	return -1;
}

/* ------------------------------------------------------------------ time, rate limiting */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct {
	double *ring; /* starts of the last hourly+1 requests (per-process limiter) */
	long ring_n, ring_head;
	double waited;
} lim;

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wait before the next request given the starts of the previous ones (any order):
 * 1/rate after the latest, and the window after the hourly-th latest. */
static double limiter_delay(const double *t, long n, double now)
{
	double last = 0, wait = 0;
	for (long i = 0; i < n; i++)
		if (t[i] > last)
			last = t[i];
	if (opt.rate > 0 && n > 0 && last + 1.0 / opt.rate > now)
		wait = last + 1.0 / opt.rate - now;
	if (opt.hourly > 0 && n >= opt.hourly) {
		/* the hourly-th most recent start: once it leaves the window there is room */
		double *c = pwt_xmalloc((size_t)n * sizeof(double));
		memcpy(c, t, (size_t)n * sizeof(double));
		for (long i = 1; i < n; i++) /* insertion sort, descending; n <= hourly + 1 */
			for (long j = i; j > 0 && c[j - 1] < c[j]; j--) {
				double x = c[j];
				c[j] = c[j - 1];
				c[j - 1] = x;
			}
		double free_at = c[opt.hourly - 1] + opt.window;
		free(c);
		if (free_at - now > wait) {
			wait = free_at - now;
			pwt_progress("budget of %ld requests per %.0f s used: waiting %.1f s",
				     opt.hourly, opt.window, wait);
		}
	}
	return wait;
}

/*
 * The limiter's state is shared by every f1-ingest on this machine that talks to the same
 * host (the API's limits are per client): a small file of recent request start times,
 * locked with flock(2), so two ingest tasks running side by side stay within one budget.
 * Without the file (--rate-state none, or it cannot be opened) the state is per process.
 */
static int limiter_shared(void)
{
	static int warned;
	if (!opt.rate_state)
		return -1;
	int fd = open(opt.rate_state, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		if (!warned++)
			pwt_warn("%s: %s; rate limiting this process alone", opt.rate_state,
				 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	long cap = (opt.hourly > 0 ? opt.hourly : 1) + 1;
	double *t = pwt_xcalloc((size_t)cap, sizeof(double)), now = wall();
	long n = 0;
	ssize_t got = pread(fd, t, (size_t)cap * sizeof(double), 0);
	if (got > 0) {
		long m = (long)((size_t)got / sizeof(double));
		for (long i = 0; i < m; i++) /* keep what is recent and sane */
			if (t[i] > now - opt.window && t[i] > now - 86400 && t[i] <= now + 5 &&
			    t[i] == t[i])
				t[n++] = t[i];
	}
	double wait = limiter_delay(t, n, now);
	if (wait > 0) {
		sleep_s(wait); /* holding the lock: the others wait their turn */
		lim.waited += wait;
		now = wall();
	}
	/* keep the newest cap-1 starts, then this one */
	if (n >= cap) {
		long drop = 0;
		for (long i = 1; i < n; i++)
			if (t[i] < t[drop])
				drop = i;
		t[drop] = t[--n];
	}
	t[n++] = now;
	if (pwrite(fd, t, (size_t)n * sizeof(double), 0) < 0 ||
	    ftruncate(fd, (off_t)((size_t)n * sizeof(double))) < 0) {
		if (!warned++)
			pwt_warn("%s: %s", opt.rate_state, strerror(errno));
	}
	free(t);
	close(fd); /* releases the lock */
	return 0;
}

/* Waits until a request may start: at least 1/rate after the previous one, and no more than
 * `hourly` requests in any rolling window (an hour). */
static void limiter_wait(void)
{
	if (opt.rate <= 0 && opt.hourly <= 0)
		return;
	if (limiter_shared() == 0)
		return;
	long cap = (opt.hourly > 0 ? opt.hourly : 1) + 1;
	if (!lim.ring)
		lim.ring = pwt_xcalloc((size_t)cap, sizeof(double));
	double now = mono();
	double wait = limiter_delay(lim.ring, lim.ring_n, now);
	if (wait > 0) {
		sleep_s(wait);
		lim.waited += wait;
		now = mono();
	}
	lim.ring[lim.ring_head] = now;
	lim.ring_head = (lim.ring_head + 1) % cap;
	if (lim.ring_n < cap)
		lim.ring_n++;
}

/* ------------------------------------------------------------------ HTTP */

struct body {
	char *p;
	size_t len, cap;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	if (b->len + n > (size_t)256 << 20)
		return 0; /* a page is never this big: abort the transfer */
	pwt_grow((void **)&b->p, &b->cap, b->len + n + 1, 1);
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static struct {
	CURL *curl;
	unsigned long requests, retries, bytes;
	unsigned long long rng;
} net;

static double jitter01(void)
{
	net.rng ^= net.rng << 13;
	net.rng ^= net.rng >> 7;
	net.rng ^= net.rng << 17;
	return (double)(net.rng >> 11) / 9007199254740992.0;
}

static int transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_AGAIN: return 1;
	default: return 0;
	}
}

/*
 * GET url into *out.  Retries network errors, 408, 429 and 5xx up to opt.max_retries times,
 * waiting Retry-After when the server sends one, else an exponential backoff with jitter.
 * Errors: 75 still failing, 77 401/403, 78 other 4xx or a bad URL.
 */
static int http_get(const char *url, struct body *out, pwt_err *err)
{
	char ebuf[CURL_ERROR_SIZE];
	for (int attempt = 0;; attempt++) {
		out->len = 0;
		if (out->p)
			out->p[0] = '\0';
		ebuf[0] = '\0';
		limiter_wait();
		curl_easy_setopt(net.curl, CURLOPT_URL, url);
		curl_easy_setopt(net.curl, CURLOPT_WRITEDATA, out);
		curl_easy_setopt(net.curl, CURLOPT_ERRORBUFFER, ebuf);
		double t0 = mono();
		CURLcode rc = curl_easy_perform(net.curl);
		double dt = mono() - t0;
		net.requests++;
		long status = 0;
		curl_off_t retry_after = 0;
		char why[CURL_ERROR_SIZE + 64];
		if (rc == CURLE_OK) {
			curl_easy_getinfo(net.curl, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(net.curl, CURLINFO_RETRY_AFTER, &retry_after);
			net.bytes += out->len;
			if (status == 200)
				return 0;
			snprintf(why, sizeof(why), "HTTP %ld", status);
			if (status == 401 || status == 403)
				return pwt_err_set(err, 77, "GET %s: %s: permission denied", url,
						   why);
			if (status != 408 && status != 429 && status < 500)
				return pwt_err_set(err, PWT_EX_CONFIG,
						   "GET %s: %s (is the base URL right? F1_SOURCE / "
						   "--base-url)",
						   url, why);
		} else {
			if (!transient_curl(rc))
				return pwt_err_set(err, PWT_EX_CONFIG, "GET %s: %s", url,
						   ebuf[0] ? ebuf : curl_easy_strerror(rc));
			snprintf(why, sizeof(why), "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
		}
		if (attempt >= opt.max_retries)
			return pwt_err_set(
			    err, PWT_EX_TEMPFAIL,
			    "GET %s: still failing after %d retr%s: %s (transient; "
			    "the pages fetched so far are kept, --incremental resumes)",
			    url, attempt, attempt == 1 ? "y" : "ies", why);
		double delay;
		if (retry_after > 0) {
			if (retry_after > opt.max_retry_after)
				return pwt_err_set(err, PWT_EX_TEMPFAIL,
						   "GET %s: %s with Retry-After: %lld s, more than "
						   "--max-retry-after %ld s (transient)",
						   url, why, (long long)retry_after,
						   opt.max_retry_after);
			/* as asked, plus up to 10% so that clients do not come back together */
			delay = (double)retry_after * (1.0 + 0.1 * jitter01());
		} else {
			double base = (double)opt.backoff_ms / 1000.0 * pow(2.0, attempt);
			double cap = (double)opt.max_backoff_ms / 1000.0;
			if (base > cap)
				base = cap;
			delay = base / 2 + base / 2 * jitter01(); /* "equal jitter" */
		}
		net.retries++;
		pwt_progress("GET %s -> %s after %.2f s; retry %d/%d in %.2f s%s", url, why, dt,
			     attempt + 1, opt.max_retries, delay,
			     retry_after > 0 ? " (Retry-After)" : "");
		sleep_s(delay);
	}
}

/* ------------------------------------------------------------------ page chains */

/*
 * An endpoint's pages: raw/json/<dir>/<base>, then <base>^offset=N for the later pages, as
 * the Jolpica project names its recorded responses (`@` for `/`); base is the API path
 * ("2023@1@laps.json" for /2023/1/laps.json).  The page size is in each page's MRData.limit.
 */
struct chain {
	const char *dir; /* races, results, pitstops, laps, drivers, circuits, seasons */
	char api[96];	 /* 2023/1/laps.json */
	enum tbl t;
};

static void chain_init(struct chain *ch, enum tbl t, int season, int round)
{
	static const char *const ep[NT] = {
	    [T_RACES] = "races",     [T_RESULTS] = "results",	[T_PITS] = "pitstops",
	    [T_DRIVERS] = "drivers", [T_CIRCUITS] = "circuits", [T_LAPS] = "laps",
	    [T_SEASONS] = "seasons"};
	ch->t = t;
	ch->dir = ep[t];
	if (season <= 0)
		snprintf(ch->api, sizeof(ch->api), "%s.json", ep[t]);
	else if (round <= 0)
		snprintf(ch->api, sizeof(ch->api), "%d/%s.json", season, ep[t]);
	else
		snprintf(ch->api, sizeof(ch->api), "%d/%d/%s.json", season, round, ep[t]);
}

static char *page_path(const struct chain *ch, long offset)
{
	char base[128];
	snprintf(base, sizeof(base), "%s", ch->api);
	for (char *p = base; *p; p++)
		if (*p == '/')
			*p = '@';
	if (offset > 0)
		return pwt_xasprintf("%s/json/%s/%s^offset=%ld", opt.out, ch->dir, base, offset);
	return pwt_xasprintf("%s/json/%s/%s", opt.out, ch->dir, base);
}

static int read_whole(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct body b = {0};
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		pwt_grow((void **)&b.p, &b.cap, b.len + n + 1, 1);
		memcpy(b.p + b.len, tmp, n);
		b.len += n;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b.p);
		return -1;
	}
	if (!b.p)
		b.p = pwt_xstrdup("");
	*data = b.p;
	*len = b.len;
	return 0;
}

struct chain_state {
	int complete; /* every page up to total is on disk and parses */
	long total;
	char *why; /* when not complete */
};

/*
 * Reads an endpoint's pages from disk.  With out != NULL the rows are added (and any problem
 * is an error); with out == NULL it only checks whether the chain is complete.
 */
static int chain_read(const struct chain *ch, struct rows *out[NT], struct chain_state *st,
		      pwt_err *err)
{
	struct rows scratch[NT], *sp[NT];
	long offset = 0;
	memset(st, 0, sizeof(*st));
	for (int t = 0; t < NT; t++) {
		rows_init(&scratch[t], (enum tbl)t);
		sp[t] = out ? out[t] : &scratch[t];
	}
	int rc = 0;
	for (int npages = 0;; npages++) {
		char *path = page_path(ch, offset), *data;
		size_t len;
		struct page pg;
		if (read_whole(path, &data, &len) < 0) {
			st->why = pwt_xasprintf("%s is missing", path);
			if (out)
				rc = pwt_err_set(err, PWT_EX_NOINPUT, "%s: cannot read: %s", path,
						 strerror(errno));
			free(path);
			break;
		}
		pwt_err perr = PWT_ERR_INIT;
		int prc = parse_page(path, data, len, ch->t, &pg, sp, &perr);
		free(data);
		if (prc == 0 && pg.offset != offset)
			prc = pwt_err_set(&perr, PWT_EX_DATAERR,
					  "%s: MRData.offset is %ld, expected %ld", path, pg.offset,
					  offset);
		if (prc == 0 && pg.limit <= 0 && pg.total > offset)
			prc = pwt_err_set(&perr, PWT_EX_DATAERR,
					  "%s: MRData.limit is 0 with rows left to page", path);
		free(path);
		if (prc < 0) {
			st->why = pwt_xstrdup(perr.msg);
			if (out) {
				*err = perr;
				rc = -1;
			}
			break;
		}
		st->total = pg.total;
		offset += pg.limit;
		if (offset >= pg.total) {
			st->complete = 1;
			break;
		}
		if (npages > 100000) {
			rc = pwt_err_set(err, PWT_EX_DATAERR, "%s: too many pages", ch->api);
			break;
		}
	}
	for (int t = 0; t < NT; t++)
		rows_release(&scratch[t]);
	return rc;
}

static void chain_state_release(struct chain_state *st)
{
	free(st->why);
	st->why = NULL;
}

/* Writes a page: a temporary file of this process, renamed into place (two ingest tasks may
 * write the same season's races pages at the same time). */
static int save_file(const char *path, const char *data, size_t len, pwt_err *err)
{
	char *dir = pwt_dirname(path);
	int rc = pwt_mkdirs(dir, err);
	free(dir);
	if (rc < 0)
		return -1;
	char *tmp = pwt_xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		rc = pwt_err_set(err, PWT_EX_CANTCREAT, "%s: cannot create: %s", tmp,
				 strerror(errno));
	} else {
		int bad = len && fwrite(data, 1, len, f) != len;
		bad |= fclose(f) != 0;
		if (bad)
			rc = pwt_err_set(err, PWT_EX_IOERR, "%s: write error: %s", tmp,
					 strerror(errno));
		else if (rename(tmp, path) < 0)
			rc = pwt_err_set(err, PWT_EX_IOERR, "%s: cannot rename into place: %s",
					 path, strerror(errno));
		if (rc < 0)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* Fetches every page of an endpoint into raw/json/; *total gets MRData.total. */
static int chain_fetch(const struct chain *ch, long *total, pwt_err *err)
{
	struct rows scratch[NT], *sp[NT];
	struct body b = {0};
	long offset = 0;
	int rc = 0;
	for (int t = 0; t < NT; t++) {
		rows_init(&scratch[t], (enum tbl)t);
		sp[t] = &scratch[t];
	}
	for (;;) {
		char *url = pwt_xasprintf("%s/%s?limit=%ld&offset=%ld", opt.source, ch->api,
					  opt.page_size, offset);
		char *path = page_path(ch, offset);
		char *bad = pwt_xasprintf("%s.bad", path);
		double t0 = mono();
		rc = http_get(url, &b, err);
		if (rc == 0) {
			struct page pg;
			char *name = pwt_xasprintf("GET %s (body kept in %s)", url, bad);
			rc = parse_page(name, b.p ? b.p : "", b.len, ch->t, &pg, sp, err);
			if (rc == 0 && pg.offset != offset)
				rc = pwt_err_set(err, PWT_EX_DATAERR,
						 "%s: MRData.offset is %ld, expected %ld", name,
						 pg.offset, offset);
			if (rc == 0 && pg.limit <= 0 && pg.total > offset)
				rc = pwt_err_set(err, PWT_EX_DATAERR,
						 "%s: MRData.limit is 0 with rows left to page",
						 name);
			free(name);
			for (int t = 0; t < NT; t++)
				rows_release(&scratch[t]);
			if (rc < 0) {
				/* keep what was received, beside the page, for a look */
				pwt_err serr = PWT_ERR_INIT;
				if (save_file(bad, b.p ? b.p : "", b.len, &serr) == 0)
					fprintf(stderr, "%s: the body received is in %s\n",
						pwt_progname(), bad);
			} else {
				rc = save_file(path, b.p ? b.p : "", b.len, err);
				unlink(bad);
				pwt_progress("GET %s -> 200, %zu of %ld rows, offset %ld (%.2f s)",
					     url, pg.nrows, pg.total, pg.offset, mono() - t0);
				*total = pg.total;
				offset += pg.limit;
				if (rc == 0 && offset >= pg.total) {
					free(url);
					free(path);
					free(bad);
					break;
				}
			}
		}
		free(url);
		free(path);
		free(bad);
		if (rc < 0)
			break;
	}
	free(b.p);
	return rc;
}

/* ------------------------------------------------------------------ HTTP mode */

struct season_plan {
	int year;
	int *rounds;
	size_t nrounds, cap;
};

static const enum tbl round_tables[] = {T_RESULTS, T_PITS, T_LAPS};

static int want_rounds(void)
{
	return opt.want[T_RESULTS] || opt.want[T_PITS] || opt.want[T_LAPS];
}

/* Rounds of a season from its races pages on disk. */
static int season_rounds(struct season_plan *sp, pwt_err *err)
{
	struct rows r[NT], *rp[NT];
	struct chain ch;
	struct chain_state st;
	for (int t = 0; t < NT; t++) {
		rows_init(&r[t], (enum tbl)t);
		rp[t] = &r[t];
	}
	chain_init(&ch, T_RACES, sp->year, 0);
	int rc = chain_read(&ch, rp, &st, err);
	chain_state_release(&st);
	sp->nrounds = 0;
	for (size_t i = 0; rc == 0 && i < r[T_RACES].nrows; i++) {
		long round;
		const char *s = r[T_RACES].cells[i * r[T_RACES].ncols + 2];
		if (!s || pwt_parse_long(s, &round) < 0 || round <= 0 || round > 10000) {
			rc = pwt_err_set(err, PWT_EX_DATAERR, "%d races: bad round \"%s\"",
					 sp->year, s ? s : "\\N");
			break;
		}
		PWT_PUSH(sp->rounds, sp->nrounds, sp->cap, (int)round);
	}
	for (int t = 0; t < NT; t++)
		rows_release(&r[t]);
	return rc;
}

/* Incremental: is this chain on disk and complete?  *total gets its total. */
/* What is known of each chain on disk (checked once, updated when fetched). */
static struct {
	pwt_map idx; /* api path -> slot */
	struct {
		long total;
		int complete;
	} * ent;
	size_t n, cap;
} known = {PWT_MAP_INIT, NULL, 0, 0};

static void known_set(const char *api, int complete, long total)
{
	size_t slot;
	if (!pwt_map_get(&known.idx, api, &slot)) {
		slot = known.n++;
		pwt_grow((void **)&known.ent, &known.cap, known.n, sizeof(*known.ent));
		pwt_map_put(&known.idx, api, slot, NULL);
	}
	known.ent[slot].total = total;
	known.ent[slot].complete = complete;
}

static int have_chain(enum tbl t, int season, int round, long *total)
{
	struct chain ch;
	size_t slot;
	chain_init(&ch, t, season, round);
	if (pwt_map_get(&known.idx, ch.api, &slot)) {
		*total = known.ent[slot].total;
		return known.ent[slot].complete;
	}
	struct chain_state st;
	pwt_err err = PWT_ERR_INIT;
	chain_read(&ch, NULL, &st, &err);
	int ok = st.complete;
	*total = st.total;
	if (!ok && st.why && strstr(st.why, "is missing") == NULL)
		pwt_warn("%s: %s; fetching it again", ch.api, st.why);
	chain_state_release(&st);
	known_set(ch.api, ok, st.total);
	return ok;
}

/* A round has been run when any of its per-round chains on disk has rows. */
static int round_done(int season, int round)
{
	long total;
	for (size_t k = 0; k < NELEM(round_tables); k++)
		if (have_chain(round_tables[k], season, round, &total) && total > 0)
			return 1;
	return 0;
}

static int need_round_table(enum tbl t, int season, int round, int done)
{
	long total;
	if (!opt.incremental)
		return 1;
	return !have_chain(t, season, round, &total) || !done;
}

/* Incremental: nothing of this season needs fetching. */
static int season_done(struct season_plan *sp)
{
	long total;
	pwt_err err = PWT_ERR_INIT;
	if ((opt.want[T_RACES] || want_rounds()) && !have_chain(T_RACES, sp->year, 0, &total))
		return 0;
	if (opt.want[T_DRIVERS] && !have_chain(T_DRIVERS, sp->year, 0, &total))
		return 0;
	if (opt.want[T_CIRCUITS] && !have_chain(T_CIRCUITS, sp->year, 0, &total))
		return 0;
	if (!want_rounds())
		return 1;
	if (season_rounds(sp, &err) < 0)
		return 0;
	for (size_t i = 0; i < sp->nrounds; i++) {
		if (!round_done(sp->year, sp->rounds[i]))
			return 0;
		for (size_t k = 0; k < NELEM(round_tables); k++)
			if (opt.want[round_tables[k]] &&
			    !have_chain(round_tables[k], sp->year, sp->rounds[i], &total))
				return 0;
	}
	return 1;
}

static int fetch_table(enum tbl t, int season, int round, pwt_err *err)
{
	struct chain ch;
	long total = 0;
	chain_init(&ch, t, season, round);
	if (chain_fetch(&ch, &total, err) < 0)
		return -1;
	known_set(ch.api, 1, total);
	return 0;
}

/* Rebuilds the raw CSVs from the pages on disk, in (season, round, page) order. */
static int rebuild(struct season_plan *plan, int nplan, pwt_err *err)
{
	struct rows r[NT], *rp[NT];
	int rc = 0;
	for (int t = 0; t < NT; t++) {
		rows_init(&r[t], (enum tbl)t);
		rp[t] = &r[t];
	}
	for (int i = 0; rc == 0 && i < nplan; i++) {
		struct season_plan *sp = &plan[i];
		struct chain ch;
		struct chain_state st;
		static const enum tbl season_tables[] = {T_RACES, T_DRIVERS, T_CIRCUITS};
		for (size_t k = 0; rc == 0 && k < NELEM(season_tables); k++) {
			if (!opt.want[season_tables[k]])
				continue;
			chain_init(&ch, season_tables[k], sp->year, 0);
			rc = chain_read(&ch, rp, &st, err);
			chain_state_release(&st);
		}
		for (size_t j = 0; rc == 0 && j < sp->nrounds; j++) {
			for (size_t k = 0; rc == 0 && k < NELEM(round_tables); k++) {
				if (!opt.want[round_tables[k]])
					continue;
				chain_init(&ch, round_tables[k], sp->year, sp->rounds[j]);
				rc = chain_read(&ch, rp, &st, err);
				chain_state_release(&st);
			}
		}
	}
	for (int t = 0; rc == 0 && t <= T_LAPS; t++) {
		if (!opt.want[t])
			continue;
		size_t n;
		int dedup = t == T_DRIVERS    ? col_of(T_DRIVERS, "driverRef")
			    : t == T_CIRCUITS ? col_of(T_CIRCUITS, "circuitRef")
					      : -1;
		rc = rows_write(&r[t], opt.out, dedup, &n, err);
		if (rc == 0)
			pwt_progress("wrote %s/%s: %zu rows", opt.out, tdef[t].file, n);
	}
	for (int t = 0; t < NT; t++)
		rows_release(&r[t]);
	return rc;
}

static int run_http(pwt_err *err)
{
	struct season_plan plan[MAX_SEASONS];
	int nplan = 0, rc = 0;
	double t0 = mono();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return pwt_err_set(err, PWT_EX_SOFTWARE, "curl_global_init failed");
	net.curl = curl_easy_init();
	if (!net.curl)
		return pwt_err_set(err, PWT_EX_SOFTWARE, "curl_easy_init failed");
	net.rng =
	    (unsigned long long)getpid() * 0x9E3779B97F4A7C15ULL ^ (unsigned long long)time(NULL);
	if (!net.rng)
		net.rng = 88172645463325252ULL;
	curl_easy_setopt(net.curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(net.curl, CURLOPT_USERAGENT, "pitwall-f1-ingest/0.1");
	curl_easy_setopt(net.curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(net.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(net.curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(net.curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(net.curl, CURLOPT_CONNECTTIMEOUT,
			 opt.timeout_s < 15 ? opt.timeout_s : 15L);
	curl_easy_setopt(net.curl, CURLOPT_TIMEOUT, opt.timeout_s);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(net.curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(net.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif

	if (opt.nseasons == 0) {
		struct chain ch;
		struct rows r[NT], *rp[NT];
		struct chain_state st;
		long total;
		for (int t = 0; t < NT; t++) {
			rows_init(&r[t], (enum tbl)t);
			rp[t] = &r[t];
		}
		chain_init(&ch, T_SEASONS, 0, 0);
		rc = chain_fetch(&ch, &total, err);
		if (rc == 0)
			rc = chain_read(&ch, rp, &st, err), chain_state_release(&st);
		for (size_t i = 0; rc == 0 && i < r[T_SEASONS].nrows; i++) {
			long y;
			const char *s = r[T_SEASONS].cells[i * 2];
			if (pwt_parse_long(s, &y) < 0 || y < 1900 || y > 2999 ||
			    add_season((int)y) < 0)
				rc = pwt_err_set(err, PWT_EX_DATAERR, "seasons: bad season \"%s\"",
						 s);
		}
		for (int t = 0; t < NT; t++)
			rows_release(&r[t]);
		if (rc < 0)
			goto out;
		qsort(opt.seasons, (size_t)opt.nseasons, sizeof(int), cmp_int);
	}

	for (int i = 0; i < opt.nseasons; i++)
		plan[nplan++] = (struct season_plan){.year = opt.seasons[i]};
	for (int i = 0; rc == 0 && i < nplan; i++) {
		struct season_plan *sp = &plan[i];
		int fetch_season = !opt.incremental || !season_done(sp);
		if (!fetch_season) {
			pwt_progress("%d: complete in %s/json, nothing to fetch", sp->year,
				     opt.out);
			rc = season_rounds(sp, err);
			continue;
		}
		if (opt.want[T_RACES] || want_rounds()) {
			rc = fetch_table(T_RACES, sp->year, 0, err);
			if (rc == 0)
				rc = season_rounds(sp, err);
		}
		if (rc == 0 && opt.want[T_DRIVERS])
			rc = fetch_table(T_DRIVERS, sp->year, 0, err);
		if (rc == 0 && opt.want[T_CIRCUITS])
			rc = fetch_table(T_CIRCUITS, sp->year, 0, err);
		size_t skipped = 0;
		for (size_t j = 0; rc == 0 && j < sp->nrounds; j++) {
			int round = sp->rounds[j];
			int done = opt.incremental ? round_done(sp->year, round) : 0;
			for (size_t k = 0; rc == 0 && k < NELEM(round_tables); k++) {
				enum tbl t = round_tables[k];
				if (!opt.want[t])
					continue;
				if (!need_round_table(t, sp->year, round, done)) {
					skipped++;
					continue;
				}
				rc = fetch_table(t, sp->year, round, err);
			}
		}
		if (opt.incremental && rc == 0)
			pwt_progress("%d: %zu round endpoint(s) already complete, not fetched",
				     sp->year, skipped);
	}
	if (rc == 0)
		rc = rebuild(plan, nplan, err);
out:
	pwt_progress("%lu request(s), %lu retr%s, %.1f MB, %.1f s (%.1f s waiting for the rate "
		     "limit)",
		     net.requests, net.retries, net.retries == 1 ? "y" : "ies",
		     (double)net.bytes / 1e6, mono() - t0, lim.waited);
	for (int i = 0; i < nplan; i++)
		free(plan[i].rounds);
	curl_easy_cleanup(net.curl);
	curl_global_cleanup();
	free(lim.ring);
	pwt_map_release(&known.idx);
	free(known.ent);
	return rc;
}

/* ------------------------------------------------------------------ CSV dump mode */

struct dump {
	pwt_table races, results, pits, drivers, circuits, cons, status;
	/* numeric id -> row index (+1; 0 = unknown) */
	size_t *race_row, *driver_row, *circuit_row, *cons_row, *status_row;
	long race_max, driver_max, circuit_max, cons_max, status_max;
};

static int load_dump_table(pwt_table *t, const char *name, pwt_err *err)
{
	char *path = pwt_path_join(opt.csv_dir, name);
	int rc = pwt_csv_load(t, path, PWT_CSV_PAD_SHORT, err);
	if (rc == 0)
		pwt_progress("read %s: %zu rows%s", path, t->nrows,
			     t->padded ? " (short rows padded with \\N)" : "");
	free(path);
	return rc;
}

/* Indexes a table by its integer id column. */
static int index_ids(pwt_table *t, const char *col, size_t **idx, long *max, pwt_err *err)
{
	int c = pwt_col(t, col);
	if (c < 0)
		return pwt_err_set(err, PWT_EX_DATAERR, "%s:1: missing column '%s' in the header",
				   t->path, col);
	*max = 0;
	for (size_t i = 0; i < t->nrows; i++) {
		long id;
		if (pwt_req_long(t, i, c, &id, err) < 0)
			return -1;
		if (id < 0 || id > 100000000)
			return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: %s %ld out of range",
					   t->path, t->lines[i], col, id);
		if (id > *max)
			*max = id;
	}
	*idx = pwt_xcalloc((size_t)*max + 1, sizeof(size_t));
	for (size_t i = 0; i < t->nrows; i++) {
		long id;
		pwt_req_long(t, i, c, &id, err);
		if ((*idx)[id])
			return pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: duplicate %s %ld", t->path,
					   t->lines[i], col, id);
		(*idx)[id] = i + 1;
	}
	return 0;
}

/* Row of an id through an index, or -1 (unknown or \N). */
static long lookup(const pwt_table *t, size_t row, int col, const size_t *idx, long max)
{
	long id;
	pwt_err e = PWT_ERR_INIT;
	if (pwt_cell_long(t, row, col, &id, &e) != 1 || id < 0 || id > max || !idx[id])
		return -1;
	return (long)idx[id] - 1;
}

/* Copies the named columns of a dump row to out's columns of the same names. */
static void copy_cols(const pwt_table *t, size_t row, char **out, enum tbl ot, const int *tcols,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		cell_set(out, i, pwt_cell(t, row, tcols[i]));
	(void)ot;
}

static int cols_or_die(const pwt_table *t, const char *const *names, int *idx, size_t n,
		       pwt_err *err)
{
	return pwt_cols(t, names, idx, n, err);
}

static int run_csv(pwt_err *err)
{
	struct dump d;
	struct rows out[NT];
	unsigned char *race_sel = NULL, *circ_sel = NULL, *drv_sel = NULL;
	int rc = 0;
	memset(&d, 0, sizeof(d));
	for (int t = 0; t < NT; t++)
		rows_init(&out[t], (enum tbl)t);
	int need_races = opt.want[T_RACES] || opt.want[T_RESULTS] || opt.want[T_PITS] ||
			 opt.want[T_DRIVERS] || opt.want[T_CIRCUITS];
	int need_results = opt.want[T_RESULTS] || (opt.want[T_DRIVERS] && opt.nseasons);
	int need_drivers = opt.want[T_DRIVERS] || opt.want[T_RESULTS] || opt.want[T_PITS];
	int need_circuits = opt.want[T_CIRCUITS] || opt.want[T_RACES];

	if (need_races && (load_dump_table(&d.races, "races.csv", err) < 0 ||
			   index_ids(&d.races, "raceId", &d.race_row, &d.race_max, err) < 0))
		goto fail;
	if (need_circuits &&
	    (load_dump_table(&d.circuits, "circuits.csv", err) < 0 ||
	     index_ids(&d.circuits, "circuitId", &d.circuit_row, &d.circuit_max, err) < 0))
		goto fail;
	if (need_drivers &&
	    (load_dump_table(&d.drivers, "drivers.csv", err) < 0 ||
	     index_ids(&d.drivers, "driverId", &d.driver_row, &d.driver_max, err) < 0))
		goto fail;
	if (opt.want[T_RESULTS] &&
	    (load_dump_table(&d.cons, "constructors.csv", err) < 0 ||
	     index_ids(&d.cons, "constructorId", &d.cons_row, &d.cons_max, err) < 0 ||
	     load_dump_table(&d.status, "status.csv", err) < 0 ||
	     index_ids(&d.status, "statusId", &d.status_row, &d.status_max, err) < 0))
		goto fail;
	if (need_results && load_dump_table(&d.results, "results.csv", err) < 0)
		goto fail;
	if (opt.want[T_PITS] && load_dump_table(&d.pits, "pit_stops.csv", err) < 0)
		goto fail;

	int rcol[18], ryear = -1, rround = -1, rcirc = -1, ccref = -1, dref = -1, kref = -1,
		      sst = -1;
	if (need_races) {
		if (cols_or_die(&d.races, races_hdr, rcol, 18, err) < 0)
			goto fail;
		ryear = rcol[1];
		rround = rcol[2];
		rcirc = rcol[3];
	}
	if (need_circuits && (ccref = pwt_col(&d.circuits, "circuitRef")) < 0) {
		pwt_err_set(err, PWT_EX_DATAERR, "%s:1: missing column 'circuitRef'",
			    d.circuits.path);
		goto fail;
	}
	if (need_drivers && (dref = pwt_col(&d.drivers, "driverRef")) < 0) {
		pwt_err_set(err, PWT_EX_DATAERR, "%s:1: missing column 'driverRef'",
			    d.drivers.path);
		goto fail;
	}
	if (opt.want[T_RESULTS] && ((kref = pwt_col(&d.cons, "constructorRef")) < 0 ||
				    (sst = pwt_col(&d.status, "status")) < 0)) {
		pwt_err_set(err, PWT_EX_DATAERR, "%s or %s: missing constructorRef / status column",
			    d.cons.path, d.status.path);
		goto fail;
	}

	/* races: which are selected, and each one's year and round */
	if (need_races) {
		race_sel = pwt_xcalloc(d.races.nrows + 1, 1);
		for (size_t i = 0; i < d.races.nrows; i++) {
			long y;
			if (pwt_req_long(&d.races, i, ryear, &y, err) < 0)
				goto fail;
			race_sel[i] = (unsigned char)season_selected(y);
		}
	}
	if (opt.want[T_RACES]) {
		for (size_t i = 0; i < d.races.nrows; i++) {
			if (!race_sel[i])
				continue;
			char **row = rows_add(&out[T_RACES]);
			copy_cols(&d.races, i, row, T_RACES, rcol, 18);
			long c = lookup(&d.races, i, rcirc, d.circuit_row, d.circuit_max);
			cell_set(row, 18, c >= 0 ? pwt_cell(&d.circuits, (size_t)c, ccref) : NULL);
		}
	}
	if (need_results) {
		int c[18];
		if (cols_or_die(&d.results, results_hdr, c, 18, err) < 0)
			goto fail;
		drv_sel = pwt_xcalloc(d.drivers.nrows + 1, 1);
		for (size_t i = 0; i < d.results.nrows; i++) {
			long race = lookup(&d.results, i, c[1], d.race_row, d.race_max);
			if (race < 0) {
				pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: raceId %s is not in %s",
					    d.results.path, d.results.lines[i],
					    pwt_cell(&d.results, i, c[1])
						? pwt_cell(&d.results, i, c[1])
						: "\\N",
					    d.races.path);
				goto fail;
			}
			if (!race_sel[race])
				continue;
			long drv = lookup(&d.results, i, c[2], d.driver_row, d.driver_max);
			if (drv >= 0)
				drv_sel[drv] = 1;
			if (!opt.want[T_RESULTS])
				continue;
			long k = lookup(&d.results, i, c[3], d.cons_row, d.cons_max);
			long s = lookup(&d.results, i, c[17], d.status_row, d.status_max);
			char **row = rows_add(&out[T_RESULTS]);
			copy_cols(&d.results, i, row, T_RESULTS, c, 18);
			cell_set(row, 18, pwt_cell(&d.races, (size_t)race, ryear));
			cell_set(row, 19, pwt_cell(&d.races, (size_t)race, rround));
			cell_set(row, 20,
				 drv >= 0 ? pwt_cell(&d.drivers, (size_t)drv, dref) : NULL);
			cell_set(row, 21, k >= 0 ? pwt_cell(&d.cons, (size_t)k, kref) : NULL);
			cell_set(row, 22, s >= 0 ? pwt_cell(&d.status, (size_t)s, sst) : NULL);
		}
	}
	if (opt.want[T_PITS]) {
		int c[7];
		if (cols_or_die(&d.pits, pits_hdr, c, 7, err) < 0)
			goto fail;
		for (size_t i = 0; i < d.pits.nrows; i++) {
			long race = lookup(&d.pits, i, c[0], d.race_row, d.race_max);
			if (race < 0) {
				pwt_err_set(err, PWT_EX_DATAERR, "%s:%u: raceId is not in %s",
					    d.pits.path, d.pits.lines[i], d.races.path);
				goto fail;
			}
			if (!race_sel[race])
				continue;
			long drv = lookup(&d.pits, i, c[1], d.driver_row, d.driver_max);
			char **row = rows_add(&out[T_PITS]);
			copy_cols(&d.pits, i, row, T_PITS, c, 7);
			cell_set(row, 7, pwt_cell(&d.races, (size_t)race, ryear));
			cell_set(row, 8, pwt_cell(&d.races, (size_t)race, rround));
			cell_set(row, 9, drv >= 0 ? pwt_cell(&d.drivers, (size_t)drv, dref) : NULL);
		}
	}
	if (opt.want[T_DRIVERS]) {
		int c[9];
		if (cols_or_die(&d.drivers, drivers_hdr, c, 9, err) < 0)
			goto fail;
		for (size_t i = 0; i < d.drivers.nrows; i++) {
			/* with a season range: the drivers with a result in it, as the API's
			 * /{season}/drivers.json lists them */
			if (opt.nseasons && !drv_sel[i])
				continue;
			copy_cols(&d.drivers, i, rows_add(&out[T_DRIVERS]), T_DRIVERS, c, 9);
		}
	}
	if (opt.want[T_CIRCUITS]) {
		int c[9];
		if (cols_or_die(&d.circuits, circuits_hdr, c, 9, err) < 0)
			goto fail;
		circ_sel = pwt_xcalloc(d.circuits.nrows + 1, 1);
		for (size_t i = 0; i < d.races.nrows; i++) {
			long cr = lookup(&d.races, i, rcirc, d.circuit_row, d.circuit_max);
			if (race_sel[i] && cr >= 0)
				circ_sel[cr] = 1;
		}
		for (size_t i = 0; i < d.circuits.nrows; i++)
			if (!opt.nseasons || circ_sel[i])
				copy_cols(&d.circuits, i, rows_add(&out[T_CIRCUITS]), T_CIRCUITS, c,
					  9);
	}
	if (opt.want[T_LAPS]) {
		/* every lap_times*.csv in the directory, in name order */
		DIR *dir = opendir(opt.csv_dir);
		char **names = NULL;
		size_t nnames = 0, cap = 0;
		struct dirent *de;
		if (!dir) {
			pwt_err_set(err, PWT_EX_NOINPUT, "%s: cannot open: %s", opt.csv_dir,
				    strerror(errno));
			goto fail;
		}
		while ((de = readdir(dir))) {
			size_t n = strlen(de->d_name);
			if (strncmp(de->d_name, "lap_times", 9) == 0 && n > 4 &&
			    strcmp(de->d_name + n - 4, ".csv") == 0)
				PWT_PUSH(names, nnames, cap, pwt_xstrdup(de->d_name));
		}
		closedir(dir);
		for (size_t i = 1; i < nnames; i++)
			for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				char *tmp = names[j];
				names[j] = names[j - 1];
				names[j - 1] = tmp;
			}
		if (!nnames) {
			pwt_err_set(err, PWT_EX_NOINPUT, "%s: no lap_times*.csv", opt.csv_dir);
			goto fail;
		}
		for (size_t f = 0; f < nnames && rc == 0; f++) {
			pwt_table lt = PWT_TABLE_INIT;
			static const char *const lnames[] = {
			    "year", "round", "lap", "driver_id", "lap_time", "gap_to_leader"};
			int c[6];
			if (load_dump_table(&lt, names[f], err) < 0 ||
			    cols_or_die(&lt, lnames, c, 6, err) < 0) {
				rc = -1;
			}
			for (size_t i = 0; rc == 0 && i < lt.nrows; i++) {
				long y;
				if (pwt_req_long(&lt, i, c[0], &y, err) < 0) {
					rc = -1;
					break;
				}
				if (!season_selected(y))
					continue;
				char **row = rows_add(&out[T_LAPS]);
				cell_set(row, 0, pwt_cell(&lt, i, c[0]));
				cell_set(row, 1, pwt_cell(&lt, i, c[1]));
				cell_set(row, 2, pwt_cell(&lt, i, c[2]));
				cell_set(row, 3, pwt_cell(&lt, i, c[3]));
				cell_set(row, 4, "name");
				cell_set(row, 6, pwt_cell(&lt, i, c[4]));
				cell_set(row, 7, pwt_cell(&lt, i, c[5]));
			}
			pwt_table_release(&lt);
		}
		for (size_t i = 0; i < nnames; i++)
			free(names[i]);
		free(names);
		if (rc < 0)
			goto fail;
	}
	for (int t = 0; t <= T_LAPS; t++) {
		size_t n;
		if (!opt.want[t])
			continue;
		if (rows_write(&out[t], opt.out, -1, &n, err) < 0)
			goto fail;
		pwt_progress("wrote %s/%s: %zu rows", opt.out, tdef[t].file, n);
	}
	goto done;
fail:
	rc = -1;
done:
	free(race_sel);
	free(circ_sel);
	free(drv_sel);
	for (int t = 0; t < NT; t++)
		rows_release(&out[t]);
	pwt_table_release(&d.races);
	pwt_table_release(&d.results);
	pwt_table_release(&d.pits);
	pwt_table_release(&d.drivers);
	pwt_table_release(&d.circuits);
	pwt_table_release(&d.cons);
	pwt_table_release(&d.status);
	free(d.race_row);
	free(d.driver_row);
	free(d.circuit_row);
	free(d.cons_row);
	free(d.status_row);
	return rc;
}

/* ------------------------------------------------------------------ --parse-fixture */

static int parse_fixtures(char **files, int n)
{
	for (int i = 0; i < n; i++) {
		struct rows r[NT], *rp[NT];
		struct page pg;
		pwt_err err = PWT_ERR_INIT;
		char *data;
		size_t len;
		for (int t = 0; t < NT; t++) {
			rows_init(&r[t], (enum tbl)t);
			rp[t] = &r[t];
		}
		if (read_whole(files[i], &data, &len) < 0)
			pwt_die(PWT_EX_NOINPUT, "%s: cannot read: %s", files[i], strerror(errno));
		if (parse_page(files[i], data, len, NT, &pg, rp, &err) < 0)
			pwt_die_err(&err);
		free(data);
		const struct rows *out = &r[pg.t];
		printf("# %s\n", files[i]);
		for (size_t c = 0; c < out->ncols; c++) {
			if (c)
				putchar(',');
			pwt_csv_put_field(stdout, tdef[pg.t].hdr[c]);
		}
		putchar('\n');
		for (size_t k = 0; k < out->nrows; k++) {
			for (size_t c = 0; c < out->ncols; c++) {
				if (c)
					putchar(',');
				pwt_csv_put_field(stdout, out->cells[k * out->ncols + c]);
			}
			putchar('\n');
		}
		fprintf(stderr, "parsed %s: table=%s rows=%zu total=%ld offset=%ld limit=%ld\n",
			files[i], tdef[pg.t].file, pg.nrows, pg.total, pg.offset, pg.limit);
		for (int t = 0; t < NT; t++)
			rows_release(&r[t]);
	}
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	printf("usage: f1-ingest [--source SRC | --base-url URL | --from-csv DIR]\n"
	       "                 [--seasons RANGE] [--what LIST] [--out DIR] [--incremental]\n"
	       "                 [--rate R] [--hourly N] [--max-retries N] [options]\n"
	       "       f1-ingest --parse-fixture FILE...\n"
	       "\n"
	       "Fetches F1 data from the Jolpica API (Ergast-compatible) or reads an Ergast CSV\n"
	       "dump, and writes the pipeline's raw tables (docs/f1-pipeline.md): races.csv,\n"
	       "results.csv, pit_stops.csv, drivers.csv, circuits.csv, lap_times.csv.  Over\n"
	       "HTTP every page is kept in OUT/json/ (named like the Jolpica project's recorded\n"
	       "responses) and the CSVs are rebuilt from those pages.\n"
	       "\n"
	       "Source (default: F1_SOURCE, else " DEFAULT_SOURCE "):\n"
	       "  --source SRC        a base URL, or csv:DIR for an Ergast CSV dump\n"
	       "  --base-url URL      the API's base URL (.../ergast/f1)\n"
	       "  --from-csv DIR      the dump: races.csv, results.csv, pit_stops.csv,\n"
	       "                      drivers.csv, circuits.csv, constructors.csv, status.csv\n"
	       "                      and lap_times*.csv\n"
	       "What:\n"
	       "  --seasons RANGE     2023, 2021-2023 or 2019,2021-2023 (default: F1_SEASONS,\n"
	       "                      else every season the source has)\n"
	       "  --what LIST         races,results,pitstops,laps,drivers,circuits, or core\n"
	       "                      (all but laps), or all (default)\n"
	       "  --out DIR           output directory (default: $PITWALL_WORKSPACE/raw, else\n"
	       "                      ./raw)\n"
	       "  --incremental       fetch only what OUT/json lacks: seasons and rounds\n"
	       "                      missing or not yet run (gap detection), then rebuild\n"
	       "HTTP:\n"
	       "  --rate R            requests per second: 4, 4/s, 30/min, 0 = unlimited\n"
	       "                      (default: F1_RATE, else 4/s; 1/s for a download of\n"
	       "                      every season)\n"
	       "  --hourly N          requests per rolling hour, 0 = unlimited (default:\n"
	       "                      F1_HOURLY, else 500)\n"
	       "  --hourly-window S   the window of --hourly in seconds (default 3600; tests\n"
	       "                      shorten it)\n"
	       "  --rate-state FILE   the limiter's state, shared (flock) by every f1-ingest\n"
	       "                      using it; default $TMPDIR/f1-ingest-UID-HOST.rate, one\n"
	       "                      budget per API host; none = this process only\n"
	       "  --max-retries N     retries of a request on network errors, 408, 429 and\n"
	       "                      5xx (default 5)\n"
	       "  --backoff-ms MS     first retry delay without Retry-After, doubled each\n"
	       "                      time, with jitter (default 1000; cap --max-backoff-ms,\n"
	       "                      default 60000)\n"
	       "  --max-retry-after S longest Retry-After honoured; longer gives up (exit 75)\n"
	       "                      at once (default 900)\n"
	       "  --timeout S         per request (default 60)\n"
	       "  --page-size N       limit= per page (default 100, the API's maximum)\n"
	       "Other:\n"
	       "  --parse-fixture FILE...  parse recorded API responses, print their rows as\n"
	       "                      CSV on stdout and a summary per file on stderr\n"
	       "  -q, --quiet         no progress messages\n"
	       "  -h, --help          this help\n"
	       "\n"
	       "Exit status: 0 ok; 64 usage; 65 bad data (a malformed or truncated page or\n"
	       "CSV, named with its file and line); 66 a dump file is missing; 73/74 output\n"
	       "errors; 75 transient (network, 429 or 5xx still failing after the retries);\n"
	       "77 HTTP 401/403; 78 configuration (bad F1_SOURCE, a URL that answers 404).\n");
}

int main(int argc, char **argv)
{
	enum {
		O_SOURCE = 256,
		O_BASE,
		O_CSV,
		O_SEASONS,
		O_WHAT,
		O_OUT,
		O_INCR,
		O_RATE,
		O_HOURLY,
		O_RETRIES,
		O_BACKOFF,
		O_MAXBACKOFF,
		O_MAXRA,
		O_TIMEOUT,
		O_PAGE,
		O_FIXTURE,
		O_WINDOW,
		O_RATESTATE,
	};
	static const struct option opts[] = {
	    {"source", required_argument, NULL, O_SOURCE},
	    {"base-url", required_argument, NULL, O_BASE},
	    {"from-csv", required_argument, NULL, O_CSV},
	    {"seasons", required_argument, NULL, O_SEASONS},
	    {"what", required_argument, NULL, O_WHAT},
	    {"out", required_argument, NULL, O_OUT},
	    {"incremental", no_argument, NULL, O_INCR},
	    {"rate", required_argument, NULL, O_RATE},
	    {"hourly", required_argument, NULL, O_HOURLY},
	    {"max-retries", required_argument, NULL, O_RETRIES},
	    {"backoff-ms", required_argument, NULL, O_BACKOFF},
	    {"max-backoff-ms", required_argument, NULL, O_MAXBACKOFF},
	    {"max-retry-after", required_argument, NULL, O_MAXRA},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"page-size", required_argument, NULL, O_PAGE},
	    {"parse-fixture", no_argument, NULL, O_FIXTURE},
	    {"hourly-window", required_argument, NULL, O_WINDOW},
	    {"rate-state", required_argument, NULL, O_RATESTATE},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *source = NULL, *seasons = NULL, *what = "all", *out = NULL, *rate_state = NULL;
	int fixture = 0, c;
	long v;
	pwt_err err = PWT_ERR_INIT;

	pwt_init("f1-ingest");
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case O_SOURCE: source = optarg; break;
		case O_BASE: source = optarg; break;
		case O_CSV: source = pwt_xasprintf("csv:%s", optarg); break;
		case O_SEASONS: seasons = optarg; break;
		case O_WHAT: what = optarg; break;
		case O_OUT: out = optarg; break;
		case O_INCR: opt.incremental = 1; break;
		case O_RATE:
			if ((opt.rate = parse_rate(optarg)) < 0)
				pwt_usage_error("--rate: expected N, N/s, N/min or N/h, got '%s'",
						optarg);
			break;
		case O_HOURLY:
		case O_RETRIES:
		case O_BACKOFF:
		case O_MAXBACKOFF:
		case O_MAXRA:
		case O_TIMEOUT:
		case O_PAGE:
			if (pwt_parse_long(optarg, &v) < 0 || v < 0 || v > 100000000 ||
			    ((c == O_TIMEOUT || c == O_PAGE) && v == 0))
				pwt_usage_error("--%s: expected a whole number, got '%s'",
						opts[c - O_SOURCE].name, optarg);
			if (c == O_HOURLY)
				opt.hourly = v;
			else if (c == O_RETRIES)
				opt.max_retries = (int)(v > 1000 ? 1000 : v);
			else if (c == O_BACKOFF)
				opt.backoff_ms = v;
			else if (c == O_MAXBACKOFF)
				opt.max_backoff_ms = v;
			else if (c == O_MAXRA)
				opt.max_retry_after = v;
			else if (c == O_TIMEOUT)
				opt.timeout_s = v;
			else
				opt.page_size = v;
			break;
		case O_FIXTURE: fixture = 1; break;
		case O_RATESTATE: rate_state = optarg; break;
		case O_WINDOW:
			if (pwt_parse_long(optarg, &v) < 0 || v <= 0 || v > 86400)
				pwt_usage_error("--hourly-window: expected seconds, got '%s'",
						optarg);
			opt.window = (double)v;
			break;
		case 'q': pwt_set_quiet(1); break;
		case 'h': usage(); return 0;
		default: pwt_usage_error("unknown option (see --help)");
		}
	}
	if (fixture) {
		if (optind >= argc)
			pwt_usage_error("--parse-fixture needs at least one FILE");
		return parse_fixtures(argv + optind, argc - optind);
	}
	if (optind < argc)
		pwt_usage_error("unexpected argument '%s'", argv[optind]);
	if (parse_what(what) < 0)
		pwt_usage_error("--what: expected a list of races, results, pitstops, laps, "
				"drivers, circuits, core, all; got '%s'",
				what);

	/* source: option, else F1_SOURCE, else the public API */
	const char *from_env = NULL;
	if (!source) {
		source = getenv("F1_SOURCE");
		from_env = source && *source ? "F1_SOURCE" : NULL;
		if (!from_env)
			source = DEFAULT_SOURCE;
	}
	if (strncmp(source, "csv:", 4) == 0) {
		opt.csv_dir = source + 4;
		struct stat st;
		if (!*opt.csv_dir || stat(opt.csv_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			pwt_die(PWT_EX_CONFIG, "%s%s'%s': csv:DIR must name a directory",
				from_env ? from_env : "", from_env ? ": " : "", source);
	} else if (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0) {
		char *s = pwt_xstrdup(source);
		size_t n = strlen(s);
		while (n > 0 && s[n - 1] == '/')
			s[--n] = '\0';
		opt.source = s;
	} else {
		pwt_die(PWT_EX_CONFIG, "%s%s'%s': expected an http(s):// base URL or csv:DIR",
			from_env ? from_env : "", from_env ? ": " : "", source);
	}

	if (!seasons) {
		seasons = getenv("F1_SEASONS");
		if (seasons && !*seasons)
			seasons = NULL;
		if (seasons && parse_seasons(seasons) < 0)
			pwt_die(PWT_EX_CONFIG, "F1_SEASONS: expected YYYY or YYYY-YYYY, got '%s'",
				seasons);
	} else if (parse_seasons(seasons) < 0) {
		pwt_usage_error("--seasons: expected YYYY, YYYY-YYYY or a comma list, got '%s'",
				seasons);
	}
	if (opt.rate < 0) {
		const char *e = getenv("F1_RATE");
		if (e && *e) {
			if ((opt.rate = parse_rate(e)) < 0)
				pwt_die(PWT_EX_CONFIG,
					"F1_RATE: expected N, N/s or N/min, got '%s'", e);
		} else {
			/* a download of every season is a bulk download: 1/s */
			opt.rate = opt.nseasons ? 4.0 : 1.0;
		}
	}
	if (opt.hourly < 0) {
		const char *e = getenv("F1_HOURLY");
		if (e && *e) {
			if (pwt_parse_long(e, &v) < 0 || v < 0)
				pwt_die(PWT_EX_CONFIG,
					"F1_HOURLY: expected a whole number, got '%s'", e);
			opt.hourly = v;
		} else {
			opt.hourly = 500;
		}
	}
	if (opt.source && (!rate_state || strcmp(rate_state, "none") != 0)) {
		if (rate_state) {
			opt.rate_state = pwt_xstrdup(rate_state);
		} else {
			/* one budget per API host (and port) */
			const char *h = strstr(opt.source, "://") + 3;
			size_t n = strcspn(h, "/?#");
			char host[128];
			snprintf(host, sizeof(host), "%.*s", (int)(n < 100 ? n : 100), h);
			for (char *p = host; *p; p++)
				if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
				    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '-')
					*p = '_';
			const char *tmpdir = getenv("TMPDIR");
			opt.rate_state = pwt_xasprintf("%s/f1-ingest-%ld-%s.rate",
						       tmpdir && *tmpdir ? tmpdir : "/tmp",
						       (long)getuid(), host);
		}
	}
	if (out) {
		opt.out = out;
	} else {
		const char *ws = getenv("PITWALL_WORKSPACE");
		opt.out = ws && *ws ? pwt_path_join(ws, "raw") : "raw";
	}
	if (pwt_mkdirs(opt.out, &err) < 0)
		pwt_die_err(&err);

	int rc;
	if (opt.csv_dir) {
		if (opt.incremental)
			pwt_progress(
			    "--incremental has no effect with a CSV dump: reading it whole");
		pwt_progress("reading the Ergast CSV dump in %s", opt.csv_dir);
		rc = run_csv(&err);
	} else {
		char r1[32] = "no rate limit", r2[48] = "no hourly limit";
		if (opt.rate > 0)
			snprintf(r1, sizeof(r1), "%.3g requests/s", opt.rate);
		if (opt.hourly > 0)
			snprintf(r2, sizeof(r2), "%ld per %.0f s", opt.hourly, opt.window);
		pwt_progress("fetching from %s (%s, %s, %d retries%s)", opt.source, r1, r2,
			     opt.max_retries, opt.incremental ? ", incremental" : "");
		rc = run_http(&err);
	}
	if (rc < 0)
		pwt_die_err(&err);
	return 0;
}
