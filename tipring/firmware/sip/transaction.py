"""Client and server transactions: RFC 3261 §17 as amended by RFC 6026.

What this module owns
---------------------
The four transaction machines (INVITE client, non-INVITE client, INVITE server, non-INVITE
server), their timers A-M, request/response matching (§17.1.3, §17.2.3, with the RFC 2543
fallback), ACK for non-2xx final responses and CANCEL construction (§9.1).
`tipring.firmware.sip.transaction_layer.TransactionLayer` keeps the live ones and feeds them.

Rules
-----
1. Every state, transition and timer lives here, in `TRANSITIONS`. States are plain lower-case
   strings; an event with no entry changes nothing and yields an `error` action naming
   machine, state and event.
2. Knows no dialog, call, socket or wall clock. Every method takes `now` (seconds, float, any
   epoch) and returns a list of `Action`s; `deadline()` says when `on_timer()` is next due.
3. Retransmission timers (A, E, G) run only over unreliable transport; over a reliable one the
   wait timers D, I, J, K are zero, so those states end at once (§17.1.1.2, §17.1.2.2,
   §17.2.1, §17.2.2). B, F, H, L, M are 64*T1 either way.
4. RFC 6026: a 2xx moves the INVITE client to `accepted` (Timer M) and every 2xx that
   arrives there goes to the TU (forks, retransmissions): the TU sends the ACK for 2xx. The
   INVITE server sending a 2xx goes to `accepted` (Timer L) and absorbs INVITE
   retransmissions there. Here it also retransmits that 2xx (T1 doubling to T2, over every
   transport, §13.3.1.4: a UAS core duty kept beside the timer it races) until the ACK
   arrives; no ACK by Timer L gives a `timeout` (the TU then sends BYE).
5. The ACK for a 3xx-6xx is built and sent inside the INVITE client transaction, with the
   INVITE's branch (§17.1.1.3); a retransmitted final response resends that same ACK.

Theory of operation
-------------------
A transaction is made from its first message (`InviteClient(invite, now, t1=...)`), then
`start()` gives the first send (client: the request). Events come from three places: the
network (`on_response` for clients, `on_request` for servers: retransmissions and ACK), the
TU (`send_response` for servers) and the clock (`on_timer`). Each looks up
`TRANSITIONS[machine][state][event]`, moves to the next state and runs the listed actions:
"deliver" (hand the message to the TU), "send ack", "resend request", "send response",
"resend response", "start X" / "stop X" / "backoff X" (timers), "timeout", "error".

Actions out are `Action(kind, msg)`, which compare equal to and index like the tuples
("send", msg), ("deliver", msg), ("timeout",), ("error", text), ("terminated",) and carry
`.tx`, the transaction they came from.

Matching (§17.1.3, §17.2.3): a response belongs to the client transaction with its top Via
branch and CSeq method. A request belongs to the server transaction with its top Via branch,
sent-by and method, where ACK counts as INVITE and CANCEL has its own; a branch without the
"z9hG4bK" cookie falls back to RFC 2543 matching on Request-URI, From tag, Call-ID, CSeq
number and the whole top Via (plus the To tag for an ACK). The transaction layer also matches
the ACK for a 2xx (new branch) to the `accepted` INVITE server by Call-ID, CSeq and To tag.
"""

from tipring.firmware.sip.message import Request, Response

MAGIC_COOKIE = "z9hG4bK"

T1 = 0.5   # RTT estimate (§17.1.1.1)
T2 = 4.0   # longest interval for non-INVITE requests and INVITE responses
T4 = 5.0   # how long a message may stay in the network
TIMER_D = 32.0  # "at least 32 s" for unreliable transports (§17.1.1.2)
TRYING_DELAY = 0.2  # §17.2.1: 100 Trying unless the TU answers within 200 ms


# machine -> state -> event -> (next state, actions). "terminated" has no events.
TRANSITIONS = {
    "invite_client": {                       # §17.1.1, Figure 5 as changed by RFC 6026
        "calling": {
            "1xx":       ("proceeding", ("stop A", "stop B", "deliver")),
            "2xx":       ("accepted",   ("stop A", "stop B", "deliver", "start M")),
            "failure":   ("completed",  ("stop A", "stop B", "send ack", "deliver", "start D")),
            "timer A":   ("calling",    ("resend request", "backoff A")),
            "timer B":   ("terminated", ("timeout",)),
            "transport error": ("terminated", ("error",)),
        },
        "proceeding": {
            "1xx":       ("proceeding", ("deliver",)),
            "2xx":       ("accepted",   ("deliver", "start M")),
            "failure":   ("completed",  ("send ack", "deliver", "start D")),
            "transport error": ("terminated", ("error",)),
        },
        "accepted": {                        # RFC 6026 §7.2
            "1xx":       ("accepted",   ()),
            "2xx":       ("accepted",   ("deliver",)),
            "failure":   ("accepted",   ()),
            "timer M":   ("terminated", ()),
        },
        "completed": {
            "1xx":       ("completed",  ()),
            "2xx":       ("completed",  ()),
            "failure":   ("completed",  ("send ack",)),
            "timer D":   ("terminated", ()),
            "transport error": ("terminated", ("error",)),
        },
    },
    "non_invite_client": {                   # §17.1.2, Figure 6
        "trying": {
            "1xx":       ("proceeding", ("deliver",)),
            "final":     ("completed",  ("stop E", "stop F", "deliver", "start K")),
            "timer E":   ("trying",     ("resend request", "backoff E")),
            "timer F":   ("terminated", ("timeout",)),
            "transport error": ("terminated", ("error",)),
        },
        "proceeding": {
            "1xx":       ("proceeding", ("deliver",)),
            "final":     ("completed",  ("stop E", "stop F", "deliver", "start K")),
            "timer E":   ("proceeding", ("resend request", "reset E")),
            "timer F":   ("terminated", ("timeout",)),
            "transport error": ("terminated", ("error",)),
        },
        "completed": {
            "1xx":       ("completed",  ()),
            "final":     ("completed",  ()),
            "timer K":   ("terminated", ()),
        },
    },
    "invite_server": {                       # §17.2.1, Figure 7 as changed by RFC 6026
        "proceeding": {
            "request":   ("proceeding", ("resend response",)),
            "timer trying": ("proceeding", ("send trying",)),
            "send 1xx":  ("proceeding", ("stop trying", "send response")),
            "send 2xx":  ("accepted",   ("stop trying", "send response", "start 2xx",
                                         "start L")),
            "send failure": ("completed", ("stop trying", "send response", "start G",
                                           "start H")),
            "transport error": ("terminated", ("error",)),
        },
        "accepted": {                        # RFC 6026 §7.1
            "request":   ("accepted",   ()),
            "send 2xx":  ("accepted",   ("send response",)),
            "ack":       ("accepted",   ("stop 2xx", "deliver")),
            "timer 2xx": ("accepted",   ("resend response", "backoff 2xx")),
            "timer L":   ("terminated", ()),
            "timer L unacked": ("terminated", ("timeout",)),
            "transport error": ("accepted", ("error",)),
        },
        "completed": {
            "request":   ("completed",  ("resend response",)),
            "ack":       ("confirmed",  ("stop G", "stop H", "start I")),
            "timer G":   ("completed",  ("resend response", "backoff G")),
            "timer H":   ("terminated", ("timeout",)),
            "transport error": ("terminated", ("error",)),
        },
        "confirmed": {
            "request":   ("confirmed",  ()),
            "ack":       ("confirmed",  ()),
            "timer I":   ("terminated", ()),
        },
    },
    "non_invite_server": {                   # §17.2.2, Figure 8
        "trying": {
            "request":   ("trying",     ()),
            "send 1xx":  ("proceeding", ("send response",)),
            "send final": ("completed", ("send response", "start J")),
            "transport error": ("terminated", ("error",)),
        },
        "proceeding": {
            "request":   ("proceeding", ("resend response",)),
            "send 1xx":  ("proceeding", ("send response",)),
            "send final": ("completed", ("send response", "start J")),
            "transport error": ("terminated", ("error",)),
        },
        "completed": {
            "request":   ("completed",  ("resend response",)),
            "timer J":   ("terminated", ()),
            "transport error": ("terminated", ("error",)),
        },
    },
}

STATES = dict((m, tuple(t) + ("terminated",)) for m, t in TRANSITIONS.items())


class Action:
    """One thing for the caller to do. `kind`: "send", "deliver", "timeout", "error",
    "terminated" (and, from `TransactionLayer`, "request", "response", "cancel"); `msg`: the
    message or error text, or None; `tx`: the transaction it came from, or None.

    Indexes and compares like the tuple (kind, msg), or (kind,) when msg is None."""

    __slots__ = ("kind", "msg", "tx")

    def __init__(self, kind: str, msg=None, tx=None):
        self.kind = kind
        self.msg = msg
        self.tx = tx

    def _tuple(self):
        return (self.kind,) if self.msg is None else (self.kind, self.msg)

    def __getitem__(self, i):
        return self._tuple()[i]

    def __len__(self):
        return len(self._tuple())

    def __iter__(self):
        return iter(self._tuple())

    def __eq__(self, other):
        if isinstance(other, Action):
            return self._tuple() == other._tuple() and self.tx is other.tx
        if isinstance(other, tuple):
            return self._tuple() == other
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self):
        m = self.msg
        if isinstance(m, Response):
            m = "%d %s" % (m.status, m.reason)
        elif isinstance(m, Request):
            m = m.method
        return "Action(%r%s)" % (self.kind, "" if m is None else ", %r" % (m,))


def _status_class(status):
    if status < 200:
        return "1xx"
    if status < 300:
        return "2xx"
    return "failure"


class Transaction:
    """What the four machines share: state, timers, the table walk. Use a subclass."""

    machine = None
    initial = None

    def __init__(self, request: Request, now: float, t1: float = T1, t2: float = T2,
                 t4: float = T4, reliable: bool = False, timer_d: float = TIMER_D):
        self.request = request
        self.state = self.initial
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.reliable = reliable
        self.timer_d = timer_d
        self.timers = {}      # name -> deadline
        self.intervals = {}   # retransmit timer name -> current interval
        self.last_response = None
        self.created = now
        self.key = None       # set by TransactionLayer
        self.log = []         # (now, state, event, next state): the ladder's raw material

    def __repr__(self):
        return "<%s %s %s>" % (type(self).__name__, self.request.method, self.state)

    @property
    def branch(self):
        v = self.request.via
        return v[0].branch if v else None

    @property
    def is_terminated(self) -> bool:
        return self.state == "terminated"

    # -- timers

    def deadline(self):
        """Earliest time `on_timer()` has work, or None."""
        if not self.timers:
            return None
        return min(self.timers.values())

    def on_timer(self, now: float) -> list:
        """Fire every timer due at `now`, earliest first."""
        out = []
        while self.timers and self.state != "terminated":
            name = None
            best = None
            for n, t in self.timers.items():
                if t <= now and (best is None or t < best):
                    name, best = n, t
            if name is None:
                break
            del self.timers[name]
            out += self._event(self._timer_event(name), now, None, fired_at=best)
        return out

    def _timer_event(self, name):
        return "timer " + name

    def _duration(self, name):
        t1, t4, rel = self.t1, self.t4, self.reliable
        if name in ("A", "E", "G"):
            return None if rel else t1
        if name in ("B", "F", "H", "L", "M"):
            return 64 * t1
        if name == "D":
            return 0.0 if rel else self.timer_d
        if name in ("I", "K"):
            return 0.0 if rel else t4
        if name == "J":
            return 0.0 if rel else 64 * t1
        if name == "2xx":
            return t1
        if name == "trying":
            return self.trying_delay
        raise KeyError(name)

    def _start(self, name, now):
        d = self._duration(name)
        if d is None:
            return
        self.intervals[name] = d
        self.timers[name] = now + d

    def _backoff(self, name, at, cap):
        # §17.1.1.2 (A: doubles), §17.1.2.2 (E: doubles up to T2), §17.2.1 (G: up to T2)
        iv = self.intervals.get(name, self.t1) * 2
        if cap is not None and iv > cap:
            iv = cap
        self.intervals[name] = iv
        self.timers[name] = at + iv

    # -- the table walk

    def _event(self, event, now, msg, fired_at=None):
        table = TRANSITIONS[self.machine]
        row = table.get(self.state, {})
        if event not in row:
            text = "%s: no transition for %r in state %r" % (self.machine, event, self.state)
            return [Action("error", text, self)]
        nxt, actions = row[event]
        self.log.append((now, self.state, event, nxt))
        at = now if fired_at is None else fired_at
        out = []
        for a in actions:
            out += self._do(a, at, msg)
        prev = self.state
        self.state = nxt
        if nxt == "terminated":
            self.timers.clear()
            if prev != "terminated":
                out.append(Action("terminated", None, self))
        else:
            # zero-length timers (D, I, J, K over reliable transport) fire at once
            for t in self.timers.values():
                if t <= now:
                    out += self.on_timer(now)
                    break
        return out

    def _do(self, action, now, msg):
        verb, _, arg = action.partition(" ")
        if verb == "start":
            self._start(arg, now)
        elif verb == "stop":
            self.timers.pop(arg, None)
        elif verb == "backoff":
            self._backoff(arg, now, None if arg == "A" else self.t2)
        elif verb == "reset":  # E in proceeding: T2 (§17.1.2.2)
            self.intervals[arg] = self.t2
            self.timers[arg] = now + self.t2
        elif action == "deliver":
            return [Action("deliver", msg, self)]
        elif action == "resend request":
            return [Action("send", self.request, self)]
        elif action == "send response":
            self.last_response = msg
            return [Action("send", msg, self)]
        elif action == "resend response":
            if self.last_response is not None:
                return [Action("send", self.last_response, self)]
        elif action == "send ack":
            return [Action("send", self.ack_for(msg), self)]
        elif action == "send trying":
            self.last_response = trying(self.request)
            return [Action("send", self.last_response, self)]
        elif action == "timeout":
            return [Action("timeout", None, self)]
        elif action == "error":
            return [Action("error", "transport error", self)]
        else:  # pragma: no cover - a typo in TRANSITIONS
            raise ValueError("unknown action %r" % action)
        return []

    def on_transport_error(self, now: float) -> list:
        """The transport could not send (§17.1.4, §17.2.4)."""
        return self._event("transport error", now, None)


class _Client(Transaction):
    def start(self) -> list:
        """The first send of the request."""
        return [Action("send", self.request, self)]

    def on_response(self, response: Response, now: float) -> list:
        return self._event(self._response_event(response.status), now, response)

    def _response_event(self, status):
        return _status_class(status)


class InviteClient(_Client):
    """Represents an INVITE client transaction (§17.1.1, RFC 6026 §7.2).

    `request`: the INVITE; `now`: creation time; `t1`, `t2`, `t4`: timer bases; `reliable`:
    True over TCP/TLS; `timer_d`: Timer D over UDP (32 s).

        tx = InviteClient(invite, now=0.0)
        send(tx.start())
        ... tx.on_response(resp, now); tx.on_timer(tx.deadline())
    """

    machine = "invite_client"
    initial = "calling"

    def __init__(self, request, now, t1=T1, t2=T2, t4=T4, reliable=False, timer_d=TIMER_D):
        Transaction.__init__(self, request, now, t1, t2, t4, reliable, timer_d)
        self._start("A", now)
        self._start("B", now)

    def ack_for(self, response: Response) -> Request:
        """ACK for a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, Call-ID,
        From, top Via (same branch) and Route; the response's To; CSeq number with ACK."""
        inv = self.request
        h = [("Via", str(inv.via[0]))]
        for name, value in inv.headers.items():
            if name == "Route":
                h.append((name, value))
        h += [("Max-Forwards", "70"), ("From", inv.headers.get("From")),
              ("To", response.headers.get("To")), ("Call-ID", inv.headers.get("Call-ID")),
              ("CSeq", "%d ACK" % inv.cseq.seq)]
        return Request("ACK", inv.uri, h)


class NonInviteClient(_Client):
    """Represents a non-INVITE client transaction (§17.1.2): REGISTER, BYE, OPTIONS...

    Parameters as for `InviteClient` (no `timer_d`)."""

    machine = "non_invite_client"
    initial = "trying"

    def __init__(self, request, now, t1=T1, t2=T2, t4=T4, reliable=False, timer_d=TIMER_D):
        Transaction.__init__(self, request, now, t1, t2, t4, reliable, timer_d)
        self._start("E", now)
        self._start("F", now)

    def _response_event(self, status):
        return "1xx" if status < 200 else "final"


class _Server(Transaction):
    def start(self) -> list:
        """Nothing to send yet (the INVITE server may send 100 Trying on its timer)."""
        return []

    def on_request(self, request: Request, now: float) -> list:
        """A retransmission of the request, or (INVITE) the ACK."""
        ev = "ack" if request.method == "ACK" else "request"
        return self._event(ev, now, request)

    def send_response(self, response: Response, now: float) -> list:
        """The TU's response; returns the send (and any state change)."""
        return self._event(self._send_event(response.status), now, response)

    def _send_event(self, status):
        return "send 1xx" if status < 200 else "send final"


class InviteServer(_Server):
    """Represents an INVITE server transaction (§17.2.1, RFC 6026 §7.1).

    Parameters as for `InviteClient`, plus `trying_delay`: send 100 Trying when the TU has not
    responded after this long (0.2 s; None: never)."""

    machine = "invite_server"
    initial = "proceeding"

    def __init__(self, request, now, t1=T1, t2=T2, t4=T4, reliable=False, timer_d=TIMER_D,
                 trying_delay=TRYING_DELAY):
        Transaction.__init__(self, request, now, t1, t2, t4, reliable, timer_d)
        self.trying_delay = trying_delay
        self.acked = False
        if trying_delay is not None:
            self._start("trying", now)

    def _send_event(self, status):
        return "send " + _status_class(status)

    def _timer_event(self, name):
        if name == "L" and not self.acked:
            return "timer L unacked"
        return "timer " + name

    def on_request(self, request, now):
        if request.method == "ACK" and self.state == "accepted":
            self.acked = True
        return _Server.on_request(self, request, now)


class NonInviteServer(_Server):
    """Represents a non-INVITE server transaction (§17.2.2). Parameters as `InviteClient`."""

    machine = "non_invite_server"
    initial = "trying"


def trying(request: Request) -> Response:
    """100 Trying for `request`: Via, From, To (no tag added), Call-ID, CSeq and Timestamp
    copied (§8.2.6.1, §17.2.1)."""
    h = [("Via", v) for v in request.headers.get_all("Via")]
    for name in ("From", "To", "Call-ID", "CSeq", "Timestamp"):
        v = request.headers.get(name)
        if v is not None:
            h.append((name, v))
    return Response(100, "Trying", h)


def cancel_for(invite: Request, reason: str = None) -> Request:
    """CANCEL for `invite` (§9.1): same Request-URI, Call-ID, To, From, CSeq number and top
    Via (branch) as the INVITE, its Route set, CSeq method CANCEL; `reason`, e.g.
    'SIP;cause=200;text="Call completed elsewhere"', becomes a Reason header (RFC 3326)."""
    h = [("Via", str(invite.via[0]))]
    for name, value in invite.headers.items():
        if name == "Route":
            h.append((name, value))
    h += [("Max-Forwards", "70"), ("From", invite.headers.get("From")),
          ("To", invite.headers.get("To")), ("Call-ID", invite.headers.get("Call-ID")),
          ("CSeq", "%d CANCEL" % invite.cseq.seq)]
    if reason:
        h.append(("Reason", reason))
    return Request("CANCEL", invite.uri, h)


# ------------------------------------------------------------------------- matching

def client_key(msg) -> tuple:
    """Key of the client transaction a response (or our request) belongs to (§17.1.3)."""
    return ("client", msg.via[0].branch, msg.cseq.method)


def server_key(request: Request) -> tuple:
    """Key of the server transaction `request` belongs to (§17.2.3): ACK counts as INVITE,
    CANCEL is its own. No magic cookie: the RFC 2543 key (§17.2.3, last paragraphs)."""
    top = request.via[0]
    method = "INVITE" if request.method == "ACK" else request.method
    branch = top.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        host, port = top.sent_by
        return ("server", branch, host.lower(), port, method)
    return ("server2543", request.uri, request.from_.tag, request.call_id,
            request.cseq.seq, str(top), method)
