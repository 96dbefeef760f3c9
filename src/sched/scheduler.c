/*
 * The scheduler daemon.  One thread: a poll() over a signalfd (SIGCHLD,
 * SIGTERM, SIGINT, SIGHUP) and an inotify watch on the DAG directory,
 * sleeping until the earliest next fire of any DAG (no polling interval).
 *
 * A pass at time `now`, for each DAG with a schedule:
 *   1. the slots in (last handled slot, now] are the missed and due ones;
 *   2. the catch-up policy picks which of them run (none: only a slot that
 *      is on time; latest: the newest; all: the newest catchup_window, oldest
 *      first) and the rest are recorded as schedule_skipped;
 *   3. each slot to run either starts (schedule_fired, then a child
 *      `pitwall run --logical-date SLOT`), or, when max_active_runs are
 *      already running, is skipped (overlap: skip) or queued (overlap:
 *      queue; a queue lives in memory: after a restart, queued slots are
 *      missed slots and the catch-up policy decides again).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/spawn.h"
#include "pitwall/clock.h"
#include "pitwall/run.h"
#include "pitwall/scheduler.h"
#include "pitwall/sha256.h"
#include "pitwall/views.h"

extern char **environ;

#define ON_TIME_GRACE_S 60

/* ---- slots ---- */

size_t pw_cron_slots(const pw_cron *c, const pw_tz *tz, int64_t after, int64_t until, int64_t *out,
		     size_t max)
{
	size_t n = 0, total = 0;
	int64_t t = after, next;
	if (!max)
		return 0;
	/* A ring of the newest max slots: a long outage of a minutely DAG stays cheap. */
	while (total < 5000000 && pw_cron_next(c, tz, t, &next) == 0 && next <= until) {
		out[total % max] = next;
		total++;
		t = next;
	}
	n = total < max ? total : max;
	if (total > max) {
		/* Rotate so the oldest kept slot comes first. */
		int64_t *tmp = pw_xmalloc(max * sizeof(*tmp));
		for (size_t i = 0; i < max; i++)
			tmp[i] = out[(total + i) % max];
		memcpy(out, tmp, max * sizeof(*tmp));
		free(tmp);
	}
	return n;
}

static size_t count_slots(const pw_cron *c, const pw_tz *tz, int64_t after, int64_t until)
{
	size_t total = 0;
	int64_t t = after, next;
	while (total < 5000000 && pw_cron_next(c, tz, t, &next) == 0 && next <= until) {
		total++;
		t = next;
	}
	return total;
}

int pw_cron_prev(const pw_cron *c, const pw_tz *tz, int64_t t, int64_t *out)
{
	static const int64_t windows[] = {3600, 86400, 32 * 86400, 367 * 86400, 5 * 366 * 86400};
	for (size_t w = 0; w < PW_ARRAY_SIZE(windows); w++) {
		int64_t slot;
		if (pw_cron_slots(c, tz, t - windows[w], t, &slot, 1) == 1) {
			*out = slot;
			return 0;
		}
	}
	return -1;
}

char *pw_scheduled_run_id(const char *dag_id, int64_t slot)
{
	time_t tt = (time_t)slot;
	struct tm tm;
	gmtime_r(&tt, &tm);
	return pw_xasprintf("%s_scheduled_%04d%02d%02d_%02d%02d%02d", dag_id, tm.tm_year + 1900,
			    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- state in the audit store ---- */

typedef struct {
	int64_t best;
	bool found;
	const char *fired_run_id; /* out: run id of the newest schedule_fired "started" */
	char *run_id;
	int64_t run_slot;
} last_state;

static int last_row(const pw_audit_row *r, void *payload)
{
	last_state *st = payload;
	json_error_t e;
	json_t *m = json_loads(r->metadata, 0, &e);
	json_t *slot = json_object_get(m, "slot");
	if (json_is_integer(slot)) {
		int64_t v = json_integer_value(slot);
		if (!st->found || v > st->best)
			st->best = v;
		st->found = true;
		const char *status = json_string_value(json_object_get(m, "status"));
		if (strcmp(r->event_type, "schedule_fired") == 0 && status &&
		    strcmp(status, "started") == 0 && (!st->run_id || v >= st->run_slot)) {
			free(st->run_id);
			st->run_id = pw_xstrdup(r->dag_run_id);
			st->run_slot = v;
		}
	}
	json_decref(m);
	return 0;
}

static int load_last(pw_audit_store *s, const char *dag_id, last_state *st, pw_strbuf *err)
{
	static const char *const types[] = {"schedule_fired", "schedule_skipped",
					    "schedule_registered"};
	for (size_t i = 0; i < PW_ARRAY_SIZE(types); i++) {
		pw_audit_filter f = {.dag_id = dag_id, .event_type = types[i], .limit = 8};
		if (pw_audit_query(s, &f, last_row, st, err) != 0)
			return -1;
	}
	return 0;
}

int pw_schedule_last_slot(pw_audit_store *s, const char *dag_id, int64_t *out, bool *found)
{
	last_state st = {0};
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = load_last(s, dag_id, &st, &err);
	pw_strbuf_release(&err);
	free(st.run_id);
	*found = st.found;
	*out = st.best;
	return rc;
}

int pw_schedule_record(pw_audit_store *s, const char *event, const char *dag_id, const char *run_id,
		       int64_t slot, const char *status, const char *reason, const char *dag_file)
{
	pw_audit_row r;
	pw_audit_row_init(&r, dag_id, run_id ? run_id : "scheduler", NULL, event);
	pw_audit_row_set(&r.actor, "scheduler");
	pw_audit_row_set(&r.action, "schedule");
	pw_audit_row_set(&r.status, status);
	pw_audit_row_set(&r.resource, dag_file);
	char iso[32];
	pw_format_iso8601(slot, iso, sizeof(iso));
	json_t *m = json_object();
	json_object_set_new(m, "slot", json_integer(slot));
	json_object_set_new(m, "logical_date", json_string(iso));
	json_object_set_new(m, "status", json_string(status));
	if (reason)
		json_object_set_new(m, "reason", json_string(reason));
	char *ms = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	pw_audit_row_set(&r.metadata, ms);
	free(ms);
	pw_strbuf err = PW_STRBUF_INIT;
	int rc = pw_audit_append(s, &r, 1, &err);
	if (rc)
		fprintf(stderr, "pitwall scheduler: cannot record %s for %s: %s\n", event, dag_id,
			err.buf);
	pw_strbuf_release(&err);
	pw_audit_row_release(&r);
	return rc;
}

/* ---- the DAG directory ---- */

typedef struct {
	char *path;
	int64_t mtime_ns;
	off_t size;
	bool seen;
	pw_dag *dag;	/* the last valid version */
	char *snapshot; /* its text, saved: runs start from what was checked */
	bool dup;	/* another file has the same dag_id; not scheduled */
	pw_cron cron;
	pw_tz *tz;
	bool scheduled;
	bool state_loaded;
	int64_t last_slot;
	int64_t *queue;
	size_t nq, qcap;
} sdag;

typedef struct {
	pid_t pid;
	char *dag_id;
	char *run_id;
	int64_t slot;
} child;

typedef struct {
	const pw_scheduler_opts *o;
	pw_audit_store *store;
	sdag *dags;
	size_t n, cap;
	child *kids;
	size_t nkids, kcap;
	char *logdir;
} sched;

static void log_line(sched *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(sched *s, const char *fmt, ...)
{
	if (s->o->quiet)
		return;
	char ts[32];
	pw_format_iso8601(pw_clock_now(), ts, sizeof(ts));
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s scheduler: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void sdag_drop_version(sdag *d)
{
	free(d->snapshot);
	d->snapshot = NULL;
	pw_dag_free(d->dag);
	pw_tz_free(d->tz);
	d->dag = NULL;
	d->tz = NULL;
	d->scheduled = false;
}

static bool is_dag_file(const char *name)
{
	size_t l = strlen(name);
	return name[0] != '.' && ((l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
				  (l > 4 && strcmp(name + l - 4, ".yml") == 0));
}

static void load_version(sched *s, sdag *d)
{
	pw_diags diags = PW_DIAGS_INIT;
	pw_dag *dag = NULL;
	if (pw_dag_load_file(&dag, d->path, &diags) != 0) {
		fprintf(stderr, "pitwall scheduler: %s is invalid%s:\n", d->path,
			d->dag ? "; its last valid version stays scheduled" : "");
		pw_diags_print(&diags, stderr);
		pw_diags_release(&diags);
		return;
	}
	pw_diags_release(&diags);
	pw_cron cron = {0};
	pw_cron_error cerr;
	pw_tz *tz = NULL;
	if (dag->schedule) {
		if (pw_cron_parse(&cron, dag->schedule, &cerr) != 0 ||
		    !(tz = pw_tz_load(dag->timezone ? dag->timezone : "UTC"))) {
			fprintf(stderr, "pitwall scheduler: %s: unknown time zone '%s'%s\n",
				d->path, dag->timezone ? dag->timezone : "UTC",
				d->dag ? "; keeping its last valid version" : "");
			pw_dag_free(dag);
			return;
		}
	}
	/* A DAG renamed in place keeps nothing of the old id's state. */
	if (d->dag && strcmp(d->dag->dag_id, dag->dag_id) != 0) {
		d->state_loaded = false;
		d->nq = 0;
	}
	sdag_drop_version(d);
	d->dag = dag;
	/*
	 * Runs read this snapshot, not the file: an edit that turns the file
	 * invalid (or one made between a fire and its run) never changes what
	 * a fire runs.
	 */
	char hex[65];
	pw_sha256_hex(dag->text, dag->text_len, hex);
	char *sdir = pw_xasprintf("%s/../scheduler-dags", s->logdir);
	pw_mkdir_p(sdir, 0755);
	d->snapshot = pw_xasprintf("%s/%s.%.16s.yaml", sdir, dag->dag_id, hex);
	free(sdir);
	if (access(d->snapshot, R_OK) != 0) {
		char *tmp = pw_xasprintf("%s.tmp", d->snapshot);
		FILE *f = fopen(tmp, "we");
		if (f && fwrite(dag->text, 1, dag->text_len, f) == dag->text_len && fclose(f) == 0)
			rename(tmp, d->snapshot);
		else if (f)
			fclose(f);
		free(tmp);
	}
	d->cron = cron;
	d->tz = tz;
	d->scheduled = dag->schedule != NULL;
	log_line(s, "loaded %s (%s%s%s)", d->path, dag->dag_id, dag->schedule ? ", schedule " : "",
		 dag->schedule ? dag->schedule : ", no schedule");
}

static void scan_dir(sched *s)
{
	DIR *dir = opendir(s->o->dags_dir);
	if (!dir) {
		fprintf(stderr, "pitwall scheduler: cannot read %s: %s\n", s->o->dags_dir,
			strerror(errno));
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->dags[i].seen = false;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (!is_dag_file(e->d_name))
			continue;
		char *path = pw_xasprintf("%s/%s", s->o->dags_dir, e->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		sdag *d = NULL;
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->dags[i].path, path) == 0)
				d = &s->dags[i];
		if (!d) {
			PW_GROW(s->dags, s->cap, s->n + 1);
			d = &s->dags[s->n++];
			memset(d, 0, sizeof(*d));
			d->path = path;
			path = NULL;
			d->mtime_ns = -1;
		}
		free(path);
		d->seen = true;
		int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		if (mt != d->mtime_ns || st.st_size != d->size) {
			d->mtime_ns = mt;
			d->size = st.st_size;
			load_version(s, d);
		}
	}
	closedir(dir);
	/* One schedule per dag_id: the first file (by name) wins. */
	for (size_t i = 0; i < s->n; i++) {
		sdag *d = &s->dags[i];
		bool dup = false;
		for (size_t k = 0; k < s->n && d->dag && !dup; k++) {
			sdag *o = &s->dags[k];
			if (k != i && o->dag && o->seen &&
			    strcmp(o->dag->dag_id, d->dag->dag_id) == 0 &&
			    strcmp(o->path, d->path) < 0)
				dup = true;
		}
		if (dup && !d->dup)
			fprintf(
			    stderr,
			    "pitwall scheduler: %s: dag_id '%s' is already scheduled from another "
			    "file; this one is ignored until the id is unique\n",
			    d->path, d->dag->dag_id);
		d->dup = dup;
	}
	for (size_t i = 0; i < s->n;) {
		if (s->dags[i].seen) {
			i++;
			continue;
		}
		log_line(s, "%s was removed; no longer scheduled", s->dags[i].path);
		sdag_drop_version(&s->dags[i]);
		free(s->dags[i].path);
		free(s->dags[i].queue);
		s->dags[i] = s->dags[--s->n];
	}
}

/* ---- runs ---- */

static int running_in_store(sched *s, const char *dag_id)
{
	pw_run_list l;
	pw_strbuf err = PW_STRBUF_INIT;
	int n = 0;
	if (pw_run_list_load(s->store, dag_id, 50, &l, &err) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			if (!l.v[i].status || strcmp(l.v[i].status, "running") != 0)
				continue;
			bool ours = false;
			for (size_t k = 0; k < s->nkids; k++)
				if (strcmp(s->kids[k].run_id, l.v[i].run_id) == 0)
					ours = true;
			n += !ours;
		}
		pw_run_list_release(&l);
	}
	pw_strbuf_release(&err);
	return n;
}

static int active_runs(sched *s, const char *dag_id)
{
	int n = 0;
	for (size_t k = 0; k < s->nkids; k++)
		n += strcmp(s->kids[k].dag_id, dag_id) == 0;
	return n + running_in_store(s, dag_id);
}

static void spawn_run(sched *s, sdag *d, int64_t slot, const char *run_id)
{
	char iso[32];
	pw_format_iso8601(slot, iso, sizeof(iso));
	const char *argv[16];
	size_t a = 0;
	argv[a++] = s->o->pitwall;
	argv[a++] = "run";
	argv[a++] = d->path;
	argv[a++] = "--logical-date";
	argv[a++] = iso;
	argv[a++] = "--run-id";
	argv[a++] = run_id;
	argv[a++] = "--actor";
	argv[a++] = "scheduler";
	argv[a++] = "--log-format";
	argv[a++] = "text";
	if (d->snapshot) {
		argv[a++] = "--definition";
		argv[a++] = d->snapshot;
	}
	argv[a] = NULL;
	/*
	 * The store reaches the child through PITWALL_STORE, not its argv:
	 * a password in a URL would be readable in /proc/PID/cmdline.
	 */
	pw_envlist env;
	pw_envlist_from_environ(&env, environ);
	if (s->o->store_url)
		pw_envlist_set(&env, "PITWALL_STORE", s->o->store_url);

	char *log = pw_xasprintf("%s/%s.log", s->logdir, run_id);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	sigset_t empty, all;
	sigemptyset(&empty);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	/* Its own process group: stopping the scheduler leaves running runs alone. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int e = posix_spawn(&pid, s->o->pitwall, &fa, &attr, (char *const *)argv,
			    pw_envlist_array(&env));
	pw_envlist_release(&env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (e) {
		fprintf(stderr, "pitwall scheduler: cannot start %s for %s: %s\n", s->o->pitwall,
			run_id, strerror(e));
		free(log);
		return;
	}
	PW_GROW(s->kids, s->kcap, s->nkids + 1);
	s->kids[s->nkids++] = (child){pid, pw_xstrdup(d->dag->dag_id), pw_xstrdup(run_id), slot};
	log_line(s, "fired %s for %s (pid %d, log %s)", d->dag->dag_id, iso, (int)pid, log);
	free(log);
}

static void fire(sched *s, sdag *d, int64_t slot)
{
	char *run_id = pw_scheduled_run_id(d->dag->dag_id, slot);
	/* Recorded first: a crash after this line never fires the slot twice. */
	if (pw_schedule_record(s->store, "schedule_fired", d->dag->dag_id, run_id, slot, "started",
			       NULL, d->path) == 0)
		spawn_run(s, d, slot, run_id);
	free(run_id);
}

static void skip(sched *s, sdag *d, int64_t slot, const char *reason)
{
	char *run_id = pw_scheduled_run_id(d->dag->dag_id, slot);
	char iso[32];
	pw_format_iso8601(slot, iso, sizeof(iso));
	pw_schedule_record(s->store, "schedule_skipped", d->dag->dag_id, run_id, slot, "skipped",
			   reason, d->path);
	log_line(s, "skipped %s for %s: %s", d->dag->dag_id, iso, reason);
	free(run_id);
}

/* Start queued slots while there is room. */
static void drain_queue(sched *s, sdag *d)
{
	while (d->nq && active_runs(s, d->dag->dag_id) < d->dag->max_active_runs) {
		int64_t slot = d->queue[0];
		memmove(d->queue, d->queue + 1, (--d->nq) * sizeof(*d->queue));
		fire(s, d, slot);
	}
}

static void load_state(sched *s, sdag *d, int64_t now)
{
	last_state st = {0};
	pw_strbuf err = PW_STRBUF_INIT;
	if (load_last(s->store, d->dag->dag_id, &st, &err) != 0) {
		fprintf(stderr, "pitwall scheduler: %s\n", err.buf);
		pw_strbuf_release(&err);
		free(st.run_id);
		return;
	}
	pw_strbuf_release(&err);
	d->state_loaded = true;
	if (!st.found) {
		/* First sight: from now on; past slots are not backfilled. */
		d->last_slot = now;
		pw_schedule_record(s->store, "schedule_registered", d->dag->dag_id, NULL, now,
				   "registered", NULL, d->path);
		log_line(s, "registered %s", d->dag->dag_id);
	} else {
		d->last_slot = st.best;
		/* A fire recorded just before a crash whose run never started. */
		if (st.run_id && !pw_audit_run_exists(s->store, st.run_id)) {
			bool live = false;
			for (size_t k = 0; k < s->nkids; k++)
				live |= strcmp(s->kids[k].run_id, st.run_id) == 0;
			if (!live) {
				log_line(
				    s, "starting %s: its fire was recorded but the run never began",
				    st.run_id);
				spawn_run(s, d, st.run_slot, st.run_id);
			}
		}
	}
	free(st.run_id);
}

static void pass(sched *s, int64_t now)
{
	for (size_t i = 0; i < s->n; i++) {
		sdag *d = &s->dags[i];
		if (!d->dag || !d->scheduled || d->dup)
			continue;
		if (!d->state_loaded)
			load_state(s, d, now);
		if (!d->state_loaded)
			continue;
		size_t window =
		    d->dag->catchup == PW_CATCHUP_ALL ? (size_t)d->dag->catchup_window : 1;
		int64_t *slots = pw_xmalloc(window * sizeof(*slots));
		size_t total = count_slots(&d->cron, d->tz, d->last_slot, now);
		size_t n = pw_cron_slots(&d->cron, d->tz, d->last_slot, now, slots, window);
		if (total > n) {
			/* Older than what the policy runs: recorded once, as the newest of them. */
			int64_t older[1];
			int64_t upto = n ? slots[0] - 1 : now;
			if (pw_cron_slots(&d->cron, d->tz, d->last_slot, upto, older, 1) == 1) {
				char reason[96];
				snprintf(
				    reason, sizeof(reason),
				    "missed while the scheduler was down (%zu slot%s, catchup %s)",
				    total - n, total - n == 1 ? "" : "s",
				    pw_catchup_name(d->dag->catchup));
				skip(s, d, older[0], reason);
			}
		}
		/*
		 * Due slots queue behind each other (catch-up runs one after
		 * another); the overlap policy is about a run from before this
		 * pass that is still going: with skip, a slot that is due on time
		 * now would overlap it and is skipped.  Catch-up slots wait their
		 * turn either way, so a restart mid catch-up changes nothing.
		 */
		bool busy = n && active_runs(s, d->dag->dag_id) >= d->dag->max_active_runs;
		for (size_t k = 0; k < n; k++) {
			int64_t slot = slots[k];
			d->last_slot = slot;
			if (d->dag->catchup == PW_CATCHUP_NONE && now - slot > ON_TIME_GRACE_S) {
				skip(s, d, slot, "missed (catchup none)");
			} else if (busy && d->dag->overlap == PW_OVERLAP_SKIP &&
				   now - slot <= ON_TIME_GRACE_S) {
				/* On time, and a run from before is still going: it would overlap.
				 */
				skip(s, d, slot, "overlap: the previous run is still active");
			} else {
				PW_GROW(d->queue, d->qcap, d->nq + 1);
				d->queue[d->nq++] = slot;
				if (busy) {
					char iso[32];
					pw_format_iso8601(slot, iso, sizeof(iso));
					log_line(s, "queued %s for %s: %d run(s) still active",
						 d->dag->dag_id, iso, d->dag->max_active_runs);
				}
			}
		}
		free(slots);
		drain_queue(s, d);
	}
}

static int64_t next_wake(sched *s, int64_t now)
{
	int64_t best = 0;
	for (size_t i = 0; i < s->n; i++) {
		sdag *d = &s->dags[i];
		int64_t t;
		if (!d->dag || !d->scheduled)
			continue;
		int64_t from = d->state_loaded && d->last_slot > now ? d->last_slot : now;
		if (pw_cron_next(&d->cron, d->tz, from, &t) == 0 && (!best || t < best))
			best = t;
	}
	return best;
}

static void reap_children(sched *s, bool report)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t k = 0; k < s->nkids; k++) {
			if (s->kids[k].pid != pid)
				continue;
			if (report)
				log_line(s, "run %s ended (exit %d)", s->kids[k].run_id,
					 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			free(s->kids[k].dag_id);
			free(s->kids[k].run_id);
			s->kids[k] = s->kids[--s->nkids];
			break;
		}
	}
}

int pw_scheduler_main(const pw_scheduler_opts *o, pw_audit_store *store)
{
	sched s = {.o = o, .store = store};
	char *state = pw_state_dir();
	/*
	 * One scheduler per store: two would both fire every slot.  A
	 * PostgreSQL advisory lock covers schedulers on several hosts; flock in
	 * the state directory covers the embedded store.  --once waits its
	 * turn; the daemon refuses.
	 */
	int lock_fd = -1;
	for (;;) {
		int pl = pw_audit_pg_try_lock(store, "scheduler");
		if (pl < 0) {
			char *lp = pw_xasprintf("%s/scheduler.lock", state);
			if (lock_fd < 0)
				lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			free(lp);
			pl = lock_fd >= 0 && flock(lock_fd, LOCK_EX | (o->once ? 0 : LOCK_NB)) == 0;
		}
		if (pl == 1)
			break;
		if (!o->once) {
			fprintf(stderr, "pitwall scheduler: another scheduler is running on %s\n",
				store->display);
			free(state);
			if (lock_fd >= 0)
				close(lock_fd);
			return 75;
		}
		usleep(100000);
	}
	s.logdir = pw_xasprintf("%s/scheduler-logs", state);
	free(state);
	pw_mkdir_p(s.logdir, 0755);

	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd >= 0 && inotify_add_watch(ifd, o->dags_dir,
					  IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
					      IN_CREATE) < 0) {
		close(ifd);
		ifd = -1;
	}

	scan_dir(&s);
	log_line(&s, "watching %s (%zu DAG file%s)", o->dags_dir, s.n, s.n == 1 ? "" : "s");
	bool stop = false, rescan = false;
	int rc = 0;
	while (!stop) {
		if (rescan) {
			scan_dir(&s);
			rescan = false;
		}
		int64_t now = pw_clock_now();
		pass(&s, now);
		if (o->once) {
			/* Wait for this pass's runs, starting queued slots as room frees. */
			bool queued = true;
			while (s.nkids || queued) {
				int st;
				pid_t pid = waitpid(-1, &st, 0);
				if (pid < 0 && errno == ECHILD)
					s.nkids = 0;
				else if (pid > 0)
					for (size_t k = 0; k < s.nkids; k++)
						if (s.kids[k].pid == pid) {
							log_line(&s, "run %s ended (exit %d)",
								 s.kids[k].run_id,
								 WIFEXITED(st) ? WEXITSTATUS(st)
									       : 128);
							free(s.kids[k].dag_id);
							free(s.kids[k].run_id);
							s.kids[k] = s.kids[--s.nkids];
							break;
						}
				queued = false;
				for (size_t i = 0; i < s.n; i++) {
					if (s.dags[i].dag && s.dags[i].nq) {
						drain_queue(&s, &s.dags[i]);
						queued |= s.dags[i].nq > 0;
					}
				}
				if (queued && !s.nkids)
					break; /* nothing running, yet still queued: cannot happen
						*/
			}
			break;
		}
		int64_t wake = next_wake(&s, now);
		int timeout = wake ? (int)pw_clock_ms_until(wake) : -1;
		struct pollfd p[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
		int np = ifd >= 0 ? 2 : 1;
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					log_line(
					    &s,
					    "stopping: no more fires; %zu run(s) still going on "
					    "their own",
					    s.nkids);
					stop = true;
				} else if (si.ssi_signo == SIGHUP) {
					log_line(&s, "SIGHUP: re-reading %s", o->dags_dir);
					rescan = true;
					for (size_t i = 0; i < s.n; i++)
						s.dags[i].mtime_ns = -1;
				}
			}
			reap_children(&s, true);
			for (size_t i = 0; i < s.n; i++)
				if (s.dags[i].dag)
					drain_queue(&s, &s.dags[i]);
		}
		if (np == 2 && p[1].revents) {
			char buf[4096];
			while (read(ifd, buf, sizeof(buf)) > 0)
				;
			rescan = true;
		}
	}

	for (size_t i = 0; i < s.n; i++) {
		sdag_drop_version(&s.dags[i]);
		free(s.dags[i].path);
		free(s.dags[i].queue);
	}
	free(s.dags);
	for (size_t k = 0; k < s.nkids; k++) {
		free(s.kids[k].dag_id);
		free(s.kids[k].run_id);
	}
	free(s.kids);
	free(s.logdir);
	if (ifd >= 0)
		close(ifd);
	close(sfd);
	if (lock_fd >= 0)
		close(lock_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
