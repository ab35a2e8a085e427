#!/usr/bin/env python3
"""A carrier-side UAS over UDP that answers the SBC's INVITE 200 with SDP,
never answers the BYE that follows, and then sends RTP to the SBC's media
port named in the INVITE's SDP. Prints how many BYE (retransmissions) it got
and how many packets it sent; exits 0 once it sent them after a BYE."""
import argparse
import re
import socket
import sys
import time

from sipwire import SDP, response, split, udp_socket


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--packets", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    s = udp_socket(a.ip, a.port)
    rtp = udp_socket(a.ip, 7000)
    contact = "Contact: <sip:mute@%s:%d>" % (a.ip, a.port)
    media = None
    byes = 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, src = s.recvfrom(65535)
        except socket.timeout:
            break
        text = data.decode(errors="replace")
        start, lines = split(text)
        method = start.split(" ", 1)[0]
        if method == "INVITE":
            body = text.split("\r\n\r\n", 1)[1]
            c = re.search(r"c=IN IP4 (\S+)", body)
            m = re.search(r"m=audio (\d+)", body)
            media = (c.group(1), int(m.group(1)))
            s.sendto(response(lines, 200, "OK", "mute1", [contact], SDP), src)
        elif method == "BYE":
            byes += 1
            if byes == 1:
                time.sleep(0.3)   # the SBC has released the call's media by now
                hdr = bytes([0x80, 0]) + b"\x00\x01" + b"\x00\x00\x00\xa0" + b"\x12\x34\x56\x78"
                for i in range(a.packets):
                    rtp.sendto(hdr + bytes(160), media)
                    time.sleep(0.02)
                print("sent %d RTP packets to %s:%d after the BYE" % (a.packets, media[0], media[1]))
                sys.stdout.flush()
                deadline = time.monotonic() + 1.5
    print("got %d BYE, answered none" % byes)
    return 0 if byes >= 1 and media else 1


if __name__ == "__main__":
    sys.exit(main())
