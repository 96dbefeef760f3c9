#!/usr/bin/env bash
# pitwall scheduling benchmark: the same DAGs run by pitwall, GNU make, ninja (and snakemake
# on the 200-task DAGs), all with -j2; plus validate/plan of a 100,000-task DAG.
# See bench/README.md. Output: a table on stdout and bench/out/results.json.
#
# Environment:
#   PITWALL=path        pitwall binary (default: build/pitwall, built if missing)
#   REPS=3              repetitions per measurement (best-of and mean are reported)
#   BENCH_DAGS="..."    DAGs to run (default: independent_200 chain_200 independent chain layered)
#   BENCH_TIMER=auto    auto (hyperfine if installed) | hyperfine | loop (bash loop, tools interleaved
#                       round-robin: steadier ratios when other processes load the machine)
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
# pitwall records every run in an audit store: keep it out of the project (bench/out/home/<dag>,
# fresh each repetition) and use the default backend (SQLite) whatever the caller's environment.
unset PITWALL_STORE
export PITWALL_HOME=$OUT/home/misc
cd "$OUT" || exit 1
rm -rf "$OUT/trash" "$OUT/ws" "$OUT/home"
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
    rm -rf "$OUT/ws/probe" "$OUT/home/probe"
    if PITWALL_HOME=$OUT/home/probe "$PITWALL" run "$OUT/probe.yaml" -j 2 --log-format json --workspace "$OUT/ws/probe" \
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

# trash_cmd DIR...: a PREPARE command that moves the DIRs into $OUT/trash (deleted at the very end).
# Not rm -rf: on ext4 without a journal (this machine) creating files right after deleting
# thousands costs ~0.2 ms per file (find_inode_bit -> recently_deleted() scans the inode table),
# which would charge the previous repetition's cleanup to pitwall's log files.
trash_cmd() {
    local s="" d
    for d in "$@"; do s+="[ -e $d ] && mv $d $OUT/trash/\$(basename $d).\$RANDOM\$RANDOM; "; done
    printf 'bash -c "%strue"' "$s"
}
mkdir -p "$OUT/trash"

# Tools of the current DAG: name, PREPARE snippet (run before every repetition, untimed), command.
T_NAME=() T_PREP=() T_CMD=()
add_tool() { T_NAME+=("$1"); T_PREP+=("$2"); shift 2; T_CMD+=("$(printf '%q ' "$@")"); }

# run_tools DAG -> sets R_STATUS[i], R_TIMES[i] (wall s), R_CPU[i] (user+sys s, children included),
# R_LOAD[i] (1-min load average before/after). hyperfine: all repetitions of one tool, then the
# next tool. loop: round-robin (rep 1 of every tool, then rep 2, ...), so a burst of load from
# other processes hits every tool alike.
run_tools() {
    local dag=$1 i r t0 t1 rc
    R_STATUS=() R_TIMES=() R_CPU=() R_LOAD=()
    for i in "${!T_NAME[@]}"; do R_STATUS[i]=ok R_TIMES[i]="" R_CPU[i]="" R_LOAD[i]=$(loadavg); done
    if [ "$BENCH_TIMER" = hyperfine ]; then
        for i in "${!T_NAME[@]}"; do
            say "bench: $dag / ${T_NAME[i]} ($REPS runs) ..."
            R_LOAD[i]=$(loadavg)
            if hyperfine -S none --runs "$REPS" --prepare "${T_PREP[i]}" --export-json "$OUT/hf.json" \
                --style none "${T_CMD[i]}" >/dev/null 2>"$OUT/hf.err"; then
                read -r "R_TIMES[i]" "R_CPU[i]" < <(python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["results"][0]
print(",".join("%.4f" % t for t in r["times"]), "%.4f" % (r["user"] + r["system"]))' "$OUT/hf.json")
            else
                R_STATUS[i]="failed: $(grep -m1 -iE 'error|exit code' "$OUT/hf.err" | cut -d. -f1 | tr '\t' ' ')"
            fi
            R_LOAD[i]+=/$(loadavg)
        done
        return
    fi
    for ((r = 1; r <= REPS; r++)); do
        say "bench: $dag / repetition $r of $REPS: ${T_NAME[*]} ..."
        for i in "${!T_NAME[@]}"; do
            [ "${R_STATUS[i]}" = ok ] || continue
            bash -c "${T_PREP[i]}"
            rm -f "$OUT/cpu.txt"
            t0=$EPOCHREALTIME
            if [ -x /usr/bin/time ]; then
                eval "/usr/bin/time -o $OUT/cpu.txt -f '%U %S' ${T_CMD[i]}" >/dev/null 2>&1
            else
                eval "${T_CMD[i]}" >/dev/null 2>&1
            fi
            rc=$?
            t1=$EPOCHREALTIME
            if [ $rc != 0 ]; then R_STATUS[i]="failed: exit code $rc"; continue; fi
            R_TIMES[i]+="${R_TIMES[i]:+,}$(awk "BEGIN{printf \"%.4f\", $t1 - $t0}")"
            [ -f "$OUT/cpu.txt" ] && R_CPU[i]+="${R_CPU[i]:+,}$(awk '{printf "%.4f", $1 + $2}' "$OUT/cpu.txt")"
        done
    done
    for i in "${!T_NAME[@]}"; do R_LOAD[i]+=/$(loadavg); done
}

pitwall_check() { # pitwall_check RUN_JSON: "<tasks that succeeded> mc=<max_concurrent>"
    python3 - "$1" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    ok = sum(1 for t in r.get("tasks", []) if t.get("status") == "success")
    print("%d%s" % (ok, "" if r.get("max_concurrent") is None else " mc=%s" % r["max_concurrent"]))
except Exception:
    print("no run.json")
EOF
}

for dag in $BENCH_DAGS; do
    D=$OUT/$dag
    [ -f "$D/dag.yaml" ] || { say "bench: unknown DAG $dag"; continue; }
    T_NAME=() T_PREP=() T_CMD=()
    add_tool make "true" make -C "$D" -j2
    add_tool ninja "rm -f $D/.ninja_log $D/.ninja_deps" ninja -C "$D" -j2
    if [ $PITWALL_OK = 1 ]; then
        # Fresh workspace and fresh audit store (PITWALL_HOME/.pitwall/audit.db) per repetition.
        for v in argv shell; do
            f=$D/dag.yaml; [ $v = shell ] && f=$D/dag_shell.yaml
            add_tool pitwall_$v "$(trash_cmd "$OUT/ws/$dag.$v" "$OUT/home/$dag.$v")" env PITWALL_HOME="$OUT/home/$dag.$v" \
                "$PITWALL" run "$f" -j 2 --log-format json --workspace "$OUT/ws/$dag.$v"
        done
    fi
    if [ "$SNAKEMAKE" = 1 ] && [ -f "$D/Snakefile" ]; then
        add_tool snakemake "$(trash_cmd "$D/m" "$D/.snakemake")" snakemake -s "$D/Snakefile" -d "$D" --cores 2 -q
    fi

    # Untimed checks that make and ninja really run every command (count them).
    CHECK_MAKE=$(make -C "$D" -j2 2>/dev/null | grep -c '^true$')
    rm -f "$D/.ninja_log" "$D/.ninja_deps"
    CHECK_NINJA=$(ninja -C "$D" -j2 -v 2>/dev/null | grep -c '^\[.*\] true$')

    run_tools "$dag"

    for i in "${!T_NAME[@]}"; do
        case ${T_NAME[i]} in
            make) check=$CHECK_MAKE ;;
            ninja) check=$CHECK_NINJA ;;
            pitwall_argv) check=$(pitwall_check "$OUT/ws/$dag.argv/run.json") ;;
            pitwall_shell) check=$(pitwall_check "$OUT/ws/$dag.shell/run.json") ;;
            snakemake) check=$(ls "$D/m" 2>/dev/null | wc -l) ;;
        esac
        # raw.tsv: dag tool status wall-times check load cpu-times
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dag" "${T_NAME[i]}" "${R_STATUS[i]}" "${R_TIMES[i]:--}" \
            "$check" "${R_LOAD[i]}" "${R_CPU[i]:--}" >>"$RAW"
    done
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
            times+="${times:+,}$(awk "BEGIN{printf \"%.4f\", $t1 - $t0}")"
            [ -f "$OUT/time.txt" ] && rss+="${rss:+,}$(tail -1 "$OUT/time.txt" | awk '{print $3}')"
        done
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' big_layered "$cmd" "$status" "${times:--}" "rss_kb=${rss:--}" "$(loadavg)" - >>"$RAW"
    done
fi

rm -rf "$OUT/trash"

# ---------------------------------------------------------------- report
NOTES_STR=$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}")
python3 "$BENCH_DIR/report.py" --raw "$RAW" --out "$OUT" --timer "$BENCH_TIMER" --reps "$REPS" \
    --pitwall "$PITWALL" --notes "$NOTES_STR"
