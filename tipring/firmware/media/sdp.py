"""SDP (RFC 4566) parsing and writing, and the offer/answer model (RFC 3264) for one voice line.

What this module owns
---------------------
The session description as data (`SessionDescription`, `Media`, `Origin`), its text form both
ways, and the negotiation a phone line does with it: which codec, which address and port,
which direction, which telephone-event payload type, and the `o=` version counter of our side.
It knows no SIP, socket or RTP; the call layer hands it bodies and gets bodies and a
`MediaPlan` back.

Rules
-----
1. Codecs: PCMU (static PT 0), PCMA (PT 8) and G722 (PT 9) at 8000 Hz, plus
   telephone-event/8000 (RFC 4733) on a dynamic PT with `a=fmtp:<pt> 0-16`. Static PTs are
   known without `a=rtpmap` (RFC 3551); dynamic ones only through it. Names compare
   case-insensitively (RFC 4566 §6). G.722 is `G722/8000` although its audio is 16 kHz: RFC
   3551 §4.5.2 keeps the 8000 clock rate of RFC 1890 (`G722/16000` is no codec we know).
   Which codecs a session takes and offers, in order, is its `codecs` (a line's `codecs`
   key): our offer lists them in that order, so the peer's answer can pick our favourite;
   an answer keeps the offer's order (RFC 3264 §6.1 recommends it) among the ones we take.
2. Answering (RFC 3264 §6): one m= line per offered m= line, same order. The first audio
   RTP/AVP or RTP/SAVP stream with a common codec (and the crypto rule 6 asks for) is accepted;
   every other stream (video, a second audio, port 0 in the offer) is rejected with port 0
   (§6, §8.2). The answer keeps the offerer's payload type numbers and order (§6.1). No
   acceptable audio stream at all raises `NoCommonCodec` (status_hint 488, RFC 3261 §13.3.1.1).
3. Direction (RFC 3264 §6.1): the answer's direction is what we want intersected with the
   offer's mirrored: sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive,
   sendrecv -> our wish. Media-level `a=` overrides session-level; none means sendrecv.
   A connection address of 0.0.0.0 (RFC 2543 hold, RFC 3264 §8.4) means the offerer will not
   receive: it counts as hold, like `a=sendonly`.
4. Versions (RFC 3264 §8, RFC 4566 §5.2): our `o=` keeps username, session id and address for
   the whole session; its version goes up by one whenever the SDP we send differs from the last
   one we sent, and stays when it is identical.
5. Bad SDP raises `SdpError` (a ValueError) naming the line, with status_hint 400; every
   negotiation failure has 488.
6. SRTP (RFC 4568 SDES, `tipring.firmware.media.sdes`), by the session's `srtp` mode. "off": RTP/AVP,
   no a=crypto; a crypto offer on RTP/AVP is answered in plain RTP (the "best effort" offers of
   baresip and ATAs allow it), an RTP/SAVP one is refused. "optional": we offer RTP/AVP with
   a=crypto and take an answer with or without it; an offer with a usable a=crypto is answered
   with SRTP. "required": we offer RTP/SAVP with a=crypto; an offer or answer without a usable
   one fails with 488. Our key per suite is drawn once per session (by the `new_key` the I/O
   layer gives) and kept across re-offers, so hold/resume does not re-key; the plan carries
   the keys (`MediaPlan.srtp`, an `SrtpKeys`) and the media side re-keys when they change.

7. T.38 fax relay (`tipring.firmware.media.t38`, T.38 Annex D, RFC 3362): a session with
   `t38` set (our T38Params: the line's T.38 engine can run) answers an `m=image <port>
   udptl t38` stream when the offer has no acceptable audio stream, or always when `t38_mode`
   is on (we asked for fax relay); otherwise the image stream is rejected with port 0 like
   any other. `offer_t38()` offers the image stream alone (a switch to T.38 on a fax tone)
   and turns `t38_mode` on; `offer()` then keeps offering it until an audio plan is agreed
   again. A T.38 plan is a `MediaPlan` with codec "T38", pt None and `t38` the agreed
   `T38Session`.

Theory of operation
-------------------
`parse(text)` -> `SessionDescription`; `sd.to_bytes()` writes it back in RFC 4566 §5 line order
with CRLF. Unknown lines and attributes are kept and written back (attributes in a fixed
order: rtpmap/fmtp per format, ptime, the rest as found, direction last), so a body in that
order re-serialises to the same bytes. `SdpSession(address, port)` is our side of one call's
media: `offer(direction)` makes an offer; `answer(offer_sd, direction)` returns (answer SDP,
`MediaPlan`); `on_answer(answer_sd)` turns the peer's answer (or an early-media 18x answer)
into a `MediaPlan`: where to send, with which PT, whether to send and receive at all.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.media.sdes import (
    DEFAULT_SUITE, KEY_LENGTH, CryptoAttribute, answer_keys, keys_for, offer_choice,
)


class SdpError(ValueError):
    """Malformed or unacceptable SDP. `status_hint`: 400 malformed, 488 not acceptable."""

    def __init__(self, reason: str, line: str = None, status_hint: int = 400):
        self.reason = reason
        self.line = line
        self.status_hint = status_hint
        # super(), not ValueError.__init__(self, ...): MicroPython's built-in exceptions have
        # no __init__ attribute, so that call raised AttributeError in place of SdpError
        super().__init__(reason if line is None else "%s: %r" % (reason, line))


class NoCommonCodec(SdpError):
    """No audio stream with a codec both sides support: answer 488 Not Acceptable Here."""

    def __init__(self, reason: str = "no common audio codec"):
        SdpError.__init__(self, reason, None, 488)


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
           "inactive": "inactive"}
# (send, recv) <-> direction
_FLAGS = {"sendrecv": (True, True), "sendonly": (True, False), "recvonly": (False, True),
          "inactive": (False, False)}
HOLD_ADDRESSES = ("0.0.0.0", "::")
SRTP_MODES = ("off", "optional", "required")
# what we offer, in our preference order: tag -> suite (RFC 4568 §6.2)
OFFER_SUITES = ((1, DEFAULT_SUITE), (2, "AES_CM_128_HMAC_SHA1_32"))

# RFC 3551 static payload types we know: pt -> (name, clock rate)
# (G.722's 8000 is RFC 3551 §4.5.2's clock-rate quirk: 16 kHz audio, an 8 kHz RTP clock)
STATIC_PT = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000)}
CODEC_NAMES = ("PCMU", "PCMA", "G722")
TELEPHONE_EVENT = "telephone-event"


def _direction(send, recv):
    for d, flags in _FLAGS.items():
        if flags == (send, recv):
            return d
    return "inactive"  # pragma: no cover


class Origin:
    """`o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>` (RFC 4566 §5.2)."""

    __slots__ = ("username", "session_id", "version", "nettype", "addrtype", "address")

    def __init__(self, username="-", session_id="0", version=0, nettype="IN",
                 addrtype="IP4", address="0.0.0.0"):
        self.username = username
        self.session_id = session_id
        self.version = version
        self.nettype = nettype
        self.addrtype = addrtype
        self.address = address

    @classmethod
    def parse(cls, value: str) -> "Origin":
        f = value.split()
        if len(f) != 6:
            raise SdpError("o= needs 6 fields", "o=" + value)
        try:
            version = int(f[2])
        except ValueError:
            raise SdpError("o= version is not a number", "o=" + value)
        return cls(f[0], f[1], version, f[3], f[4], f[5])

    def __str__(self):
        return "%s %s %d %s %s %s" % (self.username, self.session_id, self.version,
                                      self.nettype, self.addrtype, self.address)


class Media:
    """One `m=` section: `kind` ("audio"), `port`, `proto` ("RTP/AVP"), `formats` (payload
    type strings in preference order), `connection` (its own c= address or None), `rtpmap`
    (pt -> (name, rate, channels or None)), `fmtp` (pt -> str), `ptime`, `direction` (or None
    when not given here), and `lines`: every other line as (type, value) in order."""

    __slots__ = ("kind", "port", "nports", "proto", "formats", "connection", "conn_addrtype",
                 "rtpmap", "fmtp", "ptime", "direction", "lines")

    def __init__(self, kind="audio", port=0, proto="RTP/AVP", formats=None):
        self.kind = kind
        self.port = port
        self.nports = None
        self.proto = proto
        self.formats = list(formats or [])
        self.connection = None
        self.conn_addrtype = "IP4"
        self.rtpmap = {}
        self.fmtp = {}
        self.ptime = None
        self.direction = None
        self.lines = []

    def codec_name(self, pt):
        """(upper-case name, rate) for payload type `pt` (int), or None when unknown."""
        if pt in self.rtpmap:
            name, rate, _ = self.rtpmap[pt]
            return name.upper(), rate
        if pt in STATIC_PT:
            return STATIC_PT[pt]
        return None

    def __repr__(self):
        return "<Media %s %d %s %s>" % (self.kind, self.port, self.proto, " ".join(self.formats))


class SessionDescription:
    """A parsed SDP body. `origin`, `name` (s=), `connection` (session c= address or None),
    `timing` (t= text), `direction` (session-level or None), `media` (list of `Media`),
    `lines`: other session-level lines as (type, value), kept for writing back."""

    def __init__(self, origin=None, name="-", connection=None, media=None):
        self.version = 0
        self.origin = origin or Origin()
        self.name = name
        self.connection = connection
        self.conn_addrtype = "IP4"
        self.timing = "0 0"
        self.direction = None
        self.media = list(media or [])
        self.lines = []

    # -- reading helpers

    def media_direction(self, m: Media) -> str:
        """Effective direction of `m`: media attribute, else session attribute, else sendrecv."""
        return m.direction or self.direction or "sendrecv"

    def media_address(self, m: Media) -> str:
        addr = m.connection or self.connection
        if addr is None:
            raise SdpError("no c= line for m=%s" % m.kind, status_hint=400)
        return addr

    def is_hold(self, m: Media) -> bool:
        """True when the sender of this SDP will not receive on `m` (RFC 3264 §8.4)."""
        d = self.media_direction(m)
        return d in ("sendonly", "inactive") or self.media_address(m) in HOLD_ADDRESSES

    # -- writing

    def to_bytes(self) -> bytes:
        return serialize(self).encode("utf-8")

    def __bytes__(self):
        return self.to_bytes()

    def __str__(self):
        return serialize(self)

    def __repr__(self):
        return "<SessionDescription o=%s m=%r>" % (self.origin, self.media)


# ---------------------------------------------------------------------------- parsing

def _addr_of(value, line):
    f = value.split()
    if len(f) != 3 or f[0] != "IN":
        raise SdpError("c= needs 'IN <addrtype> <address>'", line)
    addr = f[2].split("/")[0]  # drop multicast TTL / count
    return f[1], addr


def _parse_media_line(value, line):
    f = value.split()
    if len(f) < 4:
        raise SdpError("m= needs media, port, proto and formats", line)
    m = Media(f[0], 0, f[2], f[3:])
    port = f[1]
    if "/" in port:
        port, n = port.split("/", 1)
        try:
            m.nports = int(n)
        except ValueError:
            raise SdpError("bad port count", line)
    try:
        m.port = int(port)
    except ValueError:
        raise SdpError("m= port is not a number", line)
    if not 0 <= m.port <= 65535:
        raise SdpError("m= port out of range", line)
    return m


def _parse_attribute(target, value, line):
    name, sep, rest = value.partition(":")
    if name in DIRECTIONS and not sep:
        target.direction = name
        return True
    if isinstance(target, Media):
        if name == "rtpmap":
            pt, _, enc = rest.partition(" ")
            parts = enc.strip().split("/")
            try:
                ptn = int(pt)
                rate = int(parts[1])
                ch = int(parts[2]) if len(parts) > 2 else None
            except (ValueError, IndexError):
                raise SdpError("bad rtpmap", line)
            target.rtpmap[ptn] = (parts[0], rate, ch)
            return True
        if name == "fmtp":
            pt, _, params = rest.partition(" ")
            try:
                target.fmtp[int(pt)] = params.strip()
            except ValueError:
                raise SdpError("bad fmtp", line)
            return True
        if name == "ptime":
            try:
                target.ptime = int(float(rest.strip()))
            except ValueError:
                raise SdpError("bad ptime", line)
            return True
    return False


def _set_origin(sd, value, line):
    sd.origin = Origin.parse(value)


def _set_name(sd, value, line):
    sd.name = value


def _set_timing(sd, value, line):
    sd.timing = value


def _set_connection(target, value, line):
    target.conn_addrtype, target.connection = _addr_of(value, line)


def _add_attribute(target, value, line):
    if not _parse_attribute(target, value, line):
        target.lines.append(("a", value))


def _second_version(target, value, line):
    raise SdpError("second v= line", line)


# line type -> handler(sd, value, line), for lines that mean something at session level only;
# below an m= line they are kept as unknown lines
_SESSION_LINES = {"o": _set_origin, "s": _set_name, "t": _set_timing}
# line type -> handler(session or current media, value, line); any other type is kept as is
_ANY_LEVEL_LINES = {"c": _set_connection, "a": _add_attribute, "v": _second_version}


def _sdp_lines(data):
    """The non-blank lines of an SDP body, each checked to be `<type>=<value>`."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeError:
            raise SdpError("SDP is not UTF-8")
    for raw in data.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError("not a '<type>=<value>' line", line)
        yield line


def _check_version(line: str) -> None:
    if line[0] != "v":
        raise SdpError("SDP must start with v=", line)
    if line[2:].strip() != "0":
        raise SdpError("unsupported SDP version", line)


def parse(data) -> SessionDescription:
    """Parse an SDP body (bytes or str). Raises `SdpError` naming the offending line."""
    sd = SessionDescription()
    cur = None  # current Media, None at session level
    seen = set()  # line types seen at session level
    for line in _sdp_lines(data):
        t, value = line[0], line[2:]
        if not seen:
            _check_version(line)
            seen.add("v")
        elif t == "m":
            cur = _parse_media_line(value, line)
            sd.media.append(cur)
        elif cur is None and t in _SESSION_LINES:
            _SESSION_LINES[t](sd, value, line)
            seen.add(t)
        else:
            target = sd if cur is None else cur
            handler = _ANY_LEVEL_LINES.get(t)
            if handler is not None:
                handler(target, value, line)
            else:
                target.lines.append((t, value))
    if not seen:
        raise SdpError("empty SDP")
    if "o" not in seen:
        raise SdpError("missing o= line")
    for m in sd.media:
        if m.connection is None and sd.connection is None and m.port != 0:
            raise SdpError("no c= line for m=%s" % m.kind)
    return sd


def serialize(sd: SessionDescription) -> str:
    """SDP text, RFC 4566 §5 order, CRLF line ends."""
    out = _session_text(sd)
    for m in sd.media:
        out += _media_text(m)
    return "\r\n".join(out) + "\r\n"


def _session_text(sd: SessionDescription) -> list:
    out = ["v=0", "o=%s" % sd.origin, "s=%s" % (sd.name or "-")]
    # i= u= e= p= (session lines that precede c=)
    pre = [(t, v) for t, v in sd.lines if t in "iuep"]
    post = [(t, v) for t, v in sd.lines if t not in "iuep"]
    out += ["%s=%s" % tv for tv in pre]
    if sd.connection is not None:
        out.append("c=IN %s %s" % (sd.conn_addrtype, sd.connection))
    out += ["%s=%s" % tv for tv in post if tv[0] == "b"]
    out.append("t=%s" % sd.timing)
    out += ["%s=%s" % tv for tv in post if tv[0] not in "ba"]
    out += ["a=%s" % v for t, v in post if t == "a"]
    if sd.direction:
        out.append("a=%s" % sd.direction)
    return out


def _media_text(m: Media) -> list:
    port = "%d/%d" % (m.port, m.nports) if m.nports else "%d" % m.port
    out = ["m=%s %s %s %s" % (m.kind, port, m.proto, " ".join(m.formats))]
    out += ["%s=%s" % tv for tv in m.lines if tv[0] == "i"]
    if m.connection is not None:
        out.append("c=IN %s %s" % (m.conn_addrtype, m.connection))
    out += ["%s=%s" % tv for tv in m.lines if tv[0] not in "ia"]
    out += _format_attributes(m)
    if m.ptime:
        out.append("a=ptime:%d" % m.ptime)
    out += ["a=%s" % v for t, v in m.lines if t == "a"]
    if m.direction:
        out.append("a=%s" % m.direction)
    return out


def _format_attributes(m: Media) -> list:
    """a=rtpmap and a=fmtp for each numeric format, in the m= line's order."""
    out = []
    for f in m.formats:
        try:
            pt = int(f)
        except ValueError:
            continue
        if pt in m.rtpmap:
            name, rate, ch = m.rtpmap[pt]
            out.append("a=rtpmap:%d %s/%d%s" % (pt, name, rate, "/%d" % ch if ch else ""))
        if pt in m.fmtp:
            out.append("a=fmtp:%d %s" % (pt, m.fmtp[pt]))
    return out


# ---------------------------------------------------------------------- offer/answer

class MediaPlan:
    """What the RTP side does after a negotiation.

    `address`, `port`: where to send RTP (the peer's); `pt`, `codec`: the payload type and
    name ("PCMU"/"PCMA"/"G722") to send with; `codecs`: every common (pt, name) in order, any of which
    may arrive; `dtmf_pt`: telephone-event PT or None; `ptime`: ms per packet to send (the
    peer's wish, default 20); `direction`: ours; `send`/`recv`: booleans from it;
    `remote_hold`: the peer put us on hold (sendonly/inactive or c=0.0.0.0); `srtp`: the
    stream's `tipring.firmware.media.sdes.SrtpKeys`, or None for plain RTP."""

    __slots__ = ("address", "port", "pt", "codec", "codecs", "dtmf_pt", "ptime",
                 "direction", "send", "recv", "remote_hold", "srtp", "t38")

    def __init__(self, address, port, codecs, dtmf_pt, ptime, direction, remote_hold, srtp=None,
                 t38=None):
        self.address = address
        self.port = port
        self.codecs = codecs
        self.pt, self.codec = codecs[0]
        self.dtmf_pt = dtmf_pt
        self.ptime = ptime
        self.direction = direction
        self.send, self.recv = _FLAGS[direction]
        self.remote_hold = remote_hold
        self.srtp = srtp
        self.t38 = t38          # the agreed T38Session of a fax relay plan (rule 7), else None

    def __repr__(self):
        if self.t38 is not None:
            return "<MediaPlan T38 %s:%d %s>" % (self.address, self.port, self.t38)
        return "<MediaPlan %s %s:%d pt=%d %s dtmf=%s%s>" % (
            self.codec, self.address, self.port, self.pt, self.direction, self.dtmf_pt,
            " %s" % self.srtp.suite if self.srtp else "")


def _common(m: Media, codecs):
    """(pt, name) of m's formats that we support, in m's order, and the telephone-event PT."""
    common = []
    dtmf = None
    for f in m.formats:
        try:
            pt = int(f)
        except ValueError:
            continue
        cn = m.codec_name(pt)
        if cn is None:
            continue
        name, rate = cn
        if name == TELEPHONE_EVENT.upper() and rate == 8000:
            if dtmf is None:
                dtmf = pt
        elif name in codecs and rate == 8000:
            common.append((pt, name))
    return common, dtmf


def _usable(m: Media):
    return m.kind == "audio" and m.proto.upper() in ("RTP/AVP", "RTP/SAVP") and m.port != 0


class SdpSession:
    """Represents our side of the media of one call: the SDP we send and how it evolves.

    `address`: our RTP address (IPv4 text); `port`: our RTP port; `codecs`: names we accept,
    in our preference order, among PCMU, PCMA, G722 (default PCMU, PCMA); `dtmf_pt`: PT we offer for telephone-event
    (default 101, None to not offer it); `ptime`: our packetisation (20 ms); `username` and
    `session_id` for o= (session id defaults to a random number); `srtp`: "off", "optional"
    or "required" (rule 6), with `new_key(n) -> n random bytes` (os.urandom) to draw our keys.

        sdp = SdpSession("192.0.2.10", 40000)
        body = sdp.offer().to_bytes()               # INVITE
        plan = sdp.on_answer(parse(resp.body))       # 200 OK
    """

    def __init__(self, address: str, port: int, codecs=("PCMU", "PCMA"), dtmf_pt: int = 101,
                 ptime: int = 20, username: str = "tipring", session_id: str = None,
                 srtp: str = "off", new_key=None, t38=None):
        if srtp not in SRTP_MODES:
            raise ValueError("srtp must be one of %s" % ", ".join(SRTP_MODES))
        if srtp != "off" and new_key is None:
            raise ValueError("srtp %r needs a key source (new_key)" % srtp)
        self.srtp = srtp
        self._new_key = new_key
        self._keys = {}       # suite -> our CryptoAttribute for it (our sending key), kept
        self._offered_crypto = {}   # tag -> CryptoAttribute of our last offer
        self.address = address
        self.port = port
        self.codecs = tuple(c.upper() for c in codecs)
        unknown = [c for c in self.codecs if c not in CODEC_NAMES]
        if unknown or not self.codecs:
            raise ValueError("codecs must name some of %s, not %r" % (", ".join(CODEC_NAMES),
                                                                      list(codecs)))
        self.dtmf_pt = dtmf_pt
        self.ptime = ptime
        if session_id is None:
            session_id = str(int(random_hex(4), 16))
        self.origin = Origin(username, session_id, 0, "IN", "IP4", address)
        self._last = None   # text (minus o=) of the last SDP we produced
        self._offered = None  # our last offer, to read the answer against
        self.remote_version = None  # o= version last seen from the peer
        self.t38 = t38              # our T38Params when T.38 relay can run, else None (rule 7)
        self.t38_mode = False       # we offer T.38 (rule 7)

    def __repr__(self):
        return "<SdpSession %s:%d v%d>" % (self.address, self.port, self.origin.version)

    def _stamp(self, sd):
        """Set o= on `sd`, bumping the version only when the content changed (rule 4)."""
        body = serialize(sd).split("\r\n", 2)[2]  # without v= and o=
        body = body + "|%s" % self.address
        if self._last is not None and body != self._last:
            self.origin.version += 1
        self._last = body
        self.origin.address = self.address
        sd.origin = Origin(self.origin.username, self.origin.session_id, self.origin.version,
                           "IN", "IP4", self.address)
        return sd

    def _ours(self, tag, suite):
        """Our crypto attribute for `suite` under `tag`: the session's key for that suite."""
        mine = self._keys.get(suite.upper())
        if mine is None:
            key = bytes(self._new_key(KEY_LENGTH))
            if len(key) != KEY_LENGTH:
                raise ValueError("key source gave %d bytes, not %d" % (len(key), KEY_LENGTH))
            mine = self._keys[suite.upper()] = CryptoAttribute(tag, suite.upper(), key)
        return CryptoAttribute(tag, suite, mine.key)

    def _audio(self, direction, formats=None, rtpmap=None, fmtp=None, proto="RTP/AVP"):
        m = Media("audio", self.port, proto)
        m.formats = formats
        m.rtpmap = rtpmap
        m.fmtp = fmtp
        m.ptime = self.ptime
        m.direction = direction
        return m

    def offer(self, direction: str = "sendrecv") -> SessionDescription:
        """A new offer (initial, or a re-offer for hold/resume/new address). Hold is
        direction="sendonly" (or "inactive" when the peer already holds us), RFC 3264 §8.4."""
        if direction not in DIRECTIONS:
            raise ValueError("direction must be one of %s" % ", ".join(DIRECTIONS))
        if self.t38_mode and self.t38 is not None:
            return self.offer_t38(direction)
        formats, rtpmap, fmtp = [], {}, {}
        for name in self.codecs:
            for pt, (n, rate) in STATIC_PT.items():
                if n == name:
                    formats.append(str(pt))
                    rtpmap[pt] = (n, rate, None)
        if self.dtmf_pt is not None:
            formats.append(str(self.dtmf_pt))
            rtpmap[self.dtmf_pt] = (TELEPHONE_EVENT, 8000, None)
            fmtp[self.dtmf_pt] = "0-16"
        m = self._audio(direction, formats, rtpmap, fmtp,
                        "RTP/SAVP" if self.srtp == "required" else "RTP/AVP")
        self._offered_crypto = {}
        if self.srtp != "off":
            for tag, suite in OFFER_SUITES:
                a = self._offered_crypto[tag] = self._ours(tag, suite)
                m.lines.append(("a", "crypto:%s" % a))
        sd = SessionDescription(name="tipring", connection=self.address, media=[m])
        self._offered = sd
        return self._stamp(sd)

    def offer_t38(self, direction: str = "sendrecv") -> SessionDescription:
        """An offer of T.38 fax relay alone (rule 7): `m=image <our port> udptl t38`."""
        if self.t38 is None:
            raise ValueError("T.38 is not available in this session")
        self.t38_mode = True
        m = _image(self.port, self.t38, direction)
        sd = SessionDescription(name="tipring", connection=self.address, media=[m])
        self._offered = sd
        return self._stamp(sd)

    def _answer_t38(self, offer, m, direction):
        """(our image Media, MediaPlan) for the offered image stream `m` (rule 7)."""
        from tipring.firmware.media.t38 import T38Params
        theirs = T38Params.from_media(m)
        ours = self.t38.answer_to(theirs)
        offer_dir = offer.media_direction(m)
        o_send, o_recv = _FLAGS[offer_dir]
        w_send, w_recv = _FLAGS[direction]
        mine = _direction(w_send and o_recv, w_recv and o_send)
        plan = MediaPlan(offer.media_address(m), m.port, [(None, "T38")], None, 20, mine,
                         offer.is_hold(m), None, ours.agreed(theirs, ours))
        return _image(self.port, ours, mine if mine != "sendrecv" else None), plan

    def _t38_choice(self, offer):
        """The index of the offered image stream we take (rule 7), or None."""
        if self.t38 is None:
            return None
        from tipring.firmware.media.t38 import is_t38
        image = [i for i, m in enumerate(offer.media) if m.port != 0 and is_t38(m)]
        if not image:
            return None
        audio = [m for m in offer.media if _usable(m) and _common(m, self.codecs)[0]]
        return image[0] if self.t38_mode or not audio else None

    def answer(self, offer: SessionDescription, direction: str = "sendrecv") -> tuple:
        """Answer `offer` (RFC 3264 §6). Returns (answer SessionDescription, MediaPlan).
        Raises `NoCommonCodec` (488) when no audio stream can be accepted."""
        if direction not in DIRECTIONS:
            raise ValueError("direction must be one of %s" % ", ".join(DIRECTIONS))
        self.remote_version = offer.origin.version
        out = []
        plan = None
        why = None
        image = self._t38_choice(offer)
        for i, m in enumerate(offer.media):
            if i == image:
                a, plan = self._answer_t38(offer, m, direction)
                out.append(a)
                continue
            if plan is None and image is None and _usable(m):
                common, dtmf = _common(m, self.codecs)
                crypto, refused = offer_choice(self.srtp, m.proto, m.lines)
                why = why or refused
                if common and not refused:
                    addr = offer.media_address(m)
                    hold = offer.is_hold(m)
                    offer_dir = offer.media_direction(m)
                    o_send, o_recv = _FLAGS[offer_dir]
                    if addr in HOLD_ADDRESSES:
                        o_recv = False
                    w_send, w_recv = _FLAGS[direction]
                    mine = _direction(w_send and o_recv, w_recv and o_send)
                    formats = [str(pt) for pt, _ in common]
                    rtpmap = dict((pt, (n, 8000, None)) for pt, n in common)
                    fmtp = {}
                    if dtmf is not None and self.dtmf_pt is not None:
                        formats.append(str(dtmf))
                        rtpmap[dtmf] = (m.rtpmap[dtmf][0], 8000, None)
                        fmtp[dtmf] = "0-16"
                    else:
                        dtmf = None
                    a = self._audio(mine, formats, rtpmap, fmtp, m.proto)
                    keys = None
                    if crypto is not None:
                        ours = self._ours(crypto.tag, crypto.suite)
                        a.lines.append(("a", "crypto:%s" % ours))
                        keys = keys_for(ours, crypto)
                    out.append(a)
                    plan = MediaPlan(addr, m.port, common, dtmf, m.ptime or 20, mine, hold, keys)
                    continue
            rejected = Media(m.kind, 0, m.proto, m.formats or ["0"])
            out.append(rejected)
        if plan is None:
            raise NoCommonCodec(why or "no acceptable audio stream in the offer (we take %s)"
                                % "/".join(self.codecs + (("T.38",) if self.t38 else ())))
        self.t38_mode = plan.t38 is not None
        sd = SessionDescription(name="tipring", connection=self.address, media=out)
        return self._stamp(sd), plan

    def on_answer(self, answer: SessionDescription) -> MediaPlan:
        """Read the peer's answer to our last offer. Raises `NoCommonCodec` when our audio
        stream was rejected or the answer names no codec we offered, `SdpError` when it does
        not match the offer's shape."""
        if self._offered is None:
            raise SdpError("answer without an offer", status_hint=488)
        if len(answer.media) != len(self._offered.media):
            raise SdpError("answer has %d m= lines, offer had %d"
                           % (len(answer.media), len(self._offered.media)), status_hint=488)
        self.remote_version = answer.origin.version
        m = answer.media[0]
        if self._offered.media[0].kind == "image":
            return self._t38_answered(answer, m)
        self.t38_mode = False
        if not _usable(m):
            raise NoCommonCodec("peer rejected our audio stream")
        common, dtmf = _common(m, self.codecs)
        if not common:
            raise NoCommonCodec("answer names no codec we offered")
        if self.dtmf_pt is None:
            dtmf = None
        ours = self._offered.media[0].direction or "sendrecv"
        a_send, a_recv = _FLAGS[answer.media_direction(m)]
        addr = answer.media_address(m)
        if addr in HOLD_ADDRESSES:
            a_recv = False
        w_send, w_recv = _FLAGS[ours]
        mine = _direction(w_send and a_recv, w_recv and a_send)
        try:
            keys = answer_keys(self.srtp, m.proto, m.lines, self._offered_crypto)
        except ValueError as e:
            raise SdpError(str(e), status_hint=488)
        return MediaPlan(addr, m.port, common, dtmf, m.ptime or 20, mine, answer.is_hold(m), keys)

    def _t38_answered(self, answer, m):
        """The peer's answer to our T.38 offer (rule 7)."""
        from tipring.firmware.media.t38 import T38Params, is_t38
        if m.port == 0 or not is_t38(m):
            raise NoCommonCodec("peer rejected our T.38 stream")
        theirs = T38Params.from_media(m)
        ours = self.t38
        a_send, a_recv = _FLAGS[answer.media_direction(m)]
        w_send, w_recv = _FLAGS[self._offered.media[0].direction or "sendrecv"]
        mine = _direction(w_send and a_recv, w_recv and a_send)
        return MediaPlan(answer.media_address(m), m.port, [(None, "T38")], None, 20, mine,
                         answer.is_hold(m), None, ours.agreed(theirs, ours))


def _image(port, params, direction=None) -> Media:
    """An `m=image <port> udptl t38` section with `params`' attributes (T.38 Annex D)."""
    m = Media("image", port, "udptl", ["t38"])
    m.lines = [("a", v) for v in params.to_lines()]
    m.direction = direction if direction != "sendrecv" else None
    return m
