"""tipring/hal/audio.py against real ALSA PCMs (alsa-lib `file`/`null` plugins via a test config),
plus fake PCMs for the xrun / EAGAIN / error paths those plugins never produce.

ALSA_CONFIG_PATH is set per test with monkeypatch: alsa-lib re-reads its file list on each
snd_pcm_open (platform.md §2a). `test_fresh_process_roundtrip` repeats the round trip in a
subprocess whose environment carries the config from the start, so nothing depends on what
this process opened before.
"""
import os
import select
import struct
import subprocess
import sys

import pytest

from tipring.hal.audio import EPIPE, FRAME_BYTES, AlsaLine

alsaaudio = pytest.importorskip("alsaaudio")

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "alsa", "asound-test.conf")
ROOT = os.path.dirname(os.path.dirname(HERE))


def ramp(frames, step=37):
    """Non-periodic S16_LE test signal: any reorder or slip shows up."""
    return b"".join(struct.pack("<h", (i * step) % 65536 - 32768) for i in range(frames))


@pytest.fixture
def pcm_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + CONF)
    play, cap = tmp_path / "play.raw", tmp_path / "cap.raw"
    monkeypatch.setenv("TIPRING_PLAY_FILE", str(play))
    monkeypatch.setenv("TIPRING_CAP_FILE", str(cap))
    return play, cap


def pump(line, out_frames, want_in, timeout=5.0):
    """A poll loop like tipring/firmware/loop's: capture paces playback, one frame each."""
    poller = select.poll()
    for fd, mask in line.polldescriptors():
        poller.register(fd, mask)
    got, out = [], list(out_frames)
    for _ in range(100000):
        if len(got) >= want_in and not out and not line.pending:
            break
        ready = dict(poller.poll(int(timeout * 1000)))
        assert ready, "PCM never became ready"
        mask = line.revents(ready)
        if mask & select.POLLIN and len(got) < want_in:     # file capture never runs dry
            frame = line.read_frame()
            if frame is not None:
                got.append(frame)
                if out:
                    line.write_frame(out.pop(0))
        if mask & select.POLLOUT:
            if line.pending:
                line.flush()
            elif out and len(got) >= want_in:
                line.write_frame(out.pop(0))
        if len(got) >= want_in and not mask & select.POLLOUT and out:
            line.write_frame(out.pop(0))
    return got


@pytest.mark.parametrize("n", [1, 50])
def test_roundtrip_bit_exact(pcm_files, n):
    play_f, cap_f = pcm_files
    src = ramp(160 * n)
    cap_f.write_bytes(src + bytes(FRAME_BYTES * 8))      # pad: reads past EOF give junk
    tx = ramp(160 * n, step=101)
    line = AlsaLine("tipring")
    frames = [tx[i:i + FRAME_BYTES] for i in range(0, len(tx), FRAME_BYTES)]
    got = pump(line, frames, want_in=n)
    line.close()
    line.close()
    assert all(len(f) == FRAME_BYTES for f in got)
    assert b"".join(got)[:len(src)] == src                # capture in order
    assert play_f.read_bytes() == tx                      # playback reached the file as is
    assert line.frames_out == n and line.errors == 0 and line.closed


def test_plug_resamples_to_48k_codec(pcm_files):
    play_f, cap_f = pcm_files
    cap_f.write_bytes(bytes(FRAME_BYTES * 6 * 20))
    line = AlsaLine("tipring48")
    pump(line, [ramp(160)] * 10, want_in=10)
    line.close()
    assert len(play_f.read_bytes()) == 10 * FRAME_BYTES * 6   # 8 kHz in, 48 kHz to the card


def test_polldescriptors_and_repr(pcm_files):
    pcm_files[1].write_bytes(bytes(FRAME_BYTES * 4))
    line = AlsaLine("tipring")
    fds = line.polldescriptors()
    assert len(fds) >= 2 and all(isinstance(fd, int) for fd, _ in fds)
    assert "tipring" in repr(line)
    line.close()
    assert line.polldescriptors() == [] and "closed" in repr(line)


def test_missing_device_raises_at_open(pcm_files):
    with pytest.raises(alsaaudio.ALSAAudioError):
        AlsaLine("no_such_pcm_here")


FRESH = r"""
import select, sys
sys.path.insert(0, ROOT)
from tipring.hal.audio import AlsaLine
line = AlsaLine("tipring")
src = open(CAP, "rb").read()
got = bytearray()
tx = bytes(range(256)) * 5
while len(got) < len(src) - 320 * 4:
    f = line.read_frame()
    if f is None:
        select.poll().poll(10)
        continue
    got += f
    line.write_frame(tx[:320])
    tx = tx[320:] + tx[:320]
line.close()
assert bytes(got) == src[:len(got)], "capture out of order"
print("ok", len(got) // 320, line.stats())
"""


def test_fresh_process_roundtrip(tmp_path):
    cap = tmp_path / "cap.raw"
    cap.write_bytes(ramp(160 * 20) + bytes(FRAME_BYTES * 4))
    env = dict(os.environ, ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:" + CONF,
               TIPRING_PLAY_FILE=str(tmp_path / "play.raw"), TIPRING_CAP_FILE=str(cap))
    code = "ROOT=%r\nCAP=%r\n" % (ROOT, str(cap)) + FRESH
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok 20 ")
    played = (tmp_path / "play.raw").read_bytes()
    assert len(played) == 20 * FRAME_BYTES and played[:320] == (bytes(range(256)) * 5)[:320]


# -- fake PCMs: the paths a file/null PCM never takes ----------------------------------

class FakePCM:
    """Scripted stand-in for alsaaudio.PCM: `reads` / `writes` are consumed in order."""

    instances = []

    def __init__(self, type, **kw):
        self.type = type
        self.kw = kw
        self.reads = []          # (n, bytes) or an exception
        self.writes = []         # frames accepted per call, or an exception; default: all
        self.written = bytearray()
        self.dropped = 0
        self.closed = False
        FakePCM.instances.append(self)

    def read(self):
        if not self.reads:
            return (0, b"")
        r = self.reads.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    def write(self, data):
        r = self.writes.pop(0) if self.writes else len(data) // 2
        if isinstance(r, Exception):
            raise r
        if r > 0:
            self.written += data[:r * 2]
        return r

    def drop(self):
        self.dropped += 1

    def polldescriptors(self):
        return [(10 if self.type == "capture" else 11, 1)]

    def close(self):
        self.closed = True


@pytest.fixture
def fake():
    FakePCM.instances = []
    line = AlsaLine("fake", pcm_class=FakePCM)
    play, cap = FakePCM.instances
    assert cap.type == "capture" and cap.kw["periodsize"] == 160 and cap.kw["rate"] == 8000
    return line, cap, play


def test_overrun_counted_and_recovered(fake):
    line, cap, _ = fake
    cap.reads = [(-EPIPE, b""), (160, b"\x01" * 320)]
    assert line.read_frame() is None and line.overruns == 1
    assert line.read_frame() == b"\x01" * 320


def test_eagain_is_none_and_partial_reads_assemble(fake):
    line, cap, _ = fake
    cap.reads = [(0, b""), (100, b"\x02" * 200), (60, b"\x03" * 120)]
    assert line.read_frame() is None
    assert line.read_frame() is None                       # 200 bytes buffered
    assert line.read_frame() == b"\x02" * 200 + b"\x03" * 120
    assert line.frames_in == 1


def test_read_error_never_raises(fake):
    line, cap, _ = fake
    cap.reads = [alsaaudio.ALSAAudioError("Input/output error"), (160, b"\x04" * 320)]
    assert line.read_frame() is None and line.errors == 1 and cap.dropped == 1
    assert "Input/output" in line.last_error
    assert line.read_frame() == b"\x04" * 320


def test_partial_write_then_flush(fake):
    line, _, play = fake
    play.writes = [100, 0]                                  # 100 frames, then EAGAIN
    assert line.write_frame(b"\x05" * 320) == 120
    assert line.pending == 120
    assert line.flush() == 0 and bytes(play.written) == b"\x05" * 320


def test_underrun_counted_and_rewritten(fake):
    line, _, play = fake
    play.writes = [-EPIPE]
    assert line.write_frame(b"\x06" * 320) == 0
    assert line.underruns == 1 and bytes(play.written) == b"\x06" * 320


def test_persistent_underrun_does_not_spin(fake):
    line, _, play = fake
    play.writes = [-EPIPE] * 10
    assert line.write_frame(b"\x07" * 320) == 320 and line.underruns == 3


def test_backlog_drops_oldest(fake):
    line, _, play = fake
    play.writes = [0] * 10
    for i in range(6):
        line.write_frame(bytes([i]) * 320)
    assert line.pending == 4 * 320 and line.dropped == 2 * 320
    play.writes = []
    line.flush()
    assert bytes(play.written) == b"".join(bytes([i]) * 320 for i in range(2, 6))


def test_write_error_never_raises(fake):
    line, _, play = fake
    play.writes = [alsaaudio.ALSAAudioError("No such device")]
    assert line.write_frame(b"\x08" * 320) == 320 and line.errors == 1
    assert line.stats()["errors"] == 1


# -- stop / start: an idle line's PCMs rest ----------------------------------------------

def test_stop_drops_both_pcms_and_start_restarts_capture_with_one_read(fake):
    line, cap, play = fake
    play.writes = [0]
    line.write_frame(b"\x09" * 320)                        # queued, not yet taken
    line.stop()
    assert cap.dropped == 1 and play.dropped == 1 and line.pending == 0
    cap.reads = [(160, b"\x0a" * 320)]
    line.start()
    assert not cap.closed and len(FakePCM.instances) == 2  # the same PCMs, not reopened
    assert line.read_frame() == b"\x0a" * 320               # the restarting read is kept


def test_a_pcm_that_cannot_stop_is_closed_and_reopened_on_start(fake):
    line, cap, play = fake

    def broken():
        raise alsaaudio.ALSAAudioError("File descriptor in bad state")
    cap.drop = broken
    line.stop()
    assert cap.closed and play.closed and line.closed and line.errors == 1
    line.start()
    assert len(FakePCM.instances) == 4 and not line.closed


def test_a_failing_restart_read_reopens(fake):
    line, cap, play = fake
    line.stop()
    cap.reads = [alsaaudio.ALSAAudioError("File descriptor in bad state")]
    line.start()
    assert cap.closed and len(FakePCM.instances) == 4


def test_stop_and_start_on_the_file_plugin(pcm_files):
    play_f, cap_f = pcm_files
    cap_f.write_bytes(ramp(160 * 8))
    line = AlsaLine("tipring")
    try:
        assert line.read_frame() is not None
        line.write_frame(b"\x01\x00" * 160)
        line.stop()
        assert line.capture.state() in (alsaaudio.PCM_STATE_SETUP, alsaaudio.PCM_STATE_PREPARED)
        line.start()
        assert line.errors == 0 and line.capture.state() == alsaaudio.PCM_STATE_RUNNING
        assert line.read_frame() is not None
        line.write_frame(b"\x02\x00" * 160)
        assert line.errors == 0 and line.playback.state() == alsaaudio.PCM_STATE_RUNNING
    finally:
        line.close()


# -- a 16 kHz (wideband) line: the board's audio.rate ------------------------------------------

def test_a_16_khz_line_moves_640_byte_frames_bit_exact(pcm_files):
    play_f, cap_f = pcm_files
    n = 20
    src = ramp(320 * n)
    cap_f.write_bytes(src + bytes(640 * 8))
    tx = ramp(320 * n, step=101)
    line = AlsaLine("tipring", rate=16000)
    assert (line.rate, line.period_frames, line.frame_bytes) == (16000, 320, 640)
    got = pump(line, [tx[i:i + 640] for i in range(0, len(tx), 640)], want_in=n)
    assert "16000 Hz" in repr(line)
    line.close()
    assert all(len(f) == 640 for f in got)
    assert b"".join(got)[:len(src)] == src
    assert play_f.read_bytes() == tx and line.errors == 0


def test_a_16_khz_line_through_plug_to_a_48k_codec(pcm_files):
    play_f, cap_f = pcm_files
    cap_f.write_bytes(bytes(640 * 3 * 20))
    line = AlsaLine("tipring48", rate=16000)
    pump(line, [ramp(320)] * 10, want_in=10)
    line.close()
    assert len(play_f.read_bytes()) == 10 * 640 * 3          # 16 kHz in, 48 kHz to the card


def test_an_unsupported_rate_is_refused_before_any_device_opens():
    with pytest.raises(ValueError, match="8000 or 16000"):
        AlsaLine("tipring", rate=44100, pcm_class=lambda **kw: pytest.fail("opened"))


def test_line_hardware_opens_the_boards_rate(pcm_files, tmp_path):
    """hal.line.LineHardware hands the board's `audio.rate` to AlsaLine."""
    from tipring.board import validate_board
    from tipring.hal.line import LineHardware
    pcm_files[1].write_bytes(bytes(640 * 4))
    board = validate_board({"kind": "sim", "line": [
        {"port": 1, "audio": {"backend": "alsa", "device": "tipring", "rate": 16000}}]})
    hw = LineHardware(board["line"][0], post=lambda item: None, open_audio=True)
    try:
        assert hw.audio.rate == 16000 and hw.audio.frame_bytes == 640
    finally:
        hw.close()
