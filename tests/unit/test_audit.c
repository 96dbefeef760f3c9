/*
 * The audit store's pure parts: redacting passwords from connection
 * strings, the canonical JSON and hash of a row (a golden value computed
 * independently, with Python's hashlib), the spool's JSON round trip, and
 * the SQLite backend's chain on a temporary file.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pitwall/audit.h"
#include "pw_test.h"

static void check_redact(const char *in, const char *want)
{
	char *got = pw_redact_conninfo(in);
	PW_CHECK_STR(got, want, "redact: %s", want);
	free(got);
}

static void golden_row(pw_audit_row *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->audit_id, sizeof(r->audit_id), "8b0a3c8e-2f7c-4d7e-9c61-0f3b7d1e2a45");
	snprintf(r->timestamp, sizeof(r->timestamp), "2026-02-14T12:00:00.123Z");
	r->seq = 7;
	pw_audit_row_set(&r->dag_id, "smoke");
	pw_audit_row_set(&r->dag_run_id, "smoke_1");
	pw_audit_row_set(&r->task_id, "extract");
	pw_audit_row_set(&r->event_type, "task_start");
	pw_audit_row_set(&r->actor, "ci@host");
	pw_audit_row_set(&r->action, "execute");
	pw_audit_row_set(&r->status, "running");
	pw_audit_row_set(&r->git_commit_sha, "abc123");
	pw_audit_row_set(&r->metadata,
			 "{ \"c\": [true, null, 1.5], \"b\": 1, \"a\": \"\xc3\xa9\\n\" }");
	snprintf(r->prev_hash, sizeof(r->prev_hash), "%s", PW_AUDIT_GENESIS_HASH);
}

/* The canonical JSON as jansson writes it: what pw_audit_row_canonical must match. */
static json_t *str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

static char *reference_canonical(const pw_audit_row *r)
{
	json_error_t e;
	json_t *o = json_object();
	json_t *meta = json_loads(r->metadata ? r->metadata : "{}", JSON_DECODE_ANY, &e);
	json_object_set_new(o, "audit_id", json_string(r->audit_id));
	json_object_set_new(o, "seq", json_integer(r->seq));
	json_object_set_new(o, "timestamp", json_string(r->timestamp));
	json_object_set_new(o, "dag_id", str_or_null(r->dag_id));
	json_object_set_new(o, "dag_run_id", str_or_null(r->dag_run_id));
	json_object_set_new(o, "task_id", str_or_null(r->task_id));
	json_object_set_new(o, "event_type", str_or_null(r->event_type));
	json_object_set_new(o, "actor", str_or_null(r->actor));
	json_object_set_new(o, "resource", str_or_null(r->resource));
	json_object_set_new(o, "action", str_or_null(r->action));
	json_object_set_new(o, "status", str_or_null(r->status));
	json_object_set_new(o, "metadata", meta);
	json_object_set_new(o, "git_commit_sha", str_or_null(r->git_commit_sha));
	json_object_set_new(o, "container_image_digest", str_or_null(r->container_image_digest));
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

static unsigned long long rng = 88172645463325252ULL;
static unsigned next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 11);
}

/* Text that is often valid UTF-8 with escapes and non-ASCII, sometimes not. */
static char *random_text(void)
{
	static const char *const pieces[] = {"a",
					     "Z",
					     "0",
					     " ",
					     "/",
					     "\\",
					     "\"",
					     "\n",
					     "\t",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "\xc3\xa9",
					     "\xe2\x82\xac",
					     "\xf0\x9f\x8f\x81",
					     "\xed\xa0\x80",
					     "\xc0\xaf",
					     "\xff",
					     "\xe2\x82",
					     "{}"};
	pw_strbuf sb = PW_STRBUF_INIT;
	int n = (int)(next_rand() % 12);
	pw_strbuf_adds(&sb, "");
	for (int i = 0; i < n; i++)
		pw_strbuf_adds(&sb, pieces[next_rand() % PW_ARRAY_SIZE(pieces)]);
	return pw_strbuf_detach(&sb);
}

static int count_rows(const pw_audit_row *r, void *payload)
{
	(void)r;
	(*(int *)payload)++;
	return 0;
}

int main(void)
{
	check_redact("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db");
	check_redact("postgresql://u:p@ss@h:5/db?sslmode=require",
		     "postgresql://u:***@h:5/db?sslmode=require");
	check_redact("postgresql://h/db?user=x&password=sec&sslmode=require",
		     "postgresql://h/db?user=x&password=***&sslmode=require");
	check_redact("postgresql://u@h/db", "postgresql://u@h/db");
	check_redact("host=h password=sec dbname=d", "host=h password=*** dbname=d");
	check_redact("host=h password = sec dbname=d", "host=h password = *** dbname=d");
	check_redact("host=h password='s e\\'c' dbname=d", "host=h password=*** dbname=d");
	check_redact("host=h sslpassword=sec", "host=h sslpassword=***");
	check_redact("host=passwordhost dbname=password", "host=passwordhost dbname=password");
	check_redact("service=pitwall", "service=pitwall");

	pw_audit_row r;
	golden_row(&r);
	PW_CHECK_INT(pw_audit_canonicalize_metadata(&r.metadata), 0, "metadata canonicalizes");
	PW_CHECK_STR(r.metadata, "{\"a\":\"\\u00E9\\n\",\"b\":1,\"c\":[true,null,1.5]}",
		     "canonical metadata: sorted, compact, ASCII with upper-case \\u escapes");
	char *canon = pw_audit_row_canonical(&r);
	PW_CHECK_STR(
	    canon,
	    "{\"action\":\"execute\",\"actor\":\"ci@host\",\"audit_id\":\"8b0a3c8e-2f7c-4d7e-"
	    "9c61-0f3b7d1e2a45\",\"container_image_digest\":null,\"dag_id\":\"smoke\","
	    "\"dag_run_id\":\"smoke_1\",\"event_type\":\"task_start\",\"git_commit_sha\":"
	    "\"abc123\",\"metadata\":{\"a\":\"\\u00E9\\n\",\"b\":1,\"c\":[true,null,1.5]},"
	    "\"resource\":null,\"seq\":7,\"status\":\"running\",\"task_id\":\"extract\","
	    "\"timestamp\":\"2026-02-14T12:00:00.123Z\"}",
	    "canonical row: every column but prev_hash and hash, keys sorted");
	free(canon);
	pw_audit_row_hash(&r, r.hash);
	PW_CHECK_STR(r.hash, "146742b389a4ed1fd1c1d86bd9f25ba9dbf7f253e42826b5d793045de61fcee2",
		     "hash = sha256(prev_hash || canonical JSON) (golden value from Python)");
	char *arr = pw_xstrdup("[1]");
	PW_CHECK_INT(pw_audit_canonicalize_metadata(&arr), -1,
		     "metadata that is not an object is refused");
	free(arr);

	/* The hand-written canonical JSON is byte for byte jansson's. */
	int same = 0, tries = 3000;
	char *first_diff = NULL;
	for (int i = 0; i < tries; i++) {
		pw_audit_row x;
		golden_row(&x);
		char **fields[] = {&x.dag_id,	      &x.dag_run_id,
				   &x.task_id,	      &x.event_type,
				   &x.actor,	      &x.resource,
				   &x.action,	      &x.status,
				   &x.git_commit_sha, &x.container_image_digest};
		for (size_t k = 0; k < PW_ARRAY_SIZE(fields); k++) {
			free(*fields[k]);
			*fields[k] = next_rand() % 5 ? random_text() : NULL;
		}
		x.seq = (int64_t)next_rand() * (next_rand() % 2 ? 1 : -1);
		json_t *m = json_object();
		char *k1 = random_text(), *v1 = random_text();
		json_object_set_new(m, k1, json_string(v1)); /* dropped when not UTF-8 */
		json_object_set_new(m, "n", json_real(1.0 / (1 + next_rand() % 7)));
		json_object_set_new(m, "i", json_integer(next_rand()));
		free(x.metadata);
		x.metadata = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		free(k1);
		free(v1);
		pw_audit_canonicalize_metadata(&x.metadata);
		char *want = reference_canonical(&x), *got = pw_audit_row_canonical(&x);
		if (strcmp(want, got) == 0)
			same++;
		else if (!first_diff)
			first_diff = pw_xasprintf("want %s\n#   got  %s", want, got);
		free(want);
		free(got);
		pw_audit_row_release(&x);
	}
	PW_CHECK_INT(same, tries, "canonical JSON equals jansson's on %d random rows", tries);
	if (first_diff)
		printf("#   %s\n", first_diff);
	free(first_diff);

	char *line = pw_audit_row_to_json(&r);
	pw_audit_row back;
	PW_CHECK_INT(pw_audit_row_from_json(&back, line), 0, "spool line parses back");
	char h[65];
	pw_audit_row_hash(&back, h);
	PW_CHECK_STR(h, r.hash, "a row read back from its JSON line hashes the same");
	PW_CHECK_STR(back.prev_hash, r.prev_hash, "... with its prev_hash");
	free(line);
	pw_audit_row_release(&back);
	pw_audit_row_release(&r);

	/* SQLite: two batches make one chain; verify walks it. */
	char dir[] = "/tmp/pw-test-audit.XXXXXX";
	int made = mkdtemp(dir) != NULL; /* PW_CHECK evaluates its condition twice */
	PW_CHECK(made, "temp dir");
	setenv("PITWALL_HOME", dir, 1); /* the state dir (spool) goes there too */
	char *path = pw_xasprintf("%s/audit.db", dir);
	pw_audit_store *s = NULL;
	pw_strbuf err = PW_STRBUF_INIT;
	PW_CHECK_INT(pw_audit_open(&s, path, &err), 0, "open sqlite:%s", path);
	if (s) {
		pw_audit_row rows[3];
		for (int i = 0; i < 3; i++) {
			pw_audit_row_init(&rows[i], "d", "run_1", i ? "t" : NULL,
					  i ? "task_start" : "dag_run_start");
			pw_audit_row_set(&rows[i].metadata, "{\"i\": 1}");
		}
		PW_CHECK_INT(pw_audit_append(s, rows, 2, &err), 0, "append 2 rows");
		PW_CHECK_INT(pw_audit_append(s, rows + 2, 1, &err), 0, "append 1 more");
		PW_CHECK_INT(rows[2].seq, 3, "seq numbers rows 1, 2, 3");
		PW_CHECK_STR(rows[2].prev_hash, rows[1].hash, "prev_hash links to the row before");
		PW_CHECK_STR(rows[1].metadata, "{\"i\":1}", "metadata stored canonical");
		pw_audit_verify_result v;
		PW_CHECK_INT(pw_audit_verify(s, &v, &err), 0, "verify runs");
		PW_CHECK(v.ok && v.rows == 3, "verify: ok, 3 rows");
		int n = 0;
		pw_audit_filter f = {.dag_run_id = "run_1", .event_type = "task_start"};
		pw_audit_query(s, &f, count_rows, &n, &err);
		PW_CHECK_INT(n, 2, "query by run and event type");
		PW_CHECK_INT(pw_audit_spool_pending(s), 0, "sqlite never spools");
		for (int i = 0; i < 3; i++)
			pw_audit_row_release(&rows[i]);
		pw_audit_close(s);
	}
	pw_strbuf_release(&err);
	char *rm = pw_xasprintf("rm -rf '%s'", dir);
	PW_CHECK_INT(system(rm), 0, "clean up");
	free(rm);
	free(path);
	PW_TEST_DONE();
}
