"""The caller-ID and message-waiting sequences a line sends, as 8 kHz PCM (board glue).

What this module owns
---------------------
Composing the signals of tipring/firmware/dsp/callerid.py into what goes on the wire for one
event: the on-ring burst (GR-30-CORE, between the first two rings), the sequence before the
first ring (EN 300 659-1 variant (a), BT SIN 227: quiet after the line reversal, the DT-AS,
the FSK, quiet before the ring), the on-hook message-waiting burst (VMWI, MDMF 0x82), and the
Type II burst on call waiting. `tipring/board/line_port.py` plays them (through its
interpolator on a 16 kHz line) and does the reversals and ringing around them.

It lives under board/ beside its one user because the date and time stamped in a caller-ID
message come from the local clock when the caller gives none (`when`).
"""

import time

from tipring.firmware.dsp import callerid as cidmod
from tipring.firmware.line.cidcw import DTAS_MS

CIDCW_METHODS = ("bell202", "etsi-fsk")   # Type II needs FSK: no DTMF caller ID off-hook
# ETSI / BT SIN 227 sequences before ringing (or without it): line reversal, >= 100 ms, DT-AS,
# >= 45 ms, FSK with 55-90 mark bits, >= 200 ms, then ringing (or the polarity restored)
DTAS_LEAD_MS = 120
DTAS_GAP_MS = 55
DTAS_TAIL_MS = 250
ETSI_PRERING_MARKS = 80


def _gap(ms: int) -> bytes:
    return bytes(2 * (8 * ms))           # 8 samples per ms at 8 kHz, 16-bit


def _alerted(burst: bytes, alert) -> bytes:
    """An ETSI / BT sequence around `burst`, from the line reversal on: >= 100 ms of quiet, the
    DT-AS (`alert` "dt-as", 100 ms) and >= 45 ms when alerting, the burst, >= 200 ms."""
    head = _gap(DTAS_LEAD_MS)
    if alert == "dt-as":
        head += cidmod.alert_tone(DTAS_MS) + _gap(DTAS_GAP_MS)
    return head + burst + _gap(DTAS_TAIL_MS)


def vmwi_pcm(waiting: bool, count, method: str) -> bytes:
    """The on-hook message-waiting burst (no ringing) for a line's caller-ID method: MDMF 0x82
    with the visual indicator and, when known, the count of new messages.

    Bell 202 (GR-30-CORE framing): channel seizure (300 bits), 180 marks, the message, exactly
    as the caller-ID burst is framed. No alert goes before it (no open switching interval or
    line reversal, which a SLIC line without a reversal-detecting phone cannot use): the
    seizure and marks wake a receiver that listens on-hook, as they do for caller ID. ETSI
    (EN 300 659-1 data without ringing, BT SIN 227 timing): line reversal (the glue's), the
    DT-AS, 300 seizure bits and 80 marks, the message, then the polarity restored.
    b"" for other methods (DTMF caller ID has no message-waiting signal)."""
    msg = cidmod.vmwi(waiting, count if waiting else 0)
    if method == "bell202":
        return cidmod.fsk_burst(msg, "bell202")
    if method == "etsi-fsk":
        return _alerted(cidmod.fsk_burst(msg, "etsi-fsk", seizure=300, marks=ETSI_PRERING_MARKS), "dt-as")
    return b""


def caller_id_pcm(caller_id: dict, method: str, when=None, cidcw: bool = False,
                  prering: bool = False) -> bytes:
    """The caller-ID burst for `caller_id` ({"number", "name", "reason"}) as PCM: MDMF over
    Bell 202 or V.23 FSK, or ETSI DTMF ("A<number>C"). b"" for method "off".

    `cidcw`: the burst for caller ID on call waiting (Type II): no channel seizure, 80 mark bits
    (spandsp adsi.h; notes/hardware.md §2.5); b"" for a method that is not FSK."""
    if method == "off" or not caller_id or (cidcw and method not in CIDCW_METHODS):
        return b""
    number = caller_id.get("number") or None
    name = caller_id.get("name") or None
    private = caller_id.get("reason") == "private"
    if method == "dtmf":
        digits = "".join(c for c in (number or "") if c in "0123456789")
        return cidmod.dtmf_callerid(digits or None, "P" if private else None)
    if when is None:
        lt = time.localtime()
        when = (lt[1], lt[2], lt[3], lt[4])
    if number:
        number = "".join(c for c in number if 32 <= ord(c) < 127)[:20] or None
    if name:
        name = "".join(c for c in name if 32 <= ord(c) < 127)[:50] or None
    msg = cidmod.mdmf(number, name, when, number_reason="P" if private else "O",
                      name_reason=("P" if private else None) if not name else None)
    if cidcw:
        return cidmod.fsk_burst(msg, method, seizure=0, marks=80)
    if prering:      # BT SIN 227 / EN 300 659-1 before the ring: 55-90 mark bits
        return cidmod.fsk_burst(msg, method, seizure=300, marks=ETSI_PRERING_MARKS)
    return cidmod.fsk_burst(msg, method)


def prering_pcm(caller_id: dict, method: str, alert=None, when=None) -> bytes:
    """The whole caller-ID sequence that goes before the first ring, as PCM from the line
    reversal on (EN 300 659-1 variant (a), BT SIN 227; ETSI DTMF caller ID): >= 100 ms of
    quiet, the DT-AS (`alert` "dt-as", 100 ms) and >= 45 ms when alerting, the burst, then
    >= 200 ms before the ring. b"" when there is nothing to send."""
    burst = caller_id_pcm(caller_id, method, when, prering=True)
    return _alerted(burst, alert) if burst else b""
