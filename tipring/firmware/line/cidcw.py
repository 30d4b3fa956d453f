"""Caller ID on call waiting (Telcordia GR-30-CORE "Type II", CIDCW): the line's half, per frame.

Rules:
1. Frame-driven and sans-IO: `CidcwSender.frame(capture)` takes the handset's 20 ms capture
   frame and returns the 20 ms frame the earpiece hears; time is the count of frames, never a
   clock. The glue (`tipring/board/line_port.py`) calls it once per media tick while `done` is False,
   and meanwhile mutes the far end both ways and keeps the capture from the line's own DTMF
   detector, so the phone's ACK reaches neither the far end nor the dial logic.
2. One attempt: no ACK in its window, no FSK (the phone asked for nothing it could show,
   GR-30-CORE); `result` says "sent" or "no_ack" once `done`.
3. It does not know the caller-ID method: it is handed the FSK burst already modulated (Bell 202
   or V.23, `port.caller_id_pcm(..., cidcw=True)`), so the ETSI variant (DT-AS, V.23) is the
   same sequence with other PCM.

Theory of operation (notes/hardware.md §2.5 "Type II"). After the call-waiting burst (the SAS,
for the user; the FxsLine has just stopped it):
* guard: `guard_ms` (100) of silence, so the alert follows at least 100 ms of quiet in every
  tone plan (the ETSI/BT DT-AS figure spandsp quotes; the US SAS leaves more on its own);
* CAS: 2130+2750 Hz for 80 ms (±5 ms in GR-30-CORE; `callerid.alert_tone`, -15 dBm0 a tone);
  on an ETSI line the same pair is the DT-AS, 100 ms (`DTAS_MS`: the middle of the 88-110 ms
  that BT SIN 227 and spandsp give it);
* ACK: the phone mutes its handset and answers DTMF 'D' (ADSI) or 'A' (non-ADSI), 60 ± 5 ms,
  starting 0-100 ms after the CAS ends. So the last ACK ends 160 ms after the CAS; the window
  for its "on" edge is that plus one frame (`ack_window_ms`, 180), because the capture frame we
  get lags the earpiece frame the phone answered to by one media tick;
* FSK: once the ACK's "off" edge is seen (or `ack_max_ms` after its "on" edge), `fsk_gap_ms` of
  silence, then the burst (no channel seizure, 80 mark bits, MDMF; spandsp adsi.h). GR-30-CORE
  allows 0-500 ms from the ACK; this lands about 80-100 ms after the ACK ends;
* then `done`: the call's audio resumes.
"""

from tipring.firmware.dsp.callerid import alert_tone
from tipring.firmware.dsp.dtmf import DTMFDetector
from tipring.firmware.dsp.pcm import FRAME_BYTES, FRAME_MS, SILENT_FRAME

GUARD_MS = 100
CAS_MS = 80
DTAS_MS = 100              # the ETSI name and length of the same dual tone
CAS_LEVEL = -15.0          # dBm0 per tone (GR-30-CORE CAS; tipring's choice within its range)
ACK_DIGITS = "DA"          # 'D' from an ADSI phone, 'A' from a non-ADSI one
ACK_WINDOW_MS = 180        # CAS end -> the ACK's "on" edge: 100 + 60 ms, and one frame of lag
ACK_MAX_MS = 120           # "on" edge -> give up waiting for its "off" edge
FSK_GAP_MS = 40            # the ACK's "off" edge (30 ms after the tone) -> FSK


def _frames(ms: float) -> int:
    return int((ms + FRAME_MS - 1) // FRAME_MS)


class CidcwSender:
    """Represents one caller-ID-on-call-waiting attempt on a line in a call.

    :param fsk: the FSK burst (PCM) to send after the ACK.
    Keyword-only: guard_ms (100), cas_ms (80), cas_level (-15 dBm0), ack_window_ms (180),
    ack_max_ms (120), fsk_gap_ms (40), as in the theory of operation above.

        seq = CidcwSender(caller_id_pcm(cid, "bell202", cidcw=True))
        while not seq.done:
            earpiece = seq.frame(capture)     # one 20 ms frame each way
        seq.result, seq.ack                   # "sent", "D"
    """

    def __init__(self, fsk: bytes, *, guard_ms: float = GUARD_MS, cas_ms: float = CAS_MS,
                 cas_level: float = CAS_LEVEL, ack_window_ms: float = ACK_WINDOW_MS,
                 ack_max_ms: float = ACK_MAX_MS, fsk_gap_ms: float = FSK_GAP_MS):
        self._alert = bytes(int(guard_ms) * 16) + alert_tone(int(cas_ms), cas_level)
        self._guard_frames = int(guard_ms // FRAME_MS)
        self._fsk = fsk
        self._ack_frames = _frames(ack_window_ms)
        self._ack_max = _frames(ack_max_ms)
        self._gap = bytes(int(fsk_gap_ms * 16))
        self._det = DTMFDetector()
        self.phase = "alert"       # alert -> ack -> acked -> fsk, then done
        self.frames = 0            # frames handed out so far
        self.ack = None            # the ACK digit once heard
        self.result = None
        self.done = False
        self._wait = 0
        self._ack_off = False
        self._data = b""

    def __repr__(self):
        return "<CidcwSender %s ack=%s result=%s>" % (self.phase, self.ack, self.result)

    def frame(self, capture: bytes) -> bytes:
        """One media tick: the handset's capture frame in, the earpiece's frame out."""
        if self.done:
            return SILENT_FRAME
        n = self.frames
        self.frames += 1
        for d, edge, _at in self._det.feed(capture):
            if edge == "on" and self.ack is None and d in ACK_DIGITS and n > self._guard_frames:
                self.ack = d                   # a phone cannot answer a CAS it has not heard
            elif edge == "off" and d == self.ack:
                self._ack_off = True
        if self.phase == "alert":
            out = self._alert[n * FRAME_BYTES:(n + 1) * FRAME_BYTES]
            if (n + 1) * FRAME_BYTES >= len(self._alert):
                self.phase = "ack"
            return (out + SILENT_FRAME)[:FRAME_BYTES]
        if self.phase == "ack":
            if self.ack is None:
                self._wait += 1
                if self._wait >= self._ack_frames:
                    self.phase = "over"
                    self.result = "no_ack"
                    self.done = True
                return SILENT_FRAME
            self.phase = "acked"
            self._wait = 0
        if self.phase == "acked":
            self._wait += 1
            if self._ack_off or self._wait >= self._ack_max:
                self.phase = "fsk"
                self._data = self._gap + self._fsk
            return SILENT_FRAME
        out = self._data[:FRAME_BYTES]
        self._data = self._data[FRAME_BYTES:]
        if not self._data:
            self.phase = "over"
            self.result = "sent"
            self.done = True
        return (out + SILENT_FRAME)[:FRAME_BYTES]
