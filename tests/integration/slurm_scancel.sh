#!/usr/bin/env bash
# executor: slurm, a job ended by someone else: `scancel` of a running job
# (an operator, a preemption) is not the task's failure but its worker's:
# the attempt fails as worker_preempted, is retried as a new job, and the
# run succeeds.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_slurm.bash"
pw_setup
PWPID=
# shellcheck disable=SC2154
trap '__rc=$?; set +e; [[ -n $PWPID ]] && kill -KILL "$PWPID" 2>/dev/null; slurm_teardown; (exit $__rc); pw_cleanup' EXIT
slurm_setup
cd "$T"

cat >"$T/victim.yaml" <<'YAML'
dag_id: slurm_scancel
executor: slurm
tasks:
  - task_id: victim
    # The first attempt waits to be cancelled; the retry finishes at once.
    shell: |
      echo "attempt $PITWALL_ATTEMPT on $(hostname)"
      if [ "$PITWALL_ATTEMPT" -lt 2 ]; then sleep 300; fi
      echo done > victim.txt
    retries: 2
    retry_delay: 100ms
    outputs: [victim.txt]
YAML

"$PITWALL" run "$T/victim.yaml" --workspace "$T/ws" --run-id sc1 --log-format json \
	>"$T/sc.out" 2>"$T/sc.err" </dev/null &
PWPID=$!
job=
for _ in $(seq 200); do
	job=$(squeue -h -t running -n slurm_scancel.victim -o %i | head -n 1)
	[[ -n $job ]] && break
	sleep 0.05
done
check_match "$job" '^[0-9]+$' "the first attempt's job is running ($job)"
scancel "$job"
rc=0
timeout 60 tail --pid="$PWPID" -f /dev/null || true
wait "$PWPID" || rc=$?
PWPID=
RJ=$T/ws/run.json
check_eq "$rc" 0 "the run succeeds after the job was cancelled under it"
check_eq "$(rj '[x["status"] for x in t("victim")["attempt_log"]]')" '["failed", "success"]' \
	"attempt 1 failed, attempt 2 succeeded"
check_eq "$(rj 'a("victim",1)["class"]')" worker_preempted "the cancelled attempt is worker_preempted (retried)"
check_match "$(rj 'a("victim",1)["error"]')" "cancelled outside pitwall" "... and says it was cancelled outside pitwall"
check_eq "$(cat "$T/ws/victim.txt" 2>&1)" done "the retry wrote its output"
slurm_audit_rows sc1 >"$T/sc.rows"
check_eq "$(sq "$T/sc.rows" '[md(r)["slurm"]["job_id"] for r in of("task_start")][0]')" "$job" \
	"the first task_start records the cancelled job"
check_eq "$(sq "$T/sc.rows" 'md(of("task_retry")[0])["slurm"]["state"]')" CANCELLED \
	"task_retry records the job as CANCELLED"
second=$(sq "$T/sc.rows" '[md(r)["slurm"]["job_id"] for r in of("task_start")][1]')
check_match "$second" '^[0-9]+$' "the retry is a new job ($second)"
check "... not the cancelled one" test "$second" != "$job"
check_eq "$(slurm_job_state "$second")" COMPLETED "squeue: the retry's job COMPLETED"
check_eq "$(squeue -h -t pending,running -o %i | wc -l)" 0 "nothing left in the queue"
((PW_FAIL == 0)) || { cat "$T/sc.err" | tail -n 20 | sed 's/^/#   /'; }
pw_done
