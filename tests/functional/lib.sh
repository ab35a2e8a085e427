# Helpers for functional tests: start/stop sbcd, assertions with context.
# Every helper fails the test with a message naming what was expected.

fail() { echo "FAIL: $*" >&2; [ -n "${SBCD_LOG:-}" ] && [ -f "$SBCD_LOG" ] && { echo "--- sbcd log" >&2; tail -n 40 "$SBCD_LOG" >&2; }; exit 1; }
pass() { echo "ok: $*"; }

# assert_contains TEXT NEEDLE WHAT
assert_contains() { case "$1" in *"$2"*) pass "$3";; *) fail "$3: expected '$2' in: $1";; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "$3: did not expect '$2' in: $1";; *) pass "$3";; esac; }
assert_eq() { [ "$1" = "$2" ] && pass "$3" || fail "$3: expected '$2', got '$1'"; }

# wait_for CMD... : retries for up to 5 s
wait_for() {
  for _ in $(seq 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# start_sbcd CONFIG LOG: sets SBCD_PID, waits for the control socket
start_sbcd() {
  SBCD_LOG=$2
  "$SBCD" -c "$1" 2> "$SBCD_LOG" &
  SBCD_PID=$!
  wait_for "$SBCCTL" status || fail "sbcd did not come up"
}

# stop_sbcd: SIGTERM, expects a clean exit (status 0; the sanitizer build
# turns leaks into a non-zero status) within 10 s
stop_sbcd() {
  kill -TERM "$SBCD_PID"
  for _ in $(seq 100); do kill -0 "$SBCD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SBCD_PID" 2>/dev/null && { kill -KILL "$SBCD_PID"; fail "sbcd ignored SIGTERM"; }
  local rc=0
  wait "$SBCD_PID" || rc=$?
  [ "$rc" = 0 ] || fail "sbcd exited with status $rc"
  pass "sbcd stopped cleanly on SIGTERM"
}
