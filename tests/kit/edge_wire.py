#!/usr/bin/env python3
"""Wire-level checks of teams_edge and sipmsg with a raw TLS client:
RFC 5626 keep-alives, compact header forms, messages split across writes and
several messages in one write, multi-value header lines, and a client without
a certificate being refused. Starts with pure parser checks.

Usage: edge_wire.py CERTDIR OUTDIR IP
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

KIT = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(KIT, "..", "tools")
sys.dont_write_bytecode = True      # keep the source tree free of __pycache__
sys.path.insert(0, TOOLS)
from sipmsg import Message, StreamFramer, load_records, select, split_values  # noqa: E402

FAILED = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILED.append(what)


def parser_checks():
    raw = (b"INVITE sip:+1@h SIP/2.0\r\nv: SIP/2.0/TLS a:1;branch=z9hG4bK1, SIP/2.0/TLS b:2;branch=z9hG4bK2\r\n"
           b"f: \"Doe, J\" <sip:+2@h>;tag=1\r\nt: <sip:+1@h>\r\ni: abc\r\nCSeq: 1 INVITE\r\n"
           b"m: <sip:x@h;transport=tls>\r\nc: application/sdp\r\nl: 9\r\n\r\n\r\n\r\nv=0\r\n")
    fr = StreamFramer()
    events = []
    for i in range(0, len(raw), 5):              # arrives in 5-byte pieces
        events += fr.feed(raw[i:i + 5])
    msgs = [m for k, m, _ in events if k == "msg"]
    check(len(msgs) == 1 and fr.buf == b"", "framer: one message from 5-byte pieces, nothing left over")
    m = msgs[0]
    check(m.body == "\r\n\r\nv=0\r\n", "framer: body taken by Content-Length even when it holds CRLFCRLF")
    check(m.call_id == "abc" and m.get("Content-Type") == "application/sdp", "parser: compact forms i, c")
    check(len(m.get_all("Via")) == 2 and m.branch == "z9hG4bK1", "parser: two Vias on one line, top branch")
    check(m.get("From").startswith('"Doe, J"') and m.from_tag == "1", "parser: quoted comma kept in From")
    check(split_values('<sip:a;x=1,2>, "b,c" <sip:b>') == ['<sip:a;x=1,2>', '"b,c" <sip:b>'],
          "split_values: commas inside <> and quotes")
    evs = StreamFramer().feed(b"\r\n\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    check([e[0] for e in evs] == ["ping", "pong", "msg"], "framer: ping, pong, then a message")
    check(StreamFramer().feed(b"GARBAGE\r\n\r\n")[0][0] == "error", "framer: garbage is a framing error")
    again = Message.parse(m.encode())
    check(again.get("Content-Length") == "9" and again.header_dict()["Via"] == m.header_dict()["Via"],
          "encode/parse round trip")


def client_ctx(certs, with_cert=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(os.path.join(certs, "sbc.pem"), os.path.join(certs, "sbc.key"))
    return ctx


class Client:
    def __init__(self, ctx, ip, sni):
        raw = socket.create_connection((ip, 5061), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni)
        self.framer = StreamFramer()
        self.pending = []

    def send(self, data, piece=None):
        if piece is None:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), piece):
            self.sock.sendall(data[i:i + piece])
            time.sleep(0.01)

    def read_raw(self, n):
        return self.sock.recv(n)

    def next_msg(self):
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending += [m for k, m, _ in self.framer.feed(data) if k == "msg"]
        return self.pending.pop(0)


OPTIONS = ("OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
           "v: SIP/2.0/TLS acme.sbc.lab.example:5061;branch=z9hG4bK-o{n}, SIP/2.0/TLS 10.0.0.9:5061;branch=z9hG4bK-x{n}\r\n"
           "Max-Forwards: 70\r\nf: <sip:acme.sbc.lab.example:5061>;tag=o{n}\r\n"
           "t: <sip:sip.pstnhub.microsoft.com:5061>\r\ni: opt-{n}@acme\r\nCSeq: {n} OPTIONS\r\n"
           "m: <sip:acme.sbc.lab.example:5061;transport=tls>\r\nl: 0\r\n\r\n")

SDP = ("v=0\r\no=- 1 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/SAVP 0 101\r\n"
       "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n"
       "a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")

INVITE = ("INVITE sip:+15551234567@sip.pstnhub.microsoft.com:5061;user=phone;transport=tls SIP/2.0\r\n"
          "v: SIP/2.0/TLS acme.sbc.lab.example:5061;branch=z9hG4bK-inv1\r\nMax-Forwards: 70\r\n"
          "f: <sip:+15559876543@acme.sbc.lab.example;user=phone>;tag=inv1\r\n"
          "t: <sip:+15551234567@sip.pstnhub.microsoft.com;user=phone>\r\ni: inv-1@acme\r\n"
          "CSeq: 1 INVITE\r\nm: <sip:+15559876543@acme.sbc.lab.example:5061;transport=tls>\r\n"
          "c: application/sdp\r\nl: %d\r\n\r\n%s" % (len(SDP), SDP))


def main():
    certs, out, ip = sys.argv[1:4]
    out = os.path.join(out, "wire")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    parser_checks()
    rec, ready = os.path.join(out, "edge.jsonl"), os.path.join(out, "edge.ready")
    edge = subprocess.Popen([sys.executable, os.path.join(TOOLS, "teams_edge.py"), "--certs", certs,
                             "--proxy", "%s:5061:sip.pstnhub.microsoft.com" % ip, "--mode", "busy",
                             "--expect-calls", "1", "--duration", "15", "--record", rec,
                             "--ready-file", ready],
                            stdout=open(os.path.join(out, "edge.out"), "w"),
                            stderr=open(os.path.join(out, "edge.err"), "w"))
    for _ in range(100):
        if os.path.exists(ready) or edge.poll() is not None:
            break
        time.sleep(0.1)
    try:
        talk(certs, ip)
    except (OSError, ssl.SSLError) as exc:
        check(False, "TLS dialogue with the edge: %r" % exc)
    rc = edge.wait(timeout=40)
    check(rc == 0, "edge exit status 0 (got %s)" % rc)
    recs = load_records(rec)
    check(any(r.get("kind") == "ping" for r in select(recs, event="keepalive")), "edge recorded the ping")
    check(any(r.get("kind") == "pong" for r in select(recs, event="keepalive")), "edge recorded the lone CRLF")
    check(len(select(recs, event="tls_error")) == 1, "edge recorded the refused client (no certificate)")
    inv = select(recs, method="INVITE", dir="in")
    check(len(inv) == 1 and inv[0]["headers"].get("Call-ID") == ["inv-1@acme"],
          "record keeps headers under their full names")
    opts = select(recs, method="OPTIONS", dir="in")
    check(len(opts) == 2 and len(opts[0]["headers"]["Via"]) == 2, "record splits a two-Via line")
    check(all(r["sni"] == "sip.pstnhub.microsoft.com" for r in opts + inv), "records carry the SNI the client sent")
    if FAILED:
        for name in ("edge.out", "edge.err"):
            print("--- " + name + "\n" + open(os.path.join(out, name)).read()[-3000:])
        print("FAIL edge_wire: %d check(s)" % len(FAILED))
        return 1
    print("PASS edge_wire")
    return 0


def talk(certs, ip):
    # A client without a certificate must be refused during the handshake.
    try:
        c = Client(client_ctx(certs, with_cert=False), ip, "acme.sbc.lab.example")
        c.send(b"\r\n\r\n")
        refused = c.read_raw(10) == b""
    except (OSError, ssl.SSLError):
        refused = True
    check(refused, "client without a certificate refused")

    c = Client(client_ctx(certs), ip, "sip.pstnhub.microsoft.com")
    c.send(b"\r\n\r\n")
    check(c.read_raw(10) == b"\r\n", "double-CRLF ping answered with a CRLF pong")
    c.send(b"\r\n")                                   # a lone CRLF: ignored
    c.send(OPTIONS.format(n=1).encode(), piece=7)     # dribbled in 7-byte pieces
    r = c.next_msg()
    check(r.status == 200 and r.cseq == (1, "OPTIONS"), "OPTIONS in compact form answered 200")
    check(len(r.get_all("Via")) == 2 and r.branch == "z9hG4bK-o1", "response echoes both Vias in order")
    check(bool(r.to_tag) and "INVITE" in (r.get("Allow") or ""), "OPTIONS 200 has a To-tag and Allow")
    # Two messages in one write.
    c.send((OPTIONS.format(n=2) + INVITE).encode())
    got = [c.next_msg() for _ in range(3)]
    check([(m.status, m.cseq[1]) for m in got] == [(200, "OPTIONS"), (100, "INVITE"), (486, "INVITE")],
          "pipelined OPTIONS + INVITE: 200, 100, 486")
    busy = got[2]
    check(busy.get("Contact", "").startswith("<sip:%s:5061;transport=tls" % ip), "486 carries Contact")
    ack = ("ACK sip:+15551234567@sip.pstnhub.microsoft.com:5061;user=phone;transport=tls SIP/2.0\r\n"
           "Via: SIP/2.0/TLS acme.sbc.lab.example:5061;branch=z9hG4bK-inv1\r\nMax-Forwards: 70\r\n"
           "From: <sip:+15559876543@acme.sbc.lab.example;user=phone>;tag=inv1\r\n"
           "To: %s\r\nCall-ID: inv-1@acme\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n" % busy.get("To"))
    c.send(ack.encode())
    time.sleep(0.2)
    c.sock.close()


if __name__ == "__main__":
    sys.exit(main())
