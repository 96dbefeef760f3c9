#!/usr/bin/env bash
# OpenLineage, file transport (docs/openlineage.md): the smoke DAG with
# --openlineage file:PATH writes a START and a COMPLETE/FAIL RunEvent per task
# attempt and per DAG run, every event valid against the 2-0-2 schemas in
# shared/data/openlineage (python3-jsonschema; skipped without it), parent
# facets pointing at the DAG run, datasets versioned by their sha256,
# sourceCodeLocation at the git commit, nominalTime = the logical date.
# Also: PITWALL_OPENLINEAGE and PITWALL_OPENLINEAGE_NAMESPACE, a bad target.
source "$(dirname "$0")/lib.bash"
pw_setup
unset PITWALL_OPENLINEAGE PITWALL_OPENLINEAGE_NAMESPACE PITWALL_OPENLINEAGE_API_KEY
export PITWALL_HOME=$T/home
SCHEMAS=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared}/data/openlineage
CHECK=$(dirname "$0")/openlineage_check.py

[[ -f $SCHEMAS/OpenLineage.json ]] || pw_skip "no OpenLineage schemas at $SCHEMAS"
OLPY=
for py in "$PW_PYTHON" /usr/bin/python3; do
	if [[ -x $py ]] && "$py" -c 'import jsonschema' 2>/dev/null; then
		OLPY=$py
		break
	fi
done
[[ -n $OLPY ]] || pw_skip "python3-jsonschema is not installed (apt-get install python3-jsonschema)"

# ol FILE EXPR: a Python expression over the events of FILE (`evs`, in file
# order); task(id) = that task's events, dag() = the DAG run's events.
ol() {
	python3 - "$1" "$2" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines() if l.strip()]
def task(tid):
    return [e for e in evs if e["job"]["name"].endswith("." + tid)]
def dag():
    return [e for e in evs if "parent" not in e["run"]["facets"]]
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "<error: %s: %s>" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# --- the smoke DAG -------------------------------------------------------
OLF=$T/lineage.jsonl
pw_run smoke "$PW_SOURCE_DIR/dags/smoke.yaml" --openlineage "file:$OLF" \
	--logical-date 2026-02-14T02:00:00Z
check_eq "$RC" 0 "smoke with --openlineage file: exits 0"
((RC == 0)) || pw_show
check_eq "$(count_lines "$OLF")" 14 "14 events: START + end for 6 task attempts and the DAG run"

out=$("$OLPY" "$CHECK" "$SCHEMAS" "$OLF" 2>&1) && rc=0 || rc=$?
check_eq "$rc" 0 "every event validates against the OpenLineage 2-0-2 schemas and facets"
((rc == 0)) || printf '#   %s\n' "${out//$'\n'/$'\n#   '}"

check_eq "$(ol "$OLF" '[e["eventType"] for e in dag()]')" '["START", "COMPLETE"]' \
	"the DAG run: START then COMPLETE"
check_eq "$(ol "$OLF" '[evs[0]["eventType"], evs[0]["job"]["name"], evs[-1]["eventType"], evs[-1]["job"]["name"]]')" \
	'["START", "smoke", "COMPLETE", "smoke"]' "the DAG run's START comes first, its COMPLETE last"
for t in extract evens merge report; do
	check_eq "$(ol "$OLF" "[e['eventType'] for e in task('$t')]")" '["START", "COMPLETE"]' \
		"$t: START, COMPLETE"
done
check_eq "$(ol "$OLF" '[e["eventType"] for e in task("odds")]')" \
	'["START", "FAIL", "START", "COMPLETE"]' "odds (fails once, retried): START, FAIL, START, COMPLETE"
check_eq "$(ol "$OLF" '[e["run"]["facets"]["pitwall"]["attempt"] for e in task("odds")]')" \
	'[1, 1, 2, 2]' "odds: attempts 1, 1, 2, 2 in the pitwall facet"
check_eq "$(ol "$OLF" 'sorted(set(e["job"]["name"] for e in evs))')" \
	'["smoke", "smoke.evens", "smoke.extract", "smoke.merge", "smoke.odds", "smoke.report"]' \
	"job names: dag_id and dag_id.task_id"
check_eq "$(ol "$OLF" 'sorted(set(e["job"]["namespace"] for e in evs))')" '["pitwall"]' \
	"job namespace: pitwall"
check_eq "$(ol "$OLF" 'sorted(set(e["producer"] for e in evs))[0].startswith("https://")')" true \
	"producer is an https URI"

# runIds: one per attempt, shared by its START and its end; distinct otherwise.
check_eq "$(ol "$OLF" 'len(set(e["run"]["runId"] for e in evs))')" 7 \
	"7 distinct runIds (6 task attempts + the DAG run)"
check_eq "$(ol "$OLF" 'all(len(set(e["run"]["runId"] for e in evs if e["run"]["runId"] == r)) == 1 and [x["eventType"] for x in evs if x["run"]["runId"] == r][0] == "START" and len([x for x in evs if x["run"]["runId"] == r]) == 2 for r in set(e["run"]["runId"] for e in evs))')" \
	true "each runId has exactly a START and then one end event"
check_eq "$(ol "$OLF" 'task("odds")[0]["run"]["runId"] != task("odds")[2]["run"]["runId"]')" true \
	"odds' two attempts have different runIds"

# The parent facet links every task run to the DAG run.
check_eq "$(ol "$OLF" 'all(e["run"]["facets"]["parent"]["run"]["runId"] == dag()[0]["run"]["runId"] for e in evs if e not in dag())')" \
	true "every task event's parent.run.runId is the DAG run's runId"
check_eq "$(ol "$OLF" 'sorted(set((e["run"]["facets"]["parent"]["job"]["namespace"], e["run"]["facets"]["parent"]["job"]["name"]) for e in evs if e not in dag()))')" \
	'[["pitwall", "smoke"]]' "parent.job is pitwall/smoke"
check_eq "$(ol "$OLF" 'sorted(set(e["run"]["facets"]["pitwall"]["run_id"] for e in evs))')" \
	"[\"$(rj 'd["run_id"]')\"]" "the pitwall facet carries pitwall's run id"

# nominalTime and the error facet.
check_eq "$(ol "$OLF" 'sorted(set(e["run"]["facets"]["nominalTime"]["nominalStartTime"] for e in evs))')" \
	'["2026-02-14T02:00:00Z"]' "nominalTime.nominalStartTime is the logical date"
check_match "$(ol "$OLF" 'task("odds")[1]["run"]["facets"]["errorMessage"]["message"]')" 'exit 75' \
	"odds' FAIL carries an errorMessage facet (exit 75)"
check_eq "$(ol "$OLF" 'sum("errorMessage" in e["run"]["facets"] for e in evs)')" 1 \
	"only the FAIL has an errorMessage"

# sourceCodeLocation: the DAG file at the repository's commit.
if sha=$(git -C "$PW_SOURCE_DIR" rev-parse HEAD 2>/dev/null); then
	check_eq "$(ol "$OLF" 'sorted(set(e["job"]["facets"]["sourceCodeLocation"]["version"] for e in evs))')" \
		"[\"$sha\"]" "sourceCodeLocation.version is the git HEAD ($sha)"
	check_eq "$(ol "$OLF" 'evs[0]["job"]["facets"]["sourceCodeLocation"]["type"]')" git \
		"sourceCodeLocation.type is git"
	check_eq "$(ol "$OLF" 'evs[0]["job"]["facets"]["sourceCodeLocation"]["path"]')" dags/smoke.yaml \
		"sourceCodeLocation.path is the DAG's path in the repository"
	check_match "$(ol "$OLF" 'evs[0]["job"]["facets"]["sourceCodeLocation"]["url"]')" \
		'^file:///.*/dags/smoke\.yaml$' "sourceCodeLocation.url is the DAG file's URI"
else
	pw_ok "# SKIP source tree is not a git work tree: sourceCodeLocation not checked"
fi

# Datasets: file://<host>, absolute paths, version = sha256 of the file.
check_eq "$(ol "$OLF" 'sorted(set(d["namespace"] for e in evs for d in e.get("inputs", []) + e.get("outputs", [])))')" \
	"[\"file://$(hostname)\"]" "dataset namespace is file://<hostname>"
check_eq "$(ol "$OLF" '[d["name"] for d in task("merge")[-1]["outputs"]]')" "[\"$WS/data/all.txt\"]" \
	"merge's COMPLETE has output $WS/data/all.txt"
check_eq "$(ol "$OLF" '[d["name"] for d in task("merge")[0]["inputs"]]')" \
	"[\"$WS/data/evens.txt\", \"$WS/data/odds.txt\"]" "merge's START has its two inputs"
check_eq "$(ol "$OLF" '[len(e["outputs"]) for e in task("odds")]')" '[0, 0, 0, 1]' \
	"odds: outputs only on the COMPLETE"
bad=0
nds=0
while read -r name version; do
	nds=$((nds + 1))
	want=$(sha256sum "$name" 2>/dev/null | cut -d' ' -f1)
	if [[ $version != "$want" ]]; then
		bad=$((bad + 1))
		echo "#   $name: version $version, sha256sum $want"
	fi
done < <(ol "$OLF" '"\n".join(d["name"] + " " + d["facets"]["version"]["datasetVersion"] for e in evs for d in e.get("inputs", []) + e.get("outputs", []))')
check_eq "$bad" 0 "every dataset's version facet equals sha256sum of the file ($nds datasets)"
# START: 6 inputs; odds' FAIL: 1 input; COMPLETE: 5 outputs + 5 inputs.
check_eq "$nds" 17 "17 dataset references in all"

# --- PITWALL_OPENLINEAGE, PITWALL_OPENLINEAGE_NAMESPACE, a failing task ---
cat >"$T/fail.yaml" <<EOF
dag_id: ol_fail
tasks:
  - task_id: boom
    command: ["sh", "-c", "exit 3"]
  - task_id: after
    command: ["true"]
    dependencies: [boom]
EOF
OLE=$T/env.jsonl
PITWALL_OPENLINEAGE=file:$OLE PITWALL_OPENLINEAGE_NAMESPACE=team-a pw_run fail "$T/fail.yaml"
check_eq "$RC" 1 "a failing DAG with PITWALL_OPENLINEAGE set exits 1"
check_eq "$(ol "$OLE" '[(e["job"]["name"], e["eventType"]) for e in evs]')" \
	'[["ol_fail", "START"], ["ol_fail.boom", "START"], ["ol_fail.boom", "FAIL"], ["ol_fail", "FAIL"]]' \
	"PITWALL_OPENLINEAGE is used; the failed task and the run end in FAIL; 'after' never ran"
check_eq "$(ol "$OLE" 'sorted(set(e["job"]["namespace"] for e in evs))')" '["team-a"]' \
	"PITWALL_OPENLINEAGE_NAMESPACE sets the job namespace"
check_match "$(ol "$OLE" 'evs[-1]["run"]["facets"]["errorMessage"]["message"]')" '1 failed' \
	"the DAG run's errorMessage counts the failed task"
out=$("$OLPY" "$CHECK" "$SCHEMAS" "$OLE" 2>&1) && rc=0 || rc=$?
check_eq "$rc" 0 "the FAIL events validate too"
((rc == 0)) || printf '#   %s\n' "${out//$'\n'/$'\n#   '}"

# The flag wins over the environment.
OLF2=$T/flag.jsonl
PITWALL_OPENLINEAGE=file:$T/not-this.jsonl pw_run flag "$T/fail.yaml" --openlineage "file:$OLF2"
check_eq "$(count_lines "$OLF2"):$([[ -e $T/not-this.jsonl ]] && echo yes || echo no)" 4:no \
	"--openlineage wins over PITWALL_OPENLINEAGE"

# --- bad targets -----------------------------------------------------------
pw_cmd run "$T/fail.yaml" --openlineage ftp://example.org/x --workspace "$T/bad1"
check_eq "$RC" 64 "--openlineage ftp://... is a usage error (64)"
check_match "$(cat "$ERR")" 'http\(s\) URL or file:PATH' "the message says what is accepted"
pw_cmd run "$T/fail.yaml" --openlineage file: --workspace "$T/bad2"
check_eq "$RC" 64 "--openlineage file: (no path) is a usage error"
PITWALL_OPENLINEAGE=bogus pw_cmd run "$T/fail.yaml" --workspace "$T/bad3"
check_eq "$RC" 64 "a bad PITWALL_OPENLINEAGE is a usage error too"

pw_done
