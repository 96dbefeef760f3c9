#!/usr/bin/env bash
# The task environment and placeholders (docs/cli.md "Task environment"):
# PITWALL_* variables, pitwall's own environment < DAG env < task env,
# placeholders in argv (single elements, no word splitting), env values and
# working_dir; default seed, run id and workspace.
source "$(dirname "$0")/lib.bash"
pw_setup

export PW_INHERITED=outer PW_OVERRIDDEN=outer
cat >"$T/envtest.yaml" <<EOF
dag_id: envtest
env:
  FOO: dag
  BAR: dag
  PW_OVERRIDDEN: dag
  DAG_PLACEHOLDER: "dag-{{ run_id }}"
tasks:
  - task_id: envdump
    command: ["sh", "-c", "env > env.txt; pwd -P > pwd.txt"]
    env:
      BAR: task
      TASK_PLACEHOLDER: "{{ run_id }}-{{ task_id }}-{{ ds }}"
  - task_id: argv
    command: ["printf", "%s\\\\n", "{{ run_id }}", "{{ ds }}", "{{ task_id }}", "{{ attempt }}",
              "{{ seed }}", "{{ logical_date }}", "{{ dag_id }}", "{{ workspace }}", "{{ dag_dir }}",
              "x {{ run_id }} y"]
  - task_id: touch_run_id
    command: ["touch", "marker-{{ run_id }}"]
  - task_id: mk
    command: ["mkdir", "-p", "sub"]
  - task_id: wd
    command: ["sh", "-c", "pwd -P > wd.txt"]
    working_dir: "{{ workspace }}/sub"
    dependencies: [mk]
EOF
pw_run env "$T/envtest.yaml" --run-id run1 --logical-date 2026-02-14T12:00:00Z --seed 424242
check_eq "$RC" 0 "env DAG: pitwall exits 0"
E=$WS/env.txt
var() { grep -m1 "^$1=" "$E" 2>/dev/null | cut -d= -f2- || true; }
check_eq "$(var PITWALL_RUN_ID)" run1 "PITWALL_RUN_ID from --run-id"
check_eq "$(var PITWALL_TASK_ID)" envdump "PITWALL_TASK_ID"
check_eq "$(var PITWALL_ATTEMPT)" 1 "PITWALL_ATTEMPT"
check_eq "$(var PITWALL_DAG_ID)" envtest "PITWALL_DAG_ID"
check_eq "$(var PITWALL_LOGICAL_DATE)" 2026-02-14T12:00:00Z "PITWALL_LOGICAL_DATE from --logical-date"
check_eq "$(var PITWALL_WORKSPACE)" "$WS" "PITWALL_WORKSPACE is the absolute workspace"
check_eq "$(var PITWALL_SEED)" 424242 "PITWALL_SEED from --seed"
check_eq "$(var PITWALL_DAG_DIR)" "$T" "PITWALL_DAG_DIR is the DAG file's absolute directory"
check_eq "$(var PW_INHERITED)" outer "pitwall's own environment is inherited"
check_eq "$(var PW_OVERRIDDEN)" dag "DAG env overrides pitwall's environment"
check_eq "$(var FOO)" dag "DAG env reaches the task"
check_eq "$(var BAR)" task "task env wins over DAG env"
check_eq "$(var TASK_PLACEHOLDER)" run1-envdump-2026-02-14 "placeholders in task env values"
check_eq "$(var DAG_PLACEHOLDER)" dag-run1 "placeholders in DAG env values"
check_eq "$(cat "$WS/pwd.txt" 2>&1)" "$WS" "the task's working directory is the workspace"

want=$(printf '%s\n' run1 2026-02-14 argv 1 424242 2026-02-14T12:00:00Z envtest "$WS" "$T" \
	"x run1 y")
check_eq "$(cat "$WS/logs/argv.1.log" 2>&1)" "$want" \
	"every placeholder substituted in argv, each one argv element (no word splitting)"
check "{{ run_id }} in argv: marker-run1 created" test -e "$WS/marker-run1"
check_eq "$(cat "$WS/sub/wd.txt" 2>&1)" "$WS/sub" "working_dir with a placeholder"
check_eq "$(rj 'd["run_id"]')" run1 "run.json run_id"
check_eq "$(rj 'd["logical_date"]')" 2026-02-14T12:00:00Z "run.json logical_date"
check_eq "$(rj 'd["seed"]')" 424242 "run.json seed"
check_eq "$(rj 'd["dag_id"]')" envtest "run.json dag_id"
((PW_FAIL == 0)) || pw_show

# Defaults: run id <dag_id>_<YYYYmmdd_HHMMSS> of the logical date, workspace
# runs/<dag_id>/<run_id>/ under the current directory, suffix _2 when it
# exists; the seed derives from dag_id + logical date (same slot, same seed).
f0=$PW_FAIL
cat >"$T/defaults.yaml" <<EOF
dag_id: defaults
tasks:
  - task_id: seed
    command: ["sh", "-c", "echo \$PITWALL_SEED > seed.txt; echo \$PITWALL_RUN_ID > rid.txt"]
EOF
mkdir -p "$T/cwd"
rc1=0 rc2=0
(cd "$T/cwd" && "$PITWALL" run "$T/defaults.yaml" --logical-date 2026-03-01T02:00:00Z \
	--log-format json >"$T/d1.out" 2>"$T/d1.err") || rc1=$?
(cd "$T/cwd" && "$PITWALL" run "$T/defaults.yaml" --logical-date 2026-03-01T02:00:00Z \
	--log-format json >"$T/d2.out" 2>"$T/d2.err") || rc2=$?
W1=$T/cwd/runs/defaults/defaults_20260301_020000
W2=${W1}_2
check_eq "$rc1/$rc2" 0/0 "two default runs exit 0"
check "default workspace runs/defaults/defaults_20260301_020000" test -f "$W1/run.json"
check "second run of the same slot gets suffix _2" test -f "$W2/run.json"
check_eq "$(cat "$W1/rid.txt" 2>&1)" defaults_20260301_020000 "default run id in PITWALL_RUN_ID"
check_eq "$(cat "$W2/rid.txt" 2>&1)" defaults_20260301_020000_2 "suffixed run id in PITWALL_RUN_ID"
s1=$(cat "$W1/seed.txt" 2>&1 || true)
check_match "$s1" '^[0-9]+$' "a default seed is set ($s1)"
check_eq "$(cat "$W2/seed.txt" 2>&1)" "$s1" "same dag_id + logical date: same default seed"
check_eq "$(rj 'd["seed"]' "$W1/run.json")" "$s1" "run.json seed matches PITWALL_SEED"
((PW_FAIL == f0)) || { OUT=$T/d1.out ERR=$T/d1.err RJ=$W1/run.json pw_show; }

pw_done
