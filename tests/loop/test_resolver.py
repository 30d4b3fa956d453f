"""The DNS client (tipring/firmware/loop/resolver.py) against a real DNS server on loopback.

The server (tests/peers/dns_server.py) is authoritative for a small test zone on a free UDP
port of 127.0.0.1 and counts the queries it receives; the cache runs on a `VirtualClock` so a
TTL passes when the test says.
"""

import random
import threading

import pytest

from tipring.firmware.loop import EventLoop
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.resolver import DnsResolver, parse_server
from tests.peers.dns_server import DnsServer

ZONE = {
    "example.test": {"NAPTR": [(10, 10, "s", "SIP+D2U", "", "_sip._udp.example.test"),
                               (20, 10, "s", "SIP+D2T", "", "_sip._tcp.example.test")]},
    "_sip._udp.example.test": {"SRV": [(10, 60, 5071, "a.example.test"), (10, 40, 5072, "b.example.test"),
                                       (20, 0, 5073, "c.example.test")]},
    "a.example.test": {"A": ["127.0.0.11"]},
    "b.example.test": {"A": ["127.0.0.12"]},
    "c.example.test": {"A": ["127.0.0.13"], "AAAA": ["::1"]},
    "plain.test": {"A": ["127.0.0.20"]},
    "hang.test": {"A": ["127.0.0.30"]},
}


@pytest.fixture
def dns_server():
    with DnsServer(ZONE, ttl=60, negative_ttl=30, silent=["hang.test"]) as s:
        yield s


def lookup(resolver, loop, host, port=None, transport="udp", families=("A",)):
    """Run one locate() on the loop (this thread) until its callback fires."""
    box = []
    resolver.locate(host, port, transport, families, lambda t, e: box.append((t, e, threading.get_ident())))
    loop.run(until=lambda: box)
    return box[0]


def make(dns_server, clock=None, timeout=2.0, seed=2782):
    loop = EventLoop()
    r = DnsResolver(loop, servers=[dns_server.address], timeout=timeout, clock=clock or VirtualClock(),
                    rand=random.Random(seed).random)
    return loop, r


def test_naptr_srv_a_in_rfc_3263_order_and_the_callback_on_the_loop_thread(dns_server):
    loop, r = make(dns_server)
    targets, error, thread = lookup(r, loop, "example.test")
    assert error is None and thread == threading.get_ident()
    # priority 10 first (a/b in weighted order), then the priority-20 target
    assert sorted(targets[:2]) == [("127.0.0.11", 5071), ("127.0.0.12", 5072)]
    assert targets[2] == ("127.0.0.13", 5073)
    q = dns_server.queries
    assert q[:2] == [("example.test", "NAPTR"), ("_sip._udp.example.test", "SRV")]
    assert sorted(q[2:]) == [("a.example.test", "A"), ("b.example.test", "A"), ("c.example.test", "A")]
    loop.close()


def test_srv_weights_seeded_spread_over_lookups(dns_server):
    # a fresh resolver per lookup would hit the cache-less server; one resolver, cache cleared
    loop, r = make(dns_server, seed=1)
    firsts = {"127.0.0.11": 0, "127.0.0.12": 0}
    for _ in range(60):
        r.cache.clear()
        targets, error, _ = lookup(r, loop, "example.test")
        firsts[targets[0][0]] += 1
        assert targets[2] == ("127.0.0.13", 5073)
    # weights 60/40: seeded, so the split is fixed; both targets do come first
    assert firsts["127.0.0.11"] > firsts["127.0.0.12"] > 10, firsts
    loop.close()


def test_answers_are_cached_for_their_ttl(dns_server):
    clock = VirtualClock(1000.0)
    loop, r = make(dns_server, clock=clock)
    assert lookup(r, loop, "plain.test", 5080)[:2] == ([("127.0.0.20", 5080)], None)
    assert dns_server.count("plain.test", "A") == 1
    clock.advance(59)
    assert lookup(r, loop, "plain.test", 5080)[:2] == ([("127.0.0.20", 5080)], None)
    assert dns_server.count("plain.test", "A") == 1          # from the cache
    clock.advance(1.5)                                        # TTL 60 s has run out
    assert lookup(r, loop, "plain.test", 5080)[:2] == ([("127.0.0.20", 5080)], None)
    assert dns_server.count("plain.test", "A") == 2
    loop.close()


def test_nxdomain_is_cached_for_the_soa_minimum(dns_server):
    clock = VirtualClock(0.0)
    loop, r = make(dns_server, clock=clock)
    targets, error, _ = lookup(r, loop, "nowhere.test")
    assert targets == [] and error == "nowhere.test: no A record"
    first = dns_server.total()
    assert first == 3                                          # NAPTR, SRV, A: all NXDOMAIN
    clock.advance(29)
    assert lookup(r, loop, "nowhere.test")[:2] == ([], "nowhere.test: no A record")
    assert dns_server.total() == first                        # negative answers cached (RFC 2308)
    clock.advance(2)
    lookup(r, loop, "nowhere.test")
    assert dns_server.total() == 2 * first
    loop.close()


def test_nodata_is_cached_too(dns_server):
    clock = VirtualClock(0.0)
    loop, r = make(dns_server, clock=clock)
    # plain.test has an A record but no NAPTR and no _sip._udp SRV: falls back to A on 5060
    assert lookup(r, loop, "plain.test")[:2] == ([("127.0.0.20", 5060)], None)
    assert dns_server.count("plain.test", "NAPTR") == 1
    lookup(r, loop, "plain.test")
    assert dns_server.count("plain.test", "NAPTR") == 1
    loop.close()


def test_a_silent_server_gives_a_timeout_error_not_cached(dns_server):
    loop, r = make(dns_server, timeout=1.0)
    targets, error, _ = lookup(r, loop, "hang.test", 5060)
    assert targets == [] and error == "A hang.test: DNS timeout after 1 s"
    n = dns_server.count("hang.test")
    assert n >= 1
    lookup(r, loop, "hang.test", 5060)
    assert dns_server.count("hang.test") > n                  # a timeout is asked again
    loop.close()


def test_the_loop_runs_its_timers_while_a_lookup_hangs(dns_server):
    loop, r = make(dns_server, timeout=1.0)
    ticks = []

    def tick():
        ticks.append(loop.now())
        loop.call_later(0.02, tick)

    loop.call_later(0.02, tick)
    box = []
    r.locate("hang.test", 5060, "udp", ("A",), lambda t, e: box.append(e))
    loop.run(until=lambda: box)
    # 1 s of timeout: about 50 ticks of 20 ms fired meanwhile (a blocked loop would fire ~1)
    assert box == ["A hang.test: DNS timeout after 1 s"] and len(ticks) >= 25, len(ticks)
    loop.close()


def test_lookups_of_the_same_host_are_joined(dns_server):
    loop, r = make(dns_server)
    box = []
    for _ in range(3):
        r.locate("plain.test", 5080, "udp", ("A",), lambda t, e: box.append(t))
    loop.run(until=lambda: len(box) == 3)
    assert box == [[("127.0.0.20", 5080)]] * 3 and dns_server.count("plain.test", "A") == 1
    loop.close()


def test_families_ask_for_aaaa(dns_server):
    loop, r = make(dns_server)
    targets, error, _ = lookup(r, loop, "c.example.test", 5090, families=("A", "AAAA"))
    assert targets == [("127.0.0.13", 5090), ("::1", 5090)]
    loop.close()


def test_parse_server():
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("192.0.2.53") == ("192.0.2.53", 53)
    assert parse_server("[::1]:5300") == ("::1", 5300)
    for bad in ("dns.example:53", "127.0.0.1:0", "127.0.0.1:x", "[::1", "[::1]x"):
        with pytest.raises(ValueError):
            parse_server(bad)


def test_addresses_come_from_the_hosts_file_first_and_localhost_is_loopback(dns_server, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# a PBX the LAN's DNS does not know\n127.0.0.42  pbx.lan pbx  # comment\n::1 v6.lan\n")
    loop = EventLoop()
    r = DnsResolver(loop, servers=[dns_server.address], timeout=2.0, clock=VirtualClock(),
                    hosts_file=str(hosts))
    assert lookup(r, loop, "pbx.lan", 5060)[:2] == ([("127.0.0.42", 5060)], None)
    assert lookup(r, loop, "localhost", 5061)[:2] == ([("127.0.0.1", 5061)], None)
    assert lookup(r, loop, "v6.lan", 5060, families=("AAAA",))[:2] == ([("::1", 5060)], None)
    assert dns_server.queries == []          # none of these asked the DNS server
    assert lookup(r, loop, "plain.test", 5060)[:2] == ([("127.0.0.20", 5060)], None)
    assert dns_server.queries == [("plain.test", "A")]
    loop.close()
