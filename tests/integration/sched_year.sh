#!/usr/bin/env bash
# A year of the weekly schedule "0 2 * * 1" in Europe/London and in
# America/New_York, simulated with `pitwall scheduler --once --now T` stepped
# through 2026 (daily at 12:00 UTC, plus the instants around the Mondays after
# each DST change): every DAG fires on each of the 52 Mondays at 02:00 local
# exactly once, with logical_date = the slot (checked with python zoneinfo,
# not pitwall's tz code), never a second early, and stepping back in time
# fires nothing.  Then the nights of the four DST changes of 2026 for daily
# fixed-time jobs inside the skipped / repeated hour: one fire per day, at
# the gap's end or the first occurrence.
source "$(dirname "$0")/lib_sched.bash"
sched_setup

t_start=$(date +%s%N)
sched_dag weekly_london
sched_dag weekly_new_york

# The Mondays right after a DST change, at 02:00 local, in UTC.
declare -A EDGE=(
	[weekly_london]="2026-03-30T01:00:00Z 2026-10-26T02:00:00Z"
	[weekly_new_york]="2026-03-09T06:00:00Z 2026-11-02T07:00:00Z"
)

# Steps: 2025-12-31T12:00Z (first sight: registration), every day at 12:00Z
# through 2026-12-31, and for each EDGE slot: 1 s before it and at it.
python3 - "${EDGE[@]}" >"$T/steps" <<'PY'
import datetime as dt, sys
U = dt.timezone.utc
steps = set()
t = dt.datetime(2025, 12, 31, 12, tzinfo=U)
while t <= dt.datetime(2026, 12, 31, 12, tzinfo=U):
    steps.add(t)
    t += dt.timedelta(days=1)
for arg in sys.argv[1:]:
    for s in arg.split():
        e = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        steps.add(e - dt.timedelta(seconds=1))
        steps.add(e)
for s in sorted(steps):
    print(s.strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
nsteps=$(count_lines "$T/steps")
bad_rc=
while IFS= read -r now; do
	sched_once "$now"
	((RC == 0)) || bad_rc+="$now:rc=$RC "
done <"$T/steps"
year_ms=$((($(date +%s%N) - t_start) / 1000000))
check_eq "$bad_rc" "" "all $nsteps scheduler --once passes exit 0 ($year_ms ms)"

sched_dump
for dag in weekly_london weekly_new_york; do
	zone=$(sed -n 's/^timezone: //p' "$D/$dag.yaml")
	check_account "$dag: every Monday of 2026 handled exactly once, each with its run" \
		"$dag" "0 2 * * 1" "$zone" 2026-12-31T12:00:00Z
	mapfile -t fired < <(sp fired "$dag")
	check_eq "${#fired[@]}" 52 "$dag: 52 schedule_fired events"
	check_eq "$(sp skipped "$dag" | wc -l)" 0 "$dag: no schedule_skipped"
	check_eq "$(python3 -c 'import json,sys; print(sum(1 for r in json.load(open(sys.argv[1])) if r["dag_id"] == sys.argv[2] and r["status"] == "success" and r["actor"] == "scheduler"))' "$T/hist.json" "$dag")" \
		52 "$dag: pitwall history --json: 52 successful runs by actor scheduler"
	# Independently of pitwall: each fire is a Monday 02:00 local, all distinct,
	# the 52 Mondays of 2026, on both sides of the DST changes.
	got=$(python3 - "$zone" "${fired[@]}" <<'PY'
import datetime as dt, sys
from zoneinfo import ZoneInfo
z = ZoneInfo(sys.argv[1])
ts = [dt.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in sys.argv[2:]]
loc = [t.astimezone(z) for t in ts]
bad = [t.isoformat() for t in loc if (t.isoweekday(), t.hour, t.minute, t.second) != (1, 2, 0, 0)]
mondays = set()
d = dt.date(2026, 1, 1)
while d.year == 2026:
    if d.isoweekday() == 1:
        mondays.add(d)
    d += dt.timedelta(days=1)
offs = sorted({int(t.utcoffset().total_seconds() // 3600) for t in loc})
print("not Monday 02:00:", bad, "| distinct:", len(set(ts)) == len(ts),
      "| the Mondays of 2026:", {t.date() for t in loc} == mondays, "| UTC offsets:", offs)
PY
	)
	case $zone in
	Europe/London) offs="[0, 1]" ;;
	*) offs="[-5, -4]" ;;
	esac
	check_eq "$got" "not Monday 02:00: [] | distinct: True | the Mondays of 2026: True | UTC offsets: $offs" \
		"$dag: logical dates are the 52 Mondays of 2026 at 02:00 $zone, distinct, standard and summer time"
	# What the tasks saw: PITWALL_LOGICAL_DATE = the slot, one line per run.
	check_eq "$(cut -d' ' -f1 "$SCHED_OUT/$dag.dates" | sort | paste -sd' ')" \
		"$(printf '%s\n' "${fired[@]}" | sort | paste -sd' ')" \
		"$dag: the tasks saw PITWALL_LOGICAL_DATE = each fired slot, once"
	check_eq "$(cut -d' ' -f2 "$SCHED_OUT/$dag.dates" | sort -u | wc -l)" 52 "$dag: 52 distinct run ids"
	for slot in ${EDGE[$dag]}; do
		before=$(python3 -c 'import datetime as d,sys; print((d.datetime.fromisoformat(sys.argv[1][:-1]) - d.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$slot")
		check_eq "$(grep -c "^$before scheduler: fired $dag " "$SLOG" || true)" 0 \
			"$dag: nothing fires at $before, 1 s before the slot after a DST change"
		check_eq "$(grep -c "^$slot scheduler: fired $dag for $slot " "$SLOG" || true)" 1 \
			"$dag: fires at $slot exactly ($(python3 "$T/sched.py" local "$zone" "$slot"))"
	done
done

# Time going backwards (a pass at an earlier now) and a repeated pass fire nothing.
sched_once 2026-06-01T12:00:00Z
sched_once 2026-12-31T12:00:00Z
sched_dump
check_eq "$(sp fired weekly_london | wc -l) $(sp fired weekly_new_york | wc -l) $(count_lines "$SCHED_OUT/weekly_london.dates")" \
	"52 52 52" "passes at an earlier now and at the same now again fire nothing"

# --- DST nights: daily fixed-time jobs inside the changed hour -------------
# One night per change (Saturday 22:00Z to Sunday 10:00Z), stepped every
# 30 min and at each expected fire and 1 s before it; the scheduler is down
# between the weekends (catchup: latest, the default, fires the newest missed
# slot and records the rest skipped).
D=$T/dags_dst
mkdir -p "$D"
sched_dag daily_london_0130
sched_dag daily_new_york_0230
sched_dag daily_new_york_0130
t_dst=$(date +%s%N)
# dag zone schedule  date-of-change  expected fire on that local date (UTC)
cat >"$T/dst_cases" <<'EOF'
daily_london_0130 Europe/London 30_1 2026-03-29 2026-03-29T01:00:00Z
daily_london_0130 Europe/London 30_1 2026-10-25 2026-10-25T00:30:00Z
daily_new_york_0230 America/New_York 30_2 2026-03-08 2026-03-08T07:00:00Z
daily_new_york_0230 America/New_York 30_2 2026-11-01 2026-11-01T07:30:00Z
daily_new_york_0130 America/New_York 30_1 2026-03-08 2026-03-08T06:30:00Z
daily_new_york_0130 America/New_York 30_1 2026-11-01 2026-11-01T05:30:00Z
EOF
python3 - "$T/dst_cases" >"$T/dst_steps" <<'PY'
import datetime as dt, sys
U = dt.timezone.utc
steps = set()
for sat in ("2026-03-07", "2026-03-28", "2026-10-24", "2026-10-31"):
    t = dt.datetime.fromisoformat(sat + "T22:00:00+00:00")
    for i in range(2 * 12 + 1):
        steps.add(t + dt.timedelta(minutes=30 * i))
for line in open(sys.argv[1]):
    e = dt.datetime.fromisoformat(line.split()[4].replace("Z", "+00:00"))
    steps.update((e - dt.timedelta(seconds=1), e))
for s in sorted(steps):
    print(s.strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
bad_rc=
while IFS= read -r now; do
	sched_once "$now"
	((RC == 0)) || bad_rc+="$now:rc=$RC "
done <"$T/dst_steps"
dst_ms=$((($(date +%s%N) - t_dst) / 1000000))
check_eq "$bad_rc" "" "DST nights: all $(count_lines "$T/dst_steps") passes exit 0 ($dst_ms ms)"
sched_dump
while read -r dag zone sch day want; do
	# The fires whose local date is the day of the change.
	got=$(sp fired "$dag" | python3 -c '
import datetime as dt, sys
from zoneinfo import ZoneInfo
z = ZoneInfo(sys.argv[1])
for l in sys.stdin:
    t = dt.datetime.fromisoformat(l.strip().replace("Z", "+00:00"))
    if t.astimezone(z).date().isoformat() == sys.argv[2]:
        print(l.strip())' "$zone" "$day" | paste -sd' ')
	check_eq "$got" "$want" "$dag (${sch/_/ } * * *) on $day: fires once, at $want ($(python3 "$T/sched.py" local "$zone" "$want"))"
	before=$(python3 -c 'import datetime as d,sys; print((d.datetime.fromisoformat(sys.argv[1][:-1]) - d.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$want")
	check_eq "$(grep -c "^$before scheduler: fired $dag " "$SLOG" || true)/$(grep -c "^$want scheduler: fired $dag for $want " "$SLOG" || true)" \
		"0/1" "$dag on $day: not 1 s early, exactly at the slot"
done <"$T/dst_cases"
for dag in daily_london_0130 daily_new_york_0230 daily_new_york_0130; do
	zone=$(sed -n 's/^timezone: //p' "$D/$dag.yaml")
	sch=$(sed -n 's/^schedule: "\(.*\)"$/\1/p' "$D/$dag.yaml")
	check_account "$dag: every slot of the four DST nights (and the gaps between) handled once" \
		"$dag" "$sch" "$zone" 2026-11-01T10:00:00Z
done

total_ms=$((($(date +%s%N) - t_start) / 1000000))
echo "# year: $year_ms ms for $nsteps passes; DST nights: $dst_ms ms; total $total_ms ms"
check_le "$total_ms" 90000 "the whole simulation takes at most 90 s (${total_ms} ms)"
pw_done
