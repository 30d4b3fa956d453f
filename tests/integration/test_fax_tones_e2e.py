"""Fax/modem connect tones in a real call (issue 15): spandsp's generator plays them, from
baresip at the far end (through RTP to the earpiece) and from the sim handset's mouthpiece;
the line reports a `fax` event with the tone and its direction and turns its echo canceller
off for the rest of the call (G.164/G.165), through Kamailio."""

import array
import shutil

import pytest

from tipring.firmware.media import t38_gateway
from tipring.board.sim.handset import write_wav
from tests.dsp import dsp_ref as R
from tests.peers.baresip import BaresipPhone
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(R.spandsp() is None, reason="libspandsp not installed")]


def tone_wav(tmp_path, name, lead_s=1.5, dbm0=-20.0):
    """spandsp's `name` tone at `dbm0` after `lead_s` of silence, as a WAV file."""
    pcm = R.spandsp_modem_tone(name, 4.0)
    a = array.array("h", pcm)
    on = [i for i, v in enumerate(a) if v]
    g = 10 ** ((dbm0 - R.dbm0_of(a[on[0]:on[0] + 4000])) / 20.0)
    path = str(tmp_path / ("%s.wav" % name))
    write_wav(path, bytes(int(lead_s * 16000)) + R.pcm([v * g for v in a]))
    return path


def start(tmp_path, **phone):
    kam = Kamailio(str(tmp_path))
    kam.start()
    ph = BaresipPhone(str(tmp_path), "1002", registrar=kam.address, answer="auto", **phone)
    ctl = "127.0.0.1:%d" % free_port()
    fw = RunningFirmware(str(tmp_path), sim_line_config(kam.address, ctl))
    return kam, ph, fw, ctl


def call(fw, ph, h):
    h.ok("offhook")
    assert h.ok("wait tone=dial 5")
    h.ok("dial 1002# mode=dtmf")
    up = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 15)
    assert up, [e for e in fw.events() if e["event"] in ("call", "error")]
    assert ph.wait({"CALL_ESTABLISHED"}, 10)
    return up


def stop(kam, ph, fw):
    fw.stop()
    fw.kill()
    ph.stop()
    kam.stop()


def test_ansam_with_reversals_from_the_far_end_turns_the_canceller_off(tmp_path):
    kam, ph, fw, ctl = start(tmp_path, wav=tone_wav(tmp_path, "ansam_pr"))
    try:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        with Handset(ctl) as h:
            up = call(fw, ph, h)
            fax = fw.wait_event(lambda e: e["event"] == "fax", 10)
            assert fax, [e for e in fw.events() if e["event"] in ("fax", "error")]
            assert (fax["line"], fax["tone"], fax["direction"]) == (1, "ansam", "to_line")
            assert fax["phase_reversals"] is True and fax["echo_canceller"] == "disabled"
            assert fax["call_id"] == up["call_id"]
            # G.711 pass-through: the call's jitter buffer is fixed, no re-INVITE (already PCMU)
            fp = fw.wait_event(lambda e: e["event"] == "fax_passthrough", 5)
            assert fp, [e for e in fw.events() if e["event"] in ("fax", "error")]
            assert (fp["call_id"], fp["jitter_mode"], fp["jitter_target_ms"]) == (up["call_id"], "fixed", 60)
            assert fp["codec"] == "PCMU" and fp["reinvite"] is False
            h.ok("onhook")
        media = fw.wait_event(lambda e: e["event"] == "media" and e["call_id"] == up["call_id"], 10)
        assert media and media["jitter_mode"] == "fixed" and media["jitter_target_ms"] == 60, media
        assert media["received"] > 100
        assert not [e for e in fw.events() if e["event"] == "error" and e.get("where") in ("echo", "fax")]
    finally:
        stop(kam, ph, fw)


def test_cng_from_the_handset_is_reported_from_the_line(tmp_path):
    kam, ph, fw, ctl = start(tmp_path, tone_hz=700)
    try:
        assert fw.wait_event(lambda e: e["event"] == "registered", 10), fw.events()
        cng = tone_wav(tmp_path, "cng", lead_s=0.2)
        with Handset(ctl) as h:
            call(fw, ph, h)
            h.ok("listen 1000")          # a second of the far end's 700 Hz: no connect tone
            assert not [e for e in fw.events() if e["event"] == "fax"]
            h.ok("play %s" % cng)
            fax = fw.wait_event(lambda e: e["event"] == "fax", 10)
            assert fax, [e for e in fw.events() if e["event"] in ("fax", "error")]
            assert (fax["tone"], fax["direction"], fax["echo_canceller"]) == ("cng", "from_line", "disabled")
            h.ok("onhook")
    finally:
        stop(kam, ph, fw)


@pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")
@pytest.mark.skipif(t38_gateway.available() is not None, reason="libspandsp not installed")
def test_audio_and_t38_offer_gets_audio_and_image_port_0_then_t38_only_gets_t38(tmp_path):
    """A fax-capable PBX (SIPp) offers audio + T.38: the image stream is refused with port 0
    (RFC 3264 §6) and the call runs in G.711; its T.38-only re-offer is answered with T.38
    (T.38 Annex D) and the call goes on in T.38 relay (SIPp checks both answers)."""
    from tests.integration.test_call_sipp import Rig, answer_incoming, sipp_ok
    r = Rig(tmp_path)
    try:
        s = r.sipp("call_in_fax_offers.xml", uac=True)
        up = answer_incoming(r)
        sipp_ok(s)
        ended = r.call_event("ended")
        assert ended and ended["reason"] == "remote hangup", r.trail()
        assert [e["state"] for e in r.fw.events() if e["event"] == "call"] == \
            ["ringing", "connected", "ended"]
        media = r.fw.wait_event(lambda e: e["event"] == "media" and e["call_id"] == up["call_id"], 5)
        assert media and media["codec"] == "PCMU", r.trail()
        t38 = r.fw.wait_event(lambda e: e["event"] == "t38" and e["call_id"] == up["call_id"], 5)
        assert t38 and t38["state"] == "started" and t38["peer"].endswith(":4002"), r.trail()
        relay = r.fw.wait_event(lambda e: e["event"] == "media" and e.get("codec") == "T38", 5)
        assert relay and relay["call_id"] == up["call_id"], r.trail()
        r.h.ok("onhook")
    finally:
        r.close()
