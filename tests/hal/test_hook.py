"""tipring/hal/hook.py on gpiozero's MockFactory, feeding tipring/firmware/line/hook.py like the loop does."""
import threading

import pytest

from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.pulse import digit_to_pulses
from tipring.hal.hook import HookSwitch

SHK = 27


class Line:
    """A HookSwitch on a mock pin, its posts decoded by a HookDecoder on the same clock."""

    def __init__(self, factory, clock, active_state=True, pull="down", **decoder_kw):
        self.clock = clock
        self.posted = []
        self.hook = HookSwitch(SHK, post=self.posted.append, active_state=active_state,
                               pull=pull, clock=clock, pin_factory=factory)
        self.pin = factory.pin(SHK)
        self.active_state = active_state
        self.decoder = HookDecoder(off_hook=False, now=clock(), **decoder_kw)
        self.events = []
        self._fed = 0

    def _pump(self):
        # the loop: deliver posted edges, then fire timers due by now
        for kind, t, off in self.posted[self._fed:]:
            assert kind == "hook"
            self.events += self.decoder.edge(t, off)
        self._fed = len(self.posted)

    def wait(self, s):
        """Let `s` seconds pass, firing the decoder's timers at their deadlines."""
        end = self.clock() + s
        while True:
            d = self.decoder.deadline()
            if d is None or d >= end:          # an edge at `end` comes before its timer
                break
            self.clock.set(max(d, self.clock()))
            self.events += self.decoder.on_timer(d)
        self.clock.set(end)

    def level(self, off_hook):
        high = off_hook == self.active_state
        (self.pin.drive_high if high else self.pin.drive_low)()
        self._pump()

    def lift(self):
        self.level(True)

    def replace(self):
        self.level(False)

    def pulses(self, n, pps=10.0, brk=0.6):
        period = 1.0 / pps
        for _ in range(n):
            self.level(False)
            self.wait(brk * period)
            self.level(True)
            self.wait((1 - brk) * period)

    def kinds(self):
        return [e[0] for e in self.events]

    def digits(self):
        return "".join(e[1] for e in self.events if e[0] == "digit")


@pytest.fixture
def line(factory, clock):
    ln = Line(factory, clock)
    ln.lift()
    ln.wait(1.0)
    assert ln.events == [("off_hook", 1000.0 + 0.010)]
    ln.events.clear()
    return ln


def test_posts_stamped_edges(factory, clock):
    posted = []
    hook = HookSwitch(SHK, post=posted.append, clock=clock, pin_factory=factory)
    pin = factory.pin(SHK)
    clock.advance(0.5)
    pin.drive_high()
    clock.advance(0.25)
    pin.drive_low()
    assert posted == [("hook", 1000.5, True), ("hook", 1000.75, False)]
    assert not hook.is_off_hook and hook.edges == 2
    assert "pin GPIO27" in repr(hook) and "is_off_hook=False" in repr(hook)


def test_stamp_is_edge_time_not_callback_time(factory, clock):
    """A callback that runs late still posts the pin's own edge time (ticks_diff)."""
    posted = []
    hook = HookSwitch(SHK, post=posted.append, clock=clock, pin_factory=factory)
    late = lambda: clock() + 0.030                     # the loop clock runs 30 ms ahead
    hook._clock = late
    factory.pin(SHK).drive_high()
    assert posted == [("hook", 1000.03, True)]


def test_inverting_level_shifter(factory, clock):
    posted = []
    hook = HookSwitch(SHK, post=posted.append, active_state=False, pull="up", clock=clock,
                      pin_factory=factory)              # keep a reference: gpiozero holds
    pin = factory.pin(SHK)                              # its callback weakly
    pin.drive_low()
    pin.drive_high()
    assert [p[2] for p in posted] == [True, False]
    assert not hook.is_off_hook


def test_close_is_idempotent_and_stops_posting(factory, clock):
    posted = []
    hook = HookSwitch(SHK, post=posted.append, clock=clock, pin_factory=factory)
    hook.close()
    hook.close()
    assert hook.closed and "closed" in repr(hook)
    HookSwitch(SHK, post=posted.append, clock=clock, pin_factory=factory).close()  # pin free


def test_posts_from_another_thread(factory, clock):
    """gpiozero calls back from its own thread on a Pi; post is called there, nothing else."""
    posted, where = [], []

    def post(item):
        where.append(threading.current_thread().name)
        posted.append(item)
    hook = HookSwitch(SHK, post=post, clock=clock, pin_factory=factory)
    t = threading.Thread(target=factory.pin(SHK).drive_high, name="gpio-cb")
    t.start()
    t.join()
    assert where == ["gpio-cb"] and posted[0][2] is True and hook.is_off_hook


# -- decoding through the real HAL -----------------------------------------------------

@pytest.mark.parametrize("pps,ok", [(7, False), (8, True), (9, True), (10, True), (20, True),
                                    (22, True), (23, False)])
def test_pulse_rate_window(line, pps, ok):
    line.pulses(6, pps=pps, brk=0.6)
    line.wait(1.0)
    if ok:
        assert line.digits() == "6", line.events
    else:
        assert line.kinds() == ["pulse_start", "pulse_error"], line.events
        assert line.events[-1][1] == ("too slow" if pps < 8 else "too fast")


@pytest.mark.parametrize("pct,ok", [(50, False), (55, True), (66, True), (77, True),
                                    (80, False)])
def test_break_ratio_window(line, pct, ok):
    line.pulses(8, pps=10, brk=pct / 100)
    line.wait(1.0)
    if ok:
        assert line.digits() == "8", line.events
    else:
        assert line.events[-1][:2] == ("pulse_error",
                                      "break too short" if pct < 55 else "break too long")


def test_dial_a_number_with_bouncy_contacts(line):
    for d in "0471":
        n = digit_to_pulses(d)
        for _ in range(n):
            for lv in (False, True, False):              # break with 2 ms of chatter
                line.level(lv)
                line.wait(0.001)
            line.wait(0.060)
            for lv in (True, False, True):
                line.level(lv)
                line.wait(0.001)
            line.wait(0.037)
        line.wait(0.6)
    assert line.digits() == "0471", line.events
    assert line.kinds().count("pulse_start") == 4


@pytest.mark.parametrize("brk,want", [(0.098, ["pulse_start", "pulse_error"]),
                                      (0.1, ["flash"]), (0.9, ["flash"]),
                                      (0.91, ["on_hook", "off_hook"])])
def test_flash_or_hang_up(line, brk, want):
    line.replace()
    line.wait(brk)
    line.lift()
    line.wait(2.0)
    assert line.kinds() == want, line.events


def test_hang_up_reported_900ms_after_the_break(line, clock):
    t = clock()
    line.replace()
    line.wait(5.0)
    assert line.events == [("on_hook", t + 0.9)]


def test_grandstream_flash_preset(factory, clock):
    ln = Line(factory, clock, flash_min=0.3, flash_max=1.1)
    ln.lift()
    ln.wait(1.0)
    ln.replace()
    ln.wait(1.05)
    ln.lift()
    ln.wait(1.0)
    assert ln.kinds() == ["off_hook", "flash"]
