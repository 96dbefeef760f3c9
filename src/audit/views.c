#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pitwall/dag.h"
#include "pitwall/run.h"
#include "pitwall/views.h"

static void set(char **f, const char *v)
{
	free(*f);
	*f = v ? pw_xstrdup(v) : NULL;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static pw_task_view *task_slot(pw_run_view *v, const char *id)
{
	pw_task_view *t = pw_run_view_task(v, id);
	if (t)
		return t;
	v->tasks = pw_xrealloc(v->tasks, (v->ntasks + 1) * sizeof(*v->tasks));
	t = &v->tasks[v->ntasks++];
	memset(t, 0, sizeof(*t));
	t->task_id = pw_xstrdup(id);
	t->state = pw_xstrdup("pending");
	t->exit_code = -1;
	return t;
}

pw_task_view *pw_run_view_task(pw_run_view *v, const char *task_id)
{
	for (size_t i = 0; i < v->ntasks; i++)
		if (strcmp(v->tasks[i].task_id, task_id) == 0)
			return &v->tasks[i];
	return NULL;
}

static void apply_end(pw_task_view *t, json_t *m, const char *status, bool final)
{
	json_t *ec = json_object_get(m, "exit_code"), *sg = json_object_get(m, "signal");
	if (json_object_get(m, "attempt")) {
		t->exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;
		t->signal = json_is_integer(sg) ? (int)json_integer_value(sg) : 0;
		t->duration_ms += json_integer_value(json_object_get(m, "duration_ms"));
		set(&t->error, jstr(m, "error"));
		if (jstr(m, "log"))
			set(&t->log, jstr(m, "log"));
		set(&t->log_sha256, jstr(m, "log_sha256"));
	}
	set(&t->state, final ? status : "retry_wait");
	t->pid = 0;
	t->slurm_job = 0;
}

static int fold_row(const pw_audit_row *r, void *payload)
{
	pw_run_view *v = payload;
	json_error_t e;
	json_t *m = json_loads(r->metadata ? r->metadata : "{}", 0, &e);
	v->events++;
	const char *ev = r->event_type;
	if (strcmp(ev, "dag_run_start") == 0) {
		set(&v->dag_id, r->dag_id);
		set(&v->run_id, r->dag_run_id);
		set(&v->started, r->timestamp);
		set(&v->actor, jstr(m, "actor") ? jstr(m, "actor") : r->actor);
		set(&v->git_sha, r->git_commit_sha);
		set(&v->logical_date, jstr(m, "logical_date"));
		set(&v->workspace, jstr(m, "workspace"));
		set(&v->dag_file, jstr(m, "dag_file"));
		set(&v->dag_text, jstr(m, "dag_text"));
		set(&v->dag_sha256, jstr(m, "dag_sha256"));
		v->seed = (uint64_t)json_integer_value(json_object_get(m, "seed"));
		v->executions++;
		v->pid = (int)json_integer_value(json_object_get(m, "pid"));
		v->pid_start =
		    (unsigned long long)json_integer_value(json_object_get(m, "pid_start"));
		set(&v->status, "running");
		set(&v->ended, NULL);
	} else if (strcmp(ev, "dag_run_end") == 0) {
		set(&v->status, r->status);
		set(&v->ended, r->timestamp);
		v->duration_ms = json_integer_value(json_object_get(m, "duration_ms"));
	} else if (r->task_id) {
		pw_task_view *t = task_slot(v, r->task_id);
		t->last_seq = r->seq;
		if (strcmp(ev, "task_queued") == 0) {
			set(&t->state, "queued");
		} else if (strcmp(ev, "task_start") == 0) {
			set(&t->state, "running");
			t->attempts = (int)json_integer_value(json_object_get(m, "attempt"));
			t->pid = (int)json_integer_value(json_object_get(m, "pid"));
			t->pid_start =
			    (unsigned long long)json_integer_value(json_object_get(m, "pid_start"));
			t->slurm_job = (int64_t)json_integer_value(
			    json_object_get(json_object_get(m, "slurm"), "job_id"));
			if (jstr(m, "log"))
				set(&t->log, jstr(m, "log"));
		} else if (strcmp(ev, "task_retry") == 0) {
			apply_end(t, m, r->status, false);
		} else if (strcmp(ev, "task_end") == 0) {
			apply_end(t, m, r->status, true);
		}
	}
	json_decref(m);
	return 0;
}

void pw_run_view_fold(pw_run_view *v, const pw_audit_row *r)
{
	fold_row(r, v);
}

void pw_run_view_seed_tasks(pw_run_view *v)
{
	if (!v->dag_text)
		return;
	pw_dag *dag = NULL;
	pw_diags d = PW_DIAGS_INIT;
	if (pw_dag_load_buffer(&dag, v->dag_file ? v->dag_file : "recorded.yaml", v->dag_text,
			       strlen(v->dag_text), &d) == 0) {
		for (size_t i = 0; i < dag->ntasks; i++)
			task_slot(v, dag->tasks[i].task_id);
		pw_dag_free(dag);
	}
	pw_diags_release(&d);
}

pw_dag *pw_run_view_recorded_dag(const pw_run_view *v)
{
	pw_dag *dag = NULL;
	pw_diags d = PW_DIAGS_INIT;
	if (!v->dag_text)
		return NULL;
	if (pw_dag_load_buffer(&dag, v->dag_file ? v->dag_file : "recorded.yaml", v->dag_text,
			       strlen(v->dag_text), &d) != 0) {
		pw_diags_print(&d, stderr);
		dag = NULL;
	}
	pw_diags_release(&d);
	return dag;
}

bool pw_run_view_orphaned(const pw_run_view *v)
{
	if (!v->pid)
		return true;
	unsigned long long st = pw_proc_start_time(v->pid);
	return st == 0 || st != v->pid_start;
}

int pw_run_view_load(pw_audit_store *s, const char *run_id, pw_run_view *out, pw_strbuf *err)
{
	memset(out, 0, sizeof(*out));
	/* Seed the task list in file order from the recorded DAG text, if any. */
	pw_audit_filter f = {.dag_run_id = run_id, .event_type = "dag_run_start", .limit = 1};
	pw_run_view head;
	memset(&head, 0, sizeof(head));
	if (pw_audit_query(s, &f, fold_row, &head, err) != 0) {
		pw_run_view_release(&head);
		return -1;
	}
	if (head.dag_text) {
		out->dag_text = head.dag_text;
		out->dag_file = head.dag_file;
		pw_run_view_seed_tasks(out);
		out->dag_text = out->dag_file = NULL;
	}
	pw_run_view_release(&head);

	pw_audit_filter all = {.dag_run_id = run_id};
	if (pw_audit_query(s, &all, fold_row, out, err) != 0)
		return -1;
	if (!out->run_id)
		return 1;
	if (strcmp(out->status, "running") == 0 && pw_run_view_orphaned(out))
		set(&out->status, "interrupted");
	return 0;
}

static void task_view_release(pw_task_view *t)
{
	free(t->task_id);
	free(t->state);
	free(t->error);
	free(t->log);
	free(t->log_sha256);
}

void pw_run_view_release(pw_run_view *v)
{
	for (size_t i = 0; i < v->ntasks; i++)
		task_view_release(&v->tasks[i]);
	free(v->tasks);
	free(v->dag_id);
	free(v->run_id);
	free(v->status);
	free(v->started);
	free(v->ended);
	free(v->actor);
	free(v->git_sha);
	free(v->logical_date);
	free(v->workspace);
	free(v->dag_file);
	free(v->dag_text);
	free(v->dag_sha256);
	memset(v, 0, sizeof(*v));
}

typedef struct {
	pw_run_list *l;
} list_state;

static pw_run_view *list_find(pw_run_list *l, const char *run_id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].run_id, run_id) == 0)
			return &l->v[i];
	return NULL;
}

static int list_row(const pw_audit_row *r, void *payload)
{
	pw_run_list *l = payload;
	pw_run_view *v = list_find(l, r->dag_run_id);
	if (!v) {
		if (strcmp(r->event_type, "dag_run_start") != 0)
			return 0;
		PW_GROW(l->v, l->cap, l->n + 1);
		v = &l->v[l->n++];
		memset(v, 0, sizeof(*v));
	}
	/* Only the start and end rows: the per-task fold is for `status`. */
	pw_run_view tmp = *v;
	fold_row(r, &tmp);
	*v = tmp;
	return 0;
}

int pw_run_list_load(pw_audit_store *s, const char *dag_id, int64_t limit, pw_run_list *out,
		     pw_strbuf *err)
{
	memset(out, 0, sizeof(*out));
	pw_audit_filter f = {.dag_id = dag_id, .event_type = "dag_run_start"};
	if (pw_audit_query(s, &f, list_row, out, err) != 0)
		return -1;
	pw_audit_filter e = {.dag_id = dag_id, .event_type = "dag_run_end"};
	if (pw_audit_query(s, &e, list_row, out, err) != 0)
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		pw_run_view *v = &out->v[i];
		free(v->dag_text); /* not needed for a list */
		v->dag_text = NULL;
		if (v->status && strcmp(v->status, "running") == 0 && pw_run_view_orphaned(v))
			set(&v->status, "interrupted");
	}
	/* Newest first; keep the last `limit`. */
	for (size_t i = 0; i < out->n / 2; i++) {
		pw_run_view t = out->v[i];
		out->v[i] = out->v[out->n - 1 - i];
		out->v[out->n - 1 - i] = t;
	}
	if (limit > 0 && (size_t)limit < out->n) {
		for (size_t i = (size_t)limit; i < out->n; i++)
			pw_run_view_release(&out->v[i]);
		out->n = (size_t)limit;
	}
	return 0;
}

void pw_run_list_release(pw_run_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		pw_run_view_release(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
