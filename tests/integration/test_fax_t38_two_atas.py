"""A real fax through two ATAs (issue 15): two tipring instances on sim boards, registered as 1001
and 1002 on one Kamailio, call each other; a spandsp fax machine (T.30 terminal,
tipring/board/sim/fax_machine.py) is plugged into each handset's place: A's sends a one-page
TIFF, B's receives it. With `fax = "t38"` the ATAs hear the fax tones, switch the call to
T.38 relay by re-INVITE (UDPTL over spandsp's t38_gateway) and the page crosses as IFP
packets; with `fax = "passthrough"` it crosses as G.711 audio (V.21 preamble, training and
image data through RTP and a fixed jitter buffer). Either way T.30 ends with completion
code 0 at both machines and B's TIFF holds the page A sent, row for row."""

import shutil

import pytest

from tipring.firmware.media import t38_gateway
from tests.integration.test_fax_two_atas import TwoAtas
from tests.peers.fax_tiff import page_rows, read_pages, read_rows, write_page
from tests.peers.handset import Handset

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("kamailio"),
                                 reason="kamailio not installed (tools/setup --test)"),
              pytest.mark.skipif(t38_gateway.available() is not None, reason="libspandsp not installed")]

FAX_S = 120          # a page at 14400 with its T.30 phases takes about 25 s of line time


def send_page(tmp_path, rig):
    """A's fax sends the page to B's fax over the connected call: both machines' status."""
    src, dst = str(tmp_path / "page.tif"), str(tmp_path / "got.tif")
    write_page(src)
    with Handset(rig.ctl_a) as ha, Handset(rig.ctl_b) as hb:
        up = rig.connect(ha, hb)
        hb.ok("fax receive %s" % dst)
        ha.ok("fax send %s" % src)
        assert hb.ok("wait fax=done %d" % FAX_S, timeout=FAX_S + 10), hb.ok("fax status")
        assert ha.ok("wait fax=done 20", timeout=30)
        st_a, st_b = ha.ok("fax status")["fax"], hb.ok("fax status")["fax"]
        ha.ok("onhook")
        hb.ok("onhook")
        hb.ok("fax off")
        ha.ok("fax off")
    return up, st_a, st_b, dst


def check_page(st_a, st_b, dst):
    assert st_a["completion"] == 0 and st_b["completion"] == 0, (st_a, st_b)
    assert st_a["pages"] == 1 and st_b["pages"] == 1, (st_a, st_b)
    pages = read_pages(dst)
    assert len(pages) == 1 and pages[0][256] == 1728, pages
    rows = read_rows(dst)
    if rows is not None:
        assert rows == page_rows()


def _events(fw, name, call_id):
    return [e for e in fw.events() if e["event"] == name and e.get("call_id") == call_id]


def test_a_page_crosses_two_atas_as_t38(tmp_path):
    rig = TwoAtas(tmp_path, fax="t38")
    try:
        (up_a, up_b), st_a, st_b, dst = send_page(tmp_path, rig)
        check_page(st_a, st_b, dst)
        for fw, up in ((rig.a, up_a), (rig.b, up_b)):
            started = _events(fw, "t38", up["call_id"])
            assert started and started[0]["state"] == "started", [
                e for e in fw.events() if e["event"] in ("fax", "fax_t38", "t38", "error")]
            assert started[0]["version"] == 0 and started[0]["redundancy"] is True
            media = fw.wait_event(lambda e: e["event"] == "media" and e["call_id"] == up["call_id"]
                                  and e["codec"] == "T38", 10)
            assert media and media["sent"] > 20 and media["received"] > 20, media
            assert not [e for e in fw.events() if e["event"] == "error"
                        and e.get("where") in ("fax", "media", "echo")]
        # the calling fax's CNG, from A's own line, made A ask for T.38 (HT802 behaviour)
        asked = _events(rig.a, "fax_t38", up_a["call_id"]) + _events(rig.b, "fax_t38", up_b["call_id"])
        assert asked and any(e["reinvite"] for e in asked), asked
    finally:
        rig.stop()


def test_a_page_crosses_two_atas_in_g711_passthrough(tmp_path):
    rig = TwoAtas(tmp_path, fax="passthrough")
    try:
        (up_a, up_b), st_a, st_b, dst = send_page(tmp_path, rig)
        check_page(st_a, st_b, dst)
        for fw, up in ((rig.a, up_a), (rig.b, up_b)):
            assert _events(fw, "fax_passthrough", up["call_id"])
            assert not _events(fw, "t38", up["call_id"])
            media = fw.wait_event(lambda e: e["event"] == "media" and e["call_id"] == up["call_id"], 10)
            assert media and media["codec"] == "PCMU" and media["jitter_mode"] == "fixed", media
    finally:
        rig.stop()
