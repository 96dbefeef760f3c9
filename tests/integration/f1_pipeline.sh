#!/usr/bin/env bash
# The whole F1 pipeline through pitwall (dags/f1_data_pipeline.yaml) on the
# real 2021-2023 data (F1_SOURCE=csv:DIR, f1-ingest --from-csv): every task
# succeeds, every output is where docs/f1-pipeline.md says, the splits do not
# leak, a second run is byte-identical, and a hard validation failure stops
# the run at validate_raw_data without a retry.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../f1/lib_f1.bash"
pw_setup
f1_setup
[[ -x $F1_BIN/f1-ingest ]] || pw_skip "$F1_BIN/f1-ingest is not built"
DAG=$PW_SOURCE_DIR/dags/f1_data_pipeline.yaml
[[ -f $DAG ]] || pw_skip "$DAG does not exist"

export F1_SOURCE=csv:$F1_DATA F1_SEASONS=2021-2023
unset F1_PG
cd "$T"

pw_cmd validate "$DAG"
check_eq "$RC" 0 "pitwall validate dags/f1_data_pipeline.yaml: exit 0"

start=$(date +%s%N)
pw_run run1 "$DAG"
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "$RC" 0 "pitwall run on 2021-2023: exit 0 (${ms} ms)"
check_eq "$(rj 'd["status"]')" success "run.json status success"
check_eq "$(rj '[x["task_id"] for x in d["tasks"] if x["status"] != "success"]')" "[]" \
	"all nine tasks succeeded"
check_eq "$(rj 'len(d["tasks"])')" 9 "nine tasks in the run"
((RC == 0)) || pw_show
W1=$WS

outputs=(raw/races.csv raw/results.csv raw/pit_stops.csv raw/drivers.csv raw/circuits.csv
	raw/lap_times.csv quality/report.json clean/laps.csv clean/outliers.csv clean/races.csv
	clean/results.csv clean/pit_stops.csv clean/drivers.csv clean/unmatched_drivers.csv
	clean/report.json features/lap_features.csv splits/train.csv splits/validation.csv
	splits/test.csv profiles/driver_profiles.csv)
missing=()
for f in "${outputs[@]}"; do
	[[ -s $W1/$f ]] || missing+=("$f")
done
check_eq "${missing[*]}" "" "every documented output exists in the workspace"

# f1-ingest --from-csv follows the contract: the same bytes as tests/f1/make_raw.py.
f1_slice "$T/ref" 2021-2023
for f in races results pit_stops lap_times; do
	check "raw/$f.csv from f1-ingest = the contract's reference (make_raw.py)" \
		cmp -s "$W1/raw/$f.csv" "$T/ref/raw/$f.csv"
done
for f in drivers circuits; do
	check_eq "$(comm -23 <(sort "$W1/raw/$f.csv") <(sort "$T/ref/raw/$f.csv") | wc -l)" 0 \
		"raw/$f.csv rows are the dump's rows"
done

check_eq "$(python3 -c "import json; print(json.load(open('$W1/quality/report.json'))['status'])")" \
	pass "validate: report status pass on the real data"
check_eq "$(python3 -c "import json; r=json.load(open('$W1/clean/report.json'))
print(r['raw_laps'], r['unmatched_drivers'])")" "52126 0" \
	"clean: all 52,126 real laps read, every driver matched"
F=$W1/features/lap_features.csv
nf=$(($(count_lines "$F") - 1))
check_le 50000 "$nf" "lap_features: $nf rows"
res=$(python3 "$F1_TESTS/expect.py" split_check "$W1" 2022-12-31 2023-01-01 2023-06-30 2023-07-01)
check_match "$res" "^ok [0-9]+/[0-9]+/0$" \
	"splits: train <= 2022-12-31, validation in 2023 H1, test empty, union = features ($res)"
check_eq "$(cut -d, -f1 "$W1/splits/train.csv" | tail -n +2 | sort -u | tr '\n' ' ')" "2021 2022 " \
	"train holds 2021 and 2022"
np=$(($(count_lines "$W1/profiles/driver_profiles.csv") - 1))
check_le 20 "$np" "driver_profiles: $np drivers (from train)"
check_eq "$(python3 "$F1_TESTS/expect.py" profile "$W1" hamilton career_races)" 44 \
	"hamilton: 44 races in 2021-2022 (career up to the end of train)"

# Determinism: a second run gives the same bytes.
pw_run run2 "$DAG"
check_eq "$RC" 0 "second run: exit 0"
diffs=()
for f in "${outputs[@]}"; do
	[[ $(sha256sum <"$W1/$f") == $(sha256sum <"$WS/$f") ]] || diffs+=("$f")
done
check_eq "${diffs[*]}" "" "second run: all ${#outputs[@]} outputs byte-identical (sha256)"

# A hard validation failure stops the run at validate_raw_data, not retried.
mkdir -p "$T/baddump"
for f in "$F1_DATA"/*.csv; do ln -s "$f" "$T/baddump/"; done
rm "$T/baddump/lap_times_2021_2023.csv"
sed '100s/,1:[0-9][0-9]\.[0-9]*,/,1:75.000,/' "$F1_DATA/lap_times_2021_2023.csv" \
	>"$T/baddump/lap_times_2021_2023.csv"
F1_SOURCE=csv:$T/baddump pw_run bad "$DAG"
check_eq "$RC" 1 "pipeline with a corrupt lap time: pitwall exits 1"
check_eq "$(rj 't("validate_raw_data")["status"]') $(rj 't("validate_raw_data")["attempts"]')" \
	"failed 1" "validate_raw_data failed once (exit 65 is not retried)"
check_eq "$(rj '[x["status"] for x in d["tasks"] if x["task_id"] not in ("ingest_jolpica", "ingest_laps", "validate_raw_data")]')" \
	'["upstream_failed", "upstream_failed", "upstream_failed", "upstream_failed", "upstream_failed", "upstream_failed"]' \
	"everything downstream is upstream_failed"
check_match "$(cat "$WS"/logs/validate_raw_data.1.log)" "raw/lap_times\.csv:100: column 'lap_time': '1:75\.000'" \
	"the task log names raw/lap_times.csv line 100"

pw_done
