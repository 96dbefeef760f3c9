#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void dot_id(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

int pw_cmd_graph(int argc, char **argv)
{
	const char *file = NULL, *format = "dot";
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (pw_cli_opt(argc, argv, &i, "-f", "--format", &v)) {
			if (!v)
				return pw_cli_usage_error(
				    "graph", "--format needs a value (dot or mermaid)");
			format = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return pw_cli_usage_error("graph", "unknown option '%s'", argv[i]);
		} else if (file) {
			return pw_cli_usage_error("graph", "only one DAG file, got '%s' too",
						  argv[i]);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return pw_cli_usage_error("graph", "no DAG file given");
	bool dot = strcmp(format, "dot") == 0;
	if (!dot && strcmp(format, "mermaid") != 0)
		return pw_cli_usage_error("graph", "unknown format '%s' (use dot or mermaid)",
					  format);
	pw_dag *dag = pw_cli_load(file);
	if (!dag)
		return PW_EXIT_INVALID;

	if (dot) {
		printf("digraph ");
		dot_id(dag->dag_id);
		printf(" {\n  rankdir=LR;\n  node [shape=box];\n");
		for (size_t i = 0; i < dag->ntasks; i++) {
			printf("  ");
			dot_id(dag->tasks[i].task_id);
			printf(";\n");
		}
		for (size_t i = 0; i < dag->ntasks; i++) {
			const pw_task *t = &dag->tasks[i];
			for (size_t d = 0; d < t->ndeps; d++) {
				printf("  ");
				dot_id(t->deps[d].name);
				printf(" -> ");
				dot_id(t->task_id);
				printf(t->deps[d].optional ? " [style=dashed];\n" : ";\n");
			}
		}
		printf("}\n");
	} else {
		/* Mermaid ids must be plain: number the nodes, label them by task_id. */
		printf("flowchart TD\n");
		for (size_t i = 0; i < dag->ntasks; i++)
			printf("  t%zu[\"%s\"]\n", i, dag->tasks[i].task_id);
		for (size_t i = 0; i < dag->ntasks; i++) {
			const pw_task *t = &dag->tasks[i];
			for (size_t d = 0; d < t->ndeps; d++)
				printf("  t%zu %s t%zu\n", t->deps[d].task,
				       t->deps[d].optional ? "-.->" : "-->", i);
		}
	}
	pw_dag_free(dag);
	return PW_EXIT_OK;
}
