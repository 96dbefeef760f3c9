#!/usr/bin/env bash
# Per-task overhead of executor: slurm against local: the same DAGs run by
# pitwall locally and on a throwaway single-node Slurm 22.05 cluster (the
# tests' lib_slurm.bash: munge, slurmctld, slurmd, slurmrestd on localhost),
# plus Slurm's own latency for the same work (sbatch --wait in a loop).
#
#   chain:       N trivial tasks (`true`), each depending on the one before
#   independent: N trivial tasks, no dependencies (max_active_tasks 2 = the node's CPUs)
#
# Environment: PITWALL (default build/pitwall), N=20, REPS=3.  Needs root
# (the daemons change user).  Output: a table on stdout and bench/out/slurm.json.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
N=${N:-20}
REPS=${REPS:-3}
export PITWALL=${PITWALL:-$ROOT/build/pitwall}
export PW_HELPERS=${PW_HELPERS:-$(dirname "$PITWALL")/helpers}
export PW_SOURCE_DIR=$ROOT
mkdir -p "$PW_HELPERS" "$BENCH_DIR/out"
# shellcheck source=../tests/integration/lib.bash
source "$ROOT/tests/integration/lib.bash"
# shellcheck source=../tests/integration/lib_slurm.bash
source "$ROOT/tests/integration/lib_slurm.bash"
pw_setup
# shellcheck disable=SC2154
trap '__rc=$?; set +e; slurm_teardown; (exit $__rc); pw_cleanup' EXIT
slurm_setup >&2
cd "$T"

gen() { # gen NAME KIND EXECUTOR
	{
		echo "dag_id: bench_$1"
		echo "max_active_tasks: 2"
		echo "executor: $3"
		echo "tasks:"
		for ((i = 1; i <= N; i++)); do
			echo "  - task_id: t$i"
			echo "    command: [\"true\"]"
			if [[ $2 == chain && $i -gt 1 ]]; then
				echo "    dependencies: [t$((i - 1))]"
			fi
		done
	} >"$T/$1.yaml"
}

ms_now() { date +%s%N | awk '{ printf "%d", $1 / 1000000 }'; }

# run_ms DAG: wall milliseconds of one `pitwall run` (must succeed).
run_ms() {
	local t0 t1 ws=$T/ws.$RANDOM
	t0=$(ms_now)
	"$PITWALL" run "$T/$1.yaml" --workspace "$ws" -q >/dev/null 2>&1 ||
		{ echo "pitwall run $1 failed" >&2; exit 1; }
	t1=$(ms_now)
	rm -rf "$ws"
	echo $((t1 - t0))
}

# sbatch_chain_ms: N jobs one after the other with sbatch --wait (Slurm alone).
sbatch_chain_ms() {
	local t0 t1
	t0=$(ms_now)
	for ((i = 1; i <= N; i++)); do
		sbatch --wait --quiet -o /dev/null --wrap true >/dev/null
	done
	t1=$(ms_now)
	echo $((t1 - t0))
}

stats() { # stats VALUES... -> "best mean"
	printf '%s\n' "$@" | awk '{ s += $1; if (NR == 1 || $1 < b) b = $1 } END { printf "%d %d", b, s / NR }'
}

declare -A RES
for kind in chain independent; do
	for ex in local slurm; do
		gen "${kind}_$ex" "$kind" "$ex"
		vals=()
		for ((r = 0; r < REPS; r++)); do
			vals+=("$(run_ms "${kind}_$ex")")
		done
		RES[$kind.$ex]=$(stats "${vals[@]}")
		echo "# $kind $ex: ${vals[*]} ms" >&2
	done
done
vals=()
for ((r = 0; r < REPS; r++)); do
	vals+=("$(sbatch_chain_ms)")
done
RES[chain.sbatch]=$(stats "${vals[@]}")

printf '\n%-24s %10s %10s %14s\n' "N=$N trivial tasks" "best ms" "mean ms" "per task (mean)"
for key in chain.local chain.slurm chain.sbatch independent.local independent.slurm; do
	read -r best mean <<<"${RES[$key]}"
	label=$key
	[[ $key == chain.sbatch ]] && label="chain.sbatch --wait"
	printf '%-24s %10d %10d %12d ms\n' "$label" "$best" "$mean" $((mean / N))
done
read -r _ cl <<<"${RES[chain.local]}"
read -r _ cs <<<"${RES[chain.slurm]}"
read -r _ cb <<<"${RES[chain.sbatch]}"
echo
echo "chain: Slurm adds $(((cs - cl) / N)) ms per task over local; sbatch --wait alone takes $((cb / N)) ms per job"
# Where a chained task's time goes, from slurmctld's log (millisecond stamps):
# pitwall's reaction (job i done -> job i+1 submitted) and Slurm's wait
# (submitted -> allocated).  Jobs 1..N*REPS are the chain runs'.
python3 - "$SL/log/slurmctld.log" "$((N * REPS))" "$N" <<'PY' | tee "$BENCH_DIR/out/slurm_breakdown.txt"
import re, sys
from datetime import datetime
log, last, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ev = {}
for l in open(log):
    m = re.match(r"\[([^\]]+)\] (.*)", l)
    if not m:
        continue
    t = datetime.fromisoformat(m.group(1)).timestamp() * 1000
    for kind, rx in (("submit", r"_slurm_rpc_submit_batch_job: JobId=(\d+)"),
                     ("alloc", r"sched: Allocate JobId=(\d+)"),
                     ("done", r"_job_complete: JobId=(\d+) done")):
        mm = re.search(rx, m.group(2))
        if mm:
            ev.setdefault(int(mm.group(1)), {})[kind] = t
react, wait, run = [], [], []
for j in range(1, last + 1):
    e = ev.get(j, {})
    if "submit" in e and "alloc" in e:
        wait.append(e["alloc"] - e["submit"])
    if "alloc" in e and "done" in e:
        run.append(e["done"] - e["alloc"])
    if j % n and "done" in e and "submit" in ev.get(j + 1, {}):
        react.append(ev[j + 1]["submit"] - e["done"])
avg = lambda v: sum(v) / len(v) if v else float("nan")
print("chain on Slurm, per task (mean over %d jobs):" % len(wait))
print("  pitwall: job done -> next job submitted   %6.0f ms (max %.0f)" % (avg(react), max(react or [0])))
print("  Slurm:   submitted -> allocated           %6.0f ms" % avg(wait))
print("  Slurm:   allocated -> done (runs `true`)  %6.0f ms" % avg(run))
PY
python3 - "$BENCH_DIR/out/slurm.json" "$N" "$REPS" \
	"${RES[chain.local]}" "${RES[chain.slurm]}" "${RES[chain.sbatch]}" \
	"${RES[independent.local]}" "${RES[independent.slurm]}" <<'PY'
import json, sys
out, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keys = ["chain.local", "chain.slurm", "chain.sbatch_wait", "independent.local", "independent.slurm"]
res = {}
for k, v in zip(keys, sys.argv[4:]):
    best, mean = map(int, v.split())
    res[k] = {"best_ms": best, "mean_ms": mean, "per_task_ms": mean / n}
json.dump({"tasks": n, "reps": reps, "results": res}, open(out, "w"), indent=2)
PY
pw_done >/dev/null
