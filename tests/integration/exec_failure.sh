#!/usr/bin/env bash
# Exec failures: a command that does not exist and a file that is not
# executable end `failed` with an error naming the command (run.json "error"
# and the summary), not a bare exit 127; pitwall exits 1.
source "$(dirname "$0")/lib.bash"
pw_setup

printf '#!/bin/sh\necho should not run\n' >"$T/notexec.sh"
chmod 644 "$T/notexec.sh"

cat >"$T/exec.yaml" <<EOF
dag_id: exec_failure
tasks:
  - task_id: missing_abs
    command: ["$T/no-such-dir/pw-missing-abs", "arg"]
  - task_id: missing_path
    command: ["pw-no-such-command-on-path", "arg"]
  - task_id: notexec
    command: ["$T/notexec.sh"]
  - task_id: retried
    command: ["pw-no-such-command-retried"]
    retries: 2
    retry_delay: 10ms
  - task_id: ok
    command: ["true"]
EOF
pw_run exec "$T/exec.yaml"
check_eq "$RC" 1 "exec failures make pitwall exit 1"

check_exec_failure() { # TASK COMMAND-NAME
	local task=$1 cmd=$2 err
	check_eq "$(rj "t(\"$task\")[\"status\"]")" failed "$task: status failed"
	err=$(rj "t(\"$task\")[\"error\"]")
	check_match "$err" "$cmd" "$task: run.json error names the command ($err)"
	check_nomatch "$err" '^(null|)$' "$task: run.json error is set"
	check_eq "$(rj "a(\"$task\",1)[\"error\"] is not None")" true "$task: attempt 1 has an error too"
	check_nomatch "$(rj "t(\"$task\")[\"exit_code\"]")" '^127$' "$task: not reported as a bare exit 127"
	check_match "$(grep -F "$cmd" "$OUT" || true)" . "$task: the summary names $cmd"
}
check_exec_failure missing_abs pw-missing-abs
check_exec_failure missing_path pw-no-such-command-on-path
check_exec_failure notexec notexec.sh
check_match "$(rj 't("notexec")["error"]')" '[Pp]ermission|[Ee]xecutable|EACCES' \
	"notexec: the error says why (permission / not executable)"
check_match "$(rj 't("missing_abs")["error"]')" '[Nn]o such file|[Nn]ot found|ENOENT' \
	"missing_abs: the error says why (not found)"
check_eq "$(rj 't("retried")["attempts"]')" 1 \
	"an exec failure is not retried (invalid_configuration) despite retries: 2"
check_eq "$(rj 't("ok")["status"]')" success "an independent task still succeeds"
check "no log or output of the non-executable script leaked" \
	bash -c "! grep -rqs 'should not run' '$WS/logs'"
((PW_FAIL == 0)) || pw_show

pw_done
