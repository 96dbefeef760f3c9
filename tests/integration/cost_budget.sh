#!/usr/bin/env bash
# The DAG's monthly budget, read from the audit store.  Earlier runs of the
# same dag_id (cheap tasks at high prices) bring the month's spend to 85%,
# 95% and 105% of budget.monthly: the next run warns (budget.warn), then
# runs only its critical tasks (budget.throttle, the rest skipped), then is
# refused (budget.stop, exit 3, nothing runs).  `pitwall cost` reports the
# month by DAG, run and task, and its totals are the sums of the recorded
# task costs.  A price file stands in for a DAG without prices.
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_limits.bash"
STORE=sqlite:$T/audit.db

# seed AMOUNT: one run of dag_id "budgeted" whose only task costs AMOUNT.
seed() {
	cat >"$T/seed.yaml" <<YAML
dag_id: budgeted
prices: {task_start: $1}
tasks:
  - task_id: seed
    command: ["true"]
YAML
	pw_run "seed$1_$RANDOM" "$T/seed.yaml" --store "$STORE"
	[[ $RC == 0 ]] || echo "# seeding $1 failed: $(tail -3 "$ERR")"
}

cat >"$T/main.yaml" <<YAML
dag_id: budgeted
prices: {task_start: 0}
budget: {monthly: 10, warn_at: 0.8, throttle_at: 90%, stop_at: 1.0}
tasks:
  - task_id: crit
    command: ["touch", "crit.ran"]
    critical: true
  - task_id: extra
    command: ["touch", "extra.ran"]
  - task_id: extra_child
    command: ["touch", "extra_child.ran"]
    dependencies: [extra]
YAML

# --- 85%: a warning -----------------------------------------------------------
seed 8.5
pw_run warn "$T/main.yaml" --store "$STORE"
check_eq "$RC" 0 "at 85% the run goes ahead (exit 0)"
check_eq "$(rj '[t["status"] for t in d["tasks"]]')" '["success", "success", "success"]' "at 85% every task runs"
ev=$(audit_rows "$STORE" --event budget.warn)
check_eq "$(jrows 'len(rows)' <<<"$ev")" 1 "audit: a budget.warn event"
check_eq "$(jrows 'rows[0]["metadata"]["percent_x100"]' <<<"$ev")" 8500 "it records 85.00% of the month"
check_eq "$(jrows 'rows[0]["metadata"]["spent_micros"]' <<<"$ev")" 8500000 "it records the spend in micro-units"

# --- 95%: only critical tasks ---------------------------------------------------
seed 1.0
pw_run throttle "$T/main.yaml" --store "$STORE"
check_eq "$RC" 0 "at 95% the run goes ahead with its critical tasks (exit 0)"
check_eq "$(rj 't("crit")["status"]')" success "at 95% the critical task runs"
check "the critical task's output exists" test -e "$WS/crit.ran"
check_eq "$(rj 't("extra")["status"]')" skipped "at 95% the non-critical task is skipped"
check "the non-critical task did not run" test ! -e "$WS/extra.ran"
check_eq "$(rj 't("extra_child")["status"]')" skipped "its dependent is skipped too (trigger rule)"
ev=$(audit_rows "$STORE" --event budget.throttle)
check_eq "$(jrows 'rows[0]["metadata"]["not_critical"]' <<<"$ev")" '["extra", "extra_child"]' \
	"audit: budget.throttle names the tasks that will not run"
check_eq "$(audit_rows "$STORE" --task extra --event task_end | jrows '[r["metadata"].get("reason") for r in rows][-1]')" \
	budget_throttle "audit: the skipped task's task_end gives the reason"

# --- 105%: refused --------------------------------------------------------------
seed 1.0
pw_run stop "$T/main.yaml" --store "$STORE"
check_eq "$RC" 3 "at 105% the run is refused (exit 3)"
check_match "$(cat "$ERR")" 'refused: the DAG.s monthly budget is spent' "stderr says why"
check "nothing ran (no workspace left behind)" test ! -e "$WS/crit.ran"
ev=$(audit_rows "$STORE" --event budget.stop)
check_eq "$(jrows 'len(rows)' <<<"$ev")" 1 "audit: a budget.stop event"
check_eq "$(jrows 'rows[0]["status"]' <<<"$ev")" refused "budget.stop: status refused"
check_eq "$(jrows 'rows[0]["metadata"]["percent_x100"]' <<<"$ev")" 10500 "it records 105.00%"
check_eq "$(audit_rows "$STORE" --run "$(jrows 'rows[0]["dag_run_id"]' <<<"$ev")" | jrows 'len(rows)')" 1 \
	"the refused run has no other event"
((PW_FAIL == 0)) || pw_show

# --- pitwall cost ------------------------------------------------------------------
f0=$PW_FAIL
pw_cmd cost budgeted --store "$STORE" --json
check_eq "$RC" 0 "pitwall cost exits 0"
rows=$(audit_rows "$STORE" --event cost.task_compute --dag budgeted)
want=$(jrows 'sum(r["metadata"]["cost_micros"] for r in rows)' <<<"$rows")
check_eq "$want" 10500000 "the recorded task costs sum to 10.5"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["total_micros"])' "$OUT")
check_eq "$got" "$want" "pitwall cost: the month's total is the sum of recorded task costs"
check_eq "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(all(r["total_micros"] == sum(t["cost_micros"] for t in r["tasks"]) == r["recorded_total_micros"]
          for g in d["dags"] for r in g["runs"]))' "$OUT")" True \
	"each run's total = its tasks' costs = its recorded cost.dag_run_total"
check_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["dags"][0]["runs"]))' "$OUT")" 5 \
	"five runs were charged (three seeds, two runs of the budgeted DAG)"
check_eq "$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["dags"][0]["budget"]; print(b["level"], b["percent_x100"])' "$OUT")" \
	"stop 10500" "pitwall cost shows where the month stands against the budget"
pw_cmd cost --store "$STORE"
check_match "$(cat "$OUT")" 'month [0-9]{4}-[0-9]{2} \(UTC\): 10\.500000 over 5 runs of 1 DAG' "text report: the month's line"
check_match "$(cat "$OUT")" 'budget: 10\.500000 of 10\.000000 monthly \(105\.00%\): stop' "text report: the budget line"
pw_cmd cost budgeted --month 1999-01 --store "$STORE" --json
check_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_micros"])' "$OUT")" 0 \
	"another month has no spend"
pw_cmd cost --month 2026-13 --store "$STORE"
check_eq "$RC" 64 "a bad --month is a usage error"
((PW_FAIL == f0)) || pw_show

# --- a price file for a DAG without prices -----------------------------------------
f0=$PW_FAIL
cat >"$T/prices.yaml" <<YAML
prices:
  task_start: 0.25
YAML
cat >"$T/plain.yaml" <<YAML
dag_id: priced_by_file
tasks:
  - task_id: one
    command: ["true"]
YAML
PITWALL_PRICES=$T/prices.yaml pw_run file "$T/plain.yaml" --store "$STORE"
check_eq "$(rj 'a("one",1)["cost_micros"]')" 250000 "the price file's task_start applies"
check_eq "$(audit_rows "$STORE" --event cost.task_compute --dag priced_by_file | jrows 'rows[0]["metadata"]["prices_from"]')" \
	"$T/prices.yaml" "the cost event names the price file"
pw_run unpriced "$T/plain.yaml" --store "$STORE"
check_eq "$(audit_rows "$STORE" --event cost.dag_run_total --dag priced_by_file | jrows 'len(rows)')" 1 \
	"without prices a run records no cost events"
check_eq "$("$PITWALL" audit verify --store "$STORE" >/dev/null 2>&1; echo $?)" 0 "the audit chain verifies"
((PW_FAIL == f0)) || pw_show
pw_done
