#!/usr/bin/env bash
# Media through the running sbcd, end to end. Usage:
#   media.sh CASE SBCD SBCCTL RTPEND WORKDIR TLSDIR
# Loopback 127.0.9.x: sbcd .1 (Teams side TLS :5061, media 20000+; carrier side
# UDP :5060, media 30000+), Teams proxy .11 (teams_edge or mediaua.py
# teams-uac; Teams media endpoints on .11 too), carrier .21 (SIPp or
# mediaua.py carrier-uas; carrier RTP endpoint 127.0.9.21:40000).
# Media endpoints are rtpend (tests/tools/rtpend.c, stock libsrtp2): they send
# a numbered stream and verify content, order, loss and SSRC of what arrives.
# Exit 77 = skipped (a prerequisite of sbcd is missing).
# KNOWN_BUGS (environment, space separated ids) turns the matching check into
# an expected failure: "XFAIL" when it fails, a test failure ("XPASS") once it
# holds, so the list is kept honest.
set -euo pipefail
case_name=$1 SBCD=$2 SBCCTL=$3 RTPEND=$4 dir=$5 tls=$6
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/functional/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
EDGE="python3 $root/tests/tools/teams_edge.py"
QUERY="python3 $root/tests/tools/sipmsg.py query"
UA="python3 $here/mediaua.py"
rm -rf "$dir" && mkdir -p "$dir"
export SBC_CONTROL_SOCKET=$dir/sbc.sock
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${SBCD_PID:-}" ] && kill -KILL "$SBCD_PID" 2>/dev/null || true
}
trap cleanup EXIT
bg() { "$@" & PIDS+=($!); }

SBC=127.0.9.1 TEAMS=127.0.9.11 CARRIER=127.0.9.21 C_RTP=40000

# write_config TEAMS_PORTS CORE_PORTS WORKERS MEDIA_TIMEOUT_LINE
write_config() {
cat > "$dir/sbc.yaml" <<YAML
node:
  name: media-e2e
  workers: $3
  control_socket: $dir/sbc.sock
  log: { level: debug, format: text }
$4
interfaces:
  - name: teams
    sip: { address: $SBC, port: 5061, transports: [tls] }
    media: { address: $SBC, ports: $1 }
    allow: [127.0.9.0/24]
    tls: { certificate: $tls/sbc.pem, private_key: $tls/sbc.key, ca_file: $tls/ca.pem }
  - name: core
    sip: { address: $SBC, port: 5060, transports: [udp] }
    media: { address: $SBC, ports: $2 }
teams:
  interface: teams
  base_fqdn: sbc.lab.example
  proxies:
    - { host: sip.pstnhub.microsoft.com, port: 5061, address: $TEAMS }
trunks:
  - name: core-east
    interface: core
    targets:
      - { host: $CARRIER, port: 5060, transport: udp, priority: 1 }
    allow: [127.0.9.20/30]
    numbers: { to_trunk: national, from_trunk: national, country_code: "1" }
tenants:
  - name: acme
    fqdn: acme.sbc.lab.example
    trunk: core-east
    numbers: ["+15551230000-+15551239999"]
YAML
}
start() { start_sbcd "$dir/sbc.yaml" "$dir/sbcd.log"; }

known_bug() { case " ${KNOWN_BUGS:-} " in *" $1 "*) return 0;; esac; return 1; }
# check_bug ID WHAT CMD...: a check that a known bug may break
check_bug() {
  local id=$1 what=$2; shift 2
  if "$@"; then
    known_bug "$id" && fail "XPASS $id: '$what' holds now; drop $id from KNOWN_BUGS in tests/media_e2e/CMakeLists.txt"
    pass "$what"
  else
    known_bug "$id" || fail "$what"
    echo "XFAIL $id: $what (known sbcd bug, see tests/media_e2e/README.md)"
  fi
}

# edge ARGS...: the fake Teams edge (proxy 127.0.9.11) in the background
edge() {
  rm -f "$dir/edge.ready"
  $EDGE --certs "$tls" --resolve "*.sbc.lab.example=$SBC" --record "$dir/edge.jsonl" \
        --ready-file "$dir/edge.ready" "$@" > "$dir/edge.out" 2>&1 &
  EDGE_PID=$!; PIDS+=($EDGE_PID)
  wait_for test -f "$dir/edge.ready" || fail "teams_edge did not start: $(cat "$dir/edge.out")"
}
edge_wait() {
  local rc=0
  wait "$EDGE_PID" || rc=$?
  [ "$rc" = 0 ] || fail "teams_edge: $(tail -n 3 "$dir/edge.out")"
  pass "teams edge: $(tail -n 1 "$dir/edge.out")"
}
# carrier_uac NAME ARGS...: one carrier -> sbcd call from 127.0.9.21 (mediaua.py
# carrier-uac, record NAME.jsonl); carrier_wait NAME asserts its verdict
declare -A UAC_PID
carrier_uac() {
  local n=$1; shift
  $UA carrier-uac --ip $CARRIER --sbc $SBC:5060 --rtp-port $C_RTP --record "$dir/$n.jsonl" "$@" 2> "$dir/$n.out" &
  UAC_PID[$n]=$!; PIDS+=($!)
}
carrier_wait() {
  local rc=0
  wait "${UAC_PID[$1]}" || rc=$?
  [ "$rc" = 0 ] || fail "carrier UAC $1: $(tail -n 3 "$dir/$1.out")"
  pass "carrier UAC $1: $(tail -n 1 "$dir/$1.out" | cut -c1-120)"
}
# rec FILE EVENT FIELD: FIELD of the first EVENT record of a mediaua record
rec() { python3 -c "import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r['event'] == sys.argv[2] and (sys.argv[2] != 'response' or r['status'] >= 200):
        print(r.get(sys.argv[3], '')); break
else: sys.exit(1)" "$@"; }
q() { $QUERY "$dir/edge.jsonl" "$@"; }
status_field() { "$SBCCTL" --json status | python3 -c "import json,sys; print(json.load(sys.stdin)['calls'].get('$1', 'absent'))"; }
has_status_field() { [ "$(status_field "$1")" = "$2" ]; }
# wait_long SECONDS CMD...
wait_long() { local n=$(( $1 * 10 )); shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# rtpend_bg NAME ARGS...: background rtpend; rtpend_wait NAME asserts its verdict
declare -A RTP_PID
rtpend_bg() { local n=$1; shift; "$RTPEND" "$@" > "$dir/rtp-$n.out" 2>&1 & RTP_PID[$n]=$!; PIDS+=($!); }
rtpend_wait() {
  local rc=0
  wait "${RTP_PID[$1]}" || rc=$?
  [ "$rc" = 0 ] || fail "rtpend $1 ($2): $(cat "$dir/rtp-$1.out")"
  pass "$2: $(cat "$dir/rtp-$1.out")"
}

# Carrier -> sbcd -> teams_edge call, answered; sets T_SBC_* (the SBC's SRTP
# side toward Teams, from its offer), T_EP_* (the edge's answer: where Teams
# expects media and its key), C_SBC_* (the SBC's RTP side toward the carrier).
call_to_edge() {
  local hang=$1
  edge --proxy $TEAMS:5061:sip.pstnhub.microsoft.com --hangup-after "$hang" --expect-calls 1 --duration 25 --linger 0.5
  carrier_uac uac
  # one python run for all SDPs (python start-up is slow on a loaded box)
  local vars
  vars=$($UA wait-sdp --timeout 10 T_SBC=edge-offer:"$dir/edge.jsonl" T_EP=edge-answer:"$dir/edge.jsonl" \
         C_SBC=ua:"$dir/uac.jsonl":response) || fail "call not set up: $(tail -n 3 "$dir/uac.out")"
  eval "$vars"
  assert_eq "$C_SBC_STATUS" 200 "carrier -> Teams call answered"
  echo "teams side: sbc $T_SBC_IP:$T_SBC_PORT key $T_SBC_KEY, edge $T_EP_IP:$T_EP_PORT key $T_EP_KEY"
  echo "carrier side: sbc $C_SBC_IP:$C_SBC_PORT ($C_SBC_PROTO), carrier $CARRIER:$C_RTP"
  assert_eq "$T_SBC_PROTO" "RTP/SAVP" "offer toward Teams is RTP/SAVP"
  assert_eq "$T_SBC_IP" "$SBC" "Teams-side media address is the teams interface's"
  [ -n "$T_SBC_KEY" ] || fail "no AES_CM_128_HMAC_SHA1_80 key in the offer toward Teams"
  pass "offer toward Teams carries our SDES key"
  assert_eq "$C_SBC_PROTO" "RTP/AVP" "answer toward the carrier is plain RTP/AVP"
  assert_eq "$C_SBC_KEY" "" "no crypto toward the carrier"
  assert_eq "$C_SBC_IP" "$SBC" "carrier-side media address is the core interface's"
  [ "$T_SBC_PORT" -ge 20000 ] && [ "$T_SBC_PORT" -le 20999 ] || fail "Teams-side port $T_SBC_PORT outside 20000-20999"
  [ "$C_SBC_PORT" -ge 30000 ] && [ "$C_SBC_PORT" -le 30999 ] || fail "carrier-side port $C_SBC_PORT outside 30000-30999"
  pass "media ports from the interfaces' ranges"
}
# end_of_call_to_edge: the edge's BYE reached the carrier; nothing left
end_of_call_to_edge() {
  edge_wait
  carrier_wait uac
  assert_contains "$(cat "$dir/uac.jsonl")" '"bye_received"' "the carrier got the BYE"
  wait_for has_status_field calls_active 0 || fail "calls_active is $(status_field calls_active) after the call"
  pass "no call left"
}

case "$case_name" in
srtp_rtp_both_ways)
  write_config 20000-20999 30000-30999 2 ""
  start
  call_to_edge 8
  # Both directions at once, 150 packets each (3 s): Teams sends SRTP with the
  # edge's key and decrypts with the SBC's; the carrier sends and gets RTP.
  rtpend_bg teams --local "$T_EP_IP:$T_EP_PORT" --remote "$T_SBC_IP:$T_SBC_PORT" --tx-key "$T_EP_KEY" \
    --rx-key "$T_SBC_KEY" --send 150 --recv 150 --ssrc 0x7ea75001 --expect-ssrc 0xca771e02 --start-delay-ms 600 \
    --timeout-ms 2000
  rtpend_bg carrier --local "$CARRIER:$C_RTP" --remote "$C_SBC_IP:$C_SBC_PORT" --send 150 --recv 150 \
    --ssrc 0xca771e02 --expect-ssrc 0x7ea75001 --start-delay-ms 600 --timeout-ms 2000
  rtpend_wait teams "Teams endpoint got the carrier's stream, SRTP, all 150 in order"
  rtpend_wait carrier "carrier endpoint got the Teams stream decrypted, all 150 in order"
  assert_contains "$(cat "$dir/rtp-teams.out")" "auth_fail=0" "every SRTP packet toward Teams authenticated"
  assert_contains "$(cat "$dir/rtp-teams.out")" "first_from=$T_SBC_IP:$T_SBC_PORT" "SRTP came from the advertised Teams-side port (symmetric RTP)"
  assert_contains "$(cat "$dir/rtp-carrier.out")" "first_from=$C_SBC_IP:$C_SBC_PORT" "RTP came from the advertised carrier-side port"
  end_of_call_to_edge
  ;;
media_timeout)
  line="  media_timeout: 3s"
  write_config 20000-20999 30000-30999 2 "$line"
  if ! out=$("$SBCD" --check-config "$dir/sbc.yaml" 2>&1); then
    case "$out" in *media_timeout*) echo "SKIP: sbcd does not accept node.media_timeout yet: $out"; exit 77;; esac
    fail "config refused: $out"
  fi
  start
  # Nobody hangs up and no RTP flows: sbcd must end the call on both legs.
  edge --proxy $TEAMS:5061:sip.pstnhub.microsoft.com --expect-calls 1 --duration 20 --linger 0.5
  carrier_uac uac
  carrier_wait uac
  assert_eq "$(rec "$dir/uac.jsonl" response status)" 200 "call answered"
  assert_contains "$(cat "$dir/uac.jsonl")" '"bye_received"' "the carrier got sbcd's BYE"
  # from sbcd's own log: answered -> media timeout
  took=$(python3 - "$dir/sbcd.log" <<'PY'
import sys, datetime
t = {}
for l in open(sys.argv[1]):
    for k, w in (("answered", " answered"), ("timeout", "no media, ending the call")):
        if l.rstrip().endswith(w) and k not in t:
            t[k] = datetime.datetime.fromisoformat(l.split()[0].rstrip("Z"))
print(int((t["timeout"] - t["answered"]).total_seconds() * 1000) if len(t) == 2 else -1)
PY
)
  [ "$took" -ge 2500 ] && [ "$took" -le 5000 ] || fail "media timeout fired ${took} ms after the answer, configured 3 s"
  pass "media timeout fired ${took} ms after the answer (configured 3 s)"
  edge_wait
  assert_eq "$(q --dir in --method BYE --count)" 1 "the Teams edge got sbcd's BYE"
  assert_eq "$(q --dir out --status 200 --cseq-method BYE --count)" 1 "the edge answered it 200"
  assert_contains "$(cat "$dir/sbcd.log")" "no media, ending the call" "sbcd logged the media timeout"
  assert_eq "$(status_field calls_active)" 0 "no call left"
  check_bug media-timeouts-status "sbcctl status calls.media_timeouts = 1" has_status_field media_timeouts 1
  ;;
rekey_mid_call)
  write_config 20000-20999 30000-30999 2 ""
  start
  bg $UA carrier-uas --ip $CARRIER --port 5060 --rtp-port $C_RTP --record "$dir/carrier.jsonl" \
     --ready-file "$dir/carrier.ready" --expect-bye --duration 25 2> "$dir/carrier.out"
  CARRIER_PID=${PIDS[-1]}
  wait_for test -f "$dir/carrier.ready" || fail "carrier UAS did not start"
  bg $UA teams-uac --certs "$tls" --sbc $SBC:5061 --source $TEAMS --rtp-ip $TEAMS --rtp-port 50000 \
     --rekeys 1 --rekey-file "$dir/rekey" --hangup-file "$dir/hangup" --record "$dir/teams.jsonl" --duration 25 \
     2> "$dir/teams.out"
  TEAMS_PID=${PIDS[-1]}
  vars=$($UA wait-sdp --timeout 10 T_EP=ua:"$dir/teams.jsonl":offer T_SBC=ua:"$dir/teams.jsonl":answer \
         C_SBC=ua:"$dir/carrier.jsonl":invite) || fail "call not set up: $(tail -n 3 "$dir/teams.out")"
  eval "$vars"
  assert_eq "$T_SBC_STATUS" 200 "Teams -> carrier call answered"
  assert_eq "$T_SBC_PROTO" "RTP/SAVP" "answer toward Teams is RTP/SAVP"
  assert_eq "$C_SBC_PROTO" "RTP/AVP" "offer toward the carrier is RTP/AVP"
  phase() {   # phase N: both directions at once with the current keys
    rtpend_bg teams$1 --local "$TEAMS:50000" --remote "$T_SBC_IP:$T_SBC_PORT" --tx-key "$T_EP_KEY" \
      --rx-key "$T_SBC_KEY" --send 100 --recv 100 --ssrc 0x7ea75001 --expect-ssrc 0xca771e02 --start-delay-ms 600 \
      --timeout-ms 2000
    rtpend_bg carrier$1 --local "$CARRIER:$C_RTP" --remote "$C_SBC_IP:$C_SBC_PORT" --send 100 --recv 100 \
      --ssrc 0xca771e02 --expect-ssrc 0x7ea75001 --start-delay-ms 600 --timeout-ms 2000
    rtpend_wait teams$1 "phase $1: Teams endpoint got the carrier's stream (SRTP, 100 in order)"
    rtpend_wait carrier$1 "phase $1: carrier endpoint got the Teams stream (100 in order)"
  }
  phase 1
  old_sbc_key=$T_SBC_KEY old_ep_key=$T_EP_KEY old_port=$T_SBC_PORT old_cport=$C_SBC_PORT
  touch "$dir/rekey.1"
  vars=$($UA wait-sdp --timeout 8 T_EP=ua:"$dir/teams.jsonl":reoffer T_SBC=ua:"$dir/teams.jsonl":reanswer \
         C_SBC=ua:"$dir/carrier.jsonl":reinvite) || fail "re-INVITE not through: $(tail -n 3 "$dir/teams.out")"
  eval "$vars"
  assert_eq "$T_SBC_STATUS" 200 "re-INVITE with a new key answered 200"
  [ "$T_EP_KEY" != "$old_ep_key" ] || fail "helper did not change the Teams key"
  [ -n "$T_SBC_KEY" ] && [ "$T_SBC_KEY" != "$old_sbc_key" ] \
    || fail "sbcd kept its key toward Teams after Teams re-keyed (session.h: a fresh key of ours too): $T_SBC_KEY"
  pass "sbcd answered the re-key with a fresh key of its own"
  assert_eq "$T_SBC_PORT" "$old_port" "Teams-side port unchanged by the re-INVITE (R30)"
  assert_eq "$C_SBC_PORT" "$old_cport" "carrier-side port unchanged by the re-INVITE (R30)"
  assert_eq "$C_SBC_KEY" "" "still no crypto toward the carrier"
  # Same SSRCs and sequence numbers again: with fresh contexts (ROC 0, new
  # replay windows) on the re-keyed directions every packet must pass.
  phase 2
  # The old Teams key is dead now: SRTP under it must not reach the carrier.
  rtpend_bg stale --local "$TEAMS:50000" --remote "$T_SBC_IP:$T_SBC_PORT" --tx-key "$old_ep_key" --send 50 \
    --ssrc 0x7ea75001 --interval-ms 10 --start-delay-ms 600
  rtpend_bg carrier3 --local "$CARRIER:$C_RTP" --recv 1 --max-loss 1 --timeout-ms 1500
  rtpend_wait stale "stale-key sender done"
  rtpend_wait carrier3 "nothing under the old key reached the carrier"
  assert_contains "$(cat "$dir/rtp-carrier3.out")" "received=0" "no packet under the old key forwarded"
  touch "$dir/hangup"
  wait "$TEAMS_PID" || fail "Teams UA: $(tail -n 3 "$dir/teams.out")"
  pass "Teams hung up, BYE answered 200"
  wait "$CARRIER_PID" || fail "carrier UAS: $(tail -n 3 "$dir/carrier.out")"
  pass "the carrier got the BYE"
  wait_for has_status_field calls_active 0 || fail "calls_active is $(status_field calls_active) after the call"
  ;;
wrong_key_and_replay)
  write_config 20000-20999 30000-30999 2 ""
  start
  call_to_edge 10
  # The edge expects media at T_EP; a mangling relay sits there, the Teams
  # rtpend behind it. Toward sbcd it duplicates every packet, replays old ones
  # and forwards what a wrong-key sender (same SSRC) sends.
  WRONG_KEY=$(python3 -c "import base64,os; print(base64.b64encode(os.urandom(30)).decode())")
  bg $UA mangle --listen "$T_EP_IP:$T_EP_PORT" --sbc "$T_SBC_IP:$T_SBC_PORT" --endpoint "$TEAMS:50100" \
     --inject "$TEAMS:50200" --stop-file "$dir/mangle.stop" --ready-file "$dir/mangle.ready" --duration 15 \
     > "$dir/mangle.out" 2>&1
  MANGLE_PID=${PIDS[-1]}
  wait_for test -f "$dir/mangle.ready" || fail "mangle relay did not start"
  # wrong key first (alone for 400 ms), then along the valid stream
  rtpend_bg wrong --local "$TEAMS:50300" --remote "$TEAMS:50200" --tx-key "$WRONG_KEY" --send 250 \
    --ssrc 0x7ea75001 --interval-ms 20
  rtpend_bg teams --local "$TEAMS:50100" --remote "$T_EP_IP:$T_EP_PORT" --tx-key "$T_EP_KEY" \
    --rx-key "$T_SBC_KEY" --send 150 --recv 150 --ssrc 0x7ea75001 --expect-ssrc 0xca771e02 --start-delay-ms 400 \
    --timeout-ms 2000
  rtpend_bg carrier --local "$CARRIER:$C_RTP" --remote "$C_SBC_IP:$C_SBC_PORT" --send 150 --recv 150 \
    --ssrc 0xca771e02 --expect-ssrc 0x7ea75001 --start-delay-ms 400 --timeout-ms 2000
  rtpend_wait teams "Teams endpoint (behind the relay) got the carrier's stream"
  rtpend_wait carrier "carrier got exactly the 150 valid packets: no duplicate, no replay, no wrong-key packet"
  # Then only replays of the whole stream and wrong-key packets: nothing may pass.
  rtpend_bg sink --local "$CARRIER:$C_RTP" --recv 1 --max-loss 1 --timeout-ms 1500
  touch "$dir/mangle.stop"
  rtpend_wait sink "carrier endpoint idle while replays and wrong-key packets arrive at sbcd"
  assert_contains "$(cat "$dir/rtp-sink.out")" "received=0" "no replayed or wrong-key packet forwarded"
  wait "$MANGLE_PID" || true
  pass "$(cat "$dir/mangle.out")"
  rtpend_wait wrong "wrong-key sender done"
  # The drops are counted per call, on the Teams leg (sbcctl calls).
  counters=$("$SBCCTL" --json calls | python3 -c "
import json, sys
c = json.load(sys.stdin)['calls'][0]['media_teams']
print(c['srtp_auth_failures'], c['srtp_replays'])")
  read -r auth replays <<< "$counters"
  [ "$auth" -ge 1 ] || fail "sbcctl calls: no SRTP authentication failure counted ($counters)"
  [ "$replays" -ge 1 ] || fail "sbcctl calls: no replay counted ($counters)"
  pass "sbcctl calls counts $auth authentication failure(s) and $replays replay(s) on the Teams leg"
  end_of_call_to_edge
  ;;
port_exhaustion_503)
  # One worker, one RTP/RTCP pair per interface: room for exactly one call.
  write_config 20000-20001 30000-30001 1 ""
  start
  edge --proxy $TEAMS:5061:sip.pstnhub.microsoft.com --expect-calls 2 --duration 25 --linger 0.5
  carrier_uac first --hangup-file "$dir/hangup.first"
  eval "$($UA wait-sdp X=ua:"$dir/first.jsonl":response)" || fail "first call: no final response"
  assert_eq "$X_STATUS" 200 "first call answered, holding the only port pairs"
  carrier_uac second --port 5062 --expect 503
  carrier_wait second
  pass "second carrier -> Teams call refused with 503"
  assert_contains "$(grep '"response"' "$dir/second.jsonl" | grep '"status": 503')" "Retry-After" "503 carries Retry-After"
  assert_contains "$(cat "$dir/sbcd.log")" "no free port pair" "sbcd logged the exhausted pool"
  # the same from the Teams side
  $EDGE --certs "$tls" --resolve "*.sbc.lab.example=$SBC" --record "$dir/edge2.jsonl" --source $TEAMS \
        --call +15551230001 +15557654321 --to-host acme.sbc.lab.example --sbc $SBC:5061 --expect 503 --duration 10 \
        > "$dir/edge2.out" 2>&1 || fail "Teams -> carrier call during exhaustion: $(tail -n 3 "$dir/edge2.out")"
  pass "Teams -> carrier call refused with 503 too: $(tail -n 1 "$dir/edge2.out")"
  assert_eq "$(q --dir in --method INVITE --count)" 1 "the refused carrier call never reached Teams"
  touch "$dir/hangup.first"
  carrier_wait first
  # ports are back: a new call goes through
  wait_for has_status_field calls_active 0 || fail "first call still active"
  carrier_uac third --hangup-file "$dir/hangup.third"
  eval "$($UA wait-sdp X=ua:"$dir/third.jsonl":response)" || fail "third call: no final response"
  assert_eq "$X_STATUS" 200 "after the first call ended, a new call got the freed ports"
  touch "$dir/hangup.third"
  carrier_wait third
  edge_wait
  ;;
*) fail "unknown case $case_name" ;;
esac

stop_sbcd
grep -q "ERROR: AddressSanitizer\|runtime error:" "$dir/sbcd.log" && fail "sanitizer report in sbcd log"
echo "media_$case_name: all checks passed"
