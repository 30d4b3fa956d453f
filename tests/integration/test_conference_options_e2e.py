"""Three-way calling options end to end (FLOWS.md §17, issue 9): the handset calls baresip B,
flashes, calls baresip C, flashes again to join. With `line.N.conference_uri` the three meet on
a network bridge (here SIPp registered as 1004 at the real Kamailio: tipring INVITEs it, then
REFERs B and C, which call it themselves); with `conference_hangup = "transfer"` hanging up
leaves B and C talking to each other (REFER with Replaces)."""

import re
import time

from tests.integration.test_services_e2e import rig  # noqa: F401 (fixture)
from tests.peers.handset import Handset
from tests.peers.kamailio import free_media_port, free_port
from tests.peers.sipp import Sipp

import pytest

pytestmark = [pytest.mark.peers, pytest.mark.timeout(60)]


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


def _calls(fw, n, state):
    return [e for e in fw.events()[n:] if e["event"] == "call" and e["state"] == state]


def _until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _three(h, fw, b, c):
    """A talks to B, flash, calls C; returns the event index after C answered."""
    _call_b_then_flash(h, fw)
    h.ok("dial 1003# mode=dtmf")
    assert c.wait({"CALL_ESTABLISHED"}, 15), c.log()[-1500:]
    assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected" and e["peer"] == "1003", 10)
    assert h.ok("wait fxs=second_talking 5")
    return len(fw.events())


def _bridge(kam, tmp_path, scenario="uas.xml"):
    """SIPp registered as 1004 at Kamailio, answering the three calls of a conference."""
    port = free_port()
    kam_port = kam.address.split(":")[1]
    reg = Sipp(str(tmp_path), "register.xml", port, name="bridge-register",
               extra=["127.0.0.1:%s" % kam_port, "-s", "1004", "-au", "1004", "-ap", "secret1004",
                      "-key", "expires", "300"])
    assert reg.wait(15) == 0, reg.errors()[-2000:]
    reg.stop()
    return Sipp(str(tmp_path), scenario, port, name="bridge",
                extra=["-m", "3", "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-rtp_echo", "-aa",
                       "-key", "user", "1004"])


def test_conference_on_a_network_bridge_invites_it_and_refers_both_parties(rig, tmp_path):
    kam, b, c, fw, control = rig(conference_uri="1004")
    bridge = _bridge(kam, tmp_path)
    try:
        with Handset(control) as h:
            n = _three(h, fw, b, c)
            h.ok("flash")                                  # join: the bridge is called
            assert _until(lambda: len(_calls(fw, n, "ended")) >= 2, 20), \
                [e for e in fw.events()[n:] if e["event"] in ("call", "error")]
            ended = _calls(fw, n, "ended")
            assert {e["peer"] for e in ended} == {"1002", "1003"} and {e["reason"] for e in ended} == {"transferred"}
            up = [e for e in _calls(fw, n, "connected") if e["peer"] == "1004"]
            assert up, [e for e in fw.events()[n:] if e["event"] in ("call", "error")]
            # the bridge saw three INVITEs: ours, then B's and C's own (they followed the REFER)
            assert _until(lambda: len(re.findall(r"^INVITE sip:", bridge.messages(), re.M)) >= 3, 10), \
                bridge.messages()[-3000:]
            callers = set(re.findall(r"^From: .*?<sip:(\d+)@", bridge.messages(), re.M))
            assert {"1001", "1002", "1003"} <= callers, callers
            assert not [e for e in fw.events() if e["event"] == "error"]
            h.ok("onhook")
    finally:
        bridge.stop()


def test_flash_on_a_network_bridge_asks_the_bridge_to_drop_the_last_party(rig, tmp_path):
    # issue #15: flash in a conference drops the last party (SPA, HT80x); on a bridge the
    # handset's dialogs with B and C are gone, so the bridge is asked by REFER method=BYE
    kam, b, c, fw, control = rig(conference_uri="1004")
    bridge = _bridge(kam, tmp_path, "uas_bridge.xml")
    try:
        with Handset(control) as h:
            n = _three(h, fw, b, c)
            h.ok("flash")                                  # join on the bridge
            assert _until(lambda: len(_calls(fw, n, "ended")) >= 2, 20), \
                [e for e in fw.events()[n:] if e["event"] in ("call", "error")]
            assert h.ok("wait fxs=conference 5")
            h.ok("flash")                                  # drop the last party (C, 1003)
            assert h.ok("wait fxs=talking 5")
            assert _until(lambda: re.search(r"^REFER sip:", bridge.messages(), re.M), 10), \
                bridge.messages()[-3000:]
            refer_to = re.findall(r"^Refer-To: *(.*?)\r?$", bridge.messages(), re.M)
            assert len(refer_to) == 1 and re.match(r"<sip:1003@[^>]*;method=BYE>", refer_to[0]), refer_to
            assert _until(lambda: "SIP/2.0 202" in bridge.messages(), 5)
            assert not [e for e in fw.events() if e["event"] == "error"]
            up = [e for e in _calls(fw, n, "connected") if e["peer"] == "1004"]
            assert up and not [e for e in _calls(fw, n, "ended") if e["peer"] == "1004"]
            h.ok("onhook")
    finally:
        bridge.stop()


def test_hanging_up_a_conference_with_transfer_leaves_b_and_c_talking(rig):
    kam, b, c, fw, control = rig(conference_hangup="transfer")
    with Handset(control) as h:
        n = _three(h, fw, b, c)
        h.ok("flash")                                      # local three-way
        assert h.ok("wait fxs=conference 5")
        time.sleep(0.5)
        h.ok("onhook")
        assert _until(lambda: len(_calls(fw, n, "ended")) >= 2, 15), \
            [e for e in fw.events()[n:] if e["event"] in ("call", "error", "line")]
        assert {e["reason"] for e in _calls(fw, n, "ended")} == {"transferred"}
        # C called B with Replaces (baresip then treats it as a new call: B and C talk)
        assert "Replaces=" in c.log() and "Call established" in c.log(), c.log()[-1500:]
        assert not [e for e in fw.events() if e["event"] == "error"]
