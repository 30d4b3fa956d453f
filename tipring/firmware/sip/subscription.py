"""One subscription as the subscriber: SUBSCRIBE, refresh, NOTIFY, unsubscribe (RFC 6665 §4.1).

Rules:
1. Sans-IO, shaped like `Registration` (a transaction user of `UserAgent`): `start()`,
   `stop()`, `on_response()`, `on_failure()`, `on_timer()` take `now` and return actions
   `("send", Request)` / `("event", name, fields)`; `deadline()` says when `on_timer()` is
   due. `on_notify(req, now)` returns `(status, actions)`: the answer the NOTIFY gets, and what
   the subscription does about it. It knows no event package: the body of a NOTIFY is the
   owner's (tipring/firmware/calls/mwi.py reads message-summary).
2. Never hammer the notifier: a refused SUBSCRIBE is retried after a back-off (30 s doubling
   to 30 min, Retry-After wins); a final refusal (403, 404, 405, 489, 501) after 30 min.
3. Digest challenges (401/407) are answered with the line's credentials as Registration does;
   a second challenge for the same credentials is a wrong password.

Theory of operation (states are what the console prints):

    idle --start--> subscribing --2xx--> active (refresh before the granted time runs out)
    subscribing --NOTIFY (may come before the 2xx, §4.1.2.4)--> active | pending
    active --refresh due--> subscribing (in the dialog) --2xx--> active
    subscribing --401/407--> subscribing (with credentials)   --423--> subscribing (Min-Expires)
    subscribing --481 on a refresh--> a new subscription at once (the notifier forgot ours)
    subscribing --timeout/5xx/other--> backoff --> subscribing (a new dialog)
    subscribing --403/404/405/489/501--> failed --(30 min)--> subscribing
    any --NOTIFY Subscription-State: terminated--> deactivated/timeout: subscribe again at
        once; probation/giveup: after retry-after or the back-off; rejected/noresource: failed
    any --stop--> unsubscribing (Expires: 0 in the dialog) --any final--> terminated

The dialog (RFC 6665 §4.1.2.4, RFC 3261 §12) is built from the first 2xx or NOTIFY that
carries the notifier's tag; refreshes and the unsubscribe go in it. Events for the log:
``subscription`` with `line`, `package` (the event package), `state` (active, pending, failed,
terminated), `expires` / `status` / `reason`.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.auth import DigestClient
from tipring.firmware.sip.dialog import Dialog
from tipring.firmware.sip.message import Request
from tipring.firmware.sip.registration import raised_expires

MIN_BACKOFF = 30.0
MAX_BACKOFF = 1800.0
FINAL_REFUSALS = (403, 404, 405, 489, 501, 603)
RESUBSCRIBE_NOW = ("deactivated", "timeout")         # RFC 6665 §4.1.3
RESUBSCRIBE_LATER = ("probation", "giveup")
NEVER_AGAIN = ("rejected", "noresource", "invariant")


def _retry_after(value):
    if not value:
        return None
    num = value.split("(")[0].split(";")[0].strip()
    return int(num) if num.isdigit() else None


def parse_state(value: str):
    """`Subscription-State` (RFC 6665 §8.2.3): (state, params dict); ValueError when absent."""
    if not value or not value.strip():
        raise ValueError("NOTIFY without Subscription-State")
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


class Subscription:
    """Represents one line's subscription to one event package at a notifier.

    :param line: FXS port (events). :param user, password, domain: the line's account;
    `auth_user` when the digest user differs. :param target: the URI subscribed to (the
    line's AoR or its voicemail URI). :param next_hop: (host, port) the SUBSCRIBEs go to (the
    line's proxy). :param contact: our Contact URI text. :param event: the package
    ("message-summary"); `accept` its body type. :param expires: seconds asked for.
    """

    def __init__(self, line: int, user: str, password: str, domain: str, target: str, next_hop,
                 contact: str, event: str = "message-summary",
                 accept: str = "application/simple-message-summary", expires: int = 3600,
                 auth_user=None, user_agent: str = "tipring", jitter=None,
                 min_backoff: float = MIN_BACKOFF, max_backoff: float = MAX_BACKOFF):
        self.line = line
        self.user = user
        self.domain = domain
        self.target = target
        self.next_hop = next_hop
        self.contact = contact
        self.event = event
        self.accept = accept
        self.requested = expires
        self.expires = expires
        self.user_agent = user_agent
        self.auth = DigestClient(auth_user or user, password)
        self.jitter = jitter or (lambda: 0.5)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.state = "idle"
        self.failures = 0
        self.expires_at = None       # when the notifier's subscription lapses
        self.dialog = None
        self._new_ids()
        self._reported = None        # the state the last `subscription` event gave
        self._notified = None        # Subscription-State of the last NOTIFY
        self._auth_rounds = 0
        self._due = None
        self._last = None            # the SUBSCRIBE in flight, as sent
        self._stopping = False

    def __repr__(self):
        return "<Subscription line %d %s %s %s>" % (self.line, self.event, self.target, self.state)

    def _new_ids(self):
        self.call_id = random_hex(12) + "@tipring"
        self.tag = random_hex(6)
        self.cseq = 0
        self.dialog = None
        self._notified = None

    # ------------------------------------------------------------------ public verbs
    def deadline(self):
        return self._due

    def start(self, now: float) -> list:
        """Subscribe now (a new dialog)."""
        self._stopping = False
        self.failures = 0
        self.expires = self.requested
        self._new_ids()
        return self._send(now, self.expires)

    def stop(self, now: float) -> list:
        """Unsubscribe (Expires: 0 in the dialog) when subscribed; otherwise just stop."""
        self._due = None
        self._stopping = True
        if self.state in ("active", "pending") or (self.state == "subscribing" and self.dialog is not None):
            return self._send(now, 0)
        self.state = "terminated"
        self._last = None
        return []

    def on_timer(self, now: float) -> list:
        if self._due is None or now < self._due:
            return []
        self._due = None
        if self._stopping:
            return []
        if self.state in ("active", "pending") and self.dialog is not None:
            return self._send(now, self.expires)                  # refresh in the dialog
        if self.state in ("backoff", "failed"):
            if self.dialog is None or self.expires_at is None or now >= self.expires_at:
                self._new_ids()                      # the old subscription is gone: a new one
            return self._send(now, self.expires)
        return []

    def on_response(self, resp, now: float) -> list:
        if resp.status < 200 or self._last is None or resp.cseq.seq != self._last.cseq.seq:
            return []
        sent, self._last = self._last, None
        code = resp.status
        if code in (401, 407):
            self._auth_rounds += 1
            result = self.auth.answer(resp, sent, self._auth_rounds)
            if not result.ok:
                return self._fail(now, code, result.reason)
            return self._send(now, 0 if self._stopping else self.expires, result.headers)
        self._auth_rounds = 0
        if self._stopping:
            self.state = "terminated"
            self.expires_at = None
            return [self._event("terminated", status=code, reason="unsubscribed")]
        if 200 <= code < 300:
            if self.dialog is None and resp.to.tag:
                try:
                    self.dialog = Dialog.uac(sent, resp, contact="<%s>" % self.contact)
                except ValueError:
                    self.dialog = None
            elif self.dialog is not None:
                self.dialog.on_response(resp)
            granted = self._granted(resp)
            if granted <= 0:
                return self._fail(now, code, "the notifier granted no time")
            self.failures = 0
            self.expires_at = now + granted
            self._due = now + self.refresh_after(granted)
            self.state = "pending" if self._notified == "pending" else "active"
            if self._reported != self.state:
                return [self._event(self.state, expires=granted)]
            return []
        if code == 423:
            m = raised_expires(resp, self.expires)
            if m is not None:
                self.expires = m
                return self._send(now, m)
            return self._fail(now, code, "423 without a usable Min-Expires (%r)" % resp.headers.get("Min-Expires"))
        if code == 481 and self.dialog is not None:
            self._new_ids()                          # the notifier forgot us: start over
            return self._send(now, self.expires)
        if code in FINAL_REFUSALS:
            self.state = "failed"
            self.failures += 1
            self.expires_at = None
            self._due = now + self.max_backoff
            return [self._event("failed", status=code, reason="%d %s" % (code, resp.reason),
                                retry_in=self.max_backoff)]
        return self._fail(now, code, "%d %s" % (code, resp.reason), _retry_after(resp.headers.get("Retry-After")))

    def on_failure(self, reason: str, now: float) -> list:
        """The SUBSCRIBE in flight timed out (Timer F) or could not be sent."""
        if self._last is None:
            return []
        self._last = None
        self._auth_rounds = 0
        if self._stopping:
            self.state = "terminated"
            return [self._event("terminated", status=None, reason=reason)]
        return self._fail(now, None, reason)

    def matches(self, req) -> bool:
        """Whether NOTIFY `req` belongs to this subscription (Call-ID and our tag, §4.1.2.4)."""
        try:
            return req.call_id == self.call_id and req.to.tag == self.tag
        except ValueError:
            return False

    def on_notify(self, req, now: float):
        """A NOTIFY in this subscription: (status to answer, actions)."""
        if self.state in ("terminated", "idle"):
            return 481, []
        try:
            state, params = parse_state(req.headers.get("Subscription-State"))
        except ValueError as e:
            return 400, [("event", "error", {"where": "mwi", "message": "line %d: %s" % (self.line, e)})]
        if self.dialog is None:
            self.dialog = self._dialog_from(req)
        elif self.dialog.remote_tag != req.from_.tag:
            return 481, []                            # a second fork: not ours to follow
        else:
            self.dialog.on_request(req)
        out = []
        if state in ("active", "pending"):
            exp = params.get("expires", "")
            if exp.isdigit() and not self._stopping:
                left = int(exp)
                self.expires_at = now + left
                due = now + self.refresh_after(left)
                if self._last is None and (self._due is None or due < self._due):
                    self._due = due
            self._notified = state
            if not self._stopping:
                self.state = state
                if self._reported != state:
                    out.append(self._event(state, expires=int(exp) if exp.isdigit() else None))
            return 200, out
        if state == "terminated":
            reason = params.get("reason", "")
            self.expires_at = None
            self.dialog = None
            if self._stopping:
                self.state = "terminated"
                return 200, []
            out.append(self._event("terminated", status=None, reason=reason or "terminated by the notifier"))
            if reason in NEVER_AGAIN:
                self.state = "failed"
                self._due = now + self.max_backoff
            elif reason in RESUBSCRIBE_NOW or not reason:
                self._new_ids()
                self.state = "backoff"
                self._due = now               # at once, from the timer (after this 200)
            else:
                ra = _retry_after(params.get("retry-after"))
                self.state = "backoff"
                self.failures += 1
                self._due = now + (ra if ra is not None else self.backoff(self.failures))
            return 200, out
        return 200, []                                # an extension state: keep going

    @staticmethod
    def refresh_after(granted: float) -> float:
        """A minute before the end (half the time for short grants): room for a retry."""
        return granted * 0.5 if granted < 120 else granted - 60.0

    def backoff(self, failures: int) -> float:
        base = min(self.min_backoff * (2 ** max(failures - 1, 0)), self.max_backoff)
        return base * (1.0 - 0.2 * self.jitter())

    # ------------------------------------------------------------------ internals
    def _event(self, state, **fields):
        self._reported = state
        f = {"line": self.line, "package": self.event, "state": state, "uri": self.target}
        f.update({k: v for k, v in fields.items() if v is not None or k == "status"})
        return ("event", "subscription", f)

    def _fail(self, now, status, reason, retry_after=None):
        self.failures += 1
        self._auth_rounds = 0
        self.state = "backoff"
        delay = float(retry_after) if retry_after is not None else self.backoff(self.failures)
        self._due = now + delay
        if self.expires_at is not None and self.expires_at > now:
            self._due = min(self._due, self.expires_at)
        return [self._event("failed", status=status, reason=reason, retry_in=round(delay, 1))]

    def _granted(self, resp) -> int:
        e = resp.headers.get("Expires")
        if e and e.strip().isdigit():
            return min(int(e.strip()), self.expires)
        return self.expires

    def _dialog_from(self, notify):
        contact = notify.contact
        target = str(contact[0].uri) if contact and not contact[0].star else self.target
        return Dialog(self.call_id, self.tag, notify.from_.tag,
                      "<sip:%s@%s>" % (self.user, self.domain), "<%s>" % self.target,
                      self.cseq, notify.cseq.seq, target, notify.headers.get_all("Record-Route"),
                      "confirmed", True, "<%s>" % self.contact)

    def _send(self, now, expires, credentials=None):
        headers = [("Event", self.event), ("Accept", self.accept), ("Expires", str(expires)),
                   ("Allow-Events", self.event), ("User-Agent", self.user_agent)]
        if self.dialog is not None:
            req = self.dialog.request("SUBSCRIBE", headers=headers)
            self.cseq = req.cseq.seq
        else:
            self.cseq += 1
            aor = "sip:%s@%s" % (self.user, self.domain)
            req = Request("SUBSCRIBE", self.target, [
                ("Max-Forwards", "70"),
                ("From", "<%s>;tag=%s" % (aor, self.tag)),
                ("To", "<%s>" % self.target),
                ("Call-ID", self.call_id),
                ("CSeq", "%d SUBSCRIBE" % self.cseq),
                ("Contact", "<%s>" % self.contact)] + headers)
        req.headers.remove("Via")        # the UA puts its own Via on (Dialog.request adds one)
        creds = credentials if credentials is not None else self.auth.authorize(req)
        for name, value in creds:
            req.headers.set(name, value)
        self.state = "unsubscribing" if self._stopping else "subscribing"
        self._last = req
        self._due = None
        return [("send", req)]
