"""One line's registration at its registrar: RFC 3261 §10 client behaviour, as an ATA does it,
with the NAT handling of RFC 3581 and recovery after a registrar restart.

Rules:
1. Sans-IO. `start()`, `on_response()`, `on_failure()`, `on_timer()` and `stop()` take `now` and
   return actions: `("send", Request)` (the UA wraps it in a client transaction and adds the
   Via, and sends it to `next_hop`), `("event", name, fields)` for the event log, and
   `("locate", self)` when the registrar's name must be looked up (RFC 3263) before a REGISTER
   can go: the caller answers with `set_targets()` or `locate_failed()`. `deadline()` says when
   `on_timer()` is next due. Every timer here is tested on a virtual clock.
2. One Call-ID and a CSeq that goes up by one for every REGISTER of the line (§10.2.4).
3. Never hammer the registrar: a refused REGISTER is retried only after a back-off.
4. The keep-alives and the OPTIONS ping live in `tipring/firmware/sip/keepalive.py` (`self.monitor`,
   a second TU); it tells this one what it saw through `registrar_down()` / `registrar_up()`.

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

NAT (RFC 3581 §4-§6): the 200's top Via says with `received`/`rport` where the registrar saw
the REGISTER come from. When that differs from our Contact, the Contact becomes that address
and the line re-registers at once, once (the old Contact is removed in the same REGISTER with
`;expires=0`); a mapping that moves again on that answer is taken at the next refresh only.
No RFC 5626 (no reg-id/instance-id, no flow tokens): plain RFC 3261 + RFC 3581.

Binding check (RFC 3261 §10.2.3): a registrar that restarts faster than the ping notices
(a second or two) answers every ping and has forgotten us all the same. So each good ping
answer from the primary is followed by a REGISTER query (the monitor sends it, as its own
transaction), a REGISTER with no Contact, whose 200 lists the bindings the registrar holds
for our AoR: ours missing means lost (`binding_lost`), and the line re-registers at once
(`registration_failed` with `cause: "check"`, then `registered`). A registrar that refuses
queries (403/404/405/501) is not asked again.

Recovery. A binding counts as lost on a failed refresh (timeout, 5xx), a lost TCP connection
(`on_transport_lost`), or the monitor's OPTIONS ping failing (`registrar_down`); the line then
re-registers at once, and when that fails too the back-off starts with a short first retry
(`quick_retry`, 2 s) instead of 30 s. A ping answered after failing (`registrar_up`) means the
registrar is back, maybe restarted with an empty location table: re-register now. With a
`backup` registrar, trouble at the primary moves the line to the backup at once; the monitor
keeps pinging the primary and the line returns there when it answers again (the binding at
the backup is left to lapse). `registration_failed` while down: one per failed attempt (the
attempts are backed off), one per outage for the ping, and the same status and reason are
not repeated within `REPORT_EVERY` (20 s, so bursts of quick retries merge): the next one says how many were held back
(`repeats`).
"""

from tipring.firmware.sip.auth import DigestClient
from tipring.firmware.sip.message import Request, NameAddr
from tipring.firmware.compat import random_hex

try:
    import random as _random
    _rand = _random.random
except (ImportError, AttributeError):  # pragma: no cover
    def _rand():
        return 0.5

MIN_BACKOFF = 30.0
MAX_BACKOFF = 1800.0
QUICK_RETRY = 2.0       # the first retry after a binding was lost (registrar restart, failover)
REPORT_EVERY = 20.0     # the same registration_failed is not repeated sooner (the 24-30 s back-off is not cut)


def _retry_after(resp):
    v = resp.headers.get("Retry-After")
    if not v:
        return None
    num = v.split("(")[0].split(";")[0].strip()
    if num.isdigit():
        return int(num)
    return None


def _uri_hostport(uri_text):
    """(host, port) of a SIP URI's text, port 5060 when absent; None when it does not parse."""
    try:
        u = NameAddr.parse("<%s>" % uri_text).uri
    except ValueError:
        return None
    return (str(u.host).strip("[]").lower(), u.port or 5060)



def raised_expires(resp, current: int):
    """The Min-Expires of a 423 Interval Too Brief (RFC 3261 §10.2.8, RFC 6665 §4.1.2.1)
    when it is a usable raise over `current`, at most a day; else None."""
    me = (resp.headers.get("Min-Expires") or "").strip()
    m = int(me) if me.isdigit() else None
    return m if m is not None and current < m <= 86400 else None

class Registration:
    """Represents one line's binding (AoR -> Contact) at a registrar.

    :param line: the FXS port number (for events).
    :param user, password, domain: the account; `auth_user` when the digest user differs.
    :param registrar: (host, port) the REGISTERs go to (the outbound proxy if there is one), or
        None when it is to be looked up: `start()` then asks with a `("locate", self)` action.
    :param contact: our Contact URI text, e.g. "sip:1001@127.0.0.1:5070".
    :param expires: the interval asked for, seconds.
    :param backup: (host, port) of a secondary registrar, or None; `backup_text` names it.
    :param keepalive_s: CRLF keep-alive interval towards the registrar (0 = none).
    :param ping_s: OPTIONS ping interval to the primary registrar (0 = none).
    """

    def __init__(self, line: int, user: str, password: str, domain: str, registrar, contact: str,
                 expires: int = 3600, auth_user=None, display=None, user_agent: str = "tipring",
                 jitter=None, min_backoff: float = MIN_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 registrar_text=None, backup=None, backup_text=None, keepalive_s: float = 0,
                 ping_s: float = 0, ping_timeout=None, quick_retry: float = QUICK_RETRY):
        self.line = line
        self.user = user
        self.domain = domain
        self.registrar_text = registrar_text or ("%s:%d" % tuple(registrar) if registrar else "?")
        self.locating = registrar is None  # look the registrar up at every new round
        self.targets = [tuple(registrar)] if registrar else []
        self._hop = 0                # index in targets of the primary target in use
        self._tried = 0              # targets given up on in this round (failover)
        self.backup = tuple(backup) if backup else None
        self.backup_text = backup_text or ("%s:%d" % self.backup if self.backup else None)
        self.on_backup = False       # the REGISTERs go to the backup now
        self.local_contact = contact  # the Contact of our own socket
        self.contact = contact       # the Contact we register (the NAT mapping once known)
        self._old_contact = None     # a Contact to remove with the next REGISTER (;expires=0)
        self._nat_rereg = True       # may re-register at once for a new mapping (once a cycle)
        self.requested = expires
        self.expires = expires
        self.display = display
        self.user_agent = user_agent
        self.auth = DigestClient(auth_user or user, password)
        self.jitter = jitter or _rand
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.quick_retry = quick_retry
        self.call_id = random_hex(12) + "@tipring"
        self.tag = random_hex(6)
        self.cseq = 0
        self.state = "idle"
        self.granted = None          # seconds granted by the last 200
        self.bound_until = None      # when the registrar's binding lapses
        self.failures = 0
        self.was_registered = False  # a binding existed: failures from now on are a lost binding
        self.down = False            # the monitor's ping says the primary is not answering
        self._return_primary = False  # go back to the primary once the REGISTER in flight ends
        self._auth_rounds = 0
        self._due = None             # when on_timer() next has work
        self._last = None            # the REGISTER in flight (as sent, credentials included)
        self._unregistering = False
        self._reported = None        # (status, reason, at, held back) of the last registration_failed
        self.monitor = None
        if keepalive_s or ping_s:
            from tipring.firmware.sip.keepalive import RegistrarMonitor
            self.monitor = RegistrarMonitor(self, keepalive_s, ping_s, ping_timeout)

    # ------------------------------------------------------------------ public verbs
    @property
    def registered(self) -> bool:
        return self.bound_until is not None

    @property
    def registrar(self):
        """(address, port) of the primary registrar's target in use (RFC 3263 order); None
        until its lookup has given one. The monitor pings it, to see it come back."""
        return self.targets[self._hop] if self.targets else None

    @property
    def next_hop(self):
        """Where the REGISTERs (and the line's calls) go now: the backup while the line is
        failed over to it, else the primary's target in use."""
        return self.backup if self.on_backup and self.backup else self.registrar

    @next_hop.setter
    def next_hop(self, hop) -> None:
        """A new (single) address for the primary."""
        self.targets = [tuple(hop)] if hop else []
        self._hop = 0
        self._tried = 0

    @property
    def target_text(self) -> str:
        return self.backup_text if self.on_backup and self.backup else self.registrar_text

    def deadline(self):
        return self._due

    def start(self, now: float) -> list:
        """Register now (also used to re-register at once after a config change)."""
        self._unregistering = False
        self.expires = self.requested
        self.failures = 0
        self._tried = 0
        if self.monitor is not None:
            self.monitor.started(now)
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
        if self._last is None:
            if self.state == "registered":
                actions += self._send(now, self.expires)      # a refresh: same target
            elif self.state in ("backoff", "failed"):
                actions += self._locate() if self.locating else self._send(now, self.expires)
        return actions

    def on_response(self, resp, now: float) -> list:
        """A final response to the REGISTER in flight (provisional ones are ignored)."""
        if resp.status < 200 or self._last is None:
            return []
        try:
            if resp.cseq.seq != self._last.cseq.seq:
                return []           # an answer to a REGISTER we no longer wait for
        except ValueError:
            return []
        sent, self._last = self._last, None
        code = resp.status
        if code in (401, 407):
            self._auth_rounds += 1
            result = self.auth.answer(resp, sent, self._auth_rounds)
            if not result.ok:
                return self._fail(now, code, result.reason)
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
            return self._granted_ok(resp, now)
        if code == 423:
            m = raised_expires(resp, self.expires)
            if m is not None:
                self.expires = m
                return self._send(now, m)
            return self._fail(now, code, "423 without a usable Min-Expires (%r)" % resp.headers.get("Min-Expires"))
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

    # ------------------------------------------------------------------ recovery (lost bindings)
    def on_transport_lost(self, reason: str, now: float) -> list:
        """The connection to the registrar closed (TCP, TLS): the binding may be gone with it
        (a restarted registrar, a NAT that forgot us). Re-register now over a new connection,
        unless a REGISTER is already on its way (its own outcome then decides) or the line is
        not registered (then its back-off decides: a connection that keeps failing must not
        turn into a REGISTER per failure)."""
        if self.state != "registered" or self._last is not None:
            return []
        return self._send(now, self.expires)

    def registrar_down(self, now: float, reason: str) -> list:
        """The monitor's ping to the primary failed (no answer in time, or 5xx)."""
        if self.state in ("idle", "stopped", "unregistering"):
            return []
        acts = []
        if not self.down:
            self.down = True
            acts.append(self._report(now, None, reason, cause="ping"))
        if self.on_backup or self._last is not None:
            return acts             # on the backup already, or a REGISTER in flight decides
        if self.backup:
            self.on_backup = True   # failover: register at the backup at once
        self._due = now
        return acts

    def registrar_up(self, now: float) -> list:
        """The primary answered a ping after failing: it is back, perhaps restarted with no
        binding of ours. Re-register there now."""
        if not self.down:
            return []
        self.down = False
        if self.state in ("idle", "stopped", "unregistering"):
            return []
        if self.on_backup:
            if self._last is not None:
                self._return_primary = True
                return []
            self.on_backup = False
        if self._last is None:
            self._due = now
        return []

    def can_check(self) -> bool:
        """True when a binding query makes sense now: registered at the primary, nothing in
        flight, not leaving."""
        return self.state == "registered" and self._last is None and not self.on_backup \
            and not self._unregistering

    def query_request(self) -> Request:
        """A REGISTER query for our AoR (RFC 3261 §10.2.3: no Contact, no Expires), with
        credentials when we hold a nonce; the monitor sends it as its own transaction."""
        req = self._build(None)
        for name, value in self.auth.authorize(req):
            req.headers.set(name, value)
        return req

    def holds_binding(self, resp) -> bool:
        """Whether a 2xx to a REGISTER lists our Contact among the bindings."""
        try:
            contacts = resp.contact
        except ValueError:
            return False
        return any(not getattr(c, "star", False) and self._same_contact(c) for c in contacts)

    def binding_lost(self, now: float) -> list:
        """The registrar no longer holds our binding (a query said so): register again now
        (from `on_timer`, so the REGISTER is this TU's and not the monitor's), unless a
        REGISTER is already on its way."""
        if self.state != "registered" or self._last is not None:
            return []
        ev = self._report(now, None, "the registrar no longer holds our binding (restarted?)", cause="check")
        self.bound_until = None
        self._due = now                # the REGISTER goes from on_timer, as this TU's own
        return [ev] if ev else []

    @staticmethod
    def refresh_after(granted: float) -> float:
        """Refresh at half the granted interval: time for Timer F (32 s) and a retry or two."""
        return max(granted * 0.5, 1.0)

    def backoff(self, failures: int, quick: bool = False) -> float:
        if quick and failures <= 1:
            return self.quick_retry * (1.0 - 0.2 * self.jitter())
        base = min(self.min_backoff * (2 ** max(failures - 1 - (1 if quick else 0), 0)), self.max_backoff)
        return base * (1.0 - 0.2 * self.jitter())

    # ------------------------------------------------------------------ internals
    def _locate(self):
        self.state = "resolving"
        self._due = None
        return [("locate", self)]

    def _failover(self, now, reason):
        """RFC 3263 §4.3: the primary's next target, if this round has one left; [] when not
        (and on the backup, whose failure the back-off handles)."""
        if self.on_backup or self._tried + 1 >= len(self.targets):
            return []
        self._tried += 1
        self._hop = (self._hop + 1) % len(self.targets)
        return [self._event("registrar_failover", reason=reason, to="%s:%d" % self.next_hop)] + \
            self._send(now, self.expires)

    def _event(self, name, **fields):
        f = {"line": self.line, "registrar": self.target_text}
        f.update(fields)
        return ("event", name, f)

    def _report(self, now, status, reason, **fields):
        """A registration_failed, unless the same one went out less than REPORT_EVERY ago
        (then None, and the next one carries how many were held back)."""
        last = self._reported
        if last is not None and last[0] == status and last[1] == reason and now - last[2] < REPORT_EVERY:
            self._reported = (status, reason, last[2], last[3] + 1)
            return None
        if last is not None and last[3]:
            fields["repeats"] = last[3]
        self._reported = (status, reason, now, 0)
        return self._event("registration_failed", status=status, reason=reason, **fields)

    def _granted_ok(self, resp, now):
        granted = self._granted(resp)
        if granted <= 0:
            return self._fail(now, resp.status, "registrar granted no binding for our Contact")
        self.state = "registered"
        self._tried = 0
        self.granted = granted
        self.bound_until = now + granted
        self.failures = 0
        self.was_registered = True
        self._old_contact = None
        self._reported = None
        if not self.on_backup:
            self.down = False       # the primary answered: a late ping answer adds nothing
        self._due = now + self.refresh_after(granted)
        if self.monitor is not None:
            self.monitor.registered(now)
        if self._return_primary and self.on_backup:
            self._return_primary = False
            self.on_backup = False
            return [self._event("registered", expires=granted, backup=True)] + self._send(now, self.expires)
        acts = self._nat(resp, now)
        if acts:
            return acts
        self._nat_rereg = True
        fields = {"expires": granted}
        if self.contact != self.local_contact:
            fields["contact"] = self.contact
        if self.on_backup:
            fields["backup"] = True
        return [self._event("registered", **fields)]

    def _nat(self, resp, now):
        """RFC 3581: the address the registrar saw us at (received/rport of the 200's top Via).
        A new one becomes our Contact and is registered at once, once per refresh cycle."""
        try:
            top = resp.via[0]
        except (ValueError, IndexError):
            return []
        if ";transport=" in self.local_contact.lower():
            # over TCP/TLS the registrar answers over our connection and reaches us through it
            # (Via alias, RFC 5923): the mapped source port is that connection's, not a
            # listening address to put in the Contact
            return []
        received = top.params.get("received")
        rport = top.params.get("rport")
        if not received and not (rport and rport.isdigit()):
            return []
        ours = _uri_hostport(self.contact)
        if ours is None:
            return []
        host = (received or ours[0]).strip("[]").lower()
        port = int(rport) if rport and rport.isdigit() else ours[1]
        if (host, port) == ours or not 0 < port < 65536:
            return []
        was = self.contact
        user = self.user
        self.contact = "sip:%s@%s:%d" % (user, "[%s]" % host if ":" in host else host, port)
        self._old_contact = was
        ev = ("event", "nat", {"line": self.line, "registrar": self.target_text, "contact": self.contact,
                               "was": was})
        if not self._nat_rereg:
            # the mapping moved again on the answer to our re-registration: take it at the
            # next refresh, do not chase it now
            return [ev, self._event("registered", expires=self.granted, contact=was)]
        self._nat_rereg = False
        return [ev] + self._send(now, self.expires)

    def _fail(self, now, status, reason, retry_after=None):
        self.failures += 1
        self._auth_rounds = 0
        self.state = "backoff"
        # a binding we had is lost (restart, outage): the first retry is quick, not 30 s
        quick = self.was_registered and (status is None or 500 <= status < 600)
        delay = float(retry_after) if retry_after is not None else self.backoff(self.failures, quick)
        failed_at = self.target_text
        switched = False
        if quick and self.backup and retry_after is None:
            if self._return_primary or self.on_backup:
                self.on_backup = False      # the backup failed too: the primary after the back-off
            else:
                self.on_backup = True       # failover: the backup at once
                delay = 0.0
            self._return_primary = False
            switched = True
        due = now + delay
        if self.bound_until is not None and self.bound_until > now:
            due = min(due, self.bound_until)  # a failed refresh: the binding still holds till then
        self._due = due
        fields = {"retry_in": round(delay, 1), "registrar": failed_at}
        if switched:
            fields["next"] = self.target_text
            self._reported = None          # a failover is always reported
        ev = self._report(now, status, reason, **fields)
        return [ev] if ev else []

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
        ours = _uri_hostport(self.contact)
        if ours is None:
            return False
        try:
            ours_user = NameAddr.parse("<%s>" % self.contact).uri.user
        except ValueError:
            return False
        return (str(u.user) == str(ours_user) and str(u.host).strip("[]").lower() == ours[0]
                and (u.port or 5060) == ours[1])

    def _send(self, now, expires, credentials=None):
        self.state = "registering" if not self._unregistering else "unregistering"
        req = self._build(expires)
        creds = credentials if credentials is not None else self.auth.authorize(req)
        for name, value in creds:
            req.headers.set(name, value)
        self._last = req
        self._due = None
        return [("send", req, self.next_hop)]

    def _build(self, expires):
        """The next REGISTER (CSeq counted); `expires` None makes it a query."""
        self.cseq += 1
        aor = "sip:%s@%s" % (self.user, self.domain)
        who = ('"%s" ' % self.display) if self.display else ""
        query = expires is None    # a binding query: no Contact, no Expires (§10.2.3)
        contact = None if query else "<%s>;expires=%d" % (self.contact, expires)
        if not query and self._old_contact and self._old_contact != self.contact and not self._unregistering:
            contact += ", <%s>;expires=0" % self._old_contact
        headers = [
            ("Max-Forwards", "70"),
            ("From", "%s<%s>;tag=%s" % (who, aor, self.tag)),
            ("To", "%s<%s>" % (who, aor)),
            ("Call-ID", self.call_id),
            ("CSeq", "%d REGISTER" % self.cseq),
            ("Contact", contact),
            ("Expires", str(expires)),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY"),
            ("User-Agent", self.user_agent),
        ]
        if query:
            headers = [h for h in headers if h[0] not in ("Contact", "Expires")]
        return Request("REGISTER", "sip:%s" % self.domain, headers)

    def __repr__(self):
        return "<Registration line %d %s@%s %s>" % (self.line, self.user, self.domain, self.state)
