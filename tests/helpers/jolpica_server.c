/*
 * jolpica_server: a small HTTP/1.1 server on 127.0.0.1 that serves the Ergast CSV dump
 * (../shared/data/f1) in the JSON shape of the Jolpica F1 API (api.jolpi.ca/ergast/f1/),
 * for the ingest tests.  Plain libc: sockets, poll(2), no threads.
 *
 *   jolpica_server [--data DIR] [--port N] [--port-file FILE] [--log FILE]
 *                  [--fail-429 N] [--retry-after S] [--fail-500 N] [--fault-path SUBSTR]
 *                  [--slow-ms N] [--truncate-path SUBSTR] [--drop-path SUBSTR]
 *                  [--max-limit N] [--exit-after S]
 *
 * Shape (as in ../shared/data/jolpica): every value a string, MRData {xmlns, series, url,
 * limit, offset, total, XTable}, default page 30 rows (max 100), results paged by result
 * rows, laps paged by timing rows (a lap may be split across pages), an empty answer is
 * total "0" with an empty list.  Query parameters limit and offset; fault injection also
 * per request with ?fail=429|500, ?slow=MS, ?truncate=1, ?drop=1.
 *
 * The access log has one line per request: "MS STATUS BYTES METHOD TARGET" where MS is the
 * time since start in milliseconds.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NUL_FIELD NULL /* an unquoted \N in the dump */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("jolpica_server: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);
	memcpy(p, s, n);
	return p;
}

/* ---------------------------------------------------------------- buffers */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_grow(struct buf *b, size_t add)
{
	if (b->len + add + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + add + 1)
			c *= 2;
		b->p = xrealloc(b->p, c);
		b->cap = c;
	}
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---------------------------------------------------------------- CSV */

struct csv {
	char **hdr;
	int nhdr;
	char ***rows; /* rows[i][j]: NULL for \N; padded to nhdr */
	int nrows;
	const char *path;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	if (!b.p)
		buf_grow(&b, 0), b.p[0] = '\0';
	*len = b.len;
	return b.p;
}

/* Parses one field starting at *pp; returns it (NULL for unquoted \N), advances *pp past
 * the field; *eol is set when the field ended the line (or the file). */
static char *csv_field(char **pp, const char *end, int *eol)
{
	static struct buf f; /* reused: fields are copied out at their exact size */
	char *p = *pp;
	int quoted = 0;
	f.len = 0;
	*eol = 0;
	if (p < end && *p == '"') {
		quoted = 1;
		p++;
		while (p < end) {
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					buf_add(&f, "\"", 1);
					p += 2;
					continue;
				}
				p++;
				break;
			}
			buf_add(&f, p, 1);
			p++;
		}
	}
	const char *s0 = p;
	while (p < end && *p != ',' && *p != '\n' && *p != '\r')
		p++;
	buf_add(&f, s0, (size_t)(p - s0));
	if (p >= end) {
		*eol = 1;
	} else if (*p == ',') {
		p++;
	} else {
		if (*p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
		*eol = 1;
	}
	*pp = p;
	size_t s = 0, e = f.len;
	if (!quoted) { /* trim surrounding blanks of unquoted fields */
		while (s < e && (f.p[s] == ' ' || f.p[s] == '\t'))
			s++;
		while (e > s && (f.p[e - 1] == ' ' || f.p[e - 1] == '\t'))
			e--;
		if (e - s == 2 && f.p[s] == '\\' && f.p[s + 1] == 'N')
			return NUL_FIELD;
	}
	char *out = xmalloc(e - s + 1);
	memcpy(out, f.p + s, e - s);
	out[e - s] = '\0';
	return out;
}

/* every table loaded stays referenced (the model points into it) until exit */
static struct csv loaded[32];
static int nloaded;

static void csv_load(struct csv *c, const char *dir, const char *name, int required)
{
	struct buf pb = {0};
	size_t len;
	buf_printf(&pb, "%s/%s", dir, name);
	const char *path = pb.p;
	memset(c, 0, sizeof *c);
	c->path = path;
	char *text = slurp(path, &len);
	if (!text) {
		if (required)
			die("cannot read %s: %s", path, strerror(errno));
		return;
	}
	char *p = text, *end = text + len;
	if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
	    (unsigned char)p[2] == 0xBF)
		p += 3;
	int eol = 0, cap = 0;
	while (p < end && !eol) {
		char *f = csv_field(&p, end, &eol);
		c->hdr = xrealloc(c->hdr, sizeof(char *) * (size_t)(c->nhdr + 1));
		c->hdr[c->nhdr++] = f ? f : xstrdup("\\N");
	}
	while (p < end) {
		if (*p == '\n' || *p == '\r') {
			p++;
			continue;
		}
		char **row = xmalloc(sizeof(char *) * (size_t)c->nhdr);
		int n = 0;
		eol = 0;
		while (!eol) {
			char *f = csv_field(&p, end, &eol);
			if (n < c->nhdr)
				row[n++] = f;
			else
				free(f);
		}
		while (n < c->nhdr)
			row[n++] = NUL_FIELD;
		if (c->nrows == cap) {
			cap = cap ? cap * 2 : 1024;
			c->rows = xrealloc(c->rows, sizeof(char **) * (size_t)cap);
		}
		c->rows[c->nrows++] = row;
	}
	free(text);
	if (nloaded < (int)(sizeof loaded / sizeof loaded[0]))
		loaded[nloaded++] = *c;
}

static int csv_col(const struct csv *c, const char *name)
{
	for (int i = 0; i < c->nhdr; i++)
		if (strcmp(c->hdr[i], name) == 0)
			return i;
	die("%s: no column %s", c->path, name);
	return -1;
}

static int toint(const char *s)
{
	return s ? atoi(s) : 0;
}

/* ---------------------------------------------------------------- model */

struct circuit {
	const char *ref, *name, *location, *country, *lat, *lng, *url;
};
struct driver {
	const char *ref, *number, *code, *forename, *surname, *dob, *nationality, *url;
	char *key1, *key2; /* folded forename_surname, surname_forename */
	char *sortkey;	   /* the API lists drivers by family name */
};
struct constructor {
	const char *ref, *name, *nationality, *url;
};
enum { S_FP1, S_FP2, S_FP3, S_QUALI, S_SPRINT, NSESS };
static const char *const sess_name[NSESS] = {"FirstPractice", "SecondPractice", "ThirdPractice",
					     "Qualifying", "Sprint"};
struct race {
	int id, year, round, idx, has_results;
	struct circuit *circuit;
	const char *name, *date, *time, *url;
	const char *sdate[NSESS], *stime[NSESS];
};
struct result {
	struct race *race;
	struct driver *driver;
	struct constructor *cons;
	const char *number, *grid, *position, *ptext, *porder, *points, *laps, *time, *ms;
	const char *flap, *rank, *fltime, *flspeed, *status_id, *status;
	int order;
};
struct pit {
	struct race *race;
	struct driver *driver;
	const char *stop, *lap, *time, *duration;
	int idx;
};
struct lap {
	struct race *race;
	int lap, pos, idx;
	const char *driver, *time;
	char pos_s[12];
};
struct quali {
	struct race *race;
	struct driver *driver;
	struct constructor *cons;
	const char *number, *position, *q1, *q2, *q3;
};
struct season {
	int year;
	const char *url;
};

static struct {
	struct circuit *circuits;
	int ncircuits, circuit_max;
	struct circuit **circuit_by_id;
	struct driver *drivers;
	int ndrivers, driver_max;
	struct driver **driver_by_id;
	struct constructor *cons;
	int ncons, cons_max;
	struct constructor **cons_by_id;
	char **status_by_id;
	int status_max;
	struct race *races; /* sorted by (year, round) */
	int nraces;
	struct race **race_by_id;
	int race_max;
	struct result *results; /* sorted by race, positionOrder */
	int nresults;
	struct pit *pits;
	int npits;
	struct lap *laps;
	int nlaps;
	struct quali *qualis;
	int nqualis;
	struct season *seasons;
	int nseasons;
} db;

#define GROW_INDEX(arr, maxv, id)                                                                  \
	do {                                                                                       \
		if ((id) >= (maxv)) {                                                              \
			int nm = (id) + 1;                                                         \
			arr = xrealloc(arr, sizeof(*(arr)) * (size_t)nm);                          \
			for (int z_ = (maxv); z_ < nm; z_++)                                       \
				(arr)[z_] = NULL;                                                  \
			(maxv) = nm;                                                               \
		}                                                                                  \
	} while (0)

/* Folds a UTF-8 name to lower-case ASCII: accents dropped, blanks and dashes become '_',
 * other punctuation is removed. */
static char *fold_name(const char *s)
{
	static const char latin1[] = "AAAAAAACEEEEIIIIDNOOOOO-OUUUUYTs"
				     "aaaaaaaceeeeiiiidnooooo-ouuuuyty";
	static const char exta[] = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkk"
				   "LlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYy"
				   "YZzZzZzs";
	_Static_assert(sizeof latin1 == 65, "latin1 table");
	_Static_assert(sizeof exta == 129, "Latin Extended-A table");
	struct buf b = {0};
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int last_us = 1;
	while (*p) {
		unsigned cp;
		int n;
		if (*p < 0x80)
			cp = *p, n = 1;
		else if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80)
			cp = ((unsigned)(*p & 0x1F) << 6) | (p[1] & 0x3F), n = 2;
		else if ((*p & 0xF0) == 0xE0 && p[1] && p[2])
			cp = 0xFFFF, n = 3;
		else if ((*p & 0xF8) == 0xF0 && p[1] && p[2] && p[3])
			cp = 0xFFFF, n = 4;
		else
			cp = 0xFFFF, n = 1;
		p += n;
		char c = 0;
		if (cp < 0x80)
			c = (char)cp;
		else if (cp >= 0xC0 && cp < 0x100)
			c = latin1[cp - 0xC0];
		else if (cp >= 0x100 && cp < 0x180)
			c = exta[cp - 0x100];
		if (isalnum((unsigned char)c)) {
			char lc = (char)tolower((unsigned char)c);
			buf_add(&b, &lc, 1);
			last_us = 0;
		} else if (c == ' ' || c == '-' || c == '_') {
			if (!last_us)
				buf_add(&b, "_", 1);
			last_us = 1;
		}
	}
	if (!b.p)
		buf_grow(&b, 0), b.p[0] = '\0';
	while (b.len && b.p[b.len - 1] == '_')
		b.p[--b.len] = '\0';
	return b.p;
}

static int cmp_race(const void *a, const void *b)
{
	const struct race *x = a, *y = b;
	if (x->year != y->year)
		return x->year < y->year ? -1 : 1;
	return (x->round > y->round) - (x->round < y->round);
}

static int cmp_result(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	if (x->race->idx != y->race->idx)
		return x->race->idx < y->race->idx ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static int cmp_pit(const void *a, const void *b)
{
	const struct pit *x = a, *y = b;
	if (x->race->idx != y->race->idx)
		return x->race->idx < y->race->idx ? -1 : 1;
	int lx = toint(x->lap), ly = toint(y->lap);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	int c = strcmp(x->time ? x->time : "", y->time ? y->time : "");
	if (c)
		return c;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_lap(const void *a, const void *b)
{
	const struct lap *x = a, *y = b;
	if (x->race->idx != y->race->idx)
		return x->race->idx < y->race->idx ? -1 : 1;
	if (x->lap != y->lap)
		return x->lap < y->lap ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_quali(const void *a, const void *b)
{
	const struct quali *x = a, *y = b;
	if (x->race->idx != y->race->idx)
		return x->race->idx < y->race->idx ? -1 : 1;
	return (toint(x->position) > toint(y->position)) -
	       (toint(x->position) < toint(y->position));
}

static struct race *race_by_year_round(int year, int round)
{
	struct race key = {.year = year, .round = round};
	return bsearch(&key, db.races, (size_t)db.nraces, sizeof *db.races, cmp_race);
}

static struct race *race_of(const char *id)
{
	int i = toint(id);
	return (i > 0 && i < db.race_max) ? db.race_by_id[i] : NULL;
}

static struct driver *driver_of(const char *id)
{
	int i = toint(id);
	return (i > 0 && i < db.driver_max) ? db.driver_by_id[i] : NULL;
}

static struct constructor *cons_of(const char *id)
{
	int i = toint(id);
	return (i > 0 && i < db.cons_max) ? db.cons_by_id[i] : NULL;
}

/* Maps a lap-times driver name (forename_surname, lower-case ASCII) to an Ergast driverRef:
 * first among the drivers with a result in that race, then among all drivers. */
static const char *map_lap_driver(struct race *race, const char *name, int *lo_hint)
{
	char *key = fold_name(name);
	const char *found = NULL;
	int lo = *lo_hint;
	while (lo < db.nresults && db.results[lo].race->idx < race->idx)
		lo++;
	*lo_hint = lo;
	for (int pass = 0; pass < 3 && !found; pass++) {
		for (int i = lo; i < db.nresults && db.results[i].race == race && !found; i++) {
			struct driver *d = db.results[i].driver;
			if (!d)
				continue;
			if ((pass == 0 && strcmp(d->key1, key) == 0) ||
			    (pass == 1 && strcmp(d->key2, key) == 0) ||
			    (pass == 2 && strcmp(d->ref, key) == 0))
				found = d->ref;
		}
	}
	for (int i = 0; i < db.ndrivers && !found; i++)
		if (strcmp(db.drivers[i].key1, key) == 0)
			found = db.drivers[i].ref;
	free(key);
	return found ? found : name;
}

static void load(const char *dir)
{
	struct csv c;

	csv_load(&c, dir, "circuits.csv", 1);
	{
		int cid = csv_col(&c, "circuitId"), cref = csv_col(&c, "circuitRef"),
		    cname = csv_col(&c, "name"), cloc = csv_col(&c, "location"),
		    ccty = csv_col(&c, "country"), clat = csv_col(&c, "lat"),
		    clng = csv_col(&c, "lng"), curl = csv_col(&c, "url");
		db.circuits = xmalloc(sizeof *db.circuits * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct circuit *x = &db.circuits[db.ncircuits++];
			*x = (struct circuit){r[cref], r[cname], r[cloc], r[ccty],
					      r[clat], r[clng],	 r[curl]};
			int id = toint(r[cid]);
			GROW_INDEX(db.circuit_by_id, db.circuit_max, id);
			db.circuit_by_id[id] = x;
		}
	}
	csv_load(&c, dir, "drivers.csv", 1);
	{
		int did = csv_col(&c, "driverId"), dref = csv_col(&c, "driverRef"),
		    dnum = csv_col(&c, "number"), dcode = csv_col(&c, "code"),
		    dfn = csv_col(&c, "forename"), dsn = csv_col(&c, "surname"),
		    ddob = csv_col(&c, "dob"), dnat = csv_col(&c, "nationality"),
		    durl = csv_col(&c, "url");
		db.drivers = xmalloc(sizeof *db.drivers * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct driver *x = &db.drivers[db.ndrivers++];
			*x = (struct driver){r[dref], r[dnum], r[dcode], r[dfn], r[dsn], r[ddob],
					     r[dnat], r[durl], NULL,	 NULL,	 NULL};
			char *fn = fold_name(r[dfn]), *sn = fold_name(r[dsn]);
			struct buf k = {0};
			buf_printf(&k, "%s_%s", fn, sn);
			x->key1 = k.p;
			k = (struct buf){0};
			buf_printf(&k, "%s_%s", sn, fn);
			x->key2 = k.p;
			k = (struct buf){0};
			buf_printf(&k, "%s %s %s", sn, fn, r[dref] ? r[dref] : "");
			x->sortkey = k.p;
			free(fn);
			free(sn);
			int id = toint(r[did]);
			GROW_INDEX(db.driver_by_id, db.driver_max, id);
			db.driver_by_id[id] = x;
		}
	}
	csv_load(&c, dir, "constructors.csv", 1);
	{
		int kid = csv_col(&c, "constructorId"), kref = csv_col(&c, "constructorRef"),
		    kname = csv_col(&c, "name"), knat = csv_col(&c, "nationality"),
		    kurl = csv_col(&c, "url");
		db.cons = xmalloc(sizeof *db.cons * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct constructor *x = &db.cons[db.ncons++];
			*x = (struct constructor){r[kref], r[kname], r[knat], r[kurl]};
			int id = toint(r[kid]);
			GROW_INDEX(db.cons_by_id, db.cons_max, id);
			db.cons_by_id[id] = x;
		}
	}
	csv_load(&c, dir, "status.csv", 1);
	{
		int sid = csv_col(&c, "statusId"), st = csv_col(&c, "status");
		for (int i = 0; i < c.nrows; i++) {
			int id = toint(c.rows[i][sid]);
			GROW_INDEX(db.status_by_id, db.status_max, id);
			db.status_by_id[id] = c.rows[i][st];
		}
	}
	csv_load(&c, dir, "seasons.csv", 0);
	if (c.nrows) {
		int sy = csv_col(&c, "year"), su = csv_col(&c, "url");
		db.seasons = xmalloc(sizeof *db.seasons * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++)
			db.seasons[db.nseasons++] =
			    (struct season){toint(c.rows[i][sy]), c.rows[i][su]};
	}
	csv_load(&c, dir, "races.csv", 1);
	{
		int rid = csv_col(&c, "raceId"), ry = csv_col(&c, "year"),
		    rr = csv_col(&c, "round"), rc = csv_col(&c, "circuitId"),
		    rn = csv_col(&c, "name"), rd = csv_col(&c, "date"), rt = csv_col(&c, "time"),
		    ru = csv_col(&c, "url");
		static const char *const sd[NSESS] = {"fp1_date", "fp2_date", "fp3_date",
						      "quali_date", "sprint_date"};
		static const char *const stt[NSESS] = {"fp1_time", "fp2_time", "fp3_time",
						       "quali_time", "sprint_time"};
		int scol[NSESS], tcol[NSESS];
		for (int s = 0; s < NSESS; s++) {
			scol[s] = csv_col(&c, sd[s]);
			tcol[s] = csv_col(&c, stt[s]);
		}
		db.races = xmalloc(sizeof *db.races * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct race *x = &db.races[db.nraces++];
			memset(x, 0, sizeof *x);
			x->id = toint(r[rid]);
			x->year = toint(r[ry]);
			x->round = toint(r[rr]);
			int cid = toint(r[rc]);
			x->circuit =
			    (cid > 0 && cid < db.circuit_max) ? db.circuit_by_id[cid] : NULL;
			x->name = r[rn];
			x->date = r[rd];
			x->time = r[rt];
			x->url = r[ru];
			for (int s = 0; s < NSESS; s++) {
				x->sdate[s] = r[scol[s]];
				x->stime[s] = r[tcol[s]];
			}
		}
		qsort(db.races, (size_t)db.nraces, sizeof *db.races, cmp_race);
		for (int i = 0; i < db.nraces; i++) {
			db.races[i].idx = i;
			GROW_INDEX(db.race_by_id, db.race_max, db.races[i].id);
			db.race_by_id[db.races[i].id] = &db.races[i];
		}
	}
	csv_load(&c, dir, "results.csv", 1);
	{
		int col[18];
		static const char *const names[18] = {
		    "raceId",	  "driverId", "constructorId",	"number",
		    "grid",	  "position", "positionText",	"positionOrder",
		    "points",	  "laps",     "time",		"milliseconds",
		    "fastestLap", "rank",     "fastestLapTime", "fastestLapSpeed",
		    "statusId",	  "resultId"};
		for (int k = 0; k < 18; k++)
			col[k] = csv_col(&c, names[k]);
		db.results = xmalloc(sizeof *db.results * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct race *race = race_of(r[col[0]]);
			if (!race)
				continue;
			race->has_results = 1;
			struct result *x = &db.results[db.nresults++];
			x->race = race;
			x->driver = driver_of(r[col[1]]);
			x->cons = cons_of(r[col[2]]);
			x->number = r[col[3]];
			x->grid = r[col[4]];
			x->position = r[col[5]];
			x->ptext = r[col[6]];
			x->porder = r[col[7]];
			x->points = r[col[8]];
			x->laps = r[col[9]];
			x->time = r[col[10]];
			x->ms = r[col[11]];
			x->flap = r[col[12]];
			x->rank = r[col[13]];
			x->fltime = r[col[14]];
			x->flspeed = r[col[15]];
			x->status_id = r[col[16]];
			int sid = toint(r[col[16]]);
			x->status = (sid > 0 && sid < db.status_max) ? db.status_by_id[sid] : NULL;
			x->order = toint(x->porder);
		}
		qsort(db.results, (size_t)db.nresults, sizeof *db.results, cmp_result);
	}
	csv_load(&c, dir, "pit_stops.csv", 0);
	if (c.nrows) {
		int pr = csv_col(&c, "raceId"), pd = csv_col(&c, "driverId"),
		    ps = csv_col(&c, "stop"), pl = csv_col(&c, "lap"), pt = csv_col(&c, "time"),
		    pdur = csv_col(&c, "duration");
		db.pits = xmalloc(sizeof *db.pits * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct race *race = race_of(r[pr]);
			if (!race)
				continue;
			db.pits[db.npits] = (struct pit){race,	driver_of(r[pd]), r[ps],   r[pl],
							 r[pt], r[pdur],	  db.npits};
			db.npits++;
		}
		qsort(db.pits, (size_t)db.npits, sizeof *db.pits, cmp_pit);
	}
	csv_load(&c, dir, "qualifying.csv", 0);
	if (c.nrows) {
		int qr = csv_col(&c, "raceId"), qd = csv_col(&c, "driverId"),
		    qc = csv_col(&c, "constructorId"), qn = csv_col(&c, "number"),
		    qp = csv_col(&c, "position"), q1 = csv_col(&c, "q1"), q2 = csv_col(&c, "q2"),
		    q3 = csv_col(&c, "q3");
		db.qualis = xmalloc(sizeof *db.qualis * (size_t)c.nrows);
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct race *race = race_of(r[qr]);
			if (!race)
				continue;
			db.qualis[db.nqualis++] = (struct quali){
			    race, driver_of(r[qd]), cons_of(r[qc]), r[qn], r[qp], r[q1], r[q2],
			    r[q3]};
		}
		qsort(db.qualis, (size_t)db.nqualis, sizeof *db.qualis, cmp_quali);
	}
	/* lap_times*.csv: year,round,lap,driver_id,lap_time,gap_to_leader[,void] */
	struct buf pattern = {0};
	glob_t gl;
	buf_printf(&pattern, "%s/lap_times*.csv", dir);
	if (glob(pattern.p, 0, NULL, &gl) != 0)
		gl.gl_pathc = 0;
	for (size_t gi = 0; gi < gl.gl_pathc; gi++) {
		const char *base = strrchr(gl.gl_pathv[gi], '/');
		csv_load(&c, dir, base ? base + 1 : gl.gl_pathv[gi], 1);
		int ly = csv_col(&c, "year"), lr = csv_col(&c, "round"), ll = csv_col(&c, "lap"),
		    ld = csv_col(&c, "driver_id"), lt = csv_col(&c, "lap_time");
		db.laps = xrealloc(db.laps, sizeof *db.laps * (size_t)(db.nlaps + c.nrows));
		int hint = 0, prev_lap = -1, pos = 0;
		struct race *prev_race = NULL;
		for (int i = 0; i < c.nrows; i++) {
			char **r = c.rows[i];
			struct race *race = race_by_year_round(toint(r[ly]), toint(r[lr]));
			if (!race)
				continue;
			int lapno = toint(r[ll]);
			if (race != prev_race || lapno != prev_lap)
				pos = 0;
			if (race != prev_race)
				hint = 0;
			prev_race = race;
			prev_lap = lapno;
			struct lap *x = &db.laps[db.nlaps];
			x->race = race;
			x->lap = lapno;
			x->pos = ++pos; /* the dump lists each lap in running order */
			x->idx = db.nlaps;
			x->driver = map_lap_driver(race, r[ld], &hint);
			x->time = r[lt];
			snprintf(x->pos_s, sizeof x->pos_s, "%d", x->pos);
			db.nlaps++;
		}
	}
	if (gl.gl_pathc)
		globfree(&gl);
	free(pattern.p);
	if (db.nlaps > 1)
		qsort(db.laps, (size_t)db.nlaps, sizeof *db.laps, cmp_lap);
}

/* ---------------------------------------------------------------- JSON */

static void js_str(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			buf_add(b, e, 2);
		} else if (*p < 0x20) {
			buf_printf(b, "\\u%04x", *p);
		} else {
			buf_add(b, (const char *)p, 1);
		}
	}
	buf_add(b, "\"", 1);
}

/* "key":"value" with a leading comma unless first; skipped when value is NULL */
static void js_kv(struct buf *b, int *first, const char *k, const char *v)
{
	if (!v)
		return;
	if (!*first)
		buf_add(b, ",", 1);
	*first = 0;
	js_str(b, k);
	buf_add(b, ":", 1);
	js_str(b, v);
}

static void js_key(struct buf *b, int *first, const char *k)
{
	if (!*first)
		buf_add(b, ",", 1);
	*first = 0;
	js_str(b, k);
	buf_add(b, ":", 1);
}

static void js_circuit(struct buf *b, const struct circuit *c)
{
	int f = 1;
	buf_add(b, "{", 1);
	js_kv(b, &f, "circuitId", c->ref);
	js_kv(b, &f, "url", c->url);
	js_kv(b, &f, "circuitName", c->name);
	js_key(b, &f, "Location");
	int g = 1;
	buf_add(b, "{", 1);
	js_kv(b, &g, "lat", c->lat);
	js_kv(b, &g, "long", c->lng);
	js_kv(b, &g, "locality", c->location);
	js_kv(b, &g, "country", c->country);
	buf_add(b, "}}", 2);
}

static void js_driver(struct buf *b, const struct driver *d)
{
	int f = 1;
	buf_add(b, "{", 1);
	js_kv(b, &f, "driverId", d->ref);
	js_kv(b, &f, "permanentNumber", d->number);
	js_kv(b, &f, "code", d->code);
	js_kv(b, &f, "url", d->url);
	js_kv(b, &f, "givenName", d->forename);
	js_kv(b, &f, "familyName", d->surname);
	js_kv(b, &f, "dateOfBirth", d->dob);
	js_kv(b, &f, "nationality", d->nationality);
	buf_add(b, "}", 1);
}

static void js_constructor(struct buf *b, const struct constructor *k)
{
	int f = 1;
	buf_add(b, "{", 1);
	js_kv(b, &f, "constructorId", k->ref);
	js_kv(b, &f, "url", k->url);
	js_kv(b, &f, "name", k->name);
	js_kv(b, &f, "nationality", k->nationality);
	buf_add(b, "}", 1);
}

static void js_time_z(struct buf *b, int *f, const char *k, const char *t)
{
	if (!t)
		return;
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%sZ", t);
	js_kv(b, f, k, tmp);
}

/* Opens a race object: season, round, url, raceName, Circuit, date, time[, sessions].
 * Leaves the object open (the caller adds its list and the closing brace). */
static void js_race_open(struct buf *b, const struct race *r, int sessions)
{
	char y[12], rd[12];
	int f = 1;
	snprintf(y, sizeof y, "%d", r->year);
	snprintf(rd, sizeof rd, "%d", r->round);
	buf_add(b, "{", 1);
	js_kv(b, &f, "season", y);
	js_kv(b, &f, "round", rd);
	js_kv(b, &f, "url", r->url);
	js_kv(b, &f, "raceName", r->name);
	if (r->circuit) {
		js_key(b, &f, "Circuit");
		js_circuit(b, r->circuit);
	}
	js_kv(b, &f, "date", r->date);
	js_time_z(b, &f, "time", r->time);
	if (!sessions)
		return;
	/* sessions in chronological order, as the API lists them */
	int order[NSESS], n = 0;
	for (int s = 0; s < NSESS; s++)
		if (r->sdate[s])
			order[n++] = s;
	for (int i = 1; i < n; i++) {
		for (int j = i; j > 0; j--) {
			int a = order[j - 1], c = order[j];
			int cmp = strcmp(r->sdate[a], r->sdate[c]);
			if (cmp == 0)
				cmp = strcmp(r->stime[a] ? r->stime[a] : "~",
					     r->stime[c] ? r->stime[c] : "~");
			if (cmp <= 0)
				break;
			order[j - 1] = c;
			order[j] = a;
		}
	}
	for (int i = 0; i < n; i++) {
		int s = order[i], g = 1;
		js_key(b, &f, sess_name[s]);
		buf_add(b, "{", 1);
		js_kv(b, &g, "date", r->sdate[s]);
		js_time_z(b, &g, "time", r->stime[s]);
		buf_add(b, "}", 1);
	}
}

/* ---------------------------------------------------------------- queries */

enum endpoint {
	EP_NONE,
	EP_SEASONS,
	EP_RACES,
	EP_RESULTS,
	EP_PITSTOPS,
	EP_LAPS,
	EP_DRIVERS,
	EP_CIRCUITS,
	EP_CONSTRUCTORS,
	EP_STATUS,
	EP_QUALIFYING,
};

struct query {
	int season, round; /* 0 = any */
	const char *circuit, *constructor, *driver, *grid, *position, *status, *fastest, *lap,
	    *stop, *qpos;
	enum endpoint ep;
	int limit, offset;
	char season_s[12], round_s[12];
};

static enum endpoint endpoint_of(const char *s)
{
	static const struct {
		const char *name;
		enum endpoint ep;
	} map[] = {{"seasons", EP_SEASONS},   {"races", EP_RACES},
		   {"results", EP_RESULTS},   {"pitstops", EP_PITSTOPS},
		   {"laps", EP_LAPS},	      {"drivers", EP_DRIVERS},
		   {"circuits", EP_CIRCUITS}, {"constructors", EP_CONSTRUCTORS},
		   {"status", EP_STATUS},     {"qualifying", EP_QUALIFYING}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].name, s) == 0)
			return map[i].ep;
	return EP_NONE;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int set_filter(struct query *q, enum endpoint ep, const char *v)
{
	switch (ep) {
	case EP_CIRCUITS: q->circuit = v; break;
	case EP_CONSTRUCTORS: q->constructor = v; break;
	case EP_DRIVERS: q->driver = v; break;
	case EP_RESULTS: q->position = v; break;
	case EP_STATUS: q->status = v; break;
	case EP_LAPS: q->lap = v; break;
	case EP_PITSTOPS: q->stop = v; break;
	case EP_QUALIFYING: q->qpos = v; break;
	default: return -1;
	}
	return 0;
}

static int last_round_of(int season)
{
	int last = 0, any = 0;
	for (int i = 0; i < db.nraces; i++) {
		if (db.races[i].year != season)
			continue;
		any = db.races[i].round;
		if (db.races[i].has_results)
			last = db.races[i].round;
	}
	return last ? last : any;
}

/* Parses the segments after /ergast/f1/; returns 0, or an HTTP status on error. */
static int parse_path(struct query *q, char **seg, int n)
{
	int i = 0;
	memset(q, 0, sizeof *q);
	q->limit = 30;
	if (n > 0 && (all_digits(seg[0]) || strcmp(seg[0], "current") == 0)) {
		if (strcmp(seg[0], "current") == 0)
			q->season = db.nraces ? db.races[db.nraces - 1].year : 0;
		else
			q->season = atoi(seg[0]);
		i = 1;
		if (n > 1 && (all_digits(seg[1]) || strcmp(seg[1], "last") == 0 ||
			      strcmp(seg[1], "next") == 0)) {
			if (all_digits(seg[1])) {
				q->round = atoi(seg[1]);
			} else {
				int last = last_round_of(q->season);
				q->round = last;
				if (strcmp(seg[1], "next") == 0) {
					struct race *r = race_by_year_round(q->season, last);
					if (r && r->idx + 1 < db.nraces) {
						q->season = db.races[r->idx + 1].year;
						q->round = db.races[r->idx + 1].round;
					} else {
						q->round = 9999;
					}
				}
			}
			i = 2;
		}
	}
	int rest = n - i;
	if (rest == 0) {
		if (i == 0)
			return 404;
		q->ep = EP_RACES;
	} else if (rest % 2 == 1) {
		q->ep = endpoint_of(seg[n - 1]);
		if (q->ep == EP_NONE)
			return 404;
		rest--;
	} else {
		q->ep = endpoint_of(seg[n - 2]);
		if (q->ep == EP_NONE || set_filter(q, q->ep, seg[n - 1]) != 0)
			return 404;
		rest -= 2;
	}
	for (int k = 0; k < rest; k += 2) {
		const char *name = seg[i + k], *v = seg[i + k + 1];
		if (strcmp(name, "grid") == 0)
			q->grid = v;
		else if (strcmp(name, "fastest") == 0)
			q->fastest = v;
		else if (set_filter(q, endpoint_of(name), v) != 0)
			return 404;
	}
	snprintf(q->season_s, sizeof q->season_s, "%d", q->season);
	snprintf(q->round_s, sizeof q->round_s, "%d", q->round);
	return 0;
}

static int eq(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

static int race_match(const struct query *q, const struct race *r)
{
	return (!q->season || r->year == q->season) && (!q->round || r->round == q->round) &&
	       (!q->circuit || (r->circuit && eq(q->circuit, r->circuit->ref)));
}

static int has_result_filters(const struct query *q)
{
	return q->constructor || q->driver || q->grid || q->position || q->status || q->fastest;
}

static int result_match(const struct query *q, const struct result *x)
{
	return race_match(q, x->race) &&
	       (!q->driver || (x->driver && eq(q->driver, x->driver->ref))) &&
	       (!q->constructor || (x->cons && eq(q->constructor, x->cons->ref))) &&
	       eq(q->grid, x->grid) && eq(q->position, x->position) &&
	       eq(q->status, x->status_id) && eq(q->fastest, x->rank);
}

/* a list of matching items (pointers), later sliced by offset/limit */
struct list {
	const void **v;
	int n, cap;
	int *count; /* for status: counts per item */
};

static void list_add(struct list *l, const void *p)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xrealloc(l->v, sizeof(void *) * (size_t)l->cap);
	}
	l->v[l->n++] = p;
}

static int list_has(const struct list *l, const void *p)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i] == p)
			return 1;
	return 0;
}

/* races matching the query: through results when a result filter is present */
static void match_races(const struct query *q, struct list *out)
{
	if (!has_result_filters(q)) {
		for (int i = 0; i < db.nraces; i++)
			if (race_match(q, &db.races[i]))
				list_add(out, &db.races[i]);
		return;
	}
	const struct race *last = NULL;
	for (int i = 0; i < db.nresults; i++) {
		if (db.results[i].race != last && result_match(q, &db.results[i])) {
			last = db.results[i].race;
			list_add(out, last);
		}
	}
}

static int cmp_ref_ptr(const void *a, const void *b)
{
	/* every entity struct starts with its ref */
	const char *const *x = *(const char *const *const *)a;
	const char *const *y = *(const char *const *const *)b;
	return strcmp(*x ? *x : "", *y ? *y : "");
}

static int cmp_driver_ptr(const void *a, const void *b)
{
	const struct driver *x = *(const struct driver *const *)a;
	const struct driver *y = *(const struct driver *const *)b;
	return strcmp(x->sortkey, y->sortkey);
}

struct status_row {
	const char *id, *text;
	int count;
	char count_s[12];
};

static int cmp_status(const void *a, const void *b)
{
	const struct status_row *x = *(const struct status_row *const *)a;
	const struct status_row *y = *(const struct status_row *const *)b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->text ? x->text : "", y->text ? y->text : "");
}

static void table_attrs(struct buf *b, int *f, const struct query *q)
{
	if (q->season)
		js_kv(b, f, "season", q->season_s);
	if (q->round)
		js_kv(b, f, "round", q->round_s);
	js_kv(b, f, "circuitId", q->circuit);
	js_kv(b, f, "constructorId", q->constructor);
	js_kv(b, f, "driverId", q->driver);
	if (q->ep != EP_LAPS)
		js_kv(b, f, "lap", q->lap);
	js_kv(b, f, "stop", q->stop);
	js_kv(b, f, "grid", q->grid);
	js_kv(b, f, "position", q->position ? q->position : q->qpos);
	js_kv(b, f, "fastest", q->fastest);
	js_kv(b, f, "status", q->status);
}

static void js_result(struct buf *b, const struct result *x)
{
	int f = 1;
	buf_add(b, "{", 1);
	js_kv(b, &f, "number", x->number);
	js_kv(b, &f, "position", x->porder);
	js_kv(b, &f, "positionText", x->ptext);
	js_kv(b, &f, "points", x->points);
	if (x->driver) {
		js_key(b, &f, "Driver");
		js_driver(b, x->driver);
	}
	if (x->cons) {
		js_key(b, &f, "Constructor");
		js_constructor(b, x->cons);
	}
	js_kv(b, &f, "grid", x->grid);
	js_kv(b, &f, "laps", x->laps);
	js_kv(b, &f, "status", x->status);
	if (x->time || x->ms) {
		int g = 1;
		js_key(b, &f, "Time");
		buf_add(b, "{", 1);
		js_kv(b, &g, "millis", x->ms);
		js_kv(b, &g, "time", x->time);
		buf_add(b, "}", 1);
	}
	if (x->flap || x->fltime || x->rank || x->flspeed) {
		int g = 1;
		js_key(b, &f, "FastestLap");
		buf_add(b, "{", 1);
		js_kv(b, &g, "rank", x->rank);
		js_kv(b, &g, "lap", x->flap);
		if (x->fltime) {
			int h = 1;
			js_key(b, &g, "Time");
			buf_add(b, "{", 1);
			js_kv(b, &h, "time", x->fltime);
			buf_add(b, "}", 1);
		}
		if (x->flspeed) {
			int h = 1;
			js_key(b, &g, "AverageSpeed");
			buf_add(b, "{", 1);
			js_kv(b, &h, "units", "kph");
			js_kv(b, &h, "speed", x->flspeed);
			buf_add(b, "}", 1);
		}
		buf_add(b, "}", 1);
	}
	buf_add(b, "}", 1);
}

static void js_quali(struct buf *b, const struct quali *x)
{
	int f = 1;
	buf_add(b, "{", 1);
	js_kv(b, &f, "number", x->number);
	js_kv(b, &f, "position", x->position);
	if (x->driver) {
		js_key(b, &f, "Driver");
		js_driver(b, x->driver);
	}
	if (x->cons) {
		js_key(b, &f, "Constructor");
		js_constructor(b, x->cons);
	}
	js_kv(b, &f, "Q1", x->q1);
	js_kv(b, &f, "Q2", x->q2);
	js_kv(b, &f, "Q3", x->q3);
	buf_add(b, "}", 1);
}

static const struct race *item_race(enum endpoint ep, const void *p)
{
	switch (ep) {
	case EP_RESULTS: return ((const struct result *)p)->race;
	case EP_PITSTOPS: return ((const struct pit *)p)->race;
	case EP_LAPS: return ((const struct lap *)p)->race;
	case EP_QUALIFYING: return ((const struct quali *)p)->race;
	default: return NULL;
	}
}

/* Builds the JSON answer for a parsed query into b. */
static void answer(struct buf *b, struct query *q, const char *url)
{
	struct list l = {0};
	struct status_row *srows = NULL;
	int nsrows = 0;
	const char *table = "RaceTable", *list_name = "Races";

	switch (q->ep) {
	case EP_RACES: match_races(q, &l); break;
	case EP_SEASONS: {
		struct list races = {0};
		match_races(q, &races);
		table = "SeasonTable";
		list_name = "Seasons";
		int last = -1;
		for (int i = 0; i < races.n; i++) {
			const struct race *r = races.v[i];
			if (r->year == last)
				continue;
			last = r->year;
			const struct season *s = NULL;
			for (int k = 0; k < db.nseasons; k++)
				if (db.seasons[k].year == r->year)
					s = &db.seasons[k];
			if (s)
				list_add(&l, s);
		}
		free(races.v);
		break;
	}
	case EP_CIRCUITS:
		table = "CircuitTable";
		list_name = "Circuits";
		if (!q->season && !q->round && !has_result_filters(q)) {
			for (int i = 0; i < db.ncircuits; i++)
				if (eq(q->circuit, db.circuits[i].ref))
					list_add(&l, &db.circuits[i]);
		} else {
			struct list races = {0};
			match_races(q, &races);
			for (int i = 0; i < races.n; i++) {
				const struct race *r = races.v[i];
				if (r->circuit && !list_has(&l, r->circuit))
					list_add(&l, r->circuit);
			}
			free(races.v);
		}
		if (l.n > 1)
			qsort(l.v, (size_t)l.n, sizeof(void *), cmp_ref_ptr);
		break;
	case EP_DRIVERS:
	case EP_CONSTRUCTORS: {
		int drv = q->ep == EP_DRIVERS;
		table = drv ? "DriverTable" : "ConstructorTable";
		list_name = drv ? "Drivers" : "Constructors";
		int only_self = !q->season && !q->round && !q->circuit && !q->grid &&
				!q->position && !q->status && !q->fastest &&
				(drv ? !q->constructor : !q->driver);
		if (only_self) {
			if (drv) {
				for (int i = 0; i < db.ndrivers; i++)
					if (eq(q->driver, db.drivers[i].ref))
						list_add(&l, &db.drivers[i]);
			} else {
				for (int i = 0; i < db.ncons; i++)
					if (eq(q->constructor, db.cons[i].ref))
						list_add(&l, &db.cons[i]);
			}
		} else {
			for (int i = 0; i < db.nresults; i++) {
				const struct result *x = &db.results[i];
				const void *p =
				    drv ? (const void *)x->driver : (const void *)x->cons;
				if (p && result_match(q, x) && !list_has(&l, p))
					list_add(&l, p);
			}
		}
		if (l.n > 1)
			qsort(l.v, (size_t)l.n, sizeof(void *), drv ? cmp_driver_ptr : cmp_ref_ptr);
		break;
	}
	case EP_STATUS:
		table = "StatusTable";
		list_name = "Status";
		for (int i = 0; i < db.nresults; i++) {
			const struct result *x = &db.results[i];
			if (!result_match(q, x) || !x->status_id)
				continue;
			int k;
			for (k = 0; k < nsrows; k++)
				if (strcmp(srows[k].id, x->status_id) == 0)
					break;
			if (k == nsrows) {
				srows = xrealloc(srows, sizeof *srows * (size_t)(nsrows + 1));
				srows[nsrows++] =
				    (struct status_row){x->status_id, x->status, 0, ""};
			}
			srows[k].count++;
		}
		for (int k = 0; k < nsrows; k++) {
			snprintf(srows[k].count_s, sizeof srows[k].count_s, "%d", srows[k].count);
		}
		for (int k = 0; k < nsrows; k++)
			list_add(&l, &srows[k]);
		if (l.n > 1)
			qsort(l.v, (size_t)l.n, sizeof(void *), cmp_status);
		break;
	case EP_RESULTS:
		for (int i = 0; i < db.nresults; i++)
			if (result_match(q, &db.results[i]))
				list_add(&l, &db.results[i]);
		break;
	case EP_PITSTOPS:
		for (int i = 0; i < db.npits; i++) {
			const struct pit *x = &db.pits[i];
			if (race_match(q, x->race) &&
			    (!q->driver || (x->driver && eq(q->driver, x->driver->ref))) &&
			    eq(q->lap, x->lap) && eq(q->stop, x->stop))
				list_add(&l, x);
		}
		break;
	case EP_LAPS:
		for (int i = 0; i < db.nlaps; i++) {
			const struct lap *x = &db.laps[i];
			if (race_match(q, x->race) && eq(q->driver, x->driver) &&
			    (!q->lap || atoi(q->lap) == x->lap))
				list_add(&l, x);
		}
		break;
	case EP_QUALIFYING:
		for (int i = 0; i < db.nqualis; i++) {
			const struct quali *x = &db.qualis[i];
			if (race_match(q, x->race) &&
			    (!q->driver || (x->driver && eq(q->driver, x->driver->ref))) &&
			    (!q->constructor || (x->cons && eq(q->constructor, x->cons->ref))) &&
			    eq(q->qpos, x->position))
				list_add(&l, x);
		}
		break;
	default: break;
	}

	int total = l.n;
	int from = q->offset < total ? q->offset : total;
	int to = from + q->limit < total ? from + q->limit : total;
	int f = 1;
	buf_puts(b, "{\"MRData\":{");
	js_kv(b, &f, "xmlns", "http://ergast.com/mrd/1.5");
	js_kv(b, &f, "series", "f1");
	js_kv(b, &f, "url", url);
	buf_printf(b, ",\"limit\":\"%d\",\"offset\":\"%d\",\"total\":\"%d\",", q->limit, q->offset,
		   total);
	js_str(b, table);
	buf_puts(b, ":{");
	int tf = 1;
	table_attrs(b, &tf, q);
	js_key(b, &tf, list_name);
	buf_add(b, "[", 1);

	const struct race *open_race = NULL;
	int lap_open = -1, first_item = 1;
	for (int i = from; i < to; i++) {
		const void *p = l.v[i];
		switch (q->ep) {
		case EP_RACES:
			if (i > from)
				buf_add(b, ",", 1);
			js_race_open(b, p, 1);
			buf_add(b, "}", 1);
			break;
		case EP_SEASONS: {
			const struct season *s = p;
			int g = 1;
			char y[12];
			snprintf(y, sizeof y, "%d", s->year);
			buf_puts(b, i > from ? ",{" : "{");
			js_kv(b, &g, "season", y);
			js_kv(b, &g, "url", s->url);
			buf_add(b, "}", 1);
			break;
		}
		case EP_CIRCUITS:
			if (i > from)
				buf_add(b, ",", 1);
			js_circuit(b, p);
			break;
		case EP_DRIVERS:
			if (i > from)
				buf_add(b, ",", 1);
			js_driver(b, p);
			break;
		case EP_CONSTRUCTORS:
			if (i > from)
				buf_add(b, ",", 1);
			js_constructor(b, p);
			break;
		case EP_STATUS: {
			const struct status_row *s = p;
			int g = 1;
			buf_puts(b, i > from ? ",{" : "{");
			js_kv(b, &g, "statusId", s->id);
			js_kv(b, &g, "count", s->count_s);
			js_kv(b, &g, "status", s->text);
			buf_add(b, "}", 1);
			break;
		}
		case EP_RESULTS:
		case EP_PITSTOPS:
		case EP_LAPS:
		case EP_QUALIFYING: {
			const struct race *r = item_race(q->ep, p);
			if (r != open_race) {
				if (open_race)
					buf_puts(b, q->ep == EP_LAPS ? "]}]}," : "]},");
				js_race_open(b, r, 0);
				buf_puts(b, q->ep == EP_RESULTS	   ? ",\"Results\":["
					    : q->ep == EP_PITSTOPS ? ",\"PitStops\":["
					    : q->ep == EP_LAPS	   ? ",\"Laps\":["
								   : ",\"QualifyingResults\":[");
				open_race = r;
				lap_open = -1;
				first_item = 1;
			}
			if (q->ep == EP_RESULTS) {
				if (!first_item)
					buf_add(b, ",", 1);
				js_result(b, p);
			} else if (q->ep == EP_QUALIFYING) {
				if (!first_item)
					buf_add(b, ",", 1);
				js_quali(b, p);
			} else if (q->ep == EP_PITSTOPS) {
				const struct pit *x = p;
				int g = 1;
				buf_puts(b, first_item ? "{" : ",{");
				js_kv(b, &g, "driverId", x->driver ? x->driver->ref : NULL);
				js_kv(b, &g, "lap", x->lap);
				js_kv(b, &g, "stop", x->stop);
				js_kv(b, &g, "time", x->time);
				js_kv(b, &g, "duration", x->duration);
				buf_add(b, "}", 1);
			} else {
				const struct lap *x = p;
				int g = 1;
				if (x->lap != lap_open) {
					if (lap_open >= 0)
						buf_puts(b, "]},");
					buf_printf(b, "{\"number\":\"%d\",\"Timings\":[", x->lap);
					lap_open = x->lap;
				} else {
					buf_add(b, ",", 1);
				}
				buf_add(b, "{", 1);
				js_kv(b, &g, "driverId", x->driver);
				js_kv(b, &g, "position", x->pos_s);
				js_kv(b, &g, "time", x->time);
				buf_add(b, "}", 1);
			}
			first_item = 0;
			break;
		}
		default: break;
		}
	}
	if (open_race)
		buf_puts(b, q->ep == EP_LAPS ? "]}]}" : "]}");
	buf_puts(b, "]}}}");
	free(l.v);
	free(srows);
}

/* ---------------------------------------------------------------- HTTP */

static struct {
	int fail429, fail500, retry_after, slow_ms, max_limit;
	const char *fault_path, *truncate_path, *drop_path;
	FILE *log;
	struct timespec start;
} cfg = {.retry_after = 1, .max_limit = 100};

struct conn {
	int fd;
	struct buf in;
	struct buf out;
	size_t out_off;
	int64_t send_at; /* ms (monotonic), 0 = now */
	int close_after, drop_at;
	int active;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t start_ms;

static const char *reason(int st)
{
	switch (st) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	default: return "Error";
	}
}

static int query_param(const char *qs, const char *name, char *out, size_t outsz)
{
	size_t n = strlen(name);
	const char *p = qs;
	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcspn(v, "&");
			if (len >= outsz)
				len = outsz - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return 0;
}

static int parse_nonneg(const char *s, int *out)
{
	if (!all_digits(s) || strlen(s) > 9)
		return -1;
	*out = atoi(s);
	return 0;
}

static int request_count;

/* Handles one complete request (head in c->in, length hlen); appends the response. */
static void handle(struct conn *c, size_t hlen)
{
	char *head = xmalloc(hlen + 1);
	memcpy(head, c->in.p, hlen);
	head[hlen] = '\0';
	char method[16] = "", target[4096] = "", version[16] = "";
	sscanf(head, "%15s %4095s %15s", method, target, version);
	int keep = strcmp(version, "HTTP/1.0") != 0;
	char host[256] = "127.0.0.1";
	for (char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
		char *l = line + 2;
		if (strncasecmp(l, "Connection:", 11) == 0) {
			char *v = l + 11;
			while (*v == ' ')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				keep = 0;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				keep = 1;
		} else if (strncasecmp(l, "Host:", 5) == 0) {
			char *v = l + 5;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\r\n");
			if (len < sizeof host) {
				memcpy(host, v, len);
				host[len] = '\0';
			}
		}
	}
	free(head);

	struct buf body = {0};
	int status = 200, retry_after = 0, truncate = 0, drop = 0, slow = cfg.slow_ms;
	char qs[1024] = "", path[4096];
	const char *qm = strchr(target, '?');
	if (qm) {
		snprintf(qs, sizeof qs, "%s", qm + 1);
		snprintf(path, sizeof path, "%.*s", (int)(qm - target), target);
	} else {
		snprintf(path, sizeof path, "%s", target);
	}
	request_count++;
	int fault_applies = !cfg.fault_path || strstr(target, cfg.fault_path);
	char v[64];
	if (query_param(qs, "slow", v, sizeof v))
		slow = atoi(v);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
	} else if (query_param(qs, "fail", v, sizeof v) && atoi(v) >= 400) {
		status = atoi(v);
		if (status == 429)
			retry_after = cfg.retry_after;
	} else if (fault_applies && cfg.fail429 > 0) {
		cfg.fail429--;
		status = 429;
		retry_after = cfg.retry_after;
	} else if (fault_applies && cfg.fail500 > 0) {
		cfg.fail500--;
		status = 500;
	}
	if (status == 200) {
		const char *prefix = "/ergast/f1/";
		if (strncmp(path, prefix, strlen(prefix)) != 0) {
			status = 404;
		} else {
			char *p = path + strlen(prefix);
			size_t plen = strlen(p);
			if (plen > 5 && strcmp(p + plen - 5, ".json") == 0)
				p[plen - 5] = '\0';
			while (*p && p[strlen(p) - 1] == '/')
				p[strlen(p) - 1] = '\0';
			char *segs[32];
			int n = 0;
			char *save = NULL;
			for (char *t = strtok_r(p, "/", &save); t && n < 32;
			     t = strtok_r(NULL, "/", &save))
				segs[n++] = t;
			struct query q;
			status = parse_path(&q, segs, n);
			if (status == 0) {
				status = 200;
				if (query_param(qs, "limit", v, sizeof v) &&
				    parse_nonneg(v, &q.limit) != 0)
					status = 400;
				if (query_param(qs, "offset", v, sizeof v) &&
				    parse_nonneg(v, &q.offset) != 0)
					status = 400;
				if (q.limit > cfg.max_limit)
					q.limit = cfg.max_limit;
			}
			if (status == 200) {
				struct buf url = {0};
				buf_printf(&url, "http://%s%.*s", host,
					   (int)(qm ? qm - target : (long)strlen(target)), target);
				answer(&body, &q, url.p);
				free(url.p);
			}
		}
	}
	if (status != 200) {
		if (status == 429)
			buf_printf(&body,
				   "{\"detail\":\"Request was throttled. Expected available in %d "
				   "second%s.\"}",
				   retry_after, retry_after == 1 ? "" : "s");
		else
			buf_printf(&body, "{\"detail\":\"%s\"}", reason(status));
	}
	if (status == 200 && ((cfg.truncate_path && strstr(target, cfg.truncate_path)) ||
			      (query_param(qs, "truncate", v, sizeof v) && atoi(v))))
		truncate = 1;
	if (status == 200 && ((cfg.drop_path && strstr(target, cfg.drop_path)) ||
			      (query_param(qs, "drop", v, sizeof v) && atoi(v))))
		drop = 1;
	size_t blen = body.len;
	if (truncate)
		blen = body.len / 2; /* a complete HTTP answer whose JSON stops mid-way */
	buf_printf(&c->out,
		   "HTTP/1.1 %d %s\r\nServer: jolpica_server\r\nContent-Type: application/json\r\n"
		   "Content-Length: %zu\r\nConnection: %s\r\n",
		   status, reason(status), blen, keep ? "keep-alive" : "close");
	if (retry_after)
		buf_printf(&c->out, "Retry-After: %d\r\n", retry_after);
	buf_puts(&c->out, "\r\n");
	size_t head_len = c->out.len;
	if (strcmp(method, "HEAD") != 0)
		buf_add(&c->out, body.p ? body.p : "", blen);
	if (drop) {
		/* announce the full length, send half, then close: a network error */
		c->drop_at = (int)(head_len + blen / 2);
		keep = 0;
	}
	if (!keep)
		c->close_after = 1;
	if (slow > 0)
		c->send_at = now_ms() + slow;
	if (cfg.log) {
		fprintf(cfg.log, "%lld %d %zu %s %s\n", (long long)(now_ms() - start_ms), status,
			blen, method, target);
		fflush(cfg.log);
	}
	free(body.p);
}

/* Looks for a complete request head in c->in; handles it and drops it from the buffer. */
static int try_request(struct conn *c)
{
	if (!c->in.p)
		return 0;
	char *end = strstr(c->in.p, "\r\n\r\n");
	if (!end)
		return 0;
	size_t hlen = (size_t)(end - c->in.p) + 4;
	size_t clen = 0;
	char *cl = strcasestr(c->in.p, "\r\nContent-Length:");
	if (cl && cl < end)
		clen = (size_t)strtoul(cl + 17, NULL, 10);
	if (c->in.len < hlen + clen)
		return 0;
	handle(c, hlen);
	memmove(c->in.p, c->in.p + hlen + clen, c->in.len - hlen - clen);
	c->in.len -= hlen + clen;
	c->in.p[c->in.len] = '\0';
	return 1;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fputs("usage: jolpica_server [--data DIR] [--port N] [--port-file FILE] [--log FILE]\n"
	      "         [--fail-429 N] [--retry-after S] [--fail-500 N] [--fault-path SUBSTR]\n"
	      "         [--slow-ms N] [--truncate-path SUBSTR] [--drop-path SUBSTR]\n"
	      "         [--max-limit N] [--exit-after S]\n"
	      "Serves DIR (an Ergast CSV dump; default $PW_SHARED_DIR/data/f1 or\n"
	      "../shared/data/f1) as the Jolpica API on 127.0.0.1 under /ergast/f1/.\n"
	      "Prints the port on stdout.  Faults: the first N requests (matching\n"
	      "--fault-path if given) get 429 (with Retry-After) then the next N get 500;\n"
	      "--truncate-path cuts matching bodies in half (valid HTTP, bad JSON);\n"
	      "--drop-path closes the connection mid-body; per request: ?fail=CODE,\n"
	      "?slow=MS, ?truncate=1, ?drop=1.\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *data = NULL, *port_file = NULL, *log_path = NULL;
	int port = 0, exit_after = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && (val || (die("%s needs a value", name), 0)) && ++i)
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (OPT("--data")) {
			data = val;
		} else if (OPT("--port")) {
			port = atoi(val);
		} else if (OPT("--port-file")) {
			port_file = val;
		} else if (OPT("--log")) {
			log_path = val;
		} else if (OPT("--fail-429")) {
			cfg.fail429 = atoi(val);
		} else if (OPT("--retry-after")) {
			cfg.retry_after = atoi(val);
		} else if (OPT("--fail-500")) {
			cfg.fail500 = atoi(val);
		} else if (OPT("--fault-path")) {
			cfg.fault_path = val;
		} else if (OPT("--slow-ms")) {
			cfg.slow_ms = atoi(val);
		} else if (OPT("--truncate-path")) {
			cfg.truncate_path = val;
		} else if (OPT("--drop-path")) {
			cfg.drop_path = val;
		} else if (OPT("--max-limit")) {
			cfg.max_limit = atoi(val);
		} else if (OPT("--exit-after")) {
			exit_after = atoi(val);
		} else {
			usage(stderr);
			return 64;
		}
#undef OPT
	}
	struct buf defdata = {0};
	if (!data) {
		const char *sh = getenv("PW_SHARED_DIR");
		buf_printf(&defdata, "%s/data/f1", sh ? sh : "../shared");
		data = defdata.p;
	}
	start_ms = now_ms();
	load(data);
	if (log_path) {
		cfg.log = fopen(log_path, "a");
		if (!cfg.log)
			die("cannot open %s: %s", log_path, strerror(errno));
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {0};
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0)
		die("bind 127.0.0.1:%d: %s", port, strerror(errno));
	if (listen(ls, 64) != 0)
		die("listen: %s", strerror(errno));
	socklen_t alen = sizeof addr;
	getsockname(ls, (struct sockaddr *)&addr, &alen);
	port = ntohs(addr.sin_port);
	printf("%d\n", port);
	fflush(stdout);
	fprintf(stderr,
		"jolpica_server: %d races, %d results, %d pit stops, %d lap timings; listening on "
		"http://127.0.0.1:%d/ergast/f1/\n",
		db.nraces, db.nresults, db.npits, db.nlaps, port);
	if (port_file) {
		struct buf tmp = {0};
		buf_printf(&tmp, "%s.tmp", port_file);
		FILE *pf = fopen(tmp.p, "w");
		if (!pf || fprintf(pf, "%d\n", port) < 0 || fclose(pf) != 0 ||
		    rename(tmp.p, port_file) != 0)
			die("cannot write %s: %s", port_file, strerror(errno));
		free(tmp.p);
	}

	enum { MAXC = 64 };
	struct conn conns[MAXC];
	memset(conns, 0, sizeof conns);
	while (!stop_flag) {
		struct pollfd pfd[MAXC + 1];
		int idx[MAXC + 1], n = 0;
		int64_t now = now_ms(), timeout = 1000;
		if (exit_after > 0 && now - start_ms >= (int64_t)exit_after * 1000)
			break;
		pfd[n] = (struct pollfd){.fd = ls, .events = POLLIN};
		idx[n++] = -1;
		for (int i = 0; i < MAXC; i++) {
			struct conn *c = &conns[i];
			if (!c->active)
				continue;
			short ev = 0;
			if (c->out.len > c->out_off) {
				if (c->send_at > now) {
					if (c->send_at - now < timeout)
						timeout = c->send_at - now;
				} else {
					ev = POLLOUT;
				}
			} else {
				ev = POLLIN;
			}
			pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
			idx[n++] = i;
		}
		int r = poll(pfd, (nfds_t)n, (int)timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			if (idx[k] < 0) {
				if (!(pfd[k].revents & POLLIN))
					continue;
				for (;;) {
					int fd =
					    accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					int slot = -1;
					for (int i = 0; i < MAXC; i++)
						if (!conns[i].active) {
							slot = i;
							break;
						}
					if (slot < 0) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					conns[slot] = (struct conn){.fd = fd, .active = 1};
				}
				continue;
			}
			struct conn *c = &conns[idx[k]];
			int closeit = 0;
			if (pfd[k].revents & (POLLERR | POLLNVAL))
				closeit = 1;
			if (!closeit && (pfd[k].revents & (POLLIN | POLLHUP)) &&
			    pfd[k].events == POLLIN) {
				char tmp[16384];
				ssize_t got = read(c->fd, tmp, sizeof tmp);
				if (got <= 0) {
					if (!(got < 0 && (errno == EAGAIN || errno == EINTR)))
						closeit = 1;
				} else {
					buf_add(&c->in, tmp, (size_t)got);
					if (c->in.len > (1 << 20))
						closeit = 1;
					else
						try_request(c);
				}
			}
			if (!closeit && (pfd[k].revents & POLLOUT)) {
				size_t limit = c->out.len;
				if (c->drop_at > 0 && (size_t)c->drop_at < limit)
					limit = (size_t)c->drop_at;
				ssize_t w = limit > c->out_off ? write(c->fd, c->out.p + c->out_off,
								       limit - c->out_off)
							       : 0;
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					closeit = 1;
				else if (w > 0)
					c->out_off += (size_t)w;
				if (!closeit && c->out_off >= limit) {
					if (c->drop_at > 0 || c->close_after) {
						closeit = 1;
					} else {
						c->out.len = c->out_off = 0;
						c->send_at = 0;
						try_request(c);
					}
				}
			}
			if (closeit) {
				close(c->fd);
				free(c->in.p);
				free(c->out.p);
				memset(c, 0, sizeof *c);
			}
		}
	}
	close(ls);
	for (int i = 0; i < MAXC; i++)
		if (conns[i].active)
			close(conns[i].fd);
	if (cfg.log)
		fclose(cfg.log);
	fprintf(stderr, "jolpica_server: %d requests served\n", request_count);
	return 0;
}
