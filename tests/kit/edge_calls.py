#!/usr/bin/env python3
"""teams_edge against itself: one edge plays the SBC (a proxy listener with
the SBC's certificate), the other plays Teams and originates calls. Proves
TLS mutual authentication, SNI recording, stream framing, the per-mode call
flows, BYE on a connection the sender opened, the exit status and the
record/query path (library and command line).

Usage: edge_calls.py CASE CERTDIR OUTDIR SBC_IP TEAMS_IP
  CASE: answer | caller-bye | busy | unavailable | noanswer | negative | badname |
        record-route | options
"""

import os
import shutil
import subprocess
import sys
import time

KIT = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(KIT, "..", "tools")
sys.dont_write_bytecode = True      # keep the source tree free of __pycache__
sys.path.insert(0, TOOLS)
from sipmsg import load_records, select, values  # noqa: E402

EDGE = [sys.executable, os.path.join(TOOLS, "teams_edge.py")]
TEAMS_NAME = "api-du-b.pstnhub.microsoft.com"


class Test:
    def __init__(self, case, certs, out, sbc_ip, teams_ip):
        self.case, self.certs, self.sbc_ip, self.teams_ip = case, certs, sbc_ip, teams_ip
        self.out = os.path.join(out, case)
        shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(self.out)
        self.sbc_rec = os.path.join(self.out, "sbc.jsonl")
        self.teams_rec = os.path.join(self.out, "teams.jsonl")
        self.failed = False

    # --- processes -------------------------------------------------------
    def start_sbc(self, mode, *extra):
        """The "SBC": answers as MODE says; its Contact is the tenant FQDN and
        it reaches Teams' Contact host through --resolve."""
        ready = os.path.join(self.out, "sbc.ready")
        cmd = EDGE + ["--certs", self.certs, "--cert", os.path.join(self.certs, "sbc.pem"),
                      "--key", os.path.join(self.certs, "sbc.key"),
                      "--proxy", "%s:5061:sbc" % self.sbc_ip, "--mode", mode,
                      "--contact", "acme.sbc.lab.example:5061",
                      "--resolve", "*.pstnhub.microsoft.com=%s" % self.teams_ip,
                      "--record", self.sbc_rec, "--ready-file", ready] + list(extra)
        self.sbc = subprocess.Popen(cmd, stdout=open(os.path.join(self.out, "sbc.out"), "w"),
                                    stderr=open(os.path.join(self.out, "sbc.err"), "w"))
        for _ in range(100):
            if os.path.exists(ready) or self.sbc.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(ready):
            self.fatal("the SBC-side edge did not come up")

    def run_teams(self, *extra):
        """Teams: calls the tenant FQDN, listens for the SBC's requests on its own proxy."""
        cmd = EDGE + ["--certs", self.certs, "--proxy", "%s:5061:%s" % (self.teams_ip, TEAMS_NAME),
                      "--contact", "%s:5061" % TEAMS_NAME,
                      "--call", "+15551230001", "+15551234567", "--to-host", "acme.sbc.lab.example",
                      "--sbc", "%s:5061" % self.sbc_ip, "--record", self.teams_rec,
                      "--duration", "15"] + list(extra)
        with open(os.path.join(self.out, "teams.out"), "w") as so, \
                open(os.path.join(self.out, "teams.err"), "w") as se:
            self.teams_rc = subprocess.call(cmd, stdout=so, stderr=se, timeout=40)

    def finish(self, want_teams, want_sbc):
        try:
            sbc_rc = self.sbc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.sbc.kill()
            sbc_rc = "killed"
        self.check(self.teams_rc == want_teams and sbc_rc == want_sbc,
                   "exit status teams=%s (want %s) sbc=%s (want %s)"
                   % (self.teams_rc, want_teams, sbc_rc, want_sbc))
        if self.failed:
            self.fatal("unexpected exit status")
        self.sbc_recs = load_records(self.sbc_rec) if os.path.exists(self.sbc_rec) else []
        self.teams_recs = load_records(self.teams_rec) if os.path.exists(self.teams_rec) else []

    # --- assertions ------------------------------------------------------
    def check(self, cond, what):
        print(("ok: " if cond else "FAIL: ") + what, flush=True)
        if not cond:
            self.failed = True

    def eq(self, got, want, what):
        self.check(got == want, "%s (want %r, got %r)" % (what, want, got) if got != want else what)

    def has(self, text, needle, what):
        ok = needle in (text or "")
        self.check(ok, what if ok else "%s (want %r in %r)" % (what, needle, (text or "")[:300]))

    def one(self, recs, header=None, field=None):
        vals = values(recs, header=header, field=field)
        return vals[0] if vals else None

    def dump(self):
        for name in ("teams.out", "teams.err", "sbc.out", "sbc.err"):
            path = os.path.join(self.out, name)
            if os.path.exists(path):
                print("--- %s" % path)
                print(open(path).read()[-3000:])

    def fatal(self, why):
        self.dump()
        print("FAIL: %s" % why)
        sys.exit(1)

    # --- shared checks ---------------------------------------------------
    def check_tls_and_invite(self):
        s, t = self.sbc_recs, self.teams_recs
        acc = select(s, event="tls_accept")[:1]
        self.eq(self.one(acc, field="sni"), "acme.sbc.lab.example",
                "SBC side recorded the SNI Teams sent (the tenant FQDN)")
        self.eq(self.one(acc, field="tls_version"), "TLSv1.2", "TLS 1.2 negotiated")
        self.has(self.one(acc, field="cipher"), "ECDHE-RSA-", "one of the Microsoft ECDHE-RSA suites")
        self.has(self.one(acc, field="peer_cert"), '"subject": "sip.pstnhub.microsoft.com"',
                 "Teams presented its client certificate")
        self.has(self.one(select(t, event="tls_connect"), field="peer_cert"), "*.sbc.lab.example",
                 "Teams checked the SBC certificate")
        inv = select(s, method="INVITE", dir="in")
        self.eq(self.one(inv, field="conn"), "inbound", "INVITE arrived on a Teams-opened connection")
        self.eq(self.one(inv, field="ruri"), "sip:+15551234567@acme.sbc.lab.example:5061;user=phone;transport=tls",
                "Teams-style Request-URI")
        self.has(self.one(inv, header="Contact"), "<sip:%s:5061;transport=tls;x-i=" % TEAMS_NAME,
                 "Teams-style Contact")
        body = self.one(inv, field="body")
        self.has(body, "RTP/SAVP 0 8 101 13", "SRTP offer with G.711, telephone-event, CN")
        self.has(body, "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:", "SDES crypto line")
        self.has(body, "a=rtcp-mux", "rtcp-mux offered")

    def query_cli(self, *args):
        """The command-line query path bash tests use."""
        return subprocess.run([sys.executable, os.path.join(TOOLS, "sipmsg.py"), "query"] + list(args),
                              capture_output=True, text=True, timeout=30).stdout.strip()


# --- cases -------------------------------------------------------------------

def case_answer(T):
    # The SBC side hangs up: its BYE must go on a connection it opens to
    # Teams' Contact host, with SNI = that host and its client certificate.
    T.start_sbc("answer", "--hangup-after", "1", "--expect-calls", "1", "--duration", "15")
    T.run_teams()
    T.finish(0, 0)
    T.check_tls_and_invite()
    s, t = T.sbc_recs, T.teams_recs
    bye_out = select(s, method="BYE", dir="out")
    T.eq(T.one(bye_out, field="conn"), "outbound", "SBC side sent BYE on a connection it opened")
    T.eq(T.one(bye_out, field="sni"), TEAMS_NAME, "that connection's SNI is the Contact host")
    bye_in = select(t, method="BYE", dir="in")
    T.eq(T.one(bye_in, field="conn"), "inbound", "Teams got the BYE on a connection it accepted")
    T.eq(T.one(bye_in, field="listener"), TEAMS_NAME, "the BYE reached the Contact listener")
    T.eq(T.one(select(t, event="tls_accept"), field="sni"), TEAMS_NAME, "Teams side recorded that SNI")
    T.has(T.one(select(t, event="tls_accept"), field="peer_cert"), "*.sbc.lab.example",
          "SBC side presented its client certificate")
    T.eq(len(select(t, status=200, cseq_method="BYE", dir="out")), 1, "Teams answered the BYE")
    ack = select(t, method="ACK", dir="out")
    T.eq((T.one(ack, field="ruri") or "").split(";")[0], "sip:acme.sbc.lab.example:5061",
         "2xx ACK goes to the SBC's Contact")
    T.eq(T.one(ack, field="local"), T.one(select(t, method="INVITE", dir="out"), field="local"),
         "2xx ACK on the INVITE's connection")
    T.has(T.one(select(t, status=200, cseq_method="INVITE"), field="body"), "RTP/SAVP", "SDP answer received")


def case_caller_bye(T):
    # Three calls at 10/s on one shared connection; Teams hangs up each.
    T.start_sbc("answer", "--expect-calls", "3", "--duration", "15")
    T.run_teams("--count", "3", "--rate", "10", "--hangup-after", "0.3")
    T.finish(0, 0)
    s, t = T.sbc_recs, T.teams_recs
    T.eq(len(select(t, method="BYE", dir="out")), 3, "three BYEs from Teams")
    T.eq(len(select(t, method="BYE", dir="out", conn="outbound")), 3, "all on Teams-opened connections")
    T.eq(len(select(t, event="tls_connect")), 1, "one shared connection to the SBC")
    T.eq(len(select(s, status=200, cseq_method="BYE", dir="out")), 3, "SBC side answered every BYE")
    T.has(open(os.path.join(T.out, "teams.out")).read(), "PASS outgoing 3/3 ok [200,200,200]", "summary line")


def case_busy(T):
    T.start_sbc("busy", "--expect-calls", "1", "--duration", "15")
    T.run_teams("--expect", "486")
    T.finish(0, 0)
    T.check_tls_and_invite()
    t = T.teams_recs
    T.eq(len(select(t, dir="in", status=486)), 1, "486 received")
    T.eq(T.one(select(t, method="ACK", dir="out"), header="Via"),
         T.one(select(t, method="INVITE", dir="out"), header="Via"), "ACK for 486 reuses the INVITE's Via branch")
    # The same facts through the command line, as bash tests ask them.
    T.eq(T.query_cli(T.teams_rec, "--dir", "in", "--status", "486", "--count"), "1", "query CLI: --count")
    T.eq(T.query_cli(T.sbc_rec, "--event", "tls_accept", "--field", "sni"), "acme.sbc.lab.example",
         "query CLI: --event/--field")
    T.has(T.query_cli(T.sbc_rec, "--method", "INVITE", "--header", "m"), "transport=tls",
          "query CLI: compact header name")


def case_unavailable(T):
    T.start_sbc("unavailable", "--expect-calls", "1", "--duration", "15")
    T.run_teams("--expect", "503")
    T.finish(0, 0)
    T.eq(T.one(select(T.teams_recs, dir="in", status=503), header="Retry-After"), "1", "503 carries Retry-After: 1")


def case_noanswer(T):
    T.start_sbc("noanswer", "--expect-calls", "1", "--duration", "15")
    T.run_teams("--cancel-after", "0.5")
    T.finish(0, 0)
    s = T.sbc_recs
    T.eq(len(select(s, dir="in", method="CANCEL")), 1, "CANCEL received")
    T.eq(len(select(s, dir="out", status=200, cseq_method="CANCEL")), 1, "200 to the CANCEL sent")
    T.eq(len(select(s, dir="out", status=487)), 1, "487 sent")
    T.eq(len(select(s, dir="in", method="ACK")), 1, "ACK for 487 received")
    T.eq(T.one(select(s, event="call_result"), field="outcome"), "cancelled", "SBC side call outcome")


def case_negative(T):
    # The far end is busy but the caller insists on 200: exit status and
    # summary must both say so.
    T.start_sbc("busy", "--expect-calls", "1", "--duration", "15")
    T.run_teams("--expect", "200")
    T.finish(1, 0)
    T.has(open(os.path.join(T.out, "teams.out")).read(), "teams_edge: FAIL", "summary says FAIL")


def case_badname(T):
    # The SBC certificate does not cover this name: Teams' side must refuse.
    T.start_sbc("answer", "--duration", "3")
    T.run_teams("--to-host", "acme.other.example", "--duration", "5")
    T.finish(1, 0)
    T.has(T.one(select(T.teams_recs, event="tls_error"), field="error"), "CERTIFICATE_VERIFY_FAILED",
          "host name check refused the SBC certificate")
    T.eq(len(select(T.sbc_recs, method="INVITE")), 0, "no INVITE got through")


def case_record_route(T):
    # Teams adds a Record-Route: the SBC side's 200 must echo it and its BYE
    # must follow it (Route header; connection to the Route host, SNI = it).
    T.start_sbc("answer", "--hangup-after", "0.5", "--expect-calls", "1", "--duration", "15")
    T.run_teams("--record-route")
    T.finish(0, 0)
    rr = "<sip:sip.pstnhub.microsoft.com:5061;transport=tls;lr>"
    T.eq(T.one(select(T.teams_recs, status=200, cseq_method="INVITE"), header="Record-Route"), rr,
         "200 OK echoes the Record-Route")
    bye = select(T.sbc_recs, method="BYE", dir="out")
    T.eq(T.one(bye, header="Route"), rr, "BYE carries the route set")
    T.has(T.one(bye, field="ruri"), "sip:%s:5061;transport=tls;x-i=" % TEAMS_NAME, "BYE Request-URI is the Contact")
    T.eq(T.one(bye, field="sni"), "sip.pstnhub.microsoft.com", "BYE went to the Route host, SNI = it")


def case_options(T):
    # Teams' own OPTIONS to the SBC FQDN, on a connection Teams opens.
    T.start_sbc("answer", "--duration", "4")
    cmd_extra = ["--options", "acme.sbc.lab.example", "--resolve", "*.sbc.lab.example=%s" % T.sbc_ip]
    T.teams_rc = subprocess.call(EDGE + ["--certs", T.certs, "--record", T.teams_rec, "--duration", "10",
                                         "--source", T.teams_ip] + cmd_extra,
                                 stdout=open(os.path.join(T.out, "teams.out"), "w"),
                                 stderr=open(os.path.join(T.out, "teams.err"), "w"), timeout=40)
    T.finish(0, 0)
    opt = select(T.sbc_recs, method="OPTIONS", dir="in")
    T.eq(T.one(opt, field="sni"), "acme.sbc.lab.example", "OPTIONS connection SNI = the SBC FQDN")
    T.eq(T.one(opt, field="peer").split(":")[0], T.teams_ip, "connection from --source")
    T.eq(T.one(select(T.teams_recs, event="options_result"), field="code"), "200", "OPTIONS answered 200")
    T.has(open(os.path.join(T.out, "teams.out")).read(), "options 1/1 ok", "summary counts the probe")


CASES = {"answer": case_answer, "caller-bye": case_caller_bye, "busy": case_busy,
         "unavailable": case_unavailable, "noanswer": case_noanswer, "negative": case_negative,
         "badname": case_badname, "record-route": case_record_route, "options": case_options}


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in CASES:
        print(__doc__)
        return 2
    T = Test(*sys.argv[1:])
    CASES[T.case](T)
    if T.failed:
        T.dump()
        print("FAIL edge_calls %s" % T.case)
        return 1
    print("PASS edge_calls %s" % T.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
