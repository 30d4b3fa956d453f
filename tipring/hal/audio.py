"""The line's audio path through ALSA (pyalsaaudio): 8 or 16 kHz mono S16_LE, 20 ms frames.

Owns the two PCMs (capture = the handset's mouthpiece through the SLIC's VOUT, playback = its
earpiece through VIN), their non-blocking I/O and their recovery. Nothing here ever raises
out of `read_frame` / `write_frame`: xruns and driver errors are counted and recovered, so a
glitch on the USB sound card costs audio, never the firmware.

Format: the line's rate (the board's `audio.rate`): G.711's native 8000 Hz by default, or
16000 Hz on a wideband line (G.722 end to end); 1 channel, signed 16-bit little-endian, one
period = 20 ms (160 frames = 320 bytes at 8 kHz, 320 frames = 640 bytes at 16 kHz), the RTP
packet time (RFC 3551 §4.5.14). A USB codec that only runs at 48 kHz is reached through a
`plug` PCM (the board's device name, e.g. "plughw:CARD=Device").

Capture is the media clock (DESIGN.md, property 2): the loop polls `polldescriptors()`, and
each 20 ms frame `read_frame()` returns is one 20 ms tick that drives one RTP send and one
playback `write_frame()`. No timer paces audio, so nothing drifts against the card.

pyalsaaudio 0.11 semantics relied on (platform.md §2c): `read()` gives `(frames, bytes)`,
`(0, b"")` on EAGAIN and `(-32, b"")` on overrun (already re-prepared by the binding);
`write()` gives frames written (possibly fewer than offered), 0 on EAGAIN, -32 on underrun.
Capture starts on the first `read()` (there is no `start()`), so `open()` reads once.
`drop()` stops a PCM (state SETUP); the binding re-prepares it on the next `read()`/`write()`
(checked against the file/null test PCMs), which is how `stop()` / `start()` idle a line.
"""

import select

RATE = 8000                              # the default line rate
RATES = (8000, 16000)
CHANNELS = 1
PERIOD_FRAMES = 160                      # at RATE; a line's own is `rate // 50`
FRAME_BYTES = PERIOD_FRAMES * 2          # one 20 ms period of S16_LE mono at RATE
EPIPE = 32                               # xrun: overrun on capture, underrun on playback
PENDING_PERIODS = 4                      # playback backlog kept before dropping old audio (80 ms)
MAX_PENDING = PENDING_PERIODS * FRAME_BYTES


class AlsaLine:
    """Represents one line's ALSA audio: a capture and a playback PCM, non-blocking.

    Give it the ALSA device name from the board file; the loop polls the descriptors and
    moves frames::

        audio = AlsaLine("plughw:CARD=Device,DEV=0")
        for fd, mask in audio.polldescriptors(): poller.register(fd, mask)
        ...
        frame = audio.read_frame()          # 320 bytes or None
        if frame is not None: audio.write_frame(next_playback_frame)

    :type device: str
    :param device: ALSA PCM name (``"default"``, ``"plughw:1,0"``, a test PCM...).
    :type periods: int
    :param periods: ALSA buffer length in periods (default 4 = 80 ms).
    :type rate: int
    :param rate: samples per second, 8000 (default) or 16000 (the board's `audio.rate`); a
        period and a frame are 20 ms at it (``period_frames``, ``frame_bytes``).
    :type capture: bool
    :param capture: open the capture side (default True).
    :type playback: bool
    :param playback: open the playback side (default True).
    :type pcm_class: callable or None
    :param pcm_class: the PCM constructor (default ``alsaaudio.PCM``); tests pass fakes to
        reach the xrun and error paths that a `null`/`file` PCM never produces.

    Counters (ints, for `show status` and the `media` log): ``frames_in``, ``frames_out``,
    ``overruns``, ``underruns``, ``dropped`` (playback bytes discarded because the backlog
    passed 80 ms), ``errors`` (other ALSA errors, each followed by a recovery attempt).
    """

    def __init__(self, device: str = "default", *, periods: int = 4, capture: bool = True,
                 playback: bool = True, pcm_class=None, rate: int = RATE):
        if rate not in RATES:
            raise ValueError("audio rate %r: allowed %s" % (rate, " or ".join(map(str, RATES))))
        self.rate = rate
        self.period_frames = rate // 50
        self.frame_bytes = 2 * self.period_frames
        self.max_pending = PENDING_PERIODS * self.frame_bytes
        if pcm_class is None:
            import alsaaudio
            pcm_class = alsaaudio.PCM
            self._alsa = alsaaudio
        else:
            self._alsa = None
        self.device = device
        self.periods = periods
        self._pcm_class = pcm_class
        self._want_capture = capture
        self._want_playback = playback
        self.capture = None
        self.playback = None
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self.frames_in = self.frames_out = 0
        self.overruns = self.underruns = self.dropped = self.errors = 0
        self.last_error = None
        try:
            self.open()
        except:
            self.close()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def _make(self, kind):
        a = self._alsa
        kw = dict(rate=self.rate, channels=CHANNELS, periodsize=self.period_frames, periods=self.periods,
                  device=self.device)
        if a is not None:
            kw.update(type=a.PCM_CAPTURE if kind == "capture" else a.PCM_PLAYBACK,
                      mode=a.PCM_NONBLOCK, format=a.PCM_FORMAT_S16_LE)
        else:
            kw.update(type=kind, mode="nonblock", format="S16_LE")
        return self._pcm_class(**kw)

    def open(self) -> None:
        """Open (or reopen) the PCMs and start capture; raises if the device is missing."""
        self._close_pcms()
        if self._want_playback:
            self.playback = self._make("playback")
        if self._want_capture:
            self.capture = self._make("capture")
            self._inbuf = bytearray()
            self._read_some()                # starts capture; keep what it returns

    def _close_pcms(self):
        for name in ("capture", "playback"):
            pcm = getattr(self, name, None)
            setattr(self, name, None)
            if pcm is not None:
                try:
                    pcm.close()
                except Exception:
                    pass

    def close(self) -> None:
        """Close both PCMs; safe to call twice."""
        self._close_pcms()
        self._inbuf = bytearray()
        self._outbuf = bytearray()

    @property
    def closed(self) -> bool:
        return self.capture is None and self.playback is None

    def stop(self) -> None:
        """Stop both PCMs while the line is idle: capture clocks no frames and playback asks for
        none, so nothing wakes the loop and the sound card stops streaming. Queued audio is
        dropped. A PCM that cannot be stopped is closed instead; `start()` runs them again.
        The caller takes the descriptors out of its poll first."""
        for name in ("capture", "playback"):
            pcm = getattr(self, name)
            if pcm is None:
                continue
            try:
                pcm.drop()
            except Exception as e:
                self.errors += 1
                self.last_error = str(e)
                self._close_pcms()
                break
        self._inbuf = bytearray()
        self._outbuf = bytearray()

    def start(self) -> None:
        """Run the PCMs again after `stop()`: one read restarts capture (playback restarts on
        its first write). When that fails the PCMs are opened afresh; raises only if the device
        cannot be opened. Poll descriptors may change: ask `polldescriptors()` again."""
        if self.closed or (self._want_capture and self.capture is None) \
                or (self._want_playback and self.playback is None):
            self.open()
            return
        errors = self.errors
        self._read_some()
        if self.errors != errors:
            self.open()

    # -- polling ---------------------------------------------------------------------------

    def polldescriptors(self) -> list:
        """`[(fd, eventmask), ...]` of both PCMs, for the loop's `poll()`."""
        out = []
        for pcm in (self.capture, self.playback):
            if pcm is not None:
                out += list(pcm.polldescriptors())
        return out

    def revents(self, ready: dict) -> int:
        """Translate raw poll results `{fd: revents}` into POLLIN (a capture frame may be
        ready) | POLLOUT (playback has room), through alsa-lib's plugin-aware mapping."""
        mask = 0
        for pcm, bit in ((self.capture, select.POLLIN), (self.playback, select.POLLOUT)):
            if pcm is None:
                continue
            fds = pcm.polldescriptors()
            if not any(fd in ready for fd, _ in fds):
                continue
            try:
                r = pcm.polldescriptors_revents([(fd, ready.get(fd, 0)) for fd, _ in fds])
            except Exception as e:
                self._error(e)
                continue
            mask |= r & bit
            if r & (select.POLLERR | select.POLLNVAL):
                mask |= bit                     # let read/write meet and recover the error
        return mask

    # -- capture ---------------------------------------------------------------------------

    def _read_some(self):
        pcm = self.capture
        if pcm is None:
            return
        try:
            n, data = pcm.read()
        except Exception as e:
            self._error(e, pcm)
            return
        if n == -EPIPE:
            self.overruns += 1                  # binding re-prepared; next read restarts
        elif n > 0:
            self._inbuf += data

    def read_frame(self):
        """One 20 ms capture frame (`frame_bytes`: 320 at 8 kHz, 640 at 16 kHz), or None when
        none is ready (EAGAIN, overrun, error)."""
        fb = self.frame_bytes
        if len(self._inbuf) < fb:
            self._read_some()
            if len(self._inbuf) < fb:
                return None
        frame = bytes(self._inbuf[:fb])
        del self._inbuf[:fb]
        self.frames_in += 1
        return frame

    # -- playback --------------------------------------------------------------------------

    def write_frame(self, frame: bytes) -> int:
        """Queue one frame (any whole number of samples) and write what the device takes.

        Returns the bytes still waiting for room (0 when all reached ALSA). The rest goes out
        on the next `write_frame` / `flush`; past 80 ms of backlog the oldest audio is
        dropped (counted in `dropped`), since late audio is worse than lost audio.
        """
        if len(frame) % 2:
            frame = frame[:-1]
        self._outbuf += frame
        if len(self._outbuf) > self.max_pending:
            cut = len(self._outbuf) - self.max_pending
            cut -= cut % 2
            del self._outbuf[:cut]
            self.dropped += cut
        self.frames_out += 1
        return self.flush()

    def flush(self) -> int:
        """Write queued playback bytes as far as the device takes them; returns bytes left."""
        pcm = self.playback
        if pcm is None:
            self._outbuf = bytearray()
            return 0
        retries = 2
        while self._outbuf:
            try:
                n = pcm.write(bytes(self._outbuf))
            except Exception as e:
                self._error(e, pcm)
                break
            if n == -EPIPE:
                self.underruns += 1             # re-prepared by the binding: write again
                retries -= 1
                if retries < 0:
                    break
                continue
            if n <= 0:
                break                           # EAGAIN: wait for POLLOUT
            del self._outbuf[:n * 2]
        return len(self._outbuf)

    @property
    def pending(self) -> int:
        """Playback bytes queued here, not yet accepted by ALSA."""
        return len(self._outbuf)

    # -- errors ----------------------------------------------------------------------------

    def _error(self, exc, pcm=None):
        self.errors += 1
        self.last_error = str(exc)
        if pcm is not None:
            try:
                pcm.drop()                      # back to SETUP; the next I/O re-prepares
            except Exception:
                pass

    def stats(self) -> dict:
        """Counters as a dict (for the event log and `show status`)."""
        return {"frames_in": self.frames_in, "frames_out": self.frames_out,
                "overruns": self.overruns, "underruns": self.underruns,
                "dropped": self.dropped, "errors": self.errors}

    def __repr__(self):
        if self.closed:
            return "<hal.AlsaLine %r closed>" % (self.device,)
        return "<hal.AlsaLine %r %d Hz in=%d out=%d xruns=%d/%d errors=%d>" % (
            self.device, self.rate, self.frames_in, self.frames_out, self.overruns, self.underruns,
            self.errors)
