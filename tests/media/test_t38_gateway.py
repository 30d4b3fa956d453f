"""The T.38 gateway wrapper (tipring/firmware/media/t38_gateway.py) with real fax machines: two
spandsp fax terminals (tipring/board/sim/fax_machine.py), each on the line side of its own
gateway, the gateways joined by UDPTL (tipring/firmware/media/udptl.py) in one process, no SIP.
A one-page TIFF goes from one to the other, 20 ms at a time, as it would between two ATAs:
T.30 ends with completion code 0 on both sides and the received page decodes to the rows
sent. One datagram in seven is lost on the way, and UDPTL's redundancy brings each back."""

import os

import pytest

from tipring.board.sim.fax_machine import FaxMachine
from tipring.firmware.media import t38_gateway
from tipring.firmware.media.t38 import T38Session
from tipring.firmware.media.t38_gateway import T38Gateway
from tipring.firmware.media.udptl import UdptlDecoder, UdptlEncoder
from tests.peers.fax_tiff import page_rows, read_pages, read_rows, write_page

pytestmark = pytest.mark.skipif(t38_gateway.available() is not None,
                                reason="libspandsp not installed")

FRAMES = 150 * 50            # 150 s of line time at most; a page at 14400 takes about 25


class Side:
    """A fax machine, its gateway, and the UDPTL stream the gateway sends on."""

    def __init__(self, machine, session=None, redundancy=3):
        self.fax = machine
        self.gw = T38Gateway(session)
        self.enc = UdptlEncoder(redundancy=redundancy)
        self.dec = UdptlDecoder()

    def tick(self):
        """One 20 ms frame of the fax machine's audio through the gateway: the datagrams."""
        return [self.enc.encode(ifp) for ifp in self.gw.from_line(self.fax.mouthpiece())]

    def hear(self, datagrams, drop):
        for d in datagrams:
            if drop(d):
                continue
            for seq, ifp in self.dec.receive(d):
                self.gw.from_peer(seq, ifp)
        self.fax.earpiece(self.gw.to_line(160))

    def close(self):
        self.gw.close()
        self.fax.close()


def fax_through_gateways(tmp_path, drop_every=0, session=None):
    src, dst = str(tmp_path / "page.tif"), str(tmp_path / "got.tif")
    write_page(src)
    a = Side(FaxMachine("send", src), session)
    b = Side(FaxMachine("receive", dst), session)
    count = [0]

    def drop(d):
        count[0] += 1
        return drop_every and count[0] % drop_every == 0

    try:
        for _ in range(FRAMES):
            to_b, to_a = a.tick(), b.tick()
            b.hear(to_b, drop)
            a.hear(to_a, lambda d: False)
            if a.fax.done and b.fax.done:
                break
        st_a, st_b = a.fax.status(), b.fax.status()
    finally:
        a.close()
        b.close()
    return st_a, st_b, a, b, dst


def check_page(dst):
    pages = read_pages(dst)
    assert len(pages) == 1 and pages[0][256] == 1728
    rows = read_rows(dst)
    if rows is not None:
        assert rows == page_rows()


def test_a_page_crosses_two_gateways(tmp_path):
    st_a, st_b, a, b, dst = fax_through_gateways(tmp_path)
    assert st_a["completion"] == 0 and st_b["completion"] == 0, (st_a, st_b)
    assert st_a["pages"] == 1 and st_b["pages"] == 1
    assert a.gw.packets_out > 50 and b.gw.packets_in == a.gw.packets_out
    check_page(dst)


def test_lost_datagrams_come_back_from_redundancy(tmp_path):
    st_a, st_b, a, b, dst = fax_through_gateways(tmp_path, drop_every=7)
    assert st_a["completion"] == 0 and st_b["completion"] == 0, (st_a, st_b)
    assert b.dec.recovered > 10 and b.dec.lost == 0
    assert b.gw.packets_in == a.gw.packets_out        # every IFP arrived once
    check_page(dst)


def test_session_parameters_set_a_slower_gateway(tmp_path):
    """T38MaxBitRate 9600 agreed in SDP: the page goes at V.29 9600 at most."""
    st_a, st_b, a, b, dst = fax_through_gateways(
        tmp_path, session=T38Session(0, 9600, "transferredTCF", True, 400))
    assert st_a["completion"] == 0 and st_b["completion"] == 0, (st_a, st_b)
    assert st_b["bit_rate"] <= 9600
    check_page(dst)


def test_garbage_ifp_does_not_crash_the_gateway():
    gw = T38Gateway()
    try:
        for seq, junk in enumerate((b"", b"\xff", b"\x00" * 300, bytes(range(256)))):
            gw.from_peer(seq, junk)
        assert len(gw.to_line(160)) == 320
        out = gw.from_line(bytes(320))        # silence: at most its no-signal indicator
        assert all(p == b"\x00" for p in out) and len(out) <= 3
    finally:
        gw.close()
        gw.close()                     # idempotent


def test_a_file_spandsp_cannot_read_ends_t30_with_an_error(tmp_path):
    """The sim fax machine with a file that is no TIFF: T.30 ends with a non-zero completion
    code and its text; nothing raises."""
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    a = FaxMachine("send", str(bad))
    b = FaxMachine("receive", str(tmp_path / "got.tif"))
    try:
        for _ in range(60 * 50):
            fa, fb = a.mouthpiece(), b.mouthpiece()
            a.earpiece(fb)
            b.earpiece(fa)
            if a.done:
                break
        st = a.status()
        assert st["completion"] not in (None, 0) and st["result"], st
    finally:
        a.close()
        b.close()


def test_asking_whether_t38_can_run_loads_nothing():
    """Every call asks (media/t38.py local_params); loading libspandsp would put 2 MB of RSS
    (with libtiff and libjpeg) into an ATA that never sees a fax. A fresh interpreter asks
    and still has neither the library nor ctypes."""
    import subprocess
    import sys
    code = ("import sys; from tipring.firmware.media import t38_gateway as g; "
            "print(g.available(), g._lib is None, 'ctypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.split() == ["None", "True", "False"], out.stdout + out.stderr


def test_without_libspandsp_t38_is_unavailable_and_an_explicit_t38_is_refused(monkeypatch, tmp_path):
    from tipring.firmware import config
    monkeypatch.setattr(t38_gateway, "_lib", None)
    monkeypatch.setattr(t38_gateway, "_why", None)
    monkeypatch.setattr(t38_gateway, "_found", None)
    monkeypatch.setattr(t38_gateway, "LIB_DIRS", (str(tmp_path),))
    monkeypatch.setenv("LD_LIBRARY_PATH", "")
    why = t38_gateway.available()
    assert why and "libspandsp not found" in why
    with pytest.raises(config.ConfigError) as e:
        config.validate({"board": {"kind": "sim"}, "line": [{"port": 1, "user": "1001", "fax": "t38"}]})
    assert any("line[0].fax" in p or "line.1.fax" in p or "fax" in p for p in e.value.problems)
    assert any("passthrough" in p and "libspandsp" in p for p in e.value.problems), e.value.problems
