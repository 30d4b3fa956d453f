"""RTP packets (RFC 3550 §5.1) and the 16/32-bit arithmetic of sequence numbers and timestamps.

What this module owns
---------------------
The fixed RTP header, its CSRC list, the one header extension (§5.3.1) and padding, as data
(`RtpPacket`) and as wire bytes both ways; the modular arithmetic every other media module uses
on sequence numbers (16 bits) and timestamps (32 bits); and the RTP/RTCP split of one port
(RFC 5761 §4). It knows no socket, codec or clock.

Rules
-----
1. `RtpPacket.parse(data)` either returns a packet or raises `ValueError` whose message names
   the defect ("packet too short", "bad version 1", "truncated CSRC", "truncated extension
   header", "truncated extension", "bad padding length"). Nothing else escapes it, for any bytes.
2. `serialize()` writes what `parse()` read: a packet parsed from bytes whose padding octets are
   zero (as RFC 3550 §5.1 senders write them) serialises to the same bytes.
3. Sequence numbers compare on the circle (RFC 3550 Appendix A.1, RFC 1982): `seq_lt(a, b)` is
   true when b is less than half the circle ahead of a. `seq_diff(a, b)` is the signed distance
   from b to a; `ts_diff` the same for 32-bit timestamps.

Wire format (RFC 3550 §5.1)::

     0                   1                   2                   3
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |
    |            contributing source (CSRC) identifiers  (CC x 32)  |
    | [profile-defined | extension length] [extension words]        |
    | payload ...                        [padding ... | pad count]  |
"""

import struct

from tipring.firmware.compat import const

RTP_VERSION = const(2)
RTP_HEADER_LENGTH = const(12)
RTP_SEQ_MODULO = const(0x10000)
RTP_TS_MODULO = 1 << 32

# Static payload types of RFC 3551 §6 that an ATA meets, and the 8 kHz clock they share.
PT_PCMU = const(0)
PT_PCMA = const(8)
PT_G722 = const(9)  # RFC 3551 §4.5.2: 16 kHz audio, yet an 8000 Hz RTP clock (tipring/firmware/media/g722.py)
PT_CN = const(13)  # comfort noise (RFC 3389): recognised, not generated
CLOCK_RATE = const(8000)

#: codec name (SDP encoding name) -> static payload type
CODEC_PT = {"PCMU": PT_PCMU, "PCMA": PT_PCMA, "G722": PT_G722}
#: static payload type -> codec name
PT_CODEC = {PT_PCMU: "PCMU", PT_PCMA: "PCMA", PT_G722: "G722"}

# RFC 5761 §4: an RTCP packet's second octet (its packet type) lies in 192..223; those values
# are RTP payload types 64..95 with the marker bit set, which RFC 5761 keeps unassigned.
RTCP_PT_MIN = const(192)
RTCP_PT_MAX = const(223)


# -- modular arithmetic -------------------------------------------------------------------------

def uint16_add(a: int, b: int) -> int:
    """a + b modulo 2**16 (b may be negative)."""
    return (a + b) & 0xFFFF


def uint32_add(a: int, b: int) -> int:
    """a + b modulo 2**32 (b may be negative)."""
    return (a + b) & 0xFFFFFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b of two 16-bit sequence numbers, in -32768..32767."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def seq_lt(a: int, b: int) -> bool:
    """True when sequence number a comes before b on the 16-bit circle."""
    return seq_diff(a, b) < 0


def seq_gt(a: int, b: int) -> bool:
    """True when sequence number a comes after b on the 16-bit circle."""
    return seq_diff(a, b) > 0


def ts_diff(a: int, b: int) -> int:
    """Signed distance a - b of two 32-bit RTP timestamps."""
    d = (a - b) & 0xFFFFFFFF
    return d - RTP_TS_MODULO if d >= 0x80000000 else d


def is_rtcp(data: bytes) -> bool:
    """True when `data` looks like RTCP rather than RTP on a shared port (RFC 5761 §4)."""
    return len(data) >= 2 and RTCP_PT_MIN <= data[1] <= RTCP_PT_MAX


# -- the packet ---------------------------------------------------------------------------------

class RtpPacket:
    """Represents one RTP packet (RFC 3550 §5.1).

    `payload_type` (0-127), `marker` (bool), `sequence_number` (0-65535), `timestamp` (32 bits),
    `ssrc`, `csrc` (list of ints), `extension_profile` and `extension` (bytes, a multiple of 4,
    or None when the X bit is clear), `payload` (bytes) and `padding_size` (0 for none, else the
    count of padding octets including the count octet itself).

        pkt = RtpPacket(PT_PCMU, sequence_number=1, timestamp=160, ssrc=0x1234, payload=codes)
        data = pkt.serialize()
        assert RtpPacket.parse(data).payload == codes
    """

    __slots__ = ("payload_type", "marker", "sequence_number", "timestamp", "ssrc", "csrc",
                 "extension_profile", "extension", "payload", "padding_size")

    def __init__(self, payload_type: int = 0, marker: bool = False, sequence_number: int = 0,
                 timestamp: int = 0, ssrc: int = 0, payload: bytes = b"", csrc=None,
                 extension_profile: int = 0, extension: bytes = None, padding_size: int = 0):
        self.payload_type = payload_type
        self.marker = marker
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.csrc = [] if csrc is None else list(csrc)
        self.extension_profile = extension_profile
        self.extension = extension
        self.padding_size = padding_size

    def __repr__(self) -> str:
        return "RtpPacket(seq=%d, ts=%d, marker=%d, payload=%d, %d bytes)" % (
            self.sequence_number, self.timestamp, self.marker, self.payload_type,
            len(self.payload))

    def __eq__(self, other) -> bool:
        if not isinstance(other, RtpPacket):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in RtpPacket.__slots__)

    @classmethod
    def parse(cls, data: bytes) -> "RtpPacket":
        """Parse one RTP packet; raise ValueError naming the defect."""
        n = len(data)
        if n < RTP_HEADER_LENGTH:
            raise ValueError("RTP packet too short (%d bytes)" % n)
        b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data, 0)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise ValueError("bad version %d" % version)
        has_padding = b0 & 0x20
        has_extension = b0 & 0x10
        cc = b0 & 0x0F
        pos = RTP_HEADER_LENGTH
        end = pos + 4 * cc
        if end > n:
            raise ValueError("truncated CSRC")
        csrc = list(struct.unpack_from("!%dI" % cc, data, pos)) if cc else []
        pos = end

        profile = 0
        extension = None
        if has_extension:
            if pos + 4 > n:
                raise ValueError("truncated extension header")
            profile, words = struct.unpack_from("!HH", data, pos)
            pos += 4
            end = pos + 4 * words
            if end > n:
                raise ValueError("truncated extension")
            extension = bytes(data[pos:end])
            pos = end

        padding = 0
        end = n
        if has_padding:
            if n == pos:
                raise ValueError("padding bit set but no padding")
            padding = data[n - 1]
            if padding == 0:
                raise ValueError("bad padding length 0")
            if padding > n - pos:
                raise ValueError("bad padding length %d (longer than payload)" % padding)
            end = n - padding

        return cls(payload_type=b1 & 0x7F, marker=bool(b1 & 0x80), sequence_number=seq,
                   timestamp=ts, ssrc=ssrc, payload=bytes(data[pos:end]), csrc=csrc,
                   extension_profile=profile, extension=extension, padding_size=padding)

    def serialize(self) -> bytes:
        """The packet as wire bytes (padding octets written as zero)."""
        if not 0 <= self.payload_type <= 127:
            raise ValueError("payload type %d out of range" % self.payload_type)
        if len(self.csrc) > 15:
            raise ValueError("more than 15 CSRCs")
        b0 = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding_size:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        b1 = self.payload_type | (0x80 if self.marker else 0)
        parts = [struct.pack("!BBHII", b0, b1, self.sequence_number & 0xFFFF,
                             self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF)]
        for c in self.csrc:
            parts.append(struct.pack("!I", c))
        if self.extension is not None:
            if len(self.extension) % 4:
                raise ValueError("extension length %d is not a multiple of 4"
                                 % len(self.extension))
            parts.append(struct.pack("!HH", self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding_size:
            if not 0 < self.padding_size <= 255:
                raise ValueError("padding size %d out of range" % self.padding_size)
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)

    __bytes__ = serialize
