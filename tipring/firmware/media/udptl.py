"""UDPTL, the UDP transport of T.38 fax relay (ITU-T T.38 §9.1, Annex D; RFC 3362 image/t38).

What this module owns
---------------------
The UDPTLPacket of T.38 §9.1 both ways, for one stream: `UdptlEncoder` wraps each IFP packet
(the T.38 message the fax gateway makes, opaque here) with its sequence number and the
redundancy that lets the far end recover lost datagrams; `UdptlDecoder` takes datagrams from
the peer and hands back every IFP packet once, in order, with its sequence number, recovering
what the network lost from the redundancy of later datagrams. Pure computation on bytes: no
socket, no clock, MicroPython's Python (no typing, no dataclasses).

The ASN.1 (T.38 §9.1, ASN.1 aligned PER, X.691)::

    UDPTLPacket ::= SEQUENCE {
        seq-number          INTEGER (0..65535),                       -- 2 octets, big-endian
        primary-ifp-packet  TYPE-IDENTIFIER.&Type(IFPPacket),         -- open type
        error-recovery      CHOICE {
            secondary-ifp-packets SEQUENCE OF TYPE-IDENTIFIER.&Type(IFPPacket),
            fec-info SEQUENCE { fec-npackets INTEGER,
                                fec-data SEQUENCE OF OCTET STRING } } }

Rules
-----
1. Lengths (X.691 §10.9, aligned): an open type or a SEQUENCE OF count is a length determinant:
   one octet 0..127, two octets 10xxxxxx xxxxxxxx for 128..16383; 11xxxxxx starts a fragment
   of 16K units, which no IFP packet needs (T38FaxMaxDatagram is a few hundred octets), so a
   fragment is malformed input here and an IFP of 16384 octets or more is refused on encode.
   An empty open type is one zero octet (X.691 §10.1.3, as asterisk's udptl.c writes it); an
   empty secondary is skipped on decode.
2. Error recovery: the CHOICE is one bit padded to an octet, 0x00 redundancy, 0x80 FEC. We send
   redundancy (T38FaxUdpEC:t38UDPRedundancy), newest secondary first: packet n carries n-1,
   n-2, ... n-k (k = `redundancy`, default 3 as spandsp and asterisk; fewer at the start of
   the stream, and fewer when `max_datagram`, the peer's T38FaxMaxDatagram, would be passed).
   We never send FEC (we answer a t38UDPFEC offer with redundancy, T.38 Annex D.2.3); an FEC
   datagram from a peer that sends it anyway gives its primary, its FEC part is only counted.
3. Receiving (`UdptlDecoder.receive`): the sequence runs mod 65536. A datagram ahead of the one
   expected first yields the missing packets its secondaries carry, oldest first, then its
   primary; what none carries is counted `lost` (the gateway's own sequence check sees the
   gap and says so to its T.30 side). A datagram behind the expected one (a duplicate, or
   one that arrives after a later one already covered it) yields nothing and is counted
   `duplicate`, or `late` when it was never seen. A jump ahead of `MAX_GAP` is a new start of
   the peer's sequence (a restarted peer), not a loss of thousands.
4. Bad input never wins: a datagram that does not parse is counted (`malformed`) and yields
   nothing; `receive` never raises for the peer's bytes.
"""

SEQ_MOD = 65536
MAX_IFP = 16383           # the longest open type a two-octet length determinant can say (rule 1)
MAX_REDUNDANCY = 15       # spandsp and asterisk keep 16-entry histories: up to 15 secondaries
DEFAULT_REDUNDANCY = 3    # spandsp's and asterisk's default for t38UDPRedundancy
MAX_GAP = 1000            # a forward jump larger than this is the peer restarting (rule 3)
EC_REDUNDANCY = 0x00
EC_FEC = 0x80


class UdptlError(ValueError):
    """A datagram that is no UDPTLPacket; the message names the defect."""


# ---------------------------------------------------------------------------- PER pieces

def encode_length(n: int) -> bytes:
    """The aligned-PER length determinant of `n` (0..16383), X.691 §10.9.3.6-7."""
    if n < 0x80:
        return bytes((n,))
    if n <= MAX_IFP:
        return bytes((0x80 | (n >> 8), n & 0xFF))
    raise ValueError("length %d needs PER fragmentation (over %d octets)" % (n, MAX_IFP))


def encode_open_type(data: bytes) -> bytes:
    """An open type: its length determinant, then its octets (empty: one zero octet, rule 1)."""
    if not data:
        data = b"\x00"
    return encode_length(len(data)) + bytes(data)


def decode_length(buf, pos: int) -> tuple:
    """(length, next position) of the length determinant at `pos`; UdptlError when truncated
    or fragmented (rule 1)."""
    if pos >= len(buf):
        raise UdptlError("truncated length at octet %d" % pos)
    first = buf[pos]
    if first & 0x80 == 0:
        return first, pos + 1
    if first & 0x40:
        raise UdptlError("fragmented length (16K units) at octet %d" % pos)
    if pos + 1 >= len(buf):
        raise UdptlError("truncated two-octet length at octet %d" % pos)
    return ((first & 0x3F) << 8) | buf[pos + 1], pos + 2


def decode_open_type(buf, pos: int) -> tuple:
    """(octets, next position) of the open type at `pos`."""
    n, pos = decode_length(buf, pos)
    if pos + n > len(buf):
        raise UdptlError("open type of %d octets runs past the datagram end" % n)
    return bytes(buf[pos:pos + n]), pos + n


def parse(datagram) -> tuple:
    """A UDPTLPacket as (seq, primary IFP, secondaries newest first, fec entries count).
    Raises UdptlError naming the defect (never anything else for bytes)."""
    buf = bytes(datagram)
    if len(buf) < 4:
        raise UdptlError("datagram of %d octets is shorter than any UDPTLPacket" % len(buf))
    seq = (buf[0] << 8) | buf[1]
    primary, pos = decode_open_type(buf, 2)
    if pos >= len(buf):
        raise UdptlError("no error-recovery field")
    kind = buf[pos]
    pos += 1
    if kind & 0x80 == 0:
        count, pos = decode_length(buf, pos)
        secondaries = []
        for _ in range(count):
            ifp, pos = decode_open_type(buf, pos)
            secondaries.append(ifp)
        return seq, primary, secondaries, 0
    # fec-info: fec-npackets as an unconstrained INTEGER (a length octet, then the value),
    # then a SEQUENCE OF OCTET STRING
    n, pos = decode_length(buf, pos)
    if n < 1 or pos + n > len(buf):
        raise UdptlError("bad fec-npackets")
    pos += n
    count, pos = decode_length(buf, pos)
    for _ in range(count):
        _, pos = decode_open_type(buf, pos)
    return seq, primary, [], count


def build(seq: int, primary: bytes, secondaries=()) -> bytes:
    """A UDPTLPacket with redundancy (`secondaries` newest first), T.38 §9.1."""
    if not 0 <= seq < SEQ_MOD:
        raise ValueError("seq-number %r is outside 0..65535" % (seq,))
    out = bytes(((seq >> 8) & 0xFF, seq & 0xFF)) + encode_open_type(primary)
    out += bytes((EC_REDUNDANCY,)) + encode_length(len(secondaries))
    for s in secondaries:
        out += encode_open_type(s)
    return out


# ---------------------------------------------------------------------------- one direction

class UdptlEncoder:
    """Represents the sending side of one UDPTL stream.

    `redundancy`: secondaries per datagram (0..15, default 3); `max_datagram`: the peer's
    T38FaxMaxDatagram (octets), or None for no limit; `first_seq`: the first seq-number.

        enc = UdptlEncoder(redundancy=3, max_datagram=400)
        datagram = enc.encode(ifp)
    """

    def __init__(self, redundancy: int = DEFAULT_REDUNDANCY, max_datagram: int = None,
                 first_seq: int = 0):
        if not 0 <= redundancy <= MAX_REDUNDANCY:
            raise ValueError("redundancy %r is outside 0..%d" % (redundancy, MAX_REDUNDANCY))
        self.redundancy = redundancy
        self.max_datagram = max_datagram
        self.seq = first_seq % SEQ_MOD
        self._history = []        # the last `redundancy` IFP packets sent, newest first
        self.sent = 0

    def encode(self, ifp: bytes) -> bytes:
        """The datagram carrying `ifp` as its primary, with the redundancy rule 2 allows."""
        ifp = bytes(ifp)
        if len(ifp) > MAX_IFP:
            raise ValueError("IFP packet of %d octets is longer than %d" % (len(ifp), MAX_IFP))
        keep = list(self._history)
        data = build(self.seq, ifp, keep)
        while self.max_datagram and len(data) > self.max_datagram and keep:
            keep.pop()             # the oldest secondary goes first
            data = build(self.seq, ifp, keep)
        self.seq = (self.seq + 1) % SEQ_MOD
        self.sent += 1
        if self.redundancy:
            self._history = [ifp] + self._history[:self.redundancy - 1]
        return data


class UdptlDecoder:
    """Represents the receiving side of one UDPTL stream (rules 3 and 4).

    `receive(datagram)` -> list of (seq, ifp) not delivered before, oldest first. Counters:
    `received`, `malformed`, `duplicate`, `late`, `recovered` (delivered from a later
    datagram's redundancy), `lost` (skipped: nothing carried them), `fec` (FEC entries seen,
    not used, rule 2), `restarts` (rule 3)."""

    WINDOW = 64               # how many recent seq-numbers are remembered (rule 3)

    def __init__(self):
        self.expected = None      # the next seq-number in order, None before the first datagram
        self._seen = []           # recent seq-numbers delivered (bounded by WINDOW)
        self.received = 0
        self.malformed = 0
        self.duplicate = 0
        self.late = 0
        self.recovered = 0
        self.lost = 0
        self.fec = 0
        self.restarts = 0
        self.last_error = None

    def _mark(self, seq):
        self._seen.append(seq)
        if len(self._seen) > self.WINDOW:
            del self._seen[0]

    def receive(self, datagram) -> list:
        """The IFP packets `datagram` brings that were not delivered yet, as (seq, ifp)."""
        try:
            seq, primary, secondaries, fec = parse(datagram)
        except UdptlError as e:
            self.malformed += 1
            self.last_error = str(e)
            return []
        self.received += 1
        self.fec += fec
        if self.expected is None:
            self.expected = seq
        ahead = (seq - self.expected) % SEQ_MOD
        if ahead >= SEQ_MOD // 2:           # behind: rule 3
            if seq in self._seen:
                self.duplicate += 1
            else:
                self.late += 1
            return []
        if ahead > MAX_GAP:
            self.restarts += 1
            ahead = 0
        out = []
        # the gap, oldest first: secondary i (0-based, newest first) is seq-1-i
        for back in range(ahead, 0, -1):
            s = (seq - back) % SEQ_MOD
            ifp = secondaries[back - 1] if back <= len(secondaries) else None
            if not ifp:               # not carried, or an empty secondary (rule 1)
                self.lost += 1
                continue
            out.append((s, ifp))
            self.recovered += 1
            self._mark(s)
        out.append((seq, primary))
        self._mark(seq)
        self.expected = (seq + 1) % SEQ_MOD
        return out

    def stats(self) -> dict:
        return {"received": self.received, "malformed": self.malformed,
                "duplicate": self.duplicate, "late": self.late, "recovered": self.recovered,
                "lost": self.lost, "fec": self.fec, "restarts": self.restarts}
