"""Call-progress tone generation from a national tone plan (ITU-T E.180, E.180 Suppl. 2).

Rules:
1. A `ToneGenerator` turns one plan entry (see `tone_plans.py`) into 160-sample frames and knows
   nothing about lines, calls or clocks: it counts samples. The line asks for a frame every 20 ms.
2. No clicks: the waveform is phase-continuous across frames and cadence steps (one sample
   counter drives every oscillator), and every burst starts and ends with a 4 ms raised-cosine
   ramp, as does `stop()`. The largest sample-to-sample step is that of the sine itself.

Theory of operation. Plan tones use whole-hertz frequencies, so the sum of a tone's sines
repeats every 8000/gcd(8000, f1, f2, ...) samples (800 for 350+440 Hz, 160 for 450 Hz, 8000 at
worst). Each distinct (frequencies, level, modulation) gets that period computed once, with a
frame's worth of wrap-around appended, as bytes; a steady frame is then one slice (~0.2 µs,
notes/perf-baselines.md "Bonus"). Only frames holding a cadence edge touch samples one by one,
and then only the 32 ramp samples. The cadence is compiled into steps (voice or silence, length
in samples, ramp flags): the intro once, then the cycle repeating (or once, for a tone with
``"repeat": False``, after which the generator is `done` and yields silence).

Hand-written because it is the product: an ATA's tones are what its user hears, and the table
method costs almost nothing per line. `sine_mix` is the slow exact synthesiser for arbitrary
(non-integer) frequencies, used for DTMF and tests.
"""

import math

from tipring.firmware.compat import le16_bytes, le16_samples
from tipring.firmware.dsp.pcm import FRAME, RATE, amplitude, to_pcm

RAMP = 32  # samples of raised-cosine ramp at each burst edge (4 ms)
_RAMP_UP = [0.5 - 0.5 * math.cos(math.pi * (i + 0.5) / RAMP) for i in range(RAMP)]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _ramped(chunk: bytes, lo: int, length: int, up: bool, down: bool) -> bytes:
    """`chunk` (samples lo.. of a burst of `length`) with the raised-cosine edges applied."""
    a = le16_samples(chunk)
    for j in range(len(a)):
        k = lo + j
        g = 1.0
        if up and k < RAMP:
            g = _RAMP_UP[k]
        if down and length - 1 - k < RAMP:
            g2 = _RAMP_UP[length - 1 - k]
            if g2 < g:
                g = g2
        if g < 1.0:
            a[j] = int(a[j] * g)
    return le16_bytes(a)


def sine_mix(freqs, levels, n: int, start: int = 0, am=None) -> list:
    """`n` samples (floats) of the sum of sines `freqs` (Hz) at `levels` (dBm0 each), from
    sample index `start`; `am` = (Hz, depth) amplitude-modulates the sum."""
    out = [0.0] * n
    for f, lvl in zip(freqs, levels):
        a = amplitude(lvl)
        w = 2 * math.pi * f / RATE
        sin = math.sin
        for i in range(n):
            out[i] += a * sin(w * (start + i))
    if am:
        wm = 2 * math.pi * am[0] / RATE
        d = am[1]
        for i in range(n):
            out[i] *= 1.0 + d * math.sin(wm * (start + i))
    return out


class _Voice:
    """One oscillator set: a period table as bytes, with a frame of wrap-around."""

    def __init__(self, freqs, level: float, am=None):
        g = RATE
        for f in freqs:
            g = _gcd(g, int(round(f)))
        if am:
            g = _gcd(g, int(round(am[0])))
        self.period = RATE // g
        n = self.period + FRAME
        self.table = to_pcm(sine_mix([int(round(f)) for f in freqs], [level] * len(freqs), n, 0, am))


def _parts(cadence, freqs, level, alt):
    """on/off ms list -> [(freqs or None, level, ms)]; "on" parts take `alt` in turn."""
    out = []
    k = 0
    for i in range(len(cadence)):
        ms = cadence[i]
        if i % 2 == 0:
            f, lv = freqs, level
            if alt:
                f, off = alt[k % len(alt)]
                lv = level + off
            k += 1
            if ms > 0:
                out.append((tuple(f), lv, ms))
        elif ms > 0:
            out.append((None, 0.0, ms))
    return out


class ToneGenerator:
    """Represents one call-progress tone being played, as 160-sample frames.

    `tone` is a plan entry (``tone_plans.tone("US", "busy")``); `level` overrides its dBm0 level
    per frequency. `next_frame()` returns 320 bytes of 16-bit LE PCM. `done` turns True when a
    finite tone (``"repeat": False``) has played out, or after `stop()` has ramped down.

        gen = ToneGenerator(tone_plans.tone("UK", "ringback"))
        frame = gen.next_frame()
    """

    def __init__(self, tone: dict, level: float = None):
        lvl = tone.get("level", -13) if level is None else level
        freqs = tuple(tone["freqs"])
        am = tone.get("am")
        self._voices = {}
        intro = _parts(tone.get("intro") or [], freqs, lvl, None)
        cadence = tone.get("cadence") or []
        if cadence:
            cycle = _parts(cadence, freqs, lvl, tone.get("alt"))
        else:
            cycle = [(freqs, lvl, None)]
        self._intro = [self._step(p, am) for p in intro]
        self._cycle = [self._step(p, am) for p in cycle]
        self._repeat = tone.get("repeat", True)
        self._steps = self._intro + self._cycle if self._intro else self._cycle
        self._i = 0          # step index
        self._pos = 0        # samples into the step
        self._n = 0          # sample counter: the phase of every oscillator
        self.done = False

    def _step(self, part, am):
        freqs, lvl, ms = part
        if freqs is None:
            return [None, ms * RATE // 1000, False, False]
        key = (freqs, lvl, am)
        v = self._voices.get(key)
        if v is None:
            v = self._voices[key] = _Voice(freqs, lvl, am)
        n = None if ms is None else ms * RATE // 1000
        return [v, n, True, n is not None]

    @property
    def samples(self) -> int:
        """Samples generated so far."""
        return self._n

    def stop(self) -> None:
        """Ramp the tone down within the next frame and fall silent (`done`)."""
        if self.done:
            return
        step = self._steps[self._i] if self._i < len(self._steps) else None
        if step is None or step[0] is None:
            self._steps = []
        else:
            self._steps = [[step[0], RAMP, False, True]]
        self._i = 0
        self._pos = 0
        self._repeat = False
        self._cycle = []

    def _advance(self) -> None:
        self._i += 1
        self._pos = 0
        if self._i >= len(self._steps):
            if self._repeat and self._cycle:
                self._steps = self._cycle
                self._i = 0
            else:
                self._steps = []
                self._i = 0

    def next_frame(self) -> bytes:
        """The next 20 ms of the tone (320 bytes)."""
        need = FRAME
        pieces = []
        while need > 0:
            if self._i >= len(self._steps):
                self.done = True
                pieces.append(bytes(2 * need))
                self._n += need
                break
            voice, length, up, down = self._steps[self._i]
            take = need if length is None else min(need, length - self._pos)
            if voice is None:
                pieces.append(bytes(2 * take))
            else:
                p = self._n % voice.period
                chunk = voice.table[2 * p:2 * (p + take)]
                lo = self._pos
                if (up and lo < RAMP) or (down and lo + take > length - RAMP):
                    chunk = _ramped(chunk, lo, length, up, down)
                pieces.append(chunk)
            self._n += take
            self._pos += take
            need -= take
            if length is not None and self._pos >= length:
                self._advance()
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def cadence_of(tone: dict) -> list:
    """The repeating on/off ms list of a plan tone with zero-length parts folded into their
    neighbours (``[]`` for a continuous tone, UK special dial tone included)."""
    cad = list(tone.get("cadence") or [])
    merged = []   # [is_on, ms]
    for i in range(len(cad)):
        if cad[i] <= 0:
            continue
        on = i % 2 == 0
        if merged and merged[-1][0] == on:
            merged[-1][1] += cad[i]
        else:
            merged.append([on, cad[i]])
    if len(merged) > 1 and merged[0][0] == merged[-1][0]:
        merged[0][1] += merged.pop()[1]
    if all(m[0] for m in merged):
        return []
    if not merged[0][0]:
        merged.append(merged.pop(0))
    return [m[1] for m in merged]
