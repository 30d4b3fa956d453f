"""Feature codes from the handset are applied, confirmed, and persisted in the saved config
(FLOWS.md §11): *72 + number turns forward-all on, *73 off (stutter dial tone while it is on
is checked in tests/sim/test_port.py)."""

import tomllib

from tests.peers.firmware import RunningFirmware
from tests.peers.handset import Handset
from tests.peers.kamailio import free_port


def test_star72_forwards_all_and_is_saved_then_star73_clears_it(tmp_path):
    ctl = free_port()
    cfg = {"board": {"kind": "sim", "control": "127.0.0.1:%d" % ctl},
           "sip": {"bind": "127.0.0.1:%d" % free_port()},
           "line": [{"port": 1, "user": "1001", "registrar": "127.0.0.1:9", "register": False}]}
    with RunningFirmware(str(tmp_path), cfg) as fw, Handset("127.0.0.1:%d" % ctl) as h:
        h.ok("offhook")
        h.ok("wait tone=dial 5")
        h.ok("dial *721003# mode=dtmf")
        ev = fw.wait_event(lambda e: e["event"] == "config" and e.get("action") == "feature", 10)
        assert ev and ev["key"] == "line.1.forward_all" and ev["value"] == "1003", fw.events()[-10:]
        with open(fw.cfg_path, "rb") as f:
            assert tomllib.load(f)["line"][0]["forward_all"] == "1003"
        h.ok("onhook")
        h.ok("offhook")
        h.ok("wait fxs=dial_tone 5")
        h.ok("dial *73 mode=dtmf")
        off = fw.wait_event(lambda e: e["event"] == "config" and e.get("key") == "line.1.forward_all"
                            and e.get("value") == "", 10)
        assert off, fw.events()[-10:]
        h.ok("onhook")
    with open(fw.cfg_path, "rb") as f:
        assert tomllib.load(f)["line"][0].get("forward_all", "") == ""
