#!/usr/bin/env bash
# The F1 pipeline benchmark: dags/f1_data_pipeline.yaml through pitwall on all
# of ../shared/data/f1 (every season: 1,149 races, 27,118 results, 12,016
# pit stops, 52,126 timed laps), with F1_SOURCE=csv:DIR. Reports the whole
# pipeline's wall time and peak RSS (pitwall and every task: GNU time's
# maximum over the process tree it waits for), then each task run alone.
# A benchmark, not a test: exits 0 whatever the numbers are.
#
# Environment:
#   PW_BUILD_DIR=DIR   build with pitwall and bin/f1-* (default: build, built if missing)
#   F1_DATA=DIR        the dump (default: ../shared/data/f1)
#   REPS=3             whole-pipeline repetitions (median and best are reported)
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PW_BUILD_DIR:-$ROOT/build}
DATA=$(cd "${F1_DATA:-$ROOT/../shared/data/f1}" && pwd)
REPS=${REPS:-3}
TIME=/usr/bin/time

say() { printf '%s\n' "$*" >&2; }

if [[ ! -x $BUILD/pitwall || ! -x $BUILD/bin/f1-ingest ]]; then
	say "bench/f1: building into $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
		ninja -C "$BUILD" >/dev/null || { say "bench/f1: build failed"; exit 1; }
fi
[[ -x $TIME ]] || { say "bench/f1: $TIME (GNU time) is required"; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/pw-f1-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export PATH=$BUILD/bin:$PATH LC_ALL=C F1_SOURCE=csv:$DATA
unset F1_SEASONS F1_PG

# measure OUTFILE CMD...: runs CMD under GNU time; prints "seconds kilobytes exit".
measure() {
	local out=$1
	shift
	"$TIME" -f '%e %M %x' -o "$W/time" "$@" >"$out" 2>&1
	cat "$W/time" | tail -1
}

printf '# F1 pipeline on %s\n' "$DATA"
printf '# %s, %s cores, %s\n' "$(uname -srm)" "$(nproc)" "$(date -u +%Y-%m-%d)"
walls=()
for ((i = 1; i <= REPS; i++)); do
	read -r s kb rc < <(measure "$W/run$i.log" "$BUILD/pitwall" run \
		"$ROOT/dags/f1_data_pipeline.yaml" --workspace "$W/run$i" --log-format json)
	if [[ $rc != 0 ]]; then
		say "bench/f1: run $i failed (exit $rc); see below"
		tail -20 "$W/run$i.log" >&2
		exit 1
	fi
	walls+=("$s")
	printf 'pipeline run %d: %6.2f s wall, peak RSS %6.1f MiB\n' "$i" "$s" \
		"$(echo "$kb / 1024" | bc -l)"
	peak=$kb
done
median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
best=$(printf '%s\n' "${walls[@]}" | sort -n | head -1)
printf 'pipeline: median %.2f s, best %.2f s over %d runs; peak RSS %.1f MiB\n' \
	"$median" "$best" "$REPS" "$(echo "$peak / 1024" | bc -l)"

R=$W/run1
printf '\n# rows: %s laps read, %s feature rows, %s/%s/%s train/validation/test, %s profiles\n' \
	"$(($(wc -l <"$R/raw/lap_times.csv") - 1))" \
	"$(($(wc -l <"$R/features/lap_features.csv") - 1))" \
	"$(($(wc -l <"$R/splits/train.csv") - 1))" "$(($(wc -l <"$R/splits/validation.csv") - 1))" \
	"$(($(wc -l <"$R/splits/test.csv") - 1))" \
	"$(($(wc -l <"$R/profiles/driver_profiles.csv") - 1))"

# Each task alone, in a fresh workspace, in DAG order.
printf '\n%-24s %8s %10s\n' task "wall s" "RSS MiB"
T=$W/tasks
mkdir -p "$T"
cd "$T"
tasks=(
	"ingest_jolpica:f1-ingest --what core --out raw"
	"ingest_laps:f1-ingest --what laps --out raw"
	"validate_raw_data:f1-validate"
	"process_clean:f1-clean"
	"feature_engineering:f1-feature"
	"create_train_split:f1-split --split train"
	"create_val_split:f1-split --split validation"
	"create_test_split:f1-split --split test"
	"extract_driver_profiles:f1-profiles"
)
for t in "${tasks[@]}"; do
	name=${t%%:*}
	read -r -a cmd <<<"${t#*:}"
	read -r s kb rc < <(measure "$W/$name.log" "${cmd[@]}")
	printf '%-24s %8.2f %10.1f%s\n' "$name" "$s" "$(echo "$kb / 1024" | bc -l)" \
		"$([[ $rc == 0 ]] || echo "  (exit $rc)")"
done
exit 0
