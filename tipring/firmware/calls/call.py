"""One call of one line: an INVITE dialog, its offer/answer, and what the line should hear.

Rules:
1. Sans-IO, like everything under firmware/: methods take `now` and return actions.
   `("send", Request, dest)` and `("respond", Response)` go through the user agent,
   `("cancel", tx)` CANCELs our pending INVITE, `("line", verb, *args)` tells the FXS line what
   happened (`remote_ringing`, `remote_early_media`, `remote_answered`, `remote_busy`,
   `remote_failed(kind)`, `remote_hangup`, `incoming(caller_id)`), `("media", op)` starts,
   updates or stops this call's RTP stream with `self.plan`, `("event", "call", fields)` logs.
2. Every state and the request that moves it are in `TRANSITIONS`; a response or request with
   no entry is answered as RFC 3261 says (481, 491, ...) and changes nothing.
3. RFC 3261 is the law over the seed document: BYE takes a new CSeq (§12.2.1.1); the ACK for a
   2xx is built here (§13.2.2.4) and re-sent for every 2xx retransmission; a 2xx that crosses
   our CANCEL is ACKed and then ended with BYE (§9.1, FLOWS §8).

Theory of operation. Outgoing (FLOWS §4, §7-9, §16): `dialing` -> INVITE with our SDP offer
-> 401/407 answered once with credentials (a new INVITE, CSeq + 1) -> `proceeding` on 100 ->
`ringing` on 180 (local ringback) or `early` on 18x with SDP (the far end's early media) ->
`connected` on 2xx (ACK, media on) -> `ended` on BYE either way. 486/600 -> busy tone;
404/484/410/603 -> reorder; 480/408/5xx/timeout -> congestion; 3xx -> a new INVITE to the
first Contact (at most MAX_REDIRECTS). Incoming (FLOWS §4 as B): `incoming` (180 sent, the
phone rings) -> `connected` on off-hook (200 with our answer) -> `ended`.

The rest of a call lives in its parts, chained in single inheritance (Call ->
SessionModification -> ReliableProvisionals -> Transfer): reinvite.py, re-INVITE and UPDATE
both ways in a call, hold/resume, 491 glare and its retry (RFC 3261 §14, RFC 3311, FLOWS §5,
§12) and fax/modem pass-through (ITU-T V.152); prack.py, reliable provisionals (RFC 3262: our
PRACK as caller, the reliable 180 and its PRACK wait as callee); refer.py, the services
(FLOWS §10-§15): REFER both ways, `redirect()` (302), `take_over()` (Replaces), `release()`.
`deadline()`/`on_timer(now)` here, run by the manager, serve the 491 retry and the reliable
180. `transferred`/`quiet` calls say nothing to the line (the manager filters).
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.auth import DigestClient
from tipring.firmware.sip.dialog import Dialog
from tipring.firmware.sip.message import NameAddr
from tipring.firmware.media.t38 import local_params as local_t38
from tipring.firmware.media.sdp import SdpSession, SdpError, parse as parse_sdp
# IN_CALL (the states of a confirmed dialog that is not ending) is defined in refer.py
from tipring.firmware.calls.refer import IN_CALL
from tipring.firmware.calls.reinvite import ALLOW, SessionModification

MAX_REDIRECTS = 3
BUSY = (486, 600)
REORDER = (404, 410, 484, 485, 603, 604, 403, 416, 420, 488)

# state -> event -> next state; read beside FLOWS.md. Every state change goes through
# `Call._move`, which looks it up here; an event with no entry for the current state is an
# `error` event and changes nothing. tests/calls/test_call_table.py checks that every event
# the code moves with is listed and every entry is used.
_SETUP = {"1xx": None, "180": "ringing", "183": "early", "2xx": "connected", "3xx": None,
          "failure": "ended", "timeout": "ended", "hangup": "cancelling", "bad_answer": "releasing",
          "bye": "ended"}


def _setup(state, **extra):
    """The entries of an outgoing call being set up, staying in `state` where None."""
    row = {ev: (nxt or state) for ev, nxt in _SETUP.items()}
    row.update(extra)
    return row


TRANSITIONS = {
    "dialing":     _setup("dialing", **{"1xx": "proceeding", "auth": "dialing", "failover": "dialing"}),
    "proceeding":  _setup("proceeding", auth="proceeding"),
    "ringing":     _setup("ringing"),
    "early":       _setup("early", **{"180": "early"}),
    "cancelling":  {"1xx": "cancelling", "180": "cancelling", "183": "cancelling", "2xx": "releasing",
                    "failure": "ended", "timeout": "ended", "bye": "ended"},
    "incoming":    {"answer": "connected", "cancel": "ended", "reject": "ended", "timeout": "ended",
                    "bye": "ended"},
    "connected":   {"bye": "ended", "hangup": "releasing", "resume": "connected", "hold": "held",
                    "dialog_gone": "releasing"},
    "held":        {"bye": "ended", "hangup": "releasing", "resume": "connected", "hold": "held",
                    "dialog_gone": "releasing"},
    "releasing":   {"bye": "ended", "final": "ended", "timeout": "ended"},
    "ended":       {},
}


def _caller_id(req) -> dict:
    """Number and name for the handset, from P-Asserted-Identity or From (RFC 3325)."""
    src = None
    pai = req.headers.get("P-Asserted-Identity")
    if pai:
        try:
            src = NameAddr.parse(pai.split(",")[0])
        except ValueError:
            src = None
    if src is None:
        src = req.from_
    number = src.uri.user or ""
    name = src.display or None
    privacy = (req.headers.get("Privacy") or "").lower()
    if "id" in privacy or number.lower() in ("anonymous", "") or (name or "").lower() == "anonymous":
        return {"number": None, "name": None, "reason": "private"}
    return {"number": number, "name": name}


class Call(SessionModification):
    """Represents one call on one FXS line (outgoing or incoming); re-INVITE/UPDATE:
    reinvite.py; PRACK: prack.py; REFER and its NOTIFYs: refer.py."""

    def __init__(self, line: dict, direction: str, ua, rtp, now: float, media_keys=None):
        """`media_keys(n) -> n random bytes`: the SRTP key source (os.urandom), needed when
        the line's `srtp` is not "off"."""
        self.line = line                # the [[line]] config dict
        self.port = line["port"]
        self.direction = direction      # "out" | "in"
        self.ua = ua
        self.rtp = rtp                  # (host, port) of our RTP socket
        self.state = "dialing" if direction == "out" else "incoming"
        self.started = now
        self.answered_at = None
        self.dialog = None
        self.invite = None              # our INVITE as sent (outgoing) / theirs (incoming)
        self.invite_tx = None
        self.server_tx = None
        self.sdp = SdpSession(rtp[0], rtp[1], codecs=(line.get("codecs") or "pcmu,pcma").split(","),
                              srtp=line.get("srtp") or "off", new_key=media_keys,
                              t38=local_t38())     # T.38 taken whenever the engine runs
        self.plan = None                # tipring.firmware.media.sdp.MediaPlan once negotiated
        self.media_on = False
        self.peer = None
        self.reason = None
        self.call_id = None
        self.local_tag = random_hex(6)
        self.auth = DigestClient(line.get("auth_user") or line["user"], line.get("password") or "")
        self.redirects = 0
        self.next_hop = None
        self.fallbacks = []             # next hops to try if the INVITE gets no answer (RFC 3263 §4.3)
        self.failovers = 0
        self.contact_uri = None         # the registered Contact when a NAT mapped it (RFC 3581)
        self._answer_sdp = None
        self._bye_after_ack = False
        self._cseq = 0
        self._rseq = {}                 # remote tag -> last in-order RSeq (RFC 3262 §4)
        self._early = {}                # remote tag -> early Dialog (forks), for PRACK
        self._reinvite = None           # our re-INVITE awaiting its final response
        self._reinvite_dir = "sendrecv"
        self._retry_at = None           # when to retry a re-INVITE that got 491 (§14.1)
        self._rel = None                # our reliable 180 awaiting PRACK (RFC 3262 §3), a dict
        self._answer_held = False       # off-hook before that PRACK: the 200 waits for it
        self.tu = None                  # the manager's adaptor owning our client transactions
        self.tus = {}                   # method -> adaptor for REFER/NOTIFY (their failures differ)
        self.extra_headers = []         # added to our INVITE (Referred-By, Replaces: transfers)
        self.early_media = True         # False: a 183's answer is kept but not played (transfers)
        self.final_status = None        # (code, reason) that ended our INVITE, for sipfrag NOTIFY
        self.refer_in = None            # transferee: {"new": Call, "sub": bool, "event": str}
        self.refer_out = None           # transferor: {"cseq": int, "other": Call or None}
        self.transfer_of = None         # the call a REFER asked us to replace (this new call)
        self.transfer_reported = False
        self.transferred = False        # the line has moved on: no line commands from this call
        self.end_with = None            # a call to end with this one (attended transfer done)
        self.quiet = False              # a call placed for a REFER: no line commands until up
        self._refers = 0                # REFERs received in this dialog (RFC 3515 §2.4.6 id)
        self.fax = None                 # the fax/modem tone that put this call in pass-through
        self._fax_reoffer = False       # a G.711 re-offer waits for our pending re-INVITE
        self._t38_offer = False         # our pending re-INVITE offers T.38 (reinvite.py)

    # ------------------------------------------------------------------ helpers
    def _event(self, state=None, **extra):
        f = {"line": self.port, "call_id": self.call_id, "direction": self.direction,
             "state": state or self.state, "peer": self.peer}
        if self.reason and (state or self.state) == "ended":
            f["reason"] = self.reason
        f.update(extra)
        return ("event", "call", f)

    def _move(self, event, acts=None) -> bool:
        """The one place the state changes: TRANSITIONS[state][event]. A miss appends an
        `error` event to `acts` (the caller's outputs), changes nothing and returns False."""
        nxt = TRANSITIONS[self.state].get(event)
        if nxt is None:
            if acts is not None:
                acts.append(("event", "error", {"where": "calls", "line": self.port, "call_id": self.call_id,
                                                "state": self.state, "event": event,
                                                "message": "line %d: call event %r has no move in state %r"
                                                % (self.port, event, self.state)}))
            return False
        self.state = nxt
        return True

    def _contact(self):
        # the registered Contact when a NAT mapped it (RFC 3581), else the UA's own; over
        # TCP/TLS the Contact says so (;transport=)
        if self.contact_uri:
            return "<%s>" % self.contact_uri
        return "<%s>" % self.ua.contact_uri(self.line["user"])

    def _dest_for(self, req):
        """First hop of an in-dialog request: the first Route, else the Request-URI (§12.2.1.1)."""
        routes = req.headers.get_all("Route")
        try:
            uri = NameAddr.parse(routes[0]).uri if routes else NameAddr.parse("<%s>" % req.uri).uri
            return (uri.host.strip("[]"), uri.port or 5060)
        except ValueError:
            return self.next_hop

    def _in_dialog(self, req):
        req.headers.remove("Via")   # the UA puts its own, with rport
        return ("send", req, self._dest_for(req))

    def _end(self, reason, event):
        """Move to `ended` by `event`: media off, the dialog gone, the `ended` event."""
        acts = []
        if not self._move(event, acts):
            return acts
        self.reason = reason
        self._retry_at = None
        self._reinvite = None
        self._rel = None
        if self.media_on:
            acts.append(("media", "stop"))
            self.media_on = False
        if self.dialog is not None:
            self.dialog.terminate()
        acts.append(self._event("ended"))
        return acts

    # ------------------------------------------------------------------ outgoing
    def dial(self, number: str, domain: str, proxy, now: float, target_uri=None) -> list:
        """Start an outgoing call to `number` through `proxy` (host, port); None when the
        proxy's address is not known (its DNS lookup has not answered): the call fails at once."""
        self.next_hop = proxy
        self.call_id = self.call_id or (random_hex(12) + "@tipring")
        uri = target_uri or ("sip:%s@%s" % (number, domain))
        self.peer = number
        if proxy is None:
            self.final_status = (503, "Service Unavailable")
            return [self._event("dialing")] + [("line", "remote_failed", "congestion")] + \
                self._end("the proxy's address is not known (DNS)", "failure")
        display = self.line.get("display_name")
        who = ('"%s" ' % display) if display else ""
        self._cseq += 1
        offer = self.sdp.offer().to_bytes()
        headers = [
            ("Max-Forwards", "70"),
            ("From", "%s<sip:%s@%s>;tag=%s" % (who, self.line["user"], domain, self.local_tag)),
            ("To", "<%s>" % uri),
            ("Call-ID", self.call_id),
            ("CSeq", "%d INVITE" % self._cseq),
            ("Contact", self._contact()),
            ("Allow", ALLOW),
            ("Supported", "replaces, 100rel"),
            ("Content-Type", "application/sdp"),
        ] + list(self.extra_headers)
        from tipring.firmware.sip.message import Request
        req = Request("INVITE", uri, headers, offer)
        for name, value in self.auth.authorize(req):
            req.headers.set(name, value)
        self.invite = req
        acts = [("send", req, proxy)]
        if self._cseq == 1 and self.redirects == 0 and self.failovers == 0:
            acts.append(self._event("dialing"))
        return acts

    def _initial(self, resp) -> bool:
        """Whether `resp` answers our initial INVITE (not a re-INVITE)."""
        return self.direction == "out" and self.invite is not None and resp.cseq.seq == self.invite.cseq.seq

    def sent(self, tx) -> None:
        """The UA tells us which client transaction carries our INVITE."""
        self.invite_tx = tx

    def on_provisional(self, resp, now: float) -> list:
        """A 1xx to our INVITE: early dialog (and PRACK for a reliable one), then ringback,
        early media or just proceeding."""
        if resp.cseq.method != "INVITE" or self.state in ("ended", "releasing"):
            return []
        if not self._initial(resp) or self.state in IN_CALL:
            return []               # a 1xx to a re-INVITE: nothing to do
        acts = self._prack(resp, self._early_dialog(resp))
        if acts is None:
            return []               # a retransmission (or out of order): RFC 3262 §4
        before = self.state
        acts += self._progress(resp)
        if self.state != before and self.state in ("proceeding", "ringing", "early"):
            acts.append(self._event())
        return acts

    def _progress(self, resp):
        """What a 1xx tells the line: 18x with SDP plays the far end's early media (or, for
        a quiet transfer call, is only kept for the 2xx), 180/183 ringback, 100 nothing."""
        code = resp.status
        acts = []
        before = self.state
        if resp.body and code in (180, 183) and (resp.content_type or "") == "application/sdp":
            try:
                self.plan = self.sdp.on_answer(parse_sdp(resp.body))
            except (SdpError, ValueError):
                self.plan = None
            if self.plan is not None and not self.early_media:
                self._move("180", acts)     # the answer is kept for the 2xx; nothing is played
            elif self.plan is not None and self._move("183", acts):
                acts.append(("media", "update" if self.media_on else "start"))
                self.media_on = True
                acts.append(("line", "remote_early_media"))
        elif code == 180 or code == 183:
            if self._move("180", acts) and before != "ringing" and not self.media_on:
                acts.append(("line", "remote_ringing"))
        else:
            self._move("1xx", acts)
        return acts

    def on_response(self, resp, now: float) -> list:
        method = resp.cseq.method
        code = resp.status
        if method == "INVITE":
            if not self._initial(resp):
                if self.dialog is not None and code >= 200:
                    return self._reinvite_answer(resp, now)
                return []
            return self._invite_final(resp, now)
        if method == "BYE" or method == "CANCEL":
            if method == "BYE" and self.state == "releasing":
                return self._end(self.reason or "local hangup", "final")
            return []
        if method == "REFER":
            return self._refer_answer(resp, now)
        if method == "INFO" and code >= 300:
            return [("event", "error", {"where": "calls", "message": "line %d: the far end refused "
                                        "the hook-flash INFO: %d %s" % (self.port, code, resp.reason)})]
        return []

    def _invite_final(self, resp, now):
        code = resp.status
        if self.state == "ended":
            return []               # the call is over (ended by the far end meanwhile)
        if 200 <= code < 300:
            early = self._early.get(resp.to.tag)
            if self.dialog is not None and self.dialog.remote_tag == resp.to.tag:
                self.dialog.on_response(resp)
            elif early is not None:     # the fork that answered (its CSeq counts PRACKs)
                self.dialog = early
                early.on_response(resp)
            else:
                self.dialog = Dialog.uac(self.invite, resp, contact=self._contact(),
                                         via_host=self.ua.host, via_port=self.ua.port)
            ack = self.dialog.ack(self.invite.cseq.seq)
            acts = [self._in_dialog(ack)]
            if self.state == "cancelling":
                # the 200 crossed our CANCEL: the call exists, end it properly (FLOWS §8)
                self._move("2xx", acts)
                self.reason = "cancelled"
                acts.append(self._in_dialog(self.dialog.bye()))
                return acts
            if self.state in IN_CALL + ("releasing",):
                return acts  # a retransmitted 2xx: ACK again, nothing else
            if resp.body:
                try:
                    self.plan = self.sdp.on_answer(parse_sdp(resp.body))
                except (SdpError, ValueError) as e:
                    self.reason = "bad answer SDP: %s" % e
                    self._move("bad_answer", acts)
                    acts.append(self._in_dialog(self.dialog.bye()))
                    return acts + [("line", "remote_failed", "reorder")]
            if not self._move("2xx", acts):
                return acts
            self.answered_at = now
            acts.append(("media", "update" if self.media_on else "start"))
            self.media_on = True
            acts += [("line", "remote_answered"), self._event("connected")]
            return acts
        if code in (401, 407) and self.state in ("dialing", "proceeding"):
            return self._authenticate(resp, now)
        if 300 <= code < 400 and self.state != "cancelling":
            contacts = [c for c in resp.contact if not c.star]
            if contacts and self.redirects < MAX_REDIRECTS:
                return self._redirect_to(str(contacts[0].uri), now)
        self.reason = "%d %s" % (code, resp.reason)
        self.final_status = (code, resp.reason or "Failed")
        if self.state == "cancelling":
            return self._end("cancelled", "failure")
        kind = "busy" if code in BUSY else ("reorder" if code in REORDER or 300 <= code < 400 else "congestion")
        acts = self._end(self.reason, "failure")
        line_verb = ("line", "remote_busy") if kind == "busy" else ("line", "remote_failed", kind)
        return [line_verb] + acts

    def _authenticate(self, resp, now):
        """401/407 to our INVITE: the same INVITE again with credentials (CSeq + 1), once."""
        code = resp.status
        result = self.auth.respond(resp, self.invite)
        if not result.ok:
            self.reason = "%d %s (%s)" % (code, resp.reason, result.reason)
            return self._end(self.reason, "failure") + [("line", "remote_failed", "reorder")]
        errs = []
        if not self._move("auth", errs):
            return errs
        self._cseq = self.invite.cseq.seq
        acts = self.dial(self.peer, self._domain(), self.next_hop, now, target_uri=self.invite.uri)
        for name, value in result.headers:
            acts[0][1].headers.set(name, value)
        return acts

    def _redirect_to(self, target, now):
        """3xx to our INVITE: a new INVITE to its first Contact (at most MAX_REDIRECTS)."""
        errs = []
        if not self._move("3xx", errs):
            return errs
        self.redirects += 1
        self.dialog = None
        return self.dial(self.peer, self._domain(), self.next_hop, now, target_uri=target) + \
            [self._event("dialing", redirected_to=target)]

    def _domain(self):
        u = self.invite.from_.uri
        return u.host if not u.port else "%s:%d" % (u.host, u.port)

    def deadline(self):
        """When `on_timer` is due (a 491 retry, a reliable 180 to re-send), or None."""
        rel = self._rel_deadline()
        return rel if rel is not None else self._retry_deadline()

    def on_timer(self, now: float) -> list:
        rel = self._rel_deadline()
        if rel is not None:
            return self._rel_timer(now) if now >= rel else []
        return self._retry_timer(now)

    def on_failure(self, reason: str, now: float, method=None) -> list:
        """Our INVITE (Timer B) or BYE (Timer F) got no answer. In a call it is our re-INVITE
        (or a PRACK, INFO...): the session stays as it was (§14.1) and a new re-INVITE may go.
        `method` "REFER": the transfer failed, the call stays; "NOTIFY": nothing to do."""
        if method == "REFER":
            return self._refer_failed() if self.refer_out is not None else []
        if method == "NOTIFY":
            return []
        if method == "INFO":
            return [("event", "error", {"where": "calls", "message": "line %d: the hook-flash INFO "
                                        "got no answer (%s)" % (self.port, reason)})]
        if method is None and self.state == "dialing" and self.fallbacks and self.invite is not None:
            # RFC 3263 §4.3: no answer at all from this hop: the same request, in a new
            # transaction (new branch, same CSeq), to the next one
            errs = []
            if not self._move("failover", errs):
                return errs
            self.next_hop = self.fallbacks.pop(0)
            self.failovers += 1
            self._cseq = self.invite.cseq.seq - 1
            return self.dial(self.peer, self._domain(), self.next_hop, now, target_uri=self.invite.uri) + \
                [self._event("dialing", failover_to="%s:%d" % tuple(self.next_hop[:2]), reason=reason)]
        if self.final_status is None and self.state in ("dialing", "proceeding", "ringing", "early"):
            self.final_status = (408, "Request Timeout")
        if self.state == "releasing":
            return self._end(self.reason or "local hangup", "timeout")
        if self.state in IN_CALL:
            self._reinvite = None
            if self._fax_reoffer:
                self._retry_at = now    # the fax re-offer goes next (on_timer)
            return []
        if self.state in ("dialing", "proceeding", "ringing", "early", "cancelling"):
            cancelled = self.state == "cancelling"
            acts = self._end("cancelled" if cancelled else "no answer from the proxy (%s)" % reason, "timeout")
            return acts if cancelled else [("line", "remote_failed", "congestion")] + acts
        return []

    def hangup(self, now: float) -> list:
        """The handset hung up (or the no-answer timer fired, for outgoing calls)."""
        if self.state in ("dialing", "proceeding", "ringing", "early"):
            acts = []
            self._move("hangup", acts)
            self.reason = "cancelled"
            if self.invite_tx is not None:
                acts.append(("cancel", self.invite_tx))
            if self.media_on:
                acts.append(("media", "stop"))
                self.media_on = False
            return acts
        if self.state in IN_CALL:
            acts = [self._in_dialog(self.dialog.bye())]
            self._move("hangup", acts)
            self.reason = "local hangup"
            self._retry_at = None
            if self.media_on:
                acts.append(("media", "stop"))
                self.media_on = False
            return acts
        if self.state == "incoming":
            return self.reject(now, 480, "Temporarily Unavailable", "not answered")
        return []

    # ------------------------------------------------------------------ incoming
    def offered(self, req, tx, now: float, ring: bool = True) -> list:
        """A new INVITE for this line: prepare the answer, send 180, ring the phone (only
        the preparation when not `ring`: see `take_over`)."""
        self.invite = req
        self.server_tx = tx
        self.call_id = req.call_id
        cid = _caller_id(req)
        self.peer = cid.get("number") or "anonymous"
        if req.body:
            try:
                answer, self.plan = self.sdp.answer(parse_sdp(req.body))
                self._answer_sdp = answer.to_bytes()
            except ValueError as e:     # SdpError, or anything else the offer trips on
                acts = [("respond", self._response(488, "Not Acceptable Here",
                                                   extra=[("Warning", '304 tipring "%s"' % str(e)[:80])]))]
                self._move("reject", acts)
                self.reason = "488 %s" % e
                return acts + [self._event("ended")]
        self.dialog = Dialog.uas(req, self.local_tag, contact=self._contact(),
                                 via_host=self.ua.host, via_port=self.ua.port)
        if not ring:
            return []
        return [("respond", self._ringing(req, now)), ("line", "incoming", cid), self._event("ringing")]

    def _response(self, code, reason=None, body=b"", extra=()):
        from tipring.firmware.sip.dialog import make_response
        return make_response(self.invite, code, reason, to_tag=self.local_tag,
                             contact=self._contact() if code < 300 else None, headers=list(extra),
                             body=body, content_type="application/sdp" if body else None)

    def answer(self, now: float) -> list:
        """The handset went off-hook while ringing: 200 with our SDP answer, media on."""
        if self.state != "incoming":
            return []
        if self._rel is not None:
            self._answer_held = True    # the 200 waits for the PRACK of our 180 (RFC 3262 §3)
            return []
        if self._answer_sdp is None:  # offerless INVITE: our offer goes in the 200 (RFC 3264 §5)
            self._answer_sdp = self.sdp.offer().to_bytes()
        acts = [("respond", self._response(200, "OK", self._answer_sdp))]
        self._move("answer", acts)
        self.answered_at = now
        self.dialog.confirm()
        if self.plan is not None:
            acts.append(("media", "start"))
            self.media_on = True
        acts.append(self._event("connected"))
        return acts

    def reject(self, now, code, reason, why) -> list:
        if self.state != "incoming":
            return []
        acts = [("respond", self._response(code, reason))]
        return acts + self._end(why, "reject")

    def on_cancel(self, now: float) -> list:
        if self.state != "incoming":
            return []
        acts = [("respond", self._response(487, "Request Terminated"))]
        return acts + [("line", "remote_hangup")] + self._end("cancelled by caller", "cancel")

    # ------------------------------------------------------------------ in dialog
    def owns(self, req) -> bool:
        """Whether the in-dialog request `req` belongs to one of this call's dialogs: our tag
        in To and, in From, the far end's tag of the dialog (or of an early one, for our
        forked INVITE) (§12.2.2). A request that only shares the Call-ID gets 481 and never
        touches the call."""
        try:
            to_tag, from_tag = req.to.tag, req.from_.tag
        except ValueError:
            return False
        d = self.dialog
        if d is not None:
            if to_tag == d.local_tag and from_tag == d.remote_tag:
                return True
        return to_tag == self.local_tag and from_tag is not None and from_tag in self._early

    def on_request(self, req, tx, now: float) -> list:
        """A request inside our dialog (BYE, re-INVITE, UPDATE, INFO, ...)."""
        from tipring.firmware.sip.dialog import make_response
        bad = self.dialog.on_request(req) if self.dialog is not None else None
        if bad == 400:              # a target refresh with a Contact we cannot use: §12.2.2
            from tipring.firmware.sip.dialog import check_target_refresh
            return [("respond", make_response(req, *check_target_refresh(req)))]
        if bad:
            return [("respond", make_response(req, 500, "Server Internal Error",
                                              headers=[("Retry-After", "1")]))]
        m = req.method
        if m == "BYE":
            acts = [("respond", make_response(req, 200))]
            if self.state == "ended":
                return acts
            was = self.state
            why = self.reason if was == "releasing" and self.transferred else "remote hangup"
            self.reason = why
            acts += self._end(why, "bye")
            if was in IN_CALL or was == "releasing":
                acts.insert(1, ("line", "remote_hangup"))
            return acts
        if m in ("INVITE", "UPDATE"):
            return self._on_offer(req, now)
        if m == "NOTIFY":
            acts = [("respond", make_response(req, 200))]
            event = (req.headers.get("Event") or "").split(";")[0].strip().lower()
            if event == "refer" and self.refer_out is not None:
                acts += self._refer_progress(req, now)
            return acts
        if m == "REFER":
            return self._on_refer(req, now)
        if m in ("INFO", "OPTIONS"):
            return [("respond", make_response(req, 200))]
        if m == "PRACK":
            return self._on_prack(req, now)
        return [("respond", make_response(req, 405, headers=[("Allow", ALLOW)]))]

    def status(self, now: float) -> dict:
        return {"line": self.port, "call_id": self.call_id, "direction": self.direction, "state": self.state,
                "peer": self.peer, "duration_s": round(now - (self.answered_at or self.started), 1)}
