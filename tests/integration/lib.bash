# Shared functions for tests/integration/*.sh (sourced; not a test itself, hence
# not *.sh, which tests/CMakeLists.txt would pick up as a test).
#
# Environment from ctest: PITWALL (the binary), PW_HELPERS (compiled
# tests/helpers/*.c), PW_SOURCE_DIR, PW_BUILD_DIR.  Exit 77 = skipped.
#
# Every test script:
#   source "$(dirname "$0")/lib.bash"; pw_setup
#   ... checks ...
#   pw_done
set -euo pipefail

PW_N=0
PW_PASS=0
PW_FAIL=0
PW_DONE=0

pw_setup() {
	if [[ -z ${PITWALL:-} ]]; then
		local guess=${PW_BUILD_DIR:-}/pitwall
		[[ -n ${PW_BUILD_DIR:-} && -x $guess ]] && PITWALL=$guess
	fi
	if [[ -z ${PITWALL:-} ]]; then
		echo "# PITWALL is not set; skipping"
		exit 77
	fi
	if [[ ! -x $PITWALL ]]; then
		# Set by ctest but missing: the build is broken, which is a failure.
		echo "not ok 1 - pitwall binary $PITWALL is not executable"
		echo "0 passed, 1 failed"
		exit 1
	fi
	if [[ -z ${PW_HELPERS:-} || ! -d ${PW_HELPERS:-} ]]; then
		echo "# PW_HELPERS is not set; skipping"
		exit 77
	fi
	if ! type -P python3 >/dev/null; then
		echo "# python3 is needed to read run.json; skipping"
		exit 77
	fi
	# Resolve the interpreter once: version-manager shims (pyenv) cost ~70 ms
	# a call, and the tests call python a lot.
	PW_PYTHON=$(command python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
	[[ -x ${PW_PYTHON:-} ]] || PW_PYTHON=$(type -P python3)
	T=$(mktemp -d "${TMPDIR:-/tmp}/pw-it.XXXXXX")
	T=$(cd "$T" && pwd -P)
	mkdir -p "$T/pids"
	# Each test gets its own state directory (audit store, spool, locks), so
	# fixed run ids do not collide across tests or repeated ctest runs.
	if [[ -z ${PW_KEEP_HOME:-} ]]; then
		export PITWALL_HOME=$T/home
		mkdir -p "$PITWALL_HOME"
	fi
	trap pw_cleanup EXIT
}

# Kill whatever our helpers left behind (only pids they recorded, and only if
# the process still is one of our helpers), then remove the temp dir.
pw_cleanup() {
	local rc=$?
	local f pid
	if ((PW_DONE == 0 && rc != 0 && rc != 77)); then
		# set -e stopped the script early: still end in the usual form.
		# (An explicit exit 0 or exit 77, a skip, is left alone.)
		pw_notok "the script ran to its end" "it stopped with exit status $rc"
		echo "1..$PW_N"
		echo "$PW_PASS passed, $PW_FAIL failed"
	fi
	while IFS= read -r f; do
		pid=$(<"$f")
		if [[ $(pid_state "$pid") == alive ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done < <(find "$T/pids" -name '*.pid' 2>/dev/null)
	if [[ -n ${PW_KEEP:-} ]]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

python3() {
	if [[ -n ${PW_PYTHON:-} ]]; then
		"$PW_PYTHON" "$@"
	else
		command python3 "$@"
	fi
}

# --- TAP ----------------------------------------------------------------

pw_ok() {
	PW_N=$((PW_N + 1))
	PW_PASS=$((PW_PASS + 1))
	echo "ok $PW_N - $1"
}

pw_notok() {
	PW_N=$((PW_N + 1))
	PW_FAIL=$((PW_FAIL + 1))
	echo "not ok $PW_N - $1"
	shift
	local line
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# check DESC COMMAND... : ok when COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then
		pw_ok "$desc"
	else
		pw_notok "$desc" "command failed: $*"
	fi
}

# check_eq GOT WANT DESC
check_eq() {
	if [[ $1 == "$2" ]]; then
		pw_ok "$3"
	else
		pw_notok "$3" "expected: $2" "got:      $1"
	fi
}

# check_match STRING ERE DESC
check_match() {
	if [[ $1 =~ $2 ]]; then
		pw_ok "$3"
	else
		pw_notok "$3" "expected to match: $2" "got: $(printf '%s' "$1" | head -c 2000)"
	fi
}

# check_nomatch STRING ERE DESC
check_nomatch() {
	if [[ ! $1 =~ $2 ]]; then
		pw_ok "$3"
	else
		pw_notok "$3" "expected NOT to match: $2" "got: $(printf '%s' "$1" | head -c 2000)"
	fi
}

# check_le A B DESC  (integers; a non-integer fails)
check_le() {
	if [[ $1 =~ ^-?[0-9]+$ && $2 =~ ^-?[0-9]+$ ]] && (($1 <= $2)); then
		pw_ok "$3"
	else
		pw_notok "$3" "expected $1 <= $2"
	fi
}

# pw_skip REASON: ends the script as skipped (ctest SKIP_RETURN_CODE 77).
pw_skip() {
	PW_DONE=1
	echo "# skipped: $1"
	exit 77
}

pw_done() {
	PW_DONE=1
	echo "1..$PW_N"
	echo "$PW_PASS passed, $PW_FAIL failed"
	((PW_FAIL == 0))
}

# --- running pitwall -----------------------------------------------------

# pw_run NAME DAGFILE [ARG...]
# Runs `pitwall run DAGFILE --workspace $T/NAME --log-format json ARG...`
# (killed after 60 s so a hang cannot stall ctest; stdin from $PW_STDIN,
# default /dev/null).  Sets RC, WS (the
# workspace), RJ (its run.json), OUT and ERR (files with stdout and stderr).
pw_run() {
	local name=$1 dag=$2
	shift 2
	WS=$T/$name
	RJ=$WS/run.json
	OUT=$T/$name.stdout
	ERR=$T/$name.stderr
	RC=0
	timeout -k 5 60 "$PITWALL" run "$dag" --workspace "$WS" --log-format json "$@" \
		>"$OUT" 2>"$ERR" <"${PW_STDIN:-/dev/null}" || RC=$?
	if ((RC == 124)); then
		echo "# pitwall run $dag did not finish within 60 s"
	fi
}

# pw_cmd [ARG...]: runs `pitwall ARG...`; sets RC, OUT, ERR (files).
pw_cmd() {
	OUT=$T/cmd.stdout
	ERR=$T/cmd.stderr
	RC=0
	timeout -k 5 60 "$PITWALL" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
}

# Dump the last run's output as TAP comments (for a failure's context).
pw_show() {
	local f
	for f in "$OUT" "$ERR" ${RJ:+"$RJ"}; do
		[[ -f $f ]] || continue
		echo "# --- $f"
		head -c 4000 "$f" | sed 's/^/#   /'
	done
}

# rj EXPR [FILE]
# Evaluates a Python expression over a run.json (default $RJ):
#   d            the whole document
#   t("id")      the task whose task_id is "id"
#   a("id", n)   attempt n of that task's attempt_log
# Prints strings bare, None as null, booleans as true/false, anything else as
# JSON.  Never fails: a missing file or key prints "<error: ...>" instead.
rj() {
	python3 - "$1" "${2:-$RJ}" <<'PY'
import json, sys
expr, path = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        d = json.load(f)
    def t(tid):
        for x in d["tasks"]:
            if x.get("task_id") == tid:
                return x
        raise KeyError("no task %r" % tid)
    def a(tid, n):
        for x in t(tid)["attempt_log"]:
            if x.get("attempt") == n:
                return x
        raise KeyError("task %r has no attempt %r" % (tid, n))
    v = eval(expr)
except Exception as e:
    print("<error: %s: %s>" % (type(e).__name__, e))
    sys.exit(0)
if v is None:
    print("null")
elif isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, str):
    print(v)
else:
    print(json.dumps(v))
PY
}

# events FILE EXPR: evaluates a Python expression over the JSON event lines
# of FILE (a stderr capture), as the list `evs`; start(n) / end(n) are the
# task_start / task_end-or-task_retry events of attempt n (first task),
# ms(ev) its timestamp in epoch milliseconds.  Lenient on purpose: a line
# that only lacks its closing brace is repaired (events.sh checks the lines
# strictly), so the other tests do not all fail on that one defect.
events() {
	python3 - "$1" "$2" <<'PY'
import json, sys
evs = []
for l in open(sys.argv[1]).read().splitlines():
    if not l.strip():
        continue
    for cand in (l, l + "}"):
        try:
            evs.append(json.loads(cand))
            break
        except ValueError:
            pass
from datetime import datetime
def ms(ev):
    return datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
def start(n):
    return [e for e in evs if e["event_type"] == "task_start" and e["metadata"].get("attempt") == n][0]
def end(n):
    return [e for e in evs if e["event_type"] in ("task_end", "task_retry")
            and e["metadata"].get("attempt") == n][0]
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "<error: %s: %s>" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# --- processes -----------------------------------------------------------

# pid_state PID -> "gone", "zombie" (dead, not reaped) or "alive".
# A pid reused by something else than our helpers counts as gone.
pid_state() {
	local pid=$1 st
	if [[ ! $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
		echo gone
		return
	fi
	st=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[1] }' \
		"/proc/$pid/stat" 2>/dev/null || echo X)
	if [[ $st == Z ]]; then
		echo zombie
	elif [[ $st == X ]]; then
		echo gone
	elif tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'pw_'; then
		echo alive
	else
		echo gone
	fi
}

# check_pid_gone PID DESC: ok when `kill -0 PID` fails.  A zombie is a
# failure too (pitwall, a child subreaper, must reap what it started), but is
# reported as such.
check_pid_gone() {
	local st
	st=$(pid_state "$1")
	case $st in
	gone) pw_ok "$2" ;;
	zombie) pw_notok "$2" "pid $1 is a zombie: killed but never reaped (parent: $(awk '{print $4}' /proc/"$1"/stat 2>/dev/null))" ;;
	*) pw_notok "$2" "pid $1 is still running: $(tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null)" ;;
	esac
}

# wait_for_files TIMEOUT_S FILE...: waits until every FILE exists.
wait_for_files() {
	local deadline=$((SECONDS + $1)) f missing
	shift
	while :; do
		missing=0
		for f in "$@"; do
			[[ -e $f ]] || missing=1
		done
		((missing == 0)) && return 0
		((SECONDS >= deadline)) && return 1
		sleep 0.05
	done
}

# count_lines FILE: number of lines, 0 when FILE is missing.
count_lines() {
	if [[ -f $1 ]]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}
