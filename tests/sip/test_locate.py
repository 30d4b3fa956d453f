"""RFC 3263 server location and RFC 2782 SRV ordering (tipring/firmware/sip/locate.py), sans-IO."""

import random

import pytest

from tipring.firmware.sip.locate import Locator, is_numeric_host, order_naptr, order_srv


def drive(loc, zone):
    """Answer the locator's questions from `zone` {(name, rdtype): records or "timeout"}."""
    asked = []
    while (q := loc.next_query()) is not None:
        asked.append(q)
        got = zone.get(q, [])
        if got == "timeout":
            loc.fail("timeout")
        else:
            loc.answer(got)
    return asked


def test_numeric_hosts_need_no_dns():
    for host, port, want in (("127.0.0.1", 5070, ("127.0.0.1", 5070)), ("10.0.0.1", None, ("10.0.0.1", 5060)),
                             ("[::1]", 5080, ("::1", 5080)), ("::1", None, ("::1", 5060))):
        loc = Locator(host, port, "udp")
        assert loc.done and loc.next_query() is None and loc.targets == [want]
    assert Locator("10.0.0.1", None, "tls").targets == [("10.0.0.1", 5061)]
    assert is_numeric_host("192.0.2.1") and not is_numeric_host("192.0.2.1.example")
    assert not is_numeric_host("256.1.1.1") and not is_numeric_host("pbx")


def test_explicit_port_asks_only_for_addresses():
    loc = Locator("pbx.example", 5070, "udp", families=("A", "AAAA"))
    asked = drive(loc, {("pbx.example", "A"): ["192.0.2.5"], ("pbx.example", "AAAA"): ["2001:db8::5"]})
    assert asked == [("pbx.example", "A"), ("pbx.example", "AAAA")]
    assert loc.targets == [("192.0.2.5", 5070), ("2001:db8::5", 5070)] and loc.error is None


def test_naptr_then_srv_then_addresses():
    zone = {
        ("example.net", "NAPTR"): [
            (20, 10, "s", "SIP+D2T", "", "_sip._tcp.example.net."),
            (10, 20, "s", "SIP+D2U", "", "_sip._udp.b.example.net."),
            (10, 10, "s", "SIP+D2U", "", "_sip._udp.a.example.net."),
            (10, 5, "u", "SIP+D2U", "!.*!sip:x!", ""),        # not terminal-to-SRV: skipped
        ],
        ("_sip._udp.a.example.net", "SRV"): [(10, 0, 5062, "two.example.net."), (5, 0, 5061, "one.example.net.")],
        ("one.example.net", "A"): ["192.0.2.1"],
        ("two.example.net", "A"): ["192.0.2.2", "192.0.2.3"],
    }
    loc = Locator("example.net", None, "udp")
    asked = drive(loc, zone)
    assert asked == [("example.net", "NAPTR"), ("_sip._udp.a.example.net", "SRV"),
                     ("one.example.net", "A"), ("two.example.net", "A")]
    assert loc.targets == [("192.0.2.1", 5061), ("192.0.2.2", 5062), ("192.0.2.3", 5062)]


@pytest.mark.parametrize("transport,srv", [("udp", "_sip._udp.example.net"), ("tcp", "_sip._tcp.example.net"),
                                           ("tls", "_sips._tcp.example.net")])
def test_without_naptr_the_srv_name_follows_the_transport(transport, srv):
    loc = Locator("example.net", None, transport)
    asked = drive(loc, {(srv, "SRV"): [(0, 0, 7000, "pbx.example.net")], ("pbx.example.net", "A"): ["192.0.2.9"]})
    assert asked[:2] == [("example.net", "NAPTR"), (srv, "SRV")]
    assert loc.targets == [("192.0.2.9", 7000)]


def test_naptr_for_another_transport_is_not_followed():
    assert order_naptr([(10, 10, "s", "SIPS+D2T", "", "_sips._tcp.example.net.")], "udp") == []
    assert order_naptr([(10, 10, "S", "sips+d2t", "", "_sips._tcp.Example.NET.")], "tls") == ["_sips._tcp.example.net"]


def test_no_srv_falls_back_to_the_host_on_the_default_port():
    loc = Locator("pbx.example", None, "tls")
    drive(loc, {("pbx.example", "A"): ["192.0.2.7"]})
    assert loc.targets == [("192.0.2.7", 5061)]


def test_srv_dot_target_means_no_service():
    loc = Locator("example.net", None, "udp")
    drive(loc, {("_sip._udp.example.net", "SRV"): [(0, 0, 0, ".")], ("example.net", "A"): ["192.0.2.1"]})
    assert loc.targets == [] and "no udp service" in loc.error


def test_nxdomain_everywhere_is_one_clear_error():
    loc = Locator("nowhere.example", None, "udp")
    asked = drive(loc, {})
    assert asked == [("nowhere.example", "NAPTR"), ("_sip._udp.nowhere.example", "SRV"), ("nowhere.example", "A")]
    assert loc.targets == [] and loc.error == "nowhere.example: no A record"


def test_a_timeout_on_naptr_ends_the_lookup():
    loc = Locator("slow.example", None, "udp")
    asked = drive(loc, {("slow.example", "NAPTR"): "timeout"})
    assert asked == [("slow.example", "NAPTR")]
    assert loc.done and loc.targets == [] and loc.error == "NAPTR slow.example: timeout"


def test_a_target_whose_address_times_out_is_skipped():
    loc = Locator("example.net", None, "udp")
    drive(loc, {("_sip._udp.example.net", "SRV"): [(1, 0, 5060, "dead.example.net"), (2, 0, 5060, "live.example.net")],
                ("dead.example.net", "A"): "timeout", ("live.example.net", "A"): ["192.0.2.4"]})
    assert loc.targets == [("192.0.2.4", 5060)] and loc.error is None


def test_srv_priority_is_strict_and_weight_zero_goes_first_only_on_a_zero_draw():
    recs = [(20, 0, 1, "c"), (10, 50, 1, "b"), (10, 0, 1, "a"), (30, 5, 1, "d")]
    assert [r[3] for r in order_srv(recs, lambda: 0.0)] == ["a", "b", "c", "d"]
    assert [r[3] for r in order_srv(recs, lambda: 0.999)] == ["b", "a", "c", "d"]


def test_srv_weights_share_the_first_pick_in_proportion():
    rng = random.Random(3263)
    recs = [(10, 60, 5060, "big"), (10, 30, 5060, "mid"), (10, 10, 5060, "small"), (20, 100, 5060, "backup")]
    first = {"big": 0, "mid": 0, "small": 0}
    for _ in range(5000):
        order = order_srv(recs, rng.random)
        assert order[-1][3] == "backup" and sorted(r[3] for r in order[:3]) == ["big", "mid", "small"]
        first[order[0][3]] += 1
    # expected 60 %, 30 %, 10 % of 5000 (about 2970, 1490, 500 with the 0-draw); seeded: exact
    assert 2800 < first["big"] < 3150 and 1350 < first["mid"] < 1650 and 400 < first["small"] < 600, first


def test_rand_at_its_top_never_overruns():
    assert [r[3] for r in order_srv([(0, 1, 1, "x"), (0, 1, 1, "y")], lambda: 0.9999999999)] == ["y", "x"]
