/* The --store option and opening the audit store, shared by the read commands. */
#include <stdio.h>
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
