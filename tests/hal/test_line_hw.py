"""tipring/hal/line.py: devices built from the shipped board files; and one line driven end to end
through the real event loop (tipring/firmware/loop) on a virtual clock shared with the mock pins."""
import pytest
import gpiozero.pins.mock as gmock
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from tipring.board import load_board
from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.ring_cadence import ring_plan
from tipring.hal.line import LineHardware, open_leds, open_reset_button, pin_factory_for
from tipring.hal.slic import SlicPower
from tests.hal.conftest import pin_edges


@pytest.mark.parametrize("name", ["ag1171-usb", "ag1171-2line", "i2s-codec", "sim"])
def test_board_devices(factory, clock, name):
    board = load_board(name)
    posted = []
    lines = [LineHardware(l, post=posted.append, clock=clock, open_audio=False,
                          pin_factory=factory) for l in board["line"]]
    leds = open_leds(board, pin_factory=factory)
    button = open_reset_button(board, post=posted.append, pin_factory=factory)
    for hw, l in zip(lines, board["line"]):
        assert factory.pin(l["rm"]["gpio"]).state is False            # never ringing at rest
        assert factory.pin(l["fr"]["gpio"]).state == (l["fr"]["idle"] == "high")
        if l["pd"]:
            assert hw.power.is_powered
        shk = factory.pin(l["shk"]["gpio"])
        (shk.drive_high if l["shk"]["active"] == "high" else shk.drive_low)()
        assert posted[-1] == ("hook", clock(), True)
        assert hw.audio is None and "port=%d" % l["port"] in repr(hw)
    if board["leds"]["fault"]:
        leds.show("fault", "on")
        f = board["leds"]["fault"]
        assert factory.pin(f["gpio"]).state == (f["active"] == "high")
    assert (button is None) == (board["reset_button"] is None)
    for hw in lines:
        hw.close()
        hw.close()
    for dev in (leds, button):
        if dev is not None:
            dev.close()


def test_pin_factory_for():
    assert pin_factory_for({"pin_factory": "default"}) is None
    assert isinstance(pin_factory_for(load_board("sim")), MockFactory)
    with pytest.raises(ValueError, match="allowed: default, lgpio, mock"):
        pin_factory_for({"pin_factory": "gpiod"})


def test_slic_power(factory):
    p = SlicPower(23, pin_factory=factory)
    assert p.is_powered and factory.pin(23).state is False
    p.power_down()
    assert not p.is_powered and factory.pin(23).state is True
    assert "is_powered=False" in repr(p)
    p.close()
    p.close()
    low = SlicPower(23, active_high=False, pin_factory=factory)
    assert factory.pin(23).state is True and low.is_powered
    low.close()


# -- end to end through tipring/firmware/loop ----------------------------------------------------

def test_ring_answer_dial_hang_up_in_the_event_loop(monkeypatch):
    from tipring.firmware.loop.clock import VirtualClock
    from tipring.firmware.loop.loop import EventLoop

    vclock = VirtualClock(100.0)
    monkeypatch.setattr(gmock, "monotonic", vclock.now)    # pins and loop share one clock
    saved, factory = Device.pin_factory, MockFactory()
    Device.pin_factory = factory
    loop = EventLoop(clock=vclock)
    hw = None
    try:
        events, timers = [], {}

        def arm(name, obj, fire):
            if timers.get(name):
                timers[name].cancel()
            d = obj.deadline()
            timers[name] = loop.call_at(d, fire) if d is not None else None

        dec = HookDecoder(now=vclock.now())

        def handle(evs):
            for e in evs:
                events.append(e)
                if e[0] == "off_hook" and hw.ringer.is_ringing:
                    hw.ringer.stop()                          # ring trip
                    dec.set_ringing(False)
                    arm("ring", hw.ringer, ring_fire)
            arm("hook", dec, hook_fire)

        def hook_fire():
            handle(dec.on_timer(loop.now()))

        def ring_fire():
            events.extend(hw.ringer.on_timer(loop.now()))
            arm("ring", hw.ringer, ring_fire)

        def on_post(item):
            kind, t, off = item
            handle(dec.edge(t, off))

        board = load_board("ag1171-usb")
        hw = LineHardware(board["line"][0], post=lambda i: loop.call_soon_threadsafe(on_post, i),
                          clock=vclock.now, open_audio=False, pin_factory=factory)
        shk, rm = factory.pin(27), factory.pin(17)
        rm.clear_states()

        events += hw.ringer.start(*ring_plan("us"), now=loop.now())
        dec.set_ringing(True)
        arm("ring", hw.ringer, ring_fire)

        t = 100.5
        loop.call_at(t, shk.drive_high)                       # answer during the first burst
        t = 102.0
        for digit_pulses in (4, 2):
            for _ in range(digit_pulses):
                loop.call_at(t, shk.drive_low)
                loop.call_at(t + 0.062, shk.drive_high)
                t += 0.1
            t += 0.7
        loop.call_at(t + 1.0, shk.drive_low)                  # hang up
        loop.run_for(t + 3.0 - vclock.now())

        kinds = [e[0] for e in events]
        assert kinds == ["ring_on", "off_hook", "pulse_start", "digit", "pulse_start",
                         "digit", "on_hook"], events
        assert events[1] == ("off_hook", 100.55)
        assert [e[1] for e in events if e[0] == "digit"] == ["4", "2"]
        rm_edges = pin_edges(rm, 100.0)
        assert rm_edges[-1] == (100.55, False) and rm_edges[-2] == (100.0, True)
        assert not hw.ringer.is_ringing and hw.ringer.deadline() is None
    finally:
        if hw is not None:
            hw.close()
        loop.close()
        factory.reset()
        Device.pin_factory = saved
