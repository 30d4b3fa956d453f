"""Hold and resume from the handset (FLOWS.md §12) against a real baresip through Kamailio:
flash holds the call with a sendonly re-INVITE and gives the second dial tone; flash again
resumes it (sendrecv) and the far end's audio comes back."""

import shutil
import time

import pytest

from tests.peers.baresip import BaresipPhone
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)")]


def test_flash_holds_and_flash_again_resumes(tmp_path):
    with Kamailio(str(tmp_path)) as kam:
        phone = BaresipPhone(str(tmp_path), "1002", registrar=kam.address, answer="auto", tone_hz=700)
        try:
            ctl = free_port()
            cfg = sim_line_config(kam.address, "127.0.0.1:%d" % ctl)
            with RunningFirmware(str(tmp_path), cfg) as fw, Handset("127.0.0.1:%d" % ctl) as h:
                assert fw.wait_event(lambda e: e["event"] == "registered", 10)
                h.ok("offhook")
                h.ok("wait tone=dial 5")
                h.ok("dial 1002# mode=dtmf")
                assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 15)
                time.sleep(1.0)
                assert any(abs(f - 700) <= 15 for f in h.ok("listen 600")["freqs"])
                n = len(fw.events())
                h.ok("flash")
                held = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "held", 10, since=n)
                assert held, [e for e in fw.events()[n:]]
                assert h.ok("wait fxs=flash_dial 5")      # the holder gets a second dial tone
                heard = h.ok("listen 600")
                assert not any(abs(f - 700) <= 15 for f in heard["freqs"]), heard  # B is held
                n = len(fw.events())
                h.ok("flash")
                back = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 10, since=n)
                assert back, [e for e in fw.events()[n:]]
                time.sleep(1.0)
                assert any(abs(f - 700) <= 15 for f in h.ok("listen 600")["freqs"])
                h.ok("onhook")
                assert fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "ended", 10)
        finally:
            phone.stop()
