"""The calls of every line: who may ring the phone, which call a request belongs to.

Rules:
1. Sans-IO: the user agent hands requests and responses in, the line layer hands intents in
   (`dial`, `answer`, `hangup`, `flash`), and every method returns outputs for the firmware to
   carry out: the UA's own `("send", bytes, addr)` / `("event", ...)`, plus
   `("line", port, verb, *args)` for the FXS line and `("media", op, call)` for RTP.
2. Ghost-call protection (on by default, as commercial ATAs learned the hard way): only an
   INVITE that comes from the line's proxy/registrar address and names one of our users in its
   Request-URI rings a phone; anything else gets 403 (wrong source) or 404 (wrong user), and an
   `error` event. `direct_calls = true` on a line lifts the source check.
3. One call per line for now: a second INVITE for a busy line gets 486 (call waiting is the
   supplementary-services layer's, on top of this).
4. A local no-answer timer ends an unanswered incoming call with 480 and an outgoing one with
   CANCEL (`no_answer_s` per line).
5. The calls' own timers (a re-INVITE retried after 491, RFC 3261 §14.1) run from here too:
   `deadline()` is the earliest of the no-answer timers and every call's `deadline()`.
"""

from firmware.calls.call import Call
from firmware.sip.dialog import make_response
from firmware.sip.useragent import response_to


class _CallTU:
    """What the UA sees as the owner of a call's client transactions: hands the responses to
    the call and runs its answer through the manager, so line and media outputs keep their
    line and call."""

    def __init__(self, manager, call):
        self.manager = manager
        self.call = call

    @property
    def next_hop(self):
        return self.call.next_hop

    def on_provisional(self, resp, now):
        return self.manager._run(self.call, self.call.on_provisional(resp, now), now)

    def on_response(self, resp, now):
        return self.manager._run(self.call, self.call.on_response(resp, now), now)

    def on_failure(self, reason, now):
        return self.manager._run(self.call, self.call.on_failure(reason, now), now)

    def deadline(self):
        return None

    def on_timer(self, now):
        return []


class CallManager:
    """Represents call control for all lines of the ATA."""

    def __init__(self, ua, lines, proxy_for, rtp_alloc, line_busy=None):
        """`lines`: the [[line]] dicts; `proxy_for(port) -> (host, port)` the line's next hop;
        `rtp_alloc() -> (host, port)` opens an RTP socket; `line_busy(port) -> bool` whether
        the handset is already off-hook (then an incoming call gets 486)."""
        self.ua = ua
        self.lines = {l["port"]: l for l in lines}
        self.proxy_for = proxy_for
        self.rtp_alloc = rtp_alloc
        self.line_busy = line_busy or (lambda port: False)
        self.calls = {}        # call_id -> Call
        self.by_line = {}      # port -> Call
        self._timers = {}      # call_id -> no-answer deadline
        ua.handlers.update({"INVITE": self.on_invite, "BYE": self._in_dialog, "UPDATE": self._in_dialog,
                            "INFO": self._in_dialog, "PRACK": self._in_dialog, "NOTIFY": self._in_dialog,
                            "cancel": self.on_cancel, "ack": self.on_ack, "stray_ack": self.on_stray_ack,
                            "response": self.on_stray_response})
        ua.add_tu(self)

    # ------------------------------------------------------------------ plumbing
    next_hop = None

    def _run(self, call, actions, now):
        out = []
        for a in actions:
            kind = a[0]
            if kind == "send":
                if call.tu is None:
                    call.tu = _CallTU(self, call)
                out += self.ua.send_request(a[1], a[2], now, call.tu)
                if a[1].method == "INVITE" and call.invite is a[1]:
                    call.invite_tx = self.ua.tx_for(a[1])
            elif kind == "respond":
                out += self.ua.send_response(a[1], now)
            elif kind == "cancel":
                out += self.ua.cancel(a[1], now)
            elif kind == "line":
                out.append(("line", call.port) + tuple(a[1:]))
            elif kind == "media":
                out.append(("media", a[1], call))
            else:
                out.append(a)
        if call.state == "ended":
            self._forget(call)
        return out

    def _forget(self, call):
        self.calls.pop(call.call_id, None)
        if self.by_line.get(call.port) is call:
            del self.by_line[call.port]
        self._timers.pop(call.call_id, None)

    def call_on(self, port):
        return self.by_line.get(port)

    # ------------------------------------------------------------------ from the line
    def dial(self, port: int, number: str, now: float) -> list:
        line = self.lines[port]
        if port in self.by_line:
            return [("event", "error", {"where": "calls", "message": "line %d already has a call" % port})]
        call = Call(line, "out", self.ua, self.rtp_alloc(), now)
        out_call_id = None
        acts = call.dial(number, line["domain"], self.proxy_for(port), now)
        out_call_id = call.call_id
        self.calls[out_call_id] = call
        self.by_line[port] = call
        self._timers[out_call_id] = now + line.get("no_answer_s", 60)
        return self._run(call, acts, now)

    def answer(self, port: int, now: float) -> list:
        call = self.by_line.get(port)
        if call is None:
            return []
        self._timers.pop(call.call_id, None)
        return self._run(call, call.answer(now), now)

    def reinvite(self, port: int, now: float, direction: str = "sendrecv") -> list:
        """Send a re-INVITE in the call on `port` (session refresh; `direction` "sendonly"
        holds, "sendrecv" resumes). Nothing when the line has no call in progress."""
        call = self.by_line.get(port)
        if call is None:
            return []
        return self._run(call, call.reinvite(now, direction), now)

    def hangup(self, port: int, now: float) -> list:
        call = self.by_line.get(port)
        if call is None:
            return []
        return self._run(call, call.hangup(now), now)

    # ------------------------------------------------------------------ from the network
    def on_invite(self, req, tx, src, now):
        if req.to.tag:
            return self._in_dialog(req, tx, src, now)
        user = req.uri.split(":", 1)[-1].split("@")[0].split(";")[0] if "@" in req.uri else ""
        line = next((l for l in self.lines.values() if l["user"] == user), None)
        if line is None:
            return self.ua.send_response(response_to(req, 404, "Not Found", to_tag="nf"), now) + \
                [("event", "error", {"where": "calls", "message": "INVITE for unknown user %r from %s:%d" % (user, src[0], src[1])})]
        if not line.get("direct_calls") and tuple(src[:2]) != tuple(self.proxy_for(line["port"])):
            return self.ua.send_response(response_to(req, 403, "Forbidden (not from our proxy)", to_tag="gc"), now) + \
                [("event", "error", {"where": "calls", "message": "ghost call refused: INVITE from %s:%d, not from the proxy" % tuple(src[:2])})]
        if line["port"] in self.by_line or self.line_busy(line["port"]):
            return self.ua.send_response(response_to(req, 486, "Busy Here", to_tag="busy"), now)
        call = Call(line, "in", self.ua, self.rtp_alloc(), now)
        self.calls[req.call_id] = call
        self.by_line[line["port"]] = call
        call.next_hop = tuple(src[:2])
        self._timers[req.call_id] = now + line.get("no_answer_s", 60)
        return self._run(call, call.offered(req, tx, now), now)

    def _in_dialog(self, req, tx, src, now):
        call = self.calls.get(req.call_id)
        if call is None or (call.dialog is not None and req.to.tag and req.to.tag != call.dialog.local_tag):
            return self.ua.send_response(make_response(req, 481, "Call/Transaction Does Not Exist"), now)
        return self._run(call, call.on_request(req, tx, now), now)

    def on_cancel(self, cancel, tx, now):
        call = self.calls.get(cancel.call_id)
        if call is None:
            return self.ua.send_response(response_to(tx.request, 487, to_tag="x"), now)
        return self._run(call, call.on_cancel(now), now)

    def on_ack(self, ack, tx, now):
        call = self.calls.get(ack.call_id)
        return self._run(call, call.on_ack(ack, now), now) if call else []

    def on_stray_ack(self, ack, now):
        return []

    def on_stray_response(self, resp, tx, now):
        """A 2xx retransmitted after our INVITE transaction ended: ACK it again (§13.2.2.4)."""
        call = self.calls.get(resp.call_id)
        if call is None or resp.cseq.method != "INVITE" or resp.status < 200:
            return []
        return self._run(call, call.on_response(resp, now), now)

    # ------------------------------------------------------------------ TU callbacks (our requests)
    def deadline(self):
        due = list(self._timers.values())
        for call in self.calls.values():
            d = call.deadline()
            if d is not None:
                due.append(d)
        return min(due) if due else None

    def on_timer(self, now):
        out = []
        for call in list(self.calls.values()):
            d = call.deadline()
            if d is not None and d <= now:
                out += self._run(call, call.on_timer(now), now)
        for cid, due in list(self._timers.items()):
            if due <= now:
                del self._timers[cid]
                call = self.calls.get(cid)
                if call is None:
                    continue
                if call.direction == "in":
                    out += self._run(call, call.reject(now, 480, "Temporarily Unavailable", "no answer")
                                     + [("line", "remote_hangup")], now)
                elif call.state in ("dialing", "proceeding", "ringing", "early"):
                    out += self._run(call, call.hangup(now) + [("line", "remote_failed", "congestion")], now)
        return out

    def status(self, now):
        return [c.status(now) for c in self.calls.values()]
