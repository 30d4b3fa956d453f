"""One tipring call layer wired as app.py wires it (UserAgent + CallManager), fed raw datagrams
on a virtual clock, with what it does recorded: for the hostile-input tests.

The ATA is at ATA, its line's proxy at PROXY; STRANGER is any other address. `rtp_alloc`
hands out ports and a `("media", "stop", call)` gives the call's port back, as app.py's
`_close_rtp` does, so `rtp_open` shows RTP ports a finished call still holds. `ringing`
follows the line commands (`incoming` rings, `remote_hangup` stops)."""

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.ratelimit import RequestLimiter
from tipring.firmware.sip.useragent import UserAgent

ATA = ("127.0.0.1", 5070)
PROXY = ("127.0.0.1", 5060)
STRANGER = ("127.0.0.1", 5999)
USER = "1001"

SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n")


def line(**keys):
    ln = {"port": 1, "user": USER, "password": "secret", "auth_user": None, "display_name": None,
          "domain": "%s:%d" % PROXY, "no_answer_s": 60, "direct_calls": False}
    ln.update(keys)
    return ln


def request(method, ruri=None, branch="z9hG4bKa1", call_id="c1@h", cseq=1, from_tag="f1",
            to_tag=None, contact="<sip:2002@127.0.0.1:5060>", body=b"", ctype="application/sdp",
            extra=(), frm=None, via_port=5060) -> bytes:
    """A request as a PBX would relay it; `contact=None` leaves Contact out, `extra` adds
    raw header lines (str or bytes)."""
    ruri = ruri or "sip:%s@%s:%d" % (USER, ATA[0], ATA[1])
    head = [("%s %s SIP/2.0" % (method, ruri)).encode(),
            b"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (via_port, branch.encode()),
            b"Max-Forwards: 70",
            frm if isinstance(frm, bytes) else ("From: %s;tag=%s" % (frm or '"Bob" <sip:2002@pbx>', from_tag)).encode(),
            ("To: <sip:%s@pbx>%s" % (USER, ";tag=" + to_tag if to_tag else "")).encode(),
            ("Call-ID: %s" % call_id).encode(), ("CSeq: %d %s" % (cseq, method)).encode()]
    if contact is not None:
        head.append(("Contact: %s" % contact).encode())
    head += [x if isinstance(x, bytes) else x.encode() for x in extra]
    if body:
        head.append(("Content-Type: %s" % ctype).encode())
    head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def invite(**kw) -> bytes:
    kw.setdefault("body", SDP)
    return request("INVITE", **kw)


class Ata:
    """The call layer of one ATA with one line, fed datagrams by hand."""

    def __init__(self, t1=0.5, rate_limit=True, **line_keys):
        """`rate_limit=False` lifts the per-source admission limit (the fuzz runs feed
        thousands of datagrams per virtual instant: they test answers, not admission)."""
        self.now = 0.0
        self.sent = []          # (dest, bytes)
        self.events = []        # (name, fields)
        self.line_cmds = []     # (port, verb, *args)
        self.ringing = {}
        self.rtp_open = set()
        self._rtp = 20000
        self.ua = UserAgent(ATA[0], ATA[1], t1=t1, users=[USER])
        self.ua.limiter.is_trusted = lambda host, port: (host, port) == PROXY   # as app.py does
        if not rate_limit:
            self.ua.limiter = RequestLimiter(rate=1e12, burst=1e12, trusted_rate=1e12, trusted_burst=1e12,
                                             total_rate=1e12, total_burst=1e12)
        self.mgr = CallManager(self.ua, [line(**line_keys)], lambda port: PROXY, self._alloc,
                               line_busy=lambda port: False, features_for=lambda port: {})

    def _alloc(self):
        self._rtp += 2
        self.rtp_open.add(self._rtp)
        return (ATA[0], self._rtp)

    def carry(self, out) -> list:
        """Record the outputs as app.py would carry them out; returns them."""
        for o in out:
            if o[0] == "send":
                self.sent.append((tuple(o[2]), o[1]))
            elif o[0] == "event":
                self.events.append((o[1], o[2]))
            elif o[0] == "line":
                self.line_cmds.append(o[1:])
                if o[2] == "incoming":
                    self.ringing[o[1]] = True
                elif o[2] in ("remote_hangup", "call_waiting_end"):
                    self.ringing[o[1]] = False
            elif o[0] == "media" and o[1] == "stop":
                self.rtp_open.discard(o[2].rtp[1])
        return out

    def feed(self, data: bytes, src=PROXY) -> list:
        """One datagram in; the responses it drew, parsed."""
        n = len(self.sent)
        self.carry(self.ua.receive(data, src, self.now))
        return [parse_message(d) for _, d in self.sent[n:]]

    def tick(self, until: float) -> None:
        """Fire every timer due up to `until`, earliest first."""
        while True:
            d = self.ua.deadline()
            if d is None or d > until:
                break
            self.now = max(self.now, d)
            self.carry(self.ua.on_timer(self.now))
        self.now = until

    def act(self, out) -> list:
        n = len(self.sent)
        self.carry(out)
        return [parse_message(d) for _, d in self.sent[n:]]

    def idle(self) -> bool:
        """No call, no ringing, no timer of the call layer, no RTP port held."""
        m = self.mgr
        return not (m.calls or m.has_calls() or m._timers or self.rtp_open
                    or any(self.ringing.values()))

    def errors(self) -> list:
        return [f["message"] for name, f in self.events if name == "error"]
