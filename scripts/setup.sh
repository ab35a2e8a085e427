#!/usr/bin/env bash
# Installs every Debian 12 package the build, the demo, the tests and the
# benchmarks need. Idempotent and non-interactive; run as root.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libsofia-sip-ua-dev libsrtp2-dev libssl-dev libevent-dev libjemalloc-dev
  libyaml-dev libjansson-dev liburcu-dev libcmocka-dev
  clang libclang-rt-14-dev libfuzzer-14-dev
  openssl sip-tester stunnel4 procps iproute2 python3
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all ${#pkgs[@]} packages present"
