"""Building the HAL devices a board file describes.

Owns the mapping from a `board.load_board()` dict to device objects: one `LineHardware` per
`[[line]]` (hook switch, ringer, SLIC power-down, ALSA audio), the status LEDs and the reset
button, and the gpiozero pin factory the board names. Nothing else here: the devices do the
work, the loop wires their `post`s and deadlines.

    board = load_board("ag1171-usb")
    factory = pin_factory_for(board)
    lines = [LineHardware(l, post=loop_post, clock=loop.now, pin_factory=factory)
             for l in board["line"]]
    leds = open_leds(board, pin_factory=factory)
    button = open_reset_button(board, post=loop_post, pin_factory=factory)
"""

from tipring.hal.hook import HookSwitch
from tipring.hal.leds import ResetButton, StatusLeds
from tipring.hal.ringer import Ringer
from tipring.hal.slic import SlicPower

_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
    "mock": ("gpiozero.pins.mock", "MockFactory"),
}


def pin_factory_for(board: dict):
    """A gpiozero pin factory for `board["pin_factory"]`, or None for gpiozero's default."""
    name = board.get("pin_factory", "default")
    if name == "default":
        return None
    if name not in _FACTORIES:
        raise ValueError("unknown pin_factory %r; allowed: default, %s"
                         % (name, ", ".join(sorted(_FACTORIES))))
    module, cls = _FACTORIES[name]
    mod = __import__(module, None, None, [cls])
    return getattr(mod, cls)()


class LineHardware:
    """Represents one FXS port's hardware as a board's ``[[line]]`` table wires it.

    Attributes ``hook`` (`HookSwitch`), ``ringer`` (`Ringer`), ``power`` (`SlicPower`),
    ``audio`` (`hal.audio.AlsaLine`); each None when the board leaves it out (no pins, a
    ``sim`` audio backend, or ``open_audio=False``). ``port`` is the line's port number.

    :type line: dict
    :param line: one entry of ``board["line"]`` (already validated, defaults filled).
    :type post: callable
    :param post: the loop's thread-safe post, given to the hook switch.
    :type clock: callable or None
    :param clock: the loop's clock in seconds, for hook edge stamps.
    :type open_audio: bool
    :param open_audio: open the ALSA PCMs (default True).
    :type pin_factory: Factory or None
    :param pin_factory: from `pin_factory_for`, or a ``MockFactory`` in tests.
    """

    def __init__(self, line: dict, *, post, clock=None, open_audio: bool = True,
                 pin_factory=None):
        self.port = line["port"]
        self.hook = self.ringer = self.power = self.audio = None
        try:
            shk = line.get("shk")
            if shk:
                self.hook = HookSwitch(shk["gpio"], post=post,
                                       active_state=shk["active"] == "high",
                                       pull=shk["pull"], clock=clock, pin_factory=pin_factory)
            rm, fr = line.get("rm"), line.get("fr")
            if rm and fr:
                self.ringer = Ringer(rm["gpio"], fr["gpio"],
                                     rm_active_high=rm["active"] == "high",
                                     fr_idle=fr["idle"] == "high", pin_factory=pin_factory)
            pd = line.get("pd")
            if pd:
                self.power = SlicPower(pd["gpio"], active_high=pd["active"] == "high",
                                       pin_factory=pin_factory)
            audio = line.get("audio") or {}
            if open_audio and audio.get("backend", "alsa") == "alsa":
                from tipring.hal.audio import AlsaLine
                self.audio = AlsaLine(audio.get("device", "default"), rate=audio.get("rate") or 8000)
        except:
            self.close()
            raise

    def close(self) -> None:
        """Ringer idle first, then release everything; safe to call twice."""
        for name in ("ringer", "hook", "power", "audio"):
            dev = getattr(self, name)
            if dev is not None:
                dev.close()

    def __repr__(self):
        return "<hal.LineHardware port=%r hook=%r ringer=%r audio=%r>" % (
            self.port, self.hook, self.ringer, self.audio)


def open_leds(board: dict, *, patterns=None, pin_factory=None):
    """`StatusLeds` for the board's ``[leds]``, or None when it fits none."""
    leds = dict((k, v) for k, v in (board.get("leds") or {}).items() if v)
    if not leds:
        return None
    return StatusLeds(active_high=dict((k, v["active"] == "high") for k, v in leds.items()),
                      patterns=patterns, pin_factory=pin_factory,
                      **dict((k, v["gpio"]) for k, v in leds.items()))


def open_reset_button(board: dict, *, post, pin_factory=None):
    """`ResetButton` for the board's ``[reset_button]``, or None when it has none."""
    rb = board.get("reset_button")
    if not rb:
        return None
    return ResetButton(rb["gpio"], post=post, hold_time=rb["hold_s"],
                       pull_up=rb["pull"] == "up", pin_factory=pin_factory)
