"""JCLIP on the line layer, on virtual time: tipring/firmware/line/fxs.py's "car" and "cid_offhook"
states and tipring/firmware/line/jclip.py's data (NTT "Number Display": CAR, the phone's primary
response, the V.23 frame off-hook, the phone on-hook, then ringing)."""

from tipring.firmware.dsp import callerid as cidmod
from tipring.firmware.line import jclip
from tipring.firmware.line.fxs import CAR_TIMEOUT, JCLIP_ONHOOK_TIMEOUT, FxsLine

CID = {"number": "0312345678", "name": "Tanaka"}


def kinds(out, *names):
    return [o for o in out if o[0] in names]


def line_states(out):
    return [o[2]["state"] for o in out if o[:2] == ("event", "line")]


def test_car_then_primary_response_then_data_then_ringing():
    line = FxsLine(jclip=True)
    out = line.incoming(CID, 0.0)
    assert kinds(out, "car", "ring", "cid") == [("car", True)]
    assert line.state == "car" and line.deadline() == CAR_TIMEOUT
    out = line.hook("off_hook", 1.1)                 # the phone answers the CAR
    assert kinds(out, "car", "jclip", "intent") == [("car", False), ("jclip", CID)]
    assert line.state == "cid_offhook" and line.deadline() == 1.1 + JCLIP_ONHOOK_TIMEOUT
    out = line.hook("on_hook", 3.5)                  # it read the data and hung up
    assert kinds(out, "jclip", "ring", "intent") == [("jclip", None), ("ring", True)]
    assert line.state == "ringing" and line.deadline() is None
    out = line.hook("off_hook", 8.0)                 # now the person answers
    assert ("intent", "answer") in out and line.state == "talking"


def test_no_primary_response_rings_without_caller_id():
    line = FxsLine(jclip=True)
    line.incoming(CID, 0.0)
    out = line.on_timer(CAR_TIMEOUT)
    assert kinds(out, "car", "ring", "cid") == [("car", False), ("ring", True)]
    assert line_states(out) == ["ringing"] and line.state == "ringing"


def test_a_person_who_stays_off_hook_gets_the_call():
    line = FxsLine(jclip=True)
    line.incoming(CID, 0.0)
    line.hook("off_hook", 0.6)
    out = line.on_timer(0.6 + JCLIP_ONHOOK_TIMEOUT)
    assert kinds(out, "jclip", "intent") == [("jclip", None), ("intent", "answer")]
    assert line.state == "talking"


def test_caller_gives_up_during_car_or_data():
    line = FxsLine(jclip=True)
    line.incoming(CID, 0.0)
    out = line.remote_hangup(1.0)
    assert kinds(out, "car") == [("car", False)] and line.state == "on_hook"
    line.incoming(CID, 2.0)
    line.hook("off_hook", 2.6)
    out = line.remote_hangup(3.0)
    assert kinds(out, "jclip") == [("jclip", None)] and line.state == "released"


def test_no_car_without_caller_id_or_off_jclip_lines():
    for line, cid in ((FxsLine(jclip=True), None), (FxsLine(jclip=True, caller_id=False), CID),
                      (FxsLine(), CID)):
        out = line.incoming(cid, 0.0)
        assert line.state == "ringing" and not kinds(out, "car"), out
    line = FxsLine(jclip=True)
    out = line.command("incoming", (CID,), 0.0)      # the call layer's verb takes the same path
    assert line.state == "car" and kinds(out, "car") == [("car", True)]


def test_data_pcm_is_the_delay_then_a_frame_the_phone_reads():
    pcm = jclip.data_pcm({"number": "03-1234-5678", "called": "0451234567"})
    lead = 2 * int(8000 * jclip.DATA_DELAY_S)
    assert pcm[:lead] == bytes(lead) and pcm[lead:lead + 8] != bytes(8)
    msgs = cidmod.CallerIDReceiver("jclip").feed(pcm + bytes(1600))
    assert [(m["number"], m["dialed"]) for m in msgs] == [("0312345678", "0451234567")]
    private = cidmod.CallerIDReceiver("jclip").feed(jclip.data_pcm({"reason": "private"}) + bytes(1600))
    assert [m["number_absent"] for m in private] == ["P"]
    assert jclip.CAR_CADENCE == (0.5, 0.5) and jclip.CAR_HZ == 16
