#!/usr/bin/env bash
# pitwall rerun and the outputs it reuses: a changed or vanished output of a
# reused task refuses the rerun (listing the files) and runs nothing;
# --rehash-upstream re-runs its producer instead.  The recorded DAG text is
# used unless --use-current-definition, which is refused when the graph
# changed around the reused tasks.
# DAG: tests/dags/repro/fixable.yaml (failure switch: $PW_REPRO_FLAG).
source "$(dirname "$0")/lib_repro.bash"
repro_setup
DAG=$RD/fixable.yaml
LD=2026-03-01T00:00:00Z

pw_run clean "$DAG" --run-id clean1 --logical-date $LD
check_rc "$RC" 0 "clean run succeeds"
ws_digests "$T/clean" >"$T/clean.digests"

# --- tampered upstream output: refused --------------------------------------
echo fail >"$PW_REPRO_FLAG"
pw_run ws "$DAG" --run-id f1 --logical-date $LD
check_rc "$RC" 1 "the run with the switch on fails"
rm -f "$PW_REPRO_FLAG"
echo 999 >>"$T/ws/data/numbers.txt" # gen's output, read by fragile
rm "$T/ws/data/squares.txt"         # square's output, read by combine
audit_rows f1 >"$T/before.rows"
: >"$PW_REPRO_TRACE"
rp refuse rerun f1
check_rc "$RC" 1 "rerun with a tampered reused output exits 1"
check_match "$(cat "$ERR")" "refusing to reuse outputs" "the refusal says why"
check_match "$(cat "$ERR")" "data/numbers.txt \(from task gen\): changed" "it lists the changed file and its producer"
check_match "$(cat "$ERR")" "data/squares.txt \(from task square\): missing" "it lists the missing file and its producer"
check_match "$(cat "$ERR")" "--rehash-upstream" "it hints at --rehash-upstream"
check_eq "$(wc -c <"$PW_REPRO_TRACE" | tr -d ' ')" 0 "a refused rerun runs nothing"
audit_rows f1 >"$T/after.rows"
check_eq "$(aq "$T/after.rows" 'len(rows)')" "$(aq "$T/before.rows" 'len(rows)')" \
	"a refused rerun records nothing (no rerun_requested)"
rp refuse_dry rerun f1 --dry-run
check_rc "$RC" 1 "rerun --dry-run refuses the same way"

# --- --rehash-upstream: the producers run again ------------------------------
rp rehash rerun f1 --rehash-upstream
check_rc "$RC" 0 "rerun --rehash-upstream succeeds"
check_match "$(cat "$ERR")" "re-running producers of changed outputs" "it says it re-runs the producers"
audit_rows f1 >"$T/f1.rows"
check_eq "$(aq "$T/f1.rows" 'tasks("task_start", after("rerun_requested"))')" \
	'["combine", "fragile", "gen", "report", "square"]' \
	"--rehash-upstream re-runs gen and square (the producers) and what depends on them, not side"
ws_digests "$T/ws" >"$T/ws.digests"
if diff "$T/clean.digests" "$T/ws.digests" >"$T/diff.txt"; then
	pw_ok "after --rehash-upstream the outputs equal a clean run's"
else
	pw_notok "after --rehash-upstream the outputs equal a clean run's" "$(cat "$T/diff.txt")"
fi

# --- a reused output that nothing in the set reads ---------------------------
# `rerun --only report` of a successful run reuses side (not upstream of
# report).  The help says successful tasks outside the set are reused after
# their outputs are re-hashed, so a missing side.txt must refuse too.
pw_run ws2 "$DAG" --run-id f2 --logical-date $LD
rm "$T/ws2/side.txt"
: >"$PW_REPRO_TRACE"
rp side rerun f2 --only report
if ((RC != 0)) && grep -q 'side.txt' "$ERR"; then
	pw_ok "a missing output of a reused task outside the set's upstream refuses the rerun"
else
	pw_notok "a missing output of a reused task outside the set's upstream refuses the rerun" \
		"pitwall rerun f2 --only report: exit $RC; side.txt exists afterwards: $([[ -e $T/ws2/side.txt ]] && echo yes || echo no)" \
		"stdout: $(head -n 2 "$OUT" | tr '\n' ' ')"
fi

# --- recorded DAG text vs --use-current-definition ---------------------------
cp "$DAG" "$T/my.yaml"
echo fail >"$PW_REPRO_FLAG"
pw_run ws3 "$T/my.yaml" --run-id f3 --logical-date $LD
rm -f "$PW_REPRO_FLAG"
# Edit a task in the rerun set (fragile keeps multiples of 5 instead of 7).
sed -i 's/% 7 == 0/% 5 == 0/' "$T/my.yaml"
rp recorded rerun f3 --dry-run
check_rc "$RC" 0 "dry-run with the file edited"
rp recorded rerun f3
check_rc "$RC" 0 "rerun without --use-current-definition succeeds"
ws_digests "$T/ws3" >"$T/ws3.digests"
check "without --use-current-definition the recorded DAG text is used (outputs = clean run's)" \
	cmp -s "$T/clean.digests" "$T/ws3.digests"

echo fail >"$PW_REPRO_FLAG"
cp "$DAG" "$T/my4.yaml"
pw_run ws4 "$T/my4.yaml" --run-id f4 --logical-date $LD
rm -f "$PW_REPRO_FLAG"
sed -i 's/% 7 == 0/% 5 == 0/' "$T/my4.yaml"
rp current rerun f4 --use-current-definition
check_rc "$RC" 0 "--use-current-definition with only re-run tasks edited is accepted"
check_eq "$(head -n 1 "$T/ws4/data/sevens.txt")" 5 "--use-current-definition runs the edited command"
audit_rows f4 >"$T/f4.rows"
check_eq "$(aq "$T/f4.rows" 'of("dag_run_start")[-1]["metadata"]["dag_sha256"] != of("dag_run_start")[0]["metadata"]["dag_sha256"]')" \
	"true" "the rerun records the new DAG text's digest"

echo fail >"$PW_REPRO_FLAG"
cp "$DAG" "$T/my5.yaml"
pw_run ws5 "$T/my5.yaml" --run-id f5 --logical-date $LD
rm -f "$PW_REPRO_FLAG"
sed -i 's/seq 1 200/seq 1 300/' "$T/my5.yaml" # gen: reused by the rerun
: >"$PW_REPRO_TRACE"
rp changed rerun f5 --use-current-definition
check_rc "$RC" 1 "--use-current-definition is refused when a reused task changed"
check_match "$(cat "$ERR")" "reused task 'gen'" "the refusal names the reused task"
check_eq "$(wc -c <"$PW_REPRO_TRACE" | tr -d ' ')" 0 "the refused rerun ran nothing"

# A reused task's dependencies changed (square also waits for side now).
cp "$DAG" "$T/my6.yaml"
echo fail >"$PW_REPRO_FLAG"
pw_run ws6 "$T/my6.yaml" --run-id f6 --logical-date $LD
rm -f "$PW_REPRO_FLAG"
python3 - "$T/my6.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
i = s.index("task_id: square")
s = s[:i] + s[i:].replace("dependencies: [gen]", "dependencies: [gen, side]", 1)
open(p, "w").write(s)
PY
rp deps rerun f6 --use-current-definition
check_rc "$RC" 1 "--use-current-definition is refused when a reused task's dependencies changed"
check_match "$(cat "$ERR")" "reused task 'square'" "the refusal names it"

pw_done
