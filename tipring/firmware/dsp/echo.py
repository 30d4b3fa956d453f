"""The line echo canceller (ITU-T G.168 shape) of one FXS port, on 20 ms frames.

A 2-wire line's hybrid returns part of what the earpiece plays into the mouthpiece signal, a few
ms later and 6 dB or more down (the ERL). `LineEchoCanceller.process(capture, reference)` takes
the mouthpiece frame (Sin, G.168's "send in") and the earpiece frame played one frame before it
(Rin, the reference) and returns the frame to send to the network (Sout), echo removed.

Rules:
1. Sans-IO: frames in, a frame out; no clock, no thread, no device. A call starts with `reset()`.
2. The reference is what the line played, whatever it was (far-end speech, tones, caller ID):
   every sound the hybrid reflects is echo.
3. `enabled` False (config off, or a 2100 Hz answer tone with phase reversals: G.164 §5 /
   G.165 §3.4 say the canceller must then step out for the rest of the call) passes the capture
   through untouched. `disable()` is for the rest of the call; `reset()` starts the next one.

Theory of operation (G.168 §3 names the parts):

* Linear echo estimator: Xiph speexdsp's MDF canceller (`speex_echo_cancellation`), a
  frequency-domain block NLMS ("multidelay block frequency domain" adaptive filter) with its own
  step-size control, which keeps it from diverging in double talk. One C call per 20 ms frame,
  ~26 µs at 16 ms tail on the project machine (tools/bench/dsp.py). The tail (8-64 ms) sets the
  filter length; speexdsp rounds it up to whole frames.
* Double-talk detector: Geigel (G.168 Appendix; the classic DTD) on the canceller's output:
  near-end speech is declared when the residual's peak exceeds half (6 dB, the worst-case ERL)
  the reference's peak over the tail plus one frame; it holds for `HANGOVER` frames after the
  last such frame. Before the filter converges the residual is the echo itself (the textbook
  Geigel on Sin); once it has, residual echo 20+ dB down no longer looks like a near talker.
* Non-linear processor with comfort noise (G.168 §3.12, §3.13): while the far end talks and no
  double talk is declared, the residual echo is replaced by comfort noise at the level of the
  near end's background noise (tracked while the far end is silent), so the far talker hears
  neither echo nor a dead line. In double talk the residual passes as it is.

Why not the brief's first choice: spandsp 0.0.6's `echo_can_update` (Debian libspandsp2) prints
two debug lines to stdout for every sample ("echo is %d", "Narrowband score ...") and costs
~650 µs a frame through ctypes; its `modem_echo_can` is a bare LMS without double-talk control
(~100 µs a frame, one ctypes call per sample). A per-sample NLMS in pure Python is 2-10 ms a
frame even with audioop. speexdsp (Debian libspeexdsp1, also baresip's dependency) is
well kept, takes whole frames, and is what baresip's own `speex_aec` module uses. It converges
more slowly than a textbook time-domain NLMS (≈20 dB ERLE after 1 s on speech, 30+ dB after
2-3 s; the NLP makes up the difference: tests/dsp/test_echo.py, tools/bench/dsp.py).

Wideband: a 16 kHz line (board `audio.rate = 16000`, G.722 end to end) runs the same canceller
at 16 kHz: `LineEchoCanceller(tail_ms, rate=16000)` takes 320-sample (640-byte) frames, the
tail in samples at that rate (16 ms = 256 samples), and tells speexdsp the rate
(SPEEX_ECHO_SET_SAMPLING_RATE, which its preprocessor-free MDF uses for its own frequency
weighting). The double-talk detector and NLP are rate-free (peaks, RMS, whole frames); the
comfort noise is white at the line rate. At 8000 nothing differs from before.

Without libspeexdsp (or without ctypes: MicroPython) `EchoUnavailable` is raised by the
constructor and the line runs without a canceller; tipring/board/line_echo.py says so once.
"""

import array
import math
import random

ctypes = None   # imported with the library at the first canceller: an idle ATA carries neither

from tipring.firmware.dsp.pcm import AUDIOOP, amplitude

TAIL_MS = 16                 # default tail: a 2-wire line's echo path is a few ms
TAIL_RANGE = (8, 64)         # G.168 tail capacities an ATA offers
RATES = (8000, 16000)        # a narrowband or a wideband line
GEIGEL = 0.5                 # near peak over far peak that means near-end speech (6 dB ERL)
HANGOVER = 3                 # frames double talk holds after its last sign (60 ms)
FAR_ACTIVE_DBM0 = -40.0      # a reference peak under this is a silent far end: no NLP
NLP_MIN_CANCEL = 0.5         # the NLP acts only where the filter took >= 6 dB off this frame
NEAR_QUIET_DBM0 = -45.0      # ... or where the mouthpiece brought next to nothing
NOISE_MAX_DBM0 = -45.0       # comfort noise never louder than this
NOISE_START_DBM0 = -65.0
_SPEEX_SET_SAMPLING_RATE = 24

_lib = None


class EchoUnavailable(Exception):
    """The canceller cannot run here (no libspeexdsp, no ctypes); the message says why."""


def _speexdsp():
    """libspeexdsp through ctypes, set up once (opaque states: restype c_void_p)."""
    global _lib, ctypes
    if _lib is not None:
        if _lib is False:
            raise EchoUnavailable("libspeexdsp not found (Debian: apt-get install libspeexdsp1)")
        return _lib
    try:
        import ctypes as _ctypes
    except ImportError:       # MicroPython: no canceller, the line runs without one
        _lib = False
        raise EchoUnavailable("no ctypes in this Python")
    ctypes = _ctypes
    try:
        # the soname first: ctypes.util.find_library runs ldconfig in a subprocess, which the
        # loop thread must not wait for
        lib = ctypes.CDLL("libspeexdsp.so.1")
    except OSError:
        import ctypes.util
        name = ctypes.util.find_library("speexdsp")
        try:
            lib = ctypes.CDLL(name) if name else None
        except OSError:
            lib = None
        if lib is None:
            _lib = False
            raise EchoUnavailable("libspeexdsp not found (Debian: apt-get install libspeexdsp1)")
    vp = ctypes.c_void_p
    lib.speex_echo_state_init.restype = vp
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_cancellation.restype = None
    lib.speex_echo_cancellation.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.speex_echo_state_reset.restype = None
    lib.speex_echo_state_reset.argtypes = [vp]
    lib.speex_echo_state_destroy.restype = None
    lib.speex_echo_state_destroy.argtypes = [vp]
    lib.speex_echo_ctl.restype = ctypes.c_int
    lib.speex_echo_ctl.argtypes = [vp, ctypes.c_int, vp]
    _lib = lib
    return lib


def available() -> str:
    """None when the canceller can run here, else why not (one line)."""
    try:
        _speexdsp()
    except EchoUnavailable as e:
        return str(e)
    return None


def _peak(frame: bytes) -> int:
    if AUDIOOP is not None:
        return AUDIOOP.max(frame, 2)
    a = array.array("h", frame)
    return max(max(a), -min(a)) if a else 0


def _rms(frame: bytes) -> float:
    if AUDIOOP is not None:
        return float(AUDIOOP.rms(frame, 2))
    a = array.array("h", frame)
    return math.sqrt(sum(v * v for v in a) / len(a)) if a else 0.0


class ComfortNoise:
    """Represents a white-noise source for the NLP: one second of Gaussian noise made once
    (rms `UNIT`), read a frame at a time and scaled to the level asked for."""

    UNIT = 1000.0

    def __init__(self, seed: int = 7, rate: int = 8000):
        rnd = random.Random(seed)
        self._pcm = array.array("h", [int(max(-32768, min(32767, rnd.gauss(0.0, self.UNIT))))
                                      for _ in range(rate)]).tobytes()
        self._pos = 0
        self._frame_bytes = rate // 50 * 2

    def frame(self, rms: float) -> bytes:
        """The next frame (20 ms at the rate) of noise at `rms` (16-bit linear)."""
        n = len(self._pcm)
        fb = self._frame_bytes
        if self._pos + fb > n:
            self._pos = 0
        f = self._pcm[self._pos:self._pos + fb]
        self._pos += fb
        k = rms / self.UNIT
        if AUDIOOP is not None:
            return AUDIOOP.mul(f, 2, k)
        return array.array("h", [int(v * k) for v in array.array("h", f)]).tobytes()


class LineEchoCanceller:
    """Represents the echo canceller of one line.

    :param tail_ms: the echo path length it covers, 8-64 ms (default 16).
    :param nlp: run the non-linear processor and comfort noise (default True); False leaves
        the linear canceller's output as it is (ERLE measurements, G.168 test 2A).
    :param rate: the line's rate, 8000 (default) or 16000; frames are 20 ms at it
        (``frame_bytes``: 320 or 640).
    Raises `EchoUnavailable` when libspeexdsp cannot be loaded.
    """

    def __init__(self, tail_ms: int = TAIL_MS, nlp: bool = True, rate: int = 8000):
        lo, hi = TAIL_RANGE
        if not lo <= int(tail_ms) <= hi:
            raise ValueError("echo tail %r ms: allowed %d..%d" % (tail_ms, lo, hi))
        if rate not in RATES:
            raise ValueError("echo rate %r: allowed %s" % (rate, " or ".join(map(str, RATES))))
        self._lib = _speexdsp()
        self.tail_ms = int(tail_ms)
        self.nlp = nlp
        self.rate = rate
        frame = rate // 50                      # samples per 20 ms: FRAME at 8 kHz
        self.frame_bytes = 2 * frame
        per_ms = rate // 1000
        self._state = self._lib.speex_echo_state_init(frame, self.tail_ms * per_ms)
        if not self._state:
            raise EchoUnavailable("speex_echo_state_init failed")
        c_rate = ctypes.c_int(rate)
        self._lib.speex_echo_ctl(self._state, _SPEEX_SET_SAMPLING_RATE, ctypes.byref(c_rate))
        self._out = ctypes.create_string_buffer(self.frame_bytes)
        self._far_peaks = [0] * (self.tail_ms * per_ms // frame + 2)
        self._cng = ComfortNoise(rate=rate)
        self.enabled = True
        self.reset()

    def reset(self) -> None:
        """A new call: forget the echo path, enable again."""
        if self._state:
            self._lib.speex_echo_state_reset(self._state)
        self.enabled = True
        self.disabled_by = None
        self._far_peaks = [0] * len(self._far_peaks)
        self._hold = 0
        self.double_talk = False
        self.noise_rms = amplitude(NOISE_START_DBM0) / math.sqrt(2)
        self.frames = 0
        self.nlp_frames = 0
        self.double_talk_frames = 0

    def disable(self, why: str) -> None:
        """Step out for the rest of the call (`why`: "config", "ansam", ...)."""
        if self.enabled:
            self.enabled = False
            self.disabled_by = why

    def process(self, capture: bytes, reference: bytes) -> bytes:
        """One frame: `capture` (Sin, with echo) and `reference` (Rin, the frame the earpiece
        played before it) in, the frame for the network (Sout) out."""
        if not self.enabled or not self._state:
            return capture
        if len(capture) != self.frame_bytes or len(reference) != self.frame_bytes:
            return capture
        self.frames += 1
        self._lib.speex_echo_cancellation(self._state, capture, reference, self._out)
        out = self._out.raw
        # Geigel double-talk detection over the tail (G.168 Appendix)
        self._far_peaks.pop(0)
        self._far_peaks.append(_peak(reference))
        far = max(self._far_peaks)
        near = _peak(out)
        far_active = far >= amplitude(FAR_ACTIVE_DBM0)
        if far_active and near > GEIGEL * far:
            self._hold = HANGOVER
        elif self._hold:
            self._hold -= 1
        self.double_talk = self._hold > 0
        if self.double_talk:
            self.double_talk_frames += 1
        if not far_active:
            # the far end is silent: what the mouthpiece hears is the near end's background
            r = _rms(capture)
            if r < self.noise_rms:
                self.noise_rms = r
            else:
                self.noise_rms += (r - self.noise_rms) * 0.02
            return out
        # The NLP replaces residual echo, so only where the frame is echo: the filter took a
        # good part of it off (it is correlated with the far end), or there was next to
        # nothing. A near-end talker the level detector missed (quieter than the far end, no
        # echo path at all) comes out of the filter unchanged, and must not be clipped.
        cap = _rms(capture)
        is_echo = cap < amplitude(NEAR_QUIET_DBM0) or _rms(out) <= NLP_MIN_CANCEL * cap
        if self.nlp and not self.double_talk and is_echo:
            self.nlp_frames += 1
            level = min(self.noise_rms, amplitude(NOISE_MAX_DBM0) / math.sqrt(2))
            return self._cng.frame(level)
        return out

    def close(self) -> None:
        """Free the C state; idempotent."""
        if self._state:
            self._lib.speex_echo_state_destroy(self._state)
            self._state = None

    def __repr__(self):
        return "<LineEchoCanceller tail=%dms %d Hz %s>" % (
            self.tail_ms, self.rate, "on" if self.enabled else "off (%s)" % self.disabled_by)

