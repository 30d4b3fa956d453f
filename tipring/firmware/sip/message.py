"""SIP messages: parse bytes into Request/Response, serialise them back, frame a TCP stream.

Hand-written for tipring, the sans-IO message layer under transactions and dialogs:
RFC 3261 §7 (SIP messages), §18.3 (framing), §20 (header fields), §25 (ABNF), with the
liberal-but-safe readings of RFC 4475 (torture tests) and RFC 5118 (IPv6).

Rules kept here:
1. Bad input never wins: parse_message() and every typed accessor raise exactly one
   SipParseError (header at fault, reason, status_hint) and nothing else, whatever the bytes.
2. No I/O and no clock: bytes in, objects out; StreamFramer only cuts a byte stream into
   message-sized pieces.
3. Cheap first, exact later: parse_message() splits the head once, unfolds, builds the header
   index and frames the body by Content-Length. Via, From/To, CSeq, Contact... are parsed on
   first access and cached (in the Headers object, so a mutation drops them); their parameters
   and inner URIs are parsed on first use (headers.py rule 3).

Theory of operation. A datagram is one message (§18.3): the header section ends at the first
empty line; the body is the rest, cut to Content-Length when that is shorter and an error when it
is longer; with no Content-Length the body is the rest of the datagram (RFC 2543 style). On a
stream, Content-Length is what separates messages; a missing one counts as 0. Bare-LF line ends
are accepted (many stacks and the RFC 5118 archive use them); CR or LF inside a CRLF-framed
header line is an error.

What "invalid" means: parse_message() raises for what makes a message unparsable (framing,
start line, header syntax, version: 505). validate() adds the checks a UA makes before it
processes a message (mandatory and single-instance headers, Via/From/To/CSeq/Contact syntax,
CSeq method = request method, Max-Forwards 0-255, CSeq < 2**32, no escaped headers in the
Request-URI, GMT in Date). Well-formed but unsupported things (unknown URI scheme: 416, unknown
method: 501, unknown Require: 420, body type: 415) are decisions for the layer above, which has
parse_uri() raising 416 for a scheme it cannot route.
"""

import re

from tipring.firmware.sip.headers import (
    SipParseError, Headers, canon, TOKEN_RE, split_list, index_lines, unfold, _Fold, _FAST_KEYS,
    _slow_key, Via, NameAddr, CSeq, _FAST_MAX, _HAS_GROUPS, _fast, _groups, _VIA_FAST,
    _NA_FAST, _CSEQ_FAST,
)
from tipring.firmware.sip.uri import SipUri, parse_uri, _is_digits

__all__ = [
    "SipParseError", "parse_message", "StreamFramer", "Request", "Response", "Headers", "Via",
    "NameAddr", "SipUri", "CSeq", "parse_uri", "validate", "REASONS",
]

# Reason phrases (RFC 3261 §21, plus the common extensions).
REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 433: "Anonymity Disallowed",
    436: "Bad Identity-Info", 437: "Unsupported Certificate", 438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support", 440: "Max-Breadth Exceeded",
    469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}


def _err(reason, header=None, hint=400):
    return SipParseError(reason, header, hint)


def _check_version(version: str, header=None) -> None:
    # §7.1: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (case-insensitive literal)
    if version == "SIP/2.0":
        return
    v = version.upper()
    if v == "SIP/2.0":
        return
    if v.startswith("SIP/"):
        major, dot, minor = v[4:].partition(".")
        if dot and _is_digits(major) and _is_digits(minor):
            raise _err("unsupported SIP version %r" % version[:20], header, 505)
    raise _err("bad SIP version %r" % version[:20], header)


# ---------------------------------------------------------------- typed header values

# Fast paths: one C-level regex match for the common shapes (every UA's own Via, From, To and
# CSeq), then plain splits. Anything else (LWS around '/', IPv6, quoted-pairs, long values)
# takes the general hand-written parser below. MicroPython's re has no {m,n} and recurses, so
# the patterns stay simple and are only tried on short values.
def _guard(fn, arg, header):
    # The one place typed parsing meets arbitrary text: anything but SipParseError is a bug
    # in a parser, and still must not escape as another exception type (rule 1).
    try:
        return fn(arg)
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, header)


def _single(headers, key, name):
    vals = (headers._index or headers._idx()).get(key)
    if not vals:
        return None
    if len(vals) > 1:
        raise _err("appears %d times, allowed once" % len(vals), name)
    return vals[0]


def _parse_vias(headers):
    vals = (headers._index or headers._idx()).get("via")
    if not vals:
        return []
    try:
        if len(vals) == 1 and "," not in vals[0] and vals[0]:
            return [Via.parse(vals[0])]
        out = []
        for v in vals:
            for item in split_list(v, "Via", True):
                out.append(Via.parse(item))
            if not v:
                raise _err("empty value", "Via")
        return out
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, "Via")


def _parse_contacts(headers):
    out = []
    try:
        for v in (headers._index or headers._idx()).get("contact", ()):
            for item in split_list(v, "Contact", True):
                out.append(NameAddr.parse(item, "Contact"))
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, "Contact")
    if len(out) > 1:
        for c in out:
            if c.star:
                raise _err("'*' must be the only Contact", "Contact")
    return out


def _name_addr(headers, key, name):
    vals = (headers._index or headers._idx()).get(key)
    if not vals:
        raise _err("missing", name)
    if len(vals) > 1:
        raise _err("appears %d times, allowed once" % len(vals), name)
    try:
        na = NameAddr.parse(vals[0], name)
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, name)
    if na.star:
        raise _err("'*' is not an address", name)
    return na


_new = object.__new__


# ---------------------------------------------------------------- messages

class _Message:
    """What requests and responses share: headers, body, typed accessors, serialisation.

    Typed accessors parse on first use and cache in headers._typed (dropped on any change).
    """

    is_request = False

    # via/from_/to/cseq are read for every message by the transaction and dialog layers, so
    # their everyday shapes are matched right here (one regex, no intermediate calls) and built
    # with object.__new__; anything else (several values, odd spacing, IPv6, quoted-pairs,
    # long values) goes to the general parsers below, which raise SipParseError naming the
    # header. Both routes give equal objects.
    @property
    def via(self) -> list:
        h = self.headers
        t = h._typed
        v = t.get("via")
        if v is None:
            vals = (h._index or h._idx()).get("via")
            if vals is not None and len(vals) == 1:
                text = vals[0]
                try:  # MicroPython: a recursion limit in re; take the general parser
                    m = _VIA_FAST.match(text) if len(text) < _FAST_MAX and "," not in text else None
                except RuntimeError:
                    m = None
                if m is not None:
                    if _HAS_GROUPS:
                        transport, host, port, ptext = m.groups()
                    else:
                        transport, host, port, ptext = m.group(1), m.group(2), m.group(3), \
                            m.group(4)
                    if port is not None:
                        port = int(port) if len(port) < 6 else 65536
                    if port is None or port < 65536:
                        x = _new(Via)
                        x.transport = transport
                        x.host = host
                        x.port = port
                        x._ptext = ptext
                        x._params = None if ptext else {}
                        x.protocol = "SIP/2.0"
                        v = t["via"] = [x]
                        return v
            v = t["via"] = _parse_vias(h)
        return v

    def _name_addr_typed(self, key, name):
        # hot path of every message: one regex for the common '<uri>;params' shapes, the
        # general parser for anything else (it names the header when the value is bad)
        h = self.headers
        t = h._typed
        v = t.get(key)
        if v is not None:
            return v
        vals = (h._index or h._idx()).get(key)
        if vals is not None and len(vals) == 1:
            text = vals[0]
            try:  # MicroPython: a recursion limit in re; take the general parser
                m = _NA_FAST.match(text) if len(text) < _FAST_MAX else None
            except RuntimeError:
                m = None
            if m is not None:
                v = _new(NameAddr)
                if _HAS_GROUPS:
                    v.display, v._utext, ptext = m.groups()
                else:
                    v.display, v._utext, ptext = m.group(1), m.group(2), m.group(3)
                v._uri = None
                v._hdr = name
                v._ptext = ptext
                v._params = None if ptext else {}
                v.star = False
                t[key] = v
                return v
        v = t[key] = _name_addr(h, key, name)
        return v

    @property
    def from_(self) -> NameAddr:
        return self._name_addr_typed("from", "From")

    @property
    def to(self) -> NameAddr:
        return self._name_addr_typed("to", "To")

    @property
    def call_id(self) -> str:
        h = self.headers
        t = h._typed
        v = t.get("call-id")
        if v is None:
            v = t["call-id"] = _parse_call_id(h)
        return v

    @property
    def cseq(self) -> CSeq:
        h = self.headers
        t = h._typed
        v = t.get("cseq")
        if v is None:
            vals = (h._index or h._idx()).get("cseq")
            if vals is not None and len(vals) == 1:
                text = vals[0]
                m = _CSEQ_FAST.match(text) if len(text) < 40 else None
                if m is not None:
                    if _HAS_GROUPS:
                        num, method = m.groups()
                    else:
                        num, method = m.group(1), m.group(2)
                    if len(num) < 10:  # < 2**32 without a range check
                        v = _new(CSeq)
                        v.seq = int(num)
                        v.method = method
                        t["cseq"] = v
                        return v
            v = t["cseq"] = _parse_cseq(h)
        return v

    @property
    def contact(self) -> list:
        t = self.headers._typed
        v = t.get("contact")
        if v is None:
            v = t["contact"] = _parse_contacts(self.headers)
        return v

    def _cached(self, key, make):
        typed = self.headers._typed
        v = typed.get(key, typed)
        if v is typed:
            v = make(self.headers)
            typed[key] = v
        return v

    @property
    def max_forwards(self) -> "int | None":
        """Max-Forwards as an int (0-255), or None when absent."""
        return self._cached("max-forwards", _parse_max_forwards)

    @property
    def content_type(self) -> "str | None":
        """Lower-cased media type without parameters ('application/sdp'), or None."""
        return self._cached("content-type", _parse_content_type)

    @property
    def content_length(self) -> "int | None":
        """Declared Content-Length, or None when absent."""
        return self._cached("content-length", _parse_content_length)

    def _start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Wire form: canonical names, CRLF, and a Content-Length that matches the body."""
        lines = [self._start_line()]
        cl = "Content-Length: %d" % len(self.body)
        for key, name, value in self.headers._all():
            if key == "content-length":
                if cl:
                    lines.append(cl)
                    cl = None
            else:
                lines.append(name + ": " + value)
        if cl:
            lines.append(cl)
        lines.append("")
        lines.append("")
        return "\r\n".join(lines).encode() + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def _same(self, other) -> bool:
        # Content-Length is derived from the body on output, so it is not compared.
        if self.body != other.body:
            return False
        a = [(k, v) for k, _, v in self.headers._all() if k != "content-length"]
        b = [(k, v) for k, _, v in other.headers._all() if k != "content-length"]
        return a == b

    def __ne__(self, other) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r


def _parse_call_id(headers):
    vals = (headers._index or headers._idx()).get("call-id")
    if not vals or len(vals) > 1:
        _single(headers, "call-id", "Call-ID")
        raise _err("missing", "Call-ID")
    v = vals[0]
    # callid = word [ "@" word ]; word chars are broad (RFC 4475 §3.1.1.2), so only the
    # shape is checked: non-empty, no whitespace.
    if not v or " " in v or "\t" in v:
        raise _err("bad Call-ID %r" % v[:40], "Call-ID")
    return v


def _parse_cseq(headers):
    vals = (headers._index or headers._idx()).get("cseq")
    if not vals or len(vals) > 1:
        _single(headers, "cseq", "CSeq")
        raise _err("missing", "CSeq")
    try:
        return CSeq.parse(vals[0])
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable value (%s)" % type(e).__name__, "CSeq")


def _parse_max_forwards(headers):
    v = _single(headers, "max-forwards", "Max-Forwards")
    if v is None:
        return None
    # §20.22: 1*DIGIT; the value is 0-255 (leading zeros are fine: RFC 4475 §3.1.1.1 '0068')
    if not _is_digits(v) or int(v) > 255:
        raise _err("bad value %r (0 .. 255)" % v[:20], "Max-Forwards")
    return int(v)


def _parse_content_type(headers):
    v = _single(headers, "content-type", "Content-Type")
    if v is None:
        return None
    media = v.partition(";")[0]
    typ, slash, sub = media.partition("/")
    typ = typ.strip()
    sub = sub.strip()
    if not slash or not TOKEN_RE.match(typ) or not TOKEN_RE.match(sub):
        raise _err("bad media type %r" % v[:40], "Content-Type")
    return (typ + "/" + sub).lower()


def _parse_content_length(headers):
    vals = headers._idx().get("content-length")
    if not vals:
        return None
    n = None
    for v in vals:
        if not _is_digits(v) or len(v) > 10:
            raise _err("bad value %r" % v[:20], "Content-Length")
        if n is not None and int(v) != n:
            raise _err("conflicting values %s" % ", ".join(vals)[:60], "Content-Length")
        n = int(v)
    return n


class Request(_Message):
    """A SIP request: method, raw Request-URI text, headers, body (bytes)."""

    is_request = True

    def __init__(self, method: str, uri, headers=None, body: bytes = b""):
        self.method = method
        self.uri = str(uri)
        if not isinstance(headers, Headers):
            headers = Headers(headers)
        self.headers = headers
        self.body = bytes(body)

    def _start_line(self) -> str:
        return self.method + " " + self.uri + " SIP/2.0"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return self.method == other.method and self.uri == other.uri and self._same(other)

    def __repr__(self) -> str:
        return "<Request %s %s>" % (self.method, self.uri)


class Response(_Message):
    """A SIP response: status code, reason phrase (defaults to the RFC phrase), headers, body."""

    def __init__(self, status: int, reason=None, headers=None, body: bytes = b""):
        self.status = status
        self.reason = REASONS.get(status, "") if reason is None else reason
        if not isinstance(headers, Headers):
            headers = Headers(headers)
        self.headers = headers
        self.body = bytes(body)

    def _start_line(self) -> str:
        return "SIP/2.0 %d %s" % (self.status, self.reason)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status == other.status and self.reason == other.reason
                and self._same(other))

    def __repr__(self) -> str:
        return "<Response %d %s>" % (self.status, self.reason)


# ---------------------------------------------------------------- parsing

def _split_head_slow(data: bytes):
    # §7.5: CRLFs before the start line are ignored (stream keep-alives).
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n", 0, end if end >= 0 else len(data))
    if lf >= 0:
        # bare-LF (or mixed) line ends, as in the RFC 5118 archive: normalise
        head = data[:lf]
        body = data[lf + 2:]
    elif end >= 0:
        head = data[:end]
        body = data[end + 4:]
    else:
        raise _err("header section not terminated by an empty line")
    try:
        text = head.decode()
    except UnicodeError:
        text = _decode_head(head)
    if lf >= 0:
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
        if "\r" in text:
            raise _err("bare CR in header section")
        lines = text.split("\n")
    else:
        lines = text.split("\r\n")
        n = len(lines) - 1
        if text.count("\n") != n or text.count("\r") != n:
            raise _err("bare CR or LF in header section")
    if not lines[0]:
        raise _err("empty start line")
    return lines, body


# name-addr headers whose display name is only shown to people (§20.10, §25.1 display-name)
_DISPLAY_HEADERS = ("from", "f", "to", "t", "contact", "m", "reply-to", "p-asserted-identity",
                    "p-preferred-identity", "referred-by", "b", "remote-party-id", "diversion")


def _decode_head(head: bytes) -> str:
    """The header section as text when it is not all UTF-8 (§7.3.1 wants UTF-8).

    Invalid octets before the '<' of a name-addr header (From, To, Contact, P-Asserted-
    Identity...) sit in its display name, which only a person reads: they are decoded with
    U+FFFD in their place, so an old PBX that sends a Latin-1 "Müller" still gets its call
    through and its OPTIONS answered. Anywhere else (start line, Via, Call-ID, tags, URIs)
    the octets matter to matching and routing: SipParseError naming the header (400)."""
    out = []
    for i, line in enumerate(head.split(b"\n")):
        try:
            out.append(line.decode())
            continue
        except UnicodeError:
            pass
        if i == 0:
            raise _err("start line is not UTF-8")
        name, colon, value = line.partition(b":")
        try:
            hname = name.decode().strip()
        except UnicodeError:
            raise _err("header name is not UTF-8")
        lt = value.find(b"<")
        if colon and lt >= 0 and hname.lower() in _DISPLAY_HEADERS:
            try:
                out.append(hname + ":" + value[:lt].decode("utf-8", "replace") + value[lt:].decode())
                continue
            except UnicodeError:
                pass
        raise _err("not UTF-8", canon(hname)[1] if hname else None)
    return "\n".join(out)


_RURI_RE = re.compile("[A-Za-z][A-Za-z0-9\\+\\-\\.]*:[^\\s<>\"]+$")


def _parse_start(line: str):
    """(True, method, uri) or (False, status, reason) from the start line (§7.1, §7.2)."""
    m = _fast(_STATUS_FAST, line)
    if m is not None:
        code, reason = _groups(m, 2)
        if reason is None:
            reason = ""
        elif "\x00" in reason:
            raise _err("NUL in reason phrase")
        return False, int(code), reason
    if line[:4].upper() == "SIP/":
        version = line[:7]
        if version != "SIP/2.0" or line[7:8] != " ":
            version = line.partition(" ")[0]
            _check_version(version)
        code = line[8:11]
        if not (code.isdigit() and max(code) <= "9") or line[11:12] not in (" ", ""):
            raise _err("bad status code in %r" % line[:40])
        status = int(code)
        if status < 100:
            raise _err("status code %d out of range" % status)
        reason = line[12:]
        if "\x00" in reason:
            raise _err("NUL in reason phrase")
        return False, status, reason
    # Exactly single SPs (§7.1; RFC 4475 §3.1.2.8-10 reject extra or trailing SP).
    parts = line.split(" ")
    if len(parts) != 3:
        raise _err("bad request line %r" % line[:80])
    method, uri, version = parts
    if version != "SIP/2.0":
        _check_version(version)
    if not TOKEN_RE.match(method):
        raise _err("bad method %r" % method[:40])
    # Request-URI = SIP-URI / SIPS-URI / absoluteURI: a scheme, ':' and no <>, quotes,
    # whitespace or NUL (RFC 4475 §3.1.2.7). Its structure is checked by parse_uri()/validate().
    if not _RURI_RE.match(uri) or "\x00" in uri:
        raise _err("bad Request-URI %r" % uri[:80])
    return True, method, uri


_STATUS_FAST = re.compile("SIP/2\\.0 ([1-6][0-9][0-9])(?: (.*))?$")
_REQUEST_FAST = re.compile("([A-Z]+) ([a-z]+:[^ <>\"\t]+) SIP/2\\.0$")


def _parse(data) -> _Message:
    # The hot path, written out flat: every call and attribute lookup here is paid per message.
    end = data.find(b"\r\n\r\n")
    lines = None
    if end > 0 and data[0] != 13 and data[0] != 10:
        try:
            text = data[:end].decode()
        except UnicodeError:
            text = _decode_head(data[:end])
        lines = text.split("\r\n")
        n = len(lines) - 1
        # every CR and LF must be part of a line end; otherwise take the careful path
        if text.count("\n") == n and text.count("\r") == n:
            body = data[end + 4:]
        else:
            lines = None
    if lines is None:
        lines, body = _split_head_slow(data)

    line = lines[0]
    m = _STATUS_FAST.match(line) if len(line) < _FAST_MAX else None
    if m is not None:
        is_req = False
        if _HAS_GROUPS:
            code, reason = m.groups()
        else:
            code, reason = m.group(1), m.group(2)
        if reason is None:
            reason = ""
        elif "\x00" in reason:
            raise _err("NUL in reason phrase")
    else:
        m = _REQUEST_FAST.match(line) if len(line) < _FAST_MAX else None
        if m is not None and "\x00" not in line:
            is_req = True
            if _HAS_GROUPS:
                method, uri = m.groups()
            else:
                method, uri = m.group(1), m.group(2)
        else:
            is_req, method, uri = _parse_start(line)
            if not is_req:
                code, reason = method, uri

    # header index: key -> [values]; a continuation line sends us through unfold() once
    index = {}
    fast = _FAST_KEYS
    try:
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            key = fast.get(name)
            if key is None:
                key = _slow_key(name, sep, line)
            index.setdefault(key, []).append(value.strip())
    except _Fold:
        lines = unfold(lines)
        index = index_lines(lines)
    headers = object.__new__(Headers)
    headers._lines = lines
    headers._items = None
    headers._index = index
    headers._typed = {}

    cl = index.get("content-length")
    if cl is not None:
        v = cl[0]
        if len(cl) == 1 and v.isdigit() and len(v) < 10 and max(v) <= "9":
            n = int(v)
        else:
            n = _parse_content_length(headers)
        if n != len(body):
            if n > len(body):
                raise _err("Content-Length %d exceeds body of %d bytes" % (n, len(body)),
                           "Content-Length")
            body = body[:n]  # §18.3: octets past Content-Length in a datagram are discarded
    if is_req:
        msg = object.__new__(Request)
        msg.method = method
        msg.uri = uri
    else:
        msg = object.__new__(Response)
        msg.status = int(code)
        msg.reason = reason
    msg.headers = headers
    msg.body = body
    return msg


def parse_message(data: bytes) -> "Request | Response":
    """Parse one whole message (a datagram, or a piece cut by StreamFramer).

    Returns a Request or Response; raises SipParseError (and nothing else) when malformed.
    """
    if type(data) is not bytes:
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError("parse_message() takes bytes")
    try:
        return _parse(data)
    except SipParseError:
        raise
    except Exception as e:
        # Safety net for rule 1; reaching it means a parser bug worth a test case.
        raise _err("unparsable message (%s)" % type(e).__name__)


def validate(msg: "Request | Response") -> "Request | Response":
    """The RFC 3261 checks a UA makes before processing (§8.2, §8.1.3.3, §20); returns msg.

    Raises SipParseError naming the header: missing Via/From/To/Call-ID/CSeq, a
    single-instance header repeated, any Via/From/To/Contact/CSeq/Max-Forwards/Content-Type
    malformed, Via not SIP/2.0 (505), CSeq method != request method, CSeq >= 2**32, escaped
    headers in a sip/sips Request-URI (§19.1.1 table), a Date not in GMT (§20.17).
    Not checked (the layer above answers these): URI scheme (416), method (501), Require (420),
    body type (415), branch cookie, missing Max-Forwards (RFC 2543 peers omit it).
    """
    try:
        return _validate(msg)
    except SipParseError:
        raise
    except Exception as e:
        raise _err("unparsable message (%s)" % type(e).__name__)


def _validate(msg):
    h = msg.headers
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if name not in h:
            raise _err("missing mandatory header", name)
    for name in ("From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Type",
                 "Content-Length", "Expires", "Date"):
        if len(h.values(name)) > 1:
            raise _err("appears %d times, allowed once" % len(h.values(name)), name)
    for v in msg.via:
        if v.protocol != "SIP/2.0":
            raise _err("unsupported protocol %r" % v.protocol, "Via", 505)
        v.params  # parsed on first use: touch them so bad ones count here
    for na in [msg.from_, msg.to] + msg.contact:
        na.uri
        na.params
    msg.call_id
    cseq = msg.cseq
    msg.max_forwards
    msg.content_type
    msg.content_length
    if msg.is_request:
        if cseq.method != msg.method:
            raise _err("method %r does not match request method %r"
                       % (cseq.method[:40], msg.method[:40]), "CSeq")
        scheme = msg.uri.partition(":")[0].lower()
        if scheme in ("sip", "sips", "tel"):
            u = _guard(parse_uri, msg.uri, None)
            if u.headers:
                raise _err("headers are not allowed in a Request-URI")
    date = h.get("Date")
    if date is not None and not date.endswith(" GMT"):
        raise _err("not an RFC 1123 GMT date: %r" % date[:40], "Date")
    return msg


# ---------------------------------------------------------------- stream framing

class StreamFramer:
    """Cuts a TCP/TLS byte stream into whole messages by Content-Length (§18.3).

    feed(bytes) returns the list of complete messages (bytes) now available and keeps the
    rest. CRLF keep-alives between messages are skipped (§7.5, RFC 5626 §4.4.1). A framing
    error (bad or conflicting Content-Length, oversized head or body) raises SipParseError;
    the stream cannot be resynchronised, so every later feed() raises it again: close the
    connection.
    """

    def __init__(self, max_head: int = 65536, max_body: int = 1048576):
        self._buf = b""
        self._scan = 0
        self._error = None
        self.max_head = max_head
        self.max_body = max_body

    @property
    def pending(self) -> int:
        """Octets buffered that are not yet a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list:
        if self._error is not None:
            raise self._error
        if data:
            self._buf += bytes(data)
        out = []
        try:
            while True:
                m = self._next()
                if m is None:
                    break
                out.append(m)
        except SipParseError as e:
            self._error = e
            raise
        except Exception as e:
            self._error = _err("unframable stream (%s)" % type(e).__name__)
            raise self._error
        return out

    def _next(self):
        buf = self._buf
        if buf[:1] == b"\r" or buf[:1] == b"\n":
            stripped = buf.lstrip(b"\r\n")
            self._scan = max(0, self._scan - (len(buf) - len(stripped)))
            buf = self._buf = stripped
        if not buf:
            return None
        start = max(0, self._scan - 3)
        end = buf.find(b"\r\n\r\n", start)
        lf = buf.find(b"\n\n", start, end if end >= 0 else len(buf))
        if lf >= 0:
            head_len, sep = lf, 2
        elif end >= 0:
            head_len, sep = end, 4
        else:
            self._scan = len(buf)
            if len(buf) > self.max_head:
                raise _err("header section over %d octets" % self.max_head, None, 513)
            return None
        if head_len > self.max_head:
            raise _err("header section over %d octets" % self.max_head, None, 513)
        n = self._content_length(buf[:head_len])
        if n > self.max_body:
            raise _err("body of %d octets is over %d" % (n, self.max_body), "Content-Length", 513)
        total = head_len + sep + n
        if len(buf) < total:
            self._scan = head_len  # head is known; wait for the body
            return None
        self._buf = buf[total:]
        self._scan = 0
        return buf[:total]

    @staticmethod
    def _content_length(head: bytes) -> int:
        n = None
        for line in head.split(b"\n"):
            if line[:1] == b" " or line[:1] == b"\t":
                continue  # a folded continuation, not a header of its own
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            name = name.strip().lower()
            if name == b"content-length" or name == b"l":
                value = value.strip()
                try:
                    v = value.decode()
                except UnicodeError:
                    v = ""
                if not _is_digits(v) or len(v) > 10:
                    raise _err("bad value %r" % value[:20], "Content-Length")
                if n is not None and n != int(v):
                    raise _err("conflicting values", "Content-Length")
                n = int(v)
        # RFC 3261 §18.3 makes Content-Length mandatory on streams; treat a missing one as 0
        # (what common stacks do) rather than waiting forever.
        return 0 if n is None else n
