"""The firmware on a SLIC board (kind "slic"): the AG1171 wiring on gpiozero's MockFactory
pins and a real ALSA PCM (file plugin) as the media clock, driven through the real app.

Proves the path a Pi takes: SHK edge -> HookSwitch -> wake-up pipe -> hook decoder -> line,
and ALSA capture -> line -> ALSA playback carrying the dial tone."""

import json
import math
import os
import struct

import pytest

from tipring.firmware.config import validate
from tipring.firmware.app import Firmware

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "alsa", "asound-test.conf")
ROOT = os.path.dirname(os.path.dirname(HERE))


def power(samples, f, rate=8000):
    c = 2 * math.cos(2 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in samples:
        s1, s2 = v + c * s1 - s2, s1
    return s1 * s1 + s2 * s2 - c * s1 * s2


@pytest.fixture
def slic_board(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "tipring", "board", "ag1171-usb.toml")) as f:
        text = f.read()
    text = text.replace('pin_factory = "default"', 'pin_factory = "mock"')
    text = text.replace('device = "plughw:CARD=Device,DEV=0"', 'device = "tipring"')
    path = tmp_path / "ag1171-test.toml"
    path.write_text(text)
    cap = tmp_path / "cap.raw"
    cap.write_bytes(b"\0" * 8000 * 2 * 30)
    monkeypatch.setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + CONF)
    monkeypatch.setenv("TIPRING_PLAY_FILE", str(tmp_path / "play.raw"))
    monkeypatch.setenv("TIPRING_CAP_FILE", str(cap))
    return str(path), tmp_path


def started_firmware(board_path, ev_path):
    """The real Firmware on the board file, one line (no registrar), started."""
    cfg = validate({"board": {"kind": board_path, "country": "us"},
                    "sip": {"bind": "127.0.0.1:0"},
                    "line": [{"port": 1, "user": "1001", "registrar": "127.0.0.1:9", "register": False}]})
    fw = Firmware(cfg, log_json=ev_path)
    fw.start()
    return fw


def test_hook_edge_and_dial_tone_through_the_real_hal_and_alsa(slic_board):
    board_path, tmp = slic_board
    ev_path = str(tmp / "events.jsonl")
    fw = started_firmware(board_path, ev_path)
    try:
        assert type(fw.board).__name__ == "SlicBoard"
        fw.loop.run_for(0.2)
        shk = fw.board.factory.pin(27)
        shk.drive_high()                      # the handset is lifted: SHK goes high (active high)
        fw.loop.run_for(0.6)
        events = [json.loads(l) for l in open(ev_path)]
        hooks = [e for e in events if e["event"] == "hook"]
        assert hooks and hooks[0]["state"] == "off" and hooks[0]["line"] == 1
        assert fw.board.line_status(1)["state"] == "dial_tone"
        data = (tmp / "play.raw").read_bytes()
        tail = struct.unpack("<%dh" % 1600, data[-3200:])
        p350, p440, p1000 = power(tail, 350), power(tail, 440), power(tail, 1000)
        assert p350 > 100 * p1000 and p440 > 100 * p1000, (p350, p440, p1000)
        assert fw.board.audio_stats()[1]["frames_in"] > 10
    finally:
        fw.close()


def test_an_idle_line_stops_its_capture_and_a_hook_edge_restarts_it(slic_board):
    board_path, tmp = slic_board
    fw = started_firmware(board_path, str(tmp / "events.jsonl"))
    try:
        board = fw.board
        fw.loop.run_for(0.2)        # the file PCM is never paced: its idle frames pass at once
        assert not board.clock_running(1) and board._fds == {}
        audio = board.hardware[1].audio
        alsa = audio._alsa
        assert audio.capture.state() in (alsa.PCM_STATE_SETUP, alsa.PCM_STATE_PREPARED)   # stopped
        n0 = audio.frames_in
        fw.loop.run_for(0.5)
        assert audio.frames_in == n0                  # no capture, no poll wake-ups
        board.factory.pin(27).drive_high()            # off-hook: the edge restarts capture
        fw.loop.run_for(0.3)
        assert board.clock_running(1) and audio.frames_in > n0 and audio.errors == 0
        assert board.line_status(1)["state"] == "dial_tone"
        data = (tmp / "play.raw").read_bytes()
        tail = struct.unpack("<%dh" % 1600, data[-3200:])
        assert power(tail, 350) > 100 * power(tail, 1000) and power(tail, 440) > 100 * power(tail, 1000)
        board.factory.pin(27).drive_low()
        fw.loop.run_for(1.2)                          # the hang-up window, then idle frames
        assert board.line_status(1)["state"] == "on_hook" and not board.clock_running(1)
        n1 = audio.frames_in
        board.line_command(1, "incoming", None)       # the call layer offers a call: rings
        assert board.clock_running(1)
        fw.loop.run_for(0.1)
        assert audio.frames_in > n1
        board.line_command(1, "remote_hangup")
        fw.loop.run_for(0.2)
        assert not board.clock_running(1)
        assert "ringing for" in fw.ring(1) and board.clock_running(1)
    finally:
        fw.close()


def test_a_16_khz_slic_line_plays_dial_tone_at_the_line_rate(slic_board):
    """The board's `audio.rate = 16000`: ALSA moves 640-byte periods, the line's dial tone (8 kHz
    DSP) reaches playback through the line's interpolator, with nothing at its images."""
    board_path, tmp = slic_board
    with open(board_path) as f:
        text = f.read()
    with open(board_path, "w") as f:
        f.write(text.replace('device = "tipring"', 'device = "tipring", rate = 16000'))
    fw = started_firmware(board_path, str(tmp / "events.jsonl"))
    try:
        assert fw.board.line_rate(1) == 16000 and fw.board.hardware[1].audio.frame_bytes == 640
        fw.loop.run_for(0.2)
        fw.board.factory.pin(27).drive_high()
        fw.loop.run_for(0.6)
        assert fw.board.line_status(1)["state"] == "dial_tone"
        data = (tmp / "play.raw").read_bytes()
        assert len(data) % 640 == 0
        tail = struct.unpack("<%dh" % 3200, data[-6400:])
        p350, p440 = power(tail, 350, 16000), power(tail, 440, 16000)
        images = power(tail, 8000 - 350, 16000) + power(tail, 8000 - 440, 16000)
        assert p350 > 1e4 * images and p440 > 1e4 * images, (p350, p440, images)
    finally:
        fw.close()
