"""Clocks for the event loop: the real monotonic one and a virtual one for tests.

Every protocol core in tipring takes `now` as an argument instead of reading a clock, so the
loop is the only place that asks what time it is. Production uses `MonotonicClock`; tests use
`VirtualClock`, which moves only when told (or when the loop, finding nothing to do, jumps it
straight to the next timer), so an RFC 3261 Timer B of 32 s takes microseconds to test.
"""

import time


class MonotonicClock:
    """Seconds from `time.monotonic()`; never goes backwards, ignores wall-clock changes."""

    virtual = False

    def now(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock that moves only on `advance()` / `set()`; the loop may jump it to a timer."""

    virtual = True

    def __init__(self, start: float = 0.0):
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not go backwards (advance %r)" % seconds)
        self._now += seconds
        return self._now

    def set(self, when: float) -> float:
        if when > self._now:
            self._now = float(when)
        return self._now
