#!/usr/bin/env bash
# Audit store benchmark (docs/audit.md): events per second appended to SQLite and to
# PostgreSQL, and what the audit adds to the wall time of bench/run.sh's 10,000-task layered
# DAG (100 layers of 100 `/bin/true`, -j2): `pitwall run --no-store` against the default SQLite
# store (target: at most +10 %), and against PostgreSQL for information.
# A benchmark, not a test: it exits 0 whatever the numbers are.
#
# Environment:
#   BUILD=dir     a CMake build dir holding pitwall and libpitwall_core.a (default: build/,
#                 configured with -DCMAKE_BUILD_TYPE=Release and built if pitwall is missing)
#   REPS=3        repetitions of each DAG run (the best is reported)
#   N=10000       rows per append measurement
#   PG=auto       auto: a throwaway PostgreSQL server (tests/integration/lib_pg.bash) when the
#                 server binaries are installed; 0: skip PostgreSQL
#   PG_URL=...    use this PostgreSQL server instead of starting one (its table grows)
# Output: a table on stdout and bench/out/audit.json.
set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT=$BENCH_DIR/out/audit
BUILD=${BUILD:-$ROOT/build}
REPS=${REPS:-3}
N=${N:-10000}
PG=${PG:-auto}
say() { printf '%s\n' "$*" >&2; }

case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
if [ ! -x "$BUILD/pitwall" ] || [ ! -f "$BUILD/libpitwall_core.a" ]; then
	say "bench: building pitwall (Release) in $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
		ninja -C "$BUILD" pitwall >/dev/null || { say "bench: build failed"; exit 1; }
fi
PITWALL=$BUILD/pitwall
rm -rf "$OUT"
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/pw-bench-audit.XXXXXX)

# The append benchmark program, against this build's library.
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/include" "$BENCH_DIR/audit_append.c" \
	"$BUILD/libpitwall_core.a" $(pkg-config --libs jansson sqlite3 libpq libgit2 yaml-0.1 \
	libcurl libarchive) -lpthread -lm -o "$OUT/audit_append" || { say "bench: cc failed"; exit 1; }

# PostgreSQL: a throwaway server unless PG_URL names one.
pw_cleanup() {
	local rc=$?
	rm -rf "$TMP"
	exit "$rc"
}
trap pw_cleanup EXIT
PG_NOTE=
if [ -z "${PG_URL:-}" ] && [ "$PG" != 0 ]; then
	# shellcheck source=../tests/integration/lib_pg.bash
	source "$ROOT/tests/integration/lib_pg.bash"
	if pg_find_bin; then
		pg_setup
		PG_URL=$PG_URL
		PG_NOTE="throwaway PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), fsync=off, 127.0.0.1 TCP"
	else
		PG_NOTE="PostgreSQL server not installed (apt-get install postgresql): skipped"
	fi
elif [ -n "${PG_URL:-}" ]; then
	PG_NOTE="PG_URL server"
fi

now_ns() { date +%s%N; }
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# ---------------------------------------------------------------- append throughput
append() { # NAME STORE BATCH
	local line
	if line=$("$OUT/audit_append" "$2" "$N" "$3" 2>"$OUT/append.err"); then
		printf 'append\t%s\t%s\t%s\t%s\n' "$1" "$3" "$(echo "$line" | awk '{print $4}')" \
			"$(echo "$line" | awk '{print $5}')" >>"$RESULTS"
	else
		say "bench: append to $1 failed: $(cat "$OUT/append.err")"
	fi
}
export PITWALL_HOME=$TMP/home
unset PITWALL_STORE
for batch in 1 10 100; do
	rm -f "$TMP/append.db"*
	append sqlite "$TMP/append.db" $batch
	[ -n "${PG_URL:-}" ] && append postgresql "$PG_URL" $batch
done

# ---------------------------------------------------------------- overhead on the layered DAG
python3 "$BENCH_DIR/gen.py" --out "$OUT/gen" --big 2 --snakemake-max 0 2>"$OUT/gen.log" ||
	{ cat "$OUT/gen.log" >&2; exit 1; }
DAG=$OUT/gen/layered/dag.yaml
TASKS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"])' \
	"$OUT/gen/layered/meta.json")
run_dag() { # MODE REP -> prints seconds; MODE: nostore | sqlite | postgresql
	local ws=$TMP/ws home=$TMP/home-$1 t0 t1 rc=0
	rm -rf "$ws" "$home"
	local args=(--no-store)
	case $1 in
	sqlite) args=() ;;
	postgresql) args=(--store "$PG_URL") ;;
	esac
	t0=$(now_ns)
	PITWALL_HOME=$home "$PITWALL" run "$DAG" -j 2 --log-format json --workspace "$ws" \
		--run-id "audit_bench_$1_$2_$$" "${args[@]}" >/dev/null 2>"$TMP/run.err" || rc=$?
	t1=$(now_ns)
	if [ "$rc" != 0 ]; then
		say "bench: pitwall run ($1) exited $rc: $(tail -n 3 "$TMP/run.err")"
		return 1
	fi
	if [ "$1" = sqlite ]; then
		sqlite3 "$home/.pitwall/audit.db" 'SELECT count(*) FROM pipeline_audit_log' \
			>"$OUT/rows.sqlite" 2>/dev/null || true
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
MODES="nostore sqlite"
[ -n "${PG_URL:-}" ] && MODES="$MODES postgresql"
for ((rep = 1; rep <= REPS; rep++)); do
	for mode in $MODES; do # interleaved, so a burst of load hits all modes alike
		if s=$(run_dag "$mode" "$rep"); then
			printf 'run\t%s\t%d\t%s\n' "$mode" "$rep" "$s" >>"$RESULTS"
			say "bench: layered ($TASKS tasks) $mode rep $rep: $s s"
		fi
	done
done
rm -rf "$TMP/ws"

# ---------------------------------------------------------------- report
python3 - "$RESULTS" "$OUT/audit.json" "$N" "$TASKS" "$REPS" "${PG_NOTE:-}" \
	"$(cat "$OUT/rows.sqlite" 2>/dev/null || echo 0)" <<'PY'
import json, sys
res, out, n, tasks, reps, pg_note, rows = sys.argv[1:8]
appends, runs = [], {}
for line in open(res):
    f = line.rstrip("\n").split("\t")
    if f[0] == "append":
        appends.append({"store": f[1], "batch": int(f[2]), "seconds": float(f[3]),
                        "events_per_s": float(f[4])})
    elif f[0] == "run":
        runs.setdefault(f[1], []).append(float(f[3]))
print("Audit append throughput: %s rows per measurement (canonical JSON + sha256 chain +" % n)
print("insert; one transaction per batch; the recorder commits every 50 ms or 512 rows)")
print("%-12s %6s %9s %11s" % ("store", "batch", "seconds", "events/s"))
for a in appends:
    print("%-12s %6d %9.3f %11.0f" % (a["store"], a["batch"], a["seconds"], a["events_per_s"]))
if pg_note:
    print("postgresql: " + pg_note)
print()
print("Audit overhead: bench/run.sh's layered DAG, %s tasks of /bin/true, -j2, best of %s" % (tasks, reps))
best = {m: min(v) for m, v in runs.items()}
base = best.get("nostore")
for m in ("nostore", "sqlite", "postgresql"):
    if m not in best:
        continue
    extra = ""
    if base and m != "nostore":
        extra = "  %+6.1f %%" % (100.0 * (best[m] / base - 1))
    print("%-12s %8.3f s%s   (all: %s)" % ({"nostore": "--no-store"}.get(m, m), best[m], extra,
                                         ", ".join("%.3f" % x for x in runs[m])))
verdict = None
if base and "sqlite" in best:
    ratio = best["sqlite"] / base
    verdict = "PASS" if ratio <= 1.10 else "FAIL"
    print("sqlite/no-store ratio %.3f: %s (target <= 1.10); %s rows recorded" % (ratio, verdict, rows))
json.dump({"append": appends, "runs": runs, "best": best, "tasks": int(tasks),
           "sqlite_rows": int(rows or 0), "sqlite_ratio": (best["sqlite"] / base) if verdict else None,
           "verdict": verdict, "postgresql": pg_note}, open(out, "w"), indent=2)
PY
exit 0
