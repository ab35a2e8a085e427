#!/usr/bin/env bash
# Runs one tests/sipp UAC scenario against one UAS scenario over UDP and
# asserts both SIPp exit statuses: proves the scenarios are valid SIPp 3.6.1
# XML, that they interoperate, and that failures show in the exit status.
# Usage: sipp_pair.sh NAME UAC UAS WANT_UAC WANT_UAS OUTDIR UAC_IP UAS_IP [options]
#   options: --uas-csv FILE   injection file for the UAS (default tests/sipp/uas-numbers.csv
#                             rewritten to the numbers the UAC sends)
#            --calls N --rate R --limit L   load (default 1 call)
#            --pause MS       -d for both sides (default 300)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
name=$1 uac=$2 uas=$3 want_uac=$4 want_uas=$5 out=$6/$1 uac_ip=$7 uas_ip=$8
shift 8
calls=1 rate=10 limit=10 pause=300 uas_csv=
while [ $# -gt 0 ]; do
  case $1 in
    --uas-csv) uas_csv=$2; shift 2;;
    --calls) calls=$2; shift 2;;
    --rate) rate=$2; shift 2;;
    --limit) limit=$2; shift 2;;
    --pause) pause=$2; shift 2;;
    *) fail "unknown option $1";;
  esac
done
fresh_dir "$out"
command -v sipp >/dev/null || fail "sipp (sip-tester) is not installed"

# The UAC sends tests/sipp/uac-numbers.csv; talking straight to the UAS (no
# SBC in between) the UAS must expect exactly those numbers.
if [ -z "$uas_csv" ]; then
  uas_csv=$out/uas.csv
  awk -F';' '/^SEQUENTIAL|^RANDOM|^USER/ {print; next} /^#/ {next} {print $2 ";" $1 ";"}' \
    "$SIPP_DIR/uac-numbers.csv" > "$uas_csv"
fi

# UAS: strict by default; under load the 3.6.1 quirk (an INVITE
# retransmission after our 200 aborts the call) needs -abortunexp off.
uas_behaviors=all
[ "$calls" -gt 1 ] && uas_behaviors=all,-abortunexp
uas_rc=0
sipp -sf "$SIPP_DIR/$uas.xml" -inf "$uas_csv" -i "$uas_ip" -p 5060 -t u1 \
  -m "$calls" -d "$pause" -timeout 20 -timeout_error -default_behaviors "$uas_behaviors" \
  -trace_msg -message_file "$out/uas_messages.log" -trace_err -error_file "$out/uas_errors.log" \
  -nostdin > "$out/uas.stdout" 2> "$out/uas.stderr" &
uas_pid=$!
wait_udp "$uas_ip" 5060

uac_rc=0
sipp -sf "$SIPP_DIR/$uac.xml" -inf "$SIPP_DIR/uac-numbers.csv" -i "$uac_ip" -p 5060 -t u1 \
  -m "$calls" -r "$rate" -l "$limit" -d "$pause" -timeout 20 -timeout_error \
  -trace_msg -message_file "$out/uac_messages.log" -trace_err -error_file "$out/uac_errors.log" \
  -nostdin "$uas_ip:5060" > "$out/uac.stdout" 2> "$out/uac.stderr" || uac_rc=$?

wait_status "$uas_pid"; uas_rc=$STATUS

if [ "$uac_rc" != "$want_uac" ] || [ "$uas_rc" != "$want_uas" ]; then
  dump "$out/uac.stderr" "$out/uas.stderr" "$out/uac_errors.log" "$out/uas_errors.log"
  fail "$name: SIPp exit status uac=$uac_rc (want $want_uac) uas=$uas_rc (want $want_uas)"
fi
pass "$name: SIPp exit status uac=$uac_rc uas=$uas_rc"

# The message traces are what functional tests read: check they hold the call.
[ -s "$out/uas_messages.log" ] || fail "UAS wrote no message trace"
assert_eq "$(grep -c '^INVITE sip:5551234567@' "$out/uas_messages.log")" "$calls" \
  "UAS trace shows $calls INVITE(s) to the injected number"
echo "PASS sipp_pair $name"
