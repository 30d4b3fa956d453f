"""One line port and its handset on virtual time, without the firmware: the real `LinePort`
(FxsLine, tones, caller ID, CIDCW, DTMF detector, echo canceller) wired to the sim board's
`VirtualHandset` on mock pins, the media clock driven by hand as tipring/board/sim/board.py
drives it, and a test's fake call layer (`far`) as the app. Used by the CIDCW tests at 8 kHz
and the 16 kHz call tests."""

import gpiozero.pins.mock as gmock
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from tipring.board import load_board
from tipring.board.line_port import LinePort
from tipring.board.sim.handset import SimPin, VirtualHandset
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop
from tipring.hal.line import LineHardware

TICK = 0.02
CID_B = {"number": "5550102", "name": "BOB"}


class Rig:
    """`far`: the call layer (emit, line_intent, media_frame ...); `rate`: the line's rate;
    `cidcw`: the handset answers a CAS. `played` holds (time, earpiece frame), `spoken` the
    mouthpiece frames; `mouth`, when set, replaces the handset's mouthpiece (a hybrid)."""

    def __init__(self, far, line_cfg=None, country="us", cidcw=True, rate=8000):
        self.vclock = VirtualClock(100.0)
        self.loop = EventLoop(clock=self.vclock)
        self.factory = MockFactory(pin_class=SimPin)
        self.saved, Device.pin_factory = Device.pin_factory, self.factory
        pins = [ln for ln in load_board("sim")["line"] if ln["port"] == 1][0]
        self.app = far
        cfg = {"port": 1, "dial_plan": "(1xxx)", "caller_id": "bell202"}
        cfg.update(line_cfg or {})
        self.hw = LineHardware(pins, post=lambda i: self.loop.call_soon_threadsafe(self.port.hook_posted, i),
                               clock=self.loop.now, open_audio=False, pin_factory=self.factory)
        self.port = LinePort(self.loop, self.app, cfg, {"country": country}, ringer=self.hw.ringer,
                             rate=rate)
        self.hs = VirtualHandset(self.loop, 1, self.factory.pin(pins["shk"]["gpio"]),
                                 self.factory.pin(pins["rm"]["gpio"]),
                                 shk_active_high=pins["shk"]["active"] == "high",
                                 rm_active_high=pins["rm"]["active"] == "high",
                                 country=country, cid_method=cfg["caller_id"],
                                 ring_session=lambda: self.hw.ringer.is_ringing, cidcw=cidcw, rate=rate)
        self.played = []        # (time, earpiece frame) as the line played it
        self.spoken = []        # the handset's mouthpiece frames
        self.mouth = None

    @property
    def frames(self) -> list:
        """The earpiece frames alone."""
        return [f for _t, f in self.played]

    def run(self, seconds):
        for _ in range(int(round(seconds / TICK))):
            self.loop.run_for(TICK)
            mouth = self.hs.mouthpiece() if self.mouth is None else self.mouth()
            self.spoken.append(mouth)
            frame = self.port.media_tick(mouth, self.loop.now())
            self.played.append((self.loop.now(), frame))
            self.hs.earpiece(frame)

    def in_call(self):
        """B calls, the handset answers: the line is talking."""
        self.port.command("incoming", [CID_B])
        self.run(7.0)
        assert self.hs.caller_id["number"] == CID_B["number"]        # Type I, on-hook
        self.hs.offhook()
        self.run(0.5)
        assert self.port.fxs.state == "talking"

    def close(self):
        self.hs.close()
        self.port.close()
        self.hw.close()
        self.loop.close()
        self.factory.reset()
        Device.pin_factory = self.saved


@pytest.fixture
def line_rig(monkeypatch):
    """make(far, **Rig keywords) -> a Rig on the mock clock, closed after the test."""
    made = []

    def make(far, **kw):
        r = Rig(far, **kw)
        monkeypatch.setattr(gmock, "monotonic", r.vclock.now)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
