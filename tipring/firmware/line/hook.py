"""Switch-hook decoding for one FXS line: off-hook, hang-up, hook flash and rotary pulse digits.

Owns every hook-timing rule of the line. The HAL (`hal.hook.HookSwitch`) only stamps raw SHK
edges; this module turns them into events. Sans-IO and MicroPython-portable: it never reads a
clock; callers feed `edge(t, off_hook)` and call `on_timer(now)` at `deadline()`.

Standards and figures (notes/hardware.md §2.1, §2.2, §5):
- Glitch filter ("debounce") 10 ms: a level counts only once it has held that long (Blue POT
  polls 10 ms x 2; kangp3/phone 10 ms). gpiozero's `bounce_time` is not used: it drops short
  pulses.
- Hook flash: a break inside the flash window, default 100-900 ms (Cisco SPA112 "Hook Flash
  Timer Min/Max"); `FLASH_PRESETS["grandstream"]` is 300-1100 ms. Shorter breaks are pulse
  candidates or ignored; a break longer than the window max is a hang-up (`hangup`, default
  the window max), reported when that time has passed with the line still open.
- Rotary pulses (`pulse.py`): 9-22 pps, 55-77 % break (NEC), a make >= 250 ms ends the digit
  (NEC 256 ms / Zyxel 250 ms), digit 0 = 10 pulses; Swedish and New Zealand codings.
- Ring trip: while ringing, off-hook must hold `ring_trip` (default 50 ms; DMS-100 ignores
  0-70 ms) before it counts, to ride out SHK chatter caused by ringing current.

Theory of operation. Two layers, both in this class:
1. The glitch filter keeps a committed level and at most one *pending* raw edge. A pending
   edge is committed, stamped with its own raw time, once it has held for the required time;
   an edge back to the committed level before that drops it as a glitch.
2. A small state machine over committed edges (`TRANSITIONS` documents it):
   "on_hook" -make-> "off_hook" (emit off_hook)
   "off_hook" -break-> "break"
   "break" -make after d-> d < pulse limit: "digit" (pulse counted);
                           flash window: "off_hook" (emit flash); else "off_hook" (ignored)
   "break" -timer at break + hangup-> "on_hook" (emit on_hook)
   "digit" -break-> "break" (next pulse of the same digit)
   "digit" -timer at make + interdigit-> "off_hook" (emit digit or pulse_error)
   A state deadline never fires while a pending edge older than it is unresolved: that edge
   may end the interval first.

Events are tuples whose last item is the time the decoder *decided* (edge time plus the
required hold, or the deadline time):
    ("off_hook", t)  ("on_hook", t)  ("flash", t)
    ("pulse_start", t)                      first pulse of a rotary digit seen (stop dial tone)
    ("digit", "5", "pulse", t)
    ("pulse_error", reason, pps, t)         reason from pulse.check_train, or "interrupted";
                                            pps the train's measured rate (None if unknown)
"""

from tipring.firmware.line.pulse import EPS, MAX_PPS, MIN_PPS, PULSE_MAPS, check_train, pulses_to_digit, train_pps

# name -> (flash_min, flash_max) seconds
FLASH_PRESETS = {
    "spa112": (0.1, 0.9),
    "grandstream": (0.3, 1.1),
}

# A break this long or longer is never a dial pulse (the slowest valid pulse break is
# 0.77 / 8 pps = 96 ms); breaks between this and flash_min are ignored.
PULSE_BREAK_LIMIT = 0.2

# state -> committed input -> next state(s). Every state change goes through `_goto`, which
# refuses a move this table does not list; the guards that pick among several next states
# (pulse vs flash by break length) and the events each move emits are in _commit/_expire.
TRANSITIONS = {
    "on_hook":  {"make": "off_hook"},
    "off_hook": {"break": "break"},
    "break":    {"make": ("digit", "off_hook"), "timer": "on_hook"},
    "digit":    {"break": "break", "timer": "off_hook"},
}


class HookDecoder:
    """Decodes one line's raw switch-hook edges into hook, flash and pulse-digit events.

    All times in seconds on the loop's clock; all parameters keyword-only:
    off_hook (False) the level at `now`; debounce (0.010) glitch filter; flash (True),
    flash_min (0.1), flash_max (0.9) the flash window, see FLASH_PRESETS; hangup (None =
    flash_max) break length that means on-hook; pulse (True) decode rotary digits;
    pulse_map ("standard" | "sweden" | "new_zealand"); min_pps (8), max_pps (22), min_break
    (0.55), max_break (0.77) receiver tolerances; interdigit (0.25) make that ends a digit;
    ring_trip (0.05) off-hook hold while ringing; now (0.0) the current time.
    """

    def __init__(self, *, off_hook: bool = False, debounce: float = 0.010,
                 flash: bool = True, flash_min: float = 0.1, flash_max: float = 0.9,
                 hangup=None, pulse: bool = True, pulse_map: str = "standard",
                 min_pps: float = MIN_PPS, max_pps: float = MAX_PPS,
                 min_break: float = 0.55, max_break: float = 0.77,
                 interdigit: float = 0.25, ring_trip: float = 0.05, now: float = 0.0):
        if hangup is None:
            hangup = flash_max
        if not 0 <= debounce < 0.05:
            raise ValueError("debounce must be 0..0.05 s, got %r" % (debounce,))
        if not 0 < flash_min < flash_max:
            raise ValueError("flash window must satisfy 0 < flash_min < flash_max, got %r..%r"
                             % (flash_min, flash_max))
        if hangup < flash_max:
            raise ValueError("hangup (%r s) must not be shorter than flash_max (%r s)"
                             % (hangup, flash_max))
        if pulse_map not in PULSE_MAPS:
            raise ValueError("unknown pulse_map %r; allowed: %s"
                             % (pulse_map, ", ".join(PULSE_MAPS)))
        if not 0 < min_pps < max_pps or not 0 < min_break < max_break < 1:
            raise ValueError("pulse tolerances must satisfy 0 < min < max (break ratio < 1)")
        if interdigit <= (1.0 - min_break) / min_pps:
            raise ValueError("interdigit %r s is shorter than the longest valid make"
                             % (interdigit,))
        self.debounce = debounce
        self.flash = flash
        self.flash_min = flash_min
        self.flash_max = flash_max
        self.hangup = hangup
        self.pulse = pulse
        self.pulse_map = pulse_map
        self.tolerance = (min_pps, max_pps, min_break, max_break)
        self.interdigit = interdigit
        self.ring_trip = ring_trip
        self.ringing = False
        self._level = bool(off_hook)           # committed (filtered) SHK level
        self._pend = None                      # (t, level) raw edge not yet committed
        self.state = "off_hook" if off_hook else "on_hook"
        self._mark = now                       # start of the current break / make
        self._train = []                       # [[break_s, make_s or None], ...]
        self._last_t = now

    def __repr__(self):
        return "<HookDecoder state=%s pulses=%d pending=%r>" % (
            self.state, len(self._train), self._pend)

    @property
    def is_off_hook(self) -> bool:
        """True unless the decoder has reported (or starts in) on-hook."""
        return self.state != "on_hook"

    def set_ringing(self, ringing: bool) -> None:
        """Tell the decoder whether the line is ringing (off-hook then needs `ring_trip`)."""
        self.ringing = bool(ringing)

    # -- inputs ------------------------------------------------------------------------

    def edge(self, t: float, off_hook: bool) -> list:
        """Feed one raw SHK edge stamped `t` (seconds, the loop's clock); returns events."""
        off_hook = bool(off_hook)
        if t < self._last_t:
            t = self._last_t                   # stamps never run backwards
        self._last_t = t
        events = []
        self._advance(t - EPS, events)         # an edge at a deadline ends the interval first
        if self._pend is not None:
            if off_hook != self._pend[1]:
                self._pend = None              # bounced back before it held: a glitch
        elif off_hook != self._level:
            self._pend = (t, off_hook)
        self._advance(t, events)
        return events

    def on_timer(self, now: float) -> list:
        """Process everything due at or before `now`; returns events."""
        events = []
        self._advance(now, events)
        return events

    def deadline(self):
        """When `on_timer` next has work, or None when only an edge can change anything."""
        state_d = self._state_deadline()
        if self._pend is None:
            return state_d
        commit = self._pend[0] + self._hold(self._pend[1])
        # an edge stamped at the deadline itself: a break of exactly flash_max is still a
        # flash (window inclusive), a make of exactly `interdigit` ends the digit (>=)
        if state_d is None:
            return commit
        if self.state == "break":
            first = self._pend[0] <= state_d + EPS
        else:
            first = self._pend[0] < state_d - EPS
        if first:
            return commit
        return state_d if state_d < commit else commit

    # -- internals ---------------------------------------------------------------------

    def _goto(self, new, inp):
        nxt = TRANSITIONS[self.state][inp]
        if new not in (nxt if isinstance(nxt, tuple) else (nxt,)):
            raise AssertionError("hook: %s -%s-> %s is not in TRANSITIONS"
                                 % (self.state, inp, new))
        self.state = new

    def _hold(self, level):
        if level and self.state == "on_hook" and self.ringing and self.ring_trip > self.debounce:
            return self.ring_trip
        return self.debounce

    def _state_deadline(self):
        if self.state == "break":
            return self._mark + self.hangup
        if self.state == "digit":
            return self._mark + self.interdigit
        return None

    def _advance(self, now, events):
        while True:
            d = self.deadline()
            if d is None or d > now:
                return
            if self._pend is not None and self._pend[0] + self._hold(self._pend[1]) == d:
                te, level = self._pend
                self._pend = None
                self._commit(te, level, d, events)
            else:
                self._expire(d, events)

    def _commit(self, te, level, tc, events):
        self._level = level
        st = self.state
        if level:                                          # make
            if st == "on_hook":
                self._goto("off_hook", "make")
                events.append(("off_hook", tc))
            elif st == "break":
                self._end_break(te - self._mark, te, tc, events)
        else:                                              # break
            if st == "digit":
                self._train[-1][1] = te - self._mark
            if st in ("off_hook", "digit"):
                self._goto("break", "break")
                self._mark = te

    def _end_break(self, d, te, tc, events):
        limit = PULSE_BREAK_LIMIT
        if self.flash and self.flash_min < limit:
            limit = self.flash_min
        if self.pulse and d < limit - EPS:
            self._train.append([d, None])
            self._goto("digit", "make")
            self._mark = te
            if len(self._train) == 1:
                events.append(("pulse_start", tc))
            return
        if self._train:
            events.append(("pulse_error", "interrupted", train_pps(self._train), tc))
            self._train = []
        self._goto("off_hook", "make")
        if self.flash and self.flash_min - EPS <= d <= self.flash_max + EPS:
            events.append(("flash", tc))

    def _expire(self, t, events):
        if self.state == "break":
            if self._train:
                events.append(("pulse_error", "interrupted", train_pps(self._train), t))
                self._train = []
            self._goto("on_hook", "timer")
            events.append(("on_hook", t))
        elif self.state == "digit":
            train = self._train
            self._train = []
            self._goto("off_hook", "timer")
            lo_pps, hi_pps, lo_brk, hi_brk = self.tolerance
            reason = check_train(train, lo_pps, hi_pps, lo_brk, hi_brk)
            digit = None
            if reason is None:
                digit = pulses_to_digit(len(train), self.pulse_map)
                if digit is None:
                    reason = "bad pulse count"
            if reason is None:
                events.append(("digit", digit, "pulse", t))
            else:
                events.append(("pulse_error", reason, train_pps(train), t))
