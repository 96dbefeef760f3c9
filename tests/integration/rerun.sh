#!/usr/bin/env bash
# pitwall rerun: fail a task mid-DAG, fix the cause, rerun.  The audit shows
# exactly which tasks ran again, the outputs equal a clean run's, downstream
# upstream_failed tasks are cleared, the request is recorded with actor and
# reason; --from, --only, --dry-run; timed-out and skipped tasks.
# DAG: tests/dags/repro/fixable.yaml (failure switch: $PW_REPRO_FLAG).
source "$(dirname "$0")/lib_repro.bash"
repro_setup
DAG=$RD/fixable.yaml
LD=2026-03-01T00:00:00Z

# --- a clean run: the reference outputs -------------------------------------
pw_run clean "$DAG" --run-id clean1 --logical-date $LD
check_rc "$RC" 0 "clean run succeeds"
ws_digests "$T/clean" >"$T/clean.digests"

# --- fail mid-DAG, fix, rerun ------------------------------------------------
: >"$PW_REPRO_TRACE"
echo fail >"$PW_REPRO_FLAG"
pw_run ws "$DAG" --run-id f1 --logical-date $LD
check_rc "$RC" 1 "the run with the switch on fails"
check_eq "$(rj 't("fragile")["status"]') $(rj 't("combine")["status"]') $(rj 't("report")["status"]') $(rj 't("alert")["status"]')" \
	"failed upstream_failed upstream_failed skipped" "fragile failed, combine/report upstream_failed, alert skipped"
rm -f "$PW_REPRO_FLAG" # fix the cause
: >"$PW_REPRO_TRACE"

rp dry rerun f1 --dry-run
check_rc "$RC" 0 "rerun --dry-run exits 0"
check_match "$(cat "$OUT")" "re-run in f1: rerun: fragile, combine, report, alert" \
	"--dry-run lists failed, upstream_failed and skipped tasks"
check_match "$(cat "$OUT")" "reusing: gen, square, side" "--dry-run lists the reused tasks"
check_eq "$(wc -c <"$PW_REPRO_TRACE" | tr -d ' ')" 0 "--dry-run runs nothing"
audit_rows f1 >"$T/f1.rows"
check_eq "$(aq "$T/f1.rows" 'len(of("rerun_requested"))')" 0 "--dry-run records no rerun_requested"

rp rerun1 rerun f1 --reason "flag file removed" --actor "tester@ci" --log-format json
check_rc "$RC" 0 "rerun after the fix succeeds"
audit_rows f1 >"$T/f1.rows"
check_eq "$(aq "$T/f1.rows" 'tasks("task_start", after("rerun_requested"))')" \
	'["combine", "fragile", "report"]' "the audit shows exactly fragile, combine, report started again"
check_eq "$(trace_count gen) $(trace_count square) $(trace_count side) $(trace_count alert)" "0 0 0 0" \
	"successful tasks outside the set did not run again (trace)"
check_eq "$(trace_count fragile) $(trace_count combine) $(trace_count report)" "1 1 1" \
	"fragile, combine and report each ran once"
req='of("rerun_requested")[-1]'
check_eq "$(aq "$T/f1.rows" "${req}['actor']")" "tester@ci" "rerun_requested records the actor"
check_eq "$(aq "$T/f1.rows" "${req}['metadata']['reason']")" "flag file removed" "rerun_requested records the reason"
check_eq "$(aq "$T/f1.rows" "${req}['metadata']['tasks']")" "fragile, combine, report, alert" \
	"rerun_requested lists the tasks it re-executes"
check_eq "$(aq "$T/f1.rows" 'of("dag_run_start")[-1]["metadata"].get("rerun")')" "true" \
	"the rerun's dag_run_start is marked as a rerun"
check_eq "$(aq "$T/f1.rows" 'len(set(r["dag_run_id"] for r in rows))')" 1 "the rerun keeps the run id"
rp st1 status f1 --json
check_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("status"), sorted(set(t.get("state") for t in d.get("tasks", []))))' "$OUT" 2>&1)" \
	"success ['skipped', 'success']" "status after the rerun: success, no task stuck upstream_failed"
ws_digests "$T/ws" >"$T/ws.digests"
if diff "$T/clean.digests" "$T/ws.digests" >"$T/diff.txt"; then
	pw_ok "the rerun's outputs equal a clean run's"
else
	pw_notok "the rerun's outputs equal a clean run's" "$(cat "$T/diff.txt")"
fi
check "the rerun's attempt of fragile is attempt 2 (log fragile.2.log)" test -f "$T/ws/logs/fragile.2.log"
check "the first attempt's log is kept" test -f "$T/ws/logs/fragile.1.log"

rp rerun_nothing rerun f1
check_rc "$RC" 0 "rerun of a run with nothing left to do exits 0"
check_match "$(head -n 1 "$OUT")" "rerun: (\(nothing\)|alert)$" "rerun of a successful run re-executes nothing (but skipped ones)"

# --- --from TASK -------------------------------------------------------------
: >"$PW_REPRO_TRACE"
rp from rerun f1 --from square --reason "square changed"
check_rc "$RC" 0 "rerun --from square succeeds"
audit_rows f1 >"$T/f1.rows"
check_eq "$(aq "$T/f1.rows" 'tasks("task_start", after("rerun_requested"))')" \
	'["combine", "report", "square"]' "--from square re-executes square and everything downstream, nothing else"
check_eq "$(trace_count gen)$(trace_count fragile)$(trace_count side)" "000" "--from: gen, fragile, side not re-run"
check_eq "$(aq "$T/f1.rows" 'of("rerun_requested")[-1]["metadata"].get("from")')" "square" \
	"rerun_requested records --from"

# --- --only TASK --------------------------------------------------------------
: >"$PW_REPRO_TRACE"
rp only rerun f1 --only side
check_rc "$RC" 0 "rerun --only side succeeds"
audit_rows f1 >"$T/f1.rows"
check_eq "$(aq "$T/f1.rows" 'tasks("task_start", after("rerun_requested"))')" '["side"]' \
	"--only side re-executes just side"

# --- timed-out task ----------------------------------------------------------
: >"$PW_REPRO_TRACE"
echo hang >"$PW_REPRO_FLAG"
pw_run wt "$DAG" --run-id t1 --logical-date $LD
check_eq "$RC $(rj 't("fragile")["status"]')" "1 timeout" "with the switch on 'hang', fragile times out"
rm -f "$PW_REPRO_FLAG"
rp rerun_t rerun t1
check_rc "$RC" 0 "rerun of the timed-out run succeeds"
check_match "$(cat "$OUT")" "rerun: fragile, combine, report, alert" "the timed-out task is re-executed"
ws_digests "$T/wt" >"$T/wt.digests"
check "outputs after the timeout rerun equal a clean run's" cmp -s "$T/clean.digests" "$T/wt.digests"

# --- errors ---------------------------------------------------------------------
rp nosuch rerun no_such_run
check_rc "$RC" 1 "rerun of an unknown run exits 1"
rp badtask rerun f1 --from no_such_task
check_rc "$RC" 64 "rerun --from an unknown task is a usage error (64)"
rp both rerun f1 --from gen --only side
check_rc "$RC" 64 "--from with --only is a usage error (64)"

pw_done
