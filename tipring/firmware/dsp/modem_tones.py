"""Fax and modem connect tones: CED / ANS, ANS with phase reversals, ANSam (V.8), CNG (T.30).

What they are (ITU-T V.25, V.8, T.30; spandsp's modem_connect_tones.c sums them up):
- CED / ANS: 2100 ± 15 Hz for 2.6-4 s. An echo *suppressor* must disable on it (G.164).
- ANS/PR: the same with a 180° phase reversal every 450 ± 25 ms. An echo *canceller* must
  disable on it (G.165 §3.4, G.168 §3.19): the modem runs its own canceller.
- ANSam (V.8): 2100 Hz with 20 % amplitude modulation at 15 Hz, with or without reversals.
- CNG: 1100 ± 38 Hz, 0.5 s on, 3 s off (a fax machine calling).

Rules:
1. `ModemToneDetector.feed(frame)` takes one 160-sample frame and returns what it decided in
   it: `[]` or one ``{"tone": "ced"|"ansam"|"cng", "phase_reversals": bool}``, once per tone
   kind; `reset()` starts over (a new call). Sans-IO: no clock, no I/O.
2. Detect each tone at -30 dBm0 and above (threshold -40 dBm0), and never on speech.

Theory of operation. Each frame is read as two 10 ms half-blocks of 80 samples. At 8 kHz, 2100
Hz makes exactly 21 cycles in 80 samples and 1100 Hz exactly 11, so the DFT bin of a
half-block (two `audioop.findfactor` projections, as tipring/firmware/dsp/dtmf.py does) reads the
tone's amplitude and phase with no leakage from a steady tone, and a steady tone's phase is the
same in every half-block, up to its frequency offset (2π·Δf·10 ms per half-block).
* A half-block *holds* a tone when the bin carries at least `SHARE` of the half-block's energy
  and the tone is at least -40 dBm0.
* Consecutive holding half-blocks must advance in phase by what a tone within tolerance gives
  (|Δf| ≤ 25 Hz for 2100, ≤ 45 Hz for 1100), else the run restarts: a speech harmonic drifts.
* A phase reversal (2100 Hz) shows as a jump of 180° ± 45° against the run's own drift,
  between two holding half-blocks at most `MAX_GAP` apart: the half-block the reversal falls in
  cancels itself and may not hold, so up to `MAX_GAP` non-holding half-blocks are bridged.
* AM (ANSam) is the 15 Hz component of the half-block amplitudes (a 100 Hz sampled envelope):
  a modulation index ≥ 0.1 (ANSam has 0.2, a plain tone ~0) is ANSam.
* 2100 Hz is reported after `ANS_HALVES` (600 ms: past the first reversal at 450 ms) of run;
  1100 Hz after `CNG_HALVES` (400 ms; a CNG burst is 425-575 ms).

Hand-written rather than spandsp's modem_connect_tones_rx because the firmware must run without C
libraries, the half-block DFT makes it a few µs a frame, and the same events it reports (which
tone, reversals or not) are checked against spandsp's generator and detector in
tests/dsp/test_modem_tones.py.
"""

import array
import math

from tipring.firmware.dsp.pcm import AUDIOOP, amplitude

HALF = 80
SHARE = 0.6                   # tone energy over half-block energy to hold
MIN_DBM0 = -40.0
MAX_GAP = 2                   # non-holding half-blocks bridged (a reversal's own, a click)
ANS_HALVES = 60               # 600 ms
CNG_HALVES = 40               # 400 ms
AM_INDEX = 0.1
TONES = {2100: 25.0, 1100: 45.0}      # Hz -> largest offset accepted

_ff = AUDIOOP.findfactor if AUDIOOP is not None and hasattr(AUDIOOP, "findfactor") else None
_MIN_AMP = amplitude(MIN_DBM0)


def _refs(freq):
    """cos and sin rows over one half-block (16-bit, peak 16384) and their shared Σ ref²."""
    w = 2 * math.pi * freq / 8000.0
    c = array.array("h", [int(round(16384 * math.cos(w * i))) for i in range(HALF)])
    s = array.array("h", [int(round(16384 * math.sin(w * i))) for i in range(HALF)])
    return c, s, float(sum(v * v for v in c)), float(sum(v * v for v in s))


_REFS = {f: _refs(f) for f in TONES}


def _bin(seg: bytes, freq):
    """(re, im) of Σ x[n]·e^(−jωn) over the half-block, scaled to amplitude (2/N)."""
    c, s, cc, ss = _REFS[freq]
    if _ff is not None:
        re = _ff(seg, c.tobytes()) * cc / 16384.0
        im = -_ff(seg, s.tobytes()) * ss / 16384.0
    else:
        x = array.array("h", seg)
        re = sum(x[i] * c[i] for i in range(HALF)) / 16384.0
        im = -sum(x[i] * s[i] for i in range(HALF)) / 16384.0
    return re * 2.0 / HALF, im * 2.0 / HALF


def _energy(seg: bytes) -> float:
    """Mean square of the half-block."""
    if AUDIOOP is not None:
        r = float(AUDIOOP.rms(seg, 2))
        return r * r
    x = array.array("h", seg)
    return sum(v * v for v in x) / float(len(x))


def _wrap(a: float) -> float:
    while a > math.pi:
        a -= 2 * math.pi
    while a < -math.pi:
        a += 2 * math.pi
    return a


class _Run:
    """One frequency's current run of holding half-blocks."""

    def __init__(self, freq):
        self.freq = freq
        self.max_step = 2 * math.pi * TONES[freq] * HALF / 8000.0
        self.clear()

    def clear(self):
        self.halves = 0          # half-blocks since the run began (gaps included)
        self.gap = 0
        self.last_phase = None
        self.drift = None        # phase advance per half-block, the run's own
        self.reversals = 0
        self.amps = []

    def step(self, held, amp, phase):
        if not held:
            if self.last_phase is None:
                return
            self.gap += 1
            self.halves += 1
            self.amps.append(None)
            if self.gap > MAX_GAP:
                self.clear()
            return
        if self.last_phase is None:
            self._restart(amp, phase)
            return
        d = self.gap + 1
        delta = _wrap(phase - self.last_phase)
        if self.drift is None:
            # the run's second holding half-block: it sets the drift, which must be in tolerance
            if d != 1 or abs(delta) > self.max_step:
                self._restart(amp, phase)
                return
            self.drift = delta
        else:
            off = _wrap(delta - self.drift * d)
            if self.freq == 2100 and abs(abs(off) - math.pi) < math.pi / 4:
                self.reversals += 1              # 180° against the run's own drift
            elif abs(off) > math.pi / 4:
                self._restart(amp, phase)        # not one steady tone: start again from here
                return
            elif d == 1:
                self.drift = 0.8 * self.drift + 0.2 * (self.drift + off)
        self.gap = 0
        self.halves += 1
        self.last_phase = phase
        self.amps.append(amp)

    def _restart(self, amp, phase):
        self.clear()
        self.halves, self.last_phase, self.amps = 1, phase, [amp]

    def am_index(self) -> float:
        """Modulation index of the run's 15 Hz envelope component (gaps filled with the mean)."""
        got = [a for a in self.amps if a is not None]
        if len(got) < 14:
            return 0.0
        mean = sum(got) / len(got)
        env = [(a if a is not None else mean) - mean for a in self.amps]
        w = 2 * math.pi * 15.0 / 100.0
        re = sum(v * math.cos(w * i) for i, v in enumerate(env))
        im = sum(v * math.sin(w * i) for i, v in enumerate(env))
        return 2.0 * math.sqrt(re * re + im * im) / len(env) / mean if mean > 0 else 0.0


class ModemToneDetector:
    """Represents a fax/modem connect tone detector on one direction of one line."""

    def __init__(self):
        self._runs = {f: _Run(f) for f in TONES}
        self.reported = set()

    def reset(self) -> None:
        for r in self._runs.values():
            r.clear()
        self.reported = set()

    def feed(self, frame: bytes) -> list:
        """One 160-sample frame in; a list of at most one newly detected tone out."""
        out = []
        for h in (0, 2 * HALF):
            seg = frame[h:h + 2 * HALF]
            if len(seg) != 2 * HALF:
                return out
            e = _energy(seg)
            for f, run in self._runs.items():
                if e < 0.5 * _MIN_AMP * _MIN_AMP:
                    run.step(False, 0.0, 0.0)
                    continue
                re, im = _bin(seg, f)
                amp2 = re * re + im * im
                held = amp2 >= _MIN_AMP * _MIN_AMP and 0.5 * amp2 >= SHARE * e
                run.step(held, math.sqrt(amp2), math.atan2(im, re))
            out += self._decide()
        return out

    def _decide(self) -> list:
        ans, cng = self._runs[2100], self._runs[1100]
        if ans.halves >= ANS_HALVES and "ans" not in self.reported:
            self.reported.add("ans")
            tone = "ansam" if ans.am_index() >= AM_INDEX else "ced"
            return [{"tone": tone, "phase_reversals": ans.reversals > 0}]
        if cng.halves >= CNG_HALVES and "cng" not in self.reported:
            self.reported.add("cng")
            return [{"tone": "cng", "phase_reversals": False}]
        return []
