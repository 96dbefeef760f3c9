/*
 * pitwall replay: run the recorded DAG text again, in a fresh workspace,
 * with the same logical date and seed, and compare every recorded output
 * bit for bit.  The verdict is printed, recorded as a replay_verdict event,
 * and is the exit code: 0 only when every output is identical.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pitwall/cost.h"
#include "exec/events.h"
#include "pitwall/bundle.h"
#include "pitwall/recorder.h"
#include "pitwall/run.h"
#include "pitwall/sha256.h"
#include "pitwall/views.h"

typedef struct {
	pw_audit_row *v;
	size_t n, cap;
} rows_t;

static int keep_row(const pw_audit_row *r, void *payload)
{
	rows_t *rs = payload;
	PW_GROW(rs->v, rs->cap, rs->n + 1);
	pw_audit_row_copy(&rs->v[rs->n++], r);
	return 0;
}

/* task -> outputs of its last lineage, and task -> executable digest. */
static void recorded_maps(const pw_audit_row *rows, size_t n, const char *run_id, json_t *outs,
			  json_t *exes)
{
	for (size_t i = 0; i < n; i++) {
		const pw_audit_row *r = &rows[i];
		if (!r->task_id || (run_id && strcmp(r->dag_run_id, run_id) != 0))
			continue;
		if (strcmp(r->event_type, "lineage") == 0) {
			json_error_t je;
			json_t *m = json_loads(r->metadata, 0, &je);
			json_object_set(outs, r->task_id, json_object_get(m, "outputs"));
			json_decref(m);
		} else if (strcmp(r->event_type, "task_start") == 0 && r->container_image_digest) {
			json_object_set_new(exes, r->task_id,
					    json_string(r->container_image_digest));
		}
	}
}

static bool looks_text(const char *s, size_t n)
{
	return memchr(s, '\0', n < 8192 ? n : 8192) == NULL;
}

/* "line 12: 'a,b,1.5' vs 'a,b,1.6'" */
static char *first_difference(const char *a, size_t na, const char *b, size_t nb)
{
	size_t line = 1, i = 0, start = 0;
	while (i < na && i < nb && a[i] == b[i]) {
		if (a[i] == '\n') {
			line++;
			start = i + 1;
		}
		i++;
	}
	size_t ea = start, eb = start;
	while (ea < na && a[ea] != '\n')
		ea++;
	while (eb < nb && b[eb] != '\n')
		eb++;
	int la = (int)(ea - start > 80 ? 80 : ea - start);
	int lb = (int)(eb - start > 80 ? 80 : eb - start);
	return pw_xasprintf("line %zu: recorded '%.*s' vs now '%.*s'", line, la, a + start, lb,
			    b + start);
}

int pw_cmd_replay(int argc, char **argv)
{
	const char *run_id = NULL, *bundle = NULL, *store_url = NULL, *v;
	bool reuse_sources = false;
	pw_run_opts o = PW_RUN_OPTS_INIT;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, NULL, "--bundle", &v)) {
			if (!v)
				return pw_cli_usage_error("replay", "--bundle needs a file");
			bundle = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v)
				return pw_cli_usage_error("replay", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--workspace", &v)) {
			if (!v)
				return pw_cli_usage_error("replay",
							  "--workspace needs a directory");
			o.workspace = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--run-id", &v)) {
			if (!v || strchr(v, '/'))
				return pw_cli_usage_error("replay",
							  "--run-id needs a name without '/'");
			o.run_id = v;
		} else if (pw_cli_opt(argc, argv, &i, "-j", "--jobs", &v)) {
			o.max_active = v ? atoi(v) : 0;
			if (o.max_active < 1)
				return pw_cli_usage_error("replay", "-j needs a positive number");
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--log-format", &v)) {
			if (v && strcmp(v, "json") == 0)
				o.log_format = PW_LOG_JSON;
			else if (v && strcmp(v, "text") == 0)
				o.log_format = PW_LOG_TEXT;
			else
				return pw_cli_usage_error("replay",
							  "--log-format takes json or text");
		} else if (pw_cli_flag(argv, i, "-q", "--quiet")) {
			o.log_format = PW_LOG_NONE;
		} else if (pw_cli_flag(argv, i, NULL, "--reuse-sources")) {
			reuse_sources = true;
		} else if (argv[i][0] == '-') {
			return pw_cli_usage_error("replay", "unknown option '%s'", argv[i]);
		} else if (run_id) {
			return pw_cli_usage_error("replay", "only one RUN_ID");
		} else {
			run_id = argv[i];
		}
	}
	if (!run_id == !bundle)
		return pw_cli_usage_error("replay", "give a RUN_ID or --bundle FILE (one of them)");

	int rc = PW_EXIT_OK;
	pw_strbuf err = PW_STRBUF_INIT;
	pw_audit_store *s = pw_cli_open_store("replay", store_url);
	if (!s)
		return PW_EXIT_SOFTWARE;
	rows_t rows = {0};
	pw_bundle b;
	memset(&b, 0, sizeof(b));
	char tmpl[] = "/tmp/pitwall-replay-XXXXXX";
	bool have_tmp = false;
	pw_run_view rv;
	memset(&rv, 0, sizeof(rv));
	pw_dag *dag = NULL;
	json_t *rec_outs = json_object(), *rec_exes = json_object();
	json_t *new_outs = json_object(), *new_exes = json_object();
	pw_task_state *preset = NULL;
	char *new_run_id = NULL;
	pw_run_result res;
	memset(&res, 0, sizeof(res));
	bool ran = false;

	if (bundle) {
		if (!mkdtemp(tmpl)) {
			perror("pitwall replay: mkdtemp");
			rc = PW_EXIT_CANTCREAT;
			goto out;
		}
		have_tmp = true;
		if (pw_bundle_extract(bundle, tmpl, &err) != 0 ||
		    pw_bundle_load(&b, tmpl, &err) != 0) {
			fprintf(stderr, "pitwall replay: %s is not a valid bundle:\n%s", bundle,
				err.buf);
			rc = PW_EXIT_FAILED;
			goto out;
		}
		for (size_t i = 0; i < b.nrows; i++)
			pw_run_view_fold(&rv, &b.rows[i]);
		recorded_maps(b.rows, b.nrows, NULL, rec_outs, rec_exes);
	} else {
		pw_audit_filter f = {.dag_run_id = run_id};
		if (pw_audit_query(s, &f, keep_row, &rows, &err) != 0) {
			fprintf(stderr, "pitwall replay: %s\n", err.buf);
			rc = PW_EXIT_SOFTWARE;
			goto out;
		}
		for (size_t i = 0; i < rows.n; i++)
			pw_run_view_fold(&rv, &rows.v[i]);
		recorded_maps(rows.v, rows.n, NULL, rec_outs, rec_exes);
	}
	if (!rv.run_id || !rv.dag_text) {
		fprintf(stderr, "pitwall replay: no recorded run%s%s with its DAG text\n",
			run_id ? " " : "", run_id ? run_id : "");
		rc = PW_EXIT_FAILED;
		goto out;
	}
	if (!(dag = pw_run_view_recorded_dag(&rv))) {
		rc = PW_EXIT_INVALID;
		goto out;
	}

	if (o.run_id && pw_audit_run_exists(s, o.run_id)) {
		fprintf(stderr, "pitwall replay: run id '%s' is already recorded in %s\n", o.run_id,
			s->display);
		rc = PW_EXIT_USAGE;
		goto out;
	}
	if (!o.run_id) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		char *base = pw_xasprintf("%s_replay_%04d%02d%02d_%02d%02d%02d", rv.dag_id,
					  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
					  tm.tm_min, tm.tm_sec);
		/* New, in the store and on disk: two replays in one second get _2. */
		for (int k = 1;; k++) {
			free(new_run_id);
			new_run_id = k == 1 ? pw_xstrdup(base) : pw_xasprintf("%s_%d", base, k);
			char *dir = pw_xasprintf("runs/%s/%s", dag->dag_id, new_run_id);
			bool taken = pw_audit_run_exists(s, new_run_id) || access(dir, F_OK) == 0;
			free(dir);
			if (!taken)
				break;
		}
		free(base);
		o.run_id = new_run_id;
	}
	if (rv.logical_date && pw_parse_iso8601(rv.logical_date, &o.logical_date_s) == 0)
		o.logical_date_set = true;
	o.seed = rv.seed;
	o.seed_set = true;
	char *extra = pw_xasprintf("{\"replay_of\":\"%s\",\"reuse_sources\":%s}", rv.run_id,
				   reuse_sources ? "true" : "false");
	o.run_start_extra = extra;
	o.month_spend = pw_cost_month_spend_cb;
	o.month_spend_payload = s;

	/* Workspace first, so restored sources land in it before anything runs. */
	char *ws = o.workspace ? pw_xstrdup(o.workspace)
			       : pw_xasprintf("runs/%s/%s", dag->dag_id, o.run_id);
	preset = pw_xcalloc(dag->ntasks, sizeof(*preset));
	int restored = 0;
	if (reuse_sources) {
		for (size_t i = 0; i < dag->ntasks; i++) {
			const pw_task *t = &dag->tasks[i];
			if (!t->source)
				continue;
			json_t *outs = json_object_get(rec_outs, t->task_id);
			if (!json_array_size(outs)) {
				fprintf(stderr,
					"pitwall replay: source task %s has no recorded outputs to "
					"restore; it runs again\n",
					t->task_id);
				continue;
			}
			size_t k;
			json_t *f;
			bool ok = true;
			json_array_foreach(outs, k, f)
			{
				const char *p = json_string_value(json_object_get(f, "path"));
				const char *h = json_string_value(json_object_get(f, "sha256"));
				/* Recorded paths stay inside the workspace, whatever a bundle says.
				 */
				if (!p || !h || p[0] == '/' || strstr(p, "..")) {
					fprintf(
					    stderr,
					    "pitwall replay: refusing recorded output path '%s' of "
					    "task %s\n",
					    p ? p : "(none)", t->task_id);
					ok = false;
					continue;
				}
				char *from = bundle ? pw_xasprintf("%s/artifacts/%s", tmpl, p)
						    : pw_xasprintf("%s/%s", rv.workspace, p);
				char *to = pw_xasprintf("%s/%s", ws, p);
				char hex[65];
				if (pw_sha256_file(from, hex, NULL) != 0 || strcmp(hex, h) != 0 ||
				    pw_copy_file(from, to) != 0) {
					fprintf(stderr,
						"pitwall replay: cannot restore %s of source task "
						"%s from "
						"%s (missing or changed)\n",
						p, t->task_id, from);
					ok = false;
				}
				free(from);
				free(to);
			}
			if (!ok) {
				rc = PW_EXIT_FAILED;
				free(ws);
				free(extra);
				goto out;
			}
			preset[i] = PW_TS_SUCCESS;
			restored++;
		}
	}
	o.preset = restored ? preset : NULL;
	if (!o.workspace)
		o.workspace = ws;

	pw_recorder rec;
	pw_recorder_init(&rec, s, dag, o.actor);
	pw_log_observer lo;
	pw_log_observer_init(&lo, o.log_format, stderr);
	pw_run_observer obs[] = {
	    {pw_log_observer_event, &lo, NULL, NULL},
	    {pw_recorder_event, &rec, pw_recorder_flush_due, pw_recorder_deadline}};
	char rerr[512] = "";
	printf("replaying run %s as %s (logical date %s, seed %llu)%s\n", rv.run_id, o.run_id,
	       rv.logical_date ? rv.logical_date : "?", (unsigned long long)rv.seed,
	       restored ? ", sources restored" : "");
	fflush(stdout);
	if (pw_run_dag(dag, &o, obs, PW_ARRAY_SIZE(obs), &res, rerr, sizeof(rerr)) != 0) {
		fprintf(stderr, "pitwall replay: %s\n", rerr);
		pw_recorder_release(&rec);
		free(ws);
		free(extra);
		rc = PW_EXIT_CANTCREAT;
		goto out;
	}
	ran = true;
	pw_recorder_flush(&rec);
	char git_now[41];
	snprintf(git_now, sizeof(git_now), "%s", rec.git.sha);
	pw_recorder_release(&rec);
	free(ws);
	free(extra);
	char *jp = pw_xasprintf("%s/run.json", res.workspace);
	pw_run_write_json(dag, &res, jp);
	free(jp);
	pw_run_print_summary(dag, &res, stdout);

	/* What this execution recorded, for "new" outputs and digests. */
	rows_t now_rows = {0};
	pw_audit_filter nf = {.dag_run_id = o.run_id};
	pw_audit_query(s, &nf, keep_row, &now_rows, &err);
	recorded_maps(now_rows.v, now_rows.n, o.run_id, new_outs, new_exes);

	/* The verdict, file by file. */
	size_t identical = 0, different = 0, missing = 0, added = 0;
	json_t *files = json_array();
	printf("\n%-10s  %-40s  %s\n", "VERDICT", "OUTPUT", "DETAIL");
	const char *tid;
	json_t *outs;
	json_object_foreach(rec_outs, tid, outs)
	{
		size_t k;
		json_t *f;
		json_array_foreach(outs, k, f)
		{
			const char *p = json_string_value(json_object_get(f, "path"));
			const char *h = json_string_value(json_object_get(f, "sha256"));
			json_int_t size = json_integer_value(json_object_get(f, "size"));
			char *full = pw_xasprintf("%s/%s", res.workspace, p);
			char hex[65];
			int64_t nsize = 0;
			const char *verdict;
			char *detail = NULL;
			if (pw_sha256_file(full, hex, &nsize) != 0) {
				verdict = "missing";
				missing++;
			} else if (strcmp(hex, h) == 0) {
				verdict = "identical";
				identical++;
			} else {
				verdict = "different";
				different++;
				char *old = NULL, *cur = NULL;
				size_t no = 0, nn = 0;
				char *src = bundle && !b.manifest_only
						? pw_xasprintf("%s/artifacts/%s", tmpl, p)
						: pw_xasprintf("%s/%s", rv.workspace, p);
				bool have_old = pw_read_file(src, &old, &no) == 0;
				pw_read_file(full, &cur, &nn);
				char *fd = NULL;
				if (have_old && cur && looks_text(old, no) && looks_text(cur, nn)) {
					char hx[65];
					pw_sha256_hex(old, no, hx);
					if (strcmp(hx, h) == 0)
						fd = first_difference(old, no, cur, nn);
				}
				detail =
				    pw_xasprintf("%lld -> %lld bytes%s%s", (long long)size,
						 (long long)nsize, fd ? "; " : "", fd ? fd : "");
				free(fd);
				free(old);
				free(cur);
				free(src);
			}
			printf("%-10s  %-40s  %s\n", verdict, p, detail ? detail : "");
			json_t *jf = json_object();
			json_object_set_new(jf, "task_id", json_string(tid));
			json_object_set_new(jf, "path", json_string(p));
			json_object_set_new(jf, "verdict", json_string(verdict));
			json_object_set_new(jf, "recorded_sha256", json_string(h));
			if (strcmp(verdict, "missing") != 0)
				json_object_set_new(jf, "sha256", json_string(hex));
			if (detail)
				json_object_set_new(jf, "detail", json_string(detail));
			json_array_append_new(files, jf);
			free(detail);
			free(full);
		}
	}
	json_object_foreach(new_outs, tid, outs)
	{
		size_t k;
		json_t *f;
		json_array_foreach(outs, k, f)
		{
			const char *p = json_string_value(json_object_get(f, "path"));
			bool known = false;
			const char *t2;
			json_t *o2;
			json_object_foreach(rec_outs, t2, o2)
			{
				size_t k2;
				json_t *f2;
				json_array_foreach(o2, k2, f2)
				{
					if (strcmp(json_string_value(json_object_get(f2, "path")),
						   p) == 0)
						known = true;
				}
			}
			if (known)
				continue;
			added++;
			printf("%-10s  %-40s  %s\n", "new", p, "not in the recorded run");
			json_t *jf = json_object();
			json_object_set_new(jf, "task_id", json_string(tid));
			json_object_set_new(jf, "path", json_string(p));
			json_object_set_new(jf, "verdict", json_string("new"));
			json_array_append_new(files, jf);
		}
	}
	bool git_known =
	    rv.git_sha && strcmp(rv.git_sha, "unknown") != 0 && strcmp(git_now, "unknown") != 0;
	bool git_match = git_known && strcmp(rv.git_sha, git_now) == 0;
	size_t exe_diff = 0;
	json_t *exe_report = json_array();
	const char *et;
	json_t *ed;
	json_object_foreach(rec_exes, et, ed)
	{
		json_t *nd = json_object_get(new_exes, et);
		if (nd && !json_equal(nd, ed)) {
			exe_diff++;
			json_t *x = json_object();
			json_object_set_new(x, "task_id", json_string(et));
			json_object_set(x, "recorded", ed);
			json_object_set(x, "now", nd);
			json_array_append_new(exe_report, x);
		}
	}
	bool all_identical = !different && !missing && !added && res.exit_code == 0;
	printf("\nverdict: %s — %zu identical, %zu different, %zu missing, %zu new\n",
	       all_identical ? "IDENTICAL" : "DIFFERENT", identical, different, missing, added);
	printf("git commit: recorded %.12s, now %.12s (%s)\n", rv.git_sha ? rv.git_sha : "unknown",
	       git_now,
	       !git_known  ? "unknown: not in a git repository"
	       : git_match ? "match"
			   : "DIFFERENT");
	printf("executables: %s\n", exe_diff ? "some digests differ (replayed with other binaries)"
					     : "same digests as recorded");
	for (size_t i = 0; i < json_array_size(exe_report); i++) {
		json_t *x = json_array_get(exe_report, i);
		printf("  %s: recorded %s, now %s\n",
		       json_string_value(json_object_get(x, "task_id")),
		       json_string_value(json_object_get(x, "recorded")),
		       json_string_value(json_object_get(x, "now")));
	}

	pw_audit_row vr;
	pw_audit_row_init(&vr, dag->dag_id, o.run_id, NULL, "replay_verdict");
	char *actor = pw_default_actor();
	pw_audit_row_set(&vr.actor, actor);
	free(actor);
	pw_audit_row_set(&vr.action, "compare");
	pw_audit_row_set(&vr.status, all_identical ? "identical" : "different");
	pw_audit_row_set(&vr.git_commit_sha, git_now);
	json_t *m = json_object();
	json_object_set_new(m, "replay_of", json_string(rv.run_id));
	json_object_set_new(m, "identical", json_integer((json_int_t)identical));
	json_object_set_new(m, "different", json_integer((json_int_t)different));
	json_object_set_new(m, "missing", json_integer((json_int_t)missing));
	json_object_set_new(m, "new", json_integer((json_int_t)added));
	json_object_set_new(m, "run_exit_code", json_integer(res.exit_code));
	json_object_set_new(m, "git_match", git_known ? json_boolean(git_match) : json_null());
	json_object_set_new(m, "recorded_git_commit_sha",
			    rv.git_sha ? json_string(rv.git_sha) : json_null());
	json_object_set_new(m, "executables_differ", exe_report);
	json_object_set_new(m, "files", files);
	char *ms = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	pw_audit_row_set(&vr.metadata, ms);
	free(ms);
	if (pw_audit_append(s, &vr, 1, &err) != 0)
		fprintf(stderr, "pitwall replay: cannot record the verdict: %s\n", err.buf);
	pw_audit_row_release(&vr);
	for (size_t i = 0; i < now_rows.n; i++)
		pw_audit_row_release(&now_rows.v[i]);
	free(now_rows.v);
	rc = all_identical ? PW_EXIT_OK : PW_EXIT_FAILED;
out:
	if (ran)
		pw_run_result_release(&res);
	json_decref(rec_outs);
	json_decref(rec_exes);
	json_decref(new_outs);
	json_decref(new_exes);
	free(preset);
	free(new_run_id);
	pw_dag_free(dag);
	pw_run_view_release(&rv);
	for (size_t i = 0; i < rows.n; i++)
		pw_audit_row_release(&rows.v[i]);
	free(rows.v);
	pw_bundle_release(&b);
	if (have_tmp)
		pw_rm_rf(tmpl);
	pw_strbuf_release(&err);
	pw_audit_close(s);
	return rc;
}
