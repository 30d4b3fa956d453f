"""SIP, SIPS and TEL URIs: parse, %-unescape once, serialise with escaping.

Hand-written for tipring (RFC 3261 §19.1 "SIP and SIPS URIs", §25.1 ABNF; RFC 3966 for tel:;
RFC 5118 for IPv6 references).

    sip:user:password@host:port;uri-parameters?headers

This is the bottom module of `tipring/firmware/sip`, so `SipParseError` lives here (re-exported by
headers.py and message.py, where the API documents it).

Rules kept here:
1. %HH escapes are decoded exactly once, and only in the parts whose grammar has `escaped`
   (user, password, parameter names and values, header names and values): RFC 4475 §3.1.1.3
   wants n%61me=v%61lue%25%34%31 to become name=value%41. Host and port never contain escapes.
2. userinfo ends at the first '@' (it cannot contain a raw '@'), so ';', '?' and ',' in the user
   part stay there (RFC 4475 §3.1.1.9 'sip:user;par=u%40example.net@example.com').
3. An IPv6 reference keeps everything inside [ ] as the host, port or not (RFC 5118 §4.3);
   the host is stored without the brackets and __str__ puts them back.
4. parse_uri() / SipUri.parse() accept sip, sips and tel and raise SipParseError with
   status_hint 416 for any other scheme. Inside a name-addr (From, To, Contact) any absolute URI
   is legal (§25.1 absoluteURI), so `parse_any()` keeps an unknown scheme as opaque text.
"""

import re


_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9\+\-\.]*$")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9\-\._]+$")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:\.]+$")
_HEX = "0123456789abcdefABCDEF"

# Characters that stay literal in each URI component (§25.1 unreserved plus the component's
# own unreserved set); everything else is %-escaped on output.
_UNRESERVED = "A-Za-z0-9\\-_\\.!~\\*'\\(\\)"
_SAFE_USER = re.compile("[" + _UNRESERVED + "&=\\+\\$,;\\?/]*$")
_SAFE_PASSWORD = re.compile("[" + _UNRESERVED + "&=\\+\\$,]*$")
_SAFE_PARAM = re.compile("[" + _UNRESERVED + "\\[\\]/:&\\+\\$]*$")
_SAFE_HEADER = re.compile("[" + _UNRESERVED + "\\[\\]/\\?:\\+\\$]*$")

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


SIP_SCHEMES = ("sip", "sips", "tel")

# Fast path for the everyday shape 'sip:user@host:port;params' (no escapes, password, IPv6 or
# headers): one regex, then plain splits. Everything else takes the general parser.
_URI_FAST = re.compile("(sips?):(?:([A-Za-z0-9\\-_\\.!~\\*'\\(\\)&=\\+\\$,;\\?/]+)@)?"
                       "([A-Za-z0-9\\-\\.]+)(?::([0-9]+))?(;[^%? \\t<>\"]*)?$")
_HAS_GROUPS = hasattr(_URI_FAST.match("sip:h"), "groups")  # MicroPython: group(n) only


def unescape(text: str, header=None) -> str:
    """Decode %HH escapes once (UTF-8); a '%' not followed by two hex digits is an error."""
    if "%" not in text:
        return text
    parts = text.split("%")
    out = bytearray(parts[0].encode())
    for p in parts[1:]:
        if len(p) < 2 or p[0] not in _HEX or p[1] not in _HEX:
            raise SipParseError("bad %%-escape in URI %r" % text[:60], header)
        out.append(int(p[:2], 16))
        out += p[2:].encode()
    try:
        return bytes(out).decode("utf-8")
    except UnicodeError:
        raise SipParseError("%%-escapes in URI are not UTF-8: %r" % text[:60], header)


def escape(text: str, safe) -> str:
    """%-escape every character of `text` that `safe` (a compiled class regex) does not allow."""
    if safe.match(text):
        return text
    out = []
    for ch in text:
        if safe.match(ch):
            out.append(ch)
        else:
            for b in ch.encode():
                out.append("%%%02X" % b)
    return "".join(out)


def _is_digits(s: str) -> bool:
    # str.isdigit() alone accepts non-ASCII digits and int() accepts '1_0' and ' 1'
    return bool(s) and s.isdigit() and max(s) <= "9" and min(s) >= "0"


def parse_hostport(text: str, header=None) -> tuple:
    """'host', 'host:port', '[v6]' or '[v6]:port' -> (host without brackets, port or None)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError("unterminated IPv6 reference %r" % text[:60], header)
        host = text[1:end]
        if not _IPV6_RE.match(host) or ":" not in host:
            raise SipParseError("bad IPv6 reference %r" % text[:60], header)
        rest = text[end + 1:]
        if not rest:
            return host, None
        if rest[0] != ":":
            raise SipParseError("junk after IPv6 reference %r" % text[:60], header)
        port = rest[1:].strip()
    else:
        host, colon, port = text.partition(":")
        host = host.strip()
        if not host or not _HOSTNAME_RE.match(host):
            raise SipParseError("bad host %r" % text[:60], header)
        if not colon:
            return host, None
        port = port.strip()
    if not _is_digits(port) or int(port) > 65535:
        raise SipParseError("bad port %r" % port[:20], header)
    return host, int(port)


def format_host(host: str) -> str:
    """Host for output: IPv6 addresses get their brackets back (RFC 5118)."""
    if host and ":" in host:
        return "[" + host + "]"
    return host


class SipUri:
    """A sip:, sips: or tel: URI (or an opaque absoluteURI inside a name-addr).

    `user`/`password` are unescaped text or None; `host` has no IPv6 brackets; `port` is an int
    or None; `params` maps lower-case names to unescaped values (None for flags); `headers`
    maps names to unescaped values. For tel: the number is in `user` and `host` is None. An
    unknown scheme keeps its text in `opaque`.
    """

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")

    def __init__(self, scheme: str = "sip", user=None, host=None, port=None, params=None,
                 headers=None, password=None, opaque=None):
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if params is not None else {}
        self.headers = headers if headers is not None else {}
        self.opaque = opaque

    @classmethod
    def parse(cls, text: str, header=None) -> "SipUri":
        """Parse a sip/sips/tel URI; any other scheme raises SipParseError (416)."""
        u = parse_any(text, header)
        if u.opaque is not None:
            raise SipParseError("unsupported URI scheme %r" % u.scheme, header, 416)
        return u

    def host_port(self) -> tuple:
        """(host, port), with the default port for the scheme (5060, or 5061 for sips)."""
        if self.port is not None:
            return self.host, self.port
        return self.host, 5061 if self.scheme == "sips" else 5060

    @property
    def transport(self) -> "str | None":
        t = self.params.get("transport")
        return t.lower() if t else None

    def __str__(self) -> str:
        if self.opaque is not None:
            return self.scheme + ":" + self.opaque
        out = [self.scheme, ":"]
        if self.scheme == "tel":
            out.append(escape(self.user or "", _SAFE_USER))
        else:
            if self.user is not None:
                out.append(escape(self.user, _SAFE_USER))
                if self.password is not None:
                    out.append(":" + escape(self.password, _SAFE_PASSWORD))
                out.append("@")
            out.append(format_host(self.host or ""))
            if self.port is not None:
                out.append(":%d" % self.port)
        for k, v in self.params.items():
            out.append(";" + escape(k, _SAFE_PARAM))
            if v is not None:
                out.append("=" + escape(v, _SAFE_PARAM))
        if self.headers:
            hs = []
            for k, v in self.headers.items():
                hs.append(escape(k, _SAFE_HEADER) + "=" + escape(v, _SAFE_HEADER))
            out.append("?" + "&".join(hs))
        return "".join(out)

    def __eq__(self, other) -> bool:
        # Structural equality (not the §19.1.4 comparison rules, which need more context).
        if not isinstance(other, SipUri):
            return NotImplemented
        return (self.scheme == other.scheme and self.user == other.user
                and self.password == other.password
                and (self.host or "").lower() == (other.host or "").lower()
                and self.port == other.port and self.params == other.params
                and self.headers == other.headers and self.opaque == other.opaque)

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __repr__(self) -> str:
        return "SipUri(%r)" % str(self)


def _parse_uri_params(text: str, header) -> dict:
    params = {}
    for p in text.split(";"):
        name, eq, val = p.partition("=")
        if not name:
            raise SipParseError("empty URI parameter", header)
        name = unescape(name, header).lower()
        params[name] = unescape(val, header) if eq else None
    return params


def parse_any(text: str, header=None) -> SipUri:
    """Parse any absolute URI: sip/sips/tel structured, other schemes kept opaque."""
    m = _URI_FAST.match(text) if len(text) < 200 else None
    if m is not None:
        u = _parse_fast(m, header)
        if u is not None:
            return u
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.match(scheme):
        raise SipParseError("not a URI: %r" % text[:60], header)
    scheme = scheme.lower()
    if not rest:
        raise SipParseError("empty URI after %r" % (scheme + ":"), header)
    for ch in " \t<>\"":
        if ch in rest:
            raise SipParseError("illegal character %r in URI" % ch, header)
    parser = _SCHEME_PARSERS.get(scheme)
    if parser is None:
        return SipUri(scheme, opaque=rest)
    return parser(scheme, rest, text, header)


def _parse_fast(m, header):
    """The SipUri of a `_URI_FAST` match, or None when its port is out of range (the general
    parser then says so)."""
    if _HAS_GROUPS:
        scheme, user, host, port, ptext = m.groups()
    else:
        scheme, user, host, port, ptext = (m.group(1), m.group(2), m.group(3), m.group(4),
                                           m.group(5))
    if port is not None and (len(port) >= 6 or int(port) >= 65536):
        return None
    u = object.__new__(SipUri)
    u.scheme = scheme
    u.user = user
    u.password = None
    u.host = host
    u.port = None if port is None else int(port)
    u.params = _fast_params(ptext, header) if ptext else {}
    u.headers = {}
    u.opaque = None
    return u


def _fast_params(ptext: str, header) -> dict:
    """';name=value;flag' with no escapes (the fast path's regex excluded '%')."""
    params = {}
    for p in ptext[1:].split(";"):
        i = p.find("=")
        if i == 0 or not p:
            raise SipParseError("empty URI parameter", header)
        if i < 0:
            params[p.lower()] = None
        else:
            params[p[:i].lower()] = p[i + 1:]
    return params


def _parse_tel(scheme: str, rest: str, text: str, header) -> SipUri:
    """tel:number;params (RFC 3966): the number goes in `user`."""
    number, semi, ptext = rest.partition(";")
    if not number:
        raise SipParseError("empty tel: number", header)
    return SipUri("tel", unescape(number, header), None, None,
                  _parse_uri_params(ptext, header) if semi else {})


def _parse_sip(scheme: str, rest: str, text: str, header) -> SipUri:
    """sip: and sips: (RFC 3261 §19.1.1): userinfo@hostport;params?headers."""
    user = password = None
    at = rest.find("@")
    if at >= 0:   # rule 2: userinfo ends at the first '@'
        user, password = _parse_userinfo(rest[:at], text, header)
        rest = rest[at + 1:]
    headers = {}
    q = rest.find("?")
    if q >= 0:
        headers = _parse_uri_headers(rest[q + 1:], header)
        rest = rest[:q]
    semi = rest.find(";")
    if semi >= 0:
        params = _parse_uri_params(rest[semi + 1:], header)
        rest = rest[:semi]
    else:
        params = {}
    host, port = parse_hostport(rest, header)
    return SipUri(scheme, user, host, port, params, headers, password)


def _parse_userinfo(userinfo: str, text: str, header) -> tuple:
    u, c, p = userinfo.partition(":")
    if not u:
        raise SipParseError("empty user part in %r" % text[:60], header)
    return unescape(u, header), (unescape(p, header) if c else None)


def _parse_uri_headers(htext: str, header) -> dict:
    headers = {}
    for h in htext.split("&"):
        name, eq, val = h.partition("=")
        if not name or not eq:
            raise SipParseError("bad URI header %r" % h[:40], header)
        headers[unescape(name, header)] = unescape(val, header)
    return headers


# scheme -> parser(scheme, text after the colon, whole text, header); any other scheme is opaque
_SCHEME_PARSERS = {"sip": _parse_sip, "sips": _parse_sip, "tel": _parse_tel}


def parse_uri(text: str) -> SipUri:
    """Parse a sip/sips/tel URI (e.g. a Request-URI); other schemes raise SipParseError (416)."""
    return SipUri.parse(text)
