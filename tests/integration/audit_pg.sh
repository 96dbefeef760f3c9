#!/usr/bin/env bash
# The audit store on a real PostgreSQL server that this test starts itself
# (tests/integration/lib_pg.bash: initdb in a temp dir, a free port on
# 127.0.0.1): the scenarios of audit_sqlite.sh (lib_audit.bash), plus
# TRUNCATE, a password that appears nowhere, the server killed mid-run and
# restarted (or down until after the run) with no event lost, libpq's
# environment variables and service files, and a role with only INSERT and
# SELECT (the GRANTs of docs/audit.md).
# Needs Debian's postgresql (server) and postgresql-client (psql); skipped
# (exit 77) without them.
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_audit.bash"
source "$(dirname "$0")/lib_pg.bash"

export PITWALL_HOME=$T/home
unset PITWALL_STORE PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSERVICEFILE
pg_setup
echo "# PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)"

BACKEND=postgresql
declare -A PW_DBS=()
# One database per store, owned by the pitwall role (which creates the table).
be_store() {
	local db=pw_$1
	if [[ -z ${PW_DBS[$1]:-} ]]; then
		PG_PSQL_DB=postgres pg_psql -c "CREATE DATABASE $db OWNER $PG_USER" >/dev/null
		PW_DBS[$1]=1
	fi
	echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$db"
}
# As the pitwall role, over TCP with its password, like pitwall itself.
be_sql() {
	PGPASSWORD=$PG_PASSWORD "$PG_PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 \
		-p "$PG_PORT" -U "$PG_USER" -d "pw_$1" -c "$2"
}
be_sql_untriggered() {
	be_sql "$1" "BEGIN; ALTER TABLE pipeline_audit_log DISABLE TRIGGER USER; $2;
		ALTER TABLE pipeline_audit_log ENABLE TRIGGER USER; COMMIT"
}

audit_scenarios

# rows of a run by event type, read as the superuser (ground truth)
pg_rows_by_type() { # DB RUN_ID
	PG_PSQL_DB=$1 pg_psql -c "SELECT event_type || ':' || count(*) FROM pipeline_audit_log
		WHERE dag_run_id = '$2' GROUP BY event_type ORDER BY event_type" | paste -sd, -
}
spool_lines() { cat "$PITWALL_HOME"/.pitwall/spool-*.jsonl 2>/dev/null | wc -l | tr -d ' '; }

# --- the server killed mid-run, restarted ------------------------------------
# 20 tasks of 0.2 s one at a time (~4 s); killed (immediate: a crash) after
# 1 s, back 1.5 s later.  The run goes on; the events of the outage are
# spooled and written, in order, once the server is back.
write_quick_dag "$T/sleepy.yaml" sleepy 20 0.2 1
S=$(be_store crash)
(
	sleep 1
	pg_kill
	sleep 1.5
	pg_start
) >"$T/crash.ctl" 2>&1 &
ctl=$!
pw_run crash "$T/sleepy.yaml" --store "$S" --run-id crash_1
wait $ctl || true
check_eq "$RC" 0 "server killed mid-run and restarted: the run exits 0"
((RC == 0)) || pw_show
check_match "$(cat "$ERR")" "unreachable; events are spooled to" \
	"server killed mid-run: pitwall warned that it spooled events"
check_match "$(cat "$ERR")" "wrote [0-9]+ spooled audit events? to postgresql://$PG_USER:\*\*\*@" \
	"server killed mid-run: the spool was written once the server was back"
want=$(events_by_type "$ERR")
check_match "$want" "dag_run_end:1,dag_run_start:1,.*task_end:20" \
	"server killed mid-run: pitwall printed the run's events ($(sum_counts "$want"))"
check_eq "$(pg_rows_by_type pw_crash crash_1)" "$want" \
	"server killed mid-run: no event lost (same count per event_type in the table)"
check_eq "$(spool_lines)" 0 "server killed mid-run: the spool is empty afterwards"
verify crash
check_eq "$RC" 0 "server killed mid-run: verify ok (the spooled rows were chained in order)"
# In order: the run's rows by seq follow the events' order on stderr.
pw_cmd audit query --json --run crash_1 --store "$S"
check_eq "$(python3 - "$OUT" "$T/crash.stderr" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
evs = []
for l in open(sys.argv[2]):
    if l.startswith("{"):
        try:
            e = json.loads(l)
        except ValueError:
            e = json.loads(l.rstrip("\n") + "}")
        evs.append((e["event_type"], e["task_id"]))
print([(r["event_type"], r["task_id"]) for r in rows] == evs)
PY
)" True "server killed mid-run: the rows are in the order the events happened"

# --- the server down until after the run -------------------------------------
S=$(be_store down)
(
	sleep 1
	pg_kill
) >"$T/down.ctl" 2>&1 &
ctl=$!
pw_run down "$T/sleepy.yaml" --store "$S" --run-id down_1
wait $ctl || true
check_eq "$RC" 0 "server down until after the run: the run exits 0"
want=$(events_by_type "$ERR")
check_match "$want" "dag_run_end:1,dag_run_start:1,.*task_end:20" \
	"server down until after the run: pitwall printed the run's events ($(sum_counts "$want"))"
spooled=$(spool_lines)
check "server down until after the run: the spool holds the events of the outage ($spooled)" \
	test "$spooled" -gt 0
pw_cmd audit verify --store "$S"
check "server still down: audit verify fails (cannot verify what it cannot read)" test "$RC" -ne 0
check_eq "$(spool_lines)" "$spooled" "server still down: the spool is kept"
pg_start
in_table=$(PG_PSQL_DB=pw_down pg_psql -c "SELECT count(*) FROM pipeline_audit_log WHERE dag_run_id = 'down_1'")
check_eq "$((in_table + spooled))" "$(sum_counts "$want")" \
	"server back: table + spool = every event printed ($in_table + $spooled)"
pw_cmd audit verify --store "$S"
check_eq "$RC" 0 "server back: the next pitwall command (audit verify) flushes the spool, verify ok"
check_match "$(cat "$ERR")" "wrote $spooled spooled audit events" \
	"server back: it says it wrote the $spooled spooled events"
check_eq "$(pg_rows_by_type pw_down down_1)" "$want" \
	"server back: no event lost (same count per event_type in the table)"
check_eq "$(spool_lines)" 0 "server back: the spool is empty"

# --- the server down for a whole run ------------------------------------------
S=$(be_store absent) # the database exists, the table not yet
pg_kill
write_quick_dag "$T/q.yaml" q 3
pw_run absent "$T/q.yaml" --store "$S" --run-id absent_1
check_eq "$RC" 0 "server down for the whole run: the run exits 0"
want=$(events_by_type "$ERR")
check_eq "$(spool_lines)" "$(sum_counts "$want")" "server down for the whole run: every event in the spool"
pg_start
pw_cmd history --json --store "$S"
check_eq "$RC" 0 "server back: pitwall history flushes the spool (first use creates the table)"
check_eq "$(pg_rows_by_type pw_absent absent_1)" "$want" \
	"server back: every event in the table (same count per event_type)"
verify absent
check_eq "$RC" 0 "server back: verify ok"

# --- a commit whose answer was lost -----------------------------------------
# The server may commit a batch and die before it answers: pitwall spools the
# rows, which are in the table already.  Flushing must not write them twice,
# nor stall on their audit_id for ever.  Simulated by copying the last two
# rows of the table into the spool.
S=$(be_store dup)
pw_run dup1 "$T/q.yaml" --store "$S" --run-id dup_1
n1=$(row_count dup)
spool=$PITWALL_HOME/.pitwall/spool-$(printf '%s' "postgresql://$PG_USER:***@127.0.0.1:$PG_PORT/pw_dup" |
	sha256sum | cut -c1-16).jsonl
pw_cmd audit query --json -n 2 --store "$S"
cp "$OUT" "$spool"
pw_run dup2 "$T/q.yaml" --store "$S" --run-id dup_2
check_eq "$RC" 0 "lost commit answer: the next run exits 0"
check_match "$(cat "$ERR")" "2 spooled audit events were already in" \
	"lost commit answer: pitwall says the 2 spooled rows were already stored"
check_eq "$(row_count dup)" "$((n1 + $(sum_counts "$(events_by_type "$ERR")")))" \
	"lost commit answer: the table holds each row once"
check_eq "$(rows_by_type dup dup_2)" "$(events_by_type "$ERR")" \
	"lost commit answer: the new run's events are all in the table"
check_eq "$(count_lines "$spool")" 0 "lost commit answer: the spool is empty"
verify dup
check_eq "$RC" 0 "lost commit answer: verify ok"

# --- a server that hangs ------------------------------------------------------
# SIGSTOP the server and its backends after 1 s: connections stay open but
# nothing answers.  The run must not hang: pitwall gives up on the statement
# after 10 s, spools, and does not try again for 30 s; the server comes back
# after 25 s, and the next command writes the spool.
S=$(be_store frozen)
pw_cmd history --store "$S" # creates the table
(
	sleep 1
	pg_freeze
	sleep 24
	pg_thaw
) >"$T/frozen.ctl" 2>&1 &
ctl=$!
start=$SECONDS
pw_run frozen "$T/sleepy.yaml" --store "$S" --run-id frozen_1
took=$((SECONDS - start))
check_eq "$RC" 0 "hung server: the run exits 0"
check_le "$took" 20 "hung server: the run does not wait for the server (${took} s, server back at 25 s)"
wait $ctl || true
want=$(events_by_type "$ERR")
pw_cmd audit verify --store "$S"
check_eq "$RC" 0 "hung server, back: verify flushes the spool and the chain is intact"
((RC == 0)) || cat "$OUT" "$ERR" | sed 's/^/#   /'
check_eq "$(pg_rows_by_type pw_frozen frozen_1)" "$want" \
	"hung server, back: no event lost, none twice (same count per event_type)"
check_eq "$(spool_lines)" 0 "hung server, back: the spool is empty"

# --- a password in the connection string appears nowhere ---------------------
S=$(be_store secret)
printf 'dag_id: envdump\ntasks:\n  - task_id: e\n    command: ["env"]\n' >"$T/env.yaml"
pw_run secret1 "$PW_SOURCE_DIR/dags/smoke.yaml" --store "$S" --run-id secret_1
check_eq "$RC" 0 "password: run with --store postgresql://user:SECRET@...: exit 0"
pw_run secret2 "$T/env.yaml" --store "$S" --run-id secret_2
check_eq "$RC" 0 "password: a task that prints its environment: exit 0"
# The server down for a while: the spool and the warnings too.
(sleep 0.5 && pg_kill && sleep 1 && pg_start) >"$T/secret.ctl" 2>&1 &
ctl=$!
pw_run secret3 "$T/sleepy.yaml" --store "$S" --run-id secret_3
wait $ctl || true
check_eq "$RC" 0 "password: a run through an outage: exit 0"
# Via PITWALL_STORE and the libpq keyword form, to every read command.
PITWALL_STORE=$S pw_run secret4 "$T/env.yaml" --run-id secret_4
check_eq "$RC" 0 "password: PITWALL_STORE=postgresql://user:SECRET@...: exit 0"
KV="host=127.0.0.1 port=$PG_PORT user=$PG_USER password=$PG_PASSWORD dbname=pw_secret"
for cmd in "history --json" "status secret_1 --json" "audit query --json" "audit verify" \
	"lineage report.txt --run secret_1" "logs secret_1 report" "status no_such_run"; do
	# shellcheck disable=SC2086
	pw_cmd $cmd --store "$KV"
	cat "$OUT" "$ERR" >>"$T/secret.cmds"
	pw_cmd $cmd --store "$S"
	cat "$OUT" "$ERR" >>"$T/secret.cmds"
done
check_match "$(cat "$T/secret.cmds")" "password=\*\*\*" \
	"password: the keyword=value form is shown as password=***"
# A wrong password: the error must not echo it either.
pw_cmd audit verify --store "postgresql://$PG_USER:Wr0ngSecret@127.0.0.1:$PG_PORT/pw_secret"
check "password: a wrong password: verify fails" test "$RC" -ne 0
cat "$OUT" "$ERR" >>"$T/secret.cmds"
check_nomatch "$(cat "$T/secret.cmds")" "Wr0ngSecret" "password: a wrong password is not echoed"
PG_PSQL_DB=pw_secret pg_psql -c "SELECT * FROM pipeline_audit_log" >"$T/secret.dump"
check "password: the table dump has the runs' rows" test "$(wc -l <"$T/secret.dump")" -gt 90
hits=$(grep -rlF -- "$PG_PASSWORD" "$T"/secret[123].stdout "$T"/secret[123].stderr \
	"$T"/secret[123] "$T/secret.cmds" "$T/secret.dump" "$PITWALL_HOME" 2>/dev/null || true)
check_eq "$hits" "" "password: --store URL: SECRET is in no stdout/stderr, run.json, workspace log, spool or table row"
# A task's environment is pitwall's: PITWALL_STORE must not reach it as is.
hits=$(grep -rlF -- "$PG_PASSWORD" "$T"/secret4.stdout "$T"/secret4.stderr "$T"/secret4 \
	2>/dev/null || true)
check_eq "$hits" "" "password: PITWALL_STORE: SECRET is not in the log of a task that prints its environment"

# --- libpq's environment variables and service files ------------------------
S=$(be_store libpq)
PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=$PG_USER PGPASSWORD=$PG_PASSWORD PGDATABASE=pw_libpq \
	pw_run envvars "$T/q.yaml" --store postgresql:// --run-id libpq_env
check_eq "$RC" 0 "libpq: --store postgresql:// with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE"
cat >"$T/pg_service.conf" <<EOF
[pitwall]
host=127.0.0.1
port=$PG_PORT
user=$PG_USER
password=$PG_PASSWORD
dbname=pw_libpq
EOF
PGSERVICEFILE=$T/pg_service.conf pw_run service "$T/q.yaml" --store service=pitwall \
	--run-id libpq_svc
check_eq "$RC" 0 "libpq: --store service=pitwall with PGSERVICEFILE"
check_eq "$(row_count libpq)" \
	"$(($(sum_counts "$(events_by_type "$T/envvars.stderr")") + $(sum_counts "$(events_by_type "$T/service.stderr")")))" \
	"libpq: both runs' rows are in the database"
check_eq "$(grep -c "$PG_PASSWORD" "$T/envvars.stderr" "$T/service.stderr" | awk -F: '{s+=$2} END {print s}')" 0 \
	"libpq: no password in their output"

# --- a role that can only INSERT and SELECT (docs/audit.md) ------------------
# The table is created and owned by an administrator (here the superuser,
# over the socket); pitwall runs as pitwall_writer with the documented GRANTs.
PG_PSQL_DB=postgres pg_psql -c "CREATE DATABASE pw_grants" >/dev/null
ADMIN="postgresql:///pw_grants?host=$PG_SOCK&port=$PG_PORT&user=postgres"
pw_run grants0 "$T/q.yaml" --store "$ADMIN" --run-id grants_0
check_eq "$RC" 0 "grants: the administrator's first run creates the table"
WPW=W$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
PG_PSQL_DB=pw_grants pg_psql <<EOF >/dev/null
CREATE ROLE pitwall_writer LOGIN PASSWORD '$WPW';
GRANT CONNECT ON DATABASE pw_grants TO pitwall_writer;
GRANT USAGE ON SCHEMA public TO pitwall_writer;
GRANT SELECT, INSERT ON pipeline_audit_log TO pitwall_writer;
GRANT SELECT ON pitwall_schema TO pitwall_writer;
EOF
W="postgresql://pitwall_writer:$WPW@127.0.0.1:$PG_PORT/pw_grants"
pw_run grants1 "$PW_SOURCE_DIR/dags/smoke.yaml" --store "$W" --run-id grants_1
check_eq "$RC" 0 "grants: pitwall runs as a role with only INSERT and SELECT"
check_nomatch "$(cat "$ERR")" "could not record|spool" "grants: ... and records every event"
check_eq "$(pg_rows_by_type pw_grants grants_1)" "$(events_by_type "$ERR")" \
	"grants: all the run's events are in the table"
pw_cmd audit verify --store "$W"
check_eq "$RC" 0 "grants: audit verify as that role: exit 0"
writer_sql() {
	PGPASSWORD=$WPW "$PG_PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
		-U pitwall_writer -d pw_grants -c "$1" 2>&1
}
for stmt in "UPDATE pipeline_audit_log SET status = 'x' WHERE seq = 1" \
	"DELETE FROM pipeline_audit_log WHERE seq = 1" "TRUNCATE pipeline_audit_log"; do
	rc=0
	out=$(writer_sql "$stmt") || rc=$?
	if ((rc != 0)) && [[ $out == *"permission denied"* ]]; then
		pw_ok "grants: ${stmt%% *} as that role: permission denied"
	else
		pw_notok "grants: ${stmt%% *} as that role: permission denied" "exit $rc: $out"
	fi
done
rc=0
out=$(writer_sql "ALTER TABLE pipeline_audit_log DISABLE TRIGGER USER") || rc=$?
check_match "$rc $out" "^[1-9][0-9]* .*must be owner" "grants: that role cannot disable the triggers"

pw_done
