"""Music on hold source (tipring/firmware/media/moh.py): the looped file and the comfort tone."""

import array

import pytest

from tipring.firmware.dsp.classify import level_dbm0, spectral_peaks
from tipring.firmware.media.moh import HoldMusic


def test_a_file_loops_seamlessly_across_its_end():
    pcm = array.array("h", range(1, 251)).tobytes()        # 250 samples: not a frame multiple
    moh = HoldMusic(pcm)
    out = b"".join(moh.next_frame(320) for _ in range(10))  # 1600 samples: 6.4 loops
    got = array.array("h", out)
    assert list(got) == [(i % 250) + 1 for i in range(1600)]
    moh.restart()
    assert array.array("h", moh.next_frame(4)).tolist() == [1, 2]


def test_the_tone_is_the_documented_chime():
    moh = HoldMusic(None)
    frames = [moh.next_frame(320) for _ in range(200)]      # 4 s: two cycles
    assert moh.kind == "tone"
    first, second, pause = (b"".join(frames[a:b]) for a, b in ((2, 23), (27, 48), (52, 98)))
    assert abs(spectral_peaks(array.array("h", first))[0][0] - 523) < 8
    assert abs(spectral_peaks(array.array("h", second))[0][0] - 659) < 8
    assert -21.5 < level_dbm0(first) < -18.5
    assert pause == bytes(len(pause))
    assert frames[100:150] == frames[0:50]                  # 2 s cycle


def test_an_empty_file_is_refused():
    with pytest.raises(ValueError):
        HoldMusic(b"")
