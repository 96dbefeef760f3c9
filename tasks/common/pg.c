/*
 * Loading the spec's PostgreSQL tables (--pg CONNINFO): the schema, COPY of a
 * CSV table, and the split views. The spec sizes driver_id VARCHAR(8) for a
 * three-letter code, but codes are not unique over F1's history (Michael and
 * Mick Schumacher are both MSC) and the pipeline keys drivers by driverRef,
 * so driver_id is VARCHAR(64) here; everything else is the spec's schema,
 * with lap_features' extra feature columns appended.
 */
#include "pwt.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS lap_features (\n"
    "    race_id         SERIAL PRIMARY KEY,\n"
    "    year            INTEGER NOT NULL,\n"
    "    round           INTEGER NOT NULL,\n"
    "    circuit_id      VARCHAR(64),\n"
    "    race_date       DATE,\n"
    "    driver_id       VARCHAR(64),\n"
    "    lap_number      INTEGER,\n"
    "    lap_time_ms     BIGINT,\n"
    "    tire_compound   VARCHAR(16),\n"
    "    tire_age        INTEGER,\n"
    "    pit_stop        BOOLEAN DEFAULT FALSE,\n"
    "    fuel_remaining  FLOAT,\n"
    "    position        INTEGER,\n"
    "    ingestion_timestamp TIMESTAMPTZ DEFAULT NOW(),\n"
    "    stint           INTEGER,\n"
    "    gap_to_leader   FLOAT,\n"
    "    laps_remaining  INTEGER\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS lap_features_race_date_idx ON lap_features (race_date);\n"
    "CREATE INDEX IF NOT EXISTS lap_features_driver_id_idx ON lap_features (driver_id);\n"
    "CREATE TABLE IF NOT EXISTS driver_profiles (\n"
    "    driver_id       VARCHAR(64) PRIMARY KEY,\n"
    "    name            VARCHAR(128),\n"
    "    aggression      FLOAT,\n"
    "    consistency     FLOAT,\n"
    "    pressure_response FLOAT,\n"
    "    tire_management FLOAT,\n"
    "    career_races    INTEGER,\n"
    "    data_quality    FLOAT,\n"
    "    updated_at      TIMESTAMPTZ DEFAULT NOW()\n"
    ");\n";

static PGconn *connect_db(const char *conninfo, pwt_err *err)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK) {
		char *msg = PQerrorMessage(c);
		size_t n = strlen(msg);
		while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		pwt_err_set(err, PWT_EX_TEMPFAIL, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetErrorVerbosity(c, PQERRORS_TERSE);
	return c;
}

static int exec(PGconn *c, const char *sql, pwt_err *err)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		pwt_err_set(err, PWT_EX_IOERR, "PostgreSQL: %s", PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

int pwt_pg_schema(const char *conninfo, pwt_err *err)
{
	PGconn *c = connect_db(conninfo, err);
	int rc;

	if (!c)
		return -1;
	rc = exec(c, schema_sql, err);
	PQfinish(c);
	return rc;
}

/* Streams the named columns of src into table through COPY. */
static int copy_table(PGconn *c, const char *table, const char *const *cols, size_t n,
		      const pwt_table *src, pwt_err *err)
{
	int *idx = pwt_xmalloc(n * sizeof(int));
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	int rc = -1;

	if (pwt_cols(src, cols, idx, n, err) < 0)
		goto out;
	mem = open_memstream(&buf, &len);
	fprintf(mem, "COPY %s (", table);
	for (size_t i = 0; i < n; i++)
		fprintf(mem, "%s%s", i ? ", " : "", cols[i]);
	fprintf(mem, ") FROM STDIN WITH (FORMAT csv, NULL '\\N')");
	fclose(mem);
	PGresult *r = PQexec(c, buf);
	free(buf);
	buf = NULL;
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		pwt_err_set(err, PWT_EX_IOERR, "PostgreSQL: %s", PQerrorMessage(c));
		PQclear(r);
		goto out;
	}
	PQclear(r);
	/* One chunk per few thousand rows keeps memory flat. */
	for (size_t row = 0; row < src->nrows;) {
		mem = open_memstream(&buf, &len);
		for (size_t k = 0; k < 4096 && row < src->nrows; k++, row++) {
			for (size_t i = 0; i < n; i++) {
				if (i)
					fputc(',', mem);
				pwt_csv_put_field(mem, pwt_cell(src, row, idx[i]));
			}
			fputc('\n', mem);
		}
		fclose(mem);
		if (PQputCopyData(c, buf, (int)len) != 1) {
			pwt_err_set(err, PWT_EX_IOERR, "PostgreSQL COPY: %s", PQerrorMessage(c));
			free(buf);
			goto out;
		}
		free(buf);
		buf = NULL;
	}
	if (PQputCopyEnd(c, NULL) != 1) {
		pwt_err_set(err, PWT_EX_IOERR, "PostgreSQL COPY: %s", PQerrorMessage(c));
		goto out;
	}
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pwt_err_set(err, PWT_EX_IOERR, "PostgreSQL COPY into %s: %s", table,
			    PQerrorMessage(c));
		PQclear(r);
		goto out;
	}
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	rc = 0;
out:
	free(idx);
	return rc;
}

/* Replaces the contents of table with src in one transaction, then runs
 * after_sql (views) in the same transaction. */
int pwt_pg_load(const char *conninfo, const char *table, const char *const *cols, size_t n,
		const pwt_table *src, const char *after_sql, pwt_err *err)
{
	PGconn *c = connect_db(conninfo, err);
	char *trunc;
	int rc = -1;

	if (!c)
		return -1;
	trunc = pwt_xasprintf("TRUNCATE %s RESTART IDENTITY", table);
	if (exec(c, schema_sql, err) < 0 || exec(c, "BEGIN", err) < 0 || exec(c, trunc, err) < 0 ||
	    copy_table(c, table, cols, n, src, err) < 0 ||
	    (after_sql && exec(c, after_sql, err) < 0) || exec(c, "COMMIT", err) < 0)
		goto out;
	rc = 0;
out:
	free(trunc);
	PQfinish(c);
	return rc;
}
