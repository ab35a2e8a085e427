#!/usr/bin/env python3
"""A carrier-side UAS over UDP that loses the first INVITE it receives, then
answers the retransmission and completes the call (ACK, BYE). Prints what
happened; exits 0 only when the whole call completed within the time limit."""
import argparse
import socket
import sys
import time

from sipwire import SDP, response, split, udp_socket


def answer(req_lines, code, phrase, to_tag=None, body=""):
    extra = ("Contact: <sip:uas@127.0.7.21:5060>",) if 200 <= code < 300 else ()
    return response(req_lines, code, phrase, to_tag, extra, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--drop-first", action="store_true")
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    s = udp_socket(a.ip, a.port)
    deadline = time.monotonic() + a.timeout
    first_at = None
    answered = got_ack = False
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        start, lines = split(data.decode(errors="replace"))
        method = start.split(" ", 1)[0]
        if method == "INVITE":
            if a.drop_first and first_at is None:
                first_at = time.monotonic()
                print("dropped INVITE", flush=True)
                continue
            if not answered:
                gap = int((time.monotonic() - first_at) * 1000) if first_at else 0
                print("answered retransmission after %d ms" % gap, flush=True)
            answered = True
            s.sendto(answer(lines, 180, "Ringing", "lossy1"), peer)
            s.sendto(answer(lines, 200, "OK", "lossy1", SDP), peer)
        elif method == "ACK":
            got_ack = True
        elif method == "BYE":
            s.sendto(answer(lines, 200, "OK"), peer)
            print("call completed (ack=%s)" % got_ack, flush=True)
            return 0 if got_ack else 1
        elif method in ("OPTIONS", "CANCEL"):
            s.sendto(answer(lines, 200, "OK"), peer)
    print("incomplete: answered=%s ack=%s" % (answered, got_ack), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
