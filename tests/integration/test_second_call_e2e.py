"""A second call from the handset with the first on hold (FLOWS.md §12, §15, §17), end to end:
tipring on the sim board behind a real Kamailio, baresip B (1002, 700 Hz) and C (1003, 900 Hz),
SIPp as a busy user (1004). The handset (says 1000 Hz) talks to B, flashes (B held, second dial
tone), then calls C. In fxs.py flash while talking to C is the conference (test_threeway_e2e);
here C leaves, or never answers, or is busy or unknown, and the handset gets B back: by a flash
or by hanging up and answering the recall. What B and C hear is the RTP tipring sends them."""

import shutil

import pytest

from tests.integration.test_threeway_e2e import (
    A_HZ, B_HZ, C_HZ, _has, _lacks, _near, talk_to_b_then_hold,
)
from tests.peers import rtptap
from tests.peers.ata_rig import AtaRig

pytestmark = [pytest.mark.peers, pytest.mark.timeout(45),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(), reason="no AF_PACKET socket on lo (root or CAP_NET_RAW)")]


@pytest.fixture
def rig(tmp_path):
    r = AtaRig(str(tmp_path), phones=[("1002", B_HZ), ("1003", C_HZ, "manual")])
    try:
        yield r
    finally:
        r.stop()


def back_with_b(rig, h, since):
    """The handset talks to B again: audio both ways, and B was sent one RTP source whose
    timestamps only went forward all along."""
    assert rig.call_event(since=since, state="connected", peer="1002", timeout=10), rig.calls_since(since)
    assert h.ok("wait fxs=talking 5"), rig.calls_since(since)
    heard = rig.listen(settle=1.0, ms=1200)
    _has(rig, heard, "1002", A_HZ)
    _lacks(rig, heard, "1003", A_HZ)
    got = h.ok("listen 600")["freqs"]
    assert _near(got, B_HZ) and not _near(got, C_HZ), got
    assert rig.sources("1002") == (1, 0), rig.sources("1002")


def _answer_c(rig):
    c = rig.phone("1003")
    assert c.wait({"CALL_INCOMING"}, 10), c.log()[-1500:]
    c.cmd("accept")



def flash_back_to_b_then_hang_up(rig, h, b):
    """Flash: the held call B is the line's again (audio both ways); then hang up on B."""
    n = rig.mark()
    h.ok("flash")
    back_with_b(rig, h, n)
    h.ok("onhook")
    assert b.wait({"CALL_CLOSED"}, 10)

def test_talk_to_c_then_c_hangs_up_and_flash_goes_back_to_b(rig):
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial 1003# mode=dtmf")
        _answer_c(rig)
        assert rig.call_event(since=m, state="connected", peer="1003"), rig.calls_since(m)
        assert h.ok("wait fxs=second_talking 5")
        heard = rig.listen(settle=1.0, ms=1200)
        _has(rig, heard, "1003", A_HZ)                 # A and C talk, B held hears nothing
        _lacks(rig, heard, "1002", A_HZ)
        got = h.ok("listen 600")["freqs"]
        assert _near(got, C_HZ) and not _near(got, B_HZ), got
        n = rig.mark()
        c.cmd("hangup")                                # C leaves: reorder, B still held
        ended = rig.call_event(since=n, state="ended", peer="1003", timeout=10)
        assert ended and ended["reason"] == "remote hangup", rig.calls_since(n)
        assert h.ok("wait fxs=flash_reorder 5"), rig.calls_since(n)
        assert h.ok("wait tone=congestion 5")
        flash_back_to_b_then_hang_up(rig, h, b)
    assert not rig.errors(), rig.errors()


def test_flash_while_c_rings_gives_up_on_c_and_goes_back_to_b(rig):
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial 1003# mode=dtmf")
        assert c.wait({"CALL_INCOMING"}, 10), c.log()[-1500:]
        assert h.ok("wait fxs=second_call 5")
        assert h.ok("wait tone=ringback 8")            # the handset hears C ring
        n = rig.mark()
        h.ok("flash")                                  # give up on C (CANCEL), back to B
        assert c.wait({"CALL_CLOSED"}, 10), c.log()[-1500:]
        ended = rig.call_event(since=m, state="ended", peer="1003", timeout=10)
        assert ended, rig.calls_since(m)
        back_with_b(rig, h, n)
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()


def test_second_call_to_a_busy_user_gives_busy_tone_and_flash_goes_back_to_b(rig):
    b = rig.phone("1002")
    busy = rig.sipp_user("1004", "uas_busy.xml")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial 1004# mode=dtmf")
        ended = rig.call_event(since=m, state="ended", peer="1004", timeout=10)
        assert ended and "486" in ended["reason"], rig.calls_since(m)
        assert h.ok("wait tone=busy 5"), rig.calls_since(m)
        assert busy.wait(10) == 0, busy.errors()[-800:]   # SIPp saw its ACK
        flash_back_to_b_then_hang_up(rig, h, b)
    assert not rig.errors(), rig.errors()


def test_second_call_to_an_unknown_user_reorder_then_hang_up_and_the_recall_gets_b_back(rig):
    """1004 is not registered: Kamailio answers 404, the handset hears reorder; hanging up
    with B on hold rings the phone back (recall), and answering resumes B."""
    b = rig.phone("1002")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial 1004# mode=dtmf")
        ended = rig.call_event(since=m, state="ended", peer="1004", timeout=10)
        assert ended and "404" in ended["reason"], rig.calls_since(m)
        assert h.ok("wait tone=congestion 5"), rig.calls_since(m)
        h.ok("onhook")
        assert h.ok("wait ringing 8"), rig.calls_since(m)   # B is still held: recall
        assert not b.wait({"CALL_CLOSED"}, 0.5)
        n = rig.mark()
        h.ok("offhook")
        back_with_b(rig, h, n)
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()
