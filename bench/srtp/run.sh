#!/bin/sh
# Build Release and run the SRTP benchmark: protect/unprotect packets/s on 1
# and 2 threads (172-byte RTP), srtp_create+destroy/s, stock (NSS) vs OpenSSL
# crypto types, median of 5 runs. Usage: bench/srtp/run.sh [--packets N] [--runs N]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBC_BENCH_BUILD:-$root/build-srtp-rel}
# Tests off: the benchmark needs only the libraries and bench/.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSBC_TESTS=OFF >/dev/null
ninja -C "$build" bench_srtp >/dev/null
echo "# $(uname -n), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# libsrtp2 $(dpkg-query -W -f='${Version}' libsrtp2-1 2>/dev/null || echo '?'), $(openssl version 2>/dev/null || echo OpenSSL ?)"
exec "$build/bench/srtp/bench_srtp" "$@"
