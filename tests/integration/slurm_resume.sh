#!/usr/bin/env bash
# executor: slurm survives a restart of pitwall: kill -9 pitwall while a job
# runs, and `pitwall resume` re-attaches to that job (found by the job id the
# audit recorded; never resubmitted), waits for it, and finishes the run.  A
# job that ended while pitwall was down has its final state recorded, and is
# not run again either.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_slurm.bash"
pw_setup
PWPID=
# shellcheck disable=SC2154
trap '__rc=$?; set +e; [[ -n $PWPID ]] && kill -KILL "$PWPID" 2>/dev/null; slurm_teardown; (exit $__rc); pw_cleanup' EXIT
slurm_setup
cd "$T"
export PW_SLURM_FLAG=$T/hold.flag

cat >"$T/resume.yaml" <<'YAML'
dag_id: slurm_resume
executor: slurm
tasks:
  - task_id: first
    shell: "echo one > one.txt"
    outputs: [one.txt]
  # Holds while the flag file exists (its name comes through the environment).
  - task_id: long
    shell: 'while [ -e "$PW_SLURM_FLAG" ]; do sleep 0.1; done; echo two > two.txt'
    dependencies: [first]
    outputs: [two.txt]
  - task_id: last
    shell: "cat one.txt two.txt > all.txt"
    dependencies: [long]
    outputs: [all.txt]
YAML

# start_and_kill RUN: run the DAG, wait until long's job runs and is recorded, kill -9 pitwall.
start_and_kill() {
	touch "$PW_SLURM_FLAG"
	"$PITWALL" run "$T/resume.yaml" --workspace "$T/$1" --run-id "$1" --log-format json \
		>"$T/$1.out" 2>"$T/$1.err" </dev/null &
	PWPID=$!
	JOB=
	for _ in $(seq 300); do
		JOB=$(squeue -h -t running -n slurm_resume.long -o %i | sort -n | tail -n 1)
		if [[ -n $JOB ]] && "$PITWALL" status "$1" 2>/dev/null | grep -Eq '^long +running'; then
			break
		fi
		sleep 0.05
	done
	kill -KILL "$PWPID"
	wait "$PWPID" 2>/dev/null || true
	PWPID=
}

# --- re-attach to a running job ------------------------------------------------
start_and_kill rs1
check_match "$JOB" '^[0-9]+$' "long runs as Slurm job $JOB when pitwall is killed"
check_eq "$(slurm_job_state "$JOB")" RUNNING "the job outlives pitwall"
pw_cmd status rs1
check_match "$(head -n 1 "$OUT")" "interrupted" "status shows the run as interrupted"

"$PITWALL" resume rs1 --log-format json >"$T/resume1.out" 2>"$T/resume1.err" </dev/null &
PWPID=$!
for _ in $(seq 200); do
	grep -q "re-attaching" "$T/resume1.err" && break
	sleep 0.05
done
check_match "$(cat "$T/resume1.err")" "task long: re-attaching to Slurm job $JOB \\(attempt 1, RUNNING on localhost\\)" \
	"resume re-attaches to the running job"
sleep 0.3
check_eq "$(slurm_job_state "$JOB")" RUNNING "the job is still running under the resumed pitwall"
rm -f "$PW_SLURM_FLAG"
rc=0
wait "$PWPID" || rc=$?
PWPID=
check_eq "$rc" 0 "resume finishes the run"
check_eq "$(slurm_jobs_of slurm_resume.long | tr '\n' ' ')" "$JOB " "long was never resubmitted: one job, $JOB"
check_eq "$(slurm_jobs_of slurm_resume.first | wc -l)" 1 "first (done before the kill) did not run again"
check_eq "$(cat "$T/rs1/all.txt" 2>&1 | tr '\n' ' ')" "one two " "last ran after the adopted job and saw its output"
slurm_audit_rows rs1 >"$T/rs1.rows"
check_eq "$(sq "$T/rs1.rows" '[md(r)["slurm"]["job_id"] for r in of("task_start","long")]')" "[$JOB, $JOB]" \
	"the audit shows the same job id before and after the resume"
check_eq "$(sq "$T/rs1.rows" '[md(r).get("adopted", False) for r in of("task_start","long")]')" "[false, true]" \
	"... the second task_start marked adopted"
check_eq "$(sq "$T/rs1.rows" '[md(r)["attempt"] for r in of("task_start","long")]')" "[1, 1]" \
	"... as the same attempt"
check_eq "$(sq "$T/rs1.rows" 'md(of("task_end","long")[0])["slurm"]["state"]')" COMPLETED \
	"task_end records the job COMPLETED"
pw_cmd status rs1
check_match "$(head -n 1 "$OUT")" "success" "status after resume: success"
pw_cmd audit verify
check_eq "$RC" 0 "audit verify: chain intact after kill -9 and resume"

# --- the job ended while pitwall was down -----------------------------------------
start_and_kill rs2
check_match "$JOB" '^[0-9]+$' "second run: long runs as job $JOB when pitwall is killed"
rm -f "$PW_SLURM_FLAG"
for _ in $(seq 100); do
	[[ $(slurm_job_state "$JOB") == COMPLETED ]] && break
	sleep 0.05
done
check_eq "$(slurm_job_state "$JOB")" COMPLETED "... and completes while pitwall is down"
rp_rc=0
timeout 60 "$PITWALL" resume rs2 >"$T/resume2.out" 2>"$T/resume2.err" </dev/null || rp_rc=$?
check_eq "$rp_rc" 0 "resume of the second run succeeds"
check_match "$(cat "$T/resume2.err")" "re-attaching to Slurm job $JOB \\(attempt 1, COMPLETED" \
	"resume takes the finished job's final state"
check_eq "$(slurm_jobs_of slurm_resume.long | wc -l)" 2 "long ran once per run (no resubmission)"
check_eq "$(cat "$T/rs2/all.txt" 2>&1 | tr '\n' ' ')" "one two " "the second run completes"
((PW_FAIL == 0)) || { tail -n 20 "$T"/resume*.err "$T"/rs1.err | sed 's/^/#   /'; }
pw_done
