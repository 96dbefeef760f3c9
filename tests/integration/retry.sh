#!/usr/bin/env bash
# Retries with real processes: retry then success (one log per attempt),
# retries exhausted with backoff, exit 65 not retried, no_retry_on narrowing,
# retry_on widening (class name and plain exit code).
source "$(dirname "$0")/lib.bash"
pw_setup
H=$PW_HELPERS

# --- retry then success -------------------------------------------------
cat >"$T/flaky.yaml" <<EOF
dag_id: retry_flaky
tasks:
  - task_id: flaky
    command: ["$H/pw_flaky", "75", "2", "$T/flaky.count"]
    retries: 3
    retry_delay: 50ms
EOF
pw_run flaky "$T/flaky.yaml"
f0=$PW_FAIL
check_eq "$RC" 0 "retry then success: pitwall exits 0"
check_eq "$(rj 't("flaky")["status"]')" success "flaky ends success"
check_eq "$(rj 't("flaky")["attempts"]')" 2 "flaky took 2 attempts (run.json)"
check_eq "$(count_lines "$T/flaky.count")" 2 "flaky really ran twice (measured)"
check_eq "$(tr '\n' ' ' <"$T/flaky.count" 2>/dev/null)" "attempt=1 attempt=2 " \
	"PITWALL_ATTEMPT was 1 then 2"
check_eq "$(rj '[x["status"] for x in t("flaky")["attempt_log"]]')" '["failed", "success"]' \
	"attempt_log: failed then success"
check_eq "$(rj 'a("flaky",1)["exit_code"]')" 75 "attempt 1 exit_code 75"
check_eq "$(rj 'a("flaky",1)["class"]')" transient_error "attempt 1 class transient_error"
check_eq "$(rj 'a("flaky",1)["log"]')" logs/flaky.1.log "attempt 1 log path in run.json"
check_eq "$(rj 'a("flaky",2)["log"]')" logs/flaky.2.log "attempt 2 log path in run.json"
check_match "$(cat "$WS/logs/flaky.1.log" 2>&1)" \
	'pw_flaky stdout attempt=1' "logs/flaky.1.log has attempt 1's stdout"
check_match "$(cat "$WS/logs/flaky.1.log" 2>&1)" \
	'pw_flaky stderr attempt=1' "logs/flaky.1.log has attempt 1's stderr"
check_match "$(cat "$WS/logs/flaky.2.log" 2>&1)" \
	'pw_flaky stdout attempt=2' "logs/flaky.2.log has attempt 2's output"
check_nomatch "$(cat "$WS/logs/flaky.2.log" 2>&1)" 'attempt=1' \
	"logs/flaky.2.log does not contain attempt 1's output"
check_match "$(grep '"task_retry"' "$ERR" || true)" '"task_id": ?"flaky"' \
	"a task_retry event for flaky on stderr"
check_match "$(cat "$OUT")" 'flaky +success +2 ' "summary shows flaky success with 2 attempts"
((PW_FAIL == f0)) || pw_show

# --- retries exhausted with backoff ---------------------------------------
cat >"$T/always.yaml" <<EOF
dag_id: retry_always
tasks:
  - task_id: always
    command: ["$H/pw_flaky", "75", "0", "$T/always.count"]
    retries: 2
    retry_delay: 100ms
EOF
f0=$PW_FAIL
start=$(date +%s%N)
pw_run always "$T/always.yaml"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 1 "retries exhausted: pitwall exits 1"
check_eq "$(rj 't("always")["status"]')" failed "always ends failed"
check_eq "$(rj 't("always")["attempts"]')" 3 "retries: 2 gives 3 attempts (run.json)"
check_eq "$(count_lines "$T/always.count")" 3 "the task really ran 3 times (measured)"
check_eq "$(rj 't("always")["exit_code"]')" 75 "task exit_code is the last attempt's 75"
check "logs/always.{1,2,3}.log exist" test -f "$WS/logs/always.1.log" -a \
	-f "$WS/logs/always.2.log" -a -f "$WS/logs/always.3.log"
check_eq "$(grep -c '"event_type": \?"task_retry"' "$ERR" || true)" 2 "2 task_retry events"
delays=$(events "$ERR" '" ".join(str(e["metadata"].get("delay_ms")) for e in evs if e["event_type"] == "task_retry")')
check_match "$delays" '^[0-9]+ [0-9]+$' "task_retry events carry delay_ms ($delays)"
check_le "$elapsed_ms" 8000 "3 attempts with 100ms backoff finish quickly (${elapsed_ms} ms)"
((PW_FAIL == f0)) || pw_show

# --- exponential backoff without jitter: 100 ms, then 200 ms -----------------
cat >"$T/backoff.yaml" <<EOF
dag_id: retry_backoff
retry_jitter: 0
retry_backoff: 2
tasks:
  - task_id: backoff
    command: ["$H/pw_flaky", "75", "0"]
    retries: 2
    retry_delay: 100ms
EOF
f0=$PW_FAIL
pw_run backoff "$T/backoff.yaml"
check_eq "$(rj 't("backoff")["attempts"]')" 3 "backoff: 3 attempts"
check_eq "$(events "$ERR" '[e["metadata"].get("delay_ms") for e in evs if e["event_type"] == "task_retry"]')" \
	"[100, 200]" "retry_backoff 2, no jitter: task_retry delay_ms 100 then 200"
# The waits really happened: gap between an attempt's task_end and the next
# task_start is at least the delay (a lower bound cannot be flaky).
gaps=$(events "$ERR" '[round(ms(start(n + 1)) - ms(end(n))) for n in (1, 2)]' 2>&1 || true)
check_match "$gaps" '^\[[0-9]+, [0-9]+\]$' "backoff: gaps between attempts measured ($gaps)"
if [[ $gaps =~ ^\[([0-9]+),\ ([0-9]+)\]$ ]]; then
	g1=${BASH_REMATCH[1]} g2=${BASH_REMATCH[2]}
	check_le 90 "$g1" "backoff: attempt 2 started ~100 ms (>= 90) after attempt 1 ended"
	check_le 180 "$g2" "backoff: attempt 3 started ~200 ms (>= 180) after attempt 2 ended"
fi
((PW_FAIL == f0)) || pw_show

# --- not retried: exit 65, no_retry_on; retried: retry_on -------------------
cat >"$T/classes.yaml" <<EOF
dag_id: retry_classes
tasks:
  - task_id: dataerr
    command: ["$H/pw_flaky", "65", "0", "$T/dataerr.count"]
    retries: 3
    retry_delay: 10ms
  - task_id: noretry
    command: ["$H/pw_flaky", "75", "0", "$T/noretry.count"]
    retries: 3
    retry_delay: 10ms
    no_retry_on: [transient_error]
  - task_id: noretry_code
    command: ["$H/pw_flaky", "75", "0", "$T/noretry_code.count"]
    retries: 3
    retry_delay: 10ms
    no_retry_on: [75]
  - task_id: widen_class
    command: ["$H/pw_flaky", "65", "3", "$T/widen_class.count"]
    retries: 3
    retry_delay: 10ms
    retry_on: [data_validation_failure]
  - task_id: widen_code
    command: ["$H/pw_flaky", "3", "2", "$T/widen_code.count"]
    retries: 3
    retry_delay: 10ms
    retry_on: [3]
  - task_id: noperm
    command: ["$H/pw_flaky", "77", "0", "$T/noperm.count"]
    retries: 3
    retry_delay: 10ms
  - task_id: config
    command: ["$H/pw_flaky", "78", "0", "$T/config.count"]
    retries: 3
    retry_delay: 10ms
  - task_id: unavailable
    command: ["$H/pw_flaky", "69", "2", "$T/unavailable.count"]
    retries: 3
    retry_delay: 10ms
  - task_id: other
    command: ["$H/pw_flaky", "1", "0", "$T/other.count"]
    retries: 0
  - task_id: preempted
    command: ["sh", "-c", "echo x >> $T/preempted.count; [ \$PITWALL_ATTEMPT -ge 2 ] || kill -KILL \$\$"]
    retries: 2
    retry_delay: 10ms
EOF
f0=$PW_FAIL
pw_run classes "$T/classes.yaml"
check_eq "$RC" 1 "classes DAG: pitwall exits 1"
check_eq "$(rj 't("dataerr")["attempts"]')/$(count_lines "$T/dataerr.count")" 1/1 \
	"exit 65 is not retried (1 attempt) despite retries: 3"
check_eq "$(rj 'a("dataerr",1)["class"]')" data_validation_failure \
	"exit 65 is classed data_validation_failure"
check_eq "$(rj 't("noretry")["attempts"]')/$(count_lines "$T/noretry.count")" 1/1 \
	"no_retry_on: [transient_error] stops retries of exit 75"
check_eq "$(rj 't("noretry_code")["attempts"]')/$(count_lines "$T/noretry_code.count")" 1/1 \
	"no_retry_on: [75] stops retries of exit 75"
check_eq "$(rj 't("widen_class")["status"]')/$(rj 't("widen_class")["attempts"]')/$(count_lines "$T/widen_class.count")" \
	success/3/3 "retry_on: [data_validation_failure] retries exit 65 until success"
check_eq "$(rj 't("widen_code")["status"]')/$(rj 't("widen_code")["attempts"]')/$(count_lines "$T/widen_code.count")" \
	success/2/2 "retry_on: [3] retries plain exit 3"
check_eq "$(rj 't("noperm")["attempts"]')/$(count_lines "$T/noperm.count")/$(rj 'a("noperm",1)["class"]')" \
	1/1/permission_denied "exit 77 (permission_denied) is not retried"
check_eq "$(rj 't("config")["attempts"]')/$(count_lines "$T/config.count")/$(rj 'a("config",1)["class"]')" \
	1/1/invalid_configuration "exit 78 (invalid_configuration) is not retried"
check_eq "$(rj 't("unavailable")["status"]')/$(rj 't("unavailable")["attempts"]')/$(rj 'a("unavailable",1)["class"]')" \
	success/2/resource_unavailable "exit 69 (resource_unavailable) is retried"
check_eq "$(rj 't("other")["attempts"]')/$(rj 't("other")["exit_code"]')" 1/1 "retries: 0 means one attempt"
check_eq "$(rj 't("preempted")["status"]')/$(rj 't("preempted")["attempts"]')/$(count_lines "$T/preempted.count")" \
	success/2/2 "a task killed by a signal pitwall did not send is retried"
check_eq "$(rj 'a("preempted",1)["signal"]')/$(rj 'a("preempted",1)["class"]')" 9/worker_preempted \
	"... its attempt records signal 9, class worker_preempted"
((PW_FAIL == f0)) || pw_show

pw_done
