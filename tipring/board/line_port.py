"""One FXS port wired up: the board-independent glue between hal/ devices, the line layer and the app.

Owns the per-line plumbing every board shares (the sim board today, the AG1171 board the same
way): the hook switch's posted edges go through a `HookDecoder`; capture frames go through a
`DTMFDetector`; both feed the `FxsLine` (tipring/firmware/line/fxs.py), whose outputs this module carries
out: tones from the country's tone plan (`ToneGenerator`), ringing on the HAL `Ringer` with the
country's cadence, the caller-ID burst (FSK or DTMF) when the plan's `callerid.when` says:
between the first two rings (US, DE...), or before the first ring after a line reversal and
the DT-AS (UK, BT SIN 227; DTMF caller ID everywhere); message waiting (VMWI FSK on-hook
without ringing, stutter dial tone, `message_waiting`), caller ID on
call waiting (`tipring/firmware/line/cidcw.py`: CAS, the phone's ACK, FSK, with the far end muted both
ways), intents to the call layer (`app.line_intent`) and events to the event log (`app.emit`), and, in calls,
the echo canceller and fax/modem tone watch (`tipring/board/line_echo.py`: the mouthpiece frame handed
to `app.media_frame` goes through it; the earpiece frame is its reference).

It lives under board/ because it is not sans-IO (it arms loop timers; tipring/firmware/line stays
sans-IO, DESIGN property 1), but it knows no pin and no sound device: a board hands
it a `hal.line.LineHardware` (only `.hook` via `post`, and `.ringer`, are used) and calls
`media_tick(capture, now)` once per 20 ms frame from its media clock, which returns the frame
the earpiece hears. On the sim board the clock is a loop timer; on the AG1171 board it is the
capture side of `hal.audio.AlsaLine` (read_frame -> media_tick -> write_frame).

The line's audio rate (`rate`, the board's `audio.rate`): 8000, or 16000 on a wideband board
(G.722 end to end). Every frame `media_tick` takes and gives, and `app.media_frame` sees, is
20 ms at it. The line's own signalling is narrowband 8 kHz DSP whatever the rate (DTMF Q.24,
tone plans E.180, caller ID GR-30 / EN 300 659, CAS, modem tones V.25): on a 16 kHz line the
capture goes through one `Decimator` for the DTMF detector, the CIDCW ACK and the fax/modem
tone watch, and the line's signals (tones, caller-ID bursts, VMWI, CAS, far-end digits) through
one `Interpolator`; call audio passes at the line rate, untouched, and the echo canceller runs
on it at that rate. At 8000 neither converter exists: the path is the narrowband one, bit for
bit.

Rules:
1. Timers fire with their own deadline as `now`, never the loop's (possibly later) time, so a
   late loop turn cannot expire a state that an earlier, not yet delivered, edge would keep.
2. Intents go to the call layer on the next loop turn (`loop.call_soon`), so a call layer that
   answers at once (a failure) re-enters the line after this transition's outputs are done.
3. A "dial" intent with nobody to take it (no call layer) ends in reorder after
   `no_taker_s` seconds.
"""

from tipring.board.line_echo import LineEcho
from tipring.board.line_signals import (
    CIDCW_METHODS, DTAS_TAIL_MS, caller_id_pcm, prering_pcm, vmwi_pcm,
)
from tipring.firmware.dsp import tone_plans
from tipring.firmware.dsp.dtmf import DTMFDetector, DTMFGenerator
from tipring.firmware.dsp.pcm import FRAME_BYTES, SILENT_FRAME
from tipring.firmware.dsp.resample import Decimator, Interpolator
from tipring.firmware.dsp.tones import ToneGenerator
from tipring.firmware.line import jclip
from tipring.firmware.line.cidcw import CAS_MS, DTAS_MS, CidcwSender
from tipring.firmware.line.dialplan import DEFAULT_PLAN
from tipring.firmware.line.fxs import DTMF_STATES, OFFHOOK_TIMEOUT, REORDER_TIMEOUT, FxsLine
from tipring.firmware.line.features import LineFeatures
from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.pulse import MAX_PPS, MIN_PPS
from tipring.firmware.line.ring_cadence import ring_plan

LINE_RATES = (8000, 16000)
PULSE_MAPS = {"standard": "standard", "sweden": "sweden", "newzealand": "new_zealand",
              "new_zealand": "new_zealand"}
CID_GAP = 0.5        # burst starts this long after the first ring ends (GR-30-CORE)
NO_TAKER_S = 2.0
VMWI_SETTLE_S = 0.5  # a new lamp state goes to the phone this long after it came (on-hook)
VMWI_RETRY_S = 2.0   # ... or, the line busy, when it has been quiet again


class LinePort:
    """Represents one FXS port at run time: HAL devices + decoders + `FxsLine` on the loop.

    :param loop: the `EventLoop`.
    :param app: the firmware (`emit`, and `line_intent` / `media_frame` / `calls_mgr` when
        there is a call layer).
    :param line_cfg: the [[line]] dict (port, dial_plan, caller_id, flash_relay, cw_caller_id).
    :param board_cfg: the [board] dict (country, flash_min_ms, flash_max_ms, pulse_variant).
    :param ringer: a `hal.ringer.Ringer` or None.
    Keyword options go to `FxsLine` (offhook_timeout, reorder_timeout, released_silence).
    """

    def __init__(self, loop, app, line_cfg: dict, board_cfg: dict, ringer=None, **options):
        self.rate = options.pop("rate", 8000)
        if self.rate not in LINE_RATES:
            raise ValueError("line %s: audio rate %r; allowed: %s" % (
                line_cfg.get("port"), self.rate, " or ".join(map(str, LINE_RATES))))
        self.frame_bytes = self.rate // 50 * 2      # 20 ms: 320 bytes at 8 kHz, 640 at 16 kHz
        self.silent = SILENT_FRAME if self.rate == 8000 else bytes(self.frame_bytes)
        # 8 kHz DSP meets a 16 kHz line here: capture down once, the line's signals up once
        wide = self.rate != 8000
        self._down = Decimator() if wide else None
        self._up = Interpolator() if wide else None
        self._up_live = False           # the last frame out came through `_up`
        self.loop = loop
        self.app = app
        self.port = line_cfg["port"]
        self.country = board_cfg.get("country", "us")
        self.cid_method = line_cfg.get("caller_id") or "bell202"
        self.no_taker_s = options.pop("no_taker_s", NO_TAKER_S)
        self.ringer = ringer
        self.board_cfg = board_cfg
        self.decoder = self._new_decoder(line_cfg, loop.now())
        self.dtmf = DTMFDetector()
        opts = dict(self._line_options(line_cfg), features=LineFeatures.from_config(line_cfg),
                    feature_codes=line_cfg.get("feature_codes") or "")
        opts.update(options)
        self.fxs = FxsLine(port=self.port, dial_plan=line_cfg.get("dial_plan") or DEFAULT_PLAN,
                           caller_id=self.cid_method != "off", jclip=self.cid_method == "jclip", **opts)
        self.tones = tone_plans.plan(self.country)["tones"]
        # when the caller ID goes: the country plan's `callerid` (UK before the ring, ...)
        self.cid_timing = tone_plans.callerid_timing(self.country, self.cid_method)
        self.cadence, self.ring_hz = ring_plan(self.country)
        self._gen = None
        self._cid_pending = None
        self._cid_pcm = b""
        self._digit_pcm = b""
        self._cidcw = None              # a CidcwSender while CAS / ACK / FSK run
        self._cid_timer = None
        self._test_ring = None
        self._pulse_cfg = None          # a new rotary window waiting for a settled decoder
        self.mwi = None                 # (waiting, new, old) as the network last said
        self._vmwi_due = None           # (waiting, count) still to send to the phone
        self._vmwi_pcm = b""
        self._vmwi_timer = None
        self._polarity_timer = None
        self._dtmf_on = False
        self._timers = {}
        self._closed = False
        self.echo = LineEcho(self, line_cfg)   # echo canceller + fax/modem tones (line_echo.py)

    def _new_decoder(self, line_cfg, now, off_hook=False):
        b = self.board_cfg
        return HookDecoder(
            off_hook=off_hook,
            flash_min=b.get("flash_min_ms", 100) / 1000.0,
            flash_max=b.get("flash_max_ms", 900) / 1000.0,
            pulse_map=PULSE_MAPS.get(b.get("pulse_variant", "standard"), "standard"),
            min_pps=float(line_cfg.get("pulse_pps_min") or MIN_PPS),
            max_pps=float(line_cfg.get("pulse_pps_max") or MAX_PPS), now=now)

    def _line_options(self, line_cfg) -> dict:
        """The FxsLine settings that come from the line's config keys."""
        return {"flash_relay": line_cfg.get("flash_relay") or "off",
                # caller ID on call waiting: FSK methods only (the phone ACKs, then decodes FSK)
                "cw_caller_id": line_cfg.get("cw_caller_id", True) is not False
                and self.cid_method in CIDCW_METHODS,
                "offhook_timeout": float(line_cfg.get("offhook_timeout_s") or OFFHOOK_TIMEOUT),
                "reorder_timeout": float(line_cfg.get("reorder_timeout_s") or REORDER_TIMEOUT),
                "pulse_window": (float(line_cfg.get("pulse_pps_min") or MIN_PPS),
                                 float(line_cfg.get("pulse_pps_max") or MAX_PPS))}

    def reconfigure(self, line_cfg: dict) -> None:
        """The console changed this line's keys: the line's own settings take effect at once
        (from the next timer they arm); the caller-ID method and dial plan at the next start."""
        for key, value in self._line_options(line_cfg).items():
            setattr(self.fxs, key, value)
        self.echo.reconfigure(line_cfg)
        lo, hi = self.fxs.pulse_window
        if self.decoder.tolerance[:2] != (lo, hi):
            # the rotary window: a new receiver from the next settled moment (nothing pending)
            self._pulse_cfg = line_cfg
            self._retune_decoder()

    def _retune_decoder(self):
        d = self.decoder
        if self._pulse_cfg is None or self._closed:
            return
        if d.state not in ("on_hook", "off_hook") or d.deadline() is not None:
            self.loop.call_later(0.5, self._retune_decoder)     # mid-digit or mid-edge: later
            return
        self.decoder = self._new_decoder(self._pulse_cfg, self.loop.now(), off_hook=d.is_off_hook)
        self.decoder.set_ringing(d.ringing)
        self._pulse_cfg = None

    # -- plumbing --------------------------------------------------------------------------

    def _arm(self, name, obj, fire):
        old = self._timers.get(name)
        d = obj.deadline() if obj is not None else None
        if old is not None:
            if d is not None and old.when == d and not old.cancelled:
                return
            old.cancel()
            self._timers[name] = None
        if d is not None and not self._closed:
            self._timers[name] = self.loop.call_at(d, fire, d)

    def _arm_all(self):
        self._arm("hook", self.decoder, self._hook_due)
        self._arm("fxs", self.fxs, self._fxs_due)
        if self.ringer is not None:
            self._arm("ring", self.ringer, self._ring_due)

    def _hook_due(self, when):
        self._timers["hook"] = None
        self._decoded(self.decoder.on_timer(when))

    def _fxs_due(self, when):
        self._timers["fxs"] = None
        self.run(self.fxs.on_timer(when))

    def _ring_due(self, when):
        self._timers["ring"] = None
        if self.ringer is not None:
            self._ring_events(self.ringer.on_timer(when))
        self._arm_all()

    def emit(self, name: str, fields: dict) -> None:
        emit = getattr(self.app, "emit", None)
        if emit is not None:
            emit(name, fields)

    # -- inputs ------------------------------------------------------------------------------

    def hook_posted(self, item) -> None:
        """What `HookSwitch` posted (through the loop): ("hook", t, is_off_hook)."""
        if self._closed:
            return
        _kind, t, off = item
        self._decoded(self.decoder.edge(t, off))

    def _decoded(self, events):
        if self._test_ring is not None:
            for e in events:
                if e[0] == "off_hook":
                    self.stop_test_ring()
        self.run(self.fxs.decoder_events(events))

    def command(self, verb: str, args=()) -> None:
        """A call-layer command for this line (`remote_ringing`, `incoming`, ...; `mwi`
        waiting, new, old from tipring/firmware/calls/mwi.py)."""
        if verb == "mwi":
            self.message_waiting(bool(args[0]) if args else False,
                                 args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None)
            return
        if verb == "fax_mode":          # the call went to T.38 relay (media/routing.py rule 8)
            self.fax_mode(str(args[0]) if args else "fax")
            return
        if verb == "remote_digit":
            # an RFC 4733 digit from the far end: the handset hears it as the tone pair
            if args and self.fxs.state in ("talking", "early_media"):
                self._digit_pcm += DTMFGenerator(str(args[0]), duration_ms=100, pause_ms=0).pcm
            return
        if verb == "incoming" and self._test_ring is not None:
            self.stop_test_ring()
        self.run(self.fxs.command(verb, tuple(args), self.loop.now()))

    def media_tick(self, capture: bytes, now: float) -> bytes:
        """One 20 ms frame at the line's rate: `capture` from the mouthpiece in, the
        earpiece's frame out (`frame_bytes` each: 320 at 8 kHz, 640 at 16 kHz)."""
        heard = self._media_tick(capture, now)
        self.echo.far_end(heard, now)     # the echo canceller's reference, the far end's tones
        return heard

    def fax_mode(self, reason: str = "fax") -> None:
        """For the call layer: this call carries fax or modem audio; the echo canceller
        steps out for the rest of it (tipring/board/line_echo.py)."""
        self.echo.fax_mode(reason)

    def _media_tick(self, capture: bytes, now: float) -> bytes:
        fb = self.frame_bytes
        if len(capture) != fb:
            capture = (capture + self.silent)[:fb]
        # the 8 kHz view of the mouthpiece: DTMF, the CIDCW ACK, the fax/modem tone watch
        narrow = capture if self._down is None else self._down.process(capture)
        cidcw = self._cidcw
        if cidcw is not None and self.fxs.state != "waiting":
            cidcw = self._cidcw = None      # answered (flash), gave up or hung up: stop at once
        if cidcw is not None:
            self._dtmf_on = False           # the ACK is no digit: reset the detector after
        elif self.fxs.state in DTMF_STATES:
            if not self._dtmf_on:
                self.dtmf.reset()
                self._dtmf_on = True
            out = []
            for d, edge, _at in self.dtmf.feed(narrow):
                if edge == "on":
                    out += self.fxs.digit(d, "dtmf", now)
            if out:
                self.run(out)
        else:
            self._dtmf_on = False
        media = None
        mf = getattr(self.app, "media_frame", None)
        if mf is not None:
            try:
                # while caller ID on call waiting runs, the far end hears silence (the ACK)
                media = mf(self.port, self.echo.near_end(capture, now, narrow) if cidcw is None
                           else self.silent, now)
            except Exception as e:  # the call layer's trouble must not stop the line's audio
                self.emit("error", {"where": "media", "message": "line %d: %s" % (self.port, e)})
        line_signal = self._line_signal(cidcw, narrow)
        if line_signal is not None:
            return line_signal if self._up is None else self._widen(line_signal)
        if media is not None and self.fxs.tone is None:
            self._up_live = False
            return media
        if self._up_live:                   # the last signal's filter tail, then silence
            return self._widen(SILENT_FRAME, last=True)
        return self.silent

    def _widen(self, frame: bytes, last: bool = False) -> bytes:
        """An 8 kHz signal frame onto the 16 kHz line: one Interpolator per line, restarted
        when a signal follows call audio (its filter must not hold the last tone's tail)."""
        if not self._up_live:
            self._up.reset()
        self._up_live = not last
        return self._up.process(frame)

    def _line_signal(self, cidcw, narrow: bytes):
        """The line's own 8 kHz signal for this frame (VMWI, caller ID, a tone, the CIDCW
        sequence, a far-end digit), in that order of precedence, or None: call audio or
        silence. Each replaces the call audio while it plays."""
        if self._vmwi_pcm:
            if not self._vmwi_quiet():
                self._vmwi_cut()
            else:
                frame = self._vmwi_pcm[:FRAME_BYTES]
                self._vmwi_pcm = self._vmwi_pcm[FRAME_BYTES:]
                return (frame + SILENT_FRAME)[:FRAME_BYTES]
        if self._cid_pcm:
            frame = self._cid_pcm[:FRAME_BYTES]
            self._cid_pcm = self._cid_pcm[FRAME_BYTES:]
            return (frame + SILENT_FRAME)[:FRAME_BYTES]
        if self._gen is not None:
            frame = self._gen.next_frame()
            if self._gen.done:
                self._gen = None
            return frame
        if cidcw is not None:               # after the SAS burst's ramp-down, if any
            frame = cidcw.frame(narrow)
            if cidcw.done:
                self._cidcw = None
            return frame
        if self._digit_pcm:
            frame = self._digit_pcm[:FRAME_BYTES]
            self._digit_pcm = self._digit_pcm[FRAME_BYTES:]
            return (frame + SILENT_FRAME)[:FRAME_BYTES]
        return None

    # -- outputs -------------------------------------------------------------------------------

    def run(self, outputs) -> None:
        """Carry out what the `FxsLine` returned, then re-arm every timer."""
        for o in outputs:     # caller ID first: a pre-ring burst decides how the ring starts
            if o[0] == "cid":
                self._cid_pending = o[1]
        for o in outputs:
            kind = o[0]
            if kind == "event":
                self.emit(o[1], o[2])
            elif kind == "play":
                self._play(o[1])
            elif kind == "ring":
                self._ring(o[1])
            elif kind == "cid":
                pass
            elif kind == "cidcw":
                pcm = caller_id_pcm(o[1], self.cid_method, cidcw=True)
                # ETSI (V.23) lines alert with the DT-AS, the same pair a little longer
                cas_ms = DTAS_MS if self.cid_method == "etsi-fsk" else CAS_MS
                self._cidcw = CidcwSender(pcm, cas_ms=cas_ms) if pcm else None
            elif kind == "intent":
                self._intent(o[1], o[2:])
            elif kind in ("car", "jclip"):
                self._jclip(kind, o[1])
        self._arm_all()

    def _jclip(self, kind, arg):
        """JCLIP (tipring/firmware/line/jclip.py): ("car", on) reverses the line and rings the CAR
        cadence, or stops it; ("jclip", caller_id) plays the data once the phone is off-hook;
        ("jclip", None) stops it. The polarity comes back after the data (or with no data)."""
        if self.ringer is None:
            return
        if kind == "car" and arg:
            self._vmwi_cut()
            if jclip.REVERSE_FOR_CAR:
                self.ringer.set_polarity(False)
            self._ring_events(self.ringer.start(jclip.CAR_CADENCE, jclip.CAR_HZ, self.loop.now()))
            self.decoder.set_ringing(True)
        elif kind == "car":
            self.ringer.stop()
            self.decoder.set_ringing(False)
            if self.fxs.state != "cid_offhook":
                self._restore_polarity()
        elif arg:
            pcm = jclip.data_pcm(arg)
            self._cid_pcm = pcm
            self.emit("line_signal", {"line": self.port, "signal": "jclip", "ms": int(len(pcm) / 16)})
            self._polarity_timer = self.loop.call_later(len(pcm) / 16000.0, self._restore_polarity)
        else:
            self._cid_pcm = b""
            if self._polarity_timer is not None:
                self._polarity_timer.cancel()
            self._restore_polarity()

    def _play(self, name):
        if self._gen is not None:
            self._gen.stop()            # ramps down within a frame, then done
        if name is None:
            return
        tone = self.tones.get(name)
        if tone is None:
            self.emit("error", {"where": "line", "message": "line %d: no %s tone in the %s plan"
                                % (self.port, name, self.country)})
            return
        self._gen = ToneGenerator(tone)

    def _ring(self, on):
        if self.ringer is None:
            return
        if on:
            now = self.loop.now()
            pre = b""
            if self._cid_pending is not None and self.cid_timing["when"] == "before_ring":
                pre = prering_pcm(self._cid_pending, self.cid_method, self.cid_timing["alert"])
                self._cid_pending = None
            if pre:
                self._vmwi_cut()
                seconds = len(pre) / 16000.0
                if self.cid_timing["line_reversal"]:
                    self.ringer.set_polarity(False)
                    # >= 200 ms after the data the polarity comes back, then the first ring
                    back = seconds - (DTAS_TAIL_MS - 200) / 1000.0
                    self._polarity_timer = self.loop.call_at(now + back, self._restore_polarity)
                self._cid_timer = self.loop.call_at(now, self._cid_start, pre)
                self._ring_events(self.ringer.start(self.cadence, self.ring_hz, now, pre_ring=seconds))
            else:
                self._ring_events(self.ringer.start(self.cadence, self.ring_hz, now))
            self.decoder.set_ringing(True)
        else:
            self.ringer.stop()
            self.decoder.set_ringing(False)
            self._cid_pending = None
            self._cid_pcm = b""
            if self._cid_timer is not None:
                self._cid_timer.cancel()
                self._cid_timer = None
            if self._polarity_timer is not None:
                self._polarity_timer.cancel()
                self._restore_polarity()

    def _ring_events(self, events):
        for e in events:
            # after the first ring (GR-30-CORE, ETSI variant (c)): the first long pause
            if e[0] == "cid_slot" and self._cid_pending is not None:
                pcm = caller_id_pcm(self._cid_pending, self.cid_method)
                self._cid_pending = None
                start = e[1] + CID_GAP
                if pcm and start + len(pcm) / 16000.0 <= e[2] - 0.2 + 1e-6:
                    self._cid_timer = self.loop.call_at(start, self._cid_start, pcm)
                elif pcm:
                    self.emit("error", {"where": "line", "message": "line %d: caller ID does not fit "
                                        "the ring pause" % self.port})

    def _cid_start(self, pcm):
        self._cid_timer = None
        if self.fxs.state == "ringing":
            self._cid_pcm = pcm

    def _intent(self, name, args):
        self.loop.call_soon(self._deliver_intent, name, args)

    def _deliver_intent(self, name, args):
        taker = getattr(self.app, "line_intent", None)
        if taker is None or getattr(self.app, "calls_mgr", True) is None:
            if name == "dial" and self.fxs.state == "dialing":
                self.loop.call_later(self.no_taker_s, self._no_taker)
            return
        try:
            taker(self.port, name, *args)
        except Exception as e:
            self.emit("error", {"where": "line", "message": "line %d: %s %s failed: %s"
                                % (self.port, name, " ".join(str(a) for a in args), e)})
            if name == "dial":
                self.run(self.fxs.remote_failed("congestion", self.loop.now()))

    def _no_taker(self):
        if self.fxs.state == "dialing":
            self.run(self.fxs.remote_failed("no call layer", self.loop.now()))

    # -- message waiting (RFC 3842 in, GR-30-CORE / EN 300 659 VMWI out) -------------------------

    def message_waiting(self, waiting: bool, new=None, old=None) -> None:
        """Messages wait (or no longer do): stutter dial tone from the next dial tone (now, if
        it plays), and, when the lamp changes, a VMWI burst to the phone the next time the line
        is on-hook and quiet (FSK methods; DTMF caller ID has no message-waiting signal)."""
        changed = self.mwi is None or self.mwi[0] != waiting
        self.mwi = (waiting, new, old)
        self.run(self.fxs.set_indications(waiting, self.loop.now()))
        if changed and self.cid_method in CIDCW_METHODS:
            self._vmwi_due = (waiting, new)
            self._vmwi_later(VMWI_SETTLE_S)

    def _vmwi_later(self, delay):
        if self._vmwi_timer is not None:
            self._vmwi_timer.cancel()
        self._vmwi_timer = None if self._closed else self.loop.call_later(delay, self._vmwi_try)

    def _vmwi_quiet(self) -> bool:
        """On-hook, settled, not ringing, nothing else on the line's audio."""
        ringing = self.ringer is not None and (self.ringer.is_ringing or self.ringer.deadline() is not None)
        return (self.fxs.state == "on_hook" and not self.decoder.is_off_hook and not ringing
                and self._test_ring is None and not self._cid_pcm and self._cid_pending is None
                and self._cid_timer is None and self._gen is None)

    def _vmwi_try(self):
        self._vmwi_timer = None
        if self._vmwi_due is None or self._closed:
            return
        if not self._vmwi_quiet():
            self._vmwi_later(VMWI_RETRY_S)          # off-hook or ringing: when it is quiet again
            return
        waiting, new = self._vmwi_due
        self._vmwi_due = None
        board = getattr(self.app, "board", None)
        if board is not None:
            board.wake(self.port)                # the media clock may sleep: the burst needs it
        self._vmwi_pcm = vmwi_pcm(waiting, new, self.cid_method)
        self.emit("line_signal", {"line": self.port, "signal": "vmwi", "waiting": waiting,
                                  "method": self.cid_method, "ms": int(len(self._vmwi_pcm) / 16)})
        if self.cid_method == "etsi-fsk" and self.ringer is not None:
            # EN 300 659-1 §6.1 data without ringing: line reversal, DT-AS, FSK, restored after
            self.ringer.set_polarity(False)
            self._polarity_timer = self.loop.call_later(len(self._vmwi_pcm) / 16000.0, self._restore_polarity)

    def _restore_polarity(self):
        self._polarity_timer = None
        if self.ringer is not None and not self._closed:
            self.ringer.set_polarity(True)

    def _vmwi_cut(self):
        """The line was lifted or rang during the burst: stop it and send it again later."""
        if self._vmwi_pcm:
            self._vmwi_pcm = b""
            if self._vmwi_due is None and self.mwi is not None:
                self._vmwi_due = (self.mwi[0], self.mwi[1])
            self._vmwi_later(VMWI_RETRY_S)
        if self._polarity_timer is not None:
            self._polarity_timer.cancel()
            self._restore_polarity()

    # -- services for the board ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True when the line cannot take a new call (off-hook or ringing)."""
        return self.fxs.state != "on_hook"

    def test_ring(self, seconds: float) -> str:
        """Ring the country's cadence for `seconds` (no call; off-hook stops it)."""
        if self.ringer is None:
            return "line %d: no ringer" % self.port
        if self.fxs.state != "on_hook":
            return "line %d: off-hook, not ringing" % self.port
        self._ring_events(self.ringer.start(self.cadence, self.ring_hz, self.loop.now()))
        self.decoder.set_ringing(True)
        if self._test_ring is not None:
            self._test_ring.cancel()
        self._test_ring = self.loop.call_later(seconds, self.stop_test_ring)
        self._arm_all()
        return "line %d: ringing for %g s" % (self.port, seconds)

    def stop_test_ring(self) -> None:
        if self._test_ring is not None:
            self._test_ring.cancel()
            self._test_ring = None
            if self.ringer is not None and self.fxs.state != "ringing":
                self.ringer.stop()
                self.decoder.set_ringing(False)
            self._arm_all()

    def close(self) -> None:
        """Cancel every timer; the board closes the HAL devices. Safe to call twice."""
        self._closed = True
        self.echo.close()
        for t in list(self._timers.values()) + [self._cid_timer, self._test_ring, self._vmwi_timer,
                                                self._polarity_timer]:
            if t is not None:
                t.cancel()
        self._timers = {}

    @property
    def idle(self) -> bool:
        """True when this line needs no media clock: on-hook and settled (no hook, line or ring
        timer), not ringing, no tone, caller ID or far-end digit audio playing or pending, no
        test ring, and no call media for the port (`app.has_media(port)`: a held party
        hearing hold music counts). Whatever
        is in doubt counts as not idle. The board stops its media clock while every line it
        clocks is idle and restarts it on the next hook edge or command (tipring/board/common.py)."""
        if self._closed:
            return True
        fxs, dec, ringer = self.fxs, self.decoder, self.ringer
        if fxs.state != "on_hook" or fxs.tone is not None or fxs.deadline() is not None:
            return False
        if dec.state != "on_hook" or dec.deadline() is not None:
            return False
        if ringer is not None and (ringer.is_ringing or ringer.deadline() is not None):
            return False
        if (self._gen is not None or self._cid_pcm or self._cid_pending is not None
                or self._cid_timer is not None or self._digit_pcm or self._test_ring is not None
                or getattr(self, "_cidcw", None) is not None or self._vmwi_pcm
                or self._polarity_timer is not None):
            return False
        if any(t is not None and not t.cancelled for t in self._timers.values()):
            return False
        has_media = getattr(self.app, "has_media", None)
        return not (has_media is not None and has_media(self.port))
