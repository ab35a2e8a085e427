#!/usr/bin/env python3
"""A fake Microsoft Teams Direct Routing SIP edge for functional tests.

One process plays any number of Teams SIP proxies (TLS listeners that accept
the SBC's connections and answer its INVITEs in a chosen way) and can
originate calls towards the SBC the way Teams does. Every SIP message and
every TLS connection event goes to a JSON-lines record file that tests query
with `sipmsg.py query`.

Behaviour follows docs TEAMS.md §1:
  * TLS only, mutual authentication: listeners demand a client certificate
    that chains to the lab CA; outbound connections present ours, send SNI =
    the target host name and check the peer's certificate against that name.
  * Each side sends requests only on connections it opened (§1.1): the edge
    sends its BYE for an SBC-originated call on a connection it opens to the
    host in the SBC's Contact (or top Record-Route), never on the SBC's one.
    Every record carries "conn": "inbound" (accepted by the edge) or
    "outbound" (opened by the edge) so tests can assert the SBC did the same.
  * RFC 5626 keep-alives: "\\r\\n\\r\\n" is answered with "\\r\\n".

The run is always bounded by --duration; the process exits 0 only when
every expectation held (originated calls ended with the --expect code and a
clean hang-up; incoming calls reached the outcome of their proxy's mode and,
with --expect-calls, exactly that many arrived) and prints one summary line.

Examples
  # two proxies; the first answers, the second is busy
  teams_edge.py --certs tls --proxy 127.0.1.11:5061:sip.pstnhub.microsoft.com \\
      --proxy 127.0.1.12:5061:sip2.pstnhub.microsoft.com --proxy-mode 127.0.1.12:5061=busy \\
      --resolve '*.sbc.lab.example=127.0.1.1' --hangup-after 2 --expect-calls 1 --record r.jsonl
  # a Teams user calls the PSTN through tenant acme
  teams_edge.py --certs tls --proxy 127.0.1.11:5061 --call +15551230001 +15557654321 \\
      --to-host acme.sbc.lab.example --sbc 127.0.1.1:5061 --hangup-after 1 \\
      --resolve '*.sbc.lab.example=127.0.1.1' --record r.jsonl
"""

import argparse
import asyncio
import base64
import fnmatch
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import uuid

sys.dont_write_bytecode = True      # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipmsg import (Message, StreamFramer, make_response, new_branch,  # noqa: E402
                    new_call_id, new_tag, parse_name_addr, parse_uri)

MODES = ("answer", "busy", "unavailable", "noanswer", "timeout", "late200")

# The TLS 1.2 suites Microsoft documents for Direct Routing (TEAMS.md §1.1).
TEAMS_CIPHERS = ("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                 "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")

USER_AGENT = "Microsoft.PSTNHub.SIPProxy v.2024.10.1.2 i.USEA.3"
ALLOW = "INVITE, ACK, OPTIONS, CANCEL, BYE, NOTIFY, PRACK, REFER, UPDATE"

# How long to wait for an ACK, or for a response to our BYE/CANCEL, before
# calling the call failed. TLS is reliable, so anything late is an SBC bug.
ACK_WAIT = 8.0
RESPONSE_WAIT = 8.0

REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
           202: "Accepted", 422: "Session Interval Too Small",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here",
           487: "Request Terminated", 488: "Not Acceptable Here", 501: "Not Implemented",
           503: "Service Unavailable"}


def hostport(addr):
    return "%s:%d" % (addr[0], addr[1]) if addr else ""


def is_ip(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------

class Recorder:
    """Appends one JSON object per line and flushes it, so a test can read the
    file even while the edge still runs (or after it was killed)."""

    def __init__(self, path, verbose=False):
        self.fh = open(path, "a", encoding="utf-8") if path else None
        self.verbose = verbose
        self.counts = {"in": 0, "out": 0}

    def message(self, direction, conn, msg):
        self.counts[direction] += 1
        rec = {"t": round(time.time(), 6), "dir": direction, "conn": conn.direction,
               "peer": conn.peer, "local": conn.local, "sni": conn.sni,
               "listener": conn.listener.name if conn.listener else None,
               "first_line": msg.first_line,
               "headers": msg.header_dict(), "body": msg.body}
        self._write(rec)
        if self.verbose:
            arrow = "<-" if direction == "in" else "->"
            print("%s %s %s %s" % (conn.direction, arrow, conn.peer, msg.first_line),
                  file=sys.stderr)

    def event(self, name, **fields):
        rec = {"t": round(time.time(), 6), "event": name}
        rec.update(fields)
        self._write(rec)
        if self.verbose:
            print("event %s %s" % (name, json.dumps(fields, sort_keys=True)), file=sys.stderr)

    def _write(self, rec):
        if self.fh:
            self.fh.write(json.dumps(rec, sort_keys=True) + "\n")
            self.fh.flush()


# --------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------

def cert_summary(sslobj):
    """Subject CN and SAN list of the verified peer certificate."""
    cert = sslobj.getpeercert() or {}
    subject = {k: v for rdn in cert.get("subject", ()) for k, v in rdn}
    return {"subject": subject.get("commonName"),
            "san": ["%s:%s" % kv for kv in cert.get("subjectAltName", ())]}


class Conn:
    """One TLS connection, in either direction, with its SIP framing."""

    def __init__(self, edge, reader, writer, direction, sni, listener=None):
        self.edge = edge
        self.reader = reader
        self.writer = writer
        self.direction = direction            # "inbound" | "outbound"
        self.sni = sni
        self.listener = listener              # Listener that accepted it, if inbound
        self.peer = hostport(writer.get_extra_info("peername"))
        self.local = hostport(writer.get_extra_info("sockname"))
        self.framer = StreamFramer()
        self.closed = False
        sslobj = writer.get_extra_info("ssl_object")
        self.tls = {"tls_version": sslobj.version(), "cipher": sslobj.cipher()[0],
                    "peer_cert": cert_summary(sslobj)}

    @property
    def local_addr(self):
        host, _, port = self.local.rpartition(":")
        return host, int(port)

    async def send(self, msg):
        if self.closed:
            raise ConnectionError("connection to %s is closed" % self.peer)
        self.edge.rec.message("out", self, msg)
        self.writer.write(msg.encode())
        await self.writer.drain()

    async def read_loop(self):
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for kind, msg, raw in self.framer.feed(data):
                    await self._on_frame(kind, msg, raw)
                    if kind == "error":
                        return
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            self.edge.rec.event("conn_error", conn=self.direction, peer=self.peer,
                                local=self.local, error=repr(exc))
        finally:
            self.close("peer closed" if not self.closed else "closed")

    async def _on_frame(self, kind, msg, raw):
        if kind == "msg":
            self.edge.rec.message("in", self, msg)
            try:
                await self.edge.dispatch(self, msg)
            except (ConnectionError, OSError, ssl.SSLError):
                raise
            except Exception as exc:     # a bug here must not hide the rest of the run
                self.edge.rec.event("internal_error", conn=self.direction, peer=self.peer,
                                    first_line=msg.first_line, error=repr(exc))
                self.edge.internal_errors += 1
        elif kind == "ping":
            # RFC 5626 §4.4.1: a double-CRLF ping is answered by a single CRLF pong.
            self.edge.rec.event("keepalive", kind="ping", conn=self.direction,
                                peer=self.peer, local=self.local)
            self.writer.write(b"\r\n")
            await self.writer.drain()
        elif kind == "pong":
            self.edge.rec.event("keepalive", kind="pong", conn=self.direction,
                                peer=self.peer, local=self.local)
        else:
            self.edge.rec.event("framing_error", conn=self.direction, peer=self.peer,
                                error=msg, data=raw[:200].decode("utf-8", "replace"))

    def close(self, why="closed"):
        if self.closed:
            return
        self.closed = True
        self.edge.rec.event("conn_closed", conn=self.direction, peer=self.peer,
                            local=self.local, reason=why)
        self.edge.forget(self)
        try:
            self.writer.close()
        except Exception:          # closing a broken transport can raise anything
            pass


class Listener:
    """One fake Teams proxy: a TLS listening socket with a call mode."""

    def __init__(self, spec, default_mode):
        parts = spec.split(":")
        if len(parts) < 2:
            raise ValueError("--proxy wants IP:PORT[:NAME], got %r" % spec)
        self.ip, self.port = parts[0], int(parts[1])
        self.name = parts[2] if len(parts) > 2 and parts[2] else "%s:%d" % (self.ip, self.port)
        self.mode = default_mode
        self.codec = None                 # payload type its calls answer with, when offered
        self.server = None

    def matches(self, which):
        return which in (self.name, "%s:%d" % (self.ip, self.port))


# --------------------------------------------------------------------------
# SDP
# --------------------------------------------------------------------------

def crypto_key():
    """An SDES inline key: 16-byte master key + 14-byte salt, base64."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def sdp_offer(ip, port, session_id):
    """A Teams-like (non-bypass) audio offer: SRTP with SDES, rtcp-mux, G.711."""
    return "\r\n".join([
        "v=0",
        "o=- %d 0 IN IP4 %s" % (session_id, ip),
        "s=session",
        "c=IN IP4 %s" % ip,
        "b=CT:10000000",
        "t=0 0",
        "m=audio %d RTP/SAVP 0 8 101 13" % port,
        "c=IN IP4 %s" % ip,
        "a=rtcp:%d" % (port + 1),
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|1:1" % crypto_key(),
        "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31" % crypto_key(),
        "a=rtcp-mux",
        "a=label:main-audio",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=rtpmap:13 CN/8000",
        "a=ptime:20",
        "a=sendrecv",
        "",
    ])


def sdp_check_offer(body):
    """Why Teams would refuse this offer (TEAMS.md §3, R18/R33), or None."""
    if not body or "m=audio" not in body:
        return "no SDP offer (delayed offer is not supported)"
    mline = next(l for l in body.splitlines() if l.startswith("m=audio"))
    if "RTP/SAVP" not in mline:
        return "audio is not RTP/SAVP: %s" % mline.strip()
    if "a=crypto:" not in body or "AES_CM_128_HMAC_SHA1_80" not in body:
        return "no AES_CM_128_HMAC_SHA1_80 a=crypto line"
    return None


def sdp_answer(offer, ip, port, session_id, prefer=None):
    """Answer the offer with one G.711 codec (prefer's if offered), telephone-event and SRTP."""
    lines = offer.splitlines()
    mline = next(l for l in lines if l.startswith("m=audio")).split()
    offered = mline[3:]
    codec = prefer if prefer in offered and prefer in ("0", "8") else \
        next((pt for pt in offered if pt in ("0", "8")), "0")
    names = {"0": "PCMU/8000", "8": "PCMA/8000"}
    te = next((l.split(":", 1)[1].split()[0] for l in lines
               if l.startswith("a=rtpmap:") and "telephone-event/8000" in l), None)
    crypto = next(l for l in lines if l.startswith("a=crypto:") and "AES_CM_128_HMAC_SHA1_80" in l)
    tag = crypto.split(":", 1)[1].split()[0]
    pts = [codec] + ([te] if te else [])
    out = ["v=0", "o=- %d 0 IN IP4 %s" % (session_id, ip), "s=session",
           "c=IN IP4 %s" % ip, "b=CT:10000000", "t=0 0",
           "m=audio %d RTP/SAVP %s" % (port, " ".join(pts)), "c=IN IP4 %s" % ip,
           "a=rtcp:%d" % (port + 1),
           "a=crypto:%s AES_CM_128_HMAC_SHA1_80 inline:%s|2^31" % (tag, crypto_key())]
    if "a=rtcp-mux" in lines:
        out.append("a=rtcp-mux")
    out += ["a=label:main-audio", "a=rtpmap:%s %s" % (codec, names[codec])]
    if te:
        out += ["a=rtpmap:%s telephone-event/8000" % te, "a=fmtp:%s 0-16" % te]
    out += ["a=ptime:20", "a=sendrecv", ""]
    return "\r\n".join(out)


# --------------------------------------------------------------------------
# Dialog state shared by both call roles
# --------------------------------------------------------------------------

class Dialog:
    """What an in-dialog request needs: tags, remote target, route set."""

    def __init__(self, call_id, local_uri, local_tag, remote_uri, remote_tag=None):
        self.call_id = call_id
        self.local_uri = local_uri        # From/To value without tag
        self.local_tag = local_tag
        self.remote_uri = remote_uri
        self.remote_tag = remote_tag
        self.remote_target = None         # URI from the peer's Contact
        self.route_set = []               # Route header values, in sending order
        self.local_cseq = secrets.randbelow(1000) + 1

    def next_hop(self):
        """(uri_dict, host) of the first Route (loose routing) or the target."""
        uri = self.remote_target
        if not uri:
            raise ValueError("no remote target: the dialog-creating message had no Contact")
        if self.route_set:
            _, ruri, _ = parse_name_addr(self.route_set[0])
            uri = ruri
        return parse_uri(uri)

    def request(self, method, via_host, cseq=None):
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        msg = Message("%s %s SIP/2.0" % (method, self.remote_target))
        msg.add("Via", "SIP/2.0/TLS %s;branch=%s" % (via_host, new_branch()))
        msg.add("Max-Forwards", "70")
        msg.add("From", "%s;tag=%s" % (self.local_uri, self.local_tag))
        msg.add("To", self.remote_uri + (";tag=%s" % self.remote_tag if self.remote_tag else ""))
        msg.add("Call-ID", self.call_id)
        msg.add("CSeq", "%d %s" % (cseq, method))
        for r in self.route_set:
            msg.add("Route", r)
        msg.add("User-Agent", USER_AGENT)
        return msg


class CallBase:
    """Common bookkeeping: outcome, events fed by the dispatcher."""

    role = "?"

    def __init__(self, edge, call_id):
        self.edge = edge
        self.call_id = call_id
        self.code = None
        self.outcome = "pending"
        self.ok = False
        self.detail = ""
        self.done = asyncio.Event()
        self.ack = asyncio.Event()
        self.bye_in = asyncio.Event()
        self.cancel_in = asyncio.Event()
        self.dialog = None
        self.notifies = []                # sipfrag status codes of NOTIFYs, in order
        self.notify_final = asyncio.Event()

    def finish(self, outcome, ok, detail=""):
        if self.done.is_set():
            return
        self.outcome, self.ok, self.detail = outcome, ok, detail
        self.edge.rec.event("call_result", role=self.role, call_id=self.call_id,
                            outcome=outcome, ok=ok, code=self.code, detail=detail)
        self.done.set()

    async def wait(self, event, seconds):
        try:
            await asyncio.wait_for(event.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def maybe_transfer(self):
        """With --refer-after, the first established call REFERs once (Teams as
        transferor, RFC 5589 §6). Returns (outcome, ok, detail) when the call
        is over for us (transferred away), or None when it goes on."""
        a = self.edge.args
        if a.refer_after is None or self.edge.refer_done:
            return None
        self.edge.refer_done = True
        if await self.wait(self.bye_in, a.refer_after):
            return ("completed", False, "BYE from the SBC before the REFER")
        hop = self.dialog.next_hop()
        conn = await self.edge.outbound(hop["host"], hop["port"] or 5061)
        ref = self.dialog.request("REFER", conn.local)
        ref.add("Contact", "<sip:sip.pstnhub.microsoft.com:5061;transport=tls>")
        ref.add("Refer-To", a.refer_to)
        if a.referred_by:
            ref.add("Referred-By", a.referred_by)
        resp = await self.edge.transact(conn, ref, RESPONSE_WAIT)
        code = resp.status if resp else None
        self.edge.rec.event("refer_result", call_id=self.call_id, code=code)
        if code != a.refer_expect:
            return ("refer_refused", False, "REFER answered %s, expected %d" % (code, a.refer_expect))
        if code != 202:
            return None                   # refused as expected: the call goes on
        if not await self.wait(self.notify_final, self.edge.remaining()):
            return ("no_final_notify", False, "no final NOTIFY (got %s)" % self.notifies)
        final = self.notifies[-1]
        if not 200 <= final < 300:
            return None                   # the transfer failed: the call goes on
        if a.refer_bye:
            # Either order: our BYE may cross the SBC's one (481 then).
            code = await self.send_bye()
            return ("transferred", code in (200, 481), "NOTIFY %s, our BYE answered %s" % (self.notifies, code))
        got = await self.wait(self.bye_in, ACK_WAIT)
        return ("transferred", got, "NOTIFY %s, %s" % (self.notifies, "BYE from the SBC" if got else "no BYE"))

    async def send_bye(self):
        """BYE on a connection the edge opens (or already opened) to the
        dialog's next hop, never on one the SBC opened (TEAMS.md §1.1)."""
        hop = self.dialog.next_hop()
        port = hop["port"] or 5061
        conn = await self.edge.outbound(hop["host"], port)
        bye = self.dialog.request("BYE", conn.local)
        resp = await self.edge.transact(conn, bye, RESPONSE_WAIT)
        return resp.status if resp else None


# --------------------------------------------------------------------------
# Incoming calls (the SBC calls a Teams user): the proxy role
# --------------------------------------------------------------------------

class IncomingCall(CallBase):
    role = "uas"
    EXPECTED = {"answer": "completed", "busy": "rejected", "unavailable": "rejected",
                "noanswer": "cancelled", "timeout": "swallowed", "late200": "late_answer_ended"}

    def __init__(self, edge, conn, invite, mode):
        super().__init__(edge, invite.call_id)
        self.conn = conn
        self.invite = invite
        self.mode = mode
        self.tag = new_tag()
        self.final_sent = False
        self.dialog = Dialog(invite.call_id, invite.get("To").split(";tag=")[0], self.tag,
                             invite.get("From").split(";tag=")[0], invite.from_tag)
        contact = invite.get("Contact")
        if contact:
            self.dialog.remote_target = parse_name_addr(contact)[1]
        self.dialog.route_set = list(invite.get_all("Record-Route"))

    def contact(self):
        host = self.edge.args.contact or "%s:%d" % (self.conn.listener.ip, self.conn.listener.port)
        return "<sip:%s;transport=tls;x-i=%s;x-c=%s/s/1/%s>" % (
            host, uuid.uuid4(), secrets.token_hex(16), secrets.token_hex(16))

    async def respond(self, code, extra=None, body="", tag=None):
        extra = list(extra or [])
        if 100 < code < 300:
            # Dialog-creating responses echo the Record-Route set (RFC 3261 §12.1.1).
            extra = [("Record-Route", rr) for rr in self.invite.get_all("Record-Route")] + extra
        if code > 100:
            extra.append(("Contact", self.contact()))
        extra.append(("Server", USER_AGENT))
        if code >= 200:
            self.final_sent = True
            self.code = code
        if code >= 180:
            extra.append(("Allow", self.edge.allow()))
        se = self.invite.get("Session-Expires")
        if code == 200 and se and not self.edge.args.no_session_timer:
            # RFC 4028 §9: we support timers; the SBC refreshes unless it chose.
            delta, _, params = se.partition(";")
            refresher = "uas" if "refresher=uas" in params.replace(" ", "") else "uac"
            extra += [("Session-Expires", "%s;refresher=%s" % (delta.strip(), refresher)),
                      ("Require", "timer")]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        resp = make_response(self.invite, code, REASONS.get(code, "Unknown"),
                             to_tag=(tag or self.tag) if code > 100 else None,
                             extra=extra, body=body)
        await self.conn.send(resp)

    async def run(self):
        try:
            await self._run()
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            self.finish("error", False, repr(exc))

    async def _run(self):
        if self.mode == "timeout":
            # Swallow the INVITE. A CANCEL still ends the transaction cleanly.
            if await self.wait(self.cancel_in, self.edge.remaining()):
                await self.respond(487)
                await self.wait(self.ack, ACK_WAIT)
            self.finish("swallowed", True)
            return
        await self.respond(100)
        if self.mode in ("busy", "unavailable"):
            code = 486 if self.mode == "busy" else 503
            extra = [("Retry-After", "1")] if code == 503 else []
            if code == 486:
                extra.append(("Reason", 'Q.850;cause=17;text="User busy"'))
            await self.respond(code, extra)
            got = await self.wait(self.ack, ACK_WAIT)
            self.finish("rejected", got, "" if got else "no ACK for %d" % code)
            return
        why = sdp_check_offer(self.invite.body)
        if why:
            await self.respond(488, [("Warning", '399 sip.pstnhub.microsoft.com "%s"' % why)])
            await self.wait(self.ack, ACK_WAIT)
            self.finish("bad_offer", False, why)
            return
        await self.ring()
        if self.mode == "late200":
            # Our 200 crosses the caller's CANCEL on the wire: the caller must
            # ACK it and end the dialog with a BYE (RFC 3261 §9.1, §15).
            if not await self.wait(self.cancel_in, self.edge.remaining()):
                self.finish("not_cancelled", False, "no CANCEL before the end of the run")
                return
            await self.respond(200, body=self.answer_sdp())
            if not await self.wait(self.ack, ACK_WAIT):
                self.finish("no_ack", False, "no ACK for the 200 that crossed the CANCEL")
                return
            got = await self.wait(self.bye_in, ACK_WAIT)
            self.finish("late_answer_ended" if got else "not_ended", got,
                        "" if got else "no BYE for the 200 that crossed the CANCEL")
            return
        if self.mode == "noanswer":
            if not await self.wait(self.cancel_in, self.edge.remaining()):
                self.finish("not_cancelled", False, "no CANCEL before the end of the run")
                return
            await self.respond(487)
            got = await self.wait(self.ack, ACK_WAIT)
            self.finish("cancelled", got, "" if got else "no ACK for 487")
            return
        await self.answer()

    async def ring(self):
        """180 from each forked endpoint (own To-tag), then 183 with SDP if asked."""
        for i in range(max(1, self.edge.args.forks)):
            await self.respond(180, tag=self.tag if i == 0 else new_tag())
        if self.edge.args.early_media:
            await self.respond(183, body=self.answer_sdp())

    def answer_sdp(self):
        if not hasattr(self, "_sdp"):
            ip, _ = self.conn.local_addr
            self._sdp = sdp_answer(self.invite.body, ip, self.edge.media_port(),
                                   secrets.randbelow(10**9), self.conn.listener.codec)
        return self._sdp

    async def answer(self):
        if await self.wait(self.cancel_in, self.edge.args.answer_delay):
            await self.respond(487)
            await self.wait(self.ack, ACK_WAIT)
            self.finish("cancelled", False, "cancelled before the answer")
            return
        await self.respond(200, body=self.answer_sdp())
        if not await self.wait(self.ack, ACK_WAIT):
            self.finish("no_ack", False, "no ACK for 200 within %.0fs" % ACK_WAIT)
            return
        await self.hang_up_or_wait()

    async def hang_up_or_wait(self):
        done = await self.maybe_transfer()
        if done:
            self.finish(*done)
            return
        ha = self.edge.args.hangup_after
        if ha is not None:
            if await self.wait(self.bye_in, ha):
                self.finish("completed", True, "BYE from the SBC")
                return
            try:
                code = await self.send_bye()
            except (ConnectionError, OSError, ssl.SSLError, ValueError) as exc:
                self.finish("bye_failed", False, "could not send BYE: %r" % exc)
                return
            self.finish("completed" if code == 200 else "bye_failed", code == 200,
                        "BYE answered %s" % code)
            return
        if await self.wait(self.bye_in, self.edge.remaining()):
            self.finish("completed", True, "BYE from the SBC")
        else:
            self.finish("not_ended", False, "call still up at the end of the run")


# --------------------------------------------------------------------------
# Outgoing calls (a Teams user calls the PSTN): the origination role
# --------------------------------------------------------------------------

class OutgoingCall(CallBase):
    role = "uac"

    def __init__(self, edge, index, conn_getter):
        a = edge.args
        super().__init__(edge, new_call_id())
        self.index = index
        self.conn_getter = conn_getter
        self.expect = a.expect if a.expect is not None else (487 if a.cancel_after is not None else 200)
        frm, to = a.call
        self.tag = new_tag()
        self.local_uri = "<sip:%s@sip.pstnhub.microsoft.com:5061;user=phone>" % frm
        self.remote_uri = "<sip:%s@%s:5061;user=phone>" % (to, a.to_host)
        self.ruri = "sip:%s@%s:5061;user=phone;transport=tls" % (to, a.to_host)
        self.from_number = frm
        self.final = asyncio.Event()

    def build_invite(self, conn):
        a = self.edge.args
        ip, port = conn.local_addr
        contact_host = a.contact or (self.edge.listeners[0].ip + ":%d" % self.edge.listeners[0].port
                                     if self.edge.listeners else "%s:%d" % (ip, port))
        inv = Message("INVITE %s SIP/2.0" % self.ruri)
        inv.add("Via", "SIP/2.0/TLS %s:%d;branch=%s" % (ip, port, new_branch()))
        inv.add("Max-Forwards", "70")
        inv.add("From", "%s;tag=%s" % (self.local_uri, self.tag))
        inv.add("To", self.remote_uri)
        inv.add("Call-ID", self.call_id)
        inv.add("CSeq", "1 INVITE")
        inv.add("Contact", "<sip:%s;transport=tls;x-i=%s;x-c=%s/s/1/%s>" % (
            contact_host, uuid.uuid4(), secrets.token_hex(16), secrets.token_hex(16)))
        if a.record_route:
            inv.add("Record-Route", "<sip:sip.pstnhub.microsoft.com:5061;transport=tls;lr>")
        inv.add("P-Asserted-Identity", self.local_uri)
        inv.add("Allow", self.edge.allow())
        if a.session_expires:
            inv.add("Supported", "timer")
            inv.add("Session-Expires", "%d;refresher=uac" % a.session_expires)
            inv.add("Min-SE", str(min(90, a.session_expires)))
        inv.add("User-Agent", USER_AGENT)
        inv.add("Content-Type", "application/sdp")
        inv.body = sdp_offer(ip, self.edge.media_port(), secrets.randbelow(10**9))
        return inv

    async def run(self):
        try:
            await self._run()
        except (ConnectionError, OSError, ssl.SSLError, ValueError) as exc:
            self.finish("error", False, repr(exc))

    async def _run(self):
        conn = await self.conn_getter()
        inv = self.build_invite(conn)
        key = self.edge.open_transaction(inv, conn)
        await conn.send(inv)
        canceller = None
        if self.edge.args.cancel_after is not None:
            canceller = asyncio.ensure_future(self.cancel_later(conn, inv))
        resp = await self.await_final(key)
        if canceller:
            canceller.cancel()
        self.edge.close_transaction(key)
        if resp is None:
            self.finish("no_final", False, "no final response to INVITE")
            return
        self.code = resp.status
        if resp.status >= 300:
            await conn.send(self.non2xx_ack(inv, resp))
            ok = resp.status == self.expect
            self.finish("rejected", ok, "" if ok else "expected %d" % self.expect)
            return
        await self.established(conn, inv, resp)

    async def await_final(self, key):
        """Provisional responses are recorded; returns the final one."""
        queue = self.edge.transactions[key]
        while True:
            try:
                resp = await asyncio.wait_for(queue.get(), self.edge.remaining())
            except asyncio.TimeoutError:
                return None
            if resp is None:          # the connection carrying the INVITE closed
                return None
            if resp.status >= 200:
                self.final.set()
                return resp

    async def cancel_later(self, conn, inv):
        await asyncio.sleep(self.edge.args.cancel_after)
        if self.final.is_set():
            return
        cancel = Message("CANCEL %s SIP/2.0" % inv.ruri)
        for h in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.add(h, inv.get(h))
        cancel.add("CSeq", "%d CANCEL" % inv.cseq[0])
        cancel.add("User-Agent", USER_AGENT)
        await self.edge.transact(conn, cancel, RESPONSE_WAIT)

    def non2xx_ack(self, inv, resp):
        """ACK for a failure response: same transaction (branch) as the INVITE."""
        ack = Message("ACK %s SIP/2.0" % inv.ruri)
        ack.add("Via", inv.get("Via"))
        ack.add("Max-Forwards", "70")
        ack.add("From", inv.get("From"))
        ack.add("To", resp.get("To"))
        ack.add("Call-ID", inv.call_id)
        ack.add("CSeq", "%d ACK" % inv.cseq[0])
        return ack

    async def established(self, conn, inv, resp):
        d = Dialog(self.call_id, self.local_uri, self.tag, self.remote_uri, resp.to_tag)
        contact = resp.get("Contact")
        if not contact:
            await conn.send(self.non2xx_ack(inv, resp))
            self.finish("bad_200", False, "200 OK without Contact")
            return
        d.remote_target = parse_name_addr(contact)[1]
        d.route_set = list(reversed(resp.get_all("Record-Route")))
        d.local_cseq = inv.cseq[0]
        self.dialog = d
        # The 2xx ACK is its own transaction; it goes on the INVITE's connection.
        ack = d.request("ACK", conn.local, cseq=inv.cseq[0])
        await conn.send(ack)
        if self.code != self.expect:
            await self.send_bye()
            self.finish("answered", False, "answered; expected %d" % self.expect)
            return
        done = await self.maybe_transfer()
        if done:
            self.finish(*done)
            return
        ha = self.edge.args.hangup_after
        if ha is not None and not await self.wait(self.bye_in, ha):
            code = await self.send_bye()
            self.finish("completed" if code == 200 else "bye_failed", code == 200,
                        "BYE answered %s" % code)
            return
        if ha is None and not await self.wait(self.bye_in, self.edge.remaining()):
            self.finish("not_ended", False, "no BYE from the SBC before the end of the run")
            return
        self.finish("completed", True, "BYE from the SBC")


# --------------------------------------------------------------------------
# The edge: listeners, connection pool, transactions, dispatch
# --------------------------------------------------------------------------

class Edge:
    def __init__(self, args):
        self.args = args
        self.rec = Recorder(args.record, args.verbose)
        self.listeners = [Listener(s, args.mode) for s in args.proxy]
        for pm in args.proxy_mode:
            which, _, mode = pm.partition("=")
            hit = [l for l in self.listeners if l.matches(which)]
            if not hit or mode not in MODES:
                raise ValueError("--proxy-mode %r: no such proxy or mode" % pm)
            for l in hit:
                l.mode = mode
        for pc in args.proxy_codec:
            which, _, pt = pc.partition("=")
            hit = [l for l in self.listeners if l.matches(which)]
            if not hit or pt not in ("0", "8"):
                raise ValueError("--proxy-codec %r: no such proxy, or not 0/8" % pc)
            for l in hit:
                l.codec = pt
        self.resolve_map = []
        for r in args.resolve:
            name, _, ip = r.partition("=")
            if not ip or not is_ip(ip):
                raise ValueError("--resolve wants NAME=IP, got %r" % r)
            self.resolve_map.append((name.lower(), ip))
        self.server_ctx = self.make_server_ctx()
        self.client_ctx = self.make_client_ctx()
        self.pool = {}                 # (ip, port, sni) -> outbound Conn
        self.pool_locks = {}
        self.conns = set()
        self.transactions = {}         # (branch, method) -> asyncio.Queue of responses
        self.transaction_conn = {}     # (branch, method) -> Conn the request went on
        self.incoming = []             # IncomingCall, in arrival order
        self.uas_by_callid = {}
        self.uac_by_callid = {}
        self.outgoing = []
        self.option_probes = []        # results of --options
        self.deadline = time.monotonic() + args.duration
        self.stop = asyncio.Event()
        self.internal_errors = 0
        self.refer_done = False
        self._media_port = 50000

    # --- TLS -------------------------------------------------------------
    def _tls_common(self, ctx):
        a = self.args
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if a.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if a.ciphers:
            ctx.set_ciphers(a.ciphers)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.load_verify_locations(a.ca)

    def make_server_ctx(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls_common(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED          # mutual TLS, as Teams does

        def remember_sni(sslobj, server_name, _ctx):
            sslobj.sni_name = server_name            # read back after the handshake
        ctx.sni_callback = remember_sni
        return ctx

    def make_client_ctx(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and host name
        self._tls_common(ctx)
        return ctx

    # --- helpers ---------------------------------------------------------
    def allow(self):
        if self.args.no_update:
            return ", ".join(m for m in ALLOW.split(", ") if m != "UPDATE")
        return ALLOW

    def remaining(self):
        return max(0.0, self.deadline - time.monotonic())

    def source_addr(self):
        """Outbound connections leave from --source, else from the first
        proxy's address: the SBC sees the same IP range Teams uses."""
        ip = self.args.source or (self.listeners[0].ip if self.listeners else None)
        return (ip, 0) if ip else None

    def media_port(self):
        self._media_port += 2
        return self._media_port

    def resolve(self, host):
        """--resolve entries first (exact, then wildcard), then the system."""
        h = host.lower().strip("[]")
        if is_ip(h):
            return h
        for name, ip in self.resolve_map:
            if name == h:
                return ip
        for name, ip in self.resolve_map:
            if "*" in name and fnmatch.fnmatch(h, name):
                return ip
        try:
            return socket.gethostbyname(h)
        except OSError:
            raise ValueError("cannot resolve %s (add --resolve %s=IP)" % (host, host))

    def open_transaction(self, req, conn):
        key = (req.branch, req.cseq[1])
        self.transactions[key] = asyncio.Queue()
        self.transaction_conn[key] = conn
        return key

    def close_transaction(self, key):
        self.transactions.pop(key, None)
        self.transaction_conn.pop(key, None)

    async def transact(self, conn, req, timeout):
        """Send a non-INVITE request; return its final response or None."""
        key = self.open_transaction(req, conn)
        try:
            await conn.send(req)
            end = time.monotonic() + timeout
            while True:
                left = min(end - time.monotonic(), self.remaining() + 1)
                if left <= 0:
                    return None
                try:
                    resp = await asyncio.wait_for(self.transactions[key].get(), left)
                except asyncio.TimeoutError:
                    return None
                if resp is None or resp.status >= 200:
                    return resp
        finally:
            self.close_transaction(key)

    # --- connections -------------------------------------------------------
    async def outbound(self, host, port, fresh=False):
        """A TLS connection the edge opened to host:port, reused when open.
        SNI and the certificate name check use the host name."""
        ip = self.resolve(host)
        sni = None if is_ip(host) else host
        key = (ip, port, sni)
        lock = self.pool_locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = None if fresh else self.pool.get(key)
            if conn and not conn.closed:
                return conn
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip, port, ssl=self.client_ctx, server_hostname=host,
                                            ssl_handshake_timeout=5,
                                            local_addr=self.source_addr()),
                    min(10.0, self.remaining() + 1))
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                self.rec.event("tls_error", conn="outbound", peer="%s:%d" % (ip, port),
                               sni=sni, error=repr(exc))
                raise ConnectionError("TLS connect to %s (%s:%d) failed: %r" % (host, ip, port, exc))
            conn = Conn(self, reader, writer, "outbound", sni)
            self.rec.event("tls_connect", conn="outbound", peer=conn.peer, local=conn.local,
                           sni=sni, **conn.tls)
            self.conns.add(conn)
            if not fresh:
                self.pool[key] = conn
            asyncio.ensure_future(conn.read_loop())
            return conn

    def forget(self, conn):
        """A closed connection: its pending client transactions end now
        (a None in their queue), rather than at the end of the run."""
        for key, c in list(self.transaction_conn.items()):
            if c is conn and key in self.transactions:
                self.transactions[key].put_nowait(None)
        self.conns.discard(conn)
        for k, v in list(self.pool.items()):
            if v is conn:
                del self.pool[k]

    async def start_listeners(self):
        for l in self.listeners:
            l.server = await asyncio.start_server(
                lambda r, w, l=l: self.accept(l, r, w), l.ip, l.port, reuse_address=True)

    async def accept(self, listener, reader, writer):
        peer = hostport(writer.get_extra_info("peername"))
        try:
            await writer.start_tls(self.server_ctx, ssl_handshake_timeout=5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
            self.rec.event("tls_error", conn="inbound", peer=peer, listener=listener.name,
                           error=repr(exc))
            writer.close()
            return
        sni = getattr(writer.get_extra_info("ssl_object"), "sni_name", None)
        conn = Conn(self, reader, writer, "inbound", sni, listener)
        self.rec.event("tls_accept", conn="inbound", peer=conn.peer, local=conn.local,
                       sni=sni, listener=listener.name, **conn.tls)
        self.conns.add(conn)
        await conn.read_loop()

    # --- dispatch ----------------------------------------------------------
    async def dispatch(self, conn, msg):
        if not msg.is_request:
            q = self.transactions.get((msg.branch, msg.cseq[1]))
            if q is not None:
                q.put_nowait(msg)
            else:
                self.rec.event("stray_response", conn=conn.direction, peer=conn.peer,
                               first_line=msg.first_line, call_id=msg.call_id)
            return
        handler = getattr(self, "on_" + msg.method.lower(), None)
        if handler is None:
            await conn.send(make_response(msg, 501, "Not Implemented"))
            return
        await handler(conn, msg)

    def find_dialog_call(self, msg):
        """The call an in-dialog request belongs to: our tag is its To-tag."""
        for table in (self.uas_by_callid, self.uac_by_callid):
            call = table.get(msg.call_id)
            if call and call.dialog and msg.to_tag == call.dialog.local_tag:
                return call
        return None

    async def on_invite(self, conn, msg):
        if msg.to_tag:
            return await self.on_reinvite(conn, msg)
        if msg.call_id in self.uas_by_callid:
            return          # a retransmission; TLS makes this an SBC bug, the record shows it
        if conn.direction != "inbound" or conn.listener is None:
            await conn.send(make_response(msg, 403, "Forbidden",
                                          extra=[("Warning", '399 - "INVITE on a connection the edge opened"')]))
            return
        call = IncomingCall(self, conn, msg, conn.listener.mode)
        self.uas_by_callid[msg.call_id] = call
        self.incoming.append(call)
        asyncio.ensure_future(call.run())

    async def on_reinvite(self, conn, msg):
        call = self.find_dialog_call(msg)
        if call is None:
            await conn.send(make_response(msg, 481, REASONS[481]))
            return
        body = ""
        if msg.body and sdp_check_offer(msg.body) is None:
            ip, _ = conn.local_addr
            body = sdp_answer(msg.body, ip, self.media_port(), secrets.randbelow(10**9))
        extra = [("Contact", "<sip:%s;transport=tls>" % conn.local), ("Server", USER_AGENT)]
        se = msg.get("Session-Expires")
        if se and not self.args.no_session_timer:
            # RFC 4028 §9: a refresh's 2xx repeats the interval and refresher.
            delta, _, params = se.partition(";")
            refresher = "uas" if "refresher=uas" in params.replace(" ", "") else "uac"
            extra += [("Session-Expires", "%s;refresher=%s" % (delta.strip(), refresher)), ("Require", "timer")]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        await conn.send(make_response(msg, 200, "OK", extra=extra, body=body))

    async def on_ack(self, conn, msg):
        call = self.uas_by_callid.get(msg.call_id)
        if call:
            call.ack.set()

    async def on_cancel(self, conn, msg):
        call = self.uas_by_callid.get(msg.call_id)
        if call is None or call.invite.branch != msg.branch:
            await conn.send(make_response(msg, 481, REASONS[481]))
            return
        await conn.send(make_response(msg, 200, "OK", to_tag=call.tag))
        if not call.final_sent:
            call.cancel_in.set()

    async def on_bye(self, conn, msg):
        call = self.find_dialog_call(msg)
        if call is None:
            await conn.send(make_response(msg, 481, REASONS[481]))
            return
        await conn.send(make_response(msg, 200, "OK", extra=[("Server", USER_AGENT)]))
        call.bye_in.set()

    async def on_options(self, conn, msg):
        await conn.send(make_response(msg, 200, "OK", to_tag=new_tag(), extra=[
            ("Allow", ALLOW), ("Accept", "application/sdp"), ("Server", USER_AGENT)]))

    async def _in_dialog_ok(self, conn, msg):
        if self.find_dialog_call(msg) is None:
            await conn.send(make_response(msg, 481, REASONS[481]))
        else:
            await conn.send(make_response(msg, 200, "OK", extra=[("Server", USER_AGENT)]))

    async def on_notify(self, conn, msg):
        """NOTIFY of a REFER subscription: its sipfrag status is kept in order."""
        call = self.find_dialog_call(msg)
        if call is None:
            await conn.send(make_response(msg, 481, REASONS[481]))
            return
        await conn.send(make_response(msg, 200, "OK", extra=[("Server", USER_AGENT)]))
        frag = (msg.body or "").split()
        if len(frag) >= 2 and frag[0] == "SIP/2.0" and frag[1].isdigit():
            call.notifies.append(int(frag[1]))
        if (msg.get("Subscription-State") or "").strip().lower().startswith("terminated"):
            call.notify_final.set()

    # An UPDATE carrying an offer is answered like a re-INVITE (RFC 3311).
    on_update = on_reinvite
    on_info = _in_dialog_ok

    # --- run ---------------------------------------------------------------
    async def originate(self):
        a = self.args
        sbc_host, _, sbc_port = a.sbc.rpartition(":")
        shared = {}

        async def conn_getter():
            # Calls share the edge's connection to the SBC unless asked not to.
            return await self.outbound_to_sbc(sbc_host, int(sbc_port), fresh=a.conn_per_call,
                                              cache=shared)

        interval = 1.0 / a.rate if a.rate > 0 else 0
        tasks = []
        for i in range(a.count):
            call = OutgoingCall(self, i, conn_getter)
            self.uac_by_callid[call.call_id] = call
            self.outgoing.append(call)
            tasks.append(asyncio.ensure_future(call.run()))
            if i + 1 < a.count and interval:
                await asyncio.sleep(interval)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def outbound_to_sbc(self, ip, port, fresh, cache):
        """The INVITE connection: TCP to --sbc, SNI and name check = --to-host."""
        host = self.args.to_host
        if fresh:
            return await self._connect_named(ip, port, host, pool=False)
        if cache.get("conn") is None or cache["conn"].closed:
            cache["conn"] = await self._connect_named(ip, port, host, pool=True)
        return cache["conn"]

    async def _connect_named(self, ip, port, host, pool):
        # Map the tenant FQDN to --sbc for this connection so that the pool
        # (and a BYE to the SBC's Contact with the same FQDN) reuses it.
        if not any(n == host.lower() for n, _ in self.resolve_map):
            self.resolve_map.insert(0, (host.lower(), ip))
        return await self.outbound(host, port, fresh=not pool)

    async def probe_options(self, target):
        """One OPTIONS to the SBC, as a Teams proxy checks its peer (TEAMS.md
        §1.5): on a connection the edge opens, SNI = the target FQDN."""
        host, _, port = target.partition(":")
        result = {"target": target, "code": None, "ok": False, "done": False}
        self.option_probes.append(result)
        try:
            conn = await self.outbound(host, int(port or 5061))
            req = Message("OPTIONS sip:%s:%s;transport=tls SIP/2.0" % (host, port or 5061))
            req.add("Via", "SIP/2.0/TLS %s;branch=%s" % (conn.local, new_branch()))
            req.add("Max-Forwards", "70")
            req.add("From", "<sip:sip.pstnhub.microsoft.com:5061>;tag=%s" % new_tag())
            req.add("To", "<sip:%s:%s>" % (host, port or 5061))
            req.add("Call-ID", new_call_id())
            req.add("CSeq", "1 OPTIONS")
            req.add("Contact", "<sip:sip.pstnhub.microsoft.com:5061;transport=tls>")
            req.add("User-Agent", USER_AGENT)
            resp = await self.transact(conn, req, RESPONSE_WAIT)
            result["code"] = resp.status if resp else None
            result["ok"] = bool(resp and resp.status == 200)
        except (ConnectionError, OSError, ssl.SSLError, ValueError) as exc:
            result["error"] = repr(exc)
        result["done"] = True
        self.rec.event("options_result", **result)

    def work_done(self):
        if len(self.option_probes) < len(self.args.options) or \
                not all(p["done"] for p in self.option_probes):
            return False
        if self.args.call and not all(c.done.is_set() for c in self.outgoing):
            return False
        if self.args.call and len(self.outgoing) < self.args.count:
            return False
        if self.args.expect_calls is not None:
            return (len(self.incoming) >= self.args.expect_calls
                    and all(c.done.is_set() for c in self.incoming))
        return bool(self.args.call or self.args.options)

    async def run(self):
        await self.start_listeners()
        if self.args.ready_file:
            with open(self.args.ready_file, "w") as fh:
                fh.write("%d\n" % os.getpid())
        self.rec.event("start", proxies=[{"ip": l.ip, "port": l.port, "name": l.name, "mode": l.mode}
                                         for l in self.listeners], pid=os.getpid())
        for target in self.args.options:
            asyncio.ensure_future(self.probe_options(target))
        if self.args.call:
            asyncio.ensure_future(self.originate())
        while not self.stop.is_set() and self.remaining() > 0 and not self.work_done():
            try:
                await asyncio.wait_for(self.stop.wait(), min(0.05, self.remaining()))
            except asyncio.TimeoutError:
                pass
        await asyncio.sleep(self.args.linger)      # late or stray messages still get recorded
        for c in self.incoming + self.outgoing:
            if not c.done.is_set():
                c.finish("unfinished", False, "still %s at the end of the run" % c.outcome)
        for l in self.listeners:
            l.server.close()
        for conn in list(self.conns):
            conn.close("edge stopping")
        await asyncio.sleep(0.05)
        return self.summary()

    def summary(self):
        a = self.args
        out_ok = sum(c.ok for c in self.outgoing)
        in_ok = sum(c.ok and c.outcome in (IncomingCall.EXPECTED[c.mode], "transferred") for c in self.incoming)
        problems = []
        if a.call and (out_ok != a.count or len(self.outgoing) != a.count):
            problems.append("outgoing %d/%d ok" % (out_ok, a.count))
        if in_ok != len(self.incoming):
            problems.append("incoming %d/%d ok" % (in_ok, len(self.incoming)))
        bad_probes = [p["target"] for p in self.option_probes if not p["ok"]]
        if bad_probes or len(self.option_probes) != len(a.options):
            problems.append("OPTIONS not answered 200 by %s" % ", ".join(bad_probes or a.options))
        if self.internal_errors:
            problems.append("%d internal errors (see the record)" % self.internal_errors)
        if a.expect_calls is not None and len(self.incoming) != a.expect_calls:
            problems.append("expected %d incoming calls, got %d" % (a.expect_calls, len(self.incoming)))
        codes = ",".join(str(c.code) for c in self.outgoing)
        outcomes = ",".join("%s:%s" % (c.mode, c.outcome) for c in self.incoming)
        fails = ["%s %s %s: %s" % (c.role, c.call_id, c.outcome, c.detail)
                 for c in self.incoming + self.outgoing if not c.ok][:3]
        opts = (" options %d/%d ok" % (len(self.option_probes) - len(bad_probes), len(a.options))
                if a.options else "")
        line = "teams_edge: %s outgoing %d/%d ok [%s] incoming %d/%d ok [%s]%s messages in=%d out=%d%s" % (
            "PASS" if not problems else "FAIL", out_ok, len(self.outgoing), codes, in_ok,
            len(self.incoming), outcomes, opts, self.rec.counts["in"], self.rec.counts["out"],
            ("; " + "; ".join(problems + fails)) if problems else "")
        self.rec.event("summary", ok=not problems, line=line)
        print(line, flush=True)
        return 0 if not problems else 1


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("TLS")
    g.add_argument("--certs", metavar="DIR", help="directory holding ca.pem, teams.pem, teams.key")
    g.add_argument("--ca", help="CA bundle that peers must chain to (default DIR/ca.pem)")
    g.add_argument("--cert", help="our certificate, server and client (default DIR/teams.pem)")
    g.add_argument("--key", help="its private key (default DIR/teams.key)")
    g.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.2",
                   help="highest TLS version (default 1.2, as the Teams proxies negotiate)")
    g.add_argument("--ciphers", default=TEAMS_CIPHERS,
                   help="TLS 1.2 cipher list (default: the 4 suites Microsoft documents)")
    g = p.add_argument_group("proxies (calls from the SBC)")
    g.add_argument("--proxy", action="append", default=[], metavar="IP:PORT[:NAME]",
                   help="listen as a Teams proxy (repeatable)")
    g.add_argument("--mode", choices=MODES, default="answer",
                   help="how proxies treat INVITEs (default answer)")
    g.add_argument("--proxy-mode", action="append", default=[], metavar="PROXY=MODE",
                   help="mode of one proxy, named by IP:PORT or NAME (repeatable)")
    g.add_argument("--proxy-codec", action="append", default=[], metavar="PROXY=PT",
                   help="calls to this proxy answer with payload type 0 or 8 when offered (repeatable)")
    g.add_argument("--answer-delay", type=float, default=0.2, metavar="S",
                   help="ringing time between 180 and 200 in answer mode (default 0.2)")
    g.add_argument("--early-media", action="store_true", help="send 183 with SDP after the 180")
    g.add_argument("--forks", type=int, default=1, metavar="N",
                   help="send N 180s with distinct To-tags, as forking to N endpoints")
    g.add_argument("--expect-calls", type=int, metavar="N",
                   help="exactly N INVITEs must arrive; the edge exits once they are all done")
    g = p.add_argument_group("origination (calls to the SBC)")
    g.add_argument("--call", nargs=2, metavar=("FROM", "TO"), help="numbers, e.g. +15551230001 +15557654321")
    g.add_argument("--to-host", help="tenant FQDN: Request-URI host, SNI and certificate name")
    g.add_argument("--sbc", metavar="IP:PORT", help="where to connect for --call")
    g.add_argument("--count", type=int, default=1, metavar="N", help="number of calls (default 1)")
    g.add_argument("--rate", type=float, default=10.0, metavar="R", help="calls per second (default 10)")
    g.add_argument("--conn-per-call", action="store_true",
                   help="open a TLS connection per call instead of sharing one")
    g.add_argument("--cancel-after", type=float, metavar="S", help="CANCEL if no final response after S seconds")
    g.add_argument("--expect", type=int, metavar="CODE",
                   help="final response every call must get (default 200, or 487 with --cancel-after)")
    g.add_argument("--session-expires", type=int, default=1800, metavar="S",
                   help="Session-Expires offered on INVITEs (default 1800; 0 leaves it out)")
    g.add_argument("--record-route", action="store_true",
                   help="add a Record-Route naming sip.pstnhub.microsoft.com to INVITEs")
    g = p.add_argument_group("transfer (Teams as the transferor) and session timers")
    g.add_argument("--refer-after", type=float, metavar="S",
                   help="S seconds into the first established call, send REFER instead of hanging up")
    g.add_argument("--refer-to", metavar="NAME-ADDR",
                   help="Refer-To value, e.g. '<sip:+15557654322@sip.pstnhub.microsoft.com;user=phone>'")
    g.add_argument("--referred-by", metavar="VALUE", help="Referred-By value (sent as is)")
    g.add_argument("--refer-expect", type=int, default=202, metavar="CODE",
                   help="status the REFER must get (default 202)")
    g.add_argument("--refer-bye", action="store_true",
                   help="after a successful transfer, send BYE on the old dialog ourselves")
    g.add_argument("--no-update", action="store_true",
                   help="leave UPDATE out of Allow (session refreshes then come as re-INVITEs)")
    g.add_argument("--no-session-timer", action="store_true",
                   help="answer INVITEs without Session-Expires (the timer is not supported)")
    g = p.add_argument_group("both roles")
    g.add_argument("--options", action="append", default=[], metavar="FQDN[:PORT]",
                   help="send one OPTIONS to the SBC at FQDN (port 5061) and expect 200 (repeatable)")
    g.add_argument("--hangup-after", type=float, metavar="S",
                   help="after the call is answered, send BYE after S seconds "
                        "(without it, wait for the SBC's BYE)")
    g.add_argument("--contact", metavar="HOST:PORT",
                   help="host:port put in our Contact (default: the proxy listener's address)")
    g.add_argument("--resolve", action="append", default=[], metavar="NAME=IP",
                   help="map a host name (or *.domain) to an address (repeatable)")
    g.add_argument("--source", metavar="IP",
                   help="source address of connections the edge opens (default: first --proxy IP)")
    g.add_argument("--record", metavar="FILE", help="append JSON-lines records of messages and events")
    g.add_argument("--duration", "--timeout", type=float, default=30.0, metavar="S",
                   help="upper bound of the run (default 30); proxies alone serve this long")
    g.add_argument("--linger", type=float, default=0.3, metavar="S",
                   help="keep listening this long after the work is done (default 0.3)")
    g.add_argument("--ready-file", metavar="FILE",
                   help="write our pid here once the listeners accept connections")
    g.add_argument("-v", "--verbose", action="store_true", help="log messages to stderr")
    a = p.parse_args(argv)
    if a.certs:
        a.ca = a.ca or os.path.join(a.certs, "ca.pem")
        a.cert = a.cert or os.path.join(a.certs, "teams.pem")
        a.key = a.key or os.path.join(a.certs, "teams.key")
    if not (a.ca and a.cert and a.key):
        p.error("give --certs DIR or all of --ca, --cert, --key")
    if a.call and not (a.to_host and a.sbc):
        p.error("--call needs --to-host and --sbc")
    if not a.call and not a.proxy and not a.options:
        p.error("nothing to do: give --proxy, --call or --options")
    if a.refer_after is not None and not a.refer_to:
        p.error("--refer-after needs --refer-to")
    if a.count < 1 or a.duration <= 0:
        p.error("--count and --duration must be positive")
    return a


def main(argv=None):
    args = parse_args(argv)
    # Last-resort bound: whatever happens inside the loop, the process ends.
    watchdog = threading.Timer(args.duration + args.linger + 15, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    try:
        edge_holder = {}

        async def runner():
            edge = Edge(args)
            edge_holder["edge"] = edge
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, edge.stop.set)
            return await edge.run()
        return asyncio.run(runner())
    except (ValueError, OSError, ssl.SSLError) as exc:
        print("teams_edge: FAIL setup: %s" % exc, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
