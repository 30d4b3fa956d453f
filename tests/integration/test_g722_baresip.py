"""A G.722 call both ways through a real Kamailio to a real baresip (its g722.so, full 16 kHz
QMF), with tipring's line asking for `codecs = "g722,pcmu,pcma"`: the negotiated codec, audio
heard both ways, and on the wire (tests/peers/rtptap.py) PT 9 packets of 160 octets whose
timestamps move 160 per 20 ms, the RFC 3551 §4.5.2 clock-rate quirk."""

import shutil
import time

import pytest

from tests.peers import rtptap
from tests.peers.baresip import BaresipPhone, dominant, read_wav
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytest.importorskip("G722")

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(),
                                 reason="no AF_PACKET socket on lo (root or CAP_NET_RAW)")]


@pytest.fixture
def rig(tmp_path):
    kam = Kamailio(str(tmp_path))
    kam.start()
    phone = BaresipPhone(str(tmp_path), "1002", registrar=kam.address, answer="auto", record=True,
                         tone_hz=700, codecs="G722/16000/1,PCMU")  # baresip names it by audio rate
    tap = rtptap.RtpTap(range(*phone.rtp_ports))      # what tipring sends to baresip
    ctl = free_port()
    fw = RunningFirmware(str(tmp_path), sim_line_config(kam.address, "127.0.0.1:%d" % ctl,
                                                        codecs="g722,pcmu,pcma"))
    try:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        yield kam, phone, fw, tap, "127.0.0.1:%d" % ctl
    finally:
        tap.stop()
        fw.stop()
        fw.kill()
        phone.stop()
        kam.stop()


def _call_state(fw, state, direction, timeout=15):
    return fw.wait_event(lambda e: e["event"] == "call" and e["state"] == state
                         and e["direction"] == direction, timeout)


def _check_wire(tap):
    """tipring's packets to baresip: G.722 only, 20 ms of it each, the 8000 Hz clock."""
    sent = [p for p in tap.since() if p[3] == 9]
    assert len(sent) > 50, "no G.722 packets to baresip"
    assert {p[3] for p in tap.since()} == {9}              # no G.711 sneaked in
    assert {len(p[8]) for p in sent} == {160}              # 320 samples of 16 kHz at 4 bits
    by_ssrc = {}
    for p in sent:
        by_ssrc.setdefault(p[7], []).append(p)
    for pkts in by_ssrc.values():
        steps = [((q[6] - p[6]) & 0xFFFFFFFF, (q[5] - p[5]) & 0xFFFF)
                 for p, q in zip(pkts, pkts[1:])]
        # in sequence order each step is 160 ticks (a gap of n packets is n * 160)
        assert all(ts == 160 * seq for ts, seq in steps if seq), steps[:10]
        assert sum(1 for ts, seq in steps if seq == 1 and ts == 160) > 0.9 * len(steps)
    return sent


def test_handset_calls_baresip_in_g722_with_audio_both_ways(rig):
    kam, phone, fw, tap, control = rig
    with Handset(control) as h:
        h.ok("offhook")
        assert h.ok("wait tone=dial 5")
        h.ok("dial 1002# mode=dtmf")
        assert _call_state(fw, "connected", "out"), [e for e in fw.events()
                                                     if e["event"] in ("call", "error")]
        assert phone.wait({"CALL_ESTABLISHED"}, 10)
        h.ok("say 1000")
        time.sleep(1.5)
        heard = h.ok("listen 600")                          # baresip's 700 Hz, via G.722
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        time.sleep(0.5)
        h.ok("onhook")
        assert phone.wait({"CALL_CLOSED"}, 10)
        assert _call_state(fw, "ended", "out")
    media = [e for e in fw.events() if e["event"] == "media"]
    assert media and media[0]["codec"] == "G722", media
    log = phone.log()
    assert "Set audio encoder: G722 16000Hz" in log and "Set audio decoder: G722 16000Hz" in log, log
    assert media[0]["received"] > 50 and media[0]["sent"] > 50
    # baresip decoded our 1000 Hz with its wideband decoder (its recording is at 16 kHz)
    rec = phone.recordings("dec")
    assert rec, "baresip wrote no recording"
    samples, rate = read_wav(rec[-1])
    assert rate == 16000, rate
    assert abs(dominant(samples[len(samples) // 2:], rate) - 1000) <= 15
    # and on the wire: PT 9, 160 octets, timestamps + 160; the audio decodes to our tone
    sent = _check_wire(tap)
    pcm, prate = tap.pcm()
    assert abs(dominant(pcm[len(pcm) // 2:], prate) - 1000) <= 15
    assert len(sent) * 160 == len(pcm)                      # 160 line samples per packet


def test_baresip_calls_the_handset_and_tipring_answers_g722(rig):
    kam, phone, fw, tap, control = rig
    with Handset(control) as h:
        phone.cmd("dial", "sip:1001@%s" % kam.address)
        assert h.ok("wait ringing 10")
        h.ok("offhook")
        assert _call_state(fw, "connected", "in"), fw.events()
        assert phone.wait({"CALL_ESTABLISHED"}, 10)
        h.ok("say 1000")
        time.sleep(1.5)
        heard = h.ok("listen 600")
        assert any(abs(f - 700) <= 15 for f in heard["freqs"]), heard
        phone.cmd("hangup")
        assert _call_state(fw, "ended", "in")
        h.ok("onhook")
    media = [e for e in fw.events() if e["event"] == "media"]
    assert media and media[0]["codec"] == "G722", media
    _check_wire(tap)
    pcm, prate = tap.pcm()
    assert abs(dominant(pcm[len(pcm) // 2:], prate) - 1000) <= 15
