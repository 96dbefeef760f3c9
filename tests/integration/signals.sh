#!/usr/bin/env bash
# SIGTERM / SIGINT to pitwall: exit 143 / 130, every task and grandchild
# (some ignore SIGTERM) is gone afterwards, and the tasks show cancelled in
# run.json, the running ones and the ones that never started.
source "$(dirname "$0")/lib.bash"
pw_setup
H=$PW_HELPERS

run_and_signal() { # SIG WANT_RC
	local sig=$1 want=$2 name=sig$1
	local P=$T/pids/$name
	mkdir -p "$P"
	cat >"$T/$name.yaml" <<EOF
dag_id: signals_$name
tasks:
  - task_id: long1
    command: ["$H/pw_ignore_term", "-t", "60", "$P", "long1"]
  - task_id: long2
    command: ["$H/pw_ignore_term", "-p", "-t", "60", "$P", "long2"]
  - task_id: long3
    command: ["$H/pw_ignore_term", "-t", "60", "$P", "long3"]
  - task_id: queued
    command: ["touch", "queued.ran"]
  - task_id: downstream
    command: ["touch", "downstream.ran"]
    dependencies: [long1]
EOF
	WS=$T/$name
	RJ=$WS/run.json
	OUT=$T/$name.stdout
	ERR=$T/$name.stderr
	local start elapsed_ms result
	start=$(date +%s%N)
	result=$(timeout -k 5 60 "$H/pw_sigrun" -o "$OUT" -e "$ERR" "$sig" 10000 \
		"$P/long1.pid" "$P/long1.gc.pid" "$P/long2.pid" "$P/long2.gc.pid" \
		"$P/long3.pid" "$P/long3.gc.pid" -- \
		"$PITWALL" run "$T/$name.yaml" --workspace "$WS" --log-format json \
		-j 3 --kill-grace 300ms) || true
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	check_eq "$result" "exit $want" "SIG$sig: pitwall exits $want (not killed by the signal)"
	check_le "$elapsed_ms" 8000 "SIG$sig: pitwall ends soon after the signal (${elapsed_ms} ms, tasks sleep 60 s)"
	local f task
	for f in "$P"/*.pid; do
		[[ -f $f ]] || continue
		check_pid_gone "$(<"$f")" "SIG$sig: $(basename "$f" .pid) is gone (kill -0 fails)"
	done
	for task in long1 long2 long3; do
		check_eq "$(rj "t(\"$task\")[\"status\"]")" cancelled "SIG$sig: running $task: cancelled"
	done
	for task in queued downstream; do
		check_eq "$(rj "t(\"$task\")[\"status\"]")" cancelled "SIG$sig: never-started $task: cancelled"
		check "SIG$sig: $task never ran" test ! -e "$WS/$task.ran"
	done
	check_eq "$(rj 'd["exit_code"]')" "$want" "SIG$sig: run.json exit_code $want"
	check_match "$(grep dag_run_end "$ERR" || true)" dag_run_end "SIG$sig: a dag_run_end event is still emitted"
}

run_and_signal TERM 143
((PW_FAIL == 0)) || pw_show
f0=$PW_FAIL
run_and_signal INT 130
((PW_FAIL == f0)) || pw_show

# SIGTERM while a task waits out its retry backoff (nothing is running): the
# wait is cut short, the task is cancelled after 1 attempt, exit 143.
f0=$PW_FAIL
cat >"$T/backoff.yaml" <<EOF
dag_id: signals_backoff
retry_jitter: 0
tasks:
  - task_id: waiting
    command: ["$H/pw_flaky", "75", "0", "$T/backoff.count"]
    retries: 3
    retry_delay: 30s
EOF
WS=$T/backoff RJ=$T/backoff/run.json OUT=$T/backoff.stdout ERR=$T/backoff.stderr
start=$(date +%s%N)
result=$(timeout -k 5 60 "$H/pw_sigrun" -o "$OUT" -e "$ERR" TERM 10000 "$T/backoff.count" -- \
	"$PITWALL" run "$T/backoff.yaml" --workspace "$WS" --log-format json) || true
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$result" "exit 143" "SIGTERM during a retry backoff: exit 143"
check_le "$elapsed_ms" 8000 "... without waiting out the 30 s backoff (${elapsed_ms} ms)"
check_eq "$(rj 't("waiting")["status"]')/$(rj 't("waiting")["attempts"]')" cancelled/1 \
	"... the waiting task is cancelled after 1 attempt"
((PW_FAIL == f0)) || pw_show

pw_done
