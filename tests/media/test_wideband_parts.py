"""The media parts around the stream on a 16 kHz line (issue #15): the jitter buffer's two
units (RTP timestamp vs PCM samples), fixed mode and concealment at 16 kHz, the three-way mix,
hold music from 8 and 16 kHz WAVs, and the router making each line's streams at its rate."""

import array
import math
import struct
import wave

import pytest

from tipring.firmware import config
from tipring.firmware.calls.call import Call
from tipring.firmware.media import g722
from tipring.firmware.media.jitter import Concealer, JitterBuffer
from tipring.firmware.media.mixer import Conference
from tipring.firmware.media.moh import HoldMusic
from tipring.firmware.media.routing import MediaRouter
from tipring.firmware.media.sdp import MediaPlan
from tipring.firmware.media.stream import MediaStream
from tipring.firmware.sip.useragent import UserAgent

from tests.media.test_jitter import Relay
from tests.media.test_stream import goertzel
from tests.media.test_stream_wideband import crossing_hz, db, rms, tone

WIDE = 320      # PCM samples of 20 ms at 16 kHz
TICKS = 160     # RTP timestamp units of 20 ms (the 8000 Hz clock)


def tagged16(i):
    """A 16 kHz packet's audio: 320 samples all of one value, the packet's number."""
    return struct.pack("<h", i % 30000 + 1) * WIDE


def tag_of(frame):
    return struct.unpack("<h", frame[:2])[0] - 1


def run16(jb, relay, ticks, skew=0.0):
    """As test_jitter.run: a sender (its clock skewed) emits a packet of 16 kHz audio each
    20 ms, timestamps stepping 160; the receiver gets one 16 kHz frame a tick."""
    frames = []
    next_send = 0
    for k in range(ticks):
        now = k * 0.02
        while next_send * 0.02 / (1 + skew) <= now + 1e-9:
            i = next_send
            relay.send((i, i & 0xFFFF, (i * TICKS) & 0xFFFFFFFF, tagged16(i)), now, clean=(i == 0))
            next_send += 1
        for t, (i, seq, ts, pcm) in relay.due(now):
            jb.put(seq, ts, pcm, t, ssrc=1)
        f = jb.get(now)
        assert len(f) == 2 * WIDE
        frames.append(f)
    return frames


# ------------------------------------------------------------------ the jitter buffer

def test_jitter_buffer_at_16khz_plays_every_packet_in_order_with_8000_clock_units():
    jb = JitterBuffer(frame_samples=WIDE, line_rate=16000)
    assert jb.ratio == 2 and jb.frame_ticks == TICKS
    frames = run16(jb, Relay(base=0.02, jitter=0.01, seed=3), 500)
    played = [tag_of(f) for f in frames if f != bytes(2 * WIDE)]
    assert played[:5] == [0, 1, 2, 3, 4]
    assert sorted(set(played)) == played[:len(set(played))]
    assert jb.lost == jb.late == 0
    assert 20 <= jb.stats()["target_ms"] <= 200 and 0 < jb.depth_ms < 200


def test_jitter_buffer_fixed_mode_at_16khz_holds_the_delay():
    jb = JitterBuffer(frame_samples=WIDE, line_rate=16000)
    jb.fix(60)
    frames = run16(jb, Relay(base=0.02, jitter=0.03, seed=5), 1500)
    played = [tag_of(f) for f in frames if f != bytes(2 * WIDE)]
    assert played == list(range(len(played)))            # nothing dropped, nothing repeated
    assert jb.shrunk == jb.expanded == jb.lost == jb.late == 0
    assert jb.target == 480 and jb.stats()["target_ms"] == 60.0      # 60 ms of the 8 kHz clock
    assert frames.index(next(f for f in frames if f != bytes(2 * WIDE))) == 4


def test_jitter_buffer_adaptive_at_16khz_absorbs_a_fast_sender():
    jb = JitterBuffer(frame_samples=WIDE, line_rate=16000)
    run16(jb, Relay(base=0.02), 3000, skew=0.005)
    assert jb.shrunk > 0 and jb.shrunk % TICKS == 0      # whole 20 ms frames dropped
    assert jb.depth_ms < 120


def test_a_frame_that_does_not_fit_the_clock_is_refused():
    with pytest.raises(ValueError):
        JitterBuffer(frame_samples=321, line_rate=16000)
    with pytest.raises(ValueError):
        JitterBuffer(line_rate=12000)


@pytest.mark.parametrize("pitch_hz", [100, 180])
def test_concealment_at_16khz_repeats_the_pitch_period(pitch_hz):
    """The pitch range doubles with the rate: a voice at 100 or 180 Hz is repeated at it."""
    plc = Concealer(16000)

    def voice(k):
        return 6000 * math.sin(2 * math.pi * pitch_hz * k / 16000)
    plc.good(array.array("h", [int(voice(k)) for k in range(1600)]).tobytes())
    out = array.array("h", plc.conceal(160))     # 10 ms at full level: the voice goes on
    assert max(abs(out[k] - voice(1600 + k)) for k in range(160)) < 0.05 * 6000
    rest = plc.conceal(16000 * 60 // 1000)   # faded to silence 60 ms into the erasure
    assert rest[-200:] == bytes(200)


# ------------------------------------------------------------------ the three-way mix

def test_conference_of_three_at_16khz_keeps_tones_above_4khz():
    conf = Conference(["line", "a", "b"], frame_samples=WIDE)
    line, a, b = tone(5000, 16000), tone(6500, 16000), tone(1000, 16000)
    heard = {"line": [], "a": [], "b": []}
    for _ in range(25):
        conf.put("line", line())
        conf.put("a", a())
        conf.put("b", b())
        for p, f in conf.mix().items():
            assert len(f) == 2 * WIDE
            heard[p].append(f)
    got = {p: b"".join(fs) for p, fs in heard.items()}

    def has(pcm, f):
        return goertzel(pcm, f, 16000) > 1e4 * goertzel(pcm, 3000, 16000)

    assert has(got["line"], 6500) and has(got["line"], 1000) and not has(got["line"], 5000)
    assert has(got["a"], 5000) and has(got["a"], 1000) and not has(got["a"], 6500)
    assert has(got["b"], 5000) and has(got["b"], 6500) and not has(got["b"], 1000)


# ------------------------------------------------------------------ hold music

def write_wav(path, rate, pcm):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return str(path)


def test_hold_music_from_an_8khz_wav_is_interpolated_on_a_16khz_line(tmp_path):
    src = tone(1000, 8000)
    path = write_wav(tmp_path / "narrow.wav", 8000, b"".join(src() for _ in range(50)))
    moh = HoldMusic(*config.read_hold_music(path, with_rate=True))
    out = b"".join(moh.next_frame(640, 16000) for _ in range(50))
    assert len(out) == 50 * 640
    assert abs(crossing_hz(out[6400:], 16000) - 1000) < 10 and abs(db(out[6400:])) < 0.5
    assert goertzel(out, 7000, 16000) < 1e-6 * goertzel(out, 1000, 16000)   # no image


def test_hold_music_from_a_16khz_wav_plays_as_is_on_a_16khz_line(tmp_path):
    src = tone(6000, 16000)
    pcm = b"".join(src() for _ in range(50))
    path = write_wav(tmp_path / "wide.wav", 16000, pcm)
    moh = HoldMusic(*config.read_hold_music(path, with_rate=True))
    assert moh.rate == 16000
    out = b"".join(moh.next_frame(640, 16000) for _ in range(50))
    assert out == pcm                                  # bit for bit
    moh.restart()
    narrow = b"".join(moh.next_frame(320, 8000) for _ in range(50))   # an 8 kHz line
    assert db(narrow[3200:]) < -60                     # 6 kHz has no place at 8 kHz


def test_the_hold_tone_on_a_16khz_line():
    narrow, wide = HoldMusic(None), HoldMusic(None)
    n = b"".join(narrow.next_frame(320) for _ in range(20))
    w = b"".join(wide.next_frame(640, 16000) for _ in range(20))
    assert len(w) == 2 * len(n)
    assert abs(crossing_hz(w[3200:], 16000) - 523) < 10
    assert abs(20 * math.log10(rms(w[3200:]) / rms(n[1600:]))) < 0.3


def test_hold_music_refuses_a_rate_it_cannot_play():
    with pytest.raises(ValueError):
        HoldMusic(bytes(320), rate=11025)


# ------------------------------------------------------------------ the router

HOST = "127.0.0.1"


def _call(ua, n, codec, pt, direction="sendrecv"):
    call = Call({"port": 1, "user": "1001"}, "out", ua, (HOST, 20000 + 2 * n), 0.0)
    call.call_id = "call-%d" % n
    call.plan = MediaPlan(HOST, 30000 + 2 * n, [(pt, codec)], 101, 20, direction, False)
    return call


@pytest.mark.parametrize("codec, pt", [("PCMU", 0),
                                       pytest.param("G722", 9, marks=pytest.mark.skipif(
                                           not g722.available(), reason="needs g722"))])
def test_router_makes_streams_at_the_line_rate_and_mixes_three_at_16khz(codec, pt):
    ua = UserAgent(HOST, 5060, users=["1001"])
    router = MediaRouter(line_rate=lambda port: 16000)
    c1, c2 = _call(ua, 1, codec, pt), _call(ua, 2, codec, pt)
    far = {}
    for c, f in ((c1, 700), (c2, 1300)):
        ours, theirs = tuple(c.rtp), (HOST, c.plan.port)
        far[theirs[1]] = (MediaStream(theirs, ours, codec, line_rate=16000, rtcp_mux=False),
                          tone(f, 16000), [])
    router.op("start", c1, 0.0)
    router.op("join", c2, 0.0)
    assert router.stream_for(1).line_rate == 16000 and router.stream_for(1, "joined").frame_samples == WIDE
    mouth = tone(2500, 16000)
    heard = []
    for k in range(60):
        now = k * 0.02
        for port, (stream, src, _) in far.items():
            for data, addr in stream.on_capture(src(), now):
                router.packet(addr[1], data, (HOST, port), now)
        line, out = router.frame(1, mouth(), now)
        assert len(line) == 2 * WIDE
        heard.append(line)
        for o in out:
            if o[0] == "rtp" and o[3][1] in far:
                far[o[3][1]][0].on_packet(o[2], (HOST, o[1]), now)
        for stream, _, got in far.values():
            got.append(stream.playout(now))
    h = b"".join(heard[20:])
    assert goertzel(h, 700, 16000) > 1e3 * goertzel(h, 2500, 16000)      # not itself
    assert goertzel(h, 1300, 16000) > 1e3 * goertzel(h, 2500, 16000)
    one = b"".join(far[c1.plan.port][2][20:])
    assert goertzel(one, 2500, 16000) > 1e3 * goertzel(one, 700, 16000)   # the line and ...
    assert goertzel(one, 1300, 16000) > 1e3 * goertzel(one, 700, 16000)   # ... the other one


def test_router_sends_the_held_party_16khz_hold_music():
    if not g722.available():
        pytest.skip("needs g722")
    ua = UserAgent(HOST, 5060, users=["1001"])
    music = tone(6000, 16000)
    router = MediaRouter({1: HoldMusic(b"".join(music() for _ in range(50)), rate=16000)},
                         line_rate=lambda port: 16000)
    c1 = _call(ua, 1, "G722", 9, direction="sendonly")
    ours, theirs = tuple(c1.rtp), (HOST, c1.plan.port)
    far = MediaStream(theirs, ours, "G722", line_rate=16000, rtcp_mux=False, direction="recvonly")
    router.op("start", c1, 0.0)
    got = []
    for k in range(50):
        now = k * 0.02
        _, out = router.frame(1, bytes(2 * WIDE), now)
        for o in out:
            if o[0] == "rtp":
                far.on_packet(o[2], (HOST, o[1]), now)
        got.append(far.playout(now))
    h = b"".join(got[10:])
    assert abs(crossing_hz(h, 16000) - 6000) < 60 and abs(db(h)) < 1.0    # wideband music
