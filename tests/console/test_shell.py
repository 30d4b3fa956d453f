"""The shell over a stand-in app (real Config, real EventLog): commands, errors, secrets,
login, trace, confirmations; inline (no loop) except where timers matter."""

import pytest

from tipring.firmware import config
from tipring.firmware.config_store import hash_password, save_config
from tipring.firmware.console.shell import PROMPT, Shell
from tipring.firmware.loop.clock import VirtualClock
from tipring.firmware.loop.loop import EventLoop
from tests.console.fakeapp import FakeApp


def session(app=None, **kw):
    app = app or FakeApp()
    sh = Shell(app, kw.pop("interactive", False), kw.pop("need_login", False), **kw)
    sh.start()
    return app, sh


def cmd(sh, line: str) -> str:
    """Run one line; return its output without the trailing prompt."""
    out = sh.feed(line.encode() + b"\r").decode("utf-8")
    assert "\n" not in out.replace("\r\n", "")    # every line ends in CRLF
    return out[:-len(PROMPT)] if out.endswith(PROMPT) else out


def test_banner_and_prompt():
    app = FakeApp()
    out = Shell(app, True, False).start()
    assert out.startswith(b"tipring 0.1.0-test console") and out.endswith(b"tipring> ")


def test_help_lists_every_command_and_explains_one():
    _, sh = session()
    out = cmd(sh, "help")
    for word in ("show status", "show config", "show calls", "show log", "show ladder", "set KEY VALUE",
                 "save", "revert", "trace on|off", "hangup", "ring LINE", "passwd", "reboot",
                 "factory-reset"):
        assert word in out
    assert cmd(sh, "help set").startswith("set KEY VALUE")
    assert "unknown command 'frob'" in cmd(sh, "help frob")


def test_unknown_command_gets_one_line_naming_the_commands():
    app, sh = session()
    out = cmd(sh, "frobnicate now")
    assert out.count("\r\n") == 1 and "unknown command 'frobnicate'" in out and "show, set" in out
    out = cmd(sh, "show frob")
    assert out.count("\r\n") == 1 and "allowed: status, config, calls, log, ladder" in out


def test_show_config_masks_secrets():
    app, sh = session()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 1000))
    out = cmd(sh, "show config")
    assert 'line.1.password = "****"' in out and 'console.password_hash = "****"' in out
    assert "secret1001" not in out and "pbkdf2" not in out
    assert 'line.1.user = "1001"' in out and "sip.t1_ms = 500" in out


def test_set_validates_applies_and_reports_notes():
    app, sh = session()
    out = cmd(sh, "set line.1.expires 600")
    assert "line.1.expires = 600" in out and "line 1: re-registering" in out
    assert app.config.get("line.1.expires") == 600
    out = cmd(sh, "set sip.bind 127.0.0.1:5099")
    assert "sip.bind: takes effect after reboot" in out
    assert "is already" in cmd(sh, "set sip.bind 127.0.0.1:5099")


@pytest.mark.parametrize("line, expect", [
    ("set sip.transport carrier-pigeon", "allowed: udp, tcp"),
    ("set line.1.expires 5", "an integer from 10 to 86400"),
    ("set line.1.expires soon", "an integer from 10 to 86400"),
    ("set sip.trace maybe", "true or false"),
    ("set board.country atlantis", "allowed: us, uk"),
    ("set sip.bindd 1.2.3.4:5", "unknown key; allowed: sip.bind"),
    ("set line.7.user 1007", "no line with port 7; lines: 1"),
    ("set nonsense 1", "keys look like"),
    ("set sip.bind", "usage: set KEY VALUE"),
    ("set console.password_hash x", "set with passwd"),
])
def test_bad_sets_change_nothing_and_say_what_is_allowed(line, expect):
    app, sh = session()
    before = app.config.to_toml_dict()
    out = cmd(sh, line)
    assert expect in out and out.count("\r\n") == 1
    assert app.config.to_toml_dict() == before and not app.log


def test_set_a_password_never_echoes_it_back_or_logs_it():
    app, sh = session()
    out = cmd(sh, "set line.1.password hunter22")
    assert "hunter22" not in out and "****" in out
    assert app.config.get("line.1.password") == "hunter22"
    assert "hunter22" not in repr(list(app.events.recent))
    assert "hunter22" not in sh.editor.history.__repr__()


def test_set_value_with_spaces_and_quotes():
    app, sh = session()
    cmd(sh, 'set line.1.display_name "Front Desk"')
    assert app.config.get("line.1.display_name") == "Front Desk"


def test_save_and_revert(tmp_path):
    path = str(tmp_path / "tipring.toml")
    app = FakeApp(config_path=path)
    save_config(app.config, path)
    _, sh = session(app)
    cmd(sh, "set line.1.expires 600")
    assert "unsaved changes" in cmd(sh, "show config")
    out = cmd(sh, "revert")
    assert "reverted to" in out and app.config.get("line.1.expires") == 3600
    cmd(sh, "set line.1.expires 700")
    assert "saved to %s" % path in cmd(sh, "save")
    assert config.load(path).get("line.1.expires") == 700
    assert config.load(path + ".bak").get("line.1.expires") == 3600
    assert "nothing to revert" in cmd(sh, "revert")
    assert "unsaved" not in cmd(sh, "show config")


def test_save_without_a_config_file_refuses_clearly():
    _, sh = session()
    assert "no config file" in cmd(sh, "save")
    assert "no saved config" in cmd(sh, "revert")


def test_save_failure_leaves_the_file_alone(tmp_path):
    _, sh = session(FakeApp(config_path=str(tmp_path / "missing-dir" / "t.toml")))
    assert "save failed" in cmd(sh, "save")


def test_show_status_calls_and_log():
    app, sh = session()
    out = cmd(sh, "show status")
    assert "tipring 0.1.0-test   up 01:02:03" in out
    assert "line 1   1001@127.0.0.1:5060  registered (expires in 3500 s)" in out
    assert "sip      127.0.0.1:5070" in out and "calls    none" in out
    assert cmd(sh, "show calls") == "no calls\r\n"
    app.call_list = [{"line": 1, "call_id": "c1", "direction": "out", "state": "connected",
                      "peer": "sip:1002@127.0.0.1", "duration_s": 65}]
    assert "connected" in cmd(sh, "show calls") and "00:01:05" in cmd(sh, "show calls")
    app.events.emit("registered", line=1, registrar="127.0.0.1:5060", expires=3600)
    app.events.emit("call", line=1, call_id="c1", state="ringing")
    out = cmd(sh, "show log 1")
    assert "call" in out and "ringing" in out and "registered" not in out
    assert "N must be a number" in cmd(sh, "show log lots")


def test_show_ladder_draws_the_last_call():
    _, sh = session()
    out = cmd(sh, "show ladder")
    assert "call-id call-91c2" in out
    assert "127.0.0.1:5070" in out and "127.0.0.1:5060" in out and "(this ATA)" in out
    order = ["INVITE sip:1002", "407 Proxy Authentication Required", "ACK", "INVITE sip:1002",
             "100 Trying", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK"]
    pos = 0
    for label in order:
        pos = out.index(label, pos) + 1
    assert "|<---" in out and "--->|" in out
    assert "other exchanges: reg-7f3a (REGISTER, 4)" in out
    reg = cmd(sh, "show ladder reg")
    assert reg.count("REGISTER sip:") == 2 and "401 Unauthorized" in reg and "INVITE sip" not in reg
    assert "no call 'zzz'" in cmd(sh, "show ladder zzz")


def test_hangup_and_ring_check_the_line():
    app, sh = session()
    assert "ringing (test)" in cmd(sh, "ring 1")
    assert "no line '3'; lines: 1" in cmd(sh, "ring 3")
    assert "usage: ring LINE" in cmd(sh, "ring")
    assert "no call" in cmd(sh, "hangup")
    assert app.log == [("ring", 1), ("hangup", None)]


def test_trace_prints_sip_events_asynchronously_and_masks_secrets():
    written = []
    app, sh = session(write=written.append)
    assert cmd(sh, "trace on") == "trace on\r\n" and app.trace is True
    app.events.emit("sip", dir="out", summary="INVITE sip:1002@127.0.0.1 SIP/2.0", peer="127.0.0.1:5060",
                    authorization="Digest response=abc")
    app.events.emit("registered", line=1)   # not a SIP message: not traced
    text = b"".join(written).decode()
    assert "SIP -> 127.0.0.1:5060  INVITE sip:1002@127.0.0.1" in text and "abc" not in text
    assert text.count("\r\n") == 1
    cmd(sh, "trace off")
    assert app.trace is False
    app.events.emit("sip", dir="in", summary="SIP/2.0 200 OK", peer="127.0.0.1:5060")
    assert b"".join(written).decode() == text
    assert "usage: trace on|off" in cmd(sh, "trace maybe")


def test_trace_stays_on_while_another_session_traces():
    app = FakeApp()
    _, a = session(app)
    _, b = session(app)
    cmd(a, "trace on")
    cmd(b, "trace on")
    cmd(a, "trace off")
    assert app.trace is True
    b.close()
    assert app.trace is False


def test_trace_redraws_the_line_being_typed():
    written = []
    app, sh = session(interactive=True, write=written.append)
    cmd(sh, "trace on")
    sh.feed(b"show st")
    app.events.emit("sip", dir="in", summary="SIP/2.0 180 Ringing", peer="127.0.0.1:5060")
    assert written[-1].endswith(b"tipring> show st\x1b[K")


def test_factory_reset_asks_first():
    app, sh = session()
    assert "type yes" in sh.feed(b"factory-reset\r").decode()
    assert "cancelled" in cmd(sh, "no") and not app.log
    sh.feed(b"factory-reset\r")
    assert "rebooting" in cmd(sh, "yes") and app.log == [("factory_reset", None)]


def test_reboot_asks_only_when_there_are_unsaved_changes(tmp_path):
    path = str(tmp_path / "t.toml")
    app = FakeApp(config_path=path)
    save_config(app.config, path)
    _, sh = session(app)
    assert "rebooting" in cmd(sh, "reboot") and app.log == [("reboot", None)]
    cmd(sh, "set line.1.expires 600")
    assert "unsaved changes will be lost" in sh.feed(b"reboot\r").decode()
    assert "cancelled" in cmd(sh, "no")


def test_passwd_sets_a_hash_and_login_then_needs_it():
    app, sh = session()
    assert "New console password" in sh.feed(b"passwd\r").decode()
    assert "Again" in sh.feed(b"s3cret-pw\r").decode()
    out = cmd(sh, "s3cret-pw")
    assert "console password set" in out
    stored = app.config.console["password_hash"]
    assert stored.startswith("pbkdf2-sha256$") and "s3cret" not in stored
    sh.feed(b"passwd\r"); sh.feed(b"abc\r")
    assert app.config.console["password_hash"] == stored   # too short: refused, unchanged
    sh.feed(b"passwd\r"); sh.feed(b"one-thing\r")
    assert "differ" in cmd(sh, "other-thing") and app.config.console["password_hash"] == stored

    _, sh2 = session(app, need_login=True)
    assert "wrong password" in cmd(sh2, "guess")
    assert "logged in" in cmd(sh2, "s3cret-pw")
    assert "line.1.user" in cmd(sh2, "show config")


def test_passwd_with_empty_input_removes_the_password():
    app, sh = session()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 1000))
    sh.feed(b"passwd\r"); sh.feed(b"\r")
    assert "console password removed" in cmd(sh, "")
    assert app.config.console.get("password_hash") is None


def test_nothing_runs_before_login():
    app = FakeApp()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 1000))
    sh = Shell(app, True, True)
    assert sh.start().endswith(b"Password: ")
    out = sh.feed(b"reboot\r")
    assert b"wrong password" in out and not app.log
    assert b"reboot" not in out   # the password is not echoed


def test_three_wrong_passwords_delay_the_next_try():
    clock = VirtualClock(100.0)
    loop = EventLoop(clock)
    app = FakeApp()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 1000))
    written = []
    sh = Shell(app, False, True, loop=loop, write=written.append)
    sh.start()
    for guess in (b"a\r", b"b\r", b"c\r"):
        sh.feed(guess)
        loop.run(until=lambda: sh.state != "busy")
    text = b"".join(written).decode()
    assert text.count("wrong password") == 3 and "wait 5 s" in text
    assert sh.state == "locked"
    sh.feed(b"abcdef\r")                 # ignored while locked, even the right password
    assert sh.state == "locked"
    loop.run(until=lambda: sh.state != "locked")
    assert clock.now() >= 105.0 and written[-1] == b"Password: "
    sh.feed(b"abcdef\r")
    loop.run(until=lambda: sh.state != "busy")
    assert sh.state == "ready" and b"logged in" in b"".join(written)
    assert any(e["event"] == "error" and "wrong console passwords" in e["message"] for e in app.events.recent)
    loop.close()


def test_input_typed_while_a_hash_is_computed_is_kept():
    loop = EventLoop()
    app = FakeApp()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 20000))
    written = []
    sh = Shell(app, False, True, loop=loop, write=written.append)
    sh.start()
    sh.feed(b"abcdef\rshow calls\r")
    loop.run(until=lambda: b"no calls" in b"".join(written))
    loop.close()


def test_bad_bytes_get_a_clear_line():
    app, sh = session()
    assert "not UTF-8" in sh.feed(b"show \xc3\x28\r").decode()
    out = sh.feed(b"x" * 3000 + b"\r").decode()
    assert "line longer than 1024 characters" in out and out.endswith(PROMPT)


def test_exit_and_ctrl_d_close_the_session():
    _, sh = session()
    assert "bye" in cmd(sh, "exit") and sh.closed
    _, sh = session()
    sh.feed(b"\x04")
    assert sh.closed


def test_ctrl_c_cancels_a_question():
    app, sh = session(interactive=True)
    sh.feed(b"factory-reset\r")
    out = sh.feed(b"\x03")
    assert b"cancelled" in out and out.endswith(b"tipring> ")
    sh.feed(b"yes\r")
    assert not app.log


def test_tab_completion_of_commands_keys_and_values():
    app, sh = session()
    assert sh.complete("sh") == (0, ["show"])
    assert sh.complete("show l") == (5, ["log", "ladder"])
    start, keys = sh.complete("set line.1.ex")
    assert (start, keys) == (4, ["line.1.expires"])
    assert "console.password_hash" not in sh.complete("set console.")[1]
    assert sh.complete("set sip.transport ") == (18, ["udp", "tcp", "tls"])
    assert sh.complete("set sip.trace t") == (14, ["true"])
    assert sh.complete("ring ") == (5, ["1"])
    _, sh = session(interactive=True)
    out = sh.feed(b"set line.1.expi\t6")
    assert out.endswith(b"res 6")


def test_a_facade_that_raises_is_reported_not_fatal():
    app, sh = session()
    def boom(line):
        raise RuntimeError("ringer not wired")
    app.ring = boom
    out = cmd(sh, "ring 1")
    assert "ring failed: ringer not wired" in out and not sh.closed
    assert cmd(sh, "show calls") == "no calls\r\n"


def test_fallback_warning_is_loud_in_banner_and_status():
    app = FakeApp()
    app.events.emit("config_fallback", path="/etc/tipring/tipring.toml", backup="/etc/tipring/tipring.toml.bak",
                    problems=["sip.transport: 'x' is not allowed"])
    out = Shell(app, True, False).start().decode()
    assert "!!! CONFIG FALLBACK" in out and "sip.transport" in out
    _, sh = session(app)
    assert "!!! CONFIG FALLBACK" in cmd(sh, "show status")


def test_login_guard_doubles_the_delay_and_resets_on_success():
    from tipring.firmware.console.shell import LoginGuard
    g = LoginGuard(tries=3, first_delay=5, max_delay=12)
    assert [g.failed(0.0) for _ in range(3)] == [0, 0, 5]
    assert g.wait(1.0) == 4.0 and g.wait(5.0) == 0
    assert [g.failed(10.0) for _ in range(3)] == [0, 0, 10]
    assert [g.failed(30.0) for _ in range(3)] == [0, 0, 12]      # capped
    g.succeeded()
    assert g.wait(30.0) == 0 and g.failed(30.0) == 0


def test_a_new_session_does_not_reset_the_wrong_password_count():
    from tipring.firmware.console.shell import LoginGuard
    app = FakeApp()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("abcdef", 1000))
    guard = LoginGuard()
    for guess in (b"a\r", b"b\r"):
        sh = Shell(app, False, True, guard=guard)
        sh.start()
        assert b"wrong password" in sh.feed(guess)       # then hangs up and calls again
    sh = Shell(app, False, True, guard=guard)
    sh.start()
    assert b"wait 5 s" in sh.feed(b"c\r")
    sh2 = Shell(app, False, True, guard=guard)
    sh2.start()
    out = sh2.feed(b"abcdef\r")                          # even the right one waits
    assert b"too many wrong passwords: wait" in out and sh2.state == "locked"


def test_unique_abbreviations_work_router_style():
    app, sh = session()
    assert "tipring 0.1.0-test   up" in cmd(sh, "sh st")
    assert "no calls" in cmd(sh, "sho cal")
    assert "line.1.expires = 600" in cmd(sh, "se line.1.expires 600")
    out = cmd(sh, "s")
    assert out.count("\r\n") == 1 and "ambiguous 's': show, set, save" in out
    assert "ambiguous 'c'" in cmd(sh, "show c")
