"""The reliable provisional responses of a call (RFC 3262): our PRACK as caller, our reliable
180 and its PRACK wait as callee.

Rules:
1. Sans-IO, like tipring/firmware/calls/call.py, whose `Call` this `ReliableProvisionals` is a
   part of: the methods use the call's dialogs, INVITE and state and return the same actions
   (`("send", ...)`, `("respond", ...)`, `("line", verb)`, `("event", ...)`).
2. The call's state changes only through `Call._move` (TRANSITIONS in call.py); a reliable
   180 nobody PRACKs ends the call through `_end(..., "timeout")`, which goes through it.
3. The fields used here live in `Call.__init__` with the rest: `_rseq` (remote tag -> last
   in-order RSeq), `_early` (remote tag -> early Dialog), `_rel` (our reliable 180 awaiting
   its PRACK), `_answer_held` (the handset answered before that PRACK).

Caller (UAC, RFC 3262 §4, §7.2): an 18x with `Require: 100rel` and an `RSeq` gets a PRACK
with `RAck: <RSeq> <CSeq> INVITE` in the early dialog of its fork (that dialog's route set,
`_prack`); a retransmission (an RSeq that is not one above the last of that fork) is dropped
unprocessed.

Callee (UAS, RFC 3262 §3): an INVITE with `Require: 100rel` gets its 180 reliably
(`Supported: 100rel` alone gets a plain 180, as nothing in our 180 needs it): `Require:
100rel` and an `RSeq` picked at random, re-sent at T1, 2*T1, 4*T1 ... (`_rel_timer`, run from
`Call.on_timer`) until the PRACK whose `RAck` names it (answered 200; any other PRACK 481); no
PRACK within 64*T1 rejects the INVITE 500. An answer from the handset meanwhile is held
(`Call.answer`) and the 200 goes right after the PRACK. The manager answers `Require: 100rel`
with 420 on a line with `prack = false`.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.dialog import Dialog
from tipring.firmware.calls.refer import Transfer


def reliable_rseq(resp):
    """The RSeq of a reliable provisional response (RFC 3262 §7.1), else None."""
    if resp.status <= 100 or resp.status >= 200:
        return None
    req = ",".join(resp.headers.get_all("Require")).lower()
    if "100rel" not in [x.strip() for x in req.split(",")]:
        return None
    rseq = (resp.headers.get("RSeq") or "").strip()
    return int(rseq) if rseq.isdigit() else None


def requires_100rel(req) -> bool:
    """Whether a request has `Require: 100rel` (RFC 3262 §4)."""
    opts = ",".join(req.headers.get_all("Require")).lower()
    return "100rel" in [x.strip() for x in opts.split(",")]


class ReliableProvisionals(Transfer):
    """Represents the RFC 3262 side of one call (a part of tipring.firmware.calls.call.Call).

    The parts of `Call` are chained in single inheritance (Call -> SessionModification ->
    ReliableProvisionals -> Transfer): the portable core keeps multiple inheritance out, as
    MicroPython resolves it differently (STYLE.md)."""

    # ------------------------------------------------------------------ as caller (UAC)
    def _prack(self, resp, early):
        """The PRACK for a reliable 1xx to our INVITE, in the fork's `early` dialog (§7.2):
        [] when `resp` is not reliable (or made no dialog), None when it is a retransmission
        or out of order and must be dropped unprocessed (§4)."""
        rseq = reliable_rseq(resp) if early is not None else None
        if rseq is None:
            return []
        last = self._rseq.get(resp.to.tag)
        if last is not None and rseq != last + 1:
            return None
        self._rseq[resp.to.tag] = rseq
        prack = early.request("PRACK", headers=[("RAck", "%d %d INVITE" % (rseq, resp.cseq.seq))])
        return [self._in_dialog(prack)]

    def _early_dialog(self, resp):
        """The early dialog a 1xx with a To tag makes or refreshes (one per fork), or None."""
        if resp.status <= 100 or not resp.to.tag:
            return None
        early = self._early.get(resp.to.tag)
        if early is not None:
            early.on_response(resp)
            return early
        try:
            early = Dialog.uac(self.invite, resp, contact=self._contact(),
                               via_host=self.ua.host, via_port=self.ua.port)
            self._early[resp.to.tag] = early
        except ValueError:
            early = None
        if self.dialog is None:
            self.dialog = early
        return early

    # ------------------------------------------------------------------ as callee (UAS)
    def _ringing(self, req, now):
        """Our 180: reliable when the INVITE requires it (RFC 3262 §3), with a first RSeq
        picked at random in 1..2**31-1 (kept small enough never to wrap)."""
        if not requires_100rel(req):
            return self._response(180, "Ringing")
        rseq = int(random_hex(3), 16) + 1
        resp = self._response(180, "Ringing", extra=[("Require", "100rel"), ("RSeq", str(rseq))])
        t1 = getattr(getattr(self.ua, "tl", None), "t1", 0.5)
        self._rel = {"resp": resp, "rseq": rseq, "interval": t1, "next": now + t1, "give_up": now + 64 * t1}
        return resp

    def _rel_deadline(self):
        """When our unacknowledged reliable 180 is due again (or given up), else None."""
        if self._rel is not None and self.state == "incoming":
            return min(self._rel["next"], self._rel["give_up"])
        return None

    def _rel_timer(self, now):
        """Re-send the unacknowledged reliable 180 (T1 doubling), or give up after 64*T1."""
        rel = self._rel
        if now >= rel["give_up"]:
            acts = [("respond", self._response(500, "Server Internal Error (no PRACK)"))]
            return acts + [("line", "remote_hangup")] + self._end("no PRACK for the reliable 180", "timeout")
        rel["interval"] *= 2
        rel["next"] = now + rel["interval"]
        return [("respond", rel["resp"])]

    def _on_prack(self, req, now):
        """A PRACK in our dialog. While we ring it must acknowledge our reliable 180: its RAck
        names that RSeq and our INVITE's CSeq (§7.2), else 481; the one that does lets a held
        answer go out. Any other time a PRACK (for a 1xx long answered) just gets 200."""
        from tipring.firmware.sip.dialog import make_response
        rel = self._rel
        if self.state != "incoming" and rel is None:
            return [("respond", make_response(req, 200))]
        rack = (req.headers.get("RAck") or "").split()
        if rel is None or len(rack) != 3 or not rack[0].isdigit() or not rack[1].isdigit() \
                or int(rack[0]) != rel["rseq"] or int(rack[1]) != self.invite.cseq.seq \
                or rack[2].upper() != "INVITE":
            return [("respond", make_response(req, 481, "Call/Transaction Does Not Exist"))]
        self._rel = None
        acts = [("respond", make_response(req, 200))]
        if self._answer_held:
            self._answer_held = False
            acts += self.answer(now)
        return acts
