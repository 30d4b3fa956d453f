"""Ring cadences per country and the schedule that turns one into RM / F/R levels over time.

Owns: which country rings how (`CADENCES`), the caller-ID window that a cadence leaves
(`cid_window`), and `RingSchedule`, the pure function of time behind `hal.ringer.Ringer`.

Sources (notes/hardware.md §2.3): Asterisk `indications.conf.sample` per country (US pattern 1
from Telcordia GR-506: 2 s on / 4 s off at 20 Hz; UK per BT SIN 350 and AU per ACIF S002:
0.4/0.2/0.4/2.0 at 25 Hz; DE per 1 TR 110-1: 1/4 at 25 Hz; FR 1.5/3.5 at 50 Hz; CN 1/4 at
25 Hz; JP 1/2 at 16 Hz). The frequencies marked [U] in the notes are the common values, so a
board or line may override `freq_hz`. The DSP tone plans hold the same numbers on purpose:
this module stays self-contained so the ring driver needs nothing else.

Rules:
1. A cadence is a tuple of seconds, alternating on, off, on, off... starting with "on" and
   ending with "off"; one pass through it is one *ring cycle*.
2. Nothing here knows pins or clocks. `RingSchedule` answers "what should RM and F/R be at
   time t" and "when does that next change", in integer microseconds internally so a timer
   fired exactly at `next_change()` never lands a hair before the edge it was set for.

Theory of operation: during an "on" segment RM is active and F/R is toggled every half period
of the ring frequency, starting inverted from its idle level (as Blue POT / weeBell do), so the
SLIC produces a square-ish ring voltage at `freq_hz`. During "off" segments RM is inactive and
F/R sits at its idle level. The Bellcore caller-ID burst goes in the last "off" segment of the
first cycle (GR-30-CORE: after the first ring, before the second); ETSI/DTMF caller ID that
precedes the ring uses a `pre_ring` gap before the first "on" instead.
"""

# country -> (cadence seconds, ring frequency Hz)
CADENCES = {
    "us": ((2.0, 4.0), 20),
    "uk": ((0.4, 0.2, 0.4, 2.0), 25),
    "au": ((0.4, 0.2, 0.4, 2.0), 25),
    "de": ((1.0, 4.0), 25),
    "fr": ((1.5, 3.5), 50),
    "cn": ((1.0, 4.0), 25),
    "jp": ((1.0, 2.0), 16),
}

# named distinctive patterns (Alert-Info / services); same shape as CADENCES values
DISTINCTIVE = {
    "us-bellcore-dr2": (0.8, 0.4, 0.8, 4.0),   # GR-506 pattern 2, the usual "distinctive"
}

MIN_FREQ_HZ = 10
MAX_FREQ_HZ = 70


def ring_plan(country: str) -> tuple:
    """Return `(cadence, freq_hz)` for a country code; ValueError names the allowed codes."""
    try:
        return CADENCES[country.lower()]
    except (KeyError, AttributeError):
        raise ValueError("unknown ring country %r; allowed: %s"
                         % (country, ", ".join(sorted(CADENCES))))


def check_cadence(cadence, freq_hz) -> None:
    """Raise ValueError naming the defect when a cadence or frequency cannot be rung."""
    if not isinstance(cadence, (tuple, list)) or len(cadence) < 2 or len(cadence) % 2:
        raise ValueError("cadence must be an even-length list of on/off seconds, got %r"
                         % (cadence,))
    for i, s in enumerate(cadence):
        if not isinstance(s, (int, float)) or isinstance(s, bool) or s <= 0:
            raise ValueError("cadence[%d] must be seconds > 0, got %r" % (i, s))
    if (not isinstance(freq_hz, (int, float)) or isinstance(freq_hz, bool)
            or not MIN_FREQ_HZ <= freq_hz <= MAX_FREQ_HZ):
        raise ValueError("ring frequency must be %d..%d Hz, got %r"
                         % (MIN_FREQ_HZ, MAX_FREQ_HZ, freq_hz))


def cid_window(cadence) -> tuple:
    """Offsets `(start, end)` in seconds from the first ring's start of the caller-ID slot:
    from the end of the first cycle's last "on" segment to the start of the second cycle."""
    total = 0.0
    for s in cadence:
        total += s
    return (total - cadence[-1], total)


def _us(seconds) -> int:
    return int(round(seconds * 1000000))


class RingSchedule:
    """The RM / F/R levels of one ringing session as a function of time.

    `start` is when the session begins; the first "on" segment begins at `start + pre_ring`.
    `state(t)` gives `(cycle, segment, rm_on, fr_inverted)`; `next_change(t)` the first time
    after `t` at which any of those changes. `cycle` counts from 1; before the first ring it
    is 0 and `segment` is -1.
    """

    def __init__(self, cadence, freq_hz, start: float, pre_ring: float = 0.0):
        check_cadence(cadence, freq_hz)
        if pre_ring < 0:
            raise ValueError("pre_ring must be >= 0, got %r" % (pre_ring,))
        self.cadence = tuple(cadence)
        self.freq_hz = freq_hz
        self.start = start
        self.pre_ring = pre_ring
        self.first_ring = start + pre_ring
        self._seg_us = [_us(s) for s in self.cadence]
        self._cycle_us = 0
        for s in self._seg_us:
            self._cycle_us += s
        self._half_us = _us(0.5 / freq_hz)
        if self._half_us <= 0:
            raise ValueError("ring frequency too high: %r" % (freq_hz,))

    def __repr__(self):
        return "<RingSchedule %s Hz %r from %r>" % (self.freq_hz, self.cadence, self.start)

    def cid_slot(self) -> tuple:
        """`(start, end)` absolute times of the caller-ID window (see module docstring)."""
        if self.pre_ring > 0:
            return (self.start, self.first_ring)
        a, b = cid_window(self.cadence)
        return (self.first_ring + a, self.first_ring + b)

    def _locate(self, u):
        # u: integer microseconds since first_ring, >= 0
        cycle = u // self._cycle_us
        rem = u - cycle * self._cycle_us
        seg_start = 0
        for i in range(len(self._seg_us)):
            seg_end = seg_start + self._seg_us[i]
            if rem < seg_end:
                return cycle, i, seg_start, seg_end, rem
            seg_start = seg_end
        return cycle + 1, 0, 0, self._seg_us[0], 0   # not reached: rem < cycle length

    def state(self, t: float) -> tuple:
        """`(cycle, segment, rm_on, fr_inverted)` at time `t`."""
        u = _us(t - self.first_ring)
        if u < 0:
            return (0, -1, False, False)
        cycle, seg, seg_start, seg_end, rem = self._locate(u)
        if seg % 2:
            return (cycle + 1, seg, False, False)
        k = (rem - seg_start) // self._half_us
        return (cycle + 1, seg, True, k % 2 == 0)

    def next_change(self, t: float) -> float:
        """The first time strictly after `t` at which `state()` changes."""
        u = _us(t - self.first_ring)
        if u < 0:
            return self.first_ring
        cycle, seg, seg_start, seg_end, rem = self._locate(u)
        base = cycle * self._cycle_us
        if seg % 2:
            nxt = seg_end
        else:
            k = (rem - seg_start) // self._half_us
            nxt = seg_start + (k + 1) * self._half_us
            if nxt > seg_end:
                nxt = seg_end
        return self.first_ring + (base + nxt) / 1000000
