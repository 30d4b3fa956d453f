"""Independent references for the DSP tests: signal synthesis, measurement, and spandsp.

Nothing here imports firmware code: test signals and measurements come from textbook formulas
written again, so that a shared mistake cannot pass both sides. spandsp (Debian libspandsp2,
0.0.6) is reached through ctypes, in the tests only (notes/perf-baselines.md §4 and its
appendix `spandsp_dtmf.py`, `spandsp_adsi_check.py`: opaque states need restype c_void_p; a
realtime callback disables the digit buffer; adsi_rx drops the checksum byte; adsi_tx adds it).
"""

import array
import ctypes
import ctypes.util
import math
import os
import random

FS = 8000
DBM0_PEAK = 32768 * 10 ** (-3.17 / 20)   # G.711: a 0 dBm0 sine's peak in 16-bit linear
ROW = {"1": 697, "2": 697, "3": 697, "A": 697, "4": 770, "5": 770, "6": 770, "B": 770,
       "7": 852, "8": 852, "9": 852, "C": 852, "*": 941, "0": 941, "#": 941, "D": 941}
COL = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336,
       "3": 1477, "6": 1477, "9": 1477, "#": 1477, "A": 1633, "B": 1633, "C": 1633, "D": 1633}
ALL_DIGITS = "123A456B789C*0#D"


def amp(dbm0):
    return DBM0_PEAK * 10 ** (dbm0 / 20.0)


def dual(digit, ms, low_dbm0=-10.0, twist_db=0.0, dev_low=0.0, dev_high=0.0):
    """A DTMF burst with hard edges (the hardest case for duration rules), as floats."""
    n = int(round(FS * ms / 1000.0))
    fl = ROW[digit] * (1 + dev_low)
    fh = COL[digit] * (1 + dev_high)
    al, ah = amp(low_dbm0), amp(low_dbm0 + twist_db)
    wl, wh = 2 * math.pi * fl / FS, 2 * math.pi * fh / FS
    return [al * math.sin(wl * i + 0.3) + ah * math.sin(wh * i + 1.1) for i in range(n)]


def silence(ms=0.0, samples=None):
    return [0.0] * (samples if samples is not None else int(round(FS * ms / 1000.0)))


def pcm(values, noise_dbm0=None, seed=1):
    rnd = random.Random(seed)
    sigma = amp(noise_dbm0) / math.sqrt(2) if noise_dbm0 is not None else 0.0
    out = array.array("h", [max(-32768, min(32767, int(round(v + (rnd.gauss(0, sigma) if sigma else 0)))))
                            for v in values])
    return out.tobytes()


def frames(b):
    b = b + bytes((-len(b)) % 320)
    return [b[i:i + 320] for i in range(0, len(b), 320)]


def to_samples(b):
    return array.array("h", b)


def dft_power(x, f, start=0, n=None, hann=True):
    """|X(f)|² of x[start:start+n] (direct sum, optional Hann window)."""
    n = len(x) - start if n is None else n
    w = 2 * math.pi * f / FS
    re = im = 0.0
    for i in range(n):
        g = (0.5 - 0.5 * math.cos(2 * math.pi * (i + 0.5) / n)) if hann else 1.0
        v = x[start + i] * g
        re += v * math.cos(w * i)
        im -= v * math.sin(w * i)
    return re * re + im * im


def zero_crossing_hz(x):
    """Frequency of a single sine from its upward zero crossings, interpolated."""
    ups = []
    for i in range(1, len(x)):
        if x[i - 1] < 0 <= x[i]:
            ups.append(i - 1 + (-x[i - 1]) / float(x[i] - x[i - 1]))
    if len(ups) < 2:
        return 0.0
    return (len(ups) - 1) * FS / (ups[-1] - ups[0])


def envelope_parts(x, threshold, block=8):
    """On/off parts of a signal, from the peak |x| of each 1 ms block: [(is_on, ms)]."""
    parts = []
    for i in range(0, len(x) - block + 1, block):
        on = max(abs(v) for v in x[i:i + block]) > threshold
        if parts and parts[-1][0] == on:
            parts[-1][1] += block
        else:
            parts.append([on, block])
    # a beating pair (413+438 Hz) dips to zero for ~1 ms every 40 ms: bridge gaps under 4 ms
    merged = []
    for on, n in parts:
        if merged and not on and n < 4 * block and merged[-1][0]:
            merged[-1][1] += n
            continue
        if merged and merged[-1][0] == on:
            merged[-1][1] += n
        else:
            merged.append([on, n])
    return [(on, n * 1000.0 / FS) for on, n in merged]


# -- speech for talk-off tests (notes/perf-baselines.md §5, make_speech.sh) ----------------------

SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. Please hold while we connect your call. "
               "Numbers one two three four five six seven eight nine zero, star and pound. "
               "She sells sea shells by the sea shore, and the weather tomorrow will be mostly sunny.")
SPEECH_VOICES = ("en-us", "en-gb", "en-us+f3", "en-us+m7", "en-gb-scotland", "en+klatt2", "de", "fr", "es")


def make_speech(outdir):
    """espeak-ng + sox -> {voice: 8 kHz s16le bytes}; None if either tool is missing."""
    import shutil
    import subprocess
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        return None
    out = {}
    for v in SPEECH_VOICES:
        path = os.path.join(str(outdir), v.replace("+", "_") + ".s16le")
        p1 = subprocess.Popen([espeak, "-v", v, "-s", "160", "--stdout", SPEECH_TEXT], stdout=subprocess.PIPE)
        subprocess.run([sox, "-q", "-G", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16",
                        "-e", "signed-integer", "-t", "raw", "-L", path, "rate", "-h", "gain", "-n", "-6"],
                       stdin=p1.stdout, check=True)
        p1.stdout.close()
        p1.wait()
        with open(path, "rb") as fh:
            out[v] = fh.read()
    return out


# -- spandsp through ctypes ------------------------------------------------------------------------

_lib = None


def spandsp():
    """The loaded libspandsp, or None."""
    global _lib
    if _lib is not None:
        return _lib or None
    name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        _lib = False
        return None
    vp = ctypes.c_void_p
    lib.dtmf_rx_init.restype = vp
    lib.dtmf_rx_init.argtypes = [vp, vp, vp]
    lib.dtmf_rx.restype = ctypes.c_int
    lib.dtmf_rx.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_rx_get.restype = ctypes.c_size_t
    lib.dtmf_rx_get.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_rx_free.argtypes = [vp]
    lib.dtmf_tx_init.restype = vp
    lib.dtmf_tx_init.argtypes = [vp]
    lib.dtmf_tx_put.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_tx.restype = ctypes.c_int
    lib.dtmf_tx.argtypes = [vp, vp, ctypes.c_int]
    lib.dtmf_tx_set_level.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx_set_timing.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx_free.argtypes = [vp]
    lib.adsi_rx_init.restype = vp
    lib.adsi_rx_init.argtypes = [vp, ctypes.c_int, PUT_MSG, vp]
    lib.adsi_rx.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.adsi_rx_free.argtypes = [vp]
    lib.adsi_tx_init.restype = vp
    lib.adsi_tx_init.argtypes = [vp, ctypes.c_int]
    lib.adsi_tx_put_message.restype = ctypes.c_int
    lib.adsi_tx_put_message.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.adsi_tx.restype = ctypes.c_int
    lib.adsi_tx.argtypes = [vp, vp, ctypes.c_int]
    lib.adsi_tx_set_preamble.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.adsi_tx_free.argtypes = [vp]
    _lib = lib
    return lib


PUT_MSG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int)
ADSI_CLASS, ADSI_CLIP, ADSI_CLIP_DTMF = 1, 2, 5   # Bell 202, ETSI V.23, ETSI DTMF


def spandsp_dtmf_rx(pcm_bytes):
    lib = spandsp()
    s = lib.dtmf_rx_init(None, None, None)
    for f in frames(pcm_bytes):
        lib.dtmf_rx(s, f, 160)
    buf = ctypes.create_string_buffer(129)
    n = lib.dtmf_rx_get(s, buf, 128)
    lib.dtmf_rx_free(s)
    return buf.raw[:n].decode()


def spandsp_dtmf_tx(digits, level=-10, twist=0, on_ms=50, off_ms=55):
    lib = spandsp()
    s = lib.dtmf_tx_init(None)
    lib.dtmf_tx_set_level(s, level, twist)
    lib.dtmf_tx_set_timing(s, on_ms, off_ms)
    lib.dtmf_tx_put(s, digits.encode(), -1)
    out = bytearray()
    buf = (ctypes.c_int16 * 160)()
    while True:
        n = lib.dtmf_tx(s, buf, 160)
        if n <= 0:
            break
        out += bytes(buf)[:2 * n]
    lib.dtmf_tx_free(s)
    return bytes(out)


def spandsp_adsi_rx(pcm_bytes, standard):
    """Messages spandsp's adsi_rx finds in PCM (FSK: without the checksum byte)."""
    lib = spandsp()
    got = []
    cb = PUT_MSG(lambda ud, msg, n: got.append(bytes(msg[:n])))
    s = lib.adsi_rx_init(None, standard, cb, None)
    for f in frames(pcm_bytes):
        lib.adsi_rx(s, f, 160)
    lib.adsi_rx_free(s)
    return got


def spandsp_adsi_tx(message_without_checksum, standard):
    """PCM of spandsp's adsi_tx sending a message (it adds preamble and checksum)."""
    lib = spandsp()
    s = lib.adsi_tx_init(None, standard)
    lib.adsi_tx_put_message(s, message_without_checksum, len(message_without_checksum))
    out = bytearray()
    buf = (ctypes.c_int16 * 160)()
    while True:
        n = lib.adsi_tx(s, buf, 160)
        if n <= 0:
            break
        out += bytes(buf)[:2 * n]
    lib.adsi_tx_free(s)
    return bytes(out)


# -- a 2-wire hybrid's echo path (G.168 §6.4.1 shape: bulk delay, then a dispersive decaying tail) --

def hybrid_ir(erl_db=6.0, ms=16.0, delay_ms=1.5, seed=3):
    """An echo path impulse response `ms` long (taps at 8 kHz): `delay_ms` of pure delay, then a
    damped ringing plus a decaying random part, scaled so that white noise loses `erl_db`."""
    rnd = random.Random(seed)
    n = int(round(ms * FS / 1000.0))
    d = int(round(delay_ms * FS / 1000.0))
    h = [0.0] * n
    for i in range(d, n):
        k = i - d
        h[i] = math.exp(-k / 18.0) * math.sin(2 * math.pi * 0.11 * k + 0.4) + 0.3 * math.exp(-k / 30.0) * rnd.gauss(0, 1)
    g = math.sqrt(10 ** (-erl_db / 10.0) / sum(v * v for v in h))
    return [v * g for v in h]


def convolve(x, h):
    """y[n] = Σ h[k]·x[n-k], as long as x (x before its start is silence)."""
    import operator
    hr = list(reversed(h))
    m = len(h)
    pad = [0.0] * (m - 1) + list(x)
    return [sum(map(operator.mul, hr, pad[n:n + m])) for n in range(len(x))]


def power(x):
    return sum(v * v for v in x) / max(1, len(x))


def dbm0_of(x):
    """Level of a signal in dBm0 (mean power against a 0 dBm0 sine's)."""
    p = power(x)
    return 10 * math.log10(p / (DBM0_PEAK ** 2 / 2)) if p > 0 else -200.0


# -- spandsp's modem connect tones (V.25 ANS / CED, V.8 ANSam, T.30 CNG) ---------------------------

MODEM_TONE = {"cng": 1, "ans": 2, "ans_pr": 3, "ansam": 4, "ansam_pr": 5}
TONE_REPORT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int)


def _modem_tones_lib():
    lib = spandsp()
    if lib is None:
        return None
    vp = ctypes.c_void_p
    lib.modem_connect_tones_tx_init.restype = vp
    lib.modem_connect_tones_tx_init.argtypes = [vp, ctypes.c_int]
    lib.modem_connect_tones_tx.restype = ctypes.c_int
    lib.modem_connect_tones_tx.argtypes = [vp, vp, ctypes.c_int]
    lib.modem_connect_tones_tx_free.argtypes = [vp]
    lib.modem_connect_tones_rx_init.restype = vp
    lib.modem_connect_tones_rx_init.argtypes = [vp, ctypes.c_int, TONE_REPORT, vp]
    lib.modem_connect_tones_rx.restype = ctypes.c_int
    lib.modem_connect_tones_rx.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.modem_connect_tones_rx_get.restype = ctypes.c_int
    lib.modem_connect_tones_rx_get.argtypes = [vp]
    lib.modem_connect_tones_rx_free.argtypes = [vp]
    return lib


def spandsp_modem_tone(name, seconds):
    """`seconds` of spandsp's modem_connect_tones_tx for `name` (MODEM_TONE), as PCM."""
    lib = _modem_tones_lib()
    s = lib.modem_connect_tones_tx_init(None, MODEM_TONE[name])
    out = bytearray()
    buf = (ctypes.c_int16 * 160)()
    for _ in range(int(round(seconds * 50))):
        n = lib.modem_connect_tones_tx(s, buf, 160)
        out += bytes(buf)[:2 * n] + bytes(2 * (160 - n))
    lib.modem_connect_tones_tx_free(s)
    return bytes(out)


def spandsp_modem_tone_rx(pcm_bytes, name):
    """The tone codes spandsp's modem_connect_tones_rx reports on PCM, watching for `name`."""
    lib = _modem_tones_lib()
    got = []
    cb = TONE_REPORT(lambda ud, code, level, delay: got.append(code))
    s = lib.modem_connect_tones_rx_init(None, MODEM_TONE[name], cb, None)
    for f in frames(pcm_bytes):
        lib.modem_connect_tones_rx(s, f, 160)
    lib.modem_connect_tones_rx_free(s)
    return [c for c in got if c]
