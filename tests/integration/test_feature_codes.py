"""Feature codes from the handset are applied, confirmed, and persisted in the saved config
(FLOWS.md §11): *72 + number turns forward-all on, *73 off (stutter dial tone while it is on
is checked in tests/sim/test_port.py)."""

import shutil
import tomllib

import pytest

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


@pytest.mark.peers
@pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                    reason="kamailio/baresip not installed (tools/setup --test)")
def test_star78_from_the_handset_then_a_call_is_declined_and_the_phone_stays_quiet(tmp_path):
    """The DND scenario end to end: *78 from the handset (confirmation, saved), hang up, then
    a baresip phone calls the line through Kamailio: it gets the line's dnd_response (486 by
    default), the phone never rings, and the firmware stays up; *79 lets the next call ring."""
    from tests.integration.test_services_e2e import _phone
    from tests.peers.firmware import sim_line_config
    from tests.peers.kamailio import Kamailio
    kam = Kamailio(str(tmp_path))
    kam.start()
    a = fw = None
    try:
        a = _phone(str(tmp_path), "1002", kam.address, 700)
        ctl = free_port()
        fw = RunningFirmware(str(tmp_path), sim_line_config(kam.address, "127.0.0.1:%d" % ctl))
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        with Handset("127.0.0.1:%d" % ctl) as h:
            h.ok("offhook")
            h.ok("wait tone=dial 5")
            h.ok("dial *78 mode=dtmf")
            on = fw.wait_event(lambda e: e["event"] == "config" and e.get("key") == "line.1.dnd", 10)
            assert on and on["value"] is True, fw.events()[-10:]
            assert h.ok("wait tone=stutter-dial 6")         # the DND reminder
            h.ok("onhook")
            assert h.ok("wait fxs=on_hook 3")
            a.cmd("dial", "sip:1001@%s" % kam.address)
            closed = a.wait({"CALL_CLOSED"}, 10)
            assert closed and "486" in closed.get("param", ""), closed
            ev = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "ended", 10)
            assert ev and ev["reason"] == "do not disturb (486 Busy Here)", fw.events()
            st = h.ok("state")
            assert st["ringing"] is False and st["rings"] == 0, st
            assert fw.proc.poll() is None, fw.output()[-2000:]
            assert not [e for e in fw.events() if e["event"] == "call" and e["state"] == "ringing"]
            h.ok("offhook")
            h.ok("wait fxs=dial_tone 3")
            h.ok("dial *79 mode=dtmf")
            off = fw.wait_event(lambda e: e["event"] == "config" and e.get("key") == "line.1.dnd"
                                and e.get("value") is False, 10)
            assert off, fw.events()[-10:]
            h.ok("onhook")
            assert h.ok("wait fxs=on_hook 3")
            a.cmd("dial", "sip:1001@%s" % kam.address)
            assert h.ok("wait ringing 8")
            a.cmd("hangup")
            assert h.ok("wait not-ringing 8")
    finally:
        if fw is not None:
            fw.stop()
            fw.kill()
        if a is not None:
            a.stop()
        kam.stop()
