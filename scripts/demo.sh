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

step "calls from the carrier to Teams: SIPp (UDP, 127.0.1.21) -> sbcd -> fake Teams edge (mutual TLS, 127.0.1.11)"
EDGE=(python3 "$root/tests/tools/teams_edge.py" --certs "$run/tls" --resolve "*.sbc.lab.example=127.0.1.1")
rm -f "$run/edge.ready"
"${EDGE[@]}" --proxy 127.0.1.11:5061:sip.pstnhub.microsoft.com --hangup-after 2 --expect-calls 5 \
      --record "$run/edge-in.jsonl" --ready-file "$run/edge.ready" --duration 25 --linger 1 > "$run/edge-in.out" 2>&1 &
edge=$!
for _ in $(seq 50); do [ -f "$run/edge.ready" ] && break; sleep 0.1; done
(cd tests/sipp && sipp 127.0.1.1:5060 -sf uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv \
   -i 127.0.1.21 -p 5060 -t u1 -m 5 -r 5 -timeout 30 -nostdin -trace_stat -stf "$run/sipp-uac.csv" \
   > "$run/sipp-uac.out" 2>&1) && echo "SIPp (carrier): 5 calls placed, all answered by Teams and hung up by Teams" \
   || echo "SIPp (carrier) reported failures: see $run/sipp-uac.out"
wait $edge && cat "$run/edge-in.out" | tail -n 1 || { echo "Teams edge reported a failure:"; tail -n 3 "$run/edge-in.out"; }
echo "What Teams received (first INVITE):"
python3 tests/tools/sipmsg.py query "$run/edge-in.jsonl" --dir in --method INVITE --first 1 --field first_line | sed 's/^/  /'
python3 tests/tools/sipmsg.py query "$run/edge-in.jsonl" --dir in --method INVITE --first 1 --header Contact | sed 's/^/  Contact: /'
python3 tests/tools/sipmsg.py query "$run/edge-in.jsonl" --dir in --method INVITE --first 1 --field body | grep -E "^m=|crypto" | sed 's/^/  /'

step "calls from Teams to the carrier: fake Teams edge (TLS, tenant acme) -> sbcd -> SIPp UAS (UDP, 127.0.1.21)"
(cd tests/sipp && sipp -sf uas-answer.xml -inf uas-numbers.csv -i 127.0.1.21 -p 5060 -t u1 -m 5 -timeout 30 \
   -nostdin > "$run/sipp-uas.out" 2>&1) &
uas=$!
sleep 0.5
"${EDGE[@]}" --proxy 127.0.1.11:5061:sip.pstnhub.microsoft.com --call +15551230001 +15557654321 \
      --to-host acme.sbc.lab.example --sbc 127.0.1.1:5061 --contact sip.pstnhub.microsoft.com:5061 \
      --count 5 --rate 5 --expect 200 --hangup-after 1 --record "$run/edge-out.jsonl" --duration 25 \
      > "$run/edge-out.out" 2>&1 && tail -n 1 "$run/edge-out.out" || { echo "Teams edge reported a failure:"; tail -n 3 "$run/edge-out.out"; }
wait $uas && echo "SIPp (carrier): 5 calls answered, numbers arrived national (5557654321 from 5551230001)" \
   || echo "SIPp (carrier) reported failures: see $run/sipp-uas.out"

step "sbcctl status after the calls"
"$bin/sbcctl" status
step "the last CDR (one JSON line per finished call, node.cdr_file)"
tail -n 1 /tmp/sbc-demo/cdr.jsonl
step "Prometheus metrics (node.metrics_listen)"
python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.1.1:9091/metrics', timeout=5).read().decode())" \
  | grep -E '^sbc_(calls_|teams_proxy_up|tenant_calls_active)' | head -n 12

step "media: one call with audio both ways, SRTP toward Teams, RTP toward the carrier"
echo "(a second sbcd on 127.0.9.1; rtpend endpoints send 150 numbered packets each way and check them)"
bash tests/media_e2e/media.sh srtp_rtp_both_ways "$bin/sbcd" "$bin/sbcctl" "$root/build/tests/relay/rtpend" \
  "$run/media" "$run/tls" 2>&1 | grep -E "^(ok|FAIL|teams side|carrier side)" | sed 's/^/  /'

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
