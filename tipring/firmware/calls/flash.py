"""What the handset does with the calls of its line: hang up, flash, a second call, three-way
calling on a local mix or a network bridge, transfer as transferor (FLOWS.md §12-§15, §17).

Rules:
1. Sans-IO, like the rest of tipring/firmware/calls. `HandsetServices` is a part of `CallManager`
   (tipring/firmware/calls/manager.py, which says in its rule 3 what each service does): it uses the
   manager's `service(port)`, `_run`, `calls`, `lines` and `_timers`, and returns outputs.
2. Every change of a line's situation goes through its LineService table
   (tipring/firmware/calls/services.py); the SIP of each call goes through the Call
   (tipring/firmware/calls/call.py). Here they are put in order: the service move, then the calls.
3. RFC 3515 / RFC 5589 for transfers, RFC 4579 §5.5 and §5.9 for the bridge (REFER to join,
   REFER with method=BYE to drop a party).
"""

from tipring.firmware.calls.call import Call, IN_CALL, _caller_id
from tipring.firmware.calls.refer import replaces_uri


class HandsetServices:
    """Represents the handset's side of a line's services; mixed into CallManager."""

    def hangup(self, port: int, now: float) -> list:
        """The handset hung up. The active call ends (in a conference, both do); a call on
        hold stays and rings the phone back (`recall`, FLOWS §13), a waiting call rings it."""
        svc = self.service(port)
        out = self._give_up_bridge(svc, now)
        if svc.state == "conference":
            if self.lines[port].get("conference_hangup") == "transfer":
                # FLOWS §17 "or transfers them to each other": B and C talk on without us
                return out + self.transfer_attended(port, svc.held, now, hung_up=True)
            held = svc.held
            out += svc.move("end_conference")
            out += self._run(held, held.hangup(now), now)
        call = svc.active
        if call is not None and svc.state in ("held", "single") and self._held_by_flash(call):
            # the only call, held by our flash: it stays, the phone rings back (FLOWS §13)
            return out + svc.move("recall") + [("line", port, "recall", {"number": call.peer, "name": None})]
        other = svc.held or svc.waiting
        if other is not None:               # the line moves on to the other call
            out += svc.move("ring_waiting" if other is svc.waiting else ("hangup" if call else "recall"))
        if call is not None:
            out += self._end_transfers_of(call, now)
            out += self._run(call, call.hangup(now), now)
        if other is not None and svc.active is other and svc.state == "recall":
            out.append(("line", port, "recall", {"number": other.peer, "name": None}))
        elif other is not None and svc.active is other:
            out.append(("line", port, "incoming", _caller_id(other.invite)))
        return out

    @staticmethod
    def _held_by_flash(call):
        return call.state == "held" and call._reinvite_dir == "sendonly" and call.refer_out is None \
            and not call.transferred

    def _give_up_bridge(self, svc, now):
        """On-hook while the bridge is still being called: give it up."""
        bridge = svc.bridge
        if bridge is None:
            return []
        out = svc.move("bridge_cancel") + self._parties_left(svc)
        self._timers.pop(bridge.call_id, None)
        return out + self._run(bridge, bridge.release(now, "local hangup"), now)

    @staticmethod
    def _parties_left(svc):
        """Back to `second` from the bridge: a party that left while the bridge was called
        leaves its slot now (second -> held or single)."""
        if svc.active is None and svc.held is not None:
            return svc.move("active_end")
        if svc.held is None and svc.active is not None:
            return svc.move("held_end")
        return []

    def _end_transfers_of(self, call, now):
        """A transfer under way (a REFER's new call) ends with the handset."""
        out = []
        for other in list(self.calls.values()):
            if other.transfer_of is call and other.state != "ended":
                other.transfer_of = None
                out += self._run(other, other.release(now, "local hangup"), now)
        call.transfer_of = None     # a transfer's call the handset ends reports nothing more
        return out

    def hangup_all(self, port: int, now: float) -> list:
        """End every call of the line (shutdown)."""
        out = []
        for call in self.calls_on(port):
            out += self._run(call, call.hangup(now), now)
        return out

    # ------------------------------------------------------------------ several calls (FLOWS §12, §13, §17)
    def _resume(self, call, now):
        """`call` is the line's active call again: re-INVITE sendrecv, the line hears it."""
        out = self._run(call, call.reinvite(now, "sendrecv"), now)
        if call.plan is not None and call.media_on:
            out.append(("media", "start", call))
        return out

    def flash(self, port: int, now: float) -> list:
        """A hook flash: answer a waiting call (the active one held), swap two calls, drop a
        second call and resume the first, or hold / resume the only call."""
        svc = self.service(port)
        active, held, waiting = svc.active, svc.held, svc.waiting
        if waiting is not None and active is not None and active.state in IN_CALL and held is None:
            out = self._run(active, active.reinvite(now, "sendonly"), now)
            out += svc.move("answer_waiting")
            self._timers.pop(waiting.call_id, None)
            return out + self._run(waiting, waiting.answer(now), now)
        if held is not None and active is None:
            return svc.move("unhold") + self._resume(held, now)
        if held is not None:
            if svc.state == "second" or active.state not in IN_CALL:
                out = svc.move("drop_second")       # drop the second call, back to the first
                self._timers.pop(active.call_id, None)
                out += self._run(active, active.hangup(now), now)
                return out + self._resume(held, now)
            out = self._run(active, active.reinvite(now, "sendonly"), now)    # swap
            return out + svc.move("swap") + self._resume(held, now)
        if active is not None and active.state == "connected":
            return svc.move("hold") + self.reinvite(port, now, "sendonly")
        if active is not None and active.state == "held":
            return svc.move("unhold") + self.reinvite(port, now, "sendrecv")
        return []

    def dial_second(self, port: int, number: str, now: float) -> list:
        """The handset dials a second call while the first is on hold (FLOWS §12, §17)."""
        svc = self.service(port)
        first = svc.active
        if first is None or svc.held is not None or first.state not in IN_CALL:
            return [("event", "error", {"where": "calls", "message": "line %d: no held call for a second call" % port})]
        call, acts = self._place(port, number, now)
        out = svc.move("dial_second", call)
        out += self._run(call, acts, now)
        if svc.state == "held" and svc.held is first:
            out += svc.move("restore")      # it failed at once: the first call stays the line's
        return out

    def answer_recall(self, port: int, now: float) -> list:
        """Off-hook while a held call rings back: resume it."""
        call = self.call_on(port)
        if call is None or call.state not in IN_CALL:
            return []
        return self.service(port).move("answer_recall") + self._resume(call, now)

    def conference(self, port: int, now: float) -> list:
        """Three-way calling (FLOWS §17): resume the held call; both calls are mixed locally,
        or, with the line's `conference_uri`, on that network bridge."""
        svc = self.service(port)
        active, held = svc.active, svc.held
        if active is None or held is None or active.state not in IN_CALL or held.state not in IN_CALL:
            return [("event", "error", {"where": "calls", "message": "line %d: no two calls to join" % port})]
        if self.lines[port].get("conference_uri") and svc.bridge is None:
            return self._call_bridge(port, now)
        return self._mix_locally(port, now)

    def _mix_locally(self, port, now):
        svc = self.service(port)
        held = svc.held
        out = svc.move("conference")
        out += self._run(held, held.reinvite(now, "sendrecv"), now)
        if held.plan is not None:
            out.append(("media", "join", held))
        return out

    def _call_bridge(self, port, now):
        """FLOWS §17 with a network bridge: INVITE the bridge; once it answers, REFER both
        parties to it (RFC 4579 §5.5 style, Refer-To the conference URI) and talk on the
        bridge call. Meanwhile the handset keeps talking to the second party."""
        line = self.lines[port]
        domain = line.get("domain") or self.ua.host
        uri = self._target_uri(line["conference_uri"], domain)
        bridge = self._new_call(line, "out", now)
        bridge.quiet = True
        bridge.early_media = False
        number = uri.split(":", 1)[1].split("@")[0]
        acts = bridge.dial(number, domain, self._route(bridge, port), now, target_uri=uri)
        self.calls[bridge.call_id] = bridge
        self._timers[bridge.call_id] = now + line.get("no_answer_s", 60)
        return self.service(port).move("call_bridge", bridge) + self._run(bridge, acts, now)

    def _bridge_outcome(self, bridge, now):
        """The bridge answered: it becomes the line's call and both parties are referred to
        it; it failed: the three are mixed here instead, and the log says why."""
        port = bridge.port
        svc = self.service(port)
        self._timers.pop(bridge.call_id, None)
        parties = [c for c in (svc.held, svc.active) if c is not None and c.state in IN_CALL]
        if bridge.state == "ended":
            code, reason = bridge.final_status or (503, "Service Unavailable")
            out = svc.move("bridge_failed")
            out.append(("event", "error", {"where": "calls", "message": "line %d: conference bridge %s failed "
                                           "(%d %s); mixing locally" % (port, bridge.peer or "", code, reason)}))
            out += self._parties_left(svc)
            if len(parties) == 2:
                out += self._mix_locally(port, now)
            return out
        bridge.quiet = False
        uri = "<%s>" % str(bridge.invite.uri)
        out = svc.move("bridge_up", parties)
        for party in parties:
            out += self._run(party, party.refer(uri, now), now)
        return out

    def _bridge_refused(self, party, now):
        """A party would not go to the bridge (REFER refused or its INVITE failed): hang up
        on it rather than leave a call nobody hears, and say so."""
        out = [("event", "error", {"where": "calls", "message": "line %d: %s could not be moved to the "
                                   "conference bridge; call ended" % (party.port, party.peer)})]
        if party.state in IN_CALL:
            out += self._run(party, party.release(now, "not moved to the conference bridge"), now)
        return out

    def drop_last(self, port: int, now: float) -> list:
        """Flash in a conference: end the last call (the second one), talk on with the first.
        On a network bridge, the bridge is asked to drop the party that joined last."""
        svc = self.service(port)
        if svc.state == "bridged":
            return self._drop_from_bridge(svc, now)
        active = svc.active
        if svc.state != "conference" or active is None or svc.held is None:
            return []
        # the dropped call's media stop hands the line's audio to the other one (app glue)
        return svc.move("drop_last") + self._run(active, active.hangup(now), now)

    def _drop_from_bridge(self, svc, now):
        """Flash on a network bridge (#15): as in a local three-way call (SPA, HT80x: "flash
        drops the last party"), the party that joined last leaves. Its dialog with us ended
        when it moved to the bridge, so the bridge is asked to end its own dialog with it:
        REFER to the conference URI with Refer-To `<its AOR;method=BYE>` (RFC 4579 §5.9,
        RFC 3515 §2.4.2). The handset talks on with the bridge; a bridge that refuses
        leaves the three together and the log says so."""
        bridge, last = svc.active, (svc.joined[-1] if svc.joined else None)
        out = svc.move("drop_last")
        if bridge is None or last is None or bridge.state not in IN_CALL or last.dialog is None:
            return out + [("event", "error", {"where": "calls", "message": "line %d: no party to drop from the "
                                              "conference bridge" % svc.port})]
        return out + self._run(bridge, bridge.drop_party(last.dialog.remote_uri, now), now)

    def flash_info(self, port: int, now: float) -> list:
        """Flash relay by SIP INFO: the line's active call tells its far end."""
        call = self.call_on(port)
        if call is None or call.state not in IN_CALL:
            return [("event", "error", {"where": "calls", "message": "line %d: no call to relay a flash to" % port})]
        return self._run(call, call.flash_info(now), now)

    # ------------------------------------------------------------------ transfer (transferor)
    def transfer_blind(self, port: int, number: str, now: float) -> list:
        """Blind transfer (FLOWS §14, as A): REFER the far end of the call on `port` to
        NUMBER in the line's domain. The line hears `transfer_ok` (the call is then ended
        with BYE) or `transfer_failed` (the call stays)."""
        call = self.call_on(port)
        if call is None or call.state not in IN_CALL:
            return [("event", "error", {"where": "calls", "message": "line %d: no call to transfer" % port})]
        target = "<sip:%s@%s>" % (number, self.lines[port].get("domain") or call._line_domain())
        return self._run(call, call.refer(target, now), now)

    def transfer_attended(self, port: int, other_call, now: float, hung_up: bool = False) -> list:
        """Attended transfer (FLOWS §15, as A): REFER the far end of the call on `port` to
        the far end of `other_call` (a Call or its Call-ID), with Replaces naming that
        dialog; both our dialogs end when it worked. `hung_up`: the handset hung up to
        transfer (service `transferring`); if the transfer fails the consultation call ends
        and the phone rings back for the held one (`_reclaim`)."""
        call = self.call_on(port)
        other = other_call if isinstance(other_call, Call) else self.calls.get(other_call)
        if call is None or call.state not in IN_CALL or other is None or other is call \
                or other.state not in IN_CALL or other.dialog is None:
            return [("event", "error", {"where": "calls", "message": "line %d: no calls for an attended transfer" % port})]
        out = self.service(port).move("transfer_on_hangup", call) if hung_up else []
        return out + self._run(call, call.refer(replaces_uri(other), now, other=other), now)

    def _handed_over(self, call, verb, now):
        """The outcome of the REFER the handset hung up for."""
        if verb == "transfer_failed":
            return self._reclaim(call, now)
        return self.service(call.port).move("transfer_ok") + [("line", call.port, verb)]

    def _reclaim(self, call, now):
        """A transfer the handset hung up for has failed (FLOWS §15): end the consultation
        call it was sent in and ring the phone back for the held party; off-hook resumes it."""
        port = call.port
        svc = self.service(port)
        held = svc.held
        if held is not None and held is not call and held.state in IN_CALL:
            out = svc.move("transfer_failed", held)
            out += self._run(call, call.release(now, "transfer failed"), now) if call.state in IN_CALL else []
            return out + [("line", port, "recall", {"number": held.peer, "name": None})]
        return svc.move("transfer_failed") + [("line", port, "transfer_failed")]
