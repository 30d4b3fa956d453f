"""Fax/modem connect tones (tipring/firmware/dsp/modem_tones.py) against spandsp's own generator and
detector: CED/ANS, ANS/PR, ANSam, ANSam/PR and CNG found at -30 dBm0 and below, each reported
once with the right kind and phase reversals; speech (espeak-ng, 9 voices) never."""

import array
import math

import pytest

from tipring.firmware.dsp.modem_tones import ModemToneDetector
from tipring.firmware.dsp.pcm import frames
from tests.dsp import dsp_ref as R

pytestmark = pytest.mark.skipif(R.spandsp() is None, reason="libspandsp not installed (tools/setup --test)")

EXPECT = {"cng": ("cng", False), "ans": ("ced", False), "ans_pr": ("ced", True),
          "ansam": ("ansam", False), "ansam_pr": ("ansam", True)}


def scaled(pcm, gain_db, noise_dbm0=-60.0):
    g = 10 ** (gain_db / 20.0)
    return R.pcm([v * g for v in array.array("h", pcm)], noise_dbm0=noise_dbm0)


def detect(pcm):
    d = ModemToneDetector()
    got = []
    for i, f in enumerate(frames(pcm)):
        got += [(i * 0.02, e) for e in d.feed(f)]
    return got


@pytest.mark.parametrize("name", sorted(EXPECT))
@pytest.mark.parametrize("dbm0", [-10.0, -30.0, -36.0])
def test_spandsp_tones_are_found_once_with_kind_and_reversals(name, dbm0):
    pcm = R.spandsp_modem_tone(name, 4.0)
    a = array.array("h", pcm)
    on = [i for i, v in enumerate(a) if v]
    level = R.dbm0_of(a[on[0]:on[0] + 4000])
    sig = scaled(pcm, dbm0 - level)
    # spandsp's detector agrees it is that tone at this level (the reference side)
    assert R.MODEM_TONE[name] in R.spandsp_modem_tone_rx(sig, name)
    got = detect(sig)
    assert len(got) == 1, got
    at, ev = got[0]
    assert (ev["tone"], ev["phase_reversals"]) == EXPECT[name]
    # soon enough to act on: 2100 Hz within 1 s of its start (0.2 s of silence first), CNG
    # within its first 0.5 s burst
    assert at <= (0.5 if name == "cng" else 1.0)


def test_a_tone_too_weak_or_off_frequency_is_not_reported():
    pcm = R.spandsp_modem_tone("ans", 3.0)
    assert detect(scaled(pcm, -38.0)) == []          # ~ -49 dBm0
    off = R.pcm(R.dual("5", 3000, low_dbm0=-10.0))    # DTMF pair: neither 1100 nor 2100
    assert detect(off) == []
    tone_2200 = R.pcm([R.amp(-10) * math.sin(2 * math.pi * 2200 * i / 8000) for i in range(24000)])
    assert detect(tone_2200) == []


def test_speech_never_looks_like_a_connect_tone(tmp_path):
    speech = R.make_speech(tmp_path)
    if speech is None:
        pytest.skip("espeak-ng/sox not installed")
    hits = {v: detect(pcm) for v, pcm in speech.items()}
    assert all(h == [] for h in hits.values()), hits
    assert sum(len(pcm) for pcm in speech.values()) > 2 * 8000 * 100     # over 100 s of it


def test_reset_starts_a_new_call():
    pcm = scaled(R.spandsp_modem_tone("cng", 1.0), 0.0)
    d = ModemToneDetector()
    first = [e for f in frames(pcm) for e in d.feed(f)]
    again = [e for f in frames(pcm) for e in d.feed(f)]
    d.reset()
    after_reset = [e for f in frames(pcm) for e in d.feed(f)]
    assert len(first) == 1 and again == [] and after_reset == first
