"""Fax through two ATAs (issue 15): two tipring instances, each on its own sim board, registered
as 1001 and 1002 on one Kamailio, call each other. One handset plays a fax tone that spandsp's
modem_connect_tones_tx generated (CNG from the calling fax, CED from the answering one); it
crosses ATA A's line, A's RTP, B's jitter buffer and B's line into B's earpiece. Both ATAs must
see it (`fax` from_line on the sending side, to_line on the receiving side), both must go to
G.711 pass-through (`fax_passthrough`: fixed jitter buffer, echo canceller off), and the tone
recorded at the far handset must still be the tone for spandsp's own detector (the G.711 path
kept it recognisable). Bounded: each test runs in well under a minute."""

import array
import os
import shutil

import pytest

from tipring.board.sim.handset import read_wav, write_wav
from tests.dsp import dsp_ref as R
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("kamailio"),
                                 reason="kamailio not installed (tools/setup --test)"),
              pytest.mark.skipif(R.spandsp() is None, reason="libspandsp not installed")]

CNG = 1        # spandsp MODEM_CONNECT_TONES_FAX_CNG
CED = 2        # spandsp MODEM_CONNECT_TONES_ANS (the 2100 Hz CED of a fax answering)


def tone_wav(tmp_path, name, seconds=4.0, lead_s=0.2, dbm0=-15.0):
    """spandsp's `name` tone, `seconds` long at `dbm0`, after `lead_s` of silence, as a WAV."""
    pcm = R.spandsp_modem_tone(name, seconds)
    a = array.array("h", pcm)
    on = [i for i, v in enumerate(a) if v]
    g = 10 ** ((dbm0 - R.dbm0_of(a[on[0]:on[0] + 4000])) / 20.0)
    path = str(tmp_path / ("%s.wav" % name))
    write_wav(path, bytes(int(lead_s * 16000)) + R.pcm([v * g for v in a]))
    return path


class TwoAtas:
    """Kamailio, ATA A (1001) and ATA B (1002), each with its handset's control address."""

    def __init__(self, tmp_path, **line_keys):
        """`line_keys`: more [[line]] keys for both ATAs (e.g. fax="passthrough")."""
        self.kam = Kamailio(str(tmp_path))
        self.fws = []
        self.kam.start()
        try:
            self.ctl_a = "127.0.0.1:%d" % free_port()
            self.ctl_b = "127.0.0.1:%d" % free_port()
            self.a = self._fw(tmp_path, "ata-a", sim_line_config(self.kam.address, self.ctl_a, **line_keys))
            self.b = self._fw(tmp_path, "ata-b", sim_line_config(self.kam.address, self.ctl_b, user="1002",
                                                                  password="secret1002", **line_keys))
            for fw in self.fws:
                assert fw.wait_event(lambda e: e["event"] == "registered", 15), fw.events()
        except BaseException:
            self.stop()
            raise

    def _fw(self, tmp_path, name, cfg):
        fw = RunningFirmware(str(tmp_path), cfg, name=name)
        self.fws.append(fw)
        return fw

    def connect(self, ha, hb):
        """A's handset dials 1002, B's handset answers: (A's and B's `call` connected events)."""
        ha.ok("offhook")
        assert ha.ok("wait tone=dial 5")
        ha.ok("dial 1002# mode=dtmf")
        assert hb.ok("wait ringing 10"), self.b.events()
        hb.ok("offhook")
        up = [fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 10)
              for fw in (self.a, self.b)]
        assert all(up), [self.a.events(), self.b.events()]
        return up

    def stop(self):
        for fw in self.fws:
            try:
                fw.stop()
            finally:
                fw.kill()
        self.fws = []
        self.kam.stop()


def fax_events(fw, call_id):
    fax = fw.wait_event(lambda e: e["event"] == "fax" and e["call_id"] == call_id, 10)
    fp = fw.wait_event(lambda e: e["event"] == "fax_passthrough" and e["call_id"] == call_id, 10)
    assert fax and fp, [e for e in fw.events() if e["event"] in ("fax", "fax_passthrough", "error")]
    return fax, fp


def through_two_atas(tmp_path, tone, code, reported, sender):
    """`sender` ("a" or "b") plays spandsp's `tone`; the other handset records its earpiece;
    both lines must report it as `reported`."""
    rig = TwoAtas(tmp_path, fax="passthrough")   # these tones prove the G.711 path
    rec = str(tmp_path / ("heard-%s.wav" % tone))
    try:
        with Handset(rig.ctl_a) as ha, Handset(rig.ctl_b) as hb:
            up_a, up_b = rig.connect(ha, hb)
            play, hear = (ha, hb) if sender == "a" else (hb, ha)
            src, dst = (rig.a, rig.b) if sender == "a" else (rig.b, rig.a)
            up_src, up_dst = (up_a, up_b) if sender == "a" else (up_b, up_a)
            hear.send(("record %s 4500\n" % rec).encode())
            play.ok("play %s" % tone_wav(tmp_path, tone))
            reply = hear.read(15)
            assert reply.get("ok"), reply
            f_src, p_src = fax_events(src, up_src["call_id"])
            f_dst, p_dst = fax_events(dst, up_dst["call_id"])
            assert (f_src["tone"], f_src["direction"]) == (reported, "from_line"), f_src
            assert (f_dst["tone"], f_dst["direction"]) == (reported, "to_line"), f_dst
            for f in (f_src, f_dst):
                assert f["echo_canceller"] == "disabled", f
            for p in (p_src, p_dst):
                assert (p["jitter_mode"], p["jitter_target_ms"], p["codec"]) == ("fixed", 60, "PCMU"), p
                assert p["reinvite"] is False, p          # already G.711: no re-INVITE needed
            ha.ok("onhook")
            hb.ok("onhook")
        heard = read_wav(rec)
        assert len(heard) >= 16000 * 3, len(heard)
        assert code in R.spandsp_modem_tone_rx(heard, tone), "spandsp did not recognise the %s" % tone
        for fw in (rig.a, rig.b):
            media = fw.wait_event(lambda e: e["event"] == "media", 10)
            assert media and media["jitter_mode"] == "fixed", media
            assert not [e for e in fw.events() if e["event"] == "error" and e.get("where") in ("echo", "fax")]
    finally:
        rig.stop()
        if os.path.exists(rec):
            os.unlink(rec)


def test_cng_from_the_calling_fax_crosses_two_atas(tmp_path):
    through_two_atas(tmp_path, "cng", CNG, "cng", sender="a")


def test_ced_from_the_answering_fax_crosses_two_atas(tmp_path):
    through_two_atas(tmp_path, "ans", CED, "ced", sender="b")
