"""Config saves off the loop (config_store.Saver): the write runs on another thread while the loop
keeps dispatching its timers, saves never interleave, the last config asked for is the file, the
atomic write and the .bak stay, and the console prints the result when the save is done.

A slow disk is simulated with a real delay in `os.fsync` (an SD card's fsync can take 300 ms).
Nothing here asserts on elapsed time: the slow fsync waits until the loop has dispatched timers
while it holds the disk, which it can only see if the save runs on another thread."""

import os
import threading
import time

import pytest

from tipring.firmware import config
from tipring.firmware.config_store import Saver, save_config
from tipring.firmware.console.shell import PROMPT, Shell
from tipring.firmware.loop.loop import EventLoop
from tests.console.fakeapp import FakeApp

LOOP_TICKS = 5          # timer runs the loop must get through while one fsync holds the disk
SAFETY_S = 20.0         # only so that a broken build fails instead of hanging


def cfg_with(expires: int):
    return config.set_value(config.builtin_default(), "line.1.expires", str(expires))


class SlowDisk:
    """`os.fsync` that holds the disk until the loop has run LOOP_TICKS timer callbacks (and at
    least `hold_s`), recording which thread called it and whether calls ever overlapped."""

    def __init__(self, monkeypatch, ticks, hold_s: float = 0.05, need_ticks: int = LOOP_TICKS):
        self.ticks = ticks              # a one-element list the loop's timer increments
        self.hold_s = hold_s
        self.need_ticks = need_ticks
        self.threads = []
        self.progress = []              # loop ticks seen during each fsync
        self.inside = 0
        self.overlap = False
        self._lock = threading.Lock()
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd):
        with self._lock:
            self.inside += 1
            self.overlap |= self.inside > 1
        self.threads.append(threading.get_ident())
        start, t0 = self.ticks[0], time.monotonic()
        while (self.ticks[0] < start + self.need_ticks or time.monotonic() < t0 + self.hold_s) \
                and time.monotonic() < t0 + SAFETY_S:
            time.sleep(0.002)
        self.progress.append(self.ticks[0] - start)
        self._real(fd)
        with self._lock:
            self.inside -= 1


@pytest.fixture
def loop():
    lp = EventLoop()
    yield lp
    lp.close()


def ticking(loop, every: float = 0.005):
    """A loop timer standing in for the media clock; returns the tick counter."""
    ticks = [0]

    def tick():
        ticks[0] += 1
        loop.call_later(every, tick)
    loop.call_later(every, tick)
    return ticks


def run_until(loop, cond):
    end = time.monotonic() + SAFETY_S
    loop.run(until=lambda: cond() or time.monotonic() > end)
    assert cond()


def test_a_save_runs_off_the_loop_and_reports_on_the_loop(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    ticks = ticking(loop)
    disk = SlowDisk(monkeypatch, ticks)
    saver = Saver(loop)
    results, where = [], []
    saver.save(cfg_with(600), path, lambda r: (results.append(r), where.append(threading.get_ident())))
    assert results == [] and not saver.idle          # returned at once
    run_until(loop, lambda: results)
    assert results == [None] and where == [threading.get_ident()]     # done() on the loop thread
    assert disk.threads and threading.get_ident() not in disk.threads # fsync on the saver's thread
    assert min(disk.progress) >= LOOP_TICKS           # the loop ran its timers during each fsync
    assert config.load(path).get("line.1.expires") == 600
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_saves_never_interleave_and_the_last_config_wins(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    save_config(cfg_with(500), path)
    ticks = ticking(loop)
    disk = SlowDisk(monkeypatch, ticks)
    saver = Saver(loop)
    results = []
    for n in (600, 700, 800, 900):
        saver.save(cfg_with(n), path, lambda r, n=n: results.append((n, r)))
    run_until(loop, lambda: len(results) == 4)
    assert sorted(results) == [(600, None), (700, None), (800, None), (900, None)]
    assert not disk.overlap
    assert config.load(path).get("line.1.expires") == 900
    # .bak is the file the last write replaced: a good one, written before it
    assert config.load(path + ".bak").get("line.1.expires") in (500, 600, 700, 800)
    assert saver.merged >= 1            # the queued ones were replaced, not all written
    assert not os.path.exists(path + ".tmp")


def test_an_erase_waits_for_the_save_before_it(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    disk = SlowDisk(monkeypatch, ticking(loop))
    saver = Saver(loop)
    done = []
    saver.save(cfg_with(600), path, done.append)
    saver.erase(path, done.append)
    run_until(loop, lambda: len(done) == 2)
    assert done == [None, None] and disk.threads
    assert os.listdir(tmp_path) == []


def test_a_failed_save_is_reported_and_changes_nothing(tmp_path, loop):
    saver = Saver(loop)
    results = []
    saver.save(cfg_with(600), str(tmp_path / "missing-dir" / "t.toml"), results.append)
    run_until(loop, lambda: results)
    assert isinstance(results[0], OSError)
    assert os.listdir(tmp_path) == []


def test_without_a_loop_saves_run_inline(tmp_path):
    path = str(tmp_path / "tipring.toml")
    results = []
    Saver(None).save(cfg_with(600), path, results.append)
    assert results == [None] and config.load(path).get("line.1.expires") == 600


def test_close_waits_for_the_queued_saves(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    disk = SlowDisk(monkeypatch, [0], hold_s=0.2, need_ticks=0)   # the loop is not running here
    saver = Saver(loop)
    saver.save(cfg_with(700), path)
    assert saver.close(timeout=SAFETY_S) and saver.idle
    assert disk.threads and config.load(path).get("line.1.expires") == 700


# ------------------------------------------------------------------ the console's save

def console(loop, app):
    written = []
    sh = Shell(app, False, False, loop=loop, write=written.append)
    sh.start()
    return sh, written


def test_console_save_prints_the_result_when_the_disk_is_done(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    app = FakeApp(config_path=path)
    save_config(app.config, path)
    ticks = ticking(loop)
    disk = SlowDisk(monkeypatch, ticks)
    sh, written = console(loop, app)
    sh.feed(b"set line.1.expires 600\r")
    out = sh.feed(b"save\r")
    assert out == b"" and sh.state == "busy"         # nothing yet: the disk is slow
    sh.feed(b"show calls\r")                          # typed during the save: kept, run after
    run_until(loop, lambda: b"no calls" in b"".join(written))
    text = b"".join(written).decode()
    assert text.index("saved to %s" % path) < text.index("no calls")
    assert text.endswith(PROMPT) and sh.state == "ready"
    assert threading.get_ident() not in disk.threads and min(disk.progress) >= LOOP_TICKS
    assert config.load(path).get("line.1.expires") == 600
    assert config.load(path + ".bak").get("line.1.expires") == 3600
    assert [e for e in app.events.recent if e.get("action") == "save"]


def test_console_saves_from_two_sessions_queue_on_one_saver(tmp_path, loop, monkeypatch):
    path = str(tmp_path / "tipring.toml")
    app = FakeApp(config_path=path)
    disk = SlowDisk(monkeypatch, ticking(loop))
    a, wa = console(loop, app)
    b, wb = console(loop, app)
    a.feed(b"set line.1.expires 600\r")
    a.feed(b"save\r")
    b.feed(b"set line.1.expires 700\r")
    b.feed(b"save\r")
    run_until(loop, lambda: b"saved to" in b"".join(wa) and b"saved to" in b"".join(wb))
    assert not disk.overlap
    assert config.load(path).get("line.1.expires") == 700


def test_console_save_failure_is_one_line_and_the_session_goes_on(tmp_path, loop):
    app = FakeApp(config_path=str(tmp_path / "missing-dir" / "t.toml"))
    sh, written = console(loop, app)
    sh.feed(b"save\r")
    run_until(loop, lambda: b"save failed" in b"".join(written))
    assert b"the file on disk is unchanged\r\n" + PROMPT.encode() in b"".join(written)
    assert sh.state == "ready"
