"""Adaptive jitter buffer with packet-loss concealment, for 16-bit PCM at the line's rate.

What this module owns
---------------------
The receive side between the network and the earpiece: where each arriving RTP packet's audio
waits, when it is played, what is played when it is missing (`Concealer`, in the manner of
ITU-T G.711 Appendix I), and how long audio waits (the target delay, adapted to the measured
interarrival jitter, RFC 3550 A.8). It knows no socket, codec, RTP parsing or clock: packets come
in as (sequence number, timestamp, PCM) with the caller's `now`; frames go out on `get(now)`.

Rules
-----
1. The capture clock drives playout: each `get(now)` returns exactly one frame of
   `frame_samples` samples, a real one, a concealed one, or silence. Audio never drifts against
   a timer because there is none; a sender clock that runs fast or slow is absorbed by dropping
   a frame (`shrunk`) or stretching by concealment (`expanded`), so the depth stays bounded.
2. Packets live in a fixed power-of-two ring indexed by extended sequence number (aiortc
   style); a second ring remembers which numbers were seen, to tell a duplicate from a late one.
3. Every packet is counted once: played, `duplicates`, `late` (arrived after its slot was
   played or concealed), or skipped as `lost` (never there when due). Hence
   lost == packets the network dropped + late.
4. A new SSRC empties the buffer (`resets`); a sequence jump by more than the ring is trusted
   after two packets in a row (RFC 3550 A.1); a timestamp jump or a marker bit that opens a gap
   starts a new talkspurt (`resyncs`): playout waits for the target delay again.
5. No wall clock, no threads; the pure-Python arithmetic runs on MicroPython too.
6. Two units, kept apart: positions, depth, target, jitter and the `expanded`/`shrunk` counters
   are RTP timestamp units (`clock_rate`, 8000 for G.711 and G.722, RFC 3551 §4.5.2); audio is
   PCM samples at the line's rate (`line_rate`, 8000 or 16000), `ratio` = line_rate /
   clock_rate samples per timestamp unit. `frame_samples` is PCM per `get`, `frame_ticks` the
   timestamp step of it. At ratio 1 (an 8 kHz line) both are the same numbers as they always
   were; at ratio 2 (a 16 kHz line) a 20 ms frame is 320 samples and 160 units, and the
   concealment runs on 16 kHz audio with its lengths and pitch range doubled.

Theory of operation
-------------------
Positions are extended (unwrapped) sequence numbers and timestamps. `_head` is the next packet
to play, `_play_ts` the timestamp of the next sample. Playout starts `target` after the first
packet arrives. On each `get`, samples come from the head packet; if it is missing and audio
beyond the hole is queued (depth >= target / 2), the packet is lost and concealed in place;
otherwise the buffer has run dry and concealment fills the frame without moving `_play_ts`
(the delay grows by a frame). After each frame the depth (queued audio ahead of `_play_ts`) is
tracked; if its minimum over a second exceeds target + one frame, a frame is dropped.
The target is one packet plus four times the interarrival jitter, within [min, max] delay.

Fixed mode (fax and modem pass-through)
---------------------------------------
A G.711 fax or modem signal does not survive playout adjustments: a dropped or stretched frame
is a phase jump the far modem cannot train through (ITU-T V.152 §7, T.38 Annex pass-through
practice; SPA/HT ATAs do the same). `fix(delay_ms)` switches the buffer, for good, to a fixed
target: the playout point is set once to that delay (one adjustment, at the switch, counted
in `expanded` or `shrunk`), then never moves for the depth. A packet missing when due is a loss
concealed in place, the playout clock keeps running (no `expanded`), a late one is trimmed to
what is still ahead; a marker bit no longer restarts playout. PLC stays for true losses.
"""

import array

from tipring.firmware.compat import const
from tipring.firmware.media.rtp import CLOCK_RATE, seq_diff, ts_diff

# lengths at 8 kHz; a 16 kHz line's concealer doubles each (Concealer(rate))
_HISTORY = const(390)        # 48.75 ms of history, as G.711 Appendix I keeps
_PITCH_MIN = const(40)       # 200 Hz
_PITCH_MAX = const(120)      # 66 Hz
_CORR_LEN = const(160)       # 20 ms correlation window
_FULL_GAIN = const(80)       # concealment plays at full level for 10 ms...
_FADE_LEN = const(400)       # ...then fades out linearly, silent 60 ms into the erasure
_OLA_MIN = const(32)         # 4 ms of overlap-add after an erasure...
_OLA_STEP = const(32)        # ...plus 4 ms per 10 ms erased, at most 10 ms (Appendix I)
_WINDOW = const(50)          # depth-minimum window: 50 frames (1 s at 20 ms)


def _clamp16(v):
    return 32767 if v > 32767 else (-32768 if v < -32768 else v)


class Concealer:
    """Represents packet-loss concealment by pitch-period repetition (after G.711 Appendix I).

    Feed every good chunk through `good(pcm)` (it returns the chunk, cross-faded out of the
    concealment after an erasure); call `conceal(n)` for n missing samples. The first erased
    sample repeats the last pitch period of the history (autocorrelation over pitch periods of
    5-15 ms, 66-200 Hz); the level holds for 10 ms, then falls linearly to silence at 60 ms.
    `rate`: the PCM's sample rate, 8000 (G.711 Appendix I's own lengths) or 16000 (each
    length, the pitch range and the coarse search step doubled).
    """

    def __init__(self, rate: int = 8000):
        if rate % 8000:
            raise ValueError("concealment runs at 8000 or 16000 Hz, not %r" % (rate,))
        self.rate = rate
        s = rate // 8000
        self._scale = s
        self._hist_len = _HISTORY * s
        self._full = _FULL_GAIN * s
        self._fade = _FADE_LEN * s
        self._history = bytes(2 * self._hist_len)
        self._erased = 0
        self._period = None
        self._pos = 0

    @property
    def erased(self) -> int:
        """Samples concealed in the current erasure (0 when none)."""
        return self._erased

    def _remember(self, pcm):
        h = self._history + pcm
        self._history = h[len(h) - 2 * self._hist_len:]

    def _start(self):
        x = array.array("h", self._history)
        n = len(x)
        s = self._scale
        lo, hi, step = _PITCH_MIN * s, _PITCH_MAX * s, 2 * s
        base = n - _CORR_LEN * s
        best, best_score = lo, None
        # coarse search at every other lag (every 4th at 16 kHz: the same 41 candidates, a
        # pitch period resolved to 0.25 ms), then refine around the winner
        lags = list(range(lo, hi + 1, step))
        for refine in (False, True):
            if refine:
                lags = [best + d for k in range(1, s + 1) for d in (-k, k)]
            for lag in lags:
                if lag < lo or lag > hi:
                    continue
                corr = 0
                energy = 1
                for i in range(base, n):
                    y = x[i - lag]
                    corr += x[i] * y
                    energy += y * y
                score = corr * abs(corr) / energy
                if best_score is None or score > best_score:
                    best, best_score = lag, score
        self._period = x[n - best:]
        self._pos = 0

    def _synth(self, n):
        period = self._period
        p = len(period)
        out = array.array("h", bytes(2 * n))
        pos = self._pos
        erased = self._erased
        full, fade = self._full, self._fade
        for i in range(n):
            k = erased + i
            if k < full:
                out[i] = period[pos]
            elif k < full + fade:
                out[i] = (period[pos] * (full + fade - k)) // fade
            else:
                break  # silent from here on: the array is already zero
            pos += 1
            if pos == p:
                pos = 0
        self._pos = pos
        self._erased = erased + n
        return out

    def conceal(self, n: int) -> bytes:
        """n samples standing in for missing audio."""
        if self._erased == 0:
            self._start()
        out = bytes(self._synth(n))
        self._remember(out)
        return out

    def good(self, pcm: bytes) -> bytes:
        """Pass a chunk of real audio, smoothing the join after an erasure."""
        if self._erased:
            n = len(pcm) // 2
            # overlap-add: 4 ms, plus 4 ms per 10 ms of erasure, at most 10 ms (Appendix I)
            s = self._scale
            ola = min(_OLA_MIN * s + _OLA_STEP * s * (self._erased // self._full), self._full, n)
            if ola:
                syn = self._synth(ola)
                real = array.array("h", pcm[:2 * ola])
                for i in range(ola):
                    real[i] = _clamp16((syn[i] * (ola - i) + real[i] * i) // ola)
                pcm = bytes(real) + pcm[2 * ola:]
            self._erased = 0
        self._remember(pcm)
        return pcm

    def reset(self) -> None:
        self.__init__(self.rate)


class JitterBuffer:
    """Represents the adaptive playout buffer of one received stream.

    `frame_samples`: PCM samples per `get` at the line's rate (160 = 20 ms at 8 kHz, 320 at
    16 kHz); `capacity`: ring slots, a power of two; `min_delay_ms`, `max_delay_ms`: bounds of
    the target delay; `initial_delay_ms`: the target before any jitter is measured;
    `clock_rate`: the RTP clock, 8000; `line_rate`: the PCM's rate, a multiple of the clock
    (default the clock itself; 16000 on a wideband line, rule 6).

        jb = JitterBuffer()
        jb.put(seq, timestamp, pcm, now)      # for each audio packet, in any order
        frame = jb.get(now)                   # once per capture frame: always 320 bytes
    """

    def __init__(self, frame_samples: int = 160, capacity: int = 128, min_delay_ms: int = 20,
                 max_delay_ms: int = 200, initial_delay_ms: int = 40,
                 clock_rate: int = CLOCK_RATE, line_rate: int = None):
        if capacity < 4 or capacity & (capacity - 1):
            raise ValueError("capacity must be a power of two >= 4, not %d" % capacity)
        if not 0 < min_delay_ms <= max_delay_ms:
            raise ValueError("need 0 < min_delay_ms <= max_delay_ms")
        rate = clock_rate if line_rate is None else line_rate
        if rate % clock_rate or frame_samples % (rate // clock_rate):
            raise ValueError("line rate %r with %r samples a frame does not fit the %r Hz RTP clock"
                             % (rate, frame_samples, clock_rate))
        self.frame_samples = frame_samples
        self.line_rate = rate
        self.ratio = rate // clock_rate            # PCM samples per timestamp unit (rule 6)
        self.frame_ticks = frame_samples // self.ratio
        self.capacity = capacity
        self.clock_rate = clock_rate
        self._mask = capacity - 1
        self._min = min_delay_ms * clock_rate // 1000
        self._max = max_delay_ms * clock_rate // 1000
        self._initial = max(self._min, min(self._max, initial_delay_ms * clock_rate // 1000))
        self._silence = bytes(2 * frame_samples)
        self._plc = Concealer(rate)
        self.ssrc = None
        # counters (never reset, even by an SSRC change)
        self.received = 0
        self.duplicates = 0
        self.late = 0
        self.lost = 0
        self.concealed = 0   # frames that carry concealment
        self.expanded = 0    # timestamp units of concealment inserted while the buffer ran dry
        self.shrunk = 0      # timestamp units dropped to bring the delay down
        self.resyncs = 0
        self.resets = 0
        self.flushed = 0     # packets discarded unplayed by a reset
        self.jitter = 0.0    # interarrival jitter, samples (RFC 3550 A.8)
        self.target = self._initial
        self.mode = "adaptive"   # "fixed" after fix(): no adaptation, no playout adjustment
        self._clear()

    def __repr__(self) -> str:
        return "<JitterBuffer depth=%.0fms target=%.0fms lost=%d late=%d>" % (
            self.depth_ms, self.target * 1000.0 / self.clock_rate, self.lost, self.late)

    def _clear(self):
        self._ring = [None] * self.capacity
        self._seen = [-1] * self.capacity
        self._head = None       # extended seq of the next packet to play
        self._top = None        # highest extended seq received
        self._ts_top = None     # highest extended timestamp received (for unwrapping)
        self._play_ts = None    # extended timestamp of the next sample to play
        self._high_end = None   # extended timestamp just past the newest audio received
        self._partial = b""
        self._playing = False
        self._start_at = None
        self._packet = self.frame_ticks     # timestamp units of the last packet with audio
        self._bad_seq = None
        self._last_arrival = None
        self._last_ts = 0
        self._win_min = None
        self._win_count = 0

    def reset(self) -> None:
        """Forget every queued packet (counted as `flushed`) and start over with the next one."""
        self.flushed += sum(1 for e in self._ring if e is not None)
        self._clear()
        self._plc.reset()

    @property
    def depth(self) -> int:
        """Audio queued ahead of the playout point, in timestamp units."""
        if self._high_end is None or self._play_ts is None:
            return 0
        return max(0, self._high_end - self._play_ts)

    @property
    def depth_ms(self) -> float:
        return self.depth * 1000.0 / self.clock_rate

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000.0 / self.clock_rate

    # -- arrivals -----------------------------------------------------------------------------

    def put(self, seq: int, timestamp: int, pcm, now: float, ssrc: int = None,
            marker: bool = False) -> str:
        """Queue one packet's audio; `pcm` None marks a packet that carries none (an RFC 4733
        event or comfort noise) so its sequence number is not counted lost. Returns "ok",
        "duplicate", "late", "jump" (an untrusted sequence jump, dropped) or "reset"."""
        status = "ok"
        if ssrc is not None and ssrc != self.ssrc:
            if self.ssrc is not None:
                self.resets += 1
                self.reset()
                status = "reset"
            self.ssrc = ssrc
        if self._head is None:
            return self._first(seq, timestamp, pcm, now, marker, status)

        ext = self._top + seq_diff(seq, self._top & 0xFFFF)
        if ext >= self._head + self.capacity or ext < self._head - self.capacity:
            if self._bad_seq == seq:  # two in a row: the sender really jumped (A.1)
                self.resyncs += 1
                self.reset()
                return self._first(seq, timestamp, pcm, now, marker, "reset")
            self._bad_seq = (seq + 1) & 0xFFFF
            return "jump"
        self._bad_seq = None
        idx = ext & self._mask
        if ext < self._head:
            if self._seen[idx] == ext:
                self.duplicates += 1
                return "duplicate"
            if self._ring[idx] is None:  # don't clobber the mark of a queued newer packet
                self._seen[idx] = ext
            self.late += 1
            return "late"
        if self._seen[idx] == ext:
            self.duplicates += 1
            return "duplicate"
        ts = self._ts_top + ts_diff(timestamp, self._ts_top & 0xFFFFFFFF)
        self._store(idx, ext, ts, pcm, now, marker)
        return status

    def _first(self, seq, timestamp, pcm, now, marker, status):
        ext = seq + 0x10000                       # room below for late packets
        ts = timestamp + 0x100000000
        self._head = ext
        self._top = ext
        self._ts_top = ts
        self._play_ts = ts
        self._high_end = ts
        self._playing = False
        self._start_at = now + self.target / self.clock_rate
        self._store(ext & self._mask, ext, ts, pcm, now, marker)
        return status

    def _store(self, idx, ext, ts, pcm, now, marker):
        r = self.ratio
        if r > 1 and pcm and len(pcm) % (2 * r):
            pcm = pcm[:len(pcm) - len(pcm) % (2 * r)]   # whole timestamp units only
        self._ring[idx] = [ext, ts, pcm, marker, now]
        self._seen[idx] = ext
        self.received += 1
        if ext > self._top:
            self._top = ext
        if ts > self._ts_top:
            self._ts_top = ts
        if not pcm:
            return
        n = len(pcm) // (2 * r)
        self._packet = n
        if ts + n > self._high_end:
            self._high_end = ts + n
        # interarrival jitter (RFC 3550 A.8) drives the target delay
        if self._last_arrival is not None:
            d = (now - self._last_arrival) * self.clock_rate - (ts - self._last_ts)
            if d < 0:
                d = -d
            if d < self.clock_rate:  # a pause in sending is no jitter
                self.jitter += (d - self.jitter) / 16.0
        self._last_arrival = now
        self._last_ts = ts
        if self.mode == "adaptive":
            self.target = max(self._min, min(self._max, n + int(4 * self.jitter)))

    # -- playout ------------------------------------------------------------------------------

    def get(self, now: float) -> bytes:
        """The next frame to play: `frame_samples` samples of PCM at the line's rate, always."""
        if self._head is None:
            return self._silence
        if not self._playing:
            if now < self._start_at - 1e-9:  # filling up: silence, or the fade of a resync
                return self._plc.conceal(self.frame_samples) if self._plc.erased else \
                    self._silence
            self._playing = True
        out = self._pull(self.frame_samples, now, True)
        need = self.frame_samples - len(out) // 2
        if need:
            self.concealed += 1
            if self.mode == "fixed" and self._playing:
                # fixed delay: what is not here when due is lost; the playout clock runs on
                self._play_ts += need // self.ratio
            elif self._playing:  # ran dry: stretch without moving the playout point
                self.expanded += need // self.ratio
            out += self._plc.conceal(need)
        if self.mode == "adaptive":
            self._adapt(now)
        return out

    def fix(self, delay_ms: int = 60) -> None:
        """Switch to a fixed playout delay of `delay_ms` (fax/modem pass-through) for the rest
        of the stream. The one playout adjustment happens here: the queued depth is brought
        to the delay by stretching (concealment) or dropping, then never again."""
        if not 0 < delay_ms <= self.capacity * self.frame_ticks * 1000 // self.clock_rate // 2:
            raise ValueError("fixed delay %r ms out of range" % delay_ms)
        self.mode = "fixed"
        self.target = delay_ms * self.clock_rate // 1000
        if self._head is None or not self._playing:
            if self._start_at is not None and self._head is not None:
                # still filling: start playing once the fixed delay has built up
                e = self._ring[self._head & self._mask]
                if e is not None and e[0] == self._head:
                    self._start_at = e[4] + self.target / self.clock_rate
            return
        d = self.depth
        r = self.ratio
        if d < self.target:
            pad = self.target - d
            self._partial = self._plc.conceal(pad * r) + self._partial
            self._play_ts -= pad
            self.expanded += pad
        elif d > self.target + self.frame_ticks // 2:
            self.shrunk += len(self._pull((d - self.target) * r, 0.0, False)) // (2 * r)

    def _pull(self, need, now, play):
        """Up to `need` PCM samples from the queue, stopping early when it runs dry or resyncs."""
        out = b""
        r = self.ratio
        resync = self.clock_rate // 2 if self._max < self.clock_rate // 2 else self._max
        while need > 0:
            if self._partial:
                take = self._partial[:2 * need]
                self._partial = self._partial[len(take):]
                n = len(take) // 2
                out += self._plc.good(take) if play else take
                self._play_ts += n // r
                need -= n
                continue
            idx = self._head & self._mask
            e = self._ring[idx]
            if e is not None and e[0] == self._head:
                ts, pcm = e[1], e[2]
                if not pcm:               # an event or CN packet: nothing to play
                    self._ring[idx] = None
                    self._head += 1
                    continue
                gap = ts - self._play_ts
                marked = e[3] and gap > 0 and self.mode == "adaptive"
                if gap and (marked or gap > resync or -gap > resync):
                    # a new talkspurt or a timestamp jump: restart playout at this packet
                    self.resyncs += 1
                    self._play_ts = ts
                    self._playing = False
                    self._start_at = e[4] + self.target / self.clock_rate
                    self._high_end = ts
                    for f in self._ring:
                        if f is not None and f[2] and f[1] + len(f[2]) // (2 * r) > self._high_end:
                            self._high_end = f[1] + len(f[2]) // (2 * r)
                    return out
                self._ring[idx] = None
                self._head += 1
                if gap > 0:               # a hole in the timestamps: fill it
                    self._partial = self._plc.conceal(gap * r) + pcm
                    self.concealed += 1
                elif gap < 0:             # overlap with what was already played: trim it
                    self._partial = pcm[-2 * gap * r:]
                else:
                    self._partial = pcm
                continue
            # the head packet is missing
            if self.mode == "fixed" and self._top > self._head:
                # its slot was already concealed in place when it was due (get): skip it; the
                # next packet's timestamp gap or overlap realigns (fill or trim above)
                self.lost += 1
                self._head += 1
                continue
            if self._top > self._head and self.depth >= max(self.target // 2, 1):
                self.lost += 1                # audio beyond the hole is queued: skip it
                self._head += 1
                self._partial = self._plc.conceal(self._packet * r)
                self.concealed += 1
                continue
            return out                     # ran dry
        return out

    def _adapt(self, now):
        """Track the depth's minimum over a window; drop a frame when the delay is too long."""
        d = self.depth
        if self._win_min is None or d < self._win_min:
            self._win_min = d
        self._win_count += 1
        n = self.frame_ticks
        excess = d > self._max + n
        if self._win_count >= _WINDOW or excess:
            # half a frame of slack, not a whole one: with one frame queued behind the one
            # playing, "target + n" would never be exceeded and the delay would stay a frame
            # (20 ms) above its target on a clean network
            if excess or self._win_min > self.target + n // 2:
                dropped = len(self._pull(self.frame_samples, now, False)) // (2 * self.ratio)
                self.shrunk += dropped
            self._win_min = None
            self._win_count = 0

    def stats(self) -> dict:
        return {"received": self.received, "lost": self.lost, "late": self.late,
                "duplicates": self.duplicates, "concealed": self.concealed,
                "expanded": self.expanded, "shrunk": self.shrunk, "resyncs": self.resyncs,
                "resets": self.resets, "jitter_ms": self.jitter_ms, "depth_ms": self.depth_ms,
                "target_ms": self.target * 1000.0 / self.clock_rate, "mode": self.mode}
