#!/usr/bin/env bash
# executor: slurm, ending a job from pitwall's side: a task past its timeout
# has its job cancelled (scancel through slurmrestd: the job is gone from the
# queue, CANCELLED, and the attempt is a timeout), and SIGTERM to pitwall
# cancels every job it has running before it exits.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_slurm.bash"
pw_setup
PWPID=
# shellcheck disable=SC2154
trap '__rc=$?; set +e; [[ -n $PWPID ]] && kill -KILL "$PWPID" 2>/dev/null; slurm_teardown; (exit $__rc); pw_cleanup' EXIT
slurm_setup
cd "$T"

cat >"$T/timeout.yaml" <<'YAML'
dag_id: slurm_timeout
executor: slurm
kill_grace: 5s
tasks:
  - task_id: slow
    shell: "echo started; sleep 300; echo never"
    timeout: 2s
    retries: 0
  - task_id: after
    command: ["true"]
    dependencies: [slow]
YAML

start=$SECONDS
pw_run to "$T/timeout.yaml" --run-id to1
el=$((SECONDS - start))
check_eq "$RC" 1 "a run whose task timed out exits 1"
check_eq "$(rj 't("slow")["status"]')" timeout "the task's status is timeout"
check_eq "$(rj 'a("slow",1)["class"]')" network_timeout "... class network_timeout (as a local timeout)"
check_eq "$(rj 't("after")["status"]')" upstream_failed "its dependent did not run"
check_le "$el" 12 "the run ended soon after the timeout (${el} s)"
slurm_audit_rows to1 >"$T/to.rows"
job=$(sq "$T/to.rows" 'md(of("task_start","slow")[0])["slurm"]["job_id"]')
check_match "$job" '^[0-9]+$' "the timed-out attempt's Slurm job is recorded ($job)"
check_eq "$(slurm_job_state "$job")" CANCELLED "squeue: the job was cancelled"
check_eq "$(squeue -h -t pending,running -o %i | wc -l)" 0 "nothing of it is left queued or running"
check_eq "$(sq "$T/to.rows" 'md(of("task_end","slow")[0])["slurm"]["state"]')" CANCELLED \
	"task_end records the job's final state"
check_match "$(cat "$WS/logs/slow.1.log")" "started" "the job's output is in the attempt's log"

# --- SIGTERM to pitwall cancels its running jobs -------------------------
cat >"$T/term.yaml" <<'YAML'
dag_id: slurm_term
executor: slurm
kill_grace: 5s
tasks:
  - task_id: a
    shell: "sleep 300"
  - task_id: b
    shell: "sleep 300"
YAML
"$PITWALL" run "$T/term.yaml" --workspace "$T/term" --run-id term1 --log-format json \
	>"$T/term.out" 2>"$T/term.err" </dev/null &
PWPID=$!
for _ in $(seq 200); do
	[[ $(squeue -h -t running -n slurm_term.a,slurm_term.b -o %i | wc -l) == 2 ]] && break
	sleep 0.05
done
check_eq "$(squeue -h -t running -n slurm_term.a,slurm_term.b -o %i | wc -l)" 2 "both jobs are running"
kill -TERM "$PWPID"
rc=0
wait "$PWPID" || rc=$?
PWPID=
check_eq "$rc" 143 "pitwall exits 128+SIGTERM"
check_eq "$(squeue -h -t pending,running -n slurm_term.a,slurm_term.b -o %i | wc -l)" 0 \
	"after SIGTERM no job of the run is left running"
check_eq "$(squeue -h -t all -n slurm_term.a,slurm_term.b -o %T | sort -u)" CANCELLED \
	"both jobs were cancelled"
check_eq "$(rj 'sorted(x["status"] for x in d["tasks"])' "$T/term/run.json")" '["cancelled", "cancelled"]' \
	"both tasks are recorded as cancelled"
((PW_FAIL == 0)) || pw_show
pw_done
