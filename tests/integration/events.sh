#!/usr/bin/env bash
# JSON events on stderr (docs/cli.md "Events") and the run.json / summary
# shapes, on a small DAG with a retry and a failure.
source "$(dirname "$0")/lib.bash"
pw_setup
H=$PW_HELPERS

cat >"$T/events.yaml" <<EOF
dag_id: events
tasks:
  - task_id: ok
    command: ["true"]
  - task_id: flaky
    command: ["$H/pw_flaky", "75", "2"]
    retries: 1
    retry_delay: 20ms
  - task_id: bad
    command: ["sh", "-c", "exit 4"]
    dependencies: [ok]
  - task_id: after_bad
    command: ["true"]
    dependencies: [bad]
EOF
pw_run events "$T/events.yaml" --run-id ev1
check_eq "$RC" 1 "pitwall exits 1"

report=$(python3 - "$ERR" <<'PY' 2>&1
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
bad = 0
evs = []
for l in lines:
    try:
        evs.append(json.loads(l))
    except ValueError:
        bad += 1
print("nonjson", bad)
keys = {"dag_run_id", "task_id", "timestamp", "level", "event_type", "message", "metadata"}
print("missingkeys", sum(1 for e in evs if not keys <= set(e)))
print("runid", sorted({e.get("dag_run_id") for e in evs}))
print("first", evs[0]["event_type"] if evs else None)
print("last", evs[-1]["event_type"] if evs else None)
print("runevents_taskid", sorted({str(e.get("task_id")) for e in evs if e.get("event_type", "").startswith("dag_run")}))
ends = {e["task_id"]: e for e in evs if e.get("event_type") == "task_end"}
print("task_end_for", sorted(ends))
md = {"status", "attempt", "exit_code", "signal", "duration_ms"}
print("task_end_md_missing", sorted((k, sorted(md - set(e.get("metadata") or {}))) for k, e in ends.items() if not md <= set(e.get("metadata") or {})))
print("bad_end", ends.get("bad", {}).get("metadata", {}).get("status"), ends.get("bad", {}).get("metadata", {}).get("exit_code"))
retry = [e for e in evs if e.get("event_type") == "task_retry"]
print("retries", [(e["task_id"], e["level"], (e.get("metadata") or {}).get("attempt"), (e.get("metadata") or {}).get("next_attempt"), (e.get("metadata") or {}).get("reason")) for e in retry])
starts = [(e["task_id"], (e.get("metadata") or {}).get("attempt")) for e in evs if e.get("event_type") == "task_start"]
print("starts", sorted(starts, key=str))
import re
print("ts_ok", all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", e.get("timestamp", "")) for e in evs))
PY
) || true
get() { sed -n "s/^$1 //p" <<<"$report"; }
check_eq "$(get nonjson)" 0 "every stderr line is a JSON object"
check_eq "$(get missingkeys)" 0 "every event has dag_run_id, task_id, timestamp, level, event_type, message, metadata"
check_eq "$(get runid)" "['ev1']" "every event carries dag_run_id ev1"
check_eq "$(get first)" dag_run_start "first event dag_run_start"
check_eq "$(get last)" dag_run_end "last event dag_run_end"
check_eq "$(get runevents_taskid)" "['None']" "run events have task_id null"
check_eq "$(get task_end_for)" "['after_bad', 'bad', 'flaky', 'ok']" \
	"a task_end for every task, upstream_failed included"
check_eq "$(get task_end_md_missing)" "[]" \
	"every task_end's metadata has status, attempt, exit_code, signal, duration_ms"
check_eq "$(get bad_end)" "failed 4" "task_end of bad: failed, exit_code 4"
check_eq "$(get retries)" "[('flaky', 'WARNING', 1, 2, 'transient_error')]" \
	"one task_retry (WARNING, attempt 1 -> 2, transient_error)"
check_eq "$(get starts)" "[('bad', 1), ('flaky', 1), ('flaky', 2), ('ok', 1)]" \
	"task_start per attempt, none for upstream_failed tasks"
check_eq "$(get ts_ok)" True "timestamps are ISO 8601 UTC"

# run.json shape
check_eq "$(rj 'sorted({"dag_id", "exit_code", "logical_date", "max_concurrent", "run_id", "seed", "status", "tasks"} - set(d))')" \
	'[]' "run.json has every documented top-level key"
check_eq "$(rj 'sorted({"attempt_log", "attempts", "duration_ms", "error", "exit_code", "signal", "status", "task_id"} - set(t("flaky")))')" \
	'[]' "run.json tasks have every documented key"
check_eq "$(rj 'sorted({"attempt", "class", "duration_ms", "error", "exit_code", "log", "signal", "status"} - set(a("flaky",1)))')" \
	'[]' "run.json attempts have every documented key"
check_eq "$(rj 'd["status"]')/$(rj 'd["exit_code"]')" failed/1 "run.json status failed, exit_code 1"
check_eq "$(rj 't("after_bad")["attempt_log"]')" "[]" "upstream_failed task: empty attempt_log"
check_eq "$(rj 'a("bad",1)["class"]')" error "exit 4 is classed error"

# summary
check_match "$(cat "$OUT")" 'TASK +STATUS +ATTEMPTS +DURATION +EXIT' "summary header"
check_match "$(cat "$OUT")" 'bad +failed +1 +[0-9.]+m?s +4' "summary row of bad"
check_match "$(cat "$OUT")" 'after_bad +upstream_failed +0 +- +-' "summary row of after_bad"
check_match "$(cat "$OUT")" 'run ev1: failed \(2 succeeded, 1 failed, 1 upstream_failed\) in [0-9.]+' \
	"summary run line"
check_match "$(cat "$OUT")" "workspace: $WS" "summary workspace line"
((PW_FAIL == 0)) || { echo "# $report" | head -30; pw_show; }

pw_done
