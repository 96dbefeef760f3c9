#!/usr/bin/env bash
# The CI smoke DAG (DESIGN.md use 4): `pitwall run dags/smoke.yaml` exits 0
# and one task needed 2 attempts (it fails once and succeeds on retry).
source "$(dirname "$0")/lib.bash"
pw_setup

SMOKE=${PW_SOURCE_DIR:-}/dags/smoke.yaml
if [[ ! -f $SMOKE ]]; then
	pw_skip "$SMOKE does not exist yet"
fi

pw_cmd validate "$SMOKE"
check_eq "$RC" 0 "pitwall validate dags/smoke.yaml: exit 0"

cd "$T"
start=$(date +%s%N)
pw_run smoke "$SMOKE"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 0 "pitwall run dags/smoke.yaml: exit 0"
check_eq "$(rj 'd["status"]')" success "run.json status success"
check_eq "$(rj 'all(x["status"] in ("success", "skipped") for x in d["tasks"])')" true \
	"every task success (or skipped by its trigger rule)"
check_eq "$(rj '[x["task_id"] for x in d["tasks"] if x["attempts"] == 2].__len__()')" 1 \
	"exactly one task shows 2 attempts"
flaky=$(rj '[x["task_id"] for x in d["tasks"] if x["attempts"] == 2][0]')
check_eq "$(rj "[x[\"status\"] for x in t(\"$flaky\")[\"attempt_log\"]]")" '["failed", "success"]' \
	"$flaky: attempt 1 failed, attempt 2 succeeded"
check "$flaky: logs/$flaky.1.log and .2.log exist" \
	test -f "$WS/logs/$flaky.1.log" -a -f "$WS/logs/$flaky.2.log"
check_match "$(cat "$OUT")" "run [^ ]+: success" "the summary's last lines say success"
check_le "$elapsed_ms" 10000 "the smoke DAG finishes quickly (${elapsed_ms} ms)"
check "the smoke run left nothing in the source tree's runs/" test ! -e "$T/runs"
((PW_FAIL == 0)) || pw_show

pw_done
