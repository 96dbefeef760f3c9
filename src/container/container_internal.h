/* Private to src/container: running helper commands, and image layouts. */
#ifndef PW_CONTAINER_INTERNAL_H
#define PW_CONTAINER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/container.h"

/*
 * A helper command run to completion (ldd, runc delete, podman load):
 * stdin from /dev/null, stdout and stderr captured together, in its own
 * process group so a Ctrl-C meant for pitwall does not cut a cleanup short,
 * killed when timeout_ms passes (0 = no limit).
 */
typedef struct {
	int status; /* wait status; -1 when it could not start */
	char *out;  /* stdout and stderr, NUL-terminated, never NULL after a start */
	size_t out_len;
	bool timed_out;
} pw_ctr_proc;

int pw_ctr_run(char *const argv[], char *const envp[], int64_t timeout_ms, pw_ctr_proc *r,
	       char *err, size_t errsize);
void pw_ctr_proc_release(pw_ctr_proc *r);
/* Whether the command exited 0. */
bool pw_ctr_proc_ok(const pw_ctr_proc *r);

/* An executable in PATH (the given one, else pitwall's), malloc'd, or NULL. */
char *pw_ctr_which(const char *name, const char *path);

/*
 * A deterministic tar writer (layers and load archives): entries owned by
 * 0:0 with no names, dated 1970, in the order they are added (callers sort),
 * ustar unless a path needs pax.  The sha256 and size of the bytes written
 * are kept as they go.
 */
struct archive;
typedef struct {
	struct archive *a;
	int fd;
	void *sha; /* pw_sha256 */
	int64_t size;
	char *path;
	char err[256];
} pw_tarw;

int pw_tarw_open(pw_tarw *w, const char *path, char *err, size_t errsize);
int pw_tarw_dir(pw_tarw *w, const char *name, unsigned mode);
int pw_tarw_data(pw_tarw *w, const char *name, const void *data, size_t len, unsigned mode);
int pw_tarw_file(pw_tarw *w, const char *name, const char *src, unsigned mode);
int pw_tarw_symlink(pw_tarw *w, const char *name, const char *target);
/* Finish; hex gets the sha256 of the whole tar.  On any earlier error, w->err says why. */
int pw_tarw_close(pw_tarw *w, char hex[65], char *err, size_t errsize);
/* Give up: close and remove the file. */
void pw_tarw_abort(pw_tarw *w);

/* An image layout, read and checked. */
typedef struct {
	char *dir;
	char manifest_hex[65];
	char config_hex[65];
	char **layers; /* hex digests, bottom first */
	char **layer_types;
	size_t nlayers;
	char **env; /* the config's Env, NULL-terminated */
	size_t nenv;
	char *ref_name; /* index.json's org.opencontainers.image.ref.name, or NULL */
} pw_layout;

int pw_layout_read(const char *dir, pw_layout *out, char *err, size_t errsize);
void pw_layout_release(pw_layout *l);
/*
 * Unpack the layers into dest (a new directory), checking each layer's
 * sha256 as it is read.  Whiteouts are applied; device nodes are skipped.
 */
int pw_layout_unpack(const pw_layout *l, const char *dest, char *err, size_t errsize);
/*
 * Write the layout as one tar (OCI layout plus a docker manifest.json, so
 * both `podman load` and `docker load` take it), deterministic.
 */
int pw_layout_write_archive(const pw_layout *l, const char *repo_tag, const char *path, char *err,
			    size_t errsize);

#endif
