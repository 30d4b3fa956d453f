"""tipring/board/line_port.py without the sim board: the AG1171 board's wiring (tipring/board/ag1171-usb.toml)
on gpiozero's MockFactory, a virtual clock shared by the loop and the mock pins, and a media
clock driven by hand as `hal.audio.AlsaLine` would drive it (capture frame in, playback out).
This is how the real board reuses the per-line glue."""
import gpiozero.pins.mock as gmock
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from tipring.board import load_board
from tipring.firmware.dsp.classify import ToneClassifier
from tipring.firmware.dsp.dtmf import generate
from tipring.firmware.dsp.pcm import FRAME_BYTES, SILENT_FRAME, frames
from tipring.board.line_port import LinePort, caller_id_pcm
from tipring.firmware.dsp.callerid import CallerIDReceiver
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop
from tipring.hal.line import LineHardware


class FakeApp:
    """The firmware as the glue sees it: an event log and a call layer that records intents."""

    def __init__(self):
        self.events = []
        self.intents = []
        self.media_ports = set()     # lines with call media (the app's media router says)

    def emit(self, name, fields):
        self.events.append((name, fields))

    def has_media(self, port):
        return port in self.media_ports

    def line_intent(self, port, intent, *args):
        self.intents.append((port, intent) + args)


@pytest.fixture
def rig(monkeypatch):
    vclock = VirtualClock(100.0)
    monkeypatch.setattr(gmock, "monotonic", vclock.now)
    saved, factory = Device.pin_factory, MockFactory()
    Device.pin_factory = factory
    loop = EventLoop(clock=vclock)
    board = load_board("ag1171-usb")
    line = board["line"][0]
    app = FakeApp()
    hw = LineHardware(line, post=lambda i: loop.call_soon_threadsafe(port.hook_posted, i),
                      clock=vclock.now, open_audio=False, pin_factory=factory)
    port = LinePort(loop, app, {"port": 1, "dial_plan": "(1xxx)", "caller_id": "bell202"},
                    {"country": "us", "flash_min_ms": 100, "flash_max_ms": 900}, ringer=hw.ringer)
    try:
        yield loop, vclock, factory, app, port
    finally:
        port.close()
        hw.close()
        loop.close()
        factory.reset()
        Device.pin_factory = saved


def run_audio(loop, port, seconds, capture=()):
    """The capture clock: one frame every 20 ms of loop time; returns the playback frames."""
    cap = list(capture)
    out = []
    for _ in range(int(round(seconds / 0.02))):
        loop.run_for(0.02)
        out.append(port.media_tick(cap.pop(0) if cap else SILENT_FRAME, loop.now()))
    return out


def test_dial_tone_dtmf_and_dial_intent_on_ag1171_pins(rig):
    loop, vclock, factory, app, port = rig
    factory.pin(27).drive_high()                       # SHK: off-hook
    played = run_audio(loop, port, 1.2)
    ear = ToneClassifier("US")
    for f in played:
        ear.feed(f)
    assert ear.tone == "dial" and sorted(ear.freqs) == [350, 440]
    run_audio(loop, port, 1.0, frames(generate("1002", 80, 80)))
    run_audio(loop, port, 0.2)
    assert [(f["digit"], f["how"]) for n, f in app.events if n == "digit"] == \
        [("1", "dtmf"), ("0", "dtmf"), ("0", "dtmf"), ("2", "dtmf")]
    assert app.intents == [(1, "dial", "1002")] and port.fxs.state == "dialing"
    port.command("remote_busy")
    ear = ToneClassifier("US")
    for f in run_audio(loop, port, 2.5):
        ear.feed(f)
    assert ear.tone == "busy"
    factory.pin(27).drive_low()
    run_audio(loop, port, 1.2)
    assert [f["state"] for n, f in app.events if n == "hook"] == ["off", "on"]


def test_incoming_rings_rm_sends_caller_id_and_ring_trip(rig):
    loop, vclock, factory, app, port = rig
    rm = factory.pin(17)
    port.command("incoming", [{"number": "5551234", "name": "ALICE"}])
    assert rm.state is True                            # first burst at once
    rx = CallerIDReceiver("bell202")
    got = []
    for f in run_audio(loop, port, 5.9):
        got += rx.feed(f)
    assert got and got[0]["number"] == "5551234" and got[0]["name"] == "ALICE"
    assert rm.state is False
    run_audio(loop, port, 0.2)
    assert rm.state is True                            # second ring at 6 s
    factory.pin(27).drive_high()                       # answer during the burst
    run_audio(loop, port, 0.2)
    assert rm.state is False and port.fxs.state == "talking"
    assert app.intents[-1] == (1, "answer")


def test_caller_id_pcm_methods():
    assert caller_id_pcm({"number": "1"}, "off") == b""
    assert len(caller_id_pcm({"number": "5551234"}, "dtmf")) > FRAME_BYTES
    assert len(caller_id_pcm({"number": None, "name": None, "reason": "private"}, "etsi-fsk",
                             (1, 2, 3, 4))) > FRAME_BYTES


def test_far_end_rfc4733_digit_is_played_to_the_handset_as_its_tone_pair():
    from tipring.firmware.dsp.dtmf import DTMFDetector
    from tipring.firmware.dsp.pcm import SILENT_FRAME
    from tipring.board.line_port import LinePort
    from tipring.firmware.loop import EventLoop, VirtualClock

    class App:
        def emit(self, name, fields):
            pass

    loop = EventLoop(VirtualClock())
    port = LinePort(loop, App(), {"port": 1, "user": "1001", "dial_plan": "(xx.)", "caller_id": "bell202"},
                    {"country": "us"})
    port.fxs.state = "talking"      # as after remote_answered; the call layer's media is absent here
    port.fxs.tone = None
    port.command("remote_digit", ("5",))
    det = DTMFDetector()
    heard = []
    for i in range(10):
        for d, edge, _ in det.feed(port.media_tick(SILENT_FRAME, i * 0.02)):
            if edge == "on":
                heard.append(d)
    assert heard == ["5"]
    port.close()
    loop.close()


def test_forward_all_in_the_config_gives_stutter_dial_tone_on_the_sim_board():
    from tests.sim.helpers import Running
    r = Running(lines=[{"port": 1, "user": "1001", "forward_all": "1003"}])
    try:
        c = r.client()
        assert c.ask("offhook")["ok"]
        got = c.ask("wait tone=stutter-dial 5")
        assert got["ok"], (got, c.ask("state"))
        c.ask("onhook")
    finally:
        r.stop()


def test_idle_only_on_hook_settled_silent_and_without_media(rig):
    loop, vclock, factory, app, port = rig
    assert port.idle
    factory.pin(27).drive_high()                       # SHK: off-hook
    loop.run_for(0.005)
    assert port.fxs.state == "on_hook" and not port.idle   # the decoder still holds the edge
    run_audio(loop, port, 0.2)
    assert port.fxs.state == "dial_tone" and not port.idle
    factory.pin(27).drive_low()
    run_audio(loop, port, 0.5)
    assert not port.idle                               # a flash or a hang-up? not decided yet
    run_audio(loop, port, 0.6)
    assert port.fxs.state == "on_hook" and port.idle
    port.command("incoming", [{"number": "5551234"}])
    assert not port.idle
    run_audio(loop, port, 3.0)
    assert not port.idle                               # the pause between rings, caller ID due
    port.command("remote_hangup")
    run_audio(loop, port, 0.1)
    assert port.idle
    port.test_ring(1.0)
    assert not port.idle
    loop.run_for(1.1)
    assert port.idle
    app.media_ports = {1}                              # call media for the line
    assert not port.idle
    app.media_ports = {2}
    assert port.idle
