#!/usr/bin/env python3
"""A carrier-side UAC over UDP whose INVITE requires 100rel (RFC 3262): checks
the SBC's reliable 18x (Require: 100rel, RSeq in 1..2^31-1, +1 each), PRACKs
them (optionally late, or never), and checks what the SBC answers. Prints one
line per event; exits 0 only when every check held.

  --prack-delay S     PRACK an 18x that carries SDP only S seconds after it
                      arrived (its retransmissions are timed meanwhile)
  --no-prack          never PRACK: the SBC must give up after 64*T1 with 5xx
  --bad-pracks        before the good PRACK of the first 18x, one naming an
                      unknown RSeq (expects 481) and one carrying SDP (488)
  --no-prack-sdp      PRACK only the 18x without SDP: one with SDP stays
                      unacknowledged (a 2xx behind it is held)
  --cancel-after S    CANCEL the INVITE S seconds after sending it if it has
                      no final response yet (expects 200 for the CANCEL)
  --supported-only    Supported: 100rel without Require: the 18x must come
                      unreliable (no Require: 100rel, no RSeq) and are not PRACKed
"""
import random
import socket
import sys
import time

from sipwire import dialog_ids, parse, uac_args, udp_socket


def h1(hdrs, name):
    return hdrs.get(name, [""])[0]


class Uac:
    def __init__(self, a):
        self.a = a
        self.s = udp_socket(a.ip, a.port)
        self.call_id, self.tag = dialog_ids("prack", "p", a.ip)
        self.cseq = 1
        self.ok = True
        self.t0 = time.monotonic()
        self.seen = {}        # rseq -> [arrival times]
        self.order = []       # rseqs in order of first arrival
        self.final = None
        self.final_at = None
        self.invite_branch = "z9hG4bK-inv%d" % random.randrange(1 << 40)
        self.remote_tag = ""
        self.target = "sip:%s@%s:%d" % (a.called, a.sbc_ip, a.sbc_port)
        self.route = []
        self.early_hdrs = None

    def now(self):
        return time.monotonic() - self.t0

    def check(self, good, what):
        self.ok &= bool(good)
        print("%s %s" % ("ok" if good else "FAIL", what), flush=True)

    def send(self, text):
        self.s.sendto(text.encode(), (self.a.sbc_ip, self.a.sbc_port))

    def invite(self):
        a = self.a
        sdp = ("v=0\r\no=core 77 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
               "m=audio 7100 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
               "a=sendrecv\r\n" % (a.ip, a.ip))
        self.invite_text = (
            "INVITE sip:%s@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:%s@%s:%d>\r\n%sSupported: timer, 100rel\r\n"
            "Allow: INVITE, ACK, CANCEL, BYE, PRACK, OPTIONS\r\n"
            "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (
                a.called, a.sbc_ip, a.sbc_port, a.ip, a.port, self.invite_branch, a.calling, a.ip, self.tag,
                a.called, a.sbc_ip, self.call_id, a.calling, a.ip, a.port,
                "" if a.supported_only else "Require: 100rel\r\n", len(sdp), sdp))
        self.send(self.invite_text)

    def request(self, method, extra="", body=""):
        self.cseq += 1
        branch = "z9hG4bK-%d" % random.randrange(1 << 40)
        to = "<sip:%s@%s>;tag=%s" % (self.a.called, self.a.sbc_ip, self.remote_tag)
        lines = ["%s %s SIP/2.0" % (method, self.target),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.a.ip, self.a.port, branch),
                 "Max-Forwards: 70", "From: <sip:%s@%s>;tag=%s" % (self.a.calling, self.a.ip, self.tag),
                 "To: " + to, "Call-ID: " + self.call_id, "CSeq: %d %s" % (self.cseq, method)]
        lines += ["Route: " + r for r in self.route]
        lines += [l for l in extra.split("\r\n") if l]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        self.send(text)
        return self.cseq, text

    def ack(self, to):
        head = self.invite_text.split("\r\n\r\n")[0].split("\r\n")
        out = ["ACK " + head[0].split(" ")[1] + " SIP/2.0"]
        for l in head[1:]:
            k = l.split(":")[0].lower()
            if k in ("via", "from", "call-id", "max-forwards"):
                out.append(l)
        out += ["To: " + to, "CSeq: 1 ACK", "Content-Length: 0"]
        self.send("\r\n".join(out) + "\r\n\r\n")

    def on_message(self, data):
        first, hdrs, body = parse(data)
        if not first.startswith("SIP/2.0"):
            if first.startswith("BYE"):
                resp = ["SIP/2.0 200 OK"] + ["Via: " + v for v in hdrs.get("via", [])]
                resp += ["From: " + h1(hdrs, "from"), "To: " + h1(hdrs, "to"), "Call-ID: " + h1(hdrs, "call-id"),
                         "CSeq: " + h1(hdrs, "cseq"), "Content-Length: 0"]
                self.send("\r\n".join(resp) + "\r\n\r\n")
                self.bye = True
            return None
        code = int(first.split()[1])
        cseq = h1(hdrs, "cseq")
        if cseq != "1 INVITE":
            return (code, hdrs, body)
        if code == 100:
            return None
        if code < 200 and self.a.supported_only:
            req = [t.strip().lower() for v in hdrs.get("require", []) for t in v.split(",")]
            self.unreliable.append(code)
            self.check("100rel" not in req and "rseq" not in hdrs,
                       "%d unreliable (Require: %s, RSeq: %s)" % (code, h1(hdrs, "require") or "none",
                                                                   h1(hdrs, "rseq") or "none"))
            print("18x %d unreliable sdp=%d at=%.3f" % (code, "m=audio" in body, self.now()), flush=True)
            return None
        if code < 200:
            rseq = int(h1(hdrs, "rseq") or "0")
            if rseq in self.seen:
                self.seen[rseq].append(self.now())
                return None
            self.seen[rseq] = [self.now()]
            self.order.append(rseq)
            req = [t.strip().lower() for v in hdrs.get("require", []) for t in v.split(",")]
            self.check("100rel" in req, "%d carries Require: 100rel" % code)
            if len(self.order) == 1:
                self.check(1 <= rseq <= 2**31 - 1, "first RSeq %d within 1..2^31-1" % rseq)
            else:
                self.check(rseq == self.order[-2] + 1, "RSeq %d follows %d" % (rseq, self.order[-2]))
            sdp = "m=audio" in body
            print("18x %d rseq=%d sdp=%d at=%.3f" % (code, rseq, sdp, self.now()), flush=True)
            self.pending.append((code, rseq, sdp, self.now(), hdrs))
            return None
        if self.final is None:
            self.final, self.final_at = code, self.now()
            self.final_hdrs, self.final_body = hdrs, body
            print("final %d at=%.3f" % (code, self.now()), flush=True)
        if code >= 300:
            self.ack(h1(hdrs, "to"))
        return None

    def pump(self, until, want_cseq=None):
        """Processes messages until `until` (monotonic) or the response to want_cseq."""
        while time.monotonic() < until:
            self.s.settimeout(max(0.01, min(0.1, until - time.monotonic())))
            try:
                data, _ = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            r = self.on_message(data)
            if r and want_cseq and h1(r[1], "cseq") == want_cseq and r[0] >= 200:
                return r
        return None

    def cancel(self):
        """CANCEL of our INVITE (same Request-URI, Via branch, From, To, Call-ID)."""
        head = self.invite_text.split("\r\n\r\n")[0].split("\r\n")
        out = ["CANCEL " + head[0].split(" ")[1] + " SIP/2.0"]
        out += [l for l in head[1:] if l.split(":")[0].lower() in ("via", "from", "to", "call-id", "max-forwards")]
        out += ["CSeq: 1 CANCEL", "Content-Length: 0"]
        self.send("\r\n".join(out) + "\r\n\r\n")
        print("CANCEL at=%.3f" % self.now(), flush=True)
        r = self.pump(time.monotonic() + 5, "1 CANCEL")
        return r[0] if r else 0

    def prack(self, rseq, rack_rseq=None, body=""):
        cseq, _ = self.request("PRACK", "RAck: %d 1 INVITE" % (rack_rseq or rseq), body)
        r = self.pump(time.monotonic() + 5, "%d PRACK" % cseq)
        return r[0] if r else 0


def main():
    ap = uac_args()
    ap.add_argument("--prack-delay", type=float, default=0.0)
    ap.add_argument("--no-prack", action="store_true")
    ap.add_argument("--bad-pracks", action="store_true")
    ap.add_argument("--no-prack-sdp", action="store_true")
    ap.add_argument("--cancel-after", type=float)
    ap.add_argument("--supported-only", action="store_true")
    ap.add_argument("--expect", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    u = Uac(a)
    u.pending = []
    u.unreliable = []
    u.bye = False
    u.invite()
    deadline = time.monotonic() + a.timeout
    pracked = []
    first = True
    cancel_at = time.monotonic() + a.cancel_after if a.cancel_after is not None else None
    while time.monotonic() < deadline and u.final is None:
        u.pump(time.monotonic() + 0.05)
        if cancel_at and time.monotonic() >= cancel_at and u.final is None:
            cancel_at = None
            st = u.cancel()
            u.check(st == 200, "CANCEL answered %d" % st)
        while u.pending and not a.no_prack:
            code, rseq, sdp, at, hdrs = u.pending.pop(0)
            if sdp and a.no_prack_sdp:
                print("not PRACKing RSeq %d (with SDP)" % rseq, flush=True)
                continue
            u.remote_tag = h1(hdrs, "to").split("tag=", 1)[1].split(";")[0]
            contact = h1(hdrs, "contact")
            u.target = contact[contact.find("<") + 1:contact.find(">")]
            u.route = list(reversed(hdrs.get("record-route", [])))
            if sdp and a.prack_delay:
                u.pump(time.monotonic() + max(0, at + a.prack_delay - u.now()))
            if first and a.bad_pracks:
                u.check(u.prack(rseq, rack_rseq=rseq + 7777) == 481, "PRACK naming an unknown RSeq: 481")
                st = u.prack(rseq, body="v=0\r\no=core 77 2 IN IP4 %s\r\ns=-\r\nt=0 0\r\n" % a.ip)
                u.check(st == 488, "PRACK with SDP: 488 (got %d)" % st)
            first = False
            sent = u.now()
            st = u.prack(rseq)
            u.check(st == 200, "PRACK for RSeq %d: %d" % (rseq, st))
            pracked.append((rseq, sent))
    if u.final is None:
        u.pump(deadline)
    if not (u.final and 200 <= u.final < 300):
        u.pump(time.monotonic() + 0.6)   # late retransmissions, counted below
    u.check(u.final == a.expect, "INVITE answered %s, expected %d" % (u.final, a.expect))
    if a.supported_only:
        u.check(u.unreliable and not pracked, "%d unreliable 18x, no PRACK sent" % len(u.unreliable))
    for rseq in u.order:
        times = u.seen[rseq]
        gaps = [round((b - x) * 1000) for x, b in zip(times, times[1:])]
        print("rseq %d sent %d time(s), gaps_ms=%s" % (rseq, len(times), gaps), flush=True)
        print("rseq %d last at=%.3f" % (rseq, times[-1]), flush=True)
    if u.final and 200 <= u.final < 300:
        if pracked:
            print("final after last PRACK by %.3f s" % (u.final_at - pracked[-1][1]), flush=True)
        # ACK the 2xx, then wait for the far end's BYE
        contact = h1(u.final_hdrs, "contact")
        u.target = contact[contact.find("<") + 1:contact.find(">")]
        u.route = list(reversed(u.final_hdrs.get("record-route", [])))
        u.remote_tag = h1(u.final_hdrs, "to").split("tag=", 1)[1].split(";")[0]
        to = "<sip:%s@%s>;tag=%s" % (a.called, a.sbc_ip, u.remote_tag)
        ack = ("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-ack%d;rport\r\nMax-Forwards: 70\r\n"
               "From: <sip:%s@%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n" % (
                   u.target, a.ip, a.port, random.randrange(1 << 40), a.calling, a.ip, u.tag, to, u.call_id))
        u.send(ack)
        end = time.monotonic() + 10
        while time.monotonic() < end and not u.bye:
            u.pump(time.monotonic() + 0.1)
        u.check(u.bye, "the call was hung up by the far end (BYE answered)")
    return 0 if u.ok else 1


if __name__ == "__main__":
    sys.exit(main())
