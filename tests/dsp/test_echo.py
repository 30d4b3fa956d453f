"""The line echo canceller (tipring/firmware/dsp/echo.py) on a simulated hybrid: far-end speech
(espeak-ng) through a 16 ms echo path at -6 dB ERL plus near-end noise at -55 dBm0; ERLE after
1 s, double talk at the same level, recovery after it; the G.164 disable switch."""

import array
import math
import random

import pytest

from tipring.firmware.dsp import echo
from tests.dsp import dsp_ref as R

pytestmark = pytest.mark.skipif(echo.available() is not None, reason="libspeexdsp not installed")

SECONDS = 10


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    speech = R.make_speech(tmp_path_factory.mktemp("speech"))
    if speech is None:
        pytest.skip("espeak-ng/sox not installed")
    far = list(array.array("h", speech["en-us"]))[:8000 * SECONDS]
    near = list(array.array("h", speech["en-gb"]))[:8000 * SECONDS]
    h = R.hybrid_ir(ms=16.0)
    # the echo path loses 6 dB on this far-end speech (ERL measured on the test signal)
    k = math.sqrt(R.power(R.convolve(far[:40000], h)) / R.power(far[:40000]) / 10 ** (-0.6))
    h = [v / k for v in h]
    rnd = random.Random(5)
    return {"far": far, "echo": R.convolve(far, h),
            "noise": [rnd.gauss(0, R.amp(-55.0) / math.sqrt(2)) for _ in far],
            "near": [near[i] if 4 * 8000 <= i < 6 * 8000 else 0.0 for i in range(len(far))]}


def run(ec, capture, reference):
    cap = R.pcm(capture)
    ref = R.pcm(reference)
    out = []
    for i in range(0, len(cap), 320):
        out += list(array.array("h", ec.process(cap[i:i + 320], ref[i:i + 320])))
    return out


def erle(sc, out, a, b, linear=False):
    """Echo power over what is left of it: the output less the near-end noise (linear
    canceller, G.168 test 2A), or the whole output (with the NLP, test 2B)."""
    rest = [out[i] - sc["noise"][i] for i in range(a, b)] if linear else out[a:b]
    return 10 * math.log10(R.power(sc["echo"][a:b]) / max(R.power(rest), 1e-9))


def test_erle_on_a_16_ms_hybrid_is_30_db_after_one_second(scene):
    sc = scene
    ec = echo.LineEchoCanceller(16)
    out = run(ec, [e + n for e, n in zip(sc["echo"], sc["noise"])], sc["far"])
    assert erle(sc, out, 8000, 4 * 8000) >= 30.0
    for s in range(1, SECONDS):
        assert erle(sc, out, s * 8000, (s + 1) * 8000) >= 28.0, s
    # the non-linear processor did the work while the linear part converged
    assert ec.nlp_frames > 0.7 * ec.frames and ec.double_talk_frames < 0.05 * ec.frames
    lin = echo.LineEchoCanceller(16, nlp=False)
    out = run(lin, [e + n for e, n in zip(sc["echo"], sc["noise"])], sc["far"])
    assert erle(sc, out, 8000, 2 * 8000, linear=True) >= 15.0
    assert erle(sc, out, 3 * 8000, SECONDS * 8000, linear=True) >= 30.0


def test_double_talk_passes_the_near_end_and_does_not_diverge(scene):
    sc = scene
    a, b = 4 * 8000, 6 * 8000
    assert abs(R.dbm0_of(sc["near"][a:b]) - R.dbm0_of(sc["far"][a:b])) < 3.0   # same level
    # what the canceller does to the near end with a silent far end: the baseline
    idle = run(echo.LineEchoCanceller(16), [x + n for x, n in zip(sc["near"], sc["noise"])],
               [0.0] * len(sc["far"]))
    ec = echo.LineEchoCanceller(16)
    out = run(ec, [e + n + x for e, n, x in zip(sc["echo"], sc["noise"], sc["near"])], sc["far"])
    # declared in most of it (not where either talker pauses)
    assert ec.double_talk_frames >= 0.5 * (b - a) / 160
    # the near talker comes through at its level, within ~15 dB of how it passes alone
    assert abs(R.dbm0_of(out[a:b]) - R.dbm0_of(sc["near"][a:b])) < 2.0
    diff = [out[i] - idle[i] for i in range(a, b)]
    assert 10 * math.log10(R.power(sc["near"][a:b]) / R.power(diff)) >= 12.0
    # and the echo is cancelled again once the far end talks alone
    assert erle(sc, out, 7 * 8000, SECONDS * 8000) >= 30.0


def test_the_longest_tail_still_cancels_after_one_second(scene):
    sc = scene
    ec = echo.LineEchoCanceller(64)
    out = run(ec, [e + n for e, n in zip(sc["echo"], sc["noise"])], sc["far"])
    assert erle(sc, out, 8000, 4 * 8000) >= 30.0


def test_disabled_passes_the_capture_untouched_until_reset():
    ec = echo.LineEchoCanceller(16)
    frame = R.pcm([R.amp(-10) * math.sin(2 * math.pi * 2100 * i / 8000) for i in range(160)])
    ec.disable("ansam")
    assert (ec.enabled, ec.disabled_by) == (False, "ansam")
    assert ec.process(frame, frame) == frame
    ec.reset()
    assert ec.enabled and ec.process(frame, frame) != frame
    ec.close()
    ec.close()


def test_tail_out_of_range_is_refused():
    for bad in (4, 65, 128):
        with pytest.raises(ValueError, match="8..64"):
            echo.LineEchoCanceller(bad)


def test_a_near_talker_quieter_than_the_far_end_on_a_line_with_no_echo_is_not_clipped():
    """A tone each way, the near one 10 dB under the far one, no echo path (the sim board):
    the level detector alone would call the near tone echo and let the NLP replace it with
    comfort noise; what goes to the network must still carry it."""
    n = 8000 * 3
    far = [R.amp(-10.0) * math.sin(2 * math.pi * 700 * i / 8000) for i in range(n)]
    near = [R.amp(-20.0) * math.sin(2 * math.pi * 1000 * i / 8000 + 0.4) for i in range(n)]
    ec = echo.LineEchoCanceller(tail_ms=16)
    try:
        out = run(ec, near, far)
    finally:
        ec.close()
    tail = out[8000:]
    kept = R.power(tail) / R.power(near[8000:])
    assert kept > 0.5, kept          # within 3 dB of what the mouthpiece sent
