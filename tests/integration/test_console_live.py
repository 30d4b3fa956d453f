"""Console changes applied live against a real Kamailio: a corrected password re-registers the
line, a new SIP bind address moves the transport and the registration, without a restart."""

import shutil
import socket
import time

import pytest

from tests.peers.firmware import RunningFirmware
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio not installed (tools/setup --test)")]

PROMPT = b"tipring> "


class Console:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.read_prompt()

    def read_prompt(self, timeout=10):
        buf, end = b"", time.monotonic() + timeout
        while not buf.endswith(PROMPT) and time.monotonic() < end:
            buf += self.s.recv(65536)
        return buf.decode(errors="replace")

    def run(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.read_prompt()

    def close(self):
        self.s.close()


def test_console_fixes_the_password_and_moves_sip_without_a_restart(tmp_path):
    with Kamailio(str(tmp_path)) as kam:
        con_port, sip1, sip2 = free_port(), free_port(), free_port()
        cfg = {"board": {"kind": "sim", "control": "127.0.0.1:%d" % free_port()},
               "sip": {"bind": "127.0.0.1:%d" % sip1},
               "line": [{"port": 1, "user": "1001", "password": "not-it", "registrar": kam.address,
                         "domain": kam.address, "expires": 300}],
               "console": {"listen": "tcp:127.0.0.1:%d" % con_port}}
        with RunningFirmware(str(tmp_path), cfg) as fw:
            assert fw.wait_event(lambda e: e["event"] == "registration_failed", 10)
            con = Console(con_port)
            out = con.run("set line.1.password secret1001")
            assert "re-registering" in out, out
            ok = fw.wait_event(lambda e: e["event"] == "registered", 10)
            assert ok, fw.events()
            assert kam.contacts("1001") == ["sip:1001@127.0.0.1:%d" % sip1]
            shown = con.run("show config")
            assert "secret1001" not in shown and "****" in shown
            n = len(fw.events())
            out = con.run("set sip.bind 127.0.0.1:%d" % sip2)
            assert "SIP moved to 127.0.0.1:%d" % sip2 in out, out
            assert fw.wait_event(lambda e: e["event"] == "registered", 10, since=n)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and kam.contacts("1001") != ["sip:1001@127.0.0.1:%d" % sip2]:
                time.sleep(0.1)
            assert kam.contacts("1001") == ["sip:1001@127.0.0.1:%d" % sip2]
            bad = con.run("set sip.transport carrier-pigeon")
            assert "sip.transport" in bad and "udp, tcp" in bad
            con.close()
