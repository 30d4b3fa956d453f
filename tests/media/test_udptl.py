"""UDPTL (tipring/firmware/media/udptl.py): T.38 §9.1 UDPTLPacket both ways.

The byte vectors follow the encoder of asterisk's main/udptl.c (`udptl_build_packet`,
`encode_open_type`, `encode_length`, written by spandsp's author Steve Underwood), which peers
in the field run: 2 octets seq-number, the primary as an open type, 0x00 for the
redundancy CHOICE, a one-octet count, then the secondaries newest first (`j = entry - i - 1`),
and for the FEC CHOICE 0x80, an unconstrained INTEGER as 0x01 <span>, the entry count and
the XOR entries. The IFP octets used are real T.38 indicator packets as spandsp's t38_core
writes them for T.38 version 0 (`indicator << 1`: 0x02 CNG, 0x04 CED, 0x06 V.21 preamble).
"""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipring.firmware.media import udptl
from tipring.firmware.media.udptl import UdptlDecoder, UdptlEncoder, UdptlError

CNG, CED, V21 = b"\x02", b"\x04", b"\x06"


# ---------------------------------------------------------------------------- byte vectors

def test_first_packet_has_no_secondaries():
    enc = UdptlEncoder()
    assert enc.encode(CNG) == bytes.fromhex("0000" "0102" "00" "00")


def test_redundancy_grows_to_three_newest_first():
    enc = UdptlEncoder(redundancy=3)
    out = [enc.encode(ifp) for ifp in (CNG, CNG, CED, V21, V21)]
    assert out[1] == bytes.fromhex("0001" "0102" "00" "01" "0102")
    assert out[2] == bytes.fromhex("0002" "0104" "00" "02" "0102" "0102")
    assert out[3] == bytes.fromhex("0003" "0106" "00" "03" "0104" "0102" "0102")
    assert out[4] == bytes.fromhex("0004" "0106" "00" "03" "0106" "0104" "0102")


def test_long_ifp_takes_a_two_octet_length():
    ifp = bytes(range(200))
    data = UdptlEncoder(redundancy=0).encode(ifp)
    assert data[:5] == bytes.fromhex("0000" "80c8" "00")
    assert data[4:4 + 200] == ifp and data[-2:] == b"\x00\x00"


def test_empty_open_type_is_one_zero_octet():
    assert udptl.encode_open_type(b"") == b"\x01\x00"
    assert udptl.encode_length(127) == b"\x7f" and udptl.encode_length(128) == b"\x80\x80"
    assert udptl.encode_length(16383) == b"\xbf\xff"
    with pytest.raises(ValueError):
        udptl.encode_length(16384)


def test_parse_fec_datagram_gives_its_primary():
    # asterisk's FEC branch: 0x80, 0x01 <span=3>, <entries=2>, two XOR entries
    data = bytes.fromhex("0007" "0106" "80" "0103" "02" "020102" "01ff")
    seq, primary, secondaries, fec = udptl.parse(data)
    assert (seq, primary, secondaries, fec) == (7, V21, [], 2)
    dec = UdptlDecoder()
    assert dec.receive(data) == [(7, V21)] and dec.fec == 2


def test_seq_wraps():
    enc = UdptlEncoder(first_seq=65535)
    a, b = enc.encode(CNG), enc.encode(CED)
    assert a[:2] == b"\xff\xff" and b[:2] == b"\x00\x00"
    dec = UdptlDecoder()
    assert dec.receive(a) == [(65535, CNG)] and dec.receive(b) == [(0, CED)]


def test_max_datagram_drops_oldest_secondaries():
    enc = UdptlEncoder(redundancy=3, max_datagram=2 + 2 + 50 + 2 + 2 * 51)
    packets = [bytes([i]) * 50 for i in range(4)]
    out = [enc.encode(p) for p in packets]
    seq, primary, secondaries, _ = udptl.parse(out[3])
    assert len(out[3]) <= enc.max_datagram
    assert primary == packets[3] and secondaries == [packets[2], packets[1]]


# ---------------------------------------------------------------------------- receiving

def test_loss_recovered_from_redundancy():
    enc = UdptlEncoder(redundancy=3)
    ifps = [bytes([i, i]) for i in range(10)]
    dgs = [enc.encode(i) for i in ifps]
    dec = UdptlDecoder()
    got = []
    for k, d in enumerate(dgs):
        if k in (3, 4, 5):          # three in a row lost: the next one carries all three
            continue
        got += dec.receive(d)
    assert got == list(enumerate(ifps))
    assert (dec.recovered, dec.lost) == (3, 0)


def test_loss_beyond_redundancy_is_counted():
    enc = UdptlEncoder(redundancy=1)
    dgs = [enc.encode(bytes([i])) for i in range(6)]
    dec = UdptlDecoder()
    got = [s for d in (dgs[0], dgs[4], dgs[5]) for s, _ in dec.receive(d)]
    assert got == [0, 3, 4, 5] and dec.lost == 2 and dec.recovered == 1


def test_duplicates_and_late_packets_yield_nothing():
    enc = UdptlEncoder(redundancy=2)
    dgs = [enc.encode(bytes([i + 1])) for i in range(4)]
    dec = UdptlDecoder()
    assert dec.receive(dgs[0]) == [(0, b"\x01")]
    assert dec.receive(dgs[2]) == [(1, b"\x02"), (2, b"\x03")]
    assert dec.receive(dgs[1]) == [] and dec.receive(dgs[2]) == []
    assert dec.duplicate == 2
    dec2 = UdptlDecoder()
    enc0 = UdptlEncoder(redundancy=0)
    d0, d1, d2 = (enc0.encode(b"\x09") for _ in range(3))
    dec2.receive(d0)
    dec2.receive(d2)
    assert dec2.receive(d1) == [] and dec2.late == 1 and dec2.lost == 1


@pytest.mark.parametrize("bad", [
    b"", b"\x00", b"\x00\x01\x05\x02", b"\x00\x01\x01\x02",          # short, past the end, no EC
    b"\x00\x01\xc1\x02\x00\x00",                                      # fragmented length
    b"\x00\x01\x01\x02\x00\x02\x01\x02",                              # two secondaries, one there
    b"\x00\x01\x01\x02\x80\x00",                                      # FEC with no fec-npackets
    b"\x00\x01\x81",                                                  # truncated 2-octet length
])
def test_malformed_is_counted_not_raised(bad):
    dec = UdptlDecoder()
    assert dec.receive(bad) == []
    assert dec.malformed == 1 and dec.last_error
    with pytest.raises(UdptlError):
        udptl.parse(bad)


def test_restart_of_the_peer_sequence():
    dec = UdptlDecoder()
    dec.receive(udptl.build(5, CNG))
    assert dec.receive(udptl.build(3000, CED)) == [(3000, CED)]
    assert dec.restarts == 1 and dec.lost == 0


# ---------------------------------------------------------------------------- properties

ifp_st = st.binary(min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(st.lists(ifp_st, min_size=1, max_size=40), st.integers(0, 5), st.integers(0, 65535))
def test_round_trip_in_order(ifps, redundancy, first):
    enc = UdptlEncoder(redundancy=redundancy, first_seq=first)
    dec = UdptlDecoder()
    got = []
    for i in ifps:
        got += dec.receive(enc.encode(i))
    assert [x for _, x in got] == ifps
    assert [s for s, _ in got] == [(first + k) % 65536 for k in range(len(ifps))]


@settings(max_examples=200, deadline=None)
@given(st.lists(ifp_st, min_size=2, max_size=60), st.integers(1, 4), st.randoms())
def test_losses_up_to_redundancy_are_all_recovered(ifps, redundancy, rnd):
    """Any loss pattern with at most `redundancy` consecutive datagrams lost (and the last one
    arriving) delivers every IFP packet exactly once, in order."""
    enc = UdptlEncoder(redundancy=redundancy)
    dgs = [enc.encode(i) for i in ifps]
    keep, run = [], 0
    for k in range(len(dgs)):
        drop = k not in (0, len(dgs) - 1) and run < redundancy and rnd.random() < 0.5
        run = run + 1 if drop else 0
        if not drop:
            keep.append(dgs[k])
    dec = UdptlDecoder()
    got = [x for d in keep for x in dec.receive(d)]
    assert [x for _, x in got] == ifps and dec.lost == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_never_raise(data):
    dec = UdptlDecoder()
    out = dec.receive(data)
    assert dec.malformed + dec.received == 1
    assert all(isinstance(s, int) and isinstance(x, bytes) for s, x in out)


def test_random_reordering_never_delivers_twice():
    rnd = random.Random(7)
    enc = UdptlEncoder(redundancy=3)
    dgs = [enc.encode(bytes([i % 256, 1])) for i in range(300)]
    order = list(range(300))
    for i in range(0, 300, 5):           # local swaps, as a jittery path does
        j = min(299, i + rnd.randrange(3))
        order[i], order[j] = order[j], order[i]
    dec = UdptlDecoder()
    seqs = [s for k in order for s, _ in dec.receive(dgs[k])]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
    assert len(seqs) + dec.lost + dec.late == 300 and dec.lost == 0
