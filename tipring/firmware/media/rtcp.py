"""RTCP packets (RFC 3550 §6) and receiver statistics (RFC 3550 Appendix A.1, A.3, A.8).

What this module owns
---------------------
1. The wire form of the RTCP packets an ATA sends and reads: sender report (SR, §6.4.1),
   receiver report (RR, §6.4.2) with their report blocks, source description with CNAME
   (SDES, §6.5), goodbye (BYE, §6.6), and any other packet type kept whole (`RtcpPacket`), so a
   compound datagram (§6.1) parses and re-serialises byte for byte.
2. `ReceiverStats`: what a receiver learns about one source from its RTP packets: the extended
   highest sequence number, packets expected and lost (A.3), the fraction lost since the last
   report, and the interarrival jitter (A.8); and, from the source's SRs, LSR/DLSR (§6.4.1).

Rules
-----
1. `parse_compound(data)` returns a list of packets or raises `ValueError` naming the defect
   ("truncated RTCP header", "bad version", "RTCP length exceeds datagram", "truncated report
   block", ...). Nothing else escapes it.
2. Sequence validation follows A.1 (MAX_DROPOUT, MAX_MISORDER, the bad_seq restart); there is
   no probation: the call layer already expects this source from the SDP.
3. Times are seconds on the caller's clock (`now`); NTP timestamps are 64-bit ints
   (`ntp_timestamp(seconds)`), the caller adds the offset from its clock to NTP time.
"""

import struct

from tipring.firmware.compat import const
from tipring.firmware.media.rtp import CLOCK_RATE, ts_diff

RTCP_SR = const(200)
RTCP_RR = const(201)
RTCP_SDES = const(202)
RTCP_BYE = const(203)
RTCP_APP = const(204)

SDES_END = const(0)
SDES_CNAME = const(1)

RTCP_HEADER_LENGTH = const(4)
REPORT_BLOCK_LENGTH = const(24)
SENDER_INFO_LENGTH = const(20)

# RFC 3550 Appendix A.1
MAX_DROPOUT = const(3000)
MAX_MISORDER = const(100)
SEQ_MOD = const(0x10000)


def ntp_timestamp(seconds: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point) of `seconds` since the NTP epoch."""
    whole = int(seconds)
    frac = int((seconds - whole) * 4294967296.0) & 0xFFFFFFFF
    return ((whole & 0xFFFFFFFF) << 32) | frac


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp: the LSR field of a report block."""
    return (ntp >> 16) & 0xFFFFFFFF


def _header(pt: int, count: int, body_len: int, padding: bool = False) -> bytes:
    if body_len % 4:
        raise ValueError("RTCP body length %d is not a multiple of 4" % body_len)
    return struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | count, pt, body_len // 4)


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


class ReportBlock:
    """Represents one reception report block (RFC 3550 §6.4.1)."""

    __slots__ = ("ssrc", "fraction_lost", "packets_lost", "highest_sequence", "jitter",
                 "lsr", "dlsr")

    def __init__(self, ssrc: int, fraction_lost: int = 0, packets_lost: int = 0,
                 highest_sequence: int = 0, jitter: int = 0, lsr: int = 0, dlsr: int = 0):
        self.ssrc = ssrc
        self.fraction_lost = fraction_lost
        self.packets_lost = packets_lost
        self.highest_sequence = highest_sequence
        self.jitter = jitter
        self.lsr = lsr
        self.dlsr = dlsr

    def __repr__(self) -> str:
        return "ReportBlock(ssrc=%08x, fraction=%d, lost=%d, highest=%d, jitter=%d)" % (
            self.ssrc, self.fraction_lost, self.packets_lost, self.highest_sequence, self.jitter)

    def __eq__(self, other) -> bool:
        return isinstance(other, ReportBlock) and all(
            getattr(self, k) == getattr(other, k) for k in ReportBlock.__slots__)

    @classmethod
    def parse(cls, data: bytes, pos: int) -> "ReportBlock":
        if pos + REPORT_BLOCK_LENGTH > len(data):
            raise ValueError("truncated report block")
        ssrc, lost_word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, pos)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:  # a signed 24-bit count (duplicates can make it negative)
            lost -= 0x1000000
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)

    def serialize(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.packets_lost)) & 0xFFFFFF
        return struct.pack("!IIIIII", self.ssrc, ((self.fraction_lost & 0xFF) << 24) | lost,
                           self.highest_sequence & 0xFFFFFFFF, self.jitter & 0xFFFFFFFF,
                           self.lsr & 0xFFFFFFFF, self.dlsr & 0xFFFFFFFF)


def _parse_reports(data, pos, end, count):
    reports = []
    for _ in range(count):
        if pos + REPORT_BLOCK_LENGTH > end:
            raise ValueError("truncated report block")
        reports.append(ReportBlock.parse(data, pos))
        pos += REPORT_BLOCK_LENGTH
    return reports, pos


class RtcpSrPacket:
    """Represents a sender report (RFC 3550 §6.4.1): sender info and up to 31 report blocks."""

    packet_type = RTCP_SR

    def __init__(self, ssrc: int, ntp: int = 0, rtp_timestamp: int = 0, packet_count: int = 0,
                 octet_count: int = 0, reports=None, extension: bytes = b""):
        self.ssrc = ssrc
        self.ntp = ntp
        self.rtp_timestamp = rtp_timestamp
        self.packet_count = packet_count
        self.octet_count = octet_count
        self.reports = [] if reports is None else list(reports)
        self.extension = extension  # profile-specific extension (§6.4.1), kept whole

    def __repr__(self) -> str:
        return "RtcpSrPacket(ssrc=%08x, packets=%d, octets=%d, %d reports)" % (
            self.ssrc, self.packet_count, self.octet_count, len(self.reports))

    @classmethod
    def parse(cls, data: bytes, pos: int, end: int, count: int) -> "RtcpSrPacket":
        if pos + 4 + SENDER_INFO_LENGTH > end:
            raise ValueError("truncated sender info")
        ssrc, msw, lsw, rtp_ts, packets, octets = struct.unpack_from("!IIIIII", data, pos)
        reports, pos = _parse_reports(data, pos + 4 + SENDER_INFO_LENGTH, end, count)
        return cls(ssrc, (msw << 32) | lsw, rtp_ts, packets, octets, reports,
                   bytes(data[pos:end]))

    def serialize(self) -> bytes:
        body = struct.pack("!IIIIII", self.ssrc, (self.ntp >> 32) & 0xFFFFFFFF,
                           self.ntp & 0xFFFFFFFF, self.rtp_timestamp & 0xFFFFFFFF,
                           self.packet_count & 0xFFFFFFFF, self.octet_count & 0xFFFFFFFF)
        body += b"".join(r.serialize() for r in self.reports) + self.extension
        return _header(RTCP_SR, len(self.reports), len(body)) + body


class RtcpRrPacket:
    """Represents a receiver report (RFC 3550 §6.4.2)."""

    packet_type = RTCP_RR

    def __init__(self, ssrc: int, reports=None, extension: bytes = b""):
        self.ssrc = ssrc
        self.reports = [] if reports is None else list(reports)
        self.extension = extension

    def __repr__(self) -> str:
        return "RtcpRrPacket(ssrc=%08x, %d reports)" % (self.ssrc, len(self.reports))

    @classmethod
    def parse(cls, data: bytes, pos: int, end: int, count: int) -> "RtcpRrPacket":
        if pos + 4 > end:
            raise ValueError("truncated RR")
        ssrc = struct.unpack_from("!I", data, pos)[0]
        reports, pos = _parse_reports(data, pos + 4, end, count)
        return cls(ssrc, reports, bytes(data[pos:end]))

    def serialize(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(r.serialize() for r in self.reports)
        body += self.extension
        return _header(RTCP_RR, len(self.reports), len(body)) + body


class RtcpSdesPacket:
    """Represents a source description (RFC 3550 §6.5): `chunks` is a list of
    (ssrc, [(item type, bytes), ...]); `cname(ssrc)` reads the CNAME item."""

    packet_type = RTCP_SDES

    def __init__(self, chunks=None):
        self.chunks = [] if chunks is None else list(chunks)

    def __repr__(self) -> str:
        return "RtcpSdesPacket(%r)" % (self.chunks,)

    def cname(self, ssrc: int = None):
        for chunk_ssrc, items in self.chunks:
            if ssrc is None or chunk_ssrc == ssrc:
                for kind, value in items:
                    if kind == SDES_CNAME:
                        return value.decode()
        return None

    @classmethod
    def parse(cls, data: bytes, pos: int, end: int, count: int) -> "RtcpSdesPacket":
        chunks = []
        for _ in range(count):
            if pos + 4 > end:
                raise ValueError("truncated SDES chunk")
            ssrc = struct.unpack_from("!I", data, pos)[0]
            pos += 4
            items = []
            while True:
                if pos >= end:
                    raise ValueError("SDES chunk without end item")
                kind = data[pos]
                if kind == SDES_END:
                    pos += 4 - (pos % 4) if pos % 4 else 4  # null octet(s) to the boundary
                    break
                if pos + 2 > end or pos + 2 + data[pos + 1] > end:
                    raise ValueError("truncated SDES item")
                length = data[pos + 1]
                items.append((kind, bytes(data[pos + 2:pos + 2 + length])))
                pos += 2 + length
            chunks.append((ssrc, items))
        if pos != end:
            raise ValueError("SDES length does not match its chunks")
        return cls(chunks)

    def serialize(self) -> bytes:
        body = b""
        for ssrc, items in self.chunks:
            chunk = struct.pack("!I", ssrc)
            for kind, value in items:
                if len(value) > 255:
                    raise ValueError("SDES item longer than 255 octets")
                chunk += bytes([kind, len(value)]) + value
            chunk += b"\x00"  # the end item; then pad to a 32-bit boundary with more nulls
            body += _pad4(chunk)
        return _header(RTCP_SDES, len(self.chunks), len(body)) + body


class RtcpByePacket:
    """Represents a goodbye (RFC 3550 §6.6): `sources` left, with an optional `reason`."""

    packet_type = RTCP_BYE

    def __init__(self, sources=None, reason: bytes = b""):
        self.sources = [] if sources is None else list(sources)
        self.reason = reason

    def __repr__(self) -> str:
        return "RtcpByePacket(sources=%r)" % (self.sources,)

    @classmethod
    def parse(cls, data: bytes, pos: int, end: int, count: int) -> "RtcpByePacket":
        if pos + 4 * count > end:
            raise ValueError("truncated BYE sources")
        sources = list(struct.unpack_from("!%dI" % count, data, pos)) if count else []
        pos += 4 * count
        reason = b""
        if pos < end:
            length = data[pos]
            if pos + 1 + length > end:
                raise ValueError("truncated BYE reason")
            reason = bytes(data[pos + 1:pos + 1 + length])
        return cls(sources, reason)

    def serialize(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.sources)
        if self.reason:
            body += _pad4(bytes([len(self.reason)]) + self.reason)
        return _header(RTCP_BYE, len(self.sources), len(body)) + body


class RtcpPacket:
    """Represents any other RTCP packet (APP, feedback, XR...), kept whole for relaying."""

    def __init__(self, packet_type: int, count: int = 0, body: bytes = b""):
        self.packet_type = packet_type
        self.count = count
        self.body = body

    def __repr__(self) -> str:
        return "RtcpPacket(type=%d, %d bytes)" % (self.packet_type, len(self.body))

    @classmethod
    def parse(cls, data: bytes, pos: int, end: int, count: int, packet_type: int) -> "RtcpPacket":
        return cls(packet_type, count, bytes(data[pos:end]))

    def serialize(self) -> bytes:
        return _header(self.packet_type, self.count, len(self.body)) + self.body


_CLASSES = {RTCP_SR: RtcpSrPacket, RTCP_RR: RtcpRrPacket, RTCP_SDES: RtcpSdesPacket,
            RTCP_BYE: RtcpByePacket}


def parse_compound(data: bytes) -> list:
    """Parse a compound RTCP datagram (RFC 3550 §6.1) into a list of packets."""
    packets = []
    pos = 0
    n = len(data)
    if n == 0:
        raise ValueError("empty RTCP datagram")
    while pos < n:
        if pos + RTCP_HEADER_LENGTH > n:
            raise ValueError("truncated RTCP header")
        b0, pt, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise ValueError("bad version %d" % (b0 >> 6))
        end = pos + RTCP_HEADER_LENGTH + 4 * words
        if end > n:
            raise ValueError("RTCP length exceeds datagram")
        count = b0 & 0x1F
        body_end = end
        if b0 & 0x20:  # padding: only the last packet may carry it (A.2)
            if end != n:
                raise ValueError("RTCP padding before the last packet")
            if words == 0 or data[end - 1] == 0 or data[end - 1] > 4 * words:
                raise ValueError("bad RTCP padding length")
            body_end = end - data[end - 1]
        body = pos + RTCP_HEADER_LENGTH
        cls = _CLASSES.get(pt)
        if cls is not None:
            packets.append(cls.parse(data, body, body_end, count))
        elif 192 <= pt <= 223:  # RFC 5761 §4: the whole RTCP range
            packets.append(RtcpPacket.parse(data, body, body_end, count, pt))
        else:
            raise ValueError("bad RTCP packet type %d" % pt)
        pos = end
    return packets


def serialize_compound(packets) -> bytes:
    """Concatenate RTCP packets into one compound datagram."""
    return b"".join(p.serialize() for p in packets)


class ReceiverStats:
    """Represents what we know of one RTP source as its receiver (RFC 3550 A.1, A.3, A.8).

    `update(seq, timestamp, arrival)` for every RTP packet of the source (arrival in seconds
    on the caller's clock) returns False for a packet A.1 rejects (a jump we do not yet trust).
    `report_block(now)` builds the block for our next SR/RR and starts a new interval;
    `on_sender_report(ntp, now)` notes an SR for LSR/DLSR.
    """

    def __init__(self, ssrc: int, seq: int, clock_rate: int = CLOCK_RATE):
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.jitter = 0.0  # in timestamp units, as a float; the wire carries int(jitter)
        self._last_arrival = None
        self._last_ts = 0
        self._lsr = 0
        self._lsr_time = None

    def __repr__(self) -> str:
        return "ReceiverStats(ssrc=%08x, received=%d, lost=%d, jitter=%.1f ms)" % (
            self.ssrc, self.received, self.lost, self.jitter_ms)

    def _restart(self, seq):
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0

    def update(self, seq: int, timestamp: int, arrival: float, timing: bool = True) -> bool:
        """Account one received packet (A.1 update_seq, then A.8 jitter). `timing` False
        leaves the jitter alone: packets whose timestamp is no sampling instant (RFC 4733
        events all carry their event's start) would read as jitter."""
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.received == 0 and self._last_arrival is None:
            self.max_seq = seq
        elif udelta < MAX_DROPOUT:
            if seq < self.max_seq:  # in order, with permissible gap, and wrapped
                self.cycles += SEQ_MOD
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:  # two sequential packets: the source restarted
                self._restart(seq)
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: a duplicate or reordered packet, counted below
        self.received += 1

        # A.8: D(i-1, i) = (Rj - Ri) - (Sj - Si), in timestamp units
        if not timing:
            return True
        if self._last_arrival is not None:
            d = (arrival - self._last_arrival) * self.clock_rate - ts_diff(timestamp,
                                                                           self._last_ts)
            if d < 0:
                d = -d
            self.jitter += (d - self.jitter) / 16.0
        self._last_arrival = arrival
        self._last_ts = timestamp
        return True

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost (A.3): expected minus received, clamped to 24 bits signed."""
        return max(-0x800000, min(0x7FFFFF, self.expected - self.received))

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000.0 / self.clock_rate

    def on_sender_report(self, ntp: int, now: float) -> None:
        self._lsr = ntp_middle32(ntp)
        self._lsr_time = now

    def report_block(self, now: float) -> ReportBlock:
        """The report block for this source; starts a new interval for `fraction_lost` (A.3)."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = (lost_interval << 8) // expected_interval
        dlsr = 0
        if self._lsr_time is not None:
            dlsr = int((now - self._lsr_time) * 65536) & 0xFFFFFFFF
        return ReportBlock(self.ssrc, min(fraction, 255), self.lost,
                           self.extended_max & 0xFFFFFFFF, int(self.jitter), self._lsr, dlsr)
