"""The one interface every board gives the firmware: what `tipring/firmware/app.py` may call on it.

A board is what drives the FXS lines (the simulated board, tipring/board/sim/board.py; a SLIC board,
tipring/board/slic.py). The app calls only the methods below, never probes for one: a board that has
nothing to do for a method keeps the default here. `board.common.LinePortsBoard` implements
them over one `board.line_port.LinePort` per port; `SimBoard` and `SlicBoard` build on it.

What the app calls, and when:

    start()                         once, after construction: devices and clocks run
    close()                         at exit; idempotent, never raises for a device
    address                         the control address ("127.0.0.1:7001") or None
    ports                           FXS port number -> its LinePort (status displays, tests)
    line_status(port) -> dict       {"hook": "off"/"on"/None, "state": the FxsLine state}
    line_busy(port) -> bool         the handset is off-hook or ringing: no new call rings it
    line_rate(port) -> int          the line's audio rate, 8000 or 16000 (board `audio.rate`):
                                    every frame to and from `media_frame` is 20 ms at it
    line_command(port, verb, *args) a call-layer command for the line (`("line", ...)` outputs)
    media_changed(port)             call media started or changed on the port: audio is needed
    wake(port=None)                 something may need audio (None: any line): clocks run
    test_ring(port) -> str          the console's `ring LINE`: a short test ring, one line said
    call_waiting_now(port)          whether a second call may wait now (*56/*57, *70), or None
                                    when the board has no such line
    feature_value(port, key)        a feature-code setting of the line (`forward_all`, `dnd`...,
                                    tipring/firmware/line/features.py CONFIG_KEYS) or None
    reconfigure_line(port, line)    the line's [[line]] keys changed: apply what applies live

The board calls back into the app (`line_intent`, `media_frame`, `emit`, `fax_detected`,
`media_call`, `has_media`, `factory_reset`, `reboot`): see tipring/board/line_port.py.
"""

from types import MappingProxyType


class Board:
    """Represents a board as the firmware sees it; the defaults are for a board without lines."""

    ports = MappingProxyType({})     # a board with lines sets its own dict

    def start(self) -> None:
        """Start the devices and the media clock."""

    def close(self) -> None:
        """Stop everything; safe to call twice."""

    @property
    def address(self):
        """The control address of a simulated board ("HOST:PORT"), None for hardware."""
        return None

    def line_status(self, port: int) -> dict:
        return {"hook": None, "state": None}

    def line_busy(self, port: int) -> bool:
        return False

    def line_rate(self, port: int) -> int:
        """Samples per second of the line's audio (8000, or 16000 on a wideband board)."""
        return 8000

    def line_command(self, port: int, verb: str, *args) -> None:
        """A call-layer command for line `port` (`incoming`, `remote_hangup`, `mwi` ...)."""

    def media_changed(self, port: int) -> None:
        """Call media started or changed on `port`."""

    def wake(self, port=None) -> None:
        """Something may need audio on `port` (None: any line)."""

    def test_ring(self, port: int) -> str:
        return "line %s: no ringer on this board" % port

    def call_waiting_now(self, port: int):
        """Whether a second call may wait on `port` now, or None when unknown."""
        return None

    def feature_value(self, port: int, key: str):
        """The line's feature-code setting `key` (as `LineFeatures` holds it), or None."""
        return None

    def reconfigure_line(self, port: int, line_cfg: dict) -> None:
        """The line's [[line]] keys changed: apply the ones that apply live."""
