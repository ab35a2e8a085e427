#!/usr/bin/env bash
# Builds the config benchmark (Release), generates 10,000 tenants holding
# 1,000,000 numbers, and prints load time, max RSS and lookups per second.
# Usage: bench/config/run.sh [TENANTS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-config-bench}
tenants=${1:-10000}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSBC_TESTS=OFF >/dev/null
cmake --build "$build" --target gen_config bench_config >/dev/null
work=$build/bench-config-data
bash "$root/scripts/gen-certs.sh" "$work/certs"
rm -rf "$work/cfg"
"$build/bench/config/gen_config" "$work/cfg" "$work/certs" "$tenants"
"$build/bench/config/bench_config" "$work/cfg/sbc.yaml" "$tenants"
