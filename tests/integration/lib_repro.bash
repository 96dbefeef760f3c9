# Shared functions for the reproducibility tests: rerun*.sh, resume*.sh,
# replay*.sh, bundle*.sh (sourced; not *.sh, so ctest does not run it).
#
#   source "$(dirname "$0")/lib_repro.bash"; repro_setup
#
# repro_setup runs lib.bash's pw_setup and then sets, for every pitwall the
# script starts (tasks inherit pitwall's environment):
#   PITWALL_HOME    $T/home: a SQLite audit store of this test's own
#   PITWALL_STORE   unset, so nothing from the caller's environment leaks in
#   PW_REPRO_FLAG   $T/ext/flag   (failure switch of tests/dags/repro/*.yaml)
#   PW_REPRO_TRACE  $T/ext/trace  (every task that runs appends a line)
#   PW_REPRO_EXT    $T/ext/input  (what the `source: true` task fetches)
#   RD              tests/dags/repro
# $T/ext is outside every workspace, so it survives reruns and replays.

# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

repro_setup() {
	pw_setup
	local src=${PW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	RD=$src/tests/dags/repro
	[[ -d $RD ]] || pw_skip "no $RD"
	mkdir -p "$T/home" "$T/ext"
	export PITWALL_HOME=$T/home
	unset PITWALL_STORE PITWALL_OPENLINEAGE
	export PW_REPRO_FLAG=$T/ext/flag
	export PW_REPRO_TRACE=$T/ext/trace
	export PW_REPRO_EXT=$T/ext/input
	: >"$PW_REPRO_TRACE"
}

# rp NAME ARG...: `pitwall ARG...` (killed after 60 s), stdout and stderr
# kept in $T/NAME.stdout / $T/NAME.stderr.  Sets RC, OUT, ERR.
rp() {
	local name=$1
	shift
	OUT=$T/$name.stdout
	ERR=$T/$name.stderr
	RC=0
	timeout -k 5 60 "$PITWALL" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
	if ((RC == 124)); then
		echo "# pitwall $* did not finish within 60 s"
	fi
}

# show_last: the last command's stdout and stderr as TAP comments.
show_last() {
	local f
	for f in "$OUT" "$ERR"; do
		[[ -s $f ]] || continue
		echo "# --- $f"
		head -c 3000 "$f" | sed 's/^/#   /'
	done
}

# check_rc GOT WANT DESC: like check_eq, but shows the output on a failure.
check_rc() {
	if [[ $1 == "$2" ]]; then
		pw_ok "$3"
	else
		pw_notok "$3" "expected exit status $2, got $1"
		show_last
	fi
}

# trace_count WORD: how many lines of $PW_REPRO_TRACE start with WORD.
trace_count() {
	awk -v w="$1" '$1 == w { n++ } END { print n + 0 }' "$PW_REPRO_TRACE"
}

# ws_digests DIR: "sha256  path" of every file under DIR except logs/ and
# run.json (what a run produced), sorted by path.
ws_digests() {
	(cd "$1" && find . -type f ! -path './logs/*' ! -name run.json | LC_ALL=C sort |
		sed 's|^\./||' | while IFS= read -r f; do
			printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
		done)
}

# audit_rows RUN_ID [STORE]: the run's audit rows as JSON lines, in seq order.
audit_rows() {
	"$PITWALL" audit query --run "$1" --json ${2:+--store "$2"} 2>/dev/null
}

# aq FILE EXPR: evaluates a Python expression over the JSON lines of FILE
# (audit rows) as the list `rows`.  Helpers:
#   after(etype)        the rows after the last row of that event type
#   of(etype, rs=rows)  the rows of that event type
#   tasks(etype, rs)    sorted task ids of those rows
# Prints strings bare, anything else as JSON; "<error: ...>" on a failure.
aq() {
	python3 - "$1" "$2" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1], errors="replace"):
    l = l.strip()
    if l.startswith("{"):
        rows.append(json.loads(l))
rows.sort(key=lambda r: r["seq"])
def of(et, rs=None):
    return [r for r in (rows if rs is None else rs) if r["event_type"] == et]
def after(et):
    idx = [i for i, r in enumerate(rows) if r["event_type"] == et]
    return rows[idx[-1] + 1:] if idx else []
def tasks(et, rs=None):
    return sorted(r["task_id"] for r in of(et, rs) if r["task_id"])
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "<error: %s: %s>" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# retar DIR OUT: pack the files of DIR (no directory entries, as pitwall
# writes them) into OUT, compressed by its suffix.
retar() {
	local z=
	case $2 in
	*.zst) z=--zstd ;;
	*.gz) z=--gzip ;;
	esac
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
		tar $z -cf "$2" --owner=0 --group=0 --mtime=@0 -T -)
}

# have_zstd_tar: can tar read/write .tar.zst here?
have_zstd_tar() {
	type -P zstd >/dev/null && [[ $(tar --help 2>/dev/null) == *--zstd* ]]
}
