/*
 * Containers: OCI images built without a daemon, and tasks run in them.
 *
 * An image is an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/...).  pitwall builds them from a small definition
 * (containers/NAME/image.json, docs/containers.md) with one uncompressed
 * layer, every entry sorted, owned by 0:0 and dated 1970, so the same
 * inputs give the same bytes and the same digest.  An image's identity is
 * the sha256 of its manifest: the audit table records it as
 * container_image_digest.
 *
 * A task with `container: IMAGE` runs under one runtime per run: an OCI
 * runtime (runc, crun) driven directly on a bundle pitwall writes (the
 * image unpacked once per digest, config.json from the task), or the
 * podman / docker CLI.  The runtime's process is the task's process, so the
 * executor's pipe, log, timeout and kill machinery applies unchanged; the
 * engine only adds the cleanup that makes sure no container outlives its
 * attempt.
 */
#ifndef PITWALL_CONTAINER_H
#define PITWALL_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pitwall/dag.h"

typedef enum {
	PW_CRT_AUTO = 0, /* runc if installed and root, else podman, else docker */
	PW_CRT_RUNC,
	PW_CRT_CRUN,
	PW_CRT_PODMAN,
	PW_CRT_DOCKER,
	PW_CRT_COUNT
} pw_container_runtime;

extern const char *const pw_container_runtime_names[PW_CRT_COUNT];
/* Returns -1 for an unknown name. */
int pw_container_runtime_from_name(const char *name);

/* ---- images ---- */

typedef struct {
	const char *def_dir;   /* containers/NAME, holding image.json */
	const char *out_dir;   /* NULL = <state dir>/images/<name> */
	const char *archive;   /* also write a tar for podman/docker load; NULL = none */
	const char *build_dir; /* base of "build:" sources; NULL = $PW_BUILD_DIR, else ./build */
} pw_image_build_opts;

typedef struct {
	char digest[72];	/* "sha256:<hex>" of the manifest */
	char config_digest[72]; /* "sha256:<hex>" of the config: podman's and docker's image id */
	char *name;		/* "pitwall/NAME:TAG" */
	char *dir;		/* the layout directory */
	size_t nfiles;		/* layer entries */
	int64_t layer_size;	/* bytes */
} pw_image_info;

/* Returns 0, or -1 with a message naming the file and what to do in err. */
int pw_image_build(const pw_image_build_opts *o, pw_image_info *out, char *err, size_t errsize);
/* The manifest of an OCI layout (its first, or only, image), checked against its blob. */
int pw_image_inspect(const char *layout_dir, pw_image_info *out, char *err, size_t errsize);
void pw_image_info_release(pw_image_info *info);
/*
 * Where `container: REF` points: a layout directory (a path, relative to
 * dag_dir then the working directory, or a name under <state>/images and
 * $PITWALL_IMAGE_PATH).  Returns a malloc'd absolute path, or NULL.
 */
char *pw_image_find(const char *ref, const char *dag_dir);

/* ---- running tasks ---- */

typedef struct pw_container_engine pw_container_engine;
typedef struct pw_container_job pw_container_job;

typedef struct {
	const pw_dag *dag;
	const pw_task *task;
	pw_container_runtime runtime; /* PW_CRT_AUTO: the DAG's container_runtime */
	const char *run_id;
	int attempt;
	const char *workspace; /* absolute, on the host: mounted at /workspace */
	char *const *argv;     /* the task's command, placeholders expanded */
	char *const *envp;     /* what a local process would get */
	const char *cwd;       /* on the host, inside the workspace */
} pw_container_request;

/* One engine per run: the runtime chosen, images resolved, unpacked and loaded. */
pw_container_engine *pw_container_engine_new(void);
void pw_container_engine_free(pw_container_engine *e);

/*
 * Turn a task's command into the runtime's: writes the bundle (runc, crun)
 * or builds the podman / docker command line.  Returns 0, or -1 with a
 * message in err (no runtime, image not found, working_dir outside the
 * workspace): a configuration error, not retried.
 */
int pw_container_prepare(pw_container_engine *e, const pw_container_request *rq,
			 pw_container_job **out, char *err, size_t errsize);
/* The command to spawn in place of the task's, and its environment. */
char **pw_container_job_argv(pw_container_job *j);
char **pw_container_job_envp(pw_container_job *j);
/* "sha256:<manifest hex>", or NULL when the image is not a pitwall-visible layout. */
const char *pw_container_job_digest(const pw_container_job *j);
const char *pw_container_job_id(const pw_container_job *j);
const char *pw_container_job_runtime(const pw_container_job *j);
/*
 * The runtime's process is gone: make sure the container is too (runtime
 * kill, delete -f / rm -f), remove the bundle and free the job.  exited_ok:
 * the runtime's process exited by itself with a code below 125, so its own
 * cleanup (runc run, podman run --rm) has run.
 */
void pw_container_job_finish(pw_container_job *j, bool exited_ok);

/* Which runtime auto would pick, or -1 with the reason in err. */
int pw_container_detect(pw_container_runtime want, char *err, size_t errsize);

#endif
