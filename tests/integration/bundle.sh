#!/usr/bin/env bash
# pitwall export / import / replay --bundle with SQLite stores: what a bundle
# holds (DAG text, events with hashes, lineage manifest, artifacts or
# --manifest-only, executables' digests); import verifies and appends,
# refuses duplicates and tampered bundles; replay from a bundle in a clean
# workspace with an empty store, the original workspace gone.
# (bundle_pg.sh: the same import and replay into a PostgreSQL store.)
# DAG: tests/dags/repro/replayable.yaml.
source "$(dirname "$0")/lib_repro.bash"
repro_setup
have_zstd_tar || pw_skip "tar --zstd / zstd not available to inspect bundles"
DAG=$RD/replayable.yaml
LD=2026-05-01T06:00:00Z

printf 'b\na\nc\n' >"$PW_REPRO_EXT"
pw_run ws "$DAG" --run-id b1 --logical-date $LD
check_rc "$RC" 0 "run succeeds"
ws_digests "$T/ws" >"$T/ws.digests"

# --- export --------------------------------------------------------------------
rp exp export b1 -o "$T/b1.tar.zst"
check_rc "$RC" 0 "export exits 0"
check_match "$(cat "$OUT")" "exported run b1 to" "export says what it wrote"
tar --zstd -tf "$T/b1.tar.zst" | LC_ALL=C sort >"$T/b1.list"
for f in pitwall-bundle.json dag.yaml events.jsonl lineage.json artifacts/raw/input.txt \
	artifacts/data/sample.txt artifacts/stamp.txt artifacts/summary.txt logs/summary.1.log; do
	check "the bundle holds $f" grep -qx "$f" "$T/b1.list"
done
mkdir -p "$T/x"
tar --zstd -xf "$T/b1.tar.zst" -C "$T/x"
check "dag.yaml is the DAG text the run recorded (same bytes as the file)" cmp -s "$DAG" "$T/x/dag.yaml"
check_eq "$(python3 - "$T/x/events.jsonl" <<'PY'
import json, sys, re
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = rows and all(re.fullmatch("[0-9a-f]{64}", r.get("hash") or "") and "prev_hash" in r for r in rows)
print(len(rows) if ok else "bad")
PY
)" "$(audit_rows b1 | wc -l | tr -d ' ')" "events.jsonl: every event of the run, each with its hash and prev_hash"
check_eq "$(python3 - "$T/x/lineage.json" "$T/ws" <<'PY'
import json, sys, hashlib, os
l = json.load(open(sys.argv[1]))
outs = {o["path"]: o["sha256"] for o in l["outputs"]}
real = {p: hashlib.sha256(open(os.path.join(sys.argv[2], p), "rb").read()).hexdigest() for p in outs}
ex = l.get("executables", {})
print(sorted(outs) == ["data/sample.txt", "raw/input.txt", "stamp.txt", "summary.txt"] and outs == real
      and sorted(ex) == ["fetch", "sample", "stamp", "summary"]
      and all(v.startswith("sha256:") for v in ex.values()))
PY
)" True "lineage.json: every output with its sha256, and the executables' digests"
for f in raw/input.txt summary.txt; do
	check "artifact $f has the run's bytes" cmp -s "$T/ws/$f" "$T/x/artifacts/$f"
done

rp expm export b1 -o "$T/b1m.tar.zst" --manifest-only
check_rc "$RC" 0 "export --manifest-only exits 0"
check_eq "$(tar --zstd -tf "$T/b1m.tar.zst" | grep -c '^artifacts/')" 0 "--manifest-only holds no artifacts"
check "--manifest-only still holds lineage.json" bash -c "tar --zstd -tf '$T/b1m.tar.zst' | grep -qx lineage.json"

rp expx export no_such_run -o "$T/none.tar.zst"
check_rc "$RC" 1 "export of an unknown run exits 1"
check "... and leaves no file behind" test ! -e "$T/none.tar.zst"

# --- import into another store ----------------------------------------------------------
S2=$T/store2.db
rp imp import "$T/b1.tar.zst" --store "$S2"
check_rc "$RC" 0 "import into a fresh SQLite store exits 0"
check_match "$(cat "$OUT")" "imported run b1 \([0-9]+ events\)" "import says how many events"
rp st status b1 --store "$S2"
check_match "$(head -n 1 "$OUT")" "run b1 of repro_replayable: success" "the imported run's status reads from the new store"
rp ver audit verify --store "$S2"
check_rc "$RC" 0 "audit verify of the importing store: chain intact"
audit_rows b1 "$S2" >"$T/imp.rows"
check_eq "$(aq "$T/imp.rows" 'of("run_imported")[-1]["actor"] is not None and len(of("run_imported"))')" 1 \
	"a run_imported event with its actor is appended"
check_eq "$(aq "$T/imp.rows" 'all(r["metadata"].get("imported", {}).get("hash") for r in rows if r["event_type"] != "run_imported")')" \
	true "each imported event keeps its original hash in metadata.imported"
rp dup import "$T/b1.tar.zst" --store "$S2"
check_rc "$RC" 1 "importing the same run again is refused"
check_match "$(cat "$ERR")" "already in .*duplicates are refused" "... saying it is a duplicate"
check_eq "$(audit_rows b1 "$S2" | wc -l | tr -d ' ')" "$(wc -l <"$T/imp.rows" | tr -d ' ')" "the refused duplicate added no row"
rp impm import "$T/b1m.tar.zst" --store "$T/store3.db"
check_rc "$RC" 0 "a --manifest-only bundle imports"

# --- tampered bundles ----------------------------------------------------------------------
# tamper NAME DESC PYTHON: copy the extracted bundle, apply PYTHON (cwd = the
# copy), repack, import into a fresh store: must be refused.
tamper() {
	local name=$1 desc=$2 code=$3
	rm -rf "$T/t_$name"
	cp -r "$T/x" "$T/t_$name"
	(cd "$T/t_$name" && python3 -c "$code")
	retar "$T/t_$name" "$T/t_$name.tar.zst"
	rp "imp_$name" import "$T/t_$name.tar.zst" --store "$T/t_$name.db"
	if ((RC != 0)); then
		pw_ok "import refuses a bundle with $desc"
	else
		pw_notok "import refuses a bundle with $desc" "import exited 0: $(head -n 1 "$OUT")"
	fi
}
retar "$T/x" "$T/repacked.tar.zst"
rp imp_rp import "$T/repacked.tar.zst" --store "$T/repacked.db"
check_rc "$RC" 0 "an untouched bundle, repacked, still imports (the tamper tests are meaningful)"

tamper artifact "an edited artifact" \
	'open("artifacts/summary.txt", "a").write("tampered\n")'
check_match "$(cat "$ERR")" "artifact summary.txt does not match" "... naming the artifact"
tamper event "an edited event (a task_end's status)" '
import json
L = open("events.jsonl").read().splitlines()
i = next(i for i, l in enumerate(L) if json.loads(l)["event_type"] == "task_end")
L[i] = L[i].replace("\"status\":\"success\"", "\"status\":\"failed\"", 1)
open("events.jsonl", "w").write("\n".join(L) + "\n")'
check_match "$(cat "$ERR")" "events.jsonl:[0-9]+: seq [0-9]+: hash does not match" "... naming the line and seq"
tamper dag "an edited dag.yaml" 'open("dag.yaml", "a").write("# edited\n")'
tamper missing "a removed artifact" 'import os; os.remove("artifacts/stamp.txt")'
tamper manifest "an edited artifact whose sha256 is also edited in lineage.json" '
import hashlib, json
b = open("artifacts/summary.txt", "rb").read() + b"tampered\n"
open("artifacts/summary.txt", "wb").write(b)
l = json.load(open("lineage.json"))
for o in l["outputs"]:
    if o["path"] == "summary.txt":
        o["sha256"] = hashlib.sha256(b).hexdigest(); o["size"] = len(b)
json.dump(l, open("lineage.json", "w"), indent=2, sort_keys=True)'
tamper dropped "an event removed from the middle of events.jsonl (the hash chain broken)" '
import json
L = open("events.jsonl").read().splitlines()
i = next(i for i, l in enumerate(L) if json.loads(l)["event_type"] == "task_end")
del L[i]
open("events.jsonl", "w").write("\n".join(L) + "\n")'
tamper log "an edited task log (its sha256 is recorded in the task_end event)" \
	'open("logs/summary.1.log", "a").write("tampered\n")'

rp rp_t replay --bundle "$T/t_artifact.tar.zst" --workspace "$T/rp_t" -q
check_rc "$RC" 1 "replay --bundle refuses a tampered bundle"
check "... and runs nothing" test ! -e "$T/rp_t/run.json"

# --- replay from the bundle, clean workspace, empty store, original gone -----------------
rm -rf "$T/ws"
mkdir -p "$T/clean"
: >"$PW_REPRO_TRACE"
(cd "$T/clean" && PITWALL_HOME=$T/clean/home timeout -k 5 60 "$PITWALL" replay --bundle "$T/b1.tar.zst" -q \
	>"$T/rb.stdout" 2>"$T/rb.stderr") && RC=0 || RC=$?
OUT=$T/rb.stdout ERR=$T/rb.stderr
check_rc "$RC" 0 "replay --bundle in a clean workspace with an empty store exits 0"
check_match "$(cat "$OUT")" "verdict: IDENTICAL — 4 identical" "... and every output is identical"
rws=$(sed -n 's/^workspace: //p' "$OUT")
check_match "$rws" "^$T/clean/runs/repro_replayable/" "... in a fresh workspace under the current directory"
if [[ -d $rws ]]; then
	ws_digests "$rws" >"$T/rb.digests"
	check "the replayed workspace's outputs equal the original's" cmp -s "$T/ws.digests" "$T/rb.digests"
fi
rid=$(sed -n 's/^replaying run b1 as \([^ ]*\) .*/\1/p' "$OUT")
PITWALL_HOME=$T/clean/home audit_rows "$rid" >"$T/rb.rows"
check_eq "$(aq "$T/rb.rows" 'of("replay_verdict")[-1]["status"]')" identical "the verdict is recorded in the new store"

printf 'b\na\nCHANGED\n' >"$PW_REPRO_EXT"
: >"$PW_REPRO_TRACE"
rp rbs replay --bundle "$T/b1.tar.zst" --workspace "$T/rbs" --reuse-sources -q
check_rc "$RC" 0 "replay --bundle --reuse-sources: identical though the source changed"
check_eq "$(trace_count fetch)" 0 "... the source task did not run"
check "... its output came from the bundle" cmp -s "$T/x/artifacts/raw/input.txt" "$T/rbs/raw/input.txt"

rp rbm replay --bundle "$T/b1m.tar.zst" --workspace "$T/rbm" -q
check_rc "$RC" 1 "replay of a --manifest-only bundle with the source changed: different (exit 1)"
check_match "$(grep -E '^different +raw/input.txt' "$OUT")" "6 -> 12 bytes" "... sizes shown even without the recorded bytes"

pw_done
