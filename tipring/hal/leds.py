"""Front-panel status LEDs and the reset button.

Owns the four status LEDs (power, registered, line-in-use, fault) as gpiozero `LED`s showing
named patterns, and the reset button, which tells short presses (reboot) from a 10 s hold
(factory reset), the usual ATA convention (SPA112/HT802 hold the reset button ~10 s).

LED patterns blink on gpiozero's own blink thread: it touches only the LED pin and nothing
the loop owns. The reset button, like the hook switch, only stamps its edges and posts.

Posted by `ResetButton` (one tuple through the loop's thread-safe `post`):
    ("reset", "reboot")      released after a press shorter than `hold_time`
    ("reset", "factory")     released after holding at least `hold_time` (10 s)
"""

from gpiozero import LED, CompositeDevice, InputDevice

# name -> None (off), True (steady on) or (on_s, off_s)
PATTERNS = {
    "off": None,
    "on": True,
    "blink": (0.5, 0.5),       # slow: in progress (booting, registering, ringing)
    "fast": (0.1, 0.1),        # urgent: factory reset armed, fatal fault
    "wink": (0.1, 1.9),        # alive but idle / degraded
}

LED_NAMES = ("power", "registered", "line_in_use", "fault")


class StatusLeds(CompositeDevice):
    """Represents the front-panel status LEDs: power, registered, line-in-use and fault.

    Wire each LED (with its resistor) from a GPIO to ground (``active_high=True``) or from
    3.3 V to the GPIO (``active_high=False``). LEDs a board does not fit are left as None::

        leds = StatusLeds(power=5, registered=6, line_in_use=13, fault=19)
        leds.show("registered", "blink")

    :param power, registered, line_in_use, fault: GPIO of each LED, or None when absent.
    :type active_high: bool or dict
    :param active_high: True (default) when a high pin lights the LED; a dict gives it per
        LED name (missing names default to True).
    :type patterns: dict or None
    :param patterns: pattern table (default `PATTERNS`); tests pass quicker blinks.
    :type pin_factory: Factory or None
    :param pin_factory: see gpiozero's pin factories (a ``MockFactory`` in tests).
    """

    def __init__(self, *, power=None, registered=None, line_in_use=None, fault=None,
                 active_high=True, patterns=None, pin_factory=None):
        self._patterns = dict(PATTERNS if patterns is None else patterns)
        self._showing = {}
        pins = {"power": power, "registered": registered, "line_in_use": line_in_use,
                "fault": fault}
        leds = {}
        try:
            for name in LED_NAMES:
                if pins[name] is not None:
                    high = active_high.get(name, True) if isinstance(active_high, dict) \
                        else active_high
                    leds[name] = LED(pins[name], active_high=bool(high),
                                     initial_value=False, pin_factory=pin_factory)
        except:
            for led in leds.values():
                led.close()
            raise
        self._showing = dict((name, "off") for name in leds)
        super().__init__(_order=tuple(n for n in LED_NAMES if n in leds),
                         pin_factory=pin_factory, **leds)

    def show(self, name: str, pattern: str) -> None:
        """Show `pattern` ("off", "on", "blink", "fast", "wink") on LED `name`.

        An LED the board does not fit is silently skipped; an unknown name or pattern is a
        ValueError naming the allowed ones.
        """
        if name not in LED_NAMES:
            raise ValueError("unknown LED %r; allowed: %s" % (name, ", ".join(LED_NAMES)))
        if pattern not in self._patterns:
            raise ValueError("unknown LED pattern %r; allowed: %s"
                             % (pattern, ", ".join(sorted(self._patterns))))
        if name not in self._showing or self._showing[name] == pattern:
            return
        led = getattr(self, name)
        p = self._patterns[pattern]
        if p is None:
            led.off()
        elif p is True:
            led.on()
        else:
            led.blink(on_time=p[0], off_time=p[1], background=True)
        self._showing[name] = pattern

    def showing(self, name: str):
        """The pattern LED `name` shows, or None when the board has no such LED."""
        return self._showing.get(name)

    def __repr__(self):
        if self.closed:
            return "<hal.StatusLeds closed>"
        return "<hal.StatusLeds %s>" % ", ".join(
            "%s=%s" % (n, self._showing[n]) for n in self._order)


class ResetButton(InputDevice):
    """Represents the reset button: a short press reboots, a 10 s hold factory-resets.

    Wire a push button from a GPIO to ground (pressed = low, internal pull-up, the default)::

        button = ResetButton(26, post=loop.post)
        # loop receives ("reset", "reboot") or ("reset", "factory") on release

    :type pin: int or str
    :param pin: the GPIO the button is wired to.
    :type post: callable
    :param post: thread-safe callable taking one tuple (see module docstring).
    :type hold_time: float
    :param hold_time: seconds held that make a release a factory reset (default 10).
    :type min_press: float
    :param min_press: presses shorter than this are contact bounce and ignored (50 ms).
    :type pull_up: bool
    :param pull_up: True (default): pulled up, pressed pulls the pin low.
    :type pin_factory: Factory or None
    :param pin_factory: see gpiozero's pin factories (a ``MockFactory`` in tests).
    """

    def __init__(self, pin=None, *, post, hold_time: float = 10.0, min_press: float = 0.05,
                 pull_up: bool = True, pin_factory=None):
        self._post = post
        self.hold_time = hold_time
        self.min_press = min_press
        self._pressed_at = None
        super().__init__(pin, pull_up=pull_up, pin_factory=pin_factory)
        try:
            self.pin.edges = "both"
            self.pin.when_changed = self._pin_changed
        except:
            self.close()
            raise

    @property
    def is_pressed(self) -> bool:
        """True while the button is down (raw level)."""
        return bool(self.value)

    def _pin_changed(self, ticks, state):
        # runs on gpiozero's thread: compare stamps, maybe post, return
        pressed = bool(state) == self._active_state
        if pressed:
            self._pressed_at = ticks
            return
        if self._pressed_at is None:
            return
        held = self.pin_factory.ticks_diff(ticks, self._pressed_at)
        self._pressed_at = None
        if held < self.min_press:
            return
        self._post(("reset", "factory" if held >= self.hold_time else "reboot"))

    def close(self) -> None:
        """Stops reporting and releases the pin; safe to call twice."""
        pin = getattr(self, "_pin", None)
        if pin is not None:
            try:
                pin.when_changed = None
            except Exception:
                pass
        super().close()

    def __repr__(self):
        try:
            self._check_open()
            return "<hal.ResetButton on pin %r, is_pressed=%s>" % (self.pin, self.is_pressed)
        except Exception:
            return "<hal.ResetButton closed>"
