#!/usr/bin/env bash
# OpenLineage over HTTP (docs/openlineage.md), against tests/helpers/ol_collector:
# events arrive at /api/v1/lineage with the bearer token; an endpoint that
# answers 503 never fails the run: events are spooled and sent first on the
# next run, in order, even when a delivery breaks off half way through the
# spool; an endpoint that is down (nothing listening) or hangs costs one
# warning and no run time.
source "$(dirname "$0")/lib.bash"
pw_setup
unset PITWALL_OPENLINEAGE PITWALL_OPENLINEAGE_NAMESPACE PITWALL_OPENLINEAGE_API_KEY
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export PITWALL_HOME=$T/home
SCHEMAS=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared}/data/openlineage
CHECK=$(dirname "$0")/openlineage_check.py
COLLECTOR=$PW_HELPERS/ol_collector
[[ -x $COLLECTOR ]] || pw_skip "ol_collector helper not built"
OLPY=
for py in "$PW_PYTHON" /usr/bin/python3; do
	if [[ -x $py ]] && "$py" -c 'import jsonschema' 2>/dev/null; then
		OLPY=$py
		break
	fi
done

# Collectors are killed on exit (lib.bash only kills pw_* helpers).
COLLECTOR_PIDS=()
ol_cleanup() {
	local pid
	for pid in "${COLLECTOR_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	pw_cleanup
}
trap ol_cleanup EXIT

# start_collector NAME ARG...: sets PORT and PID; bodies go to $T/NAME.bodies.
start_collector() {
	local name=$1
	shift
	"$COLLECTOR" "$T/$name.bodies" --requests "$T/$name.requests" "$@" >"$T/$name.port" &
	PID=$!
	COLLECTOR_PIDS+=("$PID")
	for _ in $(seq 100); do
		[[ -s $T/$name.port ]] && break
		sleep 0.05
	done
	PORT=$(<"$T/$name.port")
}

# validate FILE DESC: every line validates against the schemas (when jsonschema is there).
validate() {
	if [[ -z $OLPY ]]; then
		pw_ok "# SKIP python3-jsonschema missing: $2"
		return
	fi
	local out rc
	out=$("$OLPY" "$CHECK" "$SCHEMAS" "$1" 2>&1) && rc=0 || rc=$?
	check_eq "$rc" 0 "$2"
	((rc == 0)) || printf '#   %s\n' "${out//$'\n'/$'\n#   '}"
}

# ol FILE EXPR: a Python expression over the JSON lines of FILE as `evs`.
ol() {
	python3 - "$1" "$2" <<'PY'
import json, sys
try:
    evs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines() if l.strip()]
except FileNotFoundError:
    evs = []
def key(e):
    return (e["job"]["name"], e["eventType"], e["run"]["runId"])
def dag_run(e):
    return e["run"]["facets"]["parent"]["run"]["runId"] if "parent" in e["run"]["facets"] else e["run"]["runId"]
def well_ordered(run):
    # one DAG run's events: its START first, its end last, every attempt START before its end
    if not run or run[0]["job"]["name"] != run[-1]["job"]["name"] or run[0]["eventType"] != "START":
        return False
    seen = set()
    for e in run:
        r = e["run"]["runId"]
        if e["eventType"] == "START":
            if r in seen:
                return False
            seen.add(r)
        elif r not in seen:
            return False
    return True
def runs():
    # the DAG runs in order of first appearance, each with its events, in order
    order, by = [], {}
    for e in evs:
        d = dag_run(e)
        if d not in by:
            order.append(d)
            by[d] = []
        by[d].append(e)
    return [by[d] for d in order]
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "<error: %s: %s>" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

spool_lines() {
	cat "$PITWALL_HOME"/.pitwall/openlineage-spool-*.jsonl 2>/dev/null | grep -c . || true
}

SMOKE=$PW_SOURCE_DIR/dags/smoke.yaml

# --- 1. a working endpoint -------------------------------------------------
start_collector ok
PITWALL_OPENLINEAGE_API_KEY=s3cret-token-42 pw_run ok "$SMOKE" --openlineage "http://127.0.0.1:$PORT"
check_eq "$RC" 0 "smoke with an HTTP endpoint exits 0"
check_eq "$(count_lines "$T/ok.bodies")" 14 "the collector got 14 events"
check_eq "$(cut -d' ' -f2,3 "$T/ok.requests" | sort -u)" "POST /api/v1/lineage" \
	"POST to /api/v1/lineage (a URL without a path gets Marquez's)"
check_eq "$(cut -d' ' -f5- "$T/ok.requests" | sort -u)" "Bearer s3cret-token-42" \
	"PITWALL_OPENLINEAGE_API_KEY is sent as Authorization: Bearer"
check_nomatch "$(cat "$ERR" "$OUT")" 's3cret' "the API key is never printed"
check_eq "$(ol "$T/ok.bodies" '[len(runs()), well_ordered(runs()[0])]')" '[1, true]' \
	"one DAG run, its events in order"
check_eq "$(ol "$T/ok.bodies" '[e["eventType"] for e in evs if e["job"]["name"] == "smoke.odds"]')" \
	'["START", "FAIL", "START", "COMPLETE"]' "odds: START, FAIL, START, COMPLETE over HTTP too"
check_eq "$(spool_lines)" 0 "nothing left in the spool"
check_nomatch "$(cat "$ERR")" 'OpenLineage' "no OpenLineage warning when all is well"
validate "$T/ok.bodies" "the events the collector got validate against the schemas"

# An explicit path is kept.
: >"$T/ok.requests"
pw_run okpath "$SMOKE" --openlineage "http://127.0.0.1:$PORT/custom/lineage?x=1" -q
check_eq "$(cut -d' ' -f3 "$T/ok.requests" | sort -u)" "/custom/lineage?x=1" "an explicit path (and query) is kept"
kill "$PID" 2>/dev/null || true

# --- 2. 503 for a while: spooled, sent on the next runs, in order -------------
start_collector flaky --control "$T/ctl"
URL=http://127.0.0.1:$PORT
echo fail >"$T/ctl" # every request answered 503
pw_run s1 "$SMOKE" --openlineage "$URL"
check_eq "$RC" 0 "run 1 (endpoint answers 503) exits 0"
check_eq "$(count_lines "$T/flaky.bodies")" 0 "run 1: nothing accepted"
check_eq "$(spool_lines)" 14 "run 1: its 14 events are in the spool"
check_eq "$(grep -c 'OpenLineage' "$ERR")" 1 "run 1: exactly one OpenLineage warning line"
check_match "$(grep 'OpenLineage' "$ERR")" 'HTTP 503.*spooled' "the warning names the error and the spool"
# The spool is named after the endpoint: openlineage-spool-<sha256(URL)[:16]>.jsonl.
SPOOL=$PITWALL_HOME/.pitwall/openlineage-spool-$(printf '%s' "$URL/api/v1/lineage" | sha256sum | cut -c1-16).jsonl
check_eq "$(count_lines "$SPOOL")" 14 "the spool file is named after the endpoint"
cp "$SPOOL" "$T/spool-after-s1.jsonl"

echo 2 >"$T/ctl" # 2 requests accepted, then 503 again: breaks off inside the spool
pw_run s2 "$SMOKE" --openlineage "$URL"
check_eq "$RC" 0 "run 2 (endpoint fails again after 2 events) exits 0"
check_eq "$(count_lines "$T/flaky.bodies")" 2 "run 2: 2 events accepted"
check_eq "$(cat "$T/flaky.bodies")" "$(head -n 2 "$T/spool-after-s1.jsonl")" \
	"run 2: they are run 1's first two, as spooled"
check_eq "$(spool_lines)" 26 "run 2: the spool holds run 1's other 12 and run 2's 14"

rm -f "$T/ctl" # the endpoint is back
pw_run s3 "$SMOKE" --openlineage "$URL"
check_eq "$RC" 0 "run 3 (endpoint back) exits 0"
check_eq "$(count_lines "$T/flaky.bodies")" 42 "all 42 events of the 3 runs arrived"
check_eq "$(spool_lines)" 0 "the spool is empty"
check_match "$(cat "$ERR")" 'sent 26 spooled OpenLineage events' "run 3 says it sent the spooled events"
check_eq "$(ol "$T/flaky.bodies" '[len(runs()), [len(r) for r in runs()], all(well_ordered(r) for r in runs())]')" \
	'[3, [14, 14, 14], true]' "3 DAG runs, 14 events each, each in order"
check_eq "$(ol "$T/flaky.bodies" '[dag_run(e) for e in evs] == [dag_run(evs[0])] * 14 + [dag_run(evs[14])] * 14 + [dag_run(evs[28])] * 14')" \
	true "run 1's events first, then run 2's, then run 3's: not interleaved"
check_eq "$(ol "$T/flaky.bodies" 'len(set(map(key, evs))) == len(evs)')" true "no event arrived twice"
check_eq "$(head -n 14 "$T/flaky.bodies")" "$(cat "$T/spool-after-s1.jsonl")" \
	"run 1's events arrived exactly as spooled"
validate "$T/flaky.bodies" "spooled events validate too"

# --- 2b. 503 on the first 4 requests only: recovers by itself --------------------
kill "$PID" 2>/dev/null || true
start_collector brief --fail-first 4
pw_run b1 "$SMOKE" --openlineage "http://127.0.0.1:$PORT"
check_eq "$RC" 0 "run with an endpoint that answers 503 four times exits 0"
pw_run b2 "$SMOKE" --openlineage "http://127.0.0.1:$PORT" # delivers what b1 may have spooled
check_eq "$(ol "$T/brief.bodies" '[len(runs()), [len(r) for r in runs()], all(well_ordered(r) for r in runs()), len(set(map(key, evs))) == len(evs)]')" \
	'[2, [14, 14], true, true]' "after the next run, both runs' events arrived, in order, once"
check_eq "$(spool_lines)" 0 "the spool is empty again"
kill "$PID" 2>/dev/null || true

# --- 3. nothing listening ---------------------------------------------------------
start_collector gone
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
t0=$(date +%s%N)
pw_run down "$SMOKE" --openlineage "http://127.0.0.1:$PORT"
t1=$(date +%s%N)
check_eq "$RC" 0 "nothing listening: the run exits 0"
check_eq "$(grep -c 'OpenLineage' "$ERR")" 1 "nothing listening: exactly one warning line"
check_match "$(grep 'OpenLineage' "$ERR")" "127\.0\.0\.1:$PORT" "the warning names the endpoint"
check_eq "$(spool_lines)" 14 "nothing listening: the 14 events are spooled"
check_le $(((t1 - t0) / 1000000)) 5000 "nothing listening: the run is not held up (< 5 s)"
rm -f "$PITWALL_HOME"/.pitwall/openlineage-spool-*.jsonl

# --- 4. an endpoint that hangs: the executor does not wait for it -------------------
start_collector hang --hang
t0=$(date +%s%N)
pw_run hang "$SMOKE" --openlineage "http://127.0.0.1:$PORT"
t1=$(date +%s%N)
check_eq "$RC" 0 "hanging endpoint: the run exits 0"
check_le "$(rj 'd["duration_ms"]')" 3000 "hanging endpoint: the DAG run itself is not slowed down"
check_le $(((t1 - t0) / 1000000)) 20000 "hanging endpoint: pitwall gives up within its budget at exit"
check_eq "$(spool_lines)" 14 "hanging endpoint: the 14 events are spooled"
check_eq "$(grep -c 'OpenLineage' "$ERR")" 1 "hanging endpoint: one warning line"
kill "$PID" 2>/dev/null || true

pw_done
