"""Run `tipring run` as a child process, as a person or the contract check would, and read its
JSON event log. Used by the tests that talk to real peers."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.peers.proc import end_group

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    return json.dumps(str(v))


def sim_board_file(directory, rate="16000") -> str:
    """The shipped sim board with line 1's audio at `rate` (TOML value text, so a test can
    also write a bad one), as `sim-rate.toml` in `directory`; for `[board] kind`."""
    with open(os.path.join(ROOT, "tipring", "board", "sim.toml")) as f:
        text = f.read()
    line1 = 'audio = { backend = "sim", device = "sim:1" }'
    assert line1 in text
    path = os.path.join(str(directory), "sim-rate.toml")
    with open(path, "w") as f:
        f.write(text.replace(line1, line1[:-2] + ", rate = %s }" % rate))
    return path


def sim_line_config(registrar: str, control: str, **line_keys) -> dict:
    """tipring on the sim board (control port `control`, "HOST:PORT") as 1001 of the rig's
    Kamailio at `registrar`, SIP on a free loopback port; `line_keys` add to or override the
    [[line]]."""
    from tests.peers.ports import free_port
    line = {"port": 1, "user": "1001", "password": "secret1001", "registrar": registrar,
            "domain": registrar, "expires": 300}
    line.update(line_keys)
    return {"board": {"kind": "sim", "control": control, "country": "us"},
            "sip": {"bind": "127.0.0.1:%d" % free_port()}, "line": [line]}


def write_config(path, cfg):
    out = []
    for sec, val in cfg.items():
        items = val if isinstance(val, list) else [val]
        for item in items:
            out.append("[[%s]]" % sec if isinstance(val, list) else "[%s]" % sec)
            out += ["%s = %s" % (k, toml_value(v)) for k, v in item.items()]
            out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out))


class RunningFirmware:
    """`python -m tipring run --config F --log-json E` in its own process group."""

    def __init__(self, workdir, cfg, name="fw"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg_path = os.path.join(self.dir, "tipring.toml")
        self.ev_path = os.path.join(self.dir, "events.jsonl")
        write_config(self.cfg_path, cfg)
        self.out = open(os.path.join(self.dir, "stderr.log"), "w")
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen([sys.executable, "-m", "tipring", "run", "--config", self.cfg_path,
                                      "--log-json", self.ev_path], stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, env=env, start_new_session=True)
        self._events = []
        self._pos = 0
        if not self.wait_event(lambda e: e["event"] == "started", 15):
            self.kill()
            raise RuntimeError("firmware did not start: " + self.output()[-1000:])

    def output(self):
        try:
            with open(os.path.join(self.dir, "stderr.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def events(self):
        try:
            with open(self.ev_path, "rb") as f:
                f.seek(self._pos)
                data = f.read()
        except OSError:
            return self._events
        cut = data.rfind(b"\n")
        if cut >= 0:
            for line in data[:cut].splitlines():
                self._events.append(json.loads(line))
            self._pos += cut + 1
        return self._events

    def wait_event(self, pred, timeout=10.0, since=0):
        end = time.monotonic() + timeout
        while True:
            for e in self.events()[since:]:
                if pred(e):
                    return e
            if time.monotonic() > end or self.proc.poll() is not None:
                for e in self.events()[since:]:
                    if pred(e):
                        return e
                return None
            time.sleep(0.02)

    def named(self, name):
        return [e for e in self.events() if e["event"] == name]

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        end_group(self.proc)
        self.out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.kill()
