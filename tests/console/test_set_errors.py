"""Every kind of `set` error gets one clean line naming the key, the value and what is allowed,
and nothing changes: unknown keys, wrong types, out of range, keys the console cannot set, lines
that do not exist, missing values, quotes. Then what does work with quotes and types."""

import pytest

from tipring.firmware import config
from tests.console.fakeapp import FakeApp
from tipring.firmware.console.shell import PROMPT, Shell


def session():
    app = FakeApp()
    sh = Shell(app, False, False)
    sh.start()
    return app, sh


def cmd(sh, line: str) -> str:
    out = sh.feed(line.encode() + b"\r").decode("utf-8")
    return out[:-len(PROMPT)] if out.endswith(PROMPT) else out


# (command, the words the one line must hold)
ERRORS = [
    # unknown keys
    ("set sip.colour blue", ["sip.colour", "unknown key", "allowed: sip.bind, sip.transport"]),
    ("set colour blue", ["colour", "unknown key", "keys look like board.country"]),
    ("set line.1.colour blue", ["line.1.colour", "unknown key", "line.N.{port, user, "]),
    ("set line.one.user 1001", ["line.one.user", "unknown key", "keys look like"]),
    ("set line.1 x", ["line.1", "unknown key"]),
    ("set sip.bind.port 5", ["sip.bind.port", "unknown key"]),
    ("set " + "k" * 900 + " 1", ["unknown key", "..."]),
    # a line that does not exist
    ("set line.2.user 1002", ["line.2.user", "no line with port 2", "lines: 1"]),
    ("set line.99999999999999999999.user 1", ["no line with port", "lines: 1"]),
    # wrong type
    ("set line.1.expires soon", ["line.1.expires", '"soon"', "allowed: an integer from 10 to 86400"]),
    ("set line.1.expires 3.5", ["line.1.expires", "3.5", "an integer from 10 to 86400"]),
    ("set sip.trace yes", ["sip.trace", '"yes"', "allowed: true or false"]),
    ("set sip.trace 1", ["sip.trace", "1 is not allowed", "allowed: true or false"]),
    ("set line.1.register TRUE", ["line.1.register", '"TRUE"', "true or false"]),
    # out of range / not a choice
    ("set line.1.expires 5", ["line.1.expires", "5 is not allowed", "an integer from 10 to 86400"]),
    ("set line.1.expires -5", ["line.1.expires", "-5 is not allowed", "from 10 to 86400"]),
    ("set line.1.expires 99999999999999999999999", ["line.1.expires", "99999999999999999999999", "86400"]),
    ("set sip.t1_ms 5", ["sip.t1_ms", "5 is not allowed", "an integer from 100 to 10000"]),
    ("set sip.transport carrier-pigeon", ["sip.transport", '"carrier-pigeon"', "allowed: udp, tcp"]),
    ("set board.country atlantis", ["board.country", '"atlantis"', "allowed: us, uk"]),
    ("set board.flash_min_ms 950", ["board.flash_min_ms", "950", "less than board.flash_max_ms"]),
    ("set line.1.dnd_response 404", ["line.1.dnd_response", "404", "allowed: 486, 603"]),
    ("set sip.bind nowhere", ["sip.bind", '"nowhere"', "HOST:PORT"]),
    ("set line.1.dial_plan (((", ["line.1.dial_plan", '"((("', "Cisco SPA grammar"]),
    ("set line.1.forward_all call-me", ["line.1.forward_all", '"call-me"', "dial keys"]),
    ("set sip.user_agent " + "x" * 300, ["sip.user_agent", "...", "at most 256 characters"]),
    ("set line.1.expires 600 seconds", ["line.1.expires", '"600 seconds"', "an integer"]),
    # not settable from the console
    ("set line.1.port 7", ["line.1.port", "cannot be changed from the console", "edit the config file"]),
    ("set line.1.port 1", ["line.1.port", "cannot be changed from the console"]),
    ("set console.password_hash x", ["console.password_hash", "set with passwd"]),
    # missing value
    ("set", ["set needs a key and a value", "usage: set KEY VALUE"]),
    ("set sip.bind", ["sip.bind needs a value", "allowed: HOST:PORT", "usage: set KEY VALUE"]),
    ("set line.1.expires", ["line.1.expires needs a value", "an integer from 10 to 86400"]),
    ("set line.1.port", ["line.1.port", "cannot be changed from the console"]),
    ("set line.3.user", ["line.3.user", "no line with port 3"]),
    ("set frob", ["frob", "unknown key"]),
    # quotes
    ('set sip.user_agent "unterminated', ["sip.user_agent", '"unterminated', "unmatched quote",
                                          "non-empty string"]),
    ("set sip.user_agent 'mixed\"", ["sip.user_agent", "unmatched quote"]),
    ('set line.1.user "', ["line.1.user", "unmatched quote"]),
    ('set line.1.user ""', ["line.1.user", '"" is not allowed', "non-empty string"]),
    ("set line.1.user ''", ["line.1.user", '"" is not allowed', "non-empty string"]),
    ('set line.1.expires "soon"', ["line.1.expires", '"soon"', "an integer"]),
    ('set line.1.password "abc', ["line.1.password", "**** has an unmatched quote"]),
    ("set line.1.password " + "p" * 200, ["line.1.password", "**** is not allowed", "at most 128"]),
]


@pytest.mark.parametrize("line, words", ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_each_set_error_is_one_clean_line_and_changes_nothing(line, words):
    app, sh = session()
    before = app.config.to_toml_dict()
    out = cmd(sh, line)
    assert out.count("\r\n") == 1 and out.endswith("\r\n"), out
    assert out.startswith("set"), out
    for w in words:
        assert w in out, (w, out)
    assert "Traceback" not in out and "Error" not in out and "\\x" not in out
    assert "secret1001" not in out and "p" * 129 not in out
    assert len(out) < 600
    assert app.config.to_toml_dict() == before
    assert not [a for a in app.log if a[0] == "apply_config"]
    assert not [e for e in app.events.recent if e.get("event") == "config"]


@pytest.mark.parametrize("line, key, value", [
    ('set line.1.display_name "Front Desk"', "line.1.display_name", "Front Desk"),
    ("set line.1.display_name 'Front Desk'", "line.1.display_name", "Front Desk"),
    ("set line.1.display_name O'Brien", "line.1.display_name", "O'Brien"),
    ("set line.1.user 1002", "line.1.user", "1002"),                  # digits, but the key wants text
    ("set line.1.expires 600", "line.1.expires", 600),
    ('set line.1.expires "600"', "line.1.expires", 600),              # quoted digits for an integer key
    ("set sip.trace true", "sip.trace", True),
    ('set line.1.password ""', "line.1.password", ""),                 # an empty password is allowed
    ('set line.1.forward_all "0123"', "line.1.forward_all", "0123"),
    ("set line.1.forward_all 0123", "line.1.forward_all", "0123"),
    ("set sip.user_agent true", "sip.user_agent", "true"),            # a boolean word, but the key wants text
])
def test_quotes_and_types_that_work(line, key, value):
    app, sh = session()
    out = cmd(sh, line)
    assert "(not saved: save keeps it)" in out, out
    assert app.config.get(key) == value


def test_a_key_error_raised_by_the_facade_prints_without_repr_quotes():
    app, sh = session()

    def broken(new_cfg):
        raise KeyError("line 1: the board has no such port")
    app.apply_config = broken
    out = cmd(sh, "set line.1.expires 600")
    assert out == "error: set failed: line 1: the board has no such port\r\n"


def test_set_value_reports_the_same_messages_to_other_callers():
    cfg = config.builtin_default()
    with pytest.raises(config.ConfigError) as e:
        config.set_value(cfg, "line.1.port", "7")
    assert e.value.problems == ["line.1.port: " + config.FIXED_KEYS[("line", "port")]]
    with pytest.raises(KeyError) as k:
        config.set_value(cfg, "line.4.user", "x")
    assert k.value.args[0] == "line.4.user: no line with port 4; lines: 1"
    assert config.allowed("sip.transport", cfg) == "udp, tcp, tls"
