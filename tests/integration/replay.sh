#!/usr/bin/env bash
# pitwall replay: the smoke DAG replays identical (exit 0); a deliberately
# nondeterministic DAG replays different (exit non-zero, first differing line
# shown).  A replay is a new run (replay_of) with the same logical date and
# seed as seen by the tasks; --reuse-sources restores `source: true` outputs
# instead of running them; the verdict is printed and recorded as a
# replay_verdict event; changed executables and git commits are reported.
# DAGs: dags/smoke.yaml, tests/dags/repro/{replayable,nondet,digest}.yaml.
source "$(dirname "$0")/lib_repro.bash"
repro_setup
SMOKE=$RD/../../../dags/smoke.yaml
LD=2026-02-14T12:00:00Z

# --- smoke: identical ----------------------------------------------------------
pw_run smoke "$SMOKE" --run-id s1 --logical-date $LD
check_rc "$RC" 0 "smoke run succeeds"
rp rs replay s1 --workspace "$T/rs" -q
check_rc "$RC" 0 "replay of the smoke run exits 0"
check_match "$(cat "$OUT")" "verdict: IDENTICAL — 5 identical, 0 different, 0 missing, 0 new" \
	"the verdict line says IDENTICAL, 5 identical"
check_match "$(cat "$OUT")" "VERDICT +OUTPUT +DETAIL" "a verdict table is printed"
check_match "$(grep -E '^identical +report.txt' "$OUT")" "identical" "the table has a row per output (report.txt)"
rid=$(sed -n 's/^replaying run s1 as \([^ ]*\) .*/\1/p' "$OUT")
check_match "$rid" "^smoke_replay_" "the replay gets a new run id ($rid)"
audit_rows "$rid" >"$T/rs.rows"
audit_rows s1 >"$T/s1.rows"
check_eq "$(aq "$T/rs.rows" 'of("dag_run_start")[0]["metadata"].get("replay_of")')" s1 \
	"the replay's dag_run_start records replay_of"
check_eq "$(aq "$T/rs.rows" 'of("dag_run_start")[0]["metadata"]["logical_date"]')" $LD "same logical date"
check_eq "$(aq "$T/rs.rows" 'of("dag_run_start")[0]["metadata"]["seed"]')" \
	"$(aq "$T/s1.rows" 'of("dag_run_start")[0]["metadata"]["seed"]')" "same seed"
check_eq "$(aq "$T/rs.rows" 'of("replay_verdict")[-1]["status"]')" identical "a replay_verdict event says identical"
check_eq "$(aq "$T/rs.rows" 'of("replay_verdict")[-1]["metadata"]["identical"]')" 5 "... with 5 identical files"
check_eq "$(aq "$T/s1.rows" 'len(of("dag_run_start"))')" 1 "the original run's record is untouched"

# --- nondeterministic: different --------------------------------------------------
pw_run nd "$RD/nondet.yaml" --run-id n1 --logical-date $LD
check_rc "$RC" 0 "nondet run succeeds"
rp rn replay n1 --workspace "$T/rn" -q
check_rc "$RC" 1 "replay of the nondeterministic run exits 1"
check_match "$(cat "$OUT")" "verdict: DIFFERENT — 1 identical, 1 different" "the verdict says DIFFERENT"
check_match "$(grep -E '^different +noisy.txt' "$OUT")" "line 3: recorded 'token [0-9a-f-]+' vs now 'token [0-9a-f-]+'" \
	"noisy.txt: the first differing line (3) is shown"
check_match "$(grep -E '^identical +stable.txt' "$OUT")" identical "stable.txt is identical"
rid=$(sed -n 's/^replaying run n1 as \([^ ]*\) .*/\1/p' "$OUT")
audit_rows "$rid" >"$T/rn.rows"
check_eq "$(aq "$T/rn.rows" 'of("replay_verdict")[-1]["status"]')" different "replay_verdict says different"
check_eq "$(aq "$T/rn.rows" '[f["verdict"] for f in of("replay_verdict")[-1]["metadata"]["files"] if f["path"] == "noisy.txt"]')" \
	'["different"]' "replay_verdict lists noisy.txt as different"

# --- seed and logical date seen by the tasks; --reuse-sources -----------------------
printf 'b\na\nc\n' >"$PW_REPRO_EXT"
: >"$PW_REPRO_TRACE"
pw_run rep "$RD/replayable.yaml" --run-id p1 --logical-date 2026-05-01T06:00:00Z
check_rc "$RC" 0 "replayable run succeeds"
orig_stamp=$(grep '^stamp' "$PW_REPRO_TRACE")
: >"$PW_REPRO_TRACE"
rp rp1 replay p1 --workspace "$T/rp1" -q
check_rc "$RC" 0 "replay of the replayable run exits 0"
check_eq "$(grep '^stamp' "$PW_REPRO_TRACE")" "$orig_stamp" \
	"PITWALL_SEED and PITWALL_LOGICAL_DATE seen by the task are equal in both runs"
check_match "$orig_stamp" "seed=[0-9]+ logical_date=2026-05-01T06:00:00Z" "... and are what the run was given"

printf 'b\na\nCHANGED\n' >"$PW_REPRO_EXT" # the external system moved on
rp rp2 replay p1 --workspace "$T/rp2" -q
check_rc "$RC" 1 "without --reuse-sources the source task fetches again: exit 1"
check_match "$(grep -E '^different +raw/input.txt' "$OUT")" "line 3: recorded 'c' vs now 'CHANGED'" \
	"... and raw/input.txt differs at line 3"
: >"$PW_REPRO_TRACE"
rp rp3 replay p1 --workspace "$T/rp3" --reuse-sources -q
check_rc "$RC" 0 "with --reuse-sources the replay is identical (exit 0)"
check_eq "$(trace_count fetch)" 0 "with --reuse-sources the source task did not run"
check_eq "$(trace_count sample) $(trace_count summary)" "1 1" "... while the other tasks did"
check "... and its output was restored into the new workspace" cmp -s "$T/rep/raw/input.txt" "$T/rp3/raw/input.txt"
rid=$(sed -n 's/^replaying run p1 as \([^ ]*\) .*/\1/p' "$OUT")
audit_rows "$rid" >"$T/rp3.rows"
check_eq "$(aq "$T/rp3.rows" 'of("dag_run_start")[-1]["metadata"].get("reuse_sources")')" true \
	"the replay records reuse_sources"

# --- new run ids ------------------------------------------------------------------------
# Replay ids are <dag>_replay_<UTC time to the second>: start two replays
# right after a second boundary so that they fall in the same second.
python3 -c 'import time; time.sleep(1.02 - time.time() % 1)'
rp u1 replay s1 --workspace "$T/u1" -q
id1=$(sed -n 's/^replaying run s1 as \([^ ]*\) .*/\1/p' "$OUT")
rp u2 replay s1 --workspace "$T/u2" -q
id2=$(sed -n 's/^replaying run s1 as \([^ ]*\) .*/\1/p' "$OUT")
if [[ -n $id1 && $id1 != "$id2" ]]; then
	pw_ok "two replays started within a second get different run ids"
else
	pw_notok "two replays started within a second get different run ids" "both: '$id1'" \
		"history: $("$PITWALL" history smoke 2>&1 | head -n 4 | tr '\n' '|')"
fi
rp hijack replay s1 --run-id s1 --workspace "$T/hijack" -q
audit_rows s1 >"$T/s1b.rows"
if ((RC != 0)) && [[ $(aq "$T/s1b.rows" 'len(of("dag_run_start"))') == 1 ]]; then
	pw_ok "replay --run-id with the original's run id is refused"
else
	pw_notok "replay --run-id with the original's run id is refused" "exit $RC" \
		"s1 now has $(aq "$T/s1b.rows" 'len(of("dag_run_start"))') dag_run_start rows; status: $("$PITWALL" status s1 2>&1 | sed -n 3p)"
fi

# --- another executable: digest reported ------------------------------------------------
mkdir -p "$T/bin"
printf '#!/bin/sh\necho tool-output > "$1"\n' >"$T/bin/pw_repro_tool"
chmod +x "$T/bin/pw_repro_tool"
PATH=$T/bin:$PATH pw_run dg "$RD/digest.yaml" --run-id d1 --logical-date $LD
check_rc "$RC" 0 "digest DAG run succeeds (script on PATH)"
PATH=$T/bin:$PATH rp dg0 replay d1 --workspace "$T/dg0" -q
check_match "$(cat "$OUT")" "executables: same digests as recorded" "unchanged script: same digests"
printf '#!/bin/sh\n# edited after the run\necho tool-output > "$1"\n' >"$T/bin/pw_repro_tool"
PATH=$T/bin:$PATH rp dg1 replay d1 --workspace "$T/dg1" -q
echo "# replay with the edited script exited $RC"
check_match "$(cat "$OUT")" "verdict: IDENTICAL — 2 identical" "edited script, same output: outputs identical"
check_match "$(cat "$OUT")" "executables: some digests differ" "the changed executable is reported"
check_match "$(cat "$OUT")" "tool: recorded sha256:[0-9a-f]{64}, now sha256:[0-9a-f]{64}" "... naming the task and both digests"
check_nomatch "$(cat "$OUT")" "plain: recorded" "... and not the unchanged /bin/sh task"
rid=$(sed -n 's/^replaying run d1 as \([^ ]*\) .*/\1/p' "$OUT")
audit_rows "$rid" >"$T/dg1.rows"
check_eq "$(aq "$T/dg1.rows" '[x["task_id"] for x in of("replay_verdict")[-1]["metadata"]["executables_differ"]]')" \
	'["tool"]' "replay_verdict lists tool under executables_differ"

# --- git commit: match and mismatch -------------------------------------------------------
if type -P git >/dev/null; then
	G=$T/repo
	mkdir -p "$G"
	cp "$RD/nondet.yaml" "$G/dag.yaml"
	gitq() { git -C "$G" -c user.name=pw-test -c user.email=pw-test@localhost -c commit.gpgsign=false "$@" >/dev/null 2>&1; }
	gitq init -q && gitq add dag.yaml && gitq commit -q -m one
	sha1=$(git -C "$G" rev-parse HEAD)
	pw_run g1 "$G/dag.yaml" --run-id g1 --logical-date $LD
	rp gr1 replay g1 --workspace "$T/gr1" -q
	check_match "$(cat "$OUT")" "git commit: recorded ${sha1:0:12}, now ${sha1:0:12} \(match\)" "same commit: git match reported"
	echo "# another commit" >"$G/README"
	gitq add README && gitq commit -q -m two
	sha2=$(git -C "$G" rev-parse HEAD)
	rp gr2 replay g1 --workspace "$T/gr2" -q
	check_match "$(cat "$OUT")" "git commit: recorded ${sha1:0:12}, now ${sha2:0:12} \(DIFFERENT\)" "new commit: git DIFFERENT reported"
	rid=$(sed -n 's/^replaying run g1 as \([^ ]*\) .*/\1/p' "$OUT")
	audit_rows "$rid" >"$T/gr2.rows"
	check_eq "$(aq "$T/gr2.rows" 'of("replay_verdict")[-1]["metadata"]["git_match"]')" false "replay_verdict: git_match false"
else
	echo "# git not installed: git commit checks skipped"
fi

# --- errors -----------------------------------------------------------------------------
rp nosuch replay no_such_run -q
check_rc "$RC" 1 "replay of an unknown run exits 1"
rp usage replay -q
check_rc "$RC" 64 "replay without RUN_ID or --bundle is a usage error (64)"

pw_done
