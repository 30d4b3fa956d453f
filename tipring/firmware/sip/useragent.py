"""The user agent core: where datagrams, transactions and transaction users meet.

Rules:
1. Sans-IO. `receive(data, addr, now)`, `on_timer(now)` and the TU verbs return outputs:
   `("send", bytes, (host, port))` and `("event", name, fields)`; `deadline()` says when
   `on_timer()` is due next. The event loop carries them out; nothing here blocks.
2. Bad input never wins: a datagram that does not parse gets `400` with the fault as reason
   phrase when enough of it survives to answer (Via, From, To, Call-ID, CSeq), and is otherwise
   dropped; either way an `error` event says why. Nothing raises out of `receive()`.
3. No sender takes the ATA's time: a request that would open a new transaction passes the
   per-source `RequestLimiter` first (tipring/firmware/sip/ratelimit.py), and the transaction table is
   bounded; what either refuses is dropped unanswered, counted in `stats` ("limited",
   "overload") and reported as one `error` event per episode, not one per message.
4. Requests the ATA does not serve get the right answer (RFC 3261 §8.2): unknown method 501,
   a Request-URI scheme other than sip/sips/tel 416, a known method we do not take out of
   dialog 405 with Allow, a stray in-dialog request 481, an unsupported Require 420 with
   Unsupported; an INVITE refused here is answered statelessly (§8.2.7, one datagram). A
   handler that raises gets the request a 500 and an `error` event.

Theory of operation: a transaction user (TU) is an object with `next_hop` (host, port),
`on_response(resp, now)`, `on_failure(reason, now)`, `on_timer(now)` and `deadline()`, whose
verbs return `("send", Request)` and `("event", name, fields)` actions; `Registration` is one.
The UA puts the top Via (branch, rport: RFC 3581) on each request a TU sends, keeps which TU
owns which client transaction, and hands it the final responses and timeouts (each kind of
transaction-layer action has its method, named in `_TL_ACTIONS` at the end). Requests that
open no transaction of ours go to a handler per method (`handlers`), which the call layer
fills; OPTIONS is answered here (§11.2). Responses go back per the top Via (§18.2.2, with
`received`/`rport`).
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.message import parse_message, validate, Response, Request
from tipring.firmware.sip.headers import SipParseError
from tipring.firmware.sip.ratelimit import RequestLimiter
from tipring.firmware.sip.transaction import MAGIC_COOKIE, server_key
from tipring.firmware.sip.transaction_layer import TransactionLayer

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY"
KNOWN_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "PRACK", "REFER",
                 "NOTIFY", "REGISTER", "SUBSCRIBE", "MESSAGE", "PUBLISH")
SUPPORTED = ("replaces", "100rel", "timer", "norefersub")
URI_SCHEMES = ("sip", "sips", "tel")   # §8.2.2.1: any other Request-URI scheme is 416
HISTORY = 400


def summary(msg) -> str:
    if msg.is_request:
        return "%s %s" % (msg.method, msg.uri)
    try:
        method = msg.cseq.method
    except ValueError:
        method = "?"
    return "%d %s (%s)" % (msg.status, msg.reason, method)


def _raw_headers(data: bytes) -> dict:
    """First value of each header, read leniently from a message that failed to parse."""
    out = {}
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n")
    short = {"v": "via", "f": "from", "t": "to", "i": "call-id"}
    for line in head[1:]:
        line = line.rstrip(b"\r")
        if b":" not in line or line[:1] in (b" ", b"\t"):
            continue
        name, _, value = line.partition(b":")
        try:
            n = name.decode().strip().lower()
        except UnicodeError:
            continue
        # a value that is not UTF-8 is echoed with U+FFFD: the 400 still reaches the sender
        # (responses match on the Via branch and CSeq, §17.1.3) instead of silence
        v = value.decode("utf-8", "replace").strip()
        if any(c < " " and c != "\t" for c in v):
            continue   # a bare CR, LF or NUL would make our answer unparsable: not echoed
        n = short.get(n, n)
        if n == "via":
            out.setdefault("via", []).append(v)
        elif n not in out:
            out[n] = v
    return out


def bad_request_for(data: bytes, reason: str):
    """A 400 for an unparsable request, or None when it cannot be answered (§8.2, §21.4.1)."""
    first = data.lstrip(b"\r\n").split(b"\n", 1)[0]
    if first.startswith(b"SIP/") or first.startswith(b"ACK "):
        return None  # never answer a response or an ACK
    raw = _raw_headers(data)
    if not all(k in raw for k in ("via", "from", "to", "call-id", "cseq")):
        return None
    phrase = "Bad Request: " + "".join(c for c in reason if 32 <= ord(c) < 127)[:120]
    h = [("Via", v) for v in raw["via"]]
    h += [("From", raw["from"]), ("To", raw["to"]), ("Call-ID", raw["call-id"]), ("CSeq", raw["cseq"])]
    return Response(400, phrase, h)


def response_to(req, status: int, reason=None, to_tag=None, extra=()):
    """A response copying Via, From, To, Call-ID, CSeq (§8.2.6.2), To tag added when given."""
    h = [("Via", v) for v in req.headers.get_all("Via")]
    to = req.headers.get("To")
    if to_tag and ";tag=" not in to.replace(" ", "").lower():
        to = to + ";tag=" + to_tag
    h += [("From", req.headers.get("From")), ("To", to), ("Call-ID", req.headers.get("Call-ID")),
          ("CSeq", req.headers.get("CSeq"))]
    h += list(extra)
    return Response(status, reason, h)


class UserAgent:
    """Represents the SIP user agent of the ATA on one local address.

    :param host, port: the bound address (Via sent-by, Contact).
    :param transport: "udp", "tcp" or "tls". Over a stream transport Via carries `alias`
        (RFC 5923: the registrar may send its requests back over our connection), the Contact
        `;transport=tcp|tls`, timers run as reliable (no retransmits), and a response goes back
        to where its request came from: the connection it came on (§18.2.2).
    :param users: the user parts that are ours (Request-URI check); empty = any.
    """

    def __init__(self, host: str, port: int, transport: str = "udp", user_agent: str = "tipring",
                 t1: float = 0.5, t2: float = 4.0, t4: float = 5.0, users=()):
        self.host = host
        self.port = port
        self.transport = transport.upper()
        self.user_agent = user_agent
        self.reliable = transport.lower() != "udp"
        self.tl = TransactionLayer(t1, t2, t4, reliable=self.reliable)
        self.src = {}        # server transaction -> the peer its request came from (stream transports)
        self.tus = []
        self.owner = {}      # client transaction -> TU
        self.dest = {}       # client transaction -> (host, port)
        self.handlers = {}   # method -> fn(req, tx, src, now) -> list of outputs
        self.users = set(users)
        self.trace = False
        self.history = []    # recent messages, for `show ladder`
        self.stats = {"in": 0, "out": 0, "bad": 0, "limited": 0, "overload": 0}
        self.limiter = RequestLimiter()
        self._overload_reported = (None, 0)

    # ------------------------------------------------------------------ TUs
    def add_tu(self, tu) -> None:
        if tu not in self.tus:
            self.tus.append(tu)

    def remove_tu(self, tu) -> None:
        """`tu` leaves: its deadline and timers no longer count (removing twice is harmless).
        Responses to requests it already sent still reach it (a de-REGISTER's answer goes to
        the registration that sent it), until their transactions end."""
        if tu in self.tus:
            self.tus.remove(tu)

    def run_tu(self, tu, actions, now: float) -> list:
        """Carry out a TU's actions: send its requests (with Via) and pass the rest on.
        `("send", req)` goes to `tu.next_hop`; `("send", req, dest)` to dest."""
        out = []
        for a in actions:
            if a[0] == "send" and not isinstance(a[1], (bytes, bytearray)):
                dest = a[2] if len(a) > 2 else tu.next_hop
                out += self.send_request(a[1], dest, now, tu)
            elif a[0] == "respond":
                out += self.send_response(a[1], now)
            elif a[0] == "cancel":
                out += self.cancel(a[1], now)
            else:
                out.append(a)
        return out

    def tx_for(self, request):
        """The client transaction that carries `request` (the object we sent), or None."""
        for tx in self.owner:
            if tx.request is request:
                return tx
        return None

    def cancel(self, invite_tx, now: float) -> list:
        """CANCEL a pending INVITE client transaction (§9.1), to where the INVITE went."""
        out = []
        dest = self.dest.get(invite_tx)
        for a in self.tl.cancel(invite_tx, now):
            if a.kind == "send" and a.tx is not None and dest is not None:
                self.dest[a.tx] = dest
                out += self._wire(a.msg, dest, now)
            else:
                out += self._tl_action(a, now)
        return out

    # ------------------------------------------------------------------ sending
    def via(self) -> str:
        # alias (RFC 5923 §5): over a stream we take requests back on the connection we opened;
        # Kamailio with tcp_accept_aliases then routes to our Contact over it
        return "SIP/2.0/%s %s:%d;branch=%s%s;rport%s" % (self.transport, self._host_text(), self.port,
                                                         MAGIC_COOKIE, random_hex(8),
                                                         ";alias" if self.reliable else "")

    def contact_uri(self, user: str, host: str = None) -> str:
        """Our Contact URI for `user` (at `host`, default the bound address): `;transport=`
        names a stream transport so in-dialog requests and calls come back over it (§19.1.1).
        Over TLS the scheme stays `sip:` with `transport=tls`, what registrars and PBXs take
        (RFC 5630 §3.1.3 would have `sips:`, which also demands TLS on every hop behind)."""
        h = host or self.host
        uri = "sip:%s@%s:%d" % (user, "[%s]" % h if ":" in h else h, self.port)
        if self.reliable:
            uri += ";transport=%s" % self.transport.lower()
        return uri

    def _host_text(self):
        return "[%s]" % self.host if ":" in self.host else self.host

    def send_request(self, req: Request, dest, now: float, owner=None) -> list:
        """Send `req` to `dest` in a new client transaction owned by `owner` (a TU or None)."""
        if "Via" not in req.headers:
            req.headers.add("Via", self.via(), first=True)
        if "Max-Forwards" not in req.headers:
            req.headers.set("Max-Forwards", "70")
        if "User-Agent" not in req.headers:
            req.headers.set("User-Agent", self.user_agent)
        acts = self.tl.send_request(req, now)
        tx = acts[0].tx if acts else None
        if tx is not None:
            self.owner[tx] = owner
            self.dest[tx] = dest
        out = []
        for a in acts:
            if a.kind == "send":
                out += self._wire(a.msg, dest, now)
            else:
                out += self._tl_action(a, now)
        return out

    def respond_stateless(self, req, tx, resp: Response, now: float) -> list:
        """Answer `req` with `resp` as a stateless UAS (RFC 3261 §8.2.7): its server
        transaction `tx` is dropped, so no 100 Trying and no retransmission follow; the
        response is one datagram to where the top Via says."""
        self.tl.discard(tx)
        return self._wire(resp, self.response_address(resp), now)

    def send_response(self, resp: Response, now: float) -> list:
        out = []
        for a in self.tl.send_response(resp, now):
            out += self._tl_action(a, now)
        return out

    def _wire(self, msg, dest, now):
        data = msg.to_bytes()   # not bytes(msg): MicroPython has no __bytes__
        self.stats["out"] += 1
        out = [("send", data, dest)]
        self._note("out", msg, dest, now, out)
        return out

    def _note(self, direction, msg, peer, now, out):
        try:
            cid = msg.call_id
        except ValueError:
            cid = None
        rec = {"t": now, "dir": direction, "summary": summary(msg), "peer": "%s:%d" % tuple(peer[:2]),
               "local": "%s:%d" % (self.host, self.port), "call_id": cid}
        self.history.append(rec)
        if len(self.history) > HISTORY:
            del self.history[:HISTORY // 4]
        if self.trace:
            out.append(("event", "sip", {"dir": direction, "summary": rec["summary"], "peer": rec["peer"],
                                         "call_id": cid}))

    def _invite_dest(self, cancel):
        branch = cancel.via[0].branch
        for tx, dest in self.dest.items():
            if tx.request is not None and tx.request.method == "INVITE" and tx.branch == branch:
                return dest
        return None

    def response_address(self, resp):
        """Where a response goes (§18.2.2 with RFC 3581): received/rport of the top Via."""
        top = resp.via[0]
        host = top.params.get("received") or top.host
        rport = top.params.get("rport")
        port = int(rport) if rport and rport.isdigit() else (top.port or 5060)
        return (host, port)

    # ------------------------------------------------------------------ receiving
    def receive(self, data: bytes, addr, now: float) -> list:
        if not data.strip(b"\r\n"):
            return []  # CRLF keep-alive (RFC 5626 §4.4.1)
        self.stats["in"] += 1
        try:
            msg = parse_message(data)
            validate(msg)
        except SipParseError as e:
            if not data.lstrip(b"\r\n").startswith(b"SIP/") and not self._admit(addr, now):
                return self._limited_report(addr, now)
            self.stats["bad"] += 1
            out = [("event", "error", {"where": "sip", "message": "malformed message from %s:%d: %s"
                                       % (addr[0], addr[1], e)})]
            bad = bad_request_for(data, str(e))
            if bad is not None:
                out.append(("send", bad.to_bytes(), addr))
            return out
        if msg.is_request and not self._is_retransmission(msg) and not self._admit(addr, now):
            return self._limited_report(addr, now)
        self._note("in", msg, addr, now, [])
        out = []
        if self.trace:
            out.append(("event", "sip", {"dir": "in", "summary": summary(msg), "peer": "%s:%d" % addr[:2],
                                         "call_id": msg.call_id}))
        if msg.is_request:
            self._stamp_via(msg, addr)
        for a in self.tl.receive(msg, now):
            out += self._tl_action(a, now, addr)
        return out

    def _is_retransmission(self, req) -> bool:
        """True when `req` belongs to a live server transaction (a retransmission, an ACK to
        a non-2xx or a CANCEL's INVITE): work already admitted, never limited."""
        try:
            return server_key(req) in self.tl.transactions
        except ValueError:
            return False

    def _admit(self, addr, now) -> bool:
        if self.limiter.admit(addr[0], addr[1], now):
            return True
        self.stats["limited"] += 1
        return False

    def _limited_report(self, addr, now) -> list:
        n = self.limiter.episode(now)
        if n is None:
            return []
        msg = "rate limit: dropped %d request(s) unanswered, the last from %s:%d" % (n, addr[0], addr[1])
        return [("event", "error", {"where": "sip", "message": msg})]

    def _overload_report(self, req, now) -> list:
        self.stats["overload"] += 1
        at, count = self._overload_reported
        if at is not None and now - at < self.limiter.report_every:
            return []
        self._overload_reported = (now, self.stats["overload"])
        msg = "overload: %d live transactions, dropped %s unanswered (%d in all)" % (
            self.tl.server_count, req.method, self.stats["overload"])
        return [("event", "error", {"where": "sip", "message": msg})]

    def _stamp_via(self, req, addr):
        """§18.2.1 received and RFC 3581 rport on the top Via, so replies find the sender.
        With rport asked for, `received` goes in even when it equals the sent-by host
        (RFC 3581 §4: the client learns its public address from it)."""
        top = req.via[0]
        values = req.headers.get_all("Via")
        changed = False
        if top.host.strip("[]") != addr[0] or ("rport" in top.params and top.params.get("received") != addr[0]):
            top.params["received"] = addr[0]
            changed = True
        if "rport" in top.params and not top.params.get("rport"):
            top.params["rport"] = str(addr[1])
            changed = True
        if changed:
            req.headers.remove("Via")
            req.headers.add("Via", str(top))
            for v in values[1:]:
                req.headers.add("Via", v)

    def _tl_action(self, a, now, src=None):
        """Carry out one transaction-layer action (`_TL_ACTIONS` names the handler per kind;
        "cancel", "ack" and any other kind go to the call layer's handler of that name)."""
        act = _TL_ACTIONS.get(a.kind)
        if act is not None:
            return act(self, a, now, src)
        h = self.handlers.get(a.kind)  # "cancel", "ack"
        if h:
            return h(a.msg, a.tx, now)
        if a.kind == "cancel":
            return self.send_response(response_to(a.tx.request, 487, to_tag=random_hex(4)), now)
        return []

    def _tl_send(self, a, now, src):
        if a.msg.is_request:
            return self._tl_send_request(a, now)
        via_dest = self.response_address(a.msg)
        if self.reliable and src is not None and a.tx is not None:
            self.src[a.tx] = tuple(src[:2])   # a retransmission on a new connection: answer there
        src = self.src.get(a.tx) if self.reliable else None
        if src is not None and tuple(src) != tuple(via_dest):
            # §18.2.2: over a stream, back over the connection the request came on; the
            # Via address when that connection is gone
            out = self._wire(a.msg, src, now)
            return [o + (via_dest,) if o[0] == "send" else o for o in out]
        return self._wire(a.msg, via_dest, now)

    def _tl_send_request(self, a, now):
        dest = self.dest.get(a.tx)
        if dest is None and a.msg.method == "CANCEL":
            dest = self._invite_dest(a.msg)  # a CANCEL held until the INVITE's 1xx
            if dest is not None:
                self.dest[a.tx] = dest
        if dest is None:
            return [("event", "error", {"where": "sip", "message": "no destination for %s" % summary(a.msg)})]
        return self._wire(a.msg, dest, now)

    def _tl_response(self, a, now, src):
        tu = self.owner.get(a.tx)
        if tu is None:
            h = self.handlers.get("response")  # a stray 2xx retransmission: re-ACK
            return h(a.msg, a.tx, now) if h else []
        if a.msg.status < 200:
            fn = getattr(tu, "on_provisional", None)
            return self.run_tu(tu, fn(a.msg, now), now) if fn else []
        return self.run_tu(tu, tu.on_response(a.msg, now), now)

    def _tl_timeout(self, a, now, src):
        tu = self.owner.get(a.tx)
        if tu is not None and a.tx.request is not None and a.tx.request.method != "ACK" \
                and a.tx in self.dest:
            return self.run_tu(tu, tu.on_failure("no answer from %s:%d" % self.dest[a.tx], now), now)
        h = self.handlers.get("timeout")
        return h(a.tx, now) if h else []

    def _tl_terminated(self, a, now, src):
        self.owner.pop(a.tx, None)
        self.dest.pop(a.tx, None)
        self.src.pop(a.tx, None)
        return []

    def _tl_error(self, a, now, src):
        return [("event", "error", {"where": "sip", "message": a.msg if isinstance(a.msg, str) else str(a.msg)})]

    def _tl_request(self, a, now, src):
        if self.reliable and a.tx is not None and src is not None:
            self.src[a.tx] = tuple(src[:2])
        return self._request(a.msg, a.tx, src, now)

    def _tl_overload(self, a, now, src):
        return self._overload_report(a.msg, now)

    def _request(self, req, tx, src, now):
        if tx is None:  # an ACK for a 2xx we cannot place: the call layer may know it
            h = self.handlers.get("stray_ack")
            return h(req, now) if h else []
        method = req.method
        if method not in KNOWN_METHODS:
            return self.send_response(response_to(req, 501, extra=[("Allow", ALLOW)]), now)
        if req.uri.partition(":")[0].lower() not in URI_SCHEMES:   # §8.2.2.1
            return self._refuse(req, tx, response_to(req, 416, extra=[("Accept", "sip, sips, tel")]), now)
        mf = req.max_forwards
        if mf is not None and mf <= 0 and method != "OPTIONS":
            return self._refuse(req, tx, response_to(req, 483), now)
        unsupported = [o for o in req.headers.get_all("Require") if o.strip().lower() not in SUPPORTED]
        if unsupported and method not in ("CANCEL", "ACK"):
            return self._refuse(req, tx, response_to(req, 420, extra=[("Unsupported", ", ".join(unsupported))]), now)
        in_dialog = bool(req.to.tag)
        h = self.handlers.get(method)
        if h is not None:
            try:
                return h(req, tx, src, now)
            except Exception as e:
                # rule 2: a request our call layer trips on gets 500 and an error event,
                # never silence and never an exception out of receive()
                return self.send_response(response_to(req, 500, "Server Internal Error"), now) + [
                    ("event", "error", {"where": "sip", "message": "internal error on %s from %s:%d: %s: %s"
                                        % (summary(req), src[0], src[1], type(e).__name__, e)})]
        if in_dialog and method != "OPTIONS":
            return self.send_response(response_to(req, 481), now)
        if method == "OPTIONS":
            return self.send_response(self.options_answer(req), now)
        if method in ("BYE", "CANCEL", "PRACK", "UPDATE", "INFO", "NOTIFY"):
            return self.send_response(response_to(req, 481), now)
        if method == "INVITE":
            return self.send_response(response_to(req, 480, "Temporarily Unavailable", to_tag=random_hex(4)), now)
        return self.send_response(response_to(req, 405, extra=[("Allow", ALLOW)]), now)

    def _refuse(self, req, tx, resp, now):
        """A refusal the core decides before any TU sees the request: an INVITE is refused
        statelessly (one datagram, §8.2.7), so a flood of bad INVITEs draws no 100s, no
        retransmissions and no transactions; other methods have no retransmissions to save."""
        if req.method == "INVITE":
            if resp.to.tag is None:
                resp.headers.set("To", req.headers.get("To") + ";tag=" + random_hex(4))
            return self.respond_stateless(req, tx, resp, now)
        return self.send_response(resp, now)

    def options_answer(self, req) -> Response:
        """200 to OPTIONS (§11.2): what we allow, accept and support."""
        return response_to(req, 200, to_tag=random_hex(4), extra=[
            ("Allow", ALLOW), ("Accept", "application/sdp, message/sipfrag"),
            ("Accept-Language", "en"), ("Supported", ", ".join(SUPPORTED)),
            ("User-Agent", self.user_agent)])

    # ------------------------------------------------------------------ the transport
    def transport_failed(self, peer, reason: str, now: float) -> list:
        """The connection to `peer` could not be set up or was lost (§17.1.4): every client
        transaction sent there ends now, its TU told `reason` (not a Timer B/F timeout 32 s
        later). Server transactions whose request came over it stay: their responses go to the
        Via address instead (§18.2.2)."""
        peer = tuple(peer[:2])
        out = []
        for tx, dest in list(self.dest.items()):
            if tuple(dest[:2]) != peer or tx.state == "terminated":
                continue
            tu = self.owner.get(tx)
            for a in self.tl.on_transport_error(tx, now):
                if a.kind == "terminated":
                    out += self._tl_action(a, now)
            if tu is not None:
                out += self.run_tu(tu, tu.on_failure(reason, now), now)
            else:
                h = self.handlers.get("timeout")
                if h:
                    out += h(tx, now)
        return out

    # ------------------------------------------------------------------ time
    def deadline(self):
        best = self.tl.deadline()
        for tu in self.tus:
            d = tu.deadline()
            if d is not None and (best is None or d < best):
                best = d
        return best

    def on_timer(self, now: float) -> list:
        out = []
        for a in self.tl.on_timer(now):
            out += self._tl_action(a, now)
        for tu in list(self.tus):
            d = tu.deadline()
            if d is not None and d <= now:
                out += self.run_tu(tu, tu.on_timer(now), now)
        return out


# transaction-layer action kind -> UserAgent method(self, action, now, src)
_TL_ACTIONS = {
    "send": UserAgent._tl_send,
    "response": UserAgent._tl_response,
    "timeout": UserAgent._tl_timeout,
    "terminated": UserAgent._tl_terminated,
    "error": UserAgent._tl_error,
    "request": UserAgent._tl_request,
    "overload": UserAgent._tl_overload,
}
