#!/usr/bin/env bash
# Installs, builds and runs every test: the libFuzzer smoke runs, the whole
# suite under AddressSanitizer + UndefinedBehaviorSanitizer, then the whole
# suite on the release build (its ctest summary is the last line).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CTEST_OUTPUT_ON_FAILURE=1
status=0

echo "== fuzz smoke (clang, libFuzzer, ASan/UBSan)"
bash scripts/build.sh fuzz >/dev/null
(cd build-fuzz && ctest -L fuzz -j1) || status=1

echo "== sanitizer build (ASan + UBSan)"
bash scripts/build.sh asan >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest -LE fuzz -j1) || status=1

echo "== release build"
bash scripts/build.sh release >/dev/null
(cd build && ctest -LE fuzz -j1) || status=1
exit $status
