#!/bin/bash
# Media relay benchmark: sbc relay (3 paths; rtp-rtp also with direct
# sendmmsg instead of io_uring batches), bare recvmmsg/sendmmsg forwarder (and
# its io_uring variant), rtpengine (userspace, ng over UDP) at 100, 1,000 and
# 10,000 streams, 160-byte payloads. Needs a Release build:
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-rel media_bench
#   flock /tmp/sbc-bench.lock bench/media/run.sh build-rel [STREAMS...]
# Loopback 127.0.5.0/24. RUNS=n repeats each line (take medians), SECS=s.
#
# 10,000 streams: ~40,000 sockets, so the forwarders run as 4 processes of
# 2,500 streams (20,000-descriptor hard limit per process). The generator
# cannot offer 10,000 x 50 = 500,000 pkt/s on this 2-core box (it reaches
# ~170,000 and falls seconds behind), so those streams run at RATE_10K=5
# pkt/s: 50,000 pkt/s in all, as 1,000 x 50, with 10x the sockets and state.
# rtpengine is one process needing 4 descriptors a stream: not run there.
set -u
BUILD=${1:-build-rel}; shift || true
STREAMS=${*:-100 1000 10000}
BENCH=$BUILD/bench/media/media_bench
SECS=${SECS:-5}
RUNS=${RUNS:-1}
RATE_10K=${RATE_10K:-5}
[ -x "$BENCH" ] || { echo "build $BENCH first" >&2; exit 1; }

procs_for() { [ "$1" -ge 5000 ] && echo 4 || echo 1; }
rate_for() { [ "$1" -ge 5000 ] && echo "$RATE_10K" || echo 50; }

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
  p=$(procs_for $n); r=$(rate_for $n)
  for run in $(seq $RUNS); do
    for path in rtp-rtp rtp-srtp srtp-rtp; do
      $BENCH --mode relay --path $path --streams $n --procs $p --rate $r --seconds $SECS
    done
    echo -n "epoll "
    SBC_RELAY_URING=0 $BENCH --mode relay --path rtp-rtp --streams $n --procs $p --rate $r --seconds $SECS
    $BENCH --mode bare --streams $n --procs $p --rate $r --seconds $SECS
    $BENCH --mode bare-uring --streams $n --procs $p --rate $r --seconds $SECS
    if command -v rtpengine >/dev/null && [ "$p" = 1 ]; then
      for path in rtp-rtp srtp-rtp; do
        start_rtpengine
        [ -n "$RTPE" ] && $BENCH --mode rtpengine --path $path --streams $n --rate $r --ng 127.0.5.3:22230 \
          --rtpengine-pid $RTPE --seconds $SECS
        [ -n "$RTPE" ] && { kill $RTPE; while kill -0 $RTPE 2>/dev/null; do sleep 0.1; done; }
      done
    fi
  done
done
