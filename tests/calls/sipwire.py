"""SIP text helpers shared by the calls tests' small UDP peers."""
import argparse
import random
import socket

SDP = ("v=0\r\no=core 1 1 IN IP4 127.0.7.21\r\ns=-\r\nc=IN IP4 127.0.7.21\r\nt=0 0\r\n"
       "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


def parse(data):
    """Bytes -> (start line, {lower-case name: [values]}, body)."""
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], hdrs, body


def split(msg):
    """Text -> (start line, header lines)."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
    return head[0], head[1:]


def hdr(lines, name):
    return [l for l in lines if l.lower().startswith(name.lower() + ":")]


def value(lines, name):
    h = hdr(lines, name)
    return h[0].split(":", 1)[1].strip() if h else ""


def response(req_lines, code, phrase, to_tag=None, extra=(), body=""):
    """A response to the request whose header lines are req_lines."""
    out = ["SIP/2.0 %d %s" % (code, phrase)]
    out += hdr(req_lines, "Via") + hdr(req_lines, "From")
    to = hdr(req_lines, "To")[0]
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    out.append(to)
    out += hdr(req_lines, "Call-ID") + hdr(req_lines, "CSeq") + list(extra)
    if body:
        out.append("Content-Type: application/sdp")
    out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


def udp_socket(ip, port):
    """A UDP socket bound to ip:port, one SIP peer's."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    return s


def dialog_ids(call_prefix, tag_prefix, ip):
    """A fresh Call-ID and From-tag for a UAC's dialog."""
    return ("%s-%d@%s" % (call_prefix, random.randrange(1 << 30), ip),
            "%s%d" % (tag_prefix, random.randrange(1 << 30)))


def uac_args():
    """The carrier UACs' options: their own address, sbcd's, the numbers."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", default="127.0.7.21")
    ap.add_argument("--port", type=int, default=5060)
    ap.add_argument("--sbc-ip", default="127.0.7.1")
    ap.add_argument("--sbc-port", type=int, default=5060)
    ap.add_argument("--calling", default="5559876543")
    ap.add_argument("--called", default="5551234567")
    return ap
