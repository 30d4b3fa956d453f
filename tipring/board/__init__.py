"""Boards as data: which pin does what, which sound device, which SLIC.

A board is a TOML file shipped in this package (`board/<name>.toml`) or any path given to
`load_board`. The firmware never hard-codes a pin: the HAL devices are built from the dict
this module returns. Pin roles follow notes/hardware.md §4 (Board A, AG1171 on GPIO + sound
card); BCM GPIO numbers.

Rules:
1. The whole file is checked against `SCHEMA` and every problem is reported at once, each
   naming the key path, the bad value and what is allowed (`BoardError.messages`). Unknown
   keys are errors, not silently ignored (INTERFACES.md). The walk is tipring/firmware/schema.py's,
   the one the config file uses too; the spec language below and the wording are the board's.
2. The returned dict is complete: optional keys are filled with their defaults, so readers
   never need `.get(..., default)`.

Schema, by example (see ag1171-usb.toml for a commented file):

    name = "ag1171-usb"            # defaults to the file name
    description = "..."
    kind = "slic"                  # slic | sim
    pin_factory = "default"        # default | lgpio | rpigpio | pigpio | native | mock
    reserved_gpio = [18, 19, 20, 21]   # pins no role may use (I2S, SPI...)
    [slic]   part, supply_v, max_ren, ring_freq_hz (0 = country default), oht_resistor
    [[line]] port, and tables rm {gpio, active}, fr {gpio, idle}, shk {gpio, active, pull,
             level_shifter}, pd {gpio, active} (optional), audio {backend, device, rate}
             (rate: the line's audio in samples per second, 8000 (default) or 16000 for a
             wideband line, G.722 end to end; both backends take either)
    [leds]   power / registered / line_in_use / fault = {gpio, active}   (each optional)
    [reset_button] gpio, pull, hold_s                                     (optional)
"""

import os
import tomllib

from tipring.firmware.schema import REQUIRED, Bad, Table, Tables, Wording, check_table

BCM_GPIO_MAX = 27
LINE_RATES = (8000, 16000)   # a line's audio rate: narrowband (G.711's) or wideband (G.722's)


class BoardError(ValueError):
    """A board file is unusable; `messages` lists every problem, one line each."""

    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


# -- schema ------------------------------------------------------------------------------
# A spec is a tuple: ("enum", choices) | ("int", lo, hi) | ("num", lo, hi) | ("bool",)
# | ("str",) | ("gpio",) | ("gpio_list",) | ("table", fields) | ("tables", fields, lo, hi).
# fields: key -> (spec, required, default).

def _f(spec, required=False, default=None):
    return (spec, required, default)


LEVEL = ("enum", ("high", "low"))

PIN_RM = {"gpio": _f(("gpio",), True), "active": _f(LEVEL, default="high")}
PIN_FR = {"gpio": _f(("gpio",), True), "idle": _f(LEVEL, default="high")}
PIN_SHK = {
    "gpio": _f(("gpio",), True),
    "active": _f(LEVEL, default="high"),
    "pull": _f(("enum", ("up", "down", "none")), default="down"),
    "level_shifter": _f(("bool",), default=False),
}
PIN_PD = {"gpio": _f(("gpio",), True), "active": _f(LEVEL, default="high")}
PIN_LED = {"gpio": _f(("gpio",), True), "active": _f(LEVEL, default="high")}
AUDIO = {
    "backend": _f(("enum", ("alsa", "sim")), default="alsa"),
    "device": _f(("str",), default="default"),
    "rate": _f(("rate", LINE_RATES), default=8000),
}
LINE = {
    "port": _f(("int", 1, 8), True),
    "rm": _f(("table", PIN_RM)),
    "fr": _f(("table", PIN_FR)),
    "shk": _f(("table", PIN_SHK)),
    "pd": _f(("table", PIN_PD)),
    "audio": _f(("table", AUDIO), default={}),
}
SLIC = {
    "part": _f(("enum", ("ag1171", "ag1170", "ks0835f")), True),
    "supply_v": _f(("num", 3.3, 5.0), default=3.3),
    "max_ren": _f(("int", 1, 5), default=1),
    "ring_freq_hz": _f(("num", 0, 70), default=0),
    "oht_resistor": _f(("bool",), default=False),
}
LEDS = {name: _f(("table", PIN_LED)) for name in
        ("power", "registered", "line_in_use", "fault")}
RESET_BUTTON = {
    "gpio": _f(("gpio",), True),
    "pull": _f(("enum", ("up", "down")), default="up"),
    "hold_s": _f(("num", 3, 30), default=10.0),
}
SCHEMA = {
    "name": _f(("str",)),
    "description": _f(("str",), default=""),
    "kind": _f(("enum", ("slic", "sim")), True),
    "pin_factory": _f(("enum", ("default", "lgpio", "rpigpio", "pigpio", "native", "mock")),
                      default="default"),
    "reserved_gpio": _f(("gpio_list",), default=[]),
    "slic": _f(("table", SLIC)),
    "line": _f(("tables", LINE, 1, 8), True),
    "leds": _f(("table", LEDS), default={}),
    "reset_button": _f(("table", RESET_BUTTON)),
}


def _allowed(spec):
    kind = spec[0]
    if kind == "enum":
        return ", ".join(repr(c) for c in spec[1])
    if kind == "int":
        return "an integer %d..%d" % (spec[1], spec[2])
    if kind == "num":
        return "a number %s..%s" % (spec[1], spec[2])
    if kind == "bool":
        return "true, false"
    if kind == "str":
        return "a string"
    if kind == "rate":
        return " or ".join(str(r) for r in spec[1]) + " (samples per second)"
    if kind == "gpio":
        return "a BCM GPIO number 0..%d" % BCM_GPIO_MAX
    if kind == "gpio_list":
        return "a list of BCM GPIO numbers 0..%d" % BCM_GPIO_MAX
    if kind == "table":
        return "a table with keys: " + ", ".join(spec[1])
    return "an array of tables ([[...]]) with keys: " + ", ".join(spec[1])


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# spec kind -> test(value, spec) for the plain (non-table) kinds
_TESTS = {
    "enum": lambda v, spec: v in spec[1],
    "int": lambda v, spec: _is_int(v) and spec[1] <= v <= spec[2],
    "num": lambda v, spec: _is_num(v) and spec[1] <= v <= spec[2],
    "bool": lambda v, spec: isinstance(v, bool),
    "str": lambda v, spec: isinstance(v, str),
    "gpio": lambda v, spec: _is_int(v) and 0 <= v <= BCM_GPIO_MAX,
    "rate": lambda v, spec: _is_int(v) and v in spec[1],
    "gpio_list": lambda v, spec: isinstance(v, list) and all(
        _is_int(g) and 0 <= g <= BCM_GPIO_MAX for g in v),
}


def _check_of(spec):
    """The tipring/firmware/schema.py check for a spec tuple."""
    kind = spec[0]
    if kind == "table":
        return Table(_schema_of(spec[1]), _allowed(spec))
    if kind == "tables":
        return Tables(_schema_of(spec[1]), spec[2], spec[3], _allowed(spec))
    test = _TESTS[kind]
    allowed = _allowed(spec)

    def check(value):
        if not test(value, spec):
            raise Bad(allowed)
        return list(value) if kind == "gpio_list" else value
    check.allowed = allowed
    return check


class _BoardWording(Wording):
    def unknown(self, path, schema):
        return "%s: unknown key; allowed keys: %s" % (path, ", ".join(sorted(schema)))

    def missing(self, path, check):
        return "%s: missing; allowed: %s" % (path, check.allowed)


_WORDING = _BoardWording()


def _schema_of(fields):
    """fields (key -> (spec, required, default)) as a tipring/firmware/schema.py schema. An optional
    table with a default is filled with its own defaults when absent."""
    out = {}
    for key, (spec, required, default) in fields.items():
        check = _check_of(spec)
        if required:
            default = REQUIRED
        elif isinstance(check, Table) and default is not None:
            default = check_table("", {}, check.schema, [], _WORDING)
        out[key] = (check, default)
    return out


_SCHEMA = _schema_of(SCHEMA)


class _Pins:
    """Which role holds each GPIO: no GPIO used twice, none of the reserved ones."""

    def __init__(self, reserved, errors):
        self.reserved = reserved
        self.errors = errors
        self.used = {}

    def use(self, path, gpio):
        if gpio is None:
            return
        if gpio in self.reserved:
            self.errors.append("%s: %r is reserved (reserved_gpio); allowed: a GPIO not in %r"
                               % (path, gpio, self.reserved))
        elif gpio in self.used:
            self.errors.append("%s: %r is already used by %s; allowed: a GPIO no other role uses"
                               % (path, gpio, self.used[gpio]))
        else:
            self.used[gpio] = path


def _cross_check(board, errors):
    """Rules that span keys: pins per kind, no GPIO used twice, SHK voltage, ports unique."""
    pins = _Pins(board.get("reserved_gpio") or [], errors)
    kind = board.get("kind")
    if kind == "slic" and board.get("slic") is None:
        errors.append("slic: missing; allowed: a table with keys: " + ", ".join(SLIC))
    ports = {}
    supply = (board.get("slic") or {}).get("supply_v") or 3.3
    for i, line in enumerate(board.get("line") or []):
        if isinstance(line, dict):
            _cross_check_line("line[%d]" % i, line, kind == "slic", supply, ports, pins, errors)
    for name, led in sorted((board.get("leds") or {}).items()):
        if led:
            pins.use("leds.%s.gpio" % name, led.get("gpio"))
    if board.get("reset_button"):
        pins.use("reset_button.gpio", board["reset_button"].get("gpio"))


def _cross_check_line(p, line, slic, supply, ports, pins, errors):
    """One [[line]]: its port unique; on a SLIC board its three pins, a level shifter on SHK
    above 3.3 V and real audio; its GPIOs free."""
    port = line.get("port")
    if port is not None:
        if port in ports:
            errors.append("%s.port: %r is already used by %s; allowed: a port number "
                          "no other line uses" % (p, port, ports[port]))
        ports[port] = p
    for role, fields in (("rm", PIN_RM), ("fr", PIN_FR), ("shk", PIN_SHK)):
        if slic and line.get(role) is None:
            errors.append("%s.%s: missing; allowed: a table with keys: %s"
                          % (p, role, ", ".join(fields)))
    for role in ("rm", "fr", "shk", "pd"):
        if line.get(role):
            pins.use("%s.%s.gpio" % (p, role), line[role].get("gpio"))
    if not slic:
        return
    shk = line.get("shk")
    if shk and supply > 3.3 and shk.get("level_shifter") is False:
        errors.append("%s.shk.level_shifter: false is not allowed with slic.supply_v = %s "
                      "(SHK swings to the SLIC supply, a Pi GPIO takes 3.3 V); allowed: true"
                      % (p, supply))
    if (line.get("audio") or {}).get("backend") == "sim":
        errors.append("%s.audio.backend: 'sim' is not allowed on kind = 'slic'; "
                      "allowed: 'alsa'" % p)


def validate_board(data: dict, name: str = "") -> dict:
    """Check a parsed board table; return it complete with defaults, or raise BoardError."""
    errors = []
    if not isinstance(data, dict):
        raise BoardError(["board: %r is not a table" % (data,)])
    board = check_table("", data, _SCHEMA, errors, _WORDING)
    _cross_check(board, errors)
    if errors:
        raise BoardError(errors)
    if not board.get("name"):
        board["name"] = name
    return board


def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))


def list_boards() -> list:
    """Names of the boards shipped in this package."""
    try:
        from importlib.resources import files
        names = [p.name for p in files("tipring.board").iterdir()]
    except Exception:  # pragma: no cover - zipped or odd installs
        names = os.listdir(_package_dir())
    return sorted(n[:-5] for n in names if n.endswith(".toml"))


def _read_shipped(name):
    try:
        from importlib.resources import files
        return files("tipring.board").joinpath(name + ".toml").read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    except Exception:  # pragma: no cover
        path = os.path.join(_package_dir(), name + ".toml")
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()


def load_board(name_or_path: str) -> dict:
    """Load a board by shipped name ("ag1171-usb", "sim", ...) or by path to a .toml file.

    Returns the complete board dict (see module docstring); raises BoardError listing every
    problem, or naming the shipped boards when the name is unknown.
    """
    name_or_path = str(name_or_path)
    is_path = name_or_path.endswith(".toml") or os.sep in name_or_path
    if is_path:
        label = name_or_path
        stem = os.path.basename(name_or_path)[:-5] if name_or_path.endswith(".toml") \
            else os.path.basename(name_or_path)
        try:
            with open(name_or_path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise BoardError(["%s: cannot read board file: %s" % (label, e.strerror or e)])
    else:
        label = stem = name_or_path
        raw = _read_shipped(name_or_path)
        if raw is None:
            raise BoardError(["board: %r is not a shipped board; allowed: %s"
                              % (name_or_path, ", ".join(list_boards()))])
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise BoardError(["%s: not valid TOML: %s" % (label, e)])
    try:
        return validate_board(data, stem)
    except BoardError as e:
        raise BoardError(["%s: %s" % (label, m) for m in e.messages])


def is_sim_board(kind: str) -> bool:
    """Whether the board `kind` (a shipped name or a board file path) is simulated: "sim",
    or a file whose own `kind` is "sim" (a test rig, a 16 kHz sim line). Raises BoardError
    for a file that does not load."""
    return kind == "sim" or load_board(kind)["kind"] == "sim"
