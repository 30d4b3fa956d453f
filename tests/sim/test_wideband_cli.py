"""A 16 kHz sim board through the real command line: `tipring check-config` takes a board file
whose line says `audio.rate = 16000` and refuses any other rate with one clear line naming the
key and what is allowed (as every board error reads); `tipring run` on it starts the sim board at
16 kHz (the control port takes `say 7000`, which an 8 kHz line refuses)."""
import json
import signal
import socket
import subprocess
import sys

import pytest

from tests.cli.test_check_config_agrees import MINIMAL, ROOT, cli
from tests.peers.firmware import sim_board_file

CONFIG = MINIMAL.decode().replace("[board]\n", '[board]\nkind = "{board}"\n', 1)


def files(tmp_path, rate):
    board = sim_board_file(tmp_path, rate)
    cfg = tmp_path / "tipring.toml"
    cfg.write_text(CONFIG.format(board=board))
    return str(cfg), board


@pytest.mark.parametrize("rate", ["44100", "16000.0", '"16000"', "0"])
def test_a_bad_audio_rate_is_one_clear_error(tmp_path, rate):
    cfg, board = files(tmp_path, rate)
    out = cli("check-config", cfg)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr, out
    problems = [l.strip() for l in out.stdout.splitlines()[1:] if l.strip()]
    assert len(problems) == 1, out.stdout
    assert "line[0].audio.rate" in problems[0] and "allowed: 8000 or 16000" in problems[0], problems
    assert board in problems[0]


def test_a_16_khz_sim_board_passes_check_config_and_runs(tmp_path):
    cfg, _board = files(tmp_path, 16000)
    out = cli("check-config", cfg)
    assert out.returncode == 0 and out.stdout.startswith(cfg + ": ok"), out
    p = subprocess.Popen([sys.executable, "-m", "tipring", "run", "--config", cfg, "--log-json", "-"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = None
        for line in p.stdout:
            if line.startswith("{") and json.loads(line)["event"] == "started":
                started = json.loads(line)
                break
        assert started and started.get("control"), p.stderr.read() if p.poll() is not None else ""
        host, port = started["control"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as s:
            f = s.makefile("rw")
            for req in ("say 7000", "offhook", "listen 300"):
                f.write(req + "\n")
                f.flush()
                rep = json.loads(f.readline())
                assert rep["ok"], (req, rep)
            assert sorted(rep["freqs"]) == [350, 440] and rep["tone"] == "dial", rep
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
