"""A console session on a serial port, played by a human on the other end of a pty.

The ConsoleServer opens the pty's slave by path with pyserial, exactly as it opens /dev/ttyAMA0
on a Pi; the test holds the master and types like an installer at a terminal (CR line ends, DEL
for backspace, VT100 arrows, tab)."""

import os
import tty

import pytest
import serial

from tipring.firmware import config
from tipring.firmware.config_store import save_config
from tipring.firmware.console.server import ConsoleServer
from tipring.firmware.loop.loop import EventLoop
from tests.console.fakeapp import FakeApp
from tests.console.helpers import Human, run_until_exit


@pytest.fixture
def rig(tmp_path):
    master, slave = os.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    os.close(slave)                     # the console opens its own descriptor by path
    loop = EventLoop()
    cfg_path = str(tmp_path / "tipring.toml")
    app = FakeApp(config_path=cfg_path)
    save_config(app.config, cfg_path)
    server = ConsoleServer(loop, app, path)
    human = Human(loop, master)
    human.expect(b"tipring> ")
    yield human, app, server, loop, cfg_path
    server.close()
    human.close()
    os.close(master)
    loop.close()


def test_serial_session_set_save_revert_show(rig):
    human, app, server, loop, cfg_path = rig
    assert server.address.startswith("/dev/pts/")
    assert isinstance(server._serial, serial.Serial)

    out = human.command("show config")
    assert 'line.1.password = "****"' in out and "secret1001" not in out

    out = human.command("set line.1.expires 600")
    assert "line.1.expires = 600" in out and "line 1: re-registering" in out
    out = human.command("save")
    assert "saved to %s" % cfg_path in out
    assert config.load(cfg_path).get("line.1.expires") == 600

    human.command("set line.1.expires 900")
    out = human.command("revert")
    assert "reverted to" in out and app.config.get("line.1.expires") == 600

    out = human.command("set sip.bind 127.0.0.1:5099")
    assert "takes effect after reboot" in out
    out = human.command("show status")
    assert "unsaved changes" in out and "1001@127.0.0.1:5060" in out


def test_serial_session_errors_change_nothing(rig):
    human, app, server, loop, cfg_path = rig
    before = app.config.to_toml_dict()
    out = human.command("frobnicate")
    assert "unknown command 'frobnicate'" in out and "show, set, save" in out
    out = human.command("set sip.transport carrier-pigeon")
    assert "allowed: udp, tcp" in out
    out = human.command("set line.1.expires 5")
    assert "an integer from 10 to 86400" in out
    out = human.command("set line.9.user 1009")
    assert "no line with port 9" in out
    assert app.config.to_toml_dict() == before


def test_serial_line_editing(rig):
    human, app, server, loop, cfg_path = rig
    out = human.command("shoq\x7fw calls")             # backspace
    assert "no calls" in out
    out = human.command("garbage\x15show calls")       # ctrl-U
    assert "no calls" in out and out.count("no calls") == 1
    human.type(b"\x1b[A")                              # history: up
    human.expect(b"show calls")
    assert "no calls" in human.command("")
    human.type(b"sh\t")                                # tab: command
    human.expect(b"show ")
    human.type(b"cal\t")                               # tab: subcommand
    human.expect(b"calls ")
    assert "no calls" in human.command("")
    human.type(b"set line.1.exp\t")                    # tab: config key
    human.expect(b"line.1.expires ")
    assert "line.1.expires = 1200" in human.command("1200")


def test_serial_bad_bytes_and_huge_lines_get_a_clear_line(rig):
    human, app, server, loop, cfg_path = rig
    out = human.command("show \u00ff")                 # UTF-8 text, just not a command
    assert "show: unknown '\u00ff'" in out
    human.type(b"show \xc3\x28\r")
    assert b"not UTF-8" in human.expect(b"tipring> ")
    human.type(b"x" * 5000 + b"\r")
    assert b"line longer than 1024 characters" in human.expect(b"tipring> ")
    assert "no calls" in human.command("show calls")   # still alive


def test_exit_starts_a_fresh_session_on_the_same_port(rig):
    human, app, server, loop, cfg_path = rig
    human.type(b"exit\r")
    human.expect(b"bye")
    human.expect(b"console; type help for commands\r\ntipring> ")
    assert "no calls" in human.command("show calls")


def test_cable_pulled_is_cleaned_up_and_retried(tmp_path):
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    loop = EventLoop()
    app = FakeApp()
    server = ConsoleServer(loop, app, path)
    human = Human(loop, master)
    human.expect(b"tipring> ")
    human.close()
    os.close(master)                                   # the other end goes away
    human.wait_for(lambda: not server.conns)
    assert server._reopen_timer is not None
    assert any(e["event"] == "error" and "reopening" in e["message"] for e in app.events.recent)
    server.close()
    assert server._reopen_timer is None
    loop.close()


def test_pty_mode_announces_its_slave_path():
    loop = EventLoop()
    app = FakeApp()
    server = ConsoleServer(loop, app, "pty")
    try:
        assert server.address.startswith("/dev/pts/")
        assert any(e["event"] == "console" and e.get("address") == server.address for e in app.events.recent)
        port = serial.Serial(server.address, 115200, timeout=0)   # what `tipring console --connect` does
        human = Human(loop, port.fileno())
        human.type(b"\r")
        human.expect(b"tipring> ")
        assert "no calls" in human.command("show calls")
        human.close()
        port.close()
    finally:
        server.close()
        loop.close()


def test_missing_device_is_reported_and_retried():
    loop = EventLoop()
    app = FakeApp()
    server = ConsoleServer(loop, app, "/dev/ttyUSB-does-not-exist")
    assert server.address == "/dev/ttyUSB-does-not-exist" and server._reopen_timer is not None
    assert any("cannot open console device" in e.get("message", "") for e in app.events.recent)
    server.close()
    loop.close()


def test_tipring_console_connects_to_a_device_path():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    loop = EventLoop()
    app = FakeApp()
    server = ConsoleServer(loop, app, "pty")
    proc = subprocess.Popen([sys.executable, "-m", "tipring", "console", "--connect", server.address],
                            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"show calls\n")
        proc.stdin.close()
        rc = run_until_exit(loop, proc)
        out = proc.stdout.read()
        assert rc == 0 and b"no calls" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        server.close()
        loop.close()
