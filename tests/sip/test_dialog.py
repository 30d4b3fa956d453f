"""Dialogs (RFC 3261 §12) and the UA-core builders: new_request, make_response, check_request."""

import pytest

from tipring.firmware.sip.dialog import (
    Dialog, check_request, dialog_id, make_response, make_via, new_branch, new_call_id,
    new_request, new_tag,
)
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.transaction import cancel_for


def wire(msg):
    """Serialise and parse again: everything built here must survive the wire."""
    return parse_message(bytes(msg))


def invite(**kw):
    kw.setdefault("contact", "<sip:1001@192.0.2.10:5060>")
    return new_request("INVITE", "sip:bob@biloxi.example.com",
                       '"Alice" <sip:1001@atlanta.example.com>', "<sip:bob@biloxi.example.com>",
                       via_host="192.0.2.10", via_port=5060, **kw)


# ------------------------------------------------------------------- builders

def test_new_request_shape():
    r = wire(invite(body=b"v=0\r\n", content_type="application/sdp",
                    headers=[("User-Agent", "tipring")]))
    (via,) = r.via
    assert via.transport == "UDP" and via.host == "192.0.2.10" and via.port == 5060
    assert via.branch.startswith("z9hG4bK") and len(via.branch) > 7 + 8
    assert "rport" in via.params and via.params["rport"] is None
    assert r.max_forwards == 70
    assert r.from_.tag and r.from_.display == "Alice" and r.to.tag is None
    assert r.call_id.endswith("@192.0.2.10") and str(r.cseq) == "1 INVITE"
    assert r.contact[0].uri.user == "1001"
    assert r.content_type == "application/sdp" and r.body == b"v=0\r\n"
    assert r.headers.get("User-Agent") == "tipring"


def test_new_request_fresh_ids_and_preloaded_route():
    a, b = invite(), invite(route=["<sip:proxy.example.com;lr>"])
    assert a.via[0].branch != b.via[0].branch and a.call_id != b.call_id
    assert a.from_.tag != b.from_.tag
    assert b.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    c = new_request("REGISTER", "sip:example.com", "<sip:1001@example.com>",
                    "<sip:1001@example.com>", call_id="fixed", cseq=7, from_tag="ft",
                    via_host="10.0.0.1", transport="tcp")
    assert c.call_id == "fixed" and str(c.cseq) == "7 REGISTER" and c.from_.tag == "ft"
    assert str(c.via[0]).startswith("SIP/2.0/TCP 10.0.0.1;rport;branch=z9hG4bK")


def test_id_generators():
    assert new_branch().startswith("z9hG4bK") and new_branch() != new_branch()
    assert len(new_tag()) == 16 and len(new_call_id()) == 32
    assert make_via("2001:db8::1", 5062, branch="z9hG4bKx") == \
        "SIP/2.0/UDP [2001:db8::1]:5062;rport;branch=z9hG4bKx"


def test_make_response_copies_8_2_6():
    req = wire(invite())
    req.headers.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp", first=True)
    req.headers.add("Record-Route", "<sip:proxy.example.com;lr>")
    req.headers.add("Timestamp", "54")
    r100 = wire(make_response(req, 100, to_tag="nope"))
    assert r100.status == 100 and r100.reason == "Trying" and r100.to.tag is None
    assert r100.headers.get("Timestamp") == "54"
    assert "Record-Route" not in r100.headers
    r180 = wire(make_response(req, 180, to_tag="uas1", contact="<sip:bob@198.51.100.2>"))
    assert [str(v) for v in r180.via] == [str(v) for v in req.via]
    assert r180.to.tag == "uas1" and r180.from_ == req.from_ and r180.call_id == req.call_id
    assert r180.cseq == req.cseq and "Timestamp" not in r180.headers
    assert r180.headers.get_all("Record-Route") == ["<sip:proxy.example.com;lr>"]
    assert r180.contact[0].uri.host == "198.51.100.2"
    r486 = wire(make_response(req, 486, to_tag="uas1"))
    assert "Record-Route" not in r486.headers and r486.reason == "Busy Here"


def test_make_response_keeps_existing_to_tag():
    req = wire(invite())
    req.headers.set("To", "<sip:bob@biloxi.example.com>;tag=already")
    assert make_response(req, 200, to_tag="other").to.tag == "already"


def test_check_request_ok():
    assert check_request(wire(invite())) is None


def test_check_request_require_420():
    req = wire(invite(headers=[("Require", "100rel, foo"), ("Require", "Replaces")]))
    r = check_request(req, supported=("replaces",))
    assert r.status == 420 and r.headers.get("Unsupported") == "100rel, foo"
    assert check_request(req, supported=("100rel", "foo", "replaces")) is None


def test_check_request_require_ignored_on_ack_and_cancel():
    req = wire(invite(headers=[("Require", "foo")]))
    assert check_request(cancel_for(req)) is None


def test_check_request_max_forwards_483_and_405():
    req = wire(invite())
    req.headers.set("Max-Forwards", "0")
    assert check_request(req).status == 483
    req = wire(invite())
    r = check_request(req, allowed=("ACK", "BYE", "CANCEL", "OPTIONS"))
    assert r.status == 405 and r.headers.get("Allow") == "ACK, BYE, CANCEL, OPTIONS"


# ---------------------------------------------------------------- UAC dialogs

RR = ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]


def uac_response(req, status, tag="bobtag", contact="<sip:bob@198.51.100.2:5070>", rr=RR):
    r = make_response(req, status, to_tag=tag, contact=contact)
    for v in rr:
        r.headers.add("Record-Route", v)
    return wire(r)


def test_uac_early_then_confirmed():
    inv = wire(invite())
    r180 = uac_response(inv, 180, rr=["<sip:early.example.com;lr>"])
    d = Dialog.uac(inv, r180, via_host="192.0.2.10", via_port=5060)
    assert d.state == "early" and d.is_uac
    assert d.id == (inv.call_id, inv.from_.tag, "bobtag") == dialog_id(r180)
    assert d.route_set == ["<sip:early.example.com;lr>"]
    assert d.remote_target == "sip:bob@198.51.100.2:5070" and d.local_seq == 1
    ok = uac_response(inv, 200, contact="<sip:bob@198.51.100.2:5080>")
    d.on_response(ok)
    assert d.state == "confirmed"
    assert d.route_set == list(reversed(RR))          # recomputed from the 2xx, reversed
    assert d.remote_target == "sip:bob@198.51.100.2:5080"


def test_uac_early_ended_by_failure():
    inv = wire(invite())
    d = Dialog.uac(inv, uac_response(inv, 183))
    d.on_response(uac_response(inv, 486))
    assert d.state == "terminated"


def test_uac_needs_to_tag_and_dialog_status():
    inv = wire(invite())
    with pytest.raises(ValueError):
        Dialog.uac(inv, wire(make_response(inv, 180)))
    with pytest.raises(ValueError):
        Dialog.uac(inv, uac_response(inv, 404))


def test_forks_make_separate_dialogs():
    inv = wire(invite())
    a = Dialog.uac(inv, uac_response(inv, 180, tag="fork-a"))
    b = Dialog.uac(inv, uac_response(inv, 180, tag="fork-b"))
    assert a.id != b.id and a.id[:2] == b.id[:2]


def confirmed_uac(rr=RR):
    inv = wire(invite())
    ok = uac_response(inv, 200, rr=rr)
    return inv, Dialog.uac(inv, ok, via_host="192.0.2.10", via_port=5060)


def test_ack_for_2xx_reuses_invite_cseq_with_new_branch():
    inv, d = confirmed_uac()
    ack = wire(d.ack(inv.cseq.seq))
    assert str(ack.cseq) == "1 ACK" and ack.via[0].branch != inv.via[0].branch
    assert ack.uri == "sip:bob@198.51.100.2:5070"
    assert ack.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert ack.to.tag == "bobtag" and ack.from_.tag == inv.from_.tag
    assert d.local_seq == 1                              # ACK does not count


def test_in_dialog_requests_take_new_higher_cseq():
    inv, d = confirmed_uac()
    bye = wire(d.bye())
    re = wire(d.reinvite(b"v=0\r\n"))
    up = wire(d.update())
    ref = wire(d.refer("<sip:carol@example.com>"))
    nfy = wire(d.notify("refer", "active;expires=60", b"SIP/2.0 100 Trying\r\n",
                        "message/sipfrag;version=2.0"))
    inf = wire(d.info(b"Signal=5\r\n", "application/dtmf-relay"))
    seqs = [m.cseq.seq for m in (bye, re, up, ref, nfy, inf)]
    assert seqs == [2, 3, 4, 5, 6, 7]
    assert [m.cseq.method for m in (bye, re, up, ref, nfy, inf)] == [
        "BYE", "INVITE", "UPDATE", "REFER", "NOTIFY", "INFO"]
    assert bye.contact == [] and re.contact[0].uri.user == "1001"
    assert re.content_type == "application/sdp" and ref.headers.get("Refer-To")
    assert nfy.headers.get("Event") == "refer" and inf.body == b"Signal=5\r\n"
    assert len({m.via[0].branch for m in (bye, re, up, ref, nfy, inf)}) == 6
    assert all(m.max_forwards == 70 for m in (bye, re))


def test_cancel_reuses_invite_cseq():
    inv = wire(invite())
    c = cancel_for(inv)
    assert c.cseq.seq == inv.cseq.seq and c.via[0].branch == inv.via[0].branch


def test_no_route_set_uses_remote_target():
    inv, d = confirmed_uac(rr=[])
    bye = wire(d.bye())
    assert bye.uri == "sip:bob@198.51.100.2:5070" and "Route" not in bye.headers


def test_strict_router_first():
    inv, d = confirmed_uac(rr=["<sip:loose.example.com;lr>", "<sip:strict.example.com;method=INVITE>"])
    # UAC reverses: the strict router is first
    bye = wire(d.bye())
    assert bye.uri == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == ["<sip:loose.example.com;lr>",
                                            "<sip:bob@198.51.100.2:5070>"]


def test_uac_target_refresh_from_reinvite_2xx():
    inv, d = confirmed_uac()
    re = wire(d.reinvite(b"v=0\r\n"))
    d.on_response(wire(make_response(re, 200, contact="<sip:bob@203.0.113.9>")))
    assert d.remote_target == "sip:bob@203.0.113.9"
    assert d.route_set == list(reversed(RR))            # fixed once confirmed
    d.on_response(wire(make_response(wire(d.bye()), 481)))
    assert d.state == "terminated"


# ---------------------------------------------------------------- UAS dialogs

def incoming_invite():
    req = wire(invite())
    for v in RR:
        req.headers.add("Record-Route", v)
    return wire(req)


def test_uas_dialog():
    req = incoming_invite()
    d = Dialog.uas(req, "uastag", contact="<sip:bob@198.51.100.2>", via_host="198.51.100.2")
    assert d.state == "early" and not d.is_uac
    assert d.id == (req.call_id, "uastag", req.from_.tag)
    assert d.route_set == RR                             # as received, not reversed
    assert d.remote_target == "sip:1001@192.0.2.10:5060"
    assert d.remote_seq == 1 and d.local_seq is None
    d.confirm()
    bye = wire(d.bye())
    assert bye.cseq.seq == 1                             # first request from the UAS side
    assert bye.from_.tag == "uastag" and bye.to.tag == req.from_.tag
    assert bye.to.display == "Alice" and bye.from_.uri.host == "biloxi.example.com"
    assert bye.uri == "sip:1001@192.0.2.10:5060"
    assert bye.headers.get_all("Route") == RR
    # dialog_id of the incoming BYE from the far side matches ours
    far = wire(make_response(req, 200, to_tag="uastag"))
    assert dialog_id(far, received=False) == d.id


def test_uas_in_dialog_cseq_ordering():
    req = incoming_invite()
    d = Dialog.uas(req, "t", confirmed=True)
    far = Dialog.uac(req, wire(make_response(req, 200, to_tag="t",
                                            contact="<sip:bob@198.51.100.2>")))
    far.local_seq = 5
    info = wire(far.info(b"x", "text/plain"))            # CSeq 6
    assert d.on_request(info) is None and d.remote_seq == 6
    old = wire(far.request("INFO", cseq=4))
    assert d.on_request(old) == 500 and d.remote_seq == 6
    ack = wire(far.ack(1))
    assert d.on_request(ack) is None and d.remote_seq == 6


def test_uas_target_refresh_from_reinvite():
    req = incoming_invite()
    d = Dialog.uas(req, "t", confirmed=True)
    re = req.__class__("INVITE", d.local_uri.strip("<>"), req.headers.copy())
    re.headers.set("CSeq", "2 INVITE")
    re.headers.set("Contact", "<sip:1001@192.0.2.99>")
    assert d.on_request(re) is None
    assert d.remote_target == "sip:1001@192.0.2.99"


def test_uas_without_contact_is_refused():
    req = incoming_invite()
    req.headers.remove("Contact")
    with pytest.raises(ValueError):
        Dialog.uas(req, "t")
