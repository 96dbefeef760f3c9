/*
 * f1-split: the spec's temporal split of features/lap_features.csv by race
 * date. One split per run (the DAG runs train, validation and test as three
 * parallel tasks); each writes splits/<split>.csv with the input's header and
 * the rows of its date range, in input order. A race belongs to exactly one
 * split or, when the configured ranges leave a gap, to none (counted and
 * reported), so no row can leak between splits.
 */
#include "pwt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: f1-split --split train|validation|test|all [OPTIONS]\n"
	       "\n"
	       "Temporal split of the lap features by race date: train <= train end,\n"
	       "validation within [val start, val end], test >= test start.\n"
	       "\n"
	       "Options:\n"
	       "  --split NAME         train, validation, test, or all three\n"
	       "  --in FILE            features (default: features/lap_features.csv)\n"
	       "  --out-dir DIR        where NAME.csv goes (default: splits)\n" PWT_BOUNDS_HELP
	       "  -q, --quiet          no progress messages\n"
	       "  -h, --help           this help\n"
	       "\n"
	       "Exit status: 0 ok; 64 bad options or overlapping ranges; 65 malformed\n"
	       "input (FILE:LINE in the message); 66 input missing; 73/74 output errors.\n");
}

int main(int argc, char **argv)
{
	const char *in = "features/lap_features.csv", *out_dir = "splits", *which = NULL;
	pwt_bounds b = PWT_BOUNDS_DEFAULT;
	static const struct option opts[] = {
	    {"split", required_argument, NULL, 's'},
	    {"in", required_argument, NULL, 'i'},
	    {"out-dir", required_argument, NULL, 'o'},
	    {"train-end", required_argument, NULL, 'B'},
	    {"val-start", required_argument, NULL, 'B'},
	    {"val-end", required_argument, NULL, 'B'},
	    {"test-start", required_argument, NULL, 'B'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"train", "validation", "test"};
	pwt_table t = PWT_TABLE_INIT;
	pwt_err err = PWT_ERR_INIT;
	int c, li, want[3] = {0, 0, 0};

	pwt_init(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, &li)) != -1) {
		switch (c) {
		case 's': which = optarg; break;
		case 'i': in = optarg; break;
		case 'o': out_dir = optarg; break;
		case 'B': pwt_bounds_option(&b, opts[li].name, optarg); break;
		case 'q': pwt_set_quiet(1); break;
		case 'h': usage(); return 0;
		default: pwt_usage_error("unknown option");
		}
	}
	if (optind < argc)
		pwt_usage_error("unexpected argument '%s'", argv[optind]);
	if (!which)
		pwt_usage_error("--split is required");
	for (int i = 0; i < 3; i++)
		want[i] = strcmp(which, "all") == 0 || strcmp(which, names[i]) == 0;
	if (!want[0] && !want[1] && !want[2])
		pwt_usage_error("--split: expected train, validation, test or all, got '%s'",
				which);
	if (pwt_bounds_check(&b, &err) < 0)
		pwt_usage_error("%s", err.msg);

	if (pwt_csv_load(&t, in, 0, &err) < 0)
		pwt_die_err(&err);
	pwt_progress("read %s: %zu rows", in, t.nrows);
	int cd = pwt_col(&t, "race_date");
	if (cd < 0) {
		pwt_err_set(&err, PWT_EX_DATAERR, "%s:1: missing column 'race_date' in the header",
			    in);
		pwt_die_err(&err);
	}

	pwt_csvw w[3];
	for (int i = 0; i < 3; i++) {
		if (!want[i])
			continue;
		char *name = pwt_xasprintf("%s.csv", names[i]);
		char *path = pwt_path_join(out_dir, name);
		if (pwt_csvw_open(&w[i], path, (const char *const *)t.header, t.ncols, &err) < 0)
			pwt_die_err(&err);
		free(name);
		free(path);
	}
	size_t counts[3] = {0, 0, 0}, between = 0;
	for (size_t r = 0; r < t.nrows; r++) {
		long date;
		int rc = pwt_cell_date(&t, r, cd, &date, &err);
		if (rc < 0)
			pwt_die_err(&err);
		if (rc == 0) {
			pwt_err_set(&err, PWT_EX_DATAERR,
				    "%s:%u: column 'race_date' is missing (\\N)", in, t.lines[r]);
			pwt_die_err(&err);
		}
		const char *s = pwt_bounds_split(&b, date);
		int i = !s ? -1 : s[0] == 't' && s[1] == 'r' ? 0 : s[0] == 'v' ? 1 : 2;
		if (i < 0) {
			between++;
			continue;
		}
		counts[i]++;
		if (!want[i])
			continue;
		for (size_t k = 0; k < t.ncols; k++)
			pwt_csvw_str(&w[i], pwt_cell(&t, r, (int)k));
		pwt_csvw_end_row(&w[i]);
	}
	for (int i = 0; i < 3; i++) {
		if (!want[i])
			continue;
		if (pwt_csvw_commit(&w[i], &err) < 0)
			pwt_die_err(&err);
		pwt_progress("wrote %s/%s.csv: %zu rows", out_dir, names[i], counts[i]);
		if (counts[i] == 0)
			pwt_warn("split '%s' is empty: no race date in its range", names[i]);
	}
	if (between)
		pwt_warn("%zu rows fall between the configured ranges and are in no split",
			 between);
	pwt_table_release(&t);
	return 0;
}
