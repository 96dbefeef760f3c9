#!/usr/bin/env bash
# The daemon (`pitwall scheduler --dags D`, PITWALL_NOW + PITWALL_TIME_SCALE
# 600: a "*/5 * * * *" slot every 0.5 s) while its DAG directory changes:
#   - a DAG edited into invalid YAML: the error is logged (FILE:LINE:COL) and
#     the schedule keeps firing, and running, its last valid version;
#   - fixed again: the new version is picked up;
#   - a DAG file added: registered, then fired;
#   - a change inotify cannot see (written through a hard link from outside
#     the directory): picked up on SIGHUP;
#   - a DAG file removed: no longer fired, the others go on;
#   - SIGTERM while a run is going: the scheduler exits 0 at once, fires
#     nothing more, and the run finishes on its own, recorded.
source "$(dirname "$0")/lib_sched.bash"
sched_setup
t_start=$(date +%s%N)

# edit_dag DAG_ID TAG [SLEEP_S] [SCHEDULE]: prints a DAG (default every 5
# minutes) whose task appends "TAG LOGICAL_DATE" to $SCHED_OUT/DAG_ID.dates.
edit_dag() {
	local id=$1 tag=$2 s=${3:-0} sch=${4:-*/5 * * * *}
	cat <<EOF
dag_id: $id
schedule: "$sch"
tasks:
  - task_id: record
    command: ["sh", "-c", "touch \"\$SCHED_OUT/\$PITWALL_DAG_ID.\$PITWALL_LOGICAL_DATE.started\"; sleep $s; echo \"$tag \$PITWALL_LOGICAL_DATE\" >> \"\$SCHED_OUT/\$PITWALL_DAG_ID.dates\""]
EOF
}
fired_n() { log_count "scheduler: fired $1 "; }
# tag_of DAG_ID SLOT: the TAG the run of SLOT wrote ("" when none).
tag_of() { awk -v s="$2" '$2 == s {print $1}' "$SCHED_OUT/$1.dates" 2>/dev/null | paste -sd,; }
# fired_slots DAG_ID FROM_N: the slots of the fires logged after the first FROM_N.
fired_slots() { grep "scheduler: fired $1 for" "$SLOG" | tail -n +$(($2 + 1)) | awk '{print $6}'; }

edit_dag e_a v1 | sched_write "$D/e_a.yaml"
sched_start 2026-01-01T00:00:00Z 600
ok=0
wait_log 2 'scheduler: fired e_a ' 20 && ok=1
check_eq "$ok" 1 "the daemon fires e_a"

# --- invalid edit -------------------------------------------------------------
printf 'dag_id: e_a\nschedule: "*/5 * * * *"\ntasks: [\n' >"$D/e_a.yaml"
ok=0
wait_log 1 'e_a\.yaml is invalid' 10 && ok=1
check_eq "$ok" 1 "invalid edit: the scheduler notices it"
check_match "$(grep -A3 'e_a\.yaml is invalid' "$SLOG")" \
	"e_a\\.yaml is invalid; its last valid version stays scheduled.*e_a\\.yaml:[0-9]+:[0-9]+: error: invalid YAML" \
	"invalid edit: the error is logged with FILE:LINE:COL, and that the last valid version stays scheduled"
n_inv=$(fired_n e_a)
ok=0
wait_log $((n_inv + 3)) 'scheduler: fired e_a ' 20 && ok=1
check_eq "$ok" 1 "invalid edit: the schedule keeps firing (3 more fires)"
mapfile -t inv_slots < <(fired_slots e_a "$n_inv" | head -3)
sleep 0.3
tags=
for s in "${inv_slots[@]}"; do tags+="$s=$(tag_of e_a "$s") "; done
check_eq "$tags" "$(for s in "${inv_slots[@]}"; do printf '%s=v1 ' "$s"; done)" \
	"invalid edit: the fires run the last valid version (v1)"
ended=$(for s in "${inv_slots[@]}"; do grep -o "run e_a_scheduled_$(python3 -c 'import sys; print(sys.argv[1][:10].replace("-","") + "_" + sys.argv[1][11:19].replace(":",""))' "$s") ended (exit [0-9]*)" "$SLOG" | awk '{print $NF}' | tr -d ')'; done | paste -sd' ')
check_eq "$ended" "0 0 0" "invalid edit: those runs exit 0 (not 2, invalid DAG)"

# --- fixed -------------------------------------------------------------------
edit_dag e_a v2 | sched_write "$D/e_a.yaml"
ok=0
wait_log 2 'loaded .*e_a\.yaml' 10 && ok=1
check_eq "$ok" 1 "fixed: the new version is loaded"
n_fix=$(fired_n e_a)
wait_log $((n_fix + 2)) 'scheduler: fired e_a ' 20 || true
mapfile -t fix_slots < <(fired_slots e_a "$n_fix" | head -2)
sleep 0.3
tags=
for s in "${fix_slots[@]}"; do tags+="$(tag_of e_a "$s") "; done
check_eq "$tags" "v2 v2 " "fixed: the next fires run the new version (v2)"

# --- a new DAG file ----------------------------------------------------------
mkdir -p "$T/outside"
edit_dag e_b b1 >"$T/outside/e_b.yaml"
ln "$T/outside/e_b.yaml" "$D/.e_b.link"
mv "$D/.e_b.link" "$D/e_b.yaml" # the same inode as outside/e_b.yaml
ok=0
wait_log 1 'registered e_b' 10 && wait_log 2 'scheduler: fired e_b ' 20 && ok=1
check_eq "$ok" 1 "added: e_b is registered and fires"

# --- SIGHUP --------------------------------------------------------------------
# A new schedule (minutes 1, 6, 11, ...) written in place through the hard
# link outside the watched directory: inotify on the directory does not see
# it, so the scheduler keeps the old slots (minutes 0, 5, ...) until SIGHUP
# re-reads every file.
edit_dag e_b b2 0 "1-59/5 * * * *" >"$T/outside/e_b.yaml.new"
cat "$T/outside/e_b.yaml.new" >"$T/outside/e_b.yaml"
n_b=$(fired_n e_b)
wait_log $((n_b + 2)) 'scheduler: fired e_b ' 20 || true
pre=$(fired_slots e_b "$n_b" | head -2 | cut -c15-16 | paste -sd' ')
check_match "$pre" '^[0-5][05] [0-5][05]$' "SIGHUP: (before it, the unseen edit leaves the old slots: minutes $pre)"
kill -HUP "$SPID"
ok=0
wait_log 1 'SIGHUP: re-reading' 10 && wait_log 1 'loaded .*e_b\.yaml \(e_b, schedule 1-59/5' 10 && ok=1
check_eq "$ok" 1 "SIGHUP: logged, and e_b's new version loaded"
n_b=$(fired_n e_b)
wait_log $((n_b + 2)) 'scheduler: fired e_b ' 20 || true
sleep 0.3
post=$(fired_slots e_b "$n_b" | head -2 | cut -c15-16 | paste -sd' ')
check_match "$post" '^[0-5][16] [0-5][16]$' "SIGHUP: the DAGs are re-read: e_b fires on its new schedule (minutes $post)"
check_eq "$(kill -0 "$SPID" 2>/dev/null && echo alive)" alive "SIGHUP: the scheduler goes on"

# --- removed -------------------------------------------------------------------
rm "$D/e_a.yaml"
ok=0
wait_log 1 'e_a\.yaml was removed; no longer scheduled' 10 && ok=1
check_eq "$ok" 1 "removed: logged"
n_a=$(fired_n e_a)
n_b=$(fired_n e_b)
wait_log $((n_b + 3)) 'scheduler: fired e_b ' 20 || true
check_eq "$(fired_n e_a)" "$n_a" "removed: e_a fires no more while e_b fires 3 times"

# --- SIGTERM while a run is going ------------------------------------------------
edit_dag e_slow s1 3 | sched_write "$D/e_slow.yaml"
ok=0
wait_log 1 'scheduler: fired e_slow ' 20 && ok=1
slot=$(fired_slots e_slow 0 | head -1)
wait_for_files 10 "$SCHED_OUT/e_slow.$slot.started" || ok=0
check_eq "$ok" 1 "SIGTERM: e_slow's run has started ($slot)"
run_pid=$(grep "scheduler: fired e_slow for $slot" "$SLOG" | sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
sched_stop TERM
n_total=$(log_count 'scheduler: fired ')
check_eq "$SRC" 0 "SIGTERM: the scheduler exits 0"
check_le "$STOP_MS" 2000 "SIGTERM: at once (${STOP_MS} ms), without waiting for the run"
check_match "$(grep 'stopping' "$SLOG")" "stopping: no more fires; [1-9][0-9]* run\\(s\\) still going on their own" \
	"SIGTERM: it says so, and that the run goes on (e_b's may be going too)"
check_eq "$(kill -0 "$run_pid" 2>/dev/null && echo alive)" alive "SIGTERM: the run (pid $run_pid) keeps going"
check_eq "$(tag_of e_slow "$slot")" "" "SIGTERM: (the run had not finished when the scheduler exited)"
ok=0
wait_runs_done 20 && ok=1
check_eq "$ok" 1 "SIGTERM: the run finishes on its own"
sched_dump
check_eq "$(tag_of e_slow "$slot")" s1 "SIGTERM: its task completed"
rid=e_slow_scheduled_$(python3 -c 'import sys; print(sys.argv[1][:10].replace("-","") + "_" + sys.argv[1][11:19].replace(":",""))' "$slot")
check_eq "$(python3 -c 'import json,sys; print([(r["status"], bool(r["ended"])) for r in json.load(open(sys.argv[1])) if r["run_id"] == sys.argv[2]])' "$T/hist.json" "$rid")" \
	"[('success', True)]" "SIGTERM: the run is recorded ended, success ($rid)"
sleep 1
check_eq "$(log_count 'scheduler: fired ')" "$n_total" "SIGTERM: nothing fires after the scheduler stopped"

# --- idle: sleeps until the next fire, no polling -------------------------------
# Real time (scale 1), a weekly DAG whose next fire is an hour away: over 1.5 s
# the daemon wakes (voluntary context switches) at most a couple of times.
D=$T/dags_idle
mkdir -p "$D"
sched_dag weekly_london
sched_start 2026-01-05T01:00:00Z 1
wait_log 1 'registered weekly_london' 10 || true
sleep 0.3
cs0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0)
sleep 1.5
cs1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 999)
check_le $((cs1 - cs0)) 2 "idle: no polling loop ($((cs1 - cs0)) wake-ups in 1.5 s with the next fire an hour away)"
sched_stop TERM
check_eq "$SRC" 0 "idle: SIGTERM: exit 0"

check_eq "$(sp fired e_b | sort | uniq -d | wc -l)" 0 "e_b: no slot fired twice across the edits"

total_ms=$((($(date +%s%N) - t_start) / 1000000))
echo "# sched_edit: $total_ms ms"
pw_done
