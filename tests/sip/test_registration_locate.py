"""Registration with a looked-up registrar (RFC 3263 §4.3) on a virtual clock.

The registration asks for its registrar's targets (`("locate", reg)`), waits for them, and
moves to the next target when one does not answer (Timer F through the real transaction
layer), answers 503, or when the lookup failed reports it and looks up again after back-off.
"""

from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent, response_to

A, B, C = ("192.0.2.1", 5060), ("192.0.2.2", 5062), ("192.0.2.3", 5060)


def reg(**kw):
    args = dict(line=1, user="1001", password="secret1001", domain="example.test", registrar=None,
                contact="sip:1001@127.0.0.1:5070", expires=600, jitter=lambda: 0.0,
                registrar_text="example.test")
    args.update(kw)
    return Registration(**args)


def wired(ua, r, actions, now):
    """Run the TU's actions through the UA: (datagrams as [(request, dest)], other outputs)."""
    out = ua.run_tu(r, actions, now)
    wire = [(parse_message(o[1]), o[2]) for o in out if o[0] == "send"]
    return wire, [o for o in out if o[0] != "send"]


def named(outputs, name):
    return [o[2] for o in outputs if o[0] == "event" and o[1] == name]


def run_timers(ua, r, until):
    """Fire the UA's timers up to `until`; collect what it sends and says."""
    wire, rest = [], []
    while ua.deadline() is not None and ua.deadline() <= until:
        now = ua.deadline()
        for o in ua.on_timer(now):
            if o[0] == "send":
                wire.append((parse_message(o[1]), o[2], now))
            else:
                rest.append(o)
    return wire, rest


def test_start_waits_for_the_targets_then_registers_at_the_first():
    r = reg()
    assert r.start(0.0) == [("locate", r)] and r.state == "resolving" and r.next_hop is None
    assert r.deadline() is None
    ua = UserAgent("127.0.0.1", 5070)
    ua.add_tu(r)
    wire, _ = wired(ua, r, r.set_targets([A, B], 0.5), 0.5)
    assert [(m.method, d) for m, d in wire] == [("REGISTER", A)] and r.state == "registering"


def test_a_registrar_that_does_not_answer_fails_over_to_the_next_target():
    r = reg()
    ua = UserAgent("127.0.0.1", 5070, t1=0.5)
    ua.add_tu(r)
    r.start(0.0)
    first, _ = wired(ua, r, r.set_targets([A, B, C], 0.0), 0.0)
    wire, rest = run_timers(ua, r, 40.0)
    # Timer F (64*T1 = 32 s) at A, then at once a new REGISTER (new branch, same Call-ID) to B
    to_b = [(m, t) for m, d, t in wire if d == B]
    assert to_b and to_b[0][1] == 32.0
    assert named(rest, "registrar_failover") == [{"line": 1, "registrar": "example.test",
                                                  "reason": "no answer from 192.0.2.1:5060", "to": "192.0.2.2:5062"}]
    m = to_b[0][0]
    assert m.call_id == first[0][0].call_id and m.cseq.seq == 2 and m.via[0].branch != first[0][0].via[0].branch
    assert not named(rest, "registration_failed")
    # B answers: registered there, and the refresh goes to B too
    acts = ua.receive(bytes(response_to(m, 200, to_tag="x", extra=[("Contact", "<sip:1001@127.0.0.1:5070>;expires=600")])),
                      B, 33.0)
    assert named(acts, "registered") and r.next_hop == B
    wire, _ = run_timers(ua, r, 33.0 + 300)
    assert wire and wire[0][1] == B and wire[0][0].method == "REGISTER"


def test_every_target_silent_ends_the_round_in_back_off_and_looks_up_again():
    r = reg()
    ua = UserAgent("127.0.0.1", 5070, t1=0.5)
    ua.add_tu(r)
    r.start(0.0)
    wired(ua, r, r.set_targets([A, B], 0.0), 0.0)
    wire, rest = run_timers(ua, r, 64.5)
    assert [d for m, d, t in wire if m.cseq.seq != 1][-1] == B
    fails = named(rest, "registration_failed")
    assert len(fails) == 1 and fails[0]["reason"] == "no answer from 192.0.2.2:5062" and fails[0]["retry_in"] == 30
    assert len(named(rest, "registrar_failover")) == 1 and r.state == "backoff"
    # after the back-off a new round starts with a fresh lookup
    acts = []
    while not acts:
        acts = r.on_timer(r.deadline())
    assert acts == [("locate", r)] and r.state == "resolving"


def test_503_moves_to_the_next_target():
    r = reg()
    ua = UserAgent("127.0.0.1", 5070)
    ua.add_tu(r)
    r.start(0.0)
    wire, _ = wired(ua, r, r.set_targets([A, B], 0.0), 0.0)
    acts = ua.receive(bytes(response_to(wire[0][0], 503, "Service Unavailable", to_tag="x")), A, 0.1)
    sent = [(parse_message(o[1]), o[2]) for o in acts if o[0] == "send"]
    assert [d for m, d in sent if m.is_request] == [B]
    assert named(acts, "registrar_failover")[0]["reason"] == "503 Service Unavailable from 192.0.2.1:5060"


def test_a_failed_lookup_is_one_registration_failed_and_a_retry():
    r = reg()
    r.start(0.0)
    acts = r.locate_failed("DNS: example.test: no A record", 0.2)
    assert acts == [("event", "registration_failed", {"line": 1, "registrar": "example.test", "status": None,
                                                      "reason": "DNS: example.test: no A record", "retry_in": 30.0})]
    assert r.state == "backoff" and r.deadline() == 30.2
    assert r.locate_failed("again", 0.3) == []           # not resolving: nothing to report
    assert r.on_timer(30.2) == [("locate", r)]


def test_a_late_lookup_after_stop_changes_nothing():
    r = reg()
    r.start(0.0)
    assert r.stop(0.1) == [] and r.state == "stopped"
    assert r.set_targets([A], 0.2) == [] and r.locate_failed("x", 0.2) == []
    assert r.state == "stopped"


def test_a_numeric_registrar_needs_no_lookup():
    r = reg(registrar=("127.0.0.1", 5060), registrar_text=None)
    acts = r.start(0.0)
    assert [a[0] for a in acts] == ["send"] and r.next_hop == ("127.0.0.1", 5060)
    assert r.registrar_text == "127.0.0.1:5060"
    r.next_hop = ("127.0.0.2", 5070)          # the older interface: one fixed hop
    assert r.targets == [("127.0.0.2", 5070)]
