#!/usr/bin/env bash
# Cost limits with real processes.  A task's max_cost_per_run is enforced
# while it runs (sampled from its cgroup twice a second): a 3 s CPU spinner
# priced so that it passes its limit within about a second is killed with
# status cost_exceeded, not retried, and its cost recorded.  The DAG's
# budget.max_cost_per_run stops a whole run the same way.  Every attempt's
# cost (cost.task_compute) adds up to the run's (cost.dag_run_total).
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_limits.bash"
H=$PW_HELPERS
STORE=sqlite:$T/audit.db
[[ $(id -u) == 0 ]] || echo "# not root: costs are sampled from /proc if cgroups cannot be made"

cat >"$T/task.yaml" <<YAML
dag_id: cost_task
prices: {vcpu_second: 2, gib_second: 0, task_start: 0.01}
tasks:
  - task_id: spender
    command: ["$H/pw_spin", "3"]
    retries: 2
    retry_delay: 10ms
    resources: {max_cost_per_run: 0.2}
  - task_id: after
    command: ["true"]
    dependencies: [spender]
  - task_id: cheap
    command: ["true"]
YAML
start=$(date +%s%N)
pw_run task "$T/task.yaml" --store "$STORE"
elapsed=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 1 "a task killed at its cost limit fails the run"
check_eq "$(rj 't("spender")["status"]')" cost_exceeded "spender: status cost_exceeded"
check_eq "$(rj 't("spender")["attempts"]')" 1 "spender: 1 attempt although retries: 2"
check_eq "$(rj 'a("spender",1)["signal"]')" 9 "spender: SIGKILL, no grace period"
ms=$(rj 'a("spender",1)["duration_ms"]')
echo "# killed at its cost limit after $ms ms (the run took $elapsed ms; the spinner would run 3000 ms)"
check_le "$ms" 2500 "killed within about 2 s ($ms ms)"
spent=$(rj 'a("spender",1)["cost_micros"]')
check_le 200001 "$spent" "the recorded cost passed max_cost_per_run 0.2 ($spent micro-units)"
check_eq "$(rj 't("after")["status"]')" upstream_failed "its dependent: upstream_failed"
check_eq "$(rj 't("cheap")["status"]')" success "an independent task succeeds"
check_match "$(events "$ERR" '[e["message"] for e in evs if e["event_type"] == "run_notice" and e["task_id"] == "spender"][0]')" \
	'passed max_cost_per_run 0.200000' "a notice says why the task was killed"

rows=$(audit_rows "$STORE" --event cost.task_compute)
check_eq "$(jrows 'sorted(r["task_id"] for r in rows)' <<<"$rows")" '["cheap", "spender"]' \
	"audit: one cost.task_compute per attempt"
check_eq "$(jrows '[r["status"] for r in rows if r["task_id"] == "spender"][0]' <<<"$rows")" cost_exceeded \
	"audit: the spender's cost event carries its status"
check_eq "$(jrows '[r["metadata"]["cost_micros"] for r in rows if r["task_id"] == "spender"][0]' <<<"$rows")" \
	"$spent" "audit: the same cost as run.json"
check_eq "$(jrows 'rows[0]["metadata"]["prices"]' <<<"$rows")" \
	'{"gib_second": "0", "task_start": "0.01", "vcpu_second": "2"}' \
	"audit: the prices used, as strings (no floats in the hash chain)"
sum=$(jrows 'sum(r["metadata"]["cost_micros"] for r in rows)' <<<"$rows")
total=$(audit_rows "$STORE" --event cost.dag_run_total | jrows 'rows[0]["metadata"]["cost_micros"]')
check_eq "$total" "$sum" "cost.dag_run_total = the sum of the attempts' costs ($sum)"
check_eq "$(rj 'd["cost_micros"]')" "$sum" "run.json carries the run's cost"
check_eq "$(audit_rows "$STORE" --task spender --event task_end | jrows 'rows[0]["status"]')" cost_exceeded \
	"audit: task_end status cost_exceeded"
((PW_FAIL == 0)) || pw_show

# --- the DAG's budget.max_cost_per_run ---------------------------------------
cat >"$T/run.yaml" <<YAML
dag_id: cost_run
prices: {vcpu_second: 1}
budget: {max_cost_per_run: 0.3}
tasks:
  - task_id: a
    command: ["$H/pw_spin", "4"]
  - task_id: b
    command: ["$H/pw_spin", "4"]
  - task_id: later
    command: ["true"]
    dependencies: [a]
YAML
f0=$PW_FAIL
pw_run run "$T/run.yaml" --store "$STORE"
check_eq "$RC" 1 "a run stopped by its budget exits 1"
check_eq "$(rj 'd["status"]')" cost_exceeded "run.json: status cost_exceeded"
check_eq "$(rj '[t["status"] for t in d["tasks"]]')" '["cost_exceeded", "cost_exceeded", "cancelled"]' \
	"running tasks cost_exceeded, the rest cancelled"
check_le "$(rj 'max(t["duration_ms"] for t in d["tasks"])')" 3500 "the spinners were stopped early"
ev=$(audit_rows "$STORE" --event budget.run_exceeded)
check_eq "$(jrows 'len(rows)' <<<"$ev")" 1 "audit: one budget.run_exceeded event"
check_le 300001 "$(jrows 'rows[0]["metadata"]["cost_micros"]' <<<"$ev")" "it records the cost that passed 0.3"
check_eq "$(audit_rows "$STORE" --event dag_run_end --dag cost_run | jrows 'rows[0]["status"]')" cost_exceeded \
	"audit: dag_run_end status cost_exceeded"
check_eq "$("$PITWALL" audit verify --store "$STORE" >/dev/null 2>&1; echo $?)" 0 "the audit chain verifies"
((PW_FAIL == f0)) || pw_show
pw_done
