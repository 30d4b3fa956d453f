"""Configuration: the TOML file of INTERFACES.md, validated completely before anything starts.

Rules:
1. Every wrong value is reported at once, each naming its key in the console's dotted form
   (`sip.transport`, `line.1.password`), the bad value, and what is allowed. Unknown keys are
   errors, not silently ignored: a typo must not become a default.
2. Validation never changes the running config: `load()` returns a new `Config` or raises
   `ConfigError` carrying the whole list.
3. Secrets (`password`) are never printed; messages about them say `****`. Values quoted in
   messages are clipped and their control characters escaped, so a hostile file cannot paint
   a terminal.
4. One way in. `load()` (through `read_document()`) is the only path from a file to a Config:
   `tipring check-config`, `tipring run` (via `config_store.load_with_fallback`) and the
   console's `revert` all use it, so they cannot disagree about a file. Nothing a file holds
   escapes as another exception: not UTF-8, a byte-order mark (accepted), no settings at all
   (empty, blank, only comments), more than `MAX_FILE_BYTES`, values nested deeper than
   `MAX_DEPTH` (also the parser's RecursionError), a board file or line port the board does
   not have: each is one ConfigError line naming the file.

The schema is data (`SCHEMA`): for each section, key -> (checker, default). Checkers return the
normalised value or raise `_Bad(allowed_text)`. The walk over a table is tipring/firmware/schema.py's,
shared with the board files; the wording of the messages is this module's.
"""

import copy
import os
import re
import tomllib

from tipring.firmware.line.dialplan import DEFAULT_PLAN, DialPlan
from tipring.firmware.line.features import parse_overrides
from tipring.firmware.schema import REQUIRED, Bad as _Bad, Wording, check_table
from tipring.firmware.sip.uri import parse_hostport as _sip_hostport

DEFAULT_PATH = "/etc/tipring/tipring.toml"
MAX_FILE_BYTES = 1 << 20     # a config is a few kB; more is not a config (and costs the parser)
MAX_DEPTH = 16               # TOML nesting; a config nests 3 deep ([[line]] -> table -> value)
SHOW_MAX = 60                # characters of a bad value quoted in a message

COUNTRIES = ("us", "uk", "de", "fr", "cn", "jp", "au")
CALLER_ID = ("bell202", "etsi-fsk", "dtmf", "jclip", "off")
TRANSPORTS = ("udp", "tcp", "tls")
FLASH_RELAY = ("off", "rfc4733", "info")
SRTP_MODES = ("off", "optional", "required")


class ConfigError(Exception):
    """A config that cannot be used; `.problems` lists one line per wrong key."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self):
        return "\n".join(self.problems)


# ---------------------------------------------------------------- checkers

def _str(nonempty=True, maxlen=256):
    def check(v):
        if not isinstance(v, str) or (nonempty and not v.strip()) or len(v) > maxlen:
            raise _Bad("a %sstring of at most %d characters" % ("non-empty " if nonempty else "", maxlen))
        if any(ord(c) < 32 for c in v):
            raise _Bad("text without control characters")
        return v
    return check


def _choice(*options):
    def check(v):
        if not isinstance(v, str) or v.lower() not in options:
            raise _Bad(", ".join(options))
        return v.lower()
    return check


def _int(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _Bad("an integer from %d to %d" % (lo, hi))
        return v
    return check


def _bool(v):
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")


def parse_hostport(text, default_port=None, allow_zero=False):
    """'host:port', '[v6]:port' or 'host' (with default_port) -> (host, port); ValueError if not.

    The grammar is SIP's hostport (tipring/firmware/sip/uri.py); a config address also has no spaces,
    a host name that starts with a letter or digit, and a port in 1-65535 (0 with
    `allow_zero`: "any free port")."""
    if not isinstance(text, str) or not text:
        raise ValueError("empty address")
    if text != "".join(text.split()):
        raise ValueError("spaces in address")
    if not text.startswith("[") and text.count(":") > 1:
        raise ValueError("IPv6 addresses need [brackets]")
    host, port = _sip_hostport(text)
    if ":" not in host and not _HOST_RE.match(host):
        raise ValueError("bad host")
    if port is None:
        if default_port is None:
            raise ValueError("no port")
        port = default_port
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise ValueError("port out of range")
    return host, port


def _hostport(default_port=None, allow_zero=False):
    def check(v):
        try:
            parse_hostport(v, default_port, allow_zero)
        except ValueError:
            lo = 0 if allow_zero else 1
            raise _Bad("HOST:PORT (port %d-65535%s)" % (lo, ", port optional" if default_port else ""))
        return v
    return check


def _ca_file(v):
    """A PEM file of CA certificates for sip.transport = "tls"; it must be there and readable
    (checked here so that check-config names it; a file that goes away later is an `error`
    event at start-up)."""
    if not isinstance(v, str) or not v:
        raise _Bad("the path of a readable PEM file of CA certificates")
    if not os.path.isfile(v):
        raise _Bad("the path of a readable PEM file of CA certificates (no such file)")
    if not os.access(v, os.R_OK):
        raise _Bad("the path of a readable PEM file of CA certificates (not readable)")
    return v


HOLD_MUSIC_MAX_BYTES = 4 * 1024 * 1024     # ~4.4 min of 8 kHz 16-bit: held in memory
HOLD_MUSIC_RATES = (8000, 16000)           # narrowband, or wideband for a 16 kHz line


def _hold_music(v):
    """line.N.hold_music: "" (silence), "tone" (tipring/firmware/media/moh.py's comfort tone) or
    the path of a WAV file, 8 kHz (or 16 kHz, wideband) mono 16-bit PCM; its header is checked
    here so that check-config names a wrong file, its samples are read once by the app at load
    (and converted to each line's rate, tipring/firmware/media/moh.py)."""
    allowed = '"", "tone" or the path of a WAV file (8 kHz, mono, 16-bit PCM; or 16 kHz)'
    if not isinstance(v, str):
        raise _Bad(allowed)
    if v.strip().lower() in ("", "tone"):
        return v.strip().lower()
    try:
        fmt = wav_format(v)
    except (OSError, EOFError) as e:
        raise _Bad("%s (%s)" % (allowed, getattr(e, "strerror", None) or e))
    except Exception as e:   # wave.Error: not a RIFF/WAVE file, or an unsupported format
        raise _Bad("%s (not a PCM WAV file: %s)" % (allowed, e))
    rate, channels, width, frames = fmt
    if rate not in HOLD_MUSIC_RATES or (channels, width) != (1, 2):
        raise _Bad("%s (this one is %d Hz, %d channel%s, %d-bit)"
                   % (allowed, rate, channels, "" if channels == 1 else "s", 8 * width))
    if frames == 0:
        raise _Bad("%s (this one has no samples)" % allowed)
    if 2 * frames > HOLD_MUSIC_MAX_BYTES:
        raise _Bad("%s of at most %d bytes of samples" % (allowed, HOLD_MUSIC_MAX_BYTES))
    return v


def wav_format(path: str) -> tuple:
    """(rate, channels, sample width in bytes, frames) of a WAV file (stdlib `wave`)."""
    import wave
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def read_hold_music(path: str, with_rate: bool = False):
    """The samples of a hold-music WAV (checked by `_hold_music`), read once at load; with
    `with_rate`, (samples, sample rate: 8000 or 16000)."""
    import wave
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        if rate not in HOLD_MUSIC_RATES or (w.getnchannels(), w.getsampwidth()) != (1, 2):
            raise ValueError("%s is not 8 or 16 kHz mono 16-bit PCM" % path)
        pcm = w.readframes(min(w.getnframes(), HOLD_MUSIC_MAX_BYTES // 2))
    return (pcm, rate) if with_rate else pcm


def _dns_server(text):
    """"IP", "IP:PORT" or "[IPv6]:PORT" -> the same text; ValueError otherwise."""
    import ipaddress
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("53" if bracket and not rest else "x")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, "53"
    ipaddress.ip_address(host)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("bad port")
    return text


def _dns_servers(v):
    """A list of DNS server addresses (a console `set` may give them comma-separated); [] means
    the system's resolv.conf."""
    if isinstance(v, str):
        v = [s for s in (p.strip() for p in v.strip("[]").replace('"', "").split(",")) if s]
    allowed = 'a list of DNS server IPs, "IP" or "IP:PORT" (at most 4), [] for the system resolv.conf'
    if not isinstance(v, list) or len(v) > 4 or not all(isinstance(s, str) for s in v):
        raise _Bad(allowed)
    try:
        return [_dns_server(s) for s in v]
    except ValueError:
        raise _Bad(allowed)


def _console_listen(v):
    if not isinstance(v, str):
        raise _Bad("tcp:HOST:PORT, a serial device path such as /dev/ttyAMA0, pty, or off")
    if v in ("pty", "off"):
        return v
    if v.startswith("tcp:"):
        try:
            parse_hostport(v[4:], allow_zero=True)
        except ValueError:
            raise _Bad("tcp:HOST:PORT, a serial device path such as /dev/ttyAMA0, pty, or off")
        return v
    if v.startswith("/dev/"):
        return v
    raise _Bad("tcp:HOST:PORT, a serial device path such as /dev/ttyAMA0, pty, or off")


def _board_kind(v):
    names = board_names()
    if isinstance(v, str) and v.endswith(".toml") and os.path.isfile(v):
        return v  # a board file of one's own (a custom wiring, a test rig)
    if not isinstance(v, str) or v not in names:
        raise _Bad(", ".join(names) + ", or a path to a board .toml file")
    return v


def board_names():
    """Board kinds shipped as data files under board/."""
    import tipring.board as _board_pkg
    d = os.path.dirname(_board_pkg.__file__)
    names = sorted(f[:-5] for f in os.listdir(d) if f.endswith(".toml"))
    return names or ["sim"]


def _dial_plan(v):
    if not isinstance(v, str) or not v.strip():
        raise _Bad("a dial plan in the Cisco SPA grammar, e.g. " + DEFAULT_PLAN)
    try:
        DialPlan(v)
    except ValueError as e:
        raise _Bad("a dial plan in the Cisco SPA grammar (%s)" % e)
    return v


def _forward_target(v):
    if not isinstance(v, str) or len(v) > 32 or any(c not in "0123456789*#+ABCD" for c in v):
        raise _Bad('a number of at most 32 dial keys (0-9 * # + A-D), or "" for off')
    return v


def _conference_uri(v):
    if isinstance(v, str) and v.startswith(("sip:", "sips:")) and len(v) <= 256:
        from tipring.firmware.sip.uri import SipUri
        try:
            SipUri.parse(v)
            return v
        except ValueError:
            pass
    elif isinstance(v, str) and (v == "" or re.fullmatch(r"[0-9*#+]{1,32}", v)):
        return v
    raise _Bad('a SIP URI ("sip:conf@pbx.example"), a number in the line\'s domain, or "" (mix locally)')


def _srtp_mode(v):
    mode = _choice(*SRTP_MODES)(v)
    if mode != "off":
        try:
            import pylibsrtp  # noqa: F401  (SRTP runs over libsrtp: tipring/firmware/media/srtp.py)
        except ImportError:
            raise _Bad('off (SRTP "%s" needs the pylibsrtp package, which is not installed '
                       'here: pip install pylibsrtp)' % mode)
    return mode


LINE_CODECS = ("pcmu", "pcma", "g722")


def _codecs(v):
    """A line's codecs in preference order: "g722,pcmu,pcma" -> the same, lower case."""
    allowed = 'codec names from %s, comma-separated, each once, in preference order ' \
              '(e.g. "g722,pcmu,pcma")' % ", ".join(LINE_CODECS)
    if not isinstance(v, str):
        raise _Bad(allowed)
    names = [n.strip().lower() for n in v.split(",")]
    if not v.strip() or any(n not in LINE_CODECS for n in names) or len(set(names)) != len(names):
        raise _Bad(allowed)
    if "g722" in names:
        try:
            import G722  # noqa: F401  (G.722 runs over libg722: tipring/firmware/media/g722.py)
        except ImportError:
            raise _Bad('%s without g722 (G.722 needs the g722 package, which is not installed '
                       'here: pip install g722)' % allowed.split(" (")[0])
    return ",".join(names)


FAX_MODES = ("t38", "passthrough")


def _fax_mode(v):
    """A line's fax handling (HT802/SPA112 "Fax Mode"): "t38" relays fax as T.38 (UDPTL) over
    spandsp's gateway, "passthrough" carries it in G.711 (ITU-T V.152)."""
    mode = _choice(*FAX_MODES)(v)
    if mode == "t38":
        from tipring.firmware.media.t38_gateway import available
        why = available()
        if why is not None:
            raise _Bad('passthrough (T.38 needs libspandsp, not usable here: %s)' % why)
    return mode


def _int_choice(*options):
    def check(v):
        if isinstance(v, bool) or v not in options:
            raise _Bad(", ".join(str(o) for o in options))
        return v
    return check


def _feature_codes(v):
    if not isinstance(v, str) or len(v) > 512:
        raise _Bad('CODE=FEATURE,... e.g. "*72=forward_all,*73=forward_all_off", or ""')
    try:
        parse_overrides(v)
    except ValueError as e:
        raise _Bad('CODE=FEATURE,... e.g. "*72=forward_all,*73=forward_all_off" (%s)' % e)
    return v


def _mwi_uri(v):
    if not isinstance(v, str) or len(v) > 256 or (v and (not v.startswith(("sip:", "sips:"))
                                                          or any(c in v for c in " <>\"\r\n"))):
        raise _Bad('a SIP URI such as "sip:*97@pbx.example.net", or "" for the line\'s own AoR')
    return v


# section -> key -> (checker, default); a default of REQUIRED (tipring/firmware/schema.py) must be given

SCHEMA = {
    "board": {
        "kind": (_board_kind, "sim"),
        "control": (_hostport(allow_zero=True), "127.0.0.1:7001"),
        "country": (_choice(*COUNTRIES), "us"),
        "flash_min_ms": (_int(40, 1000), 100),
        "flash_max_ms": (_int(100, 2000), 900),
        "pulse_variant": (_choice("standard", "sweden", "newzealand"), "standard"),
    },
    "sip": {
        "bind": (_hostport(allow_zero=True), "127.0.0.1:5070"),
        "transport": (_choice(*TRANSPORTS), "udp"),
        "user_agent": (_str(), "tipring"),
        "t1_ms": (_int(100, 10000), 500),
        "t2_ms": (_int(1000, 40000), 4000),
        "t4_ms": (_int(1000, 60000), 5000),
        "trace": (_bool, False),
        "tls_ca_file": (_ca_file, None),     # None: the system's CAs
        "tls_verify": (_bool, True),
        "dns_servers": (_dns_servers, []),
        "dns_timeout_s": (_int(1, 30), 5),
        # CRLF keep-alive to each line's registrar every N s while it registers (0 = off)
        "nat_keepalive_s": (_int(0, 3600), 0),
    },
    "line": {
        "port": (_int(1, 8), REQUIRED),
        "user": (_str(maxlen=64), REQUIRED),
        "password": (_str(nonempty=False, maxlen=128), ""),
        "auth_user": (_str(maxlen=64), None),
        "display_name": (_str(maxlen=64), None),
        "registrar": (_hostport(default_port=5060), REQUIRED),
        "proxy": (_hostport(default_port=5060), None),
        "domain": (_str(maxlen=253), None),
        "expires": (_int(10, 86400), 3600),
        "register": (_bool, True),
        # recovery: a second registrar, and the OPTIONS ping that sees the first one go and return
        "registrar_backup": (_hostport(default_port=5060), None),
        "registrar_ping_s": (_int(0, 3600), 20),
        # reliable provisional responses as callee (RFC 3262); false: Require: 100rel gets 420
        "prack": (_bool, True),
        "dial_plan": (_dial_plan, DEFAULT_PLAN),
        "caller_id": (_choice(*CALLER_ID), None),
        "no_answer_s": (_int(5, 600), 60),
        "offhook_timeout_s": (_int(5, 600), 30),
        "reorder_timeout_s": (_int(5, 600), 60),
        "call_waiting": (_bool, True),
        "cw_caller_id": (_bool, True),      # caller ID on call waiting (Type II, FSK methods)
        "direct_calls": (_bool, False),
        # supplementary services (FLOWS §10-§17); the feature codes set the first six
        "forward_all": (_forward_target, ""),
        "forward_busy": (_forward_target, ""),
        "forward_no_answer": (_forward_target, ""),
        "forward_no_answer_s": (_int(5, 600), 20),
        "dnd": (_bool, False),
        "dnd_response": (_int_choice(486, 603), 486),
        "flash_relay": (_choice(*FLASH_RELAY), "off"),
        "conference_uri": (_conference_uri, ""),
        "conference_hangup": (_choice("end", "transfer"), "end"),
        "feature_codes": (_feature_codes, ""),
        # the line echo canceller (G.168; tipring/firmware/dsp/echo.py): on by default, off by itself
        # for the rest of a call on a fax/modem answer tone
        "echo_canceller": (_bool, True),
        "echo_tail_ms": (_int(8, 64), 16),
        # rotary dial receiver window (tipring/firmware/line/pulse.py); old exchanges' phones dial 8 pps
        "pulse_pps_min": (_int(5, 30), 8),
        "pulse_pps_max": (_int(5, 30), 22),
        # message waiting (RFC 3842): SUBSCRIBE message-summary to mwi_uri ("" = the line's AoR)
        "mwi_subscribe": (_bool, False),
        "mwi_uri": (_mwi_uri, ""),
        "mwi_expires": (_int(60, 86400), 3600),
        # SRTP (RFC 3711) keyed by SDES (RFC 4568): HT802 "SRTP Mode", SPA112 "Secure Call"
        "srtp": (_srtp_mode, "off"),
        # codecs offered and accepted, in preference order (tipring/firmware/media/sdp.py, g722.py)
        "codecs": (_codecs, "pcmu,pcma"),
        # fax on CED/CNG (HT802 "Fax Mode", default T.38 there too): "t38" re-INVITEs to T.38
        # relay, falling back to G.711 pass-through on 488/415/606 or without libspandsp;
        # "passthrough" stays in G.711 (tipring/firmware/media/t38.py, fax_relay.py)
        "fax": (_fax_mode, "t38"),
        # what a party we hold hears (HT802 "Music on hold"): "", "tone", or an 8 kHz WAV
        "hold_music": (_hold_music, ""),
    },
    "console": {
        "listen": (_console_listen, "off"),
        "password_hash": (_str(maxlen=256), None),
    },
}

SECRET_KEYS = ("password", "password_hash")


def _clip(text: str, limit: int = SHOW_MAX) -> str:
    """`text` safe to print in one message line: control characters escaped, at most `limit`."""
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
        text = "".join(c if not (ord(c) < 32 or 0x7F <= ord(c) < 0xA0) else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _show(key, value):
    if key in SECRET_KEYS:
        return "****"
    if isinstance(value, str):
        return '"%s"' % _clip(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "a table"
    return _clip(repr(value))


class Config:
    """A validated configuration: `.board`, `.sip`, `.console` dicts and `.lines` list of dicts."""

    def __init__(self, data: dict, path=None):
        self.data = data
        self.path = path

    @property
    def board(self):
        return self.data["board"]

    @property
    def sip(self):
        return self.data["sip"]

    @property
    def lines(self):
        return self.data["line"]

    @property
    def console(self):
        return self.data["console"]

    def line(self, port: int):
        for ln in self.lines:
            if ln["port"] == port:
                return ln
        return None

    def to_toml_dict(self) -> dict:
        """The config as plain TOML data (None values dropped), for saving with tomli-w."""
        out = {}
        for sec, val in self.data.items():
            if isinstance(val, list):
                out[sec] = [{k: v for k, v in item.items() if v is not None} for item in val]
            else:
                out[sec] = {k: v for k, v in val.items() if v is not None}
        return out

    def get(self, dotted: str):
        sec, item, key = split_key(dotted, self)
        return item[key]

    def masked(self) -> dict:
        d = self.to_toml_dict()
        for sec, val in d.items():
            for item in (val if isinstance(val, list) else [val]):
                for k in item:
                    if k in SECRET_KEYS and item[k]:
                        item[k] = "****"
        return d


def split_key(dotted: str, cfg: Config):
    """'sip.bind' -> ('sip', sip_dict, 'bind'); 'line.1.password' -> ('line', line1, 'password').
    KeyError (its one argument is the message) for a key that is not there."""
    parts = dotted.split(".")
    shown = _clip(dotted)
    if len(parts) == 2 and parts[0] in SCHEMA and parts[0] != "line":
        sec, key = parts
        if key not in SCHEMA[sec]:
            raise KeyError("%s: unknown key; allowed: %s" % (shown, ", ".join(sec + "." + k for k in SCHEMA[sec])))
        return sec, cfg.data[sec], key
    if len(parts) == 3 and parts[0] == "line" and parts[1].isdigit() and parts[1].isascii():
        item = cfg.line(int(parts[1]))
        if item is None:
            raise KeyError("%s: no line with port %s; lines: %s" % (shown, _clip(parts[1], 8),
                                                                    ", ".join(str(l["port"]) for l in cfg.lines) or "none"))
        if parts[2] not in SCHEMA["line"]:
            # one line: the prefix once, not per key (a line has ~50 keys)
            raise KeyError("%s: unknown key; allowed: line.N.{%s}" % (shown, ", ".join(SCHEMA["line"])))
        return "line", item, parts[2]
    raise KeyError("%s: unknown key; keys look like board.country, sip.bind, line.1.password, console.listen" % shown)


class _ConfigWording(Wording):
    def unknown(self, path, schema):
        return "%s: unknown key; allowed: %s" % (path, ", ".join(schema))

    def missing(self, path, check):
        return "%s: missing; it is required" % path

    def bad(self, path, key, value, bad):
        return "%s: %s is not allowed; allowed: %s" % (path, _show(key, value), bad.allowed)


_WORDING = _ConfigWording()


def _check_table(prefix, schema, table, problems):
    if not isinstance(table, dict):
        problems.append("%s: must be a table" % prefix)
        return None
    return check_table(prefix, table, schema, problems, _WORDING)


def validate(raw: dict, path=None) -> Config:
    """Check a parsed TOML document; return a Config or raise ConfigError listing every problem."""
    problems = []
    if not isinstance(raw, dict):
        raise ConfigError(["config: must be a TOML document"])
    for sec in raw:
        if sec not in SCHEMA:
            problems.append("%s: unknown section; allowed: %s" % (sec, ", ".join("[[line]]" if s == "line" else "[%s]" % s for s in SCHEMA)))
    data = {}
    for sec in ("board", "sip", "console"):
        data[sec] = _check_table(sec, SCHEMA[sec], raw.get(sec, {}), problems) or {}
    data["line"] = _check_lines(raw.get("line", []), data["board"], problems)
    _check_board(data, problems)
    b = data["board"]
    if b.get("flash_min_ms", 0) >= b.get("flash_max_ms", 1):
        problems.append("board.flash_min_ms: %r is not allowed; allowed: less than board.flash_max_ms (%r)"
                        % (b.get("flash_min_ms"), b.get("flash_max_ms")))
    if problems:
        raise ConfigError(problems)
    return Config(data, path)


def _check_lines(lines_raw, board: dict, problems: list) -> list:
    """The [[line]] tables, each named line.PORT (line[i] until it has a port): checked, the
    derived defaults filled (domain from the registrar, caller ID from the country)."""
    if isinstance(lines_raw, dict):
        lines_raw = [lines_raw]
    if not isinstance(lines_raw, list):
        problems.append("line: must be an array of tables ([[line]])")
        lines_raw = []
    lines, seen = [], set()
    for i, item in enumerate(lines_raw):
        port = item.get("port") if isinstance(item, dict) else None
        prefix = "line.%d" % port if isinstance(port, int) and not isinstance(port, bool) else "line[%d]" % i
        ln = _check_table(prefix, SCHEMA["line"], item, problems)
        if ln is None:
            continue
        if "port" in ln:
            if ln["port"] in seen:
                problems.append("%s.port: %r is used by another line; each line needs its own port" % (prefix, ln["port"]))
            seen.add(ln["port"])
        _line_defaults(ln, board)
        if ln.get("pulse_pps_min", 0) >= ln.get("pulse_pps_max", 1):
            problems.append("%s.pulse_pps_min: %r is not allowed; allowed: less than %s.pulse_pps_max (%r)"
                            % (prefix, ln.get("pulse_pps_min"), prefix, ln.get("pulse_pps_max")))
        lines.append(ln)
    return lines


def _line_defaults(ln: dict, board: dict) -> None:
    if ln.get("domain") is None and "registrar" in ln:
        try:
            ln["domain"] = parse_hostport(ln["registrar"], 5060)[0]
        except ValueError:
            pass
    if ln.get("caller_id") is None:
        ln["caller_id"] = default_caller_id(board.get("country", "us"))


def default_caller_id(country: str) -> str:
    return {"uk": "etsi-fsk", "de": "etsi-fsk", "fr": "etsi-fsk", "jp": "jclip"}.get(country, "bell202")


_boards = {}   # board kind -> ((path, mtime_ns), wired ports or problem text)


def _board_ports(kind: str):
    """The ports the board `kind` wires (a set), or a problem text; loaded once per file version."""
    import tipring.board as _board_pkg
    path = kind if kind.endswith(".toml") else os.path.join(os.path.dirname(_board_pkg.__file__), kind + ".toml")
    try:
        stamp = (path, os.stat(path).st_mtime_ns)
    except OSError:
        stamp = (path, None)
    hit = _boards.get(kind)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        wired = {ln["port"] for ln in _board_pkg.load_board(kind).get("line", [])}
    except _board_pkg.BoardError as e:
        wired = "; ".join(e.messages)
    except (RecursionError, ValueError, OSError) as e:
        wired = "%s: not a usable board file: %s" % (kind, type(e).__name__)
    _boards[kind] = (stamp, wired)
    return wired


def _check_board(data: dict, problems: list) -> None:
    """The board file loads, and wires every configured line (what `run` builds)."""
    kind = data["board"].get("kind")
    if not isinstance(kind, str):
        return
    wired = _board_ports(kind)
    if isinstance(wired, str):
        problems.append("board.kind: %s is not a usable board: %s" % (_show("kind", kind), _clip(wired, 300)))
        return
    for ln in data["line"]:
        if isinstance(ln.get("port"), int) and ln["port"] not in wired:
            problems.append("line.%d.port: %d is not allowed; allowed: %s (the ports board %s wires)"
                            % (ln["port"], ln["port"], ", ".join(map(str, sorted(wired))) or "none",
                               _clip(kind)))


def _depth(doc) -> int:
    """How deep `doc` nests (a table of values is 1), counted without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        for child in (node.values() if isinstance(node, dict) else node):
            if isinstance(child, (dict, list)):
                stack.append((child, d + 1))
    return deepest


def read_document(path: str) -> dict:
    """The TOML document in `path`, or ConfigError with one line naming the file and what is
    wrong with it (see rule 4). This is where every file comes in."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ConfigError(["%s: cannot read: %s" % (path, e.strerror or e)])
    return parse_document(data, path)


def parse_document(data: bytes, path: str) -> dict:
    """`read_document` for bytes already read (`path` names them in the messages)."""
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(["%s: too large; a config file is at most %d bytes" % (path, MAX_FILE_BYTES)])
    if data.startswith(b"\xef\xbb\xbf"):     # a UTF-8 byte-order mark (Windows editors)
        data = data[3:]
    if not data.strip(b" \t\r\n\x00"):       # a zeroed file after a power cut is no config
        raise ConfigError(["%s: the file is empty" % path])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(["%s: not valid TOML: not UTF-8 text (byte %d: %s)" % (path, e.start, e.reason)])
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(["%s: not valid TOML: %s" % (path, _clip(str(e), 200))])
    except RecursionError:
        raise ConfigError(["%s: not a tipring config: values nested more than %d levels deep" % (path, MAX_DEPTH)])
    if _depth(doc) > MAX_DEPTH:
        raise ConfigError(["%s: not a tipring config: values nested more than %d levels deep" % (path, MAX_DEPTH)])
    if not doc:
        raise ConfigError(["%s: the file holds no settings (only comments or blank lines); "
                           "a config needs at least a [[line]] or a [board] table" % path])
    return doc


def load(path: str) -> Config:
    """Read and validate a TOML file; ConfigError names the file's problems (also TOML syntax)."""
    return validate(read_document(path), path)


def builtin_default() -> Config:
    """The sim board with one line for the rig's user 1001 at a local registrar."""
    return validate({
        "board": {"kind": "sim", "control": "127.0.0.1:7001", "country": "us"},
        "sip": {"bind": "127.0.0.1:5070", "transport": "udp"},
        "line": [{"port": 1, "user": "1001", "password": "secret1001", "registrar": "127.0.0.1:5060"}],
        "console": {"listen": "tcp:127.0.0.1:7100"},
    })


# keys the console cannot set: why, and what to do instead
FIXED_KEYS = {
    ("line", "port"): "the port number names the line and cannot be changed from the console; "
                      "edit the config file, check it with tipring check-config, then reboot",
}


def allowed(dotted: str, cfg: Config) -> str:
    """What `dotted` accepts, in the words of its error messages; KeyError if there is no such
    key, ConfigError if the console cannot set it (FIXED_KEYS)."""
    sec, _, key = split_key(dotted, cfg)
    if (sec, key) in FIXED_KEYS:
        raise ConfigError(["%s: %s" % (_clip(dotted), FIXED_KEYS[(sec, key)])])
    check, _ = SCHEMA[sec][key]
    try:
        check(_NoValue)
    except _Bad as b:
        return b.allowed
    except Exception:  # a checker that cannot describe itself
        pass
    return "see help set"


class _NoValue:
    """A value no checker accepts, to make it say what it does accept."""


def set_value(cfg: Config, dotted: str, text: str) -> Config:
    """A new Config with `dotted` set from console text, validated like the file; raises
    KeyError (unknown key, no such line) or ConfigError (bad value, a key the console cannot
    set); each with one message naming the key, the value and what is allowed. The given cfg
    is untouched.

    Text: `true`/`false` are booleans, digits an integer, anything else a string; a string
    may be quoted with "..." or '...' (for leading or trailing spaces, or for "" itself).
    """
    sec, item, key = split_key(dotted, cfg)
    shown = _clip(dotted)
    if (sec, key) in FIXED_KEYS:
        raise ConfigError(["%s: %s" % (shown, FIXED_KEYS[(sec, key)])])
    check, _ = SCHEMA[sec][key]
    t = text.strip()
    if t[:1] in ("'", '"') or t[-1:] in ("'", '"'):
        if len(t) < 2 or t[0] != t[-1]:
            raise ConfigError(["%s: the value %s has an unmatched quote; allowed: %s, written as "
                               "text or in matching quotes (\"two words\")"
                               % (shown, "****" if key in SECRET_KEYS else _clip(t), allowed(dotted, cfg))])
        value = _coerce(t[1:-1], check, quoted=True)
    else:
        value = _coerce(t, check)
    data = copy.deepcopy(cfg.to_toml_dict())
    if sec == "line":
        target = [l for l in data["line"] if l["port"] == item["port"]][0]
    else:
        target = data.setdefault(sec, {})
    target[key] = value
    return validate(data, cfg.path)


def _coerce(t: str, check, quoted: bool = False):
    """The value console text `t` stands for: the typed reading when the key takes it (600 an
    integer, true a boolean), else the text (user 1002 is a string); quoted, the text first.
    When neither fits, the reading the user meant, so the error shows 5 and not "5"."""
    if t in ("true", "false"):
        cand = t == "true"
    elif re.fullmatch(r"-?[0-9]{1,18}", t):
        cand = int(t)
    else:
        return t
    for v in ((t, cand) if quoted else (cand, t)):
        try:
            check(v)
            return v
        except _Bad:
            pass
    return t if quoted else cand
