"""tipring/firmware/schema.py: the table walk the config and board files share, and the one hostport
grammar (tipring/firmware/sip/uri.py) under config.parse_hostport."""

import pytest

from tipring.firmware import config
from tipring.firmware.schema import REQUIRED, Bad, Table, Tables, Wording, check_table
from tipring.firmware.sip.uri import SipParseError, parse_hostport


def _port(v):
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 8:
        raise Bad("an integer 1..8")
    return v


PIN = {"gpio": (_port, REQUIRED), "active": (lambda v: v, "high")}
LINE = {"port": (_port, REQUIRED), "pin": (Table(PIN), None), "tags": (lambda v: v, [])}
TOP = {"line": (Tables(LINE, 1, 2), REQUIRED), "name": (str, "x")}


def test_defaults_filled_and_never_shared():
    a = check_table("", {"line": [{"port": 1}, {"port": 2}]}, TOP, [], Wording())
    assert a == {"line": [{"port": 1, "pin": None, "tags": []}, {"port": 2, "pin": None, "tags": []}],
                 "name": "x"}
    a["line"][0]["tags"].append("changed")
    assert a["line"][1]["tags"] == [] and LINE["tags"][1] == []


def test_every_problem_in_one_pass_in_order():
    problems = []
    out = check_table("", {"colour": 1, "line": [{"port": 9, "pin": {"active": "low"}},
                                                  {"port": 1}, {"port": 2}]}, TOP, problems, Wording())
    assert problems == [
        "colour: unknown key; allowed: line, name",
        "line: 3 entries is not allowed; allowed: 1..2 [[line]] tables",
        "line[0].port: 9 is not allowed; allowed: an integer 1..8",
        "line[0].pin.gpio: missing; it is required",
    ]
    assert "port" not in out["line"][0]        # a refused value is left out (rule 3)


def test_nested_kinds_refuse_the_wrong_shape():
    problems = []
    check_table("", {"line": [{"port": 1, "pin": 3}]}, TOP, problems, Wording())
    assert problems == ["line[0].pin: 3 is not a table; allowed: a table with keys: gpio, active"]
    problems = []
    check_table("", {"line": {"port": 1}}, TOP, problems, Wording())
    assert problems[0].startswith("line: {'port': 1} is not an array of tables; allowed: an array")


def test_sip_hostport_grammar():
    assert parse_hostport("pbx.example.com") == ("pbx.example.com", None)
    assert parse_hostport("[2001:db8::1]:5061") == ("2001:db8::1", 5061)
    for bad in ("[::1", "[zz::1]:5", "[::1]x", "h:99999", "h:\u0663", ":5"):
        with pytest.raises(SipParseError):
            parse_hostport(bad)


@pytest.mark.parametrize("text,default,allow_zero,want", [
    ("127.0.0.1:5060", None, False, ("127.0.0.1", 5060)),
    ("[::1]:5060", None, False, ("::1", 5060)),
    ("pbx.example.com", 5060, False, ("pbx.example.com", 5060)),
    ("127.0.0.1:0", None, True, ("127.0.0.1", 0)),
])
def test_config_hostport_accepts(text, default, allow_zero, want):
    assert config.parse_hostport(text, default, allow_zero) == want


@pytest.mark.parametrize("text,default,allow_zero,why", [
    ("", 5060, False, "empty address"),
    ("a b:1", 5060, False, "spaces in address"),
    ("host: 5060", 5060, False, "spaces in address"),
    ("::1:5060", 5060, False, "IPv6 addresses need [brackets]"),
    ("-pbx:5060", 5060, False, "bad host"),
    ("pbx", None, False, "no port"),
    ("127.0.0.1:0", None, False, "port out of range"),
    ("pbx:\u0663", 5060, False, "bad port"),          # an Arabic-Indic 3: int() would take it
    ("[fe80::1%eth0]:5060", 5060, False, "bad IPv6 reference"),
])
def test_config_hostport_refuses(text, default, allow_zero, why):
    with pytest.raises(ValueError) as e:
        config.parse_hostport(text, default, allow_zero)
    assert why in str(e.value)
