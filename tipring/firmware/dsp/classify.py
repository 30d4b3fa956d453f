"""What is the earpiece hearing? Call-progress tone classification for the virtual handset.

Rules:
1. `ToneClassifier(country).feed(frame)` takes 160-sample frames and keeps, as attributes,
   `tone` (one of CLASSES), `freqs` (dominant frequencies, Hz), `cadence` (the on/off ms
   measured, latest cycle), `level` (dBm0 of the last burst's total power). No clock: time is
   the count of samples fed.
2. The country's tone plan (`tone_plans.py`) is the only list of tones it knows; everything
   audible that is not one of them is "speech" (no steady spectral lines) or "other".

Theory of operation.
* Activity, every 5 ms: the RMS of each 40-sample block against −42 dBm0 (on) / −48 dBm0
  (off), so bursts and gaps are timed to ±5 ms; the plan's 4 ms ramps sit inside that.
* Spectrum, per 200 ms of each burst (or the whole burst, if shorter; the first 10 ms
  skipped): a coarse Hann-windowed DFT over 400 samples on a 12.5 Hz grid from 150 to
  3500 Hz finds peaks; each peak is refined with a DFT over up to 1600 samples at 2 Hz steps
  (±30 Hz) and parabolic interpolation, which separates 413 from 438 Hz. Peaks above −12 dB of
  the strongest count; their power against the chunk's power is its tonality (< 0.6: speech).
* Matching: a burst's peaks match a plan tone's frequencies within max(2 %, 8 Hz) (amplitude
  modulation sidebands allowed for tones with ``am``). The completed bursts and gaps since the
  frequencies last changed are compared with the plan cadence, cyclically, within
  max(20 ms, 6 %); the part still in progress must not overrun. A steady burst longer than any
  cadence "on" (≥ 1 s) is a continuous tone; bursts before it tell stutter and recall dial tone.
  A tone is reported once its evidence is complete (a full cycle, or 1 s of continuous tone).
  An intro is judged on the last bursts before the steady tone: the confirmation tone after
  a feature code runs straight into the stutter dial tone, bursts of the same lines.
* Audible but matching no plan tone: "other" if its lines held still over two chunks
  (400 ms), else "speech".
* `freqs` are the refined peaks of the latest analysed chunk, strongest first.
* The call-waiting tone (SAS) is also heard over a call, where the rules above cannot see it:
  the far end's audio fills its long pause, so its cadence cycle (a burst, then ~10 s) never
  completes, and when the tone follows the call audio with no quiet between, activity sees one
  burst that merely changed frequencies. So each 20 ms frame is also tested on its own
  (`tone_shares`, a Goertzel at the plan's call-waiting frequencies): frames where those lines
  hold ≥ 70 % of the power (55 % for JP's AM tone) are the tone, whatever plays around them. The plan's burst
  group (the cadence without its long pause: US 300 ms, DE 200/200/200) measured in frames
  (±40 ms), standing alone (no such frame for `alone` ms before and after it: longer than any
  gap of another plan tone whose bursts could pass for the group, at least 200 ms) is the
  call-waiting tone, reported for `ALERT_HOLD_MS` over what would otherwise be silence,
  speech or other.
Hand-written, as the firmware's own DSP: the virtual handset is how tests hear the line.
"""

import array
import math

from tipring.firmware.compat import le16_bytes, le16_samples
from tipring.firmware.dsp import tone_plans
from tipring.firmware.dsp.pcm import AUDIOOP, RATE, amplitude, rms, rms_dbm0

CLASSES = ("dial", "stutter_dial", "recall_dial", "ringback", "busy", "congestion",
           "call_waiting", "confirm", "howler", "silence", "speech", "other")

BLOCK = 40                 # samples per activity decision (5 ms)
ON_DBM0 = -42.0
OFF_DBM0 = -48.0
CHUNK = 1600               # samples per spectral analysis (200 ms)
COARSE_N = 400
COARSE_STEP = 12.5
COARSE_LO = 150.0
COARSE_HI = 3500.0
SILENCE_MS = 1200          # quiet this long with no pattern in progress: "silence"
FRAME_MS = 20
ALERT_SHARE = 0.7          # the call-waiting lines' share of a frame's power for it to count
ALERT_SHARE_AM = 0.55      # ... for an AM tone (JP), whose envelope spreads it within 20 ms
ALERT_TOL_MS = 40          # durations in whole frames: 20 ms at each edge
ALERT_ALONE_MS = 200       # least quiet (of that tone) around a call-waiting group
ALERT_HOLD_MS = 1000       # report "call_waiting" this long after the group
_ON_PEAK = amplitude(ON_DBM0)
# plan tones in the order they are tried: the more specific (stutter, recall) before plain dial
PLAN_ORDER = ("howler", "call_waiting", "confirm", "stutter_dial", "recall_dial", "dial",
              "ringback", "busy", "congestion")
_ff = AUDIOOP.findfactor if AUDIOOP is not None and hasattr(AUDIOOP, "findfactor") else None


def hann(n: int) -> list:
    return [0.5 - 0.5 * math.cos(2 * math.pi * (i + 0.5) / n) for i in range(n)]


_COARSE = None   # [(f, cos bytes, cos scale, sin bytes, sin scale)], built on first use


def _coarse_refs():
    global _COARSE
    if _COARSE is None:
        win = hann(COARSE_N)
        refs = []
        f = COARSE_LO
        while f <= COARSE_HI:
            w = 2 * math.pi * f / RATE
            c = [int(32767 * win[i] * math.cos(w * i)) for i in range(COARSE_N)]
            s = [int(32767 * win[i] * math.sin(w * i)) for i in range(COARSE_N)]
            refs.append((f, le16_bytes(array.array("h", c)), sum(v * v for v in c) / 32767.0,
                         le16_bytes(array.array("h", s)), sum(v * v for v in s) / 32767.0))
            f += COARSE_STEP
        _COARSE = refs
    return _COARSE


def goertzel_power(xw, f: float, rate: int = RATE) -> float:
    """|Σ xw[n]e^(-jωn)|² over len(xw) (already windowed) samples at `rate`."""
    c = 2 * math.cos(2 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in xw:
        s1, s2 = v + c * s1 - s2, s1
    return s1 * s1 + s2 * s2 - c * s1 * s2


def tone_shares(x, freqs) -> tuple:
    """How much of a block's power sits at each of `freqs`: (shares, mean power).

    `x` is a short block (a 20 ms frame: array('h') or list); each share is the power of a
    Goertzel bin (rectangular window) as a sine's power, over the block's mean power, so a
    pure tone at f gives ~1.0 at f, and a frame of other sounds ~0."""
    n = len(x)
    if n == 0:
        return [0.0] * len(freqs), 0.0
    if AUDIOOP is not None:
        r = float(AUDIOOP.rms(le16_bytes(array.array("h", x)), 2))
        ms = r * r
    else:
        ms = 0.0
        for v in x:
            ms += v * v
        ms /= n
    if ms <= 0:
        return [0.0] * len(freqs), 0.0
    k = 2.0 / (n * n * ms)
    return [k * goertzel_power(x, f) for f in freqs], ms


def spectral_peaks(x, max_peaks: int = 4) -> list:
    """Peaks of a block of samples (array('h') or list): [(Hz, amplitude), ...], strongest
    first, those within 12 dB of the strongest. Needs ≥ 400 samples."""
    n = len(x)
    if n < COARSE_N:
        return []
    mid = (n - COARSE_N) // 2
    grid, pw = _coarse_powers(x[mid:mid + COARSE_N])
    top = max(pw) if pw else 0.0
    if top <= 0:
        return []
    cands = []
    for i in range(1, len(pw) - 1):
        if pw[i] >= pw[i - 1] and pw[i] > pw[i + 1] and pw[i] > top * 0.0316:  # −15 dB
            cands.append((pw[i], grid[i]))
    cands.sort(reverse=True)
    cands = cands[:max_peaks]
    # refine on the longest window available; 100 ms is enough when no two peaks are close
    fs = sorted(f for _p, f in cands)
    close = any(fs[i + 1] - fs[i] < 60.0 for i in range(len(fs) - 1))
    m = min(n, CHUNK if close or len(fs) == 1 else CHUNK // 2)
    start = (n - m) // 2
    xs = x[start:start + m]
    win = hann(m)
    xw = [xs[i] * win[i] for i in range(m)]
    peaks = []
    for _p, fc in cands:
        peaks.extend(refine_peaks(xw, fc, m))
    return strongest_distinct(peaks, max_peaks)


def _coarse_powers(seg) -> tuple:
    """The Hann-windowed DFT power of 400 samples on the coarse grid: (grid Hz, powers)."""
    pw = []
    if _ff is not None:
        refs = _coarse_refs()
        b = le16_bytes(array.array("h", seg))
        for _f, cb, cn, ssb, sn in refs:
            re = _ff(b, cb) * cn
            im = _ff(b, ssb) * sn
            pw.append(re * re + im * im)
        return [r[0] for r in refs], pw
    # no stored tables (MicroPython's heap is small): Goertzel on the windowed block
    win = hann(COARSE_N)
    segw = [seg[i] * win[i] for i in range(COARSE_N)]
    grid = []
    f = COARSE_LO
    while f <= COARSE_HI:
        grid.append(f)
        pw.append(goertzel_power(segw, f))
        f += COARSE_STEP
    return grid, pw


def refine_peaks(xw: list, fc: float, m: int, rate: int = RATE, span: float = 18.0) -> list:
    """Local maxima within ±`span` Hz of the coarse peak `fc` in the windowed block `xw` (`m`
    samples at `rate`), at 3 Hz steps with parabolic interpolation: [(Hz, amplitude)];
    secondary ones kept too (close pairs such as 413+438 Hz)."""
    grid = []
    f = fc - span
    while f <= fc + span:
        grid.append((f, goertzel_power(xw, f, rate)))
        f += 3.0
    peaks = []
    for i in range(1, len(grid) - 1):
        a, b, c = grid[i - 1][1], grid[i][1], grid[i + 1][1]
        if b >= a and b > c:
            den = a - 2 * b + c
            d = 0.5 * (a - c) / den if den != 0 else 0.0
            peaks.append((grid[i][0] + 3.0 * d, 4.0 * math.sqrt(max(b, 0.0)) / m))
    return peaks


def strongest_distinct(peaks: list, max_peaks: int) -> list:
    """Merge duplicates found from neighbouring coarse peaks; keep those within 12 dB."""
    if not peaks:
        return []
    peaks.sort(key=lambda p: -p[1])
    out = []
    for f, a in peaks:
        if all(abs(f - g) > 6.0 for g, _ in out):
            out.append((f, a))
    strongest = out[0][1]
    return [(f, a) for f, a in out if a >= strongest * 0.25][:max_peaks]


def _freq_ok(seen: float, want: float) -> bool:
    return abs(seen - want) <= max(0.02 * want, 8.0)


def _set_matches(peaks: list, want, am) -> bool:
    """Every wanted frequency has a peak; every peak is wanted (or an AM sideband)."""
    fs = [f for f, _a in peaks]
    for w in want:
        if not any(_freq_ok(f, w) for f in fs):
            return False
    for f in fs:
        ok = any(_freq_ok(f, w) for w in want)
        if not ok and am:
            ok = any(_freq_ok(f, w - am[0]) or _freq_ok(f, w + am[0]) for w in want)
        if not ok:
            return False
    return True


def _dur_ok(seen: float, want: float) -> bool:
    return abs(seen - want) <= max(20.0, 0.06 * want)


class ToneClassifier:
    """Represents the ear of a virtual handset: classifies what the line plays.

    `country` picks the tone plan ("US", "UK", "DE", "FR", "CN", "JP", "AU").
    `feed(frame)` returns the current class (also in `tone`).

        clf = ToneClassifier("UK")
        for frame in earpiece:
            clf.feed(frame)
        clf.tone, clf.freqs, clf.cadence, clf.level
    """

    def __init__(self, country: str = "US"):
        self.plan = tone_plans.plan(country)
        self.tones = self.plan["tones"]
        self._cw_group, self._cw_alone = self._alert_group()
        self.reset()

    def _alert_group(self):
        """The call-waiting tone's burst group (ms on, off, on...; its cadence without the long
        pause) and how long (frames) it must stand alone, or (None, 0) when the plan has none."""
        t = self.tones.get("call_waiting")
        cad = _fold(t.get("cadence") or []) if t else []
        if len(cad) < 2 or len(cad) % 2:
            return None, 0
        group = cad[:-1]
        alone = ALERT_ALONE_MS
        for name, other in self.tones.items():
            ocad = _fold(other.get("cadence") or [])
            if name == "call_waiting" or len(ocad) < 2 or not any(
                    _freq_ok(f, g) for f in other["freqs"] for g in t["freqs"]):
                continue
            if any(abs(on - g) <= ALERT_TOL_MS for on in ocad[0::2] for g in group[0::2]):
                alone = max(alone, max(ocad[1::2]) + ALERT_TOL_MS)      # JP busy: 500 ms gaps
        return group, (alone + FRAME_MS - 1) // FRAME_MS

    def reset(self) -> None:
        """Forget all history."""
        self.tone = "silence"
        self._verdict = "silence"  # what the cadence rules say, before the call-waiting frames
        self._cw_runs = [[False, 1 << 20]]   # [is the tone, frames]; history starts quiet
        self._cw_hold = 0          # frames left to report "call_waiting"
        self.freqs = []
        self.cadence = []
        self.level = None
        self.samples = 0
        self._on = False
        self._run = 0              # samples in the current part (on or off)
        self._parts = []           # completed parts: [is_on, ms, peaks-or-None, tonality]
        self._buf = array.array("h")
        self._skip = 0
        self._seg_peaks = None     # peaks of the current burst's first chunk
        self._seg_tonal = None
        self._seg_power = 0.0
        self._seg_n = 0
        self._changed = False      # frequencies changed within the current burst
        self._steady = 0           # identical analyses in a row within the burst
        self._chunks = 0

    # -- measurement --------------------------------------------------------------------------

    def _analyse_chunk(self) -> None:
        x = self._buf
        self._buf = array.array("h")
        if len(x) < COARSE_N:
            return
        self._chunks += 1
        # a steady tone: after 5 identical analyses, look again only every 5th chunk
        if self._steady >= 5 and self._chunks % 5:
            return
        peaks = spectral_peaks(x)
        ms = 0.0
        for v in x:
            ms += v * v
        ms /= len(x)
        tonal = sum(a * a / 2.0 for _f, a in peaks) / ms if ms > 0 else 0.0
        if self._seg_peaks is not None and not self._same(peaks, self._seg_peaks):
            self._changed = True
            self._steady = 0
        elif self._seg_peaks is not None:
            self._steady += 1
        if self._seg_peaks is None or self._changed:
            self._seg_peaks = peaks
            self._seg_tonal = tonal
        self.freqs = [int(f + 0.5) for f, _a in peaks]

    @staticmethod
    def _same(a: list, b: list) -> bool:
        if len(a) != len(b):
            return False
        for f, _x in a:
            if not any(abs(f - g) <= max(0.02 * g, 8.0) for g, _y in b):
                return False
        return True

    def _end_part(self) -> None:
        ms = self._run * 1000.0 / RATE
        if self._on:
            if len(self._buf) >= COARSE_N:
                self._analyse_chunk()
            self._buf = array.array("h")
            if self._seg_n:
                self.level = rms_dbm0(math.sqrt(self._seg_power / self._seg_n))
            self._parts.append([True, ms, self._seg_peaks, self._seg_tonal, self._changed,
                                self.level, self._steady])
        else:
            self._parts.append([False, ms, None, None, False, None, 0])
        if len(self._parts) > 40:
            del self._parts[0]
        self._run = 0

    def feed(self, frame: bytes) -> str:
        """Process one 20 ms frame; return the current class."""
        x = le16_samples(frame)
        for b0 in range(0, len(x), BLOCK):
            blk = x[b0:b0 + BLOCK]
            if AUDIOOP is not None:
                r = float(AUDIOOP.rms(frame[2 * b0:2 * (b0 + BLOCK)], 2))
            else:
                s = 0
                for v in blk:
                    s += v * v
                r = math.sqrt(s / len(blk))
            lvl = rms_dbm0(r)
            on = lvl > (OFF_DBM0 if self._on else ON_DBM0)
            if on != self._on:
                if self.samples > 0 or self._run > 0:
                    self._end_part()
                self._on = on
                if on:
                    self._seg_peaks = None
                    self._seg_tonal = None
                    self._seg_power = 0.0
                    self._seg_n = 0
                    self._changed = False
                    self._steady = 0
                    self._chunks = 0
                    self._skip = 80
                    self._buf = array.array("h")
            self._run += len(blk)
            if on:
                self._seg_power += r * r * len(blk)
                self._seg_n += len(blk)
                if self._skip > 0:
                    self._skip -= len(blk)
                else:
                    self._buf.extend(blk)
                    if len(self._buf) >= CHUNK:
                        self._analyse_chunk()
                        self.level = rms_dbm0(math.sqrt(self._seg_power / self._seg_n))
        self.samples += len(x)
        self._verdict = self._classify()
        if self._cw_group is not None:
            self._alert_frame(x)
        tone = self._verdict
        if self._cw_hold > 0 and tone in ("silence", "speech", "other"):
            tone = "call_waiting"
        self.tone = tone
        return tone

    def _alert_frame(self, x) -> None:
        """Track the call-waiting tone frame by frame (see the theory of operation)."""
        t = self.tones["call_waiting"]
        shares, ms = tone_shares(x, t["freqs"])
        share = sum(shares)
        hit = ms * share > 0.5 * _ON_PEAK * _ON_PEAK and \
            share >= (ALERT_SHARE_AM if t.get("am") else ALERT_SHARE)
        runs = self._cw_runs
        if runs[-1][0] == hit:
            runs[-1][1] += 1
        else:
            if hit:
                self._cw_hold = 0          # it came back: a cadence, not a lone group
            runs.append([hit, 1])
            if len(runs) > len(self._cw_group) + 3:
                del runs[0]
        if self._cw_hold > 0:
            self._cw_hold -= 1
        if hit or runs[-1][1] != self._cw_alone:      # report once, when the quiet after is enough
            return
        g = len(self._cw_group)
        if len(runs) < g + 2 or runs[-g - 2][1] < self._cw_alone:
            return
        for i in range(g):
            run = runs[-g - 1 + i]
            if run[0] != (i % 2 == 0) or abs(run[1] * FRAME_MS - self._cw_group[i]) > ALERT_TOL_MS:
                return
        self._cw_hold = ALERT_HOLD_MS // FRAME_MS

    # -- decision -----------------------------------------------------------------------------

    def _on_sets(self, t: dict) -> list:
        if t.get("alt"):
            return [tuple(f) for f, _o in t["alt"]]
        return [tuple(t["freqs"])]

    def _freqs_match(self, peaks: list, t: dict) -> bool:
        return any(_set_matches(peaks, fs, t.get("am")) for fs in self._on_sets(t))

    def _classify(self) -> str:
        parts = self._parts
        cur_ms = self._run * 1000.0 / RATE
        cur_on = self._on
        if not parts and not cur_on:
            return "silence"
        pat = parts[self._pattern_start(cur_on):]
        if not cur_on and cur_ms > 10500:
            return "silence"
        peaks = self._seg_peaks if cur_on and self._seg_peaks is not None else _last_burst(pat, 2)
        if peaks is None:
            return self._verdict if cur_on else "silence"
        tonal = self._seg_tonal if cur_on and self._seg_tonal is not None else _last_burst(pat, 3)
        if not peaks or (tonal is not None and tonal < 0.6):
            return "speech"
        # measured cadence: completed parts from the first full burst on
        seq = [(p[0], p[1]) for p in pat]
        self.cadence = self._cycle_ms(seq)
        for name in PLAN_ORDER:
            t = self.tones.get(name)
            if t is not None and self._freqs_match(peaks, t) and \
                    self._cadence_matches(t, seq, cur_on, cur_ms) and self._levels_match(t, pat):
                return name
        return self._unmatched(peaks, pat, cur_on)

    def _pattern_start(self, cur_on: bool) -> int:
        """Where the pattern starts in the completed parts: after the last long silence, and
        after the last burst whose frequencies differ from the latest ones."""
        parts = self._parts
        start = 0
        for i in range(len(parts)):
            if not parts[i][0] and parts[i][1] > 10500:
                start = i + 1
        latest = self._seg_peaks if cur_on and self._seg_peaks is not None else None
        if latest is None:
            latest = _last_burst(parts[start:], 2)
        if latest is not None:
            for i in range(len(parts) - 1, start - 1, -1):
                p = parts[i]
                if p[0] and p[2] is not None and not p[4] and not self._same(p[2], latest):
                    return i + 1
        return start

    def _unmatched(self, peaks: list, pat: list, cur_on: bool) -> str:
        """A burst that matches no plan tone: tonal -> other, but give cadences time to show."""
        if any(self._freqs_match(peaks, t) for t in self.tones.values()):
            # evidence still incomplete: keep the last verdict if it fits these frequencies
            t = self.tones.get(self._verdict)
            if t is not None and self._freqs_match(peaks, t):
                return self._verdict
            if not cur_on and not pat:
                return "silence"
        return "other" if self._stable(pat, cur_on) else "speech"

    def _stable(self, pat: list, cur_on: bool) -> bool:
        """A non-plan sound is a tone ("other") only if its lines held still for 400 ms."""
        if cur_on and self._seg_peaks is not None:
            return self._steady >= 1 and not self._changed
        for p in reversed(pat):
            if p[0] and p[2] is not None:
                return p[6] >= 1 and not p[4]
        return False

    @staticmethod
    def _levels_match(t: dict, pat: list) -> bool:
        """Tones whose bursts alternate in level (AU congestion) against steady ones."""
        lv = [p[5] for p in pat if p[0] and p[5] is not None]
        if len(lv) < 3:
            return True
        lv = lv[-4:]
        swing = max(lv) - min(lv)
        offs = [o for _f, o in (t.get("alt") or [])]
        want = (max(offs) - min(offs)) if offs else 0
        return abs(swing - want) <= 4.0

    @staticmethod
    def _cycle_ms(seq: list) -> list:
        ms = [int(m + 0.5) for _on, m in seq]
        if seq and not seq[0][0]:
            ms = ms[1:]
        return ms[-8:]

    def _cadence_matches(self, t: dict, seq: list, cur_on: bool, cur_ms: float) -> bool:
        cad = _fold(t.get("cadence") or [])
        # drop a leading gap (we may have joined the pattern late)
        s = list(seq)
        while s and not s[0][0]:
            s.pop(0)
        if not cad:
            return self._continuous_matches(t, s, cur_on, cur_ms)
        if t.get("repeat") is False:
            return _finite_matches(s, cad, cur_on, cur_ms)
        return _cyclic_matches(s, cad, cur_on, cur_ms)

    def _continuous_matches(self, t: dict, s: list, cur_on: bool, cur_ms: float) -> bool:
        """A continuous tone (≥ 1 s steady), maybe after an intro (stutter, recall dial)."""
        if not cur_on or cur_ms < 1000:
            return False
        # alternating frequencies with no gap (UK special dial tone) versus a steady tone
        if bool(t.get("alt")) != self._changed:
            return False
        intro = _fold(t.get("intro") or [])
        if not intro:
            return len(s) == 0
        # bursts of the same lines may come before the intro: the confirmation tone after *72
        # runs straight into the stutter dial tone (GR-506 plays both)
        need = len(intro)
        return len(s) >= need and _parts_fit(s[-need:], intro, 0)


def _last_burst(pat: list, k: int):
    """Field `k` of the latest completed burst that has one (2 peaks, 3 tonality), or None."""
    for p in reversed(pat):
        if p[0] and p[k] is not None:
            return p[k]
    return None


def _parts_fit(parts: list, cad: list, rot: int) -> bool:
    """Each (is_on, ms) part matches the cadence `cad` read from position `rot`, cyclically."""
    n = len(cad)
    for i in range(len(parts)):
        if parts[i][0] != ((rot + i) % 2 == 0) or not _dur_ok(parts[i][1], cad[(rot + i) % n]):
            return False
    return True


def _finite_matches(s: list, cad: list, cur_on: bool, cur_ms: float) -> bool:
    """A finite pattern followed by silence (repeat = false: the confirmation tone)."""
    if cur_on or cur_ms < 500 or len(s) != len(cad) - 1:
        return False
    return _parts_fit(s, cad, 0)


def _cyclic_matches(s: list, cad: list, cur_on: bool, cur_ms: float) -> bool:
    """One full cycle of completed parts at some rotation of the cadence, and the part in
    progress not overrunning the one due next."""
    if cur_on and cur_ms > max(cad) + 200:
        return False
    # the first burst may be truncated: skip it when there is more than a cycle
    body = s[1:] if len(s) > len(cad) else s
    n = len(cad)
    if len(body) < n:
        return False
    for rot in range(n):
        if _parts_fit(body, cad, rot):
            nxt = cad[(rot + len(body)) % n]
            if cur_ms <= nxt + max(20.0, 0.06 * nxt):
                return True
    return False


def _fold(cad: list) -> list:
    """Fold zero-length parts into their neighbours (on/off alternation kept)."""
    out = []
    for i in range(len(cad)):
        on = i % 2 == 0
        if cad[i] <= 0:
            continue
        if out and out[-1][0] == on:
            out[-1][1] += cad[i]
        else:
            out.append([on, cad[i]])
    if len(out) > 1 and out[0][0] == out[-1][0] and len(out) % 2 == 1:
        out[0][1] += out.pop()[1]
    if len(out) == 1 and out[0][0]:
        return []
    return [m for _o, m in out]


def level_dbm0(pcm: bytes) -> float:
    """Level in dBm0 of PCM (total power)."""
    return rms_dbm0(rms(pcm))
