"""Music on hold: the audio a party we hold hears instead of silence (HT802 "Music on hold").

What this module owns
---------------------
The source of held-party audio for one line, as frames of 16-bit mono PCM at the line's rate
(8 or 16 kHz): either a WAV file's samples (8 or 16 kHz) played in a loop, or the hold comfort
tone (made at 8 kHz). A source at the line's rate plays as it is; an 8 kHz one on a 16 kHz
line goes through an `Interpolator`, a 16 kHz WAV on an 8 kHz line through a `Decimator`
(tipring/firmware/dsp/resample.py), one converter per HoldMusic, kept across frames so the
music stays one continuous signal and starting afresh at each `restart`. It knows no file, socket or
clock: the I/O layer (tipring/firmware/app.py) reads the WAV once, at start-up or config load, and
hands its PCM here; the media routing asks for a frame per 20 ms tick while a call is held
by us (RFC 3264 §8.4 `sendonly`).

The comfort tone ("tone")
-------------------------
No ITU-T recommendation defines a hold tone (E.180 lists none), so tipring plays a gentle
two-note chime that says "you are held, the line is alive": C5 (523 Hz) for 500 ms, E5
(659 Hz) for 500 ms, then 1 s of silence, repeating every 2 s, at -20 dBm0 (quieter than
dial tone's -13), each note with 4 ms raised-cosine edges (tipring/firmware/dsp/tones.py). The
levels stay inside G.711's range with room to spare, and the notes sit clear of DTMF and
of the call-progress tones, so no detector at the far end mistakes them.
"""

from tipring.firmware.dsp.tones import ToneGenerator

RATES = (8000, 16000)

HOLD_TONE = {"freqs": (523,), "level": -20, "cadence": [500, 0, 500, 1000],
             "alt": [((523,), 0), ((659,), 0)]}


class HoldMusic:
    """Represents one line's held-party audio. `pcm`: a WAV's samples (16-bit LE mono) to
    loop; None plays the comfort tone. `rate`: the WAV's sample rate, 8000 or 16000 (the tone
    is 8000). `next_frame(nbytes, line_rate)` returns the next `nbytes` at the line's rate.

        moh = HoldMusic(None)           # the tone
        frame = moh.next_frame(320)
        wide = HoldMusic(pcm16k, rate=16000).next_frame(640, line_rate=16000)
    """

    def __init__(self, pcm: bytes = None, rate: int = 8000):
        if pcm is not None and len(pcm) < 2:
            raise ValueError("hold music needs at least one sample")
        if rate not in RATES or (pcm is None and rate != 8000):
            raise ValueError("hold music at %r Hz (a WAV of 8000 or 16000 Hz; the tone is 8000)"
                             % (rate,))
        self.pcm = bytes(pcm[:len(pcm) - len(pcm) % 2]) if pcm is not None else None
        self.rate = rate
        self.kind = "tone" if pcm is None else "file"
        self._tone = ToneGenerator(HOLD_TONE) if pcm is None else None
        self._pending = b""
        self._pos = 0
        self._conv = None            # (line rate, converter) while the line's rate differs

    def next_frame(self, nbytes: int = 320, line_rate: int = 8000) -> bytes:
        """The next `nbytes` of the music at `line_rate` (8000 or 16000)."""
        if line_rate == self.rate:
            return self._source(nbytes)
        conv = self._conv
        if conv is None or conv[0] != line_rate:
            from tipring.firmware.dsp.resample import Decimator, Interpolator
            conv = self._conv = (line_rate, Interpolator() if line_rate > self.rate
                                 else Decimator())
        if line_rate > self.rate:
            return conv[1].process(self._source(nbytes // 2 & ~1))[:nbytes]
        return conv[1].process(self._source(2 * nbytes))[:nbytes]

    def _source(self, nbytes):
        """The next `nbytes` at the source's own rate."""
        if self._tone is not None:
            out = self._pending
            while len(out) < nbytes:
                out += self._tone.next_frame()
            self._pending = out[nbytes:]
            return out[:nbytes]
        out = b""
        pcm = self.pcm
        while len(out) < nbytes:           # loop the file: wrap at its end
            take = pcm[self._pos:self._pos + nbytes - len(out)]
            out += take
            self._pos += len(take)
            if self._pos >= len(pcm):
                self._pos = 0
        return out

    def restart(self) -> None:
        """From the start again (each new hold hears the file from its beginning)."""
        self._pos = 0
        self._pending = b""
        self._conv = None
        if self._tone is not None:
            self._tone = ToneGenerator(HOLD_TONE)
