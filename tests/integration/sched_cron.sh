#!/usr/bin/env bash
# 1. `pitwall next`: the exact lines for the DST examples of
#    docs/scheduling.md in Europe/London and America/New_York (spring
#    forward: a missing local time fires once at the first valid minute
#    after the gap; fall back: a repeated local time fires once; interval
#    jobs keep their real-time rhythm), each line's two columns cross-checked
#    with python zoneinfo.
# 2. System cron instead of the daemon: `pitwall run --scheduled FILE`, as a
#    crontab line `0 2 * * 1 pitwall run --scheduled dags/f1.yaml` would run
#    it: the logical date is the slot it serves (Monday 02:00 local), two at
#    once never run (flock in the state directory: the others say so, exit 0
#    and record schedule_skipped), and the same slot again says "already ran".
source "$(dirname "$0")/lib_sched.bash"
sched_setup
t_start=$(date +%s%N)

# --- 1. pitwall next -------------------------------------------------------------
# mk ID SCHEDULE ZONE: a DAG file $T/next/ID.yaml.
mkdir -p "$T/next"
mk() {
	cat >"$T/next/$1.yaml" <<EOF
dag_id: $1
schedule: "$2"
timezone: $3
tasks:
  - task_id: t
    command: ["true"]
EOF
}
mk lon_0130 "30 1 * * *" Europe/London
mk lon_pair "0,30 1,2 * * *" Europe/London
mk lon_q "*/15 * * * *" Europe/London
mk lon_q1 "*/15 1 * * *" Europe/London
mk lon_weekly "0 2 * * 1" Europe/London
mk ny_0230 "30 2 * * *" America/New_York
mk ny_0130 "30 1 * * *" America/New_York
mk ny_12 "0 1,2 * * *" America/New_York
mk ny_hourly "0 * * * *" America/New_York
mk ny_weekly "0 2 * * 1" America/New_York

# next_is ID N AFTER DESC EXPECTED-LINES...: `pitwall next` prints the header
# and exactly these lines, exits 0, and every line agrees with zoneinfo.
next_is() {
	local id=$1 n=$2 after=$3 desc=$4 got want zone sch
	shift 4
	zone=$(sed -n 's/^timezone: //p' "$T/next/$id.yaml")
	sch=$(sed -n 's/^schedule: "\(.*\)"$/\1/p' "$T/next/$id.yaml")
	pw_cmd next "$T/next/$id.yaml" -n "$n" --after "$after"
	got=$(<"$OUT")
	want=$(printf '%s: schedule "%s" in %s\n' "$id" "$sch" "$zone"; printf '%s\n' "$@")
	check_eq "$RC:$got" "0:$want" "next $id ($sch, $zone) --after $after: $desc"
	check_eq "$(tail -n +2 "$OUT" | python3 -c '
import sys, datetime as d
from zoneinfo import ZoneInfo
z = ZoneInfo(sys.argv[1])
for l in sys.stdin:
    loc, utc = l.split()
    u = d.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    if u.astimezone(z).isoformat() != loc:
        print("mismatch:", l.strip(), "zoneinfo:", u.astimezone(z).isoformat())' "$zone")" "" \
		"next $id --after $after: local and UTC columns agree with python zoneinfo"
}

next_is lon_0130 3 2026-03-28T00:00:00Z "London spring forward: 01:30 does not exist on 29 Mar, fires once at 02:00 BST" \
	"2026-03-28T01:30:00+00:00  2026-03-28T01:30:00Z" \
	"2026-03-29T02:00:00+01:00  2026-03-29T01:00:00Z" \
	"2026-03-30T01:30:00+01:00  2026-03-30T00:30:00Z"
next_is lon_pair 3 2026-03-28T12:00:00Z "London spring forward: 01:00, 01:30 and 02:00 on 29 Mar are one fire" \
	"2026-03-29T02:00:00+01:00  2026-03-29T01:00:00Z" \
	"2026-03-29T02:30:00+01:00  2026-03-29T01:30:00Z" \
	"2026-03-30T01:00:00+01:00  2026-03-30T00:00:00Z"
next_is lon_0130 2 2026-10-24T12:00:00Z "London fall back: 01:30 happens twice on 25 Oct, fires at the first (BST) only" \
	"2026-10-25T01:30:00+01:00  2026-10-25T00:30:00Z" \
	"2026-10-26T01:30:00+00:00  2026-10-26T01:30:00Z"
next_is lon_q1 5 2026-10-24T12:00:00Z "London fall back, */15 1 * * * (fixed-time): the repeated hour once" \
	"2026-10-25T01:00:00+01:00  2026-10-25T00:00:00Z" \
	"2026-10-25T01:15:00+01:00  2026-10-25T00:15:00Z" \
	"2026-10-25T01:30:00+01:00  2026-10-25T00:30:00Z" \
	"2026-10-25T01:45:00+01:00  2026-10-25T00:45:00Z" \
	"2026-10-26T01:00:00+00:00  2026-10-26T01:00:00Z"
next_is lon_q 4 2026-10-25T00:30:00Z "London fall back, */15 * * * * (interval): every 15 real minutes through the repeated hour" \
	"2026-10-25T01:45:00+01:00  2026-10-25T00:45:00Z" \
	"2026-10-25T01:00:00+00:00  2026-10-25T01:00:00Z" \
	"2026-10-25T01:15:00+00:00  2026-10-25T01:15:00Z" \
	"2026-10-25T01:30:00+00:00  2026-10-25T01:30:00Z"
next_is lon_q 3 2026-03-29T00:30:00Z "London spring forward, */15 * * * * (interval): 02:00 BST follows 00:45 GMT" \
	"2026-03-29T00:45:00+00:00  2026-03-29T00:45:00Z" \
	"2026-03-29T02:00:00+01:00  2026-03-29T01:00:00Z" \
	"2026-03-29T02:15:00+01:00  2026-03-29T01:15:00Z"
next_is lon_weekly 3 2026-03-21T00:00:00Z "London weekly 0 2 * * 1 across spring forward: Monday 02:00 local" \
	"2026-03-23T02:00:00+00:00  2026-03-23T02:00:00Z" \
	"2026-03-30T02:00:00+01:00  2026-03-30T01:00:00Z" \
	"2026-04-06T02:00:00+01:00  2026-04-06T01:00:00Z"
next_is ny_0230 3 2026-03-07T00:00:00Z "New York spring forward: 02:30 does not exist on 8 Mar, fires once at 03:00 EDT" \
	"2026-03-07T02:30:00-05:00  2026-03-07T07:30:00Z" \
	"2026-03-08T03:00:00-04:00  2026-03-08T07:00:00Z" \
	"2026-03-09T02:30:00-04:00  2026-03-09T06:30:00Z"
next_is ny_0130 2 2026-10-31T12:00:00Z "New York fall back: 01:30 happens twice on 1 Nov, fires at the first (EDT) only" \
	"2026-11-01T01:30:00-04:00  2026-11-01T05:30:00Z" \
	"2026-11-02T01:30:00-05:00  2026-11-02T06:30:00Z"
next_is ny_12 3 2026-11-01T00:00:00Z "New York fall back, 0 1,2 * * *: 01:00 EST is not a second fire" \
	"2026-11-01T01:00:00-04:00  2026-11-01T05:00:00Z" \
	"2026-11-01T02:00:00-05:00  2026-11-01T07:00:00Z" \
	"2026-11-02T01:00:00-05:00  2026-11-02T06:00:00Z"
next_is ny_hourly 4 2026-11-01T04:30:00Z "New York fall back, 0 * * * * (interval): 01:00 EDT and 01:00 EST" \
	"2026-11-01T01:00:00-04:00  2026-11-01T05:00:00Z" \
	"2026-11-01T01:00:00-05:00  2026-11-01T06:00:00Z" \
	"2026-11-01T02:00:00-05:00  2026-11-01T07:00:00Z" \
	"2026-11-01T03:00:00-05:00  2026-11-01T08:00:00Z"
next_is ny_hourly 3 2026-03-08T06:30:00Z "New York spring forward, 0 * * * * (interval): 03:00 EDT follows 01:00 EST" \
	"2026-03-08T03:00:00-04:00  2026-03-08T07:00:00Z" \
	"2026-03-08T04:00:00-04:00  2026-03-08T08:00:00Z" \
	"2026-03-08T05:00:00-04:00  2026-03-08T09:00:00Z"
next_is ny_weekly 2 2026-10-31T00:00:00Z "New York weekly 0 2 * * 1 across fall back: Monday 02:00 local" \
	"2026-11-02T02:00:00-05:00  2026-11-02T07:00:00Z" \
	"2026-11-09T02:00:00-05:00  2026-11-09T07:00:00Z"

# Without --after, next starts at --now (the one injectable clock), strictly after it.
pw_cmd next "$T/next/lon_weekly.yaml" -n 1 --now 2026-03-30T01:00:00Z
check_eq "$RC:$(tail -1 "$OUT")" "0:2026-04-06T02:00:00+01:00  2026-04-06T01:00:00Z" \
	"next --now T: the first fire strictly after T"
got=$(PITWALL_NOW=2026-03-30T00:59:59Z "$PITWALL" next "$T/next/lon_weekly.yaml" -n 1 | tail -1)
check_eq "$got" "2026-03-30T02:00:00+01:00  2026-03-30T01:00:00Z" "next with PITWALL_NOW"
pw_cmd next "$T/next/lon_weekly.yaml" -n 0
check_eq "$RC" 64 "next -n 0: usage error (64)"
printf 'dag_id: nosched\ntasks:\n  - task_id: t\n    command: ["true"]\n' >"$T/next/nosched.yaml"
pw_cmd next "$T/next/nosched.yaml"
check_match "$RC:$(<"$ERR")" "^1:.*has no schedule" "next on a DAG without schedule: exit 1, says so"

# --- 2. run --scheduled ------------------------------------------------------------
F=$D/f1_data_pipeline_cron.yaml
sched_dag f1_data_pipeline_cron
LOCK=$PITWALL_HOME/.pitwall/locks/f1_cron.lock
export SCHED_SLEEP=0 # the task's sleep, but for A below
# cron_run NAME NOW [SLEEP]: `pitwall run --scheduled $F --now NOW`, in the
# background; $T/NAME.{out,err,rc}.
cron_run() {
	(
		rc=0
		SCHED_SLEEP=${3:-0} "$PITWALL" run --scheduled "$F" --now "$2" -q \
			>"$T/$1.out" 2>"$T/$1.err" </dev/null || rc=$?
		echo "$rc" >"$T/$1.rc"
	) &
}
# 30 Mar 2026, the Monday after spring forward: the slot is 02:00 BST = 01:00Z.
# A, the first, holds the lock while its task sleeps 3 s; B and C, the same
# crontab line fired twice more (late: 01:00:40Z and 01:05Z), find it taken.
cron_run A 2026-03-30T01:00:20Z 3
wait_for_files 20 "$SCHED_OUT/f1_cron.dates" || true
if type -P flock >/dev/null; then
	lk=0
	flock -n "$LOCK" true 2>/dev/null || lk=$?
	check_eq "$lk" 1 "run --scheduled holds an flock on $LOCK while it runs (flock -n fails)"
fi
cron_run B 2026-03-30T01:00:40Z
cron_run C 2026-03-30T01:05:00Z
wait_for_files 30 "$T/A.rc" "$T/B.rc" "$T/C.rc" || true
check_eq "$(cat "$T/A.rc" "$T/B.rc" "$T/C.rc" 2>/dev/null | paste -sd' ')" "0 0 0" "three at once: all exit 0"
check_eq "$(count_lines "$SCHED_OUT/f1_cron.dates")" 1 "three at once: one runs the task"
check_eq "$(cut -d' ' -f1 "$SCHED_OUT/f1_cron.dates")" 2026-03-30T01:00:00Z \
	"the task sees PITWALL_LOGICAL_DATE = the slot (Monday 02:00 BST = 01:00Z), not now"
for x in B C; do
	check_match "$(<"$T/$x.err")" "another run of f1_cron is active; slot 2026-03-30T01:00:00Z skipped" \
		"$x: reports the lock and the slot it skips"
done
sched_dump
check_eq "$(sp skipped f1_cron | paste -sd' ')" \
	"2026-03-30T01:00:00Z|1|overlap: another scheduled run holds the lock 2026-03-30T01:00:00Z|1|overlap: another scheduled run holds the lock" \
	"B and C: each records schedule_skipped (slot, reason)"
check_eq "$(sp fired f1_cron | paste -sd' ')" "2026-03-30T01:00:00Z" "A: records schedule_fired for the slot"
check_eq "$(python3 -c 'import json,sys; print(" ".join(sorted(set(e["actor"] for e in map(json.loads, open(sys.argv[1])) if e["event_type"].startswith("schedule_")))))' "$T/audit.jsonl")" \
	scheduler "the schedule_* events have actor scheduler"
check_eq "$(sp runs f1_cron | awk '{print $1, $2}')" "2026-03-30T01:00:00Z success" "A: one run, logical date = the slot, success"
check_eq "$(python3 -c 'import json,sys; print(*[r["run_id"] + " " + r["actor"] for r in json.load(open(sys.argv[1]))])' "$T/hist.json")" \
	"f1_cron_scheduled_20260330_010000 scheduler" "A: run id from the slot, actor scheduler"

# The same slot again (cron retried, or ran late on Wednesday): already ran.
pw_cmd run --scheduled "$F" --now 2026-03-30T03:00:00Z -q
check_eq "$RC" 0 "the same slot again: exit 0"
check_match "$(<"$OUT")" "slot 2026-03-30T01:00:00Z of f1_cron already ran \\(f1_cron_scheduled_20260330_010000\\); nothing to do" \
	"the same slot again: says it already ran"
pw_cmd run --scheduled "$F" --now 2026-04-01T12:00:00Z -q
check_match "$RC:$(<"$OUT")" "^0:slot 2026-03-30T01:00:00Z of f1_cron already ran" \
	"on Wednesday the newest slot is still Monday's: already ran"
check_eq "$(count_lines "$SCHED_OUT/f1_cron.dates")" 1 "still one run of the task"

# The next Monday: its own slot, a new run.
pw_cmd run --scheduled "$F" --now 2026-04-06T01:00:05Z -q
check_eq "$RC" 0 "next Monday: exit 0"
check_eq "$(cut -d' ' -f1 "$SCHED_OUT/f1_cron.dates" | paste -sd' ')" "2026-03-30T01:00:00Z 2026-04-06T01:00:00Z" \
	"next Monday: runs its own slot"
# Late by a few hours (the machine was off at 02:00): still the slot's date.
pw_cmd run --scheduled "$F" --now 2026-04-13T09:30:00Z -q
check_eq "$RC:$(tail -1 "$SCHED_OUT/f1_cron.dates" | cut -d' ' -f1)" "0:2026-04-13T01:00:00Z" \
	"run late: the logical date is still the slot it serves"
sched_dump
check_eq "$(sp fired f1_cron | paste -sd' ')" \
	"$(python3 "$T/sched.py" slots "0 2 * * 1" Europe/London 2026-03-29T00:00:00Z 2026-04-13T09:30:00Z | paste -sd' ')" \
	"run --scheduled: each Monday 02:00 London from 30 Mar to 13 Apr fired once"

# Misuse.
pw_cmd run --scheduled "$F" --logical-date 2026-01-01
check_eq "$RC" 64 "run --scheduled --logical-date: usage error (it computes the date)"
pw_cmd run --scheduled "$F" --no-store
check_eq "$RC" 64 "run --scheduled --no-store: usage error (it needs the store)"
pw_cmd run --scheduled "$T/next/nosched.yaml"
check_match "$RC:$(<"$ERR")" "^64:.*has no schedule" "run --scheduled on a DAG without schedule: exit 64, says so"
check_match "$("$PITWALL" help run)" "--scheduled" "pitwall help run documents --scheduled"

total_ms=$((($(date +%s%N) - t_start) / 1000000))
echo "# sched_cron: $total_ms ms"
pw_done
