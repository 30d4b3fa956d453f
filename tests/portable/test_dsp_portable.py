"""tipring/firmware/dsp on both interpreters: plain functions, no pytest.

    python tests/portable/test_dsp_portable.py
    cd /work/main && MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_dsp_portable.py

Prints "N passed, N failed" and exits non-zero on a failure. On MicroPython the G.711 tables,
the pure-Python DFT of the DTMF detector and the FSK modem are what run.
"""

import sys

try:
    sys.path.insert(0, __file__.rsplit("/", 3)[0] if "/" in __file__ else ".")
except NameError:  # pragma: no cover
    pass

from tipring.firmware.dsp import callerid, dtmf, g711, tone_plans, tones  # noqa: E402
from tipring.firmware.dsp.pcm import FRAME_BYTES  # noqa: E402


def _le16(values):
    out = bytearray()
    for v in values:
        v &= 0xFFFF
        out.append(v & 0xFF)
        out.append(v >> 8)
    return bytes(out)


def test_g711_pure_matches_reference_points():
    # samples around every segment edge, both signs, against the per-sample reference
    pts = [0, 1, 31, 32, 33, 95, 96, 223, 479, 991, 2015, 4063, 8159, 8160, 16000, 32767]
    pts = pts + [-p for p in pts] + [-32768]
    pcm = _le16(pts)
    want_u = bytes([g711.ulaw_encode_sample(v) for v in pts])
    want_a = bytes([g711.alaw_encode_sample(v) for v in pts])
    assert want_u[0] == 0xFF and want_u[15] == 0x80 and want_a[0] == 0xD5 and want_a[15] == 0xAA
    assert g711.lin2ulaw_pure(pcm) == want_u
    assert g711.lin2alaw_pure(pcm) == want_a


def test_g711_pure_decode_all_codes():
    codes = bytes(range(256))
    du = g711.ulaw2lin_pure(codes)
    da = g711.alaw2lin_pure(codes)
    for c in range(256):
        u = du[2 * c] | (du[2 * c + 1] << 8)
        a = da[2 * c] | (da[2 * c + 1] << 8)
        assert u == g711.ulaw_decode_sample(c) & 0xFFFF
        assert a == g711.alaw_decode_sample(c) & 0xFFFF
    assert g711.ulaw_decode_sample(0x80) == 32124 and g711.alaw_decode_sample(0xAA) == 32256


def test_g711_encode_decode_round_trip():
    codes = bytes(range(256))
    assert g711.lin2ulaw_pure(g711.ulaw2lin_pure(codes))[1:127] == codes[1:127]
    assert g711.lin2alaw_pure(g711.alaw2lin_pure(codes)) == codes


def test_dtmf_detects_generated_digit():
    det = dtmf.DTMFDetector()
    got = []
    for f in dtmf.DTMFGenerator("7", 60, level=-10, pause_ms=60, lead_ms=25).frames():
        got += det.feed(f)
    assert [(d, e) for d, e, _t in got] == [("7", "on"), ("7", "off")]


def test_dtmf_rejects_short_digit():
    det = dtmf.DTMFDetector()
    got = []
    for f in dtmf.DTMFGenerator("3", 20, level=-10, pause_ms=60, lead_ms=5).frames():
        got += det.feed(f)
    assert got == []


def test_fsk_encode_decode():
    msg = callerid.mdmf("5551234567", "JOHN DOE", (11, 24, 17, 55))
    burst = bytes(FRAME_BYTES) + callerid.fsk_burst(msg, "bell202") + bytes(FRAME_BYTES)
    rx = callerid.CallerIDReceiver("bell202")
    got = []
    for i in range(0, len(burst), FRAME_BYTES):
        got += rx.feed(burst[i:i + FRAME_BYTES])
    assert len(got) == 1 and got[0]["number"] == "5551234567" and got[0]["name"] == "JOHN DOE"


def test_tone_generator_frames():
    g = tones.ToneGenerator(tone_plans.tone("DE", "busy"))
    frames = [g.next_frame() for _ in range(60)]
    assert all(len(f) == FRAME_BYTES for f in frames)
    assert frames[30] == bytes(FRAME_BYTES)        # 480 ms on, then off: frame 30 is silent
    assert frames[5] != bytes(FRAME_BYTES)


def test_classifier_hears_busy():
    from tipring.firmware.dsp import classify
    g = tones.ToneGenerator(tone_plans.tone("US", "busy"))
    c = classify.ToneClassifier("US")
    for _ in range(60):
        c.feed(g.next_frame())
    assert c.tone == "busy" and sorted(c.freqs) == [480, 620] and c.cadence[-2:] == [500, 500]


def test_modem_tones_find_cng_and_ced_with_reversals():
    import math
    from tipring.firmware.dsp.modem_tones import ModemToneDetector
    from tipring.firmware.dsp.pcm import amplitude, to_pcm
    a = amplitude(-30.0)

    def cng(i):
        return a * math.sin(2 * math.pi * 1100 * i / 8000)

    def ans_pr(i):      # 2100 Hz with a phase reversal every 450 ms
        return a * math.sin(2 * math.pi * 2100 * i / 8000) * (-1 if (i // 3600) % 2 else 1)

    for fn, n, want in ((cng, 30, ("cng", False)), (ans_pr, 50, ("ced", True))):
        d = ModemToneDetector()
        got = []
        for k in range(n):      # frame by frame: MicroPython's heap is small
            got += d.feed(to_pcm([fn(k * 160 + i) for i in range(160)]))
        assert [(e["tone"], e["phase_reversals"]) for e in got] == [want], got


def test_resample_round_trip_and_alias_rejection():
    import math
    from tipring.firmware.dsp import resample
    from tipring.firmware.dsp.pcm import rms, to_pcm
    tone = to_pcm([10000 * math.sin(2 * math.pi * 1000 * i / 8000) for i in range(480)])
    wide = resample.Interpolator().process(tone)
    back = resample.Decimator().process(wide)
    assert len(wide) == 2 * len(tone) and len(back) == len(tone)
    assert abs(rms(back[200:]) - rms(tone[200:])) < 10          # 1 kHz passes at its level
    high = to_pcm([20000 * math.sin(2 * math.pi * 6000 * i / 16000) for i in range(960)])
    assert rms(resample.Decimator().process(high)[200:]) < 10    # 6 kHz cannot fold to 2 kHz


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
