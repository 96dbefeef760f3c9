#!/usr/bin/env bash
# -j N is never exceeded, measured independently of pitwall: every task is
# tests/helpers/pw_conc, which counts live copies under flock and records
# the most it saw.
source "$(dirname "$0")/lib.bash"
pw_setup
H=$PW_HELPERS

write_dag() { # FILE DAG_ID COUNTER NTASKS [max_active_tasks]
	local file=$1 id=$2 counter=$3 n=$4 i
	{
		echo "dag_id: $id"
		[[ -n ${5:-} ]] && echo "max_active_tasks: $5"
		echo "tasks:"
		for ((i = 1; i <= n; i++)); do
			echo "  - task_id: t$i"
			echo "    command: [\"$H/pw_conc\", \"$counter\", \"150\"]"
		done
	} >"$file"
}
measured_max() { awk '{print $2}' "$1" 2>/dev/null || echo "<no counter file>"; }
measured_cur() { awk '{print $1}' "$1" 2>/dev/null || echo "<no counter file>"; }

# -j 3: 12 tasks, at most 3 at once, and 3 is reached.
write_dag "$T/j3.yaml" conc_j3 "$T/j3.counter" 12
pw_run j3 "$T/j3.yaml" -j 3
check_eq "$RC" 0 "-j 3: pitwall exits 0"
check_eq "$(rj 'sum(1 for x in d["tasks"] if x["status"] == "success")')" 12 "-j 3: 12 tasks succeed"
check_le "$(measured_max "$T/j3.counter")" 3 "-j 3: measured max <= 3"
check_eq "$(measured_max "$T/j3.counter")" 3 "-j 3: measured max == 3 (the limit is used)"
check_eq "$(measured_cur "$T/j3.counter")" 0 "-j 3: no task still counted as running"
check_le "$(rj 'd["max_concurrent"]')" 3 "-j 3: run.json max_concurrent <= 3"
check_eq "$(rj 'd["max_concurrent"]')" 3 "-j 3: run.json max_concurrent == 3"
((PW_FAIL == 0)) || pw_show

# -j 1: strictly one at a time.
f0=$PW_FAIL
write_dag "$T/j1.yaml" conc_j1 "$T/j1.counter" 6
pw_run j1 "$T/j1.yaml" -j 1
check_eq "$RC" 0 "-j 1: pitwall exits 0"
check_eq "$(measured_max "$T/j1.counter")" 1 "-j 1: measured max == 1"
check_eq "$(rj 'd["max_concurrent"]')" 1 "-j 1: run.json max_concurrent == 1"
((PW_FAIL == f0)) || pw_show

# No -j: the DAG's max_active_tasks; -j overrides it.
f0=$PW_FAIL
write_dag "$T/mat.yaml" conc_mat "$T/mat.counter" 6 2
pw_run mat "$T/mat.yaml"
check_eq "$RC" 0 "max_active_tasks: 2: pitwall exits 0"
check_eq "$(measured_max "$T/mat.counter")" 2 "max_active_tasks: 2 (no -j): measured max == 2"
write_dag "$T/mat4.yaml" conc_mat4 "$T/mat4.counter" 8 2
pw_run mat4 "$T/mat4.yaml" -j 4
check_eq "$(measured_max "$T/mat4.counter")" 4 "-j 4 overrides max_active_tasks: 2: measured max == 4"
check_eq "$(rj 'd["max_concurrent"] <= 4')" true "-j 4: run.json max_concurrent <= 4"
((PW_FAIL == f0)) || pw_show

# Retries and dependencies do not break the limit: a fan-in behind a fan-out
# with flaky members.
f0=$PW_FAIL
{
	echo "dag_id: conc_mixed"
	echo "tasks:"
	for i in 1 2 3 4 5 6; do
		echo "  - task_id: f$i"
		echo "    command: [\"sh\", \"-c\", \"$H/pw_conc $T/mixed.counter 100 && test \$PITWALL_ATTEMPT -ge 2 || exit 75\"]"
		echo "    retries: 1"
		echo "    retry_delay: 10ms"
	done
	echo "  - task_id: join"
	echo "    command: [\"$H/pw_conc\", \"$T/mixed.counter\", \"50\"]"
	echo "    dependencies: [f1, f2, f3, f4, f5, f6]"
} >"$T/mixed.yaml"
pw_run mixed "$T/mixed.yaml" -j 2
check_eq "$RC" 0 "-j 2 with retries: pitwall exits 0"
check_le "$(measured_max "$T/mixed.counter")" 2 "-j 2 with retries: measured max <= 2"
check_le "$(rj 'd["max_concurrent"]')" 2 "-j 2 with retries: run.json max_concurrent <= 2"
((PW_FAIL == f0)) || pw_show

pw_done
