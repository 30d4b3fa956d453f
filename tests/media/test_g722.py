"""G.722 (tipring/firmware/media/g722.py): coding through libg722, the 8 kHz line against 16 kHz
wideband peers, the RFC 3551 §4.5.2 clock-rate quirk in SDP and in the stream's timestamps,
and the line's codec preference in offer/answer with fallback to G.711."""

import array
import math

import pytest

pytest.importorskip("G722")

import G722  # noqa: E402  (the library directly, standing in for a 16 kHz wideband peer)

from tipring.firmware.media import g722  # noqa: E402
from tipring.firmware.media.rtp import RtpPacket  # noqa: E402
from tipring.firmware.media.sdp import NoCommonCodec, SdpSession, parse  # noqa: E402
from tipring.firmware.media.stream import MediaStream  # noqa: E402

from tests.media.test_stream import A, B, dominant, goertzel, sine_source, talk  # noqa: E402


def tone(freq, rate, frames, frame_ms=20, amp=8000):
    n = rate * frame_ms // 1000
    for f in range(frames):
        yield array.array("h", [int(amp * math.sin(2 * math.pi * freq * (f * n + k) / rate))
                                for k in range(n)])


def level(samples):
    return math.sqrt(sum(v * v for v in samples) / len(samples))


def zero_crossing_hz(samples, rate):
    z = sum(1 for i in range(1, len(samples)) if (samples[i - 1] < 0) != (samples[i] < 0))
    return z / 2 / (len(samples) / rate)


@pytest.mark.parametrize("freq", [300, 1000, 3000])
def test_round_trip_on_the_8khz_line_keeps_frequency_and_level(freq):
    enc, dec = g722.G722Encoder(8000), g722.G722Decoder(8000)
    out = array.array("h")
    for frame in tone(freq, 8000, 50):
        payload = enc.encode(frame.tobytes())
        assert len(payload) == g722.payload_bytes(20) == 160   # 20 ms at 64 kbit/s
        pcm = dec.decode(payload)
        assert len(pcm) == 2 * 160                              # 20 ms of 8 kHz line again
        out.frombytes(pcm)
    tail = out[-4000:]
    assert abs(zero_crossing_hz(tail, 8000) - freq) < 0.02 * freq
    assert dominant(tail.tobytes(), (300, 1000, 2000, 3000)) == freq
    ref = level(next(tone(freq, 8000, 1, frame_ms=500)))
    assert abs(20 * math.log10(level(tail) / ref)) < 1.0        # within 1 dB


def test_the_8khz_line_talks_to_a_16khz_wideband_peer_both_ways():
    """Our 8 kHz mode against the full QMF a wideband phone runs (baresip, a desk phone)."""
    ours_enc, ours_dec = g722.G722Encoder(8000), g722.G722Decoder(8000)
    peer_enc, peer_dec = G722.G722(16000, 64000), G722.G722(16000, 64000)
    heard_by_peer, heard_by_us = array.array("h"), array.array("h")
    for ours, theirs in zip(tone(1000, 8000, 50), tone(440, 16000, 50)):
        heard_by_peer.extend(peer_dec.decode(ours_enc.encode(ours.tobytes())))
        heard_by_us.frombytes(ours_dec.decode(peer_enc.encode(theirs)))
    assert abs(zero_crossing_hz(heard_by_peer[-8000:], 16000) - 1000) < 20
    assert abs(zero_crossing_hz(heard_by_us[-4000:], 8000) - 440) < 10
    assert level(heard_by_peer[-8000:]) > 0.8 * 8000 / math.sqrt(2)
    assert level(heard_by_us[-4000:]) > 0.8 * 8000 / math.sqrt(2)


def test_the_upper_band_of_a_wideband_peer_does_not_alias_onto_the_line():
    """6 kHz cannot exist on an 8 kHz line: the QMF must stop it, not fold it to 2 kHz."""
    dec, peer_enc = g722.G722Decoder(8000), G722.G722(16000, 64000)
    out = array.array("h")
    for frame in tone(6000, 16000, 50):
        out.frombytes(dec.decode(peer_enc.encode(frame)))
    assert level(out[-4000:]) < 0.01 * 8000    # below -40 dB


def test_coders_are_stateful_and_bad_input_does_not_raise():
    enc = g722.G722Encoder(8000)
    frame = next(tone(1000, 8000, 1)).tobytes()
    assert enc.encode(frame) != enc.encode(frame)       # ADPCM adapts: why one per stream
    dec = g722.G722Decoder(8000)
    assert dec.decode(b"") == b""
    assert len(dec.decode(bytes(range(256)) * 3)) == 2 * 768
    assert len(enc.encode(frame + b"\x01")) == 160      # an odd byte is not a sample
    with pytest.raises(ValueError):
        g722.G722Encoder(11025)


# ------------------------------------------------------------------ the stream

def test_stream_talks_g722_both_ways_with_timestamps_of_the_8000_clock():
    a = MediaStream(A, B, "G722", ssrc=0xAAAA0001)
    b = MediaStream(B, A, "G722", ssrc=0xBBBB0002)
    sent = []
    src = sine_source(1000)

    def net(data, src_stream, dst, now):
        sent.append(RtpPacket.parse(data))
        return dst.on_packet(data, src_stream.local, now)

    heard_b, heard_a, _, _ = talk(a, b, 100, src_a=src, net=net)
    assert dominant(heard_b[-320 * 50:]) == 1000
    assert dominant(heard_a[-320 * 50:]) == 440
    p1k = goertzel(heard_b[-320 * 50:], 1000)
    assert all(goertzel(heard_b[-320 * 50:], f) < p1k / 100 for f in (500, 2000, 3000))
    assert {p.payload_type for p in sent} == {9}
    assert {len(p.payload) for p in sent} == {160}           # 320 samples of 16 kHz audio ...
    steps = {(q.timestamp - p.timestamp) & 0xFFFFFFFF for p, q in zip(sent, sent[1:])}
    assert steps == {160}                                    # ... yet 160 ticks of the clock
    assert b.stats()["codec"] == "G722" and b.stats()["lost"] == 0


def test_stream_changes_between_g722_and_g711_by_update():
    a = MediaStream(A, B, "G722", ssrc=1)
    b = MediaStream(B, A, "G722", ssrc=2, codecs=[(9, "G722"), (0, "PCMU")])
    talk(a, b, 10)
    a.update(codec="PCMU")
    heard_b, _, _, _ = talk(a, b, 30, t0=0.2)
    assert dominant(heard_b[-320 * 20:]) == 1000     # b decodes whichever of the two arrives
    assert a.stats()["codec"] == "PCMU"


# ------------------------------------------------------------------ offer/answer

def sdp(*lines):
    return ("\r\n".join(lines) + "\r\n").encode()


def offer_with(formats, *rtpmaps):
    return parse(sdp("v=0", "o=peer 1 1 IN IP4 198.51.100.7", "s=-", "c=IN IP4 198.51.100.7",
                     "t=0 0", "m=audio 49170 RTP/AVP %s" % formats, *rtpmaps))


def session(codecs):
    return SdpSession("192.0.2.10", 40000, codecs=codecs, session_id="42")


def test_offer_lists_the_line_preference_with_the_g722_clock_quirk():
    text = session(["g722", "pcmu", "pcma"]).offer().to_bytes().decode()
    assert "m=audio 40000 RTP/AVP 9 0 8 101\r\n" in text
    assert "a=rtpmap:9 G722/8000\r\n" in text           # 8000, never 16000 (RFC 3551 §4.5.2)
    text = session(["pcma", "g722"]).offer().to_bytes().decode()
    assert "m=audio 40000 RTP/AVP 8 9 101\r\n" in text


def test_answer_to_our_g722_offer_and_fallback_when_the_peer_lacks_it():
    s = session(["g722", "pcmu", "pcma"])
    s.offer()
    plan = s.on_answer(offer_with("9 101", "a=rtpmap:9 G722/8000",
                                  "a=rtpmap:101 telephone-event/8000"))
    assert (plan.pt, plan.codec, plan.dtmf_pt) == (9, "G722", 101)
    s.offer()
    plan = s.on_answer(offer_with("0", "a=rtpmap:0 PCMU/8000"))
    assert (plan.pt, plan.codec) == (0, "PCMU")


def test_answering_an_offer_takes_g722_only_when_the_line_allows_it():
    both = offer_with("9 0 8", "a=rtpmap:9 G722/8000")
    body, plan = session(["g722", "pcmu"]).answer(both)
    assert (plan.codec, plan.codecs) == ("G722", [(9, "G722"), (0, "PCMU")])
    assert "m=audio 40000 RTP/AVP 9 0\r\n" in body.to_bytes().decode()
    body, plan = session(["pcmu", "pcma"]).answer(both)   # today's default: G.711 only
    assert (plan.codec, plan.codecs) == ("PCMU", [(0, "PCMU"), (8, "PCMA")])
    assert " 9" not in body.to_bytes().decode().split("m=audio", 1)[1].split("\r\n")[0]
    _, plan = session(["g722", "pcmu"]).answer(offer_with("0 8"))   # peer lacks G.722
    assert plan.codec == "PCMU"
    with pytest.raises(NoCommonCodec):
        session(["g722"]).answer(offer_with("0 8"))


def test_a_g722_at_16000_on_a_dynamic_pt_is_not_g722():
    """Some old phones wrote the audio rate; RFC 3551 says 8000, and 16000 would time-stretch."""
    _, plan = session(["g722", "pcmu"]).answer(offer_with("96 0", "a=rtpmap:96 G722/16000"))
    assert plan.codecs == [(0, "PCMU")]


def test_session_refuses_unknown_codec_names():
    with pytest.raises(ValueError):
        session(["g729"])
    with pytest.raises(ValueError):
        session([])
