"""A virtual network for the portable SIP and call tests, on CPython and MicroPython alike.

`Rig` wraps one `UserAgent` (and what is wired to it) on a virtual clock: `feed()` hands it a
datagram as from a peer, `tick()` fires its timers, and every output is recorded as the event
loop would carry it out (`sent` datagrams, `events`, `line` commands, `media` ops). The far
end is the test itself: `reply()` builds the response a scripted registrar, proxy or phone
would send (Via, From, To, Call-ID, CSeq copied, RFC 3261 §8.2.6), and `check_digest()`
recomputes an RFC 2617 digest from the password, independently of tipring/firmware/sip/auth.py.
"""

from tipring.firmware.compat import hexdigest
from tipring.firmware.sip.message import parse_message


class Rig:
    """One user agent on a virtual clock, with what it did recorded."""

    def __init__(self, ua):
        self.ua = ua
        self.now = 0.0
        self.sent = []      # (dest, parsed message)
        self.events = []    # (name, fields)
        self.line = []      # ("line", port, verb, *args) outputs
        self.media = []     # (op, call)

    def carry(self, out) -> list:
        """Record `out` as app.py carries it out; returns the messages it sent, parsed."""
        msgs = []
        for o in out:
            if o[0] == "send":
                m = parse_message(o[1])
                self.sent.append((tuple(o[2][:2]), m))
                msgs.append(m)
            elif o[0] == "event":
                self.events.append((o[1], o[2]))
            elif o[0] == "line":
                self.line.append(o[1:])
            elif o[0] == "media":
                self.media.append((o[1], o[2]))
            else:
                raise AssertionError("unknown output %r" % (o,))
        return msgs

    def feed(self, data, src) -> list:
        """A datagram from `src` (bytes or a message); the messages the UA sent in answer."""
        if not isinstance(data, (bytes, bytearray)):
            data = data.to_bytes()
        return self.carry(self.ua.receive(data, src, self.now))

    def tick(self, until: float) -> list:
        """Fire every timer due up to `until`, earliest first; the messages sent meanwhile."""
        msgs = []
        while True:
            d = self.ua.deadline()
            if d is None or d > until:
                break
            if d > self.now:
                self.now = d
            msgs += self.carry(self.ua.on_timer(self.now))
        self.now = until
        return msgs

    def event_names(self) -> list:
        return [name for name, _ in self.events]

    def errors(self) -> list:
        return [f["message"] for name, f in self.events if name == "error"]


def reply(req, status: int, reason: str = None, to_tag: str = None, headers=(), body: bytes = b"",
          ctype: str = "application/sdp") -> bytes:
    """The response a far end sends to `req` (a parsed Request), as wire bytes."""
    h = [("Via", v) for v in req.headers.get_all("Via")]
    to = req.headers.get("To")
    if to_tag and req.to.tag is None:
        to += ";tag=" + to_tag
    h += [("From", req.headers.get("From")), ("To", to), ("Call-ID", req.call_id),
          ("CSeq", req.headers.get("CSeq"))]
    h += list(headers)
    if body:
        h.append(("Content-Type", ctype))
    lines = ["SIP/2.0 %d %s" % (status, reason or _REASONS.get(status, "Status"))]
    lines += ["%s: %s" % nv for nv in h]
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
            423: "Interval Too Brief", 481: "Call/Transaction Does Not Exist", 486: "Busy Here",
            487: "Request Terminated", 500: "Server Internal Error", 503: "Service Unavailable"}


def request_bytes(method: str, ruri: str, via: str, from_: str, to: str, call_id: str, cseq: int,
                  contact: str = None, body: bytes = b"", extra=()) -> bytes:
    """A request as a proxy relays it, as wire bytes."""
    lines = ["%s %s SIP/2.0" % (method, ruri), "Via: " + via, "Max-Forwards: 70",
             "From: " + from_, "To: " + to, "Call-ID: " + call_id, "CSeq: %d %s" % (cseq, method)]
    if contact:
        lines.append("Contact: " + contact)
    lines += list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def auth_params(value: str) -> dict:
    """The parameters of a `Digest k=v, k="v"` header value (a plain reader, not auth.py's)."""
    assert value.startswith("Digest "), value
    out = {}
    rest = value[7:]
    while rest:
        rest = rest.lstrip(" ,")
        if not rest:
            break
        k, _, rest = rest.partition("=")
        if rest.startswith('"'):
            v, _, rest = rest[1:].partition('"')
        else:
            v, _, rest = rest.partition(",")
        out[k.strip()] = v.strip()
    return out


def check_digest(req, password: str, header: str = "Authorization") -> dict:
    """Check the RFC 2617 MD5 digest (qop=auth or none) that `req` carries; its params."""
    p = auth_params(req.headers.get(header))
    ha1 = hexdigest("md5", ("%s:%s:%s" % (p["username"], p["realm"], password)).encode())
    ha2 = hexdigest("md5", ("%s:%s" % (req.method, p["uri"])).encode())
    if p.get("qop"):
        text = "%s:%s:%s:%s:%s:%s" % (ha1, p["nonce"], p["nc"], p["cnonce"], p["qop"], ha2)
    else:
        text = "%s:%s:%s" % (ha1, p["nonce"], ha2)
    want = hexdigest("md5", text.encode())
    assert p["response"] == want, "digest %s != %s" % (p["response"], want)
    assert p["uri"] == req.uri, (p["uri"], req.uri)
    return p
