# Shared functions for tests/integration/sched_*.sh, the scheduler tests
# (sourced; not *.sh, so ctest does not run it on its own).
#
#   source "$(dirname "$0")/lib_sched.bash"; sched_setup
#
# sched_setup (after lib.bash's pw_setup) gives every test:
#   PITWALL_HOME=$T/home   the audit store and state directory (flock locks,
#                          scheduler-logs) of this test only
#   D=$T/dags              the DAG directory the scheduler reads
#   SCHED_OUT=$T/out       where the task of every DAG in tests/dags/sched
#                          appends "LOGICAL_DATE RUN_ID" (<dag_id>.dates)
#   SLOG=$T/sched.log      stderr of every scheduler the test starts
# and runs in $T, so that the runs' workspaces (runs/<dag_id>/...) land there.
# Time comes from --now / PITWALL_NOW (+ PITWALL_TIME_SCALE), never the wall
# clock, so nothing depends on when the test runs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

SCHED_DAGS=${PW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/dags/sched

sched_setup() {
	pw_setup
	local z
	for z in Europe/London America/New_York; do
		[[ -f ${TZDIR:-/usr/share/zoneinfo}/$z ]] || pw_skip "no tz database ($z); apt-get install tzdata"
	done
	python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Europe/London")' 2>/dev/null ||
		pw_skip "python3 has no zoneinfo with tzdata"
	[[ -d $SCHED_DAGS ]] || pw_skip "no $SCHED_DAGS"
	unset PITWALL_STORE PITWALL_NOW PITWALL_TIME_SCALE PITWALL_OPENLINEAGE
	export PITWALL_HOME=$T/home
	export SCHED_OUT=$T/out
	D=$T/dags
	SLOG=$T/sched.log
	mkdir -p "$PITWALL_HOME" "$SCHED_OUT" "$D"
	: >"$SLOG"
	cd "$T" || exit
	sched_write_py
	trap sched_cleanup EXIT
}

# Kills what the test started and left running (schedulers, their runs and
# the runs' tasks): only processes whose command line names this test's
# temp dir, one pid at a time.  Then lib.bash's cleanup.
sched_cleanup() {
	local rc=$? p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ $p == "$$" || $p == "$BASHPID" ]] && continue
		if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$T/"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	set +e # (exit "$rc") hands the status on to pw_cleanup; under -e it would end here
	(exit "$rc")
	pw_cleanup
}

# sched_dag NAME [SED_EXPR...]: copies tests/dags/sched/NAME.yaml to $D,
# applying the sed expressions (written to a temp file and renamed, so a
# running scheduler sees the whole file at once).
sched_dag() {
	local name=$1 e args=()
	shift
	for e in "$@"; do
		args+=(-e "$e")
	done
	if ((${#args[@]})); then
		sed "${args[@]}" "$SCHED_DAGS/$name.yaml" >"$D/.$name.tmp"
	else
		cp "$SCHED_DAGS/$name.yaml" "$D/.$name.tmp"
	fi
	mv "$D/.$name.tmp" "$D/$name.yaml"
}

# sched_write FILE < YAML: writes a DAG file atomically (temp + rename).
sched_write() {
	local f=$1 dir
	dir=$(dirname "$f")
	cat >"$dir/.$(basename "$f").tmp"
	mv "$dir/.$(basename "$f").tmp" "$f"
}

# sched_once NOW [ARG...]: one `pitwall scheduler --dags $D --once` pass at
# NOW; stderr goes to $SLOG.  Sets RC.
sched_once() {
	local now=$1
	shift
	RC=0
	echo "### scheduler --once --now $now" >>"$SLOG"
	timeout -k 5 120 "$PITWALL" scheduler --dags "$D" --once --now "$now" "$@" \
		</dev/null >>"$T/sched.stdout" 2>>"$SLOG" || RC=$?
}

# sched_start NOW SCALE [ARG...]: starts `pitwall scheduler --dags $D` in the
# background with PITWALL_NOW=NOW and PITWALL_TIME_SCALE=SCALE; sets SPID,
# and SREAL0 (wall clock at start, ns) for sched_vnow.
sched_start() {
	local now=$1 scale=$2
	shift 2
	echo "### scheduler (daemon) PITWALL_NOW=$now PITWALL_TIME_SCALE=$scale" >>"$SLOG"
	SNOW0=$now
	SSCALE=$scale
	SREAL0=$(date +%s%N)
	PITWALL_NOW=$now PITWALL_TIME_SCALE=$scale \
		"$PITWALL" scheduler --dags "$D" "$@" </dev/null >>"$T/sched.stdout" 2>>"$SLOG" &
	SPID=$!
}

# sched_vnow: the daemon's virtual time now, ISO.
sched_vnow() {
	local real
	real=$(date +%s%N)
	python3 "$T/sched.py" vnow "$SNOW0" "$SSCALE" "$SREAL0" "$real" 0
}

# sched_stop [SIGNAL]: signals the daemon (default TERM), waits for it
# (up to 10 s); sets SRC (its exit status) and STOP_MS (signal to exit).
# shellcheck disable=SC2034 # SRC and STOP_MS are for the test scripts
sched_stop() {
	local sig=${1:-TERM} t0 i
	t0=$(date +%s%N)
	kill -"$sig" "$SPID" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID"
	SRC=0
	{ wait "$SPID"; } 2>/dev/null || SRC=$?
	STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}

# wait_log N ERE TIMEOUT_S: waits until $SLOG has at least N lines matching ERE.
wait_log() {
	local n=$1 re=$2 deadline=$((SECONDS + $3))
	while (($(grep -cE -- "$re" "$SLOG" || true) < n)); do
		((SECONDS >= deadline)) && return 1
		sleep 0.05
	done
}

# log_count ERE: lines of $SLOG matching ERE.
log_count() {
	grep -cE -- "$1" "$SLOG" || true
}

# wait_runs_done TIMEOUT_S: waits until no run in the store is "running".
wait_runs_done() {
	local deadline=$((SECONDS + $1))
	while :; do
		"$PITWALL" history --limit 100000 --json >"$T/hist.json" 2>/dev/null || true
		if python3 -c 'import json,sys; sys.exit(any(r["status"] == "running" for r in json.load(open(sys.argv[1]))))' "$T/hist.json" 2>/dev/null; then
			return 0
		fi
		((SECONDS >= deadline)) && return 1
		sleep 0.2
	done
}

# sched_dump: the store's events and runs, for the sched.py checks
# ($T/audit.jsonl, $T/hist.json).
sched_dump() {
	"$PITWALL" audit query --json >"$T/audit.jsonl"
	"$PITWALL" history --limit 100000 --json >"$T/hist.json"
}

# sp CMD ARG...: python3 $T/sched.py CMD $T/audit.jsonl $T/hist.json ARG...
sp() {
	local cmd=$1
	shift
	python3 "$T/sched.py" "$cmd" "$T/audit.jsonl" "$T/hist.json" "$@"
}

# check_account DESC DAG_ID SCHEDULE ZONE UNTIL [fuzzy|top]: every slot of
# SCHEDULE in ZONE after the DAG's registration and up to UNTIL is accounted
# for exactly once: fired (with a successful run whose logical date is the
# slot) or recorded skipped (an aggregate skip "(N slots" covers the N slots
# up to its own).  fuzzy: UNTIL is approximate (a daemon); the newest
# accounted slot must be within 2 intervals of it.  top: up to the newest
# accounted slot, wherever it is (what an overlap queue still held in memory
# when the daemon stopped is not recorded).
check_account() {
	local desc=$1 out
	shift
	out=$(sp account "$@" 2>&1 || true)
	if [[ $out == ok* ]]; then
		pw_ok "$desc (${out#ok })"
	else
		local IFS=$'\n'
		# shellcheck disable=SC2206
		local lines=($out)
		pw_notok "$desc" "${lines[@]:0:15}"
	fi
}

sched_write_py() {
	cat >"$T/sched.py" <<'PY'
# Independent checks of the scheduler's record (python zoneinfo, not pitwall's tz code).
import collections, datetime as dt, json, re, sys
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc

def iso(t):
    return dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

def parse(s):
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())

def load(audit, hist):
    evs = [json.loads(l) for l in open(audit) if l.strip()]
    runs = json.load(open(hist))
    return evs, runs

def field(spec, lo, hi):
    out = set()
    for item in spec.split(","):
        step = 1
        if "/" in item:
            item, s = item.split("/")
            step = int(s)
        if item == "*":
            a, b = lo, hi
        elif "-" in item:
            a, b = map(int, item.split("-"))
        else:
            a = b = int(item)
            if step > 1:
                b = hi
        out.update(range(a, b + 1, step))
    return out

def slots(schedule, zone, after, until):
    """Fires in (after, until] of a 5-field schedule (day-of-month and month
    must be *) in zone, fixed-time semantics for a time in a DST gap or
    repeated hour: the gap's end, the first occurrence."""
    mi, ho, dom, mon, dow = schedule.split()
    assert dom == "*" and mon == "*", "sched.py only knows dom=* month=*"
    mins, hours = sorted(field(mi, 0, 59)), sorted(field(ho, 0, 23))
    dows = {d % 7 for d in field(dow, 0, 7)}
    z = ZoneInfo(zone)
    day = dt.datetime.fromtimestamp(after, z).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(until, z).date() + dt.timedelta(days=1)
    out = []
    while day <= last:
        if (day.isoweekday() % 7) in dows:
            for h in hours:
                for m in mins:
                    local = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=z)
                    t = int(local.timestamp())  # fold=0: the first of a repeated time
                    back = dt.datetime.fromtimestamp(t, z)
                    if (back.hour, back.minute) != (h, m):
                        # In a gap (t, from fold=0, is past it): fires at the
                        # gap's end, the transition instant.
                        while dt.datetime.fromtimestamp(t - 60, z).utcoffset() == \
                                dt.datetime.fromtimestamp(t, z).utcoffset():
                            t -= 60
                    if after < t <= until and t not in out:
                        out.append(t)
        day += dt.timedelta(days=1)
    return sorted(out)

def sched_events(evs, dag):
    reg, fired, skipped = None, [], []
    for e in evs:
        if e["dag_id"] != dag:
            continue
        m = e.get("metadata") or {}
        if e["event_type"] == "schedule_registered" and reg is None:
            reg = m["slot"]
        elif e["event_type"] == "schedule_fired":
            fired.append(m["slot"])
        elif e["event_type"] == "schedule_skipped":
            r = m.get("reason") or ""
            n = re.search(r"\((\d+) slots?", r)
            skipped.append((m["slot"], int(n.group(1)) if n else 1, r))
    return reg, fired, skipped

def cmd_account(audit, hist, dag, schedule, zone, until, fuzzy=""):
    evs, runs = load(audit, hist)
    reg, fired, skipped = sched_events(evs, dag)
    probs = []
    if reg is None:
        # First handled by `run --scheduled` (no registration): from its first slot on.
        handled = fired + [s for s, _, _ in skipped]
        if not handled:
            print("no schedule event for %s" % dag)
            return
        reg = min(handled) - 1
    for e in evs:
        if e["dag_id"] == dag and e["event_type"].startswith("schedule_") and e["actor"] != "scheduler":
            probs.append("%s with actor %r" % (e["event_type"], e["actor"]))
    u = parse(until)
    if fuzzy:
        top = max(fired + [s for s, _, _ in skipped] + [reg])
    if fuzzy == "fuzzy":
        exp_all = slots(schedule, zone, reg, u + 3 * 86400)
        near = [t for t in exp_all if t <= u]
        # within 2 intervals of the estimate
        if len(near) >= 3 and top < near[-3]:
            probs.append("newest accounted slot %s is more than 2 intervals before ~%s" % (iso(top), until))
    if fuzzy:
        u = top
    exp = slots(schedule, zone, reg, u)
    cov = collections.Counter(fired)
    for s, n, r in skipped:
        if s not in exp:
            probs.append("skip of %s (%s) is not a slot" % (iso(s), r))
            continue
        i = exp.index(s)
        if n > i + 1:
            probs.append("skip of %s covers %d slots, only %d since registration" % (iso(s), n, i + 1))
        for t in exp[max(0, i - n + 1):i + 1]:
            cov[t] += 1
    for t in exp:
        if cov[t] == 0:
            probs.append("slot %s lost: neither fired nor skipped" % iso(t))
        elif cov[t] > 1:
            probs.append("slot %s handled %d times" % (iso(t), cov[t]))
    for t in cov:
        if t not in exp:
            probs.append("handled %s, which is not a slot in (%s, %s]" % (iso(t), iso(reg), iso(u)))
    byid = collections.Counter(r["run_id"] for r in runs if r["dag_id"] == dag)
    for rid, c in byid.items():
        if c > 1:
            probs.append("run %s recorded %d times" % (rid, c))
    rmap = {r["run_id"]: r for r in runs if r["dag_id"] == dag}
    want = set()
    for t in fired:
        rid = "%s_scheduled_%s" % (dag, dt.datetime.fromtimestamp(t, UTC).strftime("%Y%m%d_%H%M%S"))
        want.add(rid)
        r = rmap.get(rid)
        if not r:
            probs.append("fired %s but no run %s" % (iso(t), rid))
        elif r["status"] != "success" or r["logical_date"] != iso(t) or r["actor"] != "scheduler":
            probs.append("run %s: status %s, logical_date %s, actor %s" % (rid, r["status"], r["logical_date"], r["actor"]))
    for rid in rmap:
        if rid not in want:
            probs.append("run %s was not fired by the schedule" % rid)
    if probs:
        print("\n".join(probs))
    else:
        nsk = sum(n for _, n, _ in skipped)
        print("ok %d slots: %d fired, %d skipped in %d event%s" % (len(exp), len(fired), nsk,
              len(skipped), "" if len(skipped) == 1 else "s"))

def cmd_fired(audit, hist, dag):
    """Fired slots (ISO, in record order)."""
    evs, _ = load(audit, hist)
    for t in sched_events(evs, dag)[1]:
        print(iso(t))

def cmd_skipped(audit, hist, dag):
    """Skipped slots: ISO|N|reason."""
    evs, _ = load(audit, hist)
    for s, n, r in sched_events(evs, dag)[2]:
        print("%s|%d|%s" % (iso(s), n, r))

def cmd_runs(audit, hist, dag):
    """Runs of dag, oldest first: logical_date status started ended."""
    _, runs = load(audit, hist)
    for r in sorted((r for r in runs if r["dag_id"] == dag), key=lambda r: r["started"]):
        print(r["logical_date"], r["status"], r["started"], r.get("ended"))

def cmd_overlaps(audit, hist, dag):
    """How many pairs of runs of dag overlapped in (real) time."""
    _, runs = load(audit, hist)
    iv = sorted((parse_ms(r["started"]), parse_ms(r["ended"]) if r.get("ended") else 1e18)
                for r in runs if r["dag_id"] == dag)
    print(sum(1 for i in range(1, len(iv)) if iv[i][0] < iv[i - 1][1]))

def parse_ms(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000

def cmd_vnow(base, scale, real0, real, extra):
    t = parse(base) + (int(real) - int(real0)) / 1e9 * float(scale) + float(extra)
    print(iso(int(t)))

def cmd_slots(schedule, zone, after, until):
    for t in slots(schedule, zone, parse(after), parse(until)):
        print(iso(t))

def cmd_local(zone, *isos):
    """UTC ISO times as local ISO with offset, one per line."""
    z = ZoneInfo(zone)
    for s in isos:
        print(dt.datetime.fromtimestamp(parse(s), z).isoformat())

cmd = sys.argv[1]
globals()["cmd_" + cmd](*sys.argv[2:])
PY
}
