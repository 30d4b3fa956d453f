"""SIP header fields: names, the ordered multimap, list splitting and generic parameters.

Hand-written for tipring (RFC 3261 §7.3 "Header Fields", §20 "Header Fields", §25 "Augmented
BNF"). This is the bottom layer of `firmware/sip`: it defines `SipParseError` and knows nothing
about URIs or start lines.

Rules kept here:
1. Header names compare case-insensitively and compact forms are the same header (§7.3.3):
   every lookup goes through `canon()`, which maps "v", "VIA" and "ViA" to ("via", "Via").
2. Values are stored as received, unfolded (§7.3.1: a CRLF followed by whitespace is one SP)
   and stripped; nothing else is normalised, so a message re-serialises to what was meant.
3. Only headers whose grammar is a comma list (`LIST_HEADERS`) are ever comma-split, and the
   split honours quoted strings and <...> (a comma inside "Watson, Thomas" is not a separator).
   Authorization-style headers are never split (§7.3.1 exempts them).

Portable: standard modules MicroPython also has (re with compile/match only).
"""

import re

# Token characters (§25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")).
TOKEN_RE = re.compile(r"[A-Za-z0-9\-\.!%\*_\+`'~]+$")


class SipParseError(ValueError):
    """One precise error per malformed message (h11-style: the caller answers `status_hint`).

    `header` is the canonical header name at fault, or None for the start line / framing;
    `reason` is short human text; str(e) puts the header name in front when known.
    """

    def __init__(self, reason: str, header=None, status_hint: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.header = header
        self.status_hint = status_hint

    def __str__(self) -> str:
        if self.header:
            return self.header + ": " + self.reason
        return self.reason

    def __repr__(self) -> str:
        return "SipParseError(%r, header=%r, status_hint=%r)" % (
            self.reason, self.header, self.status_hint)


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


def canon(name: str):
    """Return (key, display name) for a header name: key is lower-case, compact forms resolved."""
    c = _NAMES.get(name.lower())
    if c is not None:
        return c
    return name.lower(), name


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
        parts = []
        start = 0
        i = 0
        n = len(value)
        quoted = False
        angle = False
        while i < n:
            ch = value[i]
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
            elif ch == "<":
                angle = True
            elif ch == ",":
                parts.append(value[start:i])
                start = i + 1
            i += 1
        if quoted:
            raise SipParseError("unterminated quoted string", header)
        parts.append(value[start:])
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
    parts = []
    start = 0
    i = 0
    n = len(text)
    quoted = False
    while i < n:
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise SipParseError("unterminated quoted string in parameters", header)
    parts.append(text[start:])
    return parts


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
            out[-1] = out[-1].rstrip() + " " + line.strip()
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

    def get(self, name: str, default=None):
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

    def copy(self):
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
