"""Run a SIPp scenario (Debian sip-tester) on a free loopback port; always stopped.

The caller gives the port (tests/peers/ports.py); `bind_failed()` tells a run that lost it to
another process ("Unable to bind main socket ... Address already in use", exit 254) from one
that failed its scenario, so the caller can retry on a fresh port.
"""

import os
import subprocess

from tests.peers.ports import bind_failed
from tests.peers.proc import end_group

HERE = os.path.dirname(os.path.abspath(__file__))


class Sipp:
    def __init__(self, workdir, scenario, port, extra=(), name=None):
        self.name = name or os.path.splitext(os.path.basename(scenario))[0]
        self.dir = os.path.join(workdir, "sipp-" + self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.msg_log = os.path.join(self.dir, "messages.log")
        self.err_log = os.path.join(self.dir, "errors.log")
        path = scenario if os.path.isabs(scenario) else os.path.join(HERE, "sipp", scenario)
        cmd = ["sipp", "-sf", path, "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-nostdin",
               "-trace_msg", "-message_file", self.msg_log, "-trace_err", "-error_file", self.err_log,
               "-timeout", "60s", "-timeout_error"] + list(extra)
        self.port = port
        self.out_path = os.path.join(self.dir, "stdout.log")
        self.out = open(self.out_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def messages(self) -> str:
        try:
            with open(self.msg_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def errors(self) -> str:
        try:
            with open(self.err_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def output(self) -> str:
        try:
            with open(self.out_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def bind_failed(self) -> bool:
        """Did SIPp end because its port was taken (not because the scenario failed)?"""
        return self.proc.poll() is not None and bind_failed(self.output())

    def stop(self):
        end_group(self.proc)
        self.out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
