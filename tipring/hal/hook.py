"""The SLIC's switch-hook input as a gpiozero device: raw edges, stamped, handed to the loop.

Owns only the wire: which pin, which level means off-hook, and turning the pin factory's
opaque ticks into seconds on the loop's clock. Everything about *meaning* (debounce, pulse
digits, flash, hang-up) lives in `tipring/firmware/line/hook.py`, because gpiozero's `bounce_time`
drops the 33-40 ms makes of a rotary dial (notes/hardware.md §2.1, gpiozero #1039/#550).

Threading: gpiozero calls `when_changed` from its own thread (lgpio / native / pigpio
callback threads on a Pi; the caller's thread on the mock). The handler here stamps the edge,
calls `post(("hook", t, is_off_hook))` and returns. `post` must be thread-safe: it is the
loop's wake-up function (like `loop.call_soon_threadsafe`).
"""

import time

from gpiozero import InputDevice


class HookSwitch(InputDevice):
    """Represents the SLIC's switch-hook output (SHK on the AG1171).

    Wire SHK to a GPIO input (through a level shifter when the SLIC runs at 5 V). On the
    AG1171 SHK is high when the loop is closed (off-hook) and low on-hook or during a dial
    pulse break; a shifter that inverts needs ``active_state=False``::

        from tipring.hal.hook import HookSwitch
        hook = HookSwitch(27, post=loop.post)
        # loop receives ("hook", 12.345678, True) on lift

    :type pin: int or str
    :param pin: the GPIO SHK is wired to.

    :type post: callable
    :param post: thread-safe callable taking one tuple, ``("hook", t, is_off_hook)``, where
        ``t`` is the edge time in seconds on ``clock`` and ``is_off_hook`` a bool.

    :type active_state: bool
    :param active_state: the pin level that means off-hook (default True, AG1171 direct).

    :type pull: str
    :param pull: "up", "down" or "none" (default "down": SHK idles low on-hook).

    :type clock: callable
    :param clock: the loop's clock in seconds (default ``time.monotonic``). Edge stamps
        are mapped onto it with the factory's ``ticks_diff``, so they keep the pin's
        own timing even when the callback runs late.

    :type pin_factory: Factory or None
    :param pin_factory: see gpiozero's pin factories (a ``MockFactory`` in tests).
    """

    def __init__(self, pin=None, *, post, active_state: bool = True, pull: str = "down",
                 clock=None, pin_factory=None):
        if pull not in ("up", "down", "none"):
            raise ValueError("pull must be 'up', 'down' or 'none', got %r" % (pull,))
        self._post = post
        self._clock = clock if clock is not None else time.monotonic
        self.edges = 0
        if pull == "none":
            super().__init__(pin, pull_up=None, active_state=bool(active_state),
                             pin_factory=pin_factory)
        else:
            super().__init__(pin, pull_up=(pull == "up"), pin_factory=pin_factory)
            # pull_up fixes gpiozero's idea of "active"; we want the SLIC's meaning instead
            self._active_state = bool(active_state)
            self._inactive_state = not self._active_state
        try:
            self.pin.edges = "both"
            self.pin.when_changed = self._pin_changed
        except:
            self.close()
            raise

    def _pin_changed(self, ticks, state):
        # runs on gpiozero's thread: stamp, post, return
        factory = self.pin_factory
        now = self._clock()
        t = now - factory.ticks_diff(factory.ticks(), ticks)
        self.edges += 1
        self._post(("hook", t, bool(state) == self._active_state))

    @property
    def is_off_hook(self) -> bool:
        """True while the raw SHK level says the loop is closed (no debounce)."""
        return bool(self.value)

    def close(self) -> None:
        """Stops reporting edges and releases the pin; safe to call twice."""
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
            return "<hal.HookSwitch on pin %r, is_off_hook=%s, edges=%d>" % (
                self.pin, self.is_off_hook, self.edges)
        except Exception:
            return "<hal.HookSwitch closed>"
