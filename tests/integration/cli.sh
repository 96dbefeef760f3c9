#!/usr/bin/env bash
# The command line: `pitwall validate` (exit 0 / 2, FILE:LINE:COL messages),
# usage errors (exit 64), --version / help, an uncreatable workspace (73).
source "$(dirname "$0")/lib.bash"
pw_setup
cd "$T"
NL=$'\n'

cat >good.yaml <<'EOF'
dag_id: good
tasks:
  - task_id: a
    command: ["true"]
  - task_id: b
    command: ["true"]
    dependencies: [a]
EOF
# line 7, 'featur' at column 20
cat >bad_dep.yaml <<'EOF'
dag_id: bad_dep
tasks:
  - task_id: feature
    command: ["true"]
  - task_id: split
    command: ["true"]
    dependencies: [featur]
EOF
cat >cycle.yaml <<'EOF'
dag_id: cycle
tasks:
  - task_id: a
    command: ["true"]
    dependencies: [c]
  - task_id: b
    command: ["true"]
    dependencies: [a]
  - task_id: c
    command: ["true"]
    dependencies: [b]
EOF
cat >syntax.yaml <<'EOF'
dag_id: syntax
tasks:
  - task_id: a
    command: ["true"
  - task_id: b
EOF
# two problems: unknown dependency (line 5) and duplicate task_id (line 8)
cat >two.yaml <<'EOF'
dag_id: two
tasks:
  - task_id: a
    command: ["true"]
    dependencies: [nope]
  - task_id: b
    command: ["true"]
  - task_id: a
    command: ["true"]
EOF

# --- validate -------------------------------------------------------------
pw_cmd validate good.yaml
check_eq "$RC" 0 "validate good.yaml: exit 0"
check_match "$(cat "$OUT")" '^good\.yaml: ok \(2 tasks\)' "validate prints 'good.yaml: ok (2 tasks)'"

pw_cmd validate bad_dep.yaml
check_eq "$RC" 2 "validate bad_dep.yaml: exit 2"
msgs=$(cat "$OUT" "$ERR" || true)
check_match "$msgs" "bad_dep\.yaml:7:[0-9]+: error: [^$NL]*featur" \
	"unknown dependency reported as bad_dep.yaml:7:COL: error: ... featur"
check_match "$msgs" "bad_dep\.yaml:7:20: error:" "... at the column of 'featur' (7:20)"
check_match "$msgs" "did you mean 'feature'" "... with a did-you-mean hint"

pw_cmd validate cycle.yaml
check_eq "$RC" 2 "validate cycle.yaml: exit 2"
check_match "$(cat "$OUT" "$ERR")" "cycle\.yaml:[0-9]+:[0-9]+: error: [^$NL]*cycle" \
	"a cycle is reported as cycle.yaml:LINE:COL: error: ... cycle"

pw_cmd validate syntax.yaml
check_eq "$RC" 2 "validate syntax.yaml (broken YAML): exit 2"
check_match "$(cat "$OUT" "$ERR")" "syntax\.yaml:[0-9]+:[0-9]+: error: " \
	"a YAML syntax error is reported as syntax.yaml:LINE:COL: error:"

pw_cmd validate two.yaml
check_eq "$RC" 2 "validate two.yaml: exit 2"
lines=$(cat "$OUT" "$ERR" | grep -oE '^two\.yaml:[0-9]+:' | cut -d: -f2 | tr "\n" " " || true)
check_match "$lines" '^5 8 $' "both problems are printed, sorted by position (lines: $lines)"

pw_cmd validate no-such-file.yaml
check_eq "$RC" 2 "validate of a missing file: exit 2"
check_match "$(cat "$OUT" "$ERR")" 'no-such-file\.yaml' "... naming the file"

pw_cmd validate good.yaml bad_dep.yaml
check_eq "$RC" 2 "validate good.yaml bad_dep.yaml: exit 2"
check_match "$(cat "$OUT" "$ERR")" 'good\.yaml: ok' "... still reports good.yaml ok"

pw_cmd run bad_dep.yaml --workspace "$T/ws-bad"
check_eq "$RC" 2 "run of an invalid DAG: exit 2"
check "... and runs nothing (no run.json)" test ! -e "$T/ws-bad/run.json"

# --- usage errors -----------------------------------------------------------
usage() { # DESC ARG...
	local desc=$1
	shift
	pw_cmd "$@"
	check_eq "$RC" 64 "usage error exits 64: $desc"
}
usage "unknown command" frobnicate
usage "validate without a file" validate
usage "run without a file" run
usage "plan without a file" plan
usage "unknown option" run good.yaml --no-such-option
usage "-j without its argument" run good.yaml -j
usage "-j not a number" run good.yaml -j abc
usage "--kill-grace not a duration" run good.yaml --kill-grace soon
usage "--format unknown" graph good.yaml --format png
usage "--log-format unknown" run good.yaml --log-format xml
check "no workspace was created by a usage error" test ! -e "$T/runs"

# --- version, help ------------------------------------------------------------
pw_cmd --version
check_eq "$RC" 0 "--version: exit 0"
check_match "$(cat "$OUT")" '[0-9]+\.[0-9]+\.[0-9]+' "--version prints a version"
pw_cmd help
check_eq "$RC" 0 "help: exit 0"
check_match "$(cat "$OUT")" 'validate' "help lists validate"
pw_cmd help run
check_eq "$RC" 0 "help run: exit 0"
check_match "$(cat "$OUT")" 'kill-grace' "help run describes --kill-grace"

# --- a workspace that cannot be created -----------------------------------------
touch "$T/afile"
pw_cmd run good.yaml --workspace "$T/afile/ws"
check_eq "$RC" 73 "a workspace under a regular file: exit 73 (EX_CANTCREAT)"

((PW_FAIL == 0)) || pw_show
pw_done
