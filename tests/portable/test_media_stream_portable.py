"""tipring/firmware/media/sdp.py and stream.py (with jitter, rtp, rtcp, telephone_event under them) on
CPython and MicroPython: an RFC 3264 offer/answer between two SdpSessions (codecs, DTMF, hold,
488), then two MediaStreams wired back to back on a virtual clock: G.711 audio arrives and
plays, an RFC 4733 digit crosses, RTCP reports flow, hold stops the audio, garbage is counted.

Run: python tests/portable/test_media_stream_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_media_stream_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.dsp import g711
from tipring.firmware.media import sdp
from tipring.firmware.media.rtcp import RtcpRrPacket, RtcpSrPacket, parse_compound
from tipring.firmware.media.rtp import RtpPacket, is_rtcp
from tipring.firmware.media.stream import MediaStream

try:
    from runner import raises   # a script
except ImportError:
    from tests.portable.runner import raises   # pytest

A = ("192.0.2.10", 40000)
B = ("192.0.2.20", 50000)

OFFER_G729 = (b"v=0\r\no=- 7 7 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n"
              b"m=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n")


def pcm_frame(n, amp=8000):
    """160 samples of a square-ish wave, different per frame, as 16-bit little-endian PCM."""
    out = bytearray()
    for i in range(160):
        v = amp if ((i + n * 7) // 10) % 2 else -amp
        out += bytes((v & 0xFF, (v >> 8) & 0xFF))
    return bytes(out)


def test_offer_answer_codecs_dtmf_and_ports():
    a = sdp.SdpSession(A[0], A[1], codecs=("PCMA", "PCMU"))
    b = sdp.SdpSession(B[0], B[1])
    offer = a.offer()
    wire = offer.to_bytes()
    assert wire.startswith(b"v=0\r\no=tipring ") and b"m=audio 40000 RTP/AVP 8 0 101\r\n" in wire
    assert b"a=rtpmap:101 telephone-event/8000\r\n" in wire
    answer, plan_b = b.answer(sdp.parse(wire))
    assert (plan_b.address, plan_b.port, plan_b.codec, plan_b.pt) == (A[0], A[1], "PCMA", 8)
    assert plan_b.dtmf_pt == 101 and plan_b.direction == "sendrecv" and not plan_b.remote_hold
    awire = answer.to_bytes()
    assert b"m=audio 50000 RTP/AVP 8 0 101\r\n" in awire and b"c=IN IP4 192.0.2.20\r\n" in awire
    plan_a = a.on_answer(sdp.parse(awire))
    assert (plan_a.address, plan_a.port, plan_a.codec) == (B[0], B[1], "PCMA")
    assert plan_a.codecs == [(8, "PCMA"), (0, "PCMU")] and plan_a.send and plan_a.recv
    assert a.offer().origin.version == offer.origin.version      # RFC 3264 §8: unchanged, same
    assert a.offer("sendonly").origin.version == offer.origin.version + 1   # changed: up by one


def test_hold_offer_answer_and_no_common_codec():
    a = sdp.SdpSession(A[0], A[1])
    b = sdp.SdpSession(B[0], B[1])
    b.answer(sdp.parse(a.offer().to_bytes()))
    hold = sdp.parse(a.offer("sendonly").to_bytes())
    answer, plan_b = b.answer(hold)
    assert plan_b.remote_hold and plan_b.direction == "recvonly" and not plan_b.send
    plan_a = a.on_answer(sdp.parse(answer.to_bytes()))
    assert plan_a.direction == "sendonly" and plan_a.send and not plan_a.recv
    e = raises(sdp.NoCommonCodec, b.answer, sdp.parse(OFFER_G729))
    assert e.status_hint == 488
    e = raises(sdp.SdpError, sdp.parse, b"v=0\r\nm=audio x RTP/AVP 0\r\n")
    assert 400 <= e.status_hint < 500
    e = raises(sdp.SdpError, a.on_answer, sdp.parse(OFFER_G729.replace(b"m=audio", b"m=video")))
    assert e.status_hint == 488


def pair(codec="PCMU", pt=0):
    a = MediaStream(A, B, codec, pt, dtmf_pt=101, now=0.0, ssrc=0x1111, rtcp_interval=5.0)
    b = MediaStream(B, A, codec, pt, dtmf_pt=101, now=0.0, ssrc=0x2222, rtcp_interval=5.0)
    return a, b


def carry(src, dst, packets, now):
    """Deliver `packets` ((bytes, addr) from src) to dst as arriving from src.local."""
    events = []
    for data, addr in packets:
        assert addr == dst.local, (addr, dst.local)
        events += dst.on_packet(data, src.local, now)
    return events


def test_audio_crosses_and_plays():
    a, b = pair()
    played = []
    for n in range(10):
        now = n * 0.02
        out = a.on_capture(pcm_frame(n), now)
        assert len(out) == 1
        pkt = RtpPacket.parse(out[0][0])
        assert pkt.payload_type == 0 and pkt.ssrc == 0x1111 and len(pkt.payload) == 160
        assert pkt.marker == (n == 0)                   # the first packet of a talkspurt
        carry(a, b, out, now + 0.005)
        played.append(b.playout(now + 0.01))
    assert b.received == 10 and b.latched == A and b.remote_ssrc == 0x1111
    seqs = []
    a2, _ = pair()
    for n in range(3):
        seqs.append(RtpPacket.parse(a2.on_capture(pcm_frame(n), n * 0.02)[0][0]).sequence_number)
    assert [(s - seqs[0]) & 0xFFFF for s in seqs] == [0, 1, 2]
    enc, dec = g711.CODECS["PCMU"]
    want = [dec(enc(pcm_frame(n))) for n in range(10)]
    heard = [p for p in played if p != bytes(320)]
    assert heard, "nothing but silence played"
    assert all(p in want for p in heard), "played audio that was never sent"
    assert heard == want[want.index(heard[0]):want.index(heard[0]) + len(heard)]   # in order


def test_rfc4733_digit_crosses_once():
    a, b = pair()
    assert a.send_digit("5", 100)
    events = []
    kinds = []
    for n in range(12):
        out = a.on_capture(pcm_frame(n), n * 0.02)
        kinds += [RtpPacket.parse(d).payload_type for d, _ in out]
        events += carry(a, b, out, n * 0.02)
    assert kinds[0] == 101 and 0 in kinds                 # the event, then audio again
    digits = [e for e in events if e[0] in ("digit", "digit_end")]
    assert digits[0] == ("digit", "5") and digits[1][:2] == ("digit_end", "5") and len(digits) == 2
    assert 80 <= digits[1][2] <= 120


def test_rtcp_reports_hold_and_garbage():
    a, b = pair()
    for n in range(5):
        carry(a, b, a.on_capture(pcm_frame(n), n * 0.02), n * 0.02)
    t = b.deadline()
    assert 0 < t <= 5.0
    rr = b.on_timer(t)
    assert len(rr) == 1 and rr[0][1] == A and is_rtcp(rr[0][0])
    kinds = [type(p) for p in parse_compound(rr[0][0])]
    assert RtcpRrPacket in kinds                          # b sent nothing: a receiver report
    assert carry(b, a, rr, t) == [] and a.errors == 0
    sr = a.on_timer(a.deadline())
    assert RtcpSrPacket in [type(p) for p in parse_compound(sr[0][0])]
    bye = a.close(6.0)
    assert carry(a, b, bye, 6.0) == [("bye", 0x1111)]
    a.update(direction="inactive")
    assert a.on_capture(pcm_frame(0), 6.02) == [] and not a.sending
    a.update(direction="sendrecv")
    resumed = RtpPacket.parse(a.on_capture(pcm_frame(1), 6.04)[0][0])
    assert resumed.marker                                   # RFC 3551 §4.1 after a pause
    before = b.errors
    assert b.on_packet(b"\x80\x00", A, 7.0) == [] and b.errors == before + 1
    assert b.on_packet(b"\x81\xc9\x00\x07garbage", A, 7.0) == [] and b.errors == before + 2
    assert b.on_packet(RtpPacket(96, 1, 1, 0x3333, payload=b"x").serialize(), A, 7.0) == []
    assert b.ignored >= 1                                   # a payload type never negotiated


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
