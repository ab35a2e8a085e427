#!/usr/bin/env python3
"""A carrier-side UAC over UDP that exercises a whole dialog through the SBC:
INVITE with SDP, ACK, then in-dialog re-INVITE, UPDATE, INFO and OPTIONS, and
BYE. Prints one line per step; exits 0 only when every step got a 2xx."""
import random
import socket
import sys
import time

from sipwire import dialog_ids, parse, uac_args, udp_socket


class Dialog:
    def __init__(self, a):
        self.a = a
        self.s = udp_socket(a.ip, a.port)
        self.call_id, self.tag = dialog_ids("uac", "c", a.ip)
        self.cseq = 0
        self.remote_tag = ""
        self.target = "sip:%s@%s:%d" % (a.called, a.sbc_ip, a.sbc_port)
        self.route = []
        self.version = 1

    def sdp(self):
        self.version += 1
        return ("v=0\r\no=core 77 %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                "m=audio 7100 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                "a=sendrecv\r\n" % (self.version, self.a.ip, self.a.ip))

    def request(self, method, body="", ctype="application/sdp", cseq=None, branch=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK-%d" % random.randrange(1 << 40)
        to = "<sip:%s@%s>" % (self.a.called, self.a.sbc_ip) + (";tag=" + self.remote_tag if self.remote_tag else "")
        lines = ["%s %s SIP/2.0" % (method, self.target),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.a.ip, self.a.port, branch),
                 "Max-Forwards: 70",
                 "From: <sip:%s@%s>;tag=%s" % (self.a.calling, self.a.ip, self.tag),
                 "To: " + to, "Call-ID: " + self.call_id, "CSeq: %d %s" % (cseq, method),
                 "Contact: <sip:%s@%s:%d>" % (self.a.calling, self.a.ip, self.a.port)]
        lines += ["Route: " + r for r in self.route]
        if body:
            lines.append("Content-Type: " + ctype)
        lines.append("Content-Length: %d" % len(body))
        self.s.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), (self.a.sbc_ip, self.a.sbc_port))
        return cseq, branch

    def transaction(self, method, body="", ctype="application/sdp"):
        """Sends a request (retransmitting on UDP) and returns its final response."""
        cseq, branch = self.request(method, body, ctype)
        deadline = time.monotonic() + 8
        resend = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            self.s.settimeout(0.1)
            try:
                data, _ = self.s.recvfrom(65535)
            except socket.timeout:
                if time.monotonic() > resend and method != "ACK":
                    self.request(method, body, ctype, cseq=cseq, branch=branch)
                    resend = time.monotonic() + 1
                continue
            first, hdrs, rbody = parse(data)
            if not first.startswith("SIP/2.0"):
                self.answer_request(first, hdrs)
                continue
            if hdrs.get("cseq", [""])[0] != "%d %s" % (cseq, method):
                continue
            code = int(first.split()[1])
            if code >= 200:
                return code, hdrs, rbody
            resend = deadline   # provisional: stop retransmitting
        return 0, {}, ""

    def answer_request(self, first, hdrs):
        pass

    def ack(self):
        self.request("ACK", cseq=self.cseq)


def main():
    ap = uac_args()
    a = ap.parse_args()
    d = Dialog(a)
    ok = True

    def step(name, code, body=None, want_sdp=False):
        nonlocal ok
        good = 200 <= code < 300 and (not want_sdp or (body and "m=audio" in body))
        ok &= bool(good)
        print("%s %s: %d%s" % ("ok" if good else "FAIL", name, code, " with SDP" if body and "m=audio" in body else ""),
              flush=True)

    code, hdrs, body = d.transaction("INVITE", d.sdp())
    step("INVITE", code, body, want_sdp=True)
    if not 200 <= code < 300:
        return 1
    to = hdrs.get("to", [""])[0]
    d.remote_tag = to.split("tag=", 1)[1].split(";")[0] if "tag=" in to else ""
    contact = hdrs.get("contact", [""])[0]
    d.target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
    d.route = list(reversed(hdrs.get("record-route", [])))
    d.ack()
    time.sleep(0.3)
    code, _, body = d.transaction("INVITE", d.sdp())
    step("re-INVITE", code, body, want_sdp=True)
    d.ack()
    code, _, body = d.transaction("UPDATE", d.sdp())
    step("UPDATE", code, body, want_sdp=True)
    code, _, _ = d.transaction("INFO", "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay")
    step("INFO", code)
    code, _, _ = d.transaction("OPTIONS")
    step("in-dialog OPTIONS", code)
    code, _, _ = d.transaction("BYE")
    step("BYE", code)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
