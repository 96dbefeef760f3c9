#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exec/events.h"
#include "pitwall/container.h"
#include "pitwall/cost.h"
#include "pitwall/openlineage.h"
#include "pitwall/clock.h"
#include "pitwall/cron.h"
#include "pitwall/recorder.h"
#include "pitwall/scheduler.h"
#include "pitwall/run.h"

/*
 * `run --scheduled`: for a system crontab line.  Serves the newest slot of
 * the DAG's schedule at or before now, once: a lock per DAG (a PostgreSQL
 * advisory lock with a PostgreSQL store, else flock in the state
 * directory) keeps two from running at once, and a slot that already has
 * its run is not run again.  Returns an exit code to stop with, or -1 to
 * go on with o filled in.
 */
static int scheduled_slot(pw_dag *dag, pw_audit_store *store, const char *file, pw_run_opts *o,
			  char **run_id, int *lock_fd)
{
	if (!dag->schedule) {
		fprintf(stderr, "pitwall run --scheduled: %s has no schedule\n", file);
		return PW_EXIT_USAGE;
	}
	pw_cron c;
	pw_cron_error ce;
	pw_tz *tz = pw_tz_load(dag->timezone ? dag->timezone : "UTC");
	int64_t slot;
	if (!tz || pw_cron_parse(&c, dag->schedule, &ce) != 0 ||
	    pw_cron_prev(&c, tz, pw_clock_now(), &slot) != 0) {
		fprintf(
		    stderr,
		    "pitwall run --scheduled: %s: no slot of its schedule in the last 5 years\n",
		    file);
		pw_tz_free(tz);
		return PW_EXIT_FAILED;
	}
	pw_tz_free(tz);
	int pl = pw_audit_pg_try_lock(store, dag->dag_id);
	if (pl < 0) {
		char *dir = pw_state_dir();
		char *locks = pw_xasprintf("%s/locks", dir);
		pw_mkdir_p(locks, 0755);
		char *path = pw_xasprintf("%s/%s.lock", locks, dag->dag_id);
		*lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		pl = *lock_fd >= 0 && flock(*lock_fd, LOCK_EX | LOCK_NB) == 0;
		free(path);
		free(locks);
		free(dir);
	}
	*run_id = pw_scheduled_run_id(dag->dag_id, slot);
	char iso[32];
	pw_format_iso8601(slot, iso, sizeof(iso));
	if (!pl) {
		fprintf(stderr,
			"pitwall run --scheduled: another run of %s is active; slot %s skipped\n",
			dag->dag_id, iso);
		pw_schedule_record(store, "schedule_skipped", dag->dag_id, *run_id, slot, "skipped",
				   "overlap: another scheduled run holds the lock", file);
		return PW_EXIT_OK;
	}
	if (pw_audit_run_exists(store, *run_id)) {
		printf("slot %s of %s already ran (%s); nothing to do\n", iso, dag->dag_id,
		       *run_id);
		return PW_EXIT_OK;
	}
	pw_schedule_record(store, "schedule_fired", dag->dag_id, *run_id, slot, "started",
			   "run --scheduled", file);
	o->run_id = *run_id;
	o->logical_date_s = slot;
	o->logical_date_set = true;
	if (!o->actor)
		o->actor = "scheduler";
	return -1;
}

int pw_cmd_run(int argc, char **argv)
{
	pw_run_opts o = PW_RUN_OPTS_INIT;
	const char *file = NULL, *v, *store_url = NULL, *definition = NULL;
	bool scheduled = false;
	const char *ol_target = NULL; /* --openlineage */
	bool quiet = false, no_store = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, "-j", "--jobs", &v)) {
			char *end;
			long n = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || n < 1 || n > 100000)
				return pw_cli_usage_error("run",
							  "-j needs a number from 1 to 100000");
			o.max_active = (int)n;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--workspace", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("run", "--workspace needs a directory");
			o.workspace = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--run-id", &v)) {
			if (!v || !*v || strchr(v, '/') || strcmp(v, ".") == 0 ||
			    strcmp(v, "..") == 0)
				return pw_cli_usage_error("run",
							  "--run-id needs a name without '/'");
			o.run_id = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--logical-date", &v)) {
			if (!v || pw_parse_iso8601(v, &o.logical_date_s) != 0)
				return pw_cli_usage_error(
				    "run",
				    "--logical-date needs an ISO 8601 date, e.g. 2026-02-14 or "
				    "2026-02-14T02:00:00Z");
			o.logical_date_set = true;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--seed", &v)) {
			char *end;
			unsigned long long s = v ? strtoull(v, &end, 10) : 0;
			if (!v || *end || !*v)
				return pw_cli_usage_error("run",
							  "--seed needs a non-negative integer");
			o.seed = s;
			o.seed_set = true;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--log-format", &v)) {
			if (v && strcmp(v, "json") == 0)
				o.log_format = PW_LOG_JSON;
			else if (v && strcmp(v, "text") == 0)
				o.log_format = PW_LOG_TEXT;
			else if (v && strcmp(v, "live") == 0)
				o.log_format = PW_LOG_LIVE;
			else
				return pw_cli_usage_error("run", "--log-format takes json or text");
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--kill-grace", &v)) {
			int64_t ms;
			if (!v || pw_parse_duration(v, &ms) != 0 || ms < 0)
				return pw_cli_usage_error(
				    "run", "--kill-grace needs a duration, e.g. 10s");
			o.kill_grace_ms = ms;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--store", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("run", "--store needs a URL or path");
			store_url = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--definition", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("run", "--definition needs a file");
			definition = v;
		} else if (pw_cli_flag(argv, i, NULL, "--scheduled")) {
			scheduled = true;
		} else if (pw_cli_flag(argv, i, NULL, "--no-store")) {
			no_store = true;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--actor", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("run", "--actor needs a name");
			o.actor = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--openlineage", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("run",
							  "--openlineage needs a URL or file:PATH");
			ol_target = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--container-runtime", &v)) {
			if (!v || pw_container_runtime_from_name(v) < 0)
				return pw_cli_usage_error(
				    "run",
				    "--container-runtime takes runc, crun, podman, docker or auto");
			o.container_runtime = v;
		} else if (pw_cli_flag(argv, i, "-q", "--quiet")) {
			quiet = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return pw_cli_usage_error("run", "unknown option '%s'", argv[i]);
		} else if (file) {
			return pw_cli_usage_error("run", "only one DAG file, got '%s' too",
						  argv[i]);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return pw_cli_usage_error("run", "no DAG file given");
	if (quiet)
		o.log_format = PW_LOG_NONE;
	if (scheduled && no_store)
		return pw_cli_usage_error("run",
					  "--scheduled needs the audit store (drop --no-store)");
	if (scheduled && (o.run_id || o.logical_date_set))
		return pw_cli_usage_error(
		    "run", "--scheduled computes the run id and logical date itself");
	char *sched_run_id = NULL;
	int lock_fd = -1, lock_fd2 = -1;

	pw_dag *dag = definition ? pw_cli_load_as(file, definition) : pw_cli_load(file);
	if (!dag)
		return PW_EXIT_INVALID;

	/* OpenLineage (docs/openlineage.md): --openlineage, else PITWALL_OPENLINEAGE. */
	if (!ol_target && getenv("PITWALL_OPENLINEAGE") && *getenv("PITWALL_OPENLINEAGE"))
		ol_target = getenv("PITWALL_OPENLINEAGE");
	pw_openlineage *ol = NULL;
	if (ol_target) {
		char olerr[256];
		ol = pw_openlineage_open(ol_target, dag, olerr, sizeof(olerr));
		if (!ol) {
			pw_dag_free(dag);
			return pw_cli_usage_error("run", "%s", olerr);
		}
	}

	pw_audit_store *store = NULL;
	pw_recorder rec;
	bool recording = false;
	if (!no_store) {
		pw_strbuf serr = PW_STRBUF_INIT;
		if (pw_audit_open(&store, store_url, &serr) != 0) {
			fprintf(stderr,
				"pitwall run: %s\n  hint: check --store / PITWALL_STORE, or run "
				"with --no-store\n",
				serr.buf ? serr.buf : "cannot open the audit store");
			pw_strbuf_release(&serr);
			pw_openlineage_close(ol);
			pw_dag_free(dag);
			return PW_EXIT_SOFTWARE;
		}
		pw_strbuf_release(&serr);
		if (scheduled) {
			int src = scheduled_slot(dag, store, file, &o, &sched_run_id, &lock_fd);
			if (src >= 0) {
				pw_audit_close(store);
				pw_dag_free(dag);
				free(sched_run_id);
				if (lock_fd >= 0)
					close(lock_fd);
				return src;
			}
		}
		if (o.run_id && pw_cli_claim_run_id(store, o.run_id, &lock_fd2) != 0) {
			fprintf(stderr,
				"pitwall run: run id '%s' is in use by another pitwall process "
				"right now\n",
				o.run_id);
			pw_audit_close(store);
			pw_dag_free(dag);
			free(sched_run_id);
			if (lock_fd >= 0)
				close(lock_fd);
			return PW_EXIT_USAGE;
		}
		if (o.run_id && !scheduled && pw_audit_run_exists(store, o.run_id)) {
			fprintf(
			    stderr,
			    "pitwall run: run id '%s' is already recorded in %s\n  hint: 'pitwall "
			    "rerun %s' continues it; pick another --run-id for a new run\n",
			    o.run_id, store->display, o.run_id);
			pw_audit_close(store);
			pw_dag_free(dag);
			return PW_EXIT_USAGE;
		}
		o.run_id_taken = pw_audit_run_id_taken;
		o.run_id_taken_payload = store;
		/* The monthly budget (docs/resources.md) is read from the same store. */
		o.month_spend = pw_cost_month_spend_cb;
		o.month_spend_payload = store;
		pw_recorder_init(&rec, store, dag, o.actor);
		recording = true;
	}

	pw_log_observer lo;
	pw_log_observer_init(&lo, o.log_format, stderr);
	pw_run_observer obs[3] = {{pw_log_observer_event, &lo, NULL, NULL}};
	size_t nobs = 1;
	if (recording)
		obs[nobs++] = (pw_run_observer){pw_recorder_event, &rec, pw_recorder_flush_due,
						pw_recorder_deadline};
	if (ol)
		obs[nobs++] =
		    (pw_run_observer){pw_openlineage_event, ol, pw_openlineage_flush, NULL};
	pw_run_result res;
	char err[512] = "";
	int rc = pw_run_dag(dag, &o, obs, nobs, &res, err, sizeof(err));
	pw_openlineage_close(ol); /* delivers or spools what is left */
	if (recording) {
		pw_recorder_flush(&rec);
		if (rec.failures)
			fprintf(stderr,
				"pitwall run: warning: %d audit write%s failed (see above)\n",
				rec.failures, rec.failures == 1 ? "" : "s");
		pw_recorder_release(&rec);
		pw_audit_close(store);
	}
	if (rc != 0) {
		fprintf(stderr, "pitwall run: %s\n", err);
		pw_run_result_release(&res);
		pw_dag_free(dag);
		free(sched_run_id);
		if (lock_fd >= 0)
			close(lock_fd);
		return PW_EXIT_CANTCREAT;
	}
	if (res.budget_refused) {
		fprintf(
		    stderr,
		    "pitwall run: refused: the DAG's monthly budget is spent (budget.stop_at)\n"
		    "  hint: 'pitwall cost %s' shows the month's spend; raise budget.monthly or "
		    "wait for next month\n",
		    dag->dag_id);
		pw_run_result_release(&res);
		pw_dag_free(dag);
		free(sched_run_id);
		if (lock_fd >= 0)
			close(lock_fd);
		return PW_EXIT_BUDGET;
	}
	char *json_path = pw_xasprintf("%s/run.json", res.workspace);
	int e = pw_run_write_json(dag, &res, json_path);
	if (e)
		fprintf(stderr, "pitwall run: cannot write %s: %s\n", json_path, strerror(-e));
	free(json_path);
	fflush(stderr);
	pw_run_print_summary(dag, &res, stdout);
	fflush(stdout);
	int code = res.exit_code;
	pw_run_result_release(&res);
	pw_dag_free(dag);
	free(sched_run_id);
	if (lock_fd >= 0)
		close(lock_fd);
	if (lock_fd2 >= 0)
		close(lock_fd2);
	return code;
}
