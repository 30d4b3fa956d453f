"""Admission of new requests (tipring/firmware/sip/ratelimit.py) and how the UA and the transaction
layer keep a flood bounded: on a virtual clock, with real messages."""

from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.ratelimit import RequestLimiter
from tipring.firmware.sip.transaction_layer import TransactionLayer
from tipring.firmware.sip.useragent import UserAgent
from tests.peers.flood import request

ATA = ("127.0.0.1", 5070)


def test_a_stranger_gets_its_burst_then_its_rate():
    lim = RequestLimiter(rate=10, burst=20)
    admitted = sum(lim.admit("10.0.0.9", 5060, 0.0) for _ in range(100))
    assert admitted == 20 and lim.limited == 80
    # one second later: 10 more
    assert sum(lim.admit("10.0.0.9", 5060, 1.0) for _ in range(100)) == 10


def test_a_source_is_the_host_whatever_its_port():
    lim = RequestLimiter(rate=1, burst=5)
    assert sum(lim.admit("10.0.0.9", 1000 + i, 0.0) for i in range(50)) == 5


def test_the_proxy_keeps_its_own_bucket_while_a_stranger_floods_from_the_same_host():
    proxy = ("127.0.0.1", 5060)
    lim = RequestLimiter(rate=10, burst=20, is_trusted=lambda h, p: (h, p) == proxy)
    for _ in range(1000):
        lim.admit("127.0.0.1", 40000, 0.0)
    assert all(lim.admit(*proxy, 0.0) for _ in range(100))


def test_many_strangers_share_one_total_bucket_and_the_table_is_bounded():
    lim = RequestLimiter(rate=10, burst=20, total_rate=50, total_burst=100, max_sources=64)
    admitted = sum(lim.admit("10.1.%d.%d" % (i // 250, i % 250), 5060, 0.0) for i in range(5000))
    assert admitted == 100
    assert lim.sources == 64


def test_an_episode_is_reported_once_then_at_most_every_report_every_seconds():
    lim = RequestLimiter(rate=1, burst=1, report_every=10)
    reports = []
    for i in range(3000):
        now = i * 0.01
        lim.admit("10.0.0.9", 5060, now)
        n = lim.episode(now)
        if n is not None:
            reports.append((now, n))
    assert len(reports) == 3 and reports[0][0] < 0.1
    assert sum(n for _, n in reports) <= lim.limited


def test_the_ua_drops_a_flood_unanswered_but_answers_retransmissions_of_what_it_admitted():
    ua = UserAgent(*ATA)
    src = ("127.0.0.1", 40000)
    first = request("OPTIONS", ATA, "1001", 0, src[1])
    answers = [a for a in ua.receive(first, src, 0.0) if a[0] == "send"]
    assert len(answers) == 1
    for i in range(1, 500):
        ua.receive(request("OPTIONS", ATA, "1001", i, src[1]), src, 0.0)
    assert ua.stats["limited"] >= 400
    # the source is out of tokens, yet a retransmission of the admitted request is answered
    again = [a for a in ua.receive(first, src, 0.0) if a[0] == "send"]
    assert again == answers
    # and malformed garbage from it draws neither a 400 nor an event per datagram
    events = []
    for i in range(100):
        events += ua.receive(b"OPTIONS sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n", src, 0.0)
    assert not [a for a in events if a[0] == "send"]
    assert len([a for a in events if a[0] == "event"]) <= 1


def test_the_transaction_table_is_bounded_and_its_timers_are_not_a_walk():
    tl = TransactionLayer(max_servers=1000)
    for i in range(1500):
        msg = parse_message(request("OPTIONS", ATA, "1001", i, 40000))
        acts = tl.receive(msg, i * 0.001)
        if i < 1000:
            tx = acts[-1].tx
            from tipring.firmware.sip.useragent import response_to
            tl.send_response(response_to(tx.request, 200, to_tag="t"), i * 0.001)
        else:
            assert [a.kind for a in acts] == ["overload"]
    assert tl.server_count == 1000
    # Timer J (64*T1 = 32 s) ends them in order; the deadline is always the earliest live one
    assert abs(tl.deadline() - 32.0) < 1e-9
    ended = [a for a in tl.on_timer(32.5) if a.kind == "terminated"]
    assert len(ended) == 501 and tl.server_count == 499
    tl.on_timer(40.0)
    assert tl.server_count == 0 and tl.transactions == {} and tl.deadline() is None
