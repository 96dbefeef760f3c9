#!/usr/bin/env bash
# pitwall scheduling benchmark: the same DAGs run by pitwall, GNU make, ninja (and snakemake
# on the 200-task DAGs), all with -j2; plus validate/plan of a 100,000-task DAG.
# See bench/README.md. Output: a table on stdout and bench/out/results.json.
#
# Environment:
#   PITWALL=path        pitwall binary (default: build/pitwall, built if missing)
#   REPS=3              repetitions per measurement (best-of and mean are reported)
#   BENCH_DAGS="..."    DAGs to run (default: independent_200 chain_200 independent chain layered)
#   BENCH_TIMER=auto    auto (hyperfine if installed) | hyperfine | loop (interleaved bash loop)
#   SNAKEMAKE=auto      auto | 0 (skip snakemake)
#   BIG=1               0 skips the 100k validate/plan measurement
#   NO_INSTALL=1        never call apt-get
set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT=$BENCH_DIR/out
RAW=$OUT/raw.tsv
REPS=${REPS:-3}
BENCH_DAGS=${BENCH_DAGS:-"independent_200 chain_200 independent chain layered"}
BENCH_TIMER=${BENCH_TIMER:-auto}
SNAKEMAKE=${SNAKEMAKE:-auto}
BIG=${BIG:-1}
NOTES=()

say() { printf '%s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- tools
apt_updated=0
install_pkg() { # install_pkg PACKAGE [apt options...]; only as root, only when asked for
    [ "${NO_INSTALL:-0}" = 1 ] && return 1
    [ "$(id -u)" = 0 ] && have apt-get || return 1
    if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null 2>&1; apt_updated=1; fi
    say "bench: installing $1 with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" "$1" >/dev/null 2>&1
}
have ninja || install_pkg ninja-build || { say "bench: ninja is required"; exit 1; }
have make || install_pkg make || { say "bench: make is required"; exit 1; }
have python3 || install_pkg python3 || { say "bench: python3 is required"; exit 1; }
[ -x /usr/bin/time ] || install_pkg time || NOTES+=("/usr/bin/time missing: no peak RSS")
have hyperfine || install_pkg hyperfine || true
if [ "$SNAKEMAKE" != 0 ]; then
    have snakemake || install_pkg snakemake --no-install-recommends || true
    if have snakemake; then SNAKEMAKE=1; else
        SNAKEMAKE=0; NOTES+=("snakemake not installed: skipped (apt-get install --no-install-recommends snakemake)"); fi
fi
case $BENCH_TIMER in
    auto) if have hyperfine; then BENCH_TIMER=hyperfine; else BENCH_TIMER=loop; fi ;;
    hyperfine) have hyperfine || { say "bench: hyperfine not installed"; exit 1; } ;;
    loop) ;;
    *) say "bench: BENCH_TIMER must be auto, hyperfine or loop"; exit 64 ;;
esac

# ---------------------------------------------------------------- pitwall
if [ -z "${PITWALL:-}" ]; then
    PITWALL=$ROOT/build/pitwall
    if [ ! -x "$PITWALL" ]; then
        say "bench: building pitwall in $ROOT/build"
        (cd "$ROOT" && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
            ninja -C build pitwall >/dev/null) || say "bench: build failed"
    fi
fi
case $PITWALL in /*) ;; *) PITWALL=$ROOT/$PITWALL ;; esac

# ---------------------------------------------------------------- DAGs
mkdir -p "$OUT"
python3 "$BENCH_DIR/gen.py" --out "$OUT" 2>"$OUT/gen.log" || { cat "$OUT/gen.log" >&2; exit 1; }

# Probe: does `pitwall run` work at all? (It may still be under construction.)
PITWALL_OK=0
PITWALL_WHY="binary $PITWALL not found"
if [ -x "$PITWALL" ]; then
    cat >"$OUT/probe.yaml" <<'EOF'
dag_id: bench_probe
max_active_tasks: 2
tasks:
  - task_id: a
    command: ["/bin/true"]
  - task_id: b
    shell: "true"
    dependencies: [a]
EOF
    rm -rf "$OUT/ws/probe"
    if "$PITWALL" run "$OUT/probe.yaml" -j 2 --log-format json --workspace "$OUT/ws/probe" \
        >"$OUT/probe.out" 2>"$OUT/probe.err" && [ -f "$OUT/ws/probe/run.json" ]; then
        PITWALL_OK=1
    else
        PITWALL_WHY="'pitwall run' does not work yet (exit $?): $(head -c 200 "$OUT/probe.err" | tr '\n' ' ')"
        NOTES+=("pitwall skipped: $PITWALL_WHY")
    fi
fi

# ---------------------------------------------------------------- timing
: >"$RAW"
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# measure DAG TOOL PREPARE CMD... -> sets M_STATUS, M_TIMES (comma-separated seconds), M_LOAD.
# The PREPARE shell snippet runs before every repetition, outside the timed part.
measure() {
    local dag=$1 tool=$2 prep=$3; shift 3
    local times="" status=ok t0 t1 r load
    load=$(loadavg)
    say "bench: $dag / $tool ..."
    if [ "$BENCH_TIMER" = hyperfine ]; then
        local js=$OUT/hf.json
        if hyperfine -S none --runs "$REPS" --prepare "$prep" --export-json "$js" \
            --style none "$*" >/dev/null 2>"$OUT/hf.err"; then
            times=$(python3 -c 'import json,sys; print(",".join("%.4f" % t for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' "$js")
        else
            status="failed: $(grep -m1 -iE 'error|exit code' "$OUT/hf.err" | cut -d. -f1 | tr '\t' ' ')"
        fi
    else
        for ((r = 0; r < REPS; r++)); do
            bash -c "$prep"
            t0=$EPOCHREALTIME
            "$@" >/dev/null 2>&1 || { status="failed: exit code $?"; break; }
            t1=$EPOCHREALTIME
            times+="${times:+,}$(python3 -c "print('%.4f' % ($t1 - $t0))")"
        done
    fi
    M_STATUS=$status M_TIMES=${times:--} M_LOAD=$load/$(loadavg)
}
# record DAG TOOL CHECK: one line in $RAW (dag tool status times check loadavg-before/after)
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$M_STATUS" "$M_TIMES" "$3" "$M_LOAD" >>"$RAW"
}

for dag in $BENCH_DAGS; do
    D=$OUT/$dag
    [ -f "$D/dag.yaml" ] || { say "bench: unknown DAG $dag"; continue; }
    N=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"])' "$D/meta.json")

    # CHECK = number of commands the tool really ran (one untimed run), to compare with N.
    CHECK=$(make -C "$D" -j2 2>/dev/null | grep -c '^true$')
    measure "$dag" make "true" make -C "$D" -j2
    record "$dag" make "$CHECK"

    rm -f "$D/.ninja_log" "$D/.ninja_deps"
    CHECK=$(ninja -C "$D" -j2 -v 2>/dev/null | grep -c '^\[.*\] true$')
    measure "$dag" ninja "rm -f '$D/.ninja_log' '$D/.ninja_deps'" ninja -C "$D" -j2
    record "$dag" ninja "$CHECK"

    if [ $PITWALL_OK = 1 ]; then
        for variant in argv shell; do
            f=$D/dag.yaml; [ $variant = shell ] && f=$D/dag_shell.yaml
            ws=$OUT/ws/$dag.$variant
            measure "$dag" "pitwall_$variant" "rm -rf '$ws'" \
                "$PITWALL" run "$f" -j 2 --log-format json --workspace "$ws"
            # Check the last repetition's run.json: every task succeeded, concurrency 2.
            CHECK=$(python3 - "$ws/run.json" "$N" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    ok = sum(1 for t in r.get("tasks", []) if t.get("status") == "success")
    print("%d%s" % (ok, "" if r.get("max_concurrent") is None else " mc=%s" % r["max_concurrent"]))
except Exception as e:
    print("no run.json")
EOF
)
            record "$dag" "pitwall_$variant" "$CHECK"
        done
    fi

    if [ "$SNAKEMAKE" = 1 ] && [ -f "$D/Snakefile" ]; then
        rm -rf "$D/m" "$D/.snakemake"
        snakemake -s "$D/Snakefile" -d "$D" --cores 2 -q >/dev/null 2>&1
        CHECK=$(ls "$D/m" 2>/dev/null | wc -l)
        measure "$dag" snakemake "rm -rf '$D/m' '$D/.snakemake'" \
            snakemake -s "$D/Snakefile" -d "$D" --cores 2 -q
        record "$dag" snakemake "$CHECK"
    fi
done

# ---------------------------------------------------------------- validate + plan, 100k tasks
if [ "$BIG" = 1 ] && [ -x "$PITWALL" ]; then
    F=$OUT/big_layered/dag.yaml
    for cmd in validate plan; do
        say "bench: big_layered / $cmd ..."
        times="" rss="" status=ok
        for ((r = 0; r < REPS; r++)); do
            t0=$EPOCHREALTIME
            if [ -x /usr/bin/time ]; then
                /usr/bin/time -o "$OUT/time.txt" -f '%e s %M KB' "$PITWALL" $cmd "$F" >/dev/null 2>"$OUT/big.err"
            else
                "$PITWALL" $cmd "$F" >/dev/null 2>"$OUT/big.err"
            fi
            rc=$?
            t1=$EPOCHREALTIME
            [ $rc = 0 ] || { status="failed(exit $rc)"; break; }
            times+="${times:+,}$(python3 -c "print('%.4f' % ($t1 - $t0))")"
            [ -f "$OUT/time.txt" ] && rss+="${rss:+,}$(tail -1 "$OUT/time.txt" | awk '{print $3}')"
        done
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' big_layered "$cmd" "$status" "${times:--}" "rss_kb=${rss:--}" "$(loadavg)" >>"$RAW"
    done
fi

# ---------------------------------------------------------------- report
NOTES_STR=$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}")
python3 "$BENCH_DIR/report.py" --raw "$RAW" --out "$OUT" --timer "$BENCH_TIMER" --reps "$REPS" \
    --pitwall "$PITWALL" --notes "$NOTES_STR"
