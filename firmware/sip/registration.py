"""One line's registration at its registrar: RFC 3261 §10 client behaviour, as an ATA does it.

Rules:
1. Sans-IO. `start()`, `on_response()`, `on_failure()`, `on_timer()` and `stop()` take `now` and
   return actions: `("send", Request)` (the UA wraps it in a client transaction and adds the
   Via, and sends it to `next_hop`), `("event", name, fields)` for the event log, and
   `("locate", self)` when the registrar's name must be looked up (RFC 3263) before a REGISTER
   can go: the caller answers with `set_targets()` or `locate_failed()`. `deadline()` says when
   `on_timer()` is next due. Every timer here is tested on a virtual clock.
2. One Call-ID and a CSeq that goes up by one for every REGISTER of the line (§10.2.4).
3. Never hammer the registrar: a refused REGISTER is retried only after a back-off.

Theory of operation (states are the strings the console prints):

    idle --start--> registering --200--> registered --(half the granted time)--> registering
    registering --401/407--> registering (with credentials; a second challenge for the same
        credentials is a wrong password: `registration_failed`, back-off)
    registering --423--> registering (Expires raised to the Min-Expires the registrar asked)
    registering --403/404--> failed (reported; one slow retry after `max_backoff`)
    registering --timeout/5xx/other--> backoff (30 s doubling to `max_backoff`, jittered down by
        up to 20 %; Retry-After wins when present) --> registering
    any --stop--> unregistering (Expires: 0, with credentials as needed) --> stopped

While `registered`, a failed refresh keeps retrying on the back-off; the binding is only
reported lost (`registration_failed` with `lapsed`) once its granted time has run out.

Where REGISTERs go (RFC 3263 §4.3): `targets` is the ordered list of (address, port) the lookup
gave (one entry for a numeric registrar), `next_hop` the one in use. A REGISTER that gets no
answer at all (Timer F), cannot be sent, or gets 503 moves to the next target at once
(`registrar_failover` event, new transaction, same Call-ID), each target tried once per round;
when all have failed, the back-off above. A registration built without a registrar address
(`registrar=None`) looks its name up at `start()` and again after every back-off, so a round
starts from fresh (TTL-cached) records; a refresh stays at the target that answered:

    idle --start--> resolving --set_targets--> registering
    resolving --locate_failed--> backoff --(back-off)--> resolving
"""

from firmware.sip.auth import DigestClient
from firmware.sip.message import Request, NameAddr
from firmware.compat import random_hex

try:
    import random as _random
    _rand = _random.random
except (ImportError, AttributeError):  # pragma: no cover
    def _rand():
        return 0.5

MIN_BACKOFF = 30.0
MAX_BACKOFF = 1800.0
MAX_AUTH_ROUNDS = 4     # challenges answered in a row before giving up (stale loops included)


def _retry_after(resp):
    v = resp.headers.get("Retry-After")
    if not v:
        return None
    num = v.split("(")[0].split(";")[0].strip()
    if num.isdigit():
        return int(num)
    return None


class Registration:
    """Represents one line's binding (AoR -> Contact) at a registrar.

    :param line: the FXS port number (for events).
    :param user, password, domain: the account; `auth_user` when the digest user differs.
    :param registrar: (host, port) the REGISTERs go to (the outbound proxy if there is one), or
        None when it is to be looked up: `start()` then asks with a `("locate", self)` action.
    :param contact: our Contact URI text, e.g. "sip:1001@127.0.0.1:5070".
    :param expires: the interval asked for, seconds.
    """

    def __init__(self, line: int, user: str, password: str, domain: str, registrar, contact: str,
                 expires: int = 3600, auth_user=None, display=None, user_agent: str = "tipring",
                 jitter=None, min_backoff: float = MIN_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 registrar_text=None):
        self.line = line
        self.user = user
        self.domain = domain
        self.registrar = registrar
        self.registrar_text = registrar_text or ("%s:%d" % tuple(registrar) if registrar else "?")
        self.locating = registrar is None  # look the registrar up at every new round
        self.targets = [tuple(registrar)] if registrar else []
        self._hop = 0                # index in targets of next_hop
        self._tried = 0              # targets given up on in this round (failover)
        self.contact = contact
        self.requested = expires
        self.expires = expires
        self.display = display
        self.user_agent = user_agent
        self.auth = DigestClient(auth_user or user, password)
        self.jitter = jitter or _rand
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.call_id = random_hex(12) + "@tipring"
        self.tag = random_hex(6)
        self.cseq = 0
        self.state = "idle"
        self.granted = None          # seconds granted by the last 200
        self.bound_until = None      # when the registrar's binding lapses
        self.failures = 0
        self._auth_rounds = 0
        self._due = None             # when on_timer() next has work
        self._last = None            # the REGISTER in flight (as sent, credentials included)
        self._unregistering = False

    # ------------------------------------------------------------------ public verbs
    @property
    def registered(self) -> bool:
        return self.bound_until is not None

    def deadline(self):
        return self._due

    @property
    def next_hop(self):
        """(address, port) the next REGISTER goes to; None until the lookup has given one."""
        return self.targets[self._hop] if self.targets else None

    @next_hop.setter
    def next_hop(self, hop) -> None:
        self.targets = [tuple(hop)] if hop else []
        self._hop = 0
        self._tried = 0

    def start(self, now: float) -> list:
        """Register now (also used to re-register at once after a config change)."""
        self._unregistering = False
        self.expires = self.requested
        self.failures = 0
        self._tried = 0
        if self.locating:
            return self._locate()
        return self._send(now, self.expires)

    def set_targets(self, targets, now: float) -> list:
        """The registrar's lookup is done: `targets` [(address, port)...] in the order to try
        them (RFC 3263). Sends the REGISTER that waited for it."""
        self.targets = [tuple(t) for t in targets]
        self._hop = 0
        self._tried = 0
        if self.state == "resolving" and self.targets:
            return self._send(now, self.expires)
        return []

    def locate_failed(self, reason: str, now: float) -> list:
        """The registrar's lookup found no address (NXDOMAIN, DNS timeout...): reported, and
        tried again after the back-off."""
        if self.state != "resolving":
            return []
        return self._fail(now, None, reason)

    def stop(self, now: float) -> list:
        """Remove our binding (Expires: 0) if we have one; otherwise just stop."""
        self._due = None
        if not self.registered and self.state not in ("registering",):
            self.state = "stopped"
            return []
        self._unregistering = True
        return self._send(now, 0)

    def on_timer(self, now: float) -> list:
        if self._due is None or now < self._due:
            return []
        self._due = None
        actions = []
        if self.bound_until is not None and now >= self.bound_until and self.state != "registering":
            self.bound_until = None
            actions.append(self._event("registration_failed", status=None,
                                       reason="registration lapsed", lapsed=True))
        self._tried = 0
        if self.state == "registered":
            actions += self._send(now, self.expires)          # a refresh: same target
        elif self.state in ("backoff", "failed"):
            actions += self._locate() if self.locating else self._send(now, self.expires)
        return actions

    def on_response(self, resp, now: float) -> list:
        """A final response to the REGISTER in flight (provisional ones are ignored)."""
        if resp.status < 200 or self._last is None:
            return []
        sent, self._last = self._last, None
        code = resp.status
        if code in (401, 407):
            self._auth_rounds += 1
            result = self.auth.respond(resp, sent)
            if not result.ok or self._auth_rounds > MAX_AUTH_ROUNDS:
                reason = result.reason if not result.ok else "authentication loop (%d challenges)" % self._auth_rounds
                if not result.ok and "rejected" in reason:
                    reason = "wrong password: " + reason
                return self._fail(now, code, reason)
            return self._send(now, 0 if self._unregistering else self.expires, result.headers)
        self._auth_rounds = 0
        if self._unregistering:
            self.state = "stopped"
            self.bound_until = None
            self._due = None
            if 200 <= code < 300:
                return [self._event("unregistered", status=code)]
            return [self._event("unregistered", status=code, reason="registrar answered %d %s" % (code, resp.reason))]
        if 200 <= code < 300:
            granted = self._granted(resp)
            if granted <= 0:
                return self._fail(now, code, "registrar granted no binding for our Contact")
            self.state = "registered"
            self._tried = 0
            self.granted = granted
            self.bound_until = now + granted
            self.failures = 0
            self._due = now + self.refresh_after(granted)
            return [self._event("registered", expires=granted)]
        if code == 423:
            me = resp.headers.get("Min-Expires")
            m = int(me.strip()) if me and me.strip().isdigit() else None
            if m is not None and m > self.expires and m <= 86400:
                self.expires = m
                return self._send(now, m)
            return self._fail(now, code, "423 without a usable Min-Expires (%r)" % me)
        if code in (403, 404):
            self.state = "failed"
            self.failures += 1
            self._due = now + self.max_backoff
            return [self._event("registration_failed", status=code, reason="%d %s: check the account" % (code, resp.reason),
                                retry_in=self.max_backoff)]
        if code == 503 and not self._unregistering:
            moved = self._failover(now, "%d %s from %s:%d" % ((code, resp.reason) + tuple(self.next_hop)))
            if moved:
                return moved
        return self._fail(now, code, "%d %s" % (code, resp.reason), _retry_after(resp))

    def on_failure(self, reason: str, now: float) -> list:
        """The REGISTER in flight timed out (Timer F) or could not be sent."""
        if self._last is None:
            return []
        self._last = None
        self._auth_rounds = 0
        if self._unregistering:
            self.state = "stopped"
            self.bound_until = None
            return [self._event("unregistered", status=None, reason=reason)]
        return self._failover(now, reason) or self._fail(now, None, reason)

    @staticmethod
    def refresh_after(granted: float) -> float:
        """Refresh at half the granted interval: time for Timer F (32 s) and a retry or two."""
        return max(granted * 0.5, 1.0)

    def backoff(self, failures: int) -> float:
        base = min(self.min_backoff * (2 ** max(failures - 1, 0)), self.max_backoff)
        return base * (1.0 - 0.2 * self.jitter())

    # ------------------------------------------------------------------ internals
    def _locate(self):
        self.state = "resolving"
        self._due = None
        return [("locate", self)]

    def _failover(self, now, reason):
        """RFC 3263 §4.3: the next target, if this round has one left; [] when not."""
        if self._tried + 1 >= len(self.targets):
            return []
        self._tried += 1
        self._hop = (self._hop + 1) % len(self.targets)
        return [self._event("registrar_failover", reason=reason, to="%s:%d" % self.next_hop)] + \
            self._send(now, self.expires)

    def _event(self, name, **fields):
        f = {"line": self.line, "registrar": self.registrar_text}
        f.update(fields)
        return ("event", name, f)

    def _fail(self, now, status, reason, retry_after=None):
        self.failures += 1
        self._auth_rounds = 0
        self.state = "backoff"
        delay = float(retry_after) if retry_after is not None else self.backoff(self.failures)
        due = now + delay
        if self.bound_until is not None and self.bound_until > now:
            due = min(due, self.bound_until)  # a failed refresh: the binding still holds till then
        self._due = due
        return [self._event("registration_failed", status=status, reason=reason, retry_in=round(delay, 1))]

    def _granted(self, resp) -> int:
        mine = None
        try:
            contacts = resp.contact
        except ValueError:
            contacts = []
        for c in contacts:
            if getattr(c, "star", False):
                continue
            if self._same_contact(c):
                mine = c
                break
        if mine is not None and "expires" in mine.params:
            v = mine.params.get("expires") or ""
            if v.isdigit():
                return int(v)
        if contacts and mine is None:
            return 0
        e = resp.headers.get("Expires")
        if e and e.strip().isdigit():
            return int(e.strip())
        return self.expires

    def _same_contact(self, na) -> bool:
        u = na.uri
        try:
            ours = NameAddr.parse("<%s>" % self.contact).uri
        except ValueError:
            return False
        return (str(u.user) == str(ours.user) and str(u.host).lower() == str(ours.host).lower()
                and (u.port or 5060) == (ours.port or 5060))

    def _send(self, now, expires, credentials=None):
        self.cseq += 1
        self.state = "registering" if not self._unregistering else "unregistering"
        aor = "sip:%s@%s" % (self.user, self.domain)
        who = ('"%s" ' % self.display) if self.display else ""
        headers = [
            ("Max-Forwards", "70"),
            ("From", "%s<%s>;tag=%s" % (who, aor, self.tag)),
            ("To", "%s<%s>" % (who, aor)),
            ("Call-ID", self.call_id),
            ("CSeq", "%d REGISTER" % self.cseq),
            ("Contact", "<%s>;expires=%d" % (self.contact, expires)),
            ("Expires", str(expires)),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY"),
            ("User-Agent", self.user_agent),
        ]
        req = Request("REGISTER", "sip:%s" % self.domain, headers)
        creds = credentials if credentials is not None else self.auth.authorize(req)
        for name, value in creds:
            req.headers.set(name, value)
        self._last = req
        self._due = None
        return [("send", req)]

    def __repr__(self):
        return "<Registration line %d %s@%s %s>" % (self.line, self.user, self.domain, self.state)
