"""Three-way calling (FLOWS.md §17): the signalling on the virtual network of test_services.py
(A 1001 talks to B, flashes, calls C, joins the three, drops the last, hangs up) and the local
mix through `Firmware.media_frame` with two streams on one line."""

import array

import pytest

from firmware.app import Firmware
from tests.calls.test_services import A, B, C, three
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
    assert a.conf.get(1) and a.call_on(1) is second and a.held[1] is first
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
    assert a.call_on(1) is first and first.state == "connected" and not a.conf and not a.held
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
    assert a.call_on(1) is first and first.state == "connected" and not a.conf and not a.held
    net2, a2, b2, c2 = three()
    first2, second2 = _conference(net2, a2, b2, c2)
    net2.run(b2.hangup(1, 5.0), B)               # the first party leaves
    assert (A, 1, "remote_hangup") in net2.line_cmds
    assert a2.call_on(1) is second2 and not a2.conf and not a2.held


# ---------------------------------------------------------------------- the mix


class _Stream:
    """Stands in for a MediaStream: a fixed frame from the far end, records what it is sent."""

    def __init__(self, heard):
        self.heard = heard
        self.sent = []

    def on_capture(self, frame, now):
        self.sent.append(frame)
        return []

    def playout(self, now):
        return self.heard

    def deadline(self):
        return float("inf")


def _frame(v):
    return array.array("h", [v] * 160).tobytes()


def _val(frame):
    return set(array.array("h", frame))


def test_media_frame_mixes_the_handset_and_both_remotes():
    fw = Firmware.__new__(Firmware)
    fw.rtp = {}
    sa, sb = _Stream(_frame(100)), _Stream(_frame(20))
    fw.streams = {1: (sa, object())}
    fw.conf_streams = {1: (sb, object())}
    out = fw.media_frame(1, _frame(3000), 0.0)
    assert _val(out) == {120}                     # the handset hears both remotes
    assert _val(sa.sent[-1]) == {3020}            # A hears the handset and B
    assert _val(sb.sent[-1]) == {3100}            # B hears the handset and A
    sb.heard = None                               # B's buffer empty: silence from B
    out = fw.media_frame(1, _frame(-500), 0.02)
    assert _val(out) == {100} and _val(sa.sent[-1]) == {-500} and _val(sb.sent[-1]) == {-400}
    del fw.conf_streams[1]                        # back to a two-party call
    out = fw.media_frame(1, _frame(7), 0.04)
    assert _val(out) == {100} and _val(sa.sent[-1]) == {7} and len(sb.sent) == 2
