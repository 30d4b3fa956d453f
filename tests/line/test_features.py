"""tipring/firmware/line/features.py: the feature-code table, its parser and the line's feature state."""
import pytest

from tipring.firmware import config
from tipring.firmware.line.dialplan import DialPlan
from tipring.firmware.line.features import (CONFIG_KEYS, DEFAULT_CODES, FEATURES, FeatureCodes,
                                    LineFeatures, Parse, parse_overrides)

PLAN = DialPlan("(*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.)")
PLAN4 = DialPlan("(*xx|[2-9]xxx|1xxx)")


# -- the table -------------------------------------------------------------------------------

def test_default_table_is_the_spa_one():
    assert DEFAULT_CODES["*72"] == ("forward_all", "number")
    assert DEFAULT_CODES["*73"] == ("forward_all_off", None)
    assert {c: n for c, (n, _k) in DEFAULT_CODES.items()} == {
        "*72": "forward_all", "*73": "forward_all_off", "*90": "forward_busy",
        "*91": "forward_busy_off", "*92": "forward_no_answer", "*93": "forward_no_answer_off",
        "*78": "dnd", "*79": "dnd_off", "*56": "call_waiting", "*57": "call_waiting_off",
        "*70": "cancel_call_waiting_next", "*98": "blind_transfer"}
    for code, (name, kind) in DEFAULT_CODES.items():
        assert FEATURES[name] == kind, code
    assert set(CONFIG_KEYS) == set(FEATURES)
    for key in CONFIG_KEYS.values():
        assert key is None or key in config.SCHEMA["line"]
        assert key is None or key in LineFeatures.PERSISTED


def test_overrides_add_move_and_remove_codes():
    assert parse_overrides("") == {}
    assert parse_overrides(" *87=blind_transfer , *98= ") == {"*87": "blind_transfer", "*98": None}
    codes = FeatureCodes("*87=blind_transfer,*98=")
    assert codes.table["*87"] == ("blind_transfer", "number") and "*98" not in codes.table
    assert codes.code_for("blind_transfer") == "*87"
    for bad in ("*72", "*72=fly", "7a=dnd", "=dnd"):
        with pytest.raises(ValueError):
            parse_overrides(bad)


# -- the parser ------------------------------------------------------------------------------

def test_a_code_without_argument_is_complete_at_once():
    codes = FeatureCodes()
    assert codes.parse("*", PLAN).state == "more"
    assert codes.parse("*7", PLAN) == Parse("more", timeout=10.0)
    assert codes.parse("*78", PLAN) == Parse("complete", "dnd")
    for code, (name, kind) in DEFAULT_CODES.items():
        if kind is None:
            assert codes.parse(code, PLAN) == Parse("complete", name), code


def test_a_code_with_a_number_waits_for_the_dial_plan():
    codes = FeatureCodes()
    p = codes.parse("*72", PLAN)
    assert p.state == "more" and p.feature == "forward_all" and p.timeout == 10.0
    assert codes.parse("*72100", PLAN).state == "more"
    assert codes.parse("*721002", PLAN4) == Parse("complete", "forward_all", "1002")
    assert codes.parse("*721002", PLAN) == Parse("more", "forward_all", "1002", 3.0)
    # "xx." could still grow: the short timer, then complete on timeout
    p = codes.parse("*9255", PLAN)
    assert p.state == "more" and p.timeout == 3.0
    assert codes.on_timeout("*9255", PLAN) == Parse("complete", "forward_no_answer", "55")
    assert codes.parse("*98555#", PLAN) == Parse("complete", "blind_transfer", "555")


def test_a_number_the_plan_refuses_is_invalid():
    codes = FeatureCodes()
    assert codes.parse("*72*", DialPlan("([2-9]xxx)")) == Parse("invalid", "forward_all")
    assert codes.on_timeout("*72", PLAN) == Parse("invalid", "forward_all")
    assert codes.on_timeout("*722", DialPlan("([2-9]xxx)")) == Parse("invalid", "forward_all")


def test_keys_that_are_no_code_of_ours_go_to_the_dial_plan():
    codes = FeatureCodes()
    assert codes.parse("1", PLAN).state == "none"
    assert codes.parse("*6", PLAN).state == "none"
    assert codes.parse("*69", PLAN).state == "none"
    assert codes.parse("*74", PLAN).state == "none"
    assert codes.on_timeout("*7", PLAN).state == "none"      # the plan says what *7 is
    assert codes.parse("*781", PLAN).state == "none"


def test_without_a_plan_a_number_ends_with_hash_or_the_timer():
    codes = FeatureCodes()
    assert codes.parse("*7212", None).state == "more"
    assert codes.parse("*7212#", None) == Parse("complete", "forward_all", "12")
    assert codes.on_timeout("*7212", None) == Parse("complete", "forward_all", "12")


def test_a_code_that_prefixes_a_longer_one_waits_the_short_timer():
    codes = FeatureCodes("*7=dnd")
    assert codes.parse("*7", PLAN) == Parse("more", "dnd", None, 3.0)
    assert codes.on_timeout("*7", PLAN) == Parse("complete", "dnd")
    assert codes.parse("*78", PLAN) == Parse("complete", "dnd")
    assert codes.parse("*73", PLAN) == Parse("complete", "forward_all_off")


# -- the state -------------------------------------------------------------------------------

def test_every_line_feature_sets_and_clears():
    f = LineFeatures()
    assert not f.stutter and f.call_waiting and f.call_waiting_now()
    for on, off, attr in (("forward_all", "forward_all_off", "forward_all"),
                          ("forward_busy", "forward_busy_off", "forward_busy"),
                          ("forward_no_answer", "forward_no_answer_off", "forward_no_answer")):
        assert f.apply(on, "5551234") == "ok" and getattr(f, attr) == "5551234"
        assert f.apply(off) == "ok" and getattr(f, attr) == ""
    assert f.apply("dnd") == "ok" and f.dnd and f.stutter
    assert f.apply("dnd_off") == "ok" and not f.dnd and not f.stutter
    assert f.apply("call_waiting_off") == "ok" and not f.call_waiting_now()
    assert f.apply("call_waiting") == "ok" and f.call_waiting_now()
    assert f.apply("cancel_call_waiting_next") == "ok" and not f.call_waiting_now()
    f.call_ended()
    assert f.call_waiting_now()
    assert f.apply("forward_all", "1002") == "ok" and f.stutter


def test_apply_refuses_what_does_not_apply():
    f = LineFeatures()
    assert f.apply("forward_all") == "err"
    assert f.apply("forward_all", "12;drop") == "err"
    assert f.apply("blind_transfer", "1002") == "err"        # needs a call: the line's job
    assert f.apply("teleport") == "err"
    assert f.forward_all == ""


def test_incoming_decisions():
    f = LineFeatures()
    assert f.on_incoming(False) == ("ring", None)
    assert f.on_incoming(True) == ("wait", None)
    f.apply("call_waiting_off")
    assert f.on_incoming(True) == ("reject", 486)
    f.apply("forward_busy", "2000")
    assert f.on_incoming(True) == ("forward", "2000")
    f.apply("forward_no_answer", "3000")
    assert f.on_incoming(False) == ("ring", 20)
    f.dnd_response = 603
    f.apply("dnd")
    assert f.on_incoming(False) == ("reject", 603)
    f.apply("forward_all", "4000")
    assert f.on_incoming(True) == ("forward", "4000")


def test_persisted_through_the_console_config():
    f = LineFeatures()
    f.apply("forward_all", "5551234")
    f.apply("dnd")
    f.apply("call_waiting_off")
    f.apply("cancel_call_waiting_next")
    cfg = config.builtin_default()
    for key, value in f.to_config().items():
        text = value if isinstance(value, str) else ("true" if value is True else "false"
                                                     if value is False else str(value))
        cfg = config.set_value(cfg, "line.1." + key, text)
    g = LineFeatures.from_config(cfg.line(1))
    assert g.to_config() == f.to_config()
    assert g.forward_all == "5551234" and g.dnd and not g.call_waiting
    assert not g.cw_cancelled_next                            # *70 is not persisted


def test_config_keys_are_validated():
    cfg = config.builtin_default()
    ln = cfg.line(1)
    assert ln["forward_all"] == "" and ln["forward_no_answer_s"] == 20 and ln["dnd"] is False
    assert ln["dnd_response"] == 486 and ln["flash_relay"] == "off" and ln["feature_codes"] == ""
    assert config.set_value(cfg, "line.1.dnd_response", "603").line(1)["dnd_response"] == 603
    assert config.set_value(cfg, "line.1.flash_relay", "rfc4733").line(1)["flash_relay"] == "rfc4733"
    new = config.set_value(cfg, "line.1.feature_codes", "*87=blind_transfer")
    assert new.line(1)["feature_codes"] == "*87=blind_transfer"
    for key, bad in (("dnd_response", "404"), ("flash_relay", "smoke"),
                     ("feature_codes", "*72=fly"), ("forward_all", "sip:x@y"),
                     ("forward_no_answer_s", "2")):
        with pytest.raises(config.ConfigError) as e:
            config.set_value(cfg, "line.1." + key, bad)
        assert "line.1." + key in str(e.value)
