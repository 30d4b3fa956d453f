"""Fixtures for HAL tests: gpiozero's own MockFactory on a clock that moves only on advance().

MockPin stamps its state history and `MockFactory.ticks()` with the module-global
`gpiozero.pins.mock.monotonic` (gpiozero 2.0.1, platform.md §1a). Patching that one name with
`FakeClock` makes pin histories, the `when_changed` ticks and `factory.ticks()` exact, so a
40 ms make and a 60 ms break are told apart without real-time slack. The same clock is given
to the HAL devices as the loop's clock. Each test gets a fresh factory, set here rather than
through GPIOZERO_PIN_FACTORY.
"""
import pytest
import gpiozero.pins.mock as gmock
from gpiozero import Device
from gpiozero.pins.mock import MockFactory


class FakeClock:
    """Seconds; moves only when the test calls advance() or set()."""

    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s

    def set(self, t):
        assert t >= self.t, "time runs forwards"
        self.t = t


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(gmock, "monotonic", c)
    return c


@pytest.fixture
def factory(clock):
    saved = Device.pin_factory
    f = MockFactory()
    Device.pin_factory = f
    try:
        yield f
    finally:
        f.reset()
        Device.pin_factory = saved


def pin_edges(pin, t_first):
    """A mock pin's history as absolute (time, state) pairs; history starts at `t_first`."""
    out, t = [], t_first
    for i, s in enumerate(pin.states):
        t += s.timestamp if i else 0.0
        out.append((round(t, 9), bool(s.state)))
    return out
