"""Registration against a real Kamailio (digest, usrloc) started on a free loopback port.

FLOWS.md §2-3: REGISTER -> 401 -> REGISTER with credentials -> 200; refresh before expiry;
de-registration on SIGTERM; a wrong password reported, not hammered; a registrar restart
survived without restarting tipring.
"""

import shutil
import time

import pytest

from tests.peers.firmware import RunningFirmware
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio not installed (tools/setup --test)")]


def config(kam, sip_port, password="secret1001", expires=10, t1_ms=500):
    return {"board": {"kind": "sim", "control": "127.0.0.1:%d" % free_port()},
            "sip": {"bind": "127.0.0.1:%d" % sip_port, "t1_ms": t1_ms},
            "line": [{"port": 1, "user": "1001", "password": password, "registrar": kam.address,
                      "domain": kam.address, "expires": expires}]}


@pytest.fixture
def kam(tmp_path):
    k = Kamailio(str(tmp_path))
    k.start()
    yield k
    k.stop()


def test_register_refresh_and_deregister_on_sigterm(kam, tmp_path):
    sip = free_port()
    with RunningFirmware(str(tmp_path), config(kam, sip)) as fw:
        first = fw.wait_event(lambda e: e["event"] == "registered", 10)
        assert first and first["line"] == 1 and first["expires"] == 10
        assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")
        # refreshed before the 10 s binding lapses: a second `registered`, contact still there
        n = len(fw.events())
        again = fw.wait_event(lambda e: e["event"] == "registered", 12, since=n)
        assert again, fw.events()
        assert kam.contacts("1001")
        assert not fw.named("registration_failed")
        assert fw.stop() == 0
        un = [e for e in fw.events() if e["event"] == "unregistered"]
        assert un and un[0]["status"] == 200
    assert kam.contacts("1001") == []


def test_wrong_password_is_reported_once_and_not_hammered(kam, tmp_path):
    with RunningFirmware(str(tmp_path), config(kam, free_port(), password="Zq9-notmine")) as fw:
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
        assert fail and fail["status"] == 401
        assert "wrong password" in fail["reason"]
        assert fail["retry_in"] >= 24  # 30 s back-off, jittered down by at most 20 %
        time.sleep(2)
        assert len(fw.named("registration_failed")) == 1
        assert not fw.named("registered")
        challenges = kam.log().count("challenging REGISTER")
        assert challenges == 2, "expected one challenge and one rejected answer, saw %d" % challenges
        assert "Zq9-notmine" not in str(fw.events()) + fw.output()  # secrets never printed
    assert kam.contacts("1001") == []


def test_registrar_restart_is_survived_without_restarting_tipring(kam, tmp_path):
    sip = free_port()
    with RunningFirmware(str(tmp_path), config(kam, sip)) as fw:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10)
        kam.stop()          # the registrar reboots and forgets every binding and nonce
        kam.start()
        assert kam.contacts("1001") == []
        n = len(fw.events())
        back = fw.wait_event(lambda e: e["event"] == "registered", 15, since=n)
        assert back, fw.events()
        assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")


@pytest.mark.slow
def test_registrar_down_longer_than_the_binding_then_back(kam, tmp_path):
    sip = free_port()
    with RunningFirmware(str(tmp_path), config(kam, sip, t1_ms=100)) as fw:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10)
        kam.stop()
        n = len(fw.events())
        fail = fw.wait_event(lambda e: e["event"] == "registration_failed", 20, since=n)
        assert fail and fail["status"] is None and "no answer" in fail["reason"]
        kam.start()
        back = fw.wait_event(lambda e: e["event"] == "registered", 45, since=n)
        assert back, fw.events()
        assert "sip:1001@127.0.0.1:%d" % sip in kam.contacts("1001")


def test_a_changed_account_de_registers_the_old_registration_and_it_leaves_the_ua(kam, tmp_path):
    """In-process: `apply_config` with a new `expires` replaces the line's Registration. The
    old one de-registers (Kamailio's 200 still reaches it) and has left `ua.tus` with its
    monitor at once, so no refresh or keep-alive of the old account runs on; the new one
    registers and is the line's only registration TU."""
    import threading

    from tipring.firmware import config as config_mod
    from tipring.firmware.app import Firmware

    raw = config(kam, free_port(), expires=60)
    raw["sip"]["nat_keepalive_s"] = 15          # a monitor TU beside each registration
    fw = Firmware(config_mod.validate(raw), log_json=None)
    events = []
    emit = fw.emit
    fw.emit = lambda name, fields: (events.append((name, dict(fields))), emit(name, fields))[1]
    fw.start()
    thread = threading.Thread(target=fw.loop.run, daemon=True)
    thread.start()

    def wait(pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    try:
        assert wait(lambda: any(n == "registered" for n, f in events)), events
        old = fw.registrations[1]
        assert old in fw.ua.tus and old.monitor is not None and old.monitor in fw.ua.tus
        done = []
        new_cfg = config_mod.set_value(fw.cfg, "line.1.expires", "120")
        fw.loop.call_soon_threadsafe(lambda: done.append(fw.apply_config(new_cfg)))
        assert wait(lambda: done) and "line 1: re-registering" in done[0]
        new = fw.registrations[1]
        assert new is not old
        assert wait(lambda: old.state == "stopped" and new.state == "registered"), (old.state, new.state)
        assert old not in fw.ua.tus and old.monitor not in fw.ua.tus
        assert [t for t in fw.ua.tus if t in (new, new.monitor)] == [new, new.monitor]
        un = [f for n, f in events if n == "unregistered"]
        assert un and un[0]["status"] == 200
        assert "sip:1001@127.0.0.1:%d" % fw.ua.port in kam.contacts("1001")
    finally:
        fw.loop.call_soon_threadsafe(fw.loop.stop)
        thread.join(5)
        fw.close()
