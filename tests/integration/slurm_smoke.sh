#!/usr/bin/env bash
# executor: slurm: the CI smoke DAG (dags/smoke.yaml) with `executor: slurm`
# as the DAG's default runs every task as a job of a real single-node Slurm
# cluster through slurmrestd, and ends as the local run does: same outputs,
# `odds` retried once (exit 75 through Slurm), job ids, nodes and usage in
# the audit, and no job left in the queue.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_slurm.bash"
pw_setup
# shellcheck disable=SC2154
trap '__rc=$?; set +e; slurm_teardown; (exit $__rc); pw_cleanup' EXIT
slurm_setup

cd "$T"
slurm_smoke_dag "$T/smoke_slurm.yaml"
# Cluster time has its own price: every attempt is charged task_start at least.
echo 'prices: {vcpu_second: 0.01, gib_second: 0.001, task_start: 0.5}' >>"$T/smoke_slurm.yaml"
pw_cmd validate "$T/smoke_slurm.yaml"
check_eq "$RC" 0 "the smoke DAG with executor: slurm validates"

pw_run local "$PW_SOURCE_DIR/dags/smoke.yaml" --run-id local1
check_eq "$RC" 0 "reference: the smoke DAG runs locally"
LOCAL_WS=$WS

start=$(date +%s%N)
pw_run slurm "$T/smoke_slurm.yaml" --run-id slurm1
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 0 "the smoke DAG entirely on Slurm: exit 0 (${ms} ms)"
check_eq "$(rj '[x["task_id"] for x in d["tasks"] if x["status"] != "success"]')" "[]" \
	"every task succeeded"
check_eq "$(rj '[x["status"] for x in t("odds")["attempt_log"]]')" '["failed", "success"]' \
	"odds: attempt 1 failed (exit 75 through Slurm), attempt 2 succeeded"
check_eq "$(rj 'a("odds",1)["exit_code"]')" 75 "the job's exit code is the attempt's"
check_eq "$(rj 'a("odds",1)["class"]')" transient_error "... and classified as transient_error"
for f in data/numbers.txt data/evens.txt data/odds.txt data/all.txt report.txt; do
	check_eq "$(sha256sum <"$WS/$f" 2>&1 | cut -c1-64)" "$(sha256sum <"$LOCAL_WS/$f" | cut -c1-64)" \
		"$f equals the local run's"
done
check_match "$(cat "$WS/logs/odds.1.log" 2>&1)" "simulated transient failure on attempt 1" \
	"the job's output is the attempt's log in the workspace"

slurm_audit_rows slurm1 >"$T/rows.json"
check_eq "$(sq "$T/rows.json" 'len(of("task_start"))')" 6 "6 task_start rows (5 tasks, odds twice)"
check_eq "$(sq "$T/rows.json" 'all(md(r)["slurm"]["job_id"] > 0 for r in of("task_start"))')" true \
	"every task_start records its Slurm job id"
check_eq "$(sq "$T/rows.json" 'len({md(r)["slurm"]["job_id"] for r in of("task_start")})')" 6 \
	"... a job per attempt"
check_eq "$(sq "$T/rows.json" 'all(r["resource"] == "slurm:job/%d" % md(r)["slurm"]["job_id"] for r in of("task_start"))')" \
	true "the rows' resource is slurm:job/ID"
check_eq "$(sq "$T/rows.json" 'sorted({md(r)["slurm"]["state"] for r in of("task_end")})')" '["COMPLETED"]' \
	"task_end records the final job state"
check_eq "$(sq "$T/rows.json" 'md(of("task_retry","odds")[0])["slurm"]["state"]')" FAILED \
	"the retried attempt's job ended FAILED"
check_eq "$(sq "$T/rows.json" 'sorted({md(r)["slurm"]["nodes"] for r in of("task_end")})')" '["localhost"]' \
	"task_end records the node list"
check_eq "$(sq "$T/rows.json" 'all("cpu_time_s" in md(r)["slurm"] and md(r)["slurm"]["accounting"] == "none" for r in of("task_end"))')" \
	true "task_end records the CPU time (no slurmdbd here: accounting none)"
check_eq "$(sq "$T/rows.json" 'len(of("cost.task_compute"))')" 6 "each attempt is costed (cost.task_compute)"
check_eq "$(sq "$T/rows.json" 'all(md(r)["cost_micros"] >= 500000 for r in of("cost.task_compute"))')" true \
	"... from the DAG's prices (task_start 0.5 each)"
check_eq "$(rj 'd.get("cost_micros", 0) >= 3000000')" true "the run's cost adds the six attempts up"
check_eq "$(squeue -h -o %i | wc -l)" 0 "no job left in the queue"
job=$(sq "$T/rows.json" 'md(of("task_start","report")[0])["slurm"]["job_id"]')
check_eq "$(slurm_job_state "$job")" COMPLETED "squeue: report's job $job COMPLETED"
check_match "$(scontrol show job "$job" 2>&1)" "WorkDir=$WS" "the job ran in the run's workspace"
check_nomatch "$(cat "$WS"/logs/*.log)" "SLURM_JWT|$SLURM_JWT" "the token reached no job"

pw_cmd audit verify
check_eq "$RC" 0 "audit verify: the chain is intact"
((PW_FAIL == 0)) || pw_show
pw_done
