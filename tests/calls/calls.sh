#!/usr/bin/env bash
# Call scenarios through sbcd. Usage: calls.sh CASE SBCD SBCCTL WORKDIR TLSDIR
# Hosts on loopback: sbcd 127.0.7.1 (Teams side TLS :5061, carrier side UDP
# :5060), Teams proxies 127.0.7.11 / .12 (.13 is a dead one), carrier peers
# 127.0.7.21 (SIPp) and .22.
set -euo pipefail
case_name=$1 SBCD=$2 SBCCTL=$3 dir=$4 tls=$5
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/functional/lib.sh"
EDGE="python3 $root/tests/tools/teams_edge.py"
QUERY="python3 $root/tests/tools/sipmsg.py query"
SIPP_DIR=$root/tests/sipp
rm -rf "$dir" && mkdir -p "$dir"
export SBC_CONTROL_SOCKET=$dir/sbc.sock
EDGE_PIDS=()
cleanup() {
  local p pids=("${EDGE_PIDS[@]}" ${UAS_PID:-} ${lossy:-} ${hold:-})
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f -- "-message_file $dir/" 2>/dev/null || true
  [ -n "${SBCD_PID:-}" ] && kill -KILL "$SBCD_PID" 2>/dev/null || true
  # reap them: the next case binds the same addresses at once
  for p in "${pids[@]}" ${SBCD_PID:-}; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# write_config PROXIES_YAML TENANT_MAX_CALLS
write_config() {
cat > "$dir/sbc.yaml" <<YAML
node:
  name: calls
  workers: 2
  control_socket: $dir/sbc.sock
  cdr_file: $dir/cdr.jsonl
  metrics_listen: 127.0.7.1:9091
  log: { level: debug, format: text }
interfaces:
  - name: teams
    sip: { address: 127.0.7.1, port: 5061, transports: [tls] }
    media: { address: 127.0.7.1, ports: 20000-20999 }
    allow: [127.0.7.0/24]
    tls: { certificate: $tls/sbc.pem, private_key: $tls/sbc.key, ca_file: $tls/ca.pem }
  - name: core
    sip: { address: 127.0.7.1, port: 5060, transports: [udp] }
    media: { address: 127.0.7.1, ports: 30000-30999 }
teams:
  interface: teams
  base_fqdn: sbc.lab.example
  options_interval: ${TEAMS_OPTIONS:-60s}
  proxies:
$1
trunks:
  - name: core-east
    interface: core
    targets:
      - { host: 127.0.7.21, port: 5060, transport: udp, priority: 1 }
    allow: [127.0.7.20/30]
    numbers: { to_trunk: national, from_trunk: national, country_code: "1" }
    options_interval: 0s     # SIPp's UAS scenarios answer INVITEs only
tenants:
  - name: acme
    fqdn: acme.sbc.lab.example
    trunk: core-east
    numbers: ["+15551230000-+15551239999"]
    max_calls: ${2:-100}
YAML
}
PROXY1='    - { host: sip.pstnhub.microsoft.com, port: 5061, address: 127.0.7.11 }'
PROXY2='    - { host: sip2.pstnhub.microsoft.com, port: 5061, address: 127.0.7.12 }'
DEAD='    - { host: sip3.pstnhub.microsoft.com, port: 5061, address: 127.0.7.13 }'

# edge ARGS...: starts the fake Teams edge in the background, waits until ready
edge() {
  rm -f "$dir/edge.ready"
  $EDGE --certs "$tls" --resolve '*.sbc.lab.example=127.0.7.1' --record "$dir/edge.jsonl" \
        --ready-file "$dir/edge.ready" "$@" > "$dir/edge.out" 2>&1 &
  EDGE_PIDS+=($!)
  wait_for test -f "$dir/edge.ready" || fail "teams_edge did not start: $(cat "$dir/edge.out")"
}
# teams_call TO_HOST ARGS...: the fake Teams edge (proxy 127.0.7.11) calls
# +15557654321 from +15551230001 through tenant TO_HOST; ARGS set the outcome
teams_call() {
  local host=$1; shift
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --call +15551230001 +15557654321 \
       --to-host "$host" --sbc 127.0.7.1:5061 --contact sip.pstnhub.microsoft.com:5061 "$@"
}
# edge_wait: the edge's own verdict (it exits non-zero on a broken expectation)
edge_wait() {
  local rc=0
  wait "${EDGE_PIDS[-1]}" || rc=$?
  unset 'EDGE_PIDS[-1]'
  [ "$rc" = 0 ] || fail "teams_edge: $(tail -n 3 "$dir/edge.out")"
  pass "teams edge: $(tail -n 1 "$dir/edge.out")"
}

# A Teams call answered on the carrier side by one of our small UDP peers:
# SCRIPT [ARGS] on 127.0.7.21:5060, its output in OUT.
peer_uas_call() {   # SCRIPT OUT [ARGS...]
  python3 "$here/$1" 127.0.7.21 5060 "${@:3}" > "$2" 2>&1 &
  local peer=$!
  sleep 0.3
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 15
  edge_wait
  wait $peer || fail "$1: $(cat "$2")"
}

# sbcd and a Teams edge that answers one call with early media; ARGS add to
# the edge's (answer delay, hang-up, duration)
early_media_edge() {
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --early-media --expect-calls 1 --linger 1 "$@"
}
# prack_uac ARGS...: the carrier UAC of the 100rel cases; its output in $out
prack_uac() {
  python3 "$here/prack_uac.py" "$@" > "$dir/uac.out" 2>&1 || fail "prack UAC: $(cat "$dir/uac.out")"
  out=$(cat "$dir/uac.out")
}

# Carrier -> Teams with Require: 100rel; the carrier PRACKs the 180 but never
# the 183 with SDP, so Teams' 200 (after 0.5 s) waits for that PRACK (RFC 3262
# §3). prack_uac.py's ARGS say what the carrier does next; its output in $out.
held_2xx_call() {   # EDGE_DURATION UAC_ARGS...
  early_media_edge --answer-delay 0.5 --duration "$1"
  prack_uac --no-prack-sdp "${@:2}"
  edge_wait
  grep -q "2xx waits for the PRACK of RSeq" "$dir/sbcd.log" || fail "Teams' 200 was not held for the PRACK"
  pass "Teams' 200 was held for the PRACK of the 183"
}

# cdr_is STATUS END_REASON [unanswered]: the call's one CDR line says so
cdr_is() {
  wait_for test -s "$dir/cdr.jsonl" || fail "no CDR"
  python3 - "$dir/cdr.jsonl" "$@" <<'PY' || fail "CDR: expected status $1, end reason $2"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["status"] == int(sys.argv[2]) and r["end_reason"] == sys.argv[3], r
assert len(sys.argv) < 5 or not r.get("answer"), r
PY
  pass "CDR: status $1, end reason $2${3:+, no answer time}"
}

# Teams answered, its 200 was ACKed, and it was hung up with a BYE, never cancelled.
teams_answered_then_bye() {
  assert_eq "$(q --dir out --status 200 --cseq-method INVITE --count)" 1 "Teams answered"
  assert_eq "$(q --dir in --method ACK --count)" 1 "Teams' 200 was ACKed"
  assert_eq "$(q --dir in --method BYE --count)" 1 "Teams got a BYE"
  assert_eq "$(q --dir in --method CANCEL --count || true)" 0 "no CANCEL toward Teams (it had answered)"
}
# sipp_run NAME SCENARIO EXTRA...: SIPp on 127.0.7.21:5060 toward sbcd; asserts exit 0
# A carrier -> Teams call left running (the far end hangs up): its pid in
# UAC_BG, output in $dir/NAME.out; returns once sbcctl shows it confirmed.
carrier_call_up() {
  local name=$1
  (cd "$SIPP_DIR" && timeout 30 sipp 127.0.7.1:5060 -sf uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv \
     -i 127.0.7.21 -p 5060 -t u1 -m 1 -timeout 20 -nostdin > "$dir/$name.out" 2>&1) &
  UAC_BG=$!
  wait_for sh -c "\"$SBCCTL\" calls | grep -q confirmed" || fail "$name: no confirmed call in sbcctl calls"
}
sipp_uac() {
  local name=$1 sf=$2; shift 2
  local rc=0
  (cd "$SIPP_DIR" && timeout 60 sipp 127.0.7.1:5060 -sf "$sf" -i 127.0.7.21 -p "${UAC_PORT:-5060}" -t u1 -m 1 \
     -timeout 30 -timeout_error -trace_msg -message_file "$dir/$name.msg" -trace_err -error_file "$dir/$name.err" \
     -nostdin "$@" > "$dir/$name.out" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "SIPp $sf exited $rc: $(tail -n 5 "$dir/$name.err" 2>/dev/null)"
  pass "SIPp $sf completed"
}
sipp_uas_bg() {
  local name=$1 sf=$2; shift 2
  (cd "$SIPP_DIR" && exec timeout 60 sipp -sf "$sf" -i 127.0.7.21 -p 5060 -t u1 -m 1 -timeout 30 \
     -trace_msg -message_file "$dir/$name.msg" -trace_err -error_file "$dir/$name.err" -nostdin "$@" \
     > "$dir/$name.out" 2>&1) &
  UAS_PID=$!
  sleep 0.3
}
sipp_uas_wait() {
  local rc=0
  wait "$UAS_PID" || rc=$?
  [ "$rc" = 0 ] || fail "SIPp UAS exited $rc: $(tail -n 5 "$dir/$1.err" 2>/dev/null)"
  pass "SIPp UAS completed"
}
q() { $QUERY "$dir/edge.jsonl" "$@"; }
status_field() { "$SBCCTL" --json status | python3 -c "import json,sys; print(json.load(sys.stdin)['calls']['$1'])"; }

# What the Teams edge saw of a carrier -> Teams INVITE (R13, R15, R3, topology hiding).
check_invite_to_teams() {
  local ruri contact from
  ruri=$(q --dir in --method INVITE --first 1 --field first_line)
  assert_contains "$ruri" "INVITE sip:+15551234567@sip.pstnhub.microsoft.com:5061;transport=tls;user=phone" "R-URI is E.164 at the proxy FQDN (R15)"
  contact=$(q --dir in --method INVITE --first 1 --header Contact)
  assert_contains "$contact" "@acme.sbc.lab.example:5061;transport=tls" "Contact carries the tenant FQDN and transport=tls (R13)"
  from=$(q --dir in --method INVITE --first 1 --header From)
  assert_contains "$from" "sip:+15559876543@acme.sbc.lab.example" "From is E.164 under the tenant FQDN"
  assert_contains "$(q --dir in --method INVITE --first 1 --field sni)" "sip.pstnhub.microsoft.com" "SNI names the proxy (R3)"
  assert_eq "$(q --dir in --method INVITE --first 1 --field conn)" "inbound" "INVITE came on a connection the SBC opened (R22)"
  local all
  all=$(q --dir in --json)
  assert_not_contains "$all" "127.0.7.21" "no carrier address reaches Teams"
  assert_not_contains "$all" "SIPpTag" "no carrier tag reaches Teams"
  assert_contains "$(q --dir in --method INVITE --first 1 --field body)" "RTP/SAVP" "offer toward Teams is SRTP"
}
# What the carrier saw of a Teams -> carrier INVITE.
check_invite_to_carrier() {
  local msgs=$1
  local inv
  inv=$(awk '/INVITE sip:/{p=1} p{print} /^Content-Length/{if(p) exit}' "$msgs")
  assert_contains "$inv" "INVITE sip:5557654321@127.0.7.21:5060" "R-URI national number at the trunk target"
  assert_not_contains "$inv" "pstnhub" "no Teams host reaches the carrier"
  assert_not_contains "$inv" "127.0.7.11" "no Teams address reaches the carrier"
  assert_not_contains "$inv" "acme.sbc.lab.example" "tenant FQDN stays on the Teams side"
}

start() {
  start_sbcd "$dir/sbc.yaml" "$dir/sbcd.log"
}

case "$case_name" in
to_teams_teams_hangs_up)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 1 --expect-calls 1 --duration 15 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  check_invite_to_teams
  assert_eq "$(q --dir out --method BYE --first 1 --field conn)" "outbound" "Teams' BYE went on a connection the edge opened"
  assert_eq "$(status_field calls_answered)" 1 "one call answered"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
to_teams_carrier_hangs_up)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --expect-calls 1 --duration 15 --linger 1
  sipp_uac uac uac-call-expect-200.xml -inf uac-numbers.csv
  edge_wait
  check_invite_to_teams
  assert_eq "$(q --dir in --method BYE --count)" 1 "Teams got the carrier's BYE"
  assert_eq "$(q --dir in --method BYE --first 1 --field conn)" "inbound" "BYE toward Teams on a connection the SBC opened (R22)"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
from_teams_teams_hangs_up|from_teams_carrier_hangs_up)
  write_config "$PROXY1"
  start
  if [ "$case_name" = from_teams_teams_hangs_up ]; then
    sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
    hang=(--hangup-after 1)
  else
    sipp_uas_bg uas uas-answer-then-bye.xml -inf uas-numbers.csv
    hang=()
  fi
  teams_call acme.sbc.lab.example --expect 200 "${hang[@]}" --duration 20
  edge_wait
  sipp_uas_wait uas
  check_invite_to_carrier "$dir/uas.msg"
  resp=$(q --dir in --status 200 --cseq-method INVITE --first 1 --header Contact)
  assert_contains "$resp" "@acme.sbc.lab.example:5061;transport=tls" "200 toward Teams carries the tenant FQDN (R20)"
  assert_contains "$(q --dir in --status 200 --cseq-method INVITE --first 1 --field body)" "RTP/SAVP" "answer toward Teams is SRTP"
  if [ "$case_name" = from_teams_carrier_hangs_up ]; then
    assert_eq "$(q --dir in --method BYE --first 1 --field conn)" "inbound" "BYE toward Teams on a connection the SBC opened (R22)"
  fi
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
cancel_before_answer)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --mode noanswer --expect-calls 1 --duration 15 --linger 1
  sipp_uac uac uac-cancel-expect-487.xml -inf uac-numbers.csv
  edge_wait
  assert_eq "$(q --dir in --method CANCEL --count)" 1 "Teams got the CANCEL"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
busy_to_teams)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --mode busy --expect-calls 1 --duration 15 --linger 1
  sipp_uac uac uac-call-expect-486.xml -inf uac-numbers.csv
  edge_wait
  assert_contains "$(cat "$dir/uac.msg")" "Q.850;cause=17" "486 toward the carrier carries Q.850 cause 17 (R47)"
  assert_eq "$(q --dir in --method INVITE --count)" 1 "486 is not retried (R47)"
  ;;
busy_from_teams)
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-busy-486.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 486 --duration 15
  edge_wait
  sipp_uas_wait uas
  ;;
failover_dead_proxy)
  write_config "$DEAD
$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 1 --expect-calls 1 --duration 15 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  check_invite_to_teams
  assert_eq "$(status_field failovers)" 1 "one failover counted"
  ;;
failover_503)
  write_config "$PROXY1
$PROXY2"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --proxy 127.0.7.12:5061:sip2.pstnhub.microsoft.com \
       --proxy-mode 127.0.7.11:5061=unavailable --hangup-after 1 --expect-calls 2 --duration 15 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  assert_eq "$(q --dir in --method INVITE --listener sip.pstnhub.microsoft.com --count)" 1 "first proxy tried"
  assert_eq "$(q --dir in --method INVITE --listener sip2.pstnhub.microsoft.com --count)" 1 "second proxy took the call"
  assert_contains "$(q --dir in --method INVITE --listener sip2.pstnhub.microsoft.com --field sni)" "sip2.pstnhub.microsoft.com" "SNI follows the proxy"
  assert_eq "$(status_field failovers)" 1 "one failover counted"
  ;;
unknown_number)
  write_config "$PROXY1"
  start
  printf 'SEQUENTIAL\n5559876543;5550000000;\n' > "$dir/numbers.csv"
  sipp_uac uac uac-call-expect-404.xml -inf "$dir/numbers.csv"
  assert_eq "$(status_field rejected_no_route)" 1 "404 counted"
  ;;
unknown_tenant)
  write_config "$PROXY1"
  start
  teams_call nobody.sbc.lab.example --expect 404 --duration 15
  edge_wait
  ;;
capacity)
  write_config "$PROXY1" 1
  start
  # a Teams -> carrier call rings and holds the tenant's only slot ...
  sipp_uas_bg hold uas-noanswer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --cancel-after 4 --expect 487 --duration 15
  wait_for sh -c "\"$SBCCTL\" --json status | grep -q '\"calls_active\": 1'" || fail "first call not up"
  # ... so a carrier -> Teams call for the same tenant is refused
  UAC_PORT=5062 sipp_uac uac uac-call-expect-503.xml -inf uac-numbers.csv
  assert_contains "$(cat "$dir/uac.msg")" "Retry-After:" "503 carries Retry-After"
  assert_eq "$(status_field rejected_capacity)" 1 "capacity refusal counted"
  edge_wait
  sipp_uas_wait hold
  assert_eq "$(status_field calls_active)" 0 "the ringing call ended on CANCEL"
  ;;
lost_invite_retransmitted)
  write_config "$PROXY1"
  start
  peer_uas_call lossy_uas.py "$dir/lossy.out" --drop-first
  out=$(cat "$dir/lossy.out")
  assert_contains "$out" "dropped INVITE" "first INVITE was lost"
  assert_contains "$out" "answered retransmission" "retransmitted INVITE answered"
  gap=$(sed -n 's/.*retransmission after \([0-9]*\) ms.*/\1/p' "$dir/lossy.out")
  [ "$gap" -ge 400 ] && [ "$gap" -le 900 ] || fail "retransmission after ${gap} ms, Timer A is 500 ms"
  pass "retransmitted after ${gap} ms (Timer A = T1)"
  ;;
media_released_at_bye)
  # Teams hangs up; the carrier never answers the BYE, so the call stays
  # (ending) while our BYE is retransmitted. Its media ports are free at
  # once: RTP the carrier still sends lands on a parked port and is dropped.
  write_config "$PROXY1"
  start
  python3 "$here/mute_bye_uas.py" 127.0.7.21 5060 --packets 20 > "$dir/mute.out" 2>&1 &
  peer=$!
  sleep 0.3
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 15
  edge_wait
  wait $peer || fail "mute_bye_uas.py: $(cat "$dir/mute.out")"
  assert_contains "$(cat "$dir/mute.out")" "sent 20 RTP packets" "the carrier sent RTP after the BYE"
  assert_contains "$("$SBCCTL" calls)" "ending" "the call waits for the carrier's answer to the BYE"
  drops=$(status_field media_parked_drops)
  [ "$drops" -ge 20 ] || fail "$drops packets dropped on the released port, 20 expected"
  pass "the call's ports were released at the BYE: $drops packets after it dropped, none relayed"
  # the BYE is retransmitted for 32 s: drain now, so stop_sbcd's SIGTERM
  # (the second) stops at once with the ending call still held
  kill -TERM "$SBCD_PID"
  sleep 0.3
  ;;
handoff_between_workers)
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv -m 8
  teams_call acme.sbc.lab.example --count 8 --rate 4 --conn-per-call --expect 200 --hangup-after 1 --duration 30
  edge_wait
  sipp_uas_wait uas
  in=$("$SBCCTL" --json status | python3 -c "import json,sys; print(sum(w['handoffs_in'] for w in json.load(sys.stdin)['workers']))")
  [ "$in" -ge 1 ] || fail "no in-dialog message crossed workers in 8 calls"
  pass "$in message(s) handed over to the home worker, all 8 calls completed"
  ;;
options_and_unknown_dialog)
  write_config "$PROXY1"
  start
  python3 - "$dir" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.7.21", 5060)); s.settimeout(3)
def send(req):
    s.sendto(req.encode(), ("127.0.7.1", 5060))
    return s.recvfrom(65535)[0].decode(errors="replace")
opt = ("OPTIONS sip:127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5060;branch=z9hG4bK-o1\r\n"
       "From: <sip:core@127.0.7.21>;tag=a1\r\nTo: <sip:127.0.7.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
r = send(opt); assert r.startswith("SIP/2.0 200"), r; assert "Allow:" in r and "REFER" in r, r
bye = ("BYE sip:x@127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5060;branch=z9hG4bK-b1\r\n"
       "From: <sip:core@127.0.7.21>;tag=a1\r\nTo: <sip:127.0.7.1>;tag=w0.nosuchdialog000abc\r\nCall-ID: nope\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
r = send(bye); assert r.startswith("SIP/2.0 481"), r
bad = opt.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE").replace("z9hG4bK-o1", "z9hG4bK-o3")
r = send(bad); assert r.startswith("SIP/2.0 400"), r
s.sendto(b"\x00garbage\r\n\r\nnot sip at all", ("127.0.7.1", 5060))
r = send(opt.replace("z9hG4bK-o1", "z9hG4bK-o2")); assert r.startswith("SIP/2.0 200"), r
print("ok")
PY
  pass "OPTIONS answered 200 with Allow, unknown dialog 481, CSeq/method mismatch 400, garbage ignored"
  assert_eq "$(status_field unknown_dialog)" 1 "481 counted"
  ;;
cdr_and_live_calls)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 3 --expect-calls 1 --duration 15 --linger 1
  carrier_call_up uac
  uac=$UAC_BG
  live=$("$SBCCTL" calls)
  assert_contains "$live" "to_teams +15559876543 -> +15551234567  tenant acme, trunk core-east, confirmed" "sbcctl calls lists the live call"
  assert_contains "$live" "teams    rx" "per-leg media counters shown"
  wait $uac || fail "SIPp call failed: $(tail -n 5 "$dir/uac.out")"
  edge_wait
  wait_for test -s "$dir/cdr.jsonl" || fail "no CDR written"
  cdr=$(cat "$dir/cdr.jsonl")
  assert_eq "$(grep -c . "$dir/cdr.jsonl")" 1 "one CDR line per call"
  python3 - "$dir/cdr.jsonl" <<'PY' || fail "CDR content"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["direction"] == "to_teams" and r["tenant"] == "acme" and r["trunk"] == "core-east", r
assert r["status"] == 200 and r["end_reason"] == "BYE from Teams", r
assert r["called"] == "+15551234567" and r["calling"] == "+15559876543", r
assert r["answer"] >= r["start"] and r["end"] >= r["answer"] and r["duration_s"] >= 2, r
assert r["teams_call_id"].startswith("w") and "@" in r["carrier_call_id"], r
for side in ("media_teams", "media_carrier"):
    assert "rx_packets" in r[side] and "srtp_auth_failures" in r[side], r
PY
  pass "CDR: direction, tenant, trunk, numbers, times, status, end reason, media counters"
  metrics=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.7.1:9091/metrics', timeout=5).read().decode())")
  assert_contains "$metrics" "sbc_calls_answered_total 1" "metrics: answered calls"
  assert_contains "$metrics" "sbc_calls_active 0" "metrics: no call active"
  assert_contains "$metrics" 'sbc_tenant_calls_active{tenant="acme"} 0' "metrics: per-tenant gauge, released"
  assert_contains "$metrics" "# TYPE sbc_calls_total counter" "metrics: Prometheus text format"
  epoll=0; grep -q "media relay on epoll" "$dir/sbcd.log" && epoll=1   # this kernel cannot (logged why)
  python3 - "$metrics" "$epoll" <<'PY' || fail "media and DNS counters in the metrics"
import re, sys
m = dict(re.findall(r"^sbc_(\w+) (\d+)$", sys.argv[1], re.M))
assert int(m["media_cold_binds_total"]) + int(m["media_warm_reuses_total"]) >= 2, m   # a pair per leg
assert int(m["dns_blocking_lookups_total"]) == 0 and int(m["dns_failures_total"]) == 0, m  # literals only
# io_uring relay: ticked (every 1 ms) from the call's start until 20 ms without media
assert sys.argv[2] == "1" or int(m["media_ticks_total"]) >= 20, m
assert int(m["media_rx_nobufs_total"]) == 0, m
PY
  pass "metrics: media port pairs per leg counted, relay ticked for the call, no DNS lookup for literal peers"
  ;;
in_dialog_requests)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --expect-calls 1 --duration 20 --linger 1
  python3 "$here/carrier_uac.py" > "$dir/uac.out" 2>&1 || fail "carrier UAC: $(cat "$dir/uac.out")"
  pass "carrier UAC: $(tr '\n' ' ' < "$dir/uac.out")"
  edge_wait
  assert_eq "$(q --dir in --method INVITE --count)" 2 "Teams got the INVITE and the re-INVITE"
  assert_eq "$(q --dir in --method UPDATE --count)" 1 "Teams got the UPDATE"
  assert_contains "$(q --dir in --method INFO --first 1 --field body)" "Signal=5" "INFO body relayed"
  assert_eq "$(q --dir in --method OPTIONS --count)" 1 "in-dialog OPTIONS relayed"
  k1=$(q --dir in --method INVITE --first 1 --field body | grep a=crypto)
  k2=$(q --dir in --method INVITE --last 1 --field body | grep a=crypto)
  assert_eq "$k2" "$k1" "our key toward Teams is unchanged by a re-INVITE that keeps its own (R32)"
  assert_eq "$(q --dir in --grep 127.0.7.21 --count || true)" 0 "no carrier address in any in-dialog request"
  ;;
trunk_failover_503)
  write_config "$PROXY1"
  sed -i 's/      - { host: 127.0.7.21, port: 5060, transport: udp, priority: 1 }/      - { host: 127.0.7.22, port: 5060, transport: udp, priority: 1 }\n      - { host: 127.0.7.21, port: 5060, transport: udp, priority: 2 }/' "$dir/sbc.yaml"
  start
  (cd "$SIPP_DIR" && exec timeout 30 sipp -sf uas-unavailable-503.xml -inf uas-numbers.csv -i 127.0.7.22 -p 5060 \
     -t u1 -m 1 -timeout 20 -nostdin > "$dir/uas503.out" 2>&1) &
  u503=$!
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 20
  edge_wait
  sipp_uas_wait uas
  wait $u503 || fail "priority-1 target was not tried: $(tail -n 3 "$dir/uas503.out")"
  pass "priority 1 answered 503, priority 2 took the call"
  assert_eq "$(status_field failovers)" 1 "one failover counted"
  ;;
source_not_allowed)
  write_config "$PROXY1"
  start
  python3 - <<'PY' || fail "a source outside every trunk got an answer"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.7.40", 5060)); s.settimeout(1.5)
inv = ("INVITE sip:5551234567@127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.40:5060;branch=z9hG4bK-x1\r\n"
       "From: <sip:1@127.0.7.40>;tag=x\r\nTo: <sip:5551234567@127.0.7.1>\r\nCall-ID: stranger\r\nCSeq: 1 INVITE\r\n"
       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
s.sendto(inv.encode(), ("127.0.7.1", 5060))
try:
    s.recvfrom(65535); raise SystemExit(1)
except socket.timeout:
    pass
PY
  pass "INVITE from a source outside every trunk is dropped without an answer"
  assert_eq "$(status_field drop_unknown_source)" 1 "drop counted"
  assert_eq "$(status_field calls_total)" 0 "no call created"
  ;;
options_keepalive)
  TEAMS_OPTIONS=1s write_config "$DEAD
$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 1 --duration 20 --linger 1
  wait_for sh -c "\"$SBCCTL\" trunks | grep -q 'sip3.pstnhub.microsoft.com:5061 *down'" || fail "dead proxy not seen down: $("$SBCCTL" trunks)"
  wait_for sh -c "\"$SBCCTL\" trunks | grep -q 'sip.pstnhub.microsoft.com:5061 *up'" || fail "live proxy not seen up: $("$SBCCTL" trunks)"
  pass "sbcctl trunks shows the dead proxy down and the live one up"
  opt=$(q --dir in --method OPTIONS --first 1 --header Contact)
  assert_contains "$opt" "<sip:sbc.lab.example:5061;transport=tls>" "OPTIONS Contact is the carrier base FQDN with transport=tls (R11)"
  assert_eq "$(q --dir in --method OPTIONS --first 1 --field conn)" "inbound" "OPTIONS on a connection the SBC opened"
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  assert_eq "$(status_field failovers)" 0 "the proxy known down was tried last: no failover needed"
  ;;
certificate_by_sni)
  # The listener's main certificate names another domain; the tenant's
  # wildcard certificate is an extra one, served only for its SNI.
  write_config "$PROXY1"
  sed -i "s|    tls: { certificate: $tls/sbc.pem, private_key: $tls/sbc.key, ca_file: $tls/ca.pem }|    tls:\\n      certificate: $tls/other.pem\\n      private_key: $tls/other.key\\n      ca_file: $tls/ca.pem\\n      extra_certificates: [ { certificate: $tls/sbc.pem, private_key: $tls/sbc.key } ]|" "$dir/sbc.yaml"
  grep -q "extra_certificates" "$dir/sbc.yaml" || fail "config rewrite failed"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  # teams_edge checks the SBC's certificate against the SNI it sends (acme.sbc.lab.example)
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 20
  edge_wait
  sipp_uas_wait uas
  pass "the tenant's certificate was chosen by SNI (the main one would fail the edge's name check)"
  # without the extra certificate nothing covers the tenant: refused at load time
  sed -i '/extra_certificates/d' "$dir/sbc.yaml"
  rc=0
  out=$("$SBCD" --check-config "$dir/sbc.yaml" 2>&1) || rc=$?
  assert_eq "$rc" 1 "a tenant FQDN no certificate covers is refused"
  assert_contains "$out" "is not covered by certificate" "error names the coverage problem"
  ;;
drain_on_sigterm)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 4 --expect-calls 1 --duration 20 --linger 1
  carrier_call_up first
  first=$UAC_BG
  kill -TERM "$SBCD_PID"
  wait_for sh -c "\"$SBCCTL\" status | grep -q DRAINING" || fail "SIGTERM did not start a drain"
  pass "SIGTERM drains: sbcd stays up with a call in progress"
  UAC_PORT=5062 sipp_uac second uac-call-expect-503.xml -inf uac-numbers.csv
  assert_contains "$(cat "$dir/second.msg")" "draining" "a new call is refused with 503 while draining"
  python3 - <<'PY' || fail "OPTIONS while draining"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.7.21", 5064)); s.settimeout(3)
opt = ("OPTIONS sip:127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5064;branch=z9hG4bK-d1\r\n"
       "From: <sip:core@127.0.7.21>;tag=d1\r\nTo: <sip:127.0.7.1>\r\nCall-ID: d1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
s.sendto(opt.encode(), ("127.0.7.1", 5060))
r = s.recvfrom(65535)[0].decode()
assert r.startswith("SIP/2.0 503") and "Retry-After" in r, r
PY
  pass "OPTIONS answered 503 with Retry-After while draining (peers fail over)"
  wait $first || fail "the call in progress did not complete: $(tail -n 5 "$dir/first.out")"
  pass "the call in progress ran to its normal end"
  for _ in $(seq 50); do kill -0 "$SBCD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SBCD_PID" 2>/dev/null && fail "sbcd still running after its last call ended"
  rc=0
  wait "$SBCD_PID" || rc=$?
  assert_eq "$rc" 0 "sbcd exited cleanly once drained"
  edge_wait
  grep -q "drained: stopping" "$dir/sbcd.log" || fail "log does not say it drained"
  SBCD_PID=
  echo "call_$case_name: all checks passed"
  exit 0
  ;;
survives_reload_and_garbage)
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 4 --expect-calls 1 --duration 20 --linger 1
  carrier_call_up uac
  uac=$UAC_BG
  # reloads while the call is up: the call keeps its snapshot
  for i in 1 2 3 4 5; do
    sed -i "s/    max_calls: .*/    max_calls: $((100 + i))/" "$dir/sbc.yaml"
    "$SBCCTL" reload > /dev/null || fail "reload $i refused"
  done
  pass "5 reloads applied during the call"
  # garbage: random datagrams, truncated and oversized SIP on UDP, junk on a TLS connection
  python3 - <<'PY' || fail "garbage sender"
import os, random, socket, ssl, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.7.21", 5066))
for i in range(2000):
    u.sendto(os.urandom(random.randrange(1, 1400)), ("127.0.7.1", 5060))
head = "INVITE sip:5551234567@127.0.7.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5066;branch=z9hG4bK-g%d\r\n"
for i in range(200):
    m = (head % i) + "Content-Length: 99999\r\n\r\nv=0"
    u.sendto(m[: random.randrange(10, len(m))].encode(), ("127.0.7.1", 5060))
u.sendto(((head % 999) + "X-Pad: " + "a" * 65000 + "\r\n\r\n").encode()[:65000], ("127.0.7.1", 5060))
t = socket.create_connection(("127.0.7.1", 5061), timeout=3)
t.sendall(os.urandom(4000)); t.close()
time.sleep(0.2)
PY
  pass "2,000 random datagrams, 200 truncated INVITEs, an oversized one and TLS junk sent"
  wait $uac || fail "the call did not survive: $(tail -n 5 "$dir/uac.out")"
  pass "the call in progress completed normally"
  edge_wait
  assert_eq "$(status_field calls_active)" 0 "no call left"
  assert_contains "$("$SBCCTL" status)" "generation 6" "every reload applied"
  # and new calls still go through
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 1 --expect-calls 1 --duration 15 --linger 1
  sipp_uac after uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  ;;
trunk_failover_timeout)
  write_config "$PROXY1"
  # priority 1 is a silent address: nothing answers there, not even ICMP-visible errors on UDP
  sed -i 's/      - { host: 127.0.7.21, port: 5060, transport: udp, priority: 1 }/      - { host: 127.0.7.22, port: 5060, transport: udp, priority: 1 }\n      - { host: 127.0.7.21, port: 5060, transport: udp, priority: 2 }\n    failover_timeout: 1s/' "$dir/sbc.yaml"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  t0=$(date +%s%N)
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 20
  edge_wait
  sipp_uas_wait uas
  took=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$took" -lt 8000 ] || fail "call took ${took} ms: failover waited for Timer B"
  pass "silent priority-1 target skipped after failover_timeout (whole call ${took} ms)"
  grep -q "no response from the target in time, failing over" "$dir/sbcd.log" || fail "failover not logged"
  assert_eq "$(status_field failovers)" 1 "one failover counted"
  ;;
drain_timeout_hangs_up)
  write_config "$PROXY1"
  sed -i 's/^  log: { level: debug, format: text }/  log: { level: debug, format: text }\n  drain_timeout: 1s/' "$dir/sbc.yaml"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --expect-calls 1 --duration 20 --linger 1
  carrier_call_up uac
  uac=$UAC_BG
  kill -TERM "$SBCD_PID"
  # nobody hangs up: after drain_timeout sbcd sends BYE on both legs, then exits
  wait $uac || fail "the carrier did not get a BYE: $(tail -n 5 "$dir/uac.out")"
  pass "the carrier got sbcd's BYE at the drain timeout"
  edge_wait
  assert_eq "$(q --dir in --method BYE --count)" 1 "Teams got sbcd's BYE too"
  for _ in $(seq 50); do kill -0 "$SBCD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SBCD_PID" 2>/dev/null && fail "sbcd still running after the drain timeout"
  rc=0
  wait "$SBCD_PID" || rc=$?
  assert_eq "$rc" 0 "sbcd exited cleanly"
  SBCD_PID=
  echo "call_$case_name: all checks passed"
  exit 0
  ;;
certificate_renewal)
  cp "$tls/sbc.pem" "$dir/cur.pem"; cp "$tls/sbc.key" "$dir/cur.key"
  write_config "$PROXY1"
  sed -i "s|certificate: $tls/sbc.pem, private_key: $tls/sbc.key|certificate: $dir/cur.pem, private_key: $dir/cur.key|" "$dir/sbc.yaml"
  start
  served() {   # SHA-256 of the certificate sbcd serves for the tenant's SNI (from an allowed source)
    python3 - "$tls" <<'PY'
import hashlib, socket, ssl, sys
t = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(t + "/ca.pem"); ctx.load_cert_chain(t + "/teams.pem", t + "/teams.key")
with socket.create_connection(("127.0.7.1", 5061), timeout=5, source_address=("127.0.7.11", 0)) as raw:
    with ctx.wrap_socket(raw, server_hostname="acme.sbc.lab.example") as c:
        print(hashlib.sha256(c.getpeercert(binary_form=True)).hexdigest())
PY
  }
  fp() { openssl x509 -in "$1" -outform der | sha256sum | cut -d' ' -f1; }
  assert_eq "$(served)" "$(fp "$tls/sbc.pem")" "the configured certificate is served"
  # renew: a new key and certificate for the same names, same CA, same paths
  openssl req -newkey rsa:2048 -nodes -subj "/CN=*.sbc.lab.example" -keyout "$dir/new.key" -out "$dir/new.csr" 2>/dev/null
  printf 'subjectAltName=DNS:*.sbc.lab.example,DNS:sbc.lab.example\nextendedKeyUsage=serverAuth,clientAuth\n' > "$dir/new.ext"
  openssl x509 -req -in "$dir/new.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
    -extfile "$dir/new.ext" -out "$dir/new.pem" 2>/dev/null || fail "cannot issue the renewed certificate"
  cp "$dir/new.pem" "$dir/cur.pem"; cp "$dir/new.key" "$dir/cur.key"
  out=$("$SBCCTL" reload)
  assert_contains "$out" "certificate changed" "reload reports the renewed certificate"
  wait_for sh -c "grep -q 'new TLS certificate in use' \"$dir/sbcd.log\"" || fail "workers did not take the new certificate"
  assert_eq "$(served)" "$(fp "$dir/new.pem")" "new connections get the renewed certificate without a restart"
  # and calls go on with it
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 20
  edge_wait
  sipp_uas_wait uas
  ;;
transfer_to_teams_user)
  # carrier -> Teams call; Teams REFERs it to another Teams user (x-m/x-t URI,
  # no user part) with a 400-character Referred-By (R27, R28)
  write_config "$PROXY1"
  start
  target='sip:sip.pstnhub.microsoft.com:5061;transport=tls;x-m=8:orgid:6f2b3c4d-1a2b-4c3d-9e8f-0a1b2c3d4e5f;x-t=7a1b2c3d-0000-4000-8000-00000000abcd'
  rb="<sip:sip.pstnhub.microsoft.com:5061;x-m=8:orgid:11111111-2222-4333-8444-555555555555;x-t=7a1b2c3d-0000-4000-8000-00000000abcd;x-ti=c0ffee;x-tt="
  rb="$rb$(head -c $((399 - ${#rb})) /dev/zero | tr '\0' 'q')>"
  assert_eq "${#rb}" 400 "Referred-By value is 400 characters"
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --expect-calls 2 --refer-after 1 \
       --refer-to "<$target?X-Note=1>" --referred-by "$rb" --hangup-after 2 --duration 25 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  old=$(q --dir in --method INVITE --first 1 --header Call-ID)
  assert_eq "$(q --dir in --status 202 --cseq-method REFER --count)" 1 "REFER answered 202 Accepted"
  assert_eq "$(q --dir in --method NOTIFY --field body | tr -d '\r' | grep -c '^SIP/2.0')" 2 "two NOTIFYs"
  assert_eq "$(q --dir in --method NOTIFY --first 1 --field body | tr -d '\r\n')" "SIP/2.0 100 Trying" "first NOTIFY: 100 Trying"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 200 OK" "final NOTIFY: 200 OK"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --header Subscription-State)" "terminated;reason=noresource" "final NOTIFY ends the subscription"
  assert_contains "$(q --dir in --method NOTIFY --first 1 --header Event)" "refer" "Event: refer"
  assert_contains "$(q --dir in --method NOTIFY --first 1 --header Content-Type)" "message/sipfrag" "sipfrag body"
  assert_eq "$(q --dir in --method NOTIFY --call-id "$old" --count)" 2 "NOTIFYs in the transferor's dialog"
  assert_eq "$(q --dir in --method NOTIFY --first 1 --field conn)" "inbound" "NOTIFY on a connection the SBC opened (R22)"
  assert_eq "$(q --dir in --method INVITE --last 1 --field first_line)" "INVITE $target SIP/2.0" "new INVITE to the Refer-To URI, URI headers stripped"
  assert_eq "$(q --dir in --method INVITE --last 1 --header Referred-By)" "$rb" "Referred-By copied verbatim (400 characters)"
  assert_contains "$(q --dir in --method INVITE --last 1 --field body)" "RTP/SAVP" "the new INVITE carries an SRTP offer"
  assert_eq "$(q --dir in --has-header Replaces --count || true)" 0 "no Replaces header toward Teams (R16)"
  assert_eq "$(q --dir in --method BYE --call-id "$old" --count)" 1 "BYE on the transferor's dialog"
  new=$(q --dir in --method INVITE --last 1 --header Call-ID)
  assert_eq "$(q --dir out --method BYE --call-id "$new" --count)" 1 "the transferee hung up in the new dialog"
  assert_eq "$(grep -c 'INVITE sip:' "$dir/uac.msg")" 1 "no re-INVITE toward the carrier (anchored media)"
  wait_for test -s "$dir/cdr.jsonl" || fail "no CDR"
  python3 - "$dir/cdr.jsonl" "$target" <<'PY' || fail "CDR of the transferred call"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["transferred"]["target"] == sys.argv[2] and r["transferred"]["status"] == 200, r
assert r["end_reason"] == "BYE from Teams" and r["status"] == 200, r
PY
  pass "CDR records the transfer and its target"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
transfer_from_teams_to_number)
  # Teams -> carrier call; Teams transfers the PSTN party to a number and
  # hangs up its own dialog after the final NOTIFY (the other BYE order)
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 200 --refer-after 1 --refer-bye --hangup-after 2 --expect-calls 1 --duration 25 \
       --refer-to '<sip:+15551230077@sip.pstnhub.microsoft.com;user=phone>' \
       --referred-by '<sip:+15551230001@sip.pstnhub.microsoft.com;user=phone>'
  edge_wait
  sipp_uas_wait uas
  assert_eq "$(q --dir in --method INVITE --last 1 --field first_line)" "INVITE sip:+15551230077@sip.pstnhub.microsoft.com;user=phone SIP/2.0" "new INVITE to the E.164 target, user=phone kept"
  assert_eq "$(q --dir in --method INVITE --last 1 --header Referred-By)" "<sip:+15551230001@sip.pstnhub.microsoft.com;user=phone>" "Referred-By copied"
  assert_contains "$(q --dir in --method INVITE --last 1 --header From)" "+15557654321" "the new call comes from the PSTN party"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 200 OK" "final NOTIFY: 200 OK"
  assert_eq "$(q --dir in --has-header Replaces --count || true)" 0 "no Replaces header toward Teams (R16)"
  assert_eq "$(grep -c '^BYE' "$dir/uas.msg")" 1 "the carrier got exactly one BYE, at the end"
  ;;
transfer_failure_and_refusals)
  # the target is busy: NOTIFY 486, the original call goes on; Replaces in
  # Refer-To and REFER from the carrier side are refused
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 200 --mode busy --refer-after 1 --hangup-after 2 --duration 25 \
       --refer-to '<sip:+15551230078@sip.pstnhub.microsoft.com;user=phone>'
  edge_wait
  sipp_uas_wait uas
  assert_eq "$(q --dir in --method NOTIFY --first 1 --field body | tr -d '\r\n')" "SIP/2.0 100 Trying" "first NOTIFY: 100 Trying"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 486 Busy Here" "final NOTIFY carries the failure"
  first=$(q --dir out --method INVITE --first 1 --header Call-ID)
  assert_eq "$(q --dir out --method BYE --call-id "$first" --count)" 1 "the original call went on and was hung up by Teams"
  assert_eq "$(q --dir in --method BYE --count || true)" 0 "the SBC sent no BYE toward Teams"
  # attended transfer (Replaces in Refer-To) is refused
  sipp_uas_bg uas2 uas-answer.xml -inf uas-numbers.csv
  rm -f "$dir/edge.jsonl"
  teams_call acme.sbc.lab.example --expect 200 --refer-after 1 --refer-expect 501 --hangup-after 1 --duration 20 \
       --refer-to '<sip:+15551230079@sip.pstnhub.microsoft.com;user=phone?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>'
  edge_wait
  sipp_uas_wait uas2
  assert_eq "$(q --dir in --method INVITE --count || true)" 0 "no INVITE for a refused REFER"
  assert_eq "$(q --dir in --method NOTIFY --count || true)" 0 "no NOTIFY for a refused REFER"
  ;;
transfer_proxy_failover)
  # carrier -> Teams; Teams REFERs to a number at the second proxy, which
  # answers the transfer INVITE 503: the SBC tries the other proxy (a new
  # dialog attempt, its host in the Request-URI), which takes it
  write_config "$PROXY1
$PROXY2"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --proxy 127.0.7.12:5061:sip2.pstnhub.microsoft.com \
       --proxy-mode 127.0.7.12:5061=unavailable --expect-calls 3 --refer-after 1 --hangup-after 2 --duration 25 \
       --linger 1 --refer-to '<sip:+15551230078@sip2.pstnhub.microsoft.com:5061;user=phone>'
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  assert_eq "$(q --dir in --method INVITE --listener sip2.pstnhub.microsoft.com --count)" 1 "the named proxy got the transfer INVITE"
  assert_eq "$(q --dir out --status 503 --cseq-method INVITE --count)" 1 "and answered it 503"
  assert_eq "$(q --dir in --method INVITE --listener sip.pstnhub.microsoft.com --count)" 2 "the call, then the transfer INVITE after the failover"
  first=$(q --dir in --method INVITE --listener sip2.pstnhub.microsoft.com --header Call-ID)
  retry=$(q --dir in --method INVITE --last 1 --header Call-ID)
  [ -n "$retry" ] && [ "$retry" != "$first" ] || fail "the retry is not a new dialog attempt"
  assert_eq "$(q --dir in --method INVITE --last 1 --field first_line)" "INVITE sip:+15551230078@sip.pstnhub.microsoft.com:5061;user=phone SIP/2.0" "the retry names its proxy"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 200 OK" "final NOTIFY: 200 OK"
  assert_eq "$(status_field failovers)" 1 "one failover counted"
  ;;
transfer_codec_change)
  # carrier -> Teams (the carrier offers PCMU and PCMA, Teams takes PCMU);
  # Teams transfers to a number whose endpoint answers PCMA: the SBC
  # re-INVITEs the carrier with PCMA alone, on the same address and port
  write_config "$PROXY1
$PROXY2"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --proxy 127.0.7.12:5061:sip2.pstnhub.microsoft.com \
       --proxy-codec 127.0.7.12:5061=8 --expect-calls 2 --refer-after 1 --hangup-after 2 --duration 25 --linger 1 \
       --refer-to '<sip:+15551230078@sip2.pstnhub.microsoft.com;user=phone>'
  sipp_uac uac uac-call-reinvite-remote-bye.xml -inf uac-numbers.csv
  edge_wait
  assert_contains "$(q --dir out --status 200 --cseq-method INVITE --last 1 --field body)" "RTP/SAVP 8" "the transfer target answered PCMA"
  assert_eq "$(grep -c '^INVITE sip:' "$dir/uac.msg")" 2 "the carrier got its call and one re-INVITE"
  answer=$(grep -A40 '^SIP/2.0 200' "$dir/uac.msg")                 # the SBC's answer to our call
  reinvite=$(awk '/^INVITE sip:/{n++} n==2' "$dir/uac.msg")
  m1=$(grep -m1 '^m=audio' <<<"$answer"); m2=$(grep -m1 '^m=audio' <<<"$reinvite")
  c1=$(grep -m1 '^c=IN' <<<"$answer"); c2=$(grep -m1 '^c=IN' <<<"$reinvite")
  assert_eq "${m2%% RTP*}" "${m1%% RTP*}" "the re-INVITE keeps the SBC's port toward the carrier"
  assert_eq "$c2" "$c1" "and its address"
  assert_contains "$m2" "RTP/AVP 8" "PCMA, as the new Teams endpoint answered"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 200 OK" "final NOTIFY: 200 OK"
  ;;
transfer_cancelled_answer_race)
  # Teams -> carrier; Teams transfers to a number; the carrier hangs up while
  # the transfer INVITE rings; the target's 200 crosses our CANCEL: the SBC
  # must ACK it and BYE that dialog, and the call must still end cleanly
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-answer-then-bye.xml -inf uas-numbers.csv -d 2500
  teams_call acme.sbc.lab.example --expect 200 --mode late200 --refer-after 1 --expect-calls 1 --duration 20 \
       --refer-to '<sip:+15551230077@sip.pstnhub.microsoft.com;user=phone>'
  edge_wait
  sipp_uas_wait uas
  new=$(q --dir in --method INVITE --last 1 --header Call-ID)
  old=$(q --dir out --method INVITE --first 1 --header Call-ID)
  [ -n "$new" ] && [ "$new" != "$old" ] || fail "no transfer INVITE toward Teams"
  assert_eq "$(q --dir in --method CANCEL --call-id "$new" --count)" 1 "the transfer INVITE was cancelled when the call ended"
  assert_eq "$(q --dir in --method ACK --call-id "$new" --count)" 1 "the 200 that crossed the CANCEL was ACKed"
  assert_eq "$(q --dir in --method BYE --call-id "$new" --count)" 1 "and its dialog ended with a BYE"
  assert_eq "$(q --dir in --method NOTIFY --last 1 --field body | tr -d '\r\n')" "SIP/2.0 487 Request Terminated" "the transferor got the final NOTIFY"
  assert_eq "$(q --dir in --method BYE --call-id "$old" --count)" 1 "the transferor's dialog got its BYE"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
session_timer_too_small)
  write_config "$PROXY1"
  start
  teams_call acme.sbc.lab.example --session-expires 60 --expect 422 --duration 15
  edge_wait
  assert_eq "$(q --dir in --status 422 --header Min-SE)" "90" "422 names the Min-SE of 90 s (RFC 4028 default)"
  assert_eq "$(status_field calls_total)" 0 "no call created"
  ;;
session_timer_refresh)
  # carrier -> Teams; the SBC asks for 4 s and refreshes the Teams dialog
  # every 2 s (UPDATE: the edge allows it)
  write_config "$PROXY1"
  sed -i 's/^  log: { level: debug, format: text }/  log: { level: debug, format: text }\n  session_expires: 4s\n  min_se: 2s/' "$dir/sbc.yaml"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --hangup-after 7 --expect-calls 1 --duration 20 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  assert_eq "$(q --dir in --method INVITE --first 1 --header Session-Expires)" "4" "INVITE toward Teams asks for 4 s"
  n=$(q --dir in --method UPDATE --count)
  [ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "expected 2-4 refreshes in 7 s, got $n"
  pass "$n refreshing UPDATEs toward Teams in 7 s"
  assert_eq "$(q --dir in --method UPDATE --first 1 --header Session-Expires)" "4;refresher=uac" "refresh keeps interval and refresher"
  python3 - "$dir/edge.jsonl" <<'PY' || fail "refresh spacing"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = [r["t"] for r in recs if r.get("dir") == "in" and r.get("first_line", "").startswith(("UPDATE", "INVITE"))]
gaps = [round(b - a, 2) for a, b in zip(t, t[1:])]
assert gaps and all(1.6 <= g <= 2.6 for g in gaps), gaps
print("gaps", gaps)
PY
  pass "refreshes at half the interval"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
session_timer_refresh_reinvite)
  # as session_timer_refresh, but the edge does not allow UPDATE: the SBC
  # refreshes with re-INVITEs re-offering the same SDP (keys unchanged, R32)
  write_config "$PROXY1"
  sed -i 's/^  log: { level: debug, format: text }/  log: { level: debug, format: text }\n  session_expires: 4s\n  min_se: 2s/' "$dir/sbc.yaml"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --no-update --hangup-after 5 --expect-calls 1 --duration 20 --linger 1
  sipp_uac uac uac-call-remote-bye-expect-200.xml -inf uac-numbers.csv
  edge_wait
  n=$(q --dir in --method INVITE --count)
  [ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "expected the INVITE and 1-3 refreshing re-INVITEs in 5 s, got $n INVITEs"
  pass "$((n - 1)) refreshing re-INVITE(s) toward Teams"
  assert_eq "$(q --dir in --method UPDATE --count || true)" 0 "no UPDATE to a peer that does not allow it"
  assert_eq "$(q --dir in --method INVITE --last 1 --header Session-Expires)" "4;refresher=uac" "re-INVITE keeps interval and refresher"
  k1=$(q --dir in --method INVITE --first 1 --field body | grep a=crypto)
  k2=$(q --dir in --method INVITE --last 1 --field body | grep a=crypto)
  assert_eq "$k2" "$k1" "the refresh re-offers our key unchanged (R32)"
  assert_eq "$(grep -c 'INVITE sip:' "$dir/uac.msg")" 1 "the carrier saw no re-INVITE"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
session_timer_expiry)
  # Teams -> carrier; Teams asks for 3 s as refresher but never refreshes:
  # the SBC ends the call with BYE both ways
  write_config "$PROXY1"
  sed -i 's/^  log: { level: debug, format: text }/  log: { level: debug, format: text }\n  min_se: 2s/' "$dir/sbc.yaml"
  start
  sipp_uas_bg uas uas-answer.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --session-expires 3 --expect 200 --duration 15
  edge_wait
  sipp_uas_wait uas
  assert_eq "$(q --dir in --status 200 --cseq-method INVITE --header Session-Expires)" "3;refresher=uac" "200 accepts 3 s with Teams as refresher"
  assert_eq "$(q --dir in --status 200 --cseq-method INVITE --header Require)" "timer" "Require: timer in the 200"
  assert_eq "$(q --dir in --method BYE --count)" 1 "Teams got the SBC's BYE"
  assert_eq "$(grep -c '^BYE' "$dir/uas.msg")" 1 "the carrier got the SBC's BYE"
  wait_for test -s "$dir/cdr.jsonl" || fail "no CDR"
  assert_contains "$(cat "$dir/cdr.jsonl")" '"end_reason":"session timer expired"' "CDR end reason"
  ;;
require_unknown_extension_420)
  # Require with option tags the SBC does not implement: 420 naming them
  # (RFC 3261 §8.2.2.3); the tags it does implement (100rel, timer) pass
  write_config "$PROXY1"
  start
  python3 - <<'PY' || fail "420 for unknown Require tags"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.7.21", 5060)); s.settimeout(3)
def send(req):
    s.sendto(req.encode(), ("127.0.7.1", 5060))
    while True:
        r = s.recvfrom(65535)[0].decode(errors="replace")
        if not r.startswith("SIP/2.0 100"):
            return r
sdp = "v=0\r\no=core 1 1 IN IP4 127.0.7.21\r\ns=-\r\nc=IN IP4 127.0.7.21\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n"
inv = ("INVITE sip:5551234567@127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5060;branch=z9hG4bK-r1\r\n"
       "From: <sip:5559876543@127.0.7.21>;tag=r1\r\nTo: <sip:5551234567@127.0.7.1>\r\nCall-ID: req420\r\nCSeq: 1 INVITE\r\n"
       "Contact: <sip:5559876543@127.0.7.21:5060>\r\nRequire: 100rel, precondition\r\nRequire: Sec-Agree\r\nSupported: timer\r\n"
       "Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (len(sdp), sdp))
r = send(inv)
assert r.startswith("SIP/2.0 420 "), r
uns = [l for l in r.split("\r\n") if l.lower().startswith("unsupported:")]
assert uns == ["Unsupported: precondition, Sec-Agree"], uns
ack = inv.split("\r\n\r\n")[0].replace("INVITE sip", "ACK sip", 1).replace("1 INVITE", "1 ACK")
s.sendto((ack + "\r\n\r\n").encode(), ("127.0.7.1", 5060))
opt = ("OPTIONS sip:127.0.7.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.7.21:5060;branch=z9hG4bK-r2\r\n"
       "From: <sip:core@127.0.7.21>;tag=r2\r\nTo: <sip:127.0.7.1>\r\nCall-ID: req420o\r\nCSeq: 1 OPTIONS\r\n"
       "Require: timer, 100rel\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
r = send(opt)
assert r.startswith("SIP/2.0 200"), r
print("ok")
PY
  pass "INVITE requiring precondition and sec-agree: 420 with Unsupported naming exactly those two"
  pass "Require: timer, 100rel accepted"
  assert_eq "$(status_field calls_total)" 0 "no call created"
  ;;
prack_carrier_requires_100rel)
  # carrier -> Teams, the carrier's INVITE requires 100rel: the 180 and the
  # 183 with early media reach it reliably (Require + RSeq, one at a time),
  # each PRACK gets 200, the 200 follows; the Teams leg knows none of it
  early_media_edge --answer-delay 1 --hangup-after 1 --duration 15
  sipp_uac uac uac-prack-expect-200.xml -inf uac-numbers.csv
  edge_wait
  check_invite_to_teams
  python3 - "$dir/uac.msg" <<'PY' || fail "reliable 18x toward the carrier"
import re, sys
text = open(sys.argv[1], errors="replace").read()
msgs = []   # SIPp trace: a dashed line, "UDP message sent/received ...", the message
for chunk in re.split(r"^-{5,}.*$", text, flags=re.M):
    lines = chunk.strip("\n").split("\n")
    if len(lines) > 1:
        msgs.append("\n".join(lines[1:]).strip())
first = [m.strip().split("\n", 1)[0].strip() for m in msgs]
def hdr(m, name):
    h = re.search(r"^%s:\s*(.*?)\s*$" % name, m, re.M | re.I)
    return h.group(1) if h else None
r180 = [m for m in msgs if m.strip().startswith("SIP/2.0 180")]
r183 = [m for m in msgs if m.strip().startswith("SIP/2.0 183")]
assert len(r180) == 1 and len(r183) == 1, first          # PRACKed at once: no retransmission
n1, n2 = int(hdr(r180[0], "RSeq")), int(hdr(r183[0], "RSeq"))
assert 1 <= n1 <= 2**31 - 1 and n2 == n1 + 1, (n1, n2)
assert hdr(r183[0], "Require") == "100rel" and "m=audio" in r183[0]
pr = [m for m in msgs if m.strip().startswith("PRACK ")]
assert [hdr(m, "RAck") for m in pr] == ["%d 1 INVITE" % n1, "%d 1 INVITE" % n2], [hdr(m, "RAck") for m in pr]
order = [l for l in first if l.startswith(("SIP/2.0 1", "SIP/2.0 2", "PRACK"))]
i200 = next(i for i, m in enumerate(msgs) if m.strip().startswith("SIP/2.0 200") and hdr(m, "CSeq") == "1 INVITE")
ipr2 = next(i for i, m in enumerate(msgs) if m.strip().startswith("SIP/2.0 200") and hdr(m, "CSeq") == "3 PRACK")
assert ipr2 < i200, order
assert hdr(msgs[i200], "RSeq") is None and "100rel" not in (hdr(msgs[i200], "Require") or ""), msgs[i200]
print("RSeq", n1, n2)
PY
  pass "180 and 183 reliable with consecutive RSeqs, PRACKs answered 200, the 200 came after them"
  assert_eq "$(q --dir in --method PRACK --count || true)" 0 "no PRACK reached Teams"
  assert_eq "$(q --dir in --grep 100rel --count || true)" 0 "no 100rel (Require/Supported) toward Teams"
  assert_eq "$(q --dir in --has-header RSeq --count || true)" 0 "no RSeq toward Teams"
  assert_eq "$(q --dir in --has-header RAck --count || true)" 0 "no RAck toward Teams"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_reliable_18x_from_carrier)
  # Teams -> carrier; the carrier answers 183 with SDP reliably: the SBC
  # PRACKs it at its Contact with the right RAck, once, ignores a
  # retransmission and an out-of-order RSeq, and gives Teams the 183 with
  # the early media answer, plain
  write_config "$PROXY1"
  start
  sipp_uas_bg uas uas-prack-reliable-183.xml -inf uas-numbers.csv
  teams_call acme.sbc.lab.example --expect 200 --hangup-after 1 --duration 20
  edge_wait
  sipp_uas_wait uas
  check_invite_to_carrier "$dir/uas.msg"
  assert_eq "$(grep -c '^PRACK sip:' "$dir/uas.msg")" 1 "exactly one PRACK: none for the retransmission or the RSeq gap"
  assert_eq "$(grep -m1 '^RAck:' "$dir/uas.msg" | tr -d '\r')" "RAck: 1000 1 INVITE" "RAck names RSeq 1000 of INVITE CSeq 1"
  assert_contains "$(grep -m1 '^PRACK sip:' "$dir/uas.msg")" "PRACK sip:prack-uas@127.0.7.21:5060;transport=UDP SIP/2.0" "PRACK goes to the 183's Contact"
  assert_eq "$(awk '/^PRACK sip:/{p=1} p && /^CSeq:/{print; exit}' "$dir/uas.msg" | tr -d '\r')" "CSeq: 2 PRACK" "PRACK takes the next CSeq of the SBC's dialog"
  assert_eq "$(q --dir in --status 183 --count)" 1 "Teams got the 183 once"
  assert_eq "$(q --dir in --status 180 --count || true)" 0 "the out-of-order 180 was not relayed"
  assert_contains "$(q --dir in --status 183 --field body)" "RTP/SAVP" "the 183 carries the early media answer (SRTP toward Teams)"
  assert_eq "$(q --dir in --has-header RSeq --count || true)" 0 "no RSeq toward Teams"
  assert_eq "$(q --dir in --grep 100rel --count || true)" 0 "no Require: 100rel toward Teams"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_retransmitted_until_prack)
  # carrier -> Teams with Require: 100rel; the carrier PRACKs the 183 (with
  # SDP) only after 1.8 s: the SBC retransmits it over UDP at T1, 2*T1 with
  # the same RSeq, and holds Teams' 200 until the PRACK (RFC 3262 §3). A
  # PRACK naming no reliable response gets 481, one with SDP 488.
  # BYE 3 s after its 200: the 200 waits until 1.8 s
  early_media_edge --answer-delay 0.5 --hangup-after 3 --duration 15
  prack_uac --prack-delay 1.8 --bad-pracks
  pass "prack UAC: $(grep -c '^ok' <<<"$out") checks held"
  edge_wait
  assert_contains "$out" "ok PRACK naming an unknown RSeq: 481" "unknown RAck: 481"
  assert_contains "$out" "ok PRACK with SDP: 488" "SDP in PRACK: 488"
  python3 - "$dir/uac.out" <<'PY' || fail "retransmissions of the reliable 183"
import re, sys
out = open(sys.argv[1]).read()
sent = {int(r): (int(n), eval(g)) for r, n, g in re.findall(r"^rseq (\d+) sent (\d+) time\(s\), gaps_ms=(\[.*\])$", out, re.M)}
sdp = [int(r) for r in re.findall(r"^18x 183 rseq=(\d+) sdp=1", out, re.M)]
assert len(sdp) == 1, out
n, gaps = sent[sdp[0]]
assert n == 3 and 400 <= gaps[0] <= 700 and 850 <= gaps[1] <= 1250, (n, gaps)
lag = float(re.search(r"^final after last PRACK by (-?[0-9.]+) s$", out, re.M).group(1))
assert 0 <= lag < 0.5, lag
final = float(re.search(r"^final 200 at=([0-9.]+)$", out, re.M).group(1))
assert final >= 1.8, final
print("183 sent", n, "times, gaps", gaps, "200 at", final)
PY
  pass "the 183 went 3 times (T1, 2*T1) with one RSeq; Teams' 200 waited for its PRACK"
  assert_eq "$(q --dir in --method PRACK --count || true)" 0 "no PRACK reached Teams"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_never_acknowledged)
  # the carrier requires 100rel but never PRACKs: the SBC retransmits the
  # 180 for 64*T1, then refuses the INVITE with 500 and cancels Teams
  write_config "$PROXY1"
  start
  edge --proxy 127.0.7.11:5061:sip.pstnhub.microsoft.com --mode noanswer --expect-calls 1 --duration 45 --linger 1
  prack_uac --no-prack --expect 500 --timeout 40
  edge_wait
  python3 - "$dir/uac.out" <<'PY' || fail "retransmissions until 64*T1"
import re, sys
out = open(sys.argv[1]).read()
(r, n, g), = re.findall(r"^rseq (\d+) sent (\d+) time\(s\), gaps_ms=(\[.*\])$", out, re.M)
gaps = eval(g)
want = [500, 1000, 2000, 4000, 8000, 16000]
assert int(n) == 7 and all(abs(a - b) <= 300 for a, b in zip(gaps, want)), (n, gaps)
final = float(re.search(r"^final 500 at=([0-9.]+)$", out, re.M).group(1))
assert 31.5 <= final <= 33.5, final
print("sent", n, "times, gaps", gaps, "500 at", final)
PY
  pass "the 180 was retransmitted at T1 doubling, then 500 after 64*T1"
  assert_eq "$(q --dir in --method CANCEL --count)" 1 "Teams' INVITE was cancelled"
  wait_for test -s "$dir/cdr.jsonl" || fail "no CDR"
  assert_contains "$(cat "$dir/cdr.jsonl")" '"status":500' "CDR status 500"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_lost_prack_retransmitted)
  # Teams -> carrier; the carrier loses the SBC's first PRACK and keeps
  # retransmitting its reliable 183: the PRACK's own transaction retransmits
  # it (same branch and CSeq, after T1), no second PRACK is made for the
  # retransmitted 183, and Teams gets the 183 once
  write_config "$PROXY1"
  start
  peer_uas_call prack_uas.py "$dir/uas.out"
  out=$(cat "$dir/uas.out")
  assert_contains "$out" "INVITE Supported: timer, 100rel" "the INVITE toward the carrier offers 100rel"
  assert_contains "$out" "ok: 2 PRACK(s) in 1 transaction(s), call completed" "the lost PRACK was retransmitted, not replaced"
  python3 - "$dir/uas.out" <<'PY' || fail "PRACK retransmission timing"
import re, sys
t = [float(x) for x in re.findall(r"^PRACK at=([0-9.]+)", open(sys.argv[1]).read(), re.M)]
assert len(t) == 2 and 0.4 <= t[1] - t[0] <= 0.8, t
print("PRACK retransmitted after %.0f ms" % ((t[1] - t[0]) * 1000))
PY
  pass "PRACK retransmitted after T1 by its transaction"
  assert_eq "$(q --dir in --status 183 --count)" 1 "Teams got the 183 once"
  assert_eq "$(q --dir in --grep 100rel --count || true)" 0 "no 100rel toward Teams"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_supported_only_unreliable)
  # carrier -> Teams, the carrier's INVITE only supports 100rel: the SBC
  # keeps its 18x unreliable (no Require: 100rel, no RSeq), nobody PRACKs
  # and the call completes
  early_media_edge --answer-delay 0.3 --hangup-after 1 --duration 15
  prack_uac --supported-only
  edge_wait
  assert_contains "$out" "ok 180 unreliable (Require: none, RSeq: none)" "the 180 came without Require: 100rel and RSeq"
  assert_contains "$out" "ok 183 unreliable (Require: none, RSeq: none)" "the 183 came without Require: 100rel and RSeq"
  assert_contains "$(grep '^18x 183' <<<"$out")" "sdp=1" "the 183 carried the early media answer"
  assert_contains "$out" "ok 2 unreliable 18x, no PRACK sent" "no PRACK from the carrier"
  assert_contains "$out" "ok INVITE answered 200, expected 200" "the call was answered"
  assert_contains "$out" "ok the call was hung up by the far end (BYE answered)" "and ended by Teams"
  assert_eq "$(grep -c 'reliable 1[0-9][0-9] RSeq' "$dir/sbcd.log" || true)" 0 "the SBC sent no reliable 18x"
  assert_eq "$(q --dir in --method PRACK --count || true)" 0 "no PRACK reached Teams"
  assert_eq "$(status_field calls_answered)" 1 "one call answered"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_cancel_while_2xx_held)
  # carrier -> Teams with Require: 100rel; the carrier PRACKs the 180 but not
  # the 183 with SDP, so Teams' 200 is held (RFC 3262 §3); the carrier then
  # CANCELs: 200 for the CANCEL, 487 for the INVITE (never the held 200),
  # and Teams, which had answered, gets a BYE
  held_2xx_call 15 --cancel-after 2 --expect 487 --timeout 10
  assert_contains "$out" "not PRACKing RSeq" "the 183 with SDP stayed unacknowledged"
  assert_contains "$out" "ok CANCEL answered 200" "CANCEL answered 200"
  assert_contains "$out" "ok INVITE answered 487, expected 487" "the INVITE's first and only final: 487"
  python3 - "$dir/uac.out" <<'PY' || fail "183 retransmissions after the 487"
import re, sys
out = open(sys.argv[1]).read()
final = float(re.search(r"^final 487 at=([0-9.]+)$", out, re.M).group(1))
last = [float(x) for x in re.findall(r"^rseq \d+ last at=([0-9.]+)$", out, re.M)]
assert last and max(last) < final, (last, final)
print("last 18x at", max(last), "487 at", final)
PY
  pass "no reliable 18x retransmitted after the 487"
  teams_answered_then_bye
  cdr_is 487 cancelled unanswered
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
prack_never_acknowledged_after_answer)
  # as prack_never_acknowledged, but Teams answers at once: its 200 waits
  # for the PRACK of the 183 with SDP, which never comes; after 64*T1 the
  # carrier gets 500 and Teams, which had answered, a BYE (not a CANCEL)
  held_2xx_call 45 --expect 500 --timeout 40
  python3 - "$dir/uac.out" <<'PY' || fail "500 after 64*T1"
import re, sys
out = open(sys.argv[1]).read()
at183 = float(re.search(r"^18x 183 rseq=\d+ sdp=1 at=([0-9.]+)$", out, re.M).group(1))
final = float(re.search(r"^final 500 at=([0-9.]+)$", out, re.M).group(1))
assert 31.5 <= final - at183 <= 33.5, (at183, final)
print("500 came %.1f s after the 183" % (final - at183))
PY
  pass "500 after 64*T1 without PRACK"
  teams_answered_then_bye
  cdr_is 500 "no PRACK from the caller"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  ;;
*) fail "unknown case $case_name" ;;
esac

stop_sbcd
grep -q "ERROR: AddressSanitizer\|runtime error:" "$dir/sbcd.log" && fail "sanitizer report in sbcd log"
echo "call_$case_name: all checks passed"
