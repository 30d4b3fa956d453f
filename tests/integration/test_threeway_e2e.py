"""Three-way calling end to end (FLOWS.md §17): tipring on the sim board behind a real Kamailio,
two real baresip phones. The handset (1001, says 1000 Hz) calls B (1002, sends 700 Hz), flashes
(B held), calls C (1003, 900 Hz), flashes again: a conference mixed in tipring, each remote
hears the handset and the other remote, the handset hears both. Flash in the conference drops
C; hanging up in it ends both calls. What each baresip hears is the RTP tipring sends it, read
off the loopback interface (tests/peers/rtptap.py)."""

import shutil
import time

import pytest

from tests.peers import rtptap
from tests.peers.ata_rig import AtaRig

pytestmark = [pytest.mark.peers, pytest.mark.timeout(45),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(), reason="no AF_PACKET socket on lo (root or CAP_NET_RAW)")]

A_HZ, B_HZ, C_HZ = 1000, 700, 900
# share of a tone in what a party hears (baresip.tone_share): alone ~1; mixed, the handset's
# `say` (-13 dBm0) under a baresip sine (~-3 dBm0) ~0.1; absent ~0.001
PRESENT = 0.05
ABSENT = 0.02


@pytest.fixture
def rig(tmp_path):
    r = AtaRig(str(tmp_path), phones=[("1002", B_HZ), ("1003", C_HZ)])
    try:
        yield r
    finally:
        r.stop()


def _near(freqs, hz):
    return any(abs(f - hz) <= 15 for f in freqs)


def _has(rig, heard, user, hz):
    share, n = rig.share(heard[user], hz)
    assert n >= 5 and share >= PRESENT, "%s should hear %d Hz: share %.3f over %d loud blocks" % (user, hz, share, n)


def _lacks(rig, heard, user, hz):
    share, n = rig.share(heard[user], hz)
    assert n == 0 or share <= ABSENT, "%s should not hear %d Hz: share %.3f over %d loud blocks" % (user, hz, share, n)


def talk_to_b_then_hold(rig, h):
    """Handset calls B (1002) and talks, audio both ways; flash: B held (hears nothing of the
    handset), second dial tone. Returns the event mark before the flash."""
    b = rig.phone("1002")
    h.ok("offhook")
    assert h.ok("wait tone=dial 5")
    h.ok("say %d" % A_HZ)
    h.ok("dial 1002# mode=dtmf")
    assert rig.call_event(state="connected", peer="1002"), rig.calls_since()
    assert b.wait({"CALL_ESTABLISHED"}, 10)
    heard = rig.listen(settle=1.0, ms=1000)
    _has(rig, heard, "1002", A_HZ)
    assert _near(h.ok("listen 500")["freqs"], B_HZ)
    n = rig.mark()
    h.ok("flash")
    assert rig.call_event(since=n, state="held", peer="1002", timeout=10), rig.calls_since(n)
    assert h.ok("wait fxs=flash_dial 5")
    heard = rig.listen(settle=0.5, ms=800)
    _lacks(rig, heard, "1002", A_HZ)                  # held: B does not hear the handset
    return n


def talk_to_b_then_c(rig, h):
    """As `talk_to_b_then_hold`, then the handset calls C (1003) and talks, audio both ways,
    B still held. Returns the event mark before the flash that held B."""
    c = rig.phone("1003")
    n = talk_to_b_then_hold(rig, h)
    m = rig.mark()
    h.ok("dial 1003# mode=dtmf")
    assert rig.call_event(since=m, state="connected", peer="1003"), rig.calls_since(m)
    assert c.wait({"CALL_ESTABLISHED"}, 10)
    assert h.ok("wait fxs=second_talking 5")
    heard = rig.listen(settle=1.0, ms=1000)
    _has(rig, heard, "1003", A_HZ)
    _lacks(rig, heard, "1002", A_HZ)                  # B is on hold
    got = h.ok("listen 500")["freqs"]
    assert _near(got, C_HZ) and not _near(got, B_HZ), got
    return n


def test_flash_joins_b_and_c_in_a_conference_and_flash_again_drops_c(rig):
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_c(rig, h)
        n = rig.mark()
        h.ok("flash")                                  # FLOWS §17: the three of us
        assert h.ok("wait fxs=conference 5"), rig.calls_since(n)
        assert rig.call_event(since=n, state="connected", peer="1002", timeout=10), rig.calls_since(n)
        heard = rig.listen(settle=1.5, ms=1600)
        _has(rig, heard, "1002", A_HZ)
        _has(rig, heard, "1002", C_HZ)                 # B hears C through tipring's mix
        _has(rig, heard, "1003", A_HZ)
        _has(rig, heard, "1003", B_HZ)                 # C hears B
        # B's call was held, then joined: still one RTP source, timestamps only forward
        assert rig.sources("1002") == (1, 0), rig.sources("1002")
        got = h.ok("listen 800")["freqs"]
        assert _near(got, B_HZ) and _near(got, C_HZ), got
        n = rig.mark()
        h.ok("flash")                                  # drop the last party: C
        assert c.wait({"CALL_CLOSED"}, 10), c.log()[-1500:]
        ended = rig.call_event(since=n, state="ended", peer="1003", timeout=10)
        assert ended and ended["reason"] == "local hangup", rig.calls_since(n)
        assert h.ok("wait fxs=talking 5")
        heard = rig.listen(settle=1.0, ms=1200)
        _has(rig, heard, "1002", A_HZ)                 # A and B talk on
        _lacks(rig, heard, "1002", C_HZ)
        got = h.ok("listen 600")["freqs"]
        assert _near(got, B_HZ) and not _near(got, C_HZ), got
        assert not [e for e in rig.calls_since(n) if e["event"] == "call" and e["peer"] == "1002"
                    and e["state"] == "ended"]
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()


def test_hanging_up_in_the_conference_ends_both_calls(rig):
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_c(rig, h)
        h.ok("flash")
        assert h.ok("wait fxs=conference 5")
        heard = rig.listen(settle=1.5, ms=1200)
        _has(rig, heard, "1002", C_HZ)
        n = rig.mark()
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10), b.log()[-1500:]
        assert c.wait({"CALL_CLOSED"}, 10), c.log()[-1500:]
        for peer in ("1002", "1003"):
            ended = rig.call_event(since=n, state="ended", peer=peer, timeout=10)
            assert ended and ended["reason"] == "local hangup", rig.calls_since(n)
        time.sleep(1.0)
        st = h.ok("state")
        assert st["ringing"] is False, st              # nothing left to ring back
        assert not rig.fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 0.1, since=n)
    assert not rig.errors(), rig.errors()


def test_a_party_leaving_the_conference_leaves_a_two_party_call(rig):
    """C hangs up in the conference: the handset and B talk on, without a flash."""
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_c(rig, h)
        h.ok("flash")
        assert h.ok("wait fxs=conference 5")
        time.sleep(1.0)
        n = rig.mark()
        c.cmd("hangup")
        ended = rig.call_event(since=n, state="ended", peer="1003", timeout=10)
        assert ended and ended["reason"] == "remote hangup", rig.calls_since(n)
        assert h.ok("wait fxs=talking 5")
        heard = rig.listen(settle=1.0, ms=1200)
        _has(rig, heard, "1002", A_HZ)
        got = h.ok("listen 600")["freqs"]
        assert _near(got, B_HZ) and not _near(got, C_HZ), got
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()
