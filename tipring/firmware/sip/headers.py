"""SIP header fields: names, the ordered multimap, list splitting, parameters, typed values.

Hand-written for tipring (RFC 3261 §7.3 "Header Fields", §20 "Header Fields", §25 "Augmented
BNF"). Sits between uri.py (URIs and SipParseError) and message.py (start lines, framing); knows
nothing about start lines. Typed values: Via (§20.42), NameAddr for From/To/Contact (§20.10,
§20.20, §20.39), CSeq (§20.16).

Rules kept here:
1. Header names compare case-insensitively and compact forms are the same header (§7.3.3):
   every lookup goes through `canon()`, which maps "v", "VIA" and "ViA" to ("via", "Via").
2. Values are stored as received, unfolded (§7.3.1: a CRLF followed by whitespace is one SP)
   and stripped; nothing else is normalised, so a message re-serialises to what was meant.
3. Typed values take a regex fast path for the everyday shapes and a hand-written general
   parser for the rest; the parameter text of Via/NameAddr and the URI inside <> are kept as
   text and parsed (and checked) on first access to `.params` / `.branch` / `.tag` / `.uri`.
   Errors there are still SipParseError naming the header.
4. Only headers whose grammar is a comma list (`LIST_HEADERS`) are ever comma-split, and the
   split honours quoted strings and <...> (a comma inside "Watson, Thomas" is not a separator).
   Authorization-style headers are never split (§7.3.1 exempts them).

Portable: standard modules MicroPython also has (re with compile/match only).
"""

import re

from tipring.firmware.sip.uri import (
    SipParseError, parse_any, parse_hostport, format_host, _is_digits,
)

MAX_UINT32 = 4294967295

# Token characters (§25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")).
TOKEN_RE = re.compile(r"[A-Za-z0-9\-\.!%\*_\+`'~]+$")


# Compact forms (§7.3.3, and the registry for the later extensions listed there).
COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
    "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
    "e": "content-encoding", "o": "event", "u": "allow-events", "r": "refer-to",
    "b": "referred-by", "x": "session-expires", "y": "identity",
    "a": "accept-contact", "j": "reject-contact", "d": "request-disposition",
}

_CANONICAL = (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
    "Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Route",
    "Record-Route", "Allow", "Supported", "Require", "Proxy-Require", "Unsupported",
    "User-Agent", "Server", "Accept", "Accept-Encoding", "Accept-Language", "Expires",
    "Min-Expires", "WWW-Authenticate", "Proxy-Authenticate", "Authorization",
    "Proxy-Authorization", "Authentication-Info", "Date", "Subject", "Organization",
    "Priority", "Retry-After", "Timestamp", "Warning", "Alert-Info", "Call-Info",
    "Error-Info", "In-Reply-To", "Reply-To", "MIME-Version", "Event", "Allow-Events",
    "Subscription-State", "Refer-To", "Referred-By", "Replaces", "Session-Expires", "Min-SE",
    "RSeq", "RAck", "P-Asserted-Identity", "P-Preferred-Identity", "Privacy", "Path",
    "Service-Route", "Identity", "Reason", "Refer-Sub", "Accept-Contact", "Reject-Contact",
    "Request-Disposition",
)

# lower-case name or compact form -> (key, canonical name)
_NAMES = {}
for _n in _CANONICAL:
    _NAMES[_n.lower()] = (_n.lower(), _n)
for _c, _k in COMPACT.items():
    _NAMES[_c] = _NAMES[_k]

# Headers whose ABNF is a comma-separated list (§7.3.1); only these are split by get_all().
LIST_HEADERS = {
    "via", "contact", "route", "record-route", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "content-encoding", "content-language", "alert-info", "call-info", "error-info",
    "in-reply-to", "warning", "allow-events", "path", "service-route",
    "p-asserted-identity", "p-preferred-identity", "privacy", "reason", "accept-contact",
    "reject-contact", "request-disposition",
}


def canon(name: str) -> tuple:
    """Return (key, display name) for a header name: key is lower-case, compact forms resolved."""
    c = _NAMES.get(name.lower())
    if c is not None:
        return c
    return name.lower(), name


def _split_outside(text: str, sep: str, angles: bool, header, what: str) -> list:
    """Split `text` on `sep` where it stands outside "quoted strings" (with quoted-pairs)
    and, when `angles`, outside <...>; the slow path of the two splitters below."""
    parts = []
    start = 0
    i = 0
    n = len(text)
    quoted = False
    angle = False
    while i < n:
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif angle:
            if ch == ">":
                angle = False
        elif ch == "<" and angles:
            angle = True
        elif ch == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise SipParseError("unterminated quoted string" + what, header)
    parts.append(text[start:])
    return parts


def split_list(value: str, header=None, strict: bool = False) -> list:
    """Split a comma list, honouring "quoted strings" (with quoted-pairs) and <...>.

    Elements are stripped. Empty elements are dropped, or raise when `strict` (the Via and
    Contact grammars have no empty elements: RFC 4475 §3.1.2.1).
    """
    if "," not in value:
        parts = [value]
    elif '"' not in value and "<" not in value:
        parts = value.split(",")
    else:
        parts = _split_outside(value, ",", True, header, "")
    out = []
    for p in parts:
        p = p.strip()
        if p:
            out.append(p)
        elif strict:
            raise SipParseError("empty list element", header)
    return out


def split_params(text: str, header=None) -> list:
    """Split 'a=1;b;c="x;y"' on ';' outside quoted strings (no leading ';')."""
    if '"' not in text:
        return text.split(";")
    return _split_outside(text, ";", False, header, " in parameters")


def parse_params(text: str, header=None) -> dict:
    """Parse generic-params (§25.1: *( SEMI generic-param ), the leading ';' already removed).

    Keys are lower-case (parameter names are case-insensitive); flag parameters map to None;
    values keep their quotes and case. SWS around ';' and '=' is allowed. An empty parameter
    (';;') is an error (RFC 4475 §3.1.2.1).
    """
    params = {}
    for p in split_params(text, header):
        name, eq, val = p.partition("=")
        name = name.strip()
        if not name or not TOKEN_RE.match(name):
            raise SipParseError("bad parameter %r" % p.strip(), header)
        if eq:
            val = val.strip()
            if not val:
                raise SipParseError("parameter %r has no value" % name, header)
            params[name.lower()] = val
        else:
            params[name.lower()] = None
    return params


def format_params(params: dict) -> str:
    """';k=v;flag' in dict order."""
    if not params:
        return ""
    out = []
    for k, v in params.items():
        out.append(";" + k if v is None else ";" + k + "=" + str(v))
    return "".join(out)


def unquote(text: str, header=None) -> str:
    """Contents of a quoted-string with quoted-pairs resolved (§25.1)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise SipParseError("bad quoted string", header)
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out = []
    i = 0
    n = len(inner)
    while i < n:
        ch = inner[i]
        if ch == "\\":
            i += 1
            if i >= n:
                raise SipParseError("bad quoted-pair", header)
            ch = inner[i]
        out.append(ch)
        i += 1
    return "".join(out)


def quote(text: str) -> str:
    """A quoted-string for `text`, escaping '"' and '\\'."""
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


class _Fold(Exception):
    """Internal: a continuation line was met; the caller unfolds and indexes again."""


def _slow_key(name: str, sep: str, line: str) -> str:
    # Off the fast path: odd spelling ("TO ", "MaX-fOrWaRdS"), unknown header, fold, garbage.
    if not sep:
        if line[:1] == " " or line[:1] == "\t":
            raise _Fold()
        raise SipParseError("header line without ':' (%r)" % line[:40])
    if name[:1] == " " or name[:1] == "\t":
        raise _Fold()
    name = name.rstrip()
    c = _NAMES.get(name.lower())
    if c is not None:
        return c[0]
    # Unknown header: the name must still be one token (§7.3.1, §25.1 header-name).
    if not name or not TOKEN_RE.match(name):
        raise SipParseError("bad header name %r" % name[:40])
    return name.lower()


# exact spellings seen on the wire -> key, so the common case costs one dict lookup
_FAST_KEYS = {}
for _k, _v in _NAMES.items():
    _FAST_KEYS[_k] = _v[0]
    _FAST_KEYS[_v[1]] = _v[0]
    if len(_k) == 1:
        _FAST_KEYS[_k.upper()] = _v[0]


def index_lines(lines) -> dict:
    """key -> [values] for header lines lines[1:] (lines[0] is the start line).

    Raises _Fold when a continuation line is met (rare: the caller unfolds and retries).
    """
    index = {}
    fast = _FAST_KEYS
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        key = fast.get(name)
        if key is None:
            key = _slow_key(name, sep, line)
        index.setdefault(key, []).append(value.strip())
    return index


def unfold(lines) -> list:
    """Join continuation lines (§7.3.1: CRLF + whitespace is one SP)."""
    out = [lines[0]]
    for i in range(1, len(lines)):
        line = lines[i]
        if line[:1] == " " or line[:1] == "\t":
            if len(out) == 1:
                raise SipParseError("continuation line after the start line")
            # LWS is SP and HTAB only (§25.1): str.strip() would also eat \x1c-\x1f, NBSP...
            out[-1] = out[-1].rstrip(" \t") + " " + line.strip(" \t")
        else:
            out.append(line)
    return out


class Headers:
    """Ordered multimap of header fields: case-insensitive names, compact forms resolved.

    A parsed message keeps its unfolded header lines and a key -> [values] index (the parser's
    one pass); the ordered (key, name, value) list is built only when asked for (items(),
    serialisation, changes). Typed values parsed by the message accessors are cached in
    `_typed` and dropped on any change, so a mutated header is re-parsed.
    """

    __slots__ = ("_lines", "_items", "_index", "_typed")

    def __init__(self, items=None):
        self._lines = None
        self._items = []
        self._index = None
        self._typed = {}
        if items is not None:
            if isinstance(items, Headers):
                items = items.items()
            elif isinstance(items, dict):
                items = items.items()
            for name, value in items:
                key, disp = canon(name)
                self._items.append((key, disp, str(value)))

    @classmethod
    def _parsed(cls, lines, index):
        self = object.__new__(cls)
        self._lines = lines
        self._items = None
        self._index = index
        self._typed = {}
        return self

    def _all(self) -> list:
        items = self._items
        if items is None:
            items = []
            lines = self._lines
            for i in range(1, len(lines)):
                name, _, value = lines[i].partition(":")
                key, disp = canon(name.rstrip())
                items.append((key, disp, value.strip()))
            self._items = items
        return items

    def _idx(self) -> dict:
        index = self._index
        if index is None:
            index = {}
            for key, _, value in self._items:
                lst = index.get(key)
                if lst is None:
                    index[key] = [value]
                else:
                    lst.append(value)
            self._index = index
        return index

    def _changed(self):
        self._lines = None
        self._index = None
        self._typed = {}

    def values(self, name: str) -> list:
        """Every field value of `name` as received (one per header line, not comma-split)."""
        return self._idx().get(canon(name)[0], [])

    def get(self, name: str, default=None) -> "str | None":
        """First field value (raw text), or `default`."""
        lst = self._idx().get(canon(name)[0])
        if lst:
            return lst[0]
        return default

    def get_all(self, name: str) -> list:
        """Every value in order; list headers (Via, Contact, Allow...) are comma-split."""
        key, disp = canon(name)
        lst = self._idx().get(key, [])
        if key not in LIST_HEADERS:
            return list(lst)
        out = []
        for v in lst:
            out.extend(split_list(v, disp))
        return out

    def set(self, name: str, value) -> None:
        """Replace every field of `name` with one, where the first one was (else at the end)."""
        key, disp = canon(name)
        out = []
        done = False
        for item in self._all():
            if item[0] == key:
                if not done:
                    out.append((key, disp, str(value)))
                    done = True
            else:
                out.append(item)
        if not done:
            out.append((key, disp, str(value)))
        self._items = out
        self._changed()

    def add(self, name: str, value, first: bool = False) -> None:
        """Append a field; with first=True put it before the existing ones (a new top Via)."""
        key, disp = canon(name)
        item = (key, disp, str(value))
        items = self._all()
        if first:
            pos = 0
            for i in range(len(items)):
                if items[i][0] == key:
                    pos = i
                    break
            items.insert(pos, item)
        else:
            items.append(item)
        self._changed()

    def remove(self, name: str) -> None:
        """Remove every field of `name` (no error when absent)."""
        key = canon(name)[0]
        self._items = [it for it in self._all() if it[0] != key]
        self._changed()

    def __contains__(self, name) -> bool:
        return canon(name)[0] in self._idx()

    def items(self) -> list:
        """[(canonical name, value)] in wire order."""
        return [(it[1], it[2]) for it in self._all()]

    def copy(self) -> "Headers":
        h = Headers()
        h._items = list(self._all())
        return h

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self):
        return iter(self.items())

    def __eq__(self, other) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._all()] == [(k, v) for k, _, v in other._all()]

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self) -> str:
        return "Headers(%r)" % (self.items(),)


# ---------------------------------------------------------------- typed header values

def _err(reason, header=None, hint=400):
    return SipParseError(reason, header, hint)


def _guard2(fn, arg, header):
    try:
        return fn(arg, header)
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, header)


_TOKEN = "A-Za-z0-9\\-\\.!%\\*_\\+`'~"
_VIA_FAST = re.compile("SIP/2\\.0/([A-Z]+) ([A-Za-z0-9\\-\\.]+)(?::([0-9]+))?(;.*)?$")
_NA_FAST = re.compile("(?:\"([^\"\\\\]*)\" *)?<([a-z]+:[^<>\\s\"]+)>(;[^<>]*)?$")
_CSEQ_FAST = re.compile("([0-9]+) ([A-Z]+)$")
_FAST_MAX = 200
_HAS_GROUPS = hasattr(_CSEQ_FAST.match("1 A"), "groups")  # MicroPython: group(n) only


def _groups(m, n):
    if _HAS_GROUPS:
        return m.groups()
    return tuple(m.group(i) for i in range(1, n + 1))


def _fast(regex, text):
    if len(text) > _FAST_MAX:
        return None
    try:
        return regex.match(text)
    except RuntimeError:  # MicroPython: recursion limit in re; the general parser copes
        return None


_PARAMS_OK = re.compile("(?:;[" + _TOKEN + "]+(?:=[^;\" \t]+)?)+$")


def _lazy_params(ptext: str, header) -> dict:
    """Header params kept as text by a fast path (';a=1;b'), parsed and checked on first use."""
    if len(ptext) < _FAST_MAX and _PARAMS_OK.match(ptext):
        params = {}
        for p in ptext[1:].split(";"):
            k, eq, v = p.partition("=")
            params[k.lower()] = v if eq else None
        return params
    return parse_params(ptext[1:], header)


class Via:
    """One Via value (§20.42): 'SIP/2.0/UDP host:port;branch=z9hG4bK...;rport'.

    `transport` is upper-case; `host` has no IPv6 brackets; `port` is an int or None;
    `params` has lower-case keys and None for flags (rport); values keep their text.
    """

    __slots__ = ("transport", "host", "port", "_params", "_ptext", "protocol")

    def __init__(self, transport: str = "UDP", host: str = "", port=None, params=None,
                 protocol: str = "SIP/2.0"):
        self.transport = transport
        self.host = host
        self.port = port
        self._params = params if params is not None else {}
        self._ptext = None
        self.protocol = protocol

    @property
    def params(self) -> dict:
        p = self._params
        if p is None:
            p = self._params = _guard2(_lazy_params, self._ptext, "Via")
        return p

    @params.setter
    def params(self, value):
        self._params = value

    @property
    def branch(self) -> "str | None":
        return self.params.get("branch")

    @property
    def sent_by(self) -> tuple:
        """(host, port or 5060/5061 default) from the sent-by, for matching and responses."""
        if self.port is not None:
            return self.host, self.port
        return self.host, 5061 if self.transport == "TLS" else 5060

    @classmethod
    def parse(cls, text: str) -> "Via":
        m = _VIA_FAST.match(text) if len(text) < _FAST_MAX else None
        if m is not None:
            if _HAS_GROUPS:
                transport, host, port, ptext = m.groups()
            else:
                transport, host, port, ptext = m.group(1), m.group(2), m.group(3), m.group(4)
            if port is None or (len(port) < 6 and int(port) < 65536):
                v = object.__new__(cls)
                v.transport = transport
                v.host = host
                v.port = None if port is None else int(port)
                v._ptext = ptext
                v._params = None if ptext else {}
                v.protocol = "SIP/2.0"
                return v
        return cls._parse_general(text)

    @classmethod
    def _parse_general(cls, text: str):
        h = "Via"
        # sent-protocol = name SLASH version SLASH transport, SLASH = SWS "/" SWS
        p1 = text.find("/")
        p2 = text.find("/", p1 + 1) if p1 >= 0 else -1
        if p2 < 0:
            raise _err("bad sent-protocol in %r" % text[:60], h)
        name = text[:p1].strip()
        version = text[p1 + 1:p2].strip()
        rest = text[p2 + 1:].lstrip()
        sp = 0
        n = len(rest)
        while sp < n and rest[sp] not in " \t":
            sp += 1
        transport = rest[:sp]
        rest = rest[sp:]
        if not TOKEN_RE.match(name) or not TOKEN_RE.match(version) or not transport \
                or not TOKEN_RE.match(transport):
            raise _err("bad sent-protocol in %r" % text[:60], h)
        semi = rest.find(";")
        if semi >= 0:
            params = parse_params(rest[semi + 1:], h)
            rest = rest[:semi]
        else:
            params = {}
        sent_by = rest.strip()
        if not sent_by:
            raise _err("missing sent-by in %r" % text[:60], h)
        host, port = parse_hostport(sent_by, h)
        return cls(transport.upper(), host, port, params, name.upper() + "/" + version)

    def __str__(self) -> str:
        hp = format_host(self.host)
        if self.port is not None:
            hp += ":%d" % self.port
        return self.protocol + "/" + self.transport + " " + hp + format_params(self.params)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return str(self) == str(other)

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self) -> str:
        return "Via(%r)" % str(self)


class NameAddr:
    """From, To, Contact, Route... (§20.10): '"Bob" <sip:bob@b.example>;tag=1'.

    `display` is the unquoted display name or None; `uri` a SipUri (unknown schemes opaque);
    `params` the header parameters (lower-case keys); `star` is True for 'Contact: *'.
    The URI inside <> of a parsed value is parsed on first access to `.uri`; a bad one raises
    SipParseError then (validate() touches it).
    """

    __slots__ = ("_uri", "_utext", "_hdr", "display", "_params", "_ptext", "star")

    def __init__(self, uri=None, display=None, params=None, star: bool = False):
        if isinstance(uri, str):
            uri = parse_any(uri)
        self._uri = uri
        self._utext = None
        self._hdr = None
        self.display = display
        self._params = params if params is not None else {}
        self._ptext = None
        self.star = star

    @property
    def uri(self) -> "SipUri":
        u = self._uri
        if u is None and self._utext is not None:
            u = self._uri = _guard2(parse_any, self._utext, self._hdr)
        return u

    @uri.setter
    def uri(self, value):
        if isinstance(value, str):
            value = parse_any(value)
        self._uri = value
        self._utext = None

    @property
    def params(self) -> dict:
        p = self._params
        if p is None:
            p = self._params = _guard2(_lazy_params, self._ptext, self._hdr)
        return p

    @params.setter
    def params(self, value):
        self._params = value

    @property
    def tag(self) -> "str | None":
        return self.params.get("tag")

    @classmethod
    def parse(cls, text: str, header=None) -> "NameAddr":
        m = _NA_FAST.match(text) if len(text) < _FAST_MAX else None
        if m is not None:
            na = object.__new__(cls)
            if _HAS_GROUPS:
                na.display, na._utext, ptext = m.groups()
            else:
                na.display, na._utext, ptext = m.group(1), m.group(2), m.group(3)
            na._uri = None
            na._hdr = header
            na._ptext = ptext
            na._params = None if ptext else {}
            na.star = False
            return na
        return cls._parse_general(text, header)

    @classmethod
    def _parse_general(cls, text: str, header=None):
        s = text.strip()
        if s == "*":
            return cls(None, None, {}, True)
        display = None
        if s.startswith('"'):
            i = 1
            while True:
                j = s.find('"', i)
                if j < 0:
                    raise _err("unterminated quoted display name", header)
                k = j
                while s[k - 1] == "\\" and k - 1 > 0:
                    k -= 1
                if (j - k) % 2 == 0:
                    break
                i = j + 1
            display = unquote(s[:j + 1], header)
            s = s[j + 1:].lstrip()
            if not s.startswith("<"):
                raise _err("display name not followed by <URI>", header)
            lt = 0
        else:
            lt = s.find("<")
            if lt > 0:
                # token display name: 1*(token LWS); RFC 4475 §3.1.1.6 allows no LWS before '<'
                words = s[:lt].split()
                for w in words:
                    if not TOKEN_RE.match(w):
                        raise _err("bad display name %r (not a token; quote it)"
                                   % s[:lt].strip()[:40], header)
                display = " ".join(words) or None
        if lt >= 0:
            gt = s.find(">", lt)
            if gt < 0:
                raise _err("unterminated <URI>", header)
            utext = s[lt + 1:gt]
            if not utext or utext[0] in " \t" or utext[-1] in " \t":
                raise _err("whitespace inside <URI>", header)
            rest = s[gt + 1:].strip()
            if rest and rest[0] != ";":
                raise _err("junk after <URI>: %r" % rest[:40], header)
        else:
            # addr-spec form: the URI ends at the first ';' and what follows are header
            # params (RFC 4475 §3.3.12); a URI with ',', '?' or ';' needs <> (§20).
            semi = s.find(";")
            if semi >= 0:
                utext = s[:semi].rstrip()
                rest = s[semi:]
            else:
                utext = s
                rest = ""
            if "?" in utext or "," in utext:
                raise _err("URI with '?' or ',' must be inside <>", header)
        uri = parse_any(utext, header)
        params = parse_params(rest[1:], header) if rest else {}
        return cls(uri, display, params)

    def __str__(self) -> str:
        if self.star:
            return "*"
        out = "<" + str(self.uri) + ">" + format_params(self.params)
        if self.display is not None:
            return quote(self.display) + " " + out
        return out

    def __eq__(self, other) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (self.star == other.star and self.display == other.display
                and self.uri == other.uri and self.params == other.params)

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self) -> str:
        return "NameAddr(%r)" % str(self)


class CSeq:
    """CSeq (§20.16): sequence number (0 .. 2**32-1) and method."""

    __slots__ = ("seq", "method")

    def __init__(self, seq: int, method: str):
        self.seq = seq
        self.method = method

    @classmethod
    def parse(cls, text: str) -> "CSeq":
        m = _CSEQ_FAST.match(text) if len(text) < _FAST_MAX else None
        if m is not None:
            num, method = m.groups() if _HAS_GROUPS else (m.group(1), m.group(2))
        else:
            parts = text.split()
            if len(parts) != 2:
                raise _err("expected '<number> <method>', got %r" % text[:40], "CSeq")
            num, method = parts
            if not _is_digits(num):
                raise _err("bad sequence number %r" % num[:20], "CSeq")
            if not TOKEN_RE.match(method):
                raise _err("bad method %r" % method[:40], "CSeq")
        c = object.__new__(cls)
        c.seq = n = int(num)
        if n > MAX_UINT32:
            raise _err("sequence number %s over 2**32-1" % num[:24], "CSeq")
        c.method = method
        return c

    def __str__(self) -> str:
        return "%d %s" % (self.seq, self.method)

    def __eq__(self, other) -> bool:
        if not isinstance(other, CSeq):
            return NotImplemented
        return self.seq == other.seq and self.method == other.method

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self) -> str:
        return "CSeq(%d, %r)" % (self.seq, self.method)
