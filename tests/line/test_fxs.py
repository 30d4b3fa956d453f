"""firmware/line/fxs.py: the FXS line's transition table, on virtual time (no loop, no pins)."""
import pytest

from firmware.line.fxs import STATES, TRANSITIONS, FxsLine
from firmware.line.hook import HookDecoder
from firmware.line.pulse import digit_to_pulses

PLAN = "(*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.)"


def kinds(out, kind):
    return [o[1:] for o in out if o[0] == kind]


def events(out, name):
    return [o[2] for o in out if o[0] == "event" and o[1] == name]


def run_timers(line, until):
    out = []
    while line.deadline() is not None and line.deadline() <= until:
        out += line.on_timer(line.deadline())
    return out


def dialled(line, digits, t=1.0, how="dtmf"):
    out = []
    for d in digits:
        out += line.digit(d, how, t)
        t += 0.2
    return out


# -- the table itself -----------------------------------------------------------------------

def test_table_is_closed():
    assert set(TRANSITIONS) == set(STATES)
    for state, row in TRANSITIONS.items():
        for event, (nxt, action) in row.items():
            assert nxt in STATES, (state, event)
            assert hasattr(FxsLine, "_a_" + action), (state, event, action)
    # every off-hook state can be left by hanging up; ringing by the far end giving up
    for state in STATES:
        if state not in ("on_hook", "ringing"):
            assert TRANSITIONS[state]["on_hook"][0] == "on_hook"
    assert TRANSITIONS["ringing"]["remote_hangup"][0] == "on_hook"


def test_an_event_with_no_entry_is_an_error_and_changes_nothing():
    line = FxsLine(port=3)
    out = line.remote_answered(0.0)
    assert line.state == "on_hook"
    assert [o for o in out if o[0] != "event"] == []
    err = events(out, "error")
    assert err and err[0]["where"] == "line" and "remote_answered" in err[0]["message"] \
        and "on_hook" in err[0]["message"] and "line 3" in err[0]["message"]
    out = line.digit("5", "dtmf", 0.0)
    assert line.state == "on_hook" and events(out, "digit") == [] and events(out, "error")


# -- FLOWS §4: off-hook, dial tone, digits, dial --------------------------------------------

def test_off_hook_gives_dial_tone_and_a_hook_event():
    line = FxsLine(port=1)
    out = line.hook("off_hook", 0.0)
    assert events(out, "hook") == [{"line": 1, "state": "off"}]
    assert ("dial",) in kinds(out, "play") and line.state == "dial_tone"
    assert events(out, "line")[0] == {"line": 1, "state": "dial_tone", "was": "on_hook", "cause": "off_hook"}


def test_digits_stop_dial_tone_and_a_complete_number_is_dialled():
    line = FxsLine(port=1, dial_plan=PLAN)
    line.hook("off_hook", 0.0)
    out = line.digit("1", "pulse", 1.0)
    assert events(out, "digit") == [{"line": 1, "digit": "1", "how": "pulse"}]
    assert (None,) in kinds(out, "play") and line.state == "collecting"
    out = dialled(line, "002", 1.2)
    assert [e["how"] for e in events(out, "digit")] == ["dtmf"] * 3
    assert kinds(out, "intent") == [] and line.deadline() == pytest.approx(1.6 + 3.0)  # xx. may grow
    out = run_timers(line, 10.0)
    assert kinds(out, "intent") == [("dial", "1002")] and line.state == "dialing"


def test_short_timer_dials_a_complete_number_that_could_grow():
    line = FxsLine(dial_plan="(911|911x)")
    line.hook("off_hook", 0.0)
    out = dialled(line, "911")
    assert line.state == "collecting" and kinds(out, "intent") == []
    assert line.deadline() == pytest.approx(1.4 + 3.0)
    out = run_timers(line, 10.0)
    assert kinds(out, "intent") == [("dial", "911")]


def test_a_number_the_plan_refuses_gets_reorder_and_then_the_howler():
    line = FxsLine(dial_plan="([2-9]xxx)", reorder_timeout=5.0)
    line.hook("off_hook", 0.0)
    out = line.digit("1", "dtmf", 1.0)
    assert line.state == "reorder" and kinds(out, "intent") == []
    assert kinds(out, "play")[-1] == ("congestion",)
    out = run_timers(line, 100.0)
    assert line.state == "howler" and kinds(out, "play") == [("howler",)]


def test_interdigit_timeout_on_an_incomplete_number_is_reorder():
    line = FxsLine(dial_plan="([2-9]xxx)")
    line.hook("off_hook", 0.0)
    line.digit("2", "dtmf", 1.0)
    assert line.deadline() == 11.0                      # Interdigit_Long_Timer
    out = line.on_timer(11.0)
    assert line.state == "reorder" and ("congestion",) in kinds(out, "play")


def test_off_hook_with_nothing_dialled_ends_in_the_howler():
    line = FxsLine(offhook_timeout=30.0)
    line.hook("off_hook", 0.0)
    assert line.on_timer(29.9) == [] and line.state == "dial_tone"
    out = line.on_timer(30.0)
    assert line.state == "howler" and kinds(out, "play") == [("howler",)]
    out = line.hook("on_hook", 40.0)
    assert line.state == "on_hook" and kinds(out, "play") == [(None,)] and kinds(out, "intent") == []


def test_warmline_dials_after_the_pause():
    line = FxsLine(dial_plan="(P2 <:1000> | [2-9]xxx)")
    line.hook("off_hook", 0.0)
    assert line.deadline() == 2.0
    out = line.on_timer(2.0)
    assert kinds(out, "intent") == [("dial", "1000")] and line.state == "dialing"


def test_a_dial_nobody_takes_goes_to_reorder():
    line = FxsLine(dial_plan="(1xxx)", dial_timeout=2.0)
    line.hook("off_hook", 0.0)
    dialled(line, "1002")
    assert line.state == "dialing" and line.deadline() == pytest.approx(1.6 + 2.0)
    run_timers(line, 10.0)
    assert line.state == "reorder"


def test_flash_in_dial_tone_restarts_it():
    line = FxsLine(dial_plan="(1xxx)")
    line.hook("off_hook", 0.0)
    line.digit("1", "dtmf", 1.0)
    out = line.hook("flash", 2.0)
    assert events(out, "hook") == [{"line": 1, "state": "flash"}]
    assert line.state == "dial_tone" and line.digits == "" and ("dial",) in kinds(out, "play")


# -- FLOWS §4, §6, §7: the call layer answers -----------------------------------------------

def outgoing(plan="(1xxx)"):
    line = FxsLine(dial_plan=plan)
    line.hook("off_hook", 0.0)
    dialled(line, "1002")
    return line


def test_ringback_answer_talk_and_remote_release():
    line = outgoing()
    assert kinds(line.remote_ringing(2.0), "play") == [("ringback",)]
    assert line.remote_ringing(2.5) == [] and line.state == "ringback"
    out = line.remote_answered(3.0)
    assert line.state == "talking" and kinds(out, "play") == [(None,)]
    out = line.digit("5", "dtmf", 4.0)
    assert kinds(out, "intent") == [("digit", "5")] and events(out, "digit")
    assert kinds(line.hook("flash", 5.0), "intent") == [("flash",)]
    out = line.remote_hangup(6.0)
    assert line.state == "released" and line.deadline() == 8.0      # FLOWS §6: silence first
    out = run_timers(line, 10.0)
    assert line.state == "reorder" and kinds(out, "play") == [("congestion",)]


def test_early_media_plays_the_far_end_then_ringback_on_a_plain_180():
    line = outgoing()
    out = line.remote_early_media(2.0)
    assert line.state == "early_media" and line.tone is None
    line.remote_ringing(2.5)
    assert line.state == "ringback" and line.tone == "ringback"


def test_busy_and_failure_tones():
    line = outgoing()
    assert kinds(line.remote_busy(2.0), "play") == [("busy",)] and line.state == "busy"
    line = outgoing()
    out = line.command("remote_failed", ("congestion",), 2.0)
    assert line.state == "reorder" and line.failure == "congestion" and ("congestion",) in kinds(out, "play")


def test_hanging_up_a_call_tells_the_call_layer():
    for step in (None, "remote_ringing", "remote_answered"):
        line = outgoing()
        if step:
            line.command(step, (), 2.0)
        out = line.hook("on_hook", 3.0)
        assert kinds(out, "intent") == [("hangup",)] and line.state == "on_hook"


# -- incoming (FLOWS §4 as B) -------------------------------------------------------------

def test_incoming_rings_sends_caller_id_and_off_hook_answers():
    line = FxsLine(port=2)
    cid = {"number": "5551234", "name": "ALICE"}
    out = line.incoming(cid, 0.0)
    assert line.state == "ringing" and kinds(out, "ring") == [(True,)] and kinds(out, "cid") == [(cid,)]
    out = line.hook("off_hook", 3.0)
    assert kinds(out, "ring") == [(False,)] and kinds(out, "intent") == [("answer",)]
    assert events(out, "hook") == [{"line": 2, "state": "off"}] and line.state == "talking"


def test_caller_gives_up_while_ringing():
    line = FxsLine(caller_id=False)
    out = line.command("incoming", ({"number": "1"},), 0.0)
    assert kinds(out, "cid") == []
    out = line.command("remote_hangup", (), 5.0)
    assert line.state == "on_hook" and kinds(out, "ring") == [(False,)]


def test_unknown_command_is_an_error():
    line = FxsLine()
    out = line.command("explode", (), 0.0)
    assert events(out, "error") and line.state == "on_hook"


# -- with the real hook decoder, on virtual time ----------------------------------------------

def pulse_edges(digits, t, pps=10.0, brk=0.6):
    edges = []
    period = 1.0 / pps
    for d in digits:
        for _ in range(digit_to_pulses(d)):
            edges += [(t, False), (t + period * brk, True)]
            t += period
        t += 0.7
    return edges, t


def test_rotary_digits_through_the_hook_decoder():
    dec = HookDecoder(now=0.0)
    line = FxsLine(dial_plan="(1xxx)")
    out = []
    edges = [(0.5, True)]
    more, end = pulse_edges("1002", 1.5)
    edges += more
    for t, level in edges:
        while dec.deadline() is not None and dec.deadline() < t:
            out += line.decoder_events(dec.on_timer(dec.deadline()))
        out += line.decoder_events(dec.edge(t, level))
    while dec.deadline() is not None and dec.deadline() <= end + 1:
        out += line.decoder_events(dec.on_timer(dec.deadline()))
    assert [(e["digit"], e["how"]) for e in events(out, "digit")] == \
        [("1", "pulse"), ("0", "pulse"), ("0", "pulse"), ("2", "pulse")]
    assert events(out, "hook") == [{"line": 1, "state": "off"}]
    assert kinds(out, "intent") == [("dial", "1002")]
