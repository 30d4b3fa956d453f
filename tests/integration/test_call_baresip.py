"""The basic call both ways (FLOWS.md §4, §6) with audio checked, through a real Kamailio
(407 on INVITE) to a real baresip phone, driven from the sim board's virtual handset."""

import shutil
import time

import pytest

from tests.peers.baresip import BaresipPhone, dominant, read_wav
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)")]


@pytest.fixture
def rig(tmp_path):
    kam = Kamailio(str(tmp_path))
    kam.start()
    phone = BaresipPhone(str(tmp_path), "1002", registrar=kam.address, answer="auto", record=True, tone_hz=700)
    ctl = free_port()
    fw = RunningFirmware(str(tmp_path), sim_line_config(kam.address, "127.0.0.1:%d" % ctl))
    try:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        yield kam, phone, fw, "127.0.0.1:%d" % ctl
    finally:
        fw.stop()
        fw.kill()
        phone.stop()
        kam.stop()


def _call_state(fw, state, direction, since=0, timeout=15):
    return fw.wait_event(lambda e: e["event"] == "call" and e["state"] == state and e["direction"] == direction,
                         timeout, since)


def test_handset_calls_baresip_through_kamailio_with_audio_both_ways(rig):
    kam, phone, fw, control = rig
    with Handset(control) as h:
        h.ok("offhook")
        assert h.ok("wait tone=dial 5")
        h.ok("dial 1002# mode=dtmf")
        up = _call_state(fw, "connected", "out")
        assert up, [e for e in fw.events() if e["event"] in ("call", "error", "digit")]
        assert phone.wait({"CALL_ESTABLISHED"}, 10)
        h.ok("say 1000")
        time.sleep(1.5)
        heard = h.ok("listen 600")
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        # a digit keyed on the handset mid-call goes out as an RFC 4733 event
        h.ok("dial 7 mode=dtmf")
        end = time.monotonic() + 3
        while "received event: '7' (end=1)" not in phone.log() and time.monotonic() < end:
            time.sleep(0.05)
        assert "received event: '7' (end=1)" in phone.log(), phone.log()[-1500:]
        h.ok("onhook")
        assert phone.wait({"CALL_CLOSED"}, 10)
        ended = _call_state(fw, "ended", "out")
        assert ended and ended["reason"] == "local hangup"
    media = [e for e in fw.events() if e["event"] == "media"]
    assert media and media[0]["received"] > 25 and media[0]["sent"] > 25
    rec = phone.recordings("dec")
    assert rec, "baresip wrote no recording"
    samples, rate = read_wav(rec[-1])
    tail = samples[len(samples) // 2:]
    assert abs(dominant(tail, rate) - 1000) <= 15


def test_baresip_calls_the_handset_which_rings_with_caller_id(rig):
    kam, phone, fw, control = rig
    with Handset(control) as h:
        phone.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 10")
        assert h.ok("wait caller_id 12")
        st = h.ok("state")
        assert st["caller_id"] and st["caller_id"]["number"] == "1002", st
        h.ok("offhook")
        assert _call_state(fw, "connected", "in"), fw.events()
        assert phone.wait({"CALL_ESTABLISHED"}, 10)
        time.sleep(1.0)
        heard = h.ok("listen 600")
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        # a digit keyed on baresip arrives as an RFC 4733 event and is played to the handset
        phone.cmd("sndcode", "5")
        dig = fw.wait_event(lambda e: e["event"] == "digit" and e.get("how") == "rfc4733", 5)
        assert dig and dig["digit"] == "5", [e for e in fw.events() if e["event"] == "digit"]
        phone.cmd("hangup")
        ended = _call_state(fw, "ended", "in")
        assert ended and ended["reason"] == "remote hangup"
        h.ok("onhook")
