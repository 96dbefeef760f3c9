#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/plan.h"

static void command_text(const pw_task *t, pw_strbuf *sb)
{
	if (t->shell) {
		pw_strbuf_adds(sb, "sh -c ");
		pw_strbuf_add_json_str(sb, t->shell);
		return;
	}
	for (size_t i = 0; i < t->argc; i++) {
		if (i)
			pw_strbuf_addc(sb, ' ');
		const char *a = t->argv[i];
		if (!*a || strpbrk(a, " \t\"'\\$`;|&<>()*?"))
			pw_strbuf_add_json_str(sb, a);
		else
			pw_strbuf_adds(sb, a);
	}
}

static void print_json(const pw_dag *dag, const size_t *order)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "{\"dag_id\":");
	pw_strbuf_add_json_str(&sb, dag->dag_id);
	pw_strbuf_addf(&sb, ",\"max_active_tasks\":%d,\"tasks\":[", dag->max_active_tasks);
	for (size_t k = 0; k < dag->ntasks; k++) {
		const pw_task *t = &dag->tasks[order[k]];
		if (k)
			pw_strbuf_addc(&sb, ',');
		pw_strbuf_addf(&sb, "\n{\"order\":%zu,\"level\":%zu,\"task_id\":", k + 1, t->level);
		pw_strbuf_add_json_str(&sb, t->task_id);
		pw_strbuf_adds(&sb, ",\"dependencies\":[");
		for (size_t i = 0; i < t->ndeps; i++) {
			if (i)
				pw_strbuf_addc(&sb, ',');
			pw_strbuf_add_json_str(&sb, t->deps[i].name);
		}
		pw_strbuf_adds(&sb, "],\"command\":");
		if (t->shell) {
			pw_strbuf_adds(&sb, "null,\"shell\":");
			pw_strbuf_add_json_str(&sb, t->shell);
		} else {
			pw_strbuf_addc(&sb, '[');
			for (size_t i = 0; i < t->argc; i++) {
				if (i)
					pw_strbuf_addc(&sb, ',');
				pw_strbuf_add_json_str(&sb, t->argv[i]);
			}
			pw_strbuf_adds(&sb, "],\"shell\":null");
		}
		pw_strbuf_addf(&sb,
			       ",\"timeout_ms\":%" PRId64
			       ",\"retries\":%d,\"retry_delay_ms\":%" PRId64
			       ",\"trigger_rule\":\"%s\"}",
			       t->timeout_ms, t->retries, t->retry_delay_ms,
			       pw_trigger_rule_name(t->trigger_rule));
		if (sb.len > (1 << 20)) {
			fwrite(sb.buf, 1, sb.len, stdout);
			pw_strbuf_reset(&sb);
		}
	}
	pw_strbuf_adds(&sb, "\n]}\n");
	fwrite(sb.buf, 1, sb.len, stdout);
	pw_strbuf_release(&sb);
}

int pw_cmd_plan(int argc, char **argv)
{
	const char *file = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_flag(argv, i, NULL, "--json"))
			json = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return pw_cli_usage_error("plan", "unknown option '%s'", argv[i]);
		else if (file)
			return pw_cli_usage_error("plan", "only one DAG file, got '%s' too",
						  argv[i]);
		else
			file = argv[i];
	}
	if (!file)
		return pw_cli_usage_error("plan", "no DAG file given");
	pw_dag *dag = pw_cli_load(file);
	if (!dag)
		return PW_EXIT_INVALID;
	size_t *order = pw_xmalloc(dag->ntasks * sizeof(*order));
	if (pw_plan_topo_order(dag, order) != 0) {
		fprintf(stderr, "pitwall plan: internal error: cycle after validation\n");
		free(order);
		pw_dag_free(dag);
		return PW_EXIT_SOFTWARE;
	}
	if (json) {
		print_json(dag, order);
	} else {
		size_t levels = 0, w = 4;
		for (size_t i = 0; i < dag->ntasks; i++) {
			if (dag->tasks[i].level + 1 > levels)
				levels = dag->tasks[i].level + 1;
			size_t l = strlen(dag->tasks[i].task_id);
			if (l > w)
				w = l < 32 ? l : 32;
		}
		printf("dag %s: %zu task%s in %zu level%s, at most %d at once\n", dag->dag_id,
		       dag->ntasks, dag->ntasks == 1 ? "" : "s", levels, levels == 1 ? "" : "s",
		       dag->max_active_tasks);
		printf("%5s  %5s  %-*s  %-8s  %7s  %s\n", "ORDER", "LEVEL", (int)w, "TASK",
		       "TIMEOUT", "RETRIES", "COMMAND / DEPENDS ON");
		pw_strbuf sb = PW_STRBUF_INIT;
		for (size_t k = 0; k < dag->ntasks; k++) {
			const pw_task *t = &dag->tasks[order[k]];
			char to[32] = "-";
			if (t->timeout_ms > 0)
				pw_format_duration(t->timeout_ms, to, sizeof(to));
			pw_strbuf_reset(&sb);
			command_text(t, &sb);
			printf("%5zu  %5zu  %-*s  %-8s  %7d  %s\n", k + 1, t->level, (int)w,
			       t->task_id, to, t->retries, sb.buf);
			if (t->ndeps) {
				pw_strbuf_reset(&sb);
				for (size_t i = 0; i < t->ndeps; i++) {
					if (i)
						pw_strbuf_adds(&sb, ", ");
					pw_strbuf_adds(&sb, t->deps[i].name);
					if (t->deps[i].optional)
						pw_strbuf_adds(&sb, " (optional)");
				}
				printf("%5s  %5s  %-*s  %-8s  %7s  <- %s\n", "", "", (int)w, "", "",
				       "", sb.buf);
			}
		}
		pw_strbuf_release(&sb);
	}
	free(order);
	pw_dag_free(dag);
	return PW_EXIT_OK;
}
