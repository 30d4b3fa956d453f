"""tipring/firmware/sip/dialog.py and useragent.py on CPython and MicroPython: dialogs made from both
sides (ids, CSeq, route sets loose and strict, target refresh, out-of-order CSeq) and the UA
core fed datagrams (OPTIONS, 501, 416, 420, 481, 480, handlers, malformed input, rate limit,
stream framing of responses, Via received/rport).

Run: python tests/portable/test_sip_dialog_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_sip_dialog_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.sip.dialog import (
    Dialog, check_dialog_request, check_request, dialog_id, make_response, new_request,
)
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.useragent import UserAgent

try:
    from peer import Rig, reply, request_bytes   # a script
except ImportError:
    from tests.portable.peer import Rig, reply, request_bytes   # pytest

ATA = ("127.0.0.1", 5070)
PEER = ("127.0.0.1", 5060)


def invite(rr=()):
    return new_request("INVITE", "sip:bob@biloxi.example.com", "Alice <sip:alice@atlanta.example.com>",
                       "Bob <sip:bob@biloxi.example.com>", contact="<sip:alice@192.0.2.1:5070>",
                       via_host="192.0.2.1", via_port=5070, call_id="dlg1@192.0.2.1",
                       headers=[("Record-Route", r) for r in rr])


def test_uac_dialog_with_loose_route_set():
    inv = invite()
    assert inv.via[0].branch.startswith("z9hG4bK") and "rport" in inv.via[0].params
    assert inv.from_.tag and inv.to.tag is None and inv.max_forwards == 70
    resp = make_response(inv, 180, to_tag="bobtag", contact="<sip:bob@192.0.2.4>",
                         headers=[("Record-Route", "<sip:p2.example.com;lr>"),
                                  ("Record-Route", "<sip:p1.example.com;lr>")])
    d = Dialog.uac(inv, resp, via_host="192.0.2.1", via_port=5070)
    assert d.state == "early" and d.id == ("dlg1@192.0.2.1", inv.from_.tag, "bobtag")
    assert d.id == dialog_id(resp)                # a response we received: our tag in From
    assert d.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]   # reversed
    ok = make_response(inv, 200, to_tag="bobtag", contact="<sip:bob@192.0.2.4:5080>")
    d.on_response(ok)
    assert d.state == "confirmed" and d.remote_target == "sip:bob@192.0.2.4:5080"
    assert d.route_set == []                       # recomputed from the 2xx (§12.1.2)
    ack = d.ack(inv.cseq.seq)
    assert ack.cseq.seq == 1 and ack.cseq.method == "ACK" and ack.uri == "sip:bob@192.0.2.4:5080"
    bye = d.bye()
    assert bye.cseq.seq == 2 and bye.to.tag == "bobtag" and bye.from_.tag == inv.from_.tag
    re = d.reinvite(b"v=0\r\n")
    assert re.cseq.seq == 3 and re.headers.get("Contact") == "<sip:alice@192.0.2.1:5070>"
    assert re.headers.get("Content-Type") == "application/sdp"
    d.on_response(make_response(bye, 481))
    assert d.state == "terminated"


def test_uas_dialog_strict_router_and_in_dialog_checks():
    inv = invite(rr=("<sip:strict.example.com>", "<sip:p2.example.com;lr>"))
    assert check_dialog_request(inv) is None
    d = Dialog.uas(inv, "ourtag", contact="<sip:bob@192.0.2.4>")
    assert d.state == "early" and d.remote_seq == 1 and d.remote_target == "sip:alice@192.0.2.1:5070"
    d.confirm()
    bye = d.bye()
    # a strict router first: it is the Request-URI, the remote target goes last in Route
    assert bye.uri == "sip:strict.example.com" and bye.cseq.seq == 1
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:alice@192.0.2.1:5070>"]
    later = parse_message(inv.to_bytes().replace(b"CSeq: 1 INVITE", b"CSeq: 5 INVITE")
                          .replace(b"192.0.2.1:5070>", b"192.0.2.9:5070>"))
    assert d.on_request(later) is None and d.remote_target == "sip:alice@192.0.2.9:5070"
    assert d.on_request(inv) == 500                # CSeq 1 < 5: out of order (§12.2.2)
    no_contact = parse_message(inv.to_bytes().replace(b"Contact: <sip:alice@192.0.2.1:5070>\r\n", b""))
    assert check_dialog_request(no_contact) == (400, "Bad Request (no Contact)")
    star = parse_message(inv.to_bytes().replace(b"Contact: <sip:alice@192.0.2.1:5070>", b"Contact: *"))
    assert check_dialog_request(star)[0] == 400
    mf0 = parse_message(inv.to_bytes().replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    assert check_request(mf0).status == 483
    req = parse_message(inv.to_bytes().replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nRequire: foo"))
    r = check_request(req, supported=("replaces",))
    assert r.status == 420 and r.headers.get("Unsupported") == "foo"


def ua_rig():
    return Rig(UserAgent(ATA[0], ATA[1], users=["1001"]))


def req(method, ruri="sip:1001@127.0.0.1:5070", branch="z9hG4bKu1", to_tag=None, extra=(), via_host="127.0.0.1"):
    return request_bytes(method, ruri, "SIP/2.0/UDP %s:5060;branch=%s;rport" % (via_host, branch),
                         "<sip:2002@pbx.test>;tag=ft", "<sip:1001@pbx.test>" + (";tag=" + to_tag if to_tag else ""),
                         "ua-%s@pbx" % branch, 1, contact="<sip:2002@127.0.0.1:5060>", extra=extra)


def test_ua_answers_what_it_does_not_serve():
    rig = ua_rig()
    ok, = rig.feed(req("OPTIONS"), PEER)
    assert ok.status == 200 and "INVITE" in ok.headers.get("Allow") and ok.to.tag
    assert "replaces" in ok.headers.get("Supported") and rig.sent[-1][0] == PEER
    top = ok.via[0]
    assert top.params["rport"] == "5060" and top.params["received"] == "127.0.0.1"   # RFC 3581
    assert [m.status for m in rig.feed(req("FROB", branch="z9hG4bKu2"), PEER)] == [501]
    assert [m.status for m in rig.feed(req("INFO", ruri="mailto:x@y", branch="z9hG4bKu3"), PEER)] == [416]
    got, = rig.feed(req("OPTIONS", branch="z9hG4bKu4", extra=["Require: bogus-ext"]), PEER)
    assert got.status == 420 and got.headers.get("Unsupported") == "bogus-ext"
    assert [m.status for m in rig.feed(req("BYE", branch="z9hG4bKu5", to_tag="x"), PEER)] == [481]
    nobody, = rig.feed(req("INVITE", branch="z9hG4bKu6"), PEER)   # no call layer wired: 480
    assert nobody.status == 480 and nobody.to.tag
    assert [m.status for m in rig.feed(req("MESSAGE", branch="z9hG4bKu7"), PEER)] == [405]
    again, = rig.feed(req("OPTIONS"), PEER)        # a retransmission: the same answer again
    assert again.to_bytes() == ok.to_bytes()
    assert rig.feed(b"\r\n\r\n", PEER) == []       # a CRLF keep-alive
    assert rig.ua.stats["in"] == 8 and rig.errors() == []


def test_ua_handler_errors_and_malformed_input():
    rig = ua_rig()

    def boom(request, tx, src, now):
        raise KeyError("oops")
    rig.ua.handlers["INFO"] = boom
    got, = rig.feed(req("INFO", branch="z9hG4bKh1", to_tag="t"), PEER)
    assert got.status == 500 and "KeyError" in rig.errors()[-1]
    bad = req("OPTIONS", branch="z9hG4bKh2").replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS")
    got, = rig.feed(bad, PEER)
    assert got.status == 400 and got.reason.startswith("Bad Request") and rig.ua.stats["bad"] == 1
    assert rig.feed(b"\x00\xff garbage \r\n\r\n", PEER) == [] and rig.ua.stats["bad"] == 2
    assert rig.feed(b"SIP/2.0 200 OK\r\n\r\n", PEER) == []      # never answer a response
    assert len(rig.errors()) == 4


def test_ua_sends_requests_and_routes_the_answers_to_their_tu():
    rig = ua_rig()

    class Tu:
        next_hop = PEER
        got = []

        def on_response(self, resp, now):
            self.got.append(resp.status)
            return [("event", "answered", {"status": resp.status})]

        def on_failure(self, reason, now):
            return [("event", "failed", {"reason": reason})]

        def deadline(self):
            return None

        def on_timer(self, now):
            return []
    tu = Tu()
    r = new_request("OPTIONS", "sip:2002@127.0.0.1:5060", "<sip:1001@pbx.test>", "<sip:2002@pbx.test>")
    r.headers.remove("Via")
    sent, = rig.carry(rig.ua.run_tu(tu, [("send", r)], 0.0))
    assert sent.via[0].host == "127.0.0.1" and sent.via[0].port == 5070 and "rport" in sent.via[0].params
    assert sent.headers.get("User-Agent") == "tipring" and rig.sent[-1][0] == PEER
    assert rig.feed(reply(sent, 100), PEER) == [] and tu.got == []
    rig.feed(reply(sent, 200, to_tag="z"), PEER)
    assert tu.got == [200] and rig.events[-1] == ("answered", {"status": 200})
    r2 = new_request("OPTIONS", "sip:2002@127.0.0.1:5060", "<sip:1001@pbx.test>", "<sip:2002@pbx.test>")
    r2.headers.remove("Via")
    rig.carry(rig.ua.run_tu(tu, [("send", r2)], rig.now))
    rig.tick(40.0)                                  # no answer: Timer F
    assert rig.events[-1] == ("failed", {"reason": "no answer from 127.0.0.1:5060"})


def test_ua_rate_limit_drops_a_flood_unanswered():
    rig = ua_rig()
    answered = 0
    for i in range(400):
        answered += len(rig.feed(req("OPTIONS", branch="z9hG4bKf%d" % i, via_host="192.0.2.99"),
                                 ("192.0.2.99", 5060)))
    assert 0 < answered < 400 and rig.ua.stats["limited"] == 400 - answered
    assert any("rate limit" in e for e in rig.errors())


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
