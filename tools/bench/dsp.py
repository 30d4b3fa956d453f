"""Benchmark tipring/firmware/dsp per 160-sample (20 ms) frame, beside spandsp's C DTMF receiver.

    .venv/bin/python -m tools.bench.dsp            # or: python tools/bench/dsp.py

Method as in notes/perf-baselines.md: timeit.repeat(repeat=7), loop count calibrated to
~0.2 s a run, median of the 7 per-call times. Prints µs per frame; asserts nothing.
Cases: DTMF detector on a tone frame, a silent frame and speech frames (espeak-ng + sox if
installed, else a synthetic vowel-like signal), the pure-Python detector path, tone generator
(steady and cadence frames), G.711 encode/decode (audioop and portable tables), the tone
classifier, the caller-ID FSK burst and demodulator, and spandsp dtmf_rx through ctypes.
Echo canceller section (issue 15): the line echo canceller (speexdsp MDF + Geigel DTD + NLP,
tipring/firmware/dsp/echo.py) per frame at 16 and 64 ms tails, with its ERLE on a simulated hybrid
(speech through a 16 ms echo path at -6 dB, -55 dBm0 near-end noise); the fax/modem connect
tone detector per frame; and, for comparison, spandsp's modem_echo_can (a bare LMS, one ctypes
call per sample). spandsp's G.168 echo_can is not timed: it prints two lines per sample.
"""

import array
import ctypes
import ctypes.util
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.firmware.dsp import callerid, classify, dtmf, g711, tone_plans, tones  # noqa: E402
from tipring.firmware.dsp.pcm import frames  # noqa: E402
from tools.bench.timing import per_call as bench  # noqa: E402


def speech_frames():
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak and sox:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.s16le")
            p1 = subprocess.Popen([espeak, "-v", "en-us", "-s", "160", "--stdout",
                                   "Please hold while we connect your call. The weather tomorrow "
                                   "will be mostly sunny."], stdout=subprocess.PIPE)
            subprocess.run([sox, "-q", "-G", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16",
                            "-e", "signed-integer", "-t", "raw", "-L", path, "rate", "-h", "gain",
                            "-n", "-6"], stdin=p1.stdout, check=True)
            p1.wait()
            with open(path, "rb") as fh:
                b = fh.read()
        src = "espeak-ng"
    else:
        x = [sum(3000 / k * math.sin(2 * math.pi * 130 * k * n / 8000 + k) for k in range(1, 20))
             for n in range(16000)]
        b = array.array("h", [int(v) for v in x]).tobytes()
        src = "synthetic harmonics"
    fr = frames(b, pad=False)
    loud = [f for f in fr if max(abs(v) for v in array.array("h", f)) > 2000]
    return loud, src


class SpanDtmf:
    def __init__(self):
        lib = ctypes.CDLL(ctypes.util.find_library("spandsp") or "libspandsp.so.2")
        lib.dtmf_rx_init.restype = ctypes.c_void_p
        lib.dtmf_rx_init.argtypes = [ctypes.c_void_p] * 3
        lib.dtmf_rx.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.dtmf_rx_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.s = lib.dtmf_rx_init(None, None, None)

    def feed(self, f):
        self.lib.dtmf_rx(self.s, f, 160)


def main():
    print("python %s, audioop %s" % (sys.version.split()[0], "yes" if g711.HAVE_AUDIOOP else "no"))
    tone = dtmf.DTMFGenerator("5", 1000, level=-10).frames()[5:45]
    silent = bytes(320)
    speech, src = speech_frames()
    rows = []

    def per_frame(label, fn, frs):
        it = {"i": 0}

        def one():
            i = it["i"]
            fn(frs[i])
            it["i"] = (i + 1) % len(frs)
        rows.append((label, bench(one) * 1e6))

    det = dtmf.DTMFDetector()
    per_frame("DTMF detector, tone frame ('5', -10 dBm0)", det.feed, tone)
    per_frame("DTMF detector, silent frame", det.feed, [silent])
    per_frame("DTMF detector, speech frame (%s, %d voiced frames)" % (src, len(speech)), det.feed, speech)
    ff, ao = dtmf._ff, dtmf.AUDIOOP
    dtmf._ff, dtmf.AUDIOOP = None, None
    try:
        pure = dtmf.DTMFDetector()
        per_frame("DTMF detector, pure-Python path, tone frame", pure.feed, tone)
        per_frame("DTMF detector, pure-Python path, silent frame", pure.feed, [silent])
    finally:
        dtmf._ff, dtmf.AUDIOOP = ff, ao
    try:
        sp = SpanDtmf()
        per_frame("spandsp dtmf_rx via ctypes, tone frame", sp.feed, tone)
        per_frame("spandsp dtmf_rx via ctypes, silent frame", sp.feed, [silent])
        per_frame("spandsp dtmf_rx via ctypes, speech frame", sp.feed, speech)
    except OSError:
        rows.append(("spandsp dtmf_rx: libspandsp not installed", float("nan")))

    g = tones.ToneGenerator(tone_plans.tone("US", "dial"))
    rows.append(("tone generator, US dial tone frame (steady)", bench(g.next_frame) * 1e6))
    g = tones.ToneGenerator(tone_plans.tone("US", "congestion"))
    rows.append(("tone generator, US reorder (250/250, with ramps)", bench(g.next_frame) * 1e6))
    g = tones.ToneGenerator(tone_plans.tone("AU", "dial"))
    rows.append(("tone generator, AU dial 413+438 (8000-sample period)", bench(g.next_frame) * 1e6))

    f = tone[0]
    u = g711.lin2ulaw(f)
    rows.append(("G.711 µ-law encode (fast path)", bench(lambda: g711.lin2ulaw(f)) * 1e6))
    rows.append(("G.711 µ-law decode (fast path)", bench(lambda: g711.ulaw2lin(u)) * 1e6))
    rows.append(("G.711 µ-law encode, portable tables", bench(lambda: g711.lin2ulaw_pure(f)) * 1e6))
    rows.append(("G.711 µ-law decode, portable tables", bench(lambda: g711.ulaw2lin_pure(u)) * 1e6))
    rows.append(("G.711 A-law encode, portable tables", bench(lambda: g711.lin2alaw_pure(f)) * 1e6))
    rows.append(("G.711 A-law decode, portable tables", bench(lambda: g711.alaw2lin_pure(g711.lin2alaw(f))) * 1e6))

    for name in ("dial", "busy"):
        gen = tones.ToneGenerator(tone_plans.tone("US", name))
        clip = [gen.next_frame() for _ in range(500)]     # 10 s
        clf = classify.ToneClassifier("US")
        per_frame("tone classifier, US %s (mean over 10 s)" % name, clf.feed, clip)
    clf = classify.ToneClassifier("US")
    per_frame("tone classifier, speech", clf.feed, speech)

    msg = callerid.mdmf("5551234567", "JOHN DOE", (11, 24, 17, 55))
    burst = callerid.fsk_burst(msg, "bell202")
    rows.append(("caller-ID MDMF Bell 202 burst, whole burst (%d ms)" % callerid.burst_ms(msg),
                 bench(lambda: callerid.fsk_burst(msg, "bell202"), target_s=0.3) * 1e6))
    bf = frames(burst)

    def demod():
        rx = callerid.CallerIDReceiver("bell202")
        for fr in bf:
            rx.feed(fr)
    rows.append(("caller-ID demodulator, per frame", bench(demod, target_s=0.3) * 1e6 / len(bf)))

    rows += echo_rows(speech, per_frame)

    w = max(len(r[0]) for r in rows)
    print("%-*s %10s" % (w, "case (160-sample frame unless noted)", "µs"))
    for label, us in rows:
        print("%-*s %10.2f" % (w, label, us))


def echo_rows(speech, per_frame):
    """The echo canceller and the connect-tone detector; rows of (label, µs)."""
    from tipring.firmware.dsp import echo, modem_tones
    from tests.dsp import dsp_ref as R
    rows = []
    why = echo.available()
    if why is not None:
        return [("line echo canceller: %s" % why, float("nan"))]
    far = [v for f in speech for v in array.array("h", f)]
    if len(far) < 8000 * 4:
        far = (far * (8000 * 4 // max(1, len(far)) + 1))[:8000 * 4]
    far = far[:8000 * 6]
    h = R.hybrid_ir(ms=16.0)
    k = math.sqrt(R.power(R.convolve(far, h)) / R.power(far) / 10 ** (-0.6))
    ech = R.convolve(far, [v / k for v in h])
    noise = R.pcm([0.0] * len(far), noise_dbm0=-55.0, seed=5)
    cap = R.pcm(ech)
    cap = bytes(array.array("h", [max(-32768, min(32767, a + b)) for a, b in
                                  zip(array.array("h", cap), array.array("h", noise))]))
    ref = R.pcm(far)
    pairs = [(cap[i:i + 320], ref[i:i + 320]) for i in range(0, len(cap) - 319, 320)]
    for tail in (16, 64):
        for nlp in (False, True):
            ec = echo.LineEchoCanceller(tail, nlp=nlp)
            out = b"".join(ec.process(c, r) for c, r in pairs)
            o = array.array("h", out)
            nz = array.array("h", noise)
            res = []
            for s in range(len(o) // 8000):
                a, b = s * 8000, (s + 1) * 8000
                rest = o[a:b] if nlp else [o[i] - nz[i] for i in range(a, b)]
                res.append("%.0f" % (10 * math.log10(R.power(ech[a:b]) / max(R.power(rest), 1e-9))))
            rows.append(("echo canceller %d ms %s: ERLE per second, dB: %s" % (
                tail, "with NLP" if nlp else "linear (NLP off)", " ".join(res)), float("nan")))
        ec = echo.LineEchoCanceller(tail)
        it = {"i": 0}

        def one():
            c, r = pairs[it["i"]]
            ec.process(c, r)
            it["i"] = (it["i"] + 1) % len(pairs)
        rows.append(("line echo canceller, %d ms tail (speexdsp MDF + DTD + NLP)" % tail, bench(one) * 1e6))
    det = modem_tones.ModemToneDetector()
    per_frame("fax/modem tone detector, speech frame", det.feed, speech)
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("spandsp") or "libspandsp.so.2")
        vp = ctypes.c_void_p
        lib.modem_echo_can_init.restype = vp
        lib.modem_echo_can_init.argtypes = [ctypes.c_int]
        lib.modem_echo_can_update.restype = ctypes.c_int16
        lib.modem_echo_can_update.argtypes = [vp, ctypes.c_int16, ctypes.c_int16]
        lib.modem_echo_can_adaption_mode.argtypes = [vp, ctypes.c_int]
        mec = lib.modem_echo_can_init(128)
        lib.modem_echo_can_adaption_mode(mec, 1)
        upd = lib.modem_echo_can_update
        c0, r0 = (list(array.array("h", x)) for x in pairs[10])
        rows.append(("spandsp modem_echo_can 16 ms via ctypes (160 calls, bare LMS)",
                     bench(lambda: [upd(mec, t, r) for t, r in zip(r0, c0)]) * 1e6))
    except OSError:
        rows.append(("spandsp modem_echo_can: libspandsp not installed", float("nan")))
    return rows


if __name__ == "__main__":
    main()
