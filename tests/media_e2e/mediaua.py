#!/usr/bin/env python3
"""Small SIP/SDP helpers for the media end-to-end tests (tests/media_e2e).

Subcommands
  sdp [--prefix P] [FILE]      print P_IP, P_PORT, P_KEY, P_PROTO (shell
                               assignments) of the SDP in FILE (or stdin)
  wait-sdp PREFIX=SOURCE...    wait for SDPs in records, print their fields
                               for all of them at once (see cmd_wait_sdp)
  carrier-uac                  UDP UAC of the carrier core: one call with a
                               fixed RTP/AVP SDP; records every response
  carrier-uas                  UDP UAS of the carrier core: answers INVITEs
                               and re-INVITEs with a fixed RTP/AVP SDP, ACK,
                               BYE; records every SDP the SBC sent
  teams-uac                    Teams side over mutual TLS: one call to sbcd,
                               SRTP offer with our key, optional re-INVITE
                               with a fresh key, BYE; records every answer
  mangle                       UDP man-in-the-middle in front of an SRTP
                               endpoint: forwards both ways, and toward the
                               SBC duplicates every packet, replays old ones
                               and injects what a wrong-key sender sends

Records are JSON lines: {"event": ..., "sdp": ..., "t": ...}. Every command
is bounded by --duration and exits non-zero when its part went wrong.
"""
import argparse
import base64
import json
import os
import re
import secrets
import select
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from sipmsg import Message, StreamFramer, make_response, new_branch, new_tag, parse_name_addr  # noqa: E402


# --- SDP -----------------------------------------------------------------------

def sdp_info(text):
    """(ip, port, key, proto) of the first audio stream of an SDP text."""
    ip = port = key = proto = None
    in_audio = False
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if line.startswith("m="):
            if in_audio:
                break
            parts = line[2:].split()
            if parts and parts[0] == "audio":
                in_audio = True
                port, proto = int(parts[1]), parts[2]
        elif line.startswith("c=IN IP4 ") and (ip is None or in_audio):
            ip = line.split()[2]
        elif in_audio and line.startswith("a=crypto:") and "AES_CM_128_HMAC_SHA1_80" in line and key is None:
            m = re.search(r"inline:([A-Za-z0-9+/=]{40})", line)
            key = m.group(1) if m else None
    return ip, port, key, proto


def new_key():
    return base64.b64encode(secrets.token_bytes(30)).decode()


def teams_sdp(ip, port, key, version):
    return "\r\n".join([
        "v=0", "o=- 4711 %d IN IP4 %s" % (version, ip), "s=session", "c=IN IP4 %s" % ip,
        "b=CT:10000000", "t=0 0", "m=audio %d RTP/SAVP 0 8 101" % port, "c=IN IP4 %s" % ip,
        "a=rtcp:%d" % (port + 1),
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31" % key,
        "a=rtcp-mux", "a=label:main-audio", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv", ""])


def carrier_sdp(ip, port, version):
    return "\r\n".join([
        "v=0", "o=core 1 %d IN IP4 %s" % (version, ip), "s=-", "c=IN IP4 %s" % ip, "t=0 0",
        "m=audio %d RTP/AVP 0 101" % port, "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv", ""])


class Record:
    def __init__(self, path):
        self.fh = open(path, "a", encoding="utf-8") if path else None

    def __call__(self, event, **kw):
        kw.update(event=event, t=round(time.time(), 3))
        line = json.dumps(kw)
        print(line if len(line) < 200 else line[:200] + "...", file=sys.stderr, flush=True)
        if self.fh:
            self.fh.write(line + "\n")
            self.fh.flush()


def cmd_sdp(a):
    text = open(a.file, encoding="utf-8", errors="replace").read() if a.file and a.file != "-" else sys.stdin.read()
    ip, port, key, proto = sdp_info(text)
    if port is None:
        print("mediaua sdp: no m=audio line in the input", file=sys.stderr)
        return 1
    p = a.prefix
    print("%s_IP=%s %s_PORT=%s %s_KEY='%s' %s_PROTO=%s" % (p, ip or "", p, port, p, key or "", p, proto))
    return 0


def _find(source):
    """The record a wait-sdp SOURCE names, or None (yet)."""
    kind, _, rest = source.partition(":")
    if kind == "ua":
        path, _, event = rest.rpartition(":")
    else:
        path, event = rest, None
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if kind == "ua":
            if r.get("event") == event and (event != "response" or r.get("status", 0) >= 200):
                return {"sdp": r.get("sdp", ""), "status": r.get("status")}
            continue
        fl = r.get("first_line", "")
        cseq = " ".join(r.get("headers", {}).get("CSeq", [""]))
        if kind == "edge-offer" and r.get("dir") == "in" and fl.startswith("INVITE ") and "tag=" not in \
                " ".join(r.get("headers", {}).get("To", [""])):
            return {"sdp": r.get("body", ""), "status": None}
        if kind == "edge-answer" and r.get("dir") == "out" and fl.startswith("SIP/2.0 200") and cseq.endswith("INVITE"):
            return {"sdp": r.get("body", ""), "status": 200}
    return None


def cmd_wait_sdp(a):
    """Waits until every PREFIX=SOURCE is in its record, then prints shell
    assignments PREFIX_IP/_PORT/_KEY/_PROTO/_STATUS for all of them. SOURCE:
    edge-offer:FILE (the SBC's initial INVITE SDP in a teams_edge record),
    edge-answer:FILE (the edge's 200 to it), ua:FILE:EVENT (a mediaua record;
    EVENT response = the final response)."""
    deadline = time.monotonic() + a.timeout
    found = {}
    while True:
        for spec in a.specs:
            prefix, _, source = spec.partition("=")
            if prefix not in found:
                r = _find(source)
                if r is not None:
                    found[prefix] = r
        if len(found) == len(a.specs) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    missing = [s for s in a.specs if s.partition("=")[0] not in found]
    if missing:
        print("mediaua wait-sdp: not found within %.1f s: %s" % (a.timeout, " ".join(missing)), file=sys.stderr)
        return 1
    for prefix, r in found.items():
        ip, port, key, proto = sdp_info(r["sdp"] or "")
        print("%s_IP=%s %s_PORT=%s %s_KEY='%s' %s_PROTO=%s %s_STATUS=%s" % (
            prefix, ip or "", prefix, port or "", prefix, key or "", prefix, proto or "", prefix, r["status"] or ""))
    return 0


# --- carrier UAS over UDP ----------------------------------------------------

def cmd_carrier_uas(a):
    rec = Record(a.record)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.ip, a.port))
    if a.ready_file:
        open(a.ready_file, "w").write(str(os.getpid()))
    deadline = time.monotonic() + a.duration
    tag, version, answered, bye = new_tag(), 1, {}, False
    while time.monotonic() < deadline and not bye:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        try:
            msg = Message.parse(data)
        except Exception:  # noqa: BLE001 - a test tool: ignore what it cannot read
            continue
        if not msg.is_request:
            continue
        m = msg.method
        if m == "INVITE":
            reinvite = msg.to_tag is not None
            key = (msg.call_id, msg.cseq[0])
            if key not in answered:
                version += 1 if reinvite else 0
                rec("reinvite" if reinvite else "invite", sdp=msg.body, call_id=msg.call_id)
                answered[key] = carrier_sdp(a.ip, a.rtp_port, version)
            contact = [("Contact", "<sip:core@%s:%d>" % (a.ip, a.port)), ("Content-Type", "application/sdp")]
            if not reinvite:
                s.sendto(make_response(msg, 180, "Ringing", to_tag=tag).encode(), peer)
            s.sendto(make_response(msg, 200, "OK", to_tag=tag, extra=contact, body=answered[key]).encode(), peer)
        elif m == "ACK":
            rec("ack", call_id=msg.call_id)
        elif m == "BYE":
            s.sendto(make_response(msg, 200, "OK").encode(), peer)
            rec("bye", call_id=msg.call_id)
            bye = True
        elif m in ("OPTIONS", "CANCEL", "UPDATE", "INFO"):
            s.sendto(make_response(msg, 200, "OK").encode(), peer)
    if a.expect_bye and not bye:
        rec("error", why="no BYE before the end of the run")
        return 1
    return 0


def cmd_carrier_uac(a):
    """One call from the carrier core over UDP: INVITE (retransmitted per
    Timer A), ACK of the final response, then wait for the SBC's BYE (or send
    ours once --hangup-file exists). Exit 0 when the final status is --expect
    and, for a 2xx, the call ended with a BYE answered 200."""
    rec = Record(a.record)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.ip, a.port))
    sbc_ip, _, sbc_port = a.sbc.rpartition(":")
    sbc = (sbc_ip, int(sbc_port))
    deadline = time.monotonic() + a.duration
    call_id, tag, branch = "%s@%s" % (secrets.token_hex(8), a.ip), new_tag(), new_branch()
    local = "<sip:%s@%s:%d>" % (a.from_number, a.ip, a.port)
    ruri = "sip:%s@%s" % (a.to_number, a.sbc)
    inv = Message("INVITE %s SIP/2.0" % ruri)
    inv.add("Via", "SIP/2.0/UDP %s:%d;branch=%s" % (a.ip, a.port, branch))
    inv.add("Max-Forwards", "70")
    inv.add("From", "%s;tag=%s" % (local, tag))
    inv.add("To", "<%s>" % ruri)
    inv.add("Call-ID", call_id)
    inv.add("CSeq", "1 INVITE")
    inv.add("Contact", local)
    inv.add("Content-Type", "application/sdp")
    inv.body = carrier_sdp(a.ip, a.rtp_port, 1)
    raw = inv.encode()
    rec("offer", sdp=inv.body, call_id=call_id)
    s.sendto(raw, sbc)
    t_retx, interval, final = time.monotonic() + 0.5, 0.5, None
    while final is None and time.monotonic() < deadline:
        s.settimeout(max(0.01, min(t_retx, deadline) - time.monotonic()))
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            if time.monotonic() >= t_retx:
                s.sendto(raw, sbc)
                interval = min(interval * 2, 4)
                t_retx = time.monotonic() + interval
            continue
        msg = Message.parse(data)
        if not msg.is_request and msg.call_id == call_id and msg.cseq == (1, "INVITE"):
            rec("response", status=msg.status, sdp=msg.body, headers=msg.header_dict())
            if msg.status >= 200:
                final = msg
    if final is None:
        rec("error", why="no final response")
        return 1
    ack = Message("ACK %s SIP/2.0" % ruri)
    ack.add("Via", "SIP/2.0/UDP %s:%d;branch=%s" % (a.ip, a.port, branch if final.status >= 300 else new_branch()))
    ack.add("Max-Forwards", "70")
    ack.add("From", "%s;tag=%s" % (local, tag))
    ack.add("To", final.get("To"))
    ack.add("Call-ID", call_id)
    ack.add("CSeq", "1 ACK")
    if final.status < 300:
        target = parse_name_addr(final.get("Contact"))[1]
        ack.first_line = "ACK %s SIP/2.0" % target
    s.sendto(ack.encode(), sbc)
    if final.status != a.expect:
        rec("error", why="final %d, expected %d" % (final.status, a.expect))
        return 1
    if final.status >= 300:
        return 0
    while time.monotonic() < deadline:
        if a.hangup_file and os.path.exists(a.hangup_file):
            bye = Message("BYE %s SIP/2.0" % target)
            bye.add("Via", "SIP/2.0/UDP %s:%d;branch=%s" % (a.ip, a.port, new_branch()))
            bye.add("Max-Forwards", "70")
            bye.add("From", "%s;tag=%s" % (local, tag))
            bye.add("To", final.get("To"))
            bye.add("Call-ID", call_id)
            bye.add("CSeq", "2 BYE")
            s.sendto(bye.encode(), sbc)
            a.hangup_file = None
        s.settimeout(0.1)
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        msg = Message.parse(data)
        if msg.is_request and msg.method == "BYE":
            s.sendto(make_response(msg, 200, "OK").encode(), peer)
            rec("bye_received", call_id=msg.call_id)
            return 0
        if msg.is_request and msg.method != "ACK":
            s.sendto(make_response(msg, 200, "OK").encode(), peer)
        if not msg.is_request and msg.cseq[1] == "BYE" and msg.status >= 200:
            rec("bye_answered", status=msg.status)
            return 0 if msg.status == 200 else 1
    rec("error", why="the call did not end before the end of the run")
    return 1


# --- Teams UAC over mutual TLS -------------------------------------------------

class TlsConn:
    def __init__(self, a):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(a.certs, "ca.pem"))
        ctx.load_cert_chain(os.path.join(a.certs, "teams.pem"), os.path.join(a.certs, "teams.key"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        host, _, port = a.sbc.rpartition(":")
        raw = socket.create_connection((host, int(port)), timeout=5, source_address=(a.source, 0))
        self.sock = ctx.wrap_socket(raw, server_hostname=a.to_host)
        self.local = "%s:%d" % self.sock.getsockname()[:2]
        self.framer = StreamFramer()
        self.queue = []

    def send(self, msg):
        self.sock.sendall(msg.encode())

    def recv(self, timeout):
        end = time.monotonic() + timeout
        while not self.queue:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise ConnectionError("sbcd closed the TLS connection")
            for kind, msg, _raw in self.framer.feed(data):
                if kind == "msg":
                    self.queue.append(msg)
                elif kind == "ping":
                    self.sock.sendall(b"\r\n")
        return self.queue.pop(0)


def wait_file(path, deadline):
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def cmd_teams_uac(a):
    rec = Record(a.record)
    deadline = time.monotonic() + a.duration
    conn = TlsConn(a)
    call_id, tag, cseq = secrets.token_hex(12), new_tag(), 1
    local_uri = "<sip:%s@sip.pstnhub.microsoft.com;user=phone>" % a.from_number
    remote_uri = "<sip:%s@%s;user=phone>" % (a.to_number, a.to_host)
    keys = [new_key()]
    version = 1

    def transact(req):
        """Sends req, answers/ignores requests meanwhile, returns the final response."""
        conn.send(req)
        while time.monotonic() < deadline:
            msg = conn.recv(deadline - time.monotonic())
            if msg is None:
                break
            if msg.is_request:
                conn.send(make_response(msg, 200, "OK"))
                continue
            if msg.call_id == call_id and msg.cseq == req.cseq and msg.status >= 200:
                return msg
        raise TimeoutError("no final response to %s" % req.method)

    inv = Message("INVITE sip:%s@%s:5061;user=phone;transport=tls SIP/2.0" % (a.to_number, a.to_host))
    inv.add("Via", "SIP/2.0/TLS %s;branch=%s" % (conn.local, new_branch()))
    inv.add("Max-Forwards", "70")
    inv.add("From", "%s;tag=%s" % (local_uri, tag))
    inv.add("To", remote_uri)
    inv.add("Call-ID", call_id)
    inv.add("CSeq", "%d INVITE" % cseq)
    inv.add("Contact", "<sip:%s;transport=tls>" % a.contact)
    inv.add("Allow", "INVITE, ACK, OPTIONS, CANCEL, BYE, NOTIFY, UPDATE, REFER, INFO")
    inv.add("Content-Type", "application/sdp")
    inv.body = teams_sdp(a.rtp_ip, a.rtp_port, keys[0], version)
    rec("offer", sdp=inv.body, key=keys[0])
    resp = transact(inv)
    rec("answer", status=resp.status, sdp=resp.body)
    if resp.status != 200:
        ack = Message("ACK %s SIP/2.0" % inv.ruri)
        for h in ("Via", "Max-Forwards", "From"):
            ack.add(h, inv.get(h))
        ack.add("To", resp.get("To"))
        ack.add("Call-ID", call_id)
        ack.add("CSeq", "%d ACK" % cseq)
        conn.send(ack)
        return 0 if resp.status == a.expect else 1
    remote_tag = resp.to_tag
    target = parse_name_addr(resp.get("Contact"))[1]
    routes = list(reversed(resp.get_all("Record-Route")))

    def in_dialog(method, n):
        m = Message("%s %s SIP/2.0" % (method, target))
        m.add("Via", "SIP/2.0/TLS %s;branch=%s" % (conn.local, new_branch()))
        m.add("Max-Forwards", "70")
        m.add("From", "%s;tag=%s" % (local_uri, tag))
        m.add("To", "%s;tag=%s" % (remote_uri, remote_tag))
        m.add("Call-ID", call_id)
        m.add("CSeq", "%d %s" % (n, method))
        for r in routes:
            m.add("Route", r)
        return m

    conn.send(in_dialog("ACK", cseq))
    for i in range(a.rekeys):
        if not wait_file("%s.%d" % (a.rekey_file, i + 1), deadline):
            rec("error", why="rekey trigger never came")
            return 1
        keys.append(new_key())
        version += 1
        cseq += 1
        re_inv = in_dialog("INVITE", cseq)
        re_inv.add("Contact", "<sip:%s;transport=tls>" % a.contact)
        re_inv.add("Content-Type", "application/sdp")
        re_inv.body = teams_sdp(a.rtp_ip, a.rtp_port, keys[-1], version)
        rec("reoffer", sdp=re_inv.body, key=keys[-1])
        r = transact(re_inv)
        rec("reanswer", status=r.status, sdp=r.body)
        conn.send(in_dialog("ACK", cseq))
        if r.status != 200:
            return 1
    if a.hangup_file and not wait_file(a.hangup_file, deadline):
        rec("error", why="hangup trigger never came")
        return 1
    cseq += 1
    r = transact(in_dialog("BYE", cseq))
    rec("bye_answered", status=r.status)
    return 0 if r.status == 200 else 1


# --- replaying / injecting man in the middle ------------------------------------

def cmd_mangle(a):
    """Sits at the address the SBC sends SRTP to (--listen). Packets from the
    SBC go to --endpoint; packets from --endpoint go to the SBC twice (an
    immediate replay), and every 10th time a packet 5 back and the very first
    one are replayed again (within and beyond the replay window). Packets
    arriving on --inject go to the SBC as well (e.g. a wrong-key sender)."""
    def addr(s):
        h, _, p = s.rpartition(":")
        return (h, int(p))
    sbc, endpoint = addr(a.sbc), addr(a.endpoint)
    main = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    main.bind(addr(a.listen))
    inj = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inj.bind(addr(a.inject))
    if a.ready_file:
        open(a.ready_file, "w").write(str(os.getpid()))
    deadline = time.monotonic() + a.duration
    sent = []
    counts = dict(from_sbc=0, valid=0, replays=0, injected=0)
    while time.monotonic() < deadline:
        r, _, _ = select.select([main, inj], [], [], max(0.01, deadline - time.monotonic()))
        for sk in r:
            data, src = sk.recvfrom(2048)
            if sk is inj:
                main.sendto(data, sbc)
                counts["injected"] += 1
            elif src == endpoint:
                main.sendto(data, sbc)
                main.sendto(data, sbc)
                counts["valid"] += 1
                counts["replays"] += 1
                sent.append(data)
                if len(sent) % 10 == 0 and len(sent) > 5:
                    main.sendto(sent[-6], sbc)
                    main.sendto(sent[0], sbc)
                    counts["replays"] += 2
            else:
                main.sendto(data, endpoint)
                counts["from_sbc"] += 1
        if a.stop_file and os.path.exists(a.stop_file):
            break
    # last: replay the whole valid stream once more, in order
    for d in sent:
        main.sendto(d, sbc)
        counts["replays"] += 1
        time.sleep(0.001)
    print("mangle: " + " ".join("%s=%d" % kv for kv in counts.items()), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sdp")
    p.add_argument("--prefix", default="SDP")
    p.add_argument("file", nargs="?")
    p = sub.add_parser("wait-sdp")
    p.add_argument("--timeout", type=float, default=8)
    p.add_argument("specs", nargs="+", metavar="PREFIX=SOURCE")
    p = sub.add_parser("carrier-uas")
    p.add_argument("--ip", required=True)
    p.add_argument("--port", type=int, default=5060)
    p.add_argument("--rtp-port", type=int, required=True)
    p.add_argument("--record")
    p.add_argument("--ready-file")
    p.add_argument("--expect-bye", action="store_true")
    p.add_argument("--duration", type=float, default=25)
    p = sub.add_parser("carrier-uac")
    p.add_argument("--ip", required=True)
    p.add_argument("--port", type=int, default=5060)
    p.add_argument("--sbc", required=True, help="IP:PORT of sbcd's carrier-side UDP listener")
    p.add_argument("--from-number", default="5559876543")
    p.add_argument("--to-number", default="5551234567")
    p.add_argument("--rtp-port", type=int, required=True)
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--hangup-file", help="send BYE once this file exists (default: wait for the SBC's)")
    p.add_argument("--record")
    p.add_argument("--duration", type=float, default=25)
    p = sub.add_parser("teams-uac")
    p.add_argument("--certs", required=True)
    p.add_argument("--sbc", required=True, help="IP:PORT of sbcd's TLS listener")
    p.add_argument("--source", required=True, help="our address (a Teams proxy's)")
    p.add_argument("--to-host", default="acme.sbc.lab.example")
    p.add_argument("--contact", default="sip.pstnhub.microsoft.com:5061")
    p.add_argument("--from-number", default="+15551230001")
    p.add_argument("--to-number", default="+15557654321")
    p.add_argument("--rtp-ip", required=True)
    p.add_argument("--rtp-port", type=int, required=True)
    p.add_argument("--rekeys", type=int, default=0, help="re-INVITEs with a fresh key to send")
    p.add_argument("--rekey-file", help="re-INVITE number N waits for FILE.N to exist")
    p.add_argument("--hangup-file", help="BYE once this file exists")
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--record")
    p.add_argument("--duration", type=float, default=25)
    p = sub.add_parser("mangle")
    p.add_argument("--listen", required=True)
    p.add_argument("--sbc", required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--inject", required=True)
    p.add_argument("--stop-file")
    p.add_argument("--ready-file")
    p.add_argument("--duration", type=float, default=20)
    a = ap.parse_args()
    fn = {"sdp": cmd_sdp, "wait-sdp": cmd_wait_sdp, "carrier-uas": cmd_carrier_uas, "carrier-uac": cmd_carrier_uac,
          "teams-uac": cmd_teams_uac, "mangle": cmd_mangle}[a.cmd]
    try:
        return fn(a)
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError, ValueError) as exc:
        print("mediaua %s: %r" % (a.cmd, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
