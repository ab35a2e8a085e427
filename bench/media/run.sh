#!/bin/bash
# Media relay benchmark: sbc relay (3 paths), bare recvmmsg/sendmmsg
# forwarder, rtpengine (userspace, ng over UDP) at 100, 1,000 and 10,000
# streams of 50 packets/s, 160-byte payloads. Needs a Release build:
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-rel media_bench
#   bench/media/run.sh build-rel [STREAMS...]
# Loopback 127.0.5.0/24. 10,000 streams need ~40,000 sockets: with a 20,000
# descriptor limit the forwarders run as 4 processes (workers) of 2,500.
set -u
BUILD=${1:-build-rel}; shift || true
STREAMS=${*:-100 1000 10000}
BENCH=$BUILD/bench/media/media_bench
SECS=${SECS:-5}
[ -x "$BENCH" ] || { echo "build $BENCH first" >&2; exit 1; }

procs_for() { [ "$1" -ge 5000 ] && echo 4 || echo 1; }

start_rtpengine() {
  rm -f /tmp/rtpengine-bench.pid
  rtpengine --foreground --pidfile=/tmp/rtpengine-bench.pid --table=-1 --interface=127.0.5.3 --listen-ng=127.0.5.3:22230 \
    --port-min=10000 --port-max=59999 --num-threads=1 --log-level=3 --log-stderr \
    --delete-delay=0 --timeout=600 >/tmp/rtpengine-bench.log 2>&1 &
  sleep 1
  RTPE=$(cat /tmp/rtpengine-bench.pid 2>/dev/null)
  [ -n "$RTPE" ] && kill -0 $RTPE 2>/dev/null || { echo "rtpengine did not start:"; cat /tmp/rtpengine-bench.log; RTPE=; }
}

for n in $STREAMS; do
  p=$(procs_for $n)
  for path in rtp-rtp rtp-srtp srtp-rtp; do
    $BENCH --mode relay --path $path --streams $n --procs $p --seconds $SECS
  done
  $BENCH --mode bare --streams $n --procs $p --seconds $SECS
  if command -v rtpengine >/dev/null; then
    for path in rtp-rtp srtp-rtp; do
      start_rtpengine
      [ -n "$RTPE" ] && $BENCH --mode rtpengine --path $path --streams $n --ng 127.0.5.3:22230 \
        --rtpengine-pid $RTPE --seconds $SECS
      [ -n "$RTPE" ] && { kill $RTPE; while kill -0 $RTPE 2>/dev/null; do sleep 0.1; done; }
    done
  fi
done
