/* Shared by the subcommands in src/cli/: one file per subcommand. */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "pitwall/audit.h"
#include "pitwall/dag.h"

/* Exit codes (docs/cli.md). */
enum {
	PW_EXIT_OK = 0,
	PW_EXIT_FAILED = 1,
	PW_EXIT_INVALID = 2,
	PW_EXIT_BUDGET = 3, /* run: refused, the monthly budget is spent */
	PW_EXIT_USAGE = 64,
	PW_EXIT_SOFTWARE = 70,
	PW_EXIT_CANTCREAT = 73,
};

typedef struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text */
} pw_cli_command;

int pw_cmd_validate(int argc, char **argv);
int pw_cmd_plan(int argc, char **argv);
int pw_cmd_graph(int argc, char **argv);
int pw_cmd_run(int argc, char **argv);
int pw_cmd_status(int argc, char **argv);
int pw_cmd_history(int argc, char **argv);
int pw_cmd_logs(int argc, char **argv);
int pw_cmd_audit(int argc, char **argv);
int pw_cmd_lineage(int argc, char **argv);
int pw_cmd_rerun(int argc, char **argv);
int pw_cmd_resume(int argc, char **argv);
int pw_cmd_export(int argc, char **argv);
int pw_cmd_import(int argc, char **argv);
int pw_cmd_replay(int argc, char **argv);
int pw_cmd_image(int argc, char **argv);
int pw_cmd_next(int argc, char **argv);
int pw_cmd_scheduler(int argc, char **argv);
int pw_cmd_cost(int argc, char **argv);
int pw_cmd_doctor(int argc, char **argv);

/* Open the audit store (--store URL, else PITWALL_STORE, else the SQLite default). */
pw_audit_store *pw_cli_open_store(const char *cmd, const char *url);
/*
 * Claim a run id for as long as this process runs (a PostgreSQL advisory
 * lock, else flock in the state directory; *fd keeps the flock).  Returns 0,
 * or -1 when another process holds it.
 */
int pw_cli_claim_run_id(pw_audit_store *store, const char *run_id, int *fd);

/* Print "pitwall CMD: message" and a pointer to help; returns PW_EXIT_USAGE. */
int pw_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Load a DAG, printing every diagnostic to stderr.  NULL when invalid. */
pw_dag *pw_cli_load(const char *path);
/* The DAG text of text_file, loaded as if it were the file at path. */
pw_dag *pw_cli_load_as(const char *path, const char *text_file);
/* Whether argv[*i] is option `name` (long or short); consumes its value into *val. */
bool pw_cli_opt(int argc, char **argv, int *i, const char *s, const char *l, const char **val);
bool pw_cli_flag(char **argv, int i, const char *s, const char *l);
const pw_cli_command *pw_cli_find(const char *name);

#endif
