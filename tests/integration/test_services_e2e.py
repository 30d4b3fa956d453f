"""Network-side supplementary services end to end (FLOWS.md §11, §14, DND): tipring on the sim
board behind a real Kamailio, with real baresip phones as the other parties. The line's
feature state comes from its config keys (forward_all, dnd, dnd_response)."""

import shutil
import time

import pytest

from tests.integration.test_threeway_e2e import (A_HZ, B_HZ, C_HZ, _has, _lacks, _near, talk_to_b_then_c,
                                                 talk_to_b_then_hold)
from tests.peers import rtptap
from tests.peers.ata_rig import AtaRig
from tests.peers.baresip import BaresipPhone
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_media_port, free_port

pytestmark = [pytest.mark.peers, pytest.mark.timeout(30),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)")]


def _phone(workdir, user, registrar, tone_hz):
    """A baresip phone whose ctrl_tcp/cons ports are not SIP port + 1, where baresip also
    listens for TLS (free_port() can hand out that neighbour: bctl then talks to TLS)."""
    for _ in range(5):
        phone = BaresipPhone(workdir, user, registrar=registrar, answer="auto", tone_hz=tone_hz)
        if phone.sip_port + 1 not in (phone.ctrl_port, phone.cons_port):
            return phone
        phone.stop()
    raise RuntimeError("no baresip port set without a TLS clash")


@pytest.fixture
def rig(tmp_path):
    """Kamailio, tipring line 1001, baresip A (1002) and C (1003, auto-answer, 900 Hz);
    `start(**line_keys)` starts the firmware with those extra [[line]] keys."""
    parts = {}
    kam = Kamailio(str(tmp_path))
    kam.start()
    parts["kam"] = kam

    def start(**keys):
        parts["a"] = _phone(str(tmp_path), "1002", kam.address, 700)
        parts["c"] = _phone(str(tmp_path), "1003", kam.address, 900)
        ctl = free_port()
        fw = parts["fw"] = RunningFirmware(str(tmp_path), sim_line_config(kam.address, "127.0.0.1:%d" % ctl, **keys))
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        return kam, parts["a"], parts["c"], fw, "127.0.0.1:%d" % ctl
    try:
        yield start
    finally:
        fw = parts.get("fw")
        if fw is not None:
            fw.stop()
            fw.kill()
        for k in ("a", "c"):
            if k in parts:
                parts[k].stop()
        kam.stop()


def _call(fw, pred, timeout=10):
    return fw.wait_event(lambda e: e["event"] == "call" and pred(e), timeout)


def test_forward_all_302_is_followed_by_baresip_to_the_target(rig):
    kam, a, c, fw, control = rig(forward_all="1003")
    a.cmd("dial", "sip:1001@%s" % kam.address)
    fwd = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
    assert fwd and fwd["reason"] == "forwarded to sip:1003@%s (unconditional)" % kam.address, fw.events()
    # C (auto-answer: baresip reports no CALL_INCOMING then) is called by A itself: A followed the 302
    up = c.wait({"CALL_ESTABLISHED"}, 10)
    assert up and up["param"].startswith("sip:1002@"), (up, c.log()[-2000:])
    assert a.wait({"CALL_ESTABLISHED"}, 10)
    with Handset(control) as h:
        assert h.ok("state")["ringing"] is False          # tipring's phone never rang
    a.cmd("hangup")
    assert c.wait({"CALL_CLOSED"}, 10)


def test_dnd_declines_with_603_and_the_phone_stays_quiet(rig):
    kam, a, c, fw, control = rig(dnd=True, dnd_response=603)
    a.cmd("dial", "sip:1001@%s" % kam.address)
    closed = a.wait({"CALL_CLOSED"}, 10)
    assert closed and "603" in closed.get("param", ""), closed
    ev = _call(fw, lambda e: e["state"] == "ended")
    assert ev and ev["reason"] == "do not disturb (603 Decline)"
    with Handset(control) as h:
        assert h.ok("state")["ringing"] is False
    assert not [e for e in fw.events() if e["event"] == "call" and e["state"] == "ringing"]


def test_blind_transfer_tipring_is_transferee_and_the_handset_ends_up_talking_to_c(rig):
    kam, a, c, fw, control = rig()
    with Handset(control) as h:
        a.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 10")
        h.ok("offhook")
        assert _call(fw, lambda e: e["state"] == "connected" and e["direction"] == "in"), fw.events()
        assert a.wait({"CALL_ESTABLISHED"}, 10)
        time.sleep(0.8)
        heard = h.ok("listen 400")
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        a.cmd("transfer", "sip:1003@%s" % kam.address)
        up = c.wait({"CALL_ESTABLISHED"}, 10)           # tipring (1001) places the call to C
        assert up and up["param"].startswith("sip:1001@"), (up, c.log()[-2000:])
        out = _call(fw, lambda e: e["state"] == "connected" and e["direction"] == "out" and e["peer"] == "1003")
        assert out, [e for e in fw.events() if e["event"] in ("call", "error")]
        assert a.wait({"CALL_CLOSED"}, 10)
        old = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
        assert old and old["reason"] in ("transferred to 1003", "remote hangup"), old
        time.sleep(1.0)
        heard = h.ok("listen 400")
        assert any(abs(f - 900) <= 15 for f in heard["freqs"]), heard
        assert h.ok("state")["hook"] == "off"
        assert not [e for e in fw.events() if e["event"] == "error"], [e for e in fw.events() if e["event"] == "error"]
        h.ok("onhook")
        assert c.wait({"CALL_CLOSED"}, 10)


@pytest.fixture
def rig_bc(tmp_path):
    """AtaRig: tipring 1001 with the handset, baresip B (1002, 700 Hz) and C (1003, 900 Hz),
    both auto-answer, an RTP tap."""
    if not rtptap.available():
        pytest.skip("no AF_PACKET socket on lo (root or CAP_NET_RAW)")
    r = AtaRig(str(tmp_path), phones=[("1002", B_HZ), ("1003", C_HZ)])
    try:
        yield r
    finally:
        r.stop()


def _b_and_c_talk_without_tipring(rig, since, talked_to):
    """B and C talk to each other with tipring out of it: each hears the other's tone and not
    the handset's (which still says A_HZ), and from tap mark `since` (taken once tipring's
    calls ended) all the RTP B is sent comes from C and all C is sent from B: tipring sends
    neither anything. `talked_to`: the phones tipring itself sent media to before, which the
    tap must have told apart as neither phone (else "only from C" would prove nothing)."""
    for user in talked_to:
        assert [k for k in rig.senders(user) if k not in rig.phones], (user, rig.senders(user))
    heard = rig.listen(settle=1.0, ms=1200)
    _has(rig, heard, "1003", B_HZ)                 # C hears B ...
    _has(rig, heard, "1002", C_HZ)                 # ... and B hears C
    _lacks(rig, heard, "1002", A_HZ)
    _lacks(rig, heard, "1003", A_HZ)
    assert set(rig.senders("1002", since)) == {"1003"}, rig.senders("1002", since)
    assert set(rig.senders("1003", since)) == {"1002"}, rig.senders("1003", since)


def test_handset_blind_transfer_flash_star98(rig_bc):
    """FLOWS §14 with tipring as transferor, from the handset: call B (1002), talk, flash (B
    held), dial *98 1003 -> REFER to B, B calls C (1003) through Kamailio, tipring's call
    ends; B and C talk to each other, audio both ways, tipring sends neither anything."""
    rig = rig_bc
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial *981003# mode=dtmf")
        up = c.wait({"CALL_ESTABLISHED"}, 15)
        assert up and up["param"].startswith("sip:1002@"), (up, c.log()[-1500:])   # B called C
        ended = rig.call_event(since=m, state="ended", peer="1002", timeout=15)
        assert ended, rig.calls_since(m)
        _b_and_c_talk_without_tipring(rig, rig.tap.mark(), talked_to=("1002",))
        h.ok("onhook")
    b.cmd("hangup")
    assert c.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()


def test_handset_attended_transfer_hang_up_joins_b_and_c(rig_bc):
    """FLOWS §15 with tipring as A, from the handset: call B (1002), flash, call C (1003), talk,
    hang up -> REFER with Replaces to C; C calls B, B and C end up in a call of their own:
    audio both ways, tipring sends neither anything."""
    rig = rig_bc
    b, c = rig.phone("1002"), rig.phone("1003")
    with rig.handset() as h:
        talk_to_b_then_c(rig, h)
        m = rig.mark()
        h.ok("onhook")
        ended = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ended = [e for e in rig.calls_since(m) if e["event"] == "call" and e["state"] == "ended"]
            if len(ended) >= 2:
                break
            time.sleep(0.1)
        assert sorted((e["peer"], e["reason"]) for e in ended) == [("1002", "transferred"), ("1003", "transferred")], \
            rig.calls_since(m)
        # C called B with Replaces (baresip 1.0 then treats it as a new call: B and C talk)
        assert "Replaces=" in c.log() and "Call established" in c.log(), c.log()[-1500:]
        _b_and_c_talk_without_tipring(rig, rig.tap.mark(), talked_to=("1002", "1003"))
        assert h.ok("state")["ringing"] is False        # no recall: the transfer went through
    b.cmd("hangup")
    assert c.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()


# -- forwarding switched on from the handset (FLOWS §10, §11) ---------------------------------

def _feature_code(h, fw, digits, key, value):
    """Off-hook, key a feature code: it is applied, saved (`config` event) and confirmed."""
    n = len(fw.events())
    h.ok("offhook")
    assert h.ok("wait tone=dial 5")
    h.ok("dial %s mode=dtmf" % digits)
    ev = fw.wait_event(lambda e: e["event"] == "config" and e.get("action") == "feature", 10, since=n)
    assert ev and ev["key"] == key and ev["value"] == value, fw.events()[n:]
    assert h.ok("wait fxs=dial_tone 5")               # confirmation tone, then dial tone again


def test_star90_forward_on_busy_sends_a_caller_to_the_target_while_the_handset_is_off_hook(rig):
    """*90 1003 on the handset; the handset stays off-hook (the line is busy); baresip A
    (1002) calls tipring's 1001: 302 user-busy, A follows it to C (1003), which answers."""
    kam, a, c, fw, control = rig()
    with Handset(control) as h:
        _feature_code(h, fw, "*901003#", "line.1.forward_busy", "1003")
        n = len(fw.events())
        a.cmd("dial", "sip:1001@%s" % kam.address)
        fwd = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
        assert fwd and fwd["reason"] == "forwarded to sip:1003@%s (user-busy)" % kam.address, fw.events()[n:]
        up = c.wait({"CALL_ESTABLISHED"}, 10)
        assert up and up["param"].startswith("sip:1002@"), (up, c.log()[-2000:])
        assert a.wait({"CALL_ESTABLISHED"}, 10)
        assert h.ok("state")["ringing"] is False
        assert not [e for e in fw.events()[n:] if e["event"] == "call" and e["state"] == "ringing"]
        h.ok("onhook")
        a.cmd("hangup")
        assert c.wait({"CALL_CLOSED"}, 10)
        assert h.ok("wait fxs=on_hook 5")           # on-hook, not a flash: the line is free
    # the line is idle again: a call now rings the handset (forward on busy only)
    with Handset(control) as h:
        a.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 10"), fw.events()[-10:]
        a.cmd("hangup")
        assert h.ok("wait not-ringing 10")


def test_star92_forward_on_no_answer_rings_then_sends_the_caller_to_the_target(rig):
    """*92 1003 on the handset, hang up; baresip A (1002) calls 1001: the handset rings for
    forward_no_answer_s (5 s, the minimum), nobody answers, 302 no-answer: A reaches C."""
    kam, a, c, fw, control = rig(forward_no_answer_s=5)
    with Handset(control) as h:
        _feature_code(h, fw, "*921003#", "line.1.forward_no_answer", "1003")
        h.ok("onhook")
        assert h.ok("wait fxs=on_hook 5")           # on-hook, not a flash: the line is free
        n = len(fw.events())
        a.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 8")
        rang = time.monotonic()
        assert h.ok("wait not-ringing 12"), fw.events()[n:]
        assert time.monotonic() - rang >= 3.5          # it rang for about forward_no_answer_s
        fwd = _call(fw, lambda e: e["state"] == "ended" and e["direction"] == "in")
        assert fwd and fwd["reason"] == "forwarded to sip:1003@%s (no-answer)" % kam.address, fw.events()[n:]
        up = c.wait({"CALL_ESTABLISHED"}, 10)
        assert up and up["param"].startswith("sip:1002@"), (up, c.log()[-2000:])
        assert a.wait({"CALL_ESTABLISHED"}, 10)
        a.cmd("hangup")
        assert c.wait({"CALL_CLOSED"}, 10)
        assert h.ok("state")["ringing"] is False


# -- transfers from the handset that fail (FLOWS §14, §15) -------------------------------------

@pytest.fixture
def rig_b(tmp_path):
    """AtaRig: tipring 1001 with the handset, baresip B (1002, 700 Hz), an RTP tap."""
    if not rtptap.available():
        pytest.skip("no AF_PACKET socket on lo (root or CAP_NET_RAW)")
    r = AtaRig(str(tmp_path), phones=[("1002", B_HZ)])
    try:
        yield r
    finally:
        r.stop()


def _b_again(rig, h, since):
    """The handset talks to B again, audio both ways."""
    assert rig.call_event(since=since, state="connected", peer="1002", timeout=10), rig.calls_since(since)
    assert h.ok("wait fxs=talking 5"), rig.calls_since(since)
    heard = rig.listen(settle=1.0, ms=1200)
    _has(rig, heard, "1002", A_HZ)
    assert _near(h.ok("listen 600")["freqs"], B_HZ)
    assert rig.sources("1002") == (1, 0), rig.sources("1002")


@pytest.mark.parametrize("target", ["unknown", "busy"])
def test_handset_blind_transfer_that_fails_gives_reorder_and_flash_takes_b_back(rig_b, target):
    """Flash, *98 1004: B (baresip) is REFERred to 1004, which is not registered (Kamailio
    404) or busy (SIPp 486); B's NOTIFY says so, the handset hears reorder (`transfer_failed`
    -> flash_reorder) and B stays held; a flash resumes B."""
    rig = rig_b
    b = rig.phone("1002")
    if target == "busy":
        rig.sipp_user("1004", "uas_busy.xml")
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial *981004# mode=dtmf")
        assert h.ok("wait fxs=flash_reorder 10"), rig.calls_since(m)
        states = [(e["was"], e["state"], e["cause"]) for e in rig.calls_since(m) if e["event"] == "line"]
        assert ("flash_collecting", "transferring", "call_feature") in states, states
        assert ("transferring", "flash_reorder", "transfer_failed") in states, states
        assert h.ok("wait tone=congestion 5")
        assert not [e for e in rig.calls_since(m) if e["event"] == "call" and e["state"] == "ended"
                    and e["peer"] == "1002"], rig.calls_since(m)
        n = rig.mark()
        h.ok("flash")
        _b_again(rig, h, n)
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)


def test_handset_attended_transfer_refused_rings_back_and_answering_reclaims_b(rig_b):
    """FLOWS §15 failing: B (baresip) held, the handset talks to C (SIPp 1004, echoes RTP),
    hangs up -> REFER with Replaces to C, which refuses it (603 Declined). The consultation
    call to C ends, the phone rings back (recall), and answering reclaims the held call B:
    audio both ways with B."""
    rig = rig_b
    b = rig.phone("1002")
    c = rig.sipp_user("1004", "uas_refuse_refer.xml",
                      extra=["-mi", "127.0.0.1", "-mp", str(free_media_port()), "-rtp_echo", "-key", "user", "1004"])
    with rig.handset() as h:
        talk_to_b_then_hold(rig, h)
        m = rig.mark()
        h.ok("dial 1004# mode=dtmf")
        assert rig.call_event(since=m, state="connected", peer="1004"), rig.calls_since(m)
        assert h.ok("wait fxs=second_talking 5")
        time.sleep(1.0)
        assert _near(h.ok("listen 600")["freqs"], A_HZ)   # C echoes the handset: that call is up
        n = rig.mark()
        h.ok("onhook")                                  # attended transfer: REFER to C, refused
        assert h.ok("wait ringing 10"), rig.calls_since(n)
        assert "603 Declined" in c.messages(), c.messages()[-1500:]
        states = [(e["was"], e["state"], e["cause"]) for e in rig.calls_since(n) if e["event"] == "line"]
        assert ("on_hook", "recalling", "recall") in states, states
        # the consultation call ends when C answers our BYE, which may come after the ring starts
        assert rig.call_event(since=n, state="ended", peer="1004", timeout=5), rig.calls_since(n)
        ended = [e for e in rig.calls_since(n) if e["event"] == "call" and e["state"] == "ended"]
        assert [(e["peer"], e["reason"]) for e in ended] == [("1004", "transfer failed")], ended
        k = rig.mark()
        h.ok("offhook")
        assert h.ok("wait fxs=talking 5"), rig.calls_since(k)
        assert rig.call_event(since=k, state="connected", peer="1002", timeout=5), rig.calls_since(k)
        heard = rig.listen(settle=1.0, ms=1200)
        _has(rig, heard, "1002", A_HZ)                 # B hears the handset again ...
        got = h.ok("listen 600")["freqs"]
        assert _near(got, B_HZ) and not _near(got, A_HZ), got   # ... and the handset hears B, not C
        h.ok("onhook")
        assert b.wait({"CALL_CLOSED"}, 10)
    assert not rig.errors(), rig.errors()
