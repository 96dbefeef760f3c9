#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "pitwall/audit.h"
#include "pitwall/sha256.h"

/*
 * A version 7 UUID (RFC 9562): 48 bits of Unix time in ms, then random
 * bits.  Time-ordered ids land at the end of the audit_id index instead of
 * on a random page, which halves the pages an append writes.
 */
static void uuid_v7(char out[40])
{
	unsigned char b[16];
	uint64_t t = (uint64_t)pw_now_wall_ms();
	if (getrandom(b + 6, 10, 0) != 10) {
		/* No entropy source: fall back on the pid and a counter. */
		static uint32_t counter;
		uint32_t c = ++counter;
		pid_t p = getpid();
		memcpy(b + 6, &p, sizeof(p));
		memcpy(b + 10, &c, sizeof(c));
	}
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(t >> (40 - 8 * i));
	b[6] = (b[6] & 0x0f) | 0x70;
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
	uuid_v7(r->audit_id);
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

/*
 * One UTF-8 sequence at s: its code point and length, or 0 when it is not
 * valid UTF-8 by jansson's rules (no overlong forms, no surrogates, at most
 * U+10FFFF).
 */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	*cp = v;
	return n;
}

/*
 * ,"key":"value" as jansson's json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII)
 * writes it; like json_object_set_new(o, key, json_string(value)), a value
 * that is not valid UTF-8 leaves the key out.
 */
static void canon_str(pw_strbuf *sb, const char *key, const char *value)
{
	size_t mark = sb->len;
	pw_strbuf_addf(sb, "%s\"%s\":", mark > 1 ? "," : "", key);
	if (!value) {
		pw_strbuf_adds(sb, "null");
		return;
	}
	pw_strbuf_addc(sb, '"');
	const unsigned char *p = (const unsigned char *)value;
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p <= 0x7F && *p != '"' && *p != '\\')
			p++;
		pw_strbuf_add(sb, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		uint32_t cp;
		size_t n = utf8_next(p, &cp);
		if (!n) {
			sb->len = mark;
			sb->buf[mark] = '\0';
			return;
		}
		p += n;
		switch (cp) {
		case '\\': pw_strbuf_adds(sb, "\\\\"); break;
		case '"': pw_strbuf_adds(sb, "\\\""); break;
		case '\b': pw_strbuf_adds(sb, "\\b"); break;
		case '\f': pw_strbuf_adds(sb, "\\f"); break;
		case '\n': pw_strbuf_adds(sb, "\\n"); break;
		case '\r': pw_strbuf_adds(sb, "\\r"); break;
		case '\t': pw_strbuf_adds(sb, "\\t"); break;
		default:
			if (cp < 0x20 || (cp > 0x7F && cp <= 0xFFFF)) {
				pw_strbuf_addf(sb, "\\u%04X", (unsigned)cp);
			} else if (cp > 0xFFFF) {
				cp -= 0x10000;
				pw_strbuf_addf(sb, "\\u%04X\\u%04X", 0xD800 | (unsigned)(cp >> 10),
					       0xDC00 | (unsigned)(cp & 0x3FF));
			} else {
				pw_strbuf_addc(sb, (char)cp);
			}
		}
	}
	pw_strbuf_addc(sb, '"');
}

/*
 * The canonical JSON, written directly: it is hashed for every row appended
 * and verified, and building it with jansson cost more than the insert.
 * The bytes are those of json_dumps(row_object(r, false), JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII) (tests/unit/test_audit.c compares
 * the two), given that metadata is already canonical, as append and every
 * backend's query make it.
 */
char *pw_audit_row_canonical(const pw_audit_row *r)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addc(&sb, '{');
	/* keys in strcmp order */
	canon_str(&sb, "action", r->action);
	canon_str(&sb, "actor", r->actor);
	canon_str(&sb, "audit_id", r->audit_id);
	canon_str(&sb, "container_image_digest", r->container_image_digest);
	canon_str(&sb, "dag_id", r->dag_id);
	canon_str(&sb, "dag_run_id", r->dag_run_id);
	canon_str(&sb, "event_type", r->event_type);
	canon_str(&sb, "git_commit_sha", r->git_commit_sha);
	pw_strbuf_addf(&sb, "%s\"metadata\":%s", sb.len > 1 ? "," : "",
		       r->metadata ? r->metadata : "{}");
	canon_str(&sb, "resource", r->resource);
	pw_strbuf_addf(&sb, ",\"seq\":%lld", (long long)r->seq);
	canon_str(&sb, "status", r->status);
	canon_str(&sb, "task_id", r->task_id);
	canon_str(&sb, "timestamp", r->timestamp);
	pw_strbuf_addc(&sb, '}');
	return pw_strbuf_detach(&sb);
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

void pw_audit_row_copy(pw_audit_row *dst, const pw_audit_row *src)
{
	*dst = *src;
	char **fields[] = {&dst->dag_id,
			   &dst->dag_run_id,
			   &dst->task_id,
			   &dst->event_type,
			   &dst->actor,
			   &dst->resource,
			   &dst->action,
			   &dst->status,
			   &dst->metadata,
			   &dst->git_commit_sha,
			   &dst->container_image_digest};
	for (size_t i = 0; i < PW_ARRAY_SIZE(fields); i++)
		*fields[i] = *fields[i] ? pw_xstrdup(*fields[i]) : NULL;
}
