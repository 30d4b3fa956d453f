"""A call on a 16 kHz line, on virtual time: the real `LinePort` at `rate=16000` wired to the sim
board's `VirtualHandset` at 16 kHz on mock pins, the media clock driven by hand as
tipring/board/sim/board.py drives it. The far end is a fake call layer that plays line-rate
audio (a sine) and records what it is sent, as the app's `media_frame` does. Checked on the PCM:
frames are 640 bytes both ways; a 6 kHz far-end tone reaches the earpiece, a 7 kHz tone said
into the handset reaches the far end; the echo canceller runs at 16 kHz on the call audio and
takes a simulated hybrid's echo out; the call-waiting tone and caller ID on call waiting (CAS,
ACK, FSK) replace the call audio and are decoded by the handset through its decimator; the ACK
never reaches the far end."""

import array
import math

import pytest

from tipring.board.line_port import LinePort
from tipring.board.sim.wideband import Sine, line_peaks
from tipring.firmware.dsp import echo
from tipring.firmware.dsp.dtmf import DTMFDetector
from tipring.firmware.dsp.pcm import rms, rms_dbm0
from tipring.firmware.dsp.resample import Decimator
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop
from tests.sim.line_rig import TICK, line_rig  # noqa: F401 (line_rig: fixture)

CID_C = {"number": "5550103", "name": "CAROL"}
RATE = 16000
SILENT = bytes(640)


class FarEnd:
    """The call layer as the line sees it: a line-rate sine as call audio, the capture kept."""

    def __init__(self, freq=700, level=-16.0):
        self.events = []
        self.intents = []
        self.sent = []
        self.connected = False
        self.tone = Sine(freq, level, RATE)

    def emit(self, name, fields):
        self.events.append((name, fields))

    def line_intent(self, port, intent, *args):
        self.intents.append((port, intent) + args)
        if intent == "answer":
            self.connected = True

    def media_call(self, port):
        return "call-1" if self.connected else None

    def media_frame(self, port, capture, now):
        if not self.connected:
            return None
        self.sent.append(capture)
        return self.tone.next_frame()


@pytest.fixture
def rig(line_rig):
    return lambda far=None, **kw: line_rig(far or FarEnd(), rate=RATE, **kw)


def test_wideband_audio_both_ways_at_the_line_rate(rig):
    r = rig(far=FarEnd(6000))
    r.in_call()
    assert {len(f) for f in r.frames} == {640} and {len(f) for f in r.app.sent} == {640}
    got = []
    r.hs.listen(400, got.append)
    r.hs.say(7000)
    r.run(1.0)
    assert got[0]["freqs"] == [6000] and abs(got[0]["level_dbm0"] - -16.0) < 0.5, got
    sent = b"".join(r.app.sent[-25:])
    assert line_peaks(sent, RATE) == [7000] and rms_dbm0(rms(sent)) > -16.0
    assert r.port.echo.status()["active"] == (echo.available() is None)
    if echo.available() is None:
        assert r.port.echo.ec.rate == RATE and r.port.echo.ec.frames > 40


def test_a_far_end_digit_is_a_dtmf_pair_on_the_wideband_earpiece(rig):
    r = rig()
    r.in_call()
    r.port.command("remote_digit", ["7"])
    r.run(0.3)
    det, down = DTMFDetector(), Decimator()
    seen = [d for f in r.frames[-15:] for d, e, _ in det.feed(down.process(f)) if e == "on"]
    assert seen == ["7"]


@pytest.mark.skipif(echo.available() is not None, reason="libspeexdsp not installed")
def test_the_echo_canceller_takes_a_hybrids_echo_out_at_16_khz(rig):
    """The mouthpiece returns the earpiece's last frame 10 dB down and 1 ms late (a hybrid with
    wideband far-end noise): what the far end is sent carries the echo >= 20 dB down."""
    import random
    rnd = random.Random(3)

    class Noisy(FarEnd):
        def media_frame(self, port, capture, now):
            if not self.connected:
                return None
            self.sent.append(capture)
            return array.array("h", [int(rnd.gauss(0, 3000)) for _ in range(320)]).tobytes()

    r = rig(far=Noisy())
    r.in_call()
    g = 10 ** (-10 / 20.0)
    state = {"tail": array.array("h", bytes(32))}

    def hybrid():
        last = array.array("h", r.played[-1][1]) if r.played else array.array("h", SILENT)
        x = state["tail"] + last                      # 16 samples (1 ms) of delay
        state["tail"] = last[-16:]
        return array.array("h", [int(v * g) for v in x[:320]]).tobytes()

    r.mouth = hybrid
    r.run(3.0)
    echo_in = b"".join(r.spoken[-50:])
    echo_out = b"".join(r.app.sent[-50:])
    erle = 20 * math.log10(max(rms(echo_in), 1) / max(rms(echo_out), 1))
    print("16 kHz line ERLE on the hybrid: %.1f dB" % erle)
    assert erle >= 20.0 and r.port.echo.ec.rate == RATE


def test_call_waiting_and_its_caller_id_replace_the_call_audio(rig):
    r = rig()
    r.in_call()
    mark = len(r.played)
    r.port.command("call_waiting", [CID_C])
    seen = []
    for _ in range(150):
        r.run(TICK)
        seen.append(r.hs.tone())
    assert "call-waiting" in seen                       # the SAS over the call, through the ear
    assert r.hs.caller_id["number"] == CID_C["number"] and r.hs.caller_id["name"] == "CAROL"
    assert r.port._cidcw is None and r.port.fxs.state == "waiting"
    # the ACK went out of the mouthpiece (widened) and the line heard it, but not the far end
    det, down = DTMFDetector(), Decimator()
    acks = [d for f in r.spoken[mark:] for d, e, _ in det.feed(down.process(f)) if e == "on"]
    assert acks == ["D"]
    det, down = DTMFDetector(), Decimator()
    assert [d for f in r.app.sent[-150:] for d, e, _ in det.feed(down.process(f))] == []
    assert not [i for i in r.app.intents if i[1] == "digit"]
    # the call is back: 700 Hz in the earpiece, at the line rate, untouched
    assert line_peaks(b"".join(r.frames[-10:]), RATE) == [700]
    assert not [f for n, f in r.app.events if n == "error"]


def test_a_line_port_takes_only_8000_or_16000():
    loop = EventLoop(clock=VirtualClock(0.0))
    try:
        with pytest.raises(ValueError, match="allowed: 8000 or 16000"):
            LinePort(loop, FarEnd(), {"port": 1}, {"country": "us"}, rate=44100)
        narrow = LinePort(loop, FarEnd(), {"port": 1}, {"country": "us"})
        assert (narrow.rate, narrow.frame_bytes) == (8000, 320)
        assert narrow._down is None and narrow._up is None     # 8 kHz: nothing converts
        narrow.close()
    finally:
        loop.close()
