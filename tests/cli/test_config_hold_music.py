"""line.N.hold_music: "", "tone" or an 8 kHz mono 16-bit WAV; bad values named with what is
allowed (the WAV's header read with the stdlib `wave` module at load)."""

import wave

import pytest

from tipring.firmware import config
from tests.cli.test_config import GOOD, write


def with_music(value):
    return GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\nhold_music = "%s"' % value)


def wav(path, rate=8000, channels=1, width=2, frames=800):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames * channels * width))
    return str(path)


def test_silence_by_default_and_tone_accepted(tmp_path):
    assert config.load(write(tmp_path, GOOD)).line(1)["hold_music"] == ""
    assert config.load(write(tmp_path, with_music("Tone"))).line(1)["hold_music"] == "tone"


def test_a_good_wav_is_kept_and_read_once(tmp_path):
    path = wav(tmp_path / "hold.wav", frames=1234)
    assert config.load(write(tmp_path, with_music(path))).line(1)["hold_music"] == path
    assert len(config.read_hold_music(path)) == 2468


@pytest.mark.parametrize("kw, says", [({"rate": 11025}, "this one is 11025 Hz, 1 channel, 16-bit"),
                                      ({"channels": 2}, "this one is 8000 Hz, 2 channels, 16-bit"),
                                      ({"width": 1}, "this one is 8000 Hz, 1 channel, 8-bit"),
                                      ({"frames": 0}, "this one has no samples")])
def test_a_wav_in_another_format_is_refused_saying_why(tmp_path, kw, says):
    path = wav(tmp_path / "bad.wav", **kw)
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, with_music(path)))
    text = str(e.value)
    assert "line.1.hold_music:" in text and "8 kHz, mono, 16-bit PCM" in text and says in text


def test_a_16khz_wav_is_kept_and_read_with_its_rate(tmp_path):
    """A wideband WAV (a 16 kHz line plays it as it is, an 8 kHz one decimates it)."""
    path = wav(tmp_path / "wide.wav", rate=16000, frames=1600)
    assert config.load(write(tmp_path, with_music(path))).line(1)["hold_music"] == path
    pcm, rate = config.read_hold_music(path, with_rate=True)
    assert rate == 16000 and len(pcm) == 3200


def test_a_missing_or_non_wav_file_is_refused(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wave file at all")
    for value, says in ((str(tmp_path / "nope.wav"), "No such file"), (str(junk), "not a PCM WAV file")):
        with pytest.raises(config.ConfigError) as e:
            config.load(write(tmp_path, with_music(value)))
        assert "line.1.hold_music:" in str(e.value) and says in str(e.value), str(e.value)
