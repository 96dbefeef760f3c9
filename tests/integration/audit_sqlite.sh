#!/usr/bin/env bash
# The audit store on its embedded SQLite backend (docs/audit.md): append-only
# triggers, verify catching each kind of tampering, two concurrent writers,
# lineage and the read commands; plus where the default store lives.
# Needs the sqlite3 CLI (Debian package sqlite3).
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_audit.bash"

if ! command -v sqlite3 >/dev/null; then
	echo "# the sqlite3 command-line shell is needed (apt-get install -y sqlite3); skipping"
	exit 77
fi

export PITWALL_HOME=$T/home
unset PITWALL_STORE
BACKEND=sqlite
mkdir -p "$T/stores"
be_store() { echo "$T/stores/$1.db"; }
be_sql() { sqlite3 -bail -batch "$T/stores/$1.db" "$2"; }
be_sql_untriggered() {
	sqlite3 -bail -batch "$T/stores/$1.db" \
		"DROP TRIGGER pipeline_audit_log_no_update; DROP TRIGGER pipeline_audit_log_no_delete; $2"
}

audit_scenarios

# --- where the store lives -------------------------------------------------
write_quick_dag "$T/q.yaml" q 3
pw_run def "$T/q.yaml" --run-id q_def
check_eq "$RC" 0 "default store: run exits 0"
check "default store: \$PITWALL_HOME/.pitwall/audit.db" test -f "$PITWALL_HOME/.pitwall/audit.db"
check_eq "$(sqlite3 "$PITWALL_HOME/.pitwall/audit.db" 'PRAGMA journal_mode')" wal \
	"default store: in WAL mode"
check_eq "$(sqlite3 "$PITWALL_HOME/.pitwall/audit.db" \
	"SELECT count(*) FROM pipeline_audit_log WHERE dag_run_id = 'q_def'")" \
	"$(sum_counts "$(events_by_type "$ERR")")" "default store: the run's rows are there"
pw_cmd audit verify
check_eq "$RC" 0 "default store: audit verify without --store: exit 0"
mkdir -p "$T/cwd"
rc=0
(cd "$T/cwd" && unset PITWALL_HOME && pw_run cwd "$T/q.yaml" --run-id q_cwd && exit "$RC") || rc=$?
check_eq "$rc" 0 "without PITWALL_HOME: run exits 0"
check "without PITWALL_HOME: .pitwall/audit.db under the working directory" \
	test -f "$T/cwd/.pitwall/audit.db"
PITWALL_STORE=sqlite:$T/stores/env.db pw_run env "$T/q.yaml" --run-id q_env
check_eq "$(be_sql env "SELECT count(*) FROM pipeline_audit_log")" \
	"$(sum_counts "$(events_by_type "$ERR")")" \
	"PITWALL_STORE=sqlite:PATH is used"
pw_run nostore "$T/q.yaml" --run-id q_none --no-store
check_eq "$RC" 0 "--no-store: run exits 0"
check_eq "$(sqlite3 "$PITWALL_HOME/.pitwall/audit.db" \
	"SELECT count(*) FROM pipeline_audit_log WHERE dag_run_id = 'q_none'")" 0 \
	"--no-store: nothing recorded"

pw_done
