"""SRTP/SRTCP (tipring/firmware/media/srtp.py over libsrtp) and a MediaStream that uses it."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pylibsrtp")

from tipring.firmware.media.rtp import RtpPacket, is_rtcp  # noqa: E402
from tipring.firmware.media.sdes import SrtpKeys  # noqa: E402
from tipring.firmware.media.srtp import AuthFailed, Replayed, SrtpError, SrtpReceiver, SrtpSender  # noqa: E402
from tipring.firmware.media.stream import MediaStream  # noqa: E402
from tests.media.test_stream import A, B, TICK, dominant, goertzel, sine_source, talk  # noqa: E402

S80, S32 = "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"
# libsrtp's own known-answer test (test/srtp_driver.c): key, RTP and RTCP, protected
KAT_KEY = bytes.fromhex("e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6")
KAT_RTP = bytes.fromhex("800f1234decafbadcafebabe") + b"\xab" * 16
KAT_SRTP = bytes.fromhex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")
KAT_RTCP = bytes.fromhex("81c8000bcafebabe") + b"\xab" * 16
KAT_SRTCP = bytes.fromhex("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798")


def rtp(seq, payload=b"\x55" * 160, ssrc=0x11223344):
    return RtpPacket(0, False, seq & 0xFFFF, seq * 160, ssrc, payload).serialize()


def test_libsrtp_known_answer_rtp_and_rtcp():
    assert SrtpSender(S80, KAT_KEY).protect(KAT_RTP) == KAT_SRTP
    assert SrtpSender(S80, KAT_KEY).protect_rtcp(KAT_RTCP) == KAT_SRTCP
    rx = SrtpReceiver(S80, KAT_KEY)
    assert rx.unprotect(KAT_SRTP) == KAT_RTP and rx.unprotect_rtcp(KAT_SRTCP) == KAT_RTCP


@pytest.mark.parametrize("suite, tag", [(S80, 10), (S32, 4)])
def test_round_trip_encrypts_the_payload_only(suite, tag):
    key = os.urandom(30)
    tx, rx = SrtpSender(suite, key), SrtpReceiver(suite, key)
    for seq in range(5):
        plain = rtp(seq)
        wire = tx.protect(plain)
        assert len(wire) == len(plain) + tag and wire[:12] == plain[:12] and wire[12:172] != plain[12:]
        assert rx.unprotect(wire) == plain
    report = bytes.fromhex("81c90007aabbccdd") + os.urandom(24)
    srtcp = tx.protect_rtcp(report)
    assert len(srtcp) == len(report) + 4 + 10 and srtcp[-14] & 0x80      # E flag, 80-bit tag
    assert is_rtcp(srtcp) and rx.unprotect_rtcp(srtcp) == report


@pytest.mark.parametrize("where", [12, 100, -1, -10])
def test_tampered_packet_fails_authentication(where):
    key = os.urandom(30)
    wire = bytearray(SrtpSender(S80, key).protect(rtp(7)))
    wire[where] ^= 0x01
    with pytest.raises(AuthFailed):
        SrtpReceiver(S80, key).unprotect(bytes(wire))


def test_wrong_key_and_plain_rtp_fail_authentication():
    key = os.urandom(30)
    wire = SrtpSender(S80, key).protect(rtp(1))
    with pytest.raises(AuthFailed):
        SrtpReceiver(S80, os.urandom(30)).unprotect(wire)
    with pytest.raises(AuthFailed):
        SrtpReceiver(S80, key).unprotect(rtp(2) + bytes(10))
    with pytest.raises(AuthFailed):
        SrtpReceiver(S32, key).unprotect(wire)         # the same key, another tag length


def test_replay_is_refused_and_late_but_fresh_packets_are_not():
    key = os.urandom(30)
    tx, rx = SrtpSender(S80, key), SrtpReceiver(S80, key)
    wires = [tx.protect(rtp(s)) for s in range(300)]
    rx.unprotect(wires[1])
    with pytest.raises(Replayed):
        rx.unprotect(wires[1])                          # the same packet again
    rx.unprotect(wires[0])                              # out of order, in the window: fine
    rx.unprotect(wires[299])
    with pytest.raises(Replayed):
        rx.unprotect(wires[5])                          # never seen, but older than the window
    rx.unprotect(wires[250])                            # within 128 of the newest
    srtcp = tx.protect_rtcp(bytes.fromhex("81c90007aabbccdd") + bytes(24))
    rx.unprotect_rtcp(srtcp)
    with pytest.raises(Replayed):
        rx.unprotect_rtcp(srtcp)


def test_mki_is_cut_out_before_authentication():
    key = os.urandom(30)
    tx = SrtpSender(S80, key)
    wire = tx.protect(rtp(3))
    with_mki = wire[:-10] + b"\x00\x00\x00\x01" + wire[-10:]
    assert SrtpReceiver(S80, key, mki=4).unprotect(with_mki) == rtp(3)
    with pytest.raises(AuthFailed):
        SrtpReceiver(S80, key).unprotect(with_mki)
    report = bytes.fromhex("81c90007aabbccdd") + bytes(24)
    srtcp = tx.protect_rtcp(report)
    assert SrtpReceiver(S80, key, mki=4).unprotect_rtcp(srtcp[:-10] + b"\x00\x00\x00\x01" + srtcp[-10:]) == report


def test_sizes_and_suites_are_refused_cleanly():
    key = os.urandom(30)
    with pytest.raises(SrtpError):
        SrtpSender("AES_256_CM_HMAC_SHA1_80", key)
    with pytest.raises(SrtpError):
        SrtpSender(S80, key).protect(b"\x80\x00")
    with pytest.raises(SrtpError):
        SrtpSender(S80, key).protect(rtp(1, payload=bytes(1400)))
    with pytest.raises(SrtpError):
        SrtpReceiver(S80, key).unprotect(b"\x80" * 12)
    with pytest.raises(SrtpError):
        SrtpReceiver(S80, key).unprotect_rtcp(b"\x80\xc8\x00\x01" * 3)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=1600))
def test_any_datagram_raises_only_srtp_errors(data):
    rx = SrtpReceiver(S80, bytes(30), mki=2)
    for fn in (rx.unprotect, rx.unprotect_rtcp):
        try:
            fn(data)
        except SrtpError:
            pass


# -- a MediaStream with SRTP -------------------------------------------------------------

def srtp_pair(suite=S80, **kw):
    ka, kb = os.urandom(30), os.urandom(30)
    a = MediaStream(A, B, ssrc=0xAAAA0001, srtp=SrtpKeys(suite, ka, kb), **kw)
    b = MediaStream(B, A, ssrc=0xBBBB0002, srtp=SrtpKeys(suite, kb, ka), **kw)
    return a, b


@pytest.mark.parametrize("suite", [S80, S32])
def test_streams_hear_each_other_through_srtp_and_the_wire_is_not_the_tone(suite):
    a, b = srtp_pair(suite)
    wire = []

    def tap(data, a_, b_, now):
        wire.append(data)
        return b_.on_packet(data, a_.local, now)
    heard_b, heard_a, _, _ = talk(a, b, 100, net=tap)
    assert dominant(heard_b[-320 * 50:]) == 1000 and dominant(heard_a[-320 * 50:]) == 440
    st_b = b.stats()
    assert st_b["srtp"] == suite and st_b["srtp_auth_failed"] == 0 and st_b["srtp_replayed"] == 0
    assert st_b["received"] >= 99 and b.errors == 0
    # what an eavesdropper decodes as G.711: the tone is there in clear RTP, not in SRTP
    clear = b"".join(RtpPacket.parse(d).payload for k in range(50)
                     for d, _ in MediaStream(A, B).on_capture(sine_source(1000)(), k * TICK))
    cipher = b"".join(RtpPacket.parse(w[:-(10 if suite == S80 else 4)]).payload for w in wire[-50:])
    assert tone_share(clear, 1000) > 0.9 and tone_share(cipher, 1000) < 0.01


def tone_share(ulaw, hz):
    """The share of the signal's energy in a sine of `hz` (1 for the sine alone)."""
    from tipring.firmware.dsp.g711 import CODECS
    pcm = CODECS["PCMU"][1](ulaw)
    import array
    x = array.array("h", pcm)
    energy = float(sum(v * v for v in x)) or 1.0
    return 2.0 * goertzel(pcm, hz) / (len(x) * energy)


def test_forged_plain_and_replayed_packets_are_counted_dropped_and_do_not_move_the_stream():
    a, b = srtp_pair()
    talk(a, b, 10)
    latched = b.latched
    intruder = ("203.0.113.9", 6666)
    # a fresh index (libsrtp checks the replay window first, then the tag)
    seq = a.send_state(1.0)[2] + 5
    forged = RtpPacket(0, False, seq, 160, 0xAAAA0001, b"\xff" * 160).serialize() + bytes(10)
    assert b.on_packet(forged, intruder, 1.0) == []
    good = a.on_capture(bytes(320), 1.0)[0][0]
    b.on_packet(good, A, 1.0)
    b.on_packet(good, intruder, 1.01)                  # the same packet from elsewhere: a replay
    st = b.stats()
    assert st["srtp_auth_failed"] == 1 and st["srtp_replayed"] == 1
    assert b.latched == latched == A and b.errors == 0


def test_update_with_the_same_keys_keeps_the_contexts_new_keys_re_key():
    a, b = srtp_pair()
    talk(a, b, 5)
    tx, rx = b._tx, b._rx
    b.update(direction="sendonly")
    b.update(srtp=SrtpKeys(S80, b.srtp.tx_key, b.srtp.rx_key))
    assert b._tx is tx and b._rx is rx
    new_a, old_a = os.urandom(30), a.srtp.tx_key
    a.update(srtp=SrtpKeys(S80, new_a, a.srtp.rx_key))          # a re-INVITE re-keys a
    old_wire = MediaStream(A, B, ssrc=0xAAAA0001, srtp=SrtpKeys(S80, old_a, bytes(30)))
    b.update(srtp=SrtpKeys(S80, b.srtp.tx_key, new_a))
    assert b._tx is tx and b._rx is not rx
    before = b.received
    talk(a, b, 5, t0=1.0)
    assert b.received == before + 5 and b.stats()["srtp_auth_failed"] == 0
    old_wire.carry_on(a.send_state(2.0), 2.0)          # a fresh index under the old key
    b.on_packet(old_wire.on_capture(bytes(320), 2.0)[0][0], A, 2.0)
    assert b.stats()["srtp_auth_failed"] == 1
    b.update(srtp=None)                                 # a re-INVITE to plain RTP
    assert b.srtp is None and b.stats()["srtp"] == S80  # the event still says it had SRTP


def test_carry_on_keeps_the_rollover_counter_across_a_new_stream():
    """A resumed call sends as the same source with a new MediaStream: the packet index must go
    on (RFC 3711 §3.3.1). Past a sequence wrap a fresh libsrtp context would restart the
    rollover counter at 0 and the peer would reject every packet."""
    a, b = srtp_pair()
    a.carry_on((a.ssrc, a.cname, 65500, 0, 0.0), 0.0)     # start just before the wrap
    talk(a, b, 60)
    assert b.received == 60 and b.stats()["srtp_auth_failed"] == 0
    state = a.send_state(60 * TICK)
    resumed = MediaStream(A, B, srtp=a.srtp)
    resumed.carry_on(state, 2.0)
    for k in range(10):
        for data, _ in resumed.on_capture(bytes(320), 2.0 + k * TICK):
            b.on_packet(data, A, 2.0 + k * TICK)
    assert b.received == 70 and b.stats()["srtp_auth_failed"] == 0
    fresh = MediaStream(A, B, srtp=a.srtp)
    fresh.carry_on(resumed.send_state(3.0)[:5], 3.0)      # the same numbering, a new context
    for data, _ in fresh.on_capture(bytes(320), 3.0):
        b.on_packet(data, A, 3.0)
    assert b.stats()["srtp_auth_failed"] == 1


def test_rtcp_goes_out_as_srtcp_and_is_read_back():
    a, b = srtp_pair()
    talk(a, b, 20)
    reports = a.on_timer(100.0) + a.close(100.1)
    assert len(reports) == 2
    for data, addr in reports:
        assert is_rtcp(data) and data[-14] & 0x80
        b.on_packet(data, A, 100.2)
    assert b.errors == 0 and b.stats()["srtp_auth_failed"] == 0 and b._bye
