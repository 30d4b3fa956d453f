"""Three-way calling (FLOWS.md §17): the signalling on the virtual network of test_services.py
(A 1001 talks to B, flashes, calls C, joins the three, drops the last, hangs up). The local
mix itself is tested on the media router (tests/media/test_routing.py)."""

import pytest

from tests.calls.test_services import A, B, C, DOMAIN, three
from tests.calls.test_waiting import _reinvites

pytestmark = pytest.mark.timeout(30)


def _conference(net, a, b, c):
    net.now = 0.0
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 0.5), B)
    first = a.call_on(1)
    net.run(a.flash(1, 1.0), A)                  # B held
    net.run(a.dial_second(1, "1003", 2.0), A)
    net.run(c.answer(1, 3.0), C)
    second = a.call_on(1)
    assert second.state == "connected" and first.state == "held"
    m = len(net.media)
    net.now = 4.0
    net.run(a.conference(1, 4.0), A)
    assert _reinvites(net, A, B) == ["sendonly", "sendrecv"]
    assert first.state == "connected" and b.call_on(1).state == "connected"
    assert (A, "join", first.call_id) in net.media[m:]
    assert a.service(1).state == "conference" and a.call_on(1) is second and a.held[1] is first
    return first, second


def test_conference_resumes_the_held_call_and_joins_both():
    net, a, b, c = three()
    _conference(net, a, b, c)
    assert c.call_on(1).state == "connected"


def test_drop_last_ends_the_second_call_and_talks_on_with_the_first():
    net, a, b, c = three()
    first, second = _conference(net, a, b, c)
    n = len(net.line_cmds)
    net.run(a.drop_last(1, 5.0), A)
    assert net.sent("BYE ", frm=A, to=C) and not net.sent("BYE ", frm=A, to=B)
    assert a.call_on(1) is first and first.state == "connected" and a.service(1).state == "single" and not a.held
    assert c.calls == {} and b.call_on(1).state == "connected"
    assert [x for x in net.line_cmds[n:] if x[0] == A] == []
    assert len(a.calls) == 1


def test_hanging_up_a_conference_ends_both_calls():
    net, a, b, c = three()
    _conference(net, a, b, c)
    n = len(net.line_cmds)
    net.run(a.hangup(1, 5.0), A)
    assert net.sent("BYE ", frm=A, to=B) and net.sent("BYE ", frm=A, to=C)
    assert a.calls == {} and b.calls == {} and c.calls == {}
    assert [x for x in net.line_cmds[n:] if x[0] == A] == []      # no recall


def test_a_party_leaving_the_conference_leaves_a_two_party_call():
    net, a, b, c = three()
    first, second = _conference(net, a, b, c)
    net.run(c.hangup(1, 5.0), C)                 # the last party leaves
    assert (A, 1, "remote_hangup") in net.line_cmds
    assert a.call_on(1) is first and first.state == "connected" and a.service(1).state == "single" and not a.held
    net2, a2, b2, c2 = three()
    first2, second2 = _conference(net2, a2, b2, c2)
    net2.run(b2.hangup(1, 5.0), B)               # the first party leaves
    assert (A, 1, "remote_hangup") in net2.line_cmds
    assert a2.call_on(1) is second2 and a2.service(1).state == "single" and not a2.held


# ---------------------------------------------------------------------- options (FLOWS §17)

BRIDGE = ("127.0.0.1", 5110)


class Bridge:
    """A network conference bridge for the virtual network: answers every INVITE for `conf`
    200 with an SDP answer, answers BYE; enough to see who is sent to it."""

    def __init__(self, net, refuse=None):
        from tipring.firmware.sip.useragent import UserAgent
        self.ua = UserAgent(*BRIDGE)
        self.invites = []
        self.refuse = refuse
        self.ua.handlers.update({"INVITE": self.on_invite, "BYE": self.on_bye, "ack": lambda *a: [],
                                 "cancel": lambda *a: []})
        net.nodes[BRIDGE] = (self.ua, None)
        net.users["conf"] = BRIDGE

    def on_invite(self, req, tx, src, now):
        from tipring.firmware.sip.dialog import make_response
        self.invites.append(req)
        if self.refuse:
            return self.ua.send_response(make_response(req, self.refuse, to_tag="br%d" % len(self.invites)), now)
        offer = req.body.decode()
        pt = "0" if " 0" in offer.split("m=audio", 1)[1].split("\n", 1)[0] else "8"
        sdp = ("v=0\r\no=bridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio %d RTP/AVP %s\r\na=sendrecv\r\n" % (30000 + 2 * len(self.invites), pt)).encode()
        return self.ua.send_response(make_response(req, 200, to_tag="br%d" % len(self.invites),
                                                   contact="<sip:conf@%s:%d>" % BRIDGE, body=sdp,
                                                   content_type="application/sdp"), now)

    def on_bye(self, req, tx, src, now):
        from tipring.firmware.sip.dialog import make_response
        return self.ua.send_response(make_response(req, 200), now)


def _second_call(net, a, b, c):
    net.now = 0.0
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 0.5), B)
    first = a.call_on(1)
    net.run(a.flash(1, 1.0), A)
    net.run(a.dial_second(1, "1003", 2.0), A)
    net.run(c.answer(1, 3.0), C)
    return first, a.call_on(1)


def test_with_a_conference_uri_the_bridge_is_called_then_both_parties_are_referred_to_it():
    net, a, b, c = three()
    bridge = Bridge(net)
    a.lines[1]["conference_uri"] = "conf"
    first, second = _second_call(net, a, b, c)
    m, n = len(net.media), len(net.line_cmds)
    net.now = 4.0
    net.run(a.conference(1, 4.0), A)
    # A's own call to the bridge, then B and C are REFERred to it and call it themselves
    assert [r.from_.uri.user for r in bridge.invites][0] == "1001"
    assert sorted(r.from_.uri.user for r in bridge.invites) == ["1001", "1002", "1003"]
    refers = net.sent("REFER ", frm=A)
    assert sorted(r.to.uri.user for r in refers) == ["1002", "1003"]
    assert {r.headers.get("Refer-To") for r in refers} == {"<sip:conf@%s>" % DOMAIN}
    # both old calls ended with BYE once the NOTIFY said 200; the line talks on the bridge
    assert net.sent("BYE ", frm=A, to=B) and net.sent("BYE ", frm=A, to=C)
    on_line = a.call_on(1)
    assert on_line.peer == "conf" and on_line.state == "connected" and not a.held and a.service(1).state == "bridged"
    assert first.state == "ended" and second.state == "ended"
    assert (A, "start", on_line.call_id) in net.media[m:]
    assert [x for x in net.line_cmds[n:] if x[0] == A] == []       # the line hears no transfer tones
    assert b.call_on(1).peer == "conf" and c.call_on(1).peer == "conf"
    net.run(a.hangup(1, 6.0), A)                                  # A leaves; B and C stay on the bridge
    assert b.call_on(1).state == "connected" and c.call_on(1).state == "connected"


def test_a_bridge_that_fails_falls_back_to_mixing_locally():
    net, a, b, c = three()
    Bridge(net, refuse=503)
    a.lines[1]["conference_uri"] = "sip:conf@%s" % DOMAIN
    first, second = _second_call(net, a, b, c)
    m = len(net.media)
    net.now = 4.0
    net.run(a.conference(1, 4.0), A)
    assert not net.sent("REFER ", frm=A)
    assert a.service(1).state == "conference" and a.held[1] is first and a.call_on(1) is second
    assert (A, "join", first.call_id) in net.media[m:]
    errors = [e[2]["message"] for e in net.events if e[0] == A and e[1] == "error"]
    assert any("conference bridge" in x and "503" in x and "mixing locally" in x for x in errors), errors


def test_hanging_up_a_conference_can_transfer_the_two_parties_to_each_other():
    net, a, b, c = three()
    a.lines[1]["conference_hangup"] = "transfer"
    first, second = _conference(net, a, b, c)
    net.run(a.hangup(1, 5.0), A)
    refer = net.sent("REFER ", frm=A)
    assert len(refer) == 1 and "Replaces=" in refer[0].headers.get("Refer-To")
    # B and C end up talking to each other; A's two dialogs are gone
    assert a.calls == {}
    assert b.call_on(1).state == "connected" and c.call_on(1).state == "connected"
    assert {b.call_on(1).peer, c.call_on(1).peer} <= {"1002", "1003"}


def test_a_hang_up_transfer_that_fails_ends_the_consultation_call_and_rings_back_for_b():
    # FLOWS §15: "if the transfer fails, ring the handset back to reclaim the held call"
    net, a, b, c = three()
    first, second = _second_call(net, a, b, c)
    net.drop = lambda data: data.startswith(b"REFER ")          # C never hears the REFER
    n = len(net.line_cmds)
    net.run(a.transfer_attended(1, first, 4.0, hung_up=True), A)
    net.tick(40.0)                                               # Timer F: the REFER failed
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "recall", {"number": "1002", "name": None})]
    assert second.state == "ended" and second.reason == "transfer failed"
    assert net.sent("BYE ", frm=A, to=C) and c.calls == {}
    assert a.call_on(1) is first and not a.held and a.service(1).state == "recall"
    net.drop = None
    net.run(a.answer_recall(1, 41.0), A)                         # off-hook: B again
    assert first.state == "connected" and b.call_on(1).state == "connected"
