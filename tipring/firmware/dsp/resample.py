"""2:1 rate conversion between a 16 kHz (wideband) line and the 8 kHz telephony DSP and G.711.

What this module owns
---------------------
`Decimator` (16 kHz -> 8 kHz) and `Interpolator` (8 kHz -> 16 kHz), each with the filter state
that carries across 20 ms frames, so a stream of frames converts exactly as one long signal
would. A board whose line runs at 16 kHz (`audio.rate = 16000`, G.722 wideband end to end) uses
them where the 8 kHz world meets the line: DTMF detection, tone classification and caller ID
stay 8 kHz DSP (their standards are narrowband: Q.24, E.180, GR-30, ETSI EN 300 659), and a
G.711 call is narrowband audio carried on a wideband line.

Why by hand
-----------
The filter is one linear-phase half-band FIR (63 taps, Kaiser window beta 7), the textbook
choice for 2:1 (Crochiere & Rabiner, "Multirate DSP", §4.3): every other tap is zero, so each
output costs 16 multiplies of a symmetric pair. It is the anti-alias / anti-image filter that
G.712 asks of a PCM channel, and it is small: no library here does it without numpy (which
stays out of the firmware) or a C dependency. Measured response (tests/dsp/test_resample.py):
flat within +-0.003 dB to 3.4 kHz, >= 70 dB stopband from 4.6 kHz, -6 dB at 4 kHz (the
half-band point), a delay of 31 samples at 16 kHz each way (1.9 ms).

The work runs in C through audioop when it is there (the polyphase form: the even and odd
samples as two 8 kHz streams, each tap pair one `mul` and `add` over the whole frame, in 32-bit
so no partial sum clips), and in plain Python otherwise (MicroPython), with the same result.

Rules
-----
1. PCM is signed 16-bit little-endian `bytes`, as everywhere in the media path.
2. `Decimator.process` takes any number of 16 kHz samples; an odd one out waits for the next
   call, so garbled frame lengths lose nothing and never raise. `Interpolator.process` gives
   exactly twice the samples it got.
3. Output saturates at 16 bits; nothing wraps.
"""

import array
import math

from tipring.firmware.compat import audioop as _audioop
from tipring.firmware.compat import le16_bytes, le16_samples

PAIRS = 16          # non-zero tap pairs of the half-band filter: 4 * 16 - 1 = 63 taps
BETA = 7.0          # Kaiser window: ~71 dB stopband at this length
TAPS = 4 * PAIRS - 1
DECIMATOR_DELAY = 2 * PAIRS - 1     # 16 kHz samples from an input to its output
INTERPOLATOR_DELAY = 2 * PAIRS - 1  # 16 kHz samples, counted at the output


def _i0(x):
    """Modified Bessel function of the first kind, order 0 (Kaiser window), by its series."""
    term = total = 1.0
    k = 1
    while term > 1e-12 * total:
        term *= (x / (2.0 * k)) ** 2
        total += term
        k += 1
    return total


def _half_band(pairs, beta):
    """The taps at offsets +-1, +-3, ... +-(2*pairs-1) from the centre (0.5): a windowed
    sin(pi n / 2) / (pi n), normalised so the DC gain is exactly 1."""
    g = []
    for j in range(1, pairs + 1):
        d = 2 * j - 1
        w = _i0(beta * math.sqrt(1.0 - (d / (2.0 * pairs)) ** 2)) / _i0(beta)
        g.append((1.0 if j % 2 else -1.0) / (math.pi * d) * w)
    s = sum(g)
    return [x * 0.25 / s for x in g]


COEFFS = _half_band(PAIRS, BETA)


def taps() -> list:
    """The whole 63-tap impulse response (for tests and plots)."""
    h = [0.0] * TAPS
    c = 2 * PAIRS - 1
    h[c] = 0.5
    for j, g in enumerate(COEFFS, 1):
        h[c - (2 * j - 1)] = h[c + (2 * j - 1)] = g
    return h


def _sat(v):
    return 32767 if v > 32767 else (-32768 if v < -32768 else v)


class Decimator:
    """16 kHz PCM in, 8 kHz PCM out (half-band low-pass, then every other sample)."""

    HISTORY = 4 * PAIRS - 2      # 16 kHz samples kept from the previous call

    def __init__(self):
        self._hist = bytes(2 * self.HISTORY)
        self._odd = b""              # a sample waiting for its partner (rule 2)

    def reset(self) -> None:
        self.__init__()

    def process(self, pcm: bytes) -> bytes:
        """Convert; returns len(pcm) / 4 * 2 bytes give or take the waiting odd sample."""
        pcm = self._odd + bytes(pcm[:len(pcm) & ~1])
        if len(pcm) % 4:
            pcm, self._odd = pcm[:-2], pcm[-2:]
        else:
            self._odd = b""
        if not pcm:
            return b""
        buf = self._hist + pcm
        self._hist = buf[-2 * self.HISTORY:]
        if _audioop is not None:
            return self._fast(buf, len(pcm) // 4)
        return self._plain(buf, len(pcm) // 4)

    @staticmethod
    def _fast(buf, n):
        # polyphase: y[k] = 0.5 O[k+M-1] + sum_j g_j (E[k+M-j] + E[k+M+j-1]), E/O the even/odd
        # samples: centred on the odd ones, so the delay (31) matches the interpolator's and a
        # round trip is a whole number of 8 kHz samples
        a = _audioop
        even = a.lin2lin(a.tomono(buf, 2, 1, 0), 2, 4)
        odd = a.lin2lin(a.tomono(buf, 2, 0, 1), 2, 4)
        m, w = PAIRS, 4 * n
        acc = a.mul(odd[4 * (m - 1):4 * (m - 1) + w], 4, 0.5)
        for j, g in enumerate(COEFFS, 1):
            lo, hi = 4 * (m - j), 4 * (m + j - 1)
            acc = a.add(acc, a.add(a.mul(even[lo:lo + w], 4, g), a.mul(even[hi:hi + w], 4, g), 4), 4)
        return a.lin2lin(a.bias(acc, 4, 0x8000), 4, 2)

    @staticmethod
    def _plain(buf, n):
        x = le16_samples(buf)
        out = []
        m = PAIRS
        for k in range(n):
            base = 2 * (m + k) - 1
            acc = 0.5 * x[base]
            for j, g in enumerate(COEFFS, 1):
                acc += g * (x[base - 2 * j + 1] + x[base + 2 * j - 1])
            out.append(_sat(int(math.floor(acc + 0.5))))
        return le16_bytes(array.array("h", out))


class Interpolator:
    """8 kHz PCM in, 16 kHz PCM out (zeros between the samples, then the half-band low-pass
    at twice the gain)."""

    HISTORY = 2 * PAIRS - 1      # 8 kHz samples kept from the previous call

    def __init__(self):
        self._hist = bytes(2 * self.HISTORY)

    def reset(self) -> None:
        self.__init__()

    def process(self, pcm: bytes) -> bytes:
        """Convert; returns twice the samples given."""
        pcm = bytes(pcm[:len(pcm) & ~1])
        if not pcm:
            return b""
        buf = self._hist + pcm
        self._hist = buf[-2 * self.HISTORY:]
        if _audioop is not None:
            return self._fast(buf, len(pcm) // 2)
        return self._plain(buf, len(pcm) // 2)

    @staticmethod
    def _fast(buf, n):
        # z[2p] = sum_j 2 g_j (x[p+M+j-1] + x[p+M-j]), z[2p+1] = x[p+M] (buf-relative indices)
        a = _audioop
        x = a.lin2lin(buf, 2, 4)
        m, w = PAIRS, 4 * n
        acc = None
        for j, g in enumerate(COEFFS, 1):
            lo, hi = 4 * (m - j), 4 * (m + j - 1)
            pair = a.add(a.mul(x[lo:lo + w], 4, 2 * g), a.mul(x[hi:hi + w], 4, 2 * g), 4)
            acc = pair if acc is None else a.add(acc, pair, 4)
        even = a.lin2lin(a.bias(acc, 4, 0x8000), 4, 2)
        odd = buf[2 * m:2 * m + 2 * n]
        return a.add(a.tostereo(even, 2, 1, 0), a.tostereo(odd, 2, 0, 1), 2)

    @staticmethod
    def _plain(buf, n):
        x = le16_samples(buf)
        out = []
        m = PAIRS
        for p in range(n):
            acc = 0.0
            for j, g in enumerate(COEFFS, 1):
                acc += 2 * g * (x[p + m + j - 1] + x[p + m - j])
            out.append(_sat(int(math.floor(acc + 0.5))))
            out.append(x[p + m])
        return le16_bytes(array.array("h", out))
