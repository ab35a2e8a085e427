#!/usr/bin/env bash
# Signalling load benchmark: SIPp -> sbcd -> SIPp in both directions, and the
# same SIPp load through Kamailio (transaction-stateful proxy) and Kamailio +
# rtpengine (media anchoring), all on this machine, loopback 127.0.8.0/24.
#
# Usage: bench/signalling/run.sh [--quick] [--runs N] [--hold MS] [--build DIR]
#                                [TARGET] [RATES] [DURATION]
#   TARGET   to-teams | from-teams | kamailio | kamailio-rtpengine | sbcd | all  (default all)
#            (sbcd = to-teams + from-teams)
#   RATES    comma-separated calls/s steps (default 200,500,1000,2000,3000)
#   DURATION seconds of load per step (default 30; --quick: 8)
#   --runs N repeat every step N times (default 1); the table shows medians
#   --hold   call length in ms (default 1000; see README: fd limit): concurrency = rate * hold
#   --settle S  sbcd only: after a step wait S s and sample PSS again (leak
#            vs. 32 s transaction retention), logged to $OUT/settle.log
#   --build  build dir with sbc/sbcd and sbc/sbcctl (default build-bench,
#            configured with -DCMAKE_BUILD_TYPE=Release; always rebuilt first)
#   WORKERS=N (environment) sbcd's node.workers (default 2)
#
# Addresses: sbcd 127.0.8.1 (Teams TLS :5061, core UDP :5060), its media on
# 127.0.8.2 (Teams) and 127.0.8.3 (core), ports 16000-60999 each; Teams proxy
# 127.0.8.11:5061 = stunnel TLS server bridge -> SIPp Teams UAS TCP 127.0.8.12:5070;
# Teams UAC = SIPp TCP 127.0.8.13 -> stunnel client bridge 127.0.8.14:5070 ->
# TLS to sbcd (SNI acme.sbc.lab.example); carrier SIPp UAC 127.0.8.21:5060,
# carrier SIPp UAS (trunk target) 127.0.8.22:5060; Kamailio 127.0.8.31:5060;
# rtpengine 127.0.8.41 (ng control :2223).
#
# Per step: everything is started fresh, the UAC offers RATE*DURATION calls
# at RATE/s holding each HOLD ms; measured: SIPp UAC created/successful/failed
# calls, CPU ticks (utime+stime from /proc/PID/stat) of the system under test
# (sbcd; all kamailio processes; + rtpengine) from just before the first call
# to 1 s after the last, and its PSS (smaps_rollup, summed over processes)
# idle, at the peak and after the calls; concurrency = SIPp's max CurrentCall.
# Output: raw lines in $OUT/results.tsv, the table of medians on stdout.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=0 runs=1 hold=1000 settle=0 build=$root/build-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
target=${1:-all}
rates=${2:-200,500,1000,2000,3000}
if [ "$quick" = 1 ]; then duration=${3:-8}; else duration=${3:-30}; fi
case "$target" in
  all) targets="to-teams from-teams kamailio kamailio-rtpengine" ;;
  sbcd) targets="to-teams from-teams" ;;
  to-teams|from-teams|kamailio|kamailio-rtpengine) targets=$target ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
[ "$runs" -ge 1 ] && [ "$runs" -le 10 ] || { echo "--runs 1..10" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || { echo "DURATION 1..600" >&2; exit 2; }

SBCD=$build/sbc/sbcd SBCCTL=$build/sbc/sbcctl
# always (re)build: a stale binary would measure old code
if [[ "$targets" == *teams* ]]; then
  { [ -f "$build/CMakeCache.txt" ] ||
      cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSBC_TESTS=OFF >/dev/null; } &&
    cmake --build "$build" >/dev/null || { echo "build failed" >&2; exit 1; }
fi
for b in sipp stunnel4 kamailio rtpengine python3; do
  command -v $b >/dev/null || { echo "missing $b (apt-get install sip-tester stunnel4 kamailio rtpengine-daemon)" >&2; exit 1; }
done

OUT=${BENCH_OUT:-/tmp/sbc-bench-signalling}
mkdir -p "$OUT"
TLS=$OUT/tls
bash "$root/scripts/gen-certs.sh" "$TLS" >/dev/null
SIPP_DIR=$root/tests/sipp
TCK=$(getconf CLK_TCK)
# sbcd needs ~2-4 descriptors per active call (SIP + media sockets)
ulimit -Hn 1048576 2>/dev/null; ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PIDS=()          # every process this script started (killed by pid at the end)
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 30); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

wait_udp() { for _ in $(seq 50); do ss -Hlun "src $1" | grep -q . && return 0; sleep 0.1; done; return 1; }
wait_tcp() { for _ in $(seq 50); do ss -Hltn "src $1" | grep -q . && return 0; sleep 0.1; done; return 1; }

write_sbc_config() {
cat > "$1" <<YAML
node:
  name: bench
  workers: ${WORKERS:-2}
  control_socket: $OUT/sbc.sock
  log: { level: warn, format: text }
interfaces:
  - name: teams
    sip: { address: 127.0.8.1, port: 5061, transports: [tls] }
    media: { address: 127.0.8.2, ports: 16000-60999 }
    allow: [127.0.8.0/24]
    tls: { certificate: $TLS/sbc.pem, private_key: $TLS/sbc.key, ca_file: $TLS/ca.pem }
  - name: core
    sip: { address: 127.0.8.1, port: 5060, transports: [udp] }
    media: { address: 127.0.8.3, ports: 16000-60999 }
teams:
  interface: teams
  base_fqdn: sbc.lab.example
  proxies:
    - { host: sip.pstnhub.microsoft.com, port: 5061, address: 127.0.8.11 }
trunks:
  - name: core-east
    interface: core
    targets:
      - { host: 127.0.8.22, port: 5060, transport: udp, priority: 1 }
    allow: [127.0.8.20/30]
    numbers: { to_trunk: national, from_trunk: national, country_code: "1" }
    max_calls: 0
    max_cps: 0
tenants:
  - name: acme
    fqdn: acme.sbc.lab.example
    trunk: core-east
    numbers: ["+15551230000-+15551239999"]
    max_calls: 0
YAML
}

# stunnel_bridge NAME MODE ACCEPT CONNECT [LOCAL SNI]: foreground stunnel in the background
stunnel_bridge() {
  local name=$1 mode=$2 accept=$3 connect=$4 local=${5:-} sni=${6:-}
  local d=$OUT/$name
  mkdir -p "$d"
  {
    echo "foreground = yes"
    echo "output = $d/stunnel.log"
    echo "debug = 4"
    echo "[sip]"
    echo "accept = $accept"
    echo "connect = $connect"
    echo "cert = $TLS/teams.pem"
    echo "key = $TLS/teams.key"
    echo "CAfile = $TLS/ca.pem"
    echo "verifyChain = yes"
    echo "sslVersionMin = TLSv1.2"
    echo "ciphers = ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
    if [ "$mode" = client ]; then
      echo "client = yes"
      echo "local = $local"
      echo "sni = $sni"
      echo "checkHost = $sni"
    fi
  } > "$d/stunnel.conf"
  stunnel4 "$d/stunnel.conf" > "$d/stunnel.out" 2>&1 &
  PIDS+=($!)
  wait_tcp "${accept}" || { echo "stunnel $name did not listen: $(tail -n 3 "$d/stunnel.log")" >&2; return 1; }
}

start_sbcd() {
  write_sbc_config "$OUT/sbc.yaml"
  rm -f "$OUT/sbc.sock"
  SBC_CONTROL_SOCKET=$OUT/sbc.sock "$SBCD" -c "$OUT/sbc.yaml" 2> "$OUT/$tag.sbcd.log" &
  SBCD_PID=$!
  PIDS+=($SBCD_PID)
  for _ in $(seq 50); do SBC_CONTROL_SOCKET=$OUT/sbc.sock "$SBCCTL" status >/dev/null 2>&1 && break; sleep 0.1; done
  SBC_CONTROL_SOCKET=$OUT/sbc.sock "$SBCCTL" status >/dev/null 2>&1 || { echo "sbcd did not start: $(tail -n 5 "$OUT/$tag.sbcd.log")" >&2; return 1; }
  SUT_PIDS="$SBCD_PID"
}

start_kamailio() {   # $1: extra define or empty
  kamailio -DD -E -f "$here/kamailio.cfg" ${1:+-A "$1"} -m 512 -M 16 > "$OUT/$tag.kamailio.log" 2>&1 &
  KAM_PID=$!
  PIDS+=($KAM_PID)
  wait_udp 127.0.8.31:5060 || { echo "kamailio did not start: $(tail -n 5 "$OUT/$tag.kamailio.log")" >&2; return 1; }
  sleep 0.5
}

start_rtpengine() {
  rtpengine --config-file=none --foreground --log-stderr --log-level=4 --table=-1 \
    --interface=127.0.8.41 --listen-ng=127.0.8.41:2223 --port-min=10000 --port-max=19999 \
    --num-threads=2 --delete-delay=0 > "$OUT/$tag.rtpengine.log" 2>&1 &
  RTPE_PID=$!
  PIDS+=($RTPE_PID)
  wait_udp 127.0.8.41:2223 || { echo "rtpengine did not start: $(tail -n 5 "$OUT/$tag.rtpengine.log")" >&2; return 1; }
}

# all pids of the system under test (kamailio: main + its children)
sut_pids() {
  local p
  for p in $SUT_PIDS; do
    echo "$p"
    [ "$p" = "${KAM_PID:-}" ] && pgrep -P "$p"
  done
}
cpu_ticks() {   # utime+stime summed
  local t=0 p s
  for p in $(sut_pids); do
    s=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    s=${s##*) }; set -- $s
    t=$((t + ${12} + ${13}))
  done
  echo $t
}
pss_kib() {
  local t=0 p v
  for p in $(sut_pids); do
    v=$(awk '/^Pss:/{print $2}' /proc/"$p"/smaps_rollup 2>/dev/null) || continue
    t=$((t + ${v:-0}))
  done
  echo $t
}

sipp_uas() {   # NAME SCENARIO CSV ADDR PORT TRANSPORT
  local name=$1 sf=$2 csv=$3 addr=$4 port=$5 tp=$6
  timeout $((duration + 180)) sipp -sf "$sf" -inf "$csv" -i "$addr" -p "$port" -t "$tp" -aa \
    -default_behaviors all,-abortunexp -max_socket 10000 -buff_size 4194304 -nostdin \
    -trace_err -error_file "$OUT/$tag.$name.err" -max_log_size 5000000 \
    > "$OUT/$tag.$name.out" 2>&1 &
  PIDS+=($!)
  if [ "$tp" = u1 ]; then wait_udp "$addr:$port"; else wait_tcp "$addr:$port"; fi
}

# one step: TARGET RATE RUN -> appends a line to results.tsv
step() {
  local tgt=$1 rate=$2 run=$3
  tag=$tgt-$rate-$run
  SUT_PIDS= KAM_PID= SBCD_PID=
  local uac_sf uac_csv uac_addr uac_remote uac_tp uac_port=5060
  case "$tgt" in
    to-teams)
      start_sbcd || return 1
      sipp_uas teams-uas "$here/uas-teams-srtp.xml" "$here/teams-uac-numbers.csv" 127.0.8.12 5070 t1 || return 1
      stunnel_bridge teams-proxy server 127.0.8.11:5061 127.0.8.12:5070 || return 1
      uac_sf=$SIPP_DIR/uac-call-expect-200.xml uac_csv=$here/carrier-uac-numbers.csv
      uac_addr=127.0.8.21 uac_remote=127.0.8.1:5060 uac_tp=u1 ;;
    from-teams)
      start_sbcd || return 1
      sipp_uas carrier-uas "$here/uas-carrier-answer.xml" "$here/carrier-uas-numbers.csv" 127.0.8.22 5060 u1 || return 1
      stunnel_bridge teams-client client 127.0.8.14:5070 127.0.8.1:5061 127.0.8.14 acme.sbc.lab.example || return 1
      uac_sf=$here/uac-teams-call.xml uac_csv=$here/teams-uac-numbers.csv
      uac_addr=127.0.8.13 uac_remote=127.0.8.14:5070 uac_tp=t1 uac_port=5070 ;;
    kamailio|kamailio-rtpengine)
      if [ "$tgt" = kamailio-rtpengine ]; then
        start_rtpengine || return 1
        start_kamailio WITH_RTPENGINE || return 1
        SUT_PIDS="$KAM_PID $RTPE_PID"
      else
        start_kamailio "" || return 1
        SUT_PIDS="$KAM_PID"
      fi
      sipp_uas carrier-uas "$here/uas-carrier-answer.xml" "$here/kamailio-uas-numbers.csv" 127.0.8.22 5060 u1 || return 1
      uac_sf=$SIPP_DIR/uac-call-expect-200.xml uac_csv=$here/carrier-uac-numbers.csv
      uac_addr=127.0.8.21 uac_remote=127.0.8.31:5060 uac_tp=u1 ;;
  esac
  sleep 1
  local calls=$((rate * duration))
  local limit=$((rate * (hold + 1000) / 1000 * 2 + 100))
  local pss0 cpu0 t0 t1 cpu1 pss1 peak=0 v
  pss0=$(pss_kib)
  cpu0=$(cpu_ticks)
  t0=$(date +%s.%N)
  rm -f "$OUT/$tag.uac.csv"
  timeout $((duration * 3 + hold / 1000 + 60)) sipp "$uac_remote" -sf "$uac_sf" -inf "$uac_csv" -i "$uac_addr" -p "$uac_port" \
    -t "$uac_tp" -r "$rate" -m "$calls" -l "$limit" -d "$hold" -max_socket 10000 -buff_size 4194304 \
    -timeout $((duration * 2 + hold / 1000 + 40))s -timeout_error -nostdin \
    -trace_stat -stf "$OUT/$tag.uac.csv" -fd 1 -trace_err -error_file "$OUT/$tag.uac.err" -max_log_size 5000000 \
    > "$OUT/$tag.uac.out" 2>&1 &
  local uac=$!
  PIDS+=($uac)
  # sample PSS while the UAC runs (bounded by the UAC's own timeouts)
  while kill -0 $uac 2>/dev/null; do
    v=$(pss_kib); [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.5
  done
  wait $uac; local rc=$?
  t1=$(date +%s.%N)
  sleep 1
  cpu1=$(cpu_ticks)
  pss1=$(pss_kib)
  # sbcd's own view, for leaks of calls
  local active=-
  if [ -n "$SBCD_PID" ]; then
    SBC_CONTROL_SOCKET=$OUT/sbc.sock "$SBCCTL" --json status > "$OUT/$tag.status.json" 2>/dev/null
    active=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['calls'].get('calls_active','-'))" \
             "$OUT/$tag.status.json" 2>/dev/null || echo -)
    # --settle S: PSS again once the 64*T1 (32 s) transaction lingering is over
    if [ "$settle" -gt 0 ]; then
      sleep "$settle"
      echo "$tag pss_idle=$pss0 pss_peak=$peak pss_after=$pss1 pss_after_${settle}s=$(pss_kib) KiB" >> "$OUT/settle.log"
      tail -n 1 "$OUT/settle.log" >&2
    fi
  fi
  python3 - "$OUT/$tag.uac.csv" "$tgt" "$rate" "$run" "$rc" "$t0" "$t1" "$cpu0" "$cpu1" "$TCK" "$pss0" "$peak" "$pss1" "$hold" "$active" \
      >> "$OUT/results.tsv" <<'PY'
import csv, sys
f, tgt, rate, run, rc, t0, t1, c0, c1, tck, p0, pk, p1, hold, active = sys.argv[1:]
rows = list(csv.reader(open(f), delimiter=';')) if f else []
hdr, last = rows[0], rows[-1]
col = lambda name: int(last[hdr.index(name)])
created, ok, failed = col('TotalCallCreated'), col('SuccessfulCall(C)'), col('FailedCall(C)')
maxcur = max(int(r[hdr.index('CurrentCall')]) for r in rows[1:])
lost = created - ok
elapsed = float(t1) - float(t0) - int(hold) / 1000.0
cpu_us = (int(c1) - int(c0)) * 1e6 / int(tck)
print('\t'.join(str(x) for x in (
    tgt, rate, run, rc, created, ok, lost, '%.3f' % (100.0 * lost / max(created, 1)),
    '%.0f' % (created / max(elapsed, 0.001)), '%.1f' % (cpu_us / max(ok, 1)),
    maxcur, int(p0), int(pk), int(p1), '%.2f' % ((int(pk) - int(p0)) / max(maxcur, 1)), active)))
PY
  tail -n 1 "$OUT/results.tsv" >&2
  cleanup
  sleep 1
}

echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu='$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')' targets='$targets' rates=$rates duration=${duration}s hold=${hold}ms runs=$runs" | tee -a "$OUT/results.tsv" >&2
echo -e "# target\trate\trun\tuac_rc\tcreated\tok\tfailed\tfailed%\tachieved_cps\tcpu_us_per_call\tmax_concurrent\tpss0_kib\tpss_peak_kib\tpss_after_kib\tkib_per_call\tsbcd_active_after" >> "$OUT/results.tsv"
mark=$(wc -l < "$OUT/results.tsv")
IFS=, read -r -a rate_list <<< "$rates"
for tgt in $targets; do
  for rate in "${rate_list[@]}"; do
    [ "$rate" -ge 1 ] && [ "$rate" -le 20000 ] || continue
    for run in $(seq "$runs"); do
      step "$tgt" "$rate" "$run" || { echo "step $tgt $rate failed to start" >&2; cleanup; }
    done
  done
done

# table of medians over runs
tail -n +"$((mark + 1))" "$OUT/results.tsv" | python3 -c '
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip() and not l.startswith("#")]
groups = {}
for r in rows: groups.setdefault((r[0], int(r[1])), []).append(r)
print("%-19s %6s %5s %8s %8s %9s %8s %11s %12s" % ("target", "rate", "runs", "calls", "failed%", "achieved", "maxconc", "cpu_us/call", "KiB/act.call"))
for (t, rate), rs in groups.items():
    med = lambda i: st.median(float(r[i]) for r in rs)
    print("%-19s %6d %5d %8d %8.3f %9.0f %8d %11.1f %12.2f" % (t, rate, len(rs), med(4), med(7), med(8), med(10), med(9), med(14)))
'
