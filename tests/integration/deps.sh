#!/usr/bin/env bash
# Dependencies with real processes: upstream_failed propagates down a chain
# while an independent branch succeeds; a failing optional dependency does
# not block its dependent.
source "$(dirname "$0")/lib.bash"
pw_setup

# --- chain + independent branch ------------------------------------------
cat >"$T/chain.yaml" <<EOF
dag_id: chain
tasks:
  - task_id: a
    command: ["sh", "-c", "touch a.ran; exit 1"]
  - task_id: b
    command: ["touch", "b.ran"]
    dependencies: [a]
  - task_id: c
    command: ["touch", "c.ran"]
    dependencies: [b]
  - task_id: d
    command: ["touch", "d.ran"]
    dependencies: [c]
  - task_id: x
    command: ["touch", "x.ran"]
  - task_id: y
    command: ["touch", "y.ran"]
    dependencies: [x]
  - task_id: z
    command: ["touch", "z.ran"]
    dependencies: [y]
EOF
pw_run chain "$T/chain.yaml"
check_eq "$RC" 1 "a failed task makes pitwall exit 1"
check_eq "$(rj 't("a")["status"]')" failed "a: failed"
check_eq "$(rj 't("a")["exit_code"]')" 1 "a: exit_code 1"
for task in b c d; do
	check_eq "$(rj "t(\"$task\")[\"status\"]")" upstream_failed "$task: upstream_failed"
	check_eq "$(rj "t(\"$task\")[\"attempts\"]")" 0 "$task: 0 attempts"
	check "$task: never ran" test ! -e "$WS/$task.ran"
done
for task in x y z; do
	check_eq "$(rj "t(\"$task\")[\"status\"]")" success "independent branch $task: success"
	check "independent branch $task: ran" test -e "$WS/$task.ran"
done
check_eq "$(rj '[x["task_id"] for x in d["tasks"]]')" '["a", "b", "c", "d", "x", "y", "z"]' \
	"run.json lists tasks in file order"
check_eq "$(rj 'd["status"]')" failed "run.json status failed"
check_eq "$(rj 'd["exit_code"]')" 1 "run.json exit_code 1"
check_match "$(cat "$OUT")" 'd +upstream_failed +0 ' "summary: d upstream_failed, 0 attempts"
check_match "$(cat "$OUT")" 'failed \(3 succeeded, 1 failed, 3 upstream_failed\)' \
	"summary line counts 3 succeeded, 1 failed, 3 upstream_failed"
((PW_FAIL == 0)) || pw_show

# --- optional dependency ----------------------------------------------------
# Syntax of an optional dependency: see tests/dags or docs (the parser owns it).
cat >"$T/optional.yaml" <<EOF
dag_id: optional
tasks:
  - task_id: req
    command: ["touch", "req.ran"]
  - task_id: opt
    command: ["sh", "-c", "sleep 0.3; touch opt.done; exit 1"]
  - task_id: consumer
    command: ["sh", "-c", "test -e opt.done && touch consumer.ran"]
    dependencies: [req]
    optional_dependencies: [opt]
  - task_id: strict
    command: ["touch", "strict.ran"]
    dependencies: [req, opt]
EOF
f0=$PW_FAIL
pw_run optional "$T/optional.yaml"
check_eq "$RC" 1 "the failed optional task still makes the run exit 1"
check_eq "$(rj 't("opt")["status"]')" failed "opt: failed"
check_eq "$(rj 't("consumer")["status"]')" success "consumer with a failed optional dep: success"
check "consumer ran, after opt had finished" test -e "$WS/consumer.ran"
check_eq "$(rj 't("strict")["status"]')" upstream_failed "same dep as required: upstream_failed"
check "strict did not run" test ! -e "$WS/strict.ran"
((PW_FAIL == f0)) || pw_show

pw_done
