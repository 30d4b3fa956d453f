"""The line echo canceller at 16 kHz (a wideband line, tipring/firmware/dsp/echo.py `rate=16000`) on a
simulated hybrid, as tests/dsp/test_echo.py does at 8 kHz: far-end speech made at 16 kHz
(espeak-ng, sox), a 16 ms echo path at -6 dB ERL with energy up to 7 kHz, near-end noise at
-55 dBm0; ERLE after 1 s with the NLP (G.168 test 2B) and of the linear part alone (test 2A),
and a near talker in double talk passing through."""

import array
import math
import os
import random
import shutil
import subprocess

import pytest

from tipring.firmware.dsp import echo
from tests.dsp import dsp_ref as R

pytestmark = pytest.mark.skipif(echo.available() is not None, reason="libspeexdsp not installed")

FS = 16000
SECONDS = 6
FRAME_BYTES = 640


def speech16(outdir, voice):
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        return None
    path = os.path.join(str(outdir), voice.replace("+", "_") + "16.s16le")
    p1 = subprocess.Popen([espeak, "-v", voice, "-s", "160", "--stdout", R.SPEECH_TEXT],
                          stdout=subprocess.PIPE)
    subprocess.run([sox, "-q", "-G", "-t", "wav", "-", "-r", str(FS), "-c", "1", "-b", "16",
                    "-e", "signed-integer", "-t", "raw", "-L", path, "rate", "-h", "gain", "-n", "-6"],
                   stdin=p1.stdout, check=True)
    p1.stdout.close()
    p1.wait()
    with open(path, "rb") as fh:
        return list(array.array("h", fh.read()))


def hybrid_ir16(erl_db=6.0, ms=16.0, delay_ms=1.5, seed=3):
    """The shape of dsp_ref.hybrid_ir in time, sampled at 16 kHz: delay, damped ringing and a
    decaying random part (which carries energy across the whole 0-8 kHz band)."""
    rnd = random.Random(seed)
    n, d = int(ms * FS / 1000), int(delay_ms * FS / 1000)
    h = [0.0] * n
    for i in range(d, n):
        k = i - d
        h[i] = math.exp(-k / 36.0) * math.sin(2 * math.pi * 0.055 * k + 0.4) + \
            0.3 * math.exp(-k / 60.0) * rnd.gauss(0, 1)
    g = math.sqrt(10 ** (-erl_db / 10.0) / sum(v * v for v in h))
    return [v * g for v in h]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech16")
    far = speech16(d, "en-us")
    near = speech16(d, "en-gb")
    if far is None or near is None:
        pytest.skip("espeak-ng/sox not installed")
    far = (far * 2)[:FS * SECONDS]
    near = (near * 2)[:FS * SECONDS]
    h = hybrid_ir16()
    k = math.sqrt(R.power(R.convolve(far[:4 * FS], h)) / R.power(far[:4 * FS]) / 10 ** (-0.6))
    h = [v / k for v in h]
    rnd = random.Random(5)
    return {"far": far, "echo": R.convolve(far, h),
            "noise": [rnd.gauss(0, R.amp(-55.0) / math.sqrt(2)) for _ in far],
            "near": [near[i] if 3 * FS <= i < 4 * FS else 0.0 for i in range(len(far))]}


def run(ec, capture, reference):
    cap, ref = R.pcm(capture), R.pcm(reference)
    out = []
    for i in range(0, len(cap), FRAME_BYTES):
        out += list(array.array("h", ec.process(cap[i:i + FRAME_BYTES], ref[i:i + FRAME_BYTES])))
    return out


def erle(sc, out, a, b, linear=False):
    rest = [out[i] - sc["noise"][i] for i in range(a, b)] if linear else out[a:b]
    return 10 * math.log10(R.power(sc["echo"][a:b]) / max(R.power(rest), 1e-9))


def test_the_far_speech_has_wideband_energy(scene):
    """The scene is wideband: a good part of the echo lies above the narrowband channel."""
    x = scene["far"][:2 * FS]
    # the upper band's share: the difference of successive samples weighs high frequencies
    hp = [x[i] - x[i - 1] for i in range(1, len(x))]
    assert R.power(hp) > 0.1 * R.power(x)


def test_erle_at_16_khz_is_30_db_after_one_second(scene):
    sc = scene
    ec = echo.LineEchoCanceller(16, rate=FS)
    assert ec.frame_bytes == FRAME_BYTES and ec.rate == FS
    mix = [e + n for e, n in zip(sc["echo"], sc["noise"])]
    out = run(ec, mix, sc["far"])
    assert erle(sc, out, FS, 3 * FS) >= 30.0
    for s in range(1, SECONDS):
        assert erle(sc, out, s * FS, (s + 1) * FS) >= 25.0, s
    assert ec.nlp_frames > 0.5 * ec.frames and ec.double_talk_frames < 0.1 * ec.frames
    lin = echo.LineEchoCanceller(16, nlp=False, rate=FS)
    out = run(lin, mix, sc["far"])
    print("16 kHz linear ERLE: 1-2 s %.1f dB, 3-6 s %.1f dB" % (
        erle(sc, out, FS, 2 * FS, linear=True), erle(sc, out, 3 * FS, SECONDS * FS, linear=True)))
    assert erle(sc, out, 3 * FS, SECONDS * FS, linear=True) >= 20.0
    ec.close()
    lin.close()


def test_double_talk_at_16_khz_passes_the_near_end(scene):
    sc = scene
    a, b = 3 * FS, 4 * FS
    ec = echo.LineEchoCanceller(16, rate=FS)
    out = run(ec, [e + n + x for e, n, x in zip(sc["echo"], sc["noise"], sc["near"])], sc["far"])
    assert ec.double_talk_frames >= 0.3 * (b - a) / 320
    assert abs(R.dbm0_of(out[a:b]) - R.dbm0_of(sc["near"][a:b])) < 3.0
    ec.close()


def test_a_wrong_rate_or_frame_is_refused_or_passed_through():
    with pytest.raises(ValueError, match="8000 or 16000"):
        echo.LineEchoCanceller(16, rate=44100)
    ec = echo.LineEchoCanceller(16, rate=FS)
    narrow = bytes(320)                        # an 8 kHz frame on a 16 kHz canceller
    assert ec.process(narrow, narrow) is narrow and ec.frames == 0
    ec.close()
