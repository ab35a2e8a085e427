#!/usr/bin/env bash
# Configures and builds one flavour. Usage: build.sh [release|debug|asan|fuzz]
# Build trees: build/ (release), build-debug/, build-asan/, build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
  release) dir=build;       args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug)   dir=build-debug; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan)    dir=build-asan;  args=(-DCMAKE_BUILD_TYPE=Debug -DSBC_SANITIZE=ON) ;;
  fuzz)    dir=build-fuzz;  args=(-DCMAKE_BUILD_TYPE=Debug -DSBC_SANITIZE=ON -DSBC_FUZZ=ON -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: build.sh [release|debug|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -- -j"$(nproc)" | tail -n 3
echo "$dir"
