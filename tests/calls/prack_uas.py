#!/usr/bin/env python3
"""A carrier-side UAS over UDP that answers the SBC's INVITE with a reliable
183 (Require: 100rel, RSeq 77, SDP), retransmits it at T1 doubling as RFC 3262
asks until PRACKed, loses the first PRACK it gets, and then answers 200 and
completes the call (ACK, the SBC's BYE). Prints what the SBC's PRACKs looked
like; exits 0 only when every PRACK belonged to one transaction (the lost one
was retransmitted by the SBC's transaction, not replaced by a new PRACK for
the retransmitted 183) and the call completed."""
import argparse
import re
import socket
import sys
import time

from sipwire import SDP, response, split, udp_socket, value

def answer(req_lines, code, phrase, extra=(), body=""):
    return response(req_lines, code, phrase, "uas77", extra, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    s = udp_socket(a.ip, a.port)
    contact = "Contact: <sip:uas77@%s:%d>" % (a.ip, a.port)
    deadline = time.monotonic() + a.timeout
    invite = peer = None
    rel = None
    next_retx = interval = None
    pracks = []          # (time, branch, cseq, rack)
    acked = got_ack = False
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        wait = 0.05 if next_retx else max(0.05, deadline - time.monotonic())
        s.settimeout(wait)
        try:
            data, src = s.recvfrom(65535)
        except socket.timeout:
            if next_retx and time.monotonic() >= next_retx and not acked:
                s.sendto(rel, peer)
                interval *= 2
                next_retx = time.monotonic() + interval
            continue
        start, lines = split(data.decode(errors="replace"))
        method = start.split(" ", 1)[0]
        if method == "INVITE" and invite is None:
            invite, peer = lines, src
            sup = value(lines, "Supported")
            print("INVITE Supported: %s" % sup, flush=True)
            s.sendto(answer(lines, 100, "Trying"), peer)
            rel = answer(lines, 183, "Session Progress", (contact, "Require: 100rel", "RSeq: 77"), SDP)
            s.sendto(rel, peer)
            interval = 0.5
            next_retx = time.monotonic() + interval
        elif method == "PRACK":
            via = value(lines, "Via")
            branch = re.search(r"branch=([^;\s]+)", via).group(1)
            pracks.append((round(time.monotonic() - t0, 3), branch, value(lines, "CSeq"), value(lines, "RAck")))
            if len(pracks) == 1:
                print("dropped the first PRACK", flush=True)
                continue
            s.sendto(answer(lines, 200, "OK"), src)
            if not acked:
                acked = True
                next_retx = None
                s.sendto(answer(invite, 200, "OK", (contact,), SDP), peer)
        elif method == "ACK":
            got_ack = True
        elif method == "BYE":
            s.sendto(answer(lines, 200, "OK"), src)
            break
    for p in pracks:
        print("PRACK at=%.3f branch=%s cseq=%s rack=%s" % p, flush=True)
    ok = (acked and got_ack and len(pracks) >= 2 and len({p[1] for p in pracks}) == 1
          and len({p[2] for p in pracks}) == 1 and pracks[0][3] == "77 1 INVITE")
    print("%s: %d PRACK(s) in %d transaction(s), call %s" % (
        "ok" if ok else "FAIL", len(pracks), len({p[1] for p in pracks}),
        "completed" if got_ack else "incomplete"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
