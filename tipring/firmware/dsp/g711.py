"""G.711 µ-law and A-law companding of 16-bit linear PCM (ITU-T G.711 (11/88), tables 1a/1b, 2a/2b).

Rules:
1. Bytes in, bytes out: linear PCM is signed 16-bit little-endian, one code is one byte.
2. Every path is bit-exact with the classic Sun Microsystems `g711.c` (the algorithm CPython's
   `audioop` implements), over all 65 536 linear inputs and all 256 codes; the tests check it.

Theory of operation. On CPython the C loops of `audioop` (stdlib up to 3.12, the `audioop-lts`
package from 3.13) do the work: about 0.4 µs to encode and 0.1 µs to decode a 20 ms frame
(notes/perf-baselines.md §2). Where `audioop` is missing (MicroPython, a stripped CPython) the
codec falls back to tables built once at import from a port of `g711.c`: the encoder looks up a
65 536-entry `bytes` table indexed by the unsigned view of each sample, the decoder a 256-entry
table. It is written by hand because it is the product: the firmware must run where `audioop`
does not, and an ATA must produce exactly the codes every other G.711 peer produces.

`lin2ulaw`, `ulaw2lin`, `lin2alaw`, `alaw2lin` pick the fast path; the `*_pure` twins always use
the tables (the tests compare the two).
"""

import array

from tipring.firmware.compat import audioop as _audioop
from tipring.firmware.compat import le16_bytes, le16_samples

HAVE_AUDIOOP = _audioop is not None

# -- the Sun g711.c algorithm, one sample at a time ------------------------------------------------

_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
_BIAS = 0x84  # µ-law bias (G.711 table 2a: the 33 offset, scaled)
_CLIP = 8159  # largest 14-bit magnitude µ-law can represent


def _seg(val: int, table: tuple) -> int:
    i = 0
    for end in table:
        if val <= end:
            return i
        i += 1
    return 8


def ulaw_encode_sample(pcm: int) -> int:
    """Encode one signed 16-bit sample to a µ-law code (G.711 table 2a, bits inverted)."""
    pcm >>= 2  # to 14 bits
    if pcm < 0:
        pcm = -pcm
        mask = 0x7F
    else:
        mask = 0xFF
    if pcm > _CLIP:
        pcm = _CLIP
    pcm += _BIAS >> 2
    seg = _seg(pcm, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def ulaw_decode_sample(code: int) -> int:
    """Decode one µ-law code to a signed 16-bit sample."""
    u = ~code & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t <<= (u & 0x70) >> 4
    return (_BIAS - t) if (u & 0x80) else (t - _BIAS)


def alaw_encode_sample(pcm: int) -> int:
    """Encode one signed 16-bit sample to an A-law code (G.711 table 1a, even bits inverted)."""
    pcm >>= 3  # to 13 bits
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 1
    seg = _seg(pcm, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    if seg < 2:
        aval |= (pcm >> 1) & 0xF
    else:
        aval |= (pcm >> seg) & 0xF
    return aval ^ mask


def alaw_decode_sample(code: int) -> int:
    """Decode one A-law code to a signed 16-bit sample."""
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if (a & 0x80) else -t


# -- tables, built lazily (the two 64 KiB encode tables cost ~60 ms of CPython start-up) -----------

_tables = {}


def _table(name: str):
    t = _tables.get(name)
    if t is None:
        if name in ("uenc", "aenc"):
            # filled in place: a 65 536-item list would need 512 KiB of MicroPython heap
            enc = ulaw_encode_sample if name == "uenc" else alaw_encode_sample
            b = bytearray(65536)
            for i in range(65536):
                b[i] = enc(i - 65536 if i >= 32768 else i)
            t = bytes(b)
        elif name == "udec":
            t = array.array("h", [ulaw_decode_sample(c) for c in range(256)])
        elif name == "adec":
            t = array.array("h", [alaw_decode_sample(c) for c in range(256)])
        elif name in ("ulo", "uhi", "alo", "ahi"):
            dec = _table(name[0] + "dec")
            if name[1:] == "lo":
                t = bytes([v & 0xFF for v in dec])
            else:
                t = bytes([(v >> 8) & 0xFF for v in dec])
        else:  # pragma: no cover
            raise KeyError(name)
        _tables[name] = t
    return t


_HAS_TRANSLATE = hasattr(b"", "translate")


def _encode_pure(pcm: bytes, table: bytes) -> bytes:
    if len(pcm) & 1:
        raise ValueError("linear PCM must be a whole number of 16-bit samples")
    samples = le16_samples(pcm, "H")
    if _HAS_TRANSLATE:   # CPython: a list comprehension is the fastest pure path (~5 µs/frame)
        return bytes([table[s] for s in samples])
    out = bytearray(len(samples))
    for i in range(len(samples)):
        out[i] = table[samples[i]]
    return bytes(out)


def _decode_pure(codes: bytes, kind: str) -> bytes:
    if _HAS_TRANSLATE:  # two C-level translates and an interleave: ~0.7 µs a frame on CPython
        out = bytearray(2 * len(codes))
        out[0::2] = codes.translate(_table(kind + "lo"))
        out[1::2] = codes.translate(_table(kind + "hi"))
        return bytes(out)
    dec = _table(kind + "dec")
    return le16_bytes(array.array("h", [dec[c] for c in codes]))


def lin2ulaw_pure(pcm: bytes) -> bytes:
    """Encode 16-bit LE PCM to µ-law with the portable tables."""
    return _encode_pure(pcm, _table("uenc"))


def lin2alaw_pure(pcm: bytes) -> bytes:
    """Encode 16-bit LE PCM to A-law with the portable tables."""
    return _encode_pure(pcm, _table("aenc"))


def ulaw2lin_pure(codes: bytes) -> bytes:
    """Decode µ-law codes to 16-bit LE PCM with the portable tables."""
    return _decode_pure(codes, "u")


def alaw2lin_pure(codes: bytes) -> bytes:
    """Decode A-law codes to 16-bit LE PCM with the portable tables."""
    return _decode_pure(codes, "a")


if HAVE_AUDIOOP:
    def lin2ulaw(pcm: bytes) -> bytes:
        """Encode 16-bit LE PCM to µ-law (G.711)."""
        return _audioop.lin2ulaw(pcm, 2)

    def ulaw2lin(codes: bytes) -> bytes:
        """Decode µ-law codes to 16-bit LE PCM (G.711)."""
        return _audioop.ulaw2lin(codes, 2)

    def lin2alaw(pcm: bytes) -> bytes:
        """Encode 16-bit LE PCM to A-law (G.711)."""
        return _audioop.lin2alaw(pcm, 2)

    def alaw2lin(codes: bytes) -> bytes:
        """Decode A-law codes to 16-bit LE PCM (G.711)."""
        return _audioop.alaw2lin(codes, 2)
else:
    lin2ulaw = lin2ulaw_pure
    ulaw2lin = ulaw2lin_pure
    lin2alaw = lin2alaw_pure
    alaw2lin = alaw2lin_pure

#: codec name (SDP encoding name) -> (encode, decode)
CODECS = {"PCMU": (lin2ulaw, ulaw2lin), "PCMA": (lin2alaw, alaw2lin)}

#: the code a silent (all-zero) frame encodes to
ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5
