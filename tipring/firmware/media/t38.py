"""T.38 fax relay in SDP: the `m=image <port> udptl t38` stream and its attributes (ITU-T T.38
Annex D (SIP/SDP call establishment), RFC 3362 (the image/t38 media type), RFC 3264).

What this module owns
---------------------
`T38Params`: the T.38 attributes of one image stream, read from an `m=image` section
(`from_media`), written into one (`to_lines`), and the offer/answer rules of T.38 Annex D.2.3
(`answer_to`, `agreed`). `tipring.firmware.media.sdp` calls it for image streams; the media
side (`tipring.firmware.media.fax_relay`) runs what was agreed. No SIP, socket or clock.

Rules (T.38 Annex D.2.3, as ATAs and spandsp/asterisk apply it)
-----------------------------------------------------------------
1. `T38FaxVersion` (0..3): the answer carries min(offer, ours); both then speak that version.
2. `T38MaxBitRate` (bit/s): the answer carries min(offer, ours); the fastest modem the
   gateway may train is the lower of the two.
3. `T38FaxRateManagement`: `localTCF` or `transferredTCF`; the answer repeats the offer's
   (the gateway runs either). Absent means transferredTCF, the one UDP needs (T.38 §8.3.1).
4. `T38FaxMaxBuffer`, `T38FaxMaxDatagram`: declarative, each side says what it can receive;
   our answer gives ours, and we never send a datagram longer than the peer's MaxDatagram.
5. `T38FaxUdpEC`: `t38UDPRedundancy`, `t38UDPFEC` or `t38UDPNoEC` (absent = none). We send
   redundancy and never FEC: an FEC offer is answered with redundancy (Annex D allows the
   answerer to go down), a redundancy offer with redundancy, none with none.
6. `T38FaxFillBitRemoval`, `T38FaxTranscodingMMR`, `T38FaxTranscodingJBIG`: booleans, present
   (or `:1`) = true. We do none of them, so our answer never carries them (the answer may
   only drop a boolean the offer set, never add one).
7. Bad values (a version that is no number or over 3, an unknown rate management or EC,
   a negative or non-numeric size) raise `SdpError` with status_hint 488 naming the line:
   the re-INVITE gets a clear 488 and the call goes on as it was.
"""

from tipring.firmware.media.sdp import SdpError

RATE_MANAGEMENT = ("localTCF", "transferredTCF")
UDP_EC = ("t38UDPRedundancy", "t38UDPFEC", "t38UDPNoEC")
BOOLEANS = ("T38FaxFillBitRemoval", "T38FaxTranscodingMMR", "T38FaxTranscodingJBIG")
MAX_VERSION = 3
OUR_VERSION = 0           # spandsp 0.0.6's gateway speaks T.38 version 0 by default
OUR_MAX_BIT_RATE = 14400  # V.17 (the gateway runs V.17, V.29, V.27ter)
OUR_MAX_BUFFER = 1800     # the numbers HT802/SPA112 and asterisk announce
OUR_MAX_DATAGRAM = 400


def _lower_names():
    names = {}
    for n in ("T38FaxVersion", "T38MaxBitRate", "T38FaxRateManagement", "T38FaxMaxBuffer",
              "T38FaxMaxDatagram", "T38FaxUdpEC", "T38VendorInfo") + BOOLEANS:
        names[n.lower()] = n
    names["t38faxmaxrate"] = "T38MaxBitRate"      # an old spelling some gateways send
    return names


_NAMES = _lower_names()


def _number(name, value, line, top=None):
    try:
        n = int(value.strip())
    except ValueError:
        raise SdpError("%s is not a number" % name, line, 488)
    if n < 0 or (top is not None and n > top):
        raise SdpError("%s out of range" % name, line, 488)
    return n


def _flag(value):
    return value is None or value.strip() not in ("0", "false", "FALSE")


class T38Params:
    """Represents the T.38 attributes of one image stream (T.38 Annex D)."""

    __slots__ = ("version", "max_bit_rate", "rate_management", "max_buffer", "max_datagram",
                 "udp_ec", "fill_bit_removal", "mmr", "jbig")

    def __init__(self, version=OUR_VERSION, max_bit_rate=OUR_MAX_BIT_RATE,
                 rate_management="transferredTCF", max_buffer=OUR_MAX_BUFFER,
                 max_datagram=OUR_MAX_DATAGRAM, udp_ec="t38UDPRedundancy",
                 fill_bit_removal=False, mmr=False, jbig=False):
        self.version = version
        self.max_bit_rate = max_bit_rate
        self.rate_management = rate_management
        self.max_buffer = max_buffer
        self.max_datagram = max_datagram
        self.udp_ec = udp_ec
        self.fill_bit_removal = fill_bit_removal
        self.mmr = mmr
        self.jbig = jbig

    def __eq__(self, other):
        return isinstance(other, T38Params) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self):
        return "<T38Params v%d %d %s ec=%s dgram=%s>" % (
            self.version, self.max_bit_rate, self.rate_management, self.udp_ec, self.max_datagram)

    @classmethod
    def from_media(cls, m) -> "T38Params":
        """The attributes of an `m=image ... udptl t38` section (rule 7 for bad values).
        Unset ones take the T.38 defaults: version 0, 14400, transferredTCF, no EC."""
        p = cls(0, OUR_MAX_BIT_RATE, "transferredTCF", None, None, None)
        for t, value in m.lines:
            if t != "a":
                continue
            raw, sep, rest = value.partition(":")
            name = _NAMES.get(raw.strip().lower())
            line = "a=" + value
            if name is not None:
                _read(p, name, rest if sep else None, line)
        return p

    def to_lines(self) -> list:
        """The a= values of these parameters, in the order ATAs write them (rule 6)."""
        out = ["T38FaxVersion:%d" % self.version, "T38MaxBitRate:%d" % self.max_bit_rate]
        for name, on in zip(BOOLEANS, (self.fill_bit_removal, self.mmr, self.jbig)):
            if on:
                out.append(name)
        out.append("T38FaxRateManagement:%s" % self.rate_management)
        if self.max_buffer is not None:
            out.append("T38FaxMaxBuffer:%d" % self.max_buffer)
        if self.max_datagram is not None:
            out.append("T38FaxMaxDatagram:%d" % self.max_datagram)
        if self.udp_ec is not None:
            out.append("T38FaxUdpEC:%s" % self.udp_ec)
        return out

    def answer_to(self, offer: "T38Params") -> "T38Params":
        """Our answer to the peer's offered parameters (rules 1-6); `self` is what we can do."""
        ec = {"t38UDPFEC": "t38UDPRedundancy", "t38UDPRedundancy": "t38UDPRedundancy"}.get(offer.udp_ec)
        return T38Params(min(offer.version, self.version), min(offer.max_bit_rate, self.max_bit_rate),
                         offer.rate_management, self.max_buffer, self.max_datagram, ec)

    def agreed(self, theirs: "T38Params", ours: "T38Params") -> "T38Session":
        """What the stream runs: our `ours` (offer or answer) against their `theirs`."""
        return T38Session(min(theirs.version, ours.version),
                          min(theirs.max_bit_rate, ours.max_bit_rate),
                          theirs.rate_management,
                          ours.udp_ec == "t38UDPRedundancy" and theirs.udp_ec in
                          ("t38UDPRedundancy", "t38UDPFEC"),
                          theirs.max_datagram)


def _read(p, name, value, line):
    if name in BOOLEANS:
        attr = {"T38FaxFillBitRemoval": "fill_bit_removal", "T38FaxTranscodingMMR": "mmr",
                "T38FaxTranscodingJBIG": "jbig"}[name]
        setattr(p, attr, _flag(value))
        return
    if name == "T38VendorInfo":
        return
    if value is None:
        raise SdpError("%s needs a value" % name, line, 488)
    if name == "T38FaxVersion":
        p.version = _number(name, value, line, MAX_VERSION)
    elif name == "T38MaxBitRate":
        p.max_bit_rate = _number(name, value, line, 10 ** 6)
    elif name == "T38FaxMaxBuffer":
        p.max_buffer = _number(name, value, line, 10 ** 6)
    elif name == "T38FaxMaxDatagram":
        p.max_datagram = _number(name, value, line, 65535)
    elif name == "T38FaxRateManagement":
        v = value.strip()
        match = [r for r in RATE_MANAGEMENT if r.lower() == v.lower()]
        if not match:
            raise SdpError("T38FaxRateManagement must be localTCF or transferredTCF", line, 488)
        p.rate_management = match[0]
    elif name == "T38FaxUdpEC":
        v = value.strip()
        match = [e for e in UDP_EC if e.lower() == v.lower()]
        if not match:
            raise SdpError("T38FaxUdpEC must be one of %s" % ", ".join(UDP_EC), line, 488)
        p.udp_ec = None if match[0] == "t38UDPNoEC" else match[0]


class T38Session:
    """What a T.38 stream runs after offer/answer: `version`, `max_bit_rate`,
    `rate_management`, `redundancy` (we send t38UDPRedundancy), `peer_max_datagram` (None:
    the peer said nothing, rule 4)."""

    __slots__ = ("version", "max_bit_rate", "rate_management", "redundancy", "peer_max_datagram")

    def __init__(self, version, max_bit_rate, rate_management, redundancy, peer_max_datagram):
        self.version = version
        self.max_bit_rate = max_bit_rate
        self.rate_management = rate_management
        self.redundancy = redundancy
        self.peer_max_datagram = peer_max_datagram

    def __eq__(self, other):
        return isinstance(other, T38Session) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self):
        return "<T38Session v%d %d %s%s>" % (self.version, self.max_bit_rate, self.rate_management,
                                             " redundancy" if self.redundancy else "")


def is_t38(m) -> bool:
    """True for an `m=image <port> udptl t38` section (RFC 3362; names case-insensitive)."""
    return (m.kind.lower() == "image" and m.proto.lower() == "udptl"
            and [f.lower() for f in m.formats] == ["t38"])


def local_params():
    """Our T38Params when this ATA's T.38 engine can run (spandsp, loaded once on first ask:
    tipring/firmware/media/t38_gateway.py), else None: then T.38 is never offered or
    accepted (sdp.py rule 7)."""
    from tipring.firmware.media.t38_gateway import available
    return T38Params() if available() is None else None
