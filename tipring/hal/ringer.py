"""Ring control of an AG1171-class SLIC: RM (ring mode) and F/R (forward/reverse) outputs.

Owns the two pins and applies `tipring.firmware.line.ring_cadence.RingSchedule` to them. The AG1171
rings when RM is high and F/R is toggled at the ring frequency; RM must be low at all other
times (datasheet; weeBell 0.2 fixed an RM left high that upset the next rotary digit). F/R's
idle level is a board parameter (AG1171 forward = high; notes/hardware.md §1.2, §4).

Driven by the loop, not by a thread: the loop calls `on_timer(now)` at `deadline()`. The pin
levels are a function of absolute time, so a late timer catches up to the right phase and the
mean ring frequency never drifts (gpiozero's `blink()` runs ~1 % slow, platform.md §1c).

Ring trip (answer while ringing) is `stop()`: both pins go idle before it returns, so the
200 ms budget is the hook decoder's `ring_trip` hold (50 ms) plus one loop turn.

`on_timer` / `start` return events for the line layer:
    ("ring_on", t, cycle)     a ring burst starts (cycle counts from 1; UK double rings
                              give two bursts per cycle)
    ("ring_off", t, cycle)    a burst ends
    ("cid_slot", start, end)  the caller-ID window opened (see `cid_slot()`)
"""

from gpiozero import CompositeDevice, DigitalOutputDevice

from tipring.firmware.line.ring_cadence import RingSchedule


class Ringer(CompositeDevice):
    """Represents the ring-generator control of an AG1171-class SLIC (its RM and F/R pins).

    Wire RM and F/R to two GPIO outputs. Each ring burst sets RM active and toggles F/R every
    half period of ``freq_hz``; between bursts RM is inactive and F/R rests at its idle
    level, which is also the line polarity (``set_polarity``)::

        ringer = Ringer(17, 12, fr_idle=True)
        events = ringer.start((2.0, 4.0), 20, now=loop.now())
        # loop: at ringer.deadline() call ringer.on_timer(now); on off-hook: ringer.stop()

    :type rm_pin: int or str
    :param rm_pin: the GPIO wired to RM.

    :type fr_pin: int or str
    :param fr_pin: the GPIO wired to F/R.

    :type rm_active_high: bool
    :param rm_active_high: True (default) when RM high means ringing.

    :type fr_idle: bool
    :param fr_idle: F/R level at rest, i.e. forward polarity (default True, AG1171).

    :type pin_factory: Factory or None
    :param pin_factory: see gpiozero's pin factories (a ``MockFactory`` in tests).
    """

    def __init__(self, rm_pin=None, fr_pin=None, *, rm_active_high: bool = True,
                 fr_idle: bool = True, pin_factory=None):
        self._schedule = None
        self._fr_idle = bool(fr_idle)
        self._forward = True
        self._last = None
        self._cid_sent = False
        self._at = 0.0
        rm = DigitalOutputDevice(rm_pin, active_high=rm_active_high, initial_value=False,
                                 pin_factory=pin_factory)
        try:
            fr = DigitalOutputDevice(fr_pin, initial_value=self._fr_idle,
                                     pin_factory=pin_factory)
        except:
            rm.close()
            raise
        super().__init__(rm=rm, fr=fr, _order=("rm", "fr"), pin_factory=pin_factory)

    # -- state ---------------------------------------------------------------------------

    @property
    def is_ringing(self) -> bool:
        """True from `start()` until `stop()`, pauses between bursts included."""
        return self._schedule is not None

    @property
    def is_ring_on(self) -> bool:
        """True while a burst is on (RM active)."""
        return bool(self.rm.value)

    @property
    def rings(self) -> int:
        """Ring cycles started since `start()` (0 before the first burst)."""
        return self._last[0] if self._last is not None else 0

    def cid_slot(self):
        """`(start, end)` of the caller-ID window of the current session, or None.

        Without `pre_ring` it runs from the end of the first cycle's last burst to the start
        of the second cycle (Bellcore GR-30-CORE puts the FSK burst there, starting >= 0.5 s
        after ring 1 and ending >= 0.2 s before ring 2: those guards are the sender's). With
        `pre_ring` it is the gap before the first burst (ETSI EN 300 659-1 / DTMF caller ID).
        """
        return self._schedule.cid_slot() if self._schedule is not None else None

    def _idle_fr(self):
        return self._fr_idle if self._forward else not self._fr_idle

    # -- commands ------------------------------------------------------------------------

    def start(self, cadence, freq_hz, now: float, *, pre_ring: float = 0.0) -> list:
        """Start ringing with `cadence` (on/off seconds) at `freq_hz`; returns events due now.

        Restarting while ringing starts a new session at `now`.
        """
        self._check_open()
        schedule = RingSchedule(cadence, freq_hz, now, pre_ring)   # validates first
        self._apply(False, False)
        self._schedule = schedule
        self._last = None
        self._cid_sent = False
        return self.on_timer(now)

    def stop(self) -> None:
        """Stop ringing now (ring trip, caller gave up): RM inactive, F/R idle, no deadline."""
        self._schedule = None
        self._last = None
        if not self.closed:
            self._apply(False, False)

    def set_polarity(self, forward: bool) -> None:
        """Set the line polarity at rest (line reversal for ETSI caller ID / answer
        supervision). Takes effect at once when not in a burst, else after it."""
        self._forward = bool(forward)
        if not self.closed and not self.is_ring_on:
            self.fr.value = self._idle_fr()

    # -- loop interface ------------------------------------------------------------------

    def deadline(self):
        """When `on_timer` must next run, or None when not ringing."""
        if self._schedule is None:
            return None
        return self._schedule.next_change(self._at)

    def on_timer(self, now: float) -> list:
        """Bring RM and F/R to their levels for `now`; returns ring events (see module)."""
        s = self._schedule
        if s is None or self.closed:
            return []
        self._at = now
        cycle, seg, rm_on, fr_inv = s.state(now)
        events = []
        last = self._last
        if last is None or (cycle, seg) != last[:2]:
            if last is not None and last[2]:
                events.append(("ring_off", now, last[0]))
            if rm_on:
                events.append(("ring_on", now, cycle))
            slot = s.cid_slot()
            if not self._cid_sent and slot[0] <= now + 1e-6 and now < slot[1]:
                self._cid_sent = True
                events.append(("cid_slot", slot[0], slot[1]))
        self._last = (cycle, seg, rm_on)
        self._apply(rm_on, fr_inv)
        return events

    def _apply(self, rm_on, fr_inv):
        fr = self._idle_fr()
        if fr_inv:
            fr = not fr
        if rm_on:
            self.rm.on()
            self.fr.value = fr
        else:                       # F/R back to rest before RM drops
            self.fr.value = fr
            self.rm.off()

    def close(self) -> None:
        """Drive RM inactive and release both pins; safe to call twice."""
        self._schedule = None
        try:
            if not self.closed:
                self._apply(False, False)
        except Exception:
            pass
        super().close()

    def __repr__(self):
        if self.closed:
            return "<hal.Ringer closed>"
        return "<hal.Ringer rm=%r fr=%r ringing=%s on=%s rings=%d>" % (
            self.rm.pin, self.fr.pin, self.is_ringing, self.is_ring_on, self.rings)
