/*
 * Declarative bad-DAG cases, as curl does its tests: every
 * tests/dags/bad/NAME.yaml has a NAME.expected holding exactly what
 * pw_diags_print must write for it.  The files are loaded by their
 * relative names from inside that directory, so the expected text is the
 * same on every machine.
 *
 * PW_UPDATE_EXPECTED=1 rewrites the .expected files from the current
 * output (review the diff before committing).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pitwall/dag.h"
#include "pw_test.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names (without extension) of the files in dir ending in ext, sorted. */
static char **list(const char *dir, const char *ext, size_t *n)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!d)
		return NULL;
	struct dirent *e;
	size_t el = strlen(ext);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= el || strcmp(e->d_name + l - el, ext))
			continue;
		PW_GROW(v, cap, *n + 1);
		v[(*n)++] = pw_xstrndup(e->d_name, l - el);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static char *slurp(const char *path)
{
	char *buf;
	size_t len;
	if (pw_read_file(path, &buf, &len) < 0)
		return NULL;
	return buf;
}

/* Print the first differing line of two texts, with a little context. */
static void show_diff(const char *name, const char *want, const char *got)
{
	printf("# %s: output differs from %s.expected\n", name, name);
	int line = 1;
	const char *w = want, *g = got;
	while (*w && *g) {
		const char *we = strchr(w, '\n'), *ge = strchr(g, '\n');
		size_t wl = we ? (size_t)(we - w) : strlen(w);
		size_t gl = ge ? (size_t)(ge - g) : strlen(g);
		if (wl != gl || memcmp(w, g, wl))
			break;
		w += wl + (we ? 1 : 0);
		g += gl + (ge ? 1 : 0);
		line++;
	}
	printf("# first difference at line %d\n", line);
	printf("# --- expected\n");
	for (const char *p = w; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		printf("# -%.*s\n", (int)l, p);
		p += l + (e ? 1 : 0);
	}
	printf("# +++ got\n");
	for (const char *p = g; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		printf("# +%.*s\n", (int)l, p);
		p += l + (e ? 1 : 0);
	}
}

int main(void)
{
	const char *src = getenv("PW_SOURCE_DIR");
	char *dir = pw_xasprintf("%s/tests/dags/bad", src ? src : ".");
	if (chdir(dir) < 0) {
		printf("Bail out! cannot enter %s: %s\n", dir, strerror(errno));
		free(dir);
		return 1;
	}
	bool update = getenv("PW_UPDATE_EXPECTED") != NULL;

	size_t ncases, nexp;
	char **cases = list(".", ".yaml", &ncases);
	char **exps = list(".", ".expected", &nexp);
	PW_CHECK(ncases >= 25, "at least 25 bad cases (%zu)", ncases);

	for (size_t i = 0; i < ncases; i++) {
		char *yaml = pw_xasprintf("%s.yaml", cases[i]);
		char *exp = pw_xasprintf("%s.expected", cases[i]);
		pw_diags d = PW_DIAGS_INIT;
		pw_dag *dag = NULL;
		int rc = pw_dag_load_file(&dag, yaml, &d);
		PW_CHECK(rc < 0 && dag == NULL, "%s fails to load", yaml);
		PW_CHECK(d.nerrors > 0, "%s has errors", yaml);
		pw_dag_free(dag);

		char *got = NULL;
		size_t gotlen = 0;
		FILE *mem = open_memstream(&got, &gotlen);
		pw_diags_print(&d, mem);
		fclose(mem);
		pw_diags_release(&d);

		if (update) {
			FILE *f = fopen(exp, "w");
			if (f) {
				fputs(got, f);
				fclose(f);
			}
		}
		char *want = slurp(exp);
		PW_CHECK(want != NULL, "%s exists", exp);
		if (want) {
			bool same = strcmp(want, got) == 0;
			PW_CHECK(same, "%s prints exactly %s", yaml, exp);
			if (!same)
				show_diff(cases[i], want, got);
		}
		free(want);
		free(got);
		free(yaml);
		free(exp);
	}

	/* An .expected without its .yaml is a case that silently stopped running. */
	for (size_t i = 0; i < nexp; i++) {
		bool found = bsearch(&exps[i], cases, ncases, sizeof(*cases), cmp_str) != NULL;
		PW_CHECK(found, "%s.expected has a %s.yaml", exps[i], exps[i]);
	}

	for (size_t i = 0; i < ncases; i++)
		free(cases[i]);
	for (size_t i = 0; i < nexp; i++)
		free(exps[i]);
	free(cases);
	free(exps);
	free(dir);
	PW_TEST_DONE();
}
