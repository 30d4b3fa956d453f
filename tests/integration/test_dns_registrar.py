"""A registrar given by name (RFC 3263): `tipring run` against a real DNS server and a real
Kamailio, both on loopback free ports.

The DNS server (tests/peers/dns_server.py) is authoritative for the `.test` zone and is named
by `sip.dns_servers`; the registrar's SRV records point at a dead port first and Kamailio
second. Also: a name that does not exist, a DNS server that never answers (one clear
`registration_failed`, no traceback), and the sim board's 20 ms media clock ticking on while a
lookup hangs (the lookup is not on the loop thread).
"""

import shutil
import threading
import time

import pytest

from tipring.firmware.app import Firmware
from tipring.firmware.config import validate
from tests.peers.dns_server import DnsServer
from tests.peers.firmware import RunningFirmware
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

need_kamailio = pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio not installed (tools/setup --test)")


def config(registrar, dns, domain=None, t1_ms=100, timeout_s=3, register=True):
    return {"board": {"kind": "sim", "control": "127.0.0.1:%d" % free_port()},
            "sip": {"bind": "127.0.0.1:%d" % free_port(), "t1_ms": t1_ms, "dns_servers": [dns.address],
                    "dns_timeout_s": timeout_s},
            "line": [{"port": 1, "user": "1001", "password": "secret1001", "registrar": registrar,
                      "domain": domain or registrar, "expires": 60, "register": register}]}


@pytest.mark.peers
@need_kamailio
def test_srv_failover_registers_at_the_second_target(tmp_path):
    dead = free_port()
    with Kamailio(str(tmp_path)) as kam:
        zone = {"sip.test": {"NAPTR": [(10, 10, "s", "SIP+D2U", "", "_sip._udp.sip.test")]},
                "_sip._udp.sip.test": {"SRV": [(10, 0, dead, "dead.sip.test"), (20, 0, kam.port, "live.sip.test")]},
                "dead.sip.test": {"A": ["127.0.0.1"]},
                "live.sip.test": {"A": ["127.0.0.1"]}}
        with DnsServer(zone, ttl=300) as dns, \
                RunningFirmware(str(tmp_path), config("sip.test", dns, domain=kam.address)) as fw:
            # Timer F at the dead port (64 * T1 = 6.4 s), then at once Kamailio
            reg = fw.wait_event(lambda e: e["event"] == "registered", 20)
            assert reg, fw.events()
            moved = fw.named("registrar_failover")
            assert len(moved) == 1 and moved[0]["to"] == "127.0.0.1:%d" % kam.port
            assert moved[0]["reason"] == "no answer from 127.0.0.1:%d" % dead
            assert moved[0]["registrar"] == "sip.test" and reg["registrar"] == "sip.test"
            assert not fw.named("registration_failed")
            assert kam.contacts("1001"), kam.log()[-800:]
            assert dns.count("sip.test", "NAPTR") == 1 and dns.count("_sip._udp.sip.test", "SRV") == 1
            assert fw.stop() == 0
            assert [e["status"] for e in fw.named("unregistered")] == [200]   # at the one that answered
        assert kam.contacts("1001") == []


@pytest.mark.peers
@need_kamailio
def test_explicit_port_skips_naptr_and_srv(tmp_path):
    with Kamailio(str(tmp_path)) as kam:
        with DnsServer({"pbx.test": {"A": ["127.0.0.1"]}}) as dns, \
                RunningFirmware(str(tmp_path), config("pbx.test:%d" % kam.port, dns, domain=kam.address)) as fw:
            assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
            assert dns.queries == [("pbx.test", "A")]                   # RFC 3263 §4.2


def test_a_name_that_does_not_exist_is_one_clear_failure(tmp_path):
    with DnsServer({}) as dns, RunningFirmware(str(tmp_path), config("nowhere.test", dns)) as fw:
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
        assert fail and fail["reason"] == "DNS: nowhere.test: no A record" and fail["status"] is None
        assert fail["retry_in"] >= 24 and fail["registrar"] == "nowhere.test"
        time.sleep(0.5)
        assert len(fw.named("registration_failed")) == 1 and not fw.named("error")
        out = fw.output()
        assert "Traceback" not in out and "nowhere.test: no A record" in out
        assert dns.queries == [("nowhere.test", "NAPTR"), ("_sip._udp.nowhere.test", "SRV"), ("nowhere.test", "A")]
        assert fw.stop() == 0


def test_a_dns_server_that_never_answers_is_one_clear_failure(tmp_path):
    with DnsServer({}, silent=["hang.test"]) as dns, \
            RunningFirmware(str(tmp_path), config("hang.test", dns, timeout_s=2)) as fw:
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
        assert fail and fail["reason"] == "DNS: NAPTR hang.test: DNS timeout after 2 s", fail
        time.sleep(0.3)
        assert len(fw.named("registration_failed")) == 1 and not fw.named("error")
        out = fw.output()
        assert "Traceback" not in out and "DNS timeout after 2 s" in out
        assert fw.stop() == 0                           # shuts down at once, lookup or not


def test_the_media_clock_keeps_its_pace_while_a_lookup_hangs():
    """In-process: the sim board's 20 ms ticks counted while the registrar's lookup waits 3 s
    for a DNS server that never answers. A lookup on the loop thread would stall them all."""
    with DnsServer({}, silent=["hang.test"]) as dns:
        raw = config("hang.test", dns, timeout_s=3)
        raw["board"]["control"] = "127.0.0.1:0"
        fw = Firmware(validate(raw), log_json=None)
        events = []
        emit = fw.emit
        fw.emit = lambda name, fields: (events.append((name, dict(fields))), emit(name, fields))[1]
        fw.start()
        board = fw.board
        ticks = []
        tick_due = board._tick_due

        def counted():
            ticks.append(fw.loop.now())
            tick_due()

        board._tick_due = counted
        thread = threading.Thread(target=fw.loop.run, daemon=True)
        thread.start()
        try:
            with Handset(board.address) as hs:
                hs.ok("offhook")                 # dial tone: the line's media clock runs
                end = time.monotonic() + 10
                while not any(n == "registration_failed" for n, f in events) and time.monotonic() < end:
                    time.sleep(0.05)
                fail = [f for n, f in events if n == "registration_failed"]
                assert fail and fail[0]["reason"] == "DNS: NAPTR hang.test: DNS timeout after 3 s"
                assert dns.count("hang.test", "NAPTR") >= 1
                # at least 3 s passed with the line off-hook: ~150 ticks of 20 ms; a loop blocked
                # in the lookup would have fired a handful and then skipped ahead (MAX_BEHIND)
                assert len(ticks) >= 100, len(ticks)
                hs.ok("onhook")
        finally:
            fw.loop.call_soon_threadsafe(fw.loop.stop)
            thread.join(5)
            fw.close()
