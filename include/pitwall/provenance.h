/*
 * Where a run came from: the git commit of the DAG (libgit2), the DAG
 * file's digest, and the digests of what was executed.
 */
#ifndef PITWALL_PROVENANCE_H
#define PITWALL_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	char sha[41];	   /* HEAD commit, or "unknown" outside a repository */
	bool dirty;	   /* the DAG file (or a checked path) differs from HEAD */
	char *workdir;	   /* the repository's work tree, or NULL */
	char *dirty_paths; /* comma-separated, for the record; NULL when clean */
} pw_git_info;

/*
 * Look up the repository holding path (searching upwards).  Never fails:
 * outside a repository sha is "unknown".  extra_paths (may be NULL) are
 * also checked for the dirty flag (task executables inside the repository).
 */
void pw_git_describe(const char *path, const char *const *extra_paths, size_t nextra,
		     pw_git_info *out);
void pw_git_info_release(pw_git_info *g);

/*
 * Files matching globs relative to base: path (relative), size, sha256.  A
 * glob naming a directory takes every file below it.  Sorted by path.
 */
typedef struct {
	char *path;
	int64_t size;
	char sha256[65];
} pw_file_digest;

typedef struct {
	pw_file_digest *v;
	size_t n, cap;
} pw_file_digests;

void pw_digest_globs(const char *base, const char *const *globs, size_t nglobs,
		     pw_file_digests *out);
void pw_file_digests_release(pw_file_digests *d);
/* [{"path":..,"size":..,"sha256":..},...] */
void pw_file_digests_json(const pw_file_digests *d, void *strbuf);

#endif
