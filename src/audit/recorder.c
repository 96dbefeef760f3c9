#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/events.h"
#include "pitwall/recorder.h"
#include "pitwall/sha256.h"

void pw_recorder_init(pw_recorder *r, pw_audit_store *store, const pw_dag *dag, const char *actor)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->store = store;
	r->dag = dag;
	r->actor = actor ? pw_xstrdup(actor) : pw_default_actor();
	pw_sha256_hex(dag->text ? dag->text : "", dag->text ? dag->text_len : 0, r->dag_sha256);
	/*
	 * The dirty flag covers the task programs too: an executable (or
	 * script) tracked in the DAG's repository that differs from HEAD.
	 */
	char **paths = pw_xcalloc(dag->ntasks + 1, sizeof(*paths));
	size_t np = 0;
	const char *path_env = getenv("PATH");
	for (size_t i = 0; i < dag->ntasks; i++) {
		const pw_task *t = &dag->tasks[i];
		if (!t->argv || !t->argv[0] || strstr(t->argv[0], "{{"))
			continue;
		char *found = NULL;
		if (t->argv[0][0] == '/') {
			found = pw_xstrdup(t->argv[0]);
		} else if (!strchr(t->argv[0], '/') && path_env) {
			char *pe = pw_xstrdup(path_env), *save = NULL;
			for (char *d = strtok_r(pe, ":", &save); d && !found;
			     d = strtok_r(NULL, ":", &save)) {
				char *cand = pw_xasprintf("%s/%s", d, t->argv[0]);
				if (access(cand, X_OK) == 0)
					found = cand;
				else
					free(cand);
			}
			free(pe);
		}
		if (found)
			paths[np++] = found;
	}
	pw_git_describe(dag->path, (const char *const *)paths, np, &r->git);
	for (size_t i = 0; i < np; i++)
		free(paths[i]);
	free(paths);
}

struct pw_recorder_batch {
	struct pw_recorder_batch *next;
	pw_audit_row *rows;
	size_t n;
};

static void write_batch(pw_recorder *r, pw_audit_row *rows, size_t n, pw_strbuf *err)
{
	pw_strbuf_reset(err);
	if (pw_audit_append(r->store, rows, n, err) != 0) {
		fprintf(stderr, "pitwall: error: could not record %zu audit event%s: %s\n", n,
			n == 1 ? "" : "s", err->buf ? err->buf : "?");
		pthread_mutex_lock(&r->mu);
		r->failures++;
		pthread_mutex_unlock(&r->mu);
	} else {
		pthread_mutex_lock(&r->mu);
		r->written += n;
		pthread_mutex_unlock(&r->mu);
	}
	for (size_t i = 0; i < n; i++)
		pw_audit_row_release(&rows[i]);
	free(rows);
}

static void *writer_main(void *arg)
{
	pw_recorder *r = arg;
	pw_strbuf err = PW_STRBUF_INIT;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->qhead && !r->stopping)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->qhead)
			break;
		struct pw_recorder_batch *b = r->qhead;
		r->qhead = b->next;
		if (!r->qhead)
			r->qtail = NULL;
		r->busy = true;
		pthread_mutex_unlock(&r->mu);
		write_batch(r, b->rows, b->n, &err);
		free(b);
		pthread_mutex_lock(&r->mu);
		r->busy = false;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	pw_strbuf_release(&err);
	return NULL;
}

/* Hand the pending rows to the writer thread (started on first use). */
static void enqueue(pw_recorder *r)
{
	if (!r->n)
		return;
	if (!r->thread_started) {
		/* All signals stay with the event loop's signalfd. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r->thread_started = pthread_create(&r->thread, NULL, writer_main, r) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!r->thread_started) {
			write_batch(r, r->buf, r->n, &r->err);
			r->buf = NULL;
			r->n = r->cap = 0;
			return;
		}
	}
	struct pw_recorder_batch *b = pw_xmalloc(sizeof(*b));
	b->next = NULL;
	b->rows = r->buf;
	b->n = r->n;
	r->buf = NULL;
	r->n = r->cap = 0;
	pthread_mutex_lock(&r->mu);
	if (r->qtail)
		r->qtail->next = b;
	else
		r->qhead = b;
	r->qtail = b;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void wait_idle(pw_recorder *r)
{
	if (!r->thread_started)
		return;
	pthread_mutex_lock(&r->mu);
	while (r->qhead || r->busy)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

void pw_recorder_release(pw_recorder *r)
{
	pw_recorder_flush(r);
	if (r->thread_started) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	for (size_t i = 0; i < r->n; i++)
		pw_audit_row_release(&r->buf[i]);
	free(r->buf);
	free(r->actor);
	pw_git_info_release(&r->git);
	pw_strbuf_release(&r->err);
	memset(r, 0, sizeof(*r));
}

/* The spec's "action" column: what the event did to its resource. */
static const char *action_of(pw_event_type t)
{
	switch (t) {
	case PW_EV_DAG_RUN_START:
	case PW_EV_TASK_START: return "execute";
	case PW_EV_TASK_QUEUED: return "queue";
	case PW_EV_TASK_RETRY: return "retry";
	case PW_EV_TASK_END:
	case PW_EV_DAG_RUN_END: return "complete";
	case PW_EV_LINEAGE: return "write";
	case PW_EV_HOOK: return "notify";
	case PW_EV_COST_TASK:
	case PW_EV_COST_RUN: return "charge";
	case PW_EV_BUDGET_WARN: return "warn";
	case PW_EV_BUDGET_THROTTLE: return "throttle";
	case PW_EV_BUDGET_STOP: return "refuse";
	case PW_EV_BUDGET_RUN_EXCEEDED: return "stop";
	}
	return NULL;
}

static char *add_run_start_fields(pw_recorder *r, const char *md)
{
	json_error_t e;
	json_t *o = json_loads(md, 0, &e);
	if (!o)
		o = json_object();
	json_object_set_new(o, "dag_sha256", json_string(r->dag_sha256));
	json_object_set_new(
	    o, "dag_text",
	    json_stringn(r->dag->text ? r->dag->text : "", r->dag->text ? r->dag->text_len : 0));
	json_object_set_new(o, "git_commit_sha", json_string(r->git.sha));
	json_object_set_new(o, "git_dirty", json_boolean(r->git.dirty));
	if (r->git.dirty_paths)
		json_object_set_new(o, "git_dirty_paths", json_string(r->git.dirty_paths));
	if (r->extra_run_json) {
		json_t *x = json_loads(r->extra_run_json, 0, &e);
		if (json_is_object(x))
			json_object_update(o, x);
		json_decref(x);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void pw_recorder_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev)
{
	pw_recorder *r = payload;
	const pw_dag *dag = pw_run_ctx_dag(ctx);
	PW_GROW(r->buf, r->cap, r->n + 1);
	if (!r->n)
		r->first_pending_ms = pw_now_mono_ms();
	pw_audit_row *row = &r->buf[r->n++];
	pw_audit_row_init(row, dag->dag_id, pw_run_ctx_run_id(ctx),
			  ev->task ? ev->task->task_id : NULL, pw_event_type_name(ev->type));
	char ts[32];
	pw_format_iso8601_ms(ev->wall_ms, ts, sizeof(ts));
	memcpy(row->timestamp, ts, sizeof(ts));
	pw_audit_row_set(&row->actor, r->actor);
	pw_audit_row_set(&row->action, action_of(ev->type));
	pw_audit_row_set(&row->git_commit_sha, r->git.sha);
	pw_audit_row_set(&row->container_image_digest, ev->image_digest);

	const char *status = NULL;
	switch (ev->type) {
	case PW_EV_DAG_RUN_START: status = "running"; break;
	case PW_EV_TASK_QUEUED: status = "queued"; break;
	case PW_EV_TASK_START: status = "running"; break;
	case PW_EV_TASK_RETRY: status = pw_task_state_name(ev->state); break;
	case PW_EV_TASK_END: status = pw_task_state_name(ev->state); break;
	case PW_EV_LINEAGE: status = "success"; break;
	case PW_EV_HOOK: status = "info"; break;
	case PW_EV_COST_TASK: status = pw_task_state_name(ev->state); break;
	case PW_EV_COST_RUN: status = "recorded"; break;
	case PW_EV_BUDGET_WARN: status = "warning"; break;
	case PW_EV_BUDGET_THROTTLE: status = "throttled"; break;
	case PW_EV_BUDGET_STOP: status = "refused"; break;
	case PW_EV_BUDGET_RUN_EXCEEDED: status = "cost_exceeded"; break;
	case PW_EV_DAG_RUN_END: {
		json_error_t e;
		json_t *m = json_loads(ev->metadata_json, 0, &e);
		status = NULL;
		pw_audit_row_set(&row->status,
				 m ? json_string_value(json_object_get(m, "status")) : NULL);
		json_decref(m);
		break;
	}
	}
	if (status)
		pw_audit_row_set(&row->status, status);

	/* resource: what the event is about (the DAG file, the task's log). */
	if (ev->type == PW_EV_DAG_RUN_START || ev->type == PW_EV_DAG_RUN_END)
		pw_audit_row_set(&row->resource, dag->path);
	else if (ev->attempt && ev->attempt->resource)
		pw_audit_row_set(&row->resource, ev->attempt->resource);
	else if (ev->attempt && ev->attempt->log_path)
		pw_audit_row_set(&row->resource, ev->attempt->log_path);

	/* resource is VARCHAR(512) in PostgreSQL: keep its tail, the informative end. */
	if (row->resource && strlen(row->resource) > 512) {
		char *tail = pw_xasprintf("...%s", row->resource + strlen(row->resource) - 509);
		free(row->resource);
		row->resource = tail;
	}

	pw_strbuf md = PW_STRBUF_INIT;
	if (ev->type == PW_EV_DAG_RUN_START) {
		char *s = add_run_start_fields(r, ev->metadata_json);
		pw_strbuf_adds(&md, s);
		free(s);
	} else {
		pw_strbuf_adds(&md, ev->metadata_json ? ev->metadata_json : "{}");
	}
	/* The message goes into the metadata so the audit row reads on its own. */
	if (ev->message && md.len >= 2 && md.buf[md.len - 1] == '}') {
		md.buf[--md.len] = '\0';
		pw_strbuf_adds(&md, md.len > 1 ? ",\"message\":" : "\"message\":");
		pw_strbuf_add_json_str(&md, ev->message);
		pw_strbuf_addc(&md, '}');
	}
	free(row->metadata);
	row->metadata = pw_strbuf_detach(&md);

	if (ev->type == PW_EV_DAG_RUN_START || ev->type == PW_EV_DAG_RUN_END)
		pw_recorder_flush(r);
}

#define BATCH_MS 50
#define BATCH_ROWS 512

int64_t pw_recorder_deadline(void *payload)
{
	pw_recorder *r = payload;
	return r->n ? r->first_pending_ms + BATCH_MS : 0;
}

void pw_recorder_flush_due(void *payload)
{
	pw_recorder *r = payload;
	if (r->n && (r->n >= BATCH_ROWS || pw_now_mono_ms() >= r->first_pending_ms + BATCH_MS))
		enqueue(r);
}

void pw_recorder_flush(void *payload)
{
	pw_recorder *r = payload;
	enqueue(r);
	wait_idle(r);
}
