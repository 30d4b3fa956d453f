"""Offer/answer inside a call: re-INVITE and UPDATE both ways, 491 glare and its retry timer
(RFC 3261 §14, RFC 3311, RFC 3264), hold and resume, and fax/modem pass-through (ITU-T V.152).

Rules:
1. Sans-IO, like tipring/firmware/calls/call.py, whose `Call` this `SessionModification` is a
   part of: the methods use the call's dialog, SDP session and state and return the same
   actions (`("send", ...)`, `("respond", ...)`, `("media", op)`, `("line", verb)`,
   `("event", ...)`); the retry time is read by `Call.deadline` and run by `Call.on_timer`.
2. The call's state changes only through `Call._move` (TRANSITIONS in call.py): `hold` and
   `resume` as the negotiated directions say, `dialog_gone` when our re-INVITE gets 408/481.
3. The fields used here live in `Call.__init__` with the rest: `_reinvite` (our re-INVITE
   awaiting its final response), `_reinvite_dir` (the direction we last offered),
   `_retry_at` (when a re-INVITE that got 491 goes again), `fax`, `_fax_reoffer` and
   `_t38_offer`.

Their offer (`_on_offer`, FLOWS §5, §12): a re-INVITE or UPDATE with an offer in a call is
answered 200 with our answer (or 488 when nothing in it is acceptable); an offer that holds
us (sendonly/inactive, or the legacy c=0.0.0.0 of RFC 2543, RFC 3264 §8.4) moves the call to
`held`, a sendrecv one back to `connected`. An offerless re-INVITE gets our offer in the 200
(the answer comes in the ACK, RFC 3264 §5); an offerless UPDATE is a session refresh. Before
a call is up (early, incoming) an UPDATE's offer changes the media only.

Our offer (`reinvite(now, direction)`): a session refresh, or hold/resume for the features
above us. A peer's re-INVITE (or UPDATE with an offer) that crosses ours gets 491 (§14.2, RFC
3311 §5.2); a 491 for ours schedules a retry after the §14.1 random delay (2.1-4 s when we
chose the Call-ID, 0-2 s otherwise); a 408 or 481 ends the call with BYE (§14.1, §12.2.1.2).

Fax/modem pass-through (ITU-T V.152 §5): `fax_passthrough(tone, now)` narrows the call's
codecs to PCMU/PCMA for good and re-offers them when another codec is in use, after our
pending re-INVITE when one is out.

T.38 fax relay (ITU-T T.38 Annex D, the HT802/SPA112 "Fax Mode: T.38"): `fax_t38(tone, now)`
re-INVITEs with `m=image ... udptl t38` alone (the session's `t38_mode`, sdp.py rule 7), after
our pending re-INVITE when one is out. A 488, 415 or 606 to it, or a 2xx whose answer refuses
the image stream, falls back to G.711 pass-through as above (the call goes on as it was). A
session without a T.38 engine (`sdp.t38` None) goes to pass-through at once. The peer's own
T.38 offer is answered in `_on_offer` like any offer (sdp.py takes the image stream).
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.media.sdp import SdpError, parse as parse_sdp
from tipring.firmware.calls.prack import ReliableProvisionals
from tipring.firmware.calls.refer import IN_CALL

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY"
GLARE_OWNER = (2.1, 4.0)   # RFC 3261 §14.1: retry delay after 491 when we chose the Call-ID
GLARE_OTHER = (0.0, 2.0)   # ... and when the peer did
G711 = ("PCMU", "PCMA")      # the codecs a fax/modem call is carried in (pass-through)
T38_REFUSED = (488, 415, 606)   # a T.38 re-offer refused: back to G.711 pass-through


def _retry_delay(span) -> float:
    """A random delay in [span[0], span[1]] s (RFC 3261 §14.1)."""
    lo, hi = span
    return lo + (hi - lo) * (int(random_hex(2), 16) / 65535.0)


class SessionModification(ReliableProvisionals):
    """Represents the re-INVITE/UPDATE side of one call (a part of
    tipring.firmware.calls.call.Call; the chain of its parts: prack.py)."""

    # ------------------------------------------------------------------ their offer
    def _on_offer(self, req, now):
        """A re-INVITE or UPDATE from the far end (RFC 3261 §14.2, RFC 3311 §5.2)."""
        from tipring.firmware.sip.dialog import make_response
        m = req.method
        if self.state not in IN_CALL + ("early", "incoming"):
            return [("respond", make_response(req, 491 if m == "INVITE" else 500))]
        if self._reinvite is not None and (m == "INVITE" or req.body):
            # our own offer is out: glare, RFC 3261 §14.2 / RFC 3311 §5.2
            return [("respond", make_response(req, 491, "Request Pending"))]
        if not req.body:
            if m == "UPDATE":       # no offer: a session refresh, nothing to answer
                return [("respond", make_response(req, 200, contact=self._contact()))]
            # an offerless re-INVITE: our offer goes in the 200, the answer in the ACK
            body = self.sdp.offer().to_bytes()
            return [("respond", make_response(req, 200, contact=self._contact(), body=body,
                                              content_type="application/sdp"))]
        try:
            answer, plan = self.sdp.answer(parse_sdp(req.body))
        except SdpError as e:
            return [("respond", make_response(req, 488, "Not Acceptable Here",
                                              headers=[("Warning", '304 tipring "%s"' % str(e)[:80])]))]
        self.plan = plan
        acts = [("respond", make_response(req, 200, contact=self._contact(), body=answer.to_bytes(),
                                          content_type="application/sdp"))]
        if self.state in IN_CALL:
            acts += self._media_changed()
        elif self.media_on:
            acts.append(("media", "update"))
        return acts

    def on_ack(self, ack, now: float) -> list:
        """The ACK for our 2xx; with a body it is the answer to the offer in that 2xx (an
        offerless INVITE or re-INVITE, RFC 3264 §5)."""
        if not ack.body:
            return []
        try:
            self.plan = self.sdp.on_answer(parse_sdp(ack.body))
        except (SdpError, ValueError):
            return []
        if self.media_on:
            return self._media_changed() if self.state in IN_CALL else [("media", "update")]
        self.media_on = True
        return [("media", "start")]

    def _media_changed(self):
        """Media follows the new plan; `held` or `connected` as the new directions say."""
        acts = []
        if self.media_on:
            acts.append(("media", "update"))
        if self.state not in IN_CALL:   # ending meanwhile: the media follows, the state stays
            return acts
        plan = self.plan
        held = plan is not None and (plan.direction != "sendrecv" or plan.remote_hold)
        before = self.state
        if self._move("hold" if held else "resume", acts) and self.state != before:
            acts.append(self._event())
        return acts

    # ------------------------------------------------------------------ our offer
    def reinvite(self, now: float, direction: str = "sendrecv") -> list:
        """Send a re-INVITE with a new offer (`direction`: sendrecv, or sendonly to hold):
        a session refresh, hold or resume. Nothing when not in a call or when one of our
        re-INVITEs is already pending."""
        if self.state not in IN_CALL or self.dialog is None or self._reinvite is not None:
            return []
        self._retry_at = None
        self._reinvite_dir = direction
        self._t38_offer = self.sdp.t38_mode and self.sdp.t38 is not None
        req = self.dialog.reinvite(self.sdp.offer(direction).to_bytes(),
                                   headers=[("Allow", ALLOW), ("Supported", "replaces, 100rel")])
        self._reinvite = req
        return [self._in_dialog(req)]

    def _reinvite_answer(self, resp, now):
        """The final response to our re-INVITE (or a 2xx retransmission of an earlier one)."""
        acts = []
        code = resp.status
        if 200 <= code < 300:
            acts.append(self._in_dialog(self.dialog.ack(resp.cseq.seq)))
        pending = self._reinvite is not None and resp.cseq.seq == self._reinvite.cseq.seq
        if not pending:
            return acts
        self._reinvite = None
        t38, self._t38_offer = self._t38_offer, False
        if self._fax_reoffer and self.state in IN_CALL and code != 491:
            self._retry_at = now        # the fax re-offer goes next (on_timer)
        if t38 and code in T38_REFUSED and self.state in IN_CALL:
            return acts + self._t38_refused("%d %s" % (code, resp.reason), now)
        if 200 <= code < 300:
            if resp.body:
                try:
                    self.plan = self.sdp.on_answer(parse_sdp(resp.body))
                except (SdpError, ValueError) as e:
                    return acts + (self._t38_refused(str(e), now) if t38 else [])
                acts += self._media_changed()
        elif code == 491 and self.state in IN_CALL:
            # glare: both sides sent re-INVITEs; try again after a random wait (§14.1)
            span = GLARE_OWNER if self.direction == "out" else GLARE_OTHER
            self._retry_at = now + _retry_delay(span)
        elif code in (408, 481) and self.state in IN_CALL:
            # the dialog is gone (§14.1, §12.2.1.2): end the call
            acts.append(self._in_dialog(self.dialog.bye()))
            self._move("dialog_gone", acts)
            self.reason = "%d %s to re-INVITE" % (code, resp.reason)
            acts += [("line", "remote_hangup")]
            if self.media_on:
                acts.append(("media", "stop"))
                self.media_on = False
        return acts

    def _retry_deadline(self):
        """When our re-INVITE goes again (after a 491, or a fax re-offer), else None."""
        return self._retry_at if self.state in IN_CALL else None

    def _retry_timer(self, now):
        """The retry time came: our re-INVITE again, in the direction we last offered."""
        if self._retry_at is None or now < self._retry_at or self.state not in IN_CALL:
            return []
        self._retry_at = None
        self._fax_reoffer = False
        return self.reinvite(now, self._reinvite_dir)

    # ------------------------------------------------------------------ fax/modem (V.152)
    def fax_passthrough(self, tone: str, now: float) -> list:
        """A fax or modem tone was heard in this call (CED, ANSam, CNG): G.711 pass-through
        as SPA/HT ATAs do it (ITU-T V.152 §5). From now on every offer and answer of this
        call carries PCMU/PCMA only; when the codec in use is another one, a re-INVITE offers
        them now (RFC 3264 §8), in the call's current direction. Returns the actions."""
        if self.fax is None:
            self.fax = tone
        if self.state not in IN_CALL or self.dialog is None:
            return []
        g711 = tuple(c for c in self.sdp.codecs if c in G711) or G711
        self.sdp.codecs = g711
        if self.plan is None or self.plan.codec in G711:
            return []
        if self._reinvite is not None:  # ours is in flight: re-offer once it is answered
            self._fax_reoffer = True
            return []
        self._fax_reoffer = False
        return self.reinvite(now, self._reinvite_dir)

    # ------------------------------------------------------------------ fax relay (T.38)
    def fax_t38(self, tone: str, now: float) -> list:
        """A fax tone in this call with the line's `fax` = "t38": re-INVITE to T.38 relay
        (see the module docstring). Returns the actions."""
        if self.fax is None:
            self.fax = tone
        if self.sdp.t38 is None:
            return self.fax_passthrough(tone, now)
        if self.state not in IN_CALL or self.dialog is None:
            return []
        if self._t38_offer or (self.plan is not None and self.plan.t38 is not None):
            return []                   # already relaying, or our T.38 offer is out
        self.sdp.t38_mode = True
        if self._reinvite is not None:  # ours is in flight: the T.38 offer goes after it
            self._fax_reoffer = True
            return []
        return self.reinvite(now, self._reinvite_dir)

    def _t38_refused(self, why: str, now: float) -> list:
        """Our T.38 offer was refused: G.711 pass-through from here (V.152), said in a `t38`
        event; the call goes on."""
        self.sdp.t38_mode = False
        acts = [("event", "t38", {"line": self.port, "call_id": self.call_id, "state": "refused",
                                  "reason": why[:80], "fallback": "passthrough"})]
        return acts + self.fax_passthrough(self.fax or "CED", now)
