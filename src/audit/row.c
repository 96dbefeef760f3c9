#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "pitwall/audit.h"
#include "pitwall/sha256.h"

static void uuid_v4(char out[40])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* No entropy source: fall back on time and pid, still unique enough. */
		int64_t t = pw_now_wall_ms();
		memcpy(b, &t, 8);
		pid_t p = getpid();
		memcpy(b + 8, &p, sizeof(p));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

void pw_audit_row_set(char **field, const char *value)
{
	free(*field);
	*field = value ? pw_xstrdup(value) : NULL;
}

void pw_audit_row_init(pw_audit_row *r, const char *dag_id, const char *dag_run_id,
		       const char *task_id, const char *event_type)
{
	memset(r, 0, sizeof(*r));
	uuid_v4(r->audit_id);
	pw_format_iso8601_ms(pw_now_wall_ms(), r->timestamp, sizeof(r->timestamp));
	pw_audit_row_set(&r->dag_id, dag_id);
	pw_audit_row_set(&r->dag_run_id, dag_run_id);
	pw_audit_row_set(&r->task_id, task_id);
	pw_audit_row_set(&r->event_type, event_type);
	pw_audit_row_set(&r->metadata, "{}");
}

void pw_audit_row_release(pw_audit_row *r)
{
	free(r->dag_id);
	free(r->dag_run_id);
	free(r->task_id);
	free(r->event_type);
	free(r->actor);
	free(r->resource);
	free(r->action);
	free(r->status);
	free(r->metadata);
	free(r->git_commit_sha);
	free(r->container_image_digest);
	memset(r, 0, sizeof(*r));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int pw_audit_canonicalize_metadata(char **metadata)
{
	json_error_t e;
	json_t *m = json_loads(*metadata ? *metadata : "{}", JSON_DECODE_ANY, &e);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		return -1;
	}
	char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(m);
	free(*metadata);
	*metadata = s;
	return 0;
}

static json_t *row_object(const pw_audit_row *r, bool with_hashes)
{
	json_error_t e;
	json_t *o = json_object();
	json_t *meta = json_loads(r->metadata ? r->metadata : "{}", JSON_DECODE_ANY, &e);
	if (!meta)
		meta = json_string(r->metadata ? r->metadata : "");
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
	if (with_hashes) {
		json_object_set_new(o, "prev_hash", json_string(r->prev_hash));
		json_object_set_new(o, "hash", json_string(r->hash));
	}
	return o;
}

char *pw_audit_row_canonical(const pw_audit_row *r)
{
	json_t *o = row_object(r, false);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

void pw_audit_row_hash(const pw_audit_row *r, char out[65])
{
	char *canon = pw_audit_row_canonical(r);
	pw_sha256 s;
	uint8_t d[32];
	pw_sha256_init(&s);
	pw_sha256_update(&s, r->prev_hash, strlen(r->prev_hash));
	pw_sha256_update(&s, canon, strlen(canon));
	pw_sha256_final(&s, d);
	pw_sha256_to_hex(d, out);
	free(canon);
}

char *pw_audit_row_to_json(const pw_audit_row *r)
{
	json_t *o = row_object(r, true);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

static char *dup_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? pw_xstrdup(json_string_value(v)) : NULL;
}

int pw_audit_row_from_json(pw_audit_row *r, const char *line)
{
	json_error_t e;
	json_t *o = json_loads(line, 0, &e);
	memset(r, 0, sizeof(*r));
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	const char *id = json_string_value(json_object_get(o, "audit_id"));
	const char *ts = json_string_value(json_object_get(o, "timestamp"));
	if (!id || !ts || strlen(id) >= sizeof(r->audit_id) || strlen(ts) >= sizeof(r->timestamp)) {
		json_decref(o);
		return -1;
	}
	snprintf(r->audit_id, sizeof(r->audit_id), "%s", id);
	snprintf(r->timestamp, sizeof(r->timestamp), "%s", ts);
	r->seq = json_integer_value(json_object_get(o, "seq"));
	r->dag_id = dup_field(o, "dag_id");
	r->dag_run_id = dup_field(o, "dag_run_id");
	r->task_id = dup_field(o, "task_id");
	r->event_type = dup_field(o, "event_type");
	r->actor = dup_field(o, "actor");
	r->resource = dup_field(o, "resource");
	r->action = dup_field(o, "action");
	r->status = dup_field(o, "status");
	r->git_commit_sha = dup_field(o, "git_commit_sha");
	r->container_image_digest = dup_field(o, "container_image_digest");
	json_t *m = json_object_get(o, "metadata");
	r->metadata =
	    m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : pw_xstrdup("{}");
	const char *ph = json_string_value(json_object_get(o, "prev_hash"));
	const char *h = json_string_value(json_object_get(o, "hash"));
	snprintf(r->prev_hash, sizeof(r->prev_hash), "%s", ph ? ph : "");
	snprintf(r->hash, sizeof(r->hash), "%s", h ? h : "");
	json_decref(o);
	if (!r->dag_id || !r->dag_run_id || !r->event_type) {
		pw_audit_row_release(r);
		return -1;
	}
	return 0;
}
