"""Feature codes and the supplementary-service states of the line (tipring/firmware/line/features.py,
tipring/firmware/line/fxs.py).

Runs unchanged under CPython (pytest or plain) and MicroPython (plain):
    python tests/portable/test_features_portable.py
    MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_features_portable.py
No pytest features: plain test_* functions and `_run()`.
"""
import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.line.dialplan import DialPlan
from tipring.firmware.line.features import DEFAULT_CODES, FeatureCodes, LineFeatures, Parse, parse_overrides
from tipring.firmware.line.fxs import STATES, TRANSITIONS, FxsLine

PLAN = DialPlan("(*xx|[2-9]xxx|1xxx)")


def kinds(out, kind):
    return [o[1:] for o in out if o[0] == kind]


def dialled(line, digits, t=1.0):
    out = []
    for d in digits:
        out += line.digit(d, "dtmf", t)
        t += 0.2
    return out


def run_timers(line, until):
    out = []
    while line.deadline() is not None and line.deadline() <= until:
        out += line.on_timer(line.deadline())
    return out


def in_call(**kw):
    line = FxsLine(dial_plan="(*xx|[2-9]xxx|1xxx)", **kw)
    line.hook("off_hook", 0.0)
    dialled(line, "1002")
    line.remote_answered(2.0)
    return line


def test_parse():
    codes = FeatureCodes()
    assert codes.parse("*7", PLAN).state == "more"
    assert codes.parse("*78", PLAN) == Parse("complete", "dnd")
    assert codes.parse("*721002", PLAN) == Parse("complete", "forward_all", "1002")
    assert codes.parse("*720", PLAN) == Parse("invalid", "forward_all")
    assert codes.parse("*69", PLAN).state == "none"
    assert codes.on_timeout("*72", PLAN).state == "invalid"


def test_overrides():
    assert parse_overrides("*87=blind_transfer,*98=") == {"*87": "blind_transfer", "*98": None}
    try:
        parse_overrides("*72=fly")
    except ValueError:
        pass
    else:
        raise AssertionError("accepted an unknown feature")


def test_line_features_round_trip():
    f = LineFeatures()
    assert f.apply("forward_all", "5551234") == "ok" and f.stutter
    assert f.apply("dnd") == "ok" and f.apply("call_waiting_off") == "ok"
    assert f.apply("blind_transfer", "1") == "err" and f.apply("forward_busy") == "err"
    g = LineFeatures.from_config(f.to_config())
    assert g.to_config() == f.to_config() and g.forward_all == "5551234" and g.dnd
    assert g.on_incoming(False) == ("forward", "5551234")


def test_table_is_closed():
    assert set(TRANSITIONS) == set(STATES)
    for state in TRANSITIONS:
        for ev in TRANSITIONS[state]:
            nxt, action = TRANSITIONS[state][ev]
            assert nxt in STATES and hasattr(FxsLine, "_a_" + action), (state, ev)


def test_every_code_confirms():
    for code in DEFAULT_CODES:
        name, kind = DEFAULT_CODES[code]
        if name == "blind_transfer":
            continue
        line = FxsLine(dial_plan="(*xx|[2-9]xxx|1xxx)")
        line.hook("off_hook", 0.0)
        out = dialled(line, code + ("1002" if kind else ""))
        assert kinds(out, "intent") == [("feature", name, "1002" if kind else None)], code
        assert line.state == "confirm" and line.tone == "confirm", code
        run_timers(line, 10.0)
        assert line.state == "dial_tone", code


def test_stutter_dial_tone():
    f = LineFeatures()
    f.apply("dnd")
    line = FxsLine(features=f)
    assert kinds(line.hook("off_hook", 0.0), "play") == [("stutter_dial",)]


def test_hold_second_call_transfer():
    line = in_call()
    assert kinds(line.hook("flash", 3.0), "intent") == [("flash",)] and line.state == "flash_dial"
    out = dialled(line, "2003", 4.0)
    assert kinds(out, "intent") == [("dial_second", "2003")]
    assert kinds(line.hook("flash", 6.0), "intent") == [("flash",)] and line.state == "talking"
    line.hook("flash", 7.0)
    out = dialled(line, "*982003", 8.0)
    assert kinds(out, "intent") == [("transfer_blind", "2003")] and line.state == "transferring"


def test_call_waiting_recall_and_relay():
    line = in_call()
    out = line.command("call_waiting", ({"number": "3"},), 10.0)
    assert kinds(out, "play") == [("call_waiting",)] and line.state == "waiting"
    assert kinds(line.on_timer(10.6), "play") == [(None,)]
    line.hook("flash", 11.0)
    assert line.state == "swapped"
    line.hook("on_hook", 12.0)
    out = line.command("recall", (None,), 12.5)
    assert kinds(out, "ring") == [(True,)]
    assert kinds(line.hook("off_hook", 13.0), "intent") == [("answer_recall",)]
    line = in_call(flash_relay="rfc4733")
    assert kinds(line.hook("flash", 3.0), "intent") == [("flash_relay", "rfc4733")]
    assert line.state == "talking"


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
