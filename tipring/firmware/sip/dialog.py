"""Dialogs (RFC 3261 §12) and the UA-core helpers that build and vet requests and responses.

What this module owns
---------------------
The dialog state of one peer-to-peer relationship: its id (Call-ID, local tag, remote tag),
local and remote URIs, CSeq counters, remote target and route set; building every request
inside it (BYE, re-INVITE, UPDATE, REFER, NOTIFY, INFO, and the ACK for a 2xx); checking the
requests that arrive in it. Beside it, the out-of-dialog builders a UA core needs:
`new_request()` (§8.1.1), `make_response()` (§8.2.6) and `check_request()` (§8.2.2).
It knows no transaction, socket or clock; transactions carry what is built here.

Rules
-----
1. A dialog is made from the dialog-creating request and a response with a To tag: a 101-199
   makes it `early`, a 2xx `confirmed` (§12.1). Its states are "early", "confirmed",
   "terminated"; a non-2xx final response ends an early dialog (§12.3).
2. Route set (§12.1.1, §12.1.2): Record-Route as received in the request for the UAS, reversed
   from the response for the UAC; recomputed from the 2xx when an early dialog is confirmed;
   fixed after that. Remote target: the peer's Contact, replaced by every target refresh
   (re-INVITE, UPDATE: §12.2.1.2, §12.2.2).
3. CSeq (§12.2.1.1): every new request takes local CSeq + 1 (the first one in a UAS dialog is
   1); ACK for a 2xx and CANCEL reuse the INVITE's number (§13.2.2.4, §9.1:
   `transaction.cancel_for`). An incoming request with a CSeq lower than the last one is out
   of order: 500 (§12.2.2). ACK and CANCEL are not counted.
4. Routing (§12.2.1.1): with a loose router first (`;lr`), the Request-URI is the remote target
   and Route is the route set; with a strict router first, the Request-URI is that router's
   URI and the remote target goes last in Route.
5. Every request built here has a fresh branch "z9hG4bK<random>", `;rport` in its Via
   (RFC 3581) and Max-Forwards 70 (§8.1.1).

Theory of operation
-------------------
UAC: send `new_request("INVITE", ...)`; for each 18x/2xx with a To tag, look up
`dialog_id(resp)` and make `Dialog.uac(invite, resp, ...)` when new (forks give several early
dialogs), else `dialog.on_response(resp)`; on 2xx send `dialog.ack(invite.cseq.seq)` (and
resend it for every retransmitted 2xx). UAS: `check_request(invite)`, then
`make_response(invite, 180, to_tag=tag)` and `Dialog.uas(invite, tag, ...)`. In both, later
requests come from `dialog.request("BYE")` and incoming ones go through
`dialog.on_request(req)`, which returns a status to reject with (500) or None.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.headers import split_list
from tipring.firmware.sip.message import NameAddr, Request, Response

MAX_FORWARDS = 70
# methods whose request carries a Contact and refreshes the target (§12.2, RFC 3311, 3515, 6665)
TARGET_REFRESH = ("INVITE", "UPDATE")
WITH_CONTACT = ("INVITE", "UPDATE", "REFER", "NOTIFY", "SUBSCRIBE")
# methods that create a dialog: their 101-299 responses copy Record-Route (§12.1.1)
DIALOG_CREATING = ("INVITE", "SUBSCRIBE", "REFER")


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie and 64 random bits (§8.1.1.7)."""
    return "z9hG4bK" + random_hex(8)


def new_tag() -> str:
    """A From/To tag with 64 random bits (§19.3)."""
    return random_hex(8)


def new_call_id(host: str = None) -> str:
    """A Call-ID: 128 random bits, `@host` when given (§8.1.1.4)."""
    cid = random_hex(16)
    return cid + "@" + host if host else cid


def make_via(host: str, port: int = None, transport: str = "UDP", branch: str = None) -> str:
    """'SIP/2.0/UDP host:port;rport;branch=z9hG4bK...' (§8.1.1.7, RFC 3581 §3)."""
    hp = "[%s]" % host if ":" in host and not host.startswith("[") else host
    if port:
        hp += ":%d" % port
    return "SIP/2.0/%s %s;rport;branch=%s" % (transport.upper(), hp, branch or new_branch())


def _name_addr(x):
    if isinstance(x, NameAddr):
        return x
    return NameAddr.parse(str(x))


def _with_tag(na, tag):
    na = _name_addr(na)
    params = dict(na.params)
    if tag is None:
        params.pop("tag", None)
    else:
        params["tag"] = tag
    return NameAddr(na.uri, na.display, params)


def new_request(method: str, uri, from_, to, contact=None, via_host: str = "0.0.0.0",
                via_port: int = None, transport: str = "UDP", call_id: str = None,
                cseq: int = 1, from_tag: str = None, route=(), body: bytes = b"",
                content_type: str = None, headers=()) -> Request:
    """An out-of-dialog request (§8.1.1): Request-URI `uri`; `from_`/`to` name-addrs (text or
    NameAddr; From gets `from_tag` or a new tag, To keeps no tag); `contact` for Contact;
    Via from `via_host`/`via_port`/`transport` with rport and a new branch; Max-Forwards 70;
    `call_id` (new when None); CSeq `cseq`; `route`: Route values (a preloaded route set);
    `headers`: extra (name, value) pairs; `body` with `content_type`."""
    fr = _name_addr(from_)
    if fr.tag is None or from_tag is not None:
        fr = _with_tag(fr, from_tag or new_tag())
    h = [("Via", make_via(via_host, via_port, transport)),
         ("Max-Forwards", str(MAX_FORWARDS))]
    for r in route:
        h.append(("Route", str(r)))
    h += [("From", str(fr)), ("To", str(_name_addr(to))),
          ("Call-ID", call_id or new_call_id(via_host)), ("CSeq", "%d %s" % (cseq, method))]
    if contact is not None:
        h.append(("Contact", str(contact)))
    h += list(headers)
    if body and content_type:
        h.append(("Content-Type", content_type))
    return Request(method, str(uri), h, body)


def make_response(request: Request, status: int, reason: str = None, to_tag: str = None,
                  contact=None, headers=(), body: bytes = b"",
                  content_type: str = None) -> Response:
    """A response to `request` (§8.2.6): Via (all, in order), From, Call-ID, CSeq copied; To
    copied, with `to_tag` added when it has none (never on 100, §8.2.6.2); Timestamp echoed
    on 100 (§8.2.6.1); Record-Route copied on 101-299 to a dialog-creating request (§12.1.1);
    `contact`, extra `headers` and `body`/`content_type` added."""
    h = [("Via", v) for v in request.headers.get_all("Via")]
    if status > 100 and status < 300 and request.method in DIALOG_CREATING:
        for name, value in request.headers.items():
            if name == "Record-Route":
                h.append((name, value))
    to = request.headers.get("To")
    if to_tag and status != 100 and request.to.tag is None:
        to = str(_with_tag(request.to, to_tag))
    h += [("From", request.headers.get("From")), ("To", to),
          ("Call-ID", request.headers.get("Call-ID")), ("CSeq", request.headers.get("CSeq"))]
    if status == 100 and "Timestamp" in request.headers:
        h.append(("Timestamp", request.headers.get("Timestamp")))
    if contact is not None:
        h.append(("Contact", str(contact)))
    h += list(headers)
    if body and content_type:
        h.append(("Content-Type", content_type))
    return Response(status, reason, h, body)


def check_request(request: Request, supported=(), allowed=None):
    """The UAS checks of §8.2 that need no dialog. Returns a Response to send, or None.

    Max-Forwards 0 -> 483 Too Many Hops; method not in `allowed` (when given) -> 405 with
    Allow (§8.2.1); an option in Require not in `supported` -> 420 Bad Extension with
    Unsupported listing them (§8.2.2.3; never for ACK or CANCEL)."""
    if request.max_forwards == 0 and request.method != "ACK":
        return make_response(request, 483)
    if allowed is not None and request.method not in allowed and request.method != "ACK":
        return make_response(request, 405, headers=[("Allow", ", ".join(allowed))])
    if request.method not in ("ACK", "CANCEL"):
        known = [s.lower() for s in supported]
        unknown = [r for r in request.headers.get_all("Require") if r.lower() not in known]
        if unknown:
            return make_response(request, 420, headers=[("Unsupported", ", ".join(unknown))])
    return None


def _sip_target(na, what):
    """Why the name-addr `na` cannot be a place to send requests to, or None (§8.1.1.8)."""
    if na.star:
        return "%s: '*' is not an address" % what
    uri = na.uri
    if uri is None or uri.scheme not in ("sip", "sips") or not uri.host:
        return "%s: not a SIP or SIPS URI" % what
    return None


def _route_problem(request):
    """Why a Record-Route of `request` cannot be used as a route, or None (§12.1.1, §20.30)."""
    try:
        for value in request.headers.values("Record-Route"):
            for item in split_list(value, "Record-Route", True):
                na = NameAddr.parse(item, "Record-Route")
                why = _sip_target(na, "Record-Route")
                if why:
                    return why
                na.params
    except ValueError as e:
        return "Record-Route: %s" % getattr(e, "reason", e)
    return None


def check_dialog_request(request: Request):
    """What makes `request` unable to create a dialog, as (status, reason), or None.

    A dialog-creating request (an INVITE with no To tag) needs exactly one Contact holding a
    SIP or SIPS URI (§8.1.1.8: the remote target, §12.1.1) and a Record-Route whose every
    entry is a SIP or SIPS URI (the route set). `Contact: *` belongs to REGISTER alone
    (§10.2.2). Each fault is a 400 whose reason names it; the caller answers before it keeps
    anything, so a bad request leaves no call behind."""
    try:
        contacts = request.contact
    except ValueError as e:
        return 400, "Bad Request (Contact: %s)" % getattr(e, "reason", e)
    if not contacts:
        return 400, "Bad Request (no Contact)"
    if len(contacts) > 1:
        return 400, "Bad Request (more than one Contact)"
    why = _sip_target(contacts[0], "Contact") or _route_problem(request)
    if why:
        return 400, "Bad Request (%s)" % why
    return None


def check_target_refresh(request: Request):
    """Like `check_dialog_request` for a request inside a dialog: a Contact, when present,
    must be one SIP or SIPS URI (§12.2.2: it becomes the remote target); a bad one gets 400
    and the dialog stays as it was. (status, reason) or None."""
    try:
        contacts = request.contact
    except ValueError as e:
        return 400, "Bad Request (Contact: %s)" % getattr(e, "reason", e)
    if not contacts:
        return None
    if len(contacts) > 1:
        return 400, "Bad Request (more than one Contact)"
    why = _sip_target(contacts[0], "Contact")
    return (400, "Bad Request (%s)" % why) if why else None


def dialog_id(msg, received: bool = True) -> tuple:
    """(Call-ID, local tag, remote tag) of the dialog `msg` belongs to, seen by us (§12).

    A request we received, or a response we sent, has our tag in To; a response we
    received, or a request we sent, has it in From (`received` says which for requests)."""
    if msg.is_request == received:
        return (msg.call_id, msg.to.tag, msg.from_.tag)
    return (msg.call_id, msg.from_.tag, msg.to.tag)


def _is_loose(route_value):
    na = _name_addr(route_value)
    return "lr" in na.uri.params


class Dialog:
    """Represents one dialog (§12): ids, CSeq counters, remote target and route set.

    Build with `Dialog.uac()` or `Dialog.uas()`. Attributes: `call_id`, `local_tag`,
    `remote_tag`, `local_uri`/`remote_uri` (From/To values without tags, text),
    `local_seq`/`remote_seq` (int or None), `remote_target` (URI text), `route_set` (list of
    Route values, in the order they go on requests), `state`, `is_uac`, and what new requests
    need: `contact` (our Contact value) and `via_host`, `via_port`, `transport`.
    """

    def __init__(self, call_id, local_tag, remote_tag, local_uri, remote_uri, local_seq,
                 remote_seq, remote_target, route_set, state, is_uac, contact=None,
                 via_host="0.0.0.0", via_port=None, transport="UDP"):
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.state = state
        self.is_uac = is_uac
        self.contact = contact
        self.via_host = via_host
        self.via_port = via_port
        self.transport = transport
        self.secure = remote_target.lower().startswith("sips:")

    def __repr__(self):
        return "<Dialog %s %s/%s %s>" % (self.call_id, self.local_tag, self.remote_tag,
                                         self.state)

    @property
    def id(self) -> tuple:
        return (self.call_id, self.local_tag, self.remote_tag)

    # -- creation (§12.1)

    @classmethod
    def uac(cls, request: Request, response: Response, contact=None, via_host="0.0.0.0",
            via_port=None, transport="UDP") -> "Dialog":
        """The UAC side, from our request and an 18x/2xx with a To tag (§12.1.2)."""
        if response.to.tag is None:
            raise ValueError("a dialog needs a To tag in the response")
        if response.status < 101 or response.status >= 300:
            raise ValueError("only a 101-299 response creates a dialog")
        rr = response.headers.get_all("Record-Route")
        rr.reverse()
        d = cls(request.call_id, request.from_.tag, response.to.tag,
                str(_with_tag(request.from_, None)), str(_with_tag(response.to, None)),
                request.cseq.seq, None, _target(response, request.uri), rr,
                "confirmed" if response.status >= 200 else "early", True,
                contact if contact is not None else request.headers.get("Contact"),
                via_host, via_port, transport)
        return d

    @classmethod
    def uas(cls, request: Request, local_tag: str, contact=None, via_host="0.0.0.0",
            via_port=None, transport="UDP", confirmed: bool = False) -> "Dialog":
        """The UAS side, from the request and the To tag of our 18x/2xx (§12.1.1)."""
        d = cls(request.call_id, local_tag, request.from_.tag,
                str(_with_tag(request.to, None)), str(_with_tag(request.from_, None)),
                None, request.cseq.seq, _target(request, None),
                request.headers.get_all("Record-Route"),
                "confirmed" if confirmed else "early", False, contact, via_host, via_port,
                transport)
        return d

    # -- responses to our requests

    def on_response(self, response: Response) -> None:
        """Update from a response to a request we sent in this dialog: a 2xx confirms an
        early dialog (route set recomputed, §12.1.2); a 2xx to a target refresh, or any
        18x/2xx with Contact to the INVITE, sets the remote target; a non-2xx final response
        to the dialog-creating INVITE ends an early dialog (§12.3); 481/408 ends it."""
        status = response.status
        method = response.cseq.method
        if self.state == "early" and method == "INVITE":
            if 200 <= status < 300:
                self.state = "confirmed"
                rr = response.headers.get_all("Record-Route")
                rr.reverse()
                if self.is_uac:
                    self.route_set = rr
            elif status >= 300:
                self.state = "terminated"
        if status in (481, 408):  # §12.2.1.2
            self.state = "terminated"
        if 101 <= status < 300 and method in TARGET_REFRESH and response.contact:
            self.remote_target = str(response.contact[0].uri)

    def confirm(self) -> None:
        """The UAS sent a 2xx: early -> confirmed."""
        if self.state == "early":
            self.state = "confirmed"

    def terminate(self) -> None:
        self.state = "terminated"

    # -- requests in the dialog

    def on_request(self, request: Request):
        """Vet a request received in this dialog (§12.2.2). Returns 500 when its CSeq is out
        of order, 400 when a target refresh carries a Contact that is no SIP URI, else None
        (and records the CSeq, and a target refresh's Contact). A refused request changes
        nothing: the dialog goes on as it was."""
        if request.method in ("ACK", "CANCEL"):
            return None
        seq = request.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq:
            return 500
        if request.method in TARGET_REFRESH and check_target_refresh(request):
            return 400
        self.remote_seq = seq
        if request.method in TARGET_REFRESH and request.contact:
            self.remote_target = str(request.contact[0].uri)
        return None

    def _route(self):
        """(Request-URI, Route values) per §12.2.1.1."""
        routes = list(self.route_set)
        if not routes or _is_loose(routes[0]):
            return self.remote_target, routes
        first = _name_addr(routes[0]).uri
        first.headers = {}               # §19.1.1: no headers or method= in a Request-URI
        first.params.pop("method", None)
        return str(first), routes[1:] + ["<%s>" % self.remote_target]

    def request(self, method: str, body: bytes = b"", content_type: str = None,
                headers=(), cseq: int = None) -> Request:
        """A new request in the dialog (§12.2.1.1), with the next local CSeq (or `cseq`,
        e.g. the INVITE's for its ACK). Contact on INVITE, UPDATE, REFER, NOTIFY,
        SUBSCRIBE."""
        if cseq is None:
            self.local_seq = (self.local_seq or 0) + 1
            cseq = self.local_seq
        ruri, routes = self._route()
        h = [("Via", make_via(self.via_host, self.via_port, self.transport)),
             ("Max-Forwards", str(MAX_FORWARDS))]
        for r in routes:
            h.append(("Route", r))
        h += [("From", str(_with_tag(self.local_uri, self.local_tag))),
              ("To", str(_with_tag(self.remote_uri, self.remote_tag))),
              ("Call-ID", self.call_id), ("CSeq", "%d %s" % (cseq, method))]
        if method in WITH_CONTACT and self.contact is not None:
            h.append(("Contact", str(self.contact)))
        h += list(headers)
        if body and content_type:
            h.append(("Content-Type", content_type))
        return Request(method, ruri, h, body)

    def ack(self, invite_seq: int, body: bytes = b"", content_type: str = None,
            headers=()) -> Request:
        """ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): built by the TU,
        routed like any in-dialog request, new branch, the INVITE's CSeq number."""
        return self.request("ACK", body, content_type, headers, cseq=invite_seq)

    def bye(self, headers=()) -> Request:
        return self.request("BYE", headers=headers)

    def reinvite(self, sdp: bytes, headers=()) -> Request:
        return self.request("INVITE", sdp, "application/sdp", headers)

    def update(self, sdp: bytes = b"", headers=()) -> Request:
        return self.request("UPDATE", sdp, "application/sdp" if sdp else None, headers)

    def refer(self, refer_to: str, headers=()) -> Request:
        return self.request("REFER", headers=[("Refer-To", refer_to)] + list(headers))

    def notify(self, event: str, state: str, body: bytes = b"",
               content_type: str = None, headers=()) -> Request:
        h = [("Event", event), ("Subscription-State", state)] + list(headers)
        return self.request("NOTIFY", body, content_type, h)

    def info(self, body: bytes, content_type: str, headers=()) -> Request:
        return self.request("INFO", body, content_type, headers)


def _target(msg, default):
    c = msg.contact
    if c and not c[0].star:
        return str(c[0].uri)
    if default is None:
        raise ValueError("no Contact for the remote target")
    return default
