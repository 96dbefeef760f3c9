#!/usr/bin/env bash
# Overlap: a slow run (1.3 s) on a schedule that fires every 0.5 s (every 5
# virtual minutes at PITWALL_TIME_SCALE=600).
#   max_active_runs 1, overlap skip   the fires due while it runs are
#                                     recorded schedule_skipped; never two
#                                     runs at once
#   max_active_runs 1, overlap queue  they run later, one after another, in
#                                     slot order, none lost, never two at once
#   max_active_runs 2, overlap queue  two at once, never three
# "At once" is measured twice: by pw_conc (a counter under flock in the task
# itself) and from the runs' start / end times in `pitwall history --json`.
# Then the same across processes: a slow `pitwall run --scheduled` holds the
# DAG's run while `pitwall scheduler --once` reaches the next slot.
source "$(dirname "$0")/lib_sched.bash"
sched_setup
t_start=$(date +%s%N)
H=$PW_HELPERS

# overlap_dag ID MAX OVERLAP [SCHEDULE]: the task takes $SLOW_MS ms (default 1300).
overlap_dag() {
	sched_write "$D/$1.yaml" <<EOF
dag_id: $1
schedule: "${4:-*/5 * * * *}"
max_active_runs: $2
overlap: $3
tasks:
  - task_id: slow
    command: ["$H/pw_conc", "$SCHED_OUT/$1.conc", "${SLOW_MS:-1300}"]
EOF
}
conc_max() { awk '{print $2}' "$SCHED_OUT/$1.conc" 2>/dev/null || echo none; }
conc_cur() { awk '{print $1}' "$SCHED_OUT/$1.conc" 2>/dev/null || echo none; }

# --- A. the daemon -----------------------------------------------------------
overlap_dag o_skip 1 skip
overlap_dag o_queue 1 queue
overlap_dag o_queue2 2 queue
sched_start 2026-01-01T00:00:00Z 600
ok=0
wait_log 4 'scheduler: fired o_queue ' 30 && wait_log 3 'scheduler: skipped o_skip ' 30 && ok=1
sleep 1
check_eq "$ok" 1 "A: the daemon fires o_queue 4 times and skips o_skip 3 times"
sched_stop TERM
end_at=$(sched_vnow)
check_eq "$SRC" 0 "A: SIGTERM: the daemon exits 0 (runs still going: $(grep -o '[0-9]* run(s) still going' "$SLOG" | tail -1))"
ok=0
wait_runs_done 30 && ok=1
check_eq "$ok" 1 "A: the runs left going finish on their own"
sched_dump

# overlap skip
mapfile -t sk < <(sp skipped o_skip)
n_overlap=$(printf '%s\n' "${sk[@]}" | grep -c '|overlap: ' || true)
check_le 2 "$n_overlap" "A skip: fires due while the run is active are recorded schedule_skipped, reason overlap ($n_overlap)"
check_le 2 "$(sp fired o_skip | wc -l)" "A skip: the schedule still fires between overlaps ($(sp fired o_skip | wc -l) fired)"
check_eq "$(conc_max o_skip)" 1 "A skip: pw_conc: never 2 runs at once"
check_eq "$(sp overlaps o_skip)" 0 "A skip: run records: no run starts before the previous one ended"
check_account "A skip: every slot handled once" o_skip "*/5 * * * *" UTC "$end_at" fuzzy

# overlap queue, max_active_runs 1
check_eq "$(sp skipped o_queue | wc -l)" 0 "A queue: nothing skipped"
check_le 1 "$(log_count 'scheduler: queued o_queue ')" "A queue: the scheduler logs queued fires"
check_eq "$(conc_max o_queue)" 1 "A queue: pw_conc: never 2 runs at once"
check_eq "$(sp overlaps o_queue)" 0 "A queue: run records: each run starts after the previous one ended"
reg=$(python3 -c 'import json,sys; print([json.loads(l)["metadata"]["logical_date"] for l in open(sys.argv[1]) if "schedule_registered" in l and "\"o_queue\"" in l][0])' "$T/audit.jsonl")
nf=$(sp fired o_queue | wc -l)
check_eq "$(sp fired o_queue | paste -sd' ')" \
	"$(python3 "$T/sched.py" slots "*/5 * * * *" UTC "$reg" "$end_at" | head -n "$nf" | paste -sd' ')" \
	"A queue: the fired slots are every slot in order, none lost ($nf)"
check_eq "$(sp runs o_queue | awk '{print $1}' | paste -sd' ')" "$(sp fired o_queue | paste -sd' ')" \
	"A queue: the runs started in slot order, each with logical date = its slot"
# A queued slot starts when its turn comes, later than its own time: the log
# line "fired o_queue for S" is at least one interval after S.
late=$(grep 'scheduler: fired o_queue for' "$SLOG" | python3 -c '
import sys, datetime as d
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00"))
print(sum(1 for l in sys.stdin if (p(l.split()[0]) - p(l.split()[5])).total_seconds() >= 300))')
check_le 1 "$late" "A queue: queued slots start later than their time ($late at least 5 virtual minutes late)"
check_account "A queue: every slot up to the newest fired handled once" o_queue "*/5 * * * *" UTC "$end_at" top

# overlap queue, max_active_runs 2
check_eq "$(conc_max o_queue2)" 2 "A queue max_active_runs 2: pw_conc: 2 runs at once, never 3"
check_le 1 "$(sp overlaps o_queue2)" "A queue max_active_runs 2: run records overlap ($(sp overlaps o_queue2) times)"
check_eq "$(sp skipped o_queue2 | wc -l)" 0 "A queue max_active_runs 2: nothing skipped"

# --- B. across processes: run --scheduled holds the run ------------------------
# Weekly; a slow `run --scheduled` serves 5 Jan while the scheduler passes at
# 12 Jan 02:00:30Z.  The scheduler counts the run it did not start (the store
# says running): overlap skip records 12 Jan skipped; overlap queue leaves it
# for a later pass, which runs it once the first run has ended.
D=$T/dags_b
mkdir -p "$D"
SLOW_MS=3000 overlap_dag x_skip 1 skip "0 2 * * 1"
SLOW_MS=3000 overlap_dag x_queue 1 queue "0 2 * * 1"
for id in x_skip x_queue; do
	"$PITWALL" run --scheduled "$D/$id.yaml" --now 2026-01-05T02:00:10Z -q \
		>"$T/$id.first.out" 2>&1 </dev/null &
	echo $! >"$T/$id.first.pid"
done
wait_for_files 20 "$SCHED_OUT/x_skip.conc" "$SCHED_OUT/x_queue.conc" || true
sched_once 2026-01-12T02:00:30Z
check_eq "$RC" 0 "B: the --once pass exits 0 while the run --scheduled runs"
check_eq "$(conc_cur x_skip)/$(conc_cur x_queue)" "1/1" "B: (the run --scheduled runs are still going)"
sched_dump
check_eq "$(sp skipped x_skip | cut -d'|' -f1,3)" "2026-01-12T02:00:00Z|overlap: the previous run is still active" \
	"B skip: the slot due while another process's run is active is recorded skipped"
check_eq "$(sp fired x_queue | paste -sd' ')" "2026-01-05T02:00:00Z" "B queue: the slot is not started while the other run is active"
for id in x_skip x_queue; do
	wait "$(<"$T/$id.first.pid")" || true
done
sched_once 2026-01-12T02:01:00Z
sched_dump
check_eq "$(sp fired x_queue | paste -sd' ')" "2026-01-05T02:00:00Z 2026-01-12T02:00:00Z" \
	"B queue: a later pass runs it once the first run has ended"
check_eq "$(sp fired x_skip | paste -sd' ')" "2026-01-05T02:00:00Z" "B skip: the skipped slot is not run later"
check_eq "$(conc_max x_queue)/$(sp overlaps x_queue)" "1/0" "B queue: never two at once (pw_conc / run records)"
check_account "B skip: every slot handled once" x_skip "0 2 * * 1" UTC 2026-01-12T02:01:00Z
check_account "B queue: every slot handled once" x_queue "0 2 * * 1" UTC 2026-01-12T02:01:00Z

total_ms=$((($(date +%s%N) - t_start) / 1000000))
echo "# sched_overlap: $total_ms ms"
pw_done
