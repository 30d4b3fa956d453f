"""Caller ID on call waiting (GR-30-CORE Type II) end to end on virtual time: the real `LinePort`
(FxsLine, tones, `CidcwSender`, DTMF detector) wired to the sim board's `VirtualHandset` on mock
pins, the media clock driven by hand as `tipring/board/sim/board.py` drives it. The far end is a fake
call layer playing a 700 Hz sine and recording what it is sent. Every check is made on the PCM
(real DSP, no mocks): what the earpiece was played, what the handset sent, what it decoded."""
import array

import pytest

from tipring.firmware.dsp.classify import tone_shares
from tipring.firmware.dsp.dtmf import DTMFDetector
from tipring.firmware.dsp.pcm import SILENT_FRAME, to_pcm
from tipring.firmware.dsp.tones import sine_mix
from tipring.board.line_signals import caller_id_pcm
from tests.sim.line_rig import CID_B, TICK, line_rig  # noqa: F401 (line_rig: fixture)

CID_C = {"number": "5550103", "name": "CAROL"}


class FarEnd:
    """The call layer as the glue sees it: intents recorded, a 700 Hz 'voice' as call audio,
    the handset's capture recorded as the far end would receive it."""

    def __init__(self):
        self.events = []
        self.intents = []
        self.sent = []
        self.connected = False
        self._n = 0

    def emit(self, name, fields):
        self.events.append((name, fields))

    def line_intent(self, port, intent, *args):
        self.intents.append((port, intent) + args)
        if intent == "answer":
            self.connected = True

    def media_frame(self, port, capture, now):
        if not self.connected:
            return None
        self.sent.append(capture)
        f = to_pcm(sine_mix((700,), (-16,), 160, self._n * 160))
        self._n += 1
        return f


@pytest.fixture
def rig(line_rig):
    return lambda **kw: line_rig(FarEnd(), **kw)


def _samples(frames):
    return array.array("h", b"".join(frames))


def bursts(played):
    """The earpiece PCM cut into sounds separated by silence: [(start time, ms, samples)],
    sample-accurate (a gap of 8 silent samples or more separates two)."""
    x = _samples([f for _t, f in played])
    t0 = played[0][0] - TICK
    out, start, quiet = [], None, 0
    for i, v in enumerate(x):
        if abs(v) > 40:
            if start is None:
                start = i
            quiet = 0
            last = i
        elif start is not None:
            quiet += 1
            if quiet >= 8:
                out.append((t0 + start / 8000.0, (last + 1 - start) / 8.0, x[start:last + 1]))
                start = None
    if start is not None:
        out.append((t0 + start / 8000.0, (len(x) - start) / 8.0, x[start:]))
    return out


def cas_spans(played):
    """The CAS bursts in the earpiece: (start time, ms) of each sound that is 2130+2750 Hz."""
    spans = []
    for t, ms, x in bursts(played):
        shares, _p = tone_shares(x, (2130, 2750))
        if min(shares) > 0.3 and sum(shares) > 0.8:
            spans.append((t, ms))
    return spans


def fsk_start(played, after):
    """When the first non-silent sample after `after` (seconds) is played (the FSK's first mark)."""
    for t, f in played:
        if t - TICK >= after - 1e-9 and f != SILENT_FRAME:
            a = array.array("h", f)
            for k, v in enumerate(a):
                if abs(v) > 200:
                    return t - TICK + k / 8000.0
    return None


def ack_edges(spoken, t0):
    det = DTMFDetector()
    out = []
    for f in spoken:
        out += [(d, e, t0 + at / 8000.0) for d, e, at in det.feed(f)]
    return out


def test_ack_path_the_handset_shows_the_waiting_caller_and_the_call_resumes(rig):
    r = rig()
    r.in_call()
    mark = len(r.played)
    t_cw = r.loop.now()
    r.port.command("call_waiting", [CID_C])
    r.run(3.0)
    played = r.played[mark:]
    spoken = r.spoken[mark:]
    assert r.hs.caller_id["number"] == CID_C["number"] and r.hs.caller_id["name"] == "CAROL"
    assert r.port._cidcw is None and r.port.fxs.state == "waiting"
    # the CAS: one burst of 80 ms (±5), after the SAS burst's 0.6 s and the 100 ms guard
    spans = cas_spans(played)
    assert len(spans) == 1, spans
    cas_t, cas_ms = spans[0]
    assert abs(cas_ms - 80) <= 5, spans
    assert cas_t - t_cw == pytest.approx(0.7, abs=0.03)
    # the ACK: 'D' on the mouthpiece, starting 0-100 ms after the CAS ends, 60 ms long
    edges = ack_edges(spoken, played[0][0] - TICK)
    assert [(d, e) for d, e, _ in edges] == [("D", "on"), ("D", "off")]
    first_ack = [i for i, f in enumerate(spoken) if f != SILENT_FRAME][0]
    ack_t = played[first_ack][0] - TICK
    cas_end = cas_t + cas_ms / 1000.0
    assert 0.0 <= ack_t - cas_end <= 0.1
    ack_end = ack_t + 0.06
    # the FSK starts within 500 ms of the ACK, after it ended
    t_fsk = fsk_start(played, ack_end)
    assert t_fsk is not None and 0.0 < t_fsk - ack_end and t_fsk - ack_t <= 0.5
    # ... and it is the Type II burst: no channel seizure, 80 mark bits, then the MDMF message
    fsk = [b for b in bursts(played) if abs(b[0] - t_fsk) < 0.002]
    want = len(caller_id_pcm(CID_C, "bell202", (1, 2, 3, 4), cidcw=True)) / 16.0
    assert fsk and abs(fsk[0][1] - want) <= 2.0, (fsk[:1], want)
    # the far end heard none of it: the ACK never went out, nor became a digit
    heard = ack_edges(r.app.sent[-len(played):], 0.0)
    assert heard == []
    assert not [f for n, f in r.app.events if n == "digit"]
    assert not [i for i in r.app.intents if i[1] == "digit"]
    # and the call is heard again after the FSK: 700 Hz in the earpiece
    tail = _samples([f for _t, f in played[-10:]])
    shares, _ms = tone_shares(tail[:160], (700,))
    assert shares[0] > 0.9
    print("CIDCW: CAS %.1f ms; ACK %.0f ms after CAS end; FSK %.0f ms after ACK start, %.0f ms after "
          "its end" % (cas_ms, (ack_t - cas_end) * 1000, (t_fsk - ack_t) * 1000, (t_fsk - ack_end) * 1000))


def test_without_an_ack_no_fsk_is_sent_and_the_call_resumes(rig):
    r = rig(cidcw=False)                       # a phone that does not answer the CAS
    r.in_call()
    mark = len(r.played)
    r.port.command("call_waiting", [CID_C])
    r.run(0.6)                                 # the SAS burst
    sas_end = len(r.played)
    r.run(2.4)
    played = r.played[mark:]
    assert len(cas_spans(played)) == 1
    assert r.port._cidcw is None and r.port.fxs.state == "waiting"
    assert r.hs.caller_id["number"] == CID_B["number"]          # still the first caller's
    assert not any(f != SILENT_FRAME for f in r.spoken[mark:])
    # after the CAS, nothing but silence until the call audio comes back, and no FSK in between
    after = [f for _t, f in r.played[sas_end:]]
    first_audio = None
    for i, f in enumerate(after):
        sh, ms = tone_shares(array.array("h", f), (700, 1200, 2200))
        if ms > 1e4 and sh[1] + sh[2] > 0.3:
            raise AssertionError("FSK at frame %d after the SAS" % i)
        if first_audio is None and ms > 1e4 and sh[0] > 0.9:
            first_audio = i
    # guard 100 + CAS 80 + ACK window 180 ms: the call is back 0.36-0.4 s after the burst
    assert first_audio is not None and 0.3 <= first_audio * TICK <= 0.44, first_audio
    assert not [f for n, f in r.app.events if n == "error"]


def test_cw_caller_id_off_means_no_cas(rig):
    r = rig(line_cfg={"cw_caller_id": False})
    r.in_call()
    mark = len(r.played)
    r.port.command("call_waiting", [CID_C])
    r.run(2.0)
    assert cas_spans(r.played[mark:]) == []
    assert r.hs.caller_id["number"] == CID_B["number"]


@pytest.mark.parametrize("method", ["dtmf", "off"])
def test_no_cidcw_without_fsk_caller_id(rig, method):
    r = rig(line_cfg={"caller_id": method})
    r.port.command("incoming", [CID_B])
    r.run(0.2)
    r.hs.offhook()
    r.run(0.5)
    assert r.port.fxs.state == "talking"
    mark = len(r.played)
    r.port.command("call_waiting", [CID_C])
    r.run(2.0)
    assert cas_spans(r.played[mark:]) == []


def test_etsi_fsk_line_sends_v23_and_the_handset_decodes_it(rig):
    r = rig(line_cfg={"caller_id": "etsi-fsk"}, country="de")
    r.in_call()
    mark = len(r.played)
    r.port.command("call_waiting", [CID_C])
    r.run(3.0)
    assert r.hs.caller_id["number"] == CID_C["number"] and r.hs.caller_id["name"] == "CAROL"
    spans = cas_spans(r.played[mark:])                  # the DT-AS: 100 ms (88-110)
    assert len(spans) == 1 and abs(spans[0][1] - 100) <= 5, spans


def test_only_the_first_burst_carries_caller_id_and_a_flash_stops_it(rig):
    r = rig()
    r.in_call()
    r.port.command("call_waiting", [CID_C])
    r.run(3.0)
    mark = len(r.played)
    r.run(9.0)                                 # the second burst, 10 s after the first
    assert cas_spans(r.played[mark:]) == []
    r2 = rig()
    r2.in_call()
    r2.port.command("call_waiting", [CID_C])
    r2.run(0.72)                               # into the CAS
    assert r2.port._cidcw is not None
    r2.port.run(r2.port.fxs.hook("flash", r2.loop.now()))   # the user answers C at once
    r2.run(0.1)
    assert r2.port._cidcw is None and r2.port.fxs.state == "swapped"


def test_the_handset_hears_call_waiting_over_the_call(rig):
    r = rig()
    r.in_call()
    r.run(1.0)
    assert r.hs.tone() != "call-waiting"
    r.port.command("call_waiting", [CID_C])
    seen = []
    for _ in range(100):
        r.run(TICK)
        seen.append(r.hs.tone())
    first = seen.index("call-waiting")
    assert first * TICK <= 1.0 and seen.count("call-waiting") >= 10
    assert seen[-1] != "call-waiting"          # and no longer once the call is back


def test_on_hook_caller_id_is_unchanged_with_a_cidcw_handset(rig):
    r = rig()
    r.port.command("incoming", [CID_C])
    r.run(7.0)
    assert r.hs.caller_id["number"] == CID_C["number"] and r.hs._cw_rx is None


def test_wait_tone_call_waiting_over_call_audio_on_the_sim_board():
    """Through the control protocol: `wait tone=call-waiting` catches the 0.6 s burst over
    call audio, and `state` then shows the waiting caller (the handset answered the CAS)."""
    import time

    from tests.sim.helpers import Running
    r = Running()
    try:
        far = FarEnd()
        far.connected = True
        r.call(setattr, r.fw, "media_frame", far.media_frame)       # a 700 Hz far end
        h = r.client()
        r.call(r.board.incoming, 1, None)
        assert h.ok("wait ringing 5")
        h.ok("offhook")
        assert h.ok("wait fxs=talking 3")
        assert h.ok("listen 200")["freqs"][:1] == [700]
        r.call(r.board.line_command, 1, "call_waiting", CID_C)
        got = h.ask("wait tone=call-waiting 3")
        assert got["ok"] and got["after_s"] <= 1.5, got
        end = time.monotonic() + 3
        while time.monotonic() < end and (h.ok("state")["caller_id"] or {}).get("number") != CID_C["number"]:
            time.sleep(0.05)
        st = h.ok("state")
        assert st["caller_id"]["number"] == CID_C["number"] and st["fxs"] == "waiting", st
        h.ok("onhook")
    finally:
        r.stop()
