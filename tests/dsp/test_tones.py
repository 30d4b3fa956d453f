"""Tone plans and the tone generator, measured by independent methods; the classifier on them."""

import math

import pytest

from tests.dsp.dsp_ref import amp, dft_power, envelope_parts, to_samples, zero_crossing_hz
from tipring.firmware.dsp import tone_plans
from tipring.firmware.dsp.classify import ToneClassifier, spectral_peaks
from tipring.firmware.dsp.tones import RAMP, ToneGenerator, cadence_of

CASES = [(c, n) for c in tone_plans.COUNTRIES for n in tone_plans.TONE_NAMES]


def render(tone, seconds):
    g = ToneGenerator(tone)
    return b"".join(g.next_frame() for _ in range(int(seconds * 50)))


def plan_parts(tone, cycles=2):
    """Expected [(is_on, ms)] for intro + `cycles` cadence cycles, zero parts folded."""
    seq = []
    for i, ms in enumerate(tone.get("intro") or []):
        seq.append((i % 2 == 0, ms))
    cad = tone.get("cadence") or []
    for _ in range(cycles if tone.get("repeat", True) else 1):
        for i, ms in enumerate(cad):
            seq.append((i % 2 == 0, ms))
    out = []
    for on, ms in seq:
        if ms <= 0:
            continue
        if out and out[-1][0] == on:
            out[-1] = (on, out[-1][1] + ms)
        else:
            out.append((on, ms))
    return out


def test_every_country_has_every_tone_and_ring_and_callerid():
    for c in tone_plans.COUNTRIES:
        p = tone_plans.plan(c)
        assert set(tone_plans.TONE_NAMES) <= set(p["tones"])
        assert p["ring"]["hz"] in (16, 20, 25, 50) and p["ring"]["cadence"]
        assert p["callerid"]["method"] in tone_plans.CALLERID_METHODS
    assert tone_plans.plan("us")["ring"] == {"hz": 20, "cadence": [2000, 4000]}
    assert tone_plans.plan("GB")["ring"]["cadence"] == [400, 200, 400, 2000]
    assert tone_plans.plan("JP")["ring"] == {"hz": 16, "cadence": [1000, 2000]}
    with pytest.raises(ValueError):
        tone_plans.plan("XX")
    with pytest.raises(ValueError):
        tone_plans.tone("US", "nope")


@pytest.mark.parametrize("country,name", CASES)
def test_frequencies_within_1_percent(country, name):
    tone = tone_plans.tone(country, name)
    x = to_samples(render(tone, 4))
    # the longest burst, minus its ramps
    parts = envelope_parts(x, amp(-40))
    t = 0
    best = (0, 0)
    for on, ms in parts:
        n = int(ms * 8)
        if on and n > best[1]:
            best = (t, n)
        t += n
    start, n = best[0] + 2 * RAMP, min(best[1] - 4 * RAMP, 2000)
    seg = x[start:start + n]
    freqs = tone["freqs"]
    if tone.get("alt"):
        freqs = tuple(sorted(set(f for fs, _o in tone["alt"] for f in fs)))
    if len(freqs) == 1 and not tone.get("am"):
        f = zero_crossing_hz(seg)
        assert abs(f - freqs[0]) <= 0.01 * freqs[0]
    # the plan frequencies (and AM sidebands) hold the segment's power: checked by the
    # independent DFT, a 1 % error would leave most of it outside these bins
    total = sum(v * v for v in seg) / len(seg)
    want = list(freqs)
    if tone.get("am"):
        want += [f + s * tone["am"][0] for f in freqs for s in (-1, 1)]
    got = sum(dft_power(seg, f, hann=False) for f in want) * 2 / (len(seg) ** 2)
    assert got >= 0.8 * total


@pytest.mark.parametrize("country,name", CASES)
def test_cadence_within_10_ms_and_no_clicks(country, name):
    tone = tone_plans.tone(country, name)
    cycle = sum(tone.get("cadence") or []) or 1000
    secs = min(24.0, (sum(tone.get("intro") or []) + 2 * cycle) / 1000.0 + 0.2)
    x = to_samples(render(tone, secs))
    parts = envelope_parts(x, amp(tone["level"] - 20))
    if parts and not parts[0][0] and parts[0][1] < 5:     # the first ramp's first millisecond
        parts = [(True, parts[1][1] + parts[0][1])] + parts[2:]
    want = plan_parts(tone)
    got = parts[:len(want) - 1]            # the last part runs off the end of the render
    if not want:                           # continuous: one burst from start to end
        assert len(parts) == 1 and parts[0][0]
    for (on, ms), (won, wms) in zip(got, want):
        assert on == won and abs(ms - wms) <= 10, (got, want)
    # clicks: no sample step larger than the sines' own steepest slope
    freqs = set(tone["freqs"])
    for fs, _o in tone.get("alt") or []:
        freqs |= set(fs)
    depth = 1 + (tone["am"][1] if tone.get("am") else 0)
    bound = sum(amp(tone["level"]) * depth * 2 * math.pi * f / 8000 for f in freqs) + 3
    steps = max(abs(x[i] - x[i - 1]) for i in range(1, len(x)))
    assert steps <= bound


def test_phase_continuous_across_frames_and_stop_ramps_down():
    g = ToneGenerator(tone_plans.tone("US", "dial"))
    b = b"".join(g.next_frame() for _ in range(5))
    g.stop()
    b += g.next_frame() + g.next_frame()
    assert g.done
    x = to_samples(b)
    ideal = [amp(-13) * (math.sin(2 * math.pi * 350 * n / 8000) + math.sin(2 * math.pi * 440 * n / 8000))
             for n in range(800)]
    # steady part equals the textbook sum of sines (phase-continuous across the 5 frames)
    assert max(abs(x[n] - ideal[n]) for n in range(RAMP, 800)) <= 1.0
    assert max(abs(v) for v in x[800 + RAMP:]) == 0


def test_finite_tone_ends():
    g = ToneGenerator(tone_plans.tone("US", "confirm"))
    for _ in range(40):
        g.next_frame()
    assert g.done
    assert g.next_frame() == bytes(320)


def test_cadence_of_folds_zero_parts():
    assert cadence_of(tone_plans.tone("UK", "stutter_dial")) == []
    assert cadence_of(tone_plans.tone("UK", "congestion")) == [400, 350, 225, 525]
    assert cadence_of(tone_plans.tone("US", "dial")) == []


# -- the classifier -----------------------------------------------------------------------------

# tone pairs the plans themselves do not tell apart
SAME = {("JP", "congestion"): "busy", ("UK", "recall_dial"): "stutter_dial"}


@pytest.mark.parametrize("country,name", CASES)
def test_classifier_names_every_plan_tone(country, name):
    tone = tone_plans.tone(country, name)
    clf = ToneClassifier(country)
    g = ToneGenerator(tone)
    cycle = sum(tone.get("cadence") or []) or 1000
    secs = min(14.0, (sum(tone.get("intro") or []) + 2 * cycle) / 1000.0 + 1.2)
    seen = []
    for _ in range(int(secs * 50)):
        seen.append(clf.feed(g.next_frame()))
    want = SAME.get((country, name), name)
    assert want in seen
    if tone.get("repeat", True):
        assert seen[-1] == want
    plan_f = set(tone["freqs"])
    for fs, _o in tone.get("alt") or []:
        plan_f |= set(fs)
    for f in clf.freqs:
        near = min(abs(f - p) for p in plan_f)
        assert near <= 0.01 * f or (tone.get("am") and abs(near - tone["am"][0]) <= 0.01 * f)
    cad = cadence_of(tone)
    if cad and tone.get("repeat", True) and not tone.get("alt"):
        n = len(cad)
        got = clf.cadence[-n:]
        assert any(all(abs(got[i] - cad[(r + i) % n]) <= 10 for i in range(n)) for r in range(n)), (got, cad)
    if not tone.get("alt") and not tone.get("am"):
        total = 10 * math.log10(len(tone["freqs"])) + tone["level"]
        assert abs(clf.level - total) <= 1.0


def test_classifier_silence_other_and_speech(tmp_path):
    clf = ToneClassifier("US")
    for _ in range(60):
        clf.feed(bytes(320))
    assert clf.tone == "silence"
    from tipring.firmware.dsp.pcm import to_pcm
    from tipring.firmware.dsp.tones import sine_mix
    b = to_pcm(sine_mix([1000], [-10], 8000 * 2))
    for i in range(0, len(b), 320):
        clf.feed(b[i:i + 320])
    assert clf.tone == "other" and clf.freqs == [1000]
    from tests.dsp.dsp_ref import make_speech
    corpus = make_speech(tmp_path)
    if corpus is None:
        pytest.skip("espeak-ng and sox are needed for the speech case")
    for voice in ("en-us", "de"):
        clf = ToneClassifier("DE")
        b = corpus[voice]
        seen = [clf.feed(b[i:i + 320] + bytes(320 - len(b[i:i + 320]))) for i in range(0, len(b), 320)]
        heard = [s for s in seen if s != "silence"]
        assert heard.count("speech") >= 0.9 * len(heard)
        assert not set(heard) & {"dial", "ringback", "busy", "congestion", "call_waiting"}


def test_spectral_peaks_resolves_close_pair():
    from tipring.firmware.dsp.tones import sine_mix
    x = [int(v) for v in sine_mix([413, 438], [-13, -13], 1600)]
    fs = sorted(f for f, _a in spectral_peaks(x))
    assert len(fs) == 2 and abs(fs[0] - 413) < 2 and abs(fs[1] - 438) < 2


def test_classifier_pure_python_path_agrees(monkeypatch):
    from tipring.firmware.dsp import classify
    for name in ("busy", "ringback"):
        results = []
        for pure in (False, True):
            if pure:
                monkeypatch.setattr(classify, "_ff", None)
                monkeypatch.setattr(classify, "AUDIOOP", None)
            g = ToneGenerator(tone_plans.tone("UK", name))
            clf = ToneClassifier("UK")
            for _ in range(200):
                clf.feed(g.next_frame())
            results.append((clf.tone, sorted(clf.freqs), clf.cadence[-4:]))
        assert results[0] == results[1] and results[0][0] == name
