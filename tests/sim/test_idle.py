"""The media clock sleeps while nothing needs audio (tipring/board/common.py, `LinePort.idle`): the real
firmware on the sim board on a virtual clock. Idle, a virtual minute runs no 20 ms tick; a
hook edge, an incoming call, a test ring, a control request or a config change starts it again
at once, and the handset hears the line as before."""
import gpiozero.pins.mock as gmock
import pytest

from tipring.board.common import IDLE_FRAMES
from tipring.board.sim.board import TICK, SimBoard
from tipring.firmware.app import Firmware
from tipring.firmware.config import validate
from tipring.firmware.demo import _free_port
from tipring.firmware.dsp.classify import ToneClassifier
from tipring.firmware.dsp.pcm import rms
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop

SLEEP_S = IDLE_FRAMES * TICK + 0.1      # an idle board's clock has stopped after this


def sim_config(user="1001", sip_port=0, peer_port=9, lines=1):
    return validate({
        "board": {"kind": "sim", "control": "127.0.0.1:0", "country": "us"},
        "sip": {"bind": "127.0.0.1:%d" % sip_port},
        "line": [{"port": n, "user": user if n == 1 else user + str(n), "registrar": "127.0.0.1:%d" % peer_port,
                  "domain": "127.0.0.1:%d" % peer_port, "register": False, "direct_calls": True,
                  "dial_plan": "(100x)"} for n in range(1, lines + 1)],
        "console": {"listen": "off"},
    })


@pytest.fixture
def vloop(monkeypatch):
    """An event loop on a virtual clock that the sim board's mock pins share; counts ticks."""
    clock = VirtualClock(1000.0)
    monkeypatch.setattr(gmock, "monotonic", clock.now)
    loop = EventLoop(clock=clock)
    ticks = []
    orig = SimBoard._tick_due

    def counted(self):
        ticks.append((self, loop.now()))
        return orig(self)

    monkeypatch.setattr(SimBoard, "_tick_due", counted)
    made = []

    def make(cfg=None):
        fw = Firmware(cfg or sim_config(), loop=loop)
        fw.start()
        made.append(fw)
        return fw

    loop.ticks = ticks
    loop.make = make
    yield loop
    for fw in made:
        fw.close()
    loop.close()


def ticks_of(loop, fw, since=None):
    return [t for b, t in loop.ticks if b is fw.board and (since is None or t > since)]


def ask(fw, text, line=1):
    """A control-protocol request as the server runs it; the reply list fills when it answers."""
    got = []
    fw.board.control.request(text + ("" if line == 1 else " line=%d" % line),
                             lambda obj: got.append(dict({"ok": True}, **obj)))
    return got


def heard(fw, line=1):
    """Record what the handset's earpiece gets: [(loop time, frame)]."""
    hs = fw.board.handsets[line]
    frames = []
    orig = hs.earpiece

    def ear(frame):
        frames.append((fw.loop.now(), frame))
        return orig(frame)

    hs.earpiece = ear
    return frames


def test_an_idle_board_runs_no_tick_for_a_virtual_minute(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()
    assert fw.board.ports[1].idle and fw.board.handsets[1].idle
    t0 = vloop.now()
    vloop.run_for(60.0)
    assert ticks_of(vloop, fw, t0) == []
    assert fw.board._tick is None


def test_off_hook_wakes_the_clock_and_dial_tone_comes_within_two_ticks(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S + 5.0)
    assert not fw.board.clock_running()
    ear = heard(fw)
    t0 = vloop.now()
    fw.board.handsets[1].offhook()               # the SHK edge, through HookSwitch and the loop
    vloop.run_for(2 * TICK + 0.001)
    assert fw.board.clock_running()
    got = ticks_of(vloop, fw, t0)
    assert len(got) == 2 and abs(got[0] - (t0 + TICK)) < 1e-6, got   # phase: one TICK after the edge
    assert any(rms(f) > 500 for _t, f in ear[:2]), [rms(f) for _t, f in ear]
    vloop.run_for(1.5)
    clf = ToneClassifier("US")
    for _t, f in ear:
        clf.feed(f)
    assert clf.tone == "dial" and sorted(clf.freqs) == [350, 440]
    fw.board.handsets[1].onhook()
    vloop.run_for(1.0 + SLEEP_S)                 # the decoder's hangup window, then idle frames
    assert fw.board.ports[1].fxs.state == "on_hook" and not fw.board.clock_running()
    t1 = vloop.now()
    vloop.run_for(30.0)
    assert ticks_of(vloop, fw, t1) == []


def test_an_incoming_call_wakes_the_clock_and_caller_id_reaches_the_display(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()
    fw.board.incoming(1, {"number": "5551234", "name": "ALICE"})
    assert fw.board.clock_running()
    vloop.run_for(5.9)
    hs = fw.board.handsets[1]
    assert hs.rings == 1 and hs.caller_id and hs.caller_id["number"] == "5551234"
    vloop.run_for(20.0)                          # rings on: the clock never sleeps meanwhile
    assert fw.board.clock_running() and hs.rings >= 4
    assert fw.board.hangup(1) == "line 1: call ended"     # the caller gives up
    vloop.run_for(SLEEP_S + 0.5)
    assert not hs.ringing and not fw.board.clock_running()


def test_a_test_ring_wakes_the_clock_and_it_sleeps_again_after(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S)
    assert "ringing for" in fw.ring(1)
    assert fw.board.clock_running()
    vloop.run_for(11.0)                          # two US cycles of 6 s (and 0.1 s)
    assert fw.board.handsets[1].rings == 2 and fw.board.clock_running()
    vloop.run_for(1.5 + SLEEP_S)
    assert not fw.board.handsets[1].ringing and not fw.board.clock_running()


def test_control_requests_wake_the_clock_and_waits_and_listens_still_answer(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S)
    assert ask(fw, "state")[0]["hook"] == "on"
    assert fw.board.clock_running()              # any request wakes it
    now = ask(fw, "wait idle")                   # already true: answered at once
    assert now and now[0]["ok"] is True and now[0]["after_s"] == 0.0
    later = ask(fw, "wait hook=off 20")
    vloop.run_for(3 * SLEEP_S)
    assert later == [] and fw.board.clock_running()       # a pending wait keeps the clock
    fw.board.handsets[1].offhook()
    vloop.run_for(2 * TICK)
    assert later and later[0]["ok"] is True and later[0]["hook"] == "off"
    fw.board.handsets[1].onhook()
    vloop.run_for(1.0 + SLEEP_S)
    assert not fw.board.clock_running()
    lst = ask(fw, "listen 200")                  # on-hook: silence, but a real 200 ms window
    vloop.run_for(0.2 + TICK)
    assert lst and lst[0]["ok"] is True and lst[0]["ms"] == 200 and lst[0]["tone"] == "silence"
    ring = ask(fw, "wait ringing 30")
    vloop.run_for(5.0)
    assert ring == []
    fw.board.incoming(1)
    vloop.run_for(2 * TICK)
    assert ring and ring[0]["ok"] is True
    fw.board.hangup(1)
    vloop.run_for(SLEEP_S + 0.5)
    timeout = ask(fw, "wait hook=off 2")
    vloop.run_for(2.5)
    assert timeout and timeout[0]["error"] == "timeout"
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()


def test_a_config_change_wakes_the_clock(vloop):
    fw = vloop.make()
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()
    fw.apply_config(fw.cfg)
    assert fw.board.clock_running()
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()


def test_one_busy_line_keeps_the_shared_sim_clock(vloop):
    fw = vloop.make(sim_config(lines=2))
    vloop.run_for(SLEEP_S)
    assert not fw.board.clock_running()
    fw.board.handsets[2].offhook()
    vloop.run_for(3 * SLEEP_S)
    assert fw.board.clock_running() and fw.board.ports[1].idle and not fw.board.ports[2].idle


def test_a_call_end_to_end_after_both_boards_slept(vloop):
    pa, pb = _free_port(), _free_port()
    a = vloop.make(sim_config("1001", pa, pb))
    b = vloop.make(sim_config("1002", pb, pa))
    vloop.run_for(SLEEP_S + 10.0)
    assert not a.board.clock_running() and not b.board.clock_running()
    ask(a, "offhook")
    vloop.run_for(0.5)
    dialled = ask(a, "dial 1002")
    vloop.run_for(2.0)
    assert dialled and dialled[0]["ok"] is True
    assert b.board.handsets[1].ringing and b.board.clock_running()
    ask(b, "offhook")
    vloop.run_for(1.0)
    assert a.board.ports[1].fxs.state == "talking" and b.board.ports[1].fxs.state == "talking"
    ask(a, "say 1000")
    vloop.run_for(0.5)
    lst = ask(b, "listen 400")
    vloop.run_for(0.5)
    assert lst and lst[0]["ok"] is True and 1000 in lst[0]["freqs"], lst
    ask(a, "say off")
    ask(a, "onhook")
    ask(b, "onhook")
    vloop.run_for(1.0 + SLEEP_S + 1.0)
    assert not a.has_media(1) and not b.has_media(1)
    assert not a.board.clock_running() and not b.board.clock_running()
