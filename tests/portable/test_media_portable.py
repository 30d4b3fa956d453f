"""RTP, RTCP, jitter buffer, RFC 4733 and mixing basics (tipring/firmware/media/).

Runs unchanged under CPython (pytest or plain) and MicroPython (plain):
    python tests/portable/test_media_portable.py
    MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_media_portable.py
No pytest features: plain test_* functions and `_run()`.
"""
import struct
import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.media.jitter import JitterBuffer
from tipring.firmware.media.mixer import add_pure, mix
from tipring.firmware.media.rtcp import ReceiverStats, RtcpRrPacket, RtcpSdesPacket, parse_compound
from tipring.firmware.media.rtp import RtpPacket, is_rtcp, seq_diff, seq_lt, ts_diff, uint16_add
from tipring.firmware.media.sdes import choose, crypto_attributes, parse_crypto, usable
from tipring.firmware.media.telephone_event import EventReceiver, EventSender
from tipring.firmware.media.udptl import UdptlDecoder, UdptlEncoder

PCMU = bytes([0x80, 0x80, 0x12, 0x34, 0, 0, 0x0A, 0, 0x11, 0x22, 0x33, 0x44]) + b"\xff" * 160


def raises(fn, *args):
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    return None


def test_rtp_round_trip():
    p = RtpPacket.parse(PCMU)
    assert p.marker and p.sequence_number == 0x1234 and p.timestamp == 2560
    assert p.ssrc == 0x11223344 and p.payload == b"\xff" * 160
    assert p.serialize() == PCMU
    q = RtpPacket(8, False, 65535, 2 ** 32 - 1, 7, b"abc", [1, 2], 0xBEDE, b"1234", 4)
    assert RtpPacket.parse(q.serialize()) == q


def test_rtp_defects():
    assert "truncated CSRC" in raises(RtpPacket.parse, b"\x82" + PCMU[1:12] + b"\x00")
    assert "bad version" in raises(RtpPacket.parse, b"\x40" + PCMU[1:])
    assert "too short" in raises(RtpPacket.parse, PCMU[:5])
    assert "padding" in raises(RtpPacket.parse, b"\xa0" + PCMU[1:12] + b"\x00")


def test_wrap_helpers():
    assert uint16_add(65535, 1) == 0 and seq_lt(65535, 0) and seq_diff(1, 65535) == 2
    assert ts_diff(10, 2 ** 32 - 10) == 20
    assert is_rtcp(b"\x80\xc9\x00\x01") and not is_rtcp(PCMU)


def test_rtcp_round_trip_and_stats():
    st = ReceiverStats(5, 0)
    for s in (0, 1, 2, 4, 5):
        st.update(s, s * 160, s * 0.02)
    rb = st.report_block(1.0)
    assert rb.packets_lost == 1 and rb.highest_sequence == 5 and rb.fraction_lost == 42
    rr = RtcpRrPacket(9, [rb])
    sdes = RtcpSdesPacket([(9, [(1, b"me@host")])])
    data = rr.serialize() + sdes.serialize()
    a, b = parse_compound(data)
    assert a.reports[0].packets_lost == 1 and b.cname() == "me@host"
    assert a.serialize() + b.serialize() == data


def frame_of(i):
    return struct.pack("<h", i + 1) * 160


def test_jitter_buffer_reorders_and_conceals():
    jb = JitterBuffer()
    order = [0, 2, 1, 3, 5, 6, 7, 8, 9]          # 2 before 1; 4 never comes
    out = []
    for k in range(16):
        now = k * 0.02
        if k < len(order):
            i = order[k]
            jb.put(i, i * 160, frame_of(i), now, ssrc=1)
        f = jb.get(now)
        assert len(f) == 320
        out.append(struct.unpack_from("<h", f, 318)[0] - 1)
    played = [t for t in out if t >= 0]
    assert played[:4] == [0, 1, 2, 3], out
    assert 5 in played and played.index(5) == 5, out   # 4 was concealed in place
    assert jb.lost == 1 and jb.late == 0 and jb.concealed >= 1
    assert jb.put(4, 640, frame_of(4), 0.4, ssrc=1) == "late"
    assert jb.put(9, 9 * 160, frame_of(9), 0.4, ssrc=1) == "duplicate"


def test_telephone_event_sender_to_receiver():
    s = EventSender()
    s.start("#", 100)
    r = EventReceiver()
    events = []
    tick = 0
    while s.busy:
        for payload, marker, ts in s.tick(tick * 160, 160):
            if payload is not None:
                events += r.on_event(ts, payload, tick * 0.02)
        tick += 1
    assert events == [("digit", "#"), ("digit_end", "#", 100)]


def test_mix_saturates():
    a = struct.pack("<4h", 30000, -30000, 5, 0)
    b = struct.pack("<4h", 10000, -10000, 6, 0)
    assert add_pure(a, b) == struct.pack("<4h", 32767, -32768, 11, 0)
    ha, hb = mix([a, b], add_pure)
    assert ha == b and hb == a


def test_sdes_crypto_attribute():
    # RFC 4568 §5.1: a 4-byte MKI and FEC_ORDER; written back as read
    v = ("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 "
         "FEC_ORDER=FEC_SRTP")
    a = parse_crypto(v)
    assert a.tag == 1 and len(a.key) == 30 and a.lifetime == 1 << 20 and a.mki == (1, 4)
    assert str(a) == v and usable(a)
    assert "not base64" in raises(parse_crypto, "1 AES_CM_128_HMAC_SHA1_80 inline:!!")
    got = crypto_attributes([("a", "crypto:junk"), ("a", "crypto:2 AEAD_AES_256_GCM inline:" + "A" * 60),
                             ("a", "crypto:" + v)])
    assert [x.tag for x in got] == [2, 1] and choose(got).tag == 1



def test_udptl_redundancy_recovers_a_loss():
    enc = UdptlEncoder(redundancy=3)
    dgs = [enc.encode(bytes([k + 1])) for k in range(6)]
    assert dgs[3] == bytes([0, 3, 1, 4, 0, 3, 1, 3, 1, 2, 1, 1])
    dec = UdptlDecoder()
    got = [x for k, d in enumerate(dgs) if k not in (2, 3) for x in dec.receive(d)]
    assert [s for s, _ in got] == [0, 1, 2, 3, 4, 5] and dec.recovered == 2 and dec.lost == 0
    assert dec.receive(b"\x00\x01\xc1") == [] and dec.malformed == 1

if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
