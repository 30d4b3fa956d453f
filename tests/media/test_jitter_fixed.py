"""The jitter buffer's fixed mode for fax/modem pass-through (tipring/firmware/media/jitter.py, `fix`).

Same virtual relay as test_jitter.py: packets delayed by a base plus jitter, dropped, late; the
capture clock calls `get` every 20 ms. After `fix`, the playout point never moves for the
depth: no frame dropped or stretched whatever the jitter or clock skew, losses concealed in place.
"""

from tipring.firmware.media.jitter import JitterBuffer
from tests.media.test_jitter import FRAME, Relay, run, tag_of


def test_fixed_mode_holds_the_delay_and_plays_every_packet_in_order():
    jb = JitterBuffer()
    jb.fix(60)
    relay = Relay(base=0.02, jitter=0.03, seed=5)
    frames = run(jb, relay, 1500)
    played = [tag_of(f) for f in frames if f != bytes(2 * FRAME)]
    assert played == list(range(len(played)))            # nothing dropped, nothing repeated
    assert jb.shrunk == jb.expanded == jb.lost == jb.late == 0
    assert jb.target == 480 and jb.stats()["mode"] == "fixed"
    # sent at 0, here 20 ms later, played the fixed 60 ms after it: the tick at 80 ms
    assert frames.index(next(f for f in frames if f != bytes(2 * FRAME))) == 4


def test_adaptive_mode_would_have_adjusted_where_fixed_does_not():
    """A fast sender clock (0.5 %): the adaptive buffer drops frames to hold its delay; the
    fixed one lets the depth grow by the skew instead of cutting into the modem signal."""
    adaptive, fixed = JitterBuffer(), JitterBuffer()
    fixed.fix(60)
    run(adaptive, Relay(base=0.02), 3000, skew=0.005)
    frames = run(fixed, Relay(base=0.02), 3000, skew=0.005)
    assert adaptive.shrunk > 0
    assert fixed.shrunk == 0 and fixed.expanded == 0
    played = [tag_of(f) for f in frames if f != bytes(2 * FRAME)]
    assert played == list(range(len(played)))
    assert fixed.depth_ms > 60                      # the skew accumulates, untouched


def test_fixed_mode_conceals_losses_in_place_and_keeps_the_clock():
    jb = JitterBuffer()
    jb.fix(60)
    relay = Relay(base=0.02, loss=0.05, seed=9)
    frames = run(jb, relay, 2000)
    assert jb.lost > 0 and jb.expanded == 0 and jb.shrunk == 0
    # every packet that arrived plays in the slot its timestamp gives it: frame k carries
    # packet k - 4 (80 ms after it was sent) or concealment
    for k, f in enumerate(frames[4:], 4):
        i = k - 4
        if i not in relay.dropped:
            assert tag_of(f) == i, (k, tag_of(f))


def test_a_late_packet_in_fixed_mode_does_not_delay_what_follows():
    jb = JitterBuffer()
    jb.fix(60)
    frames = run(jb, Relay(base=0.02), 400, special={100: 0.3})
    assert jb.late == 1 and jb.lost == 1 and jb.expanded == 0
    assert tag_of(frames[104]) != 100                # concealed in its slot
    assert [tag_of(f) for f in frames[105:200]] == list(range(101, 196))


def test_switching_mid_call_realigns_once_to_the_fixed_delay():
    jb = JitterBuffer()
    relay = Relay(base=0.02)
    run(jb, relay, 200)                                # adaptive: settles at its small target
    before = jb.depth_ms
    assert before < 60
    jb.fix(60)
    assert jb.expanded == round((60 - before) * 8)   # the one stretch, at the switch
    assert abs(jb.depth_ms - 60) < 1e-6
    expanded, shrunk = jb.expanded, jb.shrunk
    for k in range(200, 1200):                         # the same sender and relay carry on
        now = k * 0.02
        relay.send((k, k & 0xFFFF, k * FRAME, bytes(2 * FRAME)), now)
        for t, (i, seq, ts, pcm) in relay.due(now):
            jb.put(seq, ts, pcm, t, ssrc=1)
        jb.get(now)
    assert jb.expanded == expanded and jb.shrunk == shrunk
    assert jb.lost == 0 and jb.late == 0


def test_fix_rejects_a_delay_beyond_the_ring():
    import pytest
    with pytest.raises(ValueError):
        JitterBuffer(capacity=8).fix(500)
