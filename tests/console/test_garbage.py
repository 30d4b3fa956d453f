"""Line noise on the console: seeded garbage (telnet IAC/SB without SE, invalid UTF-8, control
characters, escape sequences cut in half) never freezes or crashes a session and never changes
the config. After any garbage, what a person does at a stuck terminal (ctrl-C a few times, then
Enter) gives a working prompt again: through the shell, and over a real pty with the server."""

import os
import random
import tty

import pytest

from tipring.firmware.config_store import save_config
from tipring.firmware.console.server import ConsoleServer
from tipring.firmware.console.shell import Shell
from tipring.firmware.console.telnet import SB_LIMIT
from tipring.firmware.loop.loop import EventLoop
from tests.console.fakeapp import FakeApp
from tests.console.helpers import Human

# no lowercase letters or digits: garbage must not spell a command ("e" is exit, "f" factory-reset)
NOISE = bytes(b for b in range(256) if not (0x30 <= b <= 0x39 or 0x61 <= b <= 0x7A))
HOT = b"\xff\xfa\xf0\xfb\x1b[O\r\n\xc3\xe2\x80\x7f\x03\x09\x15\x10"    # the bytes with state behind them
RECOVER = b"\x03" * (SB_LIMIT + 4) + b"\r"


def garbage(seed: int, n: int, allow_eof: bool = False) -> bytes:
    rnd = random.Random(seed)
    pool = NOISE if allow_eof else NOISE.replace(b"\x04", b"")
    out = bytearray()
    while len(out) < n:
        if rnd.random() < 0.3:
            out += bytes((rnd.choice(HOT),))
        elif rnd.random() < 0.05:
            out += rnd.choice([b"\xff\xfa", b"\x1b[", b"\x1b[1;", b"\xf0\x9f", b"\xff\xff", b"\xff"])
        else:
            out += bytes((rnd.choice(pool),))
    return bytes(out[:n])


def chunks(data: bytes, rnd: random.Random, sizes=(1, 1, 2, 3, 7, 64, 4096)):
    i = 0
    while i < len(data):
        n = rnd.choice(sizes)
        yield data[i:i + n]
        i += n


@pytest.mark.parametrize("seed", range(40))
def test_garbage_never_freezes_the_shell_or_changes_the_config(seed):
    app = FakeApp()
    sh = Shell(app, True, False)
    sh.start()
    before = app.config.to_toml_dict()
    rnd = random.Random(seed)
    for chunk in chunks(garbage(seed, 20000), rnd):
        sh.feed(chunk)                             # never raises
        assert not sh.closed
    out = sh.feed(RECOVER + b"show calls\r").decode("utf-8", "replace")
    assert "no calls" in out and out.endswith("tipring> ")
    assert app.config.to_toml_dict() == before
    assert not [a for a in app.log if a[0] in ("apply_config", "reboot", "factory_reset")]
    assert sh.editor.telnet._body <= SB_LIMIT and len(sh.editor.text) <= sh.editor.max_line
    assert len(sh.editor.history) <= sh.editor.history_size


def test_the_issue_bytes_ff_fa_without_se_do_not_swallow_later_input():
    app = FakeApp()
    sh = Shell(app, True, False)
    sh.start()
    sh.feed(b"\xff\xfa")                          # IAC SB, and no IAC SE ever
    out = b""
    for _ in range(SB_LIMIT + 1):                 # a person pressing Enter at a frozen console
        out += sh.feed(b"\r")
    out += sh.feed(b"show calls\r")
    assert b"no calls" in out


@pytest.fixture
def pty_console(tmp_path):
    master, slave = os.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    os.close(slave)
    loop = EventLoop()
    cfg_path = str(tmp_path / "tipring.toml")
    app = FakeApp(config_path=cfg_path)
    save_config(app.config, cfg_path)
    server = ConsoleServer(loop, app, path)
    human = Human(loop, master)
    human.expect(b"tipring> ")
    yield human, app, loop, cfg_path
    server.close()
    human.close()
    os.close(master)
    loop.close()


@pytest.mark.parametrize("seed", range(3))
def test_noise_on_the_serial_line_never_holds_the_console(pty_console, seed):
    human, app, loop, cfg_path = pty_console
    with open(cfg_path, "rb") as f:
        saved = f.read()
    before = app.config.to_toml_dict()
    data = garbage(1000 + seed, 30000, allow_eof=True)   # ctrl-D may end a session: a new one starts
    for chunk in chunks(data, random.Random(seed), sizes=(1, 3, 64, 256)):   # within the pty's buffer
        human.type(chunk)
        for _ in range(3):
            loop.run_once(0)
    human.mark = len(human.buf)
    human.type(RECOVER + b"show calls\r")
    human.expect(b"no calls\r\ntipring> ", timeout=20)
    assert app.config.to_toml_dict() == before
    with open(cfg_path, "rb") as f:
        assert f.read() == saved
    crashes = [e for e in app.events.recent if e.get("event") == "error" and "internal" in str(e)]
    assert not crashes and not [e for e in app.events.recent if "Error:" in str(e.get("message"))]
