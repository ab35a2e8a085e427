#!/bin/sh
# Builds (Release, own build dir) and runs the message-layer benchmark on one
# core. Usage: bench/sipmsg/run.sh [seconds-per-run]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBC_BENCH_BUILD:-$root/build-bench-sipmsg}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSBC_TESTS=OFF >/dev/null
ninja -C "$build" bench_sipmsg >/dev/null
exec taskset -c "${SBC_BENCH_CPU:-0}" "$build/bench/sipmsg/bench_sipmsg" "${1:-1}"
