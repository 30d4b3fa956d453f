"""DTMF detector against ITU-T Q.24 (as exchanges apply it), talk-off on real speech, spandsp.

Signals come from tests/dsp/dsp_ref.py (hard-edged sums of sines), not from the firmware's
generator. Each case is placed at several alignments against the 20 ms frame grid.
"""

import pytest

from tests.dsp.dsp_ref import ALL_DIGITS, dual, frames, make_speech, pcm, silence, spandsp, \
    spandsp_dtmf_rx, spandsp_dtmf_tx
from tipring.firmware.dsp import dtmf
from tipring.firmware.dsp.dtmf import DTMFDetector, DTMFGenerator

ALIGN = (0, 23, 61, 80, 117, 143)          # samples of lead-in beyond one silent frame


def detect(samples, detector=None):
    det = detector or DTMFDetector()
    events = []
    for f in frames(pcm(samples)):
        events += det.feed(f)
    return [d for d, edge, _t in events if edge == "on"], events


def burst(digit, ms, align, **kw):
    return silence(samples=160 + align) + dual(digit, ms, **kw) + silence(100)


def digits_at_all_alignments(digit, ms, **kw):
    return [detect(burst(digit, ms, a, **kw))[0] for a in ALIGN]


# -- Q.24 operate / non-operate --------------------------------------------------------------

@pytest.mark.parametrize("digit", ALL_DIGITS)
def test_accepts_40ms_at_every_alignment(digit):
    assert digits_at_all_alignments(digit, 40) == [[digit]] * len(ALIGN)


@pytest.mark.parametrize("digit", ALL_DIGITS)
@pytest.mark.parametrize("ms", [20, 23])
def test_rejects_short_tones(digit, ms):
    assert digits_at_all_alignments(digit, ms) == [[]] * len(ALIGN)


@pytest.mark.parametrize("ms", [30, 35])
def test_between_23_and_40_ms_never_double_counts(ms):
    hits = 0
    for d in ALL_DIGITS:
        for got in digits_at_all_alignments(d, ms):
            assert got in ([], [d])
            hits += bool(got)
    assert 0 <= hits <= len(ALL_DIGITS) * len(ALIGN)


OFFSETS_ACCEPT = [(0.015, 0.015), (-0.015, -0.015), (0.015, -0.015), (-0.015, 0.015),
                  (0.015, 0.0), (0.0, -0.015)]
OFFSETS_REJECT = [(0.035, 0.035), (-0.035, -0.035), (0.035, 0.0), (-0.035, 0.0),
                  (0.0, 0.035), (0.0, -0.035)]


@pytest.mark.parametrize("digit", ALL_DIGITS)
@pytest.mark.parametrize("dev", OFFSETS_ACCEPT, ids=lambda d: "%+.1f%%/%+.1f%%" % (d[0] * 100, d[1] * 100))
def test_accepts_1_5_percent_deviation(digit, dev):
    got = [detect(burst(digit, 45, a, dev_low=dev[0], dev_high=dev[1]))[0] for a in ALIGN[:3]]
    assert got == [[digit]] * 3


@pytest.mark.parametrize("digit", ALL_DIGITS)
@pytest.mark.parametrize("dev", OFFSETS_REJECT, ids=lambda d: "%+.1f%%/%+.1f%%" % (d[0] * 100, d[1] * 100))
def test_rejects_3_5_percent_deviation(digit, dev):
    got = [detect(burst(digit, 100, a, dev_low=dev[0], dev_high=dev[1]))[0] for a in ALIGN[:3]]
    assert got == [[]] * 3


@pytest.mark.parametrize("digit", ALL_DIGITS)
@pytest.mark.parametrize("twist", [-8.0, 4.0])
def test_accepts_8db_normal_and_4db_reverse_twist(digit, twist):
    # twist_db is the high group relative to the low group: -8 = normal twist, +4 = reverse
    got = [detect(burst(digit, 45, a, low_dbm0=-12.0, twist_db=twist))[0] for a in ALIGN[:3]]
    assert got == [[digit]] * 3


@pytest.mark.parametrize("digit", ALL_DIGITS)
@pytest.mark.parametrize("twist", [-12.0, 8.0])
def test_rejects_twist_beyond_limits(digit, twist):
    got = [detect(burst(digit, 100, a, low_dbm0=-12.0, twist_db=twist))[0] for a in ALIGN[:3]]
    assert got == [[]] * 3


@pytest.mark.parametrize("digit", ALL_DIGITS)
def test_accepts_minus_26_dbm0_per_tone(digit):
    got = [detect(burst(digit, 45, a, low_dbm0=-26.0))[0] for a in ALIGN[:3]]
    assert got == [[digit]] * 3


@pytest.mark.parametrize("digit", "1590#D")
def test_worst_corner_weak_offset_and_twisted(digit):
    # -26 dBm0 high group, 8 dB normal twist, both tones 1.5 % off, 45 ms
    got = [detect(burst(digit, 45, a, low_dbm0=-18.0, twist_db=-8.0, dev_low=0.015,
                        dev_high=-0.015))[0] for a in ALIGN[:3]]
    assert got == [[digit]] * 3


@pytest.mark.parametrize("digit", "1590#D")
def test_rejects_below_minus_40_dbm0(digit):
    assert detect(burst(digit, 100, 0, low_dbm0=-40.0))[0] == []


# -- one report per key press -------------------------------------------------------------------

def test_long_press_reports_once_with_on_and_off():
    got, events = detect(silence(40) + dual("5", 800) + silence(100))
    assert got == ["5"]
    assert [(d, e) for d, e, _t in events] == [("5", "on"), ("5", "off")]
    on_t, off_t = events[0][2], events[1][2]
    assert 40 * 8 < on_t <= (40 + 45) * 8          # declared within 45 ms of the tone's start
    assert (40 + 800) * 8 < off_t <= (40 + 800 + 45) * 8


def test_ten_ms_interruption_is_bridged():
    got, _ = detect(silence(30) + dual("7", 60) + silence(10) + dual("7", 60) + silence(100))
    assert got == ["7"]


def test_forty_ms_pause_separates_repeated_digit():
    got, _ = detect(silence(30) + dual("3", 50) + silence(40) + dual("3", 50) + silence(100))
    assert got == ["3", "3"]


def test_all_digits_in_sequence():
    sig = silence(30)
    for d in ALL_DIGITS:
        sig += dual(d, 50) + silence(50)
    assert detect(sig)[0] == list(ALL_DIGITS)


def test_digits_in_noise():
    sig = silence(30)
    for d in ALL_DIGITS:
        sig += dual(d, 60, low_dbm0=-20) + silence(60)
    det = DTMFDetector()
    got = []
    for f in frames(pcm(sig, noise_dbm0=-38, seed=3)):   # 18 dB SNR per tone
        got += [d for d, e, _t in det.feed(f) if e == "on"]
    assert got == list(ALL_DIGITS)


def test_rejects_wrong_frame_size():
    with pytest.raises(ValueError):
        DTMFDetector().feed(b"\0" * 100)


def test_generator_round_trip_and_levels():
    for d in ALL_DIGITS:
        g = DTMFGenerator(d, 60, level=-10, twist_db=2, pause_ms=60)
        det = DTMFDetector()
        got = [e for f in g.frames() for e in det.feed(f)]
        assert [x[0] for x in got if x[1] == "on"] == [d]
    # the detector's level estimate is the weaker tone, in dBm0
    det = DTMFDetector()
    for f in DTMFGenerator("8", 100, level=-15, twist_db=0).frames():
        det.feed(f)
        if det.level is not None:
            assert abs(det.level - (-15)) < 1.0
            break
    else:
        pytest.fail("no level reported")


def test_pure_python_path_decides_the_same(monkeypatch):
    cases = [("1", 40, {}), ("D", 23, {}), ("6", 45, {"dev_low": 0.015, "dev_high": 0.015}),
             ("9", 100, {"dev_high": 0.035}), ("#", 45, {"twist_db": -8.0, "low_dbm0": -12.0}),
             ("0", 45, {"low_dbm0": -26.0})]
    fast = [detect(burst(d, ms, 61, **kw))[0] for d, ms, kw in cases]
    monkeypatch.setattr(dtmf, "_ff", None)
    monkeypatch.setattr(dtmf, "AUDIOOP", None)
    pure = [detect(burst(d, ms, 61, **kw))[0] for d, ms, kw in cases]
    assert pure == fast == [["1"], [], ["6"], [], ["#"], ["0"]]


# -- talk-off --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    corpus = make_speech(tmp_path_factory.mktemp("speech"))
    if corpus is None:
        pytest.skip("espeak-ng and sox are needed for the talk-off test (tools/setup installs them)")
    return corpus


def test_talk_off_speech_gives_no_digits(speech):
    import array
    total_s = 0.0
    false = []
    for voice, b in sorted(speech.items()):
        for gain in (1.0, 3.16, 0.316):   # as generated (about -25 dBFS RMS), ±10 dB
            a = array.array("h", b)
            if gain != 1.0:
                a = array.array("h", [max(-32768, min(32767, int(v * gain))) for v in a])
            det = DTMFDetector()
            for f in frames(a.tobytes()):
                false += [(voice, gain, e) for e in det.feed(f) if e[1] == "on"]
            total_s += len(a) / 8000.0
    assert total_s >= 120.0
    assert false == [], "%d false digits in %.0f s of speech" % (len(false), total_s)


# -- spandsp as a second opinion ------------------------------------------------------------------

needs_spandsp = pytest.mark.skipif(spandsp() is None, reason="libspandsp2 not installed")


@needs_spandsp
def test_decodes_spandsp_generated_digits():
    b = spandsp_dtmf_tx(ALL_DIGITS, level=-10, on_ms=50, off_ms=55)
    det = DTMFDetector()
    got = [e[0] for f in frames(b) for e in det.feed(f) if e[1] == "on"]
    assert "".join(got) == ALL_DIGITS


@needs_spandsp
def test_spandsp_decodes_tipring_generated_digits():
    assert spandsp_dtmf_rx(dtmf.generate(ALL_DIGITS, 60, 60)) == ALL_DIGITS
