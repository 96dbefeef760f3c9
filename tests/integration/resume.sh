#!/usr/bin/env bash
# pitwall resume: kill -9 pitwall mid-run, then resume.  status shows the run
# as interrupted; resume (refused while pitwall still runs) kills the leftover
# process group recorded in the audit (pid plus start time), keeps every task
# that finished, runs the rest, and loses no recorded event.
# DAG: tests/dags/repro/interruptible.yaml (`hold` blocks while $PW_REPRO_FLAG
# exists, its background sleep's pid in $PW_REPRO_FLAG.pid).
source "$(dirname "$0")/lib_repro.bash"
repro_setup
DAG=$RD/interruptible.yaml
LD=2026-04-01T00:00:00Z
PWPID=
SLEEPPID=

# Our own leftovers, by pid, only if they still are what we started.
repro_kill_leftovers() {
	if [[ -n $PWPID ]] && kill -0 "$PWPID" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$PWPID/cmdline" 2>/dev/null | grep -q "run $DAG"; then
		kill -KILL "$PWPID" 2>/dev/null || true
	fi
	if [[ -n $SLEEPPID ]] && is_our_sleep "$SLEEPPID"; then
		kill -KILL "$SLEEPPID" 2>/dev/null || true
	fi
}
# set +e: under errexit a failing `(exit $__rc)` would end the trap before
# pw_cleanup (temp dir left behind, no summary line).
# shellcheck disable=SC2154
trap '__rc=$?; set +e; repro_kill_leftovers; (exit $__rc); pw_cleanup' EXIT

# is_our_sleep PID: PID is alive (not a zombie) and is `sleep 300`.
is_our_sleep() {
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	local st
	st=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[1] }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]] || return 1
	[[ $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) == "sleep 300 " ]]
}

# A clean run for the reference outputs (switch off).
pw_run clean "$DAG" --run-id clean1 --logical-date $LD
check_rc "$RC" 0 "clean run succeeds"
ws_digests "$T/clean" >"$T/clean.digests"

# --- start, wait until `hold` blocks, kill -9 pitwall --------------------------
: >"$PW_REPRO_TRACE"
touch "$PW_REPRO_FLAG"
"$PITWALL" run "$DAG" --workspace "$T/ws" --run-id r1 --logical-date $LD --log-format json \
	>"$T/r1.stdout" 2>"$T/r1.stderr" </dev/null &
PWPID=$!
if ! wait_for_files 15 "$PW_REPRO_FLAG.pid"; then
	pw_notok "hold started its sleep" "no $PW_REPRO_FLAG.pid after 15 s"
	pw_done
	exit 1
fi
SLEEPPID=$(<"$PW_REPRO_FLAG.pid")
for _ in $(seq 100); do # the task_start row is written just before pitwall polls
	"$PITWALL" status r1 >"$T/st0.txt" 2>&1 || true
	grep -Eq '^hold +running' "$T/st0.txt" && break
	sleep 0.05
done
check_match "$(cat "$T/st0.txt")" "hold +running" "while pitwall runs, status shows hold running"
check_match "$(head -n 1 "$T/st0.txt")" ": running" "... and the run as running"

rp early_resume resume r1
check_rc "$RC" 1 "resume of a run whose pitwall is alive is refused"
check_match "$(cat "$ERR")" "still running" "... saying it is still running"
rp early_rerun rerun r1
check_rc "$RC" 1 "rerun of a run whose pitwall is alive is refused"
check "the refused resume did not touch the task's process group" is_our_sleep "$SLEEPPID"

kill -KILL "$PWPID"
wait "$PWPID" 2>/dev/null || true
PWPID=
audit_rows r1 >"$T/before.rows"
check "the task's process group outlives pitwall (sleep $SLEEPPID alive)" is_our_sleep "$SLEEPPID"

rp st1 status r1
check_match "$(head -n 1 "$OUT")" "r1 of repro_interruptible: interrupted" "status shows the run as interrupted"
check_match "$(cat "$OUT")" "pitwall resume r1" "status points at pitwall resume"
rp hist history repro_interruptible
check_match "$(grep -E '^r1 ' "$OUT")" "interrupted" "history shows it as interrupted"
rp stj status r1 --json
check_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$OUT" 2>&1)" \
	interrupted "status --json says interrupted"

# --- resume -----------------------------------------------------------------------
rm -f "$PW_REPRO_FLAG"
t0=$SECONDS
rp resume resume r1 --log-format json
resume_s=$((SECONDS - t0))
check_rc "$RC" 0 "resume succeeds"
check_match "$(cat "$ERR")" "terminated leftover process group [0-9]+ of task hold" "resume reports the leftover group it killed"
sleep 0.2
if is_our_sleep "$SLEEPPID"; then
	pw_notok "resume killed the leftover process (sleep $SLEEPPID)" "it is still running"
else
	pw_ok "resume killed the leftover process (sleep $SLEEPPID)"
fi
echo "# resume took ${resume_s}s"
check_eq "$(trace_count first) $(trace_count other) $(trace_count last)" "1 1 1" \
	"no completed task ran again (first, other once; last once)"
check_eq "$(grep -c '^hold' "$PW_REPRO_TRACE")" 2 "hold ran again after the resume"
check_match "$(grep '^hold' "$PW_REPRO_TRACE" | tail -n 1)" "^hold 2$" "the resumed hold is attempt 2"

audit_rows r1 >"$T/after.rows"
lost=$(python3 - "$T/before.rows" "$T/after.rows" <<'PY'
import json, sys
before = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
after = {json.loads(l)["audit_id"]: json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")}
print(sum(1 for r in before if r["audit_id"] not in after or after[r["audit_id"]]["hash"] != r["hash"]))
PY
)
check_eq "$lost" 0 "every event recorded before the kill is still there, unchanged"
check_eq "$(aq "$T/after.rows" 'len(of("task_end", after("run_resumed")))')" 2 \
	"after run_resumed: task_end of hold and last only"
check_eq "$(aq "$T/after.rows" 'tasks("task_start", after("run_resumed"))')" '["hold", "last"]' \
	"after run_resumed: only hold and last started"
ok_row='of("orphan_killed")[-1]'
check_eq "$(aq "$T/after.rows" "${ok_row}['task_id']")" hold "an orphan_killed row names the task"
check_eq "$(aq "$T/after.rows" "${ok_row}['metadata']['pid'] == [r for r in of('task_start') if r['task_id'] == 'hold'][0]['metadata']['pid']")" \
	true "orphan_killed's pid is the one the task_start recorded"
check_match "$(aq "$T/after.rows" "${ok_row}['metadata'].get('pid_start')")" "^[1-9][0-9]*$" \
	"orphan_killed records the process start time"
check_eq "$(aq "$T/after.rows" 'of("run_resumed")[-1]["metadata"]["tasks"]')" "hold, last" \
	"run_resumed lists what it re-executes"
rp verify audit verify
check_rc "$RC" 0 "audit verify: chain intact after kill -9 and resume"
rp st2 status r1
check_match "$(head -n 1 "$OUT")" "r1 of repro_interruptible: success" "status after resume: success"
ws_digests "$T/ws" >"$T/ws.digests"
if diff "$T/clean.digests" "$T/ws.digests" >"$T/diff.txt"; then
	pw_ok "the resumed run's outputs equal a clean run's"
else
	pw_notok "the resumed run's outputs equal a clean run's" "$(cat "$T/diff.txt")"
fi

rp again resume r1
check_rc "$RC" 1 "resume of a finished run is refused"
check_match "$(cat "$ERR")" "not interrupted" "... saying it is not interrupted"

pw_done
