#!/usr/bin/env bash
# The F1 pipeline's tasks, one by one, on a one-season slice of the real data
# (2023: five races of lap times, the whole season's results and pit stops,
# including Melbourne's red-flag stops), each checked against values that
# tests/f1/expect.py recomputes from the raw CSVs in plain Python.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../f1/lib_f1.bash"
pw_setup
f1_setup
EXPECT="$F1_TESTS/expect.py"
ex() { python3 "$EXPECT" "$@"; }

W=$T/s23
f1_slice "$W" 2023
cd "$W"

# --- help ---------------------------------------------------------------
for t in validate clean feature split profiles; do
	f1_run "f1-$t" --help
	check_match "$RC $(head -1 "$OUT")" "^0 Usage: f1-$t" "f1-$t --help: exit 0 and a usage line"
done
f1_run f1-split --bogus
check_eq "$RC" 64 "f1-split with an unknown option: exit 64"

# --- validate -----------------------------------------------------------
f1_run f1-validate
check_eq "$RC" 0 "f1-validate on 2023: exit 0 (warnings only)"
R=quality/report.json
rule() { python3 -c "import json,sys; r=json.load(open('$R'))
print([x for x in r['rules'] if x['rule']=='$1' and x['table']=='$2'][0]['$3'])"; }
check_eq "$(python3 -c "import json; print(json.load(open('$R'))['status'])")" pass "report status pass"
check_eq "$(rule lap_time_range lap_times violations)" "$(ex lap_range_violations "$W")" \
	"lap_time_range: violations = laps outside 30-300 s counted independently"
check_eq "$(rule duplicate_keys lap_times violations)" "$(ex dup_lap_keys "$W")" \
	"duplicate lap keys counted as independently"
check_eq "$(rule pit_stops_per_result results violations)" "$(ex results_over5 "$W")" \
	"results with more than 5 pit stops counted as independently"
check_eq "$(python3 -c "import json; t=json.load(open('$R'))['tables']
print(sorted(t), all(0 <= v['quality_score'] <= 100 for v in t.values()))")" \
	"['circuits', 'drivers', 'lap_times', 'pit_stops', 'races', 'results'] True" \
	"a 0-100 quality score for each of the six tables"
check_match "$(cat "$ERR")" "wrote quality/report.json" "f1-validate prints progress"

# --- clean --------------------------------------------------------------
f1_run f1-clean
check_eq "$RC" 0 "f1-clean: exit 0"
check_eq "$(count_lines clean/unmatched_drivers.csv)" 1 "every lap's driver matched (no unmatched rows)"
check_eq "$(ex clean_ids "$W")" "$(ex name_map "$W")" \
	"drivers of clean laps = lap-time names matched through drivers.csv by Python"
check_match " $(ex clean_ids "$W") " " perez .* zhou " \
	"zhou_guanyu -> zhou (surname first), sergio_perez -> perez (accent folded)"
kept=$(($(count_lines clean/laps.csv) - 1))
removed=$(($(count_lines clean/outliers.csv) - 1))
dups=$(python3 -c "import json; print(json.load(open('clean/report.json'))['duplicate_laps_dropped'])")
check_eq "$((kept + removed + dups))" "$(($(count_lines raw/lap_times.csv) - 1))" \
	"kept + removed + dropped duplicates = raw laps (nothing silently lost)"
check_eq "$(grep -c ',over_500s$' clean/outliers.csv || true)" "$(ex laps_over "$W" 500000)" \
	"laps over 500 s removed, as counted independently"
check_eq "$(grep -c ',under_30s$' clean/outliers.csv || true)" "$(ex laps_under "$W" 30000)" \
	"laps under 30 s removed, as counted independently"
check_eq "$(ex outlier_check "$W")" ok "above_mean_3sd laps exceed their race's mean + 3 sd; kept laps do not"
# A red-flag stop in Melbourne 2023: duration m:ss.mmm in the raw file.
rf=$(awk -F, 'NR > 1 && $6 ~ /:/ { print $8 "," $9 "," $10 "," $3 "," $6; exit }' raw/pit_stops.csv)
IFS=, read -r y r d s dur <<<"$rf"
want=$(python3 -c "m,s='$dur'.split(':'); print(round((int(m)*60+float(s))*1000))")
check_eq "$(awk -F, -v y="$y" -v r="$r" -v d="$d" -v s="$s" \
	'$1==y && $2==r && $3==d && $4==s { print $6 "," $7 }' clean/pit_stops.csv)" "$want,1" \
	"red-flag pit duration $dur ($y round $r, $d) -> $want ms, red_flag 1"
check_eq "$(head -1 clean/laps.csv)" \
	"year,round,driver_id,lap,lap_time_ms,cum_time_ms,position,pit_in,pit_out,tire_compound" \
	"clean/laps.csv columns"

# --- feature ------------------------------------------------------------
f1_run f1-feature
check_eq "$RC" 0 "f1-feature: exit 0"
F=features/lap_features.csv
check_eq "$(head -1 $F)" \
	"year,round,circuit_id,race_date,driver_id,lap_number,lap_time_ms,tire_compound,tire_age,pit_stop,fuel_remaining,position,stint,gap_to_leader,laps_remaining" \
	"lap_features.csv: the spec's columns with year, round, race_date, driver_id, lap_number"
check_eq "$(($(count_lines $F) - 1))" "$kept" "one feature row per clean lap"
n=$((kept))
check_eq "$(ex tire_age_check "$W")" "$n/$n" "tire_age, stint and pit_stop of every row match raw/pit_stops.csv"
check_eq "$(ex feature_at "$W" 2023 1 leclerc 20 tire_age)" "$(ex tire_age_at "$W" 2023 1 leclerc 20)" \
	"leclerc, Bahrain 2023, lap 20: tire_age from pit_stops.csv"
check_eq "$(ex fuel_laps_check "$W")" "$n/$n" \
	"fuel_remaining = 110 - lap x 110/circuit laps and laps_remaining = winner's laps - lap, every row"
agree=$(ex gap_agreement "$W")
check_match "$agree" "^(0\.99[0-9]|1\.000) [0-9]{3,}" \
	"gap_to_leader agrees with the source's own gaps within 0.01 s ($agree)"
check_eq "$(awk -F, 'NR > 1 && $12 == 1 && $14 != "0.000"' $F | wc -l)" 0 "the leader's gap is 0.000"

# --- split --------------------------------------------------------------
for s in train validation test; do
	f1_run f1-split --split $s
	check_eq "$RC" 0 "f1-split --split $s (default boundaries): exit 0"
done
check_eq "$(ex split_check "$W" 2022-12-31 2023-01-01 2023-06-30 2023-07-01)" "ok 0/$n/0" \
	"default boundaries: all 2023 rounds 1-5 in validation, nothing leaks"
B=(--train-end 2023-03-10 --val-start 2023-03-11 --val-end 2023-04-15 --test-start 2023-04-16)
rm -rf splits
for s in train validation test; do
	f1_run f1-split --split $s "${B[@]}"
done
res=$(ex split_check "$W" 2023-03-10 2023-03-11 2023-04-15 2023-04-16)
check_match "$res" "^ok [1-9][0-9]*/[1-9][0-9]*/[1-9][0-9]*$" \
	"custom boundaries: each split within its dates, train+validation+test = all rows, disjoint ($res)"
f1_run f1-split --split test --val-start 2023-05-01 --val-end 2023-04-01
check_eq "$RC" 64 "validation start after its end: exit 64"
check_match "$(cat "$ERR")" "validation start 2023-05-01 is after its end" "... with a clear message"

# --- profiles -----------------------------------------------------------
f1_run f1-profiles --in $F
check_eq "$RC" 0 "f1-profiles --in lap_features.csv: exit 0"
P=profiles/driver_profiles.csv
check_eq "$(head -1 $P)" \
	"driver_id,name,aggression,consistency,pressure_response,tire_management,career_races,data_quality" \
	"driver_profiles.csv: the spec's columns"
check_eq "$(($(count_lines $P) - 1))" "$(cut -d, -f5 $F | tail -n +2 | sort -u | wc -l)" \
	"one profile per driver with laps"
check_eq "$(ex profile "$W" hamilton career_races)" "$(ex career "$W" hamilton)" \
	"hamilton's career_races = his results up to the last race date"
check_eq "$(ex profile "$W" max_verstappen consistency)" "$(ex consistency "$W" max_verstappen)" \
	"max_verstappen's consistency recomputed from its definition"
check_eq "$(ex profile "$W" alonso aggression)" "$(ex aggression "$W" alonso)" \
	"alonso's aggression (overtakes not explained by pit stops) recomputed"
check_eq "$(awk -F, 'NR > 1 && ($8 < 0 || $8 > 100)' $P | wc -l)" 0 "data_quality within 0-100"
check_match "$(grep '^perez,' $P)" '^perez,Sergio Pérez,' "UTF-8 names come through (Sergio Pérez)"

# --- determinism --------------------------------------------------------
mkdir -p "$T/again"
(cd "$T/again" && ln -s "$W/raw" raw && f1-clean -q && f1-feature -q && f1-profiles -q --in $F)
for f in clean/laps.csv clean/outliers.csv clean/report.json $F $P; do
	check_eq "$(sha256sum <"$T/again/$f")" "$(sha256sum <"$W/$f")" "second run: $f byte-identical"
done

# --- a season without lap times (2011): Monza's 16:44.718 stop -----------
f1_slice "$T/s11" 2011
(cd "$T/s11" && f1-clean -q) && rc=0 || rc=$?
check_eq "$rc" 0 "f1-clean on 2011 (no lap times at all): exit 0"
check_eq "$(awk -F, '$6 == 1004718 { print $1 "," $2 "," $7 }' "$T/s11/clean/pit_stops.csv")" "2011,13,1" \
	"Monza 2011's 16:44.718 stop -> 1004718 ms, flagged as over a minute"

((PW_FAIL == 0)) || { echo "# stderr of the last task:"; sed 's/^/#   /' "$ERR" | head -20; }
pw_done
