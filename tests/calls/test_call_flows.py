"""Call flows (FLOWS.md §4, §6-§9) between two tipring call layers wired back to back on a
virtual network and clock: every message really serialised, parsed, and run through the
transaction layer; no sockets, no sleeping."""

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.useragent import UserAgent
from tests.calls.vnet import VirtualNet


def line(port, user, proxy):
    return {"port": port, "user": user, "password": "secret" + user, "auth_user": None, "display_name": None,
            "domain": "%s:%d" % proxy, "no_answer_s": 20, "direct_calls": False}


class Net(VirtualNet):
    """Two UAs, each the other's proxy."""

    def add(self, host, port, user):
        ua = UserAgent(host, port)
        mgr = CallManager(ua, [line(1, user, (host, port))], lambda p: self.peer_of[(host, port)],
                          self._alloc(host))
        self.nodes[(host, port)] = (ua, mgr)
        return ua, mgr

    def _alloc(self, host):
        n = [20000]

        def alloc():
            n[0] += 2
            return (host, n[0])
        return alloc


A = ("127.0.0.1", 5070)
B = ("127.0.0.1", 5080)


def pair():
    net = Net()
    # each side's "proxy" is the other UA: a direct two-UA call, as in FLOWS §1 without P
    net.peer_of = {A: B, B: A}
    ua_a, a = net.add(*A, user="1001")
    ua_b, b = net.add(*B, user="1002")
    return net, a, b


def calls_of(net, at, state):
    return [e[2] for e in net.events if e[0] == at and e[1] == "call" and e[2]["state"] == state]


def test_basic_call_answer_talk_and_release_from_the_caller():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    assert (B, 1, "incoming") == net.line_cmds[0][:3]
    assert (A, 1, "remote_ringing") in net.line_cmds
    net.now = 2.0
    net.run(b.answer(1, 2.0), B)
    assert (A, 1, "remote_answered") in net.line_cmds
    assert [m[1] for m in net.media if m[0] == A] == ["start"] and [m[1] for m in net.media if m[0] == B] == ["start"]
    assert calls_of(net, A, "connected") and calls_of(net, B, "connected")
    methods = [w[2] for w in net.wire]
    assert methods[:1] == ["INVITE sip:1002@127.0.0.1:5070 SIP/2.0"]  # R-URI in the line's domain
    assert "SIP/2.0 180 Ringing" in methods and "SIP/2.0 200 OK" in methods
    assert any(m.startswith("ACK ") for m in methods)
    net.now = 10.0
    net.run(a.hangup(1, 10.0), A)
    assert (B, 1, "remote_hangup") in net.line_cmds
    ended_a, ended_b = calls_of(net, A, "ended"), calls_of(net, B, "ended")
    assert ended_a[0]["reason"] == "local hangup" and ended_b[0]["reason"] == "remote hangup"
    assert a.calls == {} and b.calls == {}
    # RFC 3261 §12.2.1.1, not the seed: BYE takes a new CSeq above the INVITE's
    invite = next(parse_message(d) for d in _sent(net, "INVITE"))
    bye = next(parse_message(d) for d in _sent(net, "BYE"))
    assert bye.cseq.seq > invite.cseq.seq


def _sent(net, method):
    return [d for d in net.sent_bytes() if d.startswith(method.encode() + b" ")]


def test_busy_line_answers_486_and_caller_hears_busy():
    net, a, b = pair()
    b.line_busy = lambda port: True
    net.run(a.dial(1, "1002", 0.0), A)
    assert (A, 1, "remote_busy") in net.line_cmds
    assert calls_of(net, A, "ended")[0]["reason"] == "486 Busy Here"


def test_caller_gives_up_cancel_487_and_the_phone_stops_ringing():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.now = 3.0
    net.run(a.hangup(1, 3.0), A)
    assert (B, 1, "remote_hangup") in net.line_cmds
    methods = [w[2] for w in net.wire]
    assert any(m.startswith("CANCEL ") for m in methods) and "SIP/2.0 487 Request Terminated" in methods
    assert calls_of(net, A, "ended")[0]["reason"] == "cancelled"
    assert a.calls == {} and b.calls == {}


def test_nobody_answers_the_callees_no_answer_timer_gives_480_and_congestion():
    net, a, b = pair()
    b.lines[1]["no_answer_s"] = 10
    net.run(a.dial(1, "1002", 0.0), A)
    net.tick(11.0)
    assert "SIP/2.0 480 Temporarily Unavailable" in [w[2] for w in net.wire]
    assert (A, 1, "remote_failed", "congestion") in net.line_cmds
    assert (B, 1, "remote_hangup") in net.line_cmds   # the phone stops ringing
    assert not a.calls and not b.calls


def test_the_callers_no_answer_timer_cancels():
    net, a, b = pair()
    a.lines[1]["no_answer_s"] = 5
    net.run(a.dial(1, "1002", 0.0), A)
    net.tick(6.0)
    wire = [w[2] for w in net.wire]
    assert any(m.startswith("CANCEL ") for m in wire) and "SIP/2.0 487 Request Terminated" in wire
    assert (A, 1, "remote_failed", "congestion") in net.line_cmds
    assert not a.calls and not b.calls


def test_far_end_hangs_up_and_the_caller_is_told():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    net.run(b.hangup(1, 5.0), B)
    assert (A, 1, "remote_hangup") in net.line_cmds
    assert not a.calls and not b.calls


def test_invite_from_elsewhere_than_the_proxy_is_a_ghost_call_and_does_not_ring():
    net, a, b = pair()
    net.peer_of[B] = ("127.0.0.1", 5999)   # B's proxy is somewhere else: A is a stranger
    net.run(a.dial(1, "1002", 0.0), A)
    assert not [c for c in net.line_cmds if c[0] == B]
    assert "SIP/2.0 403 Forbidden (not from our proxy)" in [w[2] for w in net.wire]
    assert (A, 1, "remote_failed", "reorder") in net.line_cmds


def test_lost_200_is_retransmitted_and_acked_once_it_arrives():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    dropped = []

    def drop_first_200(data):
        if data.startswith(b"SIP/2.0 200") and not dropped:
            dropped.append(data)
            return True
        return False
    net.drop = drop_first_200
    net.run(b.answer(1, 1.0), B)
    assert (A, 1, "remote_answered") not in net.line_cmds
    net.tick(2.0)
    assert (A, 1, "remote_answered") in net.line_cmds
    assert calls_of(net, A, "connected")


def test_200_crossing_the_cancel_is_acked_and_ended_with_bye():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    held = []
    net.drop = lambda data: data.startswith(b"SIP/2.0 200") and not held and (held.append(data) or True)
    net.run(b.answer(1, 1.0), B)          # B's 200 is on the wire...
    net.drop = None
    net.run(a.hangup(1, 1.01), A)         # ...while A gives up and CANCELs
    ua_a, _ = net.nodes[A]
    net.run(ua_a.receive(held[0], B, 1.02), A)   # the 200 arrives after all
    wire = [w[2] for w in net.wire]
    assert any(m.startswith("ACK ") for m in wire) and any(m.startswith("BYE ") for m in wire)
    assert "SIP/2.0 487 Request Terminated" not in wire
    assert (B, 1, "remote_hangup") in net.line_cmds
    assert not a.calls and not b.calls


def test_hold_reinvite_sendonly_is_answered_recvonly_and_the_call_stays_up():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    call = a.call_on(1)
    offer = call.sdp.offer("sendonly").to_bytes()
    req = call.dialog.reinvite(offer)
    req.headers.remove("Via")
    net.run(a._run(call, [("send", req, call._dest_for(req))], 2.0), A)
    answer = [d for d in net.sent_bytes() if d.startswith(b"SIP/2.0 200") and b"a=recvonly" in d]
    assert answer, "B must answer a sendonly offer with recvonly (RFC 3264 §6.1)"
    # the call stays up: B (the held party) is `held`, A (which sent a raw re-INVITE) connected
    assert b.call_on(1).state == "held" and a.call_on(1).state == "connected"
    assert any(e[1] == "call" and e[2]["state"] == "held" for e in net.events if e[0] == B)


def test_reliable_183_gets_one_prack_in_its_early_dialog_through_the_route_set():
    """RFC 3262: 183 with Require: 100rel and RSeq -> PRACK with RAck, routed by the 183's
    Record-Route; the same RSeq again is a retransmission (no PRACK, no processing)."""
    from tipring.firmware.media.sdp import SdpSession, parse as parse_sdp
    from tipring.firmware.sip.dialog import make_response
    net, a, b = pair()
    net.drop = lambda data: True           # B stays silent: its part is played by hand here
    net.run(a.dial(1, "1002", 0.0), A)
    invite = parse_message(_sent(net, "INVITE")[0])
    answer = SdpSession("127.0.0.1", 30000).answer(parse_sdp(invite.body))[0].to_bytes()
    ua_a, _ = net.nodes[A]

    def p183(rseq):
        return bytes(make_response(invite, 183, "Session Progress", to_tag="far",
                                   contact="<sip:1002@127.0.0.1:5999>",
                                   headers=[("Record-Route", "<sip:127.0.0.1:5090;lr>"),
                                            ("Require", "100rel"), ("RSeq", str(rseq))],
                                   body=answer, content_type="application/sdp"))
    for data, t in ((p183(7), 0.1), (p183(7), 0.6)):
        net.run(ua_a.receive(data, B, t), A)
    assert [c for c in net.line_cmds if c[2] == "remote_early_media"] == [(A, 1, "remote_early_media")]
    net.run(ua_a.receive(p183(8), B, 0.7), A)     # the next one in order is PRACKed too
    pracks = [parse_message(d) for d in _sent(net, "PRACK")]
    assert [p.headers.get("RAck") for p in pracks] == ["7 1 INVITE", "8 1 INVITE"]
    first = pracks[0]
    assert first.uri == "sip:1002@127.0.0.1:5999" and first.headers.get("Route") == "<sip:127.0.0.1:5090;lr>"
    assert first.to.tag == "far" and first.cseq.seq == 2 and pracks[1].cseq.seq == 3
    assert [w[1] for w in net.wire if w[2].startswith("PRACK ")] == [("127.0.0.1", 5090)] * 2
    assert a.call_on(1).state == "early"


def test_reinvite_glare_491_both_ways_then_each_side_retries_after_its_14_1_delay():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    held = []
    net.drop = lambda data: held.append(data) or True     # the network holds everything...
    net.now = 5.0
    net.run(a.reinvite(1, 5.0), A)          # ...while both re-INVITEs are on the wire at once
    net.run(b.reinvite(1, 5.0), B)
    (ua_a, _), (ua_b, _) = net.nodes[A], net.nodes[B]
    inv_a, inv_b = held
    net.run(ua_a.receive(inv_b, B, 5.01), A)   # B's reaches A, whose own is pending: 491
    net.run(ua_b.receive(inv_a, A, 5.01), B)   # and A's reaches B: 491 too
    net.drop = None
    for data in held[2:]:                    # the 491s (and 100s) arrive; ACKs go back
        if data.startswith(b"SIP/2.0 491"):
            to, ua = (A, ua_a) if parse_message(data).from_.tag == a.call_on(1).local_tag else (B, ua_b)
            net.run(ua.receive(data, B if to == A else A, 5.02), to)
    wire = [w for w in net.wire]
    assert [w[0] for w in wire if w[2] == "SIP/2.0 491 Request Pending"] == [A, B]
    ca, cb = a.call_on(1), b.call_on(1)
    # A chose the Call-ID (it called): 2.1-4 s; B did not: 0-2 s (RFC 3261 §14.1)
    assert 7.1 <= ca.deadline() <= 9.0 and 5.0 <= cb.deadline() <= 7.0
    assert ua_b.deadline() <= cb.deadline()  # the manager's deadline reaches the UA's timer
    n = len(net.wire)
    net.tick(10.0)
    later = [w[2] for w in net.wire[n:]]
    assert later.count("SIP/2.0 200 OK") == 2 and len([m for m in later if m.startswith("ACK ")]) == 2
    assert "SIP/2.0 491 Request Pending" not in later
    assert ca.state == "connected" and cb.state == "connected"
    assert ca.deadline() is None and cb.deadline() is None


def test_legacy_hold_c0_then_resume_moves_held_and_back_to_connected():
    """RFC 3264 §8.4: c=0.0.0.0 (RFC 2543 hold) is answered recvonly; a sendrecv offer resumes."""
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    cb = b.call_on(1)
    for t, body in ((2.0, cb.sdp.offer().to_bytes().replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0")),
                    (3.0, cb.sdp.offer().to_bytes())):
        req = cb.dialog.reinvite(body)
        req.headers.remove("Via")
        net.run(b._run(cb, [("send", req, cb._dest_for(req))], t), B)
    answers = [d for w, d in zip(net.wire, net.sent_bytes()) if w[0] == A and d.startswith(b"SIP/2.0 200")
               and parse_message(d).cseq.method == "INVITE"]
    assert b"a=recvonly" in answers[0] and b"c=IN IP4 127.0.0.1" in answers[0]
    assert b"a=sendrecv" in answers[1]
    states = [e[2]["state"] for e in net.events if e[0] == A and e[1] == "call"]
    assert states[-2:] == ["held", "connected"] and a.call_on(1).state == "connected"


def test_reinvite_without_answer_leaves_the_session_and_frees_the_next_reinvite():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    net.drop = lambda data: data.startswith(b"INVITE ")     # B never sees our re-INVITE
    net.now = 2.0
    net.run(a.reinvite(1, 2.0), A)
    assert a.reinvite(1, 2.5) == []                          # one at a time (§14.1)
    net.tick(40.0)                                           # Timer B: 64*T1
    net.drop = None
    ca = a.call_on(1)
    assert ca.state == "connected" and ca._reinvite is None
    n = len(net.wire)
    net.run(a.reinvite(1, 40.0), A)
    assert "SIP/2.0 200 OK" in [w[2] for w in net.wire[n:]]
