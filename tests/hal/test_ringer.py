"""tipring/hal/ringer.py: RM and F/R edges as gpiozero's mock pins record them, on virtual time."""
import pytest

from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.ring_cadence import CADENCES, ring_plan
from tipring.hal.hook import HookSwitch
from tipring.hal.ringer import Ringer
from tests.hal.conftest import pin_edges

RM, FR, SHK = 17, 12, 27
T = 1000.0


@pytest.fixture
def ringer(factory, clock):
    r = Ringer(RM, FR, fr_idle=True, pin_factory=factory)
    factory.pin(RM).clear_states()
    factory.pin(FR).clear_states()
    yield r
    r.close()


def run_until(ringer, clock, end):
    """The loop: on_timer at each deadline before `end`; returns the events."""
    events = []
    while True:
        d = ringer.deadline()
        if d is None or d >= end:
            break
        clock.set(d)
        events += ringer.on_timer(d)
    clock.set(end)
    return events


def bursts(edges):
    """[(on_time, off_time), ...] from an RM history."""
    ons = [t for t, s in edges[1:] if s]
    offs = [t for t, s in edges[1:] if not s]
    return list(zip(ons, offs))


def test_idle_pins(factory, ringer):
    assert not factory.pin(RM).state and factory.pin(FR).state
    assert ringer.deadline() is None and not ringer.is_ringing
    assert "ringing=False" in repr(ringer)


def test_us_cadence_and_frequency(factory, clock, ringer):
    ev = ringer.start(*ring_plan("us"), now=T)
    ev += run_until(ringer, clock, T + 12.0 + 1e-3)
    rm = pin_edges(factory.pin(RM), T)
    fr = pin_edges(factory.pin(FR), T)
    assert bursts(rm) == [(T, T + 2.0), (T + 6.0, T + 8.0)]
    assert rm[-1] == (T + 12.0, True)
    first = [t for t, _ in fr[1:] if t < T + 2.0 + 1e-9]
    assert len(first) == 80                         # 40 periods: idle again at T+1.975
    assert first[-1] == T + 1.975
    steps = {round(b - a, 9) for a, b in zip(first, first[1:])}
    assert steps == {0.025}                         # 20 Hz exactly, no drift
    assert fr[1] == (T, False)                      # first half-cycle reversed from idle
    assert fr[-1][0] <= T + 12.0 and factory.pin(FR).state is False
    assert [e[0] for e in ev] == ["ring_on", "ring_off", "cid_slot", "ring_on", "ring_off",
                                  "ring_on"]
    assert ("cid_slot", T + 2.0, T + 6.0) in ev and ringer.rings == 3


@pytest.mark.parametrize("country", sorted(CADENCES))
def test_every_country(factory, clock, ringer, country):
    cadence, freq = ring_plan(country)
    ringer.start(cadence, freq, now=T)
    cycle = sum(cadence)
    run_until(ringer, clock, T + cycle + 1e-3)
    rm = pin_edges(factory.pin(RM), T)
    on_off = []
    t = T
    for i in range(0, len(cadence), 2):
        on_off.append((round(t, 9), round(t + cadence[i], 9)))
        t += cadence[i] + cadence[i + 1]
    assert bursts(rm) == on_off
    fr = pin_edges(factory.pin(FR), T)
    a, b = on_off[0]
    toggles = [t for t, _ in fr[1:] if a - 1e-9 <= t < b - 1e-9]
    assert len(toggles) == round((b - a) * 2 * freq)
    assert abs((toggles[2] - toggles[0]) - 1.0 / freq) < 1e-6


def test_uk_double_ring_cid_slot(factory, clock, ringer):
    ev = ringer.start(*ring_plan("uk"), now=T)
    ev += run_until(ringer, clock, T + 3.5)
    assert [e for e in ev if e[0] == "cid_slot"] == [("cid_slot", T + 1.0, T + 3.0)]
    assert ringer.cid_slot() == (T + 1.0, T + 3.0)
    assert [e[2] for e in ev if e[0] == "ring_on"] == [1, 1, 2]


def test_pre_ring_gap_for_etsi_caller_id(factory, clock, ringer):
    ev = ringer.start((2.0, 4.0), 20, now=T, pre_ring=1.2)
    assert ev == [("cid_slot", T, T + 1.2)] and not ringer.is_ring_on
    assert ringer.deadline() == T + 1.2
    ev = run_until(ringer, clock, T + 1.3)
    assert ev[0] == ("ring_on", T + 1.2, 1)


def test_late_timer_keeps_phase(factory, clock, ringer):
    ringer.start((2.0, 4.0), 20, now=T)
    clock.set(T + 0.0874)                           # loop 62 ms late
    ringer.on_timer(T + 0.0874)
    assert factory.pin(FR).state is True            # 3rd half period: back at idle level
    assert ringer.deadline() == pytest.approx(T + 0.1)


def test_ring_trip_within_200ms(factory, clock, ringer):
    """Off-hook during a burst: the hook decoder confirms in 50 ms, stop() idles the pins."""
    posted = []
    hook = HookSwitch(SHK, post=posted.append, clock=clock, pin_factory=factory)
    dec = HookDecoder(now=T)
    ringer.start((2.0, 4.0), 20, now=T)
    dec.set_ringing(True)
    run_until(ringer, clock, T + 0.7)
    factory.pin(SHK).drive_high()                   # lift at T+0.7
    answered = None
    while answered is None:
        d = min(x for x in (ringer.deadline(), dec.deadline()) if x is not None)
        clock.set(d)
        ringer.on_timer(d)
        for _, t, off in posted:
            for e in dec.edge(t, off):
                answered = e
        posted.clear()
        for e in dec.on_timer(d):
            answered = e
            ringer.stop()
            dec.set_ringing(False)
    assert answered[0] == "off_hook" and answered[1] - (T + 0.7) <= 0.2
    rm = pin_edges(factory.pin(RM), T)
    assert rm[-1] == (round(answered[1], 9), False)
    assert factory.pin(FR).state is True and ringer.deadline() is None
    assert hook.is_off_hook and not ringer.is_ringing


def test_off_hook_glitch_while_ringing_does_not_trip(factory, clock):
    dec = HookDecoder(now=T)
    dec.set_ringing(True)
    assert dec.edge(T + 0.5, True) == [] and dec.edge(T + 0.53, False) == []
    assert dec.on_timer(T + 1.0) == []


def test_rm_is_low_after_stop_and_between_bursts(factory, clock, ringer):
    ringer.start((0.4, 0.2, 0.4, 2.0), 25, now=T)
    run_until(ringer, clock, T + 0.5)
    assert factory.pin(RM).state is False
    run_until(ringer, clock, T + 0.7)
    assert factory.pin(RM).state is True
    ringer.stop()
    assert factory.pin(RM).state is False and factory.pin(FR).state is True
    ringer.stop()


def test_polarity_reversal(factory, ringer):
    ringer.set_polarity(False)
    assert factory.pin(FR).state is False
    ringer.set_polarity(True)
    assert factory.pin(FR).state is True


def test_bad_cadence_named(ringer):
    with pytest.raises(ValueError, match="even-length"):
        ringer.start((2.0,), 20, now=T)
    with pytest.raises(ValueError, match="10..70 Hz"):
        ringer.start((2.0, 4.0), 200, now=T)
    assert not ringer.is_ringing


def test_close_idempotent_drives_rm_low(factory, clock):
    r = Ringer(RM, FR, pin_factory=factory)
    r.start((2.0, 4.0), 20, now=T)
    assert factory.pin(RM).state is True
    r.close()
    r.close()
    assert factory.pin(RM).state is False and r.closed and "closed" in repr(r)
    assert r.on_timer(T + 1) == [] and r.deadline() is None


def test_failed_constructor_releases_pins(factory):
    from gpiozero import DigitalOutputDevice
    busy = DigitalOutputDevice(FR, pin_factory=factory)
    with pytest.raises(Exception):
        Ringer(RM, FR, pin_factory=factory)
    busy.close()
    Ringer(RM, FR, pin_factory=factory).close()     # RM was released
