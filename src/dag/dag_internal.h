/*
 * Private to src/dag: the YAML node tree the loader builds from libyaml's
 * events, and the passes that turn it into a pw_dag.
 *
 * Why a tree of our own instead of yaml_parser_load(): libyaml's document
 * API makes one malloc per node and resolves aliases by sharing, with no
 * limit on how far they expand.  Building from events lets us keep nodes in
 * an arena (a 100,000-task file is over a million nodes), compute the
 * expanded size of every anchor as it closes, and refuse "billion laughs"
 * documents and recursive aliases before anything walks them.
 */
#ifndef PW_DAG_INTERNAL_H
#define PW_DAG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/dag.h"

/* Expanded nesting deeper than this is refused (aliases included). */
#define PW_YAML_MAX_DEPTH 64
/* Expansion limit: max(factor x document nodes, floor). */
#define PW_YAML_EXPAND_FACTOR 10
#define PW_YAML_EXPAND_FLOOR 1000000u
/* Larger files are refused before parsing: positions are ints. */
#define PW_DAG_MAX_FILE_SIZE ((size_t)1 << 30)

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP, YN_ALIAS } ynode_kind;

typedef struct ynode ynode;
struct ynode {
	uint8_t kind;	/* ynode_kind */
	uint8_t quoted; /* scalar: 0 plain, 1 '' or "", 2 literal (|) or folded (>) */
	uint8_t bad;	/* stands in for a reported error (bad alias): say nothing more */
	uint32_t n;	/* scalar: length; seq: items; map: pairs */
	int line, col;	/* 1-based */
	union {
		const char *str; /* scalar, NUL-terminated, in the DAG's arena */
		ynode **kids;	 /* seq: items; map: key0, val0, key1, val1, ... */
		ynode *target;	 /* alias */
	} u;
};

typedef enum {
	YT_OK = 0,
	YT_EMPTY, /* no document, or an empty one */
	YT_ERROR, /* diagnostics were added; the tree is not usable */
} ytree_status;

/*
 * Parse buf (already checked to be UTF-8 without NUL bytes) into a tree.
 * Scalars go to str_arena, nodes to node_arena.  Problems found on the way
 * (syntax, duplicate keys, bad aliases, expansion) are added to diags.
 * *out_root is set when the status is YT_OK; with YT_OK, diags may still
 * hold errors that do not prevent reading the tree (duplicate keys).
 */
ytree_status pw_ytree_build(ynode **out_root, const char *path, const char *buf, size_t len,
			    pw_arena *str_arena, pw_arena *node_arena, pw_diags *diags);

static inline const ynode *yderef(const ynode *n)
{
	return n && n->kind == YN_ALIAS ? n->u.target : n;
}

/* A plain empty scalar, ~, null, Null or NULL. */
bool pw_ynode_is_null(const ynode *n);
/* "a string", "a list", "a mapping", "a number", "a boolean", "null" */
const char *pw_ynode_type_name(const ynode *n);

/*
 * Conversion pass: the tree of a whole file into dag's fields (tasks,
 * hooks, defaults resolved), reporting every bad key and value.  Scratch
 * memory comes from tmp.
 */
void pw_dag_convert(pw_dag *dag, const ynode *root, pw_arena *tmp, pw_diags *diags);
/* A price file's tree (`prices: {...}` or the keys at the top) into out. */
void pw_prices_convert(pw_prices *out, const ynode *root, const char *path, pw_arena *tmp,
		       pw_diags *diags);

/*
 * Graph pass: resolve dependency names to indexes, report unknown, self
 * and cyclic dependencies; when the DAG has no errors at all, fill
 * dependents and levels.  had_errors says whether earlier passes failed.
 */
void pw_dag_check_graph(pw_dag *dag, const char *path, pw_diags *diags, bool had_errors);

extern const char *const pw_trigger_rule_names[];
extern const size_t pw_trigger_rule_count;
extern const char *const pw_failure_class_names[];

#endif
