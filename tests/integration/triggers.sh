#!/usr/bin/env bash
# Trigger rules with real processes, each where it runs and where it does not:
# all_success, all_done, one_success, none_failed, all_failed.
source "$(dirname "$0")/lib.bash"
pw_setup

# ok1/ok2 succeed, bad1/bad2 fail (after leaving a marker, so a dependent
# can prove it started only after the failure).
cat >"$T/triggers.yaml" <<EOF
dag_id: triggers
tasks:
  - task_id: ok1
    command: ["touch", "ok1.done"]
  - task_id: ok2
    command: ["touch", "ok2.done"]
  - task_id: bad1
    command: ["sh", "-c", "sleep 0.2; touch bad1.done; exit 1"]
  - task_id: bad2
    command: ["sh", "-c", "touch bad2.done; exit 3"]

  - task_id: all_success_runs
    command: ["touch", "all_success_runs.ran"]
    dependencies: [ok1, ok2]
  - task_id: all_success_blocked
    command: ["touch", "all_success_blocked.ran"]
    dependencies: [ok1, bad1]
    trigger_rule: all_success

  - task_id: all_done_runs
    command: ["sh", "-c", "test -e bad1.done && touch all_done_runs.ran"]
    dependencies: [ok1, bad1]
    trigger_rule: all_done
  - task_id: all_done_after_upstream_failed
    command: ["touch", "all_done_after_upstream_failed.ran"]
    dependencies: [all_success_blocked]
    trigger_rule: all_done

  - task_id: one_success_runs
    command: ["touch", "one_success_runs.ran"]
    dependencies: [ok1, bad1]
    trigger_rule: one_success
  - task_id: one_success_blocked
    command: ["touch", "one_success_blocked.ran"]
    dependencies: [bad1, bad2]
    trigger_rule: one_success

  - task_id: none_failed_runs
    command: ["touch", "none_failed_runs.ran"]
    dependencies: [ok1, ok2]
    trigger_rule: none_failed
  - task_id: none_failed_blocked
    command: ["touch", "none_failed_blocked.ran"]
    dependencies: [ok1, bad1]
    trigger_rule: none_failed

  - task_id: all_failed_runs
    command: ["touch", "all_failed_runs.ran"]
    dependencies: [bad1, bad2]
    trigger_rule: all_failed
  - task_id: all_failed_skipped
    command: ["touch", "all_failed_skipped.ran"]
    dependencies: [ok1, ok2]
    trigger_rule: all_failed

  - task_id: none_failed_after_skipped
    command: ["touch", "none_failed_after_skipped.ran"]
    dependencies: [ok1, all_failed_skipped]
    trigger_rule: none_failed
EOF
pw_run triggers "$T/triggers.yaml"
check_eq "$RC" 1 "DAG with failed tasks: pitwall exits 1"

expect() { # TASK STATUS
	local task=$1 want=$2
	check_eq "$(rj "t(\"$task\")[\"status\"]")" "$want" "$task: $want"
	if [[ $want == success ]]; then
		check "$task: ran" test -e "$WS/$task.ran"
	else
		check "$task: did not run" test ! -e "$WS/$task.ran"
		check_eq "$(rj "t(\"$task\")[\"attempts\"]")" 0 "$task: 0 attempts"
	fi
}
expect all_success_runs success
expect all_success_blocked upstream_failed
expect all_done_runs success
expect all_done_after_upstream_failed success
expect one_success_runs success
expect one_success_blocked upstream_failed
expect none_failed_runs success
expect none_failed_blocked upstream_failed
expect all_failed_runs success
expect all_failed_skipped skipped
expect none_failed_after_skipped success
check_match "$(cat "$OUT")" 'all_failed_skipped +skipped' "summary shows all_failed_skipped skipped"
((PW_FAIL == 0)) || pw_show

# A run whose only non-success is a task skipped by its trigger rule is a
# success (docs/cli.md: exit 0).
cat >"$T/skiponly.yaml" <<EOF
dag_id: skiponly
tasks:
  - task_id: ok
    command: ["true"]
  - task_id: cleanup_on_failure
    command: ["touch", "cleanup_on_failure.ran"]
    dependencies: [ok]
    trigger_rule: all_failed
EOF
f0=$PW_FAIL
pw_run skiponly "$T/skiponly.yaml"
check_eq "$RC" 0 "only a trigger-rule skip: pitwall exits 0"
expect cleanup_on_failure skipped
check_eq "$(rj 'd["status"]')" success "run.json status success"
((PW_FAIL == f0)) || pw_show

pw_done
