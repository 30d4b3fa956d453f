"""Benchmark the line side of a 16 kHz (wideband) line against an 8 kHz one, per 20 ms frame.

    .venv/bin/python -m tools.bench.wideband       # or: python tools/bench/wideband.py

`LinePort.media_tick` (tipring/board/line_port.py) in the states that cost most: in a call (the
app's `media_frame` a far end returning a line-rate frame; the capture speech-like noise), with
the echo canceller on and off, and with dial tone playing (tone generator, DTMF detector). At
16 kHz each frame also runs the line's Decimator (capture -> the 8 kHz DSP) and, for tones, its
Interpolator, and the canceller works on 320 samples instead of 160. Also the sim handset's
own `earpiece` + `mouthpiece` per frame (a test and demo cost, not the firmware's).

Method as tools/bench/dsp.py: timeit.repeat(repeat=7), loop count calibrated to ~0.2 s a run,
median of the per-call times. Prints µs per frame; asserts nothing.
"""

import array
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import gpiozero.pins.mock as gmock  # noqa: E402
from gpiozero import Device  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from tipring.board import load_board  # noqa: E402
from tipring.board.line_port import LinePort  # noqa: E402
from tipring.board.sim.handset import SimPin, VirtualHandset  # noqa: E402
from tipring.board.sim.wideband import Sine  # noqa: E402
from tipring.firmware.dsp import echo  # noqa: E402
from tipring.firmware.loop.clock import VirtualClock  # noqa: E402
from tipring.firmware.loop.loop import EventLoop  # noqa: E402
from tipring.hal.line import LineHardware  # noqa: E402
from tools.bench.timing import per_call as bench  # noqa: E402


class FarEnd:
    """The call layer as the line sees it: a 700 Hz line-rate frame back for every capture."""

    def __init__(self, rate):
        self.connected = False
        self.tone = Sine(700, -16.0, rate)

    def emit(self, name, fields):
        pass

    def line_intent(self, port, intent, *args):
        if intent == "answer":
            self.connected = True

    def media_call(self, port):
        return "c1" if self.connected else None

    def media_frame(self, port, capture, now):
        return self.tone.next_frame() if self.connected else None


class Line:
    """One LinePort + VirtualHandset at `rate` on mock pins and a virtual clock."""

    def __init__(self, rate, echo_on=True):
        self.clock = VirtualClock(100.0)
        gmock.monotonic = self.clock.now
        self.loop = EventLoop(clock=self.clock)
        self.factory = MockFactory(pin_class=SimPin)
        Device.pin_factory = self.factory
        pins = load_board("sim")["line"][0]
        self.app = FarEnd(rate)
        self.hw = LineHardware(pins, post=lambda i: self.loop.call_soon_threadsafe(self.port.hook_posted, i),
                               clock=self.loop.now, open_audio=False, pin_factory=self.factory)
        self.port = LinePort(self.loop, self.app, {"port": 1, "dial_plan": "(1xxx)", "echo_canceller": echo_on},
                             {"country": "us"}, ringer=self.hw.ringer, rate=rate)
        self.hs = VirtualHandset(self.loop, 1, self.factory.pin(pins["shk"]["gpio"]),
                                 self.factory.pin(pins["rm"]["gpio"]), rate=rate,
                                 ring_session=lambda: self.hw.ringer.is_ringing)
        rnd = random.Random(1)
        n = rate // 50
        self.speech = [array.array("h", [int(rnd.gauss(0, 2000)) for _ in range(n)]).tobytes()
                       for _ in range(50)]
        self.i = 0

    def tick(self):
        self.loop.run_for(0.02)
        self.hs.earpiece(self.port.media_tick(self.hs.mouthpiece(), self.loop.now()))

    def run(self, seconds):
        for _ in range(int(seconds / 0.02)):
            self.tick()

    def in_call(self):
        self.port.command("incoming", [{"number": "1002"}])
        self.run(1.0)
        self.hs.offhook()
        self.run(0.5)
        assert self.port.fxs.state == "talking", self.port.fxs.state

    def media_tick(self):
        self.i = (self.i + 1) % 50
        self.port.media_tick(self.speech[self.i], self.loop.now())

    def close(self):
        self.hs.close()
        self.port.close()
        self.hw.close()
        self.factory.reset()


def main():
    rates = (8000, 16000)
    print("LinePort.media_tick, µs per 20 ms frame (median of 7)")
    print("%-44s %10s %10s" % ("case", "8 kHz", "16 kHz"))
    rows = []
    have_ec = echo.available() is None
    for label, setup in (("in a call, echo canceller on", "call_ec"),
                         ("in a call, echo canceller off", "call"),
                         ("dial tone (tone out, DTMF detector in)", "dial")):
        if setup == "call_ec" and not have_ec:
            print("%-44s %s" % (label, "skipped: " + echo.available()))
            continue
        cols = []
        for rate in rates:
            line = Line(rate, echo_on=setup == "call_ec")
            if setup == "dial":
                line.hs.offhook()
                line.run(0.5)
            else:
                line.in_call()
                line.run(1.0)
            cols.append(bench(line.media_tick) * 1e6)
            line.close()
        rows.append((label, cols))
        print("%-44s %10.1f %10.1f" % (label, cols[0], cols[1]))
    cols = []
    for rate in rates:
        line = Line(rate)
        line.in_call()
        frame = line.app.tone.next_frame()
        line.hs.say(1000)

        def hs_tick(hs=line.hs, frame=frame):
            hs.earpiece(frame)
            hs.mouthpiece()
        cols.append(bench(hs_tick) * 1e6)
        line.close()
    print("%-44s %10.1f %10.1f" % ("sim handset earpiece + mouthpiece (in a call)", cols[0], cols[1]))


if __name__ == "__main__":
    main()
