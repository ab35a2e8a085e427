#!/usr/bin/env python3
"""SIP message parsing, building and stream framing, plus a query tool for
the JSON-lines message records written by teams_edge.py.

Library use:
    from sipmsg import Message, StreamFramer, parse_name_addr, parse_uri

Command line (for bash tests):
    sipmsg.py query FILE [filters] [--header NAME | --field NAME | --count | --json]
Filters combine with AND; the exit status is 0 when at least one record
matched (so `if sipmsg.py query ...; then` works), 1 otherwise.
"""

import argparse
import json
import re
import secrets
import sys

# RFC 3261 §7.3.3 compact forms, plus the common ones from later RFCs.
COMPACT = {
    "i": "Call-ID", "f": "From", "t": "To", "v": "Via", "m": "Contact",
    "l": "Content-Length", "c": "Content-Type", "k": "Supported", "s": "Subject",
    "e": "Content-Encoding", "o": "Event", "r": "Refer-To", "b": "Referred-By",
    "x": "Session-Expires", "u": "Allow-Events", "a": "Accept-Contact",
    "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity",
}

# Canonical spelling for headers whose usual capitalisation is not simply
# "Each-Word-Capitalised".
CANONICAL = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "p-asserted-identity": "P-Asserted-Identity", "mime-version": "MIME-Version",
    "x-ms-sbc": "X-MS-SBC", "rack": "RAck", "rseq": "RSeq", "sip-etag": "SIP-ETag",
}

# Headers that may carry several comma-separated values on one line; the
# parser splits them so that "the top Via" or "the first Contact" is simply
# element 0.
MULTI_VALUE = {"Via", "Route", "Record-Route", "Contact", "Allow", "Supported",
               "Require", "Proxy-Require", "Unsupported", "Allow-Events", "Accept"}

MAX_MESSAGE = 65536   # far above the 10 KB Teams sizing guide; guards the framer


def canonical_name(name):
    """Header name in one spelling, whatever form arrived (compact, any case)."""
    n = name.strip()
    if len(n) == 1 and n.lower() in COMPACT:
        return COMPACT[n.lower()]
    low = n.lower()
    if low in CANONICAL:
        return CANONICAL[low]
    return "-".join(p[:1].upper() + p[1:].lower() for p in low.split("-"))


def split_values(value):
    """Split a header value on commas that are outside quotes and <...>."""
    out, cur, quoted, angle, esc = [], [], False, False, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if ch == "\\" and quoted:
            esc = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        elif ch == "," and not quoted and not angle:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last or not out:
        out.append(last)
    return [v for v in out if v != ""] or [""]


class ParseError(Exception):
    pass


class Message:
    """One SIP request or response. Headers keep their order; names are
    stored canonically so lookups never depend on the sender's spelling."""

    def __init__(self, first_line="", headers=None, body=""):
        self.first_line = first_line
        self.headers = headers if headers is not None else []   # [(name, value)]
        self.body = body

    # --- classification --------------------------------------------------
    @property
    def is_request(self):
        return not self.first_line.startswith("SIP/")

    @property
    def method(self):
        return self.first_line.split(" ", 1)[0] if self.is_request else None

    @property
    def ruri(self):
        parts = self.first_line.split(" ")
        return parts[1] if self.is_request and len(parts) > 1 else None

    @property
    def status(self):
        if self.is_request:
            return None
        try:
            return int(self.first_line.split(" ")[1])
        except (IndexError, ValueError):
            return None

    @property
    def reason(self):
        parts = self.first_line.split(" ", 2)
        return parts[2] if len(parts) > 2 else ""

    # --- headers -----------------------------------------------------------
    def get_all(self, name):
        cname = canonical_name(name)
        return [v for n, v in self.headers if n == cname]

    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def set(self, name, value):
        """Replace every occurrence of a header by one value (appended if absent)."""
        cname = canonical_name(name)
        idx = next((i for i, (n, _) in enumerate(self.headers) if n == cname), None)
        self.headers = [(n, v) for n, v in self.headers if n != cname]
        if idx is None:
            self.headers.append((cname, value))
        else:
            self.headers.insert(min(idx, len(self.headers)), (cname, value))

    def add(self, name, value, first=False):
        cname = canonical_name(name)
        if first:
            self.headers.insert(0, (cname, value))
        else:
            self.headers.append((cname, value))

    def remove(self, name):
        cname = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if n != cname]

    def header_dict(self):
        """{name: [values]} as written to the record files."""
        d = {}
        for n, v in self.headers:
            d.setdefault(n, []).append(v)
        return d

    @property
    def call_id(self):
        return self.get("Call-ID", "")

    @property
    def cseq(self):
        """(number, method) from CSeq."""
        v = self.get("CSeq", "0 X").split()
        try:
            return int(v[0]), (v[1] if len(v) > 1 else "")
        except ValueError:
            return 0, (v[1] if len(v) > 1 else "")

    @property
    def from_tag(self):
        return header_param(self.get("From", ""), "tag")

    @property
    def to_tag(self):
        return header_param(self.get("To", ""), "tag")

    @property
    def branch(self):
        return header_param(self.get("Via", ""), "branch")

    # --- wire format -------------------------------------------------------
    def encode(self):
        body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
        self.set("Content-Length", str(len(body)))
        lines = [self.first_line] + ["%s: %s" % (n, v) for n, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    @classmethod
    def parse(cls, data):
        """Parse one complete message (bytes or str, head and body)."""
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        head, sep, body = data.partition("\r\n\r\n")
        if not sep:
            head, sep, body = data.partition("\n\n")
        lines = head.replace("\r\n", "\n").split("\n")
        if not lines or not lines[0].strip():
            raise ParseError("empty start line")
        first = lines[0].strip()
        if not (first.startswith("SIP/2.0 ") or first.endswith(" SIP/2.0")):
            raise ParseError("not a SIP start line: %r" % first[:80])
        headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:          # folded line
                n, v = headers[-1]
                headers[-1] = (n, v + " " + line.strip())
                continue
            if ":" not in line:
                if line.strip():
                    raise ParseError("bad header line: %r" % line[:80])
                continue
            name, value = line.split(":", 1)
            headers.append((canonical_name(name), value.strip()))
        expanded = []
        for n, v in headers:
            if n in MULTI_VALUE:
                expanded.extend((n, part) for part in split_values(v))
            else:
                expanded.append((n, v))
        return cls(first, expanded, body)

    def __repr__(self):
        return "<Message %s>" % self.first_line


class StreamFramer:
    """Splits a byte stream (TCP/TLS) into SIP messages using Content-Length.

    feed(data) returns a list of events: ("msg", Message, raw_bytes),
    ("ping", None, b"\\r\\n\\r\\n") for an RFC 5626 keep-alive ping, ("pong",
    None, b"\\r\\n") for a lone CRLF, ("error", reason, raw) for garbage (the
    caller should close the connection: framing is lost)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        events = []
        while True:
            ev = self._next()
            if ev is None:
                break
            events.append(ev)
            if ev[0] == "error":
                self.buf = b""
                break
        return events

    def _next(self):
        buf = self.buf
        # Keep-alives arrive between messages as bare CRLFs.
        if buf.startswith(b"\r\n\r\n"):
            self.buf = buf[4:]
            return ("ping", None, b"\r\n\r\n")
        if buf.startswith(b"\r\n"):
            if len(buf) < 4 and b"\r\n\r\n".startswith(buf):
                return None              # could still become a double-CRLF ping
            self.buf = buf[2:]
            return ("pong", None, b"\r\n")
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_MESSAGE:
                return ("error", "header block too large", buf)
            return None
        head = buf[:end].decode("utf-8", errors="replace")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if canonical_name(name) == "Content-Length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return ("error", "bad Content-Length", buf)
        if length < 0 or length > MAX_MESSAGE:
            return ("error", "Content-Length out of range", buf)
        total = end + 4 + length
        if len(buf) < total:
            return None
        raw = buf[:total]
        self.buf = buf[total:]
        try:
            return ("msg", Message.parse(raw), raw)
        except ParseError as exc:
            return ("error", str(exc), raw)


# --- URI and name-addr helpers ---------------------------------------------

def header_param(value, name):
    """A parameter of a header value outside its <URI> (e.g. tag, branch)."""
    rest = value[value.rfind(">") + 1:] if ">" in value else value
    for part in rest.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == name.lower():
            return v.strip() or True
    return None


def parse_name_addr(value):
    """'"Name" <sip:u@h;p>;tag=x' -> (display, uri, {params}); bare URIs too."""
    value = value.strip()
    if "<" in value:
        display = value[:value.index("<")].strip().strip('"')
        uri = value[value.index("<") + 1:value.index(">")]
        rest = value[value.index(">") + 1:]
    else:
        display = ""
        uri, _, rest = value.partition(";")
        rest = ";" + rest if rest else ""
    params = {}
    for part in rest.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip():
            params[k.strip().lower()] = v.strip()
    return display, uri, params


def parse_uri(uri):
    """sip:user@host:port;params?headers -> dict(scheme,user,host,port,params)."""
    m = re.match(r"^(sips?|tel):(?:([^@]*)@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?([^?]*)(\?.*)?$",
                 uri.strip(), re.I)
    if not m:
        raise ParseError("bad URI: %r" % uri)
    params = {}
    for part in (m.group(5) or "").split(";")[1:]:
        k, _, v = part.partition("=")
        params[k.lower()] = v
    return {"scheme": m.group(1).lower(), "user": m.group(2), "host": m.group(3),
            "port": int(m.group(4)) if m.group(4) else None, "params": params}


def new_tag():
    return secrets.token_hex(5)


def new_branch():
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id(host=""):
    return secrets.token_hex(12) + (("@" + host) if host else "")


def make_response(req, code, reason, to_tag=None, extra=None, body=""):
    """A response echoing the request's Via, From, To, Call-ID and CSeq."""
    resp = Message("SIP/2.0 %d %s" % (code, reason))
    for v in req.get_all("Via"):
        resp.add("Via", v)
    for name in ("From", "To", "Call-ID", "CSeq"):
        val = req.get(name)
        if val is None:
            continue
        if name == "To" and to_tag and header_param(val, "tag") is None:
            val = val + ";tag=" + to_tag
        resp.add(name, val)
    for n, v in (extra or []):
        resp.add(n, v)
    resp.body = body
    return resp


# --- record files ------------------------------------------------------------

def load_records(path):
    recs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    continue      # a line cut short by a kill; ignore it
    return recs


def _headers_of(rec, name):
    cname = canonical_name(name)
    return (rec.get("headers") or {}).get(cname, [])


def record_field(rec, name):
    """A top-level field, or one derived from the start line / CSeq."""
    fl = rec.get("first_line") or ""
    if name == "method":
        return None if fl.startswith("SIP/") else fl.split(" ", 1)[0]
    if name == "status":
        return fl.split(" ")[1] if fl.startswith("SIP/") else None
    if name == "ruri":
        return None if fl.startswith("SIP/") or not fl else fl.split(" ")[1]
    if name == "cseq_method":
        v = _headers_of(rec, "CSeq")
        return v[0].split()[-1] if v else None
    val = rec.get(name)
    if isinstance(val, (dict, list)):
        return json.dumps(val, sort_keys=True)
    return val


FILTERS = ("dir", "conn", "first_line", "method", "status", "cseq_method", "call_id", "peer",
           "local", "sni", "listener", "has_header", "no_header", "grep", "event", "events_too")


def match_record(rec, f):
    """True when the record passes every filter in f (a dict; None = any)."""
    fl = rec.get("first_line") or ""
    if f.get("event") is not None:
        if rec.get("event") != f["event"]:
            return False
    elif not f.get("events_too") and "event" in rec:
        return False
    checks = {
        "dir": lambda v: rec.get("dir") == v,
        "conn": lambda v: rec.get("conn") == v,
        "first_line": lambda v: fl.startswith(v),
        "method": lambda v: record_field(rec, "method") == v.upper(),
        "status": lambda v: record_field(rec, "status") == str(v),
        "cseq_method": lambda v: (record_field(rec, "cseq_method") or "").upper() == v.upper(),
        "call_id": lambda v: v in _headers_of(rec, "Call-ID"),
        "peer": lambda v: rec.get("peer") == v,
        "local": lambda v: rec.get("local") == v,
        "sni": lambda v: rec.get("sni") == v,
        "listener": lambda v: rec.get("listener") == v,
        "has_header": lambda v: bool(_headers_of(rec, v)),
        "no_header": lambda v: not _headers_of(rec, v),
        "grep": lambda v: re.search(v, json.dumps(rec)) is not None,
    }
    return all(test(f[k]) for k, test in checks.items() if f.get(k) is not None)


def select(records, **filters):
    """Records passing the filters (same names as the query options, with
    underscores): select(recs, method="BYE", dir="out")."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError("unknown filter(s): %s" % ", ".join(sorted(unknown)))
    return [r for r in records if match_record(r, filters)]


def values(records, header=None, field=None):
    """Every value of a header, or a field, over the records, in order."""
    out = []
    for r in records:
        if header:
            out.extend(_headers_of(r, header))
        else:
            v = record_field(r, field)
            if v is not None:
                out.append(v if isinstance(v, str) else json.dumps(v))
    return out


def cmd_query(a):
    recs = select(load_records(a.file), **{k: getattr(a, k) for k in FILTERS})
    if a.last:
        recs = recs[-a.last:]
    if a.first:
        recs = recs[:a.first]
    if a.count:
        print(len(recs))
        return 0 if recs else 1
    if a.header or a.field:
        out = values(recs, a.header, a.field)
    elif a.json:
        out = [json.dumps(r, sort_keys=True) for r in recs]
    else:
        out = [r.get("first_line") or ("[%s]" % r.get("event", "?")) for r in recs]
    try:
        for line in out:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:          # `| head` closed the pipe: not an error
        sys.stderr.close()
    return 0 if recs else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("query", help="select records from a teams_edge --record file")
    q.add_argument("file")
    q.add_argument("--dir", choices=["in", "out"], help="message received (in) or sent (out)")
    q.add_argument("--conn", choices=["inbound", "outbound"],
                   help="connection accepted by the edge (inbound) or opened by it (outbound)")
    q.add_argument("--first-line", help="start line begins with this text, e.g. 'INVITE' or 'SIP/2.0 200'")
    q.add_argument("--method", help="requests with this method")
    q.add_argument("--status", type=int, help="responses with this status code")
    q.add_argument("--cseq-method", help="CSeq method (selects responses to a method)")
    q.add_argument("--call-id")
    q.add_argument("--peer", help="ip:port of the other side")
    q.add_argument("--local", help="ip:port of the edge's side")
    q.add_argument("--sni", help="SNI of the connection")
    q.add_argument("--listener", help="name of the proxy listener that accepted the connection")
    q.add_argument("--has-header", help="records carrying this header")
    q.add_argument("--no-header", help="records not carrying this header")
    q.add_argument("--grep", help="regular expression searched in the JSON record")
    q.add_argument("--event", help="connection/keep-alive event records (tls_accept, tls_connect, "
                   "tls_error, keepalive, conn_closed, call_result, ...) instead of messages")
    q.add_argument("--events-too", action="store_const", const=True, default=False,
                   help="include event records in the selection")
    q.add_argument("--first", type=int, help="keep only the first N matching records")
    q.add_argument("--last", type=int, help="keep only the last N matching records")
    out = q.add_mutually_exclusive_group()
    out.add_argument("--header", help="print every value of this header (compact names accepted)")
    out.add_argument("--field", help="print a field: sni, peer, local, conn, dir, body, first_line, "
                     "method, status, ruri, cseq_method, tls_version, cipher, peer_cert, ...")
    out.add_argument("--count", action="store_true", help="print the number of matching records")
    out.add_argument("--json", action="store_true", help="print matching records as JSON lines")
    a = p.parse_args(argv)
    if a.cmd == "query":
        return cmd_query(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
