"""tipring/board/sim: the real firmware on the sim board, driven over the control protocol (real time).

What the handset hears is classified by its own ear, digits reach the line layer through the
real DTMF detector and the real hook decoder, ringing is read off the RM mock pin, caller ID is
decoded from FSK by the handset's own demodulator."""
import time
import wave

import pytest

from tipring.firmware.dsp import tone_plans
from tests.sim.helpers import Running


@pytest.fixture
def running():
    made = []

    def make(**kw):
        r = Running(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def digits(r):
    return [(e["digit"], e["how"]) for e in r.named("digit")]


# -- the protocol's shape ---------------------------------------------------------------------

def test_state_has_every_field_and_unknown_verbs_are_refused(running):
    r = running()
    h = r.client()
    st = h.ok("state")
    for k in ("hook", "ringing", "rings", "caller_id", "tone", "freqs", "level_dbm0"):
        assert k in st
    assert st["hook"] == "on" and st["ringing"] is False and st["caller_id"] is None
    bad = h.ask("frobnicate")
    assert bad["ok"] is False and "frobnicate" in bad["error"] and "offhook" in bad["error"]
    for req, word in (("dial", "digits"), ("dial 12 mode=morse", "mode"), ("listen soon", "listen"),
                      ("flash 99999", "flash"), ("state line=7", "no such line"),
                      ("wait forever", "allowed"), ("dial 1x", "dtmf"), ("dial 12 pps=200", "pps"),
                      ("say loud", "say"), ("play /nonexistent.wav", "cannot read"),
                      ("offhook now", "unexpected")):
        rep = h.ask(req)
        assert rep["ok"] is False and word in rep["error"], (req, rep)
    assert h.ok("state")["hook"] == "on"          # nothing changed


def test_garbage_and_huge_lines_never_crash_the_board(running):
    r = running()
    h = r.client()
    h.send(b"\xff\xfe\x00garbage\n")
    assert h.read()["ok"] is False
    h.send(b"x" * 100000 + b"\n")
    rep = h.read()
    assert rep["ok"] is False and "longer" in rep["error"]
    h.send(b"\n   \r\n")                          # blank lines are not requests
    h.send(b"state\r\n")
    assert h.read()["hook"] == "on"
    h.send(b"state\nstate line=1\n")               # pipelined: two replies, in order
    assert h.read()["ok"] and h.read()["ok"]
    h.close()
    h2 = r.client()
    assert h2.ok("state")["hook"] == "on"


def test_two_clients_at_once_and_a_wait_does_not_block_the_other(running):
    r = running()
    a, b = r.client(), r.client()
    a.send(b"wait hook=off 5\n")                   # a's reply comes later
    time.sleep(0.1)
    assert b.ok("state")["hook"] == "on"
    assert b.ok("offhook")["hook"] == "off"
    rep = a.read()
    assert rep["ok"] is True and rep["hook"] == "off"
    rep = a.ask("wait ringing 0.2")
    assert rep["ok"] is False and rep["error"] == "timeout"


# -- dial tone per country (FLOWS §4) ---------------------------------------------------------

@pytest.mark.parametrize("country,freqs", [("us", [350, 440]), ("uk", None), ("de", [425])])
def test_off_hook_gives_the_countrys_dial_tone(running, country, freqs):
    r = running(country=country)
    want = sorted(tone_plans.tone(country, "dial")["freqs"])
    if freqs is not None:
        assert want == freqs
    h = r.client()
    h.ok("offhook")
    st = h.ok("wait tone=dial 4")
    assert sorted(st["freqs"]) == pytest.approx(want, abs=8) and st["level_dbm0"] > -16
    ls = h.ok("listen 400")
    assert ls["tone"] == "dial" and sorted(ls["freqs"]) == pytest.approx(want, abs=8)
    assert ls["cadence"] == []
    assert r.named("hook")[0] == {"line": 1, "state": "off"}


# -- digits, flash, reorder, howler -----------------------------------------------------------

def test_dtmf_and_pulse_digits_reach_the_line_layer(running):
    r = running(dial_plan="(" + "[0-9*#]" * 8 + ")")
    h = r.client()
    h.ok("offhook")
    time.sleep(0.2)
    h.ok("dial 47 mode=dtmf")
    h.ok("dial 90 mode=pulse pps=10 break=60")
    h.ok("dial *2 mode=dtmf on=60 off=60")
    assert r.wait_event(lambda n, f: n == "digit" and f["digit"] == "2")
    assert digits(r) == [("4", "dtmf"), ("7", "dtmf"), ("9", "pulse"), ("0", "pulse"),
                         ("*", "dtmf"), ("2", "dtmf")]
    assert r.call(r.board.line_status, 1)["state"] == "collecting"
    assert "hook" in [n for n, f in r.events] and [f["state"] for f in r.named("hook")] == ["off"]


def test_pulse_dialling_at_the_edges_of_the_dial(running):
    r = running(dial_plan="(xxxxxxxx)")
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 4")
    h.ok("dial 28 mode=pulse pps=9.5 break=66")   # slow, European break
    h.ok("dial 53 mode=pulse pps=20 break=60")    # fast
    assert r.wait_event(lambda n, f: n == "digit" and len(r.named("digit")) >= 4)
    assert digits(r) == [("2", "pulse"), ("8", "pulse"), ("5", "pulse"), ("3", "pulse")]


def test_flash_gives_a_flash_hook_event(running):
    r = running()
    h = r.client()
    h.ok("offhook")
    time.sleep(0.1)
    rep = h.ok("flash 300")
    assert rep["ms"] == 300
    assert r.wait_event(lambda n, f: n == "hook" and f["state"] == "flash")
    assert [f["state"] for f in r.named("hook")] == ["off", "flash"]
    assert h.ok("wait tone=dial 4")["hook"] == "off"
    h.ok("onhook")
    assert r.wait_event(lambda n, f: n == "hook" and f["state"] == "on", 3)


def test_a_number_the_plan_refuses_gets_congestion(running):
    r = running(dial_plan="([2-9]xxx)")
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 4")
    h.ok("dial 1")
    st = h.ok("wait tone=congestion 5")
    assert sorted(st["freqs"]) == pytest.approx([480, 620], abs=8)
    ls = h.ok("listen 1100")
    assert ls["tone"] == "congestion" and 230 <= ls["cadence"][0] <= 270
    assert r.call(r.board.line_status, 1) == {"hook": "off", "state": "reorder"}


def test_dialling_before_the_dial_tone_is_heard_still_gives_congestion(running):
    r = running(dial_plan="([2-9]xxx)")
    h = r.client()
    h.ok("offhook")
    h.ok("dial 1")                                 # cuts the dial tone to a click
    h.ok("wait tone=congestion 5")


def test_uk_congestion_is_heard_as_the_uk_plan_says(running):
    r = running(country="uk", dial_plan="([2-9]xxx)")
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 4")
    h.ok("dial 1 mode=pulse")
    st = h.ok("wait tone=congestion 5")
    assert sorted(st["freqs"]) == pytest.approx([400], abs=8)


def test_howler_after_the_off_hook_timeout(running):
    r = running(offhook_timeout=1.0)
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 3")
    st = h.ok("wait tone=howler 5")
    assert len(st["freqs"]) >= 2 and st["level_dbm0"] > -12
    assert r.call(r.board.line_status, 1)["state"] == "howler"
    h.ok("onhook")
    assert h.ok("state")["tone"] == "silence"


def test_a_dial_with_no_call_layer_ends_in_reorder(running):
    r = running(dial_plan="(1xxx)", no_taker_s=0.3)
    r.fw.calls_mgr = None                          # no call layer: nobody takes the number
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 4")
    h.ok("dial 1002")
    h.ok("wait fxs=dialing 3")
    h.ok("wait tone=congestion 5")


# -- ringing and caller ID (FLOWS §4 as B) --------------------------------------------------

def test_test_ring_rings_with_the_cadence_and_off_hook_trips_it(running):
    r = running()
    h = r.client()
    assert "ringing" in r.call(r.board.test_ring, 1)
    st = h.ok("wait ringing 2")
    assert st["rings"] == 1
    st = h.ok("wait rings=2 8")
    assert st["ringing"] is True and st["ring_cadence"][:2] == [pytest.approx(2000, abs=60),
                                                                pytest.approx(4000, abs=60)]
    h.ok("offhook")
    time.sleep(0.2)
    rm = r.board.factory.pin(17)
    assert rm.state is False                        # ring trip: RM idle
    st = h.ok("state")
    assert st["ringing"] is False and st["hook"] == "off"
    assert h.ok("wait tone=dial 4")


def test_incoming_call_rings_and_the_handset_decodes_caller_id(running):
    r = running()
    h = r.client()
    r.call(r.board.incoming, 1, {"number": "5551234", "name": "ALICE"})
    assert h.ok("wait ringing 2")["rings"] == 1
    st = h.ok("wait caller_id 8")
    assert st["caller_id"]["number"] == "5551234" and st["caller_id"]["name"] == "ALICE"
    assert st["caller_id"]["time"] and st["rings"] == 1        # between ring 1 and ring 2
    h.ok("offhook")
    assert r.wait_event(lambda n, f: n == "line" and f["state"] == "talking", 2)
    assert h.ok("state")["ringing"] is False


@pytest.mark.parametrize("country,method", [("de", "etsi-fsk"), ("us", "dtmf")])
def test_caller_id_in_other_formats(running, country, method):
    r = running(country=country, lines=[{"port": 1, "user": "1001", "caller_id": method}])
    h = r.client()
    r.call(r.board.incoming, 1, {"number": "0301234", "name": "BOB"})
    st = h.ok("wait caller_id 8")
    assert st["caller_id"]["number"] == "0301234"


def test_caller_gives_up_stops_the_bell(running):
    r = running()
    h = r.client()
    r.call(r.board.incoming, 1, None)
    h.ok("wait ringing 2")
    r.call(r.board.line_command, 1, "remote_hangup")
    assert h.ok("wait not-ringing 2")["ringing"] is False
    assert r.call(r.board.line_status, 1) == {"hook": "on", "state": "on_hook"}


# -- audio files and the mouthpiece ---------------------------------------------------------

def test_record_and_play_wav(running, tmp_path):
    r = running()
    h = r.client()
    h.ok("offhook")
    path = str(tmp_path / "ear.wav")
    rep = h.ok("record %s 300" % path)
    assert rep["ms"] == pytest.approx(300, abs=20)
    with wave.open(path, "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() >= 2400
    rep = h.ok("play %s" % path)
    assert rep["ms"] >= 300
    assert h.ok("say 1000")["say"] == 1000 and h.ok("say off")["say"] == "off"
    bad = tmp_path / "stereo.wav"
    with wave.open(str(bad), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(bytes(400))
    rep = h.ask("play %s" % bad)
    assert rep["ok"] is False and "mono" in rep["error"]


def test_two_lines_are_independent(running):
    r = running(lines=[{"port": 1, "user": "1001"}, {"port": 2, "user": "1002"}])
    h = r.client()
    h.ok("offhook line=2")
    assert h.ok("wait tone=dial 4 line=2")["hook"] == "off"
    assert h.ok("state line=1")["hook"] == "on"
    assert r.call(r.board.line_status, 2)["state"] == "dial_tone"
    assert r.call(r.board.line_status, 1)["state"] == "on_hook"


def test_close_is_idempotent(running):
    r = running()
    r.stop()
    r.fw.board.close()
    r.stop = lambda: None


# -- `tipring phone` --------------------------------------------------------------------------

def test_phone_client_sends_verbs_for_its_line(running):
    import io
    import json
    from tipring.board.sim.client import interactive
    r = running(lines=[{"port": 1, "user": "1001"}, {"port": 2, "user": "1002"}])
    out = io.StringIO()
    rc = interactive("%s:%d" % r.addr, 2, stdin=io.StringIO("offhook\n\nstate\nfrobnicate\nquit\nstate\n"),
                     stdout=out)
    assert rc == 0
    replies = [json.loads(l) for l in out.getvalue().splitlines()]
    assert [x["ok"] for x in replies] == [True, True, False]
    assert replies[1]["line"] == 2 and replies[1]["hook"] == "off"
    assert r.call(r.board.line_status, 1)["hook"] == "on"
    assert interactive("%s:%d" % r.addr, 1, stdin=io.StringIO(""), stdout=io.StringIO()) == 0


def test_phone_client_cannot_connect(capsys):
    import socket
    from tipring.board.sim.client import interactive
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                      # nothing listens there now
    assert interactive("127.0.0.1:%d" % port, 1) == 1
    assert "cannot connect" in capsys.readouterr().err
