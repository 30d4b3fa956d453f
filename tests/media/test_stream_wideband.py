"""MediaStream on a 16 kHz line (issue #15, tipring/firmware/media/stream.py rule 8): two streams
back to back on virtual time, G.722 wideband end to end, G.711 through the resampler, a 16 kHz
line talking to an 8 kHz one, loss concealed at 16 kHz, and a codec switch mid-call."""

import array
import math

import pytest

from tipring.firmware.media import g722
from tipring.firmware.media.rtp import RtpPacket
from tipring.firmware.media.stream import MediaStream

from tests.media.test_stream import A, B, TICK, goertzel

needs_g722 = pytest.mark.skipif(not g722.available(), reason="needs the g722 package")


def tone(freq, rate, amp=8000):
    """A source of 20 ms frames of a sine at `rate`, one continuous signal."""
    n = [0]
    size = rate // 50

    def next_frame():
        k0 = n[0]
        n[0] += size
        return array.array("h", [int(amp * math.sin(2 * math.pi * freq * (k0 + k) / rate))
                                 for k in range(size)]).tobytes()
    return next_frame


def rms(pcm):
    x = array.array("h", pcm)
    return math.sqrt(sum(v * v for v in x) / len(x))


def db(pcm, amp=8000):
    """Level of `pcm` against a sine of peak `amp`, in dB."""
    return 20 * math.log10(max(rms(pcm), 1e-3) / (amp / math.sqrt(2)))


def crossing_hz(pcm, rate):
    x = array.array("h", pcm)
    z = sum(1 for i in range(1, len(x)) if (x[i - 1] < 0) != (x[i] < 0))
    return z / 2 / (len(x) / rate)


def run(a, b, ticks, src_a, src_b, t0=0.0, drop=None):
    """`ticks` frames each way; returns (what b heard, what a heard), each frame checked to be
    20 ms at the hearer's line rate. `drop(k)` True loses a's k-th packet."""
    heard_b, heard_a = [], []
    sent = [0]
    for k in range(ticks):
        now = t0 + k * TICK
        for data, _ in a.on_capture(src_a(), now):
            if drop is None or not drop(sent[0]):
                b.on_packet(data, a.local, now)
            sent[0] += 1
        for data, _ in b.on_capture(src_b(), now):
            a.on_packet(data, b.local, now)
        fb, fa = b.playout(now), a.playout(now)
        assert len(fb) == 2 * b.line_rate // 50 and len(fa) == 2 * a.line_rate // 50
        heard_b.append(fb)
        heard_a.append(fa)
    return b"".join(heard_b), b"".join(heard_a)


def pair(codec, rate_a=16000, rate_b=16000, **kw):
    return (MediaStream(A, B, codec, ssrc=0xAAAA0001, line_rate=rate_a, **kw),
            MediaStream(B, A, codec, ssrc=0xBBBB0002, line_rate=rate_b, **kw))


def tail(pcm, rate, seconds=1.0):
    return pcm[-int(2 * rate * seconds):]


# ------------------------------------------------------------------ G.722, wideband end to end

@needs_g722
def test_g722_on_16khz_lines_carries_6500hz_at_its_frequency_and_level():
    a, b = pair("G722")
    sent = []
    orig = a._packet

    def spy(out, pt, marker, ts, payload):
        orig(out, pt, marker, ts, payload)
        sent.append(RtpPacket.parse(out[-1][0]))
    a._packet = spy
    heard_b, heard_a = run(a, b, 100, tone(6500, 16000), tone(5000, 16000))
    hb, ha = tail(heard_b, 16000), tail(heard_a, 16000)
    assert abs(crossing_hz(hb, 16000) - 6500) < 0.01 * 6500
    assert abs(crossing_hz(ha, 16000) - 5000) < 0.01 * 5000
    assert abs(db(hb)) < 1.0 and abs(db(ha)) < 1.0
    assert goertzel(hb, 6500, 16000) > 1e4 * goertzel(hb, 1500, 16000)   # no alias at 1.5 kHz
    assert {len(p.payload) for p in sent} == {160}
    steps = {(q.timestamp - p.timestamp) & 0xFFFFFFFF for p, q in zip(sent, sent[1:])}
    assert steps == {160}                       # RFC 3551 §4.5.2: the 8000 Hz clock still
    assert a._narrow is None and b._widen is None   # no converter of ours in the path


@needs_g722
def test_16khz_line_and_8khz_line_talk_g722():
    """One end's board is wideband, the other's narrowband: each hears the other in its band."""
    a, b = pair("G722", rate_a=16000, rate_b=8000)
    heard_b, heard_a = run(a, b, 100, tone(1000, 16000), tone(3000, 8000))
    hb, ha = tail(heard_b, 8000), tail(heard_a, 16000)
    assert abs(crossing_hz(hb, 8000) - 1000) < 10 and abs(db(hb)) < 1.0
    assert abs(crossing_hz(ha, 16000) - 3000) < 30 and abs(db(ha)) < 1.0
    # the wideband end's 6.5 kHz has no place on the narrowband line
    a, b = pair("G722", rate_a=16000, rate_b=8000)
    heard_b, _ = run(a, b, 60, tone(6500, 16000), tone(0, 8000))
    assert db(tail(heard_b, 8000, 0.5)) < -20


# ------------------------------------------------------------------ G.711 on a 16 kHz line

@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_g711_on_16khz_lines_carries_1khz_and_stops_6khz(codec):
    a, b = pair(codec)
    heard_b, heard_a = run(a, b, 100, tone(1000, 16000), tone(440, 16000))
    hb, ha = tail(heard_b, 16000), tail(heard_a, 16000)
    assert abs(crossing_hz(hb, 16000) - 1000) < 10 and abs(db(hb)) < 0.5
    assert abs(crossing_hz(ha, 16000) - 440) < 5
    assert goertzel(hb, 1000, 16000) > 1e5 * goertzel(hb, 7000, 16000)   # no image at 7 kHz
    a, b = pair(codec)
    heard_b, _ = run(a, b, 100, tone(6000, 16000), tone(0, 16000))
    hb = tail(heard_b, 16000)
    # the decimator's stopband, before G.711: 6 kHz (which would alias to 2 kHz) stays out
    if codec == "PCMU":
        assert db(hb) <= -60.0
    else:   # A-law has no zero: its idle channel is +-8 whatever comes in, 57 dB below 8000
        assert rms(hb) <= 8.0
    assert a._narrow is not None and b._widen is not None


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_g711_between_a_16khz_and_an_8khz_line(codec):
    a, b = pair(codec, rate_a=16000, rate_b=8000)
    heard_b, heard_a = run(a, b, 100, tone(1000, 16000), tone(1700, 8000))
    hb, ha = tail(heard_b, 8000), tail(heard_a, 16000)
    assert abs(crossing_hz(hb, 8000) - 1000) < 10 and abs(db(hb)) < 0.5
    assert abs(crossing_hz(ha, 16000) - 1700) < 17 and abs(db(ha)) < 0.5
    assert b._narrow is None and b._widen is None     # the 8 kHz end converts nothing


def test_8khz_line_is_unchanged_and_converts_nothing():
    a = MediaStream(A, B, "PCMU", ssrc=1)
    b = MediaStream(B, A, "PCMU", ssrc=2)
    heard_b, _ = run(a, b, 20, tone(1000, 8000), tone(440, 8000))
    assert a.line_rate == 8000 and a.jitter.ratio == 1 and a.frame_samples == 160
    assert a._narrow is None and b._widen is None and len(heard_b) == 20 * 320


def test_a_line_rate_other_than_8000_or_16000_is_refused():
    with pytest.raises(ValueError, match="8000 or 16000"):
        MediaStream(A, B, "PCMU", line_rate=44100)


# ------------------------------------------------------------------ loss, at 16 kHz

@pytest.mark.parametrize("codec", ["PCMU", pytest.param("G722", marks=needs_g722)])
def test_loss_is_concealed_at_16khz(codec):
    a, b = pair(codec)
    lost = {k for k in range(20, 150) if k % 7 == 0}
    heard_b, _ = run(a, b, 150, tone(400, 16000), tone(0, 16000), drop=lambda k: k in lost)
    frames = [heard_b[i:i + 640] for i in range(0, len(heard_b), 640)]
    talking = frames[10:]
    assert all(rms(f) > 0.3 * 8000 / math.sqrt(2) for f in talking)   # no hole, no dropout
    hb = b"".join(talking)
    assert abs(crossing_hz(hb, 16000) - 400) < 8                       # pitch repeated right
    st = b.stats()
    assert st["lost"] == len(lost) and b.jitter.concealed >= len(lost)
    assert b.jitter.jitter_ms < 0.01 and b.jitter.target == 160        # in 8000 Hz units


# ------------------------------------------------------------------ re-INVITE codec switch

@needs_g722
def test_codec_switch_g722_to_pcmu_and_back_mid_stream_at_16khz():
    a = MediaStream(A, B, "G722", ssrc=1, line_rate=16000)
    b = MediaStream(B, A, "G722", ssrc=2, line_rate=16000, codecs=[(9, "G722"), (0, "PCMU")])
    src = tone(1000, 16000)
    quiet = tone(0, 16000)
    run(a, b, 20, src, quiet)
    a.update(codec="PCMU")                 # the re-INVITE's answer
    assert a._narrow is not None
    heard_b, _ = run(a, b, 40, src, quiet, t0=20 * TICK)
    hb = tail(heard_b, 16000, 0.5)
    assert abs(crossing_hz(hb, 16000) - 1000) < 10 and abs(db(hb)) < 0.5
    assert b._widen is not None
    a.update(codec="G722")
    b.update(codec="G722")
    assert a._narrow is None and b._widen is None        # wideband again: converters dropped
    heard_b, _ = run(a, b, 40, tone(6500, 16000), quiet, t0=60 * TICK)
    hb = tail(heard_b, 16000, 0.5)
    assert abs(crossing_hz(hb, 16000) - 6500) < 65 and abs(db(hb)) < 1.0
    assert b.stats()["lost"] == 0
