#!/usr/bin/env bash
# The main job: install what is missing, build, and run the pipeline DAG.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
pw_apt_install "${PW_BUILD_DEPS[@]}" gawk
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build pitwall
DAG=${1:-dags/smoke.yaml}
./build/pitwall validate "$DAG"
exec ./build/pitwall run "$DAG" --log-format text
