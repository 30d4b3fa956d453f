"""1200 bit/s FSK for caller ID: Bell 202 and ITU-T V.23, modulator and demodulator.

Rules:
1. Two modems only, both 1200 bit/s asynchronous: Bell 202 (mark 1200 Hz, space 2200 Hz;
   Telcordia GR-30-CORE) and V.23 mode 2 (mark 1300 Hz, space 2100 Hz; ITU-T V.23, as ETSI
   EN 300 659-1 and BT SIN 227 use it). Characters are 8N1, least significant bit first
   (GR-30-CORE; EN 300 659-2).
2. Sans-IO: `modulate` returns PCM bytes; `FSKDemodulator.feed` takes PCM and returns the
   characters it completed.

Theory of operation. The modulator keeps one phase accumulator and switches its increment at
each bit edge, so the signal is phase-continuous; bit edges fall on the nearest sample of
k·8000/1200 (6⅔ samples a bit), so timing never drifts. The demodulator runs two sliding
one-bit DFTs (7 samples) at the mark and space frequencies and compares their magnitudes each
sample: a non-coherent FSK detector. A UART arms itself only after 10 bit-times of steady
mark with carrier present (which skips the channel-seizure 0101… pattern), then frames
characters: the start bit's edge, each bit by a soft vote of the three decisions at its
middle, the stop bit checked; a start edge that came while the stop bit was still being
judged is kept (back-to-back characters). Carrier loss disarms it. Written by hand because
caller ID is a product feature and the demodulator is what the virtual handset and the tests
use to read it back; pure Python, about 1 µs a sample on CPython, fine for a burst of
under a second.
"""

import math

from tipring.firmware.dsp.pcm import RATE, amplitude, samples, to_pcm

BAUD = 1200
MODEMS = {
    "bell202": {"mark": 1200, "space": 2200},
    "v23": {"mark": 1300, "space": 2100},
}
_SPB = RATE / BAUD   # samples per bit, 6.667


def _modem(name: str) -> dict:
    try:
        return MODEMS[name]
    except KeyError:
        raise ValueError("unknown FSK modem %r (known: bell202, v23)" % name)


def char_bits(data: bytes) -> list:
    """8N1 framing, LSB first: start 0, 8 data bits, stop 1 for each byte."""
    bits = []
    for byte in data:
        bits.append(0)
        for k in range(8):
            bits.append((byte >> k) & 1)
        bits.append(1)
    return bits


def preamble_bits(seizure: int = 300, marks: int = 180) -> list:
    """Channel seizure (`seizure` alternating bits starting 0, i.e. 0x55 bytes on the line)
    then `marks` mark (1) bits (GR-30-CORE, EN 300 659-1; spandsp's default preamble)."""
    return [i & 1 for i in range(seizure)] + [1] * marks


def modulate(bits: list, modem: str = "bell202", level: float = -13.5, phase: float = 0.0) -> bytes:
    """Phase-continuous FSK PCM for `bits` (1 = mark) at `level` dBm0."""
    m = _modem(modem)
    a = amplitude(level)
    wm = 2 * math.pi * m["mark"] / RATE
    ws = 2 * math.pi * m["space"] / RATE
    out = []
    ph = phase
    sin = math.sin
    n = 0
    for i in range(len(bits)):
        end = int(math.floor((i + 1) * _SPB + 0.5))
        w = wm if bits[i] else ws
        while n < end:
            out.append(a * sin(ph))
            ph += w
            n += 1
        if ph > 1e6:
            ph = math.fmod(ph, 2 * math.pi)
    return to_pcm(out)


class FSKDemodulator:
    """Represents a 1200 bit/s FSK receiver (Bell 202 or V.23) with an async UART.

    `feed(pcm)` takes 16-bit LE PCM of any length and returns the bytes completed in it.
    `min_level` (dBm0) is the carrier-detect threshold.

        demod = FSKDemodulator("v23")
        data = demod.feed(pcm)
    """

    def __init__(self, modem: str = "bell202", min_level: float = -40.0):
        m = _modem(modem)
        self.modem = modem
        self._L = 7                         # one bit, rounded up
        wm = 2 * math.pi * m["mark"] / RATE
        ws = 2 * math.pi * m["space"] / RATE
        L = self._L
        # rotating references for a sliding DFT: e^(-jωn) tabulated over one period each
        self._pm = self._period(m["mark"])
        self._ps = self._period(m["space"])
        self._cm = [math.cos(wm * n) for n in range(self._pm)]
        self._sm = [math.sin(wm * n) for n in range(self._pm)]
        self._cs = [math.cos(ws * n) for n in range(self._ps)]
        self._ss = [math.sin(ws * n) for n in range(self._ps)]
        # carrier: a sine at min_level gives |S|^2 ≈ (a·L/2)^2
        self._thr = (amplitude(min_level) * L / 2.0) ** 2
        self._hist = [0] * L
        self._n = 0
        self._mr = self._mi = self._sr = self._si = 0.0
        self._marks = 0          # consecutive mark decisions (samples)
        self._armed = False
        self._state = None       # None idle; else sample count since start edge
        self._bits = []
        self._prev = 1
        self._acc = 0.0
        self._since_edge = 1 << 20

    @property
    def armed(self) -> bool:
        """True while a carrier with a mark run has been found and characters are framed."""
        return self._armed

    @staticmethod
    def _period(f: int) -> int:
        g = RATE
        b = f
        while b:
            g, b = b, g % b
        return RATE // g

    def feed(self, pcm: bytes) -> bytes:
        """Demodulate PCM; return the characters completed."""
        out = bytearray()
        L = self._L
        hist = self._hist
        cm, sm, cs, ss = self._cm, self._sm, self._cs, self._ss
        pm, ps = self._pm, self._ps
        mr, mi, sr, si = self._mr, self._mi, self._sr, self._si
        n = self._n
        thr = self._thr
        for v in samples(pcm):
            j = n % L
            old = hist[j]
            hist[j] = v
            k = n % pm
            ko = (n - L) % pm
            mr += v * cm[k] - old * cm[ko]
            mi += v * sm[k] - old * sm[ko]
            k = n % ps
            ko = (n - L) % ps
            sr += v * cs[k] - old * cs[ko]
            si += v * ss[k] - old * ss[ko]
            n += 1
            em = mr * mr + mi * mi
            es = sr * sr + si * si
            carrier = em + es > thr
            self._step(1 if em >= es else 0, (em - es) / (em + es + 1.0), carrier, out)
        if n > 1 << 30:  # keep the phase index small; L divides neither period, so refresh sums
            n = 0
            mr = mi = sr = si = 0.0
            self._hist = [0] * L
        self._mr, self._mi, self._sr, self._si = mr, mi, sr, si
        self._n = n
        return bytes(out)

    def _step(self, bit: int, soft: float, carrier: bool, out) -> None:
        if not carrier:
            self._armed = False
            self._state = None
            self._marks = 0
            self._prev = 1
            return
        if not self._armed:
            if bit:
                self._marks += 1
                if self._marks >= 10 * _SPB:
                    self._armed = True
            else:
                self._marks = 0
            self._prev = bit
            return
        if bit == 0 and self._prev == 1:
            self._since_edge = 0
        else:
            self._since_edge += 1
        if self._state is None:
            if self._since_edge == 0:
                self._state = 0
                self._bits = []
                self._acc = 0.0
            self._prev = bit
            return
        self._state += 1
        t = self._state
        self._prev = bit
        # decisions lag the line by half the DFT window, and so does the start edge we saw:
        # bit k's centre is (k + ½) bit-times after it; vote (soft) over the 3 samples there
        k = len(self._bits)
        mid = (k + 0.5) * _SPB
        if t >= mid - 1.5:
            self._acc += soft
        if t >= mid + 1:
            bit = 1 if self._acc >= 0 else 0
            self._acc = 0.0
            self._bits.append(bit)
            k += 1
            if k == 1 and bit != 0:       # false start
                self._state = None
            elif k == 10:
                if bit == 1:
                    v = 0
                    for i in range(8):
                        v |= self._bits[1 + i] << i
                    out.append(v)
                self._state = None
                # the next start bit may already have begun (back-to-back characters)
                if self._since_edge < t - 9.5 * _SPB:
                    self._state = self._since_edge
                    self._bits = []
                    self._acc = 0.0
                    if self._state >= 2:
                        self._acc = -1.0
