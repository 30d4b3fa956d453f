"""Network-side supplementary services end to end (FLOWS.md §11, §14, DND): tipring on the sim
board behind a real Kamailio, with real baresip phones as the other parties. The line's
feature state comes from its config keys (forward_all, dnd, dnd_response)."""

import shutil
import time

import pytest

from tests.peers.baresip import BaresipPhone
from tests.peers.firmware import RunningFirmware
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers, pytest.mark.timeout(30),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)")]


def _phone(workdir, user, registrar, tone_hz):
    """A baresip phone whose ctrl_tcp/cons ports are not SIP port + 1, where baresip also
    listens for TLS (free_port() can hand out that neighbour: bctl then talks to TLS)."""
    for _ in range(5):
        phone = BaresipPhone(workdir, user, registrar=registrar, answer="auto", tone_hz=tone_hz)
        if phone.sip_port + 1 not in (phone.ctrl_port, phone.cons_port):
            return phone
        phone.stop()
    raise RuntimeError("no baresip port set without a TLS clash")


@pytest.fixture
def rig(tmp_path):
    """Kamailio, tipring line 1001, baresip A (1002) and C (1003, auto-answer, 900 Hz);
    `start(**line_keys)` starts the firmware with those extra [[line]] keys."""
    parts = {}
    kam = Kamailio(str(tmp_path))
    kam.start()
    parts["kam"] = kam

    def start(**keys):
        parts["a"] = _phone(str(tmp_path), "1002", kam.address, 700)
        parts["c"] = _phone(str(tmp_path), "1003", kam.address, 900)
        ctl = free_port()
        line = {"port": 1, "user": "1001", "password": "secret1001", "registrar": kam.address,
                "domain": kam.address, "expires": 300}
        line.update(keys)
        cfg = {"board": {"kind": "sim", "control": "127.0.0.1:%d" % ctl, "country": "us"},
               "sip": {"bind": "127.0.0.1:%d" % free_port()}, "line": [line]}
        fw = parts["fw"] = RunningFirmware(str(tmp_path), cfg)
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        return kam, parts["a"], parts["c"], fw, "127.0.0.1:%d" % ctl
    try:
        yield start
    finally:
        fw = parts.get("fw")
        if fw is not None:
            fw.stop()
            fw.kill()
        for k in ("a", "c"):
            if k in parts:
                parts[k].stop()
        kam.stop()


def _call(fw, pred, timeout=10):
    return fw.wait_event(lambda e: e["event"] == "call" and pred(e), timeout)


def test_forward_all_302_is_followed_by_baresip_to_the_target(rig):
    kam, a, c, fw, control = rig(forward_all="1003")
    a.cmd("dial", "sip:1001@%s" % kam.address)
    fwd = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
    assert fwd and fwd["reason"] == "forwarded to sip:1003@%s (unconditional)" % kam.address, fw.events()
    # C (auto-answer: baresip reports no CALL_INCOMING then) is called by A itself: A followed the 302
    up = c.wait({"CALL_ESTABLISHED"}, 10)
    assert up and up["param"].startswith("sip:1002@"), (up, c.log()[-2000:])
    assert a.wait({"CALL_ESTABLISHED"}, 10)
    with Handset(control) as h:
        assert h.ok("state")["ringing"] is False          # tipring's phone never rang
    a.cmd("hangup")
    assert c.wait({"CALL_CLOSED"}, 10)


def test_dnd_declines_with_603_and_the_phone_stays_quiet(rig):
    kam, a, c, fw, control = rig(dnd=True, dnd_response=603)
    a.cmd("dial", "sip:1001@%s" % kam.address)
    closed = a.wait({"CALL_CLOSED"}, 10)
    assert closed and "603" in closed.get("param", ""), closed
    ev = _call(fw, lambda e: e["state"] == "ended")
    assert ev and ev["reason"] == "do not disturb (603 Decline)"
    with Handset(control) as h:
        assert h.ok("state")["ringing"] is False
    assert not [e for e in fw.events() if e["event"] == "call" and e["state"] == "ringing"]


def test_blind_transfer_tipring_is_transferee_and_the_handset_ends_up_talking_to_c(rig):
    kam, a, c, fw, control = rig()
    with Handset(control) as h:
        a.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 10")
        h.ok("offhook")
        assert _call(fw, lambda e: e["state"] == "connected" and e["direction"] == "in"), fw.events()
        assert a.wait({"CALL_ESTABLISHED"}, 10)
        time.sleep(0.8)
        heard = h.ok("listen 400")
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        a.cmd("transfer", "sip:1003@%s" % kam.address)
        up = c.wait({"CALL_ESTABLISHED"}, 10)           # tipring (1001) places the call to C
        assert up and up["param"].startswith("sip:1001@"), (up, c.log()[-2000:])
        out = _call(fw, lambda e: e["state"] == "connected" and e["direction"] == "out" and e["peer"] == "1003")
        assert out, [e for e in fw.events() if e["event"] in ("call", "error")]
        assert a.wait({"CALL_CLOSED"}, 10)
        old = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
        assert old and old["reason"] in ("transferred to 1003", "remote hangup"), old
        time.sleep(1.0)
        heard = h.ok("listen 400")
        assert any(abs(f - 900) <= 15 for f in heard["freqs"]), heard
        assert h.ok("state")["hook"] == "off"
        assert not [e for e in fw.events() if e["event"] == "error"], [e for e in fw.events() if e["event"] == "error"]
        h.ok("onhook")
        assert c.wait({"CALL_CLOSED"}, 10)


def _call_b_then_flash(h, fw) -> int:
    """Off-hook, dial 1002, talk; flash: B held, second dial tone. Returns the event index
    before the flash."""
    h.ok("offhook")
    h.ok("wait tone=dial 5")
    h.ok("dial 1002# mode=dtmf")
    assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 15)
    n = len(fw.events())
    h.ok("flash")
    assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "held", 10, since=n)
    h.ok("wait fxs=flash_dial 5")
    return n


def test_handset_blind_transfer_flash_star98(rig):
    """FLOWS §14 with tipring as transferor, from the handset: call B (1002), flash (B held),
    dial *98 1003 -> REFER to B, B calls C (1003) through Kamailio, tipring's call ends."""
    kam, a, c, fw, control = rig()
    with Handset(control) as h:
        n = _call_b_then_flash(h, fw)
        h.ok("dial *981003# mode=dtmf")
        assert c.wait({"CALL_ESTABLISHED"}, 15), c.log()[-1500:]
        ended = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "ended", 15, since=n)
        assert ended, [e for e in fw.events()[n:] if e["event"] in ("call", "error", "line")]
        h.ok("onhook")


def test_handset_attended_transfer_hang_up_joins_b_and_c(rig):
    """FLOWS §15 with tipring as A, from the handset: call B (1002), flash, call C (1003), talk,
    hang up -> REFER with Replaces; B and C end up in a call of their own."""
    kam, b, c, fw, control = rig()
    with Handset(control) as h:
        n = _call_b_then_flash(h, fw)
        h.ok("dial 1003# mode=dtmf")
        assert c.wait({"CALL_ESTABLISHED"}, 15)
        assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected"
                             and e["peer"] == "1003", 10, since=n)
        m = len(fw.events())
        h.ok("onhook")
        ended = [e for e in fw.events()[m:]]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ended = [e for e in fw.events()[m:] if e["event"] == "call" and e["state"] == "ended"]
            if len(ended) >= 2:
                break
            time.sleep(0.1)
        assert len(ended) >= 2, [e for e in fw.events()[m:] if e["event"] in ("call", "error", "line")]
        assert {e["reason"] for e in ended} == {"transferred"}
        # C called B with Replaces (baresip 1.0 then treats it as a new call: B and C talk)
        assert "Replaces=" in c.log() and "Call established" in c.log(), c.log()[-1500:]
