"""3-way conference mixing (tipring/firmware/media/mixer.py)."""

import array
import math
import struct
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipring.firmware.media import mixer
from tipring.firmware.media.mixer import Conference, add, add_pure, mix, mix3


def frame(values):
    return bytes(array.array("h", values))


def tone(freq, amp=8000, n=160):
    return frame([int(amp * math.sin(2 * math.pi * freq * k / 8000)) for k in range(n)])


def test_each_party_hears_the_others():
    a, b, c = frame([100] * 160), frame([20] * 160), frame([3] * 160)
    ha, hb, hc = mix3(a, b, c)
    assert ha == frame([23] * 160)
    assert hb == frame([103] * 160)
    assert hc == frame([120] * 160)


def test_sums_saturate():
    a = frame([30000, -30000, 32767, -32768] * 40)
    b = frame([30000, -30000, 1, -1] * 40)
    assert add(a, b) == frame([32767, -32768, 32767, -32768] * 40)
    assert add_pure(a, b) == add(a, b)


def test_missing_party_is_silence():
    a, c = tone(440), tone(1000)
    ha, hb, hc = mix([a, None, c])
    assert ha == c and hc == a and hb == add(a, c)
    assert mix([None, None]) == [None, None]


def test_frames_must_match():
    with pytest.raises(ValueError):
        mix([bytes(320), bytes(318)])
    with pytest.raises(ValueError):
        add(bytes(4), bytes(6))
    with pytest.raises(ValueError):
        add_pure(bytes(4), bytes(6))
    with pytest.raises(ValueError):
        mix([bytes(3), bytes(3)])


@given(st.data())
def test_pure_python_matches_audioop(data):
    n = data.draw(st.integers(1, 64))
    fr = [frame(data.draw(st.lists(st.integers(-32768, 32767), min_size=n, max_size=n)))
          for _ in range(3)]
    assert mix(fr, add_pure) == mix(fr)
    x, y = fr[0], fr[1]
    expect = frame([max(-32768, min(32767, p + q))
                    for p, q in zip(array.array("h", x), array.array("h", y))])
    assert add_pure(x, y) == expect == add(x, y)


def test_audioop_is_used_on_this_cpython():
    import sys
    if sys.version_info < (3, 13):
        assert mixer.HAVE_AUDIOOP


def test_conference_of_line_and_two_legs():
    conf = Conference(["line", "a", "b"])
    conf.put("line", tone(440))
    conf.put("a", tone(1000))
    out = conf.mix()
    assert out["line"] == tone(1000) and out["a"] == tone(440)
    assert out["b"] == add(tone(440), tone(1000))
    assert conf.mix() == {p: bytes(320) for p in ("line", "a", "b")}   # nothing put: silence
    conf.leave("b")
    conf.join("c")
    assert conf.parties == ["line", "a", "c"]
    with pytest.raises(ValueError):
        conf.put("b", tone(440))
    with pytest.raises(ValueError):
        conf.put("a", bytes(10))


def le_frame(values):
    """A frame packed explicitly little-endian, whatever the host's byte order."""
    return struct.pack("<%dh" % len(values), *values)


@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=64).flatmap(
    lambda v: st.tuples(st.just(v), st.lists(st.integers(-32768, 32767), min_size=len(v), max_size=len(v)))))
def test_pure_path_matches_audioop_on_little_endian_frames(pair):
    """The no-audioop path and audioop on the same explicitly little-endian input."""
    p, q = pair
    x, y = le_frame(p), le_frame(q)
    expect = le_frame([max(-32768, min(32767, u + v)) for u, v in zip(p, q)])
    assert add_pure(x, y) == expect
    if mixer.HAVE_AUDIOOP:
        assert add(x, y) == expect


def test_pure_path_swaps_bytes_on_a_big_endian_host(monkeypatch):
    """What a big-endian host does, on this one: with compat told the host is big-endian,
    frames whose bytes are the other way round from native must come out summed and in that
    same order. Without the swaps add_pure would sum byte-swapped values (0x0100 + 0x0100
    saturating, instead of 1 + 1 = 2)."""
    from tipring.firmware import compat
    other = ">" if sys.byteorder == "little" else "<"
    p = [1, 256, 30000, -30000, 32767, -32768, -1, 12345]
    q = [1, 256, 30000, -30000, 1, -1, -1, -12345]
    x = struct.pack("%s%dh" % (other, len(p)), *p)
    y = struct.pack("%s%dh" % (other, len(q)), *q)
    expect = [max(-32768, min(32767, u + v)) for u, v in zip(p, q)]
    monkeypatch.setattr(compat, "LITTLE_ENDIAN", not compat.LITTLE_ENDIAN)
    out = add_pure(x, y)
    assert list(struct.unpack("%s%dh" % (other, len(p)), out)) == expect
    assert mix([x, y, bytes(len(x))], add_pure)[2] == out
