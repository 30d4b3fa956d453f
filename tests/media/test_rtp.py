"""RTP packets (RFC 3550 §5.1) and sequence/timestamp arithmetic: tipring/firmware/media/rtp.py."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipring.firmware.media.rtp import (
    PT_PCMA, PT_PCMU, RtpPacket, is_rtcp, seq_diff, seq_gt, seq_lt, ts_diff, uint16_add,
    uint32_add,
)

# A PCMU packet as a softphone sends it: V=2, M=1, PT 0, seq 0x1234, 20 ms of µ-law silence.
PCMU = bytes.fromhex("8080123400000a0011223344") + b"\xff" * 160

# CC=2, X=1 (one-byte header extension profile 0xBEDE, one word), P=1 (4 octets of padding)
FULL = (bytes.fromhex("b208ffff" "fffffff0" "cafebabe" "00000001" "00000002"
                      "bede0001" "10ff0000") + b"\xd5" * 80 + b"\x00\x00\x00\x04")


def test_parse_pcmu():
    p = RtpPacket.parse(PCMU)
    assert (p.payload_type, p.marker, p.sequence_number, p.timestamp, p.ssrc) == (
        PT_PCMU, True, 0x1234, 2560, 0x11223344)
    assert p.payload == b"\xff" * 160 and p.csrc == [] and p.extension is None
    assert p.serialize() == PCMU
    assert repr(p) == "RtpPacket(seq=4660, ts=2560, marker=1, payload=0, 160 bytes)"


def test_parse_csrc_extension_padding_round_trip():
    p = RtpPacket.parse(FULL)
    assert p.payload_type == PT_PCMA and not p.marker
    assert p.csrc == [1, 2]
    assert p.extension_profile == 0xBEDE and p.extension == bytes.fromhex("10ff0000")
    assert p.padding_size == 4 and p.payload == b"\xd5" * 80
    assert p.sequence_number == 0xFFFF and p.timestamp == 0xFFFFFFF0
    assert p.serialize() == FULL
    assert bytes(p) == FULL


def test_build_and_parse():
    p = RtpPacket(PT_PCMA, True, 7, 123456, 0xDEADBEEF, b"abc", csrc=[9],
                  extension_profile=0x1000, extension=b"wxyz", padding_size=3)
    data = p.serialize()
    assert len(data) == 12 + 4 + 8 + 3 + 3
    assert RtpPacket.parse(data) == p


@pytest.mark.parametrize("data, defect", [
    (b"", "too short"),
    (PCMU[:11], "too short"),
    (b"\x40" + PCMU[1:], "bad version 1"),
    (b"\x00" + PCMU[1:], "bad version 0"),
    (b"\x82" + PCMU[1:12] + b"\x00\x00\x00\x01", "truncated CSRC"),
    (b"\x90" + PCMU[1:12] + b"\xbe\xde", "truncated extension header"),
    (b"\x90" + PCMU[1:12] + b"\xbe\xde\x00\x02" + b"1234", "truncated extension"),
    (b"\xa0" + PCMU[1:12], "no padding"),
    (b"\xa0" + PCMU[1:12] + b"ab\x00", "bad padding length 0"),
    (b"\xa0" + PCMU[1:12] + b"ab\x09", "bad padding length 9"),
])
def test_invalid_packets_name_the_defect(data, defect):
    with pytest.raises(ValueError) as e:
        RtpPacket.parse(data)
    assert defect in str(e.value)


def test_padding_may_fill_the_whole_payload():
    p = RtpPacket.parse(b"\xa0" + PCMU[1:12] + b"\x00\x00\x03")
    assert p.payload == b"" and p.padding_size == 3


def test_serialize_rejects_bad_fields():
    with pytest.raises(ValueError):
        RtpPacket(128).serialize()
    with pytest.raises(ValueError):
        RtpPacket(0, extension=b"abc").serialize()
    with pytest.raises(ValueError):
        RtpPacket(0, csrc=list(range(16))).serialize()


@settings(max_examples=2000)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_value_error(data):
    try:
        p = RtpPacket.parse(data)
    except ValueError:
        return
    again = RtpPacket.parse(p.serialize())
    assert again == p


@settings(max_examples=500)
@given(st.binary(min_size=12, max_size=120))
def test_fuzz_valid_version_round_trips(data):
    data = bytes([0x80 | (data[0] & 0x1F)]) + data[1:]   # V=2, P=0, X/CC random
    try:
        p = RtpPacket.parse(data)
    except ValueError as e:
        assert "truncated" in str(e)
        return
    assert p.serialize() == data


@given(st.integers(0, 127), st.booleans(), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_round_trip_property(pt, marker, seq, ts, ssrc, payload):
    p = RtpPacket(pt, marker, seq, ts, ssrc, payload)
    data = p.serialize()
    assert RtpPacket.parse(data) == p
    assert RtpPacket.parse(data).serialize() == data


def test_sequence_arithmetic_wraps():
    assert uint16_add(0xFFFF, 1) == 0
    assert uint16_add(0, -1) == 0xFFFF
    assert uint32_add(0xFFFFFFFF, 2) == 1
    assert seq_lt(0xFFFF, 0) and seq_gt(0, 0xFFFF)
    assert not seq_lt(5, 5) and not seq_gt(5, 5)
    assert seq_diff(2, 0xFFFE) == 4 and seq_diff(0xFFFE, 2) == -4
    assert seq_diff(0x8000, 0) == -0x8000 and seq_diff(0x7FFF, 0) == 0x7FFF
    assert seq_lt(100, 30000) and not seq_lt(100, 40000)


def test_timestamp_difference_is_signed_32_bit():
    assert ts_diff(80, 0xFFFFFFB0) == 160
    assert ts_diff(0xFFFFFFB0, 80) == -160
    assert ts_diff(2**31 - 1, 0) == 2**31 - 1
    assert ts_diff(2**31, 0) == -2**31


def test_rtcp_demultiplexing_rfc5761():
    assert not is_rtcp(PCMU)
    assert is_rtcp(struct.pack("!BBH", 0x80, 200, 6))
    assert is_rtcp(struct.pack("!BBH", 0x81, 201, 7))
    assert not is_rtcp(struct.pack("!BBH", 0x80, 0x80 | 8, 0))   # PCMA with marker
    assert not is_rtcp(b"\x80")
