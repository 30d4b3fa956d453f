"""The virtual handset of the sim board: a telephone wired to one line's mock pins and audio.

Owns what a person with a telephone does and hears, and nothing of the firmware:
- the hook switch: `offhook` / `onhook` / `flash` drive the line's SHK mock pin, so the real
  `hal.hook.HookSwitch` and `tipring/firmware/line/hook.py` decoder see real edges;
- the dial: DTMF as audio into the mouthpiece (through the firmware's real detector), or rotary
  pulses as SHK make/break edges on loop timers (through the real pulse decoder). The dial is a
  mechanical clock: each edge is stamped with the instant it was scheduled for, even when the
  loop runs that timer a few ms late (`SimPin.stamp`);
- the bell: it watches the RM pin of the SLIC (`SimPin.listeners`): ring bursts, ring count,
  measured cadence; and it tells the line's ring trip by going off-hook; the F/R pin between
  bursts is the line's polarity (`polarity`, line reversal before ETSI / BT caller ID);
- where the caller ID sat: `caller_id_ring` is the number of rings heard when it was decoded
  (0: before the first ring, BT SIN 227; 1: in the first pause, GR-30-CORE), and
  `caller_id_reversed` whether the line was reversed then;
- the caller-ID display: its own FSK demodulator (`CallerIDReceiver`), or a DTMF receiver for
  ETSI DTMF caller ID, on the on-hook line audio: never a Python object from the firmware;
  the same receiver reads message-waiting messages (VMWI, MDMF 0x82 / SDMF 0x06) sent on-hook
  without ringing and keeps the lamp (`mwi`: None until one came, then True/False);
- caller ID on call waiting (GR-30-CORE Type II, `cidcw=True`): off-hook, a CAS (2130+2750 Hz,
  40-140 ms in whole frames) in the earpiece makes it mute its handset both ways, answer DTMF 'D'
  for 60 ms from the frame after the CAS ends, and read the FSK that follows with the same
  demodulator, for up to a second; then the call is heard again. Only for an FSK `cid_method`.
- a JCLIP phone (`cid_method` "jclip", Japan's NTT "Number Display"): a ring burst of at most
  `JCLIP_CAR_MAX_S` is the CAR signal, and the phone answers it by itself (its primary
  response: SHK off-hook, the person's receiver still down), reads the V.23 frame, hangs up,
  and shows the caller before the ringing that follows (`caller_id_ring` 0);
- the ear: `ToneClassifier` over the earpiece audio (country tone plan), dominant frequencies,
  level in dBm0, `listen` windows and WAV recording; the mouth: `say` (a sine) and `play` (WAV).

- a fax machine plugged in place of mouth and ear (`plug_fax`: tipring/board/sim/fax_machine.py,
  spandsp's T.30 terminal): off-hook it sends and hears the line's audio instead of the person.

Driven by the board's 20 ms media tick: `mouthpiece()` gives the frame the handset sends,
`earpiece(frame)` takes what the line plays, both at the line's rate (`rate`, the board's
`audio.rate`). On a 16 kHz line the phone's receivers (caller-ID display, CIDCW, JCLIP, VMWI)
and its ear's classifier hear the earpiece through one `Decimator` (their signals are 8 kHz
telephony), its DTMF dial and CIDCW ACK are made at 8 kHz and widened; `say`, `play`, `record`
and `listen`'s frequencies are at the line rate (tipring/board/sim/wideband.py). At 8 kHz none
of that runs.
"""

import array
import math
from collections import deque

import gpiozero.pins.mock as gmock

from tipring.firmware.dsp import callerid as cidmod
from tipring.firmware.dsp.classify import ToneClassifier, tone_shares
from tipring.firmware.dsp.dtmf import DTMFDetector, generate as dtmf_pcm
from tipring.firmware.dsp.pcm import AUDIOOP, RATE, SILENT_FRAME, amplitude, rms, rms_dbm0
from tipring.firmware.dsp.tones import ToneGenerator
from tipring.firmware.dsp.resample import Decimator
from tipring.firmware.line.pulse import digit_to_pulses
from tipring.board.sim.wideband import Sine, line_peaks, read_wav_rate, widen, write_wav

RING_GAP_S = 1.0          # a burst after this much quiet starts a new ring (UK double ring = 1)
PRE_RING_CID_S = 3.0      # caller ID this close before the first ring is that call's (SIN 227)
INTERDIGIT_MS = 700       # rotary dial: the pause while the dial returns / the next digit is wound
SAY_LEVEL = -13.0
GENERIC = ("silence", "speech", "other")
QUIET_DBM0 = -48.0
CLICK_DBM0 = -45.0
CLICK_FRAMES = 3          # 60 ms
CLICK_QUIET = 10          # 200 ms
CAS_FREQS = (2130, 2750)  # the CPE alerting signal (GR-30-CORE; ETSI DT-AS is the same pair)
CAS_SHARE = 0.8           # both lines together, of a frame's power: "nothing else strong"
CAS_TONE_POWER = 0.5 * amplitude(-32.0) ** 2    # each line at least -32 dBm0
CAS_MIN_CROSSINGS = 60    # per 160-sample frame; the CAS pair gives ~98
CAS_FRAMES = (2, 7)       # 40-140 ms in frames (80 ± 5 ms sent; frame edges add up to 40)
EAR_BACKLOG = 750         # frames (15 s): longer than any plan's cadence cycle (10 s)
CIDCW_ACK = "D"           # an ADSI phone's ACK ('A' from a non-ADSI one)
CIDCW_ACK_MS = 60
CIDCW_LISTEN = 50         # frames (1 s) to read the FSK: it starts within 500 ms of the ACK
JCLIP_CAR_MAX_S = 0.75    # CAR bursts are 0.5 s, the Japanese ring (IR) 1 s
JCLIP_ANSWER_S = 0.1      # the primary response this long after the CAR burst ends
JCLIP_LISTEN = 250        # frames (5 s) off-hook for the data, then on-hook anyway


class SimPin(gmock.MockPin):
    """Extends gpiozero's `MockPin`: an edge may carry an explicit stamp (`stamp`, seconds on
    the mock's clock) and output changes are reported to `listeners` as `(t, state)`."""

    def __init__(self, factory, info):
        self.listeners = []
        self.stamp = None
        super().__init__(factory, info)

    def _change_state(self, value):
        if self._state != value:
            t = self.stamp if self.stamp is not None else gmock.monotonic()
            self._state = value
            self.states.append(gmock.PinState(t - self._last_change, value))
            if len(self.states) > 1000:
                del self.states[:500]
            self._last_change = t
            for fn in list(self.listeners):
                fn(t, value)
            return True
        return False


def _mix(a: bytes, b: bytes) -> bytes:
    x = array.array("h", a)
    y = array.array("h", b)
    for i in range(len(x)):
        v = x[i] + y[i]
        x[i] = 32767 if v > 32767 else (-32768 if v < -32768 else v)
    return bytes(x)


def read_wav(path: str) -> bytes:
    """16-bit mono 8 kHz PCM from a WAV file; ValueError naming what is wrong."""
    return read_wav_rate(path, (RATE,))[0]


def tone_name(name) -> str:
    """Classifier names as INTERFACES.md spells them (stutter-dial, call-waiting...)."""
    return (name or "silence").replace("_", "-")


class _Listen:
    def __init__(self, frames, country, done):
        self.left = frames
        self.clf = ToneClassifier(country)
        self.pcm = []
        self.done = done


class VirtualHandset:
    """Represents a telephone on one sim line.

    :param loop: the `EventLoop` (timers for pulses, flash, listen windows).
    :param port: the line number.
    :param shk: the SHK `SimPin` (an input of the firmware), `shk_active_high` its off-hook level.
    :param rm: the RM `SimPin` (an output of the firmware), `rm_active_high` its ringing level.
    :param country: tone plan for the ear ("us", "uk", ...).
    :param cid_method: "bell202", "etsi-fsk", "dtmf", "jclip" or "off": what the display
        decodes ("jclip": a JCLIP phone, which answers the CAR signal).
    :param ring_session: callable, True while the line's ring generator has a session on
        (the pause between bursts); may be None.
    :param pulse_map: rotary digit coding ("standard", "sweden", "new_zealand").
    :param cidcw: a phone with caller ID on call waiting (default True): it answers a CAS.
    :param rate: the line's audio rate, 8000 (default) or 16000: frames are 20 ms at it.
    """

    def __init__(self, loop, port: int, shk, rm=None, *, shk_active_high: bool = True,
                 rm_active_high: bool = True, country: str = "us", cid_method: str = "bell202",
                 ring_session=None, pulse_map: str = "standard", cidcw: bool = True,
                 fr=None, fr_idle_high: bool = True, rate: int = RATE):
        self.loop = loop
        self.rate = rate
        self.frame_bytes = rate // 50 * 2
        self._silent = SILENT_FRAME if rate == RATE else bytes(self.frame_bytes)
        self._down = Decimator() if rate != RATE else None
        self.port = port
        self.shk = shk
        self.rm = rm
        self.shk_active_high = shk_active_high
        self.rm_active_high = rm_active_high
        self.country = country.upper()
        self.cid_method = cid_method
        self.ring_session = ring_session
        self.pulse_map = pulse_map
        self.cidcw = cidcw and cid_method in ("bell202", "etsi-fsk")
        self.off_hook = False
        self._ear = ToneClassifier(self.country)
        self._heard = deque()           # frames the ear has not classified yet
        self._ear_stale = False         # the backlog overflowed: judge from what is left
        self.samples = 0
        self.caller_id = None
        self.mwi = None                 # the message-waiting lamp: None until a VMWI message came
        self.mwi_messages = None
        self.rings = 0
        self.ring_cadence = []
        self._ring_on = False
        self._ring_edge = None          # time of the last RM change
        self._ring_parts = []
        self._in_session = False
        self._cid_rx = None
        self._cid_dtmf = None
        self._cid_digits = ""
        self._cid_hot = 0
        self._cas_run = 0               # frames of CAS heard in a row (off-hook)
        self._cw_ack = []               # ACK frames still to send
        self._cw_rx = None              # the FSK receiver while the handset is muted for CIDCW
        self._cw_left = 0
        self._cw_armed = False
        self._mouth = []                # queued PCM (DTMF, play) as a list of frames
        self._mouth_done = []           # (frames left, callback) for dial completion
        self._say = None
        self._levels = []
        self._burst = self._quiet = self._last_burst = 0
        self._listens = []
        self._record = None             # [pcm list, frames left or None, path, callback]
        self._op = None                 # (kind, [timers], callback) of a dial/flash under way
        self._closed = False
        self.fax = None                  # a FaxMachine plugged in place of mouth and ear
        self._fax_up = None              # its 8 -> 16 kHz interpolator on a wideband line
        self.fr = fr
        self.fr_idle_high = fr_idle_high
        self.polarity = "forward"       # tip/ring polarity between ring bursts (F/R at rest)
        self.caller_id_ring = None      # rings heard when the caller ID came (0: before the first)
        self.caller_id_reversed = None  # whether the line was reversed when it came
        self._cid_at = None             # loop time the caller ID was decoded
        self.jclip = cid_method == "jclip"
        self._jclip = None              # [receiver, frames left] while off-hook for JCLIP data
        if rm is not None:
            rm.listeners.append(self._rm_changed)
        if fr is not None:
            fr.listeners.append(self._fr_changed)

    # -- hook ----------------------------------------------------------------------------------

    def _drive(self, off_hook: bool, when=None) -> None:
        """Set SHK; `when` (loop time) stamps the edge at the instant it was meant for."""
        level = off_hook == self.shk_active_high
        if when is not None:
            late = self.loop.now() - when
            self.shk.stamp = gmock.monotonic() - (late if late > 0 else 0.0)
        try:
            (self.shk.drive_high if level else self.shk.drive_low)()
        finally:
            self.shk.stamp = None

    def _cancel_op(self, why):
        op = self._op
        self._op = None
        if op is not None:
            for t in op[1]:
                t.cancel()
            if op[2] is not None:
                op[2]({"ok": False, "error": "%s interrupted by %s" % (op[0], why)})
        self._mouth = []
        self._cidcw_end()
        for _n, cb in self._mouth_done:
            cb({"ok": False, "error": "dial interrupted by %s" % why})
        self._mouth_done = []

    def offhook(self) -> dict:
        self._cancel_op("offhook")
        self._jclip = None              # the person took the line (the SHK stays off-hook)
        if not self.off_hook:
            self.off_hook = True
            self._ear_reset()
            self._drive(True)
            self._in_session = False
        return {"hook": "off"}

    def onhook(self) -> dict:
        self._cancel_op("onhook")
        self._jclip_hang_up()
        if self.off_hook:
            self.off_hook = False
            self._drive(False)
            self._ear_reset()
        return {"hook": "on"}

    def flash(self, ms: float, done) -> None:
        """On-hook for `ms`, then off-hook; `done(reply)` after the make."""
        if not self.off_hook:
            done({"ok": False, "error": "flash needs the handset off-hook (send offhook first)"})
            return
        if self._op is not None:
            done({"ok": False, "error": "the handset is still busy with %s" % self._op[0]})
            return
        t0 = self.loop.now()
        self._cidcw_end()                 # a flash answers the waiting call: no CIDCW now

        def make(when=t0 + ms / 1000.0):
            self._op = None
            self._drive(True, when)
            done({"ok": True, "ms": ms})

        self._drive(False, t0)
        self._op = ("flash", [self.loop.call_at(t0 + ms / 1000.0, make)], done)

    # -- dialling ------------------------------------------------------------------------------

    def dial(self, digits: str, mode: str, done, pps: float = 10.0, brk: float = 60.0,
             on: float = 80.0, off: float = 80.0, gap: float = INTERDIGIT_MS) -> None:
        """Dial `digits`: DTMF audio (`on`/`off` ms) or rotary pulses (`pps`, `brk` % break,
        `gap` ms between digits); `done(reply)` once the last digit is out."""
        if not self.off_hook:
            done({"ok": False, "error": "dial needs the handset off-hook (send offhook first)"})
            return
        if self._op is not None or self._mouth_done:
            done({"ok": False, "error": "the handset is still dialling"})
            return
        if mode == "dtmf":
            self._mouth.extend(self._line_frames(dtmf_pcm(digits, on, off), RATE))
            self._mouth_done.append((len(self._mouth), lambda r: done(r if r.get("ok") is False else
                                                                        {"ok": True, "digits": digits,
                                                                         "mode": "dtmf"})))
            return
        period = 1.0 / pps
        b = period * brk / 100.0
        t = self.loop.now() + 0.05
        edges = []
        for d in digits:
            n = digit_to_pulses(d, self.pulse_map)
            for _ in range(n):
                edges.append((t, False))
                edges.append((t + b, True))
                t += period
            t += gap / 1000.0 - (period - b)
        timers = [self.loop.call_at(when, self._drive, level, when) for when, level in edges]

        def finish():
            self._op = None
            done({"ok": True, "digits": digits, "mode": "pulse"})

        timers.append(self.loop.call_at(t, finish))
        self._op = ("dial", timers, done)

    def _line_frames(self, pcm: bytes, rate: int) -> list:
        """PCM at `rate` (8 kHz, or the line's) as line-rate frames, the last one padded."""
        if rate != self.rate:
            pcm = widen(pcm)
        fb = self.frame_bytes
        return [(pcm[i:i + fb] + self._silent)[:fb] for i in range(0, len(pcm), fb)]

    def say(self, freq: float) -> None:
        """A steady sine of `freq` Hz (below the line's Nyquist) into the mouthpiece, or None
        to stop."""
        if freq is None:
            self._say = None
        elif self.rate == RATE:
            self._say = ToneGenerator({"freqs": (int(round(freq)),), "level": SAY_LEVEL, "cadence": []})
        else:
            self._say = Sine(freq, SAY_LEVEL, self.rate)

    def play(self, path: str) -> float:
        """Queue a WAV file into the mouthpiece (8 kHz; on a 16 kHz line 8 or 16 kHz, an
        8 kHz one widened); returns its length in ms."""
        if self.rate == RATE:
            pcm, rate = read_wav(path), RATE
        else:
            pcm, rate = read_wav_rate(path, (RATE, self.rate))
        self._mouth.extend(self._line_frames(pcm, rate))
        return len(pcm) * 500.0 / rate

    def record(self, path: str, ms: float, done) -> None:
        """Record the earpiece to `path`: for `ms` (then `done`), or until `stop_record`."""
        if self._record is not None:
            self.stop_record()
        frames = None if ms is None else max(1, int(math.ceil(ms / 20.0)))
        self._record = [[], frames, path, done]

    def stop_record(self) -> dict:
        rec = self._record
        self._record = None
        if rec is None:
            return {"ok": False, "error": "not recording"}
        pcm = b"".join(rec[0])
        try:
            write_wav(rec[2], pcm, self.rate)
        except ValueError as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True, "file": rec[2], "ms": len(pcm) * 500.0 / self.rate}

    def listen(self, ms: float, done) -> None:
        """`done(reply)` with what the earpiece played over the next `ms`."""
        self._listens.append(_Listen(max(1, int(math.ceil(ms / 20.0))), self.country, done))

    # -- the bell ------------------------------------------------------------------------------

    def _rm_changed(self, t, state):
        on = bool(state) == self.rm_active_high
        if on == self._ring_on:
            return
        if (not on and self.jclip and self._ring_edge is not None and not self.off_hook
                and self._jclip is None and t - self._ring_edge <= JCLIP_CAR_MAX_S):
            self.loop.call_later(JCLIP_ANSWER_S, self._jclip_answer)     # a CAR burst
        if self._ring_edge is not None and (self._in_session or on):
            self._ring_parts.append(int(round((t - self._ring_edge) * 1000)))
            self._ring_parts = self._ring_parts[-8:]
        if on:
            quiet = self._ring_edge is None or t - self._ring_edge >= RING_GAP_S
            if not self._in_session:
                self._in_session = True
                self.rings = 0
                # caller ID sent ahead of the first ring (UK, DTMF) belongs to this call
                if self._cid_at is None or self.loop.now() - self._cid_at > PRE_RING_CID_S:
                    self.caller_id = None
                    self.caller_id_ring = self.caller_id_reversed = None
                self._ring_parts = []
                self._cid_rx = None
                self._cid_digits = ""
            if quiet or self.rings == 0:
                self.rings += 1
        self._ring_on = on
        self._ring_edge = t
        self.ring_cadence = list(self._ring_parts)

    def _fr_changed(self, t, state):
        """F/R between bursts is the line's polarity (it toggles at the ring frequency only
        while RM is active): a change then is a line reversal (ETSI / BT pre-ring signals)."""
        if self._ring_on or (self.rm is not None and (bool(self.rm.state) == self.rm_active_high)):
            return
        self.polarity = "forward" if bool(state) == self.fr_idle_high else "reversed"

    def _jclip_answer(self) -> None:
        """The primary response to the CAR: off-hook to read the caller ID (JCLIP)."""
        if self.off_hook or self._jclip is not None or self._closed:
            return
        self._jclip = [cidmod.CallerIDReceiver("jclip"), JCLIP_LISTEN]
        self._drive(True)

    def _jclip_frame(self, frame: bytes) -> None:
        rx = self._jclip
        rx[1] -= 1
        for msg in rx[0].feed(frame):
            self._show(msg)
            self.caller_id_ring = 0          # read before the ringing
            rx[1] = 0
        if rx[1] <= 0:
            self._jclip_hang_up()

    def _jclip_hang_up(self) -> None:
        if self._jclip is not None:
            self._jclip = None
            if not self.off_hook:
                self._drive(False)

    @property
    def ringing(self) -> bool:
        """The bell rings, or pauses between bursts of a ringing session (off-hook: never)."""
        if self.off_hook:
            return False
        if self._ring_on:
            return True
        return bool(self._in_session and self.ring_session is not None and self.ring_session())

    # -- audio ---------------------------------------------------------------------------------

    def mouthpiece(self) -> bytes:
        """The next 20 ms the handset sends (silence on-hook; the ACK alone while muted for
        caller ID on call waiting, the voice and dialling held back meanwhile)."""
        if self._cw_ack:
            return self._cw_ack.pop(0) if self.off_hook else self._silent
        if self._cw_rx is not None:
            return self._silent
        frame = self._silent
        if self._mouth:
            frame = self._mouth.pop(0)
            if self._mouth_done:
                left = []
                for n, cb in self._mouth_done:
                    if n - 1 <= 0:
                        cb({"ok": True})
                    else:
                        left.append((n - 1, cb))
                self._mouth_done = left
        if self._say is not None:
            s = self._say.next_frame()
            frame = s if frame is self._silent else _mix(frame, s)
        if self.fax is not None and self.off_hook:
            return self._fax_frame()
        return frame if self.off_hook else self._silent

    def earpiece(self, frame: bytes) -> None:
        """What the line played over the last 20 ms (at the line rate)."""
        wide = frame
        if self._down is not None:
            frame = self._down.process(wide)         # what the 8 kHz receivers hear
        self.samples += len(wide) // 2
        if self._in_session and not self._ring_on and not (self.ring_session and self.ring_session()):
            self._in_session = False
        if self._jclip is not None:
            self._jclip_frame(frame)         # the phone, not the person, holds the line
            heard = SILENT_FRAME
        elif not self.off_hook:
            self._display(frame)
            heard = SILENT_FRAME
        else:
            if self.fax is not None:
                self.fax.earpiece(frame)
            heard = self._cidcw(frame) if self.cidcw else frame
            self._forget_clicks(heard)
            self._heard.append(heard)
            if len(self._heard) > EAR_BACKLOG:
                self._heard.popleft()
                self._ear_stale = True
        if self._down is not None:                   # the person hears the line, or silence
            heard, narrow = (wide if heard is frame else self._silent), heard
        else:
            narrow = heard
        self._levels.append(heard)
        if len(self._levels) > 10:
            del self._levels[0]
        if self._listens:
            keep = []
            for ls in self._listens:
                ls.clf.feed(narrow)
                ls.pcm.append(heard)
                ls.left -= 1
                if ls.left <= 0:
                    ls.done(self._listen_result(ls))
                else:
                    keep.append(ls)
            self._listens = keep
        rec = self._record
        if rec is not None:
            rec[0].append(heard)
            if rec[1] is not None:
                rec[1] -= 1
                if rec[1] <= 0:
                    done = rec[3]
                    done(self.stop_record())

    def _forget_clicks(self, frame: bytes) -> None:
        """A burst too short to be any plan tone (<= 60 ms, e.g. dial tone cut by the first
        digit) followed by quiet is a click: the ear forgets it when the next sound starts, so
        it does not spoil the cadence of the tone that follows."""
        loud = frame != SILENT_FRAME and rms_dbm0(rms(frame)) > CLICK_DBM0
        if loud:
            if self._quiet >= CLICK_QUIET and 0 < self._last_burst <= CLICK_FRAMES:
                self._ear_reset()
            if self._quiet:
                self._burst = 0
            self._burst += 1
            self._quiet = 0
        else:
            if self._burst:
                self._last_burst = self._burst
                self._burst = 0
            self._quiet += 1

    def _cidcw(self, frame: bytes) -> bytes:
        """Caller ID on call waiting, off-hook: watch for the CAS, then ACK and read the FSK
        (GR-30-CORE Type II). Returns what the earpiece lets through (silence while muted)."""
        if self._cw_rx is not None:
            for msg in self._cw_rx.feed(frame):
                self._show(msg)
                self._cw_left = 0
            armed = self._cw_rx.demod.armed
            self._cw_left -= 1
            if self._cw_left <= 0 or (self._cw_armed and not armed):
                self._cidcw_end()             # done, or the carrier went: the call again
            else:
                self._cw_armed = self._cw_armed or armed
            return SILENT_FRAME
        # 2130+2750 Hz crosses zero ~100 times a frame, speech and call tones far fewer: a
        # C-speed count spares the Goertzel bins (pure Python) on almost every frame of a call
        if AUDIOOP is not None and AUDIOOP.cross(frame, 2) < CAS_MIN_CROSSINGS:
            shares = None
        else:
            shares, ms = tone_shares(array.array("h", frame), CAS_FREQS)
        if shares is not None and min(shares) * ms >= CAS_TONE_POWER and sum(shares) >= CAS_SHARE:
            self._cas_run += 1
            return frame
        run, self._cas_run = self._cas_run, 0
        if CAS_FRAMES[0] <= run <= CAS_FRAMES[1]:       # a CAS just ended: mute, ACK, listen
            self._cw_ack = self._line_frames(dtmf_pcm(CIDCW_ACK, CIDCW_ACK_MS, 0), RATE)
            self._cw_rx = cidmod.CallerIDReceiver(self.cid_method)
            self._cw_left = CIDCW_LISTEN
            self._cw_armed = False
            self._cw_rx.feed(frame)
            return SILENT_FRAME
        return frame

    def _cidcw_end(self) -> None:
        self._cas_run = 0
        self._cw_ack = []
        self._cw_rx = None

    def _display(self, frame: bytes) -> None:
        """The caller-ID display: decode only while there is audio (and one frame after)."""
        loud = frame != SILENT_FRAME and rms(frame) > 20
        if loud:
            self._cid_hot = 3
        elif self._cid_hot <= 0:
            return
        else:
            self._cid_hot -= 1
        if self.cid_method == "dtmf":
            if self._cid_dtmf is None:
                self._cid_dtmf = DTMFDetector()
            for d, edge, _at in self._cid_dtmf.feed(frame):
                if edge != "on":
                    continue
                if d in "AD":
                    self._cid_digits = d
                elif self._cid_digits:
                    self._cid_digits += d
                    if d == "C":
                        try:
                            self._show(cidmod.parse_dtmf_callerid(self._cid_digits))
                        except ValueError:
                            pass
                        self._cid_digits = ""
            return
        if self.cid_method == "off":
            return
        if self._cid_rx is None:
            self._cid_rx = cidmod.CallerIDReceiver(self.cid_method)
        for msg in self._cid_rx.feed(frame):
            self._show(msg)

    def _show(self, msg: dict) -> None:
        if msg.get("type") in (cidmod.MWI_MDMF, cidmod.MWI_SDMF):
            # the message-waiting lamp (VMWI): on or off until the next such message
            self.mwi = bool(msg.get("waiting"))
            self.mwi_messages = msg.get("messages")
            return
        dt = msg.get("datetime")
        when = None
        if dt and len(dt) == 8:
            when = "%s-%s %s:%s" % (dt[0:2], dt[2:4], dt[4:6], dt[6:8])
        cid = {"number": msg.get("number"), "name": msg.get("name"), "time": when}
        absent = msg.get("number_absent")
        if absent:
            cid["reason"] = "private" if absent == "P" else "unavailable"
        self.caller_id = cid
        self._cid_at = self.loop.now()
        self.caller_id_ring = self.rings if self._in_session else 0
        self.caller_id_reversed = self.polarity == "reversed"

    @property
    def ear(self) -> ToneClassifier:
        """The tone classifier, caught up on what the earpiece played. It is fed on demand
        (`state`, `listen`, `wait tone=`) rather than every frame: classifying costs far more
        than the rest of the handset, and nobody asks during most of a call."""
        heard = self._heard
        if heard:
            if self._ear_stale:
                self._ear.reset()
                self._ear_stale = False
            feed = self._ear.feed
            while heard:
                feed(heard.popleft())
        return self._ear

    def _ear_reset(self) -> None:
        self._heard.clear()
        self._ear_stale = False
        self._ear.reset()

    def tone(self) -> str:
        """The ear's class; an unmatched sound that has stopped is silence again."""
        t = self.ear.tone
        if t in ("other", "speech") and self.level_dbm0() < QUIET_DBM0:
            t = "silence"
        return tone_name(t)

    def level_dbm0(self) -> float:
        pcm = b"".join(self._levels)
        return max(-99.0, round(rms_dbm0(rms(pcm)), 1)) if pcm else -99.0

    def _short_window(self, w, tone):
        """A window too short for the classifier's evidence (a continuous tone needs 1 s):
        the running ear's verdict if it hears the same lines, else a continuous plan tone
        with these frequencies if the window had no gap."""
        peaks = [(f, 0) for f in w.freqs]
        if self.ear.tone not in GENERIC and ToneClassifier._same(peaks, [(f, 0) for f in self.ear.freqs]):
            return self.ear.tone
        if w._parts or not w._on:
            return tone
        for name in ("dial", "stutter_dial", "recall_dial", "howler", "ringback", "busy", "congestion"):
            t = w.tones.get(name)
            if t is not None and not t.get("cadence") and not t.get("intro") and \
                    ToneClassifier._same(peaks, [(f, 0) for f in t["freqs"]]):
                return name
        return tone

    def _listen_result(self, ls) -> dict:
        w = ls.clf
        tone = w.tone
        if tone in GENERIC and w.freqs:
            tone = self._short_window(w, tone)
        pcm = b"".join(ls.pcm)
        level = w.level if w.level is not None else rms_dbm0(rms(pcm))
        freqs = list(w.freqs) or list(self.ear.freqs)
        wide_level = rms_dbm0(rms(pcm)) if self.rate != RATE else None
        if wide_level is not None and wide_level > QUIET_DBM0:
            # the line's own band: a wideband tone (above 3.4 kHz) reads as itself
            freqs = line_peaks(pcm, self.rate) or freqs
            if tone == "silence":
                tone = "other"          # audible, but nothing the 8 kHz ear can place
            if tone in GENERIC:
                level = wide_level      # no plan tone's burst to measure: the whole window
        return {"ok": True, "tone": tone_name(tone), "freqs": freqs,
                "cadence": list(w.cadence), "level_dbm0": max(-99.0, round(level, 1)),
                "ms": len(ls.pcm) * 20}

    def state(self) -> dict:
        on = self.off_hook
        return {"hook": "off" if on else "on", "ringing": self.ringing, "rings": self.rings,
                "ring_cadence": list(self.ring_cadence), "caller_id": self.caller_id,
                "caller_id_ring": self.caller_id_ring, "caller_id_reversed": self.caller_id_reversed,
                "polarity": self.polarity, "mwi": self.mwi, "mwi_messages": self.mwi_messages,
                "tone": self.tone() if on else "silence",
                "freqs": list(self.ear.freqs) if on else [], "level_dbm0": self.level_dbm0()}

    # -- a fax machine in place of the person ----------------------------------------------------

    def plug_fax(self, mode: str, path: str) -> dict:
        """A fax machine on this line from now on: "send" the TIFF at `path` (the calling fax),
        or "receive" into `path` (the answering fax). Replaces one plugged before.
        Raises ValueError (bad mode) or FaxUnavailable (no spandsp)."""
        from tipring.board.sim.fax_machine import FaxMachine
        if mode == "send":
            with open(path, "rb"):
                pass                      # a missing file: OSError now, not a T.30 failure later
        self.unplug_fax()
        self._fax_up = None
        self.fax = FaxMachine(mode, path, ident="tipring line %d" % self.port)
        return self.fax.status()

    def _fax_frame(self) -> bytes:
        """The fax machine's next 20 ms at the line's rate (spandsp's modems run at 8 kHz;
        a 16 kHz line gets them through the half-band interpolator, its state kept)."""
        pcm = self.fax.mouthpiece(160)
        if self.rate == RATE:
            return pcm
        if self._fax_up is None:
            from tipring.firmware.dsp.resample import Interpolator
            self._fax_up = Interpolator()
        return self._fax_up.process(pcm)

    def unplug_fax(self) -> dict:
        """The fax machine's last status, and the person back on the line ({} without one)."""
        if self.fax is None:
            return {}
        st = self.fax.status()
        self.fax.close()
        self.fax = None
        return st

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.unplug_fax()
        self._cancel_op("close")
        for ls in self._listens:
            ls.done({"ok": False, "error": "board closed"})
        self._listens = []
        if self.rm is not None and self._rm_changed in self.rm.listeners:
            self.rm.listeners.remove(self._rm_changed)
        if self.fr is not None and self._fr_changed in self.fr.listeners:
            self.fr.listeners.remove(self._fr_changed)

    def __repr__(self):
        return "<VirtualHandset line %d hook=%s ringing=%s tone=%s>" % (
            self.port, "off" if self.off_hook else "on", self.ringing, self.ear.tone)

    @property
    def idle(self) -> bool:
        """True when the handset needs no media tick: on-hook, no ring session, nothing to dial,
        say, play, record or listen to, and the caller-ID display quiet. The sim board stops its
        20 ms clock while every handset and line is idle (tipring/board/sim/board.py)."""
        return (not self.off_hook and not self._ring_on and not self._in_session
                and self._op is None and not self._mouth and not self._mouth_done
                and self._say is None and not self._listens and self._record is None
                and self._cid_hot <= 0 and not self._cw_ack and self._cw_rx is None
                and self._jclip is None)
