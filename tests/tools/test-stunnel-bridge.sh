#!/usr/bin/env bash
# Proves stunnel-bridge.sh: a SIPp UAC on TCP -> client bridge (SBC
# certificate, SNI sip.pstnhub.microsoft.com) -> server bridge (Teams
# certificate, client certificate required) -> SIPp UAS on TCP. One call
# must complete, and the server bridge must have verified the client.
# Usage: test-stunnel-bridge.sh CERT_DIR WORK_DIR
set -euo pipefail
certs=${1:?CERT_DIR}; work=${2:?WORK_DIR}
here=$(cd "$(dirname "$0")" && pwd)
bridge=$here/stunnel-bridge.sh
rm -rf "$work"; mkdir -p "$work"; cd "$work"

ip=127.0.3.60
uas_port=15262 tls_port=15261 tcp_port=15260
cleanup() {
  "$bridge" stop "$work/client" || true
  "$bridge" stop "$work/server" || true
  [ -z "${uas_pid:-}" ] || kill "$uas_pid" 2>/dev/null || true
}
trap cleanup EXIT

"$bridge" server "$ip:$tls_port" "$ip:$uas_port" --dir "$work/server" \
  --cert "$certs/teams.pem" --key "$certs/teams.key" --ca "$certs/ca.pem" >/dev/null
"$bridge" client "$ip:$tcp_port" "$ip:$tls_port" --dir "$work/client" \
  --cert "$certs/sbc.pem" --key "$certs/sbc.key" --ca "$certs/ca.pem" \
  --sni sip.pstnhub.microsoft.com >/dev/null

# -bg prints "Background mode - PID=[n]"
out=$(sipp -sn uas -t t1 -i "$ip" -p "$uas_port" -bg -trace_err -default_behaviors all,-abortunexp 2>&1 || true)
uas_pid=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' <<<"$out")
[ -n "$uas_pid" ] || { echo "sipp uas did not start: $out"; exit 1; }
sleep 0.3

sipp -sn uac -t t1 -i "$ip" -p 15263 -m 1 -d 100 -timeout 20 -timeout_error \
  -trace_err "$ip:$tcp_port" >uac.out 2>&1 && rc=0 || rc=$?
echo "sipp uac exit: $rc"
[ "$rc" = 0 ] || { cat uac.out; cat "$work"/*/stunnel.log; exit 1; }

# the server bridge saw and verified the SBC's client certificate
grep -q "Certificate accepted at depth=0: CN=\*.sbc.lab.example" "$work/server/stunnel.log" \
  || { echo "client certificate not seen"; cat "$work/server/stunnel.log"; exit 1; }
echo "ok: SIPp call through TLS with client certificate and SNI"
