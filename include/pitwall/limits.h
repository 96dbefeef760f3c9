/*
 * Resource limits of one task attempt (docs/resources.md).
 *
 * What a machine offers is detected once per process, at run time: the
 * cgroup v2 unified hierarchy and the controllers it delegates, the cgroup
 * v1 hierarchies (memory, cpu, cpuacct, pids) from /proc/self/mountinfo,
 * and whether pitwall may create child cgroups in each.  Each limit then
 * takes the best mechanism there is for it, independently: on a hybrid
 * machine memory may be limited through v1 while the tree is killed
 * through v2's cgroup.kill.  With no cgroup at all, memory and CPU time
 * fall back to setrlimit in the child.
 *
 * An attempt's cgroups are <own cgroup>/pitwall/<run_id>/<task_id>.<attempt>
 * in every hierarchy used.  The child joins them before it runs any user
 * code: it is spawned through `pitwall __cgexec`, a shim that writes its
 * own pid to each cgroup.procs, sets the fallback rlimits, and execve()s
 * the task (see shim.c for why a shim).
 */
#ifndef PITWALL_LIMITS_H
#define PITWALL_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
	PW_CTL_MEMORY = 0,
	PW_CTL_CPU,
	PW_CTL_CPUACCT, /* v1 only; v2's cpu.stat is always there */
	PW_CTL_PIDS,
	PW_CTL_COUNT
} pw_cg_ctl;

const char *pw_cg_ctl_name(pw_cg_ctl c);

/* How one limit (or measurement) is carried out. */
typedef enum {
	PW_VIA_NONE = 0, /* not enforced / not measured */
	PW_VIA_V2,
	PW_VIA_V1,
	PW_VIA_RLIMIT, /* limits: setrlimit in the shim */
	PW_VIA_PROC,   /* measurements: /proc of the process group */
	PW_VIA_PGROUP, /* kill: the process group only */
} pw_limit_via;

const char *pw_limit_via_name(pw_limit_via v);

typedef struct {
	/* cgroup v2 */
	char *v2_mount;	       /* NULL: no unified hierarchy */
	char *v2_self;	       /* pitwall's own cgroup in it */
	char *v2_parent;       /* <v2_self>/pitwall; NULL when it cannot be created */
	unsigned v2_available; /* bit (1u << pw_cg_ctl): in cgroup.controllers */
	unsigned v2_enabled;   /* bit: usable by pitwall's child cgroups */
	bool v2_kill;	       /* cgroup.kill (Linux 5.14) */
	char v2_problem[160];  /* why v2_parent or a controller is missing */
	/* cgroup v1, per controller */
	char *v1_mount[PW_CTL_COUNT];
	char *v1_self[PW_CTL_COUNT];
	char *v1_parent[PW_CTL_COUNT]; /* NULL when it cannot be created */
	char v1_problem[160];
	/* The choice for each limit and measurement. */
	pw_limit_via memory, cpu, pids;
	pw_limit_via mem_usage, cpu_usage, oom, kill;
} pw_limits_caps;

/*
 * Detect once per process (creating the pitwall parent cgroups to know
 * whether it can).  Never fails: what is missing is PW_VIA_NONE / RLIMIT.
 */
const pw_limits_caps *pw_limits_detect(void);
/* Detect again, e.g. for `pitwall doctor`.  The result is owned by the module. */
const pw_limits_caps *pw_limits_redetect(void);

typedef struct {
	const char *run_id;
	const char *task_id;
	int attempt;
	double cpu_limit;     /* cores; 0 = none */
	int64_t memory_limit; /* bytes; 0 = none */
	int64_t pids_limit;   /* 0 = none */
	int64_t timeout_ms;   /* bounds RLIMIT_CPU when cpu falls back to rlimits; 0 = none */
} pw_limits_request;

typedef struct pw_limits_attempt pw_limits_attempt;

/*
 * Create the attempt's cgroups and write its limits.  A hierarchy that
 * fails here is dropped for this attempt and the next mechanism is used
 * (the description says which).  Returns 0, or -1 with a message when
 * not even the fallback can be set up.
 */
int pw_limits_begin(pw_limits_attempt **out, const pw_limits_request *req, char *err,
		    size_t errsize);
/*
 * argv prefix for pw_spawn: {shim, "__cgexec", options..., "--", NULL}.
 * The spawner appends the resolved program and the task's argv.
 */
char *const *pw_limits_wrapper(const pw_limits_attempt *a);
/* The process group (the leader's pid), for /proc sampling and kills. */
void pw_limits_started(pw_limits_attempt *a, pid_t pgid);
/* JSON object text: {"memory":"cgroup v1",...,"cgroups":[...]} for task_start. */
const char *pw_limits_describe(const pw_limits_attempt *a);

typedef struct {
	int64_t cpu_ns;		  /* CPU time of the whole tree so far; -1 unknown */
	int64_t mem_bytes;	  /* now; -1 unknown */
	int64_t mem_peak;	  /* the highest seen (the kernel's peak where it keeps one); -1 */
	int64_t oom_kills;	  /* kills by the OOM killer in the group; -1 unknown */
	int64_t cpu_throttled_ns; /* time held back by cpu_limit; -1 unknown */
	bool mem_failed;	  /* v1 memory.failcnt > 0: the limit was hit */
	bool cpu_cgroup;	  /* cpu_ns is a cgroup's counter (else /proc) */
	bool mem_cgroup;	  /* mem_* are a cgroup's counters (else /proc) */
} pw_limits_usage;

void pw_limits_sample(pw_limits_attempt *a, pw_limits_usage *out);
/* Whether every process of the attempt's cgroup is gone (true without cgroups). */
bool pw_limits_empty(pw_limits_attempt *a);
/* Signal every process of the cgroup (SIGKILL: cgroup.kill where there is one). */
void pw_limits_signal(pw_limits_attempt *a, int sig);
/* Remove the cgroups (once empty) and free. */
void pw_limits_end(pw_limits_attempt *a);
/*
 * Remove the run's directories (<parent>/<run_id>) once the run is over,
 * and the pitwall parents if no other run uses them (run_id NULL: only
 * those).
 */
void pw_limits_run_done(const char *run_id);

/*
 * The shim: `pitwall __cgexec [--procs FILE]... [--rlimit-as BYTES]
 * [--rlimit-cpu SECONDS] -- PATH ARGV0 [ARG]...`.  A program that embeds
 * the executor and runs limited tasks dispatches argv[1] == "__cgexec"
 * here.  Returns only on failure (an exit status).
 */
int pw_limits_shim_main(int argc, char **argv);
/* The executable the shim is run from (default /proc/self/exe). */
void pw_limits_set_shim(const char *path);

#endif
