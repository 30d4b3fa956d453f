"""RFC 3263 §4.3 for calls: an INVITE that gets no answer at all from the first of the proxy's
targets goes, as a new transaction, to the next one; a proxy whose address is not known yet
fails the call at once. Two call layers on the virtual network, Timer B on the virtual clock."""

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.useragent import UserAgent
from tests.calls.vnet import VirtualNet

A = ("127.0.0.1", 5070)
B = ("127.0.0.1", 5080)
DEAD = ("127.0.0.1", 9)


def line(port, user, domain):
    return {"port": port, "user": user, "password": "secret" + user, "auth_user": None, "display_name": None,
            "domain": domain, "no_answer_s": 60, "direct_calls": False}


def build(hops_of_a, hops_of_b=(A, DEAD)):
    """A calls through `hops_of_a` (its proxy's targets, in order); B's proxy is A."""
    net = VirtualNet()
    net.drop = lambda data: net.wire[-1][1] == DEAD         # nothing listens there
    ua_a = UserAgent(*A, t1=0.5)
    a = CallManager(ua_a, [line(1, "1001", "127.0.0.1:5080")], lambda p: hops_of_a[0] if hops_of_a else None,
                    lambda: (A[0], 20000), fallbacks_for=lambda p: list(hops_of_a[1:]))
    ua_b = UserAgent(*B, t1=0.5)
    b = CallManager(ua_b, [line(1, "1002", "127.0.0.1:5070")], lambda p: hops_of_b[0], lambda: (B[0], 20002),
                    fallbacks_for=lambda p: list(hops_of_b[1:]))
    net.nodes = {A: (ua_a, a), B: (ua_b, b)}
    return net, a, b


def invites(net):
    """One (dest, INVITE) per client transaction (Timer A retransmissions folded)."""
    out, seen = [], set()
    for at, dest, data in net.raw:
        if data.startswith(b"INVITE "):
            m = parse_message(data)
            if m.via[0].branch not in seen:
                seen.add(m.via[0].branch)
                out.append((dest, m))
    return out


def test_an_invite_without_any_answer_goes_to_the_next_target():
    net, a, b = build([DEAD, B])
    net.run(a.dial(1, "1002", 0.0), A)
    assert [d for d, m in invites(net)] == [DEAD]
    net.tick(31.9)
    assert [d for d, m in invites(net)] == [DEAD] and a.call_on(1).state == "dialing"
    net.tick(32.5)                                        # Timer B = 64*T1
    sent = invites(net)
    assert [d for d, m in sent] == [DEAD, B]
    first, again = sent[0][1], sent[-1][1]
    assert again.call_id == first.call_id and again.cseq.seq == first.cseq.seq
    assert again.via[0].branch != first.via[0].branch
    assert (B, 1, "incoming") in [c[:3] for c in net.line_cmds]
    dialing = [e[2] for e in net.events if e[0] == A and e[1] == "call" and e[2]["state"] == "dialing"]
    assert len(dialing) == 2 and dialing[1]["failover_to"] == "127.0.0.1:5080"
    assert dialing[1]["reason"] == "no answer from 127.0.0.1:9"
    net.now = 33.0
    net.run(b.answer(1, 33.0), B)
    assert (A, 1, "remote_answered") in net.line_cmds


def test_without_another_target_timer_b_ends_the_call_as_before():
    net, a, b = build([DEAD])
    net.run(a.dial(1, "1002", 0.0), A)
    net.tick(40.0)
    assert [d for d, m in invites(net)] == [DEAD]
    assert (A, 1, "remote_failed", "congestion") in net.line_cmds
    ended = [e[2] for e in net.events if e[0] == A and e[1] == "call" and e[2]["state"] == "ended"]
    assert ended and ended[0]["reason"] == "no answer from the proxy (no answer from 127.0.0.1:9)"


def test_a_proxy_not_yet_located_fails_the_call_at_once():
    net, a, b = build([])
    net.run(a.dial(1, "1002", 0.0), A)
    assert net.raw == []
    assert (A, 1, "remote_failed", "congestion") in net.line_cmds
    ended = [e[2] for e in net.events if e[0] == A and e[1] == "call" and e[2]["state"] == "ended"]
    assert ended[0]["reason"] == "the proxy's address is not known (DNS)" and a.calls == {}


def test_an_invite_from_any_target_of_the_proxy_is_not_a_ghost_call():
    # B's proxy targets are [DEAD, A]: an INVITE from A, its second, is taken
    net, a, b = build([B], hops_of_b=(DEAD, A))
    net.run(a.dial(1, "1002", 0.0), A)
    assert (B, 1, "incoming") in [c[:3] for c in net.line_cmds]
    assert not [e for e in net.events if e[1] == "error" and "ghost" in e[2]["message"]]
    # and from an address that is none of them, refused
    net, a, b = build([B], hops_of_b=(DEAD,))
    net.run(a.dial(1, "1002", 0.0), A)
    assert [e for e in net.events if e[1] == "error" and "ghost" in e[2]["message"]]
