"""`tipring check-config FILE` and `tipring run --config FILE` agree on every file, through the
real command line: a file check-config passes, run starts with (and stops cleanly on SIGTERM,
exit 0); a file check-config refuses (exit 1), run refuses too (exit 2) with the same problems
on stderr, and never a traceback. Both read files through `config.load` alone."""

import json
import os
import random
import signal
import socket
import subprocess
import sys

import pytest

from tipring.firmware import config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MINIMAL = b'''[board]
control = "127.0.0.1:0"
[sip]
bind = "127.0.0.1:0"
[[line]]
port = 1
user = "1001"
registrar = "127.0.0.1:9"
register = false
'''

DEEP = 100_000
FILES = {
    # name: (bytes, check-config passes)
    "empty": (b"", False),
    "whitespace only": (b"  \n\t\r\n   \n", False),
    "only comments": (b"# tipring config\n# nothing here yet\n\n", False),
    "all NUL (power cut)": (b"\0" * 4096, False),
    "BOM only": (b"\xef\xbb\xbf", False),
    "deep arrays": (b"a = " + b"[" * DEEP + b"]" * DEEP + b"\n", False),
    "deep inline tables": (b"a = " + b"{b = " * DEEP + b"1" + b"}" * DEEP + b"\n", False),
    "deep inside a line": (MINIMAL + b"display_name = " + b"[" * DEEP + b"]" * DEEP + b"\n", False),
    "20 deep (no RecursionError)": (b"a = " + b"[" * 20 + b"]" * 20 + b"\n", False),
    "deep dotted keys": (b"a" + b".a" * 20000 + b" = 1\n", False),
    "huge file": (MINIMAL + b"# padding\n" * 200_000, False),
    "huge value": (MINIMAL.replace(b'user = "1001"', b'user = "' + b"9" * 2_000_000 + b'"'), False),
    "binary garbage": (bytes(random.Random(14).randrange(256) for _ in range(4096)), False),
    "invalid UTF-8": (MINIMAL.replace(b'user = "1001"', b'user = "caf\xe9"'), False),
    "duplicate keys": (MINIMAL + b'user = "1002"\n', False),
    "duplicate tables": (MINIMAL + b"[sip]\n", False),
    "unknown section": (MINIMAL + b"[frobnicator]\nlevel = 11\n", False),
    "unknown key": (MINIMAL + b"colour = \"blue\"\n", False),
    "a port the board does not wire": (MINIMAL.replace(b"port = 1", b"port = 3"), False),
    "a board file that is not TOML": (MINIMAL.replace(b'[board]\n', b'[board]\nkind = "BOARD"\n'), False),
    "escape codes in a value": (MINIMAL.replace(b'user = "1001"', b'user = "\\u001b[2J"'), False),
    "valid minimal": (MINIMAL, True),
    "valid minimal with a BOM": (b"\xef\xbb\xbf" + MINIMAL, True),
    "valid, CRLF line ends": (MINIMAL.replace(b"\n", b"\r\n"), True),
    "valid, no lines": (b'[board]\ncontrol = "127.0.0.1:0"\n[sip]\nbind = "127.0.0.1:0"\n', True),
}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "tipring", *args], cwd=ROOT, capture_output=True,
                          text=True, errors="replace", timeout=120, **kw)


def write(tmp_path, name: str, data: bytes) -> str:
    if b"BOARD" in data:
        board = tmp_path / "board-broken.toml"
        board.write_bytes(b"garbage [[[\n")
        data = data.replace(b"BOARD", str(board).encode())
    path = tmp_path / "tipring.toml"
    path.write_bytes(data)
    return str(path)


def loop_is_running(control: str) -> None:
    """One request on the sim control port answered: the loop runs, so `run` has its SIGTERM
    handler (it is installed after `started` is emitted, just before the loop starts)."""
    host, port = control.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"state\n")
        s.settimeout(30)
        assert s.recv(4096)


def run_until_started(path: str):
    """`tipring run --config path`: (exit status, stdout events, stderr); a run that starts is
    stopped with SIGTERM once its `started` event is out."""
    p = subprocess.Popen([sys.executable, "-m", "tipring", "run", "--config", path, "--log-json", "-"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    events = []
    try:
        for line in p.stdout:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "started":
                    loop_is_running(events[-1]["control"])
                    p.send_signal(signal.SIGTERM)
                    break
        rest, err = p.communicate(timeout=60)
    except BaseException:
        p.kill()
        p.wait()
        raise
    return p.returncode, events, err


@pytest.mark.parametrize("name", list(FILES))
def test_check_config_and_run_agree(tmp_path, name):
    data, good = FILES[name]
    path = write(tmp_path, name, data)
    check = cli("check-config", path)
    assert "Traceback" not in check.stdout + check.stderr, check.stderr[-2000:]
    assert check.returncode == (0 if good else 1), (check.stdout[-1000:], check.stderr[-1000:])
    code, events, err = run_until_started(path)
    assert "Traceback" not in err, err[-2000:]
    if good:
        assert check.stdout.startswith(path + ": ok")
        assert code == 0 and [e for e in events if e["event"] == "started"], err[-2000:]
        return
    assert code == 2, (code, err[-2000:])
    assert not [e for e in events if e["event"] == "started"]
    problems = [l.strip() for l in check.stdout.splitlines()[1:]]
    assert problems and all(len(p) < 1000 for p in problems), check.stdout[:2000]
    assert "\x1b" not in check.stdout and "\x1b" not in err      # a file cannot paint the terminal
    for p in problems:
        assert p.split(": ", 1)[-1] in err, (p, err[-2000:])


def test_the_issue_cases_say_what_is_wrong(tmp_path):
    path = write(tmp_path, "deep", FILES["deep arrays"][0])
    out = cli("check-config", path).stdout
    assert "nested more than %d levels deep" % config.MAX_DEPTH in out
    path = write(tmp_path, "empty", b"")
    assert "the file is empty" in cli("check-config", path).stdout
    path = write(tmp_path, "comments", FILES["only comments"][0])
    assert "holds no settings" in cli("check-config", path).stdout
    path = write(tmp_path, "huge", FILES["huge file"][0])
    assert "too large; a config file is at most %d bytes" % config.MAX_FILE_BYTES in cli("check-config", path).stdout
