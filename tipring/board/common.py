"""What every board gives the firmware about its lines, whatever drives them (sim or SLIC).

A board keeps one `board.line_port.LinePort` per FXS port in `self.ports`; these methods
are the app's view of them (status for the console, busy for call admission, call-layer
commands in).

The media clock sleeps while nothing needs audio ("idle CPU ~0"). A board's media clock (the
sim board's 20 ms timer, a SLIC line's ALSA capture) runs `media_tick` once per frame; after
each frame the board calls `_clock_frame_done(key)`. Once every line that clock serves has been
idle (`LinePort.idle`, plus the board's own conditions) for `IDLE_FRAMES` frames in a row, the
clock stops (`_clock_stop(key)`). Anything that can need audio calls `wake(port)` and the
clock starts again at once (`_clock_start(key)`): a hook edge (`_posted`), a call-layer command
(`line_command`), call media (`media_changed`), a test ring, a config change, and on the sim
board every control-protocol request. The frames of hysteresis let what was playing end on
its own (a tone's ramp-down, the handset's ear and display settling) and keep a clock that a
burst of commands wakes from flapping.

A board says which clocks it has and how they stop and start:
    _clock_keys(port)   the keys of the clocks that serve `port` (None: every clock)
    _clock_idle(key)    True when nothing served by that clock needs a frame now
    _clock_stop(key) / _clock_start(key)
"""

import logging

from tipring.board.interface import Board

log = logging.getLogger("tipring.board")

IDLE_FRAMES = 50          # 1 s of 20 ms frames with every line idle before a media clock stops


class LinePortsBoard(Board):
    """Extends `Board` (tipring/board/interface.py) over `self.ports` (port number -> LinePort)."""

    ports: dict

    def _open_lines(self, app, open_audio: bool, **port_options):
        """Build `self.hardware[n]` (HAL on this board's pins) and `self.ports[n]` (LinePort)
        for every configured line, in config order; yields (n, its pins, its [[line]]) after each, for
        the board's own additions. A line the board does not wire is an error naming the
        ports it does."""
        from tipring.board.line_port import LinePort
        from tipring.hal.line import LineHardware
        wiring = {l["port"]: l for l in self.board.get("line", [])}
        for ln in app.cfg.lines:
            n = ln["port"]
            pins = wiring.get(n)
            if pins is None:
                raise ValueError("line %d: board %s wires ports %s only"
                                 % (n, self.board.get("name"), ", ".join(str(p) for p in sorted(wiring))))
            hw = LineHardware(pins, post=lambda item, n=n: self.loop.call_soon_threadsafe(self._posted, n, item),
                              clock=self.loop.now, open_audio=open_audio, pin_factory=self.factory)
            self.hardware[n] = hw
            self.ports[n] = LinePort(self.loop, app, ln, app.cfg.board, ringer=hw.ringer,
                                     rate=self._wired_rate(pins), **port_options)
            yield n, pins, ln

    @staticmethod
    def _wired_rate(pins: dict) -> int:
        return (pins.get("audio") or {}).get("rate") or 8000

    def line_rate(self, port: int) -> int:
        """The line's audio rate from the board data (`audio.rate`, 8000 or 16000): every
        frame its `LinePort.media_tick` takes and gives, and `app.media_frame` sees, is 20 ms
        at it. 8000 for a port the board does not wire."""
        p = self.ports.get(port)
        return p.rate if p is not None else 8000

    def line_status(self, port: int) -> dict:
        p = self.ports.get(port)
        if p is None:
            return {"hook": None, "state": None}
        return {"hook": "off" if p.decoder.is_off_hook else "on", "state": p.fxs.state}

    def line_busy(self, port: int) -> bool:
        p = self.ports.get(port)
        return p is None or p.busy

    def line_command(self, port: int, verb: str, *args) -> None:
        """A call-layer command for a line (the app's `("line", port, verb, *args)`)."""
        p = self.ports.get(port)
        if p is not None:
            self.wake(port)
            p.command(verb, args)

    def media_changed(self, port: int) -> None:
        self.wake(port)

    def call_waiting_now(self, port: int):
        p = self.ports.get(port)
        return None if p is None else p.fxs.features.call_waiting_now()

    def feature_value(self, port: int, key: str):
        p = self.ports.get(port)
        return None if p is None else p.fxs.features.to_config().get(key)

    def reconfigure_line(self, port: int, line_cfg: dict) -> None:
        p = self.ports.get(port)
        if p is not None:
            p.reconfigure(line_cfg)

    def _posted(self, port, item):
        """What a line's `HookSwitch` posted through the loop: an edge wakes the media clock."""
        p = self.ports.get(port)
        if p is not None:
            self.wake(port)
            p.hook_posted(item)

    # -- the media clock's sleep -----------------------------------------------------------------

    _closed = False

    def _clock_init(self) -> None:
        self._quiet = {}          # clock key -> idle frames in a row
        self._asleep = set()      # keys of stopped clocks

    def wake(self, port=None) -> None:
        """Something may need audio on `port` (None: any line): restart its media clock now if
        it sleeps, and give it a full `IDLE_FRAMES` before it may sleep again."""
        if self._closed:
            return
        for key in self._clock_keys(port):
            self._quiet[key] = 0
            if key in self._asleep:
                self._asleep.discard(key)
                log.debug("media clock %s: running", key)
                self._clock_start(key)

    def _clock_frame_done(self, key) -> bool:
        """After one frame of clock `key`: count idle frames, stop the clock after
        `IDLE_FRAMES`. Returns False when the clock has just been stopped."""
        try:
            idle = self._clock_idle(key)
        except Exception:         # in doubt, not idle
            idle = False
        if not idle:
            self._quiet[key] = 0
            return True
        n = self._quiet.get(key, 0) + 1
        self._quiet[key] = n
        if n < IDLE_FRAMES:
            return True
        self._quiet[key] = 0
        self._asleep.add(key)
        log.debug("media clock %s: idle, stopped", key)
        self._clock_stop(key)
        return False

    def clock_running(self, key=None) -> bool:
        """Whether media clock `key` runs (tests, status)."""
        return key not in self._asleep

    def _clock_keys(self, port) -> list:
        return [None]

    def _clock_idle(self, key) -> bool:
        return False

    def _clock_stop(self, key) -> None:
        pass

    def _clock_start(self, key) -> None:
        pass
