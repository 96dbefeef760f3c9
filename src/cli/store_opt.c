/* The --store option and opening the audit store, shared by the read commands. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <string.h>

#include "cli/cli.h"

pw_audit_store *pw_cli_open_store(const char *cmd, const char *url)
{
	pw_audit_store *s = NULL;
	pw_strbuf err = PW_STRBUF_INIT;
	if (pw_audit_open(&s, url, &err) != 0) {
		fprintf(stderr, "pitwall %s: %s\n  hint: check --store / PITWALL_STORE\n", cmd,
			err.buf ? err.buf : "cannot open the audit store");
		s = NULL;
	}
	pw_strbuf_release(&err);
	return s;
}

/*
 * An explicit run id is claimed for the whole run, so that two processes
 * given the same id cannot both pass the "already recorded?" check: an
 * advisory lock with a PostgreSQL store, else flock in the state directory.
 */
int pw_cli_claim_run_id(pw_audit_store *store, const char *run_id, int *fd)
{
	char *name = pw_xasprintf("run:%s", run_id);
	int pl = pw_audit_pg_try_lock(store, name);
	free(name);
	if (pl >= 0)
		return pl == 1 ? 0 : -1;
	char *dir = pw_state_dir();
	char *locks = pw_xasprintf("%s/locks", dir);
	pw_mkdir_p(locks, 0755);
	char *path = pw_xasprintf("%s/run-%s.lock", locks, run_id);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = *fd >= 0 && flock(*fd, LOCK_EX | LOCK_NB) == 0 ? 0 : -1;
	free(path);
	free(locks);
	free(dir);
	return rc;
}
