"""Who may ring the phone: the screening of a new INVITE before any call is kept (ghost-call
protection, RFC 3261 §8.2 and §12.1.1 checks, RFC 3262 §4 for `prack = false`).

Rules:
1. Sans-IO, like tipring/firmware/calls/manager.py, whose `CallManager` owns one `InviteScreen`
   and reads the live state through it (its `lines` change on a config reload, its `calls`
   with every call): `check()` returns the line an INVITE is for, or the UA's outputs that
   refuse it (`("send", bytes, addr)`, `("event", "error", ...)`).
2. A refused INVITE keeps nothing: no call, no dialog, no timer; every refusal but the
   stranger's 403 (stateless, below) goes through the INVITE server transaction.
3. Ghost-call protection is on by default, as commercial ATAs learned the hard way:
   `direct_calls = true` on a line lifts the source check for that line only.

Theory of operation. In this order, each step refusing with one answer: the source (an
address that is no line's proxy, RFC 3263 targets included: one stateless 403, the same
whoever the INVITE names, so a scanner learns no user names), the user (404), this line's
proxy (403), the request itself (`unusable`: 400 for a Contact or Record-Route that is no SIP
URI or more than one Replaces, 415 for a body that is no SDP, 482/486 for a Call-ID we already
have), and `Require: 100rel` on a line with `prack = false` (420 with Unsupported). Over
TCP/TLS a connection the proxy opened leaves from a port of its own choosing, so only the
address is compared there.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.sip.dialog import check_dialog_request
from tipring.firmware.sip.useragent import response_to
from tipring.firmware.calls.prack import requires_100rel

GHOST_REASON = "Forbidden (not from our proxy)"


def invite_user(req) -> str:
    """The user part of an INVITE's Request-URI ("" when it has none)."""
    return req.uri.split(":", 1)[-1].split("@")[0].split(";")[0] if "@" in req.uri else ""


def unusable(req, calls):
    """Why this INVITE cannot start a call, as (code, reason, extra headers), or None:
    a Contact or Record-Route that is no SIP URI (400, RFC 3261 §8.1.1.8, §12.1.1), a
    body that is not SDP (415 with Accept, §8.2.3), more than one Replaces (400, RFC 3891
    §3), or a Call-ID one of our `calls` (Call-ID -> Call) already has (482 for the same
    request arriving again by another path, §8.2.2.2; else 486: one call per Call-ID here)."""
    bad = check_dialog_request(req)
    if bad is not None:
        return bad + ((),)
    try:
        ctype = req.content_type
    except ValueError:
        ctype = None
    if req.body and ctype not in (None, "application/sdp"):
        return 415, "Unsupported Media Type", (("Accept", "application/sdp"),)
    if len(req.headers.values("Replaces")) > 1:
        return 400, "Bad Request (more than one Replaces)", ()
    known = calls.get(req.call_id)
    if known is not None:
        first = known.invite
        if first is not None and first.from_.tag == req.from_.tag and first.cseq.seq == req.cseq.seq:
            return 482, "Loop Detected", ()
        return 486, "Busy Here (Call-ID in use)", ()
    return None


class InviteScreen:
    """Represents the check a new INVITE passes before it may ring a line (a part of
    tipring.firmware.calls.manager.CallManager, which it reads: `ua`, `lines`, `calls`,
    `proxy_for`, `fallbacks_for`)."""

    def __init__(self, manager):
        self.manager = manager

    def proxies(self, port) -> list:
        """Every address the line's proxy has (RFC 3263 targets): INVITEs from these are ours."""
        m = self.manager
        hop = m.proxy_for(port)
        return ([tuple(hop[:2])] if hop else []) + [tuple(h[:2]) for h in m.fallbacks_for(port)]

    def from_proxy(self, src, port) -> bool:
        """Whether `src` is the proxy of line `port`. Over TCP/TLS a connection the proxy
        opened to us leaves from a port of its own choosing, so only its address is compared
        there."""
        proxies = self.proxies(port)
        if getattr(self.manager.ua, "reliable", False):
            return any(src[0] == p[0] for p in proxies)
        return tuple(src[:2]) in proxies

    def from_a_proxy(self, src) -> bool:
        """Whether `src` is the proxy/registrar address of one of our lines."""
        return any(self.from_proxy(src, port) for port in self.manager.lines)

    def check(self, req, tx, src, now):
        """(the line an INVITE is for, None) or (None, the outputs refusing it)."""
        ua = self.manager.ua
        user = invite_user(req)
        line = next((l for l in self.manager.lines.values() if l["user"] == user), None)
        if not self.from_a_proxy(src) and (line is None or not line.get("direct_calls")):
            return None, self.refuse_stranger(req, tx, src, user, now)
        if line is None:
            return None, ua.send_response(response_to(req, 404, "Not Found", to_tag="nf"), now) + \
                [("event", "error", {"where": "calls", "message": "INVITE for unknown user %r from %s:%d" % (user, src[0], src[1])})]
        if not line.get("direct_calls") and not self.from_proxy(src, line["port"]):
            return None, ua.send_response(response_to(req, 403, GHOST_REASON, to_tag="gc"), now) + \
                [("event", "error", {"where": "calls", "message": "ghost call refused: INVITE from %s:%d, not from the proxy" % tuple(src[:2])})]
        bad = unusable(req, self.manager.calls)
        if bad is not None:
            code, reason, extra = bad
            return None, ua.send_response(response_to(req, code, reason, to_tag=random_hex(4), extra=extra), now) + \
                [("event", "error", {"where": "calls", "message": "INVITE from %s:%d refused: %d %s"
                                     % (src[0], src[1], code, reason)})]
        if requires_100rel(req) and not line.get("prack", True):
            # RFC 3262 §4 / RFC 3261 §8.2.2.3: reliable provisionals are off on this line
            return None, ua.send_response(response_to(req, 420, "Bad Extension", to_tag=random_hex(4),
                                                      extra=[("Unsupported", "100rel")]), now)
        return line, None

    def refuse_stranger(self, req, tx, src, user, now):
        """An INVITE from an address that is none of our proxies (a scanner, a ghost call).

        Whether it names one of our users or not, it gets the same answer, so `svwar -m
        INVITE` learns nothing (commercial ATAs ignore such requests or answer them all
        alike). The answer is one stateless 403 (RFC 3261 §8.2.7: a stateless UAS sends no
        provisional response and never retransmits): each INVITE datagram draws exactly one
        datagram of about its own size, where an INVITE server transaction would send a
        100 and repeat its 403 until Timer H. A peer that wants the answer again resends
        its INVITE (Timer A) and gets it again. A 403 rather than silence, because a
        misconfigured PBX then says why its calls fail; the `error` event says it here."""
        out = self.manager.ua.respond_stateless(req, tx, response_to(req, 403, GHOST_REASON, to_tag="gc"), now)
        return out + [("event", "error", {"where": "calls", "message": "ghost call refused: INVITE for %r from "
                                          "%s:%d, not from the proxy" % (user[:40], src[0], src[1])})]
