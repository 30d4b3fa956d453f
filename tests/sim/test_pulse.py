"""Rotary dialling at the limits of the receiver window, through the whole firmware on the sim
board: the virtual handset dials pulses as SHK edges, the real HAL, hook decoder and line
decide. 8 pps (old exchanges' phones) is a digit; a digit outside the line's window
(`line.N.pulse_pps_min` / `pulse_pps_max`, default 8-22) is reorder with an `error` event
saying why, never a call to the digits dialled before it."""

import pytest

from tests.sim.helpers import Running


@pytest.fixture
def running():
    made = []

    def make(**line):
        ln = {"port": 1, "user": "1001"}
        ln.update(line)
        r = Running(lines=[ln], dial_plan="(xxx)")
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


def _dial(c, digits, pps):
    assert c.ask("offhook")["ok"]
    assert c.ask("wait tone=dial 5")["ok"]
    got = c.ask("dial %s mode=pulse pps=%s" % (digits, pps), timeout=30)
    assert got["ok"], got


@pytest.mark.parametrize("pps", [8, 10, 22])
def test_pulse_rates_in_the_default_window_dial_the_number(running, pps):
    r = running()
    c = r.client()
    _dial(c, "205", pps)
    assert r.wait_event(lambda n, f: n == "call" and f.get("direction") == "out", 5), r.events
    assert [f["digit"] for f in r.named("digit")] == ["2", "0", "5"]
    assert not [f for f in r.named("error") if f["where"] == "line"], r.named("error")


@pytest.mark.parametrize("pps,why", [(7, "too slow"), (23, "too fast")])
def test_a_digit_outside_the_window_gives_reorder_not_a_call_to_the_digits_so_far(running, pps, why):
    r = running()
    c = r.client()
    _dial(c, "2", 10)                               # a good first digit...
    assert c.ask("wait fxs=collecting 3")["ok"]
    got = c.ask("dial 0 mode=pulse pps=%d" % pps)   # ... then one out of range
    assert got["ok"], got
    assert c.ask("wait fxs=reorder 3")["ok"], c.ask("state")
    assert c.ask("wait tone=congestion 3")["ok"]
    err = r.wait_event(lambda n, f: n == "error" and f["where"] == "line" and "rotary" in f["message"], 2)
    assert err and why in err["message"] and "8-22 pps" in err["message"], err
    assert "%d." % pps in err["message"] or "%.1f" % pps in err["message"], err
    assert not r.named("call"), r.named("call")      # "2" was never dialled
    assert [f["digit"] for f in r.named("digit")] == ["2"]


def test_the_window_is_the_lines_config(running):
    r = running(pulse_pps_min=6, pulse_pps_max=12)
    c = r.client()
    _dial(c, "37", 7)                               # slow, but inside 6-12
    assert c.ask("wait fxs=collecting 3")["ok"]
    c.ask("dial 4 mode=pulse pps=14")               # fast for this line
    assert c.ask("wait fxs=reorder 3")["ok"]
    err = r.wait_event(lambda n, f: n == "error" and "rotary" in f["message"], 2)
    assert err and "too fast" in err["message"] and "6-12 pps" in err["message"], err
    assert [f["digit"] for f in r.named("digit")] == ["3", "7"]


def test_the_window_changes_live_from_the_console(running):
    from tipring.firmware import config
    r = running()
    c = r.client()
    notes = r.call(lambda: r.fw.apply_config(config.set_value(r.fw.cfg, "line.1.pulse_pps_min", "6")))
    assert not [n for n in notes if "re-registering" in n], notes      # no account change
    _dial(c, "47", 7)                                # 7 pps: now inside 6-22
    assert c.ask("wait fxs=collecting 3")["ok"]
    assert [f["digit"] for f in r.named("digit")] == ["4", "7"]
    assert not [f for f in r.named("error") if "rotary" in f["message"]]
