"""Call waiting end to end (FLOWS.md §13): tipring on the sim board, real Kamailio, two baresips.
1002 calls the handset, the handset answers; 1003 calls: 180 (not 486), the handset hears the
call-waiting tone; flash -> 1002 held, talking to 1003 (its tone); flash -> back to 1002."""

import shutil
import time

import pytest

from tests.integration.test_services_e2e import _call, _phone
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers, pytest.mark.timeout(30),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)")]


def _hears(h, hz):
    heard = h.ok("listen 400")
    return any(abs(f - hz) <= 15 for f in heard["freqs"]), heard


def test_call_waiting_flash_answers_the_second_caller_and_flash_swaps_back(tmp_path):
    kam = Kamailio(str(tmp_path))
    kam.start()
    parts = []
    fw = None
    try:
        b = _phone(str(tmp_path), "1002", kam.address, 700)
        parts.append(b)
        c = _phone(str(tmp_path), "1003", kam.address, 900)
        parts.append(c)
        ctl = free_port()
        fw = RunningFirmware(str(tmp_path), sim_line_config(kam.address, "127.0.0.1:%d" % ctl))
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        with Handset("127.0.0.1:%d" % ctl) as h:
            b.cmd("dial", "sip:1001@%s" % kam.address)
            assert h.ok("wait ringing 8")
            h.ok("offhook")
            assert _call(fw, lambda e: e["state"] == "connected" and e["peer"] == "1002")
            assert b.wait({"CALL_ESTABLISHED"}, 8)
            time.sleep(0.6)
            ok, heard = _hears(h, 700)
            assert ok, heard
            c.cmd("dial", "sip:1001@%s" % kam.address)
            assert h.ok("wait fxs=waiting 8"), [e for e in fw.events() if e["event"] in ("call", "error")]
            got = h.ask("wait tone=call-waiting 3")      # the SAS burst over B's audio
            assert got["ok"], got
            time.sleep(1.5)                              # CAS, the handset's ACK 'D', the FSK
            assert (h.ok("state")["caller_id"] or {}).get("number") == "1003", h.ok("state")
            assert not [e for e in fw.events() if e["event"] == "call" and e.get("reason", "").startswith("486")]
            n = len(fw.events())
            h.ok("flash")
            assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected"
                                 and e["peer"] == "1003", 8, since=n), fw.events()[n:]
            assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "held"
                                 and e["peer"] == "1002", 8, since=n), fw.events()[n:]
            assert h.ok("wait fxs=swapped 3")
            time.sleep(1.0)
            ok, heard = _hears(h, 900)
            assert ok, heard
            assert not any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
            n = len(fw.events())
            h.ok("flash")
            assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected"
                                 and e["peer"] == "1002", 8, since=n), fw.events()[n:]
            time.sleep(1.0)
            ok, heard = _hears(h, 700)
            assert ok, heard
            assert not any(abs(f - 900) <= 15 for f in heard["freqs"]), heard
            assert not [e for e in fw.events() if e["event"] == "error"], \
                [e for e in fw.events() if e["event"] == "error"]
            h.ok("onhook")                                   # 1002 ends; 1003 (held) rings back
            assert h.ok("wait ringing 8")
            c.cmd("hangup")
            assert h.ok("wait not-ringing 8")
    finally:
        if fw is not None:
            fw.stop()
            fw.kill()
        for p in parts:
            p.stop()
        kam.stop()
