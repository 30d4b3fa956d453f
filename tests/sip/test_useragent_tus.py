"""UserAgent.add_tu / remove_tu: which transaction users the UA drives, on a virtual clock.

A real Registration is the TU; the registrar is played with real messages through
`UserAgent.receive`, as a datagram from 127.0.0.1:5060 would arrive.
"""

from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent, response_to

REGISTRAR = ("127.0.0.1", 5060)


def _setup():
    ua = UserAgent("127.0.0.1", 5070, t1=0.5)
    r = Registration(line=1, user="1001", password="secret1001", domain="127.0.0.1",
                     registrar=REGISTRAR, contact="sip:1001@127.0.0.1:5070", expires=600,
                     jitter=lambda: 0.0)
    r.next_hop = REGISTRAR
    ua.add_tu(r)
    return ua, r


def _wire_requests(out):
    return [parse_message(o[1]) for o in out if o[0] == "send"]


def _answer(ua, req, now, expires):
    resp = response_to(req, 200, to_tag="reg",
                       extra=[("Contact", "<sip:1001@127.0.0.1:5070>;expires=%d" % expires)])
    return ua.receive(bytes(resp), REGISTRAR, now)


def _events(out, name):
    return [o[2] for o in out if o[0] == "event" and o[1] == name]


def _register(ua, r):
    (req,) = _wire_requests(ua.run_tu(r, r.start(0.0), 0.0))
    assert req.method == "REGISTER"
    assert _events(_answer(ua, req, 0.1, 600), "registered")
    return req


def test_add_tu_twice_keeps_one_entry_and_its_deadline_counts():
    ua, r = _setup()
    ua.add_tu(r)
    assert ua.tus == [r]
    _register(ua, r)
    # the refresh is due at half the granted time; the transaction's Timer K ends earlier
    assert r.deadline() == 300.1
    while ua.tl.deadline() is not None:
        ua.on_timer(ua.tl.deadline())
    assert ua.deadline() == 300.1
    refresh = _wire_requests(ua.on_timer(300.1))
    assert [q.method for q in refresh] == ["REGISTER"]


def test_remove_tu_stops_its_timers_and_is_idempotent():
    ua, r = _setup()
    _register(ua, r)
    ua.remove_tu(r)
    ua.remove_tu(r)
    assert ua.tus == []
    while ua.tl.deadline() is not None:
        ua.on_timer(ua.tl.deadline())
    assert ua.deadline() is None          # the registration's refresh no longer counts
    assert r.deadline() == 300.1          # ... although the registration still wants it
    assert _wire_requests(ua.on_timer(300.1)) == []


def test_removed_tu_still_gets_the_answer_to_what_it_sent():
    ua, r = _setup()
    _register(ua, r)
    (bye,) = _wire_requests(ua.run_tu(r, r.stop(10.0), 10.0))
    assert bye.headers.get("Expires") == "0"
    ua.remove_tu(r)
    out = _answer(ua, bye, 10.1, 0)
    assert _events(out, "unregistered") == [{"line": 1, "registrar": "127.0.0.1:5060", "status": 200}]
    assert r.state == "stopped"
    # once its transaction ends the UA forgets the owner too
    while ua.tl.deadline() is not None:
        ua.on_timer(ua.tl.deadline())
    assert ua.owner == {} and ua.dest == {}
