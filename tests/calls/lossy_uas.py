#!/usr/bin/env python3
"""A carrier-side UAS over UDP that loses the first INVITE it receives, then
answers the retransmission and completes the call (ACK, BYE). Prints what
happened; exits 0 only when the whole call completed within the time limit."""
import argparse
import socket
import sys
import time


def headers(msg):
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
    return head[0], head[1:]


def hdr(lines, name):
    return [l for l in lines if l.lower().startswith(name.lower() + ":")]


def response(req_lines, code, phrase, to_tag=None, body=""):
    out = ["SIP/2.0 %d %s" % (code, phrase)]
    out += hdr(req_lines, "Via")
    out += hdr(req_lines, "From")
    to = hdr(req_lines, "To")[0]
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    out.append(to)
    out += hdr(req_lines, "Call-ID") + hdr(req_lines, "CSeq")
    if code >= 200 and code < 300:
        out.append("Contact: <sip:uas@127.0.7.21:5060>")
    if body:
        out.append("Content-Type: application/sdp")
    out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


SDP = ("v=0\r\no=core 1 1 IN IP4 127.0.7.21\r\ns=-\r\nc=IN IP4 127.0.7.21\r\nt=0 0\r\n"
       "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--drop-first", action="store_true")
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.ip, a.port))
    deadline = time.monotonic() + a.timeout
    first_at = None
    answered = got_ack = False
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        start, lines = headers(data.decode(errors="replace"))
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
            s.sendto(response(lines, 180, "Ringing", "lossy1"), peer)
            s.sendto(response(lines, 200, "OK", "lossy1", SDP), peer)
        elif method == "ACK":
            got_ack = True
        elif method == "BYE":
            s.sendto(response(lines, 200, "OK"), peer)
            print("call completed (ack=%s)" % got_ack, flush=True)
            return 0 if got_ack else 1
        elif method in ("OPTIONS", "CANCEL"):
            s.sendto(response(lines, 200, "OK"), peer)
    print("incomplete: answered=%s ack=%s" % (answered, got_ack), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
