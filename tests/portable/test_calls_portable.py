"""tipring/firmware/calls (CallManager, Call) on CPython and MicroPython: whole calls through a real
`UserAgent` and a scripted proxy/far end on a virtual network and clock. An incoming call
(INVITE, 180, answer with an SDP answer, ACK, BYE), an outgoing call (401 with digest, 180,
200, ACK, BYE), hold and resume by re-INVITE both ways, CANCEL, a ghost INVITE, call waiting.
Only the public verbs (dial, answer, hangup, flash, status, calls_on, call_on), the messages
on the wire and the line/media outputs are looked at.

Run: python tests/portable/test_calls_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_calls_portable.py
"""

import sys

try:
    import tipring.firmware  # noqa: F401
except ImportError:  # run as a script from anywhere: put the repo root on the path
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0])

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.media import sdp
from tipring.firmware.sip.useragent import UserAgent

try:
    from peer import Rig, check_digest, reply, request_bytes   # a script
except ImportError:
    from tests.portable.peer import Rig, check_digest, reply, request_bytes   # pytest

ATA = ("127.0.0.1", 5070)
PROXY = ("127.0.0.1", 5060)
STRANGER = ("127.0.0.1", 5999)
SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
       b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n")
CHALLENGE = 'Digest realm="pbx.test", nonce="abc123", qop="auth"'


def ata():
    ua = UserAgent(ATA[0], ATA[1], users=["1001"])
    ports = [20000]

    def alloc():
        ports[0] += 2
        return (ATA[0], ports[0])
    line = {"port": 1, "user": "1001", "password": "secret", "auth_user": None, "display_name": None,
            "domain": "pbx.test", "no_answer_s": 60, "direct_calls": False}
    mgr = CallManager(ua, [line], lambda port: PROXY, alloc)
    return Rig(ua), mgr


def invite(call_id="c1@pbx", branch="z9hG4bKi1", sdp=SDP, to_tag=None, cseq=1, from_tag="f1"):
    return request_bytes(
        "INVITE", "sip:1001@127.0.0.1:5070", "SIP/2.0/UDP 127.0.0.1:5060;branch=%s;rport" % branch,
        '"Bob" <sip:2002@pbx.test>;tag=' + from_tag,
        "<sip:1001@pbx.test>" + (";tag=" + to_tag if to_tag else ""), call_id, cseq,
        contact="<sip:2002@127.0.0.1:5060>", body=sdp)


def in_dialog(method, resp, cseq, branch, body=b""):
    """A request from the far end in the dialog that `resp` (our 2xx) set up."""
    return request_bytes(
        method, "sip:1001@127.0.0.1:5070", "SIP/2.0/UDP 127.0.0.1:5060;branch=%s;rport" % branch,
        resp.headers.get("From"), resp.headers.get("To"), resp.call_id, cseq,
        contact="<sip:2002@127.0.0.1:5060>" if method == "INVITE" else None, body=body)


def direction(body):
    sd = sdp.parse(body)
    return sd.media_direction(sd.media[0])


def line_verbs(rig):
    return [c[1] for c in rig.line]


def incoming_answered():
    rig, mgr = ata()
    ringing, = rig.feed(invite(), PROXY)
    rig.now = 1.0
    ok, = rig.carry(mgr.answer(1, 1.0))
    rig.feed(in_dialog("ACK", ok, 1, "z9hG4bKack1"), PROXY)
    return rig, mgr, ringing, ok


def test_incoming_call_invite_180_answer_ack_bye():
    rig, mgr, ringing, ok = incoming_answered()
    assert ringing.status == 180 and ringing.to.tag and ringing.call_id == "c1@pbx"
    assert rig.line[0] == (1, "incoming", {"number": "2002", "name": "Bob"})
    assert rig.sent[0][0] == PROXY                         # back per Via (rport)
    assert ok.status == 200 and ok.to.tag == ringing.to.tag
    assert ok.headers.get("Content-Type") == "application/sdp"
    assert ok.contact[0].uri.user == "1001" and ok.contact[0].uri.port == 5070
    answer = sdp.parse(ok.body)
    m = answer.media[0]
    assert m.port == 20002 and m.formats[0] == "0" and "101" in m.formats
    assert answer.media_direction(m) == "sendrecv" and "PCMU/8000" in ok.body.decode()
    assert [op for op, c in rig.media] == ["start"]
    assert mgr.call_on(1).state == "connected" and len(mgr.calls_on(1)) == 1
    st, = mgr.status(5.0)
    assert (st["direction"], st["state"], st["peer"], st["call_id"]) == ("in", "connected", "2002", "c1@pbx")
    assert rig.tick(10.0) == []                            # the ACK stopped the 2xx retransmissions
    done, = rig.feed(in_dialog("BYE", ok, 2, "z9hG4bKbye1"), PROXY)
    assert done.status == 200 and done.cseq.method == "BYE"
    assert line_verbs(rig)[-1] == "remote_hangup" and [op for op, c in rig.media] == ["start", "stop"]
    assert mgr.call_on(1) is None and mgr.calls_on(1) == [] and mgr.status(11.0) == []
    assert rig.errors() == []


def test_incoming_call_unanswered_200_is_retransmitted():
    rig, mgr = ata()
    rig.feed(invite(), PROXY)
    assert rig.tick(0.3) == []                             # the 180 went at once: no 100
    ok, = rig.carry(mgr.answer(1, rig.now))
    again = rig.tick(rig.now + 0.5)
    assert [m.status for m in again] == [200] and again[0].to_bytes() == ok.to_bytes()


def test_outgoing_call_401_180_200_ack_bye():
    rig, mgr = ata()
    first, = rig.carry(mgr.dial(1, "2002", 0.0))
    assert rig.sent[0][0] == PROXY and first.method == "INVITE" and first.uri == "sip:2002@pbx.test"
    assert first.from_.uri.user == "1001" and first.to.tag is None and first.cseq.seq == 1
    offer = sdp.parse(first.body)
    assert offer.media[0].port == 20002 and "0" in offer.media[0].formats
    ack401, second = rig.feed(reply(first, 401, to_tag="p1", headers=[("WWW-Authenticate", CHALLENGE)]), PROXY)
    assert ack401.method == "ACK" and ack401.via[0].branch == first.via[0].branch   # §17.1.1.3
    assert second.method == "INVITE" and second.cseq.seq == 2 and second.call_id == first.call_id
    assert second.from_.tag == first.from_.tag
    assert check_digest(second, "secret")["realm"] == "pbx.test"
    assert rig.feed(reply(second, 100), PROXY) == []
    assert rig.feed(reply(second, 180, to_tag="b1"), PROXY) == []
    assert line_verbs(rig) == ["remote_ringing"]
    answer = SDP.replace(b"4000", b"4010")
    ack, = rig.feed(reply(second, 200, to_tag="b1", body=answer,
                          headers=[("Contact", "<sip:2002@127.0.0.1:5060>")]), PROXY)
    assert ack.method == "ACK" and ack.cseq.seq == 2 and ack.to.tag == "b1"
    assert ack.via[0].branch != second.via[0].branch and ack.uri == "sip:2002@127.0.0.1:5060"
    assert line_verbs(rig) == ["remote_ringing", "remote_answered"]
    assert [op for op, c in rig.media] == ["start"] and mgr.call_on(1).state == "connected"
    again, = rig.feed(reply(second, 200, to_tag="b1", body=answer,
                            headers=[("Contact", "<sip:2002@127.0.0.1:5060>")]), PROXY)
    assert again.method == "ACK"                            # a retransmitted 2xx is ACKed again
    bye, = rig.carry(mgr.hangup(1, 5.0))
    assert bye.method == "BYE" and bye.cseq.seq == 3 and bye.to.tag == "b1" and bye.uri == "sip:2002@127.0.0.1:5060"
    assert rig.feed(reply(bye, 200), PROXY) == []
    assert mgr.calls_on(1) == [] and [op for op, c in rig.media] == ["start", "stop"]


def test_outgoing_call_refused_and_cancelled():
    rig, mgr = ata()
    inv, = rig.carry(mgr.dial(1, "2002", 0.0))
    ack, = rig.feed(reply(inv, 486, to_tag="b1"), PROXY)
    assert ack.method == "ACK" and line_verbs(rig) == ["remote_busy"] and mgr.calls_on(1) == []
    assert [op for op, c in rig.media] == ["stop"]            # the RTP port goes back
    rig, mgr = ata()
    inv, = rig.carry(mgr.dial(1, "2002", 0.0))
    rig.feed(reply(inv, 180, to_tag="b1"), PROXY)
    cancel, = rig.carry(mgr.hangup(1, 1.0))
    assert cancel.method == "CANCEL" and cancel.via[0].branch == inv.via[0].branch and cancel.cseq.seq == 1
    rig.feed(reply(cancel, 200), PROXY)
    ack, = rig.feed(reply(inv, 487, to_tag="b1"), PROXY)
    assert ack.method == "ACK" and mgr.calls_on(1) == []


def test_hold_and_resume_by_flash_and_by_the_far_end():
    rig, mgr, ringing, ok = incoming_answered()
    hold, = rig.carry(mgr.flash(1, 2.0))
    assert hold.method == "INVITE" and hold.to.tag == "f1" and hold.from_.tag == ringing.to.tag
    assert direction(hold.body) == "sendonly" and hold.cseq.seq == 1     # our first request
    ack, = rig.feed(reply(hold, 200, body=SDP.replace(b"t=0 0\r\n", b"t=0 0\r\na=recvonly\r\n"),
                          headers=[("Contact", "<sip:2002@127.0.0.1:5060>")]), PROXY)
    assert ack.method == "ACK" and mgr.call_on(1).state == "held"
    resume, = rig.carry(mgr.flash(1, 3.0))
    assert direction(resume.body) == "sendrecv" and resume.cseq.seq == 2
    rig.feed(reply(resume, 200, body=SDP, headers=[("Contact", "<sip:2002@127.0.0.1:5060>")]), PROXY)
    assert mgr.call_on(1).state == "connected"
    # the far end holds us: our answer is recvonly, the call stays up
    held = SDP.replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")
    ans, = rig.feed(in_dialog("INVITE", ok, 2, "z9hG4bKre2", held), PROXY)
    assert ans.status == 200 and direction(ans.body) == "recvonly"
    rig.feed(in_dialog("ACK", ok, 2, "z9hG4bKre2ack"), PROXY)
    back, = rig.feed(in_dialog("INVITE", ok, 3, "z9hG4bKre3", SDP), PROXY)
    assert back.status == 200 and direction(back.body) == "sendrecv"
    old, = rig.feed(in_dialog("INVITE", ok, 1, "z9hG4bKold", SDP), PROXY)
    assert old.status == 500 and mgr.call_on(1) is not None       # CSeq out of order (§12.2.2)
    assert rig.errors() == []


def test_cancel_ghost_and_stray_requests_never_end_a_call():
    rig, mgr = ata()
    rig.feed(invite(), PROXY)
    got = rig.feed(request_bytes(
        "CANCEL", "sip:1001@127.0.0.1:5070", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKi1;rport",
        '"Bob" <sip:2002@pbx.test>;tag=f1', "<sip:1001@pbx.test>", "c1@pbx", 1), PROXY)
    assert sorted((m.status, m.cseq.method) for m in got) == [(200, "CANCEL"), (487, "INVITE")]
    assert line_verbs(rig)[-1] == "remote_hangup" and mgr.calls_on(1) == []
    ghost, = rig.feed(invite(call_id="g@x", branch="z9hG4bKg"), STRANGER)
    assert ghost.status == 403 and rig.sent[-1][0] == STRANGER and mgr.calls_on(1) == []
    rig.tick(40.0)
    assert [d for d, m in rig.sent].count(STRANGER) == 1          # stateless: never resent
    rig, mgr, ringing, ok = incoming_answered()
    bye = in_dialog("BYE", ok, 2, "z9hG4bKwrong").replace(b"tag=f1", b"tag=someone-else")
    nope, = rig.feed(bye, PROXY)
    assert nope.status == 481 and mgr.call_on(1).state == "connected"
    bad, = rig.feed(invite(call_id="c2@pbx", branch="z9hG4bKi2", sdp=b"").replace(
        b"Contact: <sip:2002@127.0.0.1:5060>\r\n", b""), PROXY)
    assert bad.status == 400 and mgr.call_on(1).state == "connected"


def test_call_waiting_answered_by_flash():
    rig, mgr, ringing, ok = incoming_answered()
    second, = rig.feed(invite(call_id="c2@pbx", branch="z9hG4bKi2", from_tag="f2"), PROXY)
    assert second.status == 180 and line_verbs(rig)[-1] == "call_waiting"
    assert len(mgr.calls_on(1)) == 2 and mgr.call_on(1).call_id == "c1@pbx"
    out = rig.carry(mgr.flash(1, 3.0))
    hold = [m for m in out if m.is_request]
    answer = [m for m in out if not m.is_request]
    assert hold[0].method == "INVITE" and direction(hold[0].body) == "sendonly" and hold[0].call_id == "c1@pbx"
    assert answer[0].status == 200 and answer[0].call_id == "c2@pbx"
    assert mgr.call_on(1).call_id == "c2@pbx" and len(mgr.calls_on(1)) == 2
    third, = rig.feed(invite(call_id="c3@pbx", branch="z9hG4bKi3", from_tag="f3"), PROXY)
    assert third.status == 486


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
