"""Boards as data: which pin does what, which sound device, which SLIC.

A board is a TOML file shipped in this package (`board/<name>.toml`) or any path given to
`load_board`. The firmware never hard-codes a pin: the HAL devices are built from the dict
this module returns. Pin roles follow notes/hardware.md §4 (Board A, AG1171 on GPIO + sound
card); BCM GPIO numbers.

Rules:
1. The whole file is checked against `SCHEMA` and every problem is reported at once, each
   naming the key path, the bad value and what is allowed (`BoardError.messages`). Unknown
   keys are errors, not silently ignored (INTERFACES.md).
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
             level_shifter}, pd {gpio, active} (optional), audio {backend, device}
    [leds]   power / registered / line_in_use / fault = {gpio, active}   (each optional)
    [reset_button] gpio, pull, hold_s                                     (optional)
"""

import os

try:
    import tomllib
except ImportError:  # pragma: no cover - Python < 3.11
    import tomli as tomllib

BCM_GPIO_MAX = 27


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
    if kind == "gpio":
        return "a BCM GPIO number 0..%d" % BCM_GPIO_MAX
    if kind == "gpio_list":
        return "a list of BCM GPIO numbers 0..%d" % BCM_GPIO_MAX
    if kind == "table":
        return "a table with keys: " + ", ".join(spec[1])
    return "an array of tables ([[...]]) with keys: " + ", ".join(spec[1])


def _bad(errors, path, value, spec, why="is not allowed"):
    errors.append("%s: %r %s; allowed: %s" % (path, value, why, _allowed(spec)))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_value(path, value, spec, errors):
    """Validated (defaults-filled) value, or None after appending to `errors`."""
    kind = spec[0]
    if kind == "enum":
        if value not in spec[1]:
            return _bad(errors, path, value, spec)
        return value
    if kind == "int":
        if not _is_int(value) or not spec[1] <= value <= spec[2]:
            return _bad(errors, path, value, spec)
        return value
    if kind == "num":
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not spec[1] <= value <= spec[2]):
            return _bad(errors, path, value, spec)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            return _bad(errors, path, value, spec)
        return value
    if kind == "str":
        if not isinstance(value, str):
            return _bad(errors, path, value, spec)
        return value
    if kind == "gpio":
        if not _is_int(value) or not 0 <= value <= BCM_GPIO_MAX:
            return _bad(errors, path, value, spec)
        return value
    if kind == "gpio_list":
        if not isinstance(value, list) or not all(
                _is_int(v) and 0 <= v <= BCM_GPIO_MAX for v in value):
            return _bad(errors, path, value, spec)
        return list(value)
    if kind == "table":
        if not isinstance(value, dict):
            return _bad(errors, path, value, spec, "is not a table")
        return _check_table(path, value, spec[1], errors)
    # tables
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return _bad(errors, path, value, spec, "is not an array of tables")
    if not spec[2] <= len(value) <= spec[3]:
        errors.append("%s: %d entries is not allowed; allowed: %d..%d [[%s]] tables"
                      % (path, len(value), spec[2], spec[3], path.rsplit(".", 1)[-1]))
    return [_check_table("%s[%d]" % (path, i), v, spec[1], errors)
            for i, v in enumerate(value)]


def _check_table(path, table, fields, errors):
    out = {}
    prefix = path + "." if path else ""
    for key in table:
        if key not in fields:
            errors.append("%s%s: unknown key; allowed keys: %s"
                          % (prefix, key, ", ".join(sorted(fields))))
    for key, (spec, required, default) in fields.items():
        if key in table:
            out[key] = _check_value(prefix + key, table[key], spec, errors)
        elif required:
            errors.append("%s%s: missing; allowed: %s" % (prefix, key, _allowed(spec)))
            out[key] = None
        elif spec[0] == "table" and default is not None:
            out[key] = _check_table(prefix + key, {}, spec[1], errors)
        else:
            out[key] = default if not isinstance(default, (list, dict)) else type(default)()
    return out


def _cross_check(board, errors):
    """Rules that span keys: pins per kind, no GPIO used twice, SHK voltage, ports unique."""
    used = {}
    reserved = board.get("reserved_gpio") or []

    def use(path, gpio):
        if gpio is None:
            return
        if gpio in reserved:
            errors.append("%s: %r is reserved (reserved_gpio); allowed: a GPIO not in %r"
                          % (path, gpio, reserved))
        elif gpio in used:
            errors.append("%s: %r is already used by %s; allowed: a GPIO no other role uses"
                          % (path, gpio, used[gpio]))
        else:
            used[gpio] = path

    kind = board.get("kind")
    lines = board.get("line") or []
    if kind == "slic" and board.get("slic") is None:
        errors.append("slic: missing; allowed: a table with keys: " + ", ".join(SLIC))
    ports = {}
    supply = (board.get("slic") or {}).get("supply_v") or 3.3
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            continue
        p = "line[%d]" % i
        port = line.get("port")
        if port is not None:
            if port in ports:
                errors.append("%s.port: %r is already used by %s; allowed: a port number "
                              "no other line uses" % (p, port, ports[port]))
            ports[port] = p
        for role in ("rm", "fr", "shk"):
            if kind == "slic" and line.get(role) is None:
                errors.append("%s.%s: missing; allowed: a table with keys: %s" % (
                    p, role, ", ".join({"rm": PIN_RM, "fr": PIN_FR, "shk": PIN_SHK}[role])))
        for role in ("rm", "fr", "shk", "pd"):
            if line.get(role):
                use("%s.%s.gpio" % (p, role), line[role].get("gpio"))
        shk = line.get("shk")
        if (kind == "slic" and shk and supply > 3.3 and shk.get("level_shifter") is False):
            errors.append("%s.shk.level_shifter: false is not allowed with slic.supply_v = %s "
                          "(SHK swings to the SLIC supply, a Pi GPIO takes 3.3 V); allowed: true"
                          % (p, supply))
        audio = line.get("audio") or {}
        if kind == "slic" and audio.get("backend") == "sim":
            errors.append("%s.audio.backend: 'sim' is not allowed on kind = 'slic'; "
                          "allowed: 'alsa'" % p)
    for name, led in sorted((board.get("leds") or {}).items()):
        if led:
            use("leds.%s.gpio" % name, led.get("gpio"))
    if board.get("reset_button"):
        use("reset_button.gpio", board["reset_button"].get("gpio"))


def validate_board(data: dict, name: str = "") -> dict:
    """Check a parsed board table; return it complete with defaults, or raise BoardError."""
    errors = []
    if not isinstance(data, dict):
        raise BoardError(["board: %r is not a table" % (data,)])
    board = _check_table("", data, SCHEMA, errors)
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
        names = [p.name for p in files("board").iterdir()]
    except Exception:  # pragma: no cover - zipped or odd installs
        names = os.listdir(_package_dir())
    return sorted(n[:-5] for n in names if n.endswith(".toml"))


def _read_shipped(name):
    try:
        from importlib.resources import files
        return files("board").joinpath(name + ".toml").read_bytes()
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
