"""RTCP packets (RFC 3550 §6) and receiver statistics (Appendix A.1, A.3, A.8)."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipring.firmware.media.rtcp import (
    RTCP_APP, SDES_CNAME, ReceiverStats, ReportBlock, RtcpByePacket, RtcpPacket, RtcpRrPacket,
    RtcpSdesPacket, RtcpSrPacket, ntp_middle32, ntp_timestamp, parse_compound,
    serialize_compound,
)

BLOCK = ReportBlock(0x11223344, fraction_lost=25, packets_lost=-3, highest_sequence=70000,
                    jitter=41, lsr=0xAABBCCDD, dlsr=65536)


def compound():
    sr = RtcpSrPacket(0xCAFEBABE, ntp_timestamp(3900000000.25), 16000, 50, 8000, [BLOCK])
    sdes = RtcpSdesPacket([(0xCAFEBABE, [(SDES_CNAME, b"tipring@192.0.2.1")])])
    bye = RtcpByePacket([0xCAFEBABE], b"hangup")
    return [sr, sdes, bye]


def test_sr_sdes_bye_compound_round_trip():
    data = serialize_compound(compound())
    assert len(data) % 4 == 0
    sr, sdes, bye = parse_compound(data)
    assert isinstance(sr, RtcpSrPacket) and sr.ssrc == 0xCAFEBABE
    assert sr.ntp == ntp_timestamp(3900000000.25) and sr.ntp & 0xFFFFFFFF == 0x40000000
    assert (sr.rtp_timestamp, sr.packet_count, sr.octet_count) == (16000, 50, 8000)
    assert sr.reports == [BLOCK] and sr.reports[0].packets_lost == -3
    assert sdes.cname(0xCAFEBABE) == "tipring@192.0.2.1" and sdes.cname(1) is None
    assert bye.sources == [0xCAFEBABE] and bye.reason == b"hangup"
    assert serialize_compound([sr, sdes, bye]) == data


def test_sr_wire_layout():
    sr = RtcpSrPacket(1, 0x0102030405060708, 3, 4, 5)
    assert sr.serialize() == bytes.fromhex(
        "80c80006" "00000001" "01020304" "05060708" "00000003" "00000004" "00000005")


def test_rr_and_app_round_trip():
    rr = RtcpRrPacket(7, [BLOCK, ReportBlock(8)])
    app = RtcpPacket(RTCP_APP, 1, b"\x00\x00\x00\x07name1234")
    data = rr.serialize() + app.serialize()
    a, b = parse_compound(data)
    assert isinstance(a, RtcpRrPacket) and a.reports[1] == ReportBlock(8)
    assert isinstance(b, RtcpPacket) and b.packet_type == RTCP_APP and b.count == 1
    assert a.serialize() + b.serialize() == data


def test_sdes_item_lengths_pad_to_words():
    for n in range(0, 10):
        p = RtcpSdesPacket([(5, [(SDES_CNAME, b"x" * n)]), (6, [])])
        data = p.serialize()
        assert len(data) % 4 == 0
        again = parse_compound(data)[0]
        assert again.chunks == [(5, [(SDES_CNAME, b"x" * n)]), (6, [])]
        assert again.serialize() == data


def test_padding_on_last_packet_is_accepted():
    rr = RtcpRrPacket(9).serialize()
    padded = bytes([rr[0] | 0x20, rr[1]]) + struct.pack("!H", 2) + rr[4:] + b"\x00\x00\x00\x04"
    assert parse_compound(padded)[0].ssrc == 9


@pytest.mark.parametrize("data, defect", [
    (b"", "empty"),
    (b"\x80\xc9", "truncated RTCP header"),
    (b"\x40\xc9\x00\x01\x00\x00\x00\x01", "bad version"),
    (b"\x80\xc9\x00\x05\x00\x00\x00\x01", "length exceeds"),
    (b"\x81\xc9\x00\x01\x00\x00\x00\x01", "truncated report block"),
    (b"\x80\xc8\x00\x01\x00\x00\x00\x01", "truncated sender info"),
    (b"\x81\xca\x00\x01\x00\x00\x00\x01", "SDES chunk without end item"),
    (b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x09ab", "truncated SDES item"),
    (b"\x82\xcb\x00\x01\x00\x00\x00\x01", "truncated BYE sources"),
    (b"\x81\xcb\x00\x02\x00\x00\x00\x01\x09abc", "truncated BYE reason"),
    (b"\x80\x10\x00\x00", "bad RTCP packet type 16"),
    (b"\xa0\xc9\x00\x01\x00\x00\x00\x01" + b"\x80\xc9\x00\x01\x00\x00\x00\x02",
     "padding before the last"),
    (b"\xa0\xc9\x00\x01\x00\x00\x00\x00", "bad RTCP padding"),
])
def test_invalid_rtcp_names_the_defect(data, defect):
    with pytest.raises(ValueError) as e:
        parse_compound(data)
    assert defect in str(e.value)


@settings(max_examples=2000)
@given(st.binary(max_size=160))
def test_fuzz_random_bytes_only_raise_value_error(data):
    try:
        parse_compound(data)
    except ValueError:
        pass


@settings(max_examples=1000)
@given(st.binary(max_size=120))
def test_fuzz_headers_that_look_right(body):
    n = len(body) // 4 * 4
    data = bytes([0x80 | (body[0] & 0x1F if body else 0), 200 + (len(body) % 5)])
    data += struct.pack("!H", n // 4) + body[:n]
    try:
        packets = parse_compound(data[:4 + n])
    except ValueError:
        return
    for p in packets:
        p.serialize()


def test_ntp_helpers():
    assert ntp_timestamp(1.5) == (1 << 32) | 0x80000000
    assert ntp_middle32(0x0102030405060708) == 0x03040506


# -- receiver statistics -------------------------------------------------------------------

def feed(stats, seqs, t0=0.0, spacing=0.02, jitter=None):
    for i, s in enumerate(seqs):
        arrival = t0 + i * spacing + (jitter[i] if jitter else 0.0)
        stats.update(s & 0xFFFF, (s * 160) & 0xFFFFFFFF, arrival)


def test_no_loss_no_jitter():
    st_ = ReceiverStats(1, 100)
    feed(st_, range(100, 200))
    assert st_.received == 100 and st_.expected == 100 and st_.lost == 0
    assert st_.jitter < 1e-6
    rb = st_.report_block(2.0)
    assert (rb.fraction_lost, rb.packets_lost, rb.highest_sequence) == (0, 0, 199)


def test_loss_fraction_and_cumulative_a3():
    st_ = ReceiverStats(1, 0)
    seqs = [s for s in range(100) if s % 4 != 3]   # a quarter lost
    feed(st_, seqs)
    rb = st_.report_block(2.0)
    assert rb.packets_lost == 24 and rb.highest_sequence == 98
    assert rb.fraction_lost == (24 * 256) // 99
    # next interval: no loss
    feed(st_, range(99, 150), t0=2.0)
    rb = st_.report_block(3.0)
    assert rb.fraction_lost == 0 and rb.packets_lost == 24
    assert st_.lost == 24


def test_wrap_extends_highest_sequence():
    st_ = ReceiverStats(1, 65500)
    feed(st_, range(65500, 65600))
    assert st_.extended_max == 65599 and st_.cycles == 65536
    assert st_.lost == 0 and st_.report_block(1.0).highest_sequence == 65599


def test_duplicates_make_lost_negative():
    st_ = ReceiverStats(1, 0)
    feed(st_, [0, 1, 1, 2, 2, 3])
    assert st_.lost == -2
    assert st_.report_block(1.0).fraction_lost == 0


def test_sequence_restart_after_two_in_order_a1():
    st_ = ReceiverStats(1, 0)
    feed(st_, range(0, 10))
    assert st_.update(40000, 0, 1.0) is False          # one wild packet is not trusted
    assert st_.update(40001, 160, 1.02) is True        # two in a row: the source restarted
    assert st_.received == 1 and st_.base_seq == 40001
    feed(st_, range(40002, 40010), t0=1.04)
    assert st_.lost == 0


def test_jitter_a8_converges_to_mean_deviation():
    import random
    rng = random.Random(5)
    st_ = ReceiverStats(1, 0)
    offsets = [rng.uniform(0, 0.03) for _ in range(3000)]
    feed(st_, range(3000), jitter=offsets)
    # for uniform delay on [0, 30 ms], E|D| = 30/3 ms = 10 ms
    assert 8.0 < st_.jitter_ms < 12.0
    assert st_.report_block(60.0).jitter == int(st_.jitter)


def test_lsr_dlsr():
    st_ = ReceiverStats(1, 0)
    feed(st_, range(5))
    ntp = 0x0102030405060708
    st_.on_sender_report(ntp, 10.0)
    rb = st_.report_block(11.5)
    assert rb.lsr == 0x03040506 and rb.dlsr == int(1.5 * 65536)
