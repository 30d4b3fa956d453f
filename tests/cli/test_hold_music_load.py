"""The app reads each line's hold music once at load (tipring/firmware/app.py `_load_hold_music`): a
WAV's samples, the tone; a file that went bad after the config check is one `error` event and
silence for that line, never a traceback."""

import os

from tipring.firmware import config
from tipring.firmware.app import Firmware
from tests.cli.test_config import GOOD, write
from tests.cli.test_config_hold_music import wav, with_music


def test_hold_music_is_read_at_load_and_a_vanished_file_is_an_error_not_a_crash(tmp_path):
    path = wav(tmp_path / "hold.wav", frames=400)
    cfg = config.load(write(tmp_path, with_music(path)))
    fw = Firmware(cfg)
    try:
        fw._load_hold_music()
        moh = fw.hold_music[1]
        assert moh.kind == "file" and moh.pcm == bytes(800)
        fw._load_hold_music()                         # unchanged config: the same source kept
        assert fw.hold_music[1] is moh
        os.remove(path)                               # gone since the config was checked
        fw.hold_music = {}
        fw._load_hold_music()
        assert fw.hold_music == {}
        errors = [r for r in fw.events.recent if r["event"] == "error"]
        assert len(errors) == 1 and errors[0]["where"] == "config"
        assert "line 1: hold_music %s" % path in errors[0]["message"]
        assert "held parties hear silence" in errors[0]["message"]
        fw.cfg = config.load(write(tmp_path, with_music("tone")))
        fw._load_hold_music()
        assert fw.hold_music[1].kind == "tone"
        fw.cfg = config.load(write(tmp_path, GOOD))
        fw._load_hold_music()
        assert fw.hold_music == {}
    finally:
        fw.loop.close()
