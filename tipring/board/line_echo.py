"""One FXS port's echo canceller and fax/modem tone watch: the glue around tipring/firmware/dsp/echo.py
and tipring/firmware/dsp/modem_tones.py, run from `LinePort.media_tick` (tipring/board/line_port.py).

Owns, for one line and only while the handset hears a call's media (`app.media_call(port)`
names the call):
- the line echo canceller (`LineEchoCanceller`, G.168): the mouthpiece frame handed to the
  media stream goes through it, with the earpiece frame played one tick before as reference
  (`near_end`, then `far_end` with what the earpiece gets);
- two `ModemToneDetector`s: one on the raw mouthpiece audio (a fax machine or modem on this
  line: direction "from_line"), one on the earpiece audio (one at the far end: "to_line").

On a 16 kHz line (`LinePort.rate`) the canceller runs at the line rate on the call audio
(640-byte frames, tipring/firmware/dsp/echo.py); the tone detectors are 8 kHz DSP (V.25 / T.30
tones are narrowband): the mouthpiece side is handed the port's decimated capture, the earpiece
side goes through its own `Decimator`, run only while a call's media plays.

Rules:
1. A new call (a new call's media on the port) starts a fresh canceller, enabled as
   `line.N.echo_canceller` says, and fresh detectors.
2. A detected tone (CED/ANS, ANSam, CNG; each once a call and direction) turns the canceller
   off for the rest of the call (G.164/G.165: 2100 Hz with phase reversals must; fax
   pass-through as SPA/HT ATAs do it disables it on CED and CNG too), emits a `fax` event
   (`line`, `call_id`, `tone`, `direction`, `phase_reversals`, `echo_canceller`: "disabled"
   now, "off" by config or "unavailable") and calls the app's
   `fax_detected(port, call_id, tone, direction)` when the app has one: the place for the rest
   of fax pass-through (re-INVITE to PCMU/PCMA, fixed jitter buffer, VAD off).
3. `fax_mode(reason)` is the same switch for the call layer (a far end that re-INVITEs for fax).
4. No libspeexdsp: the line runs without a canceller and says so once (an `error` event);
   the tone watch still runs. Nothing here may stop the line's audio: a failure is one
   `error` event and the canceller off for the call.
"""

from tipring.firmware.dsp import echo as echomod
from tipring.firmware.dsp.modem_tones import ModemToneDetector
from tipring.firmware.dsp.resample import Decimator


class LineEcho:
    """Represents the echo canceller and fax/modem tone watch of one line port.

    :param port: the `LinePort` (``port``, ``app``, ``emit``).
    :param line_cfg: the [[line]] dict (``echo_canceller``, ``echo_tail_ms``).
    """

    def __init__(self, port, line_cfg: dict):
        self.line = port
        self.rate = getattr(port, "rate", 8000)
        self.frame_bytes = self.rate // 50 * 2
        self._silent = bytes(self.frame_bytes)
        self._far_down = Decimator() if self.rate != 8000 else None
        self.ec = None
        self._unavailable = None
        self.configured_on = True
        self.tail_ms = echomod.TAIL_MS
        self.call_id = None           # the call whose media we are on, or None
        self.fax = None               # the first tone detected in this call (a dict)
        self._ref = self._silent
        self.near_tones = ModemToneDetector()
        self.far_tones = ModemToneDetector()
        self.reconfigure(line_cfg)

    def reconfigure(self, line_cfg: dict) -> None:
        """`echo_canceller` / `echo_tail_ms` changed: applies from the next call."""
        self.configured_on = line_cfg.get("echo_canceller", True) is not False
        self.tail_ms = int(line_cfg.get("echo_tail_ms") or echomod.TAIL_MS)

    def _new_call(self, call_id) -> None:
        self.call_id = call_id
        self.fax = None
        self.near_tones.reset()
        self.far_tones.reset()
        self._ref = self._silent
        if self._far_down is not None:
            self._far_down.reset()
        if not self.configured_on:
            self._drop_ec()
            return
        if self.ec is not None and self.ec.tail_ms != self.tail_ms:
            self._drop_ec()
        if self.ec is None and self._unavailable is None:
            try:
                self.ec = echomod.LineEchoCanceller(self.tail_ms, rate=self.rate)
            except echomod.EchoUnavailable as e:
                self._unavailable = str(e)
                self.line.emit("error", {"where": "echo", "message": "line %d: no echo canceller: %s"
                                         % (self.line.port, e)})
                return
        if self.ec is not None:
            self.ec.reset()

    def _drop_ec(self) -> None:
        if self.ec is not None:
            self.ec.close()
            self.ec = None

    def _current_call(self):
        media_call = getattr(self.line.app, "media_call", None)
        return media_call(self.line.port) if media_call is not None else None

    @property
    def enabled(self) -> bool:
        """True while the canceller works on this call's audio."""
        return self.ec is not None and self.ec.enabled and self.call_id is not None

    def near_end(self, capture: bytes, now: float, narrow: bytes = None) -> bytes:
        """The mouthpiece frame on its way to the media stream: tones watched, echo removed.
        `narrow`: the same frame at 8 kHz on a 16 kHz line (the port decimates it once for
        its DTMF detector too); at 8 kHz the frame itself."""
        call_id = self._current_call()
        if call_id is None:
            self.call_id = None
            return capture
        if call_id != self.call_id:
            self._new_call(call_id)
        for found in self.near_tones.feed(capture if narrow is None else narrow):
            self._tone(found, "from_line")
        if self.ec is None or not self.ec.enabled:
            return capture
        try:
            return self.ec.process(capture, self._ref)
        except Exception as e:   # never the line's audio: the call goes on without a canceller
            self.ec.disable("error")
            self.line.emit("error", {"where": "echo", "message": "line %d: echo canceller: %s"
                                     % (self.line.port, e)})
            return capture

    def far_end(self, heard: bytes, now: float) -> None:
        """The frame the earpiece gets: the next reference, and the far end's tones."""
        if self.call_id is None:
            return
        self._ref = heard if len(heard) == self.frame_bytes else self._silent
        narrow = self._ref if self._far_down is None else self._far_down.process(self._ref)
        for found in self.far_tones.feed(narrow):
            self._tone(found, "to_line")

    def _tone(self, found: dict, direction: str) -> None:
        tone = found["tone"]
        if self.fax is None:
            self.fax = dict(found, direction=direction)
        was_on = self.ec is not None and self.ec.enabled
        self.fax_mode(tone)
        self.line.emit("fax", {"line": self.line.port, "call_id": self.call_id, "tone": tone,
                               "direction": direction,
                               "phase_reversals": found["phase_reversals"],
                               "echo_canceller": "disabled" if was_on else
                               ("unavailable" if self._unavailable else "off")})
        hook = getattr(self.line.app, "fax_detected", None)
        if hook is not None:
            try:
                hook(self.line.port, self.call_id, tone, direction)
            except Exception as e:
                self.line.emit("error", {"where": "fax", "message": "line %d: fax pass-through: %s"
                                         % (self.line.port, e)})

    def fax_mode(self, reason: str = "fax") -> None:
        """Turn the canceller off for the rest of this call (a fax or modem call)."""
        if self.ec is not None:
            self.ec.disable(reason)

    def status(self) -> dict:
        """What the canceller does now, for status displays and tests."""
        st = {"configured": self.configured_on, "tail_ms": self.tail_ms, "active": self.enabled}
        if self._unavailable:
            st["unavailable"] = self._unavailable
        if self.ec is not None and not self.ec.enabled:
            st["disabled_by"] = self.ec.disabled_by
        if self.fax is not None:
            st["fax"] = dict(self.fax)
        return st

    def close(self) -> None:
        self._drop_ec()
