#!/usr/bin/env bash
# Task output capture: logs/<task>.<attempt>.log gets stdout and stderr, all
# of it even when large (the pipe is drained while the task runs), and
# many short tasks finish without leaking.
source "$(dirname "$0")/lib.bash"
pw_setup

cat >"$T/logs.yaml" <<'EOF'
dag_id: logs
tasks:
  - task_id: big
    shell: "head -c 3000000 /dev/zero | tr '\\0' x; echo; head -c 1000000 /dev/zero | tr '\\0' y >&2"
  - task_id: both
    shell: "echo to-stdout; echo to-stderr >&2"
  - task_id: stdin
    shell: "if read -r line; then echo \"read:$line\"; else echo stdin-eof; fi"
  - task_id: silent
    command: ["true"]
  - task_id: after_big
    command: ["true"]
    dependencies: [big]
EOF
echo "pitwall's own stdin" >"$T/stdin.txt"
PW_STDIN=$T/stdin.txt pw_run logs "$T/logs.yaml"
check_eq "$RC" 0 "logs DAG: pitwall exits 0"
L=$WS/logs
check_eq "$(tr -cd x <"$L/big.1.log" 2>/dev/null | wc -c | tr -d ' ')" 3000000 \
	"3 MB of stdout captured completely"
check_eq "$(tr -cd y <"$L/big.1.log" 2>/dev/null | wc -c | tr -d ' ')" 1000000 \
	"1 MB of stderr captured completely"
check_match "$(cat "$L/both.1.log" 2>&1)" 'to-stdout' "stdout in the log"
check_match "$(cat "$L/both.1.log" 2>&1)" 'to-stderr' "stderr in the same log"
echo "# info: a task reading stdin (pitwall's stdin is a file) got: $(cat "$L/stdin.1.log" 2>&1)"
check "a silent task still gets its (empty) log file" test -f "$L/silent.1.log"
check_eq "$(rj 't("after_big")["status"]')" success "the dependent of the big-output task ran"
((PW_FAIL == 0)) || pw_show

# Many short tasks: no fd or process leak stalls the loop.
f0=$PW_FAIL
{
	echo "dag_id: many"
	echo "tasks:"
	for i in $(seq 1 300); do
		echo "  - task_id: t$i"
		echo "    command: [\"true\"]"
		((i > 1)) && ((i % 3 == 0)) && echo "    dependencies: [t$((i - 1))]"
	done
} >"$T/many.yaml"
start=$(date +%s%N)
pw_run many "$T/many.yaml" -j 4
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 0 "300 short tasks: pitwall exits 0"
check_eq "$(rj 'sum(1 for x in d["tasks"] if x["status"] == "success")')" 300 "300 short tasks succeed"
check_eq "$(find "$WS/logs" -name '*.log' | wc -l | tr -d ' ')" 300 "300 log files"
check_le "$elapsed_ms" 10000 "300 short tasks finish quickly (${elapsed_ms} ms)"
((PW_FAIL == f0)) || pw_show

pw_done
