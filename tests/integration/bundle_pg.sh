#!/usr/bin/env bash
# The issue's bundle scenario with a PostgreSQL store: run (SQLite), export,
# import into a throwaway PostgreSQL server, read and verify it there, refuse
# a duplicate and a tampered bundle, replay from the bundle in a clean
# workspace recording into PostgreSQL, and export back out of PostgreSQL.
# Skipped (77) when the PostgreSQL server binaries are not installed.
# DAG: tests/dags/repro/replayable.yaml.
source "$(dirname "$0")/lib_repro.bash"
repro_setup
have_zstd_tar || pw_skip "tar --zstd / zstd not available to repack bundles"
source "$(dirname "$0")/lib_pg.bash"
pg_setup
# lib_pg.bash's trap runs `(exit $__rc)` under errexit, which ends the trap
# before pw_cleanup when the script fails: same trap, with set +e.
# shellcheck disable=SC2154
trap '__rc=$?; set +e; pg_teardown; (exit $__rc); pw_cleanup' EXIT
DAG=$RD/replayable.yaml
LD=2026-05-01T06:00:00Z
PG=$PG_URL

printf 'b\na\nc\n' >"$PW_REPRO_EXT"
pw_run ws "$DAG" --run-id b1 --logical-date $LD
check_rc "$RC" 0 "run succeeds (SQLite store)"
ws_digests "$T/ws" >"$T/ws.digests"
rp exp export b1 -o "$T/b1.tar.zst"
check_rc "$RC" 0 "export exits 0"
nev=$(audit_rows b1 | wc -l | tr -d ' ')

# --- import into PostgreSQL -------------------------------------------------------
rp imp import "$T/b1.tar.zst" --store "$PG"
check_rc "$RC" 0 "import into PostgreSQL exits 0"
check_match "$(cat "$OUT")" "imported run b1 \($nev events\) into postgresql://" "import says where it went"
check_nomatch "$(cat "$OUT" "$ERR")" "$PG_PASSWORD" "the password is not printed"
check_eq "$(pg_psql -c "SELECT count(*) FROM pipeline_audit_log WHERE dag_run_id = 'b1'")" $((nev + 1)) \
	"PostgreSQL holds every event of the run plus run_imported"
rp st status b1 --store "$PG"
check_match "$(head -n 1 "$OUT")" "run b1 of repro_replayable: success" "status reads the imported run from PostgreSQL"
rp ver audit verify --store "$PG"
check_rc "$RC" 0 "audit verify of the PostgreSQL store: chain intact"
rp dup import "$T/b1.tar.zst" --store "$PG"
check_rc "$RC" 1 "a second import into PostgreSQL is refused"
check_match "$(cat "$ERR")" "duplicates are refused" "... as a duplicate"

# --- a tampered bundle adds nothing --------------------------------------------------
mkdir -p "$T/x"
tar --zstd -xf "$T/b1.tar.zst" -C "$T/x"
sed -i 's/^b$/B/' "$T/x/artifacts/raw/input.txt"
python3 - "$T/x/events.jsonl" <<'PY'
import json, sys
p = sys.argv[1]
L = open(p).read().splitlines()
L = [l.replace('"run_id":"b1"', '"run_id":"b2"').replace('"dag_run_id":"b1"', '"dag_run_id":"b2"') for l in L]
open(p, "w").write("\n".join(L) + "\n")
PY
retar "$T/x" "$T/tampered.tar.zst"
before=$(pg_psql -c "SELECT count(*) FROM pipeline_audit_log")
rp imp_t import "$T/tampered.tar.zst" --store "$PG"
check_rc "$RC" 1 "a tampered bundle (artifact and run id edited) is refused by the PostgreSQL import"
check_eq "$(pg_psql -c "SELECT count(*) FROM pipeline_audit_log")" "$before" "... and adds no row"

# --- export out of PostgreSQL, import into SQLite ----------------------------------------
rp exp2 export b1 -o "$T/b1pg.tar.zst" --store "$PG"
check_rc "$RC" 0 "export of the imported run from PostgreSQL exits 0"
rp imp2 import "$T/b1pg.tar.zst" --store "$T/back.db"
check_rc "$RC" 0 "... and that bundle imports into a fresh SQLite store"
rp st2 status b1 --store "$T/back.db"
check_match "$(head -n 1 "$OUT")" "run b1 of repro_replayable: success" "... where status reads it"

# --- replay from the bundle in a clean workspace, recorded in PostgreSQL ---------------
rm -rf "$T/ws"
mkdir -p "$T/clean"
(cd "$T/clean" && PITWALL_HOME=$T/clean/home timeout -k 5 60 "$PITWALL" replay --bundle "$T/b1.tar.zst" \
	--store "$PG" -q >"$T/rb.stdout" 2>"$T/rb.stderr") && RC=0 || RC=$?
OUT=$T/rb.stdout ERR=$T/rb.stderr
check_rc "$RC" 0 "replay --bundle into PostgreSQL, clean workspace: exit 0"
check_match "$(cat "$OUT")" "verdict: IDENTICAL — 4 identical, 0 different, 0 missing, 0 new" "... every output identical"
rid=$(sed -n 's/^replaying run b1 as \([^ ]*\) .*/\1/p' "$OUT")
rws=$(sed -n 's/^workspace: //p' "$OUT")
[[ -d $rws ]] && ws_digests "$rws" >"$T/rb.digests"
check "the replayed outputs equal the original run's" cmp -s "$T/ws.digests" "$T/rb.digests"
check_eq "$(pg_psql -c "SELECT status FROM pipeline_audit_log WHERE dag_run_id = '$rid' AND event_type = 'replay_verdict'")" \
	identical "PostgreSQL holds the replay_verdict row"
check_eq "$(pg_psql -c "SELECT metadata::json->>'replay_of' FROM pipeline_audit_log WHERE dag_run_id = '$rid' AND event_type = 'dag_run_start'")" \
	b1 "... and the replay's dag_run_start with replay_of b1"
check_eq "$(ls "$T/clean/home/.pitwall/"spool-* 2>/dev/null | wc -l | tr -d ' ')" 0 "nothing left in the spool"
rp ver2 audit verify --store "$PG"
check_rc "$RC" 0 "audit verify after the replay: chain intact"
rp exp3 export b1 -o "$T/gone.tar.zst" --store "$PG"
check_rc "$RC" 1 "a full export once the run's workspace is gone fails"
check_match "$(cat "$ERR")" "is gone from" "... saying which output is gone"
rp exp4 export b1 -o "$T/b1m.tar.zst" --manifest-only --store "$PG"
check_rc "$RC" 0 "export --manifest-only still works without the workspace"

pw_done
