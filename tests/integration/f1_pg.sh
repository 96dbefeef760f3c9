#!/usr/bin/env bash
# --pg CONNINFO against a real, throwaway PostgreSQL (initdb on a socket in
# /tmp, port 55432, fsync off): f1-clean creates the spec's schema, f1-feature
# loads lap_features with COPY and creates the train/validation/test views,
# f1-profiles loads driver_profiles. Skipped (77) without PostgreSQL binaries.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/../f1/lib_f1.bash"
pw_setup
f1_setup

PGBIN=
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
	if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
		PGBIN=$d
		break
	fi
done
[[ -n $PGBIN ]] || pw_skip "no PostgreSQL server binaries (initdb, pg_ctl)"
PSQL=$(type -P psql || true)
[[ -z $PSQL && -x $PGBIN/psql ]] && PSQL=$PGBIN/psql
[[ -n $PSQL ]] || pw_skip "no psql"
# initdb refuses to run as root: run the server as the postgres user.
AS=()
if [[ $(id -u) == 0 ]]; then
	id postgres >/dev/null 2>&1 || pw_skip "running as root and there is no postgres user"
	AS=(runuser -u postgres --)
fi

PORT=${F1_PG_PORT:-55432}
PGD=$(mktemp -d /tmp/pw-f1-pg.XXXXXX)
chmod 755 "$PGD"
[[ ${#AS[@]} == 0 ]] || chown postgres "$PGD"
pg_stop() {
	"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGD/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$PGD"
}
trap 'rc=$?; pg_stop; (exit $rc); pw_cleanup' EXIT

if ! "${AS[@]}" "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres >"$T/initdb.log" 2>&1; then
	sed 's/^/# /' "$T/initdb.log" | tail -5
	pw_skip "initdb failed"
fi
if ! "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGD/data" -w -t 30 -l "$PGD/log" \
	-o "-c fsync=off -c listen_addresses='' -k $PGD -p $PORT" start >/dev/null 2>&1; then
	sed 's/^/# /' "$PGD/log" | tail -5
	pw_skip "the PostgreSQL server did not start (port $PORT in use?)"
fi
CI="host=$PGD port=$PORT user=postgres dbname=postgres"
q() { "$PSQL" -X -A -t -q -d "$CI" -c "$1"; }
check_eq "$(q 'select 1')" 1 "throwaway PostgreSQL is up on $PGD, port $PORT"

W=$T/s23
f1_slice "$W" 2023
cd "$W"
B=(--train-end 2023-03-10 --val-start 2023-03-11 --val-end 2023-04-15 --test-start 2023-04-16)

f1_run f1-clean --pg "$CI"
check_eq "$RC" 0 "f1-clean --pg: exit 0"
check_eq "$(q "select string_agg(table_name, ',' order by table_name) from information_schema.tables where table_schema = 'public'")" \
	"driver_profiles,lap_features" "the spec's tables exist"
check_eq "$(q "select data_type from information_schema.columns where table_name = 'lap_features' and column_name = 'pit_stop'")" \
	boolean "lap_features.pit_stop is BOOLEAN as in the spec"

f1_run f1-feature --pg "$CI" "${B[@]}"
check_eq "$RC" 0 "f1-feature --pg: exit 0"
F=features/lap_features.csv
n=$(($(count_lines $F) - 1))
check_eq "$(q 'select count(*) from lap_features')" "$n" "lap_features holds the $n rows of lap_features.csv"
for s in train validation test; do
	f1-split -q --split $s "${B[@]}"
done
check_eq "$(q 'select count(*) from train'),$(q 'select count(*) from validation'),$(q 'select count(*) from test')" \
	"$(($(count_lines splits/train.csv) - 1)),$(($(count_lines splits/validation.csv) - 1)),$(($(count_lines splits/test.csv) - 1))" \
	"views train, validation, test = f1-split's files with the same boundaries"
want=$(awk -F, '$5 == "leclerc" && $2 == 1 && $6 == 20 { print $9 "," $11 "," $10 }' $F)
check_eq "$(q "select tire_age || ',' || to_char(fuel_remaining, 'FM990.000') || ',' || case when pit_stop then 1 else 0 end from lap_features where driver_id = 'leclerc' and round = 1 and lap_number = 20")" \
	"$want" "leclerc, Bahrain lap 20: tire_age, fuel_remaining, pit_stop as in the CSV"
check_eq "$(q "select count(*) from lap_features where gap_to_leader is null")" \
	"$(awk -F, 'NR > 1 && $14 == "\\N"' $F | wc -l)" "\\N loads as NULL"
f1_run f1-feature --pg "$CI" "${B[@]}"
check_eq "$RC/$(q 'select count(*) from lap_features')/$(q 'select min(race_id) from lap_features')" "0/$n/1" \
	"loading again replaces the rows (no duplicates, ids restart)"

f1_run f1-profiles --in $F --pg "$CI"
check_eq "$RC" 0 "f1-profiles --pg: exit 0"
P=profiles/driver_profiles.csv
check_eq "$(q 'select count(*) from driver_profiles')" "$(($(count_lines $P) - 1))" \
	"driver_profiles holds every profile"
check_eq "$(q "select name || ',' || career_races from driver_profiles where driver_id = 'perez'")" \
	"$(awk -F, '$1 == "perez" { print $2 "," $7 }' $P)" "perez: UTF-8 name and career_races as in the CSV"

F1_PG="$CI" f1_run f1-profiles --in $F
check_eq "$RC/$(q 'select count(*) from driver_profiles')" "0/$(($(count_lines $P) - 1))" \
	"F1_PG in the environment does the same as --pg"

f1_run f1-feature --pg "host=$PGD port=1 user=postgres dbname=postgres connect_timeout=2"
check_eq "$RC" 75 "an unreachable database: exit 75 (transient, retried)"
check_match "$(cat "$ERR")" "cannot connect to PostgreSQL" "... with a clear message"

pw_done
