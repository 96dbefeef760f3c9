#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/limits.h"
#include "pitwall/clock.h"
#include "pitwall/run.h"

static const pw_cli_command commands[] = {
    {"validate", pw_cmd_validate, "check DAG files and report every problem",
     "usage: pitwall validate FILE...\n"
     "\n"
     "Checks each DAG file and prints every problem as FILE:LINE:COL: error: ...\n"
     "with a hint.  Exit 0 when all files are valid, 2 otherwise.\n"},
    {"plan", pw_cmd_plan, "show the execution order without running anything",
     "usage: pitwall plan FILE [--json]\n"
     "\n"
     "A dry run: the topological order (ties broken by file order), each task's\n"
     "level, resolved command, timeout, retries and dependencies.\n"},
    {"graph", pw_cmd_graph, "print the dependency graph (dot or mermaid)",
     "usage: pitwall graph FILE [--format dot|mermaid]\n"
     "\n"
     "Prints the graph for Graphviz (default) or Mermaid.  Optional dependencies\n"
     "are dashed.  Example: pitwall graph dags/smoke.yaml | dot -Tsvg > smoke.svg\n"},
    {"run", pw_cmd_run, "run a DAG's tasks as local processes",
     "usage: pitwall run FILE [options]\n"
     "\n"
     "  -j, --jobs N              run at most N tasks at once (default: max_active_tasks)\n"
     "  --workspace DIR           the run workspace (default runs/<dag_id>/<run_id>)\n"
     "  --run-id ID               the run id (default <dag_id>_<YYYYmmdd_HHMMSS>)\n"
     "  --logical-date ISO8601    the date the run is for (default: now, UTC)\n"
     "  --seed N                  PITWALL_SEED (default: from dag_id and logical date)\n"
     "  --log-format json|text    events on stderr (default: live view on a terminal,\n"
     "                            JSON lines otherwise)\n"
     "  --kill-grace DURATION     SIGTERM-to-SIGKILL grace (default: kill_grace, 10s)\n"
     "  -q, --quiet               no events on stderr, summary only\n"
     "  --container-runtime NAME  runc, crun, podman, docker or auto, for tasks with\n"
     "                            container: (default: the DAG's container_runtime)\n"
     "\n"
     "  --store URL               audit store (default: PITWALL_STORE, else\n"
     "                            .pitwall/audit.db under PITWALL_HOME or here)\n"
     "  --no-store                do not record the run in the audit store\n"
     "  --actor NAME              who started the run (default user@host)\n"
     "  --scheduled               for a crontab line: run the newest slot of the\n"
     "                            DAG's schedule once (a lock per DAG; a slot that\n"
     "                            already ran is not run again; actor scheduler)\n"
     "  --definition SNAPSHOT     run the DAG text in SNAPSHOT as if it were FILE\n"
     "                            (the scheduler passes the version it validated)\n"
     "  --openlineage URL         send OpenLineage events to an http(s) URL or to\n"
     "                            file:PATH (default: PITWALL_OPENLINEAGE)\n"
     "\n"
     "Exit: 0 success, 1 a task failed, 2 invalid DAG, 3 refused by the monthly\n"
     "budget, 130/143 interrupted.\n"
     "Logs: <workspace>/logs/<task_id>.<attempt>.log; result: <workspace>/run.json\n"},
    {"next", pw_cmd_next, "print the next fire times of a DAG's schedule",
     "usage: pitwall next FILE [-n N] [--after ISO8601]\n"
     "\n"
     "The next N (default 5) fire times, in the DAG's time zone and in UTC.\n"},
    {"scheduler", pw_cmd_scheduler, "fire every DAG in a directory on its schedule",
     "usage: pitwall scheduler --dags DIR [--once] [--store URL] [-q]\n"
     "\n"
     "Sleeps until the earliest next fire, then starts `pitwall run` with the\n"
     "scheduled time as logical date (actor: scheduler).  Catch-up (catchup:\n"
     "none|latest|all, catchup_window) and overlap (max_active_runs, overlap:\n"
     "skip|queue) per DAG.  Notices DAG files added, changed or removed (an invalid\n"
     "edit keeps the last valid version scheduled).  State lives in the audit store,\n"
     "so a restart neither loses nor repeats a fire.  SIGHUP re-reads the DAGs;\n"
     "SIGTERM stops firing and leaves running runs to finish.  --once: one pass at\n"
     "now, wait for its runs, exit.  Time: --now ISO8601 or PITWALL_NOW (and\n"
     "PITWALL_TIME_SCALE) for tests.\n"},
    {"status", pw_cmd_status, "show a run's state from the audit record",
     "usage: pitwall status RUN_ID [--json] [--store URL]\n"
     "\n"
     "Per task: state, attempts, duration, exit code.  A run whose pitwall process\n"
     "is gone without recording its end shows as interrupted.\n"},
    {"history", pw_cmd_history, "list recent runs",
     "usage: pitwall history [DAG_ID] [--limit N] [--json] [--store URL]\n"},
    {"logs", pw_cmd_logs, "print a task attempt's log",
     "usage: pitwall logs RUN_ID TASK_ID [--attempt N] [--store URL]\n"
     "\n"
     "Prints the log of the last (or the given) attempt, and warns when the file no\n"
     "longer matches the sha256 recorded when the attempt ended.\n"},
    {"audit", pw_cmd_audit, "query or verify the audit table",
     "usage: pitwall audit query [--run ID] [--task ID] [--dag ID] [--event TYPE]\n"
     "                           [--since ISO8601] [--limit N] [--json] [--store URL]\n"
     "       pitwall audit verify [--json] [--store URL]\n"
     "\n"
     "verify recomputes the hash chain and names the first bad row; exit 1 if broken.\n"},
    {"rerun", pw_cmd_rerun, "re-run the failed part of a run (same run id)",
     "usage: pitwall rerun RUN_ID [--from TASK | --only TASK...] [--dry-run]\n"
     "                     [--rehash-upstream] [--use-current-definition]\n"
     "                     [--reason TEXT] [-j N] [--store URL]\n"
     "\n"
     "Default: re-execute the failed, timed-out, upstream_failed and skipped tasks.\n"
     "--from TASK: TASK and everything downstream of it.  --only: just those tasks\n"
     "(and whatever they left blocked downstream).  Successful tasks outside the set\n"
     "are reused after their outputs are re-hashed against the recorded lineage;\n"
     "a changed or missing file refuses the re-run unless --rehash-upstream, which\n"
     "re-runs its producer.  The recorded DAG text is used unless\n"
     "--use-current-definition (refused when the graph changed around reused tasks).\n"},
    {"resume", pw_cmd_resume, "carry on a run whose pitwall process died",
     "usage: pitwall resume RUN_ID [-j N] [--store URL]\n"
     "\n"
     "Kills leftover process groups of the run's tasks (pid plus start time, so a\n"
     "reused pid is never hit), keeps every task that finished, and runs the rest.\n"},
    {"export", pw_cmd_export, "write a run bundle (DAG text, events, lineage, outputs)",
     "usage: pitwall export RUN_ID -o FILE.tar.zst [--manifest-only] [--store URL]\n"
     "\n"
     "A self-contained, reproducible archive of the run: dag.yaml, events.jsonl (with\n"
     "their hashes), lineage.json, the logs and every output (not --manifest-only).\n"},
    {"import", pw_cmd_import, "verify a run bundle and add its events to a store",
     "usage: pitwall import FILE [--store URL]\n"
     "\n"
     "Checks every event's hash, the DAG digest and every artifact; refuses a run\n"
     "the store already holds.\n"},
    {"replay", pw_cmd_replay, "re-execute a recorded run and compare its outputs",
     "usage: pitwall replay RUN_ID | --bundle FILE [--reuse-sources] [--workspace DIR]\n"
     "                     [--run-id ID] [-j N] [--store URL]\n"
     "\n"
     "Runs the recorded DAG text in a fresh workspace with the same logical date\n"
     "and seed, then compares every recorded output by sha256: identical, different\n"
     "(sizes and the first differing line), missing or new.  Exit 0 only if every\n"
     "output is identical.  --reuse-sources restores the outputs of source: true\n"
     "tasks from the bundle or the original workspace instead of fetching again.\n"},
    {"image", pw_cmd_image, "build an OCI image from containers/NAME, or print a digest",
     "usage: pitwall image build DIR [-o LAYOUT] [--archive FILE] [--from-build BUILD]\n"
     "       pitwall image digest LAYOUT|NAME\n"
     "\n"
     "build reads DIR/image.json (docs/containers.md) and writes an OCI image layout\n"
     "(default .pitwall/images/<name> under PITWALL_HOME or here) with no daemon and no\n"
     "network: the files it names, the shared libraries their executables need, one\n"
     "uncompressed layer, sorted and dated 1970, so the same files give the same\n"
     "digest.  build: sources are taken from BUILD (default $PW_BUILD_DIR, else\n"
     "./build).  --archive also writes a tar that podman load and docker load take.\n"
     "digest prints sha256:<hex> of the image's manifest, as the audit table records\n"
     "it in container_image_digest.\n"},
    {"lineage", pw_cmd_lineage, "show where an artifact came from",
     "usage: pitwall lineage PATH [--run ID] [--json] [--store URL]\n"
     "\n"
     "PATH is relative to the run workspace (or an absolute path inside one).  Prints\n"
     "the task, run and git commit that produced it, and its inputs, recursively.\n"},
    {"cost", pw_cmd_cost, "report spend by DAG, run and task for a month",
     "usage: pitwall cost [DAG_ID] [--month YYYY-MM] [--json] [--store URL]\n"
     "\n"
     "Sums the recorded cost.task_compute events of the month (UTC; default: this\n"
     "month) by DAG, run and task, with each run's recorded cost.dag_run_total and,\n"
     "for a DAG file's budget, where the month stands against it.  Amounts have six\n"
     "decimals (micro-units); --json gives integer cost_micros too.  See\n"
     "docs/resources.md.\n"},
    {"doctor", pw_cmd_doctor, "report what this machine offers pitwall",
     "usage: pitwall doctor [--store URL] [--json]\n"
     "\n"
     "One line per check, marked ok, missing or error: cgroup v2 and v1 (controllers,\n"
     "whether pitwall can create a child cgroup) and how each resource limit will be\n"
     "enforced; runc, crun, podman and docker (found, version, working); Slurm\n"
     "(sinfo, slurmrestd, the controller); the audit store (opened); the git\n"
     "repository of the current directory.  Always exits 0 (64 on a usage error).\n"},
};

const pw_cli_command *pw_cli_find(const char *name)
{
	for (size_t i = 0; i < PW_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_help(FILE *out)
{
	fprintf(out, "usage: pitwall [--version] [help] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < PW_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-10s %s\n", "help", "show help for a command");
	fprintf(out, "\nSee 'pitwall help COMMAND' and docs/cli.md.\n");
}

int pw_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pitwall %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  hint: see 'pitwall help %s'\n", cmd);
	return PW_EXIT_USAGE;
}

bool pw_cli_flag(char **argv, int i, const char *s, const char *l)
{
	return (s && strcmp(argv[i], s) == 0) || (l && strcmp(argv[i], l) == 0);
}

bool pw_cli_opt(int argc, char **argv, int *i, const char *s, const char *l, const char **val)
{
	const char *a = argv[*i];
	size_t ll = l ? strlen(l) : 0;
	if (l && strncmp(a, l, ll) == 0 && a[ll] == '=') {
		*val = a + ll + 1;
		return true;
	}
	/* -j4 as well as -j 4 */
	if (s && strlen(s) == 2 && strncmp(a, s, 2) == 0 && a[2]) {
		*val = a + 2;
		return true;
	}
	if (!pw_cli_flag(argv, *i, s, l))
		return false;
	if (*i + 1 >= argc) {
		*val = NULL;
		return true;
	}
	*val = argv[++(*i)];
	return true;
}

pw_dag *pw_cli_load_as(const char *path, const char *text_file)
{
	char *text = NULL;
	size_t len = 0;
	int e = pw_read_file(text_file, &text, &len);
	if (e) {
		fprintf(stderr, "%s: error: cannot read %s: %s\n", path, text_file, strerror(-e));
		return NULL;
	}
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_buffer(&dag, path, text, len, &d);
	free(text);
	pw_diags_print(&d, stderr);
	pw_diags_release(&d);
	return rc == 0 ? dag : NULL;
}

pw_dag *pw_cli_load(const char *path)
{
	pw_diags d = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_file(&dag, path, &d);
	pw_diags_print(&d, stderr);
	if (rc != 0 && d.nerrors)
		fprintf(stderr, "%s: %zu error%s\n", path, d.nerrors, d.nerrors == 1 ? "" : "s");
	pw_diags_release(&d);
	return rc == 0 ? dag : NULL;
}

int main(int argc, char **argv)
{
	/* The limits shim (src/limits/shim.c), before anything reads the task's arguments. */
	if (argc > 1 && strcmp(argv[1], "__cgexec") == 0)
		return pw_limits_shim_main(argc, argv);
	if (argc < 2) {
		print_help(stderr);
		return PW_EXIT_USAGE;
	}
	/* --now ISO8601 anywhere: the one clock every command reads (tests). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--now") == 0 || strncmp(argv[i], "--now=", 6) == 0) {
			const char *v =
			    argv[i][5] == '=' ? argv[i] + 6 : (i + 1 < argc ? argv[i + 1] : NULL);
			int64_t t;
			if (!v || pw_parse_iso8601(v, &t) != 0) {
				fprintf(stderr, "pitwall: --now needs an ISO 8601 time\n");
				return PW_EXIT_USAGE;
			}
			pw_clock_set(t);
			int drop = argv[i][5] == '=' ? 1 : 2;
			for (int k = i; k + drop <= argc; k++)
				argv[k] = argv[k + drop];
			argc -= drop;
			i--;
		}
	}
	if (argc < 2) {
		print_help(stderr);
		return PW_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("pitwall %s\n", PW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc > 2) {
			const pw_cli_command *c = pw_cli_find(argv[2]);
			if (!c) {
				fprintf(stderr, "pitwall help: unknown command '%s'\n", argv[2]);
				return PW_EXIT_USAGE;
			}
			fputs(c->usage, stdout);
			return 0;
		}
		print_help(stdout);
		return 0;
	}
	const pw_cli_command *c = pw_cli_find(cmd);
	if (!c) {
		const char *names[PW_ARRAY_SIZE(commands)];
		for (size_t i = 0; i < PW_ARRAY_SIZE(commands); i++)
			names[i] = commands[i].name;
		const char *near = pw_did_you_mean(cmd, names, PW_ARRAY_SIZE(commands));
		fprintf(stderr, "pitwall: unknown command '%s'", cmd);
		if (near)
			fprintf(stderr, " (did you mean '%s'?)", near);
		fprintf(stderr, "\n  hint: see 'pitwall help'\n");
		return PW_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(c->usage, stdout);
			return 0;
		}
	}
	return c->fn(argc - 1, argv + 1);
}
