"""A real FXS board: a SLIC on GPIO (AG1171 and kin) with ALSA audio, run on the event loop.

Owns the wiring of `tipring/board/*.toml` files of kind "slic" to the same per-line glue the simulated
board uses (`board.line_port.LinePort`): the hook switch's edges reach the line through the
loop's wake-up pipe, the ringer drives RM and F/R, and the ALSA capture PCM is the media clock:
each captured 20 ms frame goes to the line (DTMF detection, the call's RTP) and the line's
answer is written to playback at once, so audio never drifts against a timer. A line's capture
and playback stop (`AlsaLine.stop`, their descriptors leave the loop) once the line has been idle
(`LinePort.idle`) for `IDLE_FRAMES` frames, and start again at once on a hook edge, a call-layer
command, call media, a test ring or a config change (tipring/board/common.py): an idle ATA neither
wakes 50 times a second nor keeps the USB sound card streaming. Also the status LEDs (power,
registered, line in use, fault) and the reset button.

Nothing here decides anything: `LinePort`, `FxsLine` and the call layer do.
"""

import logging

from tipring.board import load_board
from tipring.board.common import LinePortsBoard
from tipring.hal.line import open_leds, open_reset_button, pin_factory_for

log = logging.getLogger("tipring.board")

MAX_FRAMES_PER_WAKE = 4


class SlicBoard(LinePortsBoard):
    """Represents the running hardware of a SLIC board for the firmware `app`."""

    def __init__(self, app, board=None, pin_factory=None):
        self.app = app
        self.loop = app.loop
        self.board = board or load_board(app.cfg.board["kind"])
        self.factory = pin_factory or pin_factory_for(self.board)
        self.hardware, self.ports, self._fds = {}, {}, {}
        self.leds = self.button = None
        self._line_led = None
        self._closed = False
        self._clock_init()
        try:
            for _line in self._open_lines(app, open_audio=True):
                pass
            self.leds = open_leds(self.board, pin_factory=self.factory)
            self.button = open_reset_button(self.board, post=lambda item: self.loop.call_soon_threadsafe(self._reset, item),
                                            pin_factory=self.factory)
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------------ events in
    def _reset(self, item):
        what = item[1] if isinstance(item, tuple) and len(item) > 1 else item
        log.warning("reset button: %s", what)
        if what == "factory":
            self.app.factory_reset()
        else:
            self.app.reboot()

    def _audio_ready(self, n, fd, revents):
        hw = self.hardware[n]
        mask = hw.audio.revents({fd: revents})
        if not mask & 1:  # POLLIN: a capture frame may be ready; playback is written per frame
            return
        for _ in range(MAX_FRAMES_PER_WAKE):  # a PCM that is always ready must not starve the loop
            frame = hw.audio.read_frame()
            if frame is None:
                break
            hw.audio.write_frame(self.ports[n].media_tick(frame, self.loop.now()))
            self._show_line(n)
            if not self._clock_frame_done(n):
                break                     # the line is idle: its capture has just stopped

    def _watch(self, n):
        import select
        for fd, _mask in self.hardware[n].audio.polldescriptors():
            self.loop.add_reader(fd, lambda fd, rev, n=n: self._audio_ready(n, fd, rev), select.POLLIN, media=True)
            self._fds[fd] = n

    def _unwatch(self, n):
        for fd in [fd for fd, m in self._fds.items() if m == n]:
            self.loop.remove_reader(fd)
            del self._fds[fd]

    # ------------------------------------------------------------------ the media clock's sleep
    def _clock_keys(self, port):
        with_audio = [n for n, hw in self.hardware.items() if hw.audio is not None]
        return with_audio if port is None else [n for n in with_audio if n == port]

    def _clock_idle(self, n) -> bool:
        return self.ports[n].idle

    def _clock_stop(self, n) -> None:
        self._unwatch(n)
        self.hardware[n].audio.stop()

    def _clock_start(self, n) -> None:
        audio = self.hardware[n].audio
        try:
            audio.start()
        except Exception as e:  # the device went away: no audio, but the line still rings
            log.warning("line %d audio: %s", n, e)
            self.app.emit("error", {"where": "audio", "message": "line %d: %s" % (n, e)})
            self._asleep.add(n)   # the next wake tries again
            return
        self._watch(n)

    def on_event(self, ev):
        """Event-log events drive the LEDs: registration and faults."""
        if self.leds is None:
            return
        name = ev.get("event")
        try:
            if name == "registered":
                self.leds.show("registered", "on")
            elif name in ("registration_failed", "unregistered"):
                self.leds.show("registered", "blink" if name == "registration_failed" else "off")
            elif name == "config_fallback":
                self.leds.show("fault", "fast")
        except Exception as e:  # an LED must never stop the phone
            log.warning("led: %s", e)

    def _show_line(self, n):
        if self.leds is None:
            return
        busy = any(p.fxs.state != "on_hook" for p in self.ports.values())
        want = "on" if busy else "off"
        if self._line_led != want:
            self._line_led = want
            try:
                self.leds.show("line_in_use", want)
            except Exception:
                pass

    # ------------------------------------------------------------------ the app's side
    def start(self) -> None:
        for n, hw in self.hardware.items():
            if hw.power is not None:
                hw.power.power_up()
            if hw.audio is not None:
                self._watch(n)            # AlsaLine.open() has read once: capture runs
        if self.leds is not None:
            self.leds.show("power", "on")
        self.app.events.subscribe(self.on_event)

    @property
    def address(self):
        return None

    def test_ring(self, line) -> str:
        p = self.ports.get(line)
        if p is None:
            return "line %s: no such line" % line
        self.wake(line)
        return p.test_ring(2 * sum(p.cadence) + 0.1)

    def audio_stats(self) -> dict:
        return {n: hw.audio.stats() for n, hw in self.hardware.items() if hw.audio is not None}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.app.events.unsubscribe(self.on_event)
        except Exception:
            pass
        for fd in list(self._fds):
            self.loop.remove_reader(fd)
        for p in self.ports.values():
            try:
                p.close()
            except Exception:
                pass
        for dev in [self.leds, self.button] + list(self.hardware.values()):
            if dev is not None:
                try:
                    dev.close()
                except Exception:
                    pass

    def __repr__(self):
        return "<SlicBoard %s lines=%s>" % (self.board.get("name"), sorted(self.ports))
