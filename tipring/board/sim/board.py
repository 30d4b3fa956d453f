"""The simulated board: real HAL devices on mock pins, one virtual handset per line.

Owns the sim board's wiring and its media clock. For each configured line (`cfg.lines`, port N)
it builds what the AG1171 board would have, from `tipring/board/sim.toml`'s pins: `hal.line.LineHardware`
(the `HookSwitch` posting through `loop.call_soon_threadsafe`, the `Ringer` on RM and F/R) on a
gpiozero `MockFactory` whose pins are `SimPin`s, the per-line glue `board.line_port.LinePort`
(HookDecoder, DTMFDetector, FxsLine, tones, caller ID), and a `VirtualHandset` on the same pins.
A 20 ms loop timer stands in for the sound card's capture clock: each tick takes the handset's
mouthpiece frame into the line and hands the line's earpiece frame to the handset. The timer
sleeps while every line (`LinePort.idle`) and every handset (`VirtualHandset.idle`) is idle and
no control-protocol `wait` is pending (they are settled on the tick), after `IDLE_FRAMES` of
that; a hook edge, a call-layer command, a test ring or any control request wakes it
(tipring/board/common.py).

The wiring is `tipring/board/sim.toml`, or the board file `board.kind` names when its own `kind`
is "sim" (a test rig, a wideband sim line: `audio = { backend = "sim", rate = 16000 }`). Each
line runs at its `audio.rate`: the handset's frames and the line's are 20 ms at it.

The control protocol (INTERFACES.md, `tipring/board/sim/control.py`) listens on `cfg.board["control"]`.

    board = SimBoard(app)          # app: loop, cfg, emit (and the call layer, when there is one)
    board.start()                  # control port open, media clock running (until idle)
    board.address                  # "127.0.0.1:7001"
    board.close()
"""

from gpiozero.pins.mock import MockFactory

from tipring.board import load_board
from tipring.board.common import LinePortsBoard
from tipring.board.sim.control import ControlServer
from tipring.board.sim.handset import SimPin, VirtualHandset
from tipring.firmware.config import parse_hostport
from tipring.board.line_port import PULSE_MAPS

TICK = 0.020
MAX_BEHIND = 10           # ticks; further behind than this, the clock skips ahead
TEST_RING_CYCLES = 2      # `ring LINE`: two ring cycles of the country's cadence


def sim_board(kind: str) -> dict:
    """The board data of a sim board: the shipped one, or a board file of kind "sim"."""
    board = load_board(kind)
    if board["kind"] != "sim":
        raise ValueError("board %s: kind %r is not a simulated board" % (kind, board["kind"]))
    return board


class SimBoard(LinePortsBoard):
    """Represents the sim board of one running firmware.

    :param app: the `Firmware` (``loop``, ``cfg``, ``emit``; ``line_intent``, ``media_frame``,
        ``calls_mgr`` when the call layer is there).
    :param line_options: extra `FxsLine` / `LinePort` options for every line
        (``offhook_timeout``, ``reorder_timeout``, ``released_silence``, ``no_taker_s``);
        `configure()` changes them later.
    """

    def __init__(self, app, line_options=None):
        self.app = app
        self.loop = app.loop
        self.cfg = app.cfg
        self.board = sim_board(self.cfg.board.get("kind", "sim"))
        self.factory = MockFactory(pin_class=SimPin)
        self.ports = {}
        self.handsets = {}
        self.hardware = {}
        self.control = None
        self._tick = None
        self._next = None
        self._closed = False
        self._clock_init()
        b = self.cfg.board
        try:
            for n, pins, ln in self._open_lines(app, open_audio=False, **dict(line_options or {})):
                hw = self.hardware[n]
                self.handsets[n] = VirtualHandset(
                    self.loop, n, self.factory.pin(pins["shk"]["gpio"]), self.factory.pin(pins["rm"]["gpio"]),
                    shk_active_high=pins["shk"]["active"] == "high",
                    rm_active_high=pins["rm"]["active"] == "high",
                    country=b.get("country", "us"), cid_method=ln.get("caller_id") or "bell202",
                    ring_session=lambda r=hw.ringer: r.is_ringing,
                    pulse_map=PULSE_MAPS.get(b.get("pulse_variant", "standard"), "standard"),
                    fr=self.factory.pin(pins["fr"]["gpio"]) if pins.get("fr") else None,
                    fr_idle_high=(pins.get("fr") or {}).get("idle", "high") == "high",
                    rate=self.ports[n].rate)
        except Exception:
            self.close()
            raise

    # -- wiring ------------------------------------------------------------------------------

    def _tick_due(self):
        if self._closed:
            return
        now = self.loop.now()
        behind = int((now - self._next) / TICK)
        if behind > MAX_BEHIND:           # a stalled loop: skip, do not burst
            self._next += behind * TICK
        for n, port in self.ports.items():
            hs = self.handsets[n]
            hs.earpiece(port.media_tick(hs.mouthpiece(), self._next))
        self.control.tick()
        self._next += TICK
        self._tick = None
        if self._clock_frame_done(None):
            self._tick = self.loop.call_at(self._next, self._tick_due)

    # -- the media clock's sleep (tipring/board/common.py) -----------------------------------------------

    def _clock_idle(self, key) -> bool:
        if self.control is not None and self.control.waits:
            return False                  # a wait is settled on the tick
        if not all(p.idle for p in self.ports.values()):
            return False
        return all(getattr(hs, "idle", False) for hs in self.handsets.values())

    def _clock_stop(self, key) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def _clock_start(self, key) -> None:
        if self._closed or self.control is None:
            return
        if self._tick is not None:
            self._tick.cancel()
        self._next = self.loop.now() + TICK
        self._tick = self.loop.call_at(self._next, self._tick_due)

    # -- the app's side ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the control port and start the media clock."""
        host, port = parse_hostport(self.cfg.board.get("control", "127.0.0.1:7001"), allow_zero=True)
        self.control = ControlServer(self.loop, self, host, port)
        self._next = self.loop.now() + TICK
        self._tick = self.loop.call_at(self._next, self._tick_due)

    @property
    def address(self) -> str:
        return self.control.address if self.control is not None else None

    def configure(self, line=None, **options) -> None:
        """Change line options at run time (tests): FxsLine attributes such as
        ``offhook_timeout``, ``reorder_timeout``, ``released_silence``, ``dial_timeout``,
        or the port's ``no_taker_s``; `line` None means every line."""
        self.wake(line)
        for n, p in self.ports.items():
            if line is not None and n != line:
                continue
            for k, v in options.items():
                if k == "no_taker_s":
                    p.no_taker_s = v
                elif hasattr(p.fxs, k):
                    setattr(p.fxs, k, v)
                else:
                    raise KeyError("unknown line option %r" % k)

    def incoming(self, line: int, caller_id=None) -> None:
        """Offer a call to a line as the call layer would (tests, demos): it rings and sends
        `caller_id` ({"number", "name"}) between the first two rings."""
        self.line_command(line, "incoming", caller_id)

    def calls(self) -> list:
        return []

    def hangup(self, line) -> str:
        p = self.ports.get(line)
        if p is None:
            return "line %s: no such line" % line
        if p.fxs.state in ("dialing", "ringback", "early_media", "talking", "ringing"):
            self.wake(line)
            p.command("remote_hangup")
            return "line %s: call ended" % line
        return "line %s: no call" % line

    def test_ring(self, line) -> str:
        p = self.ports.get(line)
        if p is None:
            return "line %s: no such line; lines: %s" % (line, ", ".join(str(n) for n in sorted(self.ports)))
        self.wake(line)
        return p.test_ring(TEST_RING_CYCLES * sum(p.cadence) + 0.1)

    def close(self) -> None:
        """Stop the clock, close the control port, the handsets and the HAL; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._tick is not None:
            self._tick.cancel()
        if self.control is not None:
            self.control.close()
        for hs in self.handsets.values():
            hs.close()
        for p in self.ports.values():
            p.close()
        for hw in self.hardware.values():
            try:
                hw.close()
            except Exception:
                pass
        try:
            self.factory.reset()
        except Exception:
            pass

    def __repr__(self):
        return "<SimBoard %s lines=%s>" % (self.address, sorted(self.ports))
