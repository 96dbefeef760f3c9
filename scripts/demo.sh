#!/usr/bin/env bash
# The main job: install what is missing, build pitwall and the F1 task
# programs, and run the F1 data pipeline (dags/f1_data_pipeline.yaml) on
# the real data in ../shared/data/f1, recorded in the embedded SQLite store
# (.pitwall/audit.db).  Offline: ingest reads the Ergast CSV dump
# (F1_SOURCE=csv:DIR).  Pass another DAG file as $1 to run that instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
pw_apt_install "${PW_BUILD_DEPS[@]}" gawk python3
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build

DAG=${1:-dags/f1_data_pipeline.yaml}
DATA=${F1_DATA:-$(cd .. && pwd)/shared/data/f1}
export PATH="$PWD/build/bin:$PATH"
export F1_SOURCE=${F1_SOURCE:-csv:$DATA}

./build/pitwall validate "$DAG"
rc=0
./build/pitwall run "$DAG" --log-format text || rc=$?
run=$(./build/pitwall history --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])' 2>/dev/null || true)
if [ -n "$run" ]; then
	ws=$(./build/pitwall status "$run" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["workspace"])')
	echo
	echo "outputs of $run (in $ws):"
	(cd "$ws" && find . -path ./logs -prune -o -type f -name '*.csv' -print -o -type f -name '*.json' -print | sort | sed 's|^\./|  |')
	echo "audit: ./build/pitwall status $run   |   ./build/pitwall audit verify"
fi
exit $rc
