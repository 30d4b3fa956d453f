"""SPA dial plans (tipring/firmware/line/dialplan.py): the default plan, rewrites, bars, timer
overrides, hotline/warmline, `#` as send, tie-breaking, syntax errors, and fuzzing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipring.firmware.line.dialplan import (
    DEFAULT_PLAN, KEYS, DialPlan, DialPlanError, Verdict, on_timeout,
)

STATES = ("incomplete", "complete", "invalid", "barred")


def V(state, number=None, timeout=0.0):
    return Verdict(state, number, timeout)


def dial(plan, keys):
    """Drive `plan` as the line does: match after each key; a verdict with timeout 0 acts at
    once, otherwise the next key arrives before the timer; after the last key the timer
    fires. Returns (verdict that acted, keys consumed)."""
    for n in range(1, len(keys) + 1):
        v = plan.match(keys[:n])
        if v.state in ("invalid", "barred") or (v.state == "complete" and v.timeout == 0):
            return v, keys[:n]
    return on_timeout(plan, keys), keys


@pytest.fixture
def default():
    return DialPlan(DEFAULT_PLAN)


# -- the default plan (*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.) -----------------------------

DEFAULT_CASES = [
    # keys, match(), on_timeout()
    ("",     V("incomplete", None, 10.0), V("invalid")),
    ("*",    V("incomplete", None, 10.0), V("invalid")),
    ("*6",   V("incomplete", None, 10.0), V("invalid")),
    ("*69",  V("complete", "*69", 0.0),   V("complete", "*69")),   # nothing else can grow
    ("9",    V("complete", "9", 3.0),     V("complete", "9")),     # xx. is 1+ digits
    ("91",   V("complete", "91", 3.0),    V("complete", "91")),
    ("911",  V("complete", "911", 3.0),   V("complete", "911")),   # [2-9]xxx, xx. may grow
    ("411",  V("complete", "411", 3.0),   V("complete", "411")),
    ("0",    V("complete", "0", 3.0),     V("complete", "0")),     # 00 may follow
    ("00",   V("complete", "00", 3.0),    V("complete", "00")),
    ("2345", V("complete", "2345", 3.0),  V("complete", "2345")),  # xx. may grow
    ("1234", V("complete", "1234", 3.0),  V("complete", "1234")),
    ("5",    V("complete", "5", 3.0),     V("complete", "5")),
    ("12",   V("complete", "12", 3.0),    V("complete", "12")),
    ("**",   V("invalid"),                V("invalid")),
    ("*6#",  V("invalid"),                V("invalid")),           # send, incomplete
    ("911#", V("complete", "911", 0.0),   V("complete", "911")),   # send, complete
    ("#",    V("invalid"),                V("invalid")),
    ("A",    V("invalid"),                V("invalid")),
]


@pytest.mark.parametrize("keys, now, later", DEFAULT_CASES)
def test_default_plan(default, keys, now, later):
    assert default.match(keys) == now
    assert on_timeout(default, keys) == later


def test_default_plan_as_dialled(default):
    assert dial(default, "*69") == (V("complete", "*69"), "*69")
    assert dial(default, "911") == (V("complete", "911"), "911")
    assert dial(default, "5") == (V("complete", "5"), "5")
    assert dial(default, "*6") == (V("invalid"), "*6")
    assert dial(default, "**1") == (V("invalid"), "**")
    assert dial(default, "911#") == (V("complete", "911"), "911#")


def test_incomplete_waits_long_timer_then_fails():
    plan = DialPlan("(1xxx|*xx)")
    assert plan.match("12") == V("incomplete", None, 10.0)
    assert on_timeout(plan, "12") == V("invalid")
    assert plan.match("123") == V("incomplete", None, 10.0)
    assert plan.match("1234") == V("complete", "1234", 0.0)
    assert plan.match("12345") == V("invalid")


def test_timer_defaults_from_the_line():
    plan = DialPlan("(0|00|1xxx)", long_s=15, short_s=2.5)
    assert plan.match("") == V("incomplete", None, 15.0)
    assert plan.match("0") == V("complete", "0", 2.5)
    assert plan.match("00") == V("complete", "00", 0.0)


# -- substitutions ------------------------------------------------------------------------

def test_remove_prefix():
    plan = DialPlan("(<9:>1xxxxxxxxxx)")
    assert plan.match("9") == V("incomplete", None, 10.0)
    assert plan.match("914085551212") == V("complete", "14085551212", 0.0)
    assert plan.match("14085551212") == V("invalid")


def test_insert_area_code():
    plan = DialPlan("( <:1408>[2-9]xxxxxx | 1[2-9]xx[2-9]xxxxxx )")
    assert plan.match("5551212") == V("complete", "14085551212", 0.0)
    assert plan.match("14155551212") == V("complete", "14155551212", 0.0)
    assert plan.match("1") == V("incomplete", None, 10.0)
    assert plan.match("10") == V("invalid")  # [2-9] for the area code and the exchange


def test_rewrite_and_plus():
    plan = DialPlan("(<1:+1>[2-9]xx[2-9]xxxxxx|<011:+>[1-9]x.)")
    assert plan.match("14155551212") == V("complete", "+14155551212", 0.0)
    assert plan.match("01144") == V("complete", "+44", 3.0)
    assert on_timeout(plan, "0114420") == V("complete", "+4420")


def test_substitution_with_wildcards_and_gateway_text():
    plan = DialPlan("(<8x:>xxx<:@gw0>)")
    assert plan.match("85123") == V("complete", "123@gw0", 0.0)


def test_spa_guide_example_8_1650():
    assert DialPlan("(<8:1650>xxxxxxx)").match("85551212") == V("complete", "16505551212")


# -- bars -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["(!1900xxxxxxx|1xxxxxxxxxx)", "(1900xxxxxxx!|1xxxxxxxxxx)",
                                  "(1xxxxxxxxxx|1900xxxxxxx!)"])
def test_bar_wins_over_wider_sequence(text):
    plan = DialPlan(text)
    assert plan.match("19005551212") == V("barred")
    assert on_timeout(plan, "19005551212") == V("barred")
    assert plan.match("18005551212") == V("complete", "18005551212", 0.0)
    assert plan.match("1900") == V("incomplete", None, 10.0)


def test_bar_in_default_like_plan_mid_dial():
    plan = DialPlan("(xx.|1900xxxxxxx!)")
    assert plan.match("1900555121") == V("complete", "1900555121", 3.0)
    assert plan.match("19005551212") == V("barred")  # at once, though xx. could grow
    assert plan.match("18005551212") == V("complete", "18005551212", 3.0)


def test_only_barred_candidates_left_is_barred_at_once():
    plan = DialPlan("(1900x.!|2xxx)")
    assert plan.match("19") == V("barred")  # 1900x.! could still grow: nothing but a bar
    assert plan.match("2") == V("incomplete", None, 10.0)


def test_narrow_sequence_survives_a_wide_bar():
    plan = DialPlan("(xx.!|911|9xxx)")
    assert plan.match("8") == V("barred")
    assert plan.match("9") == V("incomplete", None, 3.0)  # barred as is, 9xxx may follow
    assert on_timeout(plan, "9") == V("barred")
    assert plan.match("911") == V("complete", "911", 3.0)
    assert plan.match("9123") == V("complete", "9123", 0.0)


# -- timer overrides ----------------------------------------------------------------------

def test_s0_dials_at_once_even_if_longer_is_possible():
    plan = DialPlan("(9,8,1[2-9]xxxxxxxxxS0|9,8,xx.)")
    assert plan.match("9814155551212") == V("complete", "9814155551212", 0.0)
    assert plan.match("981415555121") == V("complete", "981415555121", 3.0)


def test_short_override_per_sequence():
    plan = DialPlan("(0S1|00|xxxS5|xxxx)")
    assert plan.match("0") == V("complete", "0", 1.0)
    assert plan.match("123") == V("complete", "123", 5.0)


def test_long_override_starts_at_its_point():
    plan = DialPlan("(011L20xxx|1xxxxxxxxxx)")
    assert plan.match("0") == V("incomplete", None, 10.0)
    assert plan.match("01") == V("incomplete", None, 10.0)
    assert plan.match("011") == V("incomplete", None, 20.0)
    assert plan.match("0114") == V("incomplete", None, 20.0)
    plan = DialPlan("(L4xxxx|*xx)")
    assert plan.match("1") == V("incomplete", None, 4.0)
    assert plan.match("*") == V("incomplete", None, 10.0)


def test_long_timer_is_the_longest_of_live_sequences():
    plan = DialPlan("(L4xxxx|L12xxxxx)")
    assert plan.match("12") == V("incomplete", None, 12.0)
    assert plan.match("1234") == V("complete", "1234", 3.0)


def test_master_overrides():
    plan = DialPlan("L:8,S:4,(0|00|xxxx)")
    assert (plan.long_s, plan.short_s) == (8.0, 4.0)
    assert plan.match("") == V("incomplete", None, 8.0)
    assert plan.match("0") == V("complete", "0", 4.0)
    plan = DialPlan(" L : 15 , ( xx. ) ", short_s=2)
    assert (plan.long_s, plan.short_s) == (15.0, 2.0)


def test_bare_timer_letters_mean_five_seconds():
    assert DialPlan("L:,(xxxx)").long_s == 5.0
    assert DialPlan("(xxxS|xxxx)").match("123") == V("complete", "123", 5.0)
    assert DialPlan("(P<:1000>|xxxx)").match("") == V("complete", "1000", 5.0)


def test_whitespace_ends_a_timer_value():
    # "S1 0" is S1 then the key 0, not S10 (the guides' "terminating space")
    plan = DialPlan("(xS1 0|xxx)")
    assert plan.match("10") == V("complete", "10", 1.0)


# -- hotline / warmline -------------------------------------------------------------------

def test_hotline():
    plan = DialPlan("( S0 <:18005551212> )")
    assert plan.match("") == V("complete", "18005551212", 0.0)
    assert plan.match("1") == V("invalid")


def test_hotline_with_p0():
    assert DialPlan("(P0<:911>)").match("") == V("complete", "911", 0.0)


def test_warmline():
    plan = DialPlan("(P5<:1000>)")
    assert plan.match("") == V("complete", "1000", 5.0)  # after a 5 s pause, not before
    assert on_timeout(plan, "") == V("complete", "1000")
    assert plan.match("#") == V("invalid")                # # is not a pause
    assert plan.match("1") == V("invalid")


def test_warmline_with_dialling():
    plan = DialPlan("( P5 <:1000> | xxxx )")
    assert plan.match("") == V("complete", "1000", 5.0)
    assert on_timeout(plan, "") == V("complete", "1000")
    assert plan.match("1") == V("incomplete", None, 10.0)
    assert on_timeout(plan, "1") == V("invalid")
    assert plan.match("1234") == V("complete", "1234", 0.0)


# -- repeats and sets ---------------------------------------------------------------------

def test_repeat_zero_or_more():
    plan = DialPlan("(01.)")
    for keys in ("0", "01", "011", "0111"):
        assert on_timeout(plan, keys) == V("complete", keys), keys
    assert plan.match("0") == V("complete", "0", 3.0)
    assert plan.match("0112") == V("invalid")


def test_repeat_of_set_and_star():
    plan = DialPlan("(*[2-4]*.#)")
    assert plan.match("*3") == V("incomplete", None, 10.0)
    assert plan.match("*3***#") == V("complete", "*3***#", 0.0)
    assert plan.match("*5") == V("invalid")


@pytest.mark.parametrize("text, yes, no", [
    ("([2-9]11)", "211 511 911", "011 111"),
    ("([135]x)", "10 35 59", "20 40 *0"),
    ("([2-4*]0)", "20 30 40 *0", "10 50 #0"),
    ("([235-8*]x)", "21 31 51 61 71 81 *1", "11 41 91 #1"),
    ("([A-C#]1)", "A1 B1 C1 #1", "D1 *1 01"),
    ("(x#)", "0# 9#", "*# A#"),
])
def test_sets(text, yes, no):
    plan = DialPlan(text)
    for keys in yes.split():
        assert plan.match(keys) == V("complete", keys, 0.0), keys
    for keys in no.split():
        assert plan.match(keys).state == "invalid", keys


def test_pound_as_a_key_in_a_sequence_is_not_send():
    plan = DialPlan("(*#xx|xxx)")
    assert plan.match("*#") == V("incomplete", None, 10.0)
    assert plan.match("*#12") == V("complete", "*#12", 0.0)
    assert plan.match("12#") == V("invalid")  # send: 12 is not complete


def test_intersequence_tone_comma_is_ignored():
    plan = DialPlan("(9,1xxxxxxxxxx)")
    assert plan.match("914155551212") == V("complete", "914155551212", 0.0)


# -- tie-breaking ---------------------------------------------------------------------------

def test_most_specific_full_match_wins_key_by_key_from_the_left():
    # the first key where two matches differ decides: 1 (literal) beats [1-3]
    plan = DialPlan("(<:b>[1-3]234|<1:a>xxx)")
    assert plan.match("1234") == V("complete", "a234", 0.0)
    plan = DialPlan("(<:b>[1-3]234|<:a>[1-5]xxx)")
    assert plan.match("1234") == V("complete", "b1234", 0.0)


def test_prefix_bar_with_repeat_beats_a_wide_sequence():
    plan = DialPlan("(1xxxxxxxxxx|1900x.!)")
    assert plan.match("19005551212") == V("barred")
    assert on_timeout(plan, "1900555") == V("barred")
    assert plan.match("18005551212") == V("complete", "18005551212", 0.0)


def test_single_element_beats_repeat():
    plan = DialPlan("(<:r>0x.|<:s>0xx)")
    assert plan.match("012") == V("complete", "s012", 3.0)


def test_equal_cost_earlier_sequence_wins():
    plan = DialPlan("(<:a>1xx|<:b>1xx)")
    assert plan.match("123") == V("complete", "a123", 0.0)


def test_equal_cost_bar_wins():
    assert DialPlan("(1xx|1xx!)").match("123") == V("barred")


# -- syntax errors --------------------------------------------------------------------------

@pytest.mark.parametrize("text, pos, words", [
    ("(xx", 0, "unbalanced '('"),
    ("(0|00", 0, "unbalanced '('"),
    ("xx)", 2, "unbalanced ')'"),
    ("(1[2-9", 2, "unbalanced '['"),
    ("(1xx])", 4, "unbalanced ']'"),
    ("([9-2]x)", 2, "start after end"),
    ("([2-A]x)", 2, "bad range"),
    ("([2-]x)", 3, "needs an end"),
    ("([-2]x)", 2, "needs a start"),
    ("([]x)", 1, "empty set"),
    ("([2-9x]1)", 5, "in a set"),
    ("(<9:x)", 1, "unbalanced '<'"),
    ("(<9>x)", 1, "needs '<dialled:sent>'"),
    ("(<9:1>x>)", 7, "unbalanced '>'"),
    ("(x|(1|2))", 3, "nested"),
    ("(.x)", 1, "'.' must follow"),
    ("(x..)", 3, "'.' must follow"),
    ("(<9:>.)", 5, "'.' must follow"),
    ("(x||y)", 3, "empty sequence"),
    ("()", 1, "empty sequence"),
    ("", 0, "empty sequence"),
    ("(9P5xxx)", 2, "pause"),
    ("(P1P2<:1>)", 3, "one pause"),
    ("(xxxq)", 4, "unexpected character 'q'"),
    ("(xx) x", 5, "after the closing"),
    ("L:8(xx)", 3, "must end with ','"),
    ("L:8,L:9,(xx)", 4, "twice"),
])
def test_syntax_errors_name_the_position(text, pos, words):
    with pytest.raises(ValueError) as ei:
        DialPlan(text)
    e = ei.value
    assert isinstance(e, DialPlanError)
    assert e.pos == pos, str(e)
    assert ("position %d" % pos) in str(e)
    assert words in str(e)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        DialPlan(None)
    with pytest.raises(ValueError):
        DialPlan("(x)", long_s=-1)
    with pytest.raises(ValueError):
        DialPlan("(x)", short_s="3")


def test_reprs():
    assert repr(V("complete", "911", 3)) == "Verdict('complete', '911', 3.0)"
    assert repr(DialPlan("(x)")) == "DialPlan('(x)')"
    assert DialPlan(DEFAULT_PLAN).match("911") != V("complete", "911", 0.0)


def test_spa_documented_plans_parse():
    for text in [
        "( *xx | [3469]11 | 0 | 00 | <:1408>[2-9]xxxxxx | 1[2-9]xx[2-9]xxxxxx | 011x. )",
        "( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )",
        "L:15, (9,8<:1408>[2-9]xxxxxx | 9,8,1[2-9]xxxxxxxxx | 9,8,011xx. | 9,8,xx.|[1-8]xx)",
        "S:6,(9,8<:1408>[2-9]xxxxxx | 9,8,1[2-9]xxxxxxxxxS0 | 9,8,011xx. | 9,8,xx.|[1-8]xx)",
        "( P5 <:1000> | xxxx )",
        "(S0<:999>)",
    ]:
        DialPlan(text)
    plan = DialPlan("( 1 947 xxxxxxx ! | 1 xxx xxxxxxx )")
    assert plan.match("19475551212") == V("barred")
    assert plan.match("12125551212") == V("complete", "12125551212", 0.0)


# -- fuzzing --------------------------------------------------------------------------------

PLANS = [DialPlan(t) for t in (
    DEFAULT_PLAN,
    "(<9:>1xxxxxxxxxx|<:1408>[2-9]xxxxxx|!1900xxxxxxx|011L20x.)",
    "( P5 <:1000> | xxxx | *#x.S0 )",
    "(S0<:18005551212>)",
    "(xx.!|911|<1:+1>[2-9]xx[2-9]xxxxxx|[*#A-D]x.#)",
)]

keys = st.text(alphabet=KEYS, max_size=24)


def check(v, final=False):
    assert isinstance(v, Verdict)
    assert v.state in STATES
    assert (v.number is not None) == (v.state == "complete")
    assert v.timeout >= 0
    if final or v.state in ("invalid", "barred"):
        assert v.timeout == 0
    if final:
        assert v.state != "incomplete"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PLANS), keys)
def test_any_key_string_never_raises(plan, digits):
    check(plan.match(digits))
    check(on_timeout(plan, digits), final=True)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PLANS), st.text(max_size=12))
def test_any_text_as_keys_never_raises(plan, digits):
    check(plan.match(digits))
    check(on_timeout(plan, digits), final=True)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([PLANS[0], PLANS[1], PLANS[3]]),
       st.text(alphabet="0123456789*", max_size=16))
def test_send_is_a_timeout_now(plan, digits):
    # plans where '#' is never a key and without pauses: "keys then #" == "keys, timer fired"
    assert plan.match(digits + "#") == on_timeout(plan, digits)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789*#ABCDxX[]-.<>:|()!SLP ,+@a", max_size=30), keys)
def test_any_plan_text_parses_or_raises_value_error(text, digits):
    try:
        plan = DialPlan(text)
    except DialPlanError as e:
        assert 0 <= e.pos <= len(text)
        return
    check(plan.match(digits))
    check(on_timeout(plan, digits), final=True)
