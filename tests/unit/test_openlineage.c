/*
 * OpenLineage building blocks: targets, display URLs, UUIDv7; and the
 * observer end to end on a one-task DAG with the file transport, including
 * the spool when the file cannot be written and its delivery by the next
 * open.  (The HTTP transport and the schemas: tests/integration/openlineage*.sh.)
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pitwall/dag.h"
#include "pitwall/diag.h"
#include "pitwall/openlineage.h"
#include "pitwall/run.h"
#include "pitwall/util.h"
#include "pw_test.h"

static void check_target(const char *target, int want_rc, bool want_file, const char *want)
{
	bool is_file = false;
	char *where = NULL, err[256] = "";
	int rc = pw_openlineage_parse_target(target, &is_file, &where, err, sizeof(err));
	PW_CHECK_INT(rc, want_rc, "parse_target(\"%s\") returns %d", target, want_rc);
	if (want_rc == 0) {
		PW_CHECK(is_file == want_file, "%s: %s transport", target,
			 want_file ? "file" : "http");
		PW_CHECK_STR(where, want, "%s: target", target);
	} else {
		PW_CHECK(err[0] != '\0', "%s: a message (%s)", target, err);
	}
	free(where);
}

static bool uuid_shape(const char *u)
{
	if (strlen(u) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-'
			 : !isxdigit((unsigned char)u[i]) || isupper((unsigned char)u[i]))
			return false;
	}
	return true;
}

static size_t count_lines(const char *path, json_t **events)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0, n = 0;
	*events = json_array();
	while (getline(&line, &cap, f) > 0) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		if (j)
			json_array_append_new(*events, j);
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static const char *ev_str(json_t *events, size_t i, const char *a, const char *b)
{
	json_t *o = json_object_get(json_array_get(events, i), a);
	return json_string_value(b ? json_object_get(o, b) : o);
}

static int run_once(pw_dag *dag, const char *target, const char *ws, size_t *left)
{
	char err[256] = "";
	pw_openlineage *ol = pw_openlineage_open(target, dag, err, sizeof(err));
	PW_CHECK(ol != NULL, "open %s (%s)", target, err);
	if (!ol)
		return -1;
	pw_run_opts o = PW_RUN_OPTS_INIT;
	o.workspace = ws;
	o.log_format = PW_LOG_NONE;
	pw_run_observer obs = {pw_openlineage_event, ol, pw_openlineage_flush, NULL};
	pw_run_result res;
	int rc = pw_run_dag(dag, &o, &obs, 1, &res, err, sizeof(err));
	int code = rc == 0 ? res.exit_code : -1;
	pw_run_result_release(&res);
	*left = pw_openlineage_close(ol);
	return code;
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	char *rel = pw_xasprintf("%s/rel/x.jsonl", cwd);

	/* ---- targets ---- */
	check_target("file:/var/log/ol.jsonl", 0, true, "/var/log/ol.jsonl");
	check_target("file:rel/x.jsonl", 0, true, rel);
	check_target("file:///var/ol.jsonl", 0, true, "/var/ol.jsonl");
	check_target("file://localhost/var/ol.jsonl", 0, true, "/var/ol.jsonl");
	check_target("file://otherhost/var/ol.jsonl", -1, false, NULL);
	check_target("file:", -1, false, NULL);
	check_target("", -1, false, NULL);
	check_target("ftp://example.org/x", -1, false, NULL);
	check_target("marquez:5000", -1, false, NULL);
	check_target("http://", -1, false, NULL);
	check_target("http://marquez:5000", 0, false, "http://marquez:5000/api/v1/lineage");
	check_target("http://marquez:5000/", 0, false, "http://marquez:5000/api/v1/lineage");
	check_target("https://ol.example.org/api/v2/events?x=1", 0, false,
		     "https://ol.example.org/api/v2/events?x=1");
	free(rel);

	/* ---- display URLs never show credentials or the query ---- */
	char *d = pw_openlineage_display_url(
	    "https://bob:hunter2@ol.example.org:8443/p?api_key=SECRET#f");
	PW_CHECK_STR(d, "https://ol.example.org:8443/p",
		     "display URL without user, password, query");
	free(d);
	d = pw_openlineage_display_url("http://ol:5000/api/v1/lineage");
	PW_CHECK_STR(d, "http://ol:5000/api/v1/lineage", "a plain URL is shown as it is");
	free(d);

	/* ---- UUIDv7 ---- */
	char u[37], prev[37] = "";
	pw_uuid_v7(0x0123456789abLL, u);
	PW_CHECK(uuid_shape(u), "uuid shape: %s", u);
	PW_CHECK(strncmp(u, "01234567-89ab-7", 15) == 0, "48-bit ms timestamp then version 7: %s",
		 u);
	PW_CHECK(strchr("89ab", u[19]) != NULL, "RFC 9562 variant: %c", u[19]);
	bool unique = true, ordered = true, shaped = true;
	for (int i = 0; i < 2000; i++) {
		char a[37], b[37];
		pw_uuid_v7(1700000000000LL + i, a);
		pw_uuid_v7(1700000000000LL + i, b);
		unique = unique && strcmp(a, b) != 0;
		ordered = ordered && strcmp(prev, a) < 0;
		shaped = shaped && uuid_shape(a) && a[14] == '7';
		memcpy(prev, b, sizeof(prev));
	}
	PW_CHECK(unique, "two UUIDs of the same millisecond differ");
	PW_CHECK(ordered, "UUIDs of later milliseconds sort later");
	PW_CHECK(shaped, "4000 UUIDs all well formed");

	/* ---- end to end: a one-task DAG, file transport ---- */
	char tmpl[] = "/tmp/pw-ol-unit.XXXXXX";
	char *tmp = mkdtemp(tmpl);
	PW_CHECK(tmp != NULL, "temp dir");
	if (!tmp)
		PW_TEST_DONE();
	setenv("PITWALL_HOME", tmp, 1);
	unsetenv("PITWALL_OPENLINEAGE_NAMESPACE");
	const char *yaml = "dag_id: ol_unit\n"
			   "tasks:\n"
			   "  - task_id: make\n"
			   "    command: [\"sh\", \"-c\", \"echo hi > out.txt\"]\n"
			   "    outputs: [out.txt]\n";
	char *dagpath = pw_xasprintf("%s/ol_unit.yaml", tmp);
	pw_diags diags = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	int rc = pw_dag_load_buffer(&dag, dagpath, yaml, strlen(yaml), &diags);
	PW_CHECK(rc == 0 && dag, "the DAG loads");
	pw_diags_release(&diags);
	if (!dag)
		PW_TEST_DONE();

	char *file = pw_xasprintf("%s/ol.jsonl", tmp);
	char *target = pw_xasprintf("file:%s", file);
	char *ws = pw_xasprintf("%s/ws1", tmp);
	size_t left = 99;
	PW_CHECK_INT(run_once(dag, target, ws, &left), 0, "the run succeeds");
	PW_CHECK_INT(left, 0, "nothing left in the spool");
	json_t *evs = NULL;
	PW_CHECK_INT(count_lines(file, &evs), 4,
		     "4 events: DAG START, task START, task COMPLETE, DAG COMPLETE");
	PW_CHECK_STR(ev_str(evs, 0, "eventType", NULL), "START", "event 1 START");
	PW_CHECK_STR(ev_str(evs, 0, "job", "name"), "ol_unit", "event 1 is the DAG run's");
	PW_CHECK_STR(ev_str(evs, 1, "job", "name"), "ol_unit.make", "event 2 is the task's");
	PW_CHECK_STR(ev_str(evs, 2, "eventType", NULL), "COMPLETE", "event 3 COMPLETE");
	PW_CHECK_STR(ev_str(evs, 3, "eventType", NULL), "COMPLETE", "event 4 COMPLETE");
	PW_CHECK_STR(ev_str(evs, 1, "run", "runId"), ev_str(evs, 2, "run", "runId"),
		     "the task's START and COMPLETE share a runId");
	PW_CHECK_STR(ev_str(evs, 0, "schemaURL", NULL), PW_OL_SCHEMA_URL, "schemaURL");
	json_t *parent = json_object_get(
	    json_object_get(json_object_get(json_array_get(evs, 2), "run"), "facets"), "parent");
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(parent, "run"), "runId")),
		     ev_str(evs, 0, "run", "runId"), "the parent facet names the DAG run");
	json_t *out = json_array_get(json_object_get(json_array_get(evs, 2), "outputs"), 0);
	char *want = pw_xasprintf("%s/out.txt", ws);
	PW_CHECK_STR(json_string_value(json_object_get(out, "name")), want, "output dataset name");
	PW_CHECK_STR(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(out, "facets"), "version"), "datasetVersion")),
	    "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4",
	    "its version is sha256(\"hi\\n\")");
	free(want);
	json_decref(evs);

	/* ---- the file cannot be written: spooled, then delivered by the next open ---- */
	char *dir = pw_xasprintf("%s/later", tmp);
	char *file2 = pw_xasprintf("%s/ol.jsonl", dir);
	char *target2 = pw_xasprintf("file:%s", file2);
	char *ws2 = pw_xasprintf("%s/ws2", tmp);
	fprintf(stderr, "# a warning about %s is expected below\n", file2);
	PW_CHECK_INT(run_once(dag, target2, ws2, &left), 0, "the run succeeds all the same");
	PW_CHECK_INT(left, 4, "4 events wait in the spool");
	PW_CHECK(access(file2, F_OK) != 0, "the file does not exist");
	mkdir(dir, 0755);
	char err[256];
	pw_openlineage *ol = pw_openlineage_open(target2, dag, err, sizeof(err));
	PW_CHECK(ol != NULL, "open again");
	PW_CHECK_INT(pw_openlineage_close(ol), 0,
		     "the spool is delivered when the next run starts");
	PW_CHECK_INT(count_lines(file2, &evs), 4, "the 4 events are in the file");
	PW_CHECK_STR(ev_str(evs, 0, "job", "name"), "ol_unit", "in their order");
	json_decref(evs);

	pw_dag_free(dag);
	char *rm = pw_xasprintf("rm -rf '%s'", tmp);
	if (system(rm) != 0)
		fprintf(stderr, "# could not remove %s\n", tmp);
	free(rm);
	free(dir);
	free(file2);
	free(target2);
	free(ws2);
	free(file);
	free(target);
	free(ws);
	free(dagpath);
	PW_TEST_DONE();
}
