"""The supplementary-service tones as the handset hears them, end to end (issue 15): the
call-waiting tone over a real call's speech (GR-506: 440 Hz, -13 dBm0, 300 ms, the far end
muted meanwhile) and the stutter dial tone right after *72 (the confirmation tone runs into
it). tipring on the sim board, SIPp as the far ends on the line's proxy address."""

import shutil
import time

import pytest

from tests.integration.test_call_sipp import rig, sipp_ok  # noqa: F401  (rig: the shared fixture)
from tests.peers.kamailio import free_port

pytestmark = [pytest.mark.peers, pytest.mark.timeout(60),
              pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")]


def test_call_waiting_tone_over_a_calls_speech_is_recognised(rig):
    # the waiting caller comes from another port than the first: direct_calls lets it in
    r = rig(direct_calls=True)
    first = r.sipp("call_in_speech.xml", "-d", "12000", uac=True, name="first")
    assert r.h.ok("wait ringing 8")
    r.h.ok("offhook")
    assert r.h.ok("wait fxs=talking 5")
    time.sleep(1.0)
    heard = r.h.ok("listen 600")
    assert heard["tone"] in ("speech", "other") and heard["level_dbm0"] > -45, heard   # the far end talks
    second = r.sipp("call_in_waiting.xml", "-d", "5000", uac=True, port=free_port(), name="second")
    assert r.h.ok("wait fxs=waiting 8"), r.trail()
    got = r.h.ask("wait tone=call-waiting 3")
    assert got["ok"], (got, r.trail())
    assert any(abs(f - 440) <= 9 for f in got["freqs"]), got
    sipp_ok(second, 20)                                       # 180, then CANCEL / 487
    assert r.h.ok("wait fxs=talking 5")
    r.h.ok("onhook")
    assert not [e for e in r.fw.events() if e["event"] == "error"], r.trail()


def test_stutter_dial_tone_right_after_star72(rig):
    r = rig()
    r.h.ok("offhook")
    assert r.h.ok("wait tone=dial 5")
    r.h.ok("dial *721003# mode=dtmf")
    ev = r.fw.wait_event(lambda e: e["event"] == "config" and e.get("key") == "line.1.forward_all", 10)
    assert ev and ev["value"] == "1003", r.trail()
    got = r.h.ask("wait tone=stutter-dial 6")            # confirmation, then the stutter
    assert got["ok"], got
    assert sorted(got["freqs"]) == [350, 440] and -12 <= got["level_dbm0"] <= -8, got   # 2 x -13 dBm0
    r.h.ok("onhook")
