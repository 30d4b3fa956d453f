"""G.722 wideband audio (ITU-T G.722, 64 kbit/s) for one RTP stream, over sippy's libg722.

What this module owns
---------------------
One direction of G.722 coding per object: `G722Encoder` turns the line's 16-bit PCM into
G.722 octets, `G722Decoder` the peer's octets back into PCM. Both are stateful (sub-band ADPCM
predictors adapt sample by sample, G.722 §3, §4), so a stream keeps one of each for as long as
it carries G.722, and a new remote source gets a fresh decoder. Pure computation on bytes, no
socket or clock, but not portable: it needs the `g722` package (a C extension, imported here
lazily), so a tipring without it runs with G.722 off: `available()` says whether it can, SDP
never offers or accepts G.722 then (config validation refuses a `codecs` list naming it).

Rules
-----
1. RTP (RFC 3551 §4.5.2): payload type 9, `a=rtpmap:9 G722/8000`. The RTP clock runs at 8000 Hz
   although the audio is sampled at 16 kHz (an error kept for compatibility with RFC 1890), so a
   20 ms packet carries 160 octets (320 samples of 4 bits each, two sub-bands) and its timestamp
   moves 160, exactly as a G.711 packet's. The stream's timestamp and jitter arithmetic therefore
   need nothing new; only the payload differs.
2. The line's rate: `line_rate` 8000 (the sim board and the AG1171 USB board today) or 16000.
   At 8000 the codec runs in libg722's 8 kHz mode: the encoder takes the 8 kHz line as G.722's
   lower sub-band (0-4 kHz at 8 kHz, exactly what G.722's QMF analysis would make of it) and
   codes the upper sub-band as silence; the decoder gives back only the lower sub-band. G.722's
   own QMF, the 24-tap halfband pair that the wideband peer runs, is then the 16 <-> 8 kHz
   filter: its analysis keeps 4-8 kHz out of the lower band we decode, its synthesis
   interpolates our band up to 16 kHz. So no resampler of ours runs (no aliasing, no added
   delay, half the codec's work), and the stream stays compatible with every wideband peer: a
   tone crosses at its frequency and level both ways, a 6 kHz tone from the peer is stopped
   (tests/media/test_g722.py). At 16000 the full QMF runs here too: the stream on a board
   whose line is 16 kHz (`MediaStream(line_rate=16000)`) codes the line's audio as it is, so
   a tone up to 7 kHz crosses wideband both ways (tests/media/test_stream_wideband.py).
3. PCM is signed 16-bit little-endian `bytes`, as everywhere in the media path. A payload of odd
   bytes decodes (each octet is one 16 kHz sample pair); an empty one gives no audio.
"""

import array

from tipring.firmware.compat import LITTLE_ENDIAN

try:
    import G722 as _lib      # the PyPI package `g722` (sippy/libg722) installs module G722
except ImportError:   # pragma: no cover - exercised on machines without the package
    _lib = None

PT_G722 = 9                 # RFC 3551 §6, static
RTP_CLOCK = 8000            # RFC 3551 §4.5.2: the rate SDP and timestamps use for G.722
BIT_RATE = 64000            # mode 1; 56k/48k are for data channels, never used on RTP
LINE_RATES = (8000, 16000)
_SWAP = not LITTLE_ENDIAN


def available() -> bool:
    """Whether G.722 can run here (the `g722` package imports)."""
    return _lib is not None


def _codec(line_rate):
    if _lib is None:
        raise RuntimeError("G.722 needs the g722 package (pip install g722)")
    if line_rate not in LINE_RATES:
        raise ValueError("line rate %r: G.722 runs on an 8000 or 16000 Hz line" % (line_rate,))
    return _lib.G722(line_rate, BIT_RATE)


class G722Encoder:
    """Line PCM at `line_rate` -> G.722 octets; one per sending stream (it keeps ADPCM state)."""

    def __init__(self, line_rate: int = 8000):
        self.line_rate = line_rate
        self._codec = _codec(line_rate)

    def encode(self, pcm: bytes) -> bytes:
        samples = array.array("h")
        samples.frombytes(pcm[:len(pcm) & ~1])
        if _SWAP:   # pragma: no cover - big-endian hosts
            samples.byteswap()
        return self._codec.encode(samples)


class G722Decoder:
    """G.722 octets -> line PCM at `line_rate`; one per received source (it keeps ADPCM state)."""

    def __init__(self, line_rate: int = 8000):
        self.line_rate = line_rate
        self._codec = _codec(line_rate)

    def decode(self, payload: bytes) -> bytes:
        if not payload:
            return b""
        samples = self._codec.decode(bytes(payload))
        if not isinstance(samples, array.array):   # the optional numpy backend
            samples = array.array("h", samples)
        if _SWAP:   # pragma: no cover - big-endian hosts
            samples.byteswap()
        return samples.tobytes()


def payload_bytes(ptime_ms: int) -> int:
    """Octets of a G.722 packet of `ptime_ms` (64 kbit/s): 160 for 20 ms."""
    return ptime_ms * BIT_RATE // 8000
