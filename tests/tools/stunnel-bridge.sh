#!/usr/bin/env bash
# TLS shim for Debian's SIPp (built without TLS): SIPp speaks TCP to a local
# stunnel4 that speaks TLS to the SBC, with a client certificate and SNI
# (a fake Teams edge's view of the SBC), or terminates the SBC's TLS and
# hands plain TCP to a SIPp UAS (the SBC's view of the Teams edge).
#
#   stunnel-bridge.sh client ACCEPT CONNECT --cert C --key K [--ca CA] [--sni NAME]
#       TCP on ACCEPT (ip:port) -> TLS to CONNECT, presenting C, sending SNI
#       NAME and checking the server certificate against NAME and CA.
#   stunnel-bridge.sh server ACCEPT CONNECT --cert C --key K [--ca CA]
#       TLS on ACCEPT -> TCP to CONNECT; with CA a client certificate is
#       required and verified (mutual TLS, like the Teams edge).
#   stunnel-bridge.sh stop DIR
#
# Common options: --dir DIR (state: config, pid, log; default mktemp),
# --tls12 (cap at TLS 1.2). Prints DIR on stdout once ACCEPT is listening.
# One TCP connection from SIPp becomes one TLS connection: use SIPp's t1
# (one socket) to get one long-lived TLS connection, tn for one per call.
set -euo pipefail

die() { echo "stunnel-bridge: $*" >&2; exit 1; }

stunnel_bin=$(command -v stunnel4 || command -v stunnel || true)
[ -n "$stunnel_bin" ] || die "stunnel4 not installed (apt-get install stunnel4)"

mode=${1:-}; shift || true
case "$mode" in
  stop)
    dir=${1:?usage: stunnel-bridge.sh stop DIR}
    if [ -f "$dir/stunnel.pid" ]; then
      pid=$(cat "$dir/stunnel.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    exit 0 ;;
  client|server) ;;
  *) die "usage: stunnel-bridge.sh client|server ACCEPT CONNECT [options] | stop DIR" ;;
esac

accept=${1:?ACCEPT ip:port}; connect=${2:?CONNECT ip:port}; shift 2
cert= key= ca= sni= dir= tls12=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cert) cert=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --ca) ca=$2; shift 2 ;;
    --sni) sni=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --tls12) tls12=1; shift ;;
    *) die "unknown option $1" ;;
  esac
done
[ -n "$cert" ] && [ -n "$key" ] || die "--cert and --key are required"
for f in "$cert" "$key" ${ca:+"$ca"}; do [ -r "$f" ] || die "cannot read $f"; done
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
cert=$(abs "$cert"); key=$(abs "$key"); [ -z "$ca" ] || ca=$(abs "$ca")

[ -n "$dir" ] || dir=$(mktemp -d /tmp/stunnel-bridge.XXXXXX)
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

{
  echo "foreground = no"
  echo "pid = $dir/stunnel.pid"
  echo "output = $dir/stunnel.log"
  echo "debug = 5"
  echo "[sip]"
  echo "accept = $accept"
  echo "connect = $connect"
  echo "cert = $cert"
  echo "key = $key"
  echo "sslVersionMin = TLSv1.2"
  [ "$tls12" = 1 ] && echo "sslVersionMax = TLSv1.2"
  # the four suites Teams lists (TEAMS.md §1.1) for TLS 1.2
  echo "ciphers = ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
  if [ "$mode" = client ]; then
    echo "client = yes"
    [ -n "$sni" ] && echo "sni = $sni"
    if [ -n "$ca" ]; then
      echo "CAfile = $ca"
      echo "verifyChain = yes"
      [ -n "$sni" ] && echo "checkHost = $sni"
    fi
  else
    if [ -n "$ca" ]; then
      echo "CAfile = $ca"
      echo "verifyChain = yes"     # requires and verifies a client certificate
    fi
  fi
} > "$dir/stunnel.conf"

"$stunnel_bin" "$dir/stunnel.conf" || { cat "$dir/stunnel.log" >&2 2>/dev/null; die "stunnel failed to start"; }

# wait until the accepting side listens (no probe connection: in client mode
# it would open a TLS connection toward the SBC)
port=${accept##*:}
for _ in $(seq 100); do
  if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
    echo "$dir"
    exit 0
  fi
  sleep 0.05
done
cat "$dir/stunnel.log" >&2 2>/dev/null || true
die "stunnel did not start listening on $accept"
