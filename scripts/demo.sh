#!/usr/bin/env bash
# The demo: installs what is needed, builds, and runs sbcd on the demo
# configuration (config/demo/sbc.yaml) on loopback, showing it through sbcctl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/setup.sh
bash scripts/build.sh release >/dev/null
bin=$root/build/sbc

run=/tmp/sbc-demo
mkdir -p "$run"
bash scripts/gen-certs.sh "$run/tls" sbc.lab.example
cp config/demo/sbc.yaml "$run/sbc.yaml"
export SBC_CONTROL_SOCKET=/run/sbc-demo/sbc.sock

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate the demo configuration"
"$bin/sbcd" --check-config "$run/sbc.yaml"

step "start sbcd"
"$bin/sbcd" -c "$run/sbc.yaml" 2> "$run/sbcd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$SBC_CONTROL_SOCKET" ] && break; sleep 0.1; done

step "sbcctl status"
"$bin/sbcctl" status
step "sbcctl tenants"
"$bin/sbcctl" tenants
step "sbcctl trunks"
"$bin/sbcctl" trunks
step "which tenant does +15551234567 route to?"
"$bin/sbcctl" lookup +15551234567

step "add a tenant to the file and reload (SIGHUP)"
cat >> "$run/sbc.yaml" <<'YAML'
  - name: initech
    fqdn: initech.sbc.lab.example
    trunk: core-east
    numbers: ["+15553330000-+15553330099"]
YAML
kill -HUP $pid
sleep 0.5
"$bin/sbcctl" tenants

step "a broken reload is refused and the running config keeps serving"
cp "$run/sbc.yaml" "$run/sbc.yaml.good"
sed -i 's/trunk: core-east$/trunk: core-west/' "$run/sbc.yaml"
"$bin/sbcctl" reload || true
cp "$run/sbc.yaml.good" "$run/sbc.yaml"
"$bin/sbcctl" lookup +15553330042

step "stop (SIGTERM)"
kill -TERM $pid
wait $pid || true
trap - EXIT
step "sbcd log"
cat "$run/sbcd.log"
