"""Music on hold: the audio a party we hold hears instead of silence (HT802 "Music on hold").

What this module owns
---------------------
The source of held-party audio for one line, as frames of 16-bit 8 kHz mono PCM: either a
WAV file's samples played in a loop, or the hold comfort tone. It knows no file, socket or
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

HOLD_TONE = {"freqs": (523,), "level": -20, "cadence": [500, 0, 500, 1000],
             "alt": [((523,), 0), ((659,), 0)]}


class HoldMusic:
    """Represents one line's held-party audio. `pcm`: a WAV's samples (16-bit LE, 8 kHz mono)
    to loop; None plays the comfort tone. `next_frame(nbytes)` returns the next `nbytes`.

        moh = HoldMusic(None)           # the tone
        frame = moh.next_frame(320)
    """

    def __init__(self, pcm: bytes = None):
        if pcm is not None and len(pcm) < 2:
            raise ValueError("hold music needs at least one sample")
        self.pcm = bytes(pcm[:len(pcm) - len(pcm) % 2]) if pcm is not None else None
        self.kind = "tone" if pcm is None else "file"
        self._tone = ToneGenerator(HOLD_TONE) if pcm is None else None
        self._pending = b""
        self._pos = 0

    def next_frame(self, nbytes: int = 320) -> bytes:
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
        if self._tone is not None:
            self._tone = ToneGenerator(HOLD_TONE)
