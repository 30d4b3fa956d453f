"""SRTP keyed by SDES (line.N.srtp; RFC 3711, RFC 4568) against a real baresip with its srtp
module, through a real Kamailio, driven from the sim board's handset: audio heard both ways,
while what an eavesdropper on the wire decodes as G.711 carries no tone; the same rig with
plain RTP shows the tone on the wire, so the check means something. Then the refusals: a line
that requires SRTP and a phone that has none."""

import shutil
import time

import pytest

from tests.peers import rtptap
from tests.peers.ata_rig import AtaRig
from tests.peers.baresip import dominant, read_wav, tone_share

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(), reason="the RTP tap needs CAP_NET_RAW"),
              pytest.mark.skipif(not __import__("importlib").util.find_spec("pylibsrtp"),
                                 reason="pylibsrtp not installed")]

TIPRING_RTP = range(16384, 32768, 2)      # app.py's RTP ports (even; RTCP on the odd ones)
PHONE_HZ, HANDSET_HZ = 700, 1000
NOISE = 0.05     # a sine alone has a share ~1; a G.711 decoding of ciphertext ~1/400 per bin


def wire(rig, user, secs=1.2):
    """What the wire carried, decoded as G.711 as an eavesdropper would, over `secs` s:
    (to the phone, to tipring), each (samples, 8000)."""
    m = rig.tap.mark()
    time.sleep(secs)
    # toward tipring: only what this phone sent (the port range is shared with any other
    # tipring on the machine, e.g. another test run at the same time)
    mine = set(rig.rtp_ports(user))
    back = [b for p in rig.tap.since(m, TIPRING_RTP) if p[1] in mine for b in _g711(p)]
    return rig.tap.pcm(m, rig.rtp_ports(user)), (back, 8000)


def _g711(p):
    table = rtptap.DECODE[p[3]]
    return [table[b] for b in p[8]]


def share(heard, hz):
    x, rate = heard
    assert len(x) > 4000, "the tap saw %d samples" % len(x)
    return tone_share(x, rate, hz, min_rms=0.0)[0]


def media_event(rig):
    ev = rig.fw.wait_event(lambda e: e["event"] == "media", 10)
    assert ev, rig.fw.events()
    return ev


def call_out(rig, h, number="1002"):
    h.ok("offhook")
    assert h.ok("wait tone=dial 5")
    h.ok("dial %s# mode=dtmf" % number)


def recorded_tone(phone):
    rec = phone.recordings("dec")
    assert rec, "baresip wrote no recording: " + phone.log()[-1500:]
    samples, rate = read_wav(rec[-1])
    return dominant(samples[len(samples) // 2:], rate)


@pytest.mark.parametrize("line_mode, mediaenc", [("optional", "srtp"), ("required", "srtp-mand")])
def test_handset_calls_baresip_over_srtp_heard_both_ways_and_not_on_the_wire(tmp_path, line_mode, mediaenc):
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ)], record=True, mediaenc=mediaenc,
                srtp=line_mode) as rig:
        rig.tap.add_ports(TIPRING_RTP)
        phone = rig.phone("1002")
        with rig.handset() as h:
            call_out(rig, h)
            assert rig.call_event(state="connected", direction="out"), rig.calls_since()
            assert phone.wait({"CALL_ESTABLISHED"}, 10)
            h.ok("say %d" % HANDSET_HZ)
            time.sleep(1.5)
            heard = h.ok("listen 600")
            assert any(abs(f - PHONE_HZ) <= 15 for f in heard["freqs"]), heard
            to_phone, to_tipring = wire(rig, "1002")
            h.ok("onhook")
            assert phone.wait({"CALL_CLOSED"}, 10)
        ev = media_event(rig)
        assert ev["srtp"].startswith("AES_CM_128_HMAC_SHA1_") and ev["srtp_auth_failed"] == 0, ev
        assert ev["received"] > 50 and ev["sent"] > 50, ev
        assert abs(recorded_tone(phone) - HANDSET_HZ) <= 15
        assert share(to_phone, HANDSET_HZ) < NOISE and share(to_tipring, PHONE_HZ) < NOISE
        assert "SRTP is Enabled" in phone.log() and "failed to decrypt" not in phone.log()


def test_baresip_calls_a_required_line_over_srtp_both_ways(tmp_path):
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ)], record=True, mediaenc="srtp-mand",
                srtp="required") as rig:
        rig.tap.add_ports(TIPRING_RTP)
        phone = rig.phone("1002")
        with rig.handset() as h:
            phone.cmd("dial", "sip:1001@%s" % rig.domain)
            assert h.ok("wait ringing 10")
            h.ok("offhook")
            assert rig.call_event(state="connected", direction="in"), rig.calls_since()
            assert phone.wait({"CALL_ESTABLISHED"}, 10)
            h.ok("say %d" % HANDSET_HZ)
            time.sleep(1.5)
            heard = h.ok("listen 600")
            assert any(abs(f - PHONE_HZ) <= 15 for f in heard["freqs"]), heard
            to_phone, to_tipring = wire(rig, "1002")
            phone.cmd("hangup")
            assert rig.call_event(state="ended", direction="in")
            h.ok("onhook")
        ev = media_event(rig)
        assert ev["srtp"].startswith("AES_CM_128_HMAC_SHA1_") and ev["srtp_auth_failed"] == 0, ev
        assert abs(recorded_tone(phone) - HANDSET_HZ) <= 15
        assert share(to_phone, HANDSET_HZ) < NOISE and share(to_tipring, PHONE_HZ) < NOISE
        assert "SRTP is Enabled" in phone.log() and "failed to decrypt" not in phone.log()


def test_optional_line_and_plain_phone_talk_plain_rtp_and_the_tone_is_on_the_wire(tmp_path):
    """The control for the checks above: without SRTP the eavesdropper hears both tones."""
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ)], srtp="optional") as rig:
        rig.tap.add_ports(TIPRING_RTP)
        phone = rig.phone("1002")
        with rig.handset() as h:
            call_out(rig, h)
            assert rig.call_event(state="connected", direction="out"), rig.calls_since()
            assert phone.wait({"CALL_ESTABLISHED"}, 10)
            h.ok("say %d" % HANDSET_HZ)
            time.sleep(1.5)
            assert any(abs(f - PHONE_HZ) <= 15 for f in h.ok("listen 600")["freqs"])
            to_phone, to_tipring = wire(rig, "1002")
            h.ok("onhook")
        ev = media_event(rig)
        assert "srtp" not in ev, ev
        assert share(to_phone, HANDSET_HZ) > 0.5 and share(to_tipring, PHONE_HZ) > 0.5


def test_required_line_and_plain_phone_refuse_each_other_cleanly(tmp_path):
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ)], srtp="required") as rig:
        phone = rig.phone("1002")
        with rig.handset() as h:
            # out: the plain phone cannot take RTP/SAVP; the handset hears reorder
            call_out(rig, h)
            ended = rig.call_event(state="ended", direction="out")
            assert ended and ended["reason"].startswith("488"), rig.calls_since()
            assert h.ok("wait tone=congestion 5") or h.ok("wait tone=busy 1"), h.ok("state")
            mark = rig.mark()
            h.ok("onhook")
            assert rig.fw.wait_event(lambda e: e["event"] == "line" and e["state"] == "on_hook", 5, mark)
            time.sleep(0.5)                  # past the hook debounce: not "busy" any more
            # in: tipring answers 488 and the handset never rings
            mark = rig.mark()
            phone.cmd("dial", "sip:1001@%s" % rig.domain)
            ended = rig.call_event(since=mark, state="ended", direction="in")
            assert ended and "SRTP required" in ended["reason"], rig.calls_since(mark)
            assert phone.wait({"CALL_CLOSED"}, 10)
            assert not h.ok("state")["ringing"] and h.ok("state")["rings"] == 0
        assert not rig.errors(), rig.errors()
        assert "488" in phone.log()


def test_hold_and_resume_keep_srtp_working(tmp_path):
    """Flash holds (sendonly re-INVITE, the same keys offered again) and flash resumes: the
    far end's audio comes back through the same SRTP contexts, no packet fails."""
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ)], mediaenc="srtp", srtp="optional") as rig:
        rig.tap.add_ports(TIPRING_RTP)
        phone = rig.phone("1002")
        with rig.handset() as h:
            call_out(rig, h)
            assert rig.call_event(state="connected", direction="out"), rig.calls_since()
            assert phone.wait({"CALL_ESTABLISHED"}, 10)
            time.sleep(1.0)
            assert any(abs(f - PHONE_HZ) <= 15 for f in h.ok("listen 600")["freqs"])
            mark = rig.mark()
            h.ok("flash")
            assert rig.call_event(since=mark, state="held"), rig.calls_since(mark)
            assert h.ok("wait fxs=flash_dial 5")
            mark = rig.mark()
            h.ok("flash")
            assert rig.call_event(since=mark, state="connected"), rig.calls_since(mark)
            h.ok("say %d" % HANDSET_HZ)
            time.sleep(1.0)
            assert any(abs(f - PHONE_HZ) <= 15 for f in h.ok("listen 600")["freqs"])
            to_phone, to_tipring = wire(rig, "1002")
            assert len(to_phone[0]) > 4000 and share(to_phone, HANDSET_HZ) < NOISE
            h.ok("onhook")
        ev = media_event(rig)
        assert ev["srtp"] and ev["srtp_auth_failed"] == 0 and ev["srtp_replayed"] == 0, ev
        # baresip checked every packet we sent, before and after the hold
        assert "SRTP is Enabled" in phone.log() and "failed to decrypt" not in phone.log()


def test_call_waiting_swaps_carry_the_srtp_contexts(tmp_path):
    """1002 calls in, then 1003 (call waiting); flash swaps to 1003 and back to 1002. The call
    we hold keeps its RTP stream (sent the hold music or silence) and the one we resume goes
    on in it, the same RTP source with the same SRTP contexts, so neither baresip nor tipring
    rejects a packet and the handset hears each party in turn."""
    with AtaRig(str(tmp_path), phones=[("1002", PHONE_HZ), ("1003", 900)], mediaenc="srtp",
                srtp="optional") as rig:
        b, c = rig.phone("1002"), rig.phone("1003")
        with rig.handset() as h:
            b.cmd("dial", "sip:1001@%s" % rig.domain)
            assert h.ok("wait ringing 8")
            h.ok("offhook")
            assert rig.call_event(state="connected", peer="1002"), rig.calls_since()
            assert b.wait({"CALL_ESTABLISHED"}, 8)
            c.cmd("dial", "sip:1001@%s" % rig.domain)
            assert h.ok("wait fxs=waiting 8"), rig.calls_since()
            time.sleep(1.5)
            for peer, hz in (("1003", 900), ("1002", PHONE_HZ)):
                mark = rig.mark()
                h.ok("flash")
                assert rig.call_event(since=mark, state="connected", peer=peer), rig.calls_since(mark)
                time.sleep(1.0)
                heard = h.ok("listen 600")
                assert any(abs(f - hz) <= 15 for f in heard["freqs"]), (peer, heard)
            h.ok("onhook")
            c.cmd("hangup")
        # a call held across the swaps keeps its stream: each call's one `media` event comes
        # when it ends
        ids = {e["call_id"] for e in rig.calls_since() if e["event"] == "call" and e.get("call_id")}
        for call_id in ids:
            assert rig.fw.wait_event(lambda e: e["event"] == "media" and e["call_id"] == call_id, 10), call_id
        media = [e for e in rig.fw.events() if e["event"] == "media"]
        assert len(media) == len(ids) == 2 and all(e["srtp"] and e["srtp_auth_failed"] == 0 and e["srtp_replayed"] == 0
                             for e in media), media
        for p in (b, c):
            assert "SRTP is Enabled" in p.log() and "failed to decrypt" not in p.log(), p.log()[-1500:]
        assert not rig.errors(), rig.errors()
