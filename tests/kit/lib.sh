# Shared helpers for the test-kit self-tests (sourced by the scripts here).
# Every assertion names what was expected; the first failure ends the test.

KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$KIT_DIR/../tools
SIPP_DIR=$KIT_DIR/../sipp
EDGE="python3 $TOOLS/teams_edge.py"
QUERY="python3 $TOOLS/sipmsg.py query"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
assert_eq() { [ "$1" = "$2" ] && pass "$3" || fail "$3: expected '$2', got '$1'"; }
assert_contains() { case "$1" in *"$2"*) pass "$3";; *) fail "$3: expected '$2' in: $1";; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "$3: did not expect '$2' in: $1";; *) pass "$3";; esac; }

# fresh_dir DIR: an empty per-test output directory
fresh_dir() { rm -rf "$1"; mkdir -p "$1"; }

# wait_file FILE: until the file exists (teams_edge --ready-file; 5 s at most)
wait_file() {
  for _ in $(seq 50); do [ -e "$1" ] && return 0; sleep 0.1; done
  fail "$1 did not appear"
}

# wait_udp IP PORT: until a UDP socket is bound there (SIPp UAS; 5 s at most).
# Reads /proc/net/udp so that nothing but python3 is needed.
wait_udp() {
  python3 - "$1" "$2" <<'PY' || fail "nothing bound to udp $1:$2"
import socket, struct, sys, time
want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(sys.argv[1]))[0], int(sys.argv[2]))
for _ in range(50):
    with open("/proc/net/udp") as fh:
        if any(line.split()[1] == want for line in fh.readlines()[1:]):
            sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
}

# wait_status PID: sets STATUS to the exit status of a background job (which
# is bounded by its own timeout). Not for $(...): wait only sees our children.
wait_status() { STATUS=0; wait "$1" || STATUS=$?; }

# dump FILE...: show files on failure
dump() { for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 60 "$f" >&2; }; done; }
