"""Caller ID: messages, bursts and their timing (Telcordia GR-30-CORE, ETSI EN 300 659, BT SIN 227,
NTT "Number Display" JCLIP).

Rules:
1. Messages are bytes: type, length, body, checksum (two's complement of the byte sum, so the
   sum of the whole message is 0 mod 256). `sdmf`, `mdmf` build them; `parse` checks and reads
   them and raises ValueError naming the defect.
2. Bursts are PCM: `fsk_burst` (Bell 202 or V.23 after the preamble), `dtmf_callerid`
   (ETSI DTMF), `alert_tone` (the 2130+2750 Hz dual tone: Bellcore CAS, ETSI DT-AS).
3. Nothing here knows a clock: `post_ring_start` and `prering_plan` return millisecond offsets
   and the line schedules them.

Theory of operation.
* SDMF (type 0x04, GR-30-CORE): MMDDHHMM in ASCII, then the number, or "P" (private) /
  "O" (out of area, unavailable).
* MDMF (type 0x80, call set-up; GR-30-CORE, EN 300 659-3): parameters type, length,
  value: 0x01 date and time (MMDDHHMM), 0x02 calling number, 0x04 reason the number is absent
  ("P" or "O"), 0x07 name, 0x08 reason the name is absent.
* On-hook burst (Type I): channel seizure 300 alternating bits, 180 mark bits, the message
  (GR-30-CORE; EN 300 659-1; spandsp adsi.h). After a CAS on an active call (Type II, CIDCW) the
  seizure is left out and 80 mark bits lead (spandsp adsi.h; notes/hardware.md §2.5).
* Post-ring timing (Bellcore, and ETSI variant "after first ring"): the burst starts ≥ 500 ms
  after the first ring ends and ends ≥ 500 ms before the second (the Panasonic timing diagram
  in notes/hardware.md §2.5).
* ETSI pre-ring with DT-AS (EN 300 659-1; BT SIN 227 as summarised in notes/hardware.md):
  line reversal, ≥ 100 ms, DT-AS 100 ms, ≥ 45 ms, FSK, ≥ 200 ms, ringing.
* Message waiting (VMWI, on-hook without ringing): MDMF type 0x82 with 0x0B visual indicator
  (0xFF on, 0x00 off) and 0x13 number of messages; or SDMF type 0x06 with three 0x42 (on) or
  0x6F (off) bytes (GR-30-CORE, EN 300 659-3; spandsp adsi.h).
* ETSI DTMF caller ID (the variants spandsp adsi.h lists; notes/hardware.md §2.5):
  "A" number "C"; restricted / unavailable as "D1C" / "D3C"; digits 70 ms with 70 ms gaps.
* JCLIP (NTT "Number Display", Japan; spandsp adsi.h/adsi.c ADSI_STANDARD_JCLIP): V.23 FSK
  (1300/2100 Hz) sent while the phone is OFF-hook after it answered the CAR signal; no channel
  seizure, 75 mark bits (spandsp's default; Realtek's SDK sends 72), then the frame
  DLE SOH 0x07 (header) DLE STX, message type 0x40 (MDMF), length, parameters, DLE ETX, and a
  CRC-16 (ITU-T polynomial x^16+x^12+x^5+1, reflected, initial 0, no final inversion: spandsp's
  crc_itu16_calc(.., 0)) over everything after DLE SOH, low byte first. Characters are 7 bits
  with even parity in bit 7 (the CRC bytes carry no parity); a DLE inside length or body is
  sent twice. Parameters: 0x02 calling number, 0x04 reason it is absent ("P" private, "O"
  unavailable, "C" public phone, "S" service), 0x09 dialled number, 0x21 / 0x22 the number's /
  dialled number's "data extension". spandsp sends 4 stop bits a character; so does `jclip_burst`.
  The line sequence (CAR, the phone's primary response, FSK, on-hook, ringing) is the line's:
  tipring/firmware/line/fxs.py and tipring/firmware/line/jclip.py.
Hand-written: caller ID is a product feature; the burst must decode in real phones, which the
tests stand in for with spandsp's adsi_rx.
"""

import math

from tipring.firmware.dsp import dtmf, fsk
from tipring.firmware.dsp.pcm import RATE, to_pcm
from tipring.firmware.dsp.tones import sine_mix

SDMF = 0x04
MDMF = 0x80
MWI_SDMF = 0x06
MWI_MDMF = 0x82

P_DATETIME = 0x01
P_NUMBER = 0x02
P_NUMBER_ABSENT = 0x04
P_NAME = 0x07
P_NAME_ABSENT = 0x08
P_VISUAL_INDICATOR = 0x0B    # message waiting: 0xFF on, 0x00 off (GR-30-CORE, EN 300 659-3)
P_MESSAGES = 0x13            # number of messages waiting (EN 300 659-3)

VMWI_ON = 0x42               # SDMF 0x06: three of these switch the lamp on ...
VMWI_OFF = 0x6F              # ... three of these off (GR-30-CORE; spandsp adsi.c)

PRIVATE = "P"
UNAVAILABLE = "O"

PARAM_NAMES = {P_DATETIME: "datetime", P_NUMBER: "number", P_NUMBER_ABSENT: "number_absent",
               P_NAME: "name", P_NAME_ABSENT: "name_absent"}

STANDARDS = {"bell202": "bell202", "etsi-fsk": "v23", "v23": "v23"}    # jclip: own framing

# JCLIP (spandsp adsi.h / adsi.c)
JCLIP_MDMF = 0x40
JP_NUMBER = 0x02
JP_NUMBER_ABSENT = 0x04      # "P", "O", "C" (public phone), "S" (service)
JP_DIALED = 0x09
JP_NUMBER_DES = 0x21
JP_DIALED_DES = 0x22
JP_REASONS = ("P", "O", "C", "S")
JP_PARAM_NAMES = {JP_NUMBER: "number", JP_NUMBER_ABSENT: "number_absent", JP_DIALED: "dialed"}
SOH, STX, ETX, DLE = 0x01, 0x02, 0x03, 0x10
JCLIP_HEADER = 0x07
JCLIP_MARKS = 75             # mark bits before the frame (spandsp adsi_tx_set_preamble)
JCLIP_STOP_BITS = 4          # per character (spandsp adsi_tx_set_preamble for JCLIP)


def checksum(body: bytes) -> int:
    """Two's complement of the modulo-256 sum."""
    return (-sum(body)) & 0xFF


def _datetime(when) -> bytes:
    if when is None:
        return b""
    if isinstance(when, (bytes, str)):
        s = when.encode() if isinstance(when, str) else when
        if len(s) != 8 or not s.isdigit():
            raise ValueError("date/time must be 8 digits MMDDHHMM, got %r" % (when,))
        return s
    month, day, hour, minute = when
    return ("%02d%02d%02d%02d" % (month, day, hour, minute)).encode()


def _ascii(s, what: str, limit: int) -> bytes:
    b = s.encode() if isinstance(s, str) else bytes(s)
    for c in b:
        if c < 0x20 or c > 0x7E:
            raise ValueError("%s must be printable ASCII, got %r" % (what, s))
    return b[:limit]


def _frame(kind: int, body: bytes) -> bytes:
    if len(body) > 255:
        raise ValueError("message body longer than 255 bytes")
    msg = bytes([kind, len(body)]) + body
    return msg + bytes([checksum(msg)])


def sdmf(number: str = None, when=None, reason: str = None) -> bytes:
    """A Single Data Message Format caller-ID message (type 0x04).

    `when` is (month, day, hour, minute) or "MMDDHHMM"; `reason` "P"/"O" stands in for the
    number. SDMF always carries the date/time: None gives "01010000"."""
    dt = _datetime(when) or b"01010000"
    if number:
        num = _ascii(number, "number", 10)
    else:
        num = (reason or UNAVAILABLE).encode()
        if num not in (b"P", b"O"):
            raise ValueError("absence reason must be 'P' or 'O', got %r" % (reason,))
    return _frame(SDMF, dt + num)


def mdmf(number: str = None, name: str = None, when=None, number_reason: str = None,
         name_reason: str = None) -> bytes:
    """A Multiple Data Message Format call set-up message (type 0x80).

    Without a number, `number_reason` ("P" private, "O" unavailable; default "O") goes in
    parameter 0x04; the same for the name with 0x08 when `name_reason` is given."""
    body = b""
    dt = _datetime(when)
    if dt:
        body += bytes([P_DATETIME, 8]) + dt
    if number:
        num = _ascii(number, "number", 20)
        body += bytes([P_NUMBER, len(num)]) + num
    else:
        r = (number_reason or UNAVAILABLE).encode()
        if r not in (b"P", b"O"):
            raise ValueError("absence reason must be 'P' or 'O', got %r" % (number_reason,))
        body += bytes([P_NUMBER_ABSENT, 1]) + r
    if name:
        nm = _ascii(name, "name", 50)
        body += bytes([P_NAME, len(nm)]) + nm
    elif name_reason:
        r = name_reason.encode()
        if r not in (b"P", b"O"):
            raise ValueError("absence reason must be 'P' or 'O', got %r" % (name_reason,))
        body += bytes([P_NAME_ABSENT, 1]) + r
    return _frame(MDMF, body)


def vmwi(waiting: bool, messages=None, when=None) -> bytes:
    """A message-waiting message (MDMF type 0x82): the visual indicator on or off, the number of
    messages (0-255) when known, the date/time when given."""
    body = b""
    dt = _datetime(when)
    if dt:
        body += bytes([P_DATETIME, 8]) + dt
    body += bytes([P_VISUAL_INDICATOR, 1, 0xFF if waiting else 0x00])
    if messages is not None:
        body += bytes([P_MESSAGES, 1, max(0, min(255, int(messages)))])
    return _frame(MWI_MDMF, body)


def vmwi_sdmf(waiting: bool) -> bytes:
    """A message-waiting message in SDMF (type 0x06): three 0x42 (on) or 0x6F (off) bytes."""
    return _frame(MWI_SDMF, bytes([VMWI_ON if waiting else VMWI_OFF]) * 3)


def parse(msg: bytes, has_checksum: bool = True) -> dict:
    """Read an SDMF or MDMF message into a dict: ``type``, ``datetime`` ("MMDDHHMM"),
    ``number``, ``number_absent``, ``name``, ``name_absent``, ``params`` (MDMF: list of
    (type, bytes)); message waiting (0x82, 0x06): ``waiting`` (bool), ``messages`` (count). Raises ValueError on a short message, bad length or bad checksum."""
    if len(msg) < 2:
        raise ValueError("truncated caller-ID message header")
    kind, n = msg[0], msg[1]
    end = 2 + n
    if len(msg) < end + (1 if has_checksum else 0):
        raise ValueError("truncated caller-ID message body")
    if has_checksum and sum(msg[:end + 1]) & 0xFF:
        raise ValueError("bad caller-ID checksum")
    body = msg[2:end]
    out = {"type": kind}
    if kind == MWI_SDMF:
        if n != 3 or body[0] != body[1] or body[1] != body[2] or body[0] not in (VMWI_ON, VMWI_OFF):
            raise ValueError("SDMF message-waiting body must be 3 x 0x42 or 3 x 0x6f")
        out["waiting"] = body[0] == VMWI_ON
        return out
    if kind == SDMF:
        if n < 9:
            raise ValueError("SDMF body too short")
        out["datetime"] = body[:8].decode()
        rest = body[8:].decode()
        if rest in (PRIVATE, UNAVAILABLE):
            out["number_absent"] = rest
        else:
            out["number"] = rest
        return out
    if kind in (MDMF, MWI_MDMF):
        params = []
        i = 0
        while i < n:
            if i + 2 > n:
                raise ValueError("truncated MDMF parameter header")
            t, ln = body[i], body[i + 1]
            if i + 2 + ln > n:
                raise ValueError("MDMF parameter 0x%02x overruns the message" % t)
            v = bytes(body[i + 2:i + 2 + ln])
            params.append((t, v))
            name = PARAM_NAMES.get(t)
            if t == P_VISUAL_INDICATOR and ln == 1:
                out["waiting"] = v[0] != 0
            elif t == P_MESSAGES and ln == 1:
                out["messages"] = v[0]
            elif name:
                try:
                    out[name] = v.decode()
                except UnicodeError:
                    raise ValueError("MDMF parameter 0x%02x is not text" % t)
            i += 2 + ln
        out["params"] = params
        return out
    raise ValueError("unknown caller-ID message type 0x%02x" % kind)


def fsk_burst(message: bytes, standard: str = "bell202", seizure: int = 300, marks: int = 180,
              level: float = -13.5, tail_marks: int = 2) -> bytes:
    """PCM for an FSK caller-ID burst: preamble, message, `tail_marks` idle marks.

    `standard`: "bell202" (GR-30-CORE) or "etsi-fsk"/"v23" (EN 300 659, V.23). For call
    waiting (Type II) pass ``seizure=0, marks=80``."""
    try:
        modem = STANDARDS[standard]
    except KeyError:
        raise ValueError("unknown caller-ID standard %r (known: bell202, etsi-fsk; JCLIP frames go "
                         "through jclip_burst)" % standard)
    bits = fsk.preamble_bits(seizure, marks) + fsk.char_bits(message) + [1] * tail_marks
    return fsk.modulate(bits, modem, level)


def burst_ms(message: bytes, seizure: int = 300, marks: int = 180, tail_marks: int = 2) -> float:
    """Length of `fsk_burst` in ms."""
    return (seizure + marks + 10 * len(message) + tail_marks) * 1000.0 / fsk.BAUD


def dtmf_callerid(number: str = None, reason: str = None, on_ms: int = 70, off_ms: int = 70,
                  level: float = -7.0) -> bytes:
    """ETSI DTMF caller ID: "A<number>C", or "D1C" (private) / "D3C" (unavailable)."""
    if number:
        for d in number:
            if d not in "0123456789":
                raise ValueError("DTMF caller ID carries digits only, got %r" % number)
        s = "A" + number + "C"
    else:
        s = "D" + ("1" if reason == PRIVATE else "3") + "C"
    return dtmf.generate(s, on_ms, off_ms, level)


def parse_dtmf_callerid(digits: str) -> dict:
    """Read an ETSI DTMF caller-ID digit string ("A…C", "D1C", "D3C", or with '#' end)."""
    if len(digits) < 2:
        raise ValueError("DTMF caller ID too short: %r" % digits)
    start, body = digits[0], digits[1:]
    if body[-1:] in ("C", "#"):
        body = body[:-1]
    if start == "A":
        return {"number": body}
    if start == "D":
        if body == "1":
            return {"number_absent": PRIVATE}
        return {"number_absent": UNAVAILABLE}
    raise ValueError("DTMF caller ID must start with A or D: %r" % digits)


def alert_tone(ms: int = 80, level: float = -15.0) -> bytes:
    """The 2130+2750 Hz dual tone: CAS for call waiting (GR-30-CORE, 80 ms) or the ETSI DT-AS
    (EN 300 659-1, 100 ms): `ms` long, 2 ms raised-cosine edges."""
    n = ms * RATE // 1000
    s = sine_mix((2130, 2750), (level, level), n)
    r = 16
    for i in range(r):
        g = 0.5 - 0.5 * math.cos(math.pi * (i + 0.5) / r)
        s[i] *= g
        s[n - 1 - i] *= g
    return to_pcm(s)


def post_ring_start(ring_cadence: list, burst: float, gap_ms: int = 500,
                    guard_ms: int = 500) -> int:
    """When (ms from the start of ringing) an after-first-ring burst of `burst` ms starts.

    The first ring is ``ring_cadence[0]`` (for a double ring, the first on/off/on group up to
    its long pause). The burst starts `gap_ms` after it and must end `guard_ms` before the next
    ring; raises ValueError if the cadence's silent interval is too short."""
    cad = list(ring_cadence)
    # the first ring ends at the start of the longest "off" part of the cycle
    longest = 1
    for i in range(1, len(cad), 2):
        if cad[i] > cad[longest]:
            longest = i
    ring_end = sum(cad[:longest])
    silence = cad[longest]
    start = ring_end + gap_ms
    if gap_ms + burst + guard_ms > silence:
        raise ValueError("caller-ID burst of %d ms does not fit a %d ms ring pause"
                         % (burst, silence))
    return int(start)


def prering_plan(burst: float, dtas_ms: int = 100) -> list:
    """ETSI/BT pre-ring sequence as (ms from line reversal, action) steps:
    reverse polarity, DT-AS, FSK, ring."""
    t = 0
    plan = [(t, "reverse_polarity")]
    t += 100
    plan.append((t, "alert_tone"))
    t += dtas_ms + 55
    plan.append((t, "fsk"))
    t += int(burst + 0.5) + 250
    plan.append((t, "restore_polarity"))
    plan.append((t, "ring"))
    return plan


# -- JCLIP (NTT "Number Display") ------------------------------------------------------------

def crc16_itu(data: bytes, crc: int = 0) -> int:
    """CRC-16 of the ITU-T polynomial, reflected (0x8408), from `crc`, no final inversion:
    spandsp's crc_itu16_calc. Appending it low byte first makes the CRC of the whole 0."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def _even_parity(b: int) -> int:
    """A 7-bit character with its even-parity bit in bit 7 (JCLIP characters)."""
    b &= 0x7F
    p = 0
    v = b
    while v:
        p ^= v & 1
        v >>= 1
    return b | (p << 7)


def _stuff(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        out.append(b)
        if b == DLE:
            out.append(DLE)          # a DLE in the data goes twice (adsi_add_field)
    return bytes(out)


def jclip(number: str = None, reason: str = None, dialed: str = None) -> bytes:
    """A JCLIP caller-ID frame (message type 0x40), ready for `jclip_burst`: DLE SOH header DLE
    STX, type, length, the parameters (0x02 number, or 0x04 `reason` "P"/"O"/"C"/"S", default
    "O"; 0x09 `dialed` when given), DLE ETX, CRC-16 low byte first. Numbers are digits (up to 20)."""
    body = b""
    if number:
        num = "".join(c for c in str(number) if c in "0123456789")[:20].encode()
        if not num:
            raise ValueError("JCLIP number must hold digits, got %r" % (number,))
        body += bytes([JP_NUMBER, len(num)]) + num
    else:
        r = reason or UNAVAILABLE
        if r not in JP_REASONS:
            raise ValueError("JCLIP absence reason must be one of %s, got %r" % ("/".join(JP_REASONS), reason))
        body += bytes([JP_NUMBER_ABSENT, 1]) + r.encode()
    if dialed:
        d = "".join(c for c in str(dialed) if c in "0123456789")[:20].encode()
        if d:
            body += bytes([JP_DIALED, len(d)]) + d
    inner = bytes([JCLIP_MDMF]) + _stuff(bytes([len(body)])) + _stuff(body)
    frame = bytes(_even_parity(b) for b in bytes([DLE, SOH, JCLIP_HEADER, DLE, STX]) + inner
                  + bytes([DLE, ETX]))
    crc = crc16_itu(frame[2:])
    return frame + bytes([crc & 0xFF, crc >> 8])


def parse_jclip(frame: bytes) -> dict:
    """Read a JCLIP frame (as `jclip` builds it, CRC included) into a dict: ``type``,
    ``number``, ``number_absent``, ``dialed``, ``params`` (list of (type, bytes)). Raises
    ValueError naming the defect: framing, parity, DLE stuffing, length or CRC."""
    if len(frame) < 13:
        raise ValueError("truncated JCLIP frame (%d bytes)" % len(frame))
    if crc16_itu(frame[2:]) != 0:
        raise ValueError("bad JCLIP CRC")
    chars = frame[:-2]
    for i, c in enumerate(chars):
        if _even_parity(c) != c:
            raise ValueError("JCLIP parity error in character %d" % i)
    chars = bytes(c & 0x7F for c in chars)
    if chars[:5] != bytes([DLE, SOH, JCLIP_HEADER, DLE, STX]):
        raise ValueError("JCLIP frame must start DLE SOH 0x07 DLE STX")
    if chars[-2:] != bytes([DLE, ETX]):
        raise ValueError("JCLIP frame must end DLE ETX")
    data = bytearray()
    i, inner = 0, chars[5:-2]
    while i < len(inner):
        data.append(inner[i])
        if inner[i] == DLE:
            if i + 1 >= len(inner) or inner[i + 1] != DLE:
                raise ValueError("lone DLE inside a JCLIP message")
            i += 1
        i += 1
    if len(data) < 2 or data[1] != len(data) - 2:
        raise ValueError("JCLIP message length %s does not match its %d bytes"
                         % (data[1] if len(data) > 1 else None, max(0, len(data) - 2)))
    out = {"type": data[0]}
    params = []
    body = bytes(data[2:])
    i = 0
    while i < len(body):
        if i + 2 > len(body) or i + 2 + body[i + 1] > len(body):
            raise ValueError("JCLIP parameter 0x%02x overruns the message" % body[i])
        t, ln = body[i], body[i + 1]
        v = body[i + 2:i + 2 + ln]
        params.append((t, v))
        if t in JP_PARAM_NAMES:
            out[JP_PARAM_NAMES[t]] = v.decode("ascii", "replace")
        i += 2 + ln
    out["params"] = params
    return out


def jclip_burst(frame: bytes, marks: int = JCLIP_MARKS, stop_bits: int = JCLIP_STOP_BITS,
                level: float = -13.5, tail_marks: int = 5) -> bytes:
    """PCM for a JCLIP frame: `marks` mark bits (no channel seizure), each character with a
    start bit, 8 bits LSB first and `stop_bits` stop bits, then `tail_marks` (spandsp's
    postamble), V.23 FSK."""
    bits = [1] * marks
    for b in frame:
        bits.append(0)
        bits += [(b >> k) & 1 for k in range(8)]
        bits += [1] * stop_bits
    return fsk.modulate(bits + [1] * tail_marks, "v23", level)


def jclip_burst_ms(frame: bytes, marks: int = JCLIP_MARKS, stop_bits: int = JCLIP_STOP_BITS,
                   tail_marks: int = 5) -> float:
    """Length of `jclip_burst` in ms."""
    return (marks + (9 + stop_bits) * len(frame) + tail_marks) * 1000.0 / fsk.BAUD


def _jclip_complete(buf: bytes) -> int:
    """The length of the whole frame at the start of `buf` (DLE ETX and the 2 CRC bytes
    seen), or 0 while it is still short. Parity is in bit 7, so DLE is 0x90 and ETX 0x03."""
    i = 5
    while i + 1 < len(buf):
        if buf[i] & 0x7F == DLE:
            nxt = buf[i + 1] & 0x7F
            if nxt == ETX:
                return i + 4 if i + 4 <= len(buf) else 0
            i += 2                   # a stuffed DLE (or a defect parse_jclip will name)
            continue
        i += 1
    return 0


class CallerIDReceiver:
    """Represents the caller-ID decoder of a telephone: FSK in, parsed messages out.

    `feed(pcm)` returns the messages completed (dicts from `parse`, plus ``"raw"``); messages
    with a bad checksum are counted in `errors` and dropped.

        rx = CallerIDReceiver("bell202")
        for frame in frames:
            for msg in rx.feed(frame):
                print(msg["number"])
    """

    def __init__(self, standard: str = "bell202"):
        self.jclip = standard == "jclip"
        self.demod = fsk.FSKDemodulator("v23" if self.jclip else STANDARDS.get(standard, standard))
        self.errors = 0
        self._buf = bytearray()

    def feed(self, pcm: bytes) -> list:
        """Demodulate PCM; return the caller-ID messages completed."""
        out = []
        for c in self.demod.feed(pcm):
            if self.jclip:
                self._jclip_char(c, out)
                continue
            self._buf.append(c)
            if len(self._buf) >= 2 and len(self._buf) == self._buf[1] + 3:
                raw = bytes(self._buf)
                self._buf = bytearray()
                try:
                    msg = parse(raw)
                except ValueError:
                    self.errors += 1
                    continue
                msg["raw"] = raw
                out.append(msg)
        if not self.demod.armed and self._buf:   # carrier gone mid-message
            self._buf = bytearray()
            self.errors += 1
        return out

    def _jclip_char(self, c: int, out: list) -> None:
        if not self._buf and c & 0x7F != DLE:
            return                           # a frame starts with DLE (SOH)
        self._buf.append(c)
        n = _jclip_complete(bytes(self._buf))
        if n == 0 and len(self._buf) < 300:
            return
        raw = bytes(self._buf[:n]) if n else bytes(self._buf)
        self._buf = bytearray()
        try:
            msg = parse_jclip(raw)
        except ValueError:
            self.errors += 1
            return
        msg["raw"] = raw
        out.append(msg)
