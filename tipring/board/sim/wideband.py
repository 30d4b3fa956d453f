"""The virtual handset's mouth and ear on a 16 kHz (wideband) sim line.

Owns what a handset on a wideband line does beyond the 8 kHz telephony DSP it shares with the
narrowband one (its caller-ID display, CIDCW and JCLIP receivers, DTMF dial and tone classifier
stay 8 kHz and hear the line through a `Decimator`, tipring/board/sim/handset.py):
- `widen(pcm8)`: 8 kHz PCM (its DTMF dial, the CIDCW ACK, an 8 kHz WAV) as 16 kHz PCM of
  exactly twice the samples, the interpolator's delay taken off, so a digit keeps its length
  and frame count;
- `Sine`: the `say FREQ` tone at the line rate (up to its Nyquist: 7 kHz on a 16 kHz line);
- `line_peaks(pcm, rate)`: the strongest spectral lines of a window at the line rate, the
  `listen` reply's `freqs` on a wideband line (a 6 kHz tone reads 6000);
- WAV files at 8 or 16 kHz (`read_wav_rate`, `write_wav`): `play` takes either on a 16 kHz line,
  `record` writes at the line rate.

How `line_peaks` measures (the method of tipring/firmware/dsp/classify.py, at any rate): a
Hann-windowed DFT over 50 ms on a 25 Hz grid from 100 Hz to 100 Hz below Nyquist finds the
peaks within 15 dB of the strongest; each is refined over up to 200 ms by a Goertzel scan at
3 Hz steps (+-30 Hz) and parabolic interpolation; peaks within 12 dB of the strongest count
(classify's own `refine_peaks` and `strongest_distinct`, at the line's rate).
The coarse scan runs in C through audioop (`findfactor` against stored cosine/sine tables)
when it is there, else as Goertzel filters in plain Python.
"""

import array
import math
import wave

from tipring.firmware.compat import le16_bytes, le16_samples
from tipring.firmware.dsp.classify import goertzel_power, hann, refine_peaks, strongest_distinct
from tipring.firmware.dsp.pcm import AUDIOOP, amplitude
from tipring.firmware.dsp.resample import INTERPOLATOR_DELAY, Interpolator

RATES = (8000, 16000)
COARSE_MS = 50
COARSE_STEP = 25.0
EDGE_HZ = 100.0             # the scan stays this far from 0 Hz and from Nyquist
REFINE_MS = 200
REFINE_SPAN = 30.0
_ff = AUDIOOP.findfactor if AUDIOOP is not None and hasattr(AUDIOOP, "findfactor") else None
_tables = {}                # rate -> [(Hz, cos bytes, cos scale, sin bytes, sin scale)]


def widen(pcm8: bytes) -> bytes:
    """8 kHz PCM as 16 kHz PCM, twice the samples, aligned (no filter delay)."""
    n = len(pcm8) // 2
    if not n:
        return b""
    # a tail of silence flushes the filter; its delay comes off the front
    out = Interpolator().process(bytes(pcm8[:2 * n]) + bytes(2 * 16))
    return out[2 * INTERPOLATOR_DELAY:2 * INTERPOLATOR_DELAY + 4 * n]


class Sine:
    """A steady sine at the line rate, 20 ms at a time (`next_frame`), one period stored."""

    def __init__(self, freq: float, level_dbm0: float, rate: int):
        f = int(round(freq))
        period = rate // math.gcd(f, rate)
        frame = rate // 50
        peak = amplitude(level_dbm0)
        w = 2 * math.pi * f / rate
        self._pcm = le16_bytes(array.array("h", [int(round(peak * math.sin(w * i)))
                                                 for i in range(period + frame)]))
        self._period_bytes = 2 * period
        self._frame_bytes = 2 * frame
        self._pos = 0

    def next_frame(self) -> bytes:
        p = self._pos
        self._pos = (p + self._frame_bytes) % self._period_bytes
        return self._pcm[p:p + self._frame_bytes]


def _grid(rate: int) -> list:
    out = []
    f = EDGE_HZ
    while f <= rate / 2.0 - EDGE_HZ:
        out.append(f)
        f += COARSE_STEP
    return out


def _coarse_tables(rate: int, n: int) -> list:
    refs = _tables.get(rate)
    if refs is None:
        win = hann(n)
        refs = []
        for f in _grid(rate):
            w = 2 * math.pi * f / rate
            c = [int(32767 * win[i] * math.cos(w * i)) for i in range(n)]
            s = [int(32767 * win[i] * math.sin(w * i)) for i in range(n)]
            refs.append((f, le16_bytes(array.array("h", c)), sum(v * v for v in c) / 32767.0,
                         le16_bytes(array.array("h", s)), sum(v * v for v in s) / 32767.0))
        _tables[rate] = refs
    return refs


def _coarse(seg, rate: int) -> tuple:
    """(grid Hz, power) of the Hann-windowed segment on the coarse grid."""
    n = len(seg)
    if _ff is not None:
        b = le16_bytes(array.array("h", seg))
        grid, pw = [], []
        for f, cb, cn, sb, sn in _coarse_tables(rate, n):
            re = _ff(b, cb) * cn
            im = _ff(b, sb) * sn
            grid.append(f)
            pw.append(re * re + im * im)
        return grid, pw
    win = hann(n)
    segw = [seg[i] * win[i] for i in range(n)]
    grid = _grid(rate)
    return grid, [goertzel_power(segw, f, rate) for f in grid]


def line_peaks(pcm: bytes, rate: int, max_peaks: int = 4) -> list:
    """The dominant frequencies (whole Hz, strongest first) of `pcm` at `rate`; [] when the
    window is shorter than 50 ms or silent."""
    x = le16_samples(pcm)
    n = len(x)
    cn = rate * COARSE_MS // 1000
    if n < cn:
        return []
    mid = (n - cn) // 2
    grid, pw = _coarse(x[mid:mid + cn], rate)
    top = max(pw) if pw else 0.0
    if top <= 0:
        return []
    cands = sorted(((pw[i], grid[i]) for i in range(1, len(pw) - 1)
                    if pw[i] >= pw[i - 1] and pw[i] > pw[i + 1] and pw[i] > top * 0.0316),
                   reverse=True)[:max_peaks]
    m = min(n, rate * REFINE_MS // 1000)
    start = (n - m) // 2
    win = hann(m)
    xw = [x[start + i] * win[i] for i in range(m)]
    peaks = []
    for _p, fc in cands:
        peaks.extend(refine_peaks(xw, fc, m, rate, REFINE_SPAN))
    return [int(f + 0.5) for f, _a in strongest_distinct(peaks, max_peaks)]


def read_wav_rate(path: str, rates=(8000,)) -> tuple:
    """(16-bit mono PCM, its rate) from a WAV file at one of `rates`; ValueError naming what
    is wrong."""
    try:
        with wave.open(path, "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() not in rates:
                raise ValueError("%s: want WAV %s Hz mono 16-bit, got %d Hz %d ch %d-bit"
                                 % (path, " or ".join(map(str, rates)), w.getframerate(),
                                    w.getnchannels(), 8 * w.getsampwidth()))
            return w.readframes(w.getnframes()), w.getframerate()
    except (OSError, EOFError, wave.Error) as e:
        raise ValueError("%s: cannot read WAV: %s" % (path, e))


def write_wav(path: str, pcm: bytes, rate: int = 8000) -> None:
    try:
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
    except (OSError, wave.Error) as e:
        raise ValueError("%s: cannot write WAV: %s" % (path, e))
