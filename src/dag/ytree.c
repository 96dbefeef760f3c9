/*
 * libyaml events -> ynode tree.
 *
 * The builder is a loop over events with an explicit stack, so nesting
 * never recurses.  Each open collection accumulates its expanded size (the
 * number of nodes it would have if every alias were copied) and expanded
 * depth; an anchor records both when it closes, so an alias costs its
 * target's size without walking it.  Aliases are kept as nodes pointing at
 * their target, never copied.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "dag/dag_internal.h"

bool pw_ynode_is_null(const ynode *n)
{
	n = yderef(n);
	if (!n || n->kind != YN_SCALAR || n->quoted)
		return false;
	const char *s = n->u.str;
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

static bool looks_numeric(const char *s)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	bool digit = false;
	while (*p >= '0' && *p <= '9') {
		p++;
		digit = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digit = true;
		}
	}
	return digit && !*p;
}

const char *pw_ynode_type_name(const ynode *n)
{
	n = yderef(n);
	if (!n)
		return "nothing";
	switch (n->kind) {
	case YN_SEQ: return "a list";
	case YN_MAP: return "a mapping";
	default: break;
	}
	if (pw_ynode_is_null(n))
		return "null";
	if (!n->quoted) {
		const char *s = n->u.str;
		if (!strcasecmp(s, "true") || !strcasecmp(s, "false"))
			return "a boolean";
		if (looks_numeric(s))
			return "a number";
	}
	return "a string";
}

struct frame {
	ynode *node;
	size_t kids_start; /* index into the scratch kids vector */
	size_t anchor;	   /* index into anchors, or SIZE_MAX */
	uint64_t size;	   /* expanded node count, including this one */
	unsigned depth;	   /* expanded depth, 1 for an empty collection */
};

struct anchor {
	ynode *node;
	uint64_t size;
	unsigned depth;
	bool open;
};

struct alias_mark {
	int line, col;
	uint64_t total; /* expanded nodes in the document up to and including this alias */
};

/*
 * Strings packed end to end in chunks of the DAG's arena (the arena itself
 * rounds every allocation up to 16 bytes), and nodes in slabs of the node
 * arena: a 100,000-task file has over a million of each.
 */
#define PACK_CHUNK (64 * 1024)
#define PACK_MAX 1024
#define SLAB_NODES (PACK_CHUNK / sizeof(ynode))
/* Mapping keys are interned, up to this many distinct ones. */
#define MAX_INTERNED 4096

struct builder {
	const char *path;
	pw_arena *strs, *nodes;
	pw_diags *diags;

	char *pack;
	size_t pack_left;
	ynode *slab;
	size_t slab_left;
	pw_strmap keys;
	const char **interned;
	size_t ninterned, capinterned;

	struct frame *stack;
	size_t nstack, capstack;
	ynode **kids;
	size_t nkids, capkids;

	struct anchor *anchors;
	size_t nanchors, capanchors;
	pw_strmap anchor_ids;
	pw_arena anchor_names;

	struct alias_mark *aliases;
	size_t naliases, capaliases;

	uint64_t doc_nodes; /* nodes as written, aliases counting one */
	uint64_t total;	    /* nodes as expanded */
	bool expansion_reported;
	ynode *root;
	bool failed;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void berr(struct builder *b, int line, int col, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void berr(struct builder *b, int line, int col, const char *hint, const char *fmt, ...)
{
	pw_strbuf sb = PW_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	pw_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	pw_diags_add(b->diags, PW_DIAG_ERROR, b->path, line, col, hint, "%s", sb.buf);
	pw_strbuf_release(&sb);
}

static const char expansion_msg[] =
    "alias expansion too large (possible 'billion laughs' document)";

static void expansion_error(struct builder *b, int line, int col)
{
	if (b->expansion_reported)
		return;
	b->expansion_reported = true;
	berr(b, line, col,
	     "aliases may expand to at most 10 times the document's size and 64 levels of nesting",
	     "%s", expansion_msg);
}

static const char *pack_str(struct builder *b, const char *s, size_t len)
{
	if (len >= PACK_MAX)
		return pw_arena_strndup(b->strs, s, len);
	if (len + 1 > b->pack_left) {
		b->pack = pw_arena_alloc(b->strs, PACK_CHUNK);
		b->pack_left = PACK_CHUNK;
	}
	char *r = b->pack;
	memcpy(r, s, len);
	r[len] = '\0';
	b->pack += len + 1;
	b->pack_left -= len + 1;
	return r;
}

/* Keys repeat on every task: keep one copy of each. */
static const char *scalar_str(struct builder *b, const char *s, size_t len, bool is_key)
{
	if (!is_key || len >= PACK_MAX)
		return pack_str(b, s, len);
	size_t i;
	/* libyaml terminates scalar values, so s can be looked up as it is. */
	if (pw_strmap_get(&b->keys, s, &i))
		return b->interned[i];
	const char *p = pack_str(b, s, len);
	if (b->ninterned < MAX_INTERNED) {
		PW_GROW(b->interned, b->capinterned, b->ninterned + 1);
		b->interned[b->ninterned] = p;
		pw_strmap_put(&b->keys, p, b->ninterned++);
	}
	return p;
}

static ynode *new_node(struct builder *b, ynode_kind kind, const yaml_mark_t *m)
{
	if (!b->slab_left) {
		b->slab = pw_arena_alloc(b->nodes, SLAB_NODES * sizeof(ynode));
		b->slab_left = SLAB_NODES;
	}
	ynode *n = b->slab++;
	b->slab_left--;
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	b->doc_nodes++;
	return n;
}

/* Hang a finished node (expanded size, depth) on the open collection or make it the root. */
static void attach(struct builder *b, ynode *n, uint64_t size, unsigned depth)
{
	if (!b->nstack) {
		if (!b->root)
			b->root = n;
		return;
	}
	struct frame *f = &b->stack[b->nstack - 1];
	f->size = sat_add(f->size, size);
	if (depth + 1 > f->depth)
		f->depth = depth + 1;
	PW_GROW(b->kids, b->capkids, b->nkids + 1);
	b->kids[b->nkids++] = n;
}

static size_t register_anchor(struct builder *b, const char *name, ynode *n)
{
	size_t idx;
	if (!pw_strmap_get(&b->anchor_ids, name, &idx)) {
		PW_GROW(b->anchors, b->capanchors, b->nanchors + 1);
		idx = b->nanchors++;
		pw_strmap_put(&b->anchor_ids, pw_arena_strdup(&b->anchor_names, name), idx);
	}
	/* A redefined anchor replaces the old one for the aliases that follow. */
	b->anchors[idx] = (struct anchor){n, 1, 1, true};
	return idx;
}

/* Duplicate keys of a just-closed mapping. */
static void check_keys(struct builder *b, ynode *map)
{
	size_t n = map->n;
	if (!n)
		return;
	pw_strmap seen = PW_STRMAP_INIT;
	bool use_map = n > 8;
	for (size_t i = 0; i < n; i++) {
		ynode *k = map->u.kids[2 * i];
		const ynode *kd = yderef(k);
		if (kd->kind != YN_SCALAR)
			continue; /* reported where the mapping is read */
		const char *name = kd->u.str;
		ynode *first = NULL;
		if (use_map) {
			size_t j;
			if (pw_strmap_get(&seen, name, &j))
				first = map->u.kids[2 * j];
			else
				pw_strmap_put(&seen, name, i);
		} else {
			for (size_t j = 0; j < i && !first; j++) {
				const ynode *o = yderef(map->u.kids[2 * j]);
				if (o->kind == YN_SCALAR && strcmp(o->u.str, name) == 0)
					first = map->u.kids[2 * j];
			}
		}
		if (first)
			berr(b, k->line, k->col, "each key may appear once in a mapping",
			     "duplicate key '%s' (first at line %d)", name, first->line);
	}
	pw_strmap_release(&seen);
}

static void close_collection(struct builder *b)
{
	struct frame f = b->stack[--b->nstack];
	ynode *n = f.node;
	size_t cnt = b->nkids - f.kids_start;
	n->u.kids = pw_arena_alloc(b->nodes, (cnt ? cnt : 1) * sizeof(ynode *));
	if (cnt)
		memcpy(n->u.kids, b->kids + f.kids_start, cnt * sizeof(ynode *));
	b->nkids = f.kids_start;
	n->n = (uint32_t)(n->kind == YN_MAP ? cnt / 2 : cnt);
	if (n->kind == YN_MAP)
		check_keys(b, n);
	if (f.anchor != SIZE_MAX) {
		struct anchor *a = &b->anchors[f.anchor];
		if (a->node == n) {
			a->size = f.size;
			a->depth = f.depth;
			a->open = false;
		}
	}
	attach(b, n, f.size, f.depth);
}

static void open_collection(struct builder *b, ynode_kind kind, const yaml_event_t *ev,
			    const yaml_char_t *anchor)
{
	ynode *n = new_node(b, kind, &ev->start_mark);
	b->total = sat_add(b->total, 1);
	if (b->nstack >= PW_YAML_MAX_DEPTH) {
		berr(b, n->line, n->col, "flatten the structure; a DAG file needs a few levels",
		     "nesting deeper than %d levels", PW_YAML_MAX_DEPTH);
		b->failed = true;
		return;
	}
	PW_GROW(b->stack, b->capstack, b->nstack + 1);
	struct frame *f = &b->stack[b->nstack++];
	f->node = n;
	f->kids_start = b->nkids;
	f->size = 1;
	f->depth = 1;
	f->anchor = anchor ? register_anchor(b, (const char *)anchor, n) : SIZE_MAX;
}

static ynode *null_node(struct builder *b, const yaml_mark_t *m)
{
	ynode *n = new_node(b, YN_SCALAR, m);
	n->u.str = "";
	n->bad = 1;
	return n;
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	ynode *n = new_node(b, YN_SCALAR, &ev->start_mark);
	switch (ev->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE: n->quoted = 0; break;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE: n->quoted = 2; break;
	default: n->quoted = 1; break;
	}
	if (memchr(v, '\0', len)) {
		berr(b, n->line, n->col, "remove the \\0 escape",
		     "a string contains a NUL character");
		len = strlen(v);
	}
	bool is_key = b->nstack && b->stack[b->nstack - 1].node->kind == YN_MAP &&
		      (b->nkids - b->stack[b->nstack - 1].kids_start) % 2 == 0;
	n->u.str = scalar_str(b, v, len, is_key);
	n->n = (uint32_t)len;
	b->total = sat_add(b->total, 1);
	if (ev->data.scalar.anchor) {
		size_t a = register_anchor(b, (const char *)ev->data.scalar.anchor, n);
		b->anchors[a].open = false;
	}
	attach(b, n, 1, 1);
}

static void on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t idx;
	if (!pw_strmap_get(&b->anchor_ids, name, &idx)) {
		ynode *n = null_node(b, &ev->start_mark);
		berr(b, n->line, n->col,
		     "define the anchor (&name) before the alias (*name) uses it",
		     "unknown alias '*%s'", name);
		attach(b, n, 1, 1);
		return;
	}
	struct anchor *a = &b->anchors[idx];
	if (a->open) {
		ynode *n = null_node(b, &ev->start_mark);
		berr(b, n->line, n->col, "an alias cannot refer to a node that contains it",
		     "recursive alias '*%s' (it is inside its own anchor)", name);
		attach(b, n, 1, 1);
		return;
	}
	ynode *n = new_node(b, YN_ALIAS, &ev->start_mark);
	n->u.target = a->node;
	b->total = sat_add(b->total, a->size);
	PW_GROW(b->aliases, b->capaliases, b->naliases + 1);
	b->aliases[b->naliases++] = (struct alias_mark){n->line, n->col, b->total};
	if (b->nstack + a->depth > PW_YAML_MAX_DEPTH)
		expansion_error(b, n->line, n->col);
	attach(b, n, a->size, a->depth);
}

static int count_line_col(const char *buf, size_t off, int *col)
{
	int line = 1;
	size_t start = 0;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			start = i + 1;
		}
	}
	int c = 1;
	for (size_t i = start; i < off; i++)
		if (((unsigned char)buf[i] & 0xC0) != 0x80)
			c++;
	*col = c;
	return line;
}

/* The byte starting character col of line (both 0-based, as libyaml counts them). */
static char char_at(const char *buf, size_t len, size_t line, size_t col)
{
	size_t i = 0;
	for (; i < len && line; i++)
		if (buf[i] == '\n')
			line--;
	for (; i < len && buf[i] != '\n'; i++) {
		if (((unsigned char)buf[i] & 0xC0) == 0x80)
			continue;
		if (!col--)
			return buf[i];
	}
	return '\0';
}

/* libyaml's problem strings, said the way a DAG author thinks about them. */
static void syntax_error(struct builder *b, yaml_parser_t *p, const char *buf, size_t len)
{
	int line, col;
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset < len ? p->problem_offset : len;
		line = count_line_col(buf, off, &col);
		if (p->problem_value >= 0 && p->problem_value < 0x20)
			berr(b, line, col,
			     "remove it, or write it as an escape in a double-quoted string",
			     "invalid YAML: control character 0x%02X is not allowed",
			     p->problem_value);
		else
			berr(b, line, col, NULL, "invalid YAML: %s",
			     p->problem ? p->problem : "unreadable input");
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		berr(b, 0, 0, NULL, "invalid YAML: out of memory while parsing");
		return;
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "syntax error";
	const char *hint = NULL;
	char at = char_at(buf, len, p->problem_mark.line, p->problem_mark.column);

	if (strstr(problem, "tab character") ||
	    (strstr(problem, "cannot start any token") && at == '\t')) {
		berr(b, line, col, "indent with spaces; YAML does not allow tabs for indentation",
		     "invalid YAML: tab character used for indentation");
		return;
	}
	if (strstr(problem, "cannot start any token")) {
		if (at > ' ' && at < 0x7f)
			berr(b, line, col, "quote the value if it starts with this character",
			     "invalid YAML: a value cannot start with '%c'", at);
		else
			berr(b, line, col, "quote the value", "invalid YAML: %s", problem);
		return;
	}
	if (strstr(problem, "mapping values are not allowed"))
		hint = "quote the value if it contains ': ', or check the indentation of this line";
	else if (strstr(problem, "did not find expected key") ||
		 strstr(problem, "did not find expected '-'"))
		hint = "check the indentation: the keys or items of one block must line up";
	else if (strstr(problem, "could not find expected ':'"))
		hint = "a key needs ': ' after it; quote plain strings that span lines";
	else if (strstr(problem, "unexpected end of stream"))
		hint = "a quoted string, list or mapping is not closed";
	else if (strstr(problem, "did not find expected ','"))
		hint = "separate items with ',' and close with ']' or '}'; quote values that "
		       "contain them";
	else if (strstr(problem, "block sequence entries are not allowed"))
		hint = "check the indentation of this '-' item";

	if (p->context)
		berr(b, line, col, hint, "invalid YAML: %s (%s at line %d)", problem, p->context,
		     (int)p->context_mark.line + 1);
	else
		berr(b, line, col, hint, "invalid YAML: %s", problem);
}

ytree_status pw_ytree_build(ynode **out_root, const char *path, const char *buf, size_t len,
			    pw_arena *str_arena, pw_arena *node_arena, pw_diags *diags)
{
	struct builder b = {0};
	b.path = path;
	b.strs = str_arena;
	b.nodes = node_arena;
	b.diags = diags;
	ytree_status st = YT_OK;
	int ndocs = 0;
	*out_root = NULL;

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		berr(&b, 0, 0, NULL, "cannot initialise the YAML parser");
		return YT_ERROR;
	}
	/* A UTF-8 byte order mark is not content, and columns do not count it. */
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
		buf += 3;
		len -= 3;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

	bool done = false;
	while (!done && !b.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(&b, &parser, buf, len);
			b.failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				berr(&b, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				     "remove the '---' line, or put each DAG in a file of its own",
				     "a DAG file holds one YAML document; this is a second one");
				b.failed = true;
			}
			break;
		case YAML_SCALAR_EVENT: on_scalar(&b, &ev); break;
		case YAML_ALIAS_EVENT: on_alias(&b, &ev); break;
		case YAML_SEQUENCE_START_EVENT:
			open_collection(&b, YN_SEQ, &ev, ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			open_collection(&b, YN_MAP, &ev, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.nstack)
				close_collection(&b);
			break;
		case YAML_STREAM_END_EVENT: done = true; break;
		default: break;
		}
		yaml_event_delete(&ev);
	}

	if (!b.failed && !b.expansion_reported) {
		uint64_t limit = b.doc_nodes * PW_YAML_EXPAND_FACTOR;
		if (limit < PW_YAML_EXPAND_FLOOR)
			limit = PW_YAML_EXPAND_FLOOR;
		if (b.total > limit) {
			/* Report the alias that pushed the document over the limit. */
			size_t lo = 0, hi = b.naliases;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (b.aliases[mid].total > limit)
					hi = mid;
				else
					lo = mid + 1;
			}
			if (lo < b.naliases)
				expansion_error(&b, b.aliases[lo].line, b.aliases[lo].col);
			else
				expansion_error(&b, 1, 1);
		}
	}

	if (b.failed || b.expansion_reported)
		st = YT_ERROR;
	else if (!b.root || pw_ynode_is_null(b.root))
		st = YT_EMPTY;
	else
		*out_root = b.root;

	yaml_parser_delete(&parser);
	free(b.stack);
	free(b.kids);
	free(b.anchors);
	free(b.aliases);
	pw_strmap_release(&b.anchor_ids);
	pw_strmap_release(&b.keys);
	free(b.interned);
	pw_arena_release(&b.anchor_names);
	return st;
}
