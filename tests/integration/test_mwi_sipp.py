"""Message waiting end to end (RFC 3842 over RFC 6665): tipring on the sim board, SIPp on the
line's proxy address playing the PBX / voicemail server, the virtual handset as the phone.
The handset's lamp comes from the VMWI FSK it decodes on-hook (state `mwi`), its ear hears the
stutter dial tone; the event log says `mwi`."""

import re
import shutil

import pytest

from tests.integration.test_call_sipp import rig, sipp_ok  # noqa: F401  (rig: the shared fixture)
from tests.peers.sipp import Sipp

pytestmark = [pytest.mark.peers, pytest.mark.timeout(60),
              pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")]


def _mwi(r, waiting, since=0, timeout=10):
    return r.fw.wait_event(lambda e: e["event"] == "mwi" and e["waiting"] is waiting, timeout, since)


def test_unsolicited_notify_from_the_proxy_lights_the_lamp_and_stutters_the_dial_tone(rig):
    r = rig()
    s = r.sipp("mwi_unsolicited.xml", "-key", "waiting", "yes", "-key", "voice", "2/8 (0/2)", uac=True)
    sipp_ok(s)
    assert "SIP/2.0 200" in s.messages()
    ev = _mwi(r, True)
    assert ev and (ev["line"], ev["new"], ev["old"]) == (1, 2, 8), r.fw.events()
    st = r.h.ok("wait mwi=on 8")                   # the VMWI burst, decoded on-hook
    assert st["mwi_messages"] == 2 and not st["ringing"] and st["rings"] == 0, st
    r.h.ok("offhook")
    assert r.h.ok("wait tone=stutter-dial 6")
    r.h.ok("onhook")
    n = len(r.fw.events())
    s2 = r.sipp("mwi_unsolicited.xml", "-key", "waiting", "no", "-key", "voice", "0/10",
                uac=True, name="mwi_off")
    sipp_ok(s2)
    assert _mwi(r, False, since=n)
    assert r.h.ok("wait mwi=off 10")
    r.h.ok("offhook")
    assert r.h.ok("wait tone=dial 5")                # plain dial tone again
    r.h.ok("onhook")
    assert not [e for e in r.fw.events() if e["event"] == "error"], r.trail()


def test_subscribe_answered_200_then_notifies_in_the_dialog_and_unsubscribe_at_shutdown(rig, tmp_path):
    r = rig(mwi_subscribe=True, mwi_expires=600)
    # SIPp listens on the proxy port: it started after the firmware, whose first SUBSCRIBE
    # (and its retransmissions) may be lost; the timer-driven retransmits reach it.
    s = r.sipp("mwi_notifier.xml")
    sub = r.fw.wait_event(lambda e: e["event"] == "subscription" and e["state"] == "active", 20)
    assert sub and sub["expires"] == 600, r.fw.events()
    assert _mwi(r, True)
    assert r.h.ok("wait mwi=on 8")
    r.h.ok("offhook")
    assert r.h.ok("wait tone=stutter-dial 6")
    r.h.ok("onhook")                                 # the "no" NOTIFY comes while on-hook or soon after
    assert _mwi(r, False, timeout=15)
    assert r.h.ok("wait mwi=off 10")
    assert r.fw.stop(10) == 0
    sipp_ok(s, 20)                                   # it saw SUBSCRIBE Expires: 0 in the dialog
    subs = re.findall(r"^SUBSCRIBE (\S+) SIP/2.0$", s.messages(), re.M)
    assert subs[0] == "sip:1001@127.0.0.1" and subs[-1].startswith("sip:vm@127.0.0.1:"), subs
    assert r.fw.named("subscription")[-1]["state"] == "terminated"
