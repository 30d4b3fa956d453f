"""The TCP console: several clients at once, each its own session; clean-up on disconnect;
login rules by bind address; and `tipring console --connect` relaying a script."""

import os
import socket
import subprocess
import sys

import pytest

from tipring.firmware import config
from tipring.firmware.config_store import hash_password
from tipring.firmware.console import client
from tipring.firmware.console.server import ConsoleServer, is_loopback
from tipring.firmware.loop.loop import EventLoop
from tests.console.fakeapp import FakeApp
from tests.console.helpers import Human, run_until_exit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def loop():
    lp = EventLoop()
    yield lp
    lp.close()


def connect(loop, server) -> Human:
    host, port = server.address[4:].rsplit(":", 1)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    s.setblocking(False)
    h = Human(loop, s.fileno(), sock=s)
    h.socket = s
    return h


def hang_up(h: Human) -> None:
    h.close()
    h.socket.close()


def test_address_reports_the_real_port(loop):
    server = ConsoleServer(loop, FakeApp(), "tcp:127.0.0.1:0")
    host, port = server.address[4:].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    server.close()
    server.close()   # idempotent


def test_two_clients_at_once_each_with_its_own_session(loop):
    app = FakeApp()
    server = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    a, b = connect(loop, server), connect(loop, server)
    a.expect(b"tipring> ")
    b.expect(b"tipring> ")
    a.wait_for(lambda: server.clients == 2)
    a.type(b"set line.1.exp")        # a half-typed line on a ...
    assert "no calls" in b.command("show calls")   # ... does not disturb b
    assert "line.1.expires = 600" in a.command("ires 600")
    assert "line.1.expires = 600" in b.command("show config")   # one running config
    a.type(b"exit\r")
    a.expect(b"bye")
    a.wait_for(lambda: a.eof and server.clients == 1)
    hang_up(a)
    hang_up(b)                        # b just goes away
    b.wait_for(lambda: server.clients == 0)
    states = [e.get("state") for e in app.events.recent if e["event"] == "console"]
    assert states.count("connected") == 2 and states.count("disconnected") == 2
    server.close()


def test_a_line_buffered_client_gets_no_echo(loop):
    server = ConsoleServer(loop, FakeApp(), "tcp:127.0.0.1:0")
    h = connect(loop, server)
    h.expect(b"tipring> ")
    h.type(b"show calls\n")
    out = h.expect(b"tipring> ")
    assert out == b"no calls\r\ntipring> "    # no echo of "show calls" for nc-like clients
    hang_up(h)
    server.close()


def test_trace_over_tcp_and_cleanup_unsubscribes(loop):
    app = FakeApp()
    server = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    h = connect(loop, server)
    h.expect(b"tipring> ")
    assert "trace on" in h.command("trace on")
    app.events.emit("sip", dir="in", summary="SIP/2.0 180 Ringing", peer="127.0.0.1:5060")
    h.expect(b"SIP <- 127.0.0.1:5060  180 Ringing")
    hang_up(h)
    h.wait_for(lambda: server.clients == 0)
    assert app.trace is False and not app.events._listeners
    server.close()


def test_huge_input_and_garbage_do_not_break_the_server(loop):
    server = ConsoleServer(loop, FakeApp(), "tcp:127.0.0.1:0")
    h = connect(loop, server)
    h.expect(b"tipring> ")
    h.type(b"s")                           # interactive
    junk = bytes(range(32, 256)) * 10 + "caf\u00e9".encode("latin-1") + b"\xc3\x28"
    h.type(b"\x15" + junk[:1000] + b"\r")
    h.expect(b"error: input is not UTF-8")
    h.type(junk * 3 + b"\r")
    h.expect(b"error: line longer than 1024 characters; discarded\r\ntipring> ")
    assert "no calls" in h.command("show calls")
    hang_up(h)
    server.close()


def test_too_many_clients_are_told_so(loop):
    server = ConsoleServer(loop, FakeApp(), "tcp:127.0.0.1:0", max_clients=1)
    a = connect(loop, server)
    a.expect(b"tipring> ")
    b = connect(loop, server)
    b.expect(b"too many sessions")
    b.wait_for(lambda: b.eof)
    hang_up(a)
    hang_up(b)
    server.close()


def test_beyond_loopback_login_is_required(loop):
    app = FakeApp()
    server = ConsoleServer(loop, app, "tcp:0.0.0.0:0")
    h = connect(loop, server)
    h.expect(b"no console password is set")      # refused: no password to log in with
    h.wait_for(lambda: h.eof)
    hang_up(h)
    app.config = config.set_value(app.config, "console.password_hash", hash_password("s3cret-pw", 1000))
    h = connect(loop, server)
    h.expect(b"Password: ")
    h.type(b"s3cret-pw\r")
    h.expect(b"logged in\r\ntipring> ")
    assert "no calls" in h.command("show calls")
    hang_up(h)
    server.close()


def test_loopback_asks_for_a_password_only_once_one_is_set(loop):
    app = FakeApp()
    app.config = config.set_value(app.config, "console.password_hash", hash_password("s3cret-pw", 1000))
    server = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    h = connect(loop, server)
    h.expect(b"Password: ")
    hang_up(h)
    server.close()


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("ata.local")


def test_client_cannot_connect_says_so(capsys):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                    # nothing listens there now
    assert client.attach("tcp:127.0.0.1:%d" % port) == 1
    err = capsys.readouterr().err
    assert "cannot connect to tcp:127.0.0.1:%d" % port in err
    assert client.attach("/dev/ttyUSB-does-not-exist") == 1


def test_tipring_console_connect_relays_a_script(loop):
    app = FakeApp()
    server = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    proc = subprocess.Popen([sys.executable, "-m", "tipring", "console", "--connect", server.address],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"set line.1.expires 600\nshow calls\nexit\n")
    proc.stdin.close()
    rc = run_until_exit(loop, proc)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert rc == 0
    assert "line.1.expires = 600" in out and "no calls" in out and "bye" in out
    assert app.config.get("line.1.expires") == 600
    server.close()


def test_a_port_in_use_is_reported_not_fatal(loop):
    app = FakeApp()
    first = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    second = ConsoleServer(loop, app, first.address)
    assert second.address is None and "unavailable" in second.error
    assert any(e["event"] == "error" and "unavailable" in e["message"] for e in app.events.recent)
    second.close()
    first.close()


def test_tipring_console_from_a_terminal_is_raw_and_ctrl_bracket_quits(loop):
    import tty
    app = FakeApp()
    server = ConsoleServer(loop, app, "tcp:127.0.0.1:0")
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tipring", "console", "--connect", server.address],
                            cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    term = Human(loop, master)
    try:
        term.expect(b"Ctrl-] quits")
        term.expect(b"tipring> ")
        term.wait_for(lambda: not tty.tcgetattr(master)[3] & tty.ECHO)   # the client went raw
        term.type(b"sh\t")                      # keystrokes go one by one: echo and completion
        term.expect(b"show ")
        assert "no calls" in term.command("calls")
        term.type(b"\x1d")                      # Ctrl-]
        term.expect(b"disconnected from")
        assert run_until_exit(loop, proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        term.close()
        os.close(master)
        server.close()
