"""A 16 kHz sim line (board `audio.rate = 16000`) through the whole firmware on the sim board, on
a virtual clock, beside the same checks on the shipped 8 kHz sim board: the line and the handset
exchange 640-byte frames, and everything narrowband still works through the line's decimator and
interpolator and the handset's own: dial tone recognised, DTMF and pulse dialling give the same
digits as at 8 kHz, caller ID decoded by the handset's FSK receiver (US between the rings, UK
before them), stutter dial tone for waiting messages. The control protocol on a 16 kHz line:
`say` up to the line's Nyquist, `listen` reading a wideband tone at its frequency, `play` of 8
and 16 kHz WAVs, `record` at the line rate. No SIP peer is needed (register = false)."""

import wave

import gpiozero.pins.mock as gmock
import pytest

from tipring.board.sim.control import BadRequest
from tipring.board.sim.wideband import Sine, line_peaks
from tipring.firmware.app import Firmware
from tipring.firmware.config import validate
from tipring.firmware.dsp.pcm import rms
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop
from tests.peers.firmware import sim_board_file

CID = {"number": "5551234", "name": "ALICE"}


@pytest.fixture
def board_at(tmp_path, monkeypatch):
    """board_at(rate, **line keys) -> the running Firmware on a virtual clock with one line."""
    clock = VirtualClock(1000.0)
    monkeypatch.setattr(gmock, "monotonic", clock.now)
    loop = EventLoop(clock=clock)
    made = []
    path = sim_board_file(tmp_path)

    def make(rate, country="us", **line):
        ln = {"port": 1, "user": "1001", "registrar": "127.0.0.1:9", "register": False,
              "dial_plan": "(xxxxxxxxxxxxxxxx)"}
        ln.update(line)
        cfg = validate({"board": {"kind": path if rate == 16000 else "sim",
                                  "control": "127.0.0.1:0", "country": country},
                        "sip": {"bind": "127.0.0.1:0"}, "line": [ln], "console": {"listen": "off"}})
        fw = Firmware(cfg, loop=loop, log_json=None)
        fw.seen = []
        emit = fw.emit

        def record(name, fields):
            fw.seen.append((name, dict(fields)))
            return emit(name, fields)

        fw.emit = record
        fw.start()
        made.append(fw)
        return fw

    make.loop = loop
    yield make
    for fw in made:
        fw.close()
    loop.close()


def ask(fw, text):
    """A control-protocol request as the server runs it (a refusal is its `ok: false` reply)."""
    got = []
    try:
        fw.board.control.request(text, lambda obj: got.append(dict({"ok": True}, **obj)))
    except BadRequest as e:
        got.append({"ok": False, "error": str(e)})
    return got


def ear(fw):
    """The frames the earpiece gets from now on."""
    hs = fw.board.handsets[1]
    frames = []
    orig = hs.earpiece

    def hear(frame):
        frames.append(frame)
        return orig(frame)

    hs.earpiece = hear
    return frames


@pytest.mark.parametrize("rate", [8000, 16000])
def test_dial_tone_is_recognised_and_frames_are_at_the_line_rate(board_at, rate):
    fw = board_at(rate)
    assert fw.board.line_rate(1) == rate and fw.board.handsets[1].rate == rate
    heard = ear(fw)
    fw.board.handsets[1].offhook()
    board_at.loop.run_for(1.5)
    assert {len(f) for f in heard} == {rate // 50 * 2}
    assert fw.board.handsets[1].tone() == "dial"
    got = ask(fw, "listen 400")
    board_at.loop.run_for(0.5)
    assert got and got[0]["tone"] == "dial" and sorted(got[0]["freqs"]) == [350, 440], got
    assert abs(got[0]["level_dbm0"] - -10.0) < 1.0, got       # two tones at -13 dBm0 each
    if rate == 16000:
        # the interpolated tone has nothing above the 8 kHz band: no image at 8000 - f
        assert sorted(line_peaks(b"".join(heard[-20:]), rate)) == [350, 440]


def _digits(fw):
    return [(e["digit"], e["how"]) for n, e in fw.seen if n == "digit"]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_dtmf_and_pulse_dialling_give_the_same_digits_at_both_rates(board_at, rate):
    fw = board_at(rate)
    hs = fw.board.handsets[1]
    hs.offhook()
    board_at.loop.run_for(0.5)
    done = []
    hs.dial("1234567890*", "dtmf", done.append)
    board_at.loop.run_for(3.0)
    assert done == [{"ok": True, "digits": "1234567890*", "mode": "dtmf"}]
    assert _digits(fw) == [(d, "dtmf") for d in "1234567890*"], _digits(fw)
    hs.onhook()
    board_at.loop.run_for(1.5)
    fw.seen.clear()
    hs.offhook()
    board_at.loop.run_for(0.5)
    hs.dial("4071", "pulse", done.append)
    board_at.loop.run_for(6.0)
    assert done[-1]["ok"] and _digits(fw) == [(d, "pulse") for d in "4071"], _digits(fw)


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("country,method,ring,reversed_", [
    ("us", "bell202", 1, False),        # GR-30-CORE: in the first ring pause
    ("uk", "etsi-fsk", 0, True),        # BT SIN 227: reversal, DT-AS, V.23, then the ring
    ("de", "dtmf", 0, True),            # ETSI DTMF caller ID before the ring
])
def test_caller_id_is_decoded_by_the_handset(board_at, rate, country, method, ring, reversed_):
    fw = board_at(rate, country=country, caller_id=method)
    hs = fw.board.handsets[1]
    fw.board.incoming(1, CID)
    board_at.loop.run_for(9.0)
    assert hs.caller_id is not None, fw.seen
    assert hs.caller_id["number"] == CID["number"]
    if method != "dtmf":
        assert hs.caller_id["name"] == CID["name"]
    assert hs.caller_id_ring == ring and hs.caller_id_reversed is reversed_
    assert not [f for n, f in fw.seen if n == "error"]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_waiting_messages_give_stutter_dial_tone_and_the_vmwi_lamp(board_at, rate):
    fw = board_at(rate)
    hs = fw.board.handsets[1]
    fw.board.line_command(1, "mwi", True, 2, 0)
    board_at.loop.run_for(4.0)
    assert hs.mwi is True and hs.mwi_messages == 2           # the on-hook VMWI burst, decoded
    hs.offhook()
    board_at.loop.run_for(4.0)
    assert hs.tone() == "stutter-dial"


def test_say_listen_play_and_record_at_the_line_rate(board_at, tmp_path):
    fw = board_at(16000)
    narrow = board_at(8000)
    loop = board_at.loop
    assert ask(narrow, "say 7000")[0]["ok"] is False          # 8 kHz: up to 3900 Hz, as before
    assert ask(fw, "say 7900")[0] == {"ok": True, "say": 7900.0}
    assert ask(fw, "say 8000")[0]["ok"] is False
    ask(fw, "say off")
    hs = fw.board.handsets[1]
    hs.offhook()
    loop.run_for(1.5)
    # a 6 kHz tone on the line (what a G.722 far end sends) reads as 6000 in `listen`
    tone = Sine(6000, -16.0, 16000)
    orig = hs.earpiece
    hs.earpiece = lambda frame: orig(tone.next_frame())
    got = ask(fw, "listen 400")
    rec = ask(fw, "record %s 300" % (tmp_path / "ear.wav"))
    loop.run_for(0.5)
    assert got[0]["freqs"] == [6000] and got[0]["tone"] == "other", got
    assert abs(got[0]["level_dbm0"] - -16.0) < 0.5, got
    assert rec[0]["ok"] and rec[0]["ms"] == 300.0, rec
    with wave.open(str(tmp_path / "ear.wav"), "rb") as w:
        assert w.getframerate() == 16000 and w.getnframes() == 4800
        assert line_peaks(w.readframes(4800), 16000) == [6000]
    # play: 8 and 16 kHz WAVs go into the mouthpiece at the line rate
    for name, rate, freq in (("a8.wav", 8000, 1000), ("a16.wav", 16000, 5000)):
        src = Sine(freq, -10.0, rate)
        with wave.open(str(tmp_path / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(b"".join(src.next_frame() for _ in range(25)))
        rep = ask(fw, "play %s" % (tmp_path / name))[0]
        assert rep["ok"] and rep["ms"] == 500.0, rep
        sent = [hs.mouthpiece() for _ in range(25)]
        assert {len(f) for f in sent} == {640}
        assert line_peaks(b"".join(sent[2:23]), 16000) == [freq]
    bad = tmp_path / "a44.wav"
    with wave.open(str(bad), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(bytes(882))
    rep = ask(fw, "play %s" % bad)[0]
    assert rep["ok"] is False and "8000 or 16000 Hz" in rep["error"], rep
    # say 7000: a 7 kHz sine in the mouthpiece, what a G.722 far end should hear
    ask(fw, "say 7000")
    sent = [hs.mouthpiece() for _ in range(10)]
    assert line_peaks(b"".join(sent), 16000) == [7000] and rms(b"".join(sent)) > 1000
