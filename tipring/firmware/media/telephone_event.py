"""DTMF digits as RTP events (RFC 4733 §2, telephone-event), sender and receiver.

What this module owns
---------------------
The 4-octet event payload (`TelephoneEvent`), the sender's schedule of event packets for one
digit (`EventSender`) and the receiver's deduplication that turns a stream of event packets
into one start and one end per digit (`EventReceiver`). It knows no socket and no RTP header:
the media stream wraps payloads into packets with its own sequence numbers.

Rules
-----
1. Sender (RFC 4733 §2.5.1): all packets of one event carry the event's start timestamp; the
   first has the marker bit (§2.5.1.3); the duration field grows (§2.5.1.2); an update goes
   out on the first packet tick past each `interval_ms` (50 ms) boundary, 50 ms apart on
   average; the final packet has the E bit and goes out on three consecutive ticks
   (§2.5.1.4). The stream sends no audio while an event is playing (§2.5.1.1: no in-band
   copy). Digits queue one after the other.
2. Receiver (§2.5.2): an event is identified by its timestamp; its start is reported once,
   whether or not the first packet arrived (lost start packets), and its end is reported once,
   on the first E-bit packet or when the next event starts (lost end packets), or by `expire`
   after `timeout` of silence. Retransmitted end packets and stragglers of events already
   ended are ignored.
3. Durations are in timestamp units (8 kHz); a single event is capped at 0xFFFF units (8.19 s).

Payload (RFC 4733 §2.3)::

    |     event     |E|R| volume    |          duration             |
"""

import struct

from tipring.firmware.compat import const

#: event codes 0-15 (RFC 4733 §3.2): the DTMF digits, then 16 = hook flash
DIGITS = "0123456789*#ABCD"
EVENT_FLASH = const(16)
DEFAULT_VOLUME = const(10)  # -10 dBm0
END_REPEATS = const(3)
MAX_DURATION = const(0xFFFF)


def digit_to_event(digit: str) -> int:
    """Event code of a DTMF digit ("0"-"9", "*", "#", "A"-"D"), or "flash" (16)."""
    if digit == "flash":
        return EVENT_FLASH
    i = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if i < 0:
        raise ValueError("not a DTMF digit: %r" % (digit,))
    return i


def event_to_digit(event: int):
    """The digit of an event code, "flash" for 16, None for others."""
    if 0 <= event < 16:
        return DIGITS[event]
    if event == EVENT_FLASH:
        return "flash"
    return None


class TelephoneEvent:
    """Represents one RFC 4733 event payload: `event` code, `end` bit, `volume` (0-63, in
    -dBm0) and `duration` (timestamp units)."""

    __slots__ = ("event", "end", "volume", "duration")

    def __init__(self, event: int, end: bool = False, volume: int = DEFAULT_VOLUME,
                 duration: int = 0):
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration

    def __repr__(self) -> str:
        return "TelephoneEvent(%r, end=%s, duration=%d)" % (
            event_to_digit(self.event), self.end, self.duration)

    def __eq__(self, other) -> bool:
        return isinstance(other, TelephoneEvent) and (
            self.event, self.end, self.volume, self.duration) == (
            other.event, other.end, other.volume, other.duration)

    @classmethod
    def parse(cls, data: bytes) -> "TelephoneEvent":
        if len(data) < 4:
            raise ValueError("telephone-event payload too short (%d bytes)" % len(data))
        event, flags, duration = struct.unpack_from("!BBH", data, 0)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        return struct.pack("!BBH", self.event & 0xFF,
                           (0x80 if self.end else 0) | (self.volume & 0x3F),
                           min(self.duration, MAX_DURATION))


class EventSender:
    """Represents the outgoing RFC 4733 events of one stream, driven by the send clock.

    `interval_ms`: how often an update goes out (50); `clock_rate`: 8000.
    `start(digit, duration_ms)` queues a digit. The stream calls `tick(timestamp, samples)` once
    per outgoing packet time, with the RTP timestamp that tick's audio would carry and its
    length; it returns a list of (payload, marker, event timestamp) to send instead of audio,
    or [] when no event is playing (then the audio goes out).
    """

    def __init__(self, interval_ms: int = 50, clock_rate: int = 8000,
                 volume: int = DEFAULT_VOLUME):
        self.interval = interval_ms * clock_rate // 1000
        self.clock_rate = clock_rate
        self.volume = volume
        self._queue = []
        self._current = None  # [event, total, timestamp, elapsed, last sent, ends sent]

    @property
    def busy(self) -> bool:
        """True while an event is playing or queued (the stream mutes in-band audio)."""
        return self._current is not None or bool(self._queue)

    def start(self, digit: str, duration_ms: int = 100) -> None:
        """Queue `digit` for `duration_ms` (at least one packet time is sent)."""
        event = digit_to_event(digit)
        total = min(MAX_DURATION, max(1, duration_ms * self.clock_rate // 1000))
        self._queue.append((event, total))

    def tick(self, timestamp: int, samples: int) -> list:
        cur = self._current
        if cur is None:
            if not self._queue:
                return []
            event, total = self._queue.pop(0)
            cur = self._current = [event, total, timestamp, 0, None, 0]
        event, total, ts = cur[0], cur[1], cur[2]
        if cur[3] < total:
            cur[3] = min(total, cur[3] + samples)
            if cur[3] >= total:  # the last stretch: the first of three end packets
                cur[5] = 1
                return [(TelephoneEvent(event, True, self.volume, cur[3]).serialize(), False, ts)]
            # an update on the first tick past each `interval` boundary: 50 ms on average
            if cur[4] is None or cur[3] // self.interval > cur[4] // self.interval:
                marker = cur[4] is None
                cur[4] = cur[3]
                return [(TelephoneEvent(event, False, self.volume, cur[3]).serialize(),
                         marker, ts)]
            return [(None, False, ts)]  # muted: nothing to send, no audio either
        cur[5] += 1  # retransmit the end packet (§2.5.1.4)
        if cur[5] >= END_REPEATS:
            self._current = None
        return [(TelephoneEvent(event, True, self.volume, total).serialize(), False, ts)]


class EventReceiver:
    """Represents the incoming RFC 4733 events of one stream.

    `on_event(timestamp, payload, now)` for each received telephone-event packet returns a list
    of ("digit", d) at the start of an event and ("digit_end", d, duration_ms) at its end;
    `expire(now)` ends an event whose packets stopped without an end bit; `deadline()` says
    when to call it. A bad payload raises ValueError.
    """

    def __init__(self, clock_rate: int = 8000, timeout: float = 1.0):
        self.clock_rate = clock_rate
        self.timeout = timeout
        self._ts = None          # timestamp of the current (or last) event
        self._event = None
        self._duration = 0
        self._ended = True
        self._last = None        # when the current event was last heard
        self._done = []          # timestamps of recent ended events, to drop stragglers

    def _end(self):
        self._ended = True
        self._done.append(self._ts)
        if len(self._done) > 8:
            self._done.pop(0)
        digit = event_to_digit(self._event)
        if digit is None:
            return []
        return [("digit_end", digit, self._duration * 1000 // self.clock_rate)]

    def on_event(self, timestamp: int, payload: bytes, now: float) -> list:
        ev = TelephoneEvent.parse(payload)
        out = []
        if timestamp != self._ts or ev.event != self._event:
            if timestamp in self._done:
                return []        # a late retransmission of an event already over
            if not self._ended:
                out += self._end()  # its end packets were lost
            self._ts = timestamp
            self._event = ev.event
            self._duration = 0
            self._ended = False
            digit = event_to_digit(ev.event)
            if digit is not None:
                out.append(("digit", digit))
        elif self._ended:
            return []            # end retransmits
        self._last = now
        if ev.duration > self._duration:
            self._duration = ev.duration
        if ev.end:
            out += self._end()
        return out

    def deadline(self):
        if self._ended or self._last is None:
            return None
        return self._last + self.timeout

    def expire(self, now: float) -> list:
        d = self.deadline()
        if d is not None and now >= d:
            return self._end()
        return []
