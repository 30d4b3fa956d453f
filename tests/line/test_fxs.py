"""tipring/firmware/line/fxs.py: the FXS line's transition table, on virtual time (no loop, no pins)."""
import pytest

from tipring.firmware.line.fxs import STATES, TRANSITIONS, FxsLine
from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.pulse import digit_to_pulses

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
    # (JCLIP: in cid_offhook the phone hangs up once it read the caller ID: then it rings)
    for state in STATES:
        if state not in ("on_hook", "ringing", "recalling", "car"):
            assert TRANSITIONS[state]["on_hook"][0] == ("ringing" if state == "cid_offhook" else "on_hook")
    for state in ("ringing", "recalling", "car"):
        assert TRANSITIONS[state]["remote_hangup"][0] == "on_hook"
        assert "on_hook" not in TRANSITIONS[state]
    # every state is reachable from on_hook
    seen, todo = {"on_hook"}, ["on_hook"]
    while todo:
        for nxt, _action in TRANSITIONS[todo.pop()].values():
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(STATES)


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
    assert kinds(line.hook("flash", 5.0), "intent") == [("flash",)]      # hold (FLOWS §12)
    assert kinds(line.hook("flash", 5.5), "intent") == [("flash",)]      # and back
    assert line.state == "talking"
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


# -- feature codes (FLOWS §11) -----------------------------------------------------------------

from tipring.firmware.line.features import DEFAULT_CODES, LineFeatures  # noqa: E402

FPLAN = "(*xx|[2-9]xxx|1xxx)"


def code_line(**kw):
    kw.setdefault("dial_plan", FPLAN)
    line = FxsLine(**kw)
    line.hook("off_hook", 0.0)
    return line


def test_every_code_sets_or_clears_its_feature_with_the_confirmation_tone():
    for code, (name, kind) in DEFAULT_CODES.items():
        if name == "blind_transfer":
            continue
        line = code_line()
        keys = code + ("1002" if kind else "")
        out = dialled(line, keys)
        arg = "1002" if kind else None
        assert kinds(out, "intent") == [("feature", name, arg)], code
        assert kinds(out, "play")[-1] == ("confirm",) and line.state == "confirm", code
        assert line.deadline() == pytest.approx(1.0 + 0.2 * (len(keys) - 1) + 0.6)
        out = run_timers(line, 10.0)
        assert line.state == "dial_tone", code
        stutter = name in ("forward_all", "dnd")
        assert kinds(out, "play") == [("stutter_dial" if stutter else "dial",)], code


def test_codes_switch_the_line_features_on_and_off():
    f = LineFeatures()
    line = code_line(features=f)
    dialled(line, "*721002")
    assert f.forward_all == "1002"
    run_timers(line, 5.0)
    dialled(line, "*78", 6.0)
    assert f.dnd
    run_timers(line, 10.0)
    dialled(line, "*57", 11.0)
    assert not f.call_waiting
    run_timers(line, 15.0)
    for code in ("*73", "*79", "*56"):
        dialled(line, code, 16.0)
        run_timers(line, 20.0)
    assert f.forward_all == "" and not f.dnd and f.call_waiting
    assert line.state == "dial_tone" and line.tone == "dial"


def test_star_seventy_cancels_call_waiting_for_the_next_call_only():
    f = LineFeatures()
    line = code_line(features=f)
    dialled(line, "*70")
    assert not f.call_waiting_now()
    run_timers(line, 2.0)
    out = dialled(line, "1002", 3.0)                  # dial straight after the confirm tone
    assert kinds(out, "intent") == [("dial", "1002")]
    line.remote_answered(4.0)
    assert not f.call_waiting_now()
    line.hook("on_hook", 10.0)
    assert f.call_waiting_now()


def test_invalid_or_failed_codes_get_reorder():
    line = code_line()
    out = dialled(line, "*720")                       # the plan refuses the number
    assert line.state == "reorder" and ("congestion",) in kinds(out, "play")
    assert kinds(out, "intent") == []
    line = code_line()
    out = dialled(line, "*981002")                    # blind transfer with nothing held
    assert line.state == "reorder" and kinds(out, "intent") == []
    line = code_line()
    dialled(line, "*72")
    out = run_timers(line, 20.0)                      # no number before the long timer
    assert line.state == "reorder" and kinds(out, "intent") == []
    line = code_line(dial_plan="([2-9]xxx)")
    dialled(line, "*74")                              # no code, and the plan has no *xx
    assert line.state == "reorder"


def test_codes_not_in_the_table_are_dialled():
    line = code_line()
    out = dialled(line, "*69")
    assert kinds(out, "intent") == [("dial", "*69")] and line.state == "dialing"


def test_overridden_codes():
    line = code_line(feature_codes="*87=blind_transfer,*72=,*44=forward_all")
    out = dialled(line, "*441002")
    assert kinds(out, "intent") == [("feature", "forward_all", "1002")]
    line = code_line(feature_codes="*72=")
    out = dialled(line, "*72")
    assert kinds(out, "intent") == [("dial", "*72")]


def test_stutter_dial_tone_while_forward_all_or_dnd_is_on():
    f = LineFeatures()
    f.apply("forward_all", "1002")
    line = FxsLine(features=f)
    assert kinds(line.hook("off_hook", 0.0), "play") == [("stutter_dial",)]
    line.hook("on_hook", 1.0)
    f.apply("forward_all_off")
    assert kinds(line.hook("off_hook", 2.0), "play") == [("dial",)]
    line.hook("on_hook", 3.0)
    f.apply("dnd")
    assert kinds(line.hook("off_hook", 4.0), "play") == [("stutter_dial",)]
    assert kinds(line.hook("flash", 5.0), "play") == [("stutter_dial",)]   # restarted


def test_set_indications_stutters_the_dial_tone():
    line = FxsLine()
    line.hook("off_hook", 0.0)
    assert line.set_indications(True, 1.0) == [("play", "stutter_dial")]
    assert line.set_indications(True, 1.5) == []
    assert line.set_indications(False, 2.0) == [("play", "dial")]
    line.hook("on_hook", 3.0)
    assert line.set_indications(True, 4.0) == []
    assert kinds(line.hook("off_hook", 5.0), "play") == [("stutter_dial",)]


# -- hold, second call, transfer, conference (FLOWS §12, §14, §15, §17) ------------------------

def in_call(**kw):
    kw.setdefault("dial_plan", FPLAN)
    line = FxsLine(**kw)
    line.hook("off_hook", 0.0)
    dialled(line, "1002")
    line.remote_answered(2.0)
    assert line.state == "talking"
    return line


def test_flash_in_a_call_holds_it_and_gives_a_second_dial_tone():
    line = in_call()
    out = line.hook("flash", 3.0)
    assert kinds(out, "intent") == [("flash",)] and line.state == "flash_dial"
    assert kinds(out, "play") == [("recall_dial",)]
    assert events(out, "line")[-1]["state"] == "flash_dial"
    out = line.hook("flash", 4.0)                     # flash again: back to the held call
    assert kinds(out, "intent") == [("flash",)] and line.state == "talking"
    assert kinds(out, "play") == [(None,)]


def test_second_dial_tone_times_out_to_reorder_and_flash_still_resumes():
    line = in_call()
    line.hook("flash", 3.0)
    out = run_timers(line, 100.0)
    assert line.state == "flash_reorder" and kinds(out, "play") == [("congestion",)]
    out = line.hook("flash", 101.0)
    assert line.state == "talking" and kinds(out, "intent") == [("flash",)]


def test_dialling_in_flash_dial_places_a_second_call_then_conference():
    line = in_call()
    line.hook("flash", 3.0)
    out = dialled(line, "2003", 4.0)
    assert kinds(out, "intent") == [("dial_second", "2003")] and line.state == "second_call"
    assert kinds(line.remote_ringing(5.0), "play") == [("ringback",)]
    line.remote_answered(6.0)
    assert line.state == "second_talking" and line.tone is None
    out = line.hook("flash", 7.0)                     # FLOWS §17: three-way
    assert kinds(out, "intent") == [("conference",)] and line.state == "conference"
    out = line.hook("flash", 8.0)                     # drops the last party
    assert kinds(out, "intent") == [("drop_last",)] and line.state == "talking"


def test_hanging_up_on_the_second_party_is_an_attended_transfer():
    line = in_call()
    line.hook("flash", 3.0)
    dialled(line, "2003", 4.0)
    line.remote_answered(6.0)
    out = line.hook("on_hook", 7.0)                   # FLOWS §15: REFER with Replaces
    assert kinds(out, "intent") == [("transfer_attended",)] and line.state == "on_hook"


def test_a_second_call_that_fails_leaves_the_first_on_hold():
    line = in_call()
    line.hook("flash", 3.0)
    dialled(line, "2003", 4.0)
    out = line.remote_busy(5.0)
    assert line.state == "flash_reorder" and kinds(out, "play") == [("busy",)]
    assert kinds(line.hook("flash", 6.0), "intent") == [("flash",)] and line.state == "talking"


def test_star_98_and_a_number_in_flash_dial_is_a_blind_transfer():
    line = in_call()
    line.hook("flash", 3.0)
    out = dialled(line, "*982003", 4.0)
    assert kinds(out, "intent") == [("transfer_blind", "2003")] and line.state == "transferring"
    out = line.command("transfer_ok", (), 6.0)        # NOTIFY sipfrag 200 OK
    assert line.state == "confirm" and kinds(out, "play") == [("confirm",)]
    run_timers(line, 10.0)
    assert line.state == "dial_tone"
    line = in_call()
    line.hook("flash", 3.0)
    dialled(line, "*982003", 4.0)
    out = line.command("transfer_failed", (), 6.0)
    assert line.state == "flash_reorder"
    assert kinds(line.hook("flash", 7.0), "intent") == [("flash",)] and line.state == "talking"


def test_a_line_feature_code_in_flash_dial_confirms_and_returns_to_the_second_dial_tone():
    f = LineFeatures()
    line = in_call(features=f)
    line.hook("flash", 3.0)
    out = dialled(line, "*70", 4.0)
    assert kinds(out, "intent") == [("feature", "cancel_call_waiting_next", None)]
    assert line.state == "flash_confirm" and not f.call_waiting_now()
    out = run_timers(line, 6.0)
    assert line.state == "flash_dial" and kinds(out, "play") == [("recall_dial",)]


def test_hanging_up_with_a_call_on_hold_and_the_recall_ring():
    line = in_call()
    line.hook("flash", 3.0)
    out = line.hook("on_hook", 4.0)
    assert kinds(out, "intent") == [("hangup",)] and line.state == "on_hook"
    cid = {"number": "1002"}
    out = line.command("recall", (cid,), 4.5)         # the call layer rings back
    assert line.state == "recalling" and kinds(out, "ring") == [(True,)]
    out = line.hook("off_hook", 6.0)
    assert kinds(out, "ring") == [(False,)] and kinds(out, "intent") == [("answer_recall",)]
    assert line.state == "talking"
    line.hook("on_hook", 7.0)
    line.command("recall", (), 7.5)
    out = line.command("held_hangup", (), 9.0)        # the held party gave up
    assert line.state == "on_hook" and kinds(out, "ring") == [(False,)]


def test_the_held_party_leaving_frees_the_line():
    line = in_call()
    line.hook("flash", 3.0)
    out = line.command("held_hangup", (), 4.0)
    assert line.state == "dial_tone" and kinds(out, "play") == [("dial",)]


# -- call waiting (FLOWS §13) ------------------------------------------------------------------

def test_call_waiting_bursts_over_the_call_and_flash_swaps():
    line = in_call()
    cid = {"number": "3004", "name": "CAROL"}
    out = line.command("call_waiting", (cid,), 10.0)
    assert line.state == "waiting" and kinds(out, "play") == [("call_waiting",)]
    assert line.waiting_caller_id == cid and line.deadline() == pytest.approx(10.6)
    out = line.on_timer(10.6)                         # burst over: the call's audio again
    assert kinds(out, "play") == [(None,)] and line.state == "waiting"
    assert line.deadline() == pytest.approx(20.6)
    out = line.on_timer(20.6)                         # and again while C waits
    assert kinds(out, "play") == [("call_waiting",)]
    assert kinds(line.digit("5", "dtmf", 20.7), "intent") == [("digit", "5")]
    out = line.hook("flash", 21.0)                    # hold B, answer C
    assert kinds(out, "intent") == [("flash",)] and line.state == "swapped"
    assert kinds(out, "play") == [(None,)] and line.deadline() is None
    out = line.hook("flash", 25.0)                    # swap
    assert kinds(out, "intent") == [("flash",)] and line.state == "swapped"
    out = line.command("held_hangup", (), 30.0)
    assert line.state == "talking"


def test_a_waiting_call_that_gives_up_stops_the_tone():
    line = in_call()
    line.command("call_waiting", (None,), 10.0)
    out = line.command("call_waiting_end", (), 10.3)
    assert line.state == "talking" and kinds(out, "play") == [(None,)] and line.deadline() is None


def test_hanging_up_with_a_waiting_or_swapped_call():
    line = in_call()
    line.command("call_waiting", (None,), 10.0)
    out = line.hook("on_hook", 11.0)
    assert kinds(out, "intent") == [("hangup",)] and line.deadline() is None
    line = in_call()
    line.command("call_waiting", (None,), 10.0)
    line.hook("flash", 11.0)
    out = line.hook("on_hook", 12.0)                  # the call layer recalls the held one
    assert kinds(out, "intent") == [("hangup",)] and line.state == "on_hook"


# -- flash relay (RFC 4733 event 16 / SIP INFO) ------------------------------------------------

def test_flash_relay_sends_the_flash_and_stays_in_the_call():
    for method in ("rfc4733", "info"):
        line = in_call(flash_relay=method)
        out = line.hook("flash", 3.0)
        assert kinds(out, "intent") == [("flash_relay", method)] and line.state == "talking"
        assert kinds(out, "play") == []
        line.command("call_waiting", (None,), 4.0)
        out = line.hook("flash", 5.0)
        assert kinds(out, "intent") == [("flash_relay", method)] and line.state == "waiting"
    with pytest.raises(ValueError):
        FxsLine(flash_relay="smoke")


def test_a_transfer_finishing_after_the_handset_hung_up_is_quiet_or_rings_back():
    # FLOWS §15/§17: hanging up hands B and C to each other; the REFER's outcome comes later
    line = in_call()
    line.hook("on_hook", 4.0)
    out = line.command("transfer_ok", (), 4.5)
    assert line.state == "on_hook" and out == []                  # no "ignored" error
    line = in_call()
    line.hook("on_hook", 4.0)
    out = line.command("transfer_failed", (), 4.5)                 # they did not: ring back
    assert line.state == "recalling" and kinds(out, "ring") == [(True,)]
    out = line.hook("off_hook", 6.0)
    assert kinds(out, "intent") == [("answer_recall",)] and line.state == "talking"


# -- a rotary digit the receiver refused (issue 15) ---------------------------------------------

def _off_hook_decoder_line(**kw):
    line = FxsLine(port=1, dial_plan=PLAN, **kw)
    dec = HookDecoder(now=0.0)
    out = line.decoder_events(dec.edge(0.0, True) + dec.on_timer(0.1))
    return line, dec, out


def _pulse_digit(dec, t, n, pps):
    period = 1.0 / pps
    ev = []
    for _ in range(n):
        ev += dec.edge(t, False) + dec.edge(t + 0.6 * period, True)
        t += period
    return ev + dec.on_timer(t + 1.0), t + 1.0


def test_a_refused_rotary_digit_while_dialling_is_reorder_not_a_dial_of_the_digits_so_far():
    line, dec, _ = _off_hook_decoder_line()
    ev, t = _pulse_digit(dec, 1.0, 5, 10)
    out = line.decoder_events(ev)
    assert events(out, "digit") == [{"line": 1, "digit": "5", "how": "pulse"}]
    ev, t = _pulse_digit(dec, t, 3, 7)                    # 7 pps: too slow for 8-22
    out = line.decoder_events(ev)
    assert line.state == "reorder" and kinds(out, "play") == [("congestion",)]
    err = events(out, "error")
    assert len(err) == 1 and "too slow at 7.0 pps" in err[0]["message"] and "8-22 pps" in err[0]["message"]
    assert not kinds(out + run_timers(line, t + 30), "intent")      # "5" is never dialled


def test_a_refused_rotary_digit_in_a_call_is_only_reported():
    line, dec, _ = _off_hook_decoder_line(pulse_window=(9.0, 20.0))
    line.state = "talking"
    ev, t = _pulse_digit(dec, 1.0, 4, 25)
    out = line.decoder_events(ev)
    assert line.state == "talking" and not kinds(out, "intent") and not kinds(out, "play")
    assert "too fast" in events(out, "error")[0]["message"] and "9-20 pps" in events(out, "error")[0]["message"]
