"""The on-hook message-waiting (VMWI) sequence per plan, frame by frame: what the line puts on
the wire (the F/R polarity pin and each 20 ms frame of line audio, in the order the sim
handset got them) when the lamp changes.

- ETSI (EN 300 659-1 §6.1, data not associated with ringing; BT SIN 227 timing): line reversal,
  >= 100 ms quiet, DT-AS (2130+2750 Hz, 100 ms), >= 45 ms, the V.23 FSK (MDMF 0x82), >= 200 ms,
  then the polarity back.
- Bell 202 (GR-30-CORE on-hook data without ringing, TIA-777-A §5.2.2 "FSK without power
  ringing"): no alert and no reversal: the channel seizure and marks start the burst at once
  (DAHDI offers line reversal or RP-AS only as options; its default is the FSK alone)."""

import threading

import pytest

from tipring.board.line_signals import DTAS_GAP_MS, DTAS_LEAD_MS, DTAS_TAIL_MS, vmwi_pcm
from tipring.firmware.dsp import callerid
from tipring.firmware.dsp.pcm import FRAME_BYTES, SILENT_FRAME
from tests.dsp.dsp_ref import dft_power, to_samples
from tests.sim.helpers import Running


def frames(pcm):
    return [(pcm[i:i + FRAME_BYTES] + SILENT_FRAME)[:FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def is_dtas(frame):
    x = to_samples(frame)
    pair = dft_power(x, 2130) + dft_power(x, 2750)
    # (2100/2200 Hz lie too near 2130 Hz for a 20 ms window: the FSK marks tell them apart)
    others = dft_power(x, 1300) + dft_power(x, 1200) + dft_power(x, 1700)
    return pair > 20 * (others + 1.0)


def test_etsi_vmwi_pcm_frame_by_frame():
    pcm = vmwi_pcm(True, 3, "etsi-fsk")
    fr = frames(pcm)
    lead = DTAS_LEAD_MS // 20                     # 120 ms: frames 0-5 quiet
    assert DTAS_LEAD_MS >= 100 and all(f == SILENT_FRAME for f in fr[:lead])
    assert all(is_dtas(f) for f in fr[lead:lead + 5]) and not is_dtas(fr[lead + 5])   # 100 ms
    gap = 2 * 8 * DTAS_GAP_MS                     # >= 45 ms of nothing after the DT-AS
    start = 2 * 8 * (DTAS_LEAD_MS + 100)
    assert DTAS_GAP_MS >= 45 and pcm[start:start + gap] == bytes(gap)
    assert pcm[start + gap:start + gap + 16] != bytes(16)          # then the FSK
    tail = 2 * 8 * DTAS_TAIL_MS
    assert DTAS_TAIL_MS >= 200 and pcm.endswith(bytes(tail))
    msgs = callerid.CallerIDReceiver("etsi-fsk").feed(pcm)
    assert [(m["type"], m["waiting"], m["messages"]) for m in msgs] == [(0x82, True, 3)]


def test_bell202_vmwi_pcm_starts_with_the_seizure_at_once():
    pcm = vmwi_pcm(True, 3, "bell202")
    fr = frames(pcm)
    assert fr[0] != SILENT_FRAME and not any(is_dtas(f) for f in fr)
    msgs = callerid.CallerIDReceiver("bell202").feed(pcm + bytes(800))
    assert [(m["type"], m["waiting"], m["messages"]) for m in msgs] == [(0x82, True, 3)]


def wire_trail(country, method):
    """The lamp goes on; returns [("fr", polarity) | ("pcm", frame)] in the order the handset
    saw them, from the first change on, and the handset's lamp state after."""
    r = Running(country=country, lines=[{"port": 1, "user": "1001", "caller_id": method}])
    try:
        c = r.client()
        hs = r.board.handsets[1]
        trail = []
        restored = threading.Event()
        ear = hs.earpiece

        def earpiece(frame):
            trail.append(("pcm", frame))
            ear(frame)

        def polarity(t, v):
            hs._fr_changed(t, v)                  # (the handset's own listener may run later)
            trail.append(("fr", hs.polarity))
            if hs.polarity == "forward":
                restored.set()

        r.call(setattr, hs, "earpiece", earpiece)
        hs.fr.listeners.append(polarity)
        r.call(r.board.ports[1].message_waiting, True, 3)
        assert c.ask("wait mwi=on 6")["ok"], r.events[-10:]
        if method == "etsi-fsk":
            assert restored.wait(5), "the polarity never came back"
        got = c.ask("wait idle 6")                # the burst's tail played
        assert got["ok"], (got, r.events[-10:])
        sig = [f for n, f in r.events if n == "line_signal"]
        assert [(f["signal"], f["method"], f["waiting"]) for f in sig] == [("vmwi", method, True)]
        assert not r.named("error"), r.named("error")
        return r.call(list, trail), got, r
    finally:
        r.stop()


def loud(item):
    return item[0] == "pcm" and item[1] != SILENT_FRAME


def test_etsi_line_reverses_before_the_dtas_and_restores_after_the_data():
    trail, got, _r = wire_trail("uk", "etsi-fsk")
    assert got["polarity"] == "forward"
    rev = trail.index(("fr", "reversed"))
    back = trail.index(("fr", "forward"))
    first = next(i for i, x in enumerate(trail) if loud(x))
    last = max(i for i, x in enumerate(trail) if loud(x))
    assert rev < first < last < back, (rev, first, last, back)
    assert not any(loud(x) for x in trail[:rev])                      # nothing before the reversal
    quiet_before = [x for x in trail[rev:first] if x[0] == "pcm"]
    assert len(quiet_before) >= 5                                     # >= 100 ms after it
    assert is_dtas(trail[first][1])                                   # the DT-AS comes first
    quiet_after = [x for x in trail[last + 1:back] if x[0] == "pcm"]
    assert len(quiet_after) >= 10                                     # >= 200 ms, then restored
    pcm = b"".join(x[1] for x in trail[rev:back] if x[0] == "pcm")
    msgs = callerid.CallerIDReceiver("etsi-fsk").feed(pcm)
    assert [(m["type"], m["waiting"]) for m in msgs] == [(0x82, True)]


@pytest.mark.parametrize("country", ["us", "jp"])
def test_bell202_line_sends_the_burst_with_no_reversal(country):
    trail, got, _r = wire_trail(country, "bell202")
    assert got["polarity"] == "forward"
    assert not [x for x in trail if x[0] == "fr"], "a Bell 202 VMWI line must not reverse"
    first = next(i for i, x in enumerate(trail) if loud(x))
    assert not is_dtas(trail[first][1])                               # no alert: FSK at once
    pcm = b"".join(x[1] for x in trail[first:] if x[0] == "pcm")
    msgs = callerid.CallerIDReceiver("bell202").feed(pcm)
    assert [(m["type"], m["waiting"]) for m in msgs] == [(0x82, True)]
