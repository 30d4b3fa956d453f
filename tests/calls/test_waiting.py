"""Several calls on one line (FLOWS.md §12, §13): call waiting answered 180, flash to answer the
waiting call (the first held), flashes that swap, recall after hanging up with a call on hold,
and the handset's second call. Three tipring call layers on the virtual network of
test_services.py: A (1001) is the line under test, B (1002) and C (1003) call it or are called."""

import pytest

from tests.calls.test_services import A, B, C, P, three

D = ("127.0.0.1", 5100)

pytestmark = pytest.mark.timeout(30)

CID_B = {"number": "1002", "name": None}
CID_C = {"number": "1003", "name": None}


def _rig(**feats):
    net, a, b, c = three()
    net.features[A][1] = dict(feats)
    return net, a, b, c


def _b_talks_to_a(net, a, b):
    net.now = 0.0
    net.run(b.dial(1, "1001", 0.0), B)
    assert ("incoming", CID_B) in net.cmds(A)
    net.run(a.answer(1, 0.5), A)
    assert a.call_on(1).state == "connected" and b.call_on(1).state == "connected"
    return a.call_on(1)


def _c_calls_a(net, c, t=2.0):
    net.now = t
    net.run(c.dial(1, "1001", t), C)


def _reinvites(net, frm, to):
    """The directions of the re-INVITEs `frm` sent to `to`."""
    out = []
    for m in net.sent("INVITE ", frm=frm, to=to):
        if m.to.tag:
            body = m.body.decode()
            out.append(next((d for d in ("sendonly", "recvonly", "inactive", "sendrecv") if "a=" + d in body),
                            "sendrecv"))
    return out


def test_a_second_invite_in_a_call_is_answered_180_and_the_line_hears_call_waiting():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    n = len(net.line_cmds)
    _c_calls_a(net, c)
    assert not net.sent("SIP/2.0 486", frm=A)
    assert len(net.sent("SIP/2.0 180", frm=A)) == 2           # B's call, then C's
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "call_waiting", CID_C)]
    assert a.call_on(1) is first and first.state == "connected"
    assert (C, 1, "remote_ringing") in net.line_cmds
    assert len(a.calls_on(1)) == 2


def test_flash_holds_the_first_call_answers_the_waiting_one_and_media_follows():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    waiting = a.waiting[1]
    net.now = 3.0
    m = len(net.media)
    net.run(a.flash(1, 3.0), A)
    assert _reinvites(net, A, B) == ["sendonly"]
    assert first.state == "held" and b.call_on(1).state == "held"
    assert a.call_on(1) is waiting and waiting.state == "connected"
    assert c.call_on(1).state == "connected"
    assert (A, "start", waiting.call_id) in net.media[m:]       # the line hears C now
    assert a.held[1] is first and not a.waiting


def test_further_flashes_swap_the_two_calls():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    second = a.waiting[1]
    net.run(a.flash(1, 3.0), A)
    m = len(net.media)
    net.run(a.flash(1, 4.0), A)                              # swap: C held, B back
    assert _reinvites(net, A, C) == ["sendonly"]
    assert _reinvites(net, A, B) == ["sendonly", "sendrecv"]
    assert a.call_on(1) is first and first.state == "connected" and second.state == "held"
    assert (A, "start", first.call_id) in net.media[m:]
    m = len(net.media)
    net.run(a.flash(1, 5.0), A)                              # and back to C
    assert a.call_on(1) is second and second.state == "connected" and first.state == "held"
    assert (A, "start", second.call_id) in net.media[m:]
    assert _reinvites(net, A, C) == ["sendonly", "sendrecv"]


def test_the_waiting_caller_giving_up_ends_the_cue_and_the_call_goes_on():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    n = len(net.line_cmds)
    net.run(c.hangup(1, 3.0), C)                             # CANCEL
    assert net.sent("SIP/2.0 487", frm=A)
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "call_waiting_end")]
    assert a.call_on(1) is first and first.state == "connected" and not a.waiting


def test_an_unanswered_waiting_call_ends_480_after_no_answer_s():
    net, a, b, c = _rig()
    _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    n = len(net.line_cmds)
    net.tick(63.0)
    assert net.sent("SIP/2.0 480", frm=A)
    assert (A, 1, "call_waiting_end") in net.line_cmds[n:]
    assert a.call_on(1).state == "connected" and not a.waiting


def test_hanging_up_with_a_call_on_hold_recalls_and_off_hook_resumes_it():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    net.run(a.flash(1, 3.0), A)                              # talking to C, B held
    n = len(net.line_cmds)
    net.run(a.hangup(1, 4.0), A)
    assert net.sent("BYE ", frm=A, to=C) and not net.sent("BYE ", frm=A, to=B)
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "recall", CID_B)]
    assert a.call_on(1) is first and first.state == "held" and b.call_on(1).state == "held"
    m = len(net.media)
    net.run(a.answer_recall(1, 6.0), A)
    assert _reinvites(net, A, B)[-1] == "sendrecv"
    assert first.state == "connected" and b.call_on(1).state == "connected"
    assert (A, "start", first.call_id) in net.media[m:]
    assert len(a.calls) == 1


def test_the_held_party_hanging_up_is_held_hangup_for_the_line():
    net, a, b, c = _rig()
    first = _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    net.run(a.flash(1, 3.0), A)
    second = a.call_on(1)
    n = len(net.line_cmds)
    net.run(b.hangup(1, 4.0), B)
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "held_hangup")]
    assert a.call_on(1) is second and not a.held and first.state == "ended"


def test_hanging_up_while_a_call_waits_rings_the_phone_for_it():
    net, a, b, c = _rig()
    _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    waiting = a.waiting[1]
    n = len(net.line_cmds)
    net.run(a.hangup(1, 3.0), A)
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "incoming", CID_C)]
    assert a.call_on(1) is waiting
    net.run(a.answer(1, 4.0), A)
    assert waiting.state == "connected" and c.call_on(1).state == "connected"


def test_call_waiting_off_or_a_third_call_gets_486():
    net, a, b, c = _rig(call_waiting=False)
    _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    assert len(net.sent("SIP/2.0 486", frm=A)) == 1 and not [x for x in net.cmds(A) if x[0] == "call_waiting"]
    net, a, b, c = _rig()
    d = net.add(D, "1004")
    _b_talks_to_a(net, a, b)
    _c_calls_a(net, c)
    net.run(a.flash(1, 3.0), A)                              # B held, talking to C
    net.now = 4.0
    net.run(d.dial(1, "1001", 4.0), D)                       # a third caller
    assert len(net.sent("SIP/2.0 486", frm=A, to=P)) == 1 and (D, 1, "remote_busy") in net.line_cmds
    assert len(a.calls_on(1)) == 2 and not a.waiting


# ---------------------------------------------------------------------- the handset's second call


def _a_talks_to_b(net, a, b):
    net.now = 0.0
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 0.5), B)
    assert a.call_on(1).state == "connected"
    return a.call_on(1)


def test_dial_second_places_a_new_active_call_with_the_first_held():
    net, a, b, c = _rig()
    first = _a_talks_to_b(net, a, b)
    net.run(a.flash(1, 1.0), A)                              # hold B (flash_dial)
    assert first.state == "held" and _reinvites(net, A, B) == ["sendonly"]
    net.run(a.dial_second(1, "1003", 2.0), A)
    second = a.call_on(1)
    assert second is not first and second.peer == "1003" and a.held[1] is first
    assert ("incoming", {"number": "1001", "name": None}) in net.cmds(C)
    m = len(net.media)
    net.run(c.answer(1, 3.0), C)
    assert second.state == "connected" and (A, 1, "remote_answered") in net.line_cmds
    assert (A, "start", second.call_id) in net.media[m:]
    m = len(net.media)
    net.run(a.flash(1, 4.0), A)                              # flash in second_call: drop C, back to B
    assert net.sent("BYE ", frm=A, to=C)
    assert a.call_on(1) is first and first.state == "connected" and not a.held
    assert _reinvites(net, A, B) == ["sendonly", "sendrecv"]
    assert (A, "start", first.call_id) in net.media[m:]


def test_flash_while_the_second_call_rings_cancels_it_and_resumes_the_first():
    net, a, b, c = _rig()
    first = _a_talks_to_b(net, a, b)
    net.run(a.flash(1, 1.0), A)
    net.run(a.dial_second(1, "1003", 2.0), A)
    n = len(net.line_cmds)
    net.run(a.flash(1, 3.0), A)
    assert net.sent("CANCEL ", frm=A)
    assert a.call_on(1) is first and first.state == "connected"
    assert [x for x in net.line_cmds[n:] if x[0] == A] == []   # the line already went back to talking
    assert not [x for x in net.cmds(C) if x[0] == "incoming"][1:]
    assert len(a.calls) == 1 or all(cl.state in ("cancelling", "ended") for cl in a.calls.values() if cl is not first)


def test_dial_second_without_a_held_call_is_an_error():
    net, a, b, c = _rig()
    out = a.dial_second(1, "1003", 0.0)
    assert out and out[0][1] == "error"


def test_hanging_up_with_the_only_call_held_by_a_flash_recalls_it():
    net, a, b, c = _rig()
    first = _a_talks_to_b(net, a, b)
    net.run(a.flash(1, 1.0), A)
    assert first.state == "held"
    n = len(net.line_cmds)
    net.run(a.hangup(1, 2.0), A)
    assert not net.sent("BYE ", frm=A)
    assert [x for x in net.line_cmds[n:] if x[0] == A] == [(A, 1, "recall", CID_B)]
    net.run(a.answer_recall(1, 3.0), A)
    assert first.state == "connected" and _reinvites(net, A, B) == ["sendonly", "sendrecv"]
    net.run(a.hangup(1, 4.0), A)                         # a call not on hold ends as before
    assert net.sent("BYE ", frm=A, to=B) and a.calls == {}
