"""Message waiting for every line: message-summary NOTIFYs in, the lamp and stutter out.

Follows RFC 3842 (the message-summary event package and its
application/simple-message-summary body) over RFC 6665 (SUBSCRIBE/NOTIFY).

Rules:
1. Sans-IO, as the call layer: `on_notify(req, tx, src, now)` (the UA's NOTIFY handler),
   `start(now)`, `stop(now)`, `line_registered(port, now)` return outputs for the firmware:
   the UA's `("send", ...)` / `("event", ...)`, and `("line", port, "mwi", waiting, new,
   old)` for the FXS line (stutter dial tone, VMWI FSK to the phone).
2. Who may light the lamp: a NOTIFY for message-summary outside a subscription of ours is
   taken (200) only from the line's proxy/registrar address, like an INVITE (ghost-call
   protection, tipring/firmware/calls/manager.py `on_invite`; `direct_calls = true` lifts it); from
   anywhere else it gets 403 and an `error` event. Many PBXs (Asterisk, FreePBX, 3CX, most
   SIP trunks) send these "unsolicited" NOTIFYs to a registered contact.
3. Bad input never wins: a body that is not message-summary gets 400 with the fault as
   reason and an `error` event; the lamp keeps its state.
4. NOTIFYs for another event package go on to the handler that was there before (the call
   layer's REFER/sipfrag NOTIFYs), so this module sits in front of it, not in place of it.

Theory of operation. Each line keeps `state[port]` = {waiting, new, old, account}. A NOTIFY
body (RFC 3842 §5.2) is ``Messages-Waiting: yes|no``, an optional ``Message-Account:`` URI,
and per message class ``Voice-Message: new/old (urgent_new/urgent_old)``; `new`/`old` are
the voice counts (or, without a Voice-Message line, the sum over the classes given). A
change is reported once as an ``mwi`` event (`line`, `waiting`, `new`, `old`) and handed to
the line. With ``line.N.mwi_subscribe`` the line also SUBSCRIBEs (tipring/firmware/sip/subscription.py)
to ``mwi_uri`` (default: the line's AoR) once it is registered (at start when it does not
register), refreshes, answers challenges, and unsubscribes at shutdown or when the line's
account changes.
"""

from tipring.firmware.sip.subscription import Subscription
from tipring.firmware.sip.useragent import response_to

EVENT = "message-summary"
BODY_TYPE = "application/simple-message-summary"
CLASSES = ("voice-message", "fax-message", "pager-message", "multimedia-message",
           "text-message", "none")
MAX_BODY = 4096


def _counts(value: str):
    """'2/8 (0/2)' -> (2, 8); ValueError naming the fault."""
    main = value.split("(", 1)[0].strip()
    new, sep, old = main.partition("/")
    new, old = new.strip(), old.strip()
    if not sep or not new.isdigit() or not old.isdigit():
        raise ValueError("message counts must be new/old, e.g. 2/8 (0/2), got %r" % value.strip())
    return int(new), int(old)


def parse_message_summary(body) -> dict:
    """Read an application/simple-message-summary body (RFC 3842 §5.2): ``waiting`` (bool),
    ``new``, ``old`` (voice messages), ``account`` (URI text or None), ``classes`` ({class:
    (new, old)}). Raises ValueError naming the defect."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY:
            raise ValueError("message-summary body longer than %d bytes" % MAX_BODY)
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeError:
            raise ValueError("message-summary body is not UTF-8 text")
    waiting = None
    account = None
    classes = {}
    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("message-summary line without a colon: %r" % line[:60])
        key = name.strip().lower()
        value = value.strip()
        if key == "messages-waiting":
            if value.lower() not in ("yes", "no"):
                raise ValueError("Messages-Waiting must be yes or no, got %r" % value[:20])
            waiting = value.lower() == "yes"
        elif key == "message-account":
            account = value
        elif key in CLASSES:
            classes[key] = _counts(value)
        # other lines (message headers after a blank line, extensions) are not ours to judge
    if waiting is None:
        raise ValueError("message-summary body without Messages-Waiting")
    if "voice-message" in classes:
        new, old = classes["voice-message"]
    else:
        new = sum(c[0] for c in classes.values())
        old = sum(c[1] for c in classes.values())
    return {"waiting": waiting, "new": new, "old": old, "account": account, "classes": classes}


def _event_package(req) -> str:
    value = req.headers.get("Event") or ""
    return value.split(";", 1)[0].strip().lower()


class MwiService:
    """Represents message waiting for all lines of the ATA.

    :param ua: the `UserAgent` (its NOTIFY handler is wrapped, the subscriptions are its TUs).
    :param lines: the [[line]] dicts. :param proxy_for: port -> (host, port), the line's next
    hop (where a NOTIFY may come from, where SUBSCRIBEs go). :param contact_for: port ->
    our Contact URI text for that line.
    """

    def __init__(self, ua, lines, proxy_for, contact_for, user_agent: str = "tipring"):
        self.ua = ua
        self.lines = {l["port"]: l for l in lines}
        self.proxy_for = proxy_for
        self.contact_for = contact_for
        self.user_agent = user_agent
        self.state = {}          # port -> {"waiting", "new", "old", "account"}
        self.subs = {}           # port -> Subscription
        self._retiring = []      # subscriptions unsubscribing (their answer still to come)
        self._next = ua.handlers.get("NOTIFY")
        ua.handlers["NOTIFY"] = self.on_notify

    # ------------------------------------------------------------------ subscriptions
    def start(self, now: float) -> list:
        """Subscribe the lines that want it and do not register (the others subscribe once
        registered: `line_registered`)."""
        out = []
        for port, ln in self.lines.items():
            if ln.get("mwi_subscribe") and not ln.get("register", True):
                out += self.subscribe(port, now)
        return out

    def line_registered(self, port: int, now: float) -> list:
        """The line's registration succeeded: subscribe if it should and has not."""
        ln = self.lines.get(port)
        sub = self.subs.get(port)
        if not ln or not ln.get("mwi_subscribe") or (sub is not None and sub.state not in ("terminated",)):
            return []
        return self.subscribe(port, now)

    def subscribe(self, port: int, now: float) -> list:
        ln = self.lines[port]
        old = self.subs.pop(port, None)
        out = self._stop_sub(old, now) if old is not None else []
        target = ln.get("mwi_uri") or "sip:%s@%s" % (ln["user"], ln.get("domain") or self.ua.host)
        sub = Subscription(port, ln["user"], ln.get("password") or "", ln.get("domain") or self.ua.host,
                           target, tuple(self.proxy_for(port)), self.contact_for(port),
                           event=EVENT, accept=BODY_TYPE, expires=ln.get("mwi_expires") or 3600,
                           auth_user=ln.get("auth_user"), user_agent=self.user_agent)
        self.subs[port] = sub
        self.ua.add_tu(sub)
        return out + self.ua.run_tu(sub, sub.start(now), now)

    def unsubscribe(self, port: int, now: float) -> list:
        sub = self.subs.pop(port, None)
        return self._stop_sub(sub, now) if sub is not None else []

    def _stop_sub(self, sub, now):
        out = self.ua.run_tu(sub, sub.stop(now), now)
        if sub.state == "terminated":
            self.ua.remove_tu(sub)
        else:
            self._retiring.append(sub)
        return out

    def stop(self, now: float) -> list:
        """Shutdown: unsubscribe every line."""
        out = []
        for port in list(self.subs):
            out += self.unsubscribe(port, now)
        return out

    @property
    def settled(self) -> bool:
        """True when no unsubscribe waits for its answer (shutdown may end)."""
        for sub in self._retiring:
            if sub.state == "terminated":
                self.ua.remove_tu(sub)
        self._retiring = [s for s in self._retiring if s.state != "terminated"]
        return not self._retiring

    def reconfigure(self, lines, now: float, changed_ports=()) -> list:
        """New [[line]] dicts (console `set`): a line whose MWI keys or account changed
        subscribes again, one that no longer wants it unsubscribes."""
        old = self.lines
        self.lines = {l["port"]: l for l in lines}
        out = []
        keys = ("mwi_subscribe", "mwi_uri", "mwi_expires")
        for port, ln in self.lines.items():
            was = old.get(port) or {}
            if not ln.get("mwi_subscribe"):
                out += self.unsubscribe(port, now)
            elif port in changed_ports or any(was.get(k) != ln.get(k) for k in keys):
                out += self.unsubscribe(port, now)
                if not ln.get("register", True):
                    out += self.subscribe(port, now)
        for port in set(old) - set(self.lines):
            out += self.unsubscribe(port, now)
        return out

    # ------------------------------------------------------------------ NOTIFY
    def on_notify(self, req, tx, src, now):
        if _event_package(req) != EVENT:
            if self._next is not None:
                return self._next(req, tx, src, now)
            return self.ua.send_response(response_to(req, 481), now)
        for sub in list(self.subs.values()) + list(self._retiring):
            if sub.matches(req):
                status, acts = sub.on_notify(req, now)
                out = self.ua.run_tu(sub, acts, now)
                if status == 200:
                    return self._take(req, sub.line, now, out)
                return out + self.ua.send_response(response_to(req, status), now)
        return self._unsolicited(req, src, now)

    def _line_for(self, req):
        user = ""
        uri = req.uri if isinstance(req.uri, str) else str(req.uri)
        if "@" in uri:
            user = uri.split(":", 1)[-1].split("@")[0].split(";")[0]
        line = next((l for l in self.lines.values() if l["user"] == user), None)
        if line is None:
            try:
                tu = req.to.uri.user
            except (ValueError, AttributeError):
                tu = None
            line = next((l for l in self.lines.values() if tu and l["user"] == str(tu)), None)
        return line

    def _unsolicited(self, req, src, now):
        """RFC 3842 NOTIFY outside a subscription (the PBX's "unsolicited MWI")."""
        line = self._line_for(req)
        if line is None:
            return self.ua.send_response(response_to(req, 404, "Not Found"), now) + [
                ("event", "error", {"where": "mwi", "message": "message-summary NOTIFY for unknown user from %s:%d"
                                    % tuple(src[:2])})]
        port = line["port"]
        if not line.get("direct_calls") and tuple(src[:2]) != tuple(self.proxy_for(port)):
            return self.ua.send_response(response_to(req, 403, "Forbidden (not from our proxy)"), now) + [
                ("event", "error", {"where": "mwi", "message": "line %d: message-summary NOTIFY refused: from %s:%d, "
                                    "not from the proxy" % ((port,) + tuple(src[:2]))})]
        return self._take(req, port, now, [])

    def _take(self, req, port, now, out):
        """Read the body, answer, and report a change."""
        ctype = (req.content_type or BODY_TYPE).split(";")[0].strip().lower()
        if not req.body:
            # RFC 6665 §4.1.3: a NOTIFY may carry no body (pending, terminated): nothing new
            return out + self.ua.send_response(response_to(req, 200), now)
        try:
            if ctype != BODY_TYPE:
                raise ValueError("body is %s, not %s" % (ctype, BODY_TYPE))
            summary = parse_message_summary(req.body)
        except ValueError as e:
            reason = "Bad Request: " + "".join(c for c in str(e) if 32 <= ord(c) < 127)[:100]
            return out + self.ua.send_response(response_to(req, 400, reason), now) + [
                ("event", "error", {"where": "mwi", "message": "line %d: bad message-summary: %s" % (port, e)})]
        out = out + self.ua.send_response(response_to(req, 200), now)
        return out + self.update(port, summary["waiting"], summary["new"], summary["old"], summary["account"])

    def update(self, port: int, waiting: bool, new: int, old: int, account=None) -> list:
        """Set a line's message-waiting state; outputs when it changed."""
        cur = self.state.get(port)
        st = {"waiting": bool(waiting), "new": int(new), "old": int(old), "account": account}
        self.state[port] = st
        if cur is not None and (cur["waiting"], cur["new"], cur["old"]) == (st["waiting"], st["new"], st["old"]):
            return []
        return [("event", "mwi", {"line": port, "waiting": st["waiting"], "new": st["new"], "old": st["old"]}),
                ("line", port, "mwi", st["waiting"], st["new"], st["old"])]

    def status(self, port: int) -> dict:
        """For the console: the lamp and the subscription's state."""
        st = dict(self.state.get(port) or {"waiting": None, "new": 0, "old": 0, "account": None})
        sub = self.subs.get(port)
        st["subscription"] = sub.state if sub is not None else "off"
        return st
