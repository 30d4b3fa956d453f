"""Keep-alives and the registrar ping of one line's registration (a second TU beside it).

Rules:
1. Sans-IO, a transaction user like `Registration`: `deadline()`, `on_timer(now)`,
   `on_response(resp, now)`, `on_failure(reason, now)` return actions, `("send", bytes, dest)`
   for a keep-alive (no transaction), `("send", Request, dest)` for a ping.
2. It decides nothing about the binding: what it sees goes to its `Registration` through
   `registrar_down(now, reason)` and `registrar_up(now)`.

Keep-alive (NAT bindings): every `keepalive_s` while the line registers, a double CRLF
("\\r\\n\\r\\n") to the registrar (the current next hop). RFC 5626 §4.4.1 defines it as the ping
of connection-oriented transports; on UDP it is the CRLF keep-alive ATAs send (a registrar
drops it as an empty message, RFC 3261 §7.5), and it keeps the NAT binding open all the same. The
sender does not know the transport: the socket layer sends the bytes as they are.

Ping (recovery, RFC 3261 §11): every `ping_s` after the first registration, OPTIONS to the
primary registrar (its host:port as Request-URI, no user part). No final answer within
`ping_timeout` (4 s: the first send and three UDP retransmissions at T1 = 500 ms), or a 5xx,
is a failure: the registrar is down or restarting. Any other answer (200, 401, 404, 405 ...)
shows a live registrar. The first good answer after a failure means "it is back", perhaps
with an empty location table: the registration re-registers. Any other good answer is
followed by the registration's binding query (`Registration.check_binding`), which catches a
restart too quick for the ping to see. A late answer to a ping that
already counted as failed counts as good. Only one ping is in flight at a time.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.message import Request

PING_TIMEOUT = 4.0
CRLF_KEEPALIVE = b"\r\n\r\n"
QUIET = ("idle", "stopped", "unregistering", "failed")


class RegistrarMonitor:
    """Represents the keep-alive and OPTIONS-ping timers of one `Registration`."""

    def __init__(self, reg, keepalive_s: float = 0, ping_s: float = 0, ping_timeout=None):
        self.reg = reg
        self.keepalive_s = float(keepalive_s or 0)
        self.ping_s = float(ping_s or 0)
        self.ping_timeout = float(ping_timeout or min(PING_TIMEOUT, self.ping_s or PING_TIMEOUT))
        self.call_id = random_hex(12) + "@tipring"
        self.tag = random_hex(6)
        self.cseq = 0
        self._ka_due = None
        self._ping_due = None
        self._ping = None           # (cseq, give-up time) of the ping in flight
        self._late = None           # cseq of a ping that counted as failed, still answerable
        self.sent_keepalives = 0
        self.sent_pings = 0
        self._query = None          # (REGISTER query in flight, auth rounds)
        self.queries = 0
        self.query_supported = True  # False once the registrar refused a query

    @property
    def next_hop(self):
        return self.reg.registrar   # pings always go to the primary (to see it come back)

    # ------------------------------------------------------------------ called by Registration
    def started(self, now: float) -> None:
        if self.keepalive_s > 0:
            self._ka_due = now + self.keepalive_s

    def registered(self, now: float) -> None:
        if self.ping_s > 0 and self._ping_due is None and self._ping is None:
            self._ping_due = now + self.ping_s

    # ------------------------------------------------------------------ TU verbs
    def deadline(self):
        if self.reg.state in ("idle", "stopped", "unregistering"):
            return None
        due = [d for d in (self._ka_due, self._ping_due, self._ping and self._ping[1]) if d is not None]
        return min(due) if due else None

    def on_timer(self, now: float) -> list:
        acts = []
        if self.reg.state in ("idle", "stopped", "unregistering"):
            self._ka_due = self._ping_due = None
            return acts
        if self._ka_due is not None and now >= self._ka_due:
            self._ka_due = now + self.keepalive_s
            if self.reg.state not in QUIET and self.reg.next_hop is not None:
                self.sent_keepalives += 1
                acts.append(("send", CRLF_KEEPALIVE, self.reg.next_hop))
        if self._ping is not None and now >= self._ping[1]:
            self._late = self._ping[0]
            self._ping = None
            acts += self.reg.registrar_down(now, "registrar did not answer OPTIONS within %g s" % self.ping_timeout)
        if self._ping_due is not None and now >= self._ping_due and self._ping is None:
            self._ping_due = now + self.ping_s
            if self.reg.registrar is not None:    # None while its name is being looked up
                acts.append(("send", self._options(now), self.reg.registrar))
        return acts

    def on_response(self, resp, now: float) -> list:
        if resp.status < 200:
            return []
        if resp.cseq.method == "REGISTER":
            return self._query_answer(resp, now)
        try:
            seq = resp.cseq.seq
        except ValueError:
            return []
        if self._ping is not None and seq == self._ping[0]:
            self._ping = None
        elif seq == self._late:
            self._late = None
            if self._ping is not None:
                return []           # a newer ping is on its way: that one decides
        else:
            return []
        if 500 <= resp.status < 600:
            return self.reg.registrar_down(now, "registrar answered OPTIONS %d %s" % (resp.status, resp.reason))
        if self.reg.down:
            return self.reg.registrar_up(now)
        # alive: does it still hold our binding? (a restart quicker than the ping window)
        return self._ask_binding()

    def on_failure(self, reason: str, now: float) -> list:
        """Timer F of a ping (it already counted as failed at `ping_timeout`) or of a binding
        query (the next ping decides)."""
        self._query = None
        return []

    # ------------------------------------------------------------------ the binding query
    def _ask_binding(self) -> list:
        if self._query is not None or not self.query_supported or not self.reg.can_check():
            return []
        req = self.reg.query_request()
        self._query = (req, 0)
        self.queries += 1
        return [("send", req, self.reg.registrar)]

    def _query_answer(self, resp, now):
        if self._query is None:
            return []
        sent, rounds = self._query
        self._query = None
        code = resp.status
        if code in (401, 407):
            result = self.reg.auth.respond(resp, sent)
            if not result.ok or rounds >= 2:
                return []               # a real refresh will report a credentials problem
            req = self.reg.query_request()
            for name, value in result.headers:
                req.headers.set(name, value)
            self._query = (req, rounds + 1)
            return [("send", req, self.reg.registrar)]
        if not 200 <= code < 300:
            if code < 500:
                self.query_supported = False   # 403/404/405/501...: no queries here
            return []
        if self.reg.holds_binding(resp):
            return []
        return self.reg.binding_lost(now)

    # ------------------------------------------------------------------ internals
    def _options(self, now):
        self.cseq += 1
        self.sent_pings += 1
        self._ping = (self.cseq, now + self.ping_timeout)
        target = "sip:%s" % self.reg.registrar_text
        aor = "sip:%s@%s" % (self.reg.user, self.reg.domain)
        return Request("OPTIONS", target, [
            ("Max-Forwards", "70"),
            ("From", "<%s>;tag=%s" % (aor, self.tag)),
            ("To", "<%s>" % target),
            ("Call-ID", self.call_id),
            ("CSeq", "%d OPTIONS" % self.cseq),
            ("Accept", "application/sdp"),
            ("User-Agent", self.reg.user_agent),
        ])

    def __repr__(self):
        return "<RegistrarMonitor line %d keepalive %gs ping %gs>" % (self.reg.line, self.keepalive_s, self.ping_s)
