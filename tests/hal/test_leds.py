"""tipring/hal/leds.py: status LEDs on mock pins, reset button timing on virtual time."""
import time

import pytest

from tipring.hal.leds import PATTERNS, ResetButton, StatusLeds

PINS = dict(power=5, registered=6, line_in_use=13, fault=19)
BUTTON = 26


def test_steady_patterns(factory):
    leds = StatusLeds(pin_factory=factory, **PINS)
    assert all(not factory.pin(p).state for p in PINS.values())
    leds.show("power", "on")
    leds.show("fault", "on")
    leds.show("fault", "off")
    assert factory.pin(5).state is True and factory.pin(19).state is False
    assert leds.showing("power") == "on" and "power=on" in repr(leds)
    leds.close()
    leds.close()
    assert leds.closed


def test_blink_pattern_toggles_the_pin(factory):
    """gpiozero's blink thread runs on real time: a 10 ms pattern, checked loosely."""
    fast = dict(PATTERNS, blink=(0.01, 0.01))
    leds = StatusLeds(pin_factory=factory, patterns=fast, **PINS)
    pin = factory.pin(6)
    pin.clear_states()
    leds.show("registered", "blink")
    deadline = time.monotonic() + 2.0
    while len(pin.states) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    leds.show("registered", "on")
    assert len(pin.states) >= 6 and pin.state is True
    leds.close()


def test_active_low_and_missing_leds(factory):
    leds = StatusLeds(power=5, active_high=False, pin_factory=factory)
    assert factory.pin(5).state is True                 # off = high for active-low
    leds.show("power", "on")
    assert factory.pin(5).state is False
    leds.show("fault", "fast")                          # not fitted: skipped
    assert leds.showing("fault") is None
    leds.close()


def test_bad_names_are_named(factory):
    leds = StatusLeds(pin_factory=factory, **PINS)
    with pytest.raises(ValueError, match="allowed: power, registered, line_in_use, fault"):
        leds.show("wifi", "on")
    with pytest.raises(ValueError, match="allowed: .*blink.*wink"):
        leds.show("power", "disco")
    leds.close()


@pytest.fixture
def button(factory, clock):
    class Rig:                       # gpiozero devices refuse new attributes
        pass
    rig = Rig()
    rig.posted = []
    rig.device = ResetButton(BUTTON, post=rig.posted.append, pin_factory=factory)
    rig.mock = factory.pin(BUTTON)
    yield rig
    rig.device.close()


def press(button, clock, seconds, bounce=False):
    button.mock.drive_low()
    if bounce:
        for _ in range(3):
            clock.advance(0.002)
            button.mock.drive_high()
            clock.advance(0.001)
            button.mock.drive_low()
    clock.advance(seconds)
    button.mock.drive_high()


def test_short_press_reboots(button, clock):
    assert not button.device.is_pressed
    press(button, clock, 0.3, bounce=True)
    assert button.posted == [("reset", "reboot")]


def test_ten_second_hold_factory_resets(button, clock):
    press(button, clock, 9.99)
    press(button, clock, 10.0)
    assert button.posted == [("reset", "reboot"), ("reset", "factory")]


def test_bounce_alone_posts_nothing(button, clock):
    press(button, clock, 0.02)
    assert button.posted == [] and "is_pressed=False" in repr(button.device)


def test_button_close_idempotent(factory):
    b = ResetButton(BUTTON, post=lambda e: None, pin_factory=factory)
    b.close()
    b.close()
    assert b.closed and "closed" in repr(b)
