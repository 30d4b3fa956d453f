"""Malformed and odd requests (issue 14, item 2): each gets one bounded answer and leaves no
state behind; a bad request inside a call never ends the call; a scanner learns nothing.

The call layer is wired as app.py wires it (tests/calls/ata.py) and fed raw datagrams."""

import pytest

from tipring.firmware.sip.message import parse_message
from tests.calls.ata import Ata, ATA, PROXY, STRANGER, SDP, USER, invite, request


def only(responses):
    assert len(responses) == 1, [r.status for r in responses]
    return responses[0]


def rings_after(ata):
    """A well-formed INVITE from the proxy still rings the phone (no phantom call)."""
    r = ata.feed(invite(branch="z9hG4bKcheck", call_id="check@h"))
    assert [x.status for x in r] == [180], [(x.status, x.reason) for x in r]
    assert ata.ringing.get(1)
    cancel = request("CANCEL", branch="z9hG4bKcheck", call_id="check@h", contact=None)
    assert sorted(x.status for x in ata.feed(cancel)) == [200, 487]   # the caller gives up
    assert ata.idle()


# ---------------------------------------------------------------- dialog-creating INVITE

@pytest.mark.parametrize("contact, extra, words", [
    (None, (), "no Contact"),
    ("*", (), "'*'"),
    ("<http://pbx.example/x>", (), "not a SIP"),
    ("<tel:+15551234>", (), "not a SIP"),
    ("<sip:a@h>, <sip:b@h>", (), "more than one Contact"),
    ("<sip:2002@127.0.0.1>", ("Record-Route: <http://proxy;lr>",), "Record-Route"),
    ("<sip:2002@127.0.0.1>", ("Record-Route: <sip:proxy;lr",), "Record-Route"),
    ("<sip:2002@127.0.0.1>", ("Record-Route: <sip:p1;lr>, ,<sip:p2;lr>",), "Record-Route"),
    ("<sip:2002@127.0.0.1>", ("Record-Route: *",), "Record-Route"),
])
def test_invite_without_a_usable_contact_or_route_gets_400_and_leaves_nothing(contact, extra, words):
    ata = Ata()
    r = only(ata.feed(invite(contact=contact, extra=extra)))
    assert r.status == 400 and words in r.reason, r.reason
    assert r.to.tag                                   # a final answer names its dialog end
    assert ata.idle() and not ata.line_cmds
    assert any("400" in e for e in ata.errors())
    ata.tick(40.0)
    assert not ata.ua.tl.transactions
    rings_after(ata)


def test_bad_sdp_offer_gets_488_and_gives_its_rtp_port_back():
    ata = Ata()
    r = only(ata.feed(invite(body=b"v=0\r\nm=audio x RTP/AVP 0\r\n")))
    assert r.status == 488 and r.headers.get("Warning")
    assert ata.idle() and not ata.line_cmds
    rings_after(ata)


def test_a_body_that_is_not_sdp_gets_415_with_accept():
    ata = Ata()
    r = only(ata.feed(invite(ctype="text/plain", body=b"hello")))
    assert r.status == 415 and r.headers.get("Accept") == "application/sdp"
    assert ata.idle()
    rings_after(ata)


def test_unanswered_and_cancelled_calls_free_their_rtp_ports():
    ata = Ata()
    ata.feed(invite())
    assert len(ata.rtp_open) == 1
    cancel = request("CANCEL", branch="z9hG4bKa1", contact=None)
    assert sorted(r.status for r in ata.feed(cancel)) == [200, 487]
    assert ata.idle()


def test_a_second_invite_with_the_call_id_of_a_call_gets_482_or_486_and_the_call_rings_on():
    ata = Ata()
    ata.feed(invite())
    merged = only(ata.feed(invite(branch="z9hG4bKother")))          # same From tag and CSeq
    assert merged.status == 482
    other = only(ata.feed(invite(branch="z9hG4bKthird", from_tag="f2")))
    assert other.status == 486
    assert ata.ringing[1] and list(ata.mgr.calls) == ["c1@h"]
    assert sorted(r.status for r in ata.feed(request("CANCEL", branch="z9hG4bKa1", contact=None))) == [200, 487]
    assert ata.idle()


def test_two_replaces_headers_get_400():
    ata = Ata()
    r = only(ata.feed(invite(extra=("Replaces: a@h;to-tag=1;from-tag=2", "Replaces: b@h;to-tag=1;from-tag=2"))))
    assert r.status == 400 and "Replaces" in r.reason
    assert ata.idle()


# ---------------------------------------------------------------- Request-URI and bytes

def test_unknown_request_uri_scheme_gets_416_for_options_and_a_stateless_one_for_invite():
    ata = Ata()
    r = only(ata.feed(request("OPTIONS", ruri="zz:whatever", contact=None), STRANGER))
    assert r.status == 416 and r.headers.get("Accept")
    r = only(ata.feed(invite(ruri="zz:whatever")))
    assert r.status == 416 and r.to.tag
    ata.tick(40.0)
    assert len(ata.sent) == 2 and ata.idle()          # the INVITE's 416 was never repeated
    r = only(ata.feed(request("OPTIONS", ruri="tel:+15551234", contact=None, branch="z9hG4bKt"), STRANGER))
    assert r.status == 200


def test_invalid_utf8_in_a_display_name_is_accepted_and_shown_with_a_replacement():
    ata = Ata()
    frm = b'From: "M\xfcller \xff" <sip:2002@pbx>;tag=f1'
    r = only(ata.feed(request("OPTIONS", contact=None, frm=frm), STRANGER))
    assert r.status == 200 and r.from_.tag == "f1"
    ata.feed(invite(frm=frm, branch="z9hG4bKinv"))
    incoming = [c for c in ata.line_cmds if c[1] == "incoming"]
    assert incoming and incoming[0][2]["name"] == "M\ufffdller \ufffd"


@pytest.mark.parametrize("where", [b"Call-ID: c\xff1", b"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK\xff"])
def test_invalid_utf8_elsewhere_gets_a_400_naming_the_header_never_silence(where):
    ata = Ata()
    data = request("OPTIONS", contact=None, extra=(b"X-Pad: 1",))
    name = where.split(b":")[0]
    lines = [l for l in data.split(b"\r\n") if not l.startswith(name + b":")]
    data = b"\r\n".join(lines[:2] + [where] + lines[2:]) if name == b"Call-ID" else \
        b"\r\n".join(lines[:1] + [where] + lines[1:])
    r = only(ata.feed(data, STRANGER))
    assert r.status == 400 and name.decode() in r.reason and "UTF-8" in r.reason


# ---------------------------------------------------------------- no enumeration, no reflection

def test_a_stranger_gets_one_and_the_same_answer_for_our_user_and_any_other():
    ata = Ata()
    ours = only(ata.feed(invite(branch="z9hG4bKs1", call_id="s1"), STRANGER))
    theirs = only(ata.feed(invite(ruri="sip:9999@127.0.0.1:5070", branch="z9hG4bKs2", call_id="s2"), STRANGER))
    nobody = only(ata.feed(invite(ruri="sip:127.0.0.1:5070", branch="z9hG4bKs3", call_id="s3"), STRANGER))
    assert (ours.status, ours.reason) == (theirs.status, theirs.reason) == (nobody.status, nobody.reason)
    assert ours.status == 403
    assert [sorted(h for h, _ in r.headers.items()) for r in (ours, theirs)] == \
        [sorted(h for h, _ in nobody.headers.items())] * 2
    assert not ata.ua.tl.transactions                 # stateless: nothing to retransmit
    ata.tick(64.0)
    assert len(ata.sent) == 3                         # no 100, no repeat: one datagram each
    assert ata.idle() and not ata.line_cmds
    # a retransmitted INVITE draws one more answer, not a burst
    assert only(ata.feed(invite(branch="z9hG4bKs1", call_id="s1"), STRANGER)).status == 403
    # from the proxy an unknown user is still told 404
    assert only(ata.feed(invite(ruri="sip:9999@127.0.0.1:5070", branch="z9hG4bKp"))).status == 404


def test_direct_calls_lets_a_stranger_ring_the_line():
    ata = Ata(direct_calls=True)
    assert [r.status for r in ata.feed(invite(), STRANGER)] == [180]
    assert only(ata.feed(invite(ruri="sip:9999@127.0.0.1:5070", branch="z9hG4bKs2"), STRANGER)).status == 403


# ---------------------------------------------------------------- inside a call

def connected():
    ata = Ata()
    ata.feed(invite())
    ok = only(ata.act(ata.mgr.answer(1, 1.0)))
    assert ok.status == 200
    tag = ok.to.tag
    ata.feed(request("ACK", branch="z9hG4bKack", to_tag=tag, contact=None))
    call = ata.mgr.calls["c1@h"]
    assert call.state == "connected"
    return ata, call, tag


def test_bye_with_a_wrong_from_tag_or_no_to_tag_gets_481_and_the_call_goes_on():
    ata, call, tag = connected()
    assert only(ata.feed(request("BYE", branch="z9hG4bKb1", cseq=2, to_tag=tag, from_tag="evil",
                                 contact=None))).status == 481
    assert only(ata.feed(request("BYE", branch="z9hG4bKb2", cseq=2, contact=None))).status == 481
    assert only(ata.feed(request("BYE", branch="z9hG4bKb3", cseq=2, to_tag="nottag", contact=None))).status == 481
    assert call.state == "connected" and ata.mgr.by_line[1] is call
    assert only(ata.feed(request("BYE", branch="z9hG4bKb4", cseq=2, to_tag=tag, contact=None))).status == 200
    assert call.state == "ended"


@pytest.mark.parametrize("contact", ["*", "<http://x>", "<sip:a@h>, <sip:b@h>"])
def test_reinvite_with_a_bad_contact_gets_400_and_changes_nothing(contact):
    ata, call, tag = connected()
    target = call.dialog.remote_target
    r = only(ata.feed(invite(branch="z9hG4bKre", cseq=2, to_tag=tag, contact=contact)))
    assert r.status == 400 and "Contact" in r.reason
    assert call.state == "connected" and call.dialog.remote_target == target
    assert call.dialog.remote_seq == 1
    r = only(ata.feed(invite(branch="z9hG4bKre2", cseq=2, to_tag=tag)))   # the same CSeq, now fine
    assert r.status == 200


def test_out_of_order_cseq_and_an_injected_refer_leave_the_call_up():
    ata, call, tag = connected()
    assert only(ata.feed(request("INFO", branch="z9hG4bKi1", cseq=5, to_tag=tag, contact=None))).status == 200
    assert only(ata.feed(invite(branch="z9hG4bKre", cseq=3, to_tag=tag))).status == 500
    refer = request("REFER", branch="z9hG4bKr1", cseq=6, to_tag=tag,
                    extra=("Refer-To: <sip:3003@pbx?Replaces=x%0D%0AVia:%20evil;to-tag=1;from-tag=2>",))
    r = only(ata.feed(refer))
    assert r.status == 400 and "Replaces" in r.reason
    assert call.state == "connected" and call.refer_in is None
    assert not [d for _, d in ata.sent if b"evil" in d.split(b"\r\n\r\n")[0].split(b"\r\n", 1)[-1]
                and not d.startswith(b"SIP/2.0")]


def test_cancel_for_another_invite_does_not_end_a_ringing_call():
    ata = Ata()
    ata.feed(invite())
    assert only(ata.feed(invite(branch="z9hG4bKdup", from_tag="f9"))).status == 486    # same Call-ID
    r = ata.feed(request("CANCEL", branch="z9hG4bKdup", from_tag="f9", contact=None))
    assert [x.status for x in r] == [200]      # §9.2: the CANCEL matched a finished INVITE
    assert ata.ringing[1] and ata.mgr.calls["c1@h"].state == "incoming"


def test_nothing_raises_and_the_answer_is_500_when_a_handler_trips():
    ata = Ata()

    def broken(req, tx, src, now):
        raise KeyError("boom")
    ata.ua.handlers["INFO"] = broken
    r = only(ata.feed(request("INFO", contact=None)))
    assert r.status == 500
    assert any("internal error" in e and "KeyError" in e for e in ata.errors())
