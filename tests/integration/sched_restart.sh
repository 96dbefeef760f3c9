#!/usr/bin/env bash
# Restart safety: the scheduler's state is the audit store, so a scheduler
# that is down for weeks, or killed with SIGKILL and started again, neither
# loses nor repeats a slot, under each catch-up policy:
#   catchup: all (catchup_window 3)  runs the newest 3 missed slots, records
#                                    the older ones skipped
#   catchup: latest                  runs the newest missed slot only
#   catchup: none                    runs none of them, then goes on
# "Accounted for" is checked independently (python zoneinfo): every slot
# after the DAG's registration is fired (with a successful run whose logical
# date is the slot) or recorded skipped, exactly once.
#   A. --once passes with a gap of 9 weeks (Europe/London, across the March
#      DST change);
#   B. a SIGKILL in the middle of a catch-up (the killed scheduler's run is
#      still going when the next one starts);
#   C. the daemon (PITWALL_NOW + PITWALL_TIME_SCALE), SIGKILLed and started
#      again 30 virtual minutes later;
#   D. a restart that overlaps the old scheduler: several at once on one store.
source "$(dirname "$0")/lib_sched.bash"
sched_setup
t_start=$(date +%s%N)

# policy_dag ID CATCHUP [ZONE] [SCHEDULE]: a weekly DAG with that policy.
policy_dag() {
	local id=$1 c=$2 zone=${3:-Europe/London} sch=${4:-0 2 * * 1}
	sched_write "$D/$id.yaml" <<EOF
dag_id: $id
schedule: "$sch"
timezone: $zone
catchup: $c
catchup_window: ${WINDOW:-3}
tasks:
  - task_id: record
    command: ["sh", "-c", "echo \"\$PITWALL_LOGICAL_DATE \$PITWALL_RUN_ID\" >> \"\$SCHED_OUT/\$PITWALL_DAG_ID.dates\"; sleep \${SCHED_SLEEP:-0}"]
EOF
}

# --- A. down for 9 weeks (--once passes) ------------------------------------
for c in all latest none; do
	policy_dag "gap_$c" "$c"
done
# Up from 1 Jan (registration) to the 2 Feb fire, passes 30 s after each
# slot (on time, also for catchup none); down from 2 Feb to 8 Apr 12:00Z
# (9 Mondays: 9 Feb .. 6 Apr, the last three in summer time); up again for
# 13 Apr .. 4 May.
{
	echo 2026-01-01T00:00:00Z
	python3 "$T/sched.py" slots "0 2 * * 1" Europe/London 2026-01-01T00:00:00Z 2026-02-03T00:00:00Z
	echo 2026-04-08T12:00:00Z
	python3 "$T/sched.py" slots "0 2 * * 1" Europe/London 2026-04-09T00:00:00Z 2026-05-05T00:00:00Z
} | python3 -c '
import datetime as d, sys
for l in sys.stdin:
    t = d.datetime.fromisoformat(l.strip()[:-1])
    if t.hour == 2 or t.hour == 1:  # a slot: 30 s after it
        t += d.timedelta(seconds=30)
    print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))' >"$T/steps_a"
bad_rc=
while IFS= read -r now; do
	sched_once "$now"
	((RC == 0)) || bad_rc+="$now:rc=$RC "
	[[ $now == 2026-04-08T12:00:00Z ]] && cp "$SLOG" "$T/log_at_restart"
done <"$T/steps_a"
check_eq "$bad_rc" "" "A: every --once pass exits 0"
sched_dump
for c in all latest none; do
	check_account "A: catchup $c: every slot from 1 Jan to 4 May handled exactly once" \
		"gap_$c" "0 2 * * 1" Europe/London 2026-05-04T01:00:30Z
done
# What the restart pass at 8 Apr did, per policy.
restart_fired() { sp fired "$1" | awk '$1 > "2026-02-03" && $1 < "2026-04-08"' | paste -sd' '; }
check_eq "$(restart_fired gap_all)" "2026-03-23T02:00:00Z 2026-03-30T01:00:00Z 2026-04-06T01:00:00Z" \
	"A: catchup all, window 3: the newest 3 missed slots run (16 Mar GMT, 30 Mar and 6 Apr BST)"
check_eq "$(sp skipped gap_all | cut -d'|' -f1,2 | paste -sd' ')" "2026-03-16T02:00:00Z|6" \
	"A: catchup all: the 6 older ones are recorded skipped (one event, up to 16 Mar)"
check_eq "$(restart_fired gap_latest)" "2026-04-06T01:00:00Z" "A: catchup latest: only the newest missed slot runs"
check_eq "$(sp skipped gap_latest | cut -d'|' -f1,2 | paste -sd' ')" "2026-03-30T01:00:00Z|8" \
	"A: catchup latest: the 8 others are recorded skipped"
check_eq "$(restart_fired gap_none)" "" "A: catchup none: no missed slot runs"
check_eq "$(sp skipped gap_none | cut -d'|' -f1,2 | paste -sd' ')" "2026-03-30T01:00:00Z|8 2026-04-06T01:00:00Z|1" \
	"A: catchup none: all 9 recorded skipped"
for c in all latest none; do
	check_eq "$(sp fired "gap_$c" | awk '$1 > "2026-04-09"' | wc -l)" 4 "A: catchup $c: the schedule goes on after the restart (13 Apr .. 4 May)"
done
check_eq "$(grep -c "catchup all" "$T/log_at_restart" || true)" 1 "A: the restart logs the skipped catch-up"

# --- B. SIGKILL during a catch-up -------------------------------------------
# A fresh directory: gap_kill (catchup all, window 3, task sleeps 1 s) misses
# 4 slots; the catch-up pass is killed with SIGKILL while its first run is
# going; the next pass (same now) must neither repeat that run nor lose the
# two slots the killed pass had not started yet.
D=$T/dags_b
mkdir -p "$D"
policy_dag gap_kill all UTC
sched_once 2026-01-01T00:00:00Z
echo "### scheduler --once --now 2026-02-01T00:00:00Z (killed)" >>"$SLOG"
SCHED_SLEEP=1.5 "$PITWALL" scheduler --dags "$D" --once --now 2026-02-01T00:00:00Z \
	</dev/null >/dev/null 2>>"$SLOG" &
kpid=$!
wait_for_files 20 "$SCHED_OUT/gap_kill.dates" || true
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null || true
check_eq "$(cut -d' ' -f1 "$SCHED_OUT/gap_kill.dates" | paste -sd' ')" "2026-01-12T02:00:00Z" \
	"B: the killed pass had started the oldest of the 3 catch-up runs"
SCHED_SLEEP=0 sched_once 2026-02-01T00:00:00Z
check_eq "$RC" 0 "B: the pass after the SIGKILL exits 0"
wait_runs_done 20 || true
SCHED_SLEEP=0 sched_once 2026-02-02T02:00:30Z
sched_dump
check_account "B: catchup all killed mid-catch-up: every slot to 2 Feb handled exactly once" \
	gap_kill "0 2 * * 1" UTC 2026-02-02T02:00:30Z
check_eq "$(sp fired gap_kill | paste -sd' ')" \
	"2026-01-12T02:00:00Z 2026-01-19T02:00:00Z 2026-01-26T02:00:00Z 2026-02-02T02:00:00Z" \
	"B: the 3 catch-up slots all run once (as without the SIGKILL), then 2 Feb"
check_eq "$(cut -d' ' -f1 "$SCHED_OUT/gap_kill.dates" | sort | uniq -d | wc -l)" 0 "B: no logical date ran twice"

# --- C. the daemon, SIGKILLed and restarted ---------------------------------
# Every 5 minutes (UTC) at PITWALL_TIME_SCALE=600: a slot every 0.5 s.
D=$T/dags_c
mkdir -p "$D"
for c in all latest none; do
	WINDOW=2 policy_dag "live_$c" "$c" UTC "*/5 * * * *"
done
sched_start 2026-01-01T00:00:00Z 600
ok=0
wait_log 12 'scheduler: fired live_' 20 && ok=1
check_eq "$ok" 1 "C: the daemon fires (4 slots x 3 DAGs within 20 s)"
sched_stop KILL
kill_at=$(sched_vnow)
check_eq "$SRC" 137 "C: the daemon is killed by SIGKILL"
wait_runs_done 20 || true
sched_dump
cp "$T/audit.jsonl" "$T/audit_before.jsonl"
# Down for 30 virtual minutes (6 slots), then up again.
# (half-way between two slots, so that catchup none cannot take the newest
# missed slot for an on-time one)
restart_at=$(python3 -c '
import datetime as d, sys
t = int(d.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()) + 1800
t = t // 300 * 300 + 150
print(d.datetime.fromtimestamp(t, d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$kill_at")
sched_start "$restart_at" 600
n0=$(log_count 'scheduler: fired live_')
wait_log $((n0 + 12)) 'scheduler: fired live_' 20 || true
sched_stop TERM
end_at=$(sched_vnow)
check_eq "$SRC" 0 "C: SIGTERM: the restarted daemon exits 0"
wait_runs_done 20 || true
sched_dump
for c in all latest none; do
	check_account "C: catchup $c: killed at ~$kill_at, up again at $restart_at: every slot to ~$end_at handled once" \
		"live_$c" "*/5 * * * *" UTC "$end_at" fuzzy
done
# Fires at the restart: slots after the newest one handled before it, up to
# restart_at.
catchup_fired() {
	python3 - "$T/audit_before.jsonl" "$T/audit.jsonl" "$1" "$restart_at" <<'PY'
import json, sys, datetime as d
def slots(path, types):
    return [json.loads(l)["metadata"]["slot"] for l in open(path)
            if l.strip() and json.loads(l)["dag_id"] == sys.argv[3]
            and json.loads(l)["event_type"] in types]
T = ("schedule_fired", "schedule_skipped", "schedule_registered")
last = max(slots(sys.argv[1], T))
r = int(d.datetime.fromisoformat(sys.argv[4].replace("Z", "+00:00")).timestamp())
print(len([s for s in slots(sys.argv[2], ("schedule_fired",)) if last < s <= r]))
PY
}
check_eq "$(catchup_fired live_all)/$(catchup_fired live_latest)/$(catchup_fired live_none)" "2/1/0" \
	"C: missed while killed: all (window 2) runs 2, latest 1, none 0"
check_eq "$(cat "$SCHED_OUT"/live_*.dates | cut -d' ' -f2 | sort | uniq -d | wc -l)" 0 \
	"C: no run id ran twice (what the tasks saw)"

# --- D. an overlapping restart: two schedulers at once ------------------------
# A restart that overlaps the old process (a supervisor restarting it while it
# still runs, or a restart right after a fire, before its run has recorded its
# start) is two schedulers on one store. Four --once passes at the same
# instant, five times (fresh DAGs): each slot must still run exactly once.
execs=0
starts=0
for r in 1 2 3 4 5; do
	D=$T/dags_d$r
	mkdir -p "$D"
	policy_dag "dup_$r" latest UTC
	sched_once 2026-01-01T00:00:00Z
	for i in 1 2 3 4; do
		timeout -k 5 60 "$PITWALL" scheduler --dags "$D" --once -q --now 2026-01-05T02:00:10Z \
			</dev/null >/dev/null 2>>"$SLOG" &
	done
	wait
	execs=$((execs + $(count_lines "$SCHED_OUT/dup_$r.dates")))
	starts=$((starts + $("$PITWALL" audit query --dag "dup_$r" --event dag_run_start --json | wc -l)))
done
check_eq "$execs/$starts" "5/5" \
	"D: 4 schedulers at once, 5 times: each slot's task runs once, one dag_run_start per run id (tasks run / dag_run_start)"

total_ms=$((($(date +%s%N) - t_start) / 1000000))
echo "# sched_restart: $total_ms ms"
pw_done
