#!/usr/bin/env bash
# Reload as the NOC does it: edit the file, SIGHUP or `sbcctl reload`, check
# with `sbcctl tenants`; a broken file is refused and the old config serves on.
set -euo pipefail
SBCD=$1 SBCCTL=$2 dir=$3 tls=$4
. "$(dirname "$0")/lib.sh"
rm -rf "$dir" && mkdir -p "$dir"
export SBC_CONTROL_SOCKET=$dir/sbc.sock

write_config() { # $1 = extra tenant yaml, $2 = acme max_calls
cat > "$dir/sbc.yaml" <<YAML
node:
  name: func-reload
  workers: 2
  control_socket: $dir/sbc.sock
  log: { level: info, format: text }
interfaces:
  - name: teams
    sip: { address: 127.0.2.1, port: 5061, transports: [tls] }
    media: { address: 127.0.2.1, ports: 20000-20999 }
    tls: { certificate: $tls/sbc.pem, private_key: $tls/sbc.key, ca_file: $tls/ca.pem }
  - name: core
    sip: { address: 127.0.2.1, port: 5060, transports: [udp] }
    media: { address: 127.0.2.1, ports: 30000-30999 }
teams:
  interface: teams
  base_fqdn: sbc.lab.example
  proxies: [ { host: sip.pstnhub.microsoft.com, port: 5061, address: 127.0.2.11 } ]
trunks:
  - name: core-east
    interface: core
    targets: [ { host: 127.0.2.21, port: 5060 } ]
    allow: [127.0.2.20/30]
tenants:
  - name: acme
    fqdn: acme.sbc.lab.example
    trunk: core-east
    numbers: ["+15551230000-+15551239999"]
    max_calls: $2
$1
YAML
}

write_config "" 200
"$SBCD" --check-config "$dir/sbc.yaml" >/dev/null || fail "check-config refused a valid file"
start_sbcd "$dir/sbc.yaml" "$dir/sbcd.log"

status=$("$SBCCTL" status)
assert_contains "$status" "generation 1" "first snapshot is generation 1"
assert_contains "$status" "worker 1" "two workers running"
if "$SBCD" --version | grep -q sanitizer; then :; else
  assert_contains "$status" "(active)" "jemalloc serves malloc"
fi
tenants=$("$SBCCTL" tenants)
assert_contains "$tenants" "acme.sbc.lab.example" "acme listed"
assert_not_contains "$tenants" "initech" "initech not yet configured"

# 1. add a tenant, reload by SIGHUP
write_config '  - name: initech
    fqdn: initech.sbc.lab.example
    trunk: core-east
    numbers: ["+15553330000-+15553330099"]' 200
kill -HUP "$SBCD_PID"
wait_for sh -c "\"$SBCCTL\" tenants | grep -q initech" || fail "SIGHUP reload did not add initech"
pass "SIGHUP reload added initech"
assert_contains "$("$SBCCTL" lookup +15553330042)" "initech" "new number routes to initech"
assert_contains "$("$SBCCTL" status)" "generation 2" "generation 2 after SIGHUP"
wait_for grep -q "tenant added: initech" "$dir/sbcd.log" || fail "log does not say what changed"
pass "log names the added tenant"
# every worker moved to the new snapshot
wait_for sh -c "\"$SBCCTL\" status | grep -c 'config generation 2' | grep -qx 2" || fail "workers still on the old snapshot"
pass "both workers hold generation 2"

# 2. change a tenant, reload through sbcctl
write_config '  - name: initech
    fqdn: initech.sbc.lab.example
    trunk: core-east
    numbers: ["+15553330000-+15553330099"]' 350
out=$("$SBCCTL" reload)
assert_contains "$out" "tenant changed: acme" "sbcctl reload reports the changed tenant"
assert_contains "$("$SBCCTL" tenants)" "350" "new max_calls visible"

# 3. a broken file is refused with file:line, and nothing changes
cp "$dir/sbc.yaml" "$dir/good.yaml"
sed -i 's/^    trunk: core-east$/    trunk: core-west/' "$dir/sbc.yaml"
line=$(grep -n "trunk: core-west" "$dir/sbc.yaml" | head -1 | cut -d: -f1)
rc=0
err=$("$SBCCTL" reload 2>&1) || rc=$?
assert_eq "$rc" 1 "sbcctl reload exits 1 on a refused config"
assert_contains "$err" "$dir/sbc.yaml:$line:" "error names file and line"
assert_contains "$err" "core-west" "error names the missing trunk"
assert_contains "$("$SBCCTL" status)" "generation 3" "generation unchanged after refused reload"
assert_contains "$("$SBCCTL" lookup +15553330042)" "initech" "old config keeps serving"
kill -HUP "$SBCD_PID"
wait_for grep -q "refused" "$dir/sbcd.log" || fail "SIGHUP with a broken file was not refused"
assert_contains "$("$SBCCTL" status)" "generation 3" "SIGHUP with broken file changes nothing"
rc=0
"$SBCD" --check-config "$dir/sbc.yaml" 2>"$dir/check.err" >/dev/null || rc=$?
assert_eq "$rc" 1 "--check-config exits 1"
assert_contains "$(cat "$dir/check.err")" "$dir/sbc.yaml:$line:" "--check-config prints file:line"

# 4. remove a tenant
cp "$dir/good.yaml" "$dir/sbc.yaml"
write_config "" 350
out=$("$SBCCTL" reload)
assert_contains "$out" "tenant removed: initech" "removal reported"
rc=0
"$SBCCTL" lookup +15553330042 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "removed tenant's numbers no longer route"

stop_sbcd
[ -S "$dir/sbc.sock" ] && fail "control socket left behind"
pass "control socket removed"
echo "functional_reload: all checks passed"
