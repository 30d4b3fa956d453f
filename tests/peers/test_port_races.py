"""The real-peer helpers never lose a port race (tests/peers/ports.py, baresip.py, kamailio.py).

Each test hands a peer a first port that another socket holds, as a parallel test process that
took it between our check and the peer's bind would, and expects a working peer anyway: a real
REGISTER answered by a real Kamailio, OPTIONS answered, ctrl_tcp answering the phone we started.
And parallel test processes get disjoint port slices.
"""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from tests.peers import ports
from tests.peers.baresip import BaresipPhone
from tests.peers.kamailio import Kamailio, sip_options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

needs_kamailio = pytest.mark.skipif(not shutil.which("kamailio"), reason="kamailio not installed (tools/setup --test)")
needs_baresip = pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                   reason="kamailio/baresip not installed (tools/setup --test)")


def hold(port, kind):
    """Take `port` on 127.0.0.1 ourselves (UDP, or a listening TCP socket)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        s.listen(4)
    return s


class FirstTaken:
    """A port picker whose first block has port `base + offset` held by another socket once it is
    chosen: the race the helpers must survive. Later picks are ports.free_block's."""

    def __init__(self, offset=0, kind=socket.SOCK_DGRAM, every=False):
        self.offset, self.kind, self.every = offset, kind, every
        self.held = []

    def __call__(self, n=1, align=1):
        base = ports.free_block(n, align)
        if not self.held or self.every:
            self.held.append(hold(base + self.offset, self.kind))
        return base

    @property
    def taken(self):
        return [s.getsockname()[1] for s in self.held]

    def close(self):
        for s in self.held:
            s.close()


# -- the slices ------------------------------------------------------------------------------

PROBE = """
import json, sys
from tests.peers import ports
print(json.dumps([ports.slice_range(), [ports.free_port() for _ in range(5)], ports.free_media_port()]), flush=True)
sys.stdin.read()      # hold the slice until the test has heard from every process
"""


def test_parallel_processes_get_disjoint_slices():
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env=env) for _ in range(3)]
    try:
        seen = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(10)
    mine = ports.slice_range()
    ranges = [tuple(r) for r, _, _ in seen] + [mine]
    assert all(r is not None for r in ranges), ranges
    for i, (lo, hi) in enumerate(ranges):
        assert hi - lo + 1 == ports.SLICE and ports.LOW <= lo and hi < ports.HIGH
        for lo2, hi2 in ranges[i + 1:]:
            assert hi < lo2 or hi2 < lo, ranges          # no two processes share a port
    for (lo, hi), singles, media in seen:
        assert all(lo <= p <= hi for p in singles) and len(set(singles)) == 5
        assert media % 2 == 0 and lo <= media and media + 3 <= hi
    assert not any(32768 <= lo or hi >= 16384 for lo, hi in ranges)   # off ephemeral and RTP ports


def test_a_busy_port_in_the_slice_is_skipped():
    lo, hi = ports.slice_range()
    nxt = lo + ports._slice.next       # where the cursor points: take it before the allocator does
    with hold(nxt, socket.SOCK_STREAM):
        got = [ports.free_port() for _ in range(3)]
    assert nxt not in got and all(lo <= p <= hi for p in got)


# -- Kamailio --------------------------------------------------------------------------------

@needs_kamailio
@pytest.mark.peers
@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_kamailio_starts_on_fresh_ports_when_its_first_is_taken(tmp_path, kind):
    picker = FirstTaken(kind=kind)
    try:
        with Kamailio(str(tmp_path), port_picker=picker) as kam:
            assert kam.attempts == 2
            assert kam.port not in picker.taken
            assert sip_options(kam.port, timeout=2.0) == 200
            assert "Address already in use" in open(os.path.join(str(tmp_path), "kamailio-%d" % picker.taken[0],
                                                                 "kamailio.log")).read()
    finally:
        picker.close()


@needs_kamailio
@pytest.mark.peers
def test_kamailio_on_a_port_the_caller_fixed_does_not_move(tmp_path):
    with hold(ports.free_port(), socket.SOCK_DGRAM) as s:
        kam = Kamailio(str(tmp_path), port=s.getsockname()[1])
        with pytest.raises(ports.PortInUse, match="could not bind"):
            kam.start()
        assert kam.attempts == 1 and kam.proc is None


# -- baresip ---------------------------------------------------------------------------------

@needs_baresip
@pytest.mark.peers
def test_baresip_registers_when_its_first_sip_port_is_taken(tmp_path):
    picker = FirstTaken(offset=0, kind=socket.SOCK_DGRAM)
    try:
        with Kamailio(str(tmp_path)) as kam, \
                BaresipPhone(str(tmp_path), "1002", registrar=kam.address, port_picker=picker) as phone:
            assert phone.attempts == 2
            assert phone.sip_port != picker.taken[0]
            # a real REGISTER went through: Kamailio has the phone's new port as 1002's contact
            assert any(":%d" % phone.sip_port in c for c in kam.contacts("1002")), kam.contacts("1002")
            assert phone.cmd("reginfo")["ok"]
    finally:
        picker.close()


@needs_baresip
@pytest.mark.peers
def test_baresip_never_drives_another_process_on_its_ctrl_port(tmp_path):
    """ctrl_tcp failing to listen does not end baresip; the helper must notice and move, not
    connect to whoever holds the port (another test's phone, with its one ctrl_tcp client)."""
    picker = FirstTaken(offset=2, kind=socket.SOCK_STREAM)
    try:
        with Kamailio(str(tmp_path)) as kam, \
                BaresipPhone(str(tmp_path), "1003", registrar=kam.address, port_picker=picker) as phone:
            assert phone.attempts == 2
            assert phone.ctrl_port != picker.taken[0]
            info = phone.cmd("reginfo")
            assert info["ok"] and "1003" in info["data"]
            squatter = picker.held[0]
            squatter.setblocking(False)
            with pytest.raises(BlockingIOError):
                squatter.accept()          # nobody connected to the port we did not get
    finally:
        picker.close()


@needs_baresip
@pytest.mark.peers
def test_baresip_gives_up_after_the_last_try(tmp_path):
    picker = FirstTaken(offset=0, kind=socket.SOCK_DGRAM, every=True)
    try:
        with pytest.raises(ports.PortInUse, match="could not bind"):
            BaresipPhone(str(tmp_path), "1002", port_picker=picker)
        assert len(picker.taken) == ports.TRIES * 2     # a SIP block and an RTP block per try
    finally:
        picker.close()


# -- SIPp ------------------------------------------------------------------------------------

@pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("sipp")), reason="kamailio/sipp not installed")
@pytest.mark.peers
def test_sipp_tells_a_lost_port_from_a_failed_scenario(tmp_path):
    """What AtaRig.sipp_user retries on: SIPp that could not bind says so; one that ran does not."""
    from tests.peers.sipp import Sipp
    with Kamailio(str(tmp_path)) as kam:
        def register(port, name):
            s = Sipp(str(tmp_path), "register.xml", port, name=name,
                     extra=[kam.address, "-s", "1003", "-au", "1003", "-ap", "secret1003",
                            "-key", "expires", "60", "-timeout", "10s"])
            rc = s.wait(15)
            s.stop()
            return s, rc
        with hold(ports.free_port(), socket.SOCK_DGRAM) as busy:
            lost, rc = register(busy.getsockname()[1], "lost")
        assert rc != 0 and lost.bind_failed()
        ok, rc = register(ports.free_port(), "ok")
        assert rc == 0 and not ok.bind_failed()
        assert any(":%d" % ok.port in c for c in kam.contacts("1003")), kam.contacts("1003")
