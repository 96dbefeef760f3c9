/* Price files: the `prices` table of a DAG, kept outside any one DAG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag_internal.h"

int pw_prices_load_file(pw_prices *out, const char *path, pw_diags *diags)
{
	char *buf = NULL;
	size_t len = 0;
	size_t errors_before = diags->nerrors;
	memset(out, 0, sizeof(*out));
	int e = pw_read_file(path, &buf, &len);
	if (e == -ENOENT)
		return -2;
	if (e) {
		pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0, NULL,
			     "cannot read the price file: %s", strerror(-e));
		return -1;
	}
	if (memchr(buf, '\0', len)) {
		pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0, "a price file is YAML text",
			     "file contains a NUL byte");
		free(buf);
		return -1;
	}
	pw_arena strs = PW_ARENA_INIT, nodes = PW_ARENA_INIT;
	ynode *root;
	ytree_status st = pw_ytree_build(&root, path, buf, len, &strs, &nodes, diags);
	if (st == YT_EMPTY)
		pw_diags_add(diags, PW_DIAG_ERROR, path, 0, 0,
			     "write prices: {vcpu_second: 0.00001, gib_second: 0.000001}",
			     "the price file is empty");
	if (st == YT_OK)
		pw_prices_convert(out, root, path, &nodes, diags);
	pw_arena_release(&nodes);
	pw_arena_release(&strs);
	free(buf);
	if (diags->nerrors > errors_before) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->set = true;
	return 0;
}
