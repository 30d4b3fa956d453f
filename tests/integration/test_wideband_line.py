"""16 kHz on the line (issue 15): a board whose line runs at 16 kHz carries a G.722 call
wideband end to end, through a real Kamailio to a real baresip (its g722.so, full QMF).

- tipring's handset says 7 kHz, which only a wideband line and codec can carry: baresip's
  recording (16 kHz) and the G.722 on the wire (decoded here with the full QMF) hold 7 kHz;
- baresip's 6 kHz sine reaches the handset's earpiece at 6 kHz;
- the same board line with G.711 is a narrowband call on a wideband line: 1 kHz crosses both
  ways, and DTMF dialling through the line's detector (8 kHz, after the decimator) works;
- the default 8 kHz sim line stops baresip's 6 kHz in G.722 (the codec's 8 kHz mode keeps
  only the lower sub-band): what "where the board allows" means.
The board is the shipped sim board with `rate = 16000` on line 1, written to the test's
directory and named by path in `[board] kind`."""

import shutil
import time

import pytest

from tests.peers import rtptap
from tests.peers.baresip import BaresipPhone, dominant, read_wav, tone_share
from tests.peers.firmware import RunningFirmware, sim_board_file, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio, free_port

pytest.importorskip("G722")

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(),
                                 reason="no AF_PACKET socket on lo (root or CAP_NET_RAW)")]

class Rig:
    def __init__(self, tmp_path, board, tipring_codecs, baresip_codecs, tone_hz):
        self.kam = Kamailio(str(tmp_path))
        self.kam.start()
        self.phone = self.fw = self.tap = None
        try:
            self.phone = BaresipPhone(str(tmp_path), "1002", registrar=self.kam.address, answer="auto",
                                      record=True, tone_hz=tone_hz, codecs=baresip_codecs)
            self.tap = rtptap.RtpTap(range(*self.phone.rtp_ports))     # what tipring sends
            self.control = "127.0.0.1:%d" % free_port()
            cfg = sim_line_config(self.kam.address, self.control, codecs=tipring_codecs)
            if board is not None:
                cfg["board"]["kind"] = board
            self.fw = RunningFirmware(str(tmp_path), cfg)
            assert self.fw.wait_event(lambda e: e["event"] == "registered", 10), self.fw.events()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for part in (self.tap, self.fw, self.phone, self.kam):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        if self.fw is not None:
            self.fw.kill()

    def call(self, h, say_hz):
        """Off-hook, DTMF-dial 1002, talk: returns what the earpiece heard over 600 ms."""
        h.ok("offhook")
        assert h.ok("wait tone=dial 5")
        h.ok("dial 1002# mode=dtmf")
        assert self.fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 15), \
            [e for e in self.fw.events() if e["event"] in ("call", "error")]
        assert self.phone.wait({"CALL_ESTABLISHED"}, 10)
        h.ok("say %d" % say_hz)
        time.sleep(1.5)
        heard = h.ok("listen 600")
        time.sleep(0.5)
        h.ok("onhook")
        assert self.phone.wait({"CALL_CLOSED"}, 10)
        return heard

    def media(self):
        media = [e for e in self.fw.events() if e["event"] == "media"]
        assert media, self.fw.events()
        return media[0]

    def baresip_heard(self):
        rec = self.phone.recordings("dec")
        assert rec, "baresip wrote no recording"
        return read_wav(rec[-1])


@pytest.fixture
def rigs(tmp_path):
    made = []

    def make(*args):
        made.append(Rig(tmp_path, *args))
        return made[-1]
    yield make
    for r in made:
        r.stop()


def test_g722_on_a_16_khz_line_carries_7_khz_out_and_6_khz_in(tmp_path, rigs):
    rig = rigs(sim_board_file(tmp_path), "g722,pcmu", "G722/16000/1,PCMU", 6000)
    with Handset(rig.control) as h:
        heard = rig.call(h, 7000)
    assert rig.media()["codec"] == "G722"
    assert any(abs(f - 6000) <= 20 for f in heard["freqs"]), heard        # baresip's 6 kHz, in
    samples, rate = rig.baresip_heard()
    assert rate == 16000
    mid = samples[len(samples) // 3:]
    assert abs(dominant(mid, rate, lo=200, hi=7900) - 7000) <= 20           # our 7 kHz, out
    share, blocks = tone_share(mid, rate, 7000)
    assert blocks > 5 and share > 0.8, (share, blocks)
    pcm, prate = rig.tap.pcm(rate=16000)                                    # and on the wire
    assert prate == 16000
    share, blocks = tone_share(pcm[len(pcm) // 3:], prate, 7000)
    assert blocks > 5 and share > 0.8, (share, blocks)


def test_g711_on_a_16_khz_line_is_a_narrowband_call_both_ways(tmp_path, rigs):
    rig = rigs(sim_board_file(tmp_path), "pcmu", "PCMU", 1000)
    with Handset(rig.control) as h:
        heard = rig.call(h, 1500)
    assert rig.media()["codec"] == "PCMU"
    assert any(abs(f - 1000) <= 15 for f in heard["freqs"]), heard
    samples, rate = rig.baresip_heard()
    assert rate == 8000
    mid = samples[len(samples) // 3:]
    share, blocks = tone_share(mid, rate, 1500)
    assert blocks > 5 and share > 0.8, (share, blocks)


def test_the_8_khz_sim_line_stops_what_only_wideband_carries(tmp_path, rigs):
    rig = rigs(None, "g722,pcmu", "G722/16000/1,PCMU", 6000)
    with Handset(rig.control) as h:
        heard = rig.call(h, 1000)
    assert rig.media()["codec"] == "G722"
    assert not any(abs(f - 6000) <= 200 for f in heard["freqs"]), heard
    assert heard["level_dbm0"] < -40, heard
