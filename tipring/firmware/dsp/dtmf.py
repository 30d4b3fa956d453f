"""DTMF (ITU-T Q.23 signalling, Q.24 reception) detection and generation on 20 ms frames.

Rules:
1. `DTMFDetector.feed(frame)` takes one 160-sample frame and returns the edges decided in it:
   ``(digit, "on", sample)`` once per key press and ``(digit, "off", sample)`` when it ends.
   `sample` counts samples since the detector was made. No clock, no I/O.
2. Reception follows Q.24 as exchanges apply it (its per-administration receiver tables):
   operate on tones of 40 ms or more, frequency deviation up to ±1.5 %, twist up to 8 dB normal
   (high group weaker) and 4 dB reverse, each tone down to −26 dBm0; never operate on tones
   shorter than 23 ms or off by ±3.5 % or more; an interruption of 10 ms does not split a digit;
   a 40 ms pause separates two. Speech must not operate it (talk-off).

Theory of operation. Each frame is read in two halves (A, B: 10 ms each) and quarters.

* Gate: a frame whose RMS is below that of a −32 dBm0 tone burst is silence (~0.5 µs).
* First pass: the frame's DFT at the 8 Q.23 frequencies, X_k = Σ x[n]·e^(−jω_k n), 160 samples.
  Each real projection is one `audioop.findfactor(frame, ref)` call, which returns
  Σ x·ref / Σ ref² in C; the reference rows share one Σ ref², so 16 calls give the 8 bin
  powers (~5 µs; a pure-Python Goertzel needs ~46 µs, notes/perf-baselines.md §3). The
  strongest row and column are the candidate; if their energy is under a fifth of the frame's,
  the frame is not DTMF (most speech stops here).
* Second pass, candidate tones only (4 more calls): the DFT over half A, so B = X − A. The
  phase advance from A to B (lag 80) gives the frequency offset modulo 100 Hz. When it reads
  beyond ±25 Hz, the DFT over quarter 1 (2 more calls a tone) gives the advance from quarter 1
  to quarter 2 (lag 40, unambiguous over ±100 Hz), which picks the wrap; below 25 Hz the other
  wraps lie ≥ 75 Hz off, where the frame's DFT has lost > 13 dB and the energy test fails.
  With the offset known, the full-frame amplitude is corrected for the window's roll-off, so
  twist, level and the tone-to-total energy ratio (≥ 0.8, −1 dB) are judged on the true tone
  amplitudes.
* A frame whose halves both hold the tone steadily is a *full* frame and must pass every test:
  offset within ±2.5 % for both tones (midway between Q.24's accept and reject limits),
  twist, level, energy ratio, relative peak (8 dB over the other bins of each group). A frame
  where the tone starts or stops is an *edge* frame: each half is judged on its own level,
  twist and energy share.
* Timing runs on half-blocks (10 ms). A run is the consecutive half-blocks showing one digit; it
  is declared when it holds ≥ 3 half-blocks at ≥ 75 % of the run's peak amplitude (of the
  stronger tone, whose estimate the weaker one's leakage hardly moves) and at least one full
  frame passed. A 40 ms tone always spans 3 whole half-blocks and one whole frame; a
  23 ms tone (184 samples) spans two whole half-blocks and 24 samples more, or one whole
  half-block and two ragged ones of 104 samples together, so never three at 75 % (60
  samples). It ends after 3 half-blocks without it, so a 10 ms break is bridged and a 40 ms
  pause is seen.

Hand-written because it is the product: spandsp's detector (the C reference) misses 3 of 16
digits at ±1.5 % (notes §4), and the firmware must run without C extensions. Without `audioop`
the same projections run as Python loops: same decisions, slower (MicroPython, tests).
`DTMFGenerator` makes Q.23 digits for the virtual handset and caller ID.
"""

import array
import math

from tipring.firmware.compat import le16_bytes, le16_samples
from tipring.firmware.dsp.pcm import AUDIOOP, FRAME, RATE, amplitude, sine_dbm0, to_pcm
from tipring.firmware.dsp.tones import sine_mix

ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
FREQS = ROWS + COLS
KEYS = ("123A", "456B", "789C", "*0#D")
DIGITS = "123A456B789C*0#D"
TONES = {}  # digit -> (row Hz, col Hz)
for _r in range(4):
    for _c in range(4):
        TONES[KEYS[_r][_c]] = (ROWS[_r], COLS[_c])

# -- limits ---------------------------------------------------------------------------------------
MIN_LEVEL_DBM0 = -32.0      # per tone; Q.24 operate ≥ −26 dBm0, 6 dB of margin
MAX_NORMAL_TWIST_DB = 10.0  # high group weaker than low; Q.24 accept 8 dB
MAX_REVERSE_TWIST_DB = 6.0  # high group stronger; Q.24 accept 4 dB
MAX_DEVIATION = 0.025       # |Δf/f|; Q.24 accept 1.5 %, reject 3.5 %
MIN_ENERGY_RATIO = 0.8      # both tones / frame energy, full frames (−1 dB)
MIN_HALF_RATIO = 0.5        # same, in a half of an edge frame (a tone filling f of it shows ~f)
RELATIVE_PEAK = 10 ** (8 / 10.0)   # candidate bin over the other bins of its group
STEADY = 0.75               # half-block amplitude over the run's peak to count (−2.5 dB)
MIN_HALVES = 3              # 30 ms of steady tone
END_HALVES = 3              # 30 ms without the digit ends it

_N = FRAME
_H = FRAME // 2
_Q = FRAME // 4
_TWO_PI = 2 * math.pi
_GATE_RMS = 0.25 * amplitude(MIN_LEVEL_DBM0)
_AMIN = amplitude(MIN_LEVEL_DBM0)
_RN = 10 ** (-MAX_NORMAL_TWIST_DB / 20.0)
_RR = 10 ** (MAX_REVERSE_TWIST_DB / 20.0)
_AMBIGUOUS = _TWO_PI * 25.0 / RATE    # rad/sample: beyond ±25 Hz the lag-80 phase may wrap

_ff = None
if AUDIOOP is not None and hasattr(AUDIOOP, "findfactor"):
    _ff = AUDIOOP.findfactor


def _ref(f: float, n: int, fn, peak: float = 32767.0):
    """A 16-bit reference cos/sin row of `n` samples: (bytes, norm, ints, Σ ref²).

    findfactor(x, ref) = Σ x·ref / Σ ref² = v; ref ≈ peak·cos, so Σ x·cos = v · Σ ref² / peak
    = v · norm."""
    w = _TWO_PI * f / RATE
    vals = [int(math.floor(peak * fn(w * i) + 0.5)) for i in range(n)]
    ss = float(sum(v * v for v in vals))
    return le16_bytes(array.array("h", vals)), ss / peak, vals, ss


def _full_ref(f: float, fn):
    # every full-frame row gets the same Σ ref² (to 1e-5), so the 8 bin powers are simply
    # K²·(v_cos² + v_sin²) with one K
    w = _TWO_PI * f / RATE
    s = sum(fn(w * i) ** 2 for i in range(_N))
    return _ref(f, _N, fn, 30000.0 * math.sqrt(80.0 / s))


class _Bin:
    """Reference rows for one frequency: full frame, half A, quarter 1 (cos and sin each)."""

    def __init__(self, f: float):
        self.f = f
        self.w = _TWO_PI * f / RATE
        self.full = (_full_ref(f, math.cos), _full_ref(f, math.sin))
        self.half = (_ref(f, _H, math.cos), _ref(f, _H, math.sin))
        self.quarter = (_ref(f, _Q, math.cos), _ref(f, _Q, math.sin))


_BINS = [_Bin(f) for f in FREQS]
_FULL_REFS = []
_FULL_NORMS = []
_FULL_INTS = []
for _b in _BINS:
    for _k in (0, 1):
        _FULL_REFS.append(_b.full[_k][0])
        _FULL_NORMS.append(_b.full[_k][1])
        _FULL_INTS.append((_b.full[_k][2], _b.full[_k][3]))
_K = sum(_FULL_NORMS) / len(_FULL_NORMS)
_K2N = 2.0 * _K * _K / _N      # bin power (v units) -> tone energy over the frame


def _dot(x, vals) -> float:
    s = 0
    for i in range(len(vals)):
        s += x[i] * vals[i]
    return s


def _gate(frame: bytes) -> tuple:
    """-> (samples or None, frame energy Σx²); the energy is None for a frame below the gate.
    With audioop the samples are never unpacked (findfactor reads the bytes)."""
    if AUDIOOP is not None:
        e = AUDIOOP.rms(frame, 2)
        if e < _GATE_RMS:
            return None, None
        return None, float(e * e * _N)
    x = le16_samples(frame)
    s = 0
    for v in x:
        s += v * v
    if math.sqrt(s / _N) < _GATE_RMS:
        return x, None
    return x, float(s)


def _bin_powers(frame: bytes, x) -> tuple:
    """First pass: v = findfactor(frame, ref) for the 16 reference rows (8 cos, 8 sin), and the
    8 bin powers (v units): (v, p)."""
    if _ff is not None:
        v = list(map(_ff, [frame] * 16, _FULL_REFS))
    else:
        v = [_dot(x, vals) / ss for vals, ss in _FULL_INTS]
    a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7 = v
    return v, [a0 * a0 + b0 * b0, a1 * a1 + b1 * b1, a2 * a2 + b2 * b2, a3 * a3 + b3 * b3,
               a4 * a4 + b4 * b4, a5 * a5 + b5 * b5, a6 * a6 + b6 * b6, a7 * a7 + b7 * b7]


def _strongest(p: list) -> tuple:
    """The strongest row bin (0-3) and column bin (4-7), the first on a tie."""
    r = 0
    if p[1] > p[r]:
        r = 1
    if p[2] > p[r]:
        r = 2
    if p[3] > p[r]:
        r = 3
    c = 4
    if p[5] > p[c]:
        c = 5
    if p[6] > p[c]:
        c = 6
    if p[7] > p[c]:
        c = 7
    return r, c


def _window_gain(best: float) -> float:
    """The rectangular window's roll-off at an offset of `best` rad/sample (floored at 0.1)."""
    h = best * 0.5
    sh = math.sin(h)
    g = abs(math.sin(_N * h) / (_N * sh)) if abs(sh) > 1e-9 else 1.0
    return 0.1 if g < 0.1 else g


def _tones_pass(a_r: float, a_c: float, e_frame: float) -> bool:
    """Level of each tone, twist both ways, and the tones' share of the frame's energy."""
    return (a_r >= _AMIN and a_c >= _AMIN and _RN <= a_c / a_r <= _RR
            and (a_r * a_r + a_c * a_c) * _N / 2.0 >= MIN_ENERGY_RATIO * e_frame)


def _peaks_stand_out(p: list, r: int, c: int) -> bool:
    """Each candidate bin stands RELATIVE_PEAK over the other bins of its group."""
    rows = sorted(p[:4])
    cols = sorted(p[4:])
    return rows[2] * RELATIVE_PEAK <= p[r] and cols[2] * RELATIVE_PEAK <= p[c]


class DTMFDetector:
    """Represents a Q.24 DTMF receiver on one audio stream of 8 kHz 16-bit LE PCM.

    `feed(frame)` takes 320 bytes (one 20 ms frame) and returns a list of
    ``(digit, "on" | "off", sample_index)``; each key press yields one "on" and, when the tone
    stops, one "off". `digit` is the current digit or None. `reset()` forgets everything.

        det = DTMFDetector()
        for frame in frames:
            for digit, edge, at in det.feed(frame):
                ...
    """

    def __init__(self):
        self.trace = None        # a list to collect per-frame measurements (tests, tuning)
        self.reset()

    def reset(self) -> None:
        """Forget any digit in progress and restart the sample count."""
        self.digit = None        # declared digit, until its "off"
        self.level = None        # dBm0 of the declared digit's weaker tone
        self._samples = 0
        self._run = None         # digit of the current run of half-blocks
        self._amps = []
        self._confirmed = False
        self._gap = 0
        self._pair = None        # (row, column) amplitudes of the run's last full frame
        self._amp_pair = None

    # -- measurement --------------------------------------------------------------------------

    @staticmethod
    def _proj(frame, x, ref, n: int):
        """Complex projection of the first `n` samples on a (cos, sin) reference pair."""
        (cb, cn, cl, css), (sb, sn, sl, sss) = ref
        if _ff is not None:
            seg = frame[:2 * n]
            return _ff(seg, cb) * cn, -_ff(seg, sb) * sn
        return _dot(x, cl) / css * cn, -_dot(x, sl) / sss * sn

    def _rms(self, frame, x, start: int, n: int) -> float:
        if AUDIOOP is not None:
            return float(AUDIOOP.rms(frame[2 * start:2 * (start + n)], 2))
        s = 0
        for i in range(start, start + n):
            s += x[i] * x[i]
        return math.sqrt(s / n)

    def _analyse(self, frame: bytes):
        """-> (obs A, obs B, frame verdict). obs = (digit, amplitude) or None;
        verdict "full" (passed every test), "bad" (steady tone that failed), or None."""
        x, e_frame = _gate(frame)
        if e_frame is None:
            return None, None, None
        v, p = _bin_powers(frame, x)
        r, c = _strongest(p)
        # quick reject: the candidate bins hold under a fifth of the frame's energy (a tone
        # filling a fraction f of the frame shows f of its energy here, hence the low bar)
        if (p[r] + p[c]) * _K2N < 0.2 * e_frame:
            return None, None, None
        n = _FULL_NORMS
        bins = {r: (v[2 * r] * n[2 * r], -v[2 * r + 1] * n[2 * r + 1]),
                c: (v[2 * c] * n[2 * c], -v[2 * c + 1] * n[2 * c + 1])}
        key = KEYS[r][c - 4]
        halves, steady = self._halves(frame, x, (r, c), bins)
        # how much of each half the tone fills, from the stronger tone: in a 10 ms window the
        # stronger tone's sidelobes swing the weaker one's estimate by ±20 % at 8 dB twist
        s = 0 if halves[0][0] + halves[0][1] >= halves[1][0] + halves[1][1] else 1
        fill_a, fill_b = halves[s][0], halves[s][1]
        if min(fill_a, fill_b) < 0.7 * max(fill_a, fill_b):
            steady = False
        ea = self._rms(frame, x, 0, _H)
        ea = ea * ea * _H
        eb = e_frame - ea
        if not steady:
            return self._edge(key, halves, fill_a, fill_b, ea, eb)
        # full frame: frequency offsets, corrected amplitudes, every test
        ok, a_r, a_c, devs = self._full_frame(frame, x, (r, c), bins, halves)
        ok = ok and _tones_pass(a_r, a_c, e_frame) and _peaks_stand_out(p, r, c)
        if self.trace is not None:
            self._trace(key, ok, devs, (a_r, a_c), e_frame, p, (r, c), halves)
        if not ok:
            if min(fill_a, fill_b) < 0.9 * max(fill_a, fill_b):
                # perhaps a tone starting or ending inside the frame: judge it as an edge
                return self._edge(key, halves, fill_a, fill_b, ea, eb)
            return None, None, "bad"
        self._amp_pair = (a_r, a_c)
        return (key, fill_a), (key, fill_b), "full"

    def _halves(self, frame, x, pair, bins) -> tuple:
        """Second pass on the two candidate tones: per tone (amp A, amp B, re A, im A), and
        whether both tones reach the level in both halves."""
        halves = []
        steady = True
        for i in pair:
            xr, xi = bins[i]
            ar, ai = self._proj(frame, x, _BINS[i].half, _H)
            br, bi = xr - ar, xi - ai
            amp_a = 2.0 * math.sqrt(ar * ar + ai * ai) / _H
            amp_b = 2.0 * math.sqrt(br * br + bi * bi) / _H
            halves.append((amp_a, amp_b, ar, ai))
            if min(amp_a, amp_b) < _AMIN:
                steady = False
        return halves, steady

    def _full_frame(self, frame, x, pair, bins, halves) -> tuple:
        """Each tone's frequency offset and window-corrected amplitude: (offsets within
        MAX_DEVIATION, row amplitude, column amplitude, [Δf/f row, Δf/f column])."""
        ok = True
        amps = []
        devs = []
        for j in (0, 1):
            b = _BINS[pair[j]]
            xr, xi = bins[pair[j]]
            best = self._offset(frame, x, b, (xr, xi), halves[j][2], halves[j][3])
            df = best * RATE / _TWO_PI
            devs.append(df / b.f)
            if abs(df) > MAX_DEVIATION * b.f:
                ok = False
            amps.append(2.0 * math.sqrt(xr * xr + xi * xi) / (_N * _window_gain(best)))
        return ok, amps[0], amps[1], devs

    def _offset(self, frame, x, b, whole, ar: float, ai: float) -> float:
        """The tone's frequency offset from bin `b`, rad/sample, from the frame's DFT `whole`
        and half A's (`ar`, `ai`)."""
        br, bi = whole[0] - ar, whole[1] - ai
        # phase advance B·conj(A) over 80 samples: the offset modulo 100 Hz
        p80 = math.atan2(bi * ar - br * ai, br * ar + bi * ai)
        best = p80 / _H
        if abs(best) <= _AMBIGUOUS:
            return best
        # 25-50 Hz either way could be 50-75 Hz the other way: the advance between quarters 1
        # and 2 (lag 40, unambiguous to ±100 Hz) picks the wrap. Below 25 Hz the other wraps
        # are ≥ 75 Hz off, where the frame's DFT has lost > 13 dB and the energy test rejects
        # the tone anyway.
        qr, qi = self._proj(frame, x, b.quarter, _Q)
        q2r, q2i = ar - qr, ai - qi
        coarse = math.atan2(q2i * qr - q2r * qi, q2r * qr + q2i * qi) / _Q
        for k in (-1, 1):
            cand = (p80 + k * _TWO_PI) / _H
            if abs(cand - coarse) < abs(best - coarse):
                best = cand
        return best

    def _trace(self, key, ok, devs, amps, e_frame, p, pair, halves) -> None:
        a_r, a_c = amps
        r, c = pair
        rp = min(p[r] / max([p[i] for i in range(4) if i != r]),
                 p[c] / max([p[i] for i in range(4, 8) if i != c]))
        self.trace.append((self._samples, key, ok, devs, (a_r * a_r + a_c * a_c) * _N / 2.0 / e_frame,
                           20 * math.log10(a_c / a_r), 10 * math.log10(rp),
                           [round(h[0]) for h in halves], [round(h[1]) for h in halves]))

    @staticmethod
    def _edge(key, halves, fill_a, fill_b, ea, eb):
        """Edge frame: judge each half on its own level, twist and energy share."""
        obs = []
        for h, e in ((0, ea), (1, eb)):
            a_r = halves[0][h]
            a_c = halves[1][h]
            ok = (a_r >= _AMIN and a_c >= _AMIN and _RN <= a_c / a_r <= _RR
                  and (a_r * a_r + a_c * a_c) * _H / 2.0 >= MIN_HALF_RATIO * e)
            obs.append((key, (fill_a, fill_b)[h]) if ok else None)
        return obs[0], obs[1], None

    # -- timing -------------------------------------------------------------------------------

    def _half(self, obs, events, at: int) -> None:
        if obs is None:
            self._run = None
            self._amps = []
            self._confirmed = False
        elif obs[0] == self._run:
            self._amps.append(obs[1])
            if len(self._amps) > 12:
                del self._amps[0]
        else:
            self._run = obs[0]
            self._amps = [obs[1]]
            self._confirmed = False
        if self.digit is not None:
            if obs is not None and obs[0] == self.digit:
                self._gap = 0
            else:
                self._gap += 1
                if self._gap >= END_HALVES:
                    events.append((self.digit, "off", at))
                    self.digit = None
                    self.level = None
                    self._gap = 0

    def _maybe_declare(self, events, at: int) -> None:
        if self._run is None or not self._confirmed or self._run == self.digit:
            return
        peak = max(self._amps)
        n = 0
        for a in self._amps:
            if a >= STEADY * peak:
                n += 1
        if n >= MIN_HALVES:
            if self.digit is not None:
                events.append((self.digit, "off", at))
            self.digit = self._run
            self._gap = 0
            self.level = sine_dbm0(min(self._pair)) if self._pair else None
            events.append((self.digit, "on", at))

    def feed(self, frame: bytes) -> list:
        """Process one 20 ms frame (320 bytes); return the digit edges it completes."""
        if len(frame) != 2 * _N:
            raise ValueError("DTMF detector wants 320-byte frames, got %d bytes" % len(frame))
        events = []
        a, b, verdict = self._analyse(frame)
        start = self._samples
        if a is None and b is None and self._run is None and self.digit is None:
            self._samples = start + _N      # quiet, nothing pending: the common case
            return events
        if verdict == "full":
            self._pair = self._amp_pair
        at = start + _H
        for obs in (a, b):
            self._half(obs, events, at)
            if verdict == "full":
                self._confirmed = True
            self._maybe_declare(events, at)
            at += _H
        self._samples = start + _N
        return events


class DTMFGenerator:
    """Represents one Q.23 DTMF digit as 160-sample frames.

    `digit` is one of ``0-9 * # A-D``; `duration_ms` of tone is followed by `pause_ms` of
    silence; `level` is dBm0 for the low-group tone and `twist_db` puts the high group above
    (+) or below (−) it; `deviation` shifts both frequencies by that fraction.

        frames = DTMFGenerator("5", 60).frames()
    """

    def __init__(self, digit: str, duration_ms: float = 70, level: float = -7.0,
                 twist_db: float = 2.0, pause_ms: float = 0, deviation: float = 0.0,
                 lead_ms: float = 0):
        d = digit.upper()
        if d not in TONES:
            raise ValueError("not a DTMF digit: %r" % digit)
        self.digit = d
        lo, hi = TONES[d]
        n_lead = int(lead_ms * RATE / 1000)
        n_on = int(duration_ms * RATE / 1000)
        n_off = int(pause_ms * RATE / 1000)
        ramp = min(16, n_on // 4)
        on = sine_mix((lo * (1 + deviation), hi * (1 + deviation)), (level, level + twist_db), n_on)
        for i in range(ramp):  # 2 ms edges keep the burst's spectrum inside the band
            g = 0.5 - 0.5 * math.cos(math.pi * (i + 0.5) / ramp)
            on[i] *= g
            on[n_on - 1 - i] *= g
        self.pcm = bytes(2 * n_lead) + to_pcm(on) + bytes(2 * n_off)

    def frames(self) -> list:
        """The digit as 320-byte frames, the last zero-padded."""
        out = []
        for i in range(0, len(self.pcm), 2 * _N):
            f = self.pcm[i:i + 2 * _N]
            if len(f) < 2 * _N:
                f = f + bytes(2 * _N - len(f))
            out.append(f)
        return out


def generate(digits: str, duration_ms: float = 70, pause_ms: float = 70, level: float = -7.0,
             twist_db: float = 2.0) -> bytes:
    """PCM for a string of digits, each `duration_ms` on and `pause_ms` off."""
    return b"".join(DTMFGenerator(d, duration_ms, level, twist_db, pause_ms).pcm for d in digits)
