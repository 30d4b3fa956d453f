"""SPA dial plans (tipring/firmware/line/dialplan.py) without pytest or hypothesis.

Runs unchanged under CPython (pytest or plain) and MicroPython (plain):
    python tests/portable/test_dialplan_portable.py
    MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_dialplan_portable.py
No pytest features: plain test_* functions and `_run()`.
"""
import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.line.dialplan import (
    DEFAULT_PLAN, KEYS, DialPlan, DialPlanError, Verdict, on_timeout,
)


def V(state, number=None, timeout=0.0):
    return Verdict(state, number, timeout)


def eq(got, want):
    assert got == want, "%r != %r" % (got, want)


def raises(text):
    try:
        DialPlan(text)
    except DialPlanError as e:
        assert isinstance(e, ValueError)
        return e
    raise AssertionError("no error for %r" % (text,))


def test_default_plan():
    plan = DialPlan(DEFAULT_PLAN)
    for keys, now, later in (
        ("", V("incomplete", None, 10.0), V("invalid")),
        ("*6", V("incomplete", None, 10.0), V("invalid")),
        ("*69", V("complete", "*69", 0.0), V("complete", "*69")),
        ("911", V("complete", "911", 3.0), V("complete", "911")),
        ("411", V("complete", "411", 3.0), V("complete", "411")),
        ("0", V("complete", "0", 3.0), V("complete", "0")),
        ("00", V("complete", "00", 3.0), V("complete", "00")),
        ("2345", V("complete", "2345", 3.0), V("complete", "2345")),
        ("1234", V("complete", "1234", 3.0), V("complete", "1234")),
        ("5", V("complete", "5", 3.0), V("complete", "5")),
        ("12", V("complete", "12", 3.0), V("complete", "12")),
        ("**", V("invalid"), V("invalid")),
        ("911#", V("complete", "911", 0.0), V("complete", "911")),
        ("*6#", V("invalid"), V("invalid")),
    ):
        eq(plan.match(keys), now)
        eq(on_timeout(plan, keys), later)


def test_incomplete_then_timeout():
    plan = DialPlan("(1xxx|*xx)")
    eq(plan.match("12"), V("incomplete", None, 10.0))
    eq(on_timeout(plan, "12"), V("invalid"))
    eq(plan.match("1234"), V("complete", "1234", 0.0))


def test_substitutions():
    eq(DialPlan("(<9:>1xxxxxxxxxx)").match("914085551212"), V("complete", "14085551212"))
    plan = DialPlan("( <:1408>[2-9]xxxxxx | 1[2-9]xx[2-9]xxxxxx )")
    eq(plan.match("5551212"), V("complete", "14085551212"))
    eq(plan.match("14155551212"), V("complete", "14155551212"))
    eq(DialPlan("(<1:+1>[2-9]xx[2-9]xxxxxx)").match("14155551212"),
       V("complete", "+14155551212"))


def test_bars():
    for text in ("(!1900xxxxxxx|1xxxxxxxxxx)", "(1xxxxxxxxxx|1900xxxxxxx!)",
                 "(xx.|1900xxxxxxx!)"):
        plan = DialPlan(text)
        eq(plan.match("19005551212"), V("barred"))
        eq(on_timeout(plan, "19005551212"), V("barred"))
    eq(DialPlan("(1900x.!|2xxx)").match("19"), V("barred"))
    plan = DialPlan("(xx.!|911|9xxx)")
    eq(plan.match("8"), V("barred"))
    eq(plan.match("9"), V("incomplete", None, 3.0))
    eq(plan.match("911"), V("complete", "911", 3.0))


def test_timer_overrides():
    plan = DialPlan("(9,8,1[2-9]xxxxxxxxxS0|9,8,xx.)")
    eq(plan.match("9814155551212"), V("complete", "9814155551212", 0.0))
    eq(plan.match("981415555121"), V("complete", "981415555121", 3.0))
    plan = DialPlan("(L4xxxx|*xx)")
    eq(plan.match("1"), V("incomplete", None, 4.0))
    eq(plan.match("*"), V("incomplete", None, 10.0))
    plan = DialPlan("L:8,S:4,(0|00|xxxx)")
    eq(plan.match(""), V("incomplete", None, 8.0))
    eq(plan.match("0"), V("complete", "0", 4.0))


def test_hotline_and_warmline():
    eq(DialPlan("( S0 <:18005551212> )").match(""), V("complete", "18005551212", 0.0))
    plan = DialPlan("( P5 <:1000> | xxxx )")
    eq(plan.match(""), V("complete", "1000", 5.0))
    eq(on_timeout(plan, ""), V("complete", "1000"))
    eq(plan.match("1"), V("incomplete", None, 10.0))
    eq(plan.match("#"), V("invalid"))


def test_repeats_and_sets():
    plan = DialPlan("(01.)")
    for keys in ("0", "01", "011", "0111"):
        eq(on_timeout(plan, keys), V("complete", keys))
    eq(plan.match("0112"), V("invalid"))
    plan = DialPlan("([2-4*]0|[135]x|[A-C#]1)")
    for keys in ("20", "40", "*0", "10", "59", "A1", "#1"):
        eq(plan.match(keys), V("complete", keys, 0.0))
    for keys in ("60", "#0", "21", "D1"):
        eq(plan.match(keys).state, "invalid")


def test_pound_key_in_a_sequence():
    plan = DialPlan("(*#xx|xxx)")
    eq(plan.match("*#"), V("incomplete", None, 10.0))
    eq(plan.match("*#12"), V("complete", "*#12", 0.0))
    eq(plan.match("12#"), V("invalid"))


def test_tie_breaking():
    eq(DialPlan("(<:b>[1-3]234|<1:a>xxx)").match("1234"), V("complete", "a234"))
    eq(DialPlan("(1xxxxxxxxxx|1900x.!)").match("19005551212"), V("barred"))
    eq(DialPlan("(<:a>1xx|<:b>1xx)").match("123"), V("complete", "a123"))
    eq(DialPlan("(1xx|1xx!)").match("123"), V("barred"))


def test_syntax_errors_name_the_position():
    for text, pos, words in (
        ("(xx", 0, "unbalanced '('"),
        ("xx)", 2, "unbalanced ')'"),
        ("(1[2-9", 2, "unbalanced '['"),
        ("([9-2]x)", 2, "start after end"),
        ("([2-]x)", 3, "needs an end"),
        ("(<9:x)", 1, "unbalanced '<'"),
        ("(x|(1|2))", 3, "nested"),
        ("(x..)", 3, "'.' must follow"),
        ("(x||y)", 3, "empty sequence"),
        ("(9P5xxx)", 2, "pause"),
    ):
        e = raises(text)
        assert e.pos == pos, (text, str(e))
        assert ("position %d" % pos) in str(e), str(e)
        assert words in str(e), str(e)


def test_pathological_plans_stay_small():
    plan = DialPlan("(<x.:>x.<x.:a>x.|x.x.x.x.)")
    digits = "1234567890" * 6
    v = plan.match(digits)
    eq(v.state, "complete")
    eq(on_timeout(plan, digits).state, "complete")


def test_pseudo_random_keys_never_raise():
    plans = [DialPlan(t) for t in (
        DEFAULT_PLAN,
        "(<9:>1xxxxxxxxxx|<:1408>[2-9]xxxxxx|!1900xxxxxxx|011L20x.)",
        "( P5 <:1000> | xxxx | *#x.S0 )",
        "(xx.!|911|<1:+1>[2-9]xx[2-9]xxxxxx|[*#A-D]x.#)",
    )]
    seed = 12345
    states = ("incomplete", "complete", "invalid", "barred")
    for _ in range(400):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        n = seed % 16
        keys = ""
        for _ in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            keys += KEYS[(seed >> 8) % len(KEYS)]
        for plan in plans:
            v = plan.match(keys)
            assert v.state in states and v.timeout >= 0, v
            assert (v.number is not None) == (v.state == "complete"), v
            w = on_timeout(plan, keys)
            assert w.state != "incomplete" and w.timeout == 0, w


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
