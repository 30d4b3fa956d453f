"""Adaptive jitter buffer and concealment (tipring/firmware/media/jitter.py) on virtual time.

A sans-IO relay delays each packet by a base plus random jitter, drops, duplicates and thereby
reorders; the capture clock calls `get` every 20 ms. Nothing here reads a wall clock.
"""

import array
import heapq
import math
import random
import struct

import pytest

from tipring.firmware.media.jitter import Concealer, JitterBuffer

FRAME = 160
TICK = 0.02


class Relay:
    """Delays packets by `base` + uniform(0, `jitter`) seconds; drops `loss`, duplicates `dup`."""

    def __init__(self, base=0.03, jitter=0.0, loss=0.0, dup=0.0, seed=1):
        self.base, self.jitter, self.loss, self.dup = base, jitter, loss, dup
        self.rng = random.Random(seed)
        self.heap = []
        self.n = 0
        self.dropped = set()
        self.duplicated = 0

    def send(self, item, now, delay=None, clean=False):
        if not clean and self.rng.random() < self.loss:
            self.dropped.add(item[0])
            return
        copies = 1
        if not clean and self.rng.random() < self.dup:
            copies = 2
            self.duplicated += 1
        for _ in range(copies):
            d = delay if delay is not None else (
                self.base + (0 if clean else self.rng.random() * self.jitter))
            self.n += 1
            heapq.heappush(self.heap, (now + d, self.n, item))

    def due(self, now):
        out = []
        while self.heap and self.heap[0][0] <= now + 1e-9:
            t, _, item = heapq.heappop(self.heap)
            out.append((t, item))
        return out


def tagged(i):
    """A frame whose samples all carry the packet number (to check order)."""
    return struct.pack("<h", i % 30000 + 1) * FRAME


def sine(i, freq=1000.0, amp=8000):
    return bytes(array.array("h", [int(amp * math.sin(2 * math.pi * freq * (i * FRAME + k) / 8000))
                                   for k in range(FRAME)]))


def run(jb, relay, ticks, payload=tagged, skew=0.0, seq0=0, ts0=0, ssrc=1, special=None,
        check=None):
    """Sender emits a packet per 20 ms of its own clock (skewed); the receiver gets per tick."""
    frames = []
    next_send = 0
    for k in range(ticks):
        now = k * TICK
        while next_send * TICK / (1 + skew) <= now + 1e-9:   # skew > 0: a fast sender
            i = next_send
            item = (i, (seq0 + i) & 0xFFFF, (ts0 + i * FRAME) & 0xFFFFFFFF, payload(i))
            if special and i in special:
                relay.send(item, now, delay=special[i])
            else:
                relay.send(item, now, clean=(i == 0))
            next_send += 1
        for t, (i, seq, ts, pcm) in relay.due(now):
            jb.put(seq, ts, pcm, t, ssrc=ssrc)
        f = jb.get(now)
        assert len(f) == 2 * FRAME
        frames.append(f)
        if check:
            check(jb, k)
    return frames


def tag_of(frame):
    return struct.unpack_from("<h", frame, 2 * (FRAME - 1))[0] - 1


def test_in_order_plays_every_packet_after_the_initial_delay():
    jb = JitterBuffer()
    frames = run(jb, Relay(base=0.03), 200)
    played = [tag_of(f) for f in frames if f != bytes(320)]
    assert played[0] == 0
    # in order; the only frames skipped are the ones the buffer dropped to bring the initial
    # 40 ms down towards its measured target on this jitter-free link
    skipped = sorted(set(range(played[-1] + 1)) - set(played))
    assert played == sorted(played) and len(skipped) * 160 == jb.shrunk and len(skipped) <= 2
    assert len(played) >= 195
    assert jb.lost == jb.late == jb.duplicates == jb.concealed == 0
    # sent at 0, arrives 30 ms later, waits the initial target (40 ms): the tick at 80 ms
    assert [tag_of(f) for f in frames[:6]] == [-1, -1, -1, -1, 0, 1]


def test_reordering_within_the_target_is_undone():
    jb = JitterBuffer(min_delay_ms=60, initial_delay_ms=80)
    relay = Relay(base=0.02, jitter=0.05, seed=3)
    frames = run(jb, relay, 1000)
    played = [tag_of(f) for f in frames if f != bytes(320)]
    assert played == list(range(len(played)))
    assert jb.lost == 0 and jb.late == 0


@pytest.mark.parametrize("loss, jitter, seed", [(0.05, 0.0, 1), (0.03, 0.06, 2), (0.2, 0.04, 7),
                                               (0.03, 0.15, 3)])
def test_lost_equals_dropped_plus_late(loss, jitter, seed):
    jb = JitterBuffer()
    relay = Relay(base=0.03, jitter=jitter, loss=loss, seed=seed)
    ticks = 3000
    run(jb, relay, ticks)
    delivered_after_end = {item[0] for _, _, item in relay.heap}
    dropped = {i for i in relay.dropped if i not in delivered_after_end}
    # packets still in flight or queued at the end are neither played nor lost yet
    head = jb._head - 0x10000
    dropped_before_head = len([i for i in dropped if i < head])
    assert jb.lost == dropped_before_head + jb.late
    assert jb.concealed >= jb.lost
    if jitter > 0.1:              # the target (mean-deviation based) misses some outliers
        assert jb.late > 0
    delivered = ticks - len(relay.dropped) + relay.duplicated - len(relay.heap)
    assert jb.received + jb.late + jb.duplicates == delivered   # each counted exactly once


def test_a_very_late_packet_is_concealed_then_counted_late():
    jb = JitterBuffer()
    relay = Relay(base=0.03)
    frames = run(jb, relay, 300, special={100: 0.5})
    assert jb.late == 1 and jb.lost == 1 and jb.duplicates == 0
    tags = [tag_of(f) for f in frames]
    assert 99 in tags and 101 in tags


def test_duplicates_are_counted_and_dropped():
    jb = JitterBuffer()
    relay = Relay(base=0.03, jitter=0.01, dup=0.1, seed=4)
    frames = run(jb, relay, 2000)
    assert relay.duplicated > 100
    in_flight = len(relay.heap)
    assert jb.duplicates + in_flight >= relay.duplicated >= jb.duplicates
    assert jb.lost == 0 and jb.late == 0
    played = [tag_of(f) for f in frames if f != bytes(320)]
    assert played == list(range(len(played)))


@pytest.mark.parametrize("skew", [0.003, -0.003, 0.0])
def test_no_drift_over_a_ten_minute_call(skew):
    jb = JitterBuffer()
    relay = Relay(base=0.04, jitter=0.06, loss=0.02, dup=0.01, seed=11)
    ticks = 10 * 60 * 50
    depths = []

    def check(jb, k):
        if k % 50 == 0:
            depths.append(jb.depth_ms)

    frames = run(jb, relay, ticks, skew=skew, check=check)
    assert len(frames) == ticks                       # one frame per capture tick, always
    assert max(depths[10:]) <= 200 + 40               # bounded by max delay + two frames
    # the depth in the last minute is no larger than in the first (no creep)
    assert max(depths[-60:]) <= max(depths[5:65]) + 60
    drift = abs(skew) * ticks * FRAME                 # samples the clocks part by
    if skew > 0:                                      # a fast sender is absorbed by drops
        assert 0.7 * drift < jb.shrunk < 1.3 * drift
    if skew < 0:                                      # a slow one by stretching
        assert 0.7 * drift < jb.expanded < 1.3 * drift and jb.shrunk == 0
    if skew == 0:
        assert jb.shrunk + jb.expanded < 0.1 * 0.003 * ticks * FRAME + 10 * FRAME
    assert jb.lost >= len(relay.dropped) * 0.9


def test_target_follows_jitter():
    calm = JitterBuffer()
    run(calm, Relay(base=0.03), 500)
    rough = JitterBuffer()
    run(rough, Relay(base=0.03, jitter=0.1, seed=5), 500)
    assert calm.target == 160 and calm.jitter < 1
    assert rough.target > 400 and rough.target <= 1600
    assert 20 < rough.jitter_ms < 60


def test_sequence_number_wrap():
    jb = JitterBuffer()
    frames = run(jb, Relay(base=0.03, jitter=0.03, seed=2), 400, seq0=65500, ts0=2**32 - 8000)
    played = [tag_of(f) for f in frames if f != bytes(320)]
    assert played == list(range(len(played))) and len(played) > 380
    assert jb.lost == 0 and jb.resyncs == 0 and jb.resets == 0


def test_ssrc_change_resets():
    jb = JitterBuffer()
    for k in range(10):
        jb.put(k, k * 160, tagged(k), k * TICK, ssrc=1)
        jb.get(k * TICK)
    assert jb.put(5000, 999999, tagged(500), 0.2, ssrc=2) == "reset"
    assert jb.resets == 1 and jb.ssrc == 2 and jb.flushed > 0
    out = []
    for k in range(10, 20):
        now = k * TICK
        if k > 10:
            jb.put(5000 + k - 10, 999999 + (k - 10) * 160, tagged(500 + k - 10), now, ssrc=2)
        out.append(tag_of(jb.get(now)))
    assert 500 in out and 501 in out and jb.lost == 0


def test_timestamp_jump_with_marker_resyncs():
    jb = JitterBuffer()
    for k in range(20):
        jb.put(k, k * 160, tagged(k), k * TICK)
        jb.get(k * TICK)
    # silence suppression: two seconds without packets, then a talkspurt (marker, new ts)
    for k in range(20, 120):
        jb.get(k * TICK)
    assert jb.expanded > 0
    tags = []
    for k in range(120, 160):
        now = k * TICK
        i = k - 100
        jb.put(i, 160 * (i + 100), tagged(i), now, marker=(i == 20))
        tags.append(tag_of(jb.get(now)))
    assert jb.resyncs == 1 and jb.lost == 0
    assert tags[0] == -1 and tags.index(20) == 1     # after the target delay (20 ms) again
    played = [t for t in tags if t >= 0]
    assert played[played.index(20):] == list(range(20, 20 + len(played) - played.index(20)))


def test_sequence_jump_beyond_the_ring_needs_two_packets():
    jb = JitterBuffer()
    for k in range(5):
        jb.put(k, k * 160, tagged(k), k * TICK)
    assert jb.put(30000, 5 * 160, tagged(9), 0.1) == "jump"
    assert jb.put(6, 6 * 160, tagged(6), 0.12) == "ok"
    assert jb.put(30000, 5 * 160, tagged(9), 0.14) == "jump"
    assert jb.put(30001, 6 * 160, tagged(10), 0.16) == "reset"
    assert jb.resyncs == 1


def test_missing_head_with_nothing_behind_it_expands():
    jb = JitterBuffer()
    for k in range(4):
        jb.put(k, k * 160, tagged(k + 1), 0.0)
    frames = [jb.get(0.04 + k * TICK) for k in range(8)]
    assert [tag_of(f) for f in frames[:4]] == [1, 2, 3, 4]
    assert jb.lost == 0 and jb.expanded == 4 * 160 and jb.concealed == 4
    # the late packet now plays, nothing was lost: the delay grew instead
    jb.put(4, 4 * 160, tagged(5), 0.2)
    assert tag_of(jb.get(0.2)) == 5 or jb.lost == 0


def test_placeholder_packets_are_not_lost():
    jb = JitterBuffer()
    now = 0.0
    for k in range(40):
        now = k * TICK
        if 10 <= k < 15:
            jb.put(k, 10 * 160, None, now)            # RFC 4733 event packets: no audio
        else:
            jb.put(k, k * 160, tagged(k), now)
        jb.get(now)
    assert jb.lost == 0 and jb.late == 0


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        JitterBuffer(capacity=100)
    with pytest.raises(ValueError):
        JitterBuffer(min_delay_ms=100, max_delay_ms=50)


# -- concealment ---------------------------------------------------------------------------

def level(pcm):
    a = array.array("h", pcm)
    return math.sqrt(sum(x * x for x in a) / len(a))


def test_concealment_repeats_the_pitch_then_fades_to_silence():
    plc = Concealer()
    for i in range(5):
        plc.good(sine(i, freq=200.0))
    out = [plc.conceal(80) for _ in range(8)]          # 8 x 10 ms
    ref = level(sine(0, freq=200.0))
    assert abs(level(out[0]) - ref) < 0.05 * ref        # first 10 ms at full level
    # a 200 Hz period is 40 samples: the repetition is the continued sine
    expect = sine(5, freq=200.0)[:160]
    a, b = array.array("h", out[0]), array.array("h", expect)
    assert max(abs(a[i] - b[i]) for i in range(80)) < 200
    assert level(out[1]) < level(out[0]) and level(out[3]) < level(out[1])
    assert level(out[6]) == 0 and level(out[7]) == 0   # silent after 60 ms
    assert plc.erased == 640


def test_concealment_cross_fades_back_into_audio():
    plc = Concealer()
    for i in range(5):
        plc.good(sine(i))
    plc.conceal(160)
    back = plc.good(sine(7))
    assert plc.erased == 0
    # 4 ms + 4 ms per 10 ms erased, at most 10 ms (80 samples) are blended
    assert back[160:] == sine(7)[160:]
    assert back != sine(7)


@pytest.mark.parametrize("ptime_ms", [10, 30])
def test_other_packet_sizes_play_out_in_20_ms_frames(ptime_ms):
    n = ptime_ms * 8
    jb = JitterBuffer()
    src = b"".join(sine(i) for i in range(200))           # 4 s of a continuous 1 kHz sine
    relay = Relay(base=0.03, jitter=0.02, seed=8)
    out = []
    sent = 0
    for k in range(190):
        now = k * TICK
        while sent * ptime_ms / 1000.0 <= now + 1e-9 and (sent + 1) * n * 2 <= len(src):
            relay.send((sent, sent, sent * n, src[sent * n * 2:(sent + 1) * n * 2]), now,
                       clean=(sent == 0))
            sent += 1
        for t, (i, seq, ts, pcm) in relay.due(now):
            jb.put(seq, ts, pcm, t)
        out.append(jb.get(now))
    assert all(len(f) == 320 for f in out)
    audio = b"".join(out)
    start = audio.index(src[:64])
    assert audio[start:start + 320 * 150] == src[:320 * 150]   # bit-exact, re-cut
    assert jb.lost == jb.late == jb.concealed == 0
