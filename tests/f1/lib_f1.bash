# Shared setup for the F1 pipeline tests (tests/integration/f1_*.sh), on top
# of tests/integration/lib.bash. Sourced, not run.
#
# Sets F1_BIN (the f1-* programs), F1_DATA (../shared/data/f1), F1_TESTS
# (this directory), and puts F1_BIN first in PATH. Skips (77) when the
# programs or the data are missing.

f1_setup() {
	F1_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
	local src=${PW_SOURCE_DIR:-$(cd "$F1_TESTS/../.." && pwd -P)}
	F1_BIN=${PW_BUILD_DIR:-$src/build}/bin
	local shared=${PW_SHARED_DIR:-$src/../shared}
	F1_DATA=$shared/data/f1
	local t
	for t in validate clean feature split profiles; do
		[[ -x $F1_BIN/f1-$t ]] || pw_skip "$F1_BIN/f1-$t is not built"
	done
	[[ -f $F1_DATA/races.csv ]] || pw_skip "no F1 data at $F1_DATA"
	PATH=$F1_BIN:$PATH
	export PATH LC_ALL=C
}

# f1_slice DIR SEASONS [ROUNDS]: DIR/raw from the dump, per the ingest
# contract, made by tests/f1/make_raw.py (independent of f1-ingest).
f1_slice() {
	local args=("$F1_DATA" "$1/raw" --seasons "$2")
	[[ -n ${3:-} ]] && args+=(--rounds "$3")
	mkdir -p "$1"
	python3 "$F1_TESTS/make_raw.py" "${args[@]}"
}

# f1_run CMD...: runs a task, capturing RC, OUT and ERR (files) like pw_cmd.
f1_run() {
	OUT=$T/f1.stdout
	ERR=$T/f1.stderr
	RC=0
	timeout -k 5 120 "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
}

# py CODE [ARG...]: runs a Python snippet (the tests' independent checks).
py() {
	local code=$1
	shift
	python3 -c "$code" "$@"
}
