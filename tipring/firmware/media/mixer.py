"""Conference mixing for local 3-way calling: each party hears the sum of the others.

What this module owns
---------------------
The arithmetic of a local conference bridge at 8 kHz: frames of signed 16-bit little-endian
PCM (160 samples for 20 ms) from every party in, one frame per party out, each the saturating
sum of all the *other* parties' frames (a party never hears itself: no echo of one's own voice).
The call layer decides who is in the conference; the line and the RTP streams supply frames.

Rules
-----
1. Sums saturate at -32768..32767, as `audioop.add` does; no scaling (three parties at G.711
   levels rarely clip, and attenuating would make the conference quieter than a call).
2. A missing frame (None) is silence: a party on hold or whose jitter buffer is empty still
   hears the others.
3. All frames of one mix have the same length, else ValueError.
4. CPython uses `audioop.add` (stdlib up to 3.12, the `audioop-lts` package from 3.13; its
   DeprecationWarning is silenced); elsewhere (MicroPython) a pure-Python loop over `array`
   gives bit-identical results, on big-endian hosts too (compat.le16_samples/le16_bytes
   swap the little-endian frames to native order and back).

Theory of operation
-------------------
For parties a, b, c: a hears b + c, b hears a + c, c hears a + b. With N parties that is N-1
additions per party; for three it is three `add` calls per 20 ms, about a microsecond on CPython
with audioop and a few milliseconds in pure Python.
"""

from tipring.firmware.compat import audioop as _audioop
from tipring.firmware.compat import le16_bytes, le16_samples

HAVE_AUDIOOP = _audioop is not None


def add_pure(a: bytes, b: bytes) -> bytes:
    """Saturating sample-wise sum of two 16-bit LE PCM frames, in pure Python."""
    if len(a) != len(b):
        raise ValueError("frames differ in length (%d and %d bytes)" % (len(a), len(b)))
    # frames are little-endian on the wire; array("h") is native, so a big-endian host
    # must swap in and out or it sums byte-swapped garbage
    x = le16_samples(a)
    y = le16_samples(b)
    for i in range(len(x)):
        v = x[i] + y[i]
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        x[i] = v
    return le16_bytes(x)


if HAVE_AUDIOOP:
    def add(a: bytes, b: bytes) -> bytes:
        """Saturating sample-wise sum of two 16-bit LE PCM frames."""
        if len(a) != len(b):
            raise ValueError("frames differ in length (%d and %d bytes)" % (len(a), len(b)))
        return _audioop.add(a, b, 2)
else:
    add = add_pure


def mix(frames, add_fn=None) -> list:
    """For a list of frames (None = silence), the list each party hears: the saturating sum
    of every other party's frame, in the same order."""
    add_fn = add_fn or add
    n = None
    for f in frames:
        if f is not None:
            if n is None:
                n = len(f)
            elif len(f) != n:
                raise ValueError("frames differ in length (%d and %d bytes)" % (n, len(f)))
    if n is None:
        return [None] * len(frames)
    if n % 2:
        raise ValueError("a frame of %d bytes is not whole 16-bit samples" % n)
    silence = bytes(n)
    out = []
    for i in range(len(frames)):
        acc = None
        for j in range(len(frames)):
            if j != i and frames[j] is not None:
                acc = frames[j] if acc is None else add_fn(acc, frames[j])
        out.append(silence if acc is None else acc)
    return out


def mix3(a: bytes, b: bytes, c: bytes) -> tuple:
    """What parties a, b and c each hear: (b + c, a + c, a + b), saturating."""
    r = mix([a, b, c])
    return r[0], r[1], r[2]


class Conference:
    """Represents a local conference bridge over named parties (e.g. "line", "leg1", "leg2").

    Each 20 ms: `put(party, frame)` for every party that has a frame, then `mix()` returns
    {party: frame to send/play}. Frames not put this round count as silence.

        conf = Conference(["line", "a", "b"])
        conf.put("line", mic); conf.put("a", from_a); conf.put("b", from_b)
        out = conf.mix()        # out["a"] = line + b, ...
    """

    def __init__(self, parties=(), frame_samples: int = 160):
        self.frame_samples = frame_samples
        self.parties = list(parties)
        self._frames = {}

    def __repr__(self) -> str:
        return "<Conference %s>" % ", ".join(self.parties)

    def join(self, party) -> None:
        if party not in self.parties:
            self.parties.append(party)

    def leave(self, party) -> None:
        if party in self.parties:
            self.parties.remove(party)
        self._frames.pop(party, None)

    def put(self, party, frame: bytes) -> None:
        if party not in self.parties:
            raise ValueError("%r is not in the conference" % (party,))
        if len(frame) != 2 * self.frame_samples:
            raise ValueError("frame of %d bytes, expected %d" % (len(frame),
                                                                 2 * self.frame_samples))
        self._frames[party] = frame

    def mix(self) -> dict:
        frames = [self._frames.get(p) for p in self.parties]
        self._frames = {}
        out = mix(frames)
        silence = bytes(2 * self.frame_samples)
        return {p: (silence if f is None else f) for p, f in zip(self.parties, out)}
