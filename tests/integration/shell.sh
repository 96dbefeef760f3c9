#!/usr/bin/env bash
# `shell:` is the explicit opt-in to a shell; a `command:` argv is run
# without one, so `;`, `$(...)`, `|`, backticks and globs stay literal.
source "$(dirname "$0")/lib.bash"
pw_setup

cat >"$T/shell.yaml" <<'EOF'
dag_id: shell
tasks:
  - task_id: piped
    shell: "echo a | tr a b > out.txt"
  - task_id: shell_env
    shell: "echo \"$PITWALL_TASK_ID:{{ run_id }}\" > shell_env.txt"
  - task_id: semicolon
    command: ["echo", "hello; touch injected_semicolon"]
  - task_id: subst
    command: ["echo", "$(touch injected_subst)", "`touch injected_backtick`"]
  - task_id: pipe
    command: ["echo", "x | touch injected_pipe", "&& touch injected_and"]
  - task_id: glob
    command: ["echo", "*"]
  - task_id: dollar_env
    command: ["echo", "$HOME"]
EOF
pw_run shell "$T/shell.yaml" --run-id r1
check_eq "$RC" 0 "shell DAG: pitwall exits 0"
check_eq "$(cat "$WS/out.txt" 2>&1)" b "shell: \"echo a | tr a b > out.txt\" wrote b"
check_eq "$(cat "$WS/shell_env.txt" 2>&1)" "shell_env:r1" \
	"shell: sees the task env and placeholders"
for f in injected_semicolon injected_subst injected_backtick injected_pipe injected_and; do
	check "no shell injection: $f was not created" test ! -e "$WS/$f"
done
check_eq "$(cat "$WS/logs/semicolon.1.log" 2>&1)" "hello; touch injected_semicolon" \
	"argv with ';' is passed literally"
check_eq "$(cat "$WS/logs/subst.1.log" 2>&1)" '$(touch injected_subst) `touch injected_backtick`' \
	'argv with $(...) and backticks is passed literally'
check_eq "$(cat "$WS/logs/pipe.1.log" 2>&1)" 'x | touch injected_pipe && touch injected_and' \
	"argv with '|' and '&&' is passed literally"
check_eq "$(cat "$WS/logs/glob.1.log" 2>&1)" '*' "argv '*' is not globbed"
check_eq "$(cat "$WS/logs/dollar_env.1.log" 2>&1)" '$HOME' "argv \$HOME is not expanded"
((PW_FAIL == 0)) || pw_show

# A placeholder value with shell syntax stays one literal argument.  (A run
# id with ';' may also be refused as a usage error; that is fine too.)
cat >"$T/runid.yaml" <<'EOF'
dag_id: runid
tasks:
  - task_id: echo
    command: ["echo", "{{ run_id }}"]
EOF
f0=$PW_FAIL
pw_run runid "$T/runid.yaml" --run-id 'r2;touch injected_runid'
if ((RC == 64 || RC == 2)); then
	pw_ok "a run id with ';' is refused (exit $RC)"
else
	check_eq "$RC" 0 "a run id with ';': pitwall exits 0"
	check_eq "$(cat "$WS/logs/echo.1.log" 2>&1)" "r2;touch injected_runid" \
		"a placeholder whose value has ';' stays one literal argument"
fi
check "no injection through the run id" test ! -e "$WS/injected_runid" -a ! -e "$T/injected_runid"
((PW_FAIL == f0)) || pw_show

pw_done
