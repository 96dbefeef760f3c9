#!/usr/bin/env bash
# A task with limits is its cgroup, not just its process group: a
# grandchild that leaves the group with setsid() and ignores SIGTERM is
# still killed when the task times out (cgroup.kill, or every pid in
# cgroup.procs), and one left behind by a task that exited 0 is too, after
# the kill grace.  pids_limit caps the processes a task may have.
source "$(dirname "$0")/lib.bash"
pw_setup
source "$(dirname "$0")/lib_limits.bash"
limits_need memory
H=$PW_HELPERS
P=$T/pids

cat >"$T/tree.yaml" <<YAML
dag_id: limits_tree
tasks:
  - task_id: escaper
    command: ["$H/pw_ignore_term", "-s", "-t", "60", "$P", "escaper"]
    timeout: 500ms
    resources: {memory_limit: 256Mi}
  - task_id: leaves_daemon
    shell: "setsid $H/pw_ignore_term -p -t 60 $P daemon >/dev/null 2>&1 & while [ ! -e $P/daemon.gc.pid ]; do sleep 0.05; done; echo done"
    resources: {memory_limit: 256Mi}
  - task_id: forks_too_much
    shell: "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done; wait"
    resources: {pids_limit: 5}
  - task_id: forks_a_little
    shell: "for i in 1 2; do sleep 0.2 & done; wait"
    resources: {pids_limit: 5}
YAML
start=$(date +%s%N)
pw_run tree "$T/tree.yaml" --kill-grace 300ms
elapsed=$((($(date +%s%N) - start) / 1000000))
check_le "$elapsed" 15000 "the run ends soon after the timeout and grace ($elapsed ms; helpers sleep 60 s)"
check_eq "$(rj 't("escaper")["status"]')" timeout "escaper: timeout"
check "escaper's setsid grandchild recorded its pid" test -s "$P/escaper.gc.pid"
check_pid_gone "$(cat "$P/escaper.gc.pid" 2>/dev/null)" \
	"a setsid() grandchild that ignores SIGTERM is killed with its task's cgroup"
check_eq "$(rj 't("leaves_daemon")["status"]')" success "a task that leaves a daemon behind still succeeds"
check_pid_gone "$(cat "$P/daemon.pid" 2>/dev/null)" "the daemon it left (setsid, ignores SIGTERM) is gone"
check_pid_gone "$(cat "$P/daemon.gc.pid" 2>/dev/null)" "and the daemon's own child is gone"
check_eq "$(rj 't("forks_too_much")["status"]')" failed "pids_limit 5: a task forking 12 children fails"
check_match "$(cat "$WS/logs/forks_too_much.1.log")" '[Ff]ork|[Rr]esource temporarily unavailable' \
	"its log shows fork failing"
check_eq "$(rj 't("forks_a_little")["status"]')" success "pids_limit 5: a task with two children succeeds"
check_match "$(events "$ERR" '[e["metadata"]["limits"]["pids"] for e in evs if e["event_type"] == "task_start" and e["task_id"] == "forks_a_little"][0]')" \
	'^cgroup v[12]$' "task_start says pids via a cgroup"
((PW_FAIL == 0)) || pw_show
pw_done
