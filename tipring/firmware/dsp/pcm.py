"""PCM basics shared by the DSP modules: frame size, dBm0 levels, RMS, frame slicing.

Levels follow ITU-T G.711: the digital milliwatt, a 0 dBm0 sine, has a peak of
32768 * 10**(-3.17/20) = 22748 in 16-bit linear (a full-scale sine is +3.17 dBm0).
spandsp uses 32767 and +3.14 dB; the two differ by 0.03 dB.
"""

import array
import math

from tipring.firmware.compat import audioop as _audioop
from tipring.firmware.compat import le16_bytes, le16_samples

RATE = 8000            # samples per second
FRAME = 160            # samples per 20 ms frame
FRAME_BYTES = 320
FRAME_MS = 20
DBM0_PEAK = 32768 * 10 ** (-3.17 / 20)   # peak of a 0 dBm0 sine, 22748.35

AUDIOOP = _audioop     # the C helpers when present, else None (tipring/firmware/compat.py)


def amplitude(dbm0: float) -> float:
    """Peak amplitude (16-bit linear) of a sine at `dbm0`."""
    return DBM0_PEAK * 10 ** (dbm0 / 20.0)


def sine_dbm0(peak: float) -> float:
    """Level in dBm0 of a sine with this peak amplitude."""
    if peak <= 0:
        return -200.0
    return 20.0 * math.log10(peak / DBM0_PEAK)


def rms_dbm0(rms: float) -> float:
    """Level in dBm0 of a signal with this RMS (power referred to a 0 dBm0 sine)."""
    if rms <= 0:
        return -200.0
    return 20.0 * math.log10(rms * 1.4142135623730951 / DBM0_PEAK)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit LE PCM (0.0 for empty input)."""
    if not pcm:
        return 0.0
    if _audioop is not None:
        return float(_audioop.rms(pcm, 2))
    s = 0
    for v in samples(pcm):
        s += v * v
    return math.sqrt(s / (len(pcm) // 2))


def samples(pcm: bytes):
    """The samples of 16-bit LE PCM as array('h')."""
    return le16_samples(pcm)


def to_pcm(values) -> bytes:
    """Round and clamp numbers to 16-bit LE PCM."""
    try:
        n = len(values)
    except TypeError:   # an iterator
        values = list(values)
        n = len(values)
    # one array of 2 bytes a sample, filled in place: a list of n ints beside it would need a
    # block of 8n bytes, which MicroPython's fragmented heap may not have for a caller-ID burst
    out = array.array("h", bytes(2 * n))
    floor = math.floor
    i = 0
    for x in values:
        v = int(floor(x + 0.5))
        out[i] = 32767 if v > 32767 else (-32768 if v < -32768 else v)
        i += 1
    return le16_bytes(out)


def frames(pcm: bytes, pad: bool = True) -> list:
    """Split PCM into 320-byte frames; the last one is zero-padded when `pad`, else dropped."""
    out = []
    n = len(pcm)
    for i in range(0, n, FRAME_BYTES):
        f = pcm[i:i + FRAME_BYTES]
        if len(f) < FRAME_BYTES:
            if not pad:
                break
            f = f + bytes(FRAME_BYTES - len(f))
        out.append(f)
    return out


SILENT_FRAME = bytes(FRAME_BYTES)
