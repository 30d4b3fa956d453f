"""Call flows a real far end must produce on demand (FLOWS.md §5, §7-9, §12, §16), played by
SIPp scenarios (tests/peers/sipp/call_*.xml) against the running firmware on the sim board,
driven through its outside faces: the virtual handset (control protocol) and the event log.

Outgoing calls: the line's registrar is the SIPp UAS with `register = false`, so tipring sends
its INVITE straight to SIPp, which plays the far end. Incoming calls: SIPp is the UAC on the
registrar's port, so the ghost-call check sees the INVITE come from "the proxy"."""

import re
import shutil
import time

import pytest

from tests.peers.firmware import RunningFirmware
from tests.peers.handset import Handset
from tests.peers.kamailio import free_media_port, free_port
from tests.peers.sipp import Sipp

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")]

PCAP = "/usr/share/sip-tester/g711a.pcap"


def config(proxy_port, control_port, **line):
    ln = {"port": 1, "user": "1001", "password": "secret1001", "registrar": "127.0.0.1:%d" % proxy_port,
          "domain": "127.0.0.1", "register": False}
    ln.update(line)
    return {"board": {"kind": "sim", "control": "127.0.0.1:%d" % control_port, "country": "us"},
            "sip": {"bind": "127.0.0.1:%d" % free_port()},
            "line": [ln]}


class Rig:
    """A running firmware whose proxy is SIPp's port, and the handset on its line 1."""

    def __init__(self, tmp_path, **line):
        self.tmp = str(tmp_path)
        self.sipp_port = free_port()
        self.control = free_port()
        self.fw = RunningFirmware(self.tmp, config(self.sipp_port, self.control, **line))
        self.sip = self.fw.named("started")[0]["sip"]
        self.h = Handset("127.0.0.1:%d" % self.control)
        self.sipps = []

    def sipp(self, scenario, *extra, port=None, uac=False, name=None):
        args = ["-mi", "127.0.0.1", "-mp", str(free_media_port()), "-timeout", "25s"] + list(extra)
        if uac:
            args = [self.sip, "-s", "1001"] + args
        s = Sipp(self.tmp, scenario, port or self.sipp_port, extra=args, name=name)
        self.sipps.append(s)
        return s

    def dial(self, number="1002#"):
        self.h.ok("offhook")
        assert self.h.ok("wait tone=dial 5")
        self.h.ok("dial %s mode=dtmf" % number)

    def call_event(self, state, since=0, timeout=10):
        return self.fw.wait_event(lambda e: e["event"] == "call" and e["state"] == state, timeout, since)

    def trail(self):
        return [e for e in self.fw.events() if e["event"] in ("call", "error", "media", "line")]

    def close(self):
        self.h.close()
        for s in self.sipps:
            s.stop()
        self.fw.stop(5)
        self.fw.kill()


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(**line):
        r = Rig(tmp_path, **line)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def sipp_ok(s, timeout=20):
    rc = s.wait(timeout)
    assert rc == 0, "sipp %s exit %s\n%s\n%s" % (s.name, rc, s.errors()[-3000:], s.messages()[-3000:])


def requests(s, method):
    return re.findall(r"^%s (\S+) SIP/2.0$" % method, s.messages(), re.M)


# ------------------------------------------------------------------------ outgoing calls

def test_183_early_media_is_heard_instead_of_ringback_then_the_call_connects(rig):
    r = rig()
    s = r.sipp("call_early_media.xml", "-d", "3000")
    r.dial()
    assert r.call_event("early"), r.trail()
    assert r.h.ok("wait fxs=early_media 5")
    time.sleep(0.8)                         # the pcap starts quiet; speech from ~0.6 s
    heard = r.h.ok("listen 1000")
    assert heard["tone"] not in ("ringback", "silence") and heard["level_dbm0"] > -45, heard
    assert r.call_event("connected", timeout=10), r.trail()
    assert r.h.ok("wait fxs=talking 5")
    r.h.ok("onhook")
    sipp_ok(s)
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "local hangup"
    media = r.fw.wait_event(lambda e: e["event"] == "media", 5)
    assert media and media["received"] > 30 and media["codec"] == "PCMA", media
    # never local ringback: the line went dialing -> early_media -> talking
    assert "ringback" not in [e["state"] for e in r.fw.events() if e["event"] == "line"]


def test_183_early_media_then_486_gives_the_busy_tone(rig):
    r = rig()
    s = r.sipp("call_early_busy.xml", "-d", "1500")
    r.dial()
    assert r.call_event("early"), r.trail()
    assert r.h.ok("wait tone=busy 8"), r.trail()
    sipp_ok(s)
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "486 Busy Here"
    r.h.ok("onhook")


@pytest.mark.parametrize("code", [480, 408])
def test_480_or_408_after_ringing_gives_the_congestion_tone(rig, code):
    r = rig()
    s = r.sipp("call_reject_%d.xml" % code, "-d", "1000")
    r.dial()
    assert r.call_event("ringing"), r.trail()
    assert r.h.ok("wait fxs=ringback 5")           # 180 without SDP: local ringback
    assert r.h.ok("wait tone=congestion 8"), r.trail()
    sipp_ok(s)
    ended = r.call_event("ended")
    assert ended and ended["reason"].startswith(str(code))
    r.h.ok("onhook")


def test_no_answer_timer_cancels_487_ack_and_congestion(rig):
    r = rig(no_answer_s=5)
    s = r.sipp("call_no_answer.xml")
    r.dial()
    ringing = r.call_event("ringing")
    assert ringing, r.trail()
    assert r.h.ok("wait fxs=ringback 5")
    assert r.h.ok("wait tone=congestion 10"), r.trail()
    sipp_ok(s)
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "cancelled"
    assert 4.5 <= ended["t"] - ringing["t"] <= 7.0
    assert len(requests(s, "CANCEL")) == 1 and len(requests(s, "ACK")) == 1
    r.h.ok("onhook")


def test_reliable_183_is_pracked_once_through_the_route_set_then_200(rig):
    r = rig()
    s = r.sipp("call_prack.xml")
    r.dial()
    assert r.call_event("early"), r.trail()
    assert r.call_event("connected"), r.trail()
    r.h.ok("onhook")
    sipp_ok(s)
    msgs = s.messages()
    assert len(requests(s, "PRACK")) == 1, msgs
    rack = re.findall(r"^RAck: (.*)$", msgs, re.M)
    assert rack and rack[0].strip().startswith("1 ")
    assert r.call_event("ended")


def test_200_crossing_the_cancel_is_acked_then_ended_with_bye(rig):
    r = rig()
    s = r.sipp("call_cancel_crossing.xml")
    r.dial()
    assert r.call_event("ringing"), r.trail()
    r.h.ok("onhook")                       # the handset gives up: CANCEL, and the 200 crosses it
    sipp_ok(s)
    msgs = s.messages()
    assert requests(s, "ACK") and requests(s, "BYE")
    assert msgs.index("\nACK ") < msgs.index("\nBYE ") and "487 Request Terminated" not in msgs
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "cancelled", r.trail()


# ------------------------------------------------------------------------ incoming calls

def answer_incoming(r):
    assert r.h.ok("wait ringing 10"), r.trail()
    r.h.ok("offhook")
    up = r.call_event("connected")
    assert up and up["direction"] == "in", r.trail()
    return up


def test_legacy_hold_reinvite_c0_is_answered_recvonly_call_stays_up_then_resumes(rig):
    r = rig()
    s = r.sipp("call_in_hold.xml", uac=True)
    answer_incoming(r)
    n = len(r.fw.events())
    held = r.call_event("held", since=n)
    assert held, r.trail()
    back = r.fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 10,
                           r.fw.events().index(held))
    assert back, r.trail()
    sipp_ok(s)                             # SIPp checked both answers' SDP (recvonly|inactive, sendrecv)
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "remote hangup"
    assert [e["state"] for e in r.fw.events() if e["event"] == "call"] == \
        ["ringing", "connected", "held", "connected", "ended"]
    r.h.ok("onhook")


def test_update_with_sdp_in_a_call_is_answered_200_with_sdp(rig):
    r = rig()
    s = r.sipp("call_in_update.xml", uac=True)
    answer_incoming(r)
    sipp_ok(s)                             # SIPp checked the 200's SDP answer (PCMU, sendrecv)
    assert "\nSIP/2.0 200 OK" in s.messages() and requests(s, "UPDATE")
    ended = r.call_event("ended")
    assert ended and ended["reason"] == "remote hangup"
    assert not r.fw.named("error"), r.fw.named("error")
    r.h.ok("onhook")


def test_ghost_invite_from_another_port_gets_403_and_does_not_ring(rig):
    r = rig()
    s = r.sipp("call_in_ghost.xml", uac=True, port=free_port())   # not the proxy's port
    sipp_ok(s)
    assert "SIP/2.0 403" in s.messages()
    err = r.fw.wait_event(lambda e: e["event"] == "error" and "ghost" in e["message"], 5)
    assert err and err["where"] == "calls", r.trail()
    st = r.h.ok("state")
    assert not st["ringing"] and st["rings"] == 0, st
    assert not r.fw.named("call")


def _stamps(messages, start):
    """Times (s of day) of the messages in a SIPp message log whose first line starts with `start`."""
    out = []
    for block in messages.split("-" * 47 + " ")[1:]:
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if len(lines) > 2 and lines[2].startswith(start):
            hh, mm, ss = lines[0].split()[1].split(":")
            out.append(int(hh) * 3600 + int(mm) * 60 + float(ss))
    return out


def _glare(tmp_path, scenario, outgoing):
    """Run a glare scenario against the firmware in a thread (tests/sim/helpers.Running): the
    re-INVITE is triggered in-process through `CallManager.reinvite`, which no outside face
    offers yet. Returns SIPp's message log."""
    from tests.sim.helpers import Running
    proxy = free_port()
    run = Running(lines=[{"port": 1, "user": "1001", "registrar": "127.0.0.1:%d" % proxy, "domain": "127.0.0.1"}])
    h = s = None
    try:
        extra = ["-mi", "127.0.0.1", "-mp", str(free_media_port()), "-timeout", "25s"]
        if not outgoing:
            extra = ["%s:%d" % run.fw.sip.address, "-s", "1001"] + extra
        s = Sipp(str(tmp_path), scenario, proxy, extra=extra)
        h = Handset("%s:%d" % run.addr)
        if outgoing:
            h.ok("offhook")
            assert h.ok("wait tone=dial 5")
            h.ok("dial 1002# mode=dtmf")
        else:
            assert h.ok("wait ringing 10")
            h.ok("offhook")
        up = run.wait_event(lambda n, f: n == "call" and f["state"] == "connected", 10)
        assert up, run.events
        time.sleep(0.3)                    # the ACK is through
        run.call(lambda: run.fw.do(run.fw.calls_mgr.reinvite(1, run.fw.loop.now())))
        if outgoing:
            # the retry comes 2.1-4 s later; hang up once it is answered
            end = time.monotonic() + 8
            while time.monotonic() < end and s.messages().count("\nACK sip:1002@") < 3:
                time.sleep(0.1)
            h.ok("onhook")
        sipp_ok(s)
        assert run.wait_event(lambda n, f: n == "call" and f["state"] == "ended", 5)
        assert not [f for n, f in run.events if n == "error"], run.events
        return s.messages()
    finally:
        if h is not None:
            h.close()
        if s is not None:
            s.stop()
        run.stop()
        run.fw.close()


def _glare_checks(msgs, tipring_invite):
    """Two 491s (one each way), tipring's re-INVITE retried with a new CSeq; the retry delay."""
    assert msgs.count("SIP/2.0 491 Request Pending") == 2, msgs
    blocks = [b for b in msgs.split("-" * 47 + " ") if "\n" + tipring_invite in b]
    assert len(blocks) == 2, msgs          # the first re-INVITE and its retry
    cseqs = [int(re.search(r"\nCSeq: (\d+) INVITE", b).group(1)) for b in blocks]
    assert cseqs[1] > cseqs[0], cseqs
    return _stamps(msgs, tipring_invite)[1] - _stamps(msgs, "SIP/2.0 491")[-1]


def test_reinvite_glare_on_an_incoming_call_491_both_ways_retry_in_0_to_2_s(tmp_path):
    """tipring's re-INVITE crosses SIPp's: tipring answers SIPp's with 491, takes SIPp's 491
    for its own, and retries from its loop timers after 0-2 s (SIPp chose the Call-ID)."""
    msgs = _glare(tmp_path, "call_in_glare.xml", outgoing=False)
    delay = _glare_checks(msgs, "INVITE sip:2002@")
    assert 0.0 <= delay <= 2.3, delay


def test_reinvite_glare_on_an_outgoing_call_retries_in_2_1_to_4_s(tmp_path):
    """The same on a call tipring made: it chose the Call-ID, so it waits 2.1-4 s."""
    msgs = _glare(tmp_path, "call_out_glare.xml", outgoing=True)
    delay = _glare_checks(msgs, "INVITE sip:1002@127.0.0.1:")   # to SIPp's Contact: in-dialog
    assert 2.0 <= delay <= 4.3, delay


def test_require_100rel_gets_a_reliable_180_the_prack_200_then_the_answer(rig):
    r = rig()
    s = r.sipp("call_in_prack.xml", uac=True)
    answer_incoming(r)
    sipp_ok(s)                             # SIPp checked Require/RSeq on the 180 and the two 200s
    msgs = s.messages()
    assert msgs.index("CSeq: 2 PRACK") < msgs.rindex("CSeq: 1 INVITE")
    assert r.call_event("ended")
    assert not r.fw.named("error"), r.fw.named("error")
    r.h.ok("onhook")


def test_require_100rel_on_a_line_with_prack_off_gets_420_unsupported(rig):
    r = rig(prack=False)
    s = r.sipp("call_in_100rel_refused.xml", uac=True)
    sipp_ok(s)
    assert "Unsupported: 100rel" in s.messages()
    st = r.h.ok("state")
    assert not st["ringing"] and st["rings"] == 0, st
