"""The services side of a call (FLOWS §10-§15): REFER (RFC 3515, RFC 5589, RFC 4488, RFC 4579
§5.9) as transferee, as transferor and towards a conference bridge; the 302 of call forwarding
(RFC 5806, RFC 7044), the answer to an INVITE with Replaces (RFC 3891), the release of a call
for a service; the header helpers of forwarding and transfer.

Rules:
1. Sans-IO, like tipring/firmware/calls/call.py, whose `Call` this `Transfer` is a part of: the
   methods use the call's dialog and state and return the same actions (`("send", ...)`,
   `("respond", ...)`, `("line", verb)`, `("transfer", uri, headers)`, `("event", ...)`).
2. The call's state changes only through `Call._move` (TRANSITIONS in call.py); a transfer
   ends a call through `release()`, a forward through `_end(..., "reject")`, both through it.
3. What goes out of a Refer-To or Replaces is checked here (`refer_target`): a URI that is no
   SIP URI or a control character in Replaces is a 400, never a header line.

Transferee: an in-dialog REFER is answered 202, a NOTIFY (Event: refer, message/sipfrag
"SIP/2.0 100 Trying") follows, and `("transfer", uri, headers)` asks the manager for the new
call; `refer_notify()` reports its outcome. Transferor: `refer()` sends REFER (Referred-By),
a NOTIFY sipfrag 2xx ends the call with BYE and tells the line `transfer_ok`, a failure tells
it `transfer_failed` and the call stays. Bridge: `drop_party()` asks the conference focus to
end its dialog with a participant (Refer-To `<AOR;method=BYE>`); only a failure is reported.

Services decided by the manager: `redirect()` answers a ringing call 302 with Contact and
Diversion (RFC 5806) and History-Info (RFC 7044); `take_over()` answers an INVITE with Replaces
at once, no ringing (RFC 3891 §3); `release()` ends this dialog for a service (BYE in a call,
CANCEL while it is set up).
"""

from tipring.firmware.sip.message import NameAddr

IN_CALL = ("connected", "held")     # a confirmed dialog, not ending


class Transfer:
    """Represents the services side of one call (a part of tipring.firmware.calls.call.Call;
    the chain of its parts: prack.py)."""

    def _on_refer(self, req, now):
        """Transferee: a REFER in our call. 202, NOTIFY 100 Trying, and a new call for the
        manager to place; errors as RFC 3515 §2.4.2 says."""
        from tipring.firmware.sip.dialog import make_response
        values = req.headers.get_all("Refer-To")
        if len(values) != 1:
            return [("respond", make_response(req, 400, "Bad Request (one Refer-To needed)"))]
        if self.state not in IN_CALL or self.dialog is None:
            return [("respond", make_response(req, 603, "Declined (not in a call)"))]
        if self.refer_in is not None:
            return [("respond", make_response(req, 491, "Request Pending"))]
        try:
            target, headers = refer_target(values[0], self._line_domain())
        except ValueError as e:
            return [("respond", make_response(req, 400, "Bad Request (%s)" % str(e)[:60]))]
        by = req.headers.get("Referred-By")
        if by:
            headers = [("Referred-By", by)] + headers
        sub = (req.headers.get("Refer-Sub") or "").strip().lower() != "false"   # RFC 4488
        self._refers += 1
        event = "refer" if self._refers == 1 else "refer;id=%d" % req.cseq.seq
        self.refer_in = {"new": None, "sub": sub, "event": event}
        extra = [] if sub else [("Refer-Sub", "false")]
        acts = [("respond", make_response(req, 202, "Accepted", contact=self._contact(), headers=extra))]
        acts += self.refer_notify(100, "Trying", final=False)
        acts.append(("transfer", target, headers))
        return acts

    def refer_notify(self, code: int, reason: str, final: bool) -> list:
        """Transferee: a NOTIFY with the new call's status line (message/sipfrag, RFC 3515
        §2.4.5); `final` ends the implicit subscription."""
        r = self.refer_in
        if r is None or not r["sub"] or self.state not in IN_CALL or self.dialog is None:
            return []
        state = "terminated;reason=noresource" if final else "active;expires=60"
        body = ("SIP/2.0 %d %s\r\n" % (code, reason)).encode()
        req = self.dialog.notify(r["event"], state, body, "message/sipfrag;version=2.0")
        return [self._in_dialog(req)]

    def _line_domain(self):
        return self.line.get("domain") or self._dialog_domain()

    def _dialog_domain(self):
        try:
            u = NameAddr.parse(self.dialog.local_uri).uri
            return u.host if not u.port else "%s:%d" % (u.host, u.port)
        except (ValueError, AttributeError):
            return self.ua.host

    def refer(self, refer_to: str, now: float, other=None) -> list:
        """Transferor: send REFER (Refer-To `refer_to`, Referred-By our line) in this call.
        `other`: the call a Refer-To with Replaces names (attended transfer), ended quietly
        with this one when the transfer succeeds."""
        if self.state not in IN_CALL or self.dialog is None or self.refer_out is not None:
            return []
        by = "<sip:%s@%s>" % (self.line["user"], self._line_domain())
        req = self.dialog.refer(refer_to, headers=[("Referred-By", by)])
        self.refer_out = {"cseq": req.cseq.seq, "other": other}
        if other is not None:
            other.transferred = True    # the target ends that dialog itself (RFC 5589 §7)
        return [self._in_dialog(req)]

    def drop_party(self, party: str, now: float) -> list:
        """Ask the conference bridge this call talks to to end its dialog with `party` (a
        From/To value, the party's AOR): REFER with Refer-To `<AOR;method=BYE>` (RFC 4579
        §5.9). The outcome is logged only; the call itself stays either way."""
        if self.state not in IN_CALL or self.dialog is None or self.refer_out is not None:
            return [("event", "error", {"where": "calls", "message": "line %d: the conference bridge call "
                                        "cannot take a REFER now" % self.port})]
        from tipring.firmware.sip.uri import SipUri
        try:
            u = NameAddr.parse(party).uri
        except ValueError:
            u = None
        if u is None or u.opaque is not None or not u.host:
            return [("event", "error", {"where": "calls", "message": "line %d: no SIP address for the party "
                                        "to drop from the conference" % self.port})]
        target = SipUri(u.scheme, u.user, u.host, u.port, dict(u.params, method="BYE"), None, None)
        by = "<sip:%s@%s>" % (self.line["user"], self._line_domain())
        req = self.dialog.refer("<%s>" % target, headers=[("Referred-By", by)])
        self.refer_out = {"cseq": req.cseq.seq, "other": None, "drop": str(target)}
        return [self._in_dialog(req)]

    def flash_info(self, now: float) -> list:
        """Flash relay (FLOWS §12 for PBX-hosted services): tell the far end about a hook
        flash with INFO `application/hook-flash` `signal=hf`, the form Cisco/Linksys ATAs
        send ("Hook Flash Tx Method: INFO"); the call itself does not change."""
        if self.state not in IN_CALL or self.dialog is None:
            return []
        return [self._in_dialog(self.dialog.info(b"signal=hf\r\n", "application/hook-flash"))]

    # ------------------------------------------------------------------ services the manager decides
    def release(self, now: float, reason: str) -> list:
        """End this call for a service (transferred, replaced): BYE in a call, CANCEL while
        it is being set up; the ended event gives `reason`."""
        if self.final_status is None:
            self.final_status = (487, "Request Terminated")
        acts = self.hangup(now)
        self.reason = reason
        return acts

    def take_over(self, req, tx, now: float) -> list:
        """An INVITE with Replaces that matched one of our calls (RFC 3891 §3): answered 200
        at once, no ringing; the manager ends the replaced call."""
        acts = self.offered(req, tx, now, ring=False)
        if self.state == "ended":
            return acts
        return acts + self.answer(now)

    def redirect(self, now: float, target: str, reason: str, diverted: str) -> list:
        """Answer the ringing call 302 to `target` (a SIP URI): call forwarding (FLOWS §10-11).
        `reason` is the RFC 5806 diversion reason (unconditional, user-busy, no-answer),
        `diverted` the URI of the line the call was for."""
        if self.state != "incoming":
            return []
        acts = [("respond", self._response(302, "Moved Temporarily", extra=redirect_headers(target, reason, diverted)))]
        return acts + self._end("forwarded to %s (%s)" % (target, reason), "reject")

    def _refer_failed(self):
        other = self.refer_out.get("other")
        drop = self.refer_out.get("drop")
        self.refer_out = None
        if drop:
            return [("event", "error", {"where": "calls", "message": "line %d: the conference bridge did not "
                                        "drop %s" % (self.port, drop)})]
        if other is not None and other.state != "ended":
            other.transferred = False   # still our call: the line hears it again
        return [("line", "transfer_failed")]

    def _refer_answer(self, resp, now):
        r = self.refer_out
        if r is None or resp.cseq.seq != r["cseq"] or resp.status < 200:
            return []
        if resp.status < 300:
            if r.get("drop"):
                self.refer_out = None   # accepted; what the bridge does next is its own affair
            return []               # 202: the outcome comes by NOTIFY
        return self._refer_failed()

    def _refer_progress(self, notify, now):
        """Transferor: a NOTIFY sipfrag from the transferee (RFC 3515 §2.4.5)."""
        code = sipfrag_status(notify.body)
        state = (notify.headers.get("Subscription-State") or "").strip().lower()
        if code is None or code < 200:
            if state.startswith("terminated"):      # ended without a final answer
                return self._refer_failed()
            return []
        if code >= 300:
            return self._refer_failed()
        # FLOWS §15: when it worked, A's dialogs all end with BYE; the replaced one too,
        # in case the far end does not end it itself on Replaces
        self.end_with = self.refer_out.get("other")
        self.refer_out = None
        acts = [("line", "transfer_ok")] + self.release(now, "transferred")
        self.transferred = True
        return acts


DIVERSION_CAUSE = {"unconditional": 302, "user-busy": 486, "no-answer": 408}   # RFC 4458 §3


def redirect_headers(target: str, reason: str, diverted: str) -> list:
    """Contact, Diversion (RFC 5806) and History-Info (RFC 7044) for a 302 that forwards a
    call for `diverted` to `target` (both SIP URIs) for `reason`."""
    cause = DIVERSION_CAUSE.get(reason, 302)
    hist_target = "%s;cause=%d" % (target, cause)
    return [("Contact", "<%s>" % target),
            ("Diversion", "<%s>;reason=%s;counter=1" % (diverted, reason)),
            ("History-Info", "<%s>;index=1, <%s>;index=1.1;mp=1" % (diverted, hist_target))]


def refer_target(value: str, domain: str):
    """(Request-URI text, extra headers) for the INVITE a Refer-To asks for: the URI without
    its headers, and a Replaces header from `?Replaces=` (unescaped, RFC 3891 §5). A tel: URI
    becomes sip:NUMBER@`domain`. ValueError when it is no SIP URI."""
    from tipring.firmware.sip.uri import SipUri
    na = NameAddr.parse(value.strip())
    uri = na.uri
    if uri is None or uri.opaque is not None or uri.scheme not in ("sip", "sips", "tel"):
        raise ValueError("Refer-To is not a SIP URI")
    headers = []
    for name, val in (uri.headers or {}).items():
        if name.lower() == "replaces":
            # the value was %-unescaped: a CR, LF or NUL in it would become header lines of
            # the INVITE we send (header injection); RFC 3891 §6.1 has no such characters
            if any(ord(c) < 32 or ord(c) == 127 for c in val):
                raise ValueError("control character in Replaces")
            headers.append(("Replaces", val))
    if uri.scheme == "tel":
        if not uri.user:
            raise ValueError("empty tel: number")
        return "sip:%s@%s" % (uri.user, domain), headers
    if not uri.host:
        raise ValueError("Refer-To has no host")
    clean = SipUri(uri.scheme, uri.user, uri.host, uri.port, dict(uri.params), None, uri.password)
    clean.params.pop("method", None)
    return str(clean), headers


def sipfrag_status(body: bytes):
    """The status code of a message/sipfrag body ('SIP/2.0 200 OK'), or None."""
    try:
        first = body.decode("utf-8", "replace").lstrip().split("\n", 1)[0].strip()
    except AttributeError:
        return None
    parts = first.split(" ", 2)
    if len(parts) >= 2 and parts[0].upper() == "SIP/2.0" and parts[1].isdigit() and len(parts[1]) == 3:
        return int(parts[1])
    return None


def replaces_uri(call) -> str:
    """The Refer-To for an attended transfer to the far end of `call` (RFC 5589 §7): its
    remote target with `?Replaces=callid;to-tag=..;from-tag=..` seen from that far end."""
    from tipring.firmware.sip.uri import parse_any
    uri = parse_any(call.dialog.remote_target)
    uri.headers = {"Replaces": "%s;to-tag=%s;from-tag=%s" % (call.call_id, call.dialog.remote_tag,
                                                               call.dialog.local_tag)}
    return "<%s>" % uri
