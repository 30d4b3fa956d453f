"""Reliable provisional responses as callee (RFC 3262 §3), on the virtual network: tipring B
called by tipring A whose INVITE carries `Require: 100rel`; A's own PRACK code answers."""

from tipring.firmware.sip.message import parse_message
from tests.calls.test_call_flows import A, B, pair


def requiring_100rel(mgr):
    """Make `mgr`'s next calls send INVITEs with Require: 100rel (as some PBXs do)."""
    plain = mgr._new_call

    def new_call(line, direction, now):
        call = plain(line, direction, now)
        call.extra_headers = [("Require", "100rel")]
        return call
    mgr._new_call = new_call


def msgs(net, start, frm=None):
    return [parse_message(d) for at, _, d in net.raw
            if d.startswith(start.encode()) and (frm is None or at == frm)]


def test_require_100rel_gets_a_reliable_180_pracked_then_the_200():
    net, a, b = pair()
    requiring_100rel(a)
    net.run(a.dial(1, "1002", 0.0), A)
    ringing = msgs(net, "SIP/2.0 180", B)
    assert len(ringing) == 1
    r = ringing[0]
    assert r.headers.get("Require") == "100rel"
    rseq = int(r.headers.get("RSeq"))
    assert 1 <= rseq <= 2 ** 31 - 1
    prack = msgs(net, "PRACK", A)
    assert len(prack) == 1 and prack[0].headers.get("RAck") == "%d 1 INVITE" % rseq
    assert [m.status for m in msgs(net, "SIP/2.0 200", B)] == [200]   # the PRACK's 200
    assert msgs(net, "SIP/2.0 200", B)[0].cseq.method == "PRACK"
    net.tick(15.0)                                   # acknowledged: never sent again
    assert len(msgs(net, "SIP/2.0 180", B)) == 1 and not msgs(net, "SIP/2.0 500", B)
    net.run(b.answer(1, 15.0), B)
    assert (A, 1, "remote_answered") in net.line_cmds
    assert b.call_on(1).state == "connected"


def test_unacknowledged_reliable_180_is_resent_at_t1_doubling_then_500_after_64_t1():
    net, a, b = pair()
    requiring_100rel(a)
    net.drop = lambda d: d.startswith(b"PRACK")
    net.raw = _Timed(net)
    for mgr in (a, b):
        mgr.lines[1]["no_answer_s"] = 100            # only the PRACK timer may end the call
    net.run(a.dial(1, "1002", 0.0), A)
    net.tick(40.0)
    times = [t for t, (at, _, d) in zip(_times(net), net.raw) if at == B and d.startswith(b"SIP/2.0 180")]
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    final = msgs(net, "SIP/2.0 500", B)
    assert final and final[0].cseq.method == "INVITE"
    assert (B, 1, "remote_hangup") in net.line_cmds
    assert not b.calls and (A, 1, "remote_failed", "congestion") in net.line_cmds


class _Timed(list):
    """net.raw that also keeps the virtual time of each datagram."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.times = []

    def append(self, item):
        self.times.append(self.net.now)
        super().append(item)


def _times(net):
    return net.raw.times


def test_an_answer_before_the_prack_is_held_until_it_comes():
    net, a, b = pair()
    requiring_100rel(a)
    dropped = []
    net.drop = lambda d: d.startswith(b"PRACK") and not dropped and not dropped.append(d)
    net.run(a.dial(1, "1002", 0.0), A)
    net.now = 0.2
    net.run(b.answer(1, 0.2), B)                     # off-hook while the PRACK is lost
    assert not [m for m in msgs(net, "SIP/2.0 200", B) if m.cseq.method == "INVITE"]
    net.tick(1.0)                                    # A's PRACK retransmission at 0.5 s
    oks = [m.cseq.method for m in msgs(net, "SIP/2.0 200", B)]
    assert oks[:2] == ["PRACK", "INVITE"]
    assert (A, 1, "remote_answered") in net.line_cmds and b.call_on(1).state == "connected"


def test_prack_off_on_the_line_answers_require_100rel_with_420_unsupported():
    net, a, b = pair()
    requiring_100rel(a)
    b.lines[1]["prack"] = False
    net.run(a.dial(1, "1002", 0.0), A)
    r = msgs(net, "SIP/2.0 420", B)
    assert r and r[0].headers.get("Unsupported") == "100rel"
    assert not [c for c in net.line_cmds if c[0] == B]      # the phone never rang


def test_supported_100rel_alone_gets_a_plain_180():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    r = msgs(net, "SIP/2.0 180", B)
    assert r and "RSeq" not in r[0].headers and "Require" not in r[0].headers
    assert "100rel" in msgs(net, "INVITE", A)[0].headers.get("Supported")


def test_a_prack_naming_another_rseq_gets_481_and_retransmissions_go_on():
    net, a, b = pair()
    requiring_100rel(a)
    net.drop = lambda d: d.startswith(b"PRACK")
    net.run(a.dial(1, "1002", 0.0), A)
    prack = msgs(net, "PRACK", A)[0]
    rseq = int(prack.headers.get("RAck").split()[0])
    prack.headers.set("RAck", "%d 1 INVITE" % (rseq + 5))
    prack.headers.set("CSeq", "%d PRACK" % (prack.cseq.seq + 1))
    prack.headers.remove("Via")
    prack.headers.add("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKwrongrack;rport")
    net.drop = None
    net.run(b.ua.receive(bytes(prack), A, 0.1), B)
    assert [m.status for m in msgs(net, "SIP/2.0 481", B)] == [481]
    net.tick(0.6)
    assert len(msgs(net, "SIP/2.0 180", B)) >= 2
