#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build with
# -Werror and run every test, run them again under AddressSanitizer +
# UndefinedBehaviorSanitizer, check formatting, and fuzz the DAG parser.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
pw_apt_install "${PW_BUILD_DEPS[@]}" "${PW_TEST_DEPS[@]}"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=$(nproc)

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests tasks -name '*.[ch]')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build (-Wall -Wextra -Werror)"
cmake -S . -B build/ci -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPITWALL_WERROR=ON >/dev/null
ninja -C build/ci
echo "== tests"
(cd build/ci && ctest --output-on-failure -j "$JOBS" --repeat until-pass:2)

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
cmake -S . -B build/asan -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DPITWALL_WERROR=ON -DPITWALL_SANITIZE=ON >/dev/null
ninja -C build/asan
echo "== tests under ASan + UBSan"
# Sanitizer reports go to files as well, so one that a test's own output
# truncates is still printed in full below.
rm -rf build/asan/sanitizer-logs && mkdir -p build/asan/sanitizer-logs
asan_rc=0
(cd build/asan && LSAN_OPTIONS=suppressions=$PWD/../../scripts/lsan.supp:print_suppressions=0 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$PWD/sanitizer-logs/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$PWD/sanitizer-logs/ubsan \
	ctest --output-on-failure -j "$JOBS" --repeat until-pass:2) || asan_rc=$?
for f in build/asan/sanitizer-logs/*; do
	[ -e "$f" ] || continue
	echo "--- sanitizer report $f"
	head -n 60 "$f"
done
[ "$asan_rc" -eq 0 ] || exit "$asan_rc"

echo "== fuzz the DAG parser for ${FUZZ_SECONDS}s (libFuzzer)"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DPITWALL_FUZZ=ON >/dev/null
ninja -C build/fuzz fuzz_dag
corpus=$(mktemp -d)
cp tests/dags/good/*.yaml tests/dags/bad/*.yaml dags/*.yaml "$corpus"/ 2>/dev/null || true
./build/fuzz/tests/fuzz_dag -max_total_time="$FUZZ_SECONDS" -max_len=65536 -rss_limit_mb=2048 \
	-print_final_stats=1 "$corpus" 2>&1 | tail -n 15
rm -rf "$corpus"
echo "== all checks passed"
