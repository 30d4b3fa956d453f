"""The calls of every line: who may ring the phone, which call a request belongs to.

Rules:
1. Sans-IO: the user agent hands requests and responses in, the line layer hands intents in
   (`dial`, `answer`, `hangup`, `flash`), and every method returns outputs for the firmware to
   carry out: the UA's own `("send", bytes, addr)` / `("event", ...)`, plus
   `("line", port, verb, *args)` for the FXS line and `("media", op, call)` for RTP.
2. Ghost-call protection (on by default, as commercial ATAs learned the hard way): only an
   INVITE that comes from the line's proxy/registrar address and names one of our users in its
   Request-URI rings a phone; from an address that is no line's proxy every INVITE gets the
   same stateless 403 whoever it names; an INVITE that cannot make a dialog, carries no SDP
   or reuses a Call-ID is refused before anything is kept. That screening is `InviteScreen`
   (tipring/firmware/calls/screen.py, `self.screen`). An in-dialog request reaches its call
   only when Call-ID and both tags match (481 otherwise), so a bad request never ends a call
   in progress.
3. Several calls per line (FLOWS §12, §13, §17). Each line has one service machine
   (`service(port)`, a LineService of tipring/firmware/calls/services.py): its state (idle, single,
   held, second, conference, bridging, bridged, waiting, swapped, recall, transferring) and
   its slots: the ACTIVE call (the one the handset hears, `call_on(port)`), the `held` one
   (`held_call(port)`), the `waiting` one; `calls_on(port)` lists them. Every change of
   either goes through that machine's table, fed by the methods below; `by_line`, `held`
   and `waiting` are read-only views (port -> Call) of the slots. Line commands of a
   call that is not the active one are translated for the line (waiting: `incoming` ->
   `call_waiting`, `remote_hangup` -> `call_waiting_end`; held: `remote_hangup` ->
   `held_hangup`) or dropped. `flash` answers a waiting call (the active one held,
   re-INVITE sendonly), swaps two calls, ends a second call and resumes the first, or
   holds / resumes the only call; hanging up with a call on hold leaves it up and rings
   the phone back (`recall`; `answer_recall` resumes it); hanging up while a call waits
   rings the phone for it. `dial_second` places the handset's second call with the first
   held; `conference` resumes the held call and asks the media glue to mix both
   (`("media", "join", call)`), or with the line's `conference_uri` calls that bridge and,
   once it answers, REFERs both parties to it (a failing bridge falls back to the local
   mix); `drop_last` ends the second call; hanging up a conference ends both, or with
   `conference_hangup = "transfer"` joins them by REFER with Replaces. A third INVITE gets 486.
   Flash on a network bridge (`drop_last` in service `bridged`) does what it does in a
   local three-way call, which is what SPA and HT80x users know: the party that joined
   last leaves. Our dialogs with B and C ended when they moved to the bridge, so the
   bridge (the conference focus) is asked to end its own dialog with C: REFER in our
   bridge call with Refer-To `<C's AOR;method=BYE>` (RFC 4579 §5.9). Relaying the flash
   (INFO hook-flash or RFC 4733) was not chosen: what a bridge makes of a flash is its own
   menu, not "drop the last party". A bridge that refuses the REFER leaves the three
   together, and the log says so (`error`); the handset talks on with the bridge.
4. A local no-answer timer ends an unanswered incoming call with 480 and an outgoing one with
   CANCEL (`no_answer_s` per line).
5. The calls' own timers (a re-INVITE retried after 491, RFC 3261 §14.1) run from here too:
   `deadline()` is the earliest of the no-answer timers and every call's `deadline()`.
6. Services decided by the network side (FLOWS §7, §10-§11, §13-§15), per line from
   `features_for(port)` (the [[line]] keys): forward_all -> 302 at once (Diversion
   reason=unconditional); DND -> `dnd_response` (603 Decline or 486), no ring; a busy line
   with forward_busy -> 302 user-busy; a line talking in one call with call_waiting on
   (default) -> 180 and the line hears `call_waiting`, else 486; ringing for
   forward_no_answer_s with forward_no_answer -> 302 no-answer and the phone stops ringing
   (`remote_hangup`).
7. Transfer (RFC 3515, 5589, 3891). As transferee, a REFER places a new call (through the
   line's proxy, Referred-By, Replaces when the Refer-To has one), quiet towards the line;
   when it is up it takes the line (`by_line`) and its media, the old dialog gets the final
   NOTIFY and BYE; when it fails the NOTIFY says why and the old call stays. As target, an
   INVITE with Replaces matching a call of ours is answered at once and the old call ended
   (481 when nothing matches, or the match is an early dialog we did not start; 603 when
   the match is already ending; 486 for early-only on a confirmed dialog). As transferor,
   `transfer_blind` and `transfer_attended` send the REFER; the line hears `transfer_ok`
   or `transfer_failed`.
"""

from tipring.firmware.calls.call import Call, IN_CALL, _caller_id
from tipring.firmware.calls.refer import redirect_headers
from tipring.firmware.calls.flash import HandsetServices
from tipring.firmware.calls.screen import InviteScreen
from tipring.firmware.calls.services import TRANSITIONS as SERVICE_TRANSITIONS, LineService
from tipring.firmware.compat import random_hex
from tipring.firmware.sip.dialog import make_response
from tipring.firmware.sip.useragent import response_to

OUTGOING_EARLY = ("dialing", "proceeding", "ringing", "early")


class _CallTU:
    """What the UA sees as the owner of a call's client transactions: hands the responses to
    the call and runs its answer through the manager, so line and media outputs keep their
    line and call."""

    def __init__(self, manager, call, method=None):
        self.manager = manager
        self.call = call
        self.method = method

    @property
    def next_hop(self):
        return self.call.next_hop

    def on_provisional(self, resp, now):
        return self.manager._run(self.call, self.call.on_provisional(resp, now), now)

    def on_response(self, resp, now):
        return self.manager._run(self.call, self.call.on_response(resp, now), now)

    def on_failure(self, reason, now):
        return self.manager._run(self.call, self.call.on_failure(reason, now, method=self.method), now)

    def deadline(self):
        return None

    def on_timer(self, now):
        return []


class CallManager(HandsetServices):
    """Represents call control for all lines of the ATA (the handset's services: flash.py)."""

    def __init__(self, ua, lines, proxy_for, rtp_alloc, line_busy=None, features_for=None, fallbacks_for=None,
                 contact_for=None, media_keys=None):
        """`lines`: the [[line]] dicts; `proxy_for(port) -> (host, port)` the line's next hop;
        `rtp_alloc() -> (host, port)` opens an RTP socket; `line_busy(port) -> bool` whether
        the handset is already off-hook (then an incoming call gets 486); `features_for(port)
        -> dict` the line's service settings (forward_all, forward_busy, forward_no_answer,
        forward_no_answer_s, dnd, dnd_response, call_waiting), {} = none; `fallbacks_for(port)
        -> [(host, port)...]` the next hops after `proxy_for`'s (RFC 3263 failover), [] = none;
        `contact_for(port) -> URI text or None` the Contact the line's calls carry (the
        registered NAT mapping); `media_keys(n)`: n random bytes for SRTP keys (os.urandom;
        lines with `srtp` other than "off" need it)."""
        self.ua = ua
        self.lines = {l["port"]: l for l in lines}
        self.proxy_for = proxy_for
        self.rtp_alloc = rtp_alloc
        self.media_keys = media_keys
        self.line_busy = line_busy or (lambda port: False)
        self.features_for = features_for or (lambda port: {})
        self.fallbacks_for = fallbacks_for or (lambda port: [])
        self.contact_for = contact_for or (lambda port: None)
        self.calls = {}        # call_id -> Call
        self.services = {}     # port -> LineService: the line's calls and what it does with them
        self._timers = {}      # call_id -> no-answer deadline
        self._forward_na = {}  # call_id -> forward-on-no-answer target URI
        self.screen = InviteScreen(self)   # who may ring the phone (screen.py)
        ua.handlers.update({"INVITE": self.on_invite, "BYE": self._in_dialog, "UPDATE": self._in_dialog,
                            "INFO": self._in_dialog, "PRACK": self._in_dialog, "NOTIFY": self._in_dialog,
                            "REFER": self._in_dialog,
                            "cancel": self.on_cancel, "ack": self.on_ack, "stray_ack": self.on_stray_ack,
                            "response": self.on_stray_response})
        ua.add_tu(self)

    # ------------------------------------------------------------------ plumbing
    next_hop = None

    def _route(self, call, port):
        """The line's next hop for a new call; the other hops wait in `call.fallbacks`."""
        call.fallbacks = list(self.fallbacks_for(port))
        return self.proxy_for(port)

    def _new_call(self, line, direction, now):
        call = Call(line, direction, self.ua, self.rtp_alloc(), now, self.media_keys)
        call.contact_uri = self.contact_for(line["port"])
        return call

    def _tu(self, call, method):
        if method in ("REFER", "NOTIFY", "INFO"):
            tu = call.tus.get(method)
            if tu is None:
                tu = call.tus[method] = _CallTU(self, call, method)
            return tu
        if call.tu is None:
            call.tu = _CallTU(self, call)
        return call.tu

    def _quiet(self, call):
        """Whether the line must not hear from `call`: it was transferred or replaced, it is
        a transfer's new call not up yet, or a transfer it asked for is still under way."""
        if call.transferred or call.quiet:
            return True
        r = call.refer_in
        return r is not None and r["new"] is not None and r["new"].state != "ended" and call.state == "ended"

    # ------------------------------------------------------------------ the line's services
    def service(self, port: int) -> LineService:
        """The service machine of line `port` (tipring/firmware/calls/services.py)."""
        svc = self.services.get(port)
        if svc is None:
            svc = self.services[port] = LineService(port)
        return svc

    def call_on(self, port):
        """The line's active call (the one the handset hears), or None."""
        return self.service(port).active

    def calls_on(self, port):
        """Every call of the line: active, held, waiting (those that exist)."""
        return self.service(port).calls()

    def held_call(self, port):
        """The line's call on hold beside its active one (second call, swapped), or None."""
        return self.service(port).held

    def has_calls(self) -> bool:
        """Whether any line has a call (active, held or waiting)."""
        return any(svc.calls() for svc in self.services.values())

    def ports_with_calls(self) -> list:
        """The lines that have a call (active, held or waiting)."""
        return [port for port, svc in self.services.items() if svc.calls()]

    # read-only views of the slots, port -> Call, for callers of the earlier dicts
    by_line = property(lambda self: {p: s.active for p, s in self.services.items() if s.active is not None})
    held = property(lambda self: {p: s.held for p, s in self.services.items() if s.held is not None})
    waiting = property(lambda self: {p: s.waiting for p, s in self.services.items() if s.waiting is not None})

    # ------------------------------------------------------------------ carrying out a call's actions
    # what a line command of a call that is not the line's active one becomes
    _HELD_CMDS = {"remote_hangup": "held_hangup"}
    _CONF_CMDS = {"remote_hangup": "remote_hangup"}
    _WAITING_CMDS = {"incoming": "call_waiting", "remote_hangup": "call_waiting_end"}
    _TRANSFER_VERBS = ("transfer_ok", "transfer_failed")

    def _run(self, call, actions, now):
        """Carry out `call`'s actions through the UA, the line and the media glue, then
        settle what its new state means for the line (ended, a transfer's or the bridge's
        outcome, a call to end with it)."""
        out = []
        role = self.service(call.port).role(call)
        for a in actions:
            out += self._carry(call, role, a, now)
        if call.state == "ended":
            out += self._forget(call)
            if not getattr(call, "rtp_closed", False):
                # a call that ended before its media started (refused, cancelled, not
                # answered) still holds the RTP port `rtp_alloc` opened for it: free it
                call.rtp_closed = True
                out.append(("media", "stop", call))
        if call.transfer_of is not None and not call.transfer_reported:
            out += self._transfer_outcome(call, now)
        if self.service(call.port).bridge is call and call.state in IN_CALL + ("ended",):
            out += self._bridge_outcome(call, now)
        other, call.end_with = call.end_with, None
        if other is not None and other.state != "ended":
            out += self._run(other, other.release(now, "transferred"), now)
        return out

    def _carry(self, call, role, a, now):
        kind = a[0]
        if kind == "send":
            out = self.ua.send_request(a[1], a[2], now, self._tu(call, a[1].method))
            if a[1].method == "INVITE" and call.invite is a[1]:
                call.invite_tx = self.ua.tx_for(a[1])
            return out
        if kind == "respond":
            return self.ua.send_response(a[1], now)
        if kind == "cancel":
            return self.ua.cancel(a[1], now)
        if kind == "line":
            return self._line_cmd(call, role, a, now)
        if kind == "media":
            if a[1] == "stop":
                call.rtp_closed = True
            return [("media", a[1], call)]
        if kind == "transfer":
            return self._place_transfer(call, a[1], a[2], now)
        return [a]

    def _line_cmd(self, call, role, a, now):
        """A call's line command, as the line should hear it (or not at all)."""
        svc = self.service(call.port)
        verb = a[1]
        if verb in self._TRANSFER_VERBS and svc.state == "transferring" and svc.handing is call:
            return self._handed_over(call, verb, now)
        if call in svc.joined:          # sent to the conference bridge: the line hears the bridge
            return self._bridge_refused(call, now) if verb == "transfer_failed" else []
        transfer = verb in self._TRANSFER_VERBS
        if self._quiet(call) and not transfer:
            return []
        if role == "held":
            verb = (self._CONF_CMDS if svc.state == "conference" else self._HELD_CMDS).get(verb)
        elif role == "waiting":
            verb = self._WAITING_CMDS.get(verb)
        elif role is None and not transfer and svc.calls():
            verb = None         # a call the line has left (dropped, swapped out): quiet
        return [] if verb is None else [("line", call.port, verb) + tuple(a[2:])]

    def _forget(self, call):
        """An ended call leaves the manager and its line's slot."""
        self.calls.pop(call.call_id, None)
        self._timers.pop(call.call_id, None)
        self._forward_na.pop(call.call_id, None)
        svc = self.service(call.port)
        role = svc.role(call)
        if role == "active":
            r = call.refer_in
            if r is not None and r["new"] is not None and r["new"].state != "ended":
                return svc.move("replace", r["new"])   # the transfer goes on without the old call
            return svc.move("active_end", call)
        if role in ("held", "waiting"):
            return svc.move(role + "_end", call)
        return []

    # ------------------------------------------------------------------ from the line
    def _place(self, port, number, now):
        """A new outgoing call of the line's handset: (call, its first actions)."""
        line = self.lines[port]
        call = self._new_call(line, "out", now)
        acts = call.dial(number, line["domain"], self._route(call, port), now)
        self.calls[call.call_id] = call
        self._timers[call.call_id] = now + line.get("no_answer_s", 60)
        return call, acts

    def dial(self, port: int, number: str, now: float) -> list:
        svc = self.service(port)
        if svc.active is not None or svc.state != "idle":
            return [("event", "error", {"where": "calls", "message": "line %d already has a call" % port})]
        call, acts = self._place(port, number, now)
        return svc.move("dial", call) + self._run(call, acts, now)

    def answer(self, port: int, now: float) -> list:
        call = self.call_on(port)
        if call is None:
            return []
        self._timers.pop(call.call_id, None)
        return self._run(call, call.answer(now), now)

    def reinvite(self, port: int, now: float, direction: str = "sendrecv") -> list:
        """Send a re-INVITE in the call on `port` (session refresh; `direction` "sendonly"
        holds, "sendrecv" resumes). Nothing when the line has no call in progress."""
        call = self.call_on(port)
        if call is None:
            return []
        return self._run(call, call.reinvite(now, direction), now)

    def fax_passthrough(self, port: int, call_id: str, tone: str, now: float, t38: bool = False) -> list:
        """A fax/modem tone in the call `call_id` of `port` (the line's detector): G.711
        pass-through in the call layer (Call.fax_passthrough). Returns (call, actions); call
        None when the line has no such call."""
        call = next((c for c in self.calls_on(port) if c.call_id == call_id), None)
        if call is None:
            return None, []
        step = call.fax_t38 if t38 else call.fax_passthrough      # `t38`: the line's fax = "t38"
        return call, self._run(call, step(tone, now), now)

    # ------------------------------------------------------------------ transfer (transferee)
    def _place_transfer(self, old, target, headers, now):
        """The REFER's new call: through the line's proxy, quiet until it is up."""
        line = old.line
        new = self._new_call(line, "out", now)
        new.quiet = True
        new.early_media = False
        new.transfer_of = old
        new.extra_headers = list(headers)
        old.refer_in["new"] = new
        number = target.split(":", 1)[-1].split("@")[0] if "@" in target else target
        acts = new.dial(number, line.get("domain") or old._line_domain(), self._route(new, old.port), now,
                        target_uri=target)
        self.calls[new.call_id] = new
        self._timers[new.call_id] = now + line.get("no_answer_s", 60)
        return self._run(new, acts, now)

    def _transfer_outcome(self, new, now):
        """Report the REFER's new call to the old dialog once it is up or has failed."""
        old = new.transfer_of
        if new.state in IN_CALL:
            new.transfer_reported = True
            new.quiet = False
            svc = self.service(new.port)
            out = svc.move("replace", new) if svc.active in (old, None) else []
            if old.state in IN_CALL:
                out += self._run(old, old.refer_notify(200, "OK", final=True), now)
                old.transferred = True
                out += self._run(old, old.release(now, "transferred to %s" % new.peer), now)
            return out
        if new.state == "ended":
            new.transfer_reported = True
            code, reason = new.final_status or (503, "Service Unavailable")
            if old.state in IN_CALL:
                acts = old.refer_notify(code, reason, final=True)
                old.refer_in = None    # the call stays; another REFER may come
                return self._run(old, acts, now)
            if old.state == "ended":
                return [("line", new.port, "remote_hangup")]   # nothing is left of either call
        return []

    # ------------------------------------------------------------------ from the network
    def on_invite(self, req, tx, src, now):
        """A new INVITE. In this order, each step refusing with one answer and keeping
        nothing: the source (not a proxy: one stateless 403, the same whoever it names), the
        user (404), this line's proxy (403), the request itself (400: Contact, Record-Route;
        415: a body that is no SDP; 482/486: a Call-ID we already have), then the services."""
        if req.to.tag:
            return self._in_dialog(req, tx, src, now)
        line, refusal = self.screen.check(req, tx, src, now)
        if line is None:
            return refusal
        if req.headers.get("Replaces"):
            return self._on_replaces(req, tx, src, now)
        return self._offer(req, tx, src, line, now)

    def _offer(self, req, tx, src, line, now):
        """The services for a new call to `line`: forwarding, DND, busy, call waiting, else
        the phone rings."""
        port = line["port"]
        feats = self.features_for(port) or {}
        if feats.get("forward_all"):
            return self._forward(req, line, feats["forward_all"], "unconditional", now)
        if feats.get("dnd"):
            code = 486 if feats.get("dnd_response") == 486 else 603
            reason = "Busy Here" if code == 486 else "Decline"
            return self.ua.send_response(response_to(req, code, reason, to_tag=random_hex(4)), now) + \
                [self._refused(req, line, "do not disturb (%d %s)" % (code, reason))]
        svc = self.service(port)
        current = svc.active
        if current is not None or self.line_busy(port) or "incoming" not in SERVICE_TRANSITIONS[svc.state]:
            if feats.get("forward_busy"):
                return self._forward(req, line, feats["forward_busy"], "user-busy", now)
            if feats.get("call_waiting", True) and current is not None and current.state == "connected" \
                    and svc.held is None and svc.waiting is None and "wait" in SERVICE_TRANSITIONS[svc.state]:
                return self._wait(req, tx, src, line, now)
            return self.ua.send_response(response_to(req, 486, "Busy Here", to_tag="busy"), now)
        call = self._new_call(line, "in", now)
        call.next_hop = tuple(src[:2])
        acts = call.offered(req, tx, now)
        self.calls[req.call_id] = call
        self._timers[req.call_id] = now + line.get("no_answer_s", 60)
        if feats.get("forward_no_answer"):
            self._timers[req.call_id] = now + (feats.get("forward_no_answer_s") or 20)
            domain = line.get("domain") or self.ua.host
            self._forward_na[req.call_id] = self._target_uri(feats["forward_no_answer"], domain)
        return svc.move("incoming", call) + self._run(call, acts, now)

    def _wait(self, req, tx, src, line, now):
        """Call waiting (FLOWS §13): 180, the line hears `call_waiting`; a flash answers."""
        port = line["port"]
        call = self._new_call(line, "in", now)
        call.next_hop = tuple(src[:2])
        acts = call.offered(req, tx, now)
        self.calls[req.call_id] = call
        self._timers[req.call_id] = now + line.get("no_answer_s", 60)
        return self.service(port).move("wait", call) + self._run(call, acts, now)

    @staticmethod
    def _target_uri(number, domain):
        return number if number.startswith(("sip:", "sips:")) else "sip:%s@%s" % (number, domain)

    def _diverted(self, line):
        return "sip:%s@%s" % (line["user"], line.get("domain") or self.ua.host)

    def _refused(self, req, line, reason):
        cid = _caller_id(req)
        return ("event", "call", {"line": line["port"], "call_id": req.call_id, "direction": "in",
                                  "state": "ended", "peer": cid.get("number") or "anonymous", "reason": reason})

    def _forward(self, req, line, number, reason, now):
        """302 to NUMBER in the line's domain, before ringing (FLOWS §10-11)."""
        target = self._target_uri(number, line.get("domain") or self.ua.host)
        resp = response_to(req, 302, "Moved Temporarily", to_tag=random_hex(4),
                           extra=redirect_headers(target, reason, self._diverted(line)))
        return self.ua.send_response(resp, now) + \
            [self._refused(req, line, "forwarded to %s (%s)" % (target, reason))]

    def _on_replaces(self, req, tx, src, now):
        """An INVITE with Replaces (RFC 3891 §3): take over the dialog it names."""
        parts = [p.strip() for p in req.headers.get("Replaces").split(";")]
        params = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip()
        old = self.calls.get(parts[0])
        if old is None or old.dialog is None or old.dialog.local_tag != params.get("to-tag") \
                or old.dialog.remote_tag != params.get("from-tag") or old.state == "incoming":
            return self.ua.send_response(response_to(req, 481, "Call/Transaction Does Not Exist",
                                                     to_tag=random_hex(4)), now)
        if old.state in IN_CALL and "early-only" in params:
            return self.ua.send_response(response_to(req, 486, "Busy Here", to_tag=random_hex(4)), now)
        if old.state not in IN_CALL + OUTGOING_EARLY:
            return self.ua.send_response(response_to(req, 603, "Declined", to_tag=random_hex(4)), now)
        new = self._new_call(old.line, "in", now)
        new.next_hop = tuple(src[:2])
        self.calls[req.call_id] = new
        acts = new.take_over(req, tx, now)
        if new.state == "ended":            # its offer was not acceptable: the old call stays
            return self._run(new, acts, now)
        old.transferred = True
        out = self._run(old, old.release(now, "replaced by %s" % new.peer), now)
        out += self.service(old.port).move("replace", new)
        return out + self._run(new, acts, now)

    def _in_dialog(self, req, tx, src, now):
        """A request in a dialog: it reaches its call only when Call-ID and both tags match
        one of the call's dialogs (§12.2.2); anything else is 481 and changes nothing."""
        call = self.calls.get(req.call_id)
        if call is None or not call.owns(req):
            return self.ua.send_response(make_response(req, 481, "Call/Transaction Does Not Exist"), now)
        return self._run(call, call.on_request(req, tx, now), now)

    def on_cancel(self, cancel, tx, now):
        """A CANCEL the transaction layer matched to INVITE server `tx` (§9.2): it ends the
        call that INVITE started, and only that one."""
        call = self.calls.get(cancel.call_id)
        if call is None or call.server_tx is not tx:
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
                if call.direction == "in" and cid in self._forward_na and call.state == "incoming":
                    target = self._forward_na.pop(cid)
                    out += self._run(call, call.redirect(now, target, "no-answer", self._diverted(call.line))
                                     + [("line", "remote_hangup")], now)
                elif call.direction == "in":
                    out += self._run(call, call.reject(now, 480, "Temporarily Unavailable", "no answer")
                                     + [("line", "remote_hangup")], now)
                elif call.state in ("dialing", "proceeding", "ringing", "early"):
                    out += self._run(call, call.hangup(now) + [("line", "remote_failed", "congestion")], now)
        return out

    def status(self, now):
        return [c.status(now) for c in self.calls.values()]
