"""Recovery and NAT against a real Kamailio (issue 13, items 4-5): a registrar restart with
`expires = 3600` noticed by the OPTIONS ping and re-registered within a bound derived from
the config, then a call through it reaches the handset; a backup registrar taking over and
the line returning to the primary; tipring behind a NAT (a loopback relay) registering the
address Kamailio saw, sending keep-alives, and taking a call through the NAT.

The times printed are measurements; the asserts are functional plus generous bounds."""

import shutil
import time

import pytest

from tests.peers.firmware import RunningFirmware
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_media_port, free_port
from tests.peers.natrelay import NatRelay
from tests.peers.sipp import Sipp

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("kamailio") or not shutil.which("sipp"),
                                 reason="kamailio/sipp not installed (tools/setup --test)")]

PING_S = 2


def config(registrar, control, sip_port, domain=None, **line):
    ln = {"port": 1, "user": "1001", "password": "secret1001", "registrar": registrar,
          "domain": domain or registrar, "expires": 3600, "registrar_ping_s": PING_S}
    ln.update(line)
    return {"board": {"kind": "sim", "control": "127.0.0.1:%d" % control, "country": "us"},
            "sip": {"bind": "127.0.0.1:%d" % sip_port, "t1_ms": 100}, "line": [ln]}


@pytest.fixture
def kam(tmp_path):
    k = Kamailio(str(tmp_path))
    k.start()
    yield k
    k.stop()


def call_1001_through(tmp_path, kam, control, name="uac"):
    """SIPp calls 1001 through Kamailio; the sim handset answers; SIPp hangs up."""
    s = Sipp(str(tmp_path), "call_in_proxied.xml", free_port(), name=name,
             extra=[kam.address, "-s", "1001", "-mi", "127.0.0.1", "-mp", str(free_media_port()),
                    "-timeout", "20s"])
    with s, Handset("127.0.0.1:%d" % control) as h:
        assert h.ok("wait ringing 10"), s.messages()[-2000:]
        h.ok("offhook")
        rc = s.wait(20)
        h.ok("onhook")
        return rc, s


def test_a_restart_quicker_than_the_ping_is_caught_by_the_binding_query(kam, tmp_path):
    """Kamailio stopped and started again at once (well inside one ping interval): every ping
    is answered, only the REGISTER query after the next one shows the binding gone."""
    sip, control = free_port(), free_port()
    with RunningFirmware(str(tmp_path), config(kam.address, control, sip)) as fw:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10)
        time.sleep(PING_S + 0.5)                 # a ping and a query have run: still bound
        n = len(fw.events())
        kam.stop()
        kam.start()
        up_at = time.monotonic()
        assert kam.contacts("1001") == []
        back = fw.wait_event(lambda e: e["event"] == "registered", PING_S * 3 + 10, since=n)
        took = time.monotonic() - up_at
        print("re-registered %.2f s after a quick Kamailio restart (ping every %d s, expires 3600)"
              % (took, PING_S))
        assert back, fw.events()[n:]
        lost = [e for e in fw.events()[n:] if e["event"] == "registration_failed"]
        assert lost and lost[0].get("cause") in ("check", "ping"), lost
        assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")
        rc, s = call_1001_through(tmp_path, kam, control)
        assert rc == 0, s.errors()[-2000:]


def test_kamailio_restart_at_expires_3600_is_noticed_and_the_line_takes_calls_again(kam, tmp_path):
    sip, control = free_port(), free_port()
    with RunningFirmware(str(tmp_path), config(kam.address, control, sip)) as fw:
        first = fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert first and first["expires"] == 3600
        n = len(fw.events())
        kam.stop()                       # usrloc is in memory: every binding is lost
        down_for = PING_S * 2 + 1        # long enough for a ping to go unanswered
        time.sleep(down_for)
        kam.start()
        up_at = time.monotonic()
        assert kam.contacts("1001") == []
        back = fw.wait_event(lambda e: e["event"] == "registered", PING_S * 3 + 10, since=n)
        took = time.monotonic() - up_at
        print("re-registered %.2f s after Kamailio came back (down %d s, ping every %d s, expires 3600)"
              % (took, down_for, PING_S))
        assert back, fw.events()[n:]
        fails = [e for e in fw.events()[n:] if e["event"] == "registration_failed"]
        assert fails and fails[0].get("cause") == "ping", fails
        assert len(fails) <= 3, fails          # rate-limited while down
        assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")
        rc, s = call_1001_through(tmp_path, kam, control)
        assert rc == 0, s.errors()[-2000:]
        assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 5)


def test_backup_registrar_takes_over_and_the_line_returns_to_the_primary(kam, tmp_path):
    # the backup serves the same domain (the primary's address, as the line's domain)
    backup = Kamailio(str(tmp_path), extra_args=["--alias=127.0.0.1:%d" % kam.port])
    backup.start()
    try:
        sip, control = free_port(), free_port()
        cfg = config(kam.address, control, sip, registrar_backup=backup.address)
        with RunningFirmware(str(tmp_path), cfg) as fw:
            assert fw.wait_event(lambda e: e["event"] == "registered", 10)
            n = len(fw.events())
            kam.stop()
            t0 = time.monotonic()
            there = fw.wait_event(lambda e: e["event"] == "registered" and e.get("backup"), PING_S * 3 + 10, since=n)
            print("on the backup %.2f s after the primary stopped" % (time.monotonic() - t0))
            assert there and there["registrar"] == backup.address, fw.events()[n:]
            assert "sip:1001@127.0.0.1:%d" % sip in backup.contacts("1001")
            time.sleep(PING_S * 2)     # it stays on the backup while the primary is down
            assert not [e for e in fw.events()[n:] if e["event"] == "registered" and not e.get("backup")]
            m = len(fw.events())
            kam.start()
            t1 = time.monotonic()
            home = fw.wait_event(lambda e: e["event"] == "registered" and not e.get("backup"), PING_S * 3 + 10, since=m)
            print("back on the primary %.2f s after it restarted" % (time.monotonic() - t1))
            assert home and home["registrar"] == kam.address, fw.events()[m:]
            assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")
    finally:
        backup.stop()


def test_behind_a_nat_the_contact_is_what_kamailio_saw_keepalives_flow_and_calls_arrive(kam, tmp_path):
    keepalive_s = 1
    with NatRelay(("127.0.0.1", kam.port)) as nat:
        sip, control = free_port(), free_port()
        cfg = config("127.0.0.1:%d" % nat.inside[1], control, sip, domain=kam.address, registrar_ping_s=0)
        cfg["sip"]["nat_keepalive_s"] = keepalive_s
        with RunningFirmware(str(tmp_path), cfg) as fw:
            ok = fw.wait_event(lambda e: e["event"] == "registered", 10)
            mapped = "sip:1001@%s:%d" % nat.outside
            assert ok and ok.get("contact") == mapped, fw.events()
            nat_ev = fw.named("nat")
            assert nat_ev and nat_ev[0]["was"] == "sip:1001@127.0.0.1:%d" % sip
            # the registrar holds the mapped contact only (the old one was removed)
            assert kam.contacts("1001") == [mapped]
            time.sleep(keepalive_s * 3.5)
            ka = list(nat.keepalives)
            gaps = [b - a for a, b in zip(ka, ka[1:])]
            print("keep-alives through the NAT: %d, gaps %s s" % (len(ka), ["%.2f" % g for g in gaps]))
            assert len(ka) >= 2 and min(gaps) >= keepalive_s * 0.5
            rc, s = call_1001_through(tmp_path, kam, control, name="uac-nat")
            assert rc == 0, s.errors()[-2000:]
            assert nat.forwarded > 0
            assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 5)
