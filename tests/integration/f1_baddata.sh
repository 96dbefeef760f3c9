#!/usr/bin/env bash
# Bad data through the F1 tasks: every defect gives exit 65 (data error, not
# retried) or 66 (missing input) and a message naming the file and line.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../f1/lib_f1.bash"
pw_setup
f1_setup

GOOD=$T/good
f1_slice "$GOOD" 2023 1-2

# fresh NAME: a copy of the good slice in $T/NAME, and cd there.
fresh() {
	rm -rf "${T:?}/$1"
	mkdir -p "$T/$1"
	cp -r "$GOOD/raw" "$T/$1/raw"
	cd "$T/$1"
}

# A row with one field too many (a stray comma in an unquoted name).
fresh extra
sed -i '7s/,Finished$/,Finished,extra/' raw/results.csv
f1_run f1-clean
check_eq "$RC" 65 "results.csv row with an extra field: f1-clean exits 65"
check_match "$(cat "$ERR")" "raw/results\.csv:7:1: wrong number of fields: expected 23 fields, got 24" \
	"... naming raw/results.csv line 7"
f1_run f1-validate
check_eq "$RC" 65 "... and f1-validate exits 65"
check_eq "$(python3 -c "import json; r=json.load(open('quality/report.json'))
print(r['status'], 'wrong number of fields' in r['tables']['results']['error'])")" "fail True" \
	"... with the parse error in the report"

# A quote opened and never closed (the file ends inside it).
fresh unterminated
printf '9999,1,"Gasly,\n' >>raw/drivers.csv
line=$(wc -l <raw/drivers.csv)
f1_run f1-clean
check_eq "$RC" 65 "drivers.csv ending inside a quoted field: exit 65"
check_match "$(cat "$ERR")" "raw/drivers\.csv:$line:8: unterminated quoted field" \
	"... naming raw/drivers.csv line $line, column 8"

# A quote in the middle of an unquoted field.
fresh strayquote
line=$(grep -n ',Bahrain Grand Prix,' raw/races.csv | cut -d: -f1)
sed -i 's/,Bahrain Grand Prix,/,Bahrain "Grand" Prix,/' raw/races.csv
f1_run f1-clean
check_eq "$RC" 65 "races.csv with a stray quote: exit 65"
check_match "$(cat "$ERR")" "raw/races\.csv:$line:[0-9]+: quote inside an unquoted field" \
	"... naming raw/races.csv line $line"

# Non-UTF-8 bytes: a Latin-1 name.
fresh latin1
sed -i 's/Pérez/P\xe9rez/' raw/drivers.csv
line=$(grep -n -a 'P.rez' raw/drivers.csv | head -1 | cut -d: -f1)
f1_run f1-clean
check_eq "$RC" 65 "drivers.csv in Latin-1: exit 65"
check_match "$(cat "$ERR")" "raw/drivers\.csv:$line:[0-9]+: invalid UTF-8 \(byte 0xe9\)" \
	"... naming raw/drivers.csv line $line and the byte"
f1_run f1-validate
check_eq "$RC" 65 "... f1-validate exits 65 too"

# A lap time that is not m:ss.mmm.
fresh badtime
sed -i '5s/,1:[0-9][0-9]\.[0-9]*,/,1:3O.000,/' raw/lap_times.csv
f1_run f1-clean
check_eq "$RC" 65 "lap time '1:3O.000': exit 65"
check_match "$(cat "$ERR")" "raw/lap_times\.csv:5: column 'lap_time': expected a duration" \
	"... naming raw/lap_times.csv line 5 and the column"
f1_run f1-validate
check_eq "$RC" 65 "... f1-validate: value_type is a hard rule"

# A hard validation rule: a result for a race that does not exist.
fresh norace
sed -i '2s/^\([^,]*,[^,]*,\)\(.*\),2023,1,\([a-z_]*\),/\1\2,2023,42,\3,/' raw/results.csv
f1_run f1-validate
check_eq "$RC" 65 "a result of a race not in races.csv: f1-validate exits 65"
check_match "$(cat "$ERR")" "rule result_race_exists \(results\) failed: 1 of [0-9]+; first: raw/results\.csv:2: no race 2023 round 42" \
	"... naming the rule, the count and raw/results.csv line 2"
check_eq "$(python3 -c "import json; r=json.load(open('quality/report.json'))
x=[x for x in r['rules'] if x['rule']=='result_race_exists'][0]
print(r['status'], x['status'], x['violations'])")" "fail fail 1" "... and the report says so"

# Lap times in bulk out of range (a unit error: milliseconds written as seconds).
fresh units
awk -F, -v OFS=, 'NR > 1 && NR % 20 == 0 { $7 = "1500.000" } 1' raw/lap_times.csv >x && mv x raw/lap_times.csv
f1_run f1-validate
check_eq "$RC" 65 "5% of lap times at 1500 s: lap_time_range becomes hard, exit 65"
f1_run f1-validate --max-out-of-range 10
check_eq "$RC" 0 "... but passes with --max-out-of-range 10 (a warning then)"

# A duplicate key that would break the joins.
fresh dupdriver
tail -1 raw/drivers.csv >>raw/drivers.csv
f1_run f1-validate
check_eq "$RC" 65 "a duplicate driverRef in drivers.csv: exit 65"
check_match "$(cat "$ERR")" "duplicate_keys \(drivers\) failed" "... rule duplicate_keys (drivers)"

# An unknown driver in the lap times is reported, never silently dropped.
fresh unknown
printf '2023,1,1,nobody_atall,name,\\N,1:40.000,0.0\n2023,1,2,nobody_atall,name,\\N,1:39.000,0.0\n' \
	>>raw/lap_times.csv
f1_run f1-clean
check_eq "$RC" 0 "a lap-time driver matching nobody: f1-clean still exits 0"
check_match "$(cat "$ERR")" "warning: raw/lap_times\.csv:[0-9]+: driver 'nobody_atall' \(name\) of 2023 round 1 matches no driver" \
	"... warns with file and line"
check_eq "$(tail -1 clean/unmatched_drivers.csv)" "2023,1,nobody_atall,name,2" \
	"... and lists it with its 2 laps in clean/unmatched_drivers.csv"
f1_run f1-clean --strict
check_eq "$RC" 65 "... --strict makes that exit 65"

# A missing input.
fresh missing
rm raw/pit_stops.csv
f1_run f1-clean
check_eq "$RC" 66 "raw/pit_stops.csv missing: exit 66"
check_match "$(cat "$ERR")" "raw/pit_stops\.csv: cannot open" "... naming the file"

# A corrupted features file reaching split: the line is named.
fresh features
f1-clean -q && f1-feature -q
sed -i '10s/,2023-03-05,/,2023-02-30,/' features/lap_features.csv
f1_run f1-split --split train
check_eq "$RC" 65 "lap_features.csv with race_date 2023-02-30: f1-split exits 65"
check_match "$(cat "$ERR")" "features/lap_features\.csv:10: column 'race_date': expected a date" \
	"... naming the file and line 10"

pw_done
