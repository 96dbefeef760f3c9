#!/usr/bin/env bash
# memory_limit with real processes: a task that allocates and touches
# 512 MiB under a 64 MiB limit is killed by the OOM killer inside its own
# cgroup, recognised as status oom (class out_of_memory), not retried even
# with retries: 3, and recorded so in the audit.  A task under its limit
# succeeds with its peak memory measured.  With cgroups switched off
# (PITWALL_LIMITS=rlimit) the limit falls back to RLIMIT_AS.
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_limits.bash"
limits_need memory
H=$PW_HELPERS
STORE=sqlite:$T/audit.db
echo "# memory limits via $LIMITS_VIA"

cat >"$T/mem.yaml" <<YAML
dag_id: limits_memory
tasks:
  - task_id: hog
    command: ["$H/pw_memhog", "512"]
    retries: 3
    retry_delay: 10ms
    resources: {memory_limit: 64Mi}
  - task_id: after_hog
    command: ["true"]
    dependencies: [hog]
  - task_id: fits
    command: ["$H/pw_memhog", "24", "200"]
    resources: {memory_limit: 64Mi}
  - task_id: widened
    command: ["$H/pw_memhog", "512"]
    retries: 1
    retry_on: [out_of_memory]
    resources: {memory_limit: 48Mi}
YAML
pw_run mem "$T/mem.yaml" --store "$STORE"
check_eq "$RC" 1 "an OOM-killed task makes the run fail (exit 1)"
check_eq "$(rj 't("hog")["status"]')" oom "hog: status oom"
check_eq "$(rj 't("hog")["attempts"]')" 1 "hog: 1 attempt although retries: 3 (out_of_memory is not retried)"
check_eq "$(rj 'a("hog",1)["class"]')" out_of_memory "hog: class out_of_memory"
check_eq "$(rj 'a("hog",1)["signal"]')" 9 "hog: killed by SIGKILL (the OOM killer)"
hog_ms=$(rj 'a("hog",1)["duration_ms"]')
echo "# OOM kill recognised $hog_ms ms after the attempt started"
check_le "$hog_ms" 10000 "the OOM kill ends the attempt at once (${hog_ms} ms)"
check_nomatch "$(cat "$WS/logs/hog.1.log")" 'allocated' "hog never got its 512 MiB"
peak=$(rj 'a("hog",1)["memory_peak_bytes"]')
check_le "$peak" $((64 << 20)) "hog's measured peak stays within the limit ($peak bytes)"
check_eq "$(rj 't("after_hog")["status"]')" upstream_failed "a dependent of the OOM-killed task: upstream_failed"
check_eq "$(rj 't("fits")["status"]')" success "a task under its limit succeeds"
fpeak=$(rj 'a("fits",1)["memory_peak_bytes"]')
check "fits: peak memory measured between 24 and 64 MiB ($fpeak bytes)" \
	test "$fpeak" -ge $((24 << 20)) -a "$fpeak" -le $((64 << 20))
check_eq "$(rj 't("widened")["attempts"]')" 2 "retry_on: [out_of_memory] widens the default: 2 attempts"
check_eq "$(rj 't("widened")["status"]')" oom "widened: still oom in the end"

# The audit record.
rows=$(audit_rows "$STORE" --task hog --event task_end)
check_eq "$(jrows '[r["status"] for r in rows]' <<<"$rows")" '["oom"]' "audit: one task_end for hog, status oom"
check_eq "$(jrows 'rows[0]["metadata"]["class"]' <<<"$rows")" out_of_memory "audit: task_end class out_of_memory"
start=$(audit_rows "$STORE" --task hog --event task_start)
check_match "$(jrows 'rows[0]["metadata"]["limits"]["memory"]' <<<"$start")" '^cgroup v[12]$' \
	"audit: task_start records how the limit was enforced"
# Every cgroup the attempts used is gone once the run is over.
left=$(jrows '[d for r in rows for d in r["metadata"]["limits"]["cgroups"]]' \
	<<<"$(audit_rows "$STORE" --event task_start)" | python3 -c '
import json, os, sys
print(" ".join(d for d in json.load(sys.stdin) if os.path.exists(d)))')
check_eq "$left" "" "the attempts' cgroups are removed after the run"
check_eq "$("$PITWALL" audit verify --store "$STORE" >/dev/null 2>&1; echo $?)" 0 "the audit chain verifies"
((PW_FAIL == 0)) || pw_show

# --- fallback: no cgroups, RLIMIT_AS ------------------------------------------
cat >"$T/rl.yaml" <<YAML
dag_id: limits_rlimit
tasks:
  - task_id: hog
    command: ["$H/pw_memhog", "512"]
    retries: 2
    resources: {memory_limit: 64Mi}
YAML
f0=$PW_FAIL
PITWALL_LIMITS=rlimit pw_run rl "$T/rl.yaml" --no-store
check_eq "$(rj 't("hog")["status"]')" failed "rlimit fallback: the allocation fails inside the task (status failed)"
check_match "$(cat "$WS/logs/hog.1.log")" 'malloc failed at [0-9]+ MiB' "rlimit fallback: malloc failed below 64 MiB"
check_match "$(events "$ERR" '[e["metadata"]["limits"]["memory"] for e in evs if e["event_type"] == "task_start"][0]')" \
	'^rlimit$' "rlimit fallback: task_start says memory via rlimit"
((PW_FAIL == f0)) || pw_show
pw_done
