"""tipring/firmware/dsp/resample.py: the 2:1 half-band converters between a 16 kHz line and 8 kHz.

Measured as a telephony engineer would check an anti-alias filter: sines through it, their level
by RMS after the filter has settled, aliases and images found by a Goertzel at the exact
frequency they fold to. The reference is a direct-form convolution written here from the
textbook definition (zero-stuff, convolve with the 63 taps, keep every other sample), so the
polyphase C path and the plain path must both agree with an independent implementation."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from tipring.firmware.compat import le16_bytes, le16_samples
from tipring.firmware.dsp import resample as R

import array


def _pcm(values):
    return le16_bytes(array.array("h", [max(-32768, min(32767, int(round(v)))) for v in values]))


def _sine(freq, rate, n, peak=10000.0):
    return _pcm(peak * math.sin(2 * math.pi * freq * i / rate) for i in range(n))


def _rms(pcm, skip):
    s = le16_samples(pcm)[skip:]
    return math.sqrt(sum(v * v for v in s) / len(s))


def _goertzel_amp(pcm, freq, rate, skip):
    """Amplitude of the `freq` component (a sine of peak A gives ~A)."""
    s = le16_samples(pcm)[skip:]
    n = len(s)
    w = 2 * math.pi * freq / rate
    re = sum(v * math.cos(w * i) for i, v in enumerate(s))
    im = sum(v * math.sin(w * i) for i, v in enumerate(s))
    return 2 * math.hypot(re, im) / n


def _db(x, ref):
    return 20 * math.log10(max(x, 1e-9) / ref)


def _ref_decimate(x):
    """y[m] = sum_k h[k] x[2m - k] over the whole signal with zero history (the phase the
    converter keeps: its output m is centred on input 2m - 31)."""
    h = R.taps()
    out = []
    for m in range(len(x) // 2):
        acc = 0.0
        for k, hk in enumerate(h):
            i = 2 * m - k
            if hk and 0 <= i < len(x):
                acc += hk * x[i]
        out.append(max(-32768, min(32767, math.floor(acc + 0.5))))
    return out


def _ref_interpolate(x):
    """Zero-stuff to 16 kHz, convolve with 2h, the phase the converter keeps."""
    h = R.taps()
    u = []
    for v in x:
        u += [v, 0]
    out = []
    for t in range(len(u)):
        acc = 0.0
        for k, hk in enumerate(h):
            i = t - k
            if hk and 0 <= i < len(u):
                acc += 2 * hk * u[i]
        out.append(max(-32768, min(32767, math.floor(acc + 0.5))))
    return out


@pytest.fixture(params=["audioop", "plain"])
def path(request, monkeypatch):
    if request.param == "plain":
        monkeypatch.setattr(R, "_audioop", None)
    return request.param


def test_the_filter_is_a_linear_phase_half_band_with_unity_dc_gain():
    h = R.taps()
    assert len(h) == 63
    assert h == h[::-1]
    c = 31
    assert h[c] == 0.5
    assert all(h[c + d] == 0 for d in range(2, 32, 2))
    assert abs(sum(h) - 1.0) < 1e-12


@pytest.mark.parametrize("freq", [300, 1000, 2000, 3000, 3400])
def test_decimator_passes_the_telephone_band_flat(path, freq):
    x = _sine(freq, 16000, 3200)
    y = R.Decimator().process(x)
    assert len(y) == len(x) // 2
    assert abs(_db(_rms(y, 200), _rms(x, 400))) < 0.02


@pytest.mark.parametrize("freq", [4600, 5000, 6000, 7000, 7900])
def test_decimator_keeps_aliases_70_db_down(freq):
    x = _sine(freq, 16000, 3200, peak=30000)
    y = R.Decimator().process(x)
    alias = 8000 - freq                       # where `freq` folds at 8 kHz
    assert _db(_goertzel_amp(y, alias, 8000, 200), 30000) < -65


@pytest.mark.parametrize("freq", [300, 1000, 2000, 3400])
def test_interpolator_passes_the_band_and_keeps_images_down(path, freq):
    x = _sine(freq, 8000, 1600, peak=20000)
    z = R.Interpolator().process(x)
    assert len(z) == 2 * len(x)
    assert abs(_db(_goertzel_amp(z, freq, 16000, 400), 20000)) < 0.02
    assert _db(_goertzel_amp(z, 8000 - freq, 16000, 400), 20000) < -65    # the image


def test_up_then_down_gives_the_signal_back_delayed():
    x = le16_samples(_pcm(12000 * math.sin(2 * math.pi * 1000 * i / 8000)
                          + 6000 * math.sin(2 * math.pi * 2500 * i / 8000 + 1) for i in range(1600)))
    back = le16_samples(R.Decimator().process(R.Interpolator().process(le16_bytes(x))))
    d = (R.INTERPOLATOR_DELAY + R.DECIMATOR_DELAY) // 2          # a whole number of 8 kHz samples
    assert (R.INTERPOLATOR_DELAY + R.DECIMATOR_DELAY) % 2 == 0
    err = max(abs(back[i + d] - x[i]) for i in range(100, len(x) - d))
    assert err <= 8       # 0.003 dB of ripple and two roundings: a few LSB of 18000


def test_delays_are_what_the_module_says():
    imp = [0] * 400
    imp[101] = 10000            # the outputs sit on the odd input samples
    y = le16_samples(R.Decimator().process(_pcm(imp)))
    peak = max(range(len(y)), key=lambda i: abs(y[i]))
    assert 2 * peak - 101 == R.DECIMATOR_DELAY and y[peak] == 5000
    imp8 = [0] * 200
    imp8[50] = 10000
    z = le16_samples(R.Interpolator().process(_pcm(imp8)))
    peak = max(range(len(z)), key=lambda i: abs(z[i]))
    assert peak - 100 == R.INTERPOLATOR_DELAY and z[peak] == 10000


def test_both_paths_match_the_textbook_convolution(path):
    x = [int(12000 * math.sin(i * 0.61) + 9000 * math.sin(i * 2.3)) for i in range(640)]
    d = R.Decimator()
    y = list(le16_samples(b"".join(d.process(_pcm(x[k:k + 320])) for k in range(0, 640, 320))))
    ref = _ref_decimate(x)
    assert max(abs(a - b) for a, b in zip(y, ref)) <= 1 and len(y) == len(ref)
    x8 = x[:320]
    i = R.Interpolator()
    z = list(le16_samples(b"".join(i.process(_pcm(x8[k:k + 160])) for k in range(0, 320, 160))))
    ref = _ref_interpolate(x8)
    assert max(abs(a - b) for a, b in zip(z, ref)) <= 1 and len(z) == len(ref)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 700), min_size=1, max_size=8))
def test_any_cut_of_the_input_gives_the_same_output(cuts):
    """Frames of any size, odd byte and odd sample counts included: nothing lost, no raise."""
    x = _sine(1700, 16000, 1500) + _sine(5300, 16000, 500, peak=20000)
    whole = R.Decimator().process(x)
    d = R.Decimator()
    got, pos = b"", 0
    for c in cuts:
        got += d.process(x[pos:pos + c])
        pos += c
    got += d.process(x[pos:])
    # bytes cut mid-sample are dropped by design (rule 2: garbled lengths lose at most that byte)
    if all(c % 2 == 0 for c in cuts):
        assert got == whole


def test_full_scale_saturates_instead_of_wrapping(path):
    square = _pcm(([32767] * 8 + [-32768] * 8) * 40)
    for out in (R.Decimator().process(square), R.Interpolator().process(square)):
        s = le16_samples(out)
        # a wrap would put a large value of the wrong sign in the middle of a half period
        assert max(s) <= 32767 and min(s) >= -32768
        assert max(s) > 30000 and min(s) < -30000


def test_empty_and_tiny_inputs():
    d, i = R.Decimator(), R.Interpolator()
    assert d.process(b"") == b"" and i.process(b"") == b""
    assert d.process(b"\x01") == b""            # half a sample: dropped
    assert d.process(b"\x01\x00") == b""        # one sample waits for its partner
    assert len(d.process(b"\x01\x00")) == 2
    assert len(i.process(b"\x01\x00")) == 4
