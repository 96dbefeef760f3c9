/*
 * YAML tree -> pw_dag, checking every key and value on the way.
 *
 * Each mapping is read in two steps: collect the value of every known key
 * (reporting unknown ones), then interpret them in a fixed order.  The
 * second step is where keys that depend on each other are checked
 * (command vs shell, retries vs retry_policy), and where defaults from the
 * top level, which may come after the tasks in the file, are applied.
 * Nothing stops at the first problem: a bad value is reported and the key
 * treated as unset, so one run shows everything wrong with a file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dag/dag_internal.h"
#include "pitwall/cron.h"

struct cx {
	pw_dag *dag;
	pw_diags *diags;
	const char *path;
	pw_arena *tmp;
	pw_strmap seen_diags; /* one report per position and message (shared anchors) */
};

static void cdiag(struct cx *c, pw_diag_level lv, int line, int col, const char *hint,
		  const char *fmt, va_list ap)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_vaddf(&sb, fmt, ap);
	char *key = pw_arena_sprintf(c->tmp, "%d:%d:%s", line, col, sb.buf);
	if (pw_strmap_put(&c->seen_diags, key, 0))
		pw_diags_add(c->diags, lv, c->path, line, col, hint, "%s", sb.buf);
	pw_strbuf_release(&sb);
}

static void err_at(struct cx *c, const ynode *at, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(struct cx *c, const ynode *at, const char *hint, const char *fmt, ...)
{
	va_list ap;
	if (at && yderef(at)->bad)
		return;
	va_start(ap, fmt);
	cdiag(c, PW_DIAG_ERROR, at ? at->line : 0, at ? at->col : 0, hint, fmt, ap);
	va_end(ap);
}

static void err_loc(struct cx *c, pw_loc loc, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_loc(struct cx *c, pw_loc loc, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cdiag(c, PW_DIAG_ERROR, loc.line, loc.col, hint, fmt, ap);
	va_end(ap);
}

static pw_loc loc_of(const ynode *n)
{
	return n ? (pw_loc){n->line, n->col} : (pw_loc){0, 0};
}

static bool loc_before(const ynode *a, const ynode *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* ---- mappings, with YAML merge keys (<<) ---- */

struct ment {
	const ynode *key; /* as written (an alias keeps its own position) */
	const ynode *val;
	const char *name;
};

static bool is_merge_key(const ynode *k)
{
	const ynode *d = yderef(k);
	return d->kind == YN_SCALAR && !d->quoted && strcmp(d->u.str, "<<") == 0;
}

static size_t map_entries(struct cx *c, const ynode *map, struct ment **out, struct ment *local,
			  size_t nlocal);

/* Append src's entries whose names are not in *v yet. */
static void merge_into(struct cx *c, struct ment **v, size_t *n, size_t *cap, pw_strmap *names,
		       const ynode *src)
{
	struct ment *m;
	size_t k = map_entries(c, src, &m, NULL, 0);
	for (size_t i = 0; i < k; i++) {
		if (!pw_strmap_put(names, m[i].name, 0))
			continue;
		PW_GROW(*v, *cap, *n + 1);
		(*v)[(*n)++] = m[i];
	}
}

/*
 * The effective entries of a mapping: its own keys in order, then keys
 * merged in through <<, earlier sources first, a key already present
 * winning.  Non-string keys are reported and skipped.  Recursion through
 * merges is bounded by the tree builder's depth limit.
 */
static size_t map_entries(struct cx *c, const ynode *map, struct ment **out, struct ment *local,
			  size_t nlocal)
{
	map = yderef(map);
	size_t n = map->n, cnt = 0;
	bool merges = false;
	struct ment *v = n <= nlocal ? local : pw_arena_alloc(c->tmp, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const ynode *k = map->u.kids[2 * i];
		const ynode *kd = yderef(k);
		if (kd->kind != YN_SCALAR) {
			err_at(c, k, "write keys as plain strings",
			       "a key must be a string, got %s", pw_ynode_type_name(kd));
			continue;
		}
		if (is_merge_key(k)) {
			merges = true;
			continue;
		}
		v[cnt++] = (struct ment){k, map->u.kids[2 * i + 1], kd->u.str};
	}
	if (!merges) {
		*out = v;
		return cnt;
	}

	pw_strmap names = PW_STRMAP_INIT;
	struct ment *all = NULL;
	size_t nall = 0, cap = 0;
	for (size_t i = 0; i < cnt; i++) {
		pw_strmap_put(&names, v[i].name, 0);
		PW_GROW(all, cap, nall + 1);
		all[nall++] = v[i];
	}
	for (size_t i = 0; i < n; i++) {
		const ynode *k = map->u.kids[2 * i];
		if (yderef(k)->kind != YN_SCALAR || !is_merge_key(k))
			continue;
		const ynode *val = map->u.kids[2 * i + 1];
		const ynode *vd = yderef(val);
		if (vd->kind == YN_MAP) {
			merge_into(c, &all, &nall, &cap, &names, vd);
		} else if (vd->kind == YN_SEQ) {
			for (size_t j = 0; j < vd->n; j++) {
				const ynode *item = vd->u.kids[j];
				if (yderef(item)->kind == YN_MAP)
					merge_into(c, &all, &nall, &cap, &names, yderef(item));
				else
					err_at(c, item,
					       "merge with an anchored mapping: <<: *defaults",
					       "'<<' merges mappings, got %s",
					       pw_ynode_type_name(item));
			}
		} else {
			err_at(c, val, "merge with an anchored mapping: <<: *defaults",
			       "'<<' merges a mapping or a list of mappings, got %s",
			       pw_ynode_type_name(vd));
		}
	}
	pw_strmap_release(&names);
	v = pw_arena_alloc(c->tmp, (nall ? nall : 1) * sizeof(*v));
	if (nall)
		memcpy(v, all, nall * sizeof(*v));
	free(all);
	*out = v;
	return nall;
}

/* ---- key tables ---- */

struct keydef {
	const char *name;
	bool ignored; /* accepted for a later feature, not read yet */
};

static int key_index(const struct keydef *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void unknown_key(struct cx *c, const struct ment *e, const struct keydef *t, size_t n,
			const char *where, const char *hint)
{
	const char **names = pw_arena_alloc(c->tmp, n * sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = t[i].name;
	const char *dym = pw_did_you_mean(e->name, names, n);
	char *def = pw_arena_sprintf(c->tmp, "default_%s", e->name);
	if (!dym && key_index(t, n, def) >= 0)
		dym = def;
	if (!hint && !dym) {
		pw_strbuf sb = PW_STRBUF_INIT;
		pw_strbuf_adds(&sb, "known keys: ");
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			if (t[i].ignored)
				continue;
			pw_strbuf_addf(&sb, "%s%s", shown++ ? ", " : "", t[i].name);
		}
		hint = pw_arena_strdup(c->tmp, sb.buf);
		pw_strbuf_release(&sb);
	}
	if (dym)
		err_at(c, e->key, hint, "unknown key '%s'%s (did you mean '%s'?)", e->name, where,
		       dym);
	else
		err_at(c, e->key, hint, "unknown key '%s'%s", e->name, where);
}

/*
 * Collect the values of known keys: vals[i] / keys[i] for table entry i.
 * Duplicates were reported by the tree builder; the first one counts.
 */
static void collect(struct cx *c, const ynode *map, const struct keydef *t, size_t n,
		    const ynode **keys, const ynode **vals, const char *where,
		    const char *(*hint_for)(const char *name), bool ext_ok)
{
	struct ment local[32], *e;
	size_t cnt = map_entries(c, map, &e, local, PW_ARRAY_SIZE(local));
	for (size_t i = 0; i < n; i++)
		keys[i] = vals[i] = NULL;
	for (size_t i = 0; i < cnt; i++) {
		int k = key_index(t, n, e[i].name);
		/* x-anything: a place for anchors (as in Compose files); never read. */
		if (k < 0 && ext_ok && !strncmp(e[i].name, "x-", 2))
			continue;
		if (k < 0) {
			unknown_key(c, &e[i], t, n, where, hint_for ? hint_for(e[i].name) : NULL);
			continue;
		}
		if (keys[k])
			continue;
		keys[k] = e[i].key;
		vals[k] = e[i].val;
	}
}

/* ---- values ---- */

static const char *want_string(struct cx *c, const char *what, const ynode *v)
{
	const ynode *d = yderef(v);
	if (!d || pw_ynode_is_null(d))
		return NULL;
	if (d->kind != YN_SCALAR) {
		err_at(c, v, NULL, "%s: expected a string, got %s", what, pw_ynode_type_name(d));
		return NULL;
	}
	return d->u.str;
}

static const char placeholder_hint[] =
    "quote values that start with '{' or '[', e.g. \"{{ run_id }}\"";

/*
 * The list at v, or NULL when there is none: v is null (*ok stays true) or
 * not a list (reported, *ok false).
 */
static const ynode *want_seq(struct cx *c, const char *what, const ynode *v,
			     const char *scalar_hint, bool *ok)
{
	const ynode *d = yderef(v);
	*ok = true;
	if (!d || pw_ynode_is_null(d))
		return NULL;
	if (d->kind != YN_SEQ) {
		err_at(c, v, d->kind == YN_SCALAR ? scalar_hint : NULL,
		       "%s: expected a list of strings, got %s", what, pw_ynode_type_name(d));
		*ok = false;
		return NULL;
	}
	return d;
}

/* Item i (0-based) of a list of strings, or NULL after reporting why not. */
static const char *list_item(struct cx *c, const char *what, size_t i, const ynode *it)
{
	const ynode *id = yderef(it);
	if (id->kind != YN_SCALAR) {
		err_at(c, it, id->kind == YN_MAP ? placeholder_hint : NULL,
		       "%s: item %zu: expected a string, got %s", what, i + 1,
		       pw_ynode_type_name(id));
		return NULL;
	}
	if (!id->quoted && !*id->u.str) {
		err_at(c, it, "write \"\" for an empty string", "%s: item %zu is empty", what,
		       i + 1);
		return NULL;
	}
	return id->u.str;
}

/*
 * A list of strings, as a NULL-terminated array in the DAG's arena (an
 * empty one for null).  Returns false when v is not a list.
 */
static bool want_str_list(struct cx *c, const char *what, const ynode *v, const char ***out,
			  size_t *nout, const char *scalar_hint)
{
	bool ok;
	const ynode *d = want_seq(c, what, v, scalar_hint, &ok);
	size_t n = d ? d->n : 0, k = 0;
	const char **arr = pw_arena_alloc(&c->dag->arena, (n + 1) * sizeof(*arr));
	for (size_t i = 0; i < n; i++) {
		const char *s = list_item(c, what, i, d->u.kids[i]);
		if (s)
			arr[k++] = s;
	}
	arr[k] = NULL;
	*out = arr;
	*nout = k;
	return ok;
}

/* The text of a scalar for number-like values; NULL after reporting otherwise. */
static const char *scalar_text(struct cx *c, const char *what, const ynode *v, const char *expected)
{
	const ynode *d = yderef(v);
	if (d->kind != YN_SCALAR || pw_ynode_is_null(d)) {
		err_at(c, v, NULL, "%s: expected %s, got %s", what, expected,
		       pw_ynode_type_name(d));
		return NULL;
	}
	return d->u.str;
}

static bool parse_ll(const char *s, long long *out)
{
	if (!*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	if (!*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool want_int(struct cx *c, const char *what, const ynode *v, long long min, long long max,
		     int *out)
{
	const char *s = scalar_text(c, what, v, "a whole number");
	if (!s)
		return false;
	long long x;
	if (!parse_ll(s, &x)) {
		err_at(c, v, NULL, "%s: expected a whole number, got '%s'", what, s);
		return false;
	}
	if (x < min) {
		if (min == 0)
			err_at(c, v, NULL, "%s cannot be negative, got %s", what, s);
		else
			err_at(c, v, NULL, "%s must be at least %lld, got %s", what, min, s);
		return false;
	}
	if (x > max) {
		err_at(c, v, NULL, "%s must be at most %lld, got %s", what, max, s);
		return false;
	}
	*out = (int)x;
	return true;
}

static bool want_number(struct cx *c, const char *what, const ynode *v, double *out)
{
	const char *s = scalar_text(c, what, v, "a number");
	if (!s)
		return false;
	if (!parse_double(s, out)) {
		err_at(c, v, NULL, "%s: expected a number, got '%s'", what, s);
		return false;
	}
	return true;
}

static bool bool_text(const char *s, bool *out)
{
	static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(s, t[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, f[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool want_bool(struct cx *c, const char *what, const ynode *v, bool *out)
{
	const char *s = scalar_text(c, what, v, "true or false");
	if (!s)
		return false;
	if (!bool_text(s, out)) {
		err_at(c, v, NULL, "%s: expected true or false, got '%s'", what, s);
		return false;
	}
	return true;
}

enum { DUR_POSITIVE, DUR_NONNEG };

static const char duration_hint[] =
    "write seconds (30) or a number with a unit: 1500ms, 30s, 5m, 2h, 1d, 1h30m";

static bool want_duration(struct cx *c, const char *what, const ynode *v, int mode, int64_t *out)
{
	const char *s = scalar_text(c, what, v, "a duration");
	if (!s)
		return false;
	int64_t ms;
	if (pw_parse_duration(s, &ms) < 0) {
		err_at(c, v, duration_hint, "%s: '%s' is not a duration", what, s);
		return false;
	}
	if (mode == DUR_POSITIVE && ms <= 0) {
		err_at(c, v, "zero or negative timeouts are not allowed; remove the key for none",
		       "%s must be greater than zero, got '%s'", what, s);
		return false;
	}
	if (ms < 0) {
		err_at(c, v, NULL, "%s cannot be negative, got '%s'", what, s);
		return false;
	}
	*out = ms;
	return true;
}

/*
 * One of a fixed set of names (trigger rules, executors, actions).
 * Returns its index, or -1 when v is null or not one of them (reported,
 * with the closest name when there is one).
 */
static int pick_name(struct cx *c, const char *what, const ynode *v, const char *const *names,
		     size_t n)
{
	const char *s = want_string(c, what, v);
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_addf(&sb, "%s is one of: ", what);
	for (size_t i = 0; i < n; i++)
		pw_strbuf_addf(&sb, "%s%s", i ? ", " : "", names[i]);
	const char *dym = pw_did_you_mean(s, names, n);
	if (dym)
		err_at(c, v, sb.buf, "unknown %s '%s' (did you mean '%s'?)", what, s, dym);
	else
		err_at(c, v, sb.buf, "unknown %s '%s'", what, s);
	pw_strbuf_release(&sb);
	return -1;
}

/* A backoff multiplier: a number >= 1. */
static void want_backoff(struct cx *c, const char *what, const ynode *v, double *out)
{
	double b;
	if (!want_number(c, what, v, &b))
		return;
	if (b < 1)
		err_at(c, v, "1 keeps the delay constant; 2 doubles it",
		       "%s must be at least 1, got %s", what, yderef(v)->u.str);
	else
		*out = b;
}

/* ---- top level and task key tables ---- */

enum {
	TK_TASK_ID,
	TK_DESCRIPTION,
	TK_COMMAND,
	TK_SHELL,
	TK_DEPENDENCIES,
	TK_OPTIONAL_DEPENDENCIES,
	TK_TRIGGER_RULE,
	TK_TIMEOUT,
	TK_RETRIES,
	TK_RETRY_DELAY,
	TK_RETRY_POLICY,
	TK_RETRY_ON,
	TK_NO_RETRY_ON,
	TK_ENV,
	TK_WORKING_DIR,
	TK_INPUTS,
	TK_OUTPUTS,
	TK_RESOURCES,
	TK_CONTAINER,
	TK_EXECUTOR,
	TK_SOURCE,
	TK_NETWORK,
	TK_CRITICAL,
	TK_PRICES,
	TK_PARTITION,
	TK_ACCOUNT,
	TK_QOS,
	TK_CONSTRAINT,
};

static const struct keydef task_keys[] = {
    [TK_TASK_ID] = {"task_id", false},
    [TK_DESCRIPTION] = {"description", false},
    [TK_COMMAND] = {"command", false},
    [TK_SHELL] = {"shell", false},
    [TK_DEPENDENCIES] = {"dependencies", false},
    [TK_OPTIONAL_DEPENDENCIES] = {"optional_dependencies", false},
    [TK_TRIGGER_RULE] = {"trigger_rule", false},
    [TK_TIMEOUT] = {"timeout", false},
    [TK_RETRIES] = {"retries", false},
    [TK_RETRY_DELAY] = {"retry_delay", false},
    [TK_RETRY_POLICY] = {"retry_policy", false},
    [TK_RETRY_ON] = {"retry_on", false},
    [TK_NO_RETRY_ON] = {"no_retry_on", false},
    [TK_ENV] = {"env", false},
    [TK_WORKING_DIR] = {"working_dir", false},
    [TK_INPUTS] = {"inputs", false},
    [TK_OUTPUTS] = {"outputs", false},
    [TK_RESOURCES] = {"resources", false},
    [TK_CONTAINER] = {"container", false},
    [TK_EXECUTOR] = {"executor", false},
    [TK_SOURCE] = {"source", false},
    [TK_NETWORK] = {"network", false},
    [TK_CRITICAL] = {"critical", false},
    [TK_PRICES] = {"prices", false},
    [TK_PARTITION] = {"partition", false},
    [TK_ACCOUNT] = {"account", false},
    [TK_QOS] = {"qos", false},
    [TK_CONSTRAINT] = {"constraint", false},
};
#define NTASK_KEYS PW_ARRAY_SIZE(task_keys)

enum {
	DK_DAG_ID,
	DK_DESCRIPTION,
	DK_SCHEDULE,
	DK_TIMEZONE,
	DK_DEFAULT_TIMEOUT,
	DK_DEFAULT_RETRIES,
	DK_DEFAULT_RETRY_DELAY,
	DK_RETRY_BACKOFF,
	DK_MAX_RETRY_DELAY,
	DK_RETRY_JITTER,
	DK_MAX_ACTIVE_TASKS,
	DK_KILL_GRACE,
	DK_ENV,
	DK_TASKS,
	DK_ON_FAILURE,
	DK_ON_SUCCESS,
	DK_CATCHUP,
	DK_CATCHUP_WINDOW,
	DK_MAX_ACTIVE_RUNS,
	DK_OVERLAP,
	DK_PRICES,
	DK_BUDGET,
	DK_CONTAINER_RUNTIME,
	DK_CONTAINER_ENV,
	DK_EXECUTOR,
	DK_SLURM,
};

static const struct keydef dag_keys[] = {
    [DK_DAG_ID] = {"dag_id", false},
    [DK_DESCRIPTION] = {"description", false},
    [DK_SCHEDULE] = {"schedule", false},
    [DK_TIMEZONE] = {"timezone", false},
    [DK_DEFAULT_TIMEOUT] = {"default_timeout", false},
    [DK_DEFAULT_RETRIES] = {"default_retries", false},
    [DK_DEFAULT_RETRY_DELAY] = {"default_retry_delay", false},
    [DK_RETRY_BACKOFF] = {"retry_backoff", false},
    [DK_MAX_RETRY_DELAY] = {"max_retry_delay", false},
    [DK_RETRY_JITTER] = {"retry_jitter", false},
    [DK_MAX_ACTIVE_TASKS] = {"max_active_tasks", false},
    [DK_KILL_GRACE] = {"kill_grace", false},
    [DK_ENV] = {"env", false},
    [DK_TASKS] = {"tasks", false},
    [DK_ON_FAILURE] = {"on_failure", false},
    [DK_ON_SUCCESS] = {"on_success", false},
    [DK_CATCHUP] = {"catchup", false},
    [DK_CATCHUP_WINDOW] = {"catchup_window", false},
    [DK_MAX_ACTIVE_RUNS] = {"max_active_runs", false},
    [DK_OVERLAP] = {"overlap", false},
    [DK_PRICES] = {"prices", false},
    [DK_BUDGET] = {"budget", false},
    [DK_CONTAINER_RUNTIME] = {"container_runtime", false},
    [DK_CONTAINER_ENV] = {"container_env", false},
    [DK_EXECUTOR] = {"executor", false},
    [DK_SLURM] = {"slurm", false},
};
#define NDAG_KEYS PW_ARRAY_SIZE(dag_keys)

enum {
	RP_MAX_RETRIES,
	RP_RETRY_DELAY,
	RP_BACKOFF,
	RP_MAX_RETRY_DELAY,
	RP_RETRY_ON,
	RP_NO_RETRY_ON
};
static const struct keydef policy_keys[] = {
    [RP_MAX_RETRIES] = {"max_retries", false},	  [RP_RETRY_DELAY] = {"retry_delay", false},
    [RP_BACKOFF] = {"backoff_multiplier", false}, [RP_MAX_RETRY_DELAY] = {"max_retry_delay", false},
    [RP_RETRY_ON] = {"retry_on", false},	  [RP_NO_RETRY_ON] = {"no_retry_on", false},
};
#define NPOLICY_KEYS PW_ARRAY_SIZE(policy_keys)

enum { RS_CPU, RS_MEMORY, RS_COST, RS_PIDS };
static const struct keydef resource_keys[] = {
    [RS_CPU] = {"cpu_limit", false},
    [RS_MEMORY] = {"memory_limit", false},
    [RS_COST] = {"max_cost_per_run", false},
    [RS_PIDS] = {"pids_limit", false},
};
#define NRESOURCE_KEYS PW_ARRAY_SIZE(resource_keys)

enum {
	SL_URL,
	SL_API_VERSION,
	SL_JWT_FILE,
	SL_USER,
	SL_PARTITION,
	SL_ACCOUNT,
	SL_QOS,
	SL_CONSTRAINT,
	SL_POLL_INTERVAL
};
static const struct keydef slurm_keys[] = {
    [SL_URL] = {"url", false},
    [SL_API_VERSION] = {"api_version", false},
    [SL_JWT_FILE] = {"jwt_file", false},
    [SL_USER] = {"user", false},
    [SL_PARTITION] = {"partition", false},
    [SL_ACCOUNT] = {"account", false},
    [SL_QOS] = {"qos", false},
    [SL_CONSTRAINT] = {"constraint", false},
    [SL_POLL_INTERVAL] = {"poll_interval", false},
};
#define NSLURM_KEYS PW_ARRAY_SIZE(slurm_keys)

enum { HK_ACTION, HK_CHANNELS, HK_MESSAGE, HK_COMMAND, HK_SHELL };
static const struct keydef hook_keys[] = {
    [HK_ACTION] = {"action", false},   [HK_CHANNELS] = {"channels", false},
    [HK_MESSAGE] = {"message", false}, [HK_COMMAND] = {"command", false},
    [HK_SHELL] = {"shell", false},
};
#define NHOOK_KEYS PW_ARRAY_SIZE(hook_keys)

static const char *task_key_hint(const char *name)
{
	if (key_index(resource_keys, NRESOURCE_KEYS, name) >= 0)
		return "resource limits go under 'resources:'";
	if (key_index(policy_keys, NPOLICY_KEYS, name) >= 0)
		return "this key goes under 'retry_policy:'";
	return NULL;
}

static const char *dag_key_hint(const char *name)
{
	if (key_index(task_keys, NTASK_KEYS, name) >= 0 && strcmp(name, "description") != 0)
		return "this is a task key; put it in a task under 'tasks:'";
	return NULL;
}

/* ---- pieces ---- */

static bool valid_id(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

/* dag_id and task_id: [A-Za-z0-9_.-]+, and not a path component of its own. */
static bool check_id(struct cx *c, const char *what, const ynode *v, const char *s)
{
	if (!valid_id(s)) {
		err_at(c, v, "use letters, digits, '_', '.' and '-' only",
		       "%s '%s' may only contain letters, digits, '_', '.' and '-'", what, s);
		return false;
	}
	if (!strcmp(s, ".") || !strcmp(s, "..")) {
		err_at(c, v, "ids name files and directories; pick a name",
		       "%s '%s' is not allowed", what, s);
		return false;
	}
	/* The audit table's columns (VARCHAR(128) in PostgreSQL) hold them whole. */
	if (strlen(s) > 128) {
		err_at(c, v, "shorten it: ids are at most 128 characters",
		       "%s is %zu characters long", what, strlen(s));
		return false;
	}
	return true;
}

static bool valid_env_name(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return true;
}

static void parse_env(struct cx *c, const char *what, const ynode *v, pw_kv **out, size_t *nout)
{
	const ynode *d = yderef(v);
	*out = NULL;
	*nout = 0;
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write env as a mapping: env: {NAME: value}",
		       "%s: expected a mapping of NAME: value, got %s", what,
		       pw_ynode_type_name(d));
		return;
	}
	struct ment *e;
	size_t n = map_entries(c, d, &e, NULL, 0);
	pw_kv *kv = pw_arena_alloc(&c->dag->arena, (n ? n : 1) * sizeof(*kv));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!valid_env_name(e[i].name)) {
			err_at(
			    c, e[i].key, "use letters, digits and '_', not starting with a digit",
			    "%s: '%s' is not a valid environment variable name", what, e[i].name);
			continue;
		}
		const ynode *vd = yderef(e[i].val);
		if (vd->kind != YN_SCALAR) {
			err_at(c, e[i].val, NULL, "%s.%s: expected a string, got %s", what,
			       e[i].name, pw_ynode_type_name(vd));
			continue;
		}
		kv[k++] = (pw_kv){e[i].name, vd->u.str, loc_of(e[i].key)};
	}
	*out = kv;
	*nout = k;
}

static const char *class_list_hint(struct cx *c)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	pw_strbuf_adds(&sb, "failure classes: ");
	for (int i = 0; i < PW_CLASS_COUNT; i++)
		pw_strbuf_addf(&sb, "%s%s", i ? ", " : "", pw_failure_class_names[i]);
	pw_strbuf_adds(&sb, "; or an exit code 0-255");
	const char *h = pw_arena_strdup(c->tmp, sb.buf);
	pw_strbuf_release(&sb);
	return h;
}

static void parse_retry_match(struct cx *c, const char *what, const ynode *v, pw_retry_match *m)
{
	const ynode *d = yderef(v);
	memset(m, 0, sizeof(*m));
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_SEQ) {
		err_at(c, v, "write a list: [transient_error, 75]",
		       "%s: expected a list of failure classes or exit codes, got %s", what,
		       pw_ynode_type_name(d));
		return;
	}
	m->codes = pw_arena_alloc(&c->dag->arena, (d->n ? d->n : 1) * sizeof(int));
	for (size_t i = 0; i < d->n; i++) {
		const ynode *it = d->u.kids[i];
		const ynode *id = yderef(it);
		if (id->kind != YN_SCALAR || pw_ynode_is_null(id)) {
			err_at(c, it, class_list_hint(c),
			       "%s: item %zu: expected a failure class or exit code, got %s", what,
			       i + 1, pw_ynode_type_name(id));
			continue;
		}
		const char *s = id->u.str;
		long long code;
		if (parse_ll(s, &code)) {
			if (code < 0 || code > 255)
				err_at(c, it, "exit codes are 0-255",
				       "%s: exit code %s is out of range", what, s);
			else
				m->codes[m->ncodes++] = (int)code;
			continue;
		}
		int cls = pw_failure_class_from_name(s);
		if (cls < 0) {
			const char *dym =
			    pw_did_you_mean(s, pw_failure_class_names, (size_t)PW_CLASS_COUNT);
			if (dym)
				err_at(c, it, class_list_hint(c),
				       "%s: unknown failure class '%s' (did you mean '%s'?)", what,
				       s, dym);
			else
				err_at(c, it, class_list_hint(c), "%s: unknown failure class '%s'",
				       what, s);
			continue;
		}
		m->classes |= 1u << cls;
	}
}

/* "2", 2, 0.5, "2 cores", "1 core", "500m" (millicores). */
static bool parse_cpu(const char *s, double *out)
{
	char buf[64];
	size_t len = strlen(s);
	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	char *end = buf + len;
	double scale = 1.0;
	if (len > 1 && end[-1] == 'm') {
		end[-1] = '\0';
		scale = 0.001;
	} else {
		static const char *const words[] = {" cores", " core", "cores", "core"};
		for (size_t i = 0; i < PW_ARRAY_SIZE(words); i++) {
			size_t wl = strlen(words[i]);
			if (len > wl && !strcmp(end - wl, words[i])) {
				end[-(ptrdiff_t)wl] = '\0';
				break;
			}
		}
	}
	double v;
	if (!parse_double(buf, &v))
		return false;
	*out = v * scale;
	return true;
}

static void parse_resources(struct cx *c, const ynode *key, const ynode *v, pw_resources *r)
{
	const ynode *d = yderef(v);
	r->loc = loc_of(key);
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write resources: {cpu_limit: 2, memory_limit: 8Gi}",
		       "resources: expected a mapping, got %s", pw_ynode_type_name(d));
		return;
	}
	const ynode *k[NRESOURCE_KEYS], *val[NRESOURCE_KEYS];
	collect(c, d, resource_keys, NRESOURCE_KEYS, k, val, " in resources", NULL, false);
	if (val[RS_CPU]) {
		const char *s =
		    scalar_text(c, "resources.cpu_limit", val[RS_CPU], "a number of cores");
		double cpu;
		if (s && !parse_cpu(s, &cpu))
			err_at(c, val[RS_CPU],
			       "write cores (2, 0.5, \"2 cores\") or millicores (500m)",
			       "resources.cpu_limit: '%s' is not a CPU amount", s);
		else if (s && cpu <= 0)
			err_at(c, val[RS_CPU], "remove the key for no limit",
			       "resources.cpu_limit must be greater than zero, got '%s'", s);
		else if (s)
			r->cpu_limit = cpu;
	}
	if (val[RS_MEMORY]) {
		const char *s = scalar_text(c, "resources.memory_limit", val[RS_MEMORY], "a size");
		int64_t b;
		if (s && pw_parse_size(s, &b) < 0)
			err_at(c, val[RS_MEMORY],
			       "write bytes (1048576) or a size with a unit: 100k, 512Mi, 8Gi, 1G",
			       "resources.memory_limit: '%s' is not a size", s);
		else if (s && b <= 0)
			err_at(c, val[RS_MEMORY], "remove the key for no limit",
			       "resources.memory_limit must be greater than zero, got '%s'", s);
		else if (s)
			r->memory_limit = b;
	}
	if (val[RS_COST]) {
		const char *s =
		    scalar_text(c, "resources.max_cost_per_run", val[RS_COST], "an amount");
		double cost;
		if (s && !parse_double(s[0] == '$' ? s + 1 : s, &cost))
			err_at(c, val[RS_COST], "write an amount: 0.50 or \"$0.50\"",
			       "resources.max_cost_per_run: '%s' is not an amount", s);
		else if (s && cost <= 0)
			err_at(c, val[RS_COST], "remove the key for no limit",
			       "resources.max_cost_per_run must be greater than zero, got '%s'", s);
		else if (s)
			r->max_cost_per_run = cost;
	}
	if (val[RS_PIDS]) {
		int n;
		if (want_int(c, "resources.pids_limit", val[RS_PIDS], 1, INT_MAX, &n))
			r->pids_limit = n;
	}
}

/* An amount of money, 0.50 or "$0.50", >= 0 (> 0 unless zero_ok).  False after reporting. */
static bool want_amount(struct cx *c, const char *what, const ynode *v, bool zero_ok, double *out)
{
	const char *s = scalar_text(c, what, v, "an amount");
	double x;
	if (!s)
		return false;
	if (!parse_double(s[0] == '$' ? s + 1 : s, &x)) {
		err_at(c, v, "write an amount: 0.50 or \"$0.50\"", "%s: '%s' is not an amount",
		       what, s);
		return false;
	}
	if (x < 0) {
		err_at(c, v, NULL, "%s cannot be negative, got '%s'", what, s);
		return false;
	}
	if (x == 0 && !zero_ok) {
		err_at(c, v, "remove the key for none", "%s must be greater than zero, got '%s'",
		       what, s);
		return false;
	}
	*out = x;
	return true;
}

enum { PR_VCPU, PR_GIB, PR_START };
static const struct keydef price_keys[] = {
    [PR_VCPU] = {"vcpu_second", false},
    [PR_GIB] = {"gib_second", false},
    [PR_START] = {"task_start", false},
};
#define NPRICE_KEYS PW_ARRAY_SIZE(price_keys)

/* prices: {vcpu_second: 0.0000112, gib_second: 0.0000012, task_start: 0.0001} */
static void parse_prices(struct cx *c, const char *what, const ynode *key, const ynode *v,
			 pw_prices *p)
{
	const ynode *d = yderef(v);
	p->loc = loc_of(key);
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write prices: {vcpu_second: 0.00001, gib_second: 0.000001}",
		       "%s: expected a mapping, got %s", what, pw_ynode_type_name(d));
		return;
	}
	const ynode *k[NPRICE_KEYS], *val[NPRICE_KEYS];
	char *where = pw_arena_sprintf(c->tmp, " in %s", what);
	collect(c, d, price_keys, NPRICE_KEYS, k, val, where, NULL, false);
	double *dst[NPRICE_KEYS] = {&p->vcpu_second, &p->gib_second, &p->task_start};
	for (size_t i = 0; i < NPRICE_KEYS; i++) {
		if (!val[i])
			continue;
		char *w = pw_arena_sprintf(c->tmp, "%s.%s", what, price_keys[i].name);
		want_amount(c, w, val[i], true, dst[i]);
	}
	p->set = true;
}

enum { BG_MAX_RUN, BG_MONTHLY, BG_WARN, BG_THROTTLE, BG_STOP };
static const struct keydef budget_keys[] = {
    [BG_MAX_RUN] = {"max_cost_per_run", false},
    [BG_MONTHLY] = {"monthly", false},
    [BG_WARN] = {"warn_at", false},
    [BG_THROTTLE] = {"throttle_at", false},
    [BG_STOP] = {"stop_at", false},
};
#define NBUDGET_KEYS PW_ARRAY_SIZE(budget_keys)

/* A fraction of the monthly budget: 0.8 or "80%", in (0, 10]. */
static bool want_fraction(struct cx *c, const char *what, const ynode *v, double *out)
{
	const char *s = scalar_text(c, what, v, "a fraction");
	if (!s)
		return false;
	char buf[64];
	size_t len = strlen(s);
	double x, scale = 1.0;
	if (len && len < sizeof(buf) && s[len - 1] == '%') {
		memcpy(buf, s, len - 1);
		buf[len - 1] = '\0';
		scale = 0.01;
	} else {
		snprintf(buf, sizeof(buf), "%s", s);
	}
	if (len >= sizeof(buf) || !parse_double(buf, &x) || x * scale <= 0 || x * scale > 10) {
		err_at(c, v, "write a fraction of the monthly budget: 0.8 or \"80%\"",
		       "%s: '%s' is not a fraction between 0 and 10", what, s);
		return false;
	}
	*out = x * scale;
	return true;
}

/* budget: {max_cost_per_run: 5, monthly: 70, warn_at: 0.8, throttle_at: 0.9, stop_at: 1.0} */
static void parse_budget(struct cx *c, const ynode *key, const ynode *v, pw_budget *b)
{
	const ynode *d = yderef(v);
	b->loc = loc_of(key);
	b->warn_at = 0.8;
	b->throttle_at = 0.9;
	b->stop_at = 1.0;
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write budget: {monthly: 70, max_cost_per_run: 5}",
		       "budget: expected a mapping, got %s", pw_ynode_type_name(d));
		return;
	}
	const ynode *k[NBUDGET_KEYS], *val[NBUDGET_KEYS];
	collect(c, d, budget_keys, NBUDGET_KEYS, k, val, " in budget", NULL, false);
	if (val[BG_MAX_RUN])
		want_amount(c, "budget.max_cost_per_run", val[BG_MAX_RUN], false,
			    &b->max_cost_per_run);
	if (val[BG_MONTHLY])
		want_amount(c, "budget.monthly", val[BG_MONTHLY], false, &b->monthly);
	double *frac[] = {&b->warn_at, &b->throttle_at, &b->stop_at};
	for (int i = BG_WARN; i <= BG_STOP; i++) {
		if (!val[i])
			continue;
		char *w = pw_arena_sprintf(c->tmp, "budget.%s", budget_keys[i].name);
		want_fraction(c, w, val[i], frac[i - BG_WARN]);
		if (!val[BG_MONTHLY])
			err_at(c, k[i], "add monthly: AMOUNT to the budget",
			       "budget.%s is a fraction of the monthly budget, but there is no "
			       "budget.monthly",
			       budget_keys[i].name);
	}
	if (b->warn_at > b->throttle_at || b->throttle_at > b->stop_at)
		err_at(c, key, "warn_at <= throttle_at <= stop_at",
		       "budget thresholds are out of order: warn_at %g, throttle_at %g, stop_at %g",
		       b->warn_at, b->throttle_at, b->stop_at);
	b->set = true;
}

static const char command_hint[] = "write the program and its arguments as a list, "
				   "command: [\"python\", \"run.py\"], or use shell: \"...\" "
				   "to run the line with /bin/sh -c";

/* command: list of strings, non-empty, first one a program name. */
static bool parse_command(struct cx *c, const char *what, const ynode *v, const char ***argv,
			  size_t *argc)
{
	if (!want_str_list(c, what, v, argv, argc, command_hint))
		return false;
	if (!*argc) {
		/* Items that were themselves bad were already reported. */
		const ynode *d = yderef(v);
		if (pw_ynode_is_null(d) || d->n == 0)
			err_at(c, v, "give the program and its arguments, e.g. command: [\"true\"]",
			       "%s is empty", what);
		return false;
	}
	if (!(*argv)[0][0]) {
		err_at(c, yderef(v)->u.kids[0], "the first item is the program to run",
		       "%s: the program name is empty", what);
		return false;
	}
	return true;
}

static const char *const actions[] = {"log", "notify", "command"};

static void parse_hook(struct cx *c, const char *what, const ynode *v, pw_hook *h)
{
	const ynode *d = yderef(v);
	h->loc = loc_of(v);
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write e.g. {action: notify, channels: [slack]}",
		       "%s: expected a mapping, got %s", what, pw_ynode_type_name(d));
		return;
	}
	h->present = true;
	const ynode *k[NHOOK_KEYS], *val[NHOOK_KEYS];
	char *where = pw_arena_sprintf(c->tmp, " in %s", what);
	collect(c, d, hook_keys, NHOOK_KEYS, k, val, where, NULL, false);
	char *w;

	if (val[HK_COMMAND] && val[HK_SHELL]) {
		const ynode *later =
		    loc_before(k[HK_COMMAND], k[HK_SHELL]) ? k[HK_SHELL] : k[HK_COMMAND];
		err_at(c, later, "use command: [...] or shell: \"...\", not both",
		       "%s has both command and shell", what);
	}
	if (val[HK_COMMAND]) {
		w = pw_arena_sprintf(c->tmp, "%s.command", what);
		const char **argv;
		size_t argc;
		if (parse_command(c, w, val[HK_COMMAND], &argv, &argc))
			h->argv = argv;
	}
	if (val[HK_SHELL]) {
		w = pw_arena_sprintf(c->tmp, "%s.shell", what);
		const char *s = want_string(c, w, val[HK_SHELL]);
		if (s && !*s)
			err_at(c, val[HK_SHELL], NULL, "%s is empty", w);
		else if (s)
			h->shell = s;
	}
	if (val[HK_MESSAGE]) {
		w = pw_arena_sprintf(c->tmp, "%s.message", what);
		h->message = want_string(c, w, val[HK_MESSAGE]);
	}
	if (val[HK_CHANNELS]) {
		w = pw_arena_sprintf(c->tmp, "%s.channels", what);
		want_str_list(c, w, val[HK_CHANNELS], &h->channels, &h->nchannels,
			      "write a list: channels: [slack]");
	}
	bool runs = val[HK_COMMAND] || val[HK_SHELL];
	if (val[HK_ACTION]) {
		w = pw_arena_sprintf(c->tmp, "%s.action", what);
		int i = pick_name(c, w, val[HK_ACTION], actions, PW_ARRAY_SIZE(actions));
		if (i >= 0)
			h->action = actions[i];
	} else if (runs) {
		h->action = "command";
	} else {
		err_at(c, v, "add action: log, action: notify (with channels) or a command",
		       "%s has no action", what);
	}
	if (h->action && !strcmp(h->action, "command") && !runs)
		err_at(c, k[HK_ACTION], "add command: [...] or shell: \"...\"",
		       "%s: action 'command' needs a command or shell", what);
	if (h->action && !strcmp(h->action, "notify") && !val[HK_CHANNELS])
		err_at(c, k[HK_ACTION], "add channels: [slack] (the names notifications go to)",
		       "%s: action 'notify' needs channels", what);
}

/* A non-empty string without control characters (a name sent to a scheduler). */
static const char *want_name(struct cx *c, const char *what, const ynode *v)
{
	const char *s = want_string(c, what, v);
	if (!s)
		return NULL;
	bool ok = *s != '\0';
	for (const char *p = s; ok && *p; p++)
		ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
	if (!ok) {
		err_at(c, v, "remove the key for none", "%s must be a non-empty single-line string",
		       what);
		return NULL;
	}
	return s;
}

/* slurm: {url: http://127.0.0.1:6820, api_version: v0.0.38, partition: batch, ...} */
static void parse_slurm(struct cx *c, const ynode *key, const ynode *v, pw_slurm_config *sc)
{
	const ynode *d = yderef(v);
	sc->loc = loc_of(key);
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write slurm: {url: http://127.0.0.1:6820, partition: batch}",
		       "slurm: expected a mapping, got %s", pw_ynode_type_name(d));
		return;
	}
	sc->set = true;
	const ynode *k[NSLURM_KEYS], *val[NSLURM_KEYS];
	collect(c, d, slurm_keys, NSLURM_KEYS, k, val, " in slurm", NULL, false);
	const char **dst[] = {[SL_URL] = &sc->url,
			      [SL_API_VERSION] = &sc->api_version,
			      [SL_JWT_FILE] = &sc->jwt_file,
			      [SL_USER] = &sc->user,
			      [SL_PARTITION] = &sc->partition,
			      [SL_ACCOUNT] = &sc->account,
			      [SL_QOS] = &sc->qos,
			      [SL_CONSTRAINT] = &sc->constraint};
	for (int i = SL_URL; i <= SL_CONSTRAINT; i++) {
		if (!val[i])
			continue;
		char *w = pw_arena_sprintf(c->tmp, "slurm.%s", slurm_keys[i].name);
		*dst[i] = want_name(c, w, val[i]);
	}
	if (sc->url && strncmp(sc->url, "http://", 7) && strncmp(sc->url, "https://", 8) &&
	    strncmp(sc->url, "unix:/", 6)) {
		err_at(c, val[SL_URL],
		       "slurmrestd's address: http://HOST:PORT, https://HOST:PORT or "
		       "unix:/path/to/slurmrestd.socket",
		       "slurm.url '%s' is not an http(s) URL or a unix socket", sc->url);
		sc->url = NULL;
	}
	if (sc->api_version) {
		const char *p = sc->api_version;
		bool ok = p[0] == 'v' && isdigit((unsigned char)p[1]);
		for (p++; ok && *p; p++)
			ok = isdigit((unsigned char)*p) || *p == '.';
		if (!ok) {
			err_at(c, val[SL_API_VERSION], "e.g. v0.0.38 (Slurm 22.05)",
			       "slurm.api_version '%s' is not an OpenAPI version", sc->api_version);
			sc->api_version = NULL;
		}
	}
	if (val[SL_POLL_INTERVAL])
		want_duration(c, "slurm.poll_interval", val[SL_POLL_INTERVAL], DUR_POSITIVE,
			      &sc->poll_interval_ms);
}

/* ---- tasks ---- */

static void parse_deps(struct cx *c, pw_task *t, const ynode *req, const ynode *opt)
{
	static const char *const what[2] = {"dependencies", "optional_dependencies"};
	static const char *const hint[2] = {
	    "write a list of task ids: dependencies: [extract, clean]",
	    "write a list of task ids: optional_dependencies: [extract]"};
	const ynode *lists[2];
	bool ok;
	lists[0] = req ? want_seq(c, what[0], req, hint[0], &ok) : NULL;
	lists[1] = opt ? want_seq(c, what[1], opt, hint[1], &ok) : NULL;
	size_t total = (lists[0] ? lists[0]->n : 0) + (lists[1] ? lists[1]->n : 0);
	t->ndeps = 0;
	t->deps = pw_arena_alloc(&c->dag->arena, (total ? total : 1) * sizeof(pw_dep));

	/*
	 * Each name once: a repeat in one list, or a name in both lists, is
	 * an error.  Small lists compare pairwise; big ones use a map.
	 */
	pw_strmap seen = PW_STRMAP_INIT;
	bool use_map = total > 16;
	for (size_t pass = 0; pass < 2; pass++) {
		const ynode *l = lists[pass];
		for (size_t i = 0; l && i < l->n; i++) {
			const ynode *it = l->u.kids[i];
			const char *name = list_item(c, what[pass], i, it);
			if (!name)
				continue;
			size_t prev = SIZE_MAX;
			if (use_map) {
				if (!pw_strmap_get(&seen, name, &prev))
					pw_strmap_put(&seen, name, t->ndeps);
			} else {
				for (size_t j = 0; j < t->ndeps && prev == SIZE_MAX; j++)
					if (!strcmp(t->deps[j].name, name))
						prev = j;
			}
			if (prev != SIZE_MAX && t->deps[prev].optional == (pass == 1)) {
				err_at(c, it, "list each dependency once",
				       "task '%s' lists dependency '%s' twice", t->task_id, name);
				continue;
			}
			if (prev != SIZE_MAX) {
				err_at(
				    c, it,
				    "a dependency is either required or optional; remove it from "
				    "one list",
				    "task '%s' lists '%s' in both dependencies and "
				    "optional_dependencies",
				    t->task_id, name);
				continue;
			}
			t->deps[t->ndeps++] = (pw_dep){name, SIZE_MAX, pass == 1, loc_of(it)};
		}
	}
	pw_strmap_release(&seen);
}

/*
 * retry_policy: the spec's spelling of retries and retry_delay, plus the
 * backoff settings.  A value given both here and as a task key is an
 * error (which one was meant?).  task_vals are the task's own keys.
 */
static void parse_retry_policy(struct cx *c, pw_task *t, const ynode *v,
			       const ynode *const *task_vals)
{
	const ynode *d = yderef(v);
	if (pw_ynode_is_null(d))
		return;
	if (d->kind != YN_MAP) {
		err_at(c, v, "write retry_policy: {max_retries: 3, retry_delay: 60s}",
		       "retry_policy: expected a mapping, got %s", pw_ynode_type_name(d));
		return;
	}
	const ynode *k[NPOLICY_KEYS], *pv[NPOLICY_KEYS];
	collect(c, d, policy_keys, NPOLICY_KEYS, k, pv, " in retry_policy", NULL, false);
	static const struct {
		int pol, task;
	} clash[] = {
	    {RP_MAX_RETRIES, TK_RETRIES},
	    {RP_RETRY_DELAY, TK_RETRY_DELAY},
	    {RP_RETRY_ON, TK_RETRY_ON},
	    {RP_NO_RETRY_ON, TK_NO_RETRY_ON},
	};
	for (size_t i = 0; i < PW_ARRAY_SIZE(clash); i++) {
		if (!pv[clash[i].pol] || !task_vals[clash[i].task])
			continue;
		err_at(c, k[clash[i].pol], "give it in one place only",
		       "task '%s' has both %s and retry_policy.%s", t->task_id,
		       task_keys[clash[i].task].name, policy_keys[clash[i].pol].name);
		pv[clash[i].pol] = NULL;
	}
	if (pv[RP_MAX_RETRIES])
		want_int(c, "retry_policy.max_retries", pv[RP_MAX_RETRIES], 0, INT_MAX,
			 &t->retries);
	if (pv[RP_RETRY_DELAY])
		want_duration(c, "retry_policy.retry_delay", pv[RP_RETRY_DELAY], DUR_NONNEG,
			      &t->retry_delay_ms);
	if (pv[RP_BACKOFF])
		want_backoff(c, "retry_policy.backoff_multiplier", pv[RP_BACKOFF],
			     &t->retry_backoff);
	if (pv[RP_MAX_RETRY_DELAY])
		want_duration(c, "retry_policy.max_retry_delay", pv[RP_MAX_RETRY_DELAY], DUR_NONNEG,
			      &t->max_retry_delay_ms);
	if (pv[RP_RETRY_ON])
		parse_retry_match(c, "retry_policy.retry_on", pv[RP_RETRY_ON], &t->retry_on);
	if (pv[RP_NO_RETRY_ON])
		parse_retry_match(c, "retry_policy.no_retry_on", pv[RP_NO_RETRY_ON],
				  &t->no_retry_on);
}

/* Returns whether the task has an id of its own (a stand-in is used otherwise). */
static bool parse_task(struct cx *c, const ynode *node, pw_task *t, size_t index)
{
	const ynode *k[NTASK_KEYS], *v[NTASK_KEYS];
	memset(t, 0, sizeof(*t));
	t->index = index;
	t->loc = loc_of(node);
	t->timeout_ms = -1;
	t->retries = -1;
	t->retry_delay_ms = -1;
	t->retry_backoff = 0;
	t->max_retry_delay_ms = -1;
	collect(c, node, task_keys, NTASK_KEYS, k, v, " in task", task_key_hint, false);

	const char *id = v[TK_TASK_ID] ? want_string(c, "task_id", v[TK_TASK_ID]) : NULL;
	if (id) {
		/* A malformed id is still registered, so its dependents do not cascade. */
		check_id(c, "task_id", v[TK_TASK_ID], id);
		t->task_id = id;
		t->id_loc = loc_of(v[TK_TASK_ID]);
	} else {
		if (!v[TK_TASK_ID] || pw_ynode_is_null(v[TK_TASK_ID]))
			err_at(c, v[TK_TASK_ID] ? v[TK_TASK_ID] : node,
			       "every task needs a unique task_id", "task %zu has no task_id",
			       index + 1);
		/* A stand-in for messages; it cannot collide with a valid id. */
		t->task_id = pw_arena_sprintf(&c->dag->arena, "#%zu", index + 1);
		t->id_loc = t->loc;
	}
	const char *tid = t->task_id;

	if (v[TK_DESCRIPTION])
		want_string(c, "description", v[TK_DESCRIPTION]);

	if (v[TK_COMMAND] && v[TK_SHELL]) {
		const ynode *later =
		    loc_before(k[TK_COMMAND], k[TK_SHELL]) ? k[TK_SHELL] : k[TK_COMMAND];
		err_at(c, later,
		       "use command: [...] to run a program directly, or shell: \"...\" to run a "
		       "line with /bin/sh -c, not both",
		       "task '%s' has both command and shell", tid);
	} else if (!v[TK_COMMAND] && !v[TK_SHELL]) {
		err_at(c, node, "add command: [\"program\", \"arg\"] or shell: \"...\"",
		       "task '%s' has neither command nor shell", tid);
	}
	if (v[TK_COMMAND]) {
		t->command_loc = loc_of(v[TK_COMMAND]);
		if (!parse_command(c, "command", v[TK_COMMAND], &t->argv, &t->argc)) {
			t->argv = NULL;
			t->argc = 0;
		}
	}
	if (v[TK_SHELL]) {
		t->shell_loc = loc_of(v[TK_SHELL]);
		const char *s = want_string(c, "shell", v[TK_SHELL]);
		if ((s && !*s) || (!s && pw_ynode_is_null(v[TK_SHELL])))
			err_at(c, v[TK_SHELL], "give the command line to run with /bin/sh -c",
			       "shell is empty");
		else if (s)
			t->shell = s;
	}

	parse_deps(c, t, v[TK_DEPENDENCIES], v[TK_OPTIONAL_DEPENDENCIES]);

	if (v[TK_TRIGGER_RULE]) {
		int r = pick_name(c, "trigger_rule", v[TK_TRIGGER_RULE], pw_trigger_rule_names,
				  pw_trigger_rule_count);
		if (r >= 0)
			t->trigger_rule = (pw_trigger_rule)r;
	}

	if (v[TK_TIMEOUT])
		want_duration(c, "timeout", v[TK_TIMEOUT], DUR_POSITIVE, &t->timeout_ms);
	if (v[TK_RETRIES])
		want_int(c, "retries", v[TK_RETRIES], 0, INT_MAX, &t->retries);
	if (v[TK_RETRY_DELAY])
		want_duration(c, "retry_delay", v[TK_RETRY_DELAY], DUR_NONNEG, &t->retry_delay_ms);
	if (v[TK_RETRY_ON])
		parse_retry_match(c, "retry_on", v[TK_RETRY_ON], &t->retry_on);
	if (v[TK_NO_RETRY_ON])
		parse_retry_match(c, "no_retry_on", v[TK_NO_RETRY_ON], &t->no_retry_on);

	if (v[TK_RETRY_POLICY])
		parse_retry_policy(c, t, v[TK_RETRY_POLICY], v);

	if (v[TK_ENV])
		parse_env(c, "env", v[TK_ENV], &t->env, &t->nenv);
	if (v[TK_WORKING_DIR]) {
		const char *s = want_string(c, "working_dir", v[TK_WORKING_DIR]);
		if (s && !*s)
			err_at(c, v[TK_WORKING_DIR], "remove the key to use the run workspace",
			       "working_dir is empty");
		else
			t->working_dir = s;
	}
	if (v[TK_INPUTS])
		want_str_list(c, "inputs", v[TK_INPUTS], &t->inputs, &t->ninputs,
			      "write a list: inputs: [\"raw/*.json\"]");
	if (v[TK_OUTPUTS])
		want_str_list(c, "outputs", v[TK_OUTPUTS], &t->outputs, &t->noutputs,
			      "write a list: outputs: [\"clean/laps.csv\"]");
	if (v[TK_RESOURCES])
		parse_resources(c, k[TK_RESOURCES], v[TK_RESOURCES], &t->resources);
	if (v[TK_CONTAINER]) {
		const char *s = want_string(c, "container", v[TK_CONTAINER]);
		if (s && !*s)
			err_at(c, v[TK_CONTAINER], "give an image reference", "container is empty");
		else
			t->container = s;
	}
	/* Unset: resolved with the DAG's executor (resolve_task_defaults). */
	t->executor = NULL;
	if (v[TK_EXECUTOR]) {
		static const char *const execs[] = {"local", "container", "slurm"};
		int e = pick_name(c, "executor", v[TK_EXECUTOR], execs, PW_ARRAY_SIZE(execs));
		if (e >= 0)
			t->executor = execs[e];
		if (e >= 0 && !strcmp(t->executor, "container") && !t->container)
			err_at(c, v[TK_EXECUTOR], "add container: IMAGE to the task",
			       "task '%s' uses executor 'container' but names no container", tid);
		if (e >= 0 && !strcmp(t->executor, "slurm") && t->container)
			err_at(c, v[TK_EXECUTOR],
			       "remove container: (a Slurm job runs the command on the node as it "
			       "is) or use executor: container",
			       "task '%s' uses executor 'slurm' and names a container", tid);
	}
	const char **slurm_dst[] = {&t->partition, &t->account, &t->qos, &t->constraint};
	for (int i = TK_PARTITION; i <= TK_CONSTRAINT; i++)
		if (v[i])
			*slurm_dst[i - TK_PARTITION] = want_name(c, task_keys[i].name, v[i]);
	if (v[TK_SOURCE])
		want_bool(c, "source", v[TK_SOURCE], &t->source);
	if (v[TK_NETWORK])
		want_bool(c, "network", v[TK_NETWORK], &t->network);
	if (v[TK_CRITICAL])
		want_bool(c, "critical", v[TK_CRITICAL], &t->critical);
	if (v[TK_PRICES])
		parse_prices(c, "prices", k[TK_PRICES], v[TK_PRICES], &t->prices);
	return id != NULL;
}

static void parse_tasks(struct cx *c, const ynode *key, const ynode *v)
{
	pw_dag *dag = c->dag;
	const ynode *d = yderef(v);
	if (d->kind != YN_SEQ) {
		if (pw_ynode_is_null(d))
			err_at(c, key, "a DAG needs at least one task", "tasks is empty");
		else
			err_at(c, v, "write each task as a list item: - task_id: NAME",
			       "tasks: expected a list of tasks, got %s", pw_ynode_type_name(d));
		return;
	}
	if (d->n == 0) {
		err_at(c, v, "a DAG needs at least one task", "tasks is empty");
		return;
	}
	dag->tasks = pw_arena_alloc(&dag->arena, d->n * sizeof(pw_task));
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++) {
		const ynode *item = d->u.kids[i];
		if (yderef(item)->kind != YN_MAP) {
			err_at(c, item, "each task is a mapping: - task_id: NAME",
			       "tasks: item %zu: expected a task (a mapping), got %s", i + 1,
			       pw_ynode_type_name(item));
			continue;
		}
		pw_task *t = &dag->tasks[n];
		if (parse_task(c, item, t, n)) {
			size_t first;
			if (!pw_strmap_put(&dag->ids, t->task_id, n)) {
				pw_strmap_get(&dag->ids, t->task_id, &first);
				err_loc(c, t->id_loc, "task ids must be unique within a DAG",
					"duplicate task_id '%s' (first defined at line %d)",
					t->task_id, dag->tasks[first].id_loc.line);
			}
		}
		n++;
	}
	dag->ntasks = n;
}

static void resolve_task_defaults(pw_dag *dag)
{
	for (size_t i = 0; i < dag->ntasks; i++) {
		pw_task *t = &dag->tasks[i];
		/* A task with a container runs it here unless it says otherwise. */
		if (!t->executor)
			t->executor = !t->container && dag->executor ? dag->executor : "local";
		if (!strcmp(t->executor, "slurm")) {
			const pw_slurm_config *sc = &dag->slurm;
			if (!t->partition)
				t->partition = sc->partition;
			if (!t->account)
				t->account = sc->account;
			if (!t->qos)
				t->qos = sc->qos;
			if (!t->constraint)
				t->constraint = sc->constraint;
		}
		if (t->timeout_ms < 0)
			t->timeout_ms = dag->default_timeout_ms > 0 ? dag->default_timeout_ms : 0;
		if (t->retries < 0)
			t->retries = dag->default_retries >= 0 ? dag->default_retries : 0;
		if (t->retry_delay_ms < 0)
			t->retry_delay_ms =
			    dag->default_retry_delay_ms >= 0 ? dag->default_retry_delay_ms : 0;
		if (t->retry_backoff < 1)
			t->retry_backoff = dag->retry_backoff;
		if (t->max_retry_delay_ms < 0)
			t->max_retry_delay_ms = dag->max_retry_delay_ms;
	}
}

/* ---- top level ---- */

static void parse_schedule(struct cx *c, const ynode *v)
{
	const char *s = want_string(c, "schedule", v);
	if (!s)
		return;
	const ynode *d = yderef(v);
	pw_cron cron;
	pw_cron_error ce;
	memset(&ce, 0, sizeof(ce));
	if (pw_cron_parse(&cron, s, &ce) < 0) {
		int col = v->col;
		/* Only a scalar written in place maps columns one to one. */
		if (v == d && d->quoted < 2)
			col = v->col + (ce.col > 0 ? ce.col - 1 : 0) + d->quoted;
		pw_diags_add(c->diags, PW_DIAG_ERROR, c->path, v->line, col,
			     "five fields: minute hour day-of-month month day-of-week "
			     "(\"0 2 * * 1\"), or @hourly, @daily, @weekly, @monthly, @yearly",
			     "schedule '%s': %s", s,
			     ce.msg[0] ? ce.msg : "invalid cron expression");
		return;
	}
	c->dag->schedule = s;
	c->dag->schedule_loc = loc_of(v);
}

static bool valid_tz_name(const char *s)
{
	if (!*s || *s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "..") || strstr(s, "//"))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-/", *p))
			return false;
	return true;
}

static void parse_top(struct cx *c, const ynode *root)
{
	pw_dag *dag = c->dag;
	const ynode *k[NDAG_KEYS], *v[NDAG_KEYS];
	collect(c, root, dag_keys, NDAG_KEYS, k, v, "", dag_key_hint, true);

	if (!v[DK_DAG_ID]) {
		err_at(c, root, "name the DAG: dag_id: my_pipeline",
		       "missing required key 'dag_id'");
	} else {
		const char *s = want_string(c, "dag_id", v[DK_DAG_ID]);
		if (!s && pw_ynode_is_null(v[DK_DAG_ID]))
			err_at(c, v[DK_DAG_ID], "name the DAG: dag_id: my_pipeline",
			       "dag_id is empty");
		else if (s && check_id(c, "dag_id", v[DK_DAG_ID], s)) {
			dag->dag_id = s;
			dag->dag_id_loc = loc_of(v[DK_DAG_ID]);
		}
	}
	if (v[DK_DESCRIPTION])
		dag->description = want_string(c, "description", v[DK_DESCRIPTION]);
	if (v[DK_SCHEDULE])
		parse_schedule(c, v[DK_SCHEDULE]);
	if (v[DK_TIMEZONE]) {
		const char *s = want_string(c, "timezone", v[DK_TIMEZONE]);
		pw_tz *tz = NULL;
		if (s && !valid_tz_name(s))
			err_at(c, v[DK_TIMEZONE], "use a zone name such as Europe/London or UTC",
			       "timezone '%s' is not a time zone name", s);
		else if (s && !(tz = pw_tz_load(s)))
			err_at(
			    c, v[DK_TIMEZONE],
			    "use an IANA name such as Europe/London (the names are the files under "
			    "/usr/share/zoneinfo; install tzdata if it is empty)",
			    "unknown time zone '%s'", s);
		else
			dag->timezone = s;
		pw_tz_free(tz);
	}
	if (v[DK_DEFAULT_TIMEOUT])
		want_duration(c, "default_timeout", v[DK_DEFAULT_TIMEOUT], DUR_POSITIVE,
			      &dag->default_timeout_ms);
	if (v[DK_DEFAULT_RETRIES])
		want_int(c, "default_retries", v[DK_DEFAULT_RETRIES], 0, INT_MAX,
			 &dag->default_retries);
	if (v[DK_DEFAULT_RETRY_DELAY])
		want_duration(c, "default_retry_delay", v[DK_DEFAULT_RETRY_DELAY], DUR_NONNEG,
			      &dag->default_retry_delay_ms);
	if (v[DK_RETRY_BACKOFF])
		want_backoff(c, "retry_backoff", v[DK_RETRY_BACKOFF], &dag->retry_backoff);
	if (v[DK_MAX_RETRY_DELAY])
		want_duration(c, "max_retry_delay", v[DK_MAX_RETRY_DELAY], DUR_NONNEG,
			      &dag->max_retry_delay_ms);
	if (v[DK_RETRY_JITTER]) {
		const ynode *d = yderef(v[DK_RETRY_JITTER]);
		bool b;
		double x;
		if (d->kind == YN_SCALAR && bool_text(d->u.str, &b)) {
			dag->retry_jitter = b ? 1.0 : 0.0;
		} else if (want_number(c, "retry_jitter", v[DK_RETRY_JITTER], &x)) {
			if (x < 0 || x > 1)
				err_at(c, v[DK_RETRY_JITTER],
				       "the fraction of the delay randomised: 0 (none) to 1 "
				       "(full), or "
				       "true/false",
				       "retry_jitter must be between 0 and 1, got %s", d->u.str);
			else
				dag->retry_jitter = x;
		}
	}
	if (v[DK_MAX_ACTIVE_TASKS])
		want_int(c, "max_active_tasks", v[DK_MAX_ACTIVE_TASKS], 1, INT_MAX,
			 &dag->max_active_tasks);
	if (v[DK_KILL_GRACE])
		want_duration(c, "kill_grace", v[DK_KILL_GRACE], DUR_NONNEG, &dag->kill_grace_ms);
	if (v[DK_ENV])
		parse_env(c, "env", v[DK_ENV], &dag->env, &dag->nenv);
	if (v[DK_ON_FAILURE])
		parse_hook(c, "on_failure", v[DK_ON_FAILURE], &dag->on_failure);
	if (v[DK_ON_SUCCESS])
		parse_hook(c, "on_success", v[DK_ON_SUCCESS], &dag->on_success);
	static const char *const catchups[] = {"latest", "none", "all"};
	static const char *const overlaps[] = {"skip", "queue"};
	if (v[DK_CATCHUP]) {
		/* Airflow's catchup: true/false means all/none. */
		const ynode *d = yderef(v[DK_CATCHUP]);
		if (d->kind == YN_SCALAR && !d->quoted && strcmp(d->u.str, "true") == 0) {
			dag->catchup = PW_CATCHUP_ALL;
		} else if (d->kind == YN_SCALAR && !d->quoted && strcmp(d->u.str, "false") == 0) {
			dag->catchup = PW_CATCHUP_NONE;
		} else {
			int r = pick_name(c, "catchup", v[DK_CATCHUP], catchups, 3);
			if (r >= 0)
				dag->catchup = r;
		}
	}
	if (v[DK_CATCHUP_WINDOW])
		want_int(c, "catchup_window", v[DK_CATCHUP_WINDOW], 1, 100000,
			 &dag->catchup_window);
	if (v[DK_MAX_ACTIVE_RUNS])
		want_int(c, "max_active_runs", v[DK_MAX_ACTIVE_RUNS], 1, 1000,
			 &dag->max_active_runs);
	if (v[DK_OVERLAP]) {
		int r = pick_name(c, "overlap", v[DK_OVERLAP], overlaps, 2);
		if (r >= 0)
			dag->overlap = r;
	}
	if (v[DK_PRICES])
		parse_prices(c, "prices", k[DK_PRICES], v[DK_PRICES], &dag->prices);
	if (v[DK_BUDGET])
		parse_budget(c, k[DK_BUDGET], v[DK_BUDGET], &dag->budget);
	if (v[DK_CONTAINER_RUNTIME]) {
		static const char *const rts[] = {"auto", "runc", "crun", "podman", "docker"};
		int r = pick_name(c, "container_runtime", v[DK_CONTAINER_RUNTIME], rts,
				  PW_ARRAY_SIZE(rts));
		if (r >= 0)
			dag->container_runtime = rts[r];
	}
	if (v[DK_CONTAINER_ENV])
		want_str_list(c, "container_env", v[DK_CONTAINER_ENV], &dag->container_env,
			      &dag->ncontainer_env,
			      "write a list of variable names: container_env: [F1_SOURCE]");
	if (v[DK_EXECUTOR]) {
		/* A container is a task's own matter: the DAG's default is where the rest run. */
		static const char *const execs[] = {"local", "slurm"};
		int e = pick_name(c, "executor", v[DK_EXECUTOR], execs, PW_ARRAY_SIZE(execs));
		if (e >= 0)
			dag->executor = execs[e];
	}
	if (v[DK_SLURM])
		parse_slurm(c, k[DK_SLURM], v[DK_SLURM], &dag->slurm);

	if (!v[DK_TASKS])
		err_at(c, root, "list the tasks under tasks:", "missing required key 'tasks'");
	else
		parse_tasks(c, k[DK_TASKS], v[DK_TASKS]);
	resolve_task_defaults(dag);
}

void pw_dag_convert(pw_dag *dag, const ynode *root, pw_arena *tmp, pw_diags *diags)
{
	struct cx c = {dag, diags, dag->path, tmp, PW_STRMAP_INIT};
	const ynode *r = yderef(root);
	if (r->kind != YN_MAP)
		err_at(&c, root, "start the file with dag_id: NAME and tasks:",
		       "the top level must be a mapping (dag_id, tasks, ...), got %s",
		       pw_ynode_type_name(r));
	else
		parse_top(&c, r);
	pw_strmap_release(&c.seen_diags);
}

void pw_prices_convert(pw_prices *out, const ynode *root, const char *path, pw_arena *tmp,
		       pw_diags *diags)
{
	struct cx c = {NULL, diags, path, tmp, PW_STRMAP_INIT};
	const ynode *r = yderef(root);
	memset(out, 0, sizeof(*out));
	if (r->kind != YN_MAP) {
		err_at(&c, root, "write prices: {vcpu_second: 0.00001, gib_second: 0.000001}",
		       "a price file is a mapping, got %s", pw_ynode_type_name(r));
	} else {
		/* Either `prices: {...}` or the price keys at the top. */
		struct ment *e;
		size_t n = map_entries(&c, r, &e, NULL, 0);
		const ynode *key = NULL, *val = NULL;
		for (size_t i = 0; i < n && !key; i++) {
			if (!strcmp(e[i].name, "prices")) {
				key = e[i].key;
				val = e[i].val;
			}
		}
		if (key)
			parse_prices(&c, "prices", key, val, out);
		else
			parse_prices(&c, "prices", root, r, out);
	}
	pw_strmap_release(&c.seen_diags);
}
