"""JCLIP (NTT "Number Display") through the whole firmware on the sim board, Japan plan: the
line reverses, rings the CAR (16 Hz, 0.5 s on / 0.5 s off), the virtual handset (a JCLIP phone:
caller_id "jclip", Japan's default) answers it by itself, reads the V.23 frame with its own
demodulator, hangs up, and the call then rings normally; the person's off-hook answers it.
A phone that does not answer the CAR is rung anyway, without caller ID."""

from tipring.firmware.config import default_caller_id
from tipring.firmware.dsp import tone_plans
from tests.sim.helpers import Running

CID = {"number": "0312345678", "name": "Tanaka"}


def test_japan_defaults_to_jclip():
    assert default_caller_id("jp") == "jclip"
    assert tone_plans.plan("JP")["callerid"]["method"] == "jclip"
    assert tone_plans.callerid_timing("jp", "jclip") == {"when": "car", "alert": None, "line_reversal": True}


def test_car_primary_response_data_then_ringing():
    r = Running(country="jp", lines=[{"port": 1, "user": "1001"}])
    try:
        c = r.client()
        hs = r.board.handsets[1]
        seen = []
        hs.rm.listeners.append(lambda t, v: seen.append(("rm", t, v)))
        hs.shk.listeners.append(lambda t, v: seen.append(("shk", t, v)))
        r.call(r.board.incoming, 1, CID)
        got = c.ask("wait caller_id 10")
        assert got["ok"], (got, r.named("error"), r.events[-20:])
        assert got["caller_id"]["number"] == "0312345678" and got["caller_id"]["name"] is None
        assert got["caller_id_ring"] == 0                 # read before the ringing
        assert got["caller_id_reversed"] is True          # the line was reversed for it
        st = c.ask("wait rings=2 10")                     # then the plan's ringing (IR)
        assert st["ok"] and st["caller_id"]["number"] == "0312345678", st
        assert st["polarity"] == "forward", st
        states = [f["state"] for n, f in r.events if n == "line"]
        assert states[:3] == ["car", "cid_offhook", "ringing"], states
        sig = [f for n, f in r.events if n == "line_signal" and f["signal"] == "jclip"]
        assert len(sig) == 1 and sig[0]["ms"] > 800, sig  # 0.8 s delay + the V.23 burst
        # on the pins: a CAR burst (RM on, off), the phone's SHK off-hook (primary response)
        # and on-hook, and only then RM again: the ringing (the timing is the ringer's, checked
        # on virtual time in tests/line/test_jclip_line.py; no wall clock here)
        on = {"rm": hs.rm_active_high, "shk": hs.shk_active_high}
        trail = [(k, bool(v) == on[k]) for k, _t, v in seen]
        trail = [x for i, x in enumerate(trail) if i == 0 or x != trail[i - 1]]
        assert trail[:5] == [("rm", True), ("rm", False), ("shk", True), ("shk", False), ("rm", True)], trail
        c.ask("offhook")                                  # the person answers the call
        assert c.ask("wait fxs=talking 3")["ok"], [f for n, f in r.events if n == "line"]
        assert not r.named("error"), r.named("error")
    finally:
        r.stop()


def test_a_phone_that_ignores_the_car_is_rung_without_caller_id():
    r = Running(country="jp", lines=[{"port": 1, "user": "1001", "caller_id": "jclip"}])
    try:
        c = r.client()
        r.board.handsets[1].jclip = False                 # a plain phone on a JCLIP line
        r.call(setattr, r.board.ports[1].fxs, "car_timeout", 1.5)   # 6 s on a real line
        r.call(r.board.incoming, 1, CID)
        assert c.ask("wait fxs=ringing 5")["ok"], r.events[-10:]
        st = c.ask("wait ringing 5")
        assert st["ok"] and st["caller_id"] is None, st
        states = [f["state"] for n, f in r.events if n == "line"]
        assert states[:2] == ["car", "ringing"], states
        assert [f["cause"] for n, f in r.events if n == "line"][1] == "timeout"
        assert st["polarity"] == "forward", st
        assert not r.named("error"), r.named("error")
    finally:
        r.stop()
