"""The media clock keeps its pace while the config is saved to a slow disk: the real firmware on
the sim board, the handset off-hook (the 20 ms media clock running), the disk's fsync slowed.

Saves come from the two places that make them: a feature code dialled on the handset (`*72`,
persisted by the firmware) and the console's `save`. Nothing asserts on elapsed time: the slow
fsync holds the disk until the board has played MEDIA_FRAMES 20 ms frames, which it can only
see if the save runs on another thread while the loop goes on (on the loop thread it would
wait out its safety limit and the test fails). tools/bench/save_pace.py prints the numbers."""

import os
import threading
import time
import tomllib

from tipring.firmware.config import Config
from tipring.firmware.console.shell import Shell
from tests.sim.helpers import Running

MEDIA_FRAMES = 10       # frames the board must play while one fsync holds the disk
SAFETY_S = 30.0         # only so that a broken build fails instead of hanging


class SlowDisk:
    """`os.fsync` that waits for MEDIA_FRAMES more media frames before it syncs."""

    def __init__(self, monkeypatch, frames):
        self.frames = frames
        self.threads, self.progress = [], []
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd):
        self.threads.append(threading.get_ident())
        start, t0 = self.frames[0], time.monotonic()
        while self.frames[0] < start + MEDIA_FRAMES and time.monotonic() < t0 + SAFETY_S:
            time.sleep(0.005)
        self.progress.append(self.frames[0] - start)
        self._real(fd)


def running_with_a_config_file(tmp_path):
    r = Running()
    path = str(tmp_path / "tipring.toml")
    frames, loop_thread = [0], []

    def setup():
        r.fw.cfg = Config(r.fw.cfg.data, path)
        loop_thread.append(threading.get_ident())
        port = r.board.ports[1]
        tick = port.media_tick

        def counted(*args):
            frames[0] += 1
            return tick(*args)
        port.media_tick = counted          # one call per 20 ms frame of the sim board's clock
    r.call(setup)
    return r, path, frames, loop_thread[0]


def test_a_feature_code_save_on_a_slow_disk_does_not_stop_the_media_clock(tmp_path, monkeypatch):
    r, path, frames, loop_thread = running_with_a_config_file(tmp_path)
    try:
        disk = SlowDisk(monkeypatch, frames)
        h = r.client()
        h.ok("offhook")
        h.ok("wait tone=dial 5")
        h.ok("dial *721003# mode=dtmf")
        ev = r.wait_event(lambda n, f: n == "config" and f.get("action") == "feature", SAFETY_S * 3)
        assert ev and ev["value"] == "1003", r.events[-10:]
        assert disk.threads and loop_thread not in disk.threads    # written off the loop thread
        assert min(disk.progress) >= MEDIA_FRAMES, disk.progress   # and the frames kept coming
        with open(path, "rb") as f:
            assert tomllib.load(f)["line"][0]["forward_all"] == "1003"
        h.ok("onhook")
    finally:
        r.stop()


def test_a_console_save_on_a_slow_disk_does_not_stop_the_media_clock(tmp_path, monkeypatch):
    r, path, frames, loop_thread = running_with_a_config_file(tmp_path)
    try:
        disk = SlowDisk(monkeypatch, frames)
        h = r.client()
        h.ok("offhook")
        h.ok("wait tone=dial 5")
        written = []
        sh = r.call(lambda: Shell(r.fw, False, False, loop=r.fw.loop, write=written.append))
        r.call(sh.feed, b"set line.1.expires 600\r")
        assert r.call(sh.feed, b"save\r") == b""          # the reply comes when the disk is done
        end = time.monotonic() + SAFETY_S * 3
        while b"saved to" not in b"".join(written) and time.monotonic() < end:
            time.sleep(0.01)
        assert b"saved to %s" % path.encode() in b"".join(written), written
        assert disk.threads and loop_thread not in disk.threads
        assert min(disk.progress) >= MEDIA_FRAMES, disk.progress
        with open(path, "rb") as f:
            assert tomllib.load(f)["line"][0]["expires"] == 600
        h.ok("onhook")
    finally:
        r.stop()
