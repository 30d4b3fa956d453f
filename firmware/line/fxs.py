"""The FXS line state machine: what one analog port does between the handset and the call layer.

Rules:
1. Every state, every transition and every line timer lives in this file, in `TRANSITIONS`.
   An input with no entry for the current state is reported as an `error` event and changes
   nothing (STYLE.md). Guards never pick a next state by hand: an action that must decide
   (the dial plan's verdict on a digit) raises a follow-up event ("number", "invalid") that
   goes through the table like any other.
2. Sans-IO and MicroPython-portable: no clock, no pin, no socket, no thread; no typing, enum,
   dataclasses or __future__. Inputs take `now`; the line says when it next needs a call
   (`deadline()`), and every input returns a list of outputs for the glue to carry out.
3. It does not decode hook edges or audio itself: `firmware/line/hook.py` (HookDecoder) turns
   SHK edges into off_hook / on_hook / flash / pulse digits, a DTMF detector turns capture
   audio into digits, and the glue (`firmware/line/port.py`) hands both in here.

Theory of operation (FLOWS.md §4, §6, §7). Off-hook gives dial tone; the first digit (DTMF
or the first rotary pulse) stops it; every digit is judged by the line's dial plan
(`firmware/line/dialplan.py`): a complete number is handed to the call layer as
``("intent", "dial", number)`` (state "dialing"), a string that matches nothing gets
reorder, an incomplete one waits the plan's inter-digit timer. The call layer answers with
`remote_ringing` (local ringback), `remote_early_media` (the far end's audio), `remote_answered`
(talking), `remote_busy` (busy tone), `remote_failed(kind)` (reorder) or `remote_hangup`
(a short silence, then reorder). Off-hook with nothing dialled for `offhook_timeout` s, or
busy/reorder left for `reorder_timeout` s, ends in the howler (receiver off-hook warning).
An incoming call rings (`("ring", True)` and, when there is one, `("cid", caller_id)` for the
burst between the rings); off-hook answers it (ring trip). In talking, flash and digits go
to the call layer as intents.

Outputs (tuples):
    ("play", tone_name) / ("play", None)   tone plan name ("dial", "busy", "congestion",
                                           "ringback", "howler") or silence / call audio
    ("ring", True) / ("ring", False)       start / stop the ring cadence
    ("cid", {"number", "name", ...})       caller ID to send between the first two rings
    ("intent", "dial", number) / ("intent", "answer") / ("intent", "hangup")
    ("intent", "flash") / ("intent", "digit", digit)
    ("event", name, fields)                for the event log: hook {line, state off|on|flash},
                                           digit {line, digit, how}, line {line, state, was,
                                           cause}, error {where, message}
"""

from firmware.line.dialplan import DEFAULT_PLAN, DialPlan

OFFHOOK_TIMEOUT = 30.0      # dial tone with nothing dialled -> howler
REORDER_TIMEOUT = 60.0      # busy / reorder left off-hook -> howler
RELEASED_SILENCE = 2.0      # far end hung up: silence, then reorder (FLOWS §6)

STATES = ("on_hook", "dial_tone", "collecting", "dialing", "ringback", "early_media", "talking",
          "busy", "reorder", "howler", "ringing", "released")

# state -> event -> (next state, action). Actions are `_a_<name>` methods below; they may set
# the state timer and return outputs and follow-up events.
TRANSITIONS = {
    "on_hook": {
        "off_hook":           ("dial_tone",   "dial_tone"),
        "incoming":           ("ringing",     "ring"),
    },
    "dial_tone": {
        "digit":              ("collecting",  "collect"),
        "pulse_start":        ("dial_tone",   "quiet"),
        "flash":              ("dial_tone",   "dial_tone"),
        "interdigit":         ("dial_tone",   "interdigit_timeout"),   # warmline / hotline
        "number":             ("dialing",     "dial"),
        "invalid":            ("reorder",     "reorder"),
        "timeout":            ("howler",      "howler"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "collecting": {
        "digit":              ("collecting",  "collect"),
        "pulse_start":        ("collecting",  "none"),
        "flash":              ("dial_tone",   "dial_tone"),
        "interdigit":         ("collecting",  "interdigit_timeout"),
        "number":             ("dialing",     "dial"),
        "invalid":            ("reorder",     "reorder"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "dialing": {
        "remote_ringing":     ("ringback",    "ringback"),
        "remote_early_media": ("early_media", "remote_audio"),
        "remote_answered":    ("talking",     "talk"),
        "remote_busy":        ("busy",        "busy"),
        "remote_failed":      ("reorder",     "reorder"),
        "remote_hangup":      ("released",    "released"),
        "timeout":            ("reorder",     "reorder"),              # nobody took the number
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "ringback": {
        "remote_ringing":     ("ringback",    "none"),
        "remote_early_media": ("early_media", "remote_audio"),
        "remote_answered":    ("talking",     "talk"),
        "remote_busy":        ("busy",        "busy"),
        "remote_failed":      ("reorder",     "reorder"),
        "remote_hangup":      ("released",    "released"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "early_media": {
        "remote_ringing":     ("ringback",    "ringback"),
        "remote_early_media": ("early_media", "none"),
        "remote_answered":    ("talking",     "talk"),
        "remote_busy":        ("busy",        "busy"),
        "remote_failed":      ("reorder",     "reorder"),
        "remote_hangup":      ("released",    "released"),
        "digit":              ("early_media", "send_digit"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "talking": {
        "remote_answered":    ("talking",     "none"),
        "remote_hangup":      ("released",    "released"),
        "digit":              ("talking",     "send_digit"),
        "pulse_start":        ("talking",     "none"),
        "flash":              ("talking",     "flash"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "busy": {
        "timeout":            ("howler",      "howler"),
        "flash":              ("dial_tone",   "dial_tone"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "reorder": {
        "timeout":            ("howler",      "howler"),
        "flash":              ("dial_tone",   "dial_tone"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "howler": {
        "flash":              ("dial_tone",   "dial_tone"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "released": {
        "timeout":            ("reorder",     "reorder"),
        "remote_hangup":      ("released",    "none"),
        "flash":              ("dial_tone",   "dial_tone"),
        "on_hook":            ("on_hook",     "idle"),
    },
    "ringing": {
        "off_hook":           ("talking",     "answer"),
        "remote_hangup":      ("on_hook",     "stop_ring"),
        "remote_failed":      ("on_hook",     "stop_ring"),
    },
}

# events that are inputs from the hook decoder (logged as `hook` events)
_HOOK_EVENTS = {"off_hook": "off", "on_hook": "on", "flash": "flash"}


class FxsLine:
    """Represents the line layer of one FXS port: hook, digits, dial plan, tones, ringing.

    All parameters keyword-only: port (1) the line number in events; dial_plan (the
    INTERFACES.md default) Cisco SPA text or a `DialPlan`; offhook_timeout (30 s) dial tone
    with nothing dialled -> howler; reorder_timeout (60 s) busy/reorder -> howler;
    released_silence (2 s) silence after the far end hung up, then reorder; dial_timeout
    (None) when set, a "dial" intent nobody answers goes to reorder after that many seconds
    (for a board without a call layer); caller_id (True) send caller ID to the handset.

        line = FxsLine(port=1, dial_plan="(*xx|[2-9]xxx)")
        line.hook("off_hook", now)      # [("play", "dial"), ("event", "hook", ...), ...]
        line.digit("5", "dtmf", now)
        if line.deadline() is not None: line.on_timer(line.deadline())
    """

    def __init__(self, *, port: int = 1, dial_plan=DEFAULT_PLAN,
                 offhook_timeout: float = OFFHOOK_TIMEOUT,
                 reorder_timeout: float = REORDER_TIMEOUT,
                 released_silence: float = RELEASED_SILENCE, dial_timeout=None,
                 caller_id: bool = True):
        self.port = port
        self.plan = dial_plan if isinstance(dial_plan, DialPlan) else DialPlan(dial_plan)
        self.offhook_timeout = offhook_timeout
        self.reorder_timeout = reorder_timeout
        self.released_silence = released_silence
        self.dial_timeout = dial_timeout
        self.send_caller_id = caller_id
        self.state = "on_hook"
        self.digits = ""           # keys collected since dial tone
        self.number = None         # the number handed to the call layer
        self.tone = None           # what the line plays now (tone name or None)
        self.ringing = False
        self.caller_id = None
        self.failure = None        # kind from remote_failed
        self._timer = None         # (when, event)
        self._now = 0.0

    def __repr__(self):
        return "<FxsLine %d %s digits=%r>" % (self.port, self.state, self.digits)

    # -- inputs ------------------------------------------------------------------------

    def hook(self, kind: str, now: float) -> list:
        """A decoded hook event: "off_hook", "on_hook", "flash" or "pulse_start"."""
        out = []
        if kind in _HOOK_EVENTS:
            out.append(("event", "hook", {"line": self.port, "state": _HOOK_EVENTS[kind]}))
        return out + self._handle(kind, now, ())

    def digit(self, digit: str, how: str, now: float) -> list:
        """A digit from the handset: `how` is "dtmf" or "pulse"."""
        return self._handle("digit", now, (digit, how))

    def decoder_events(self, events, now=None) -> list:
        """Feed a `HookDecoder`'s events (tuples whose last item is the time)."""
        out = []
        for e in events:
            t = e[-1] if now is None else now
            if e[0] == "digit":
                out += self.digit(e[1], e[2], t)
            elif e[0] == "pulse_error":
                out.append(("event", "error", {"where": "line",
                                               "message": "line %d: rotary digit not understood (%s)"
                                               % (self.port, e[1])}))
            else:
                out += self.hook(e[0], t)
        return out

    def incoming(self, caller_id, now: float) -> list:
        """The call layer offers a call: ring (and send `caller_id`, a dict, or None)."""
        return self._handle("incoming", now, (caller_id,))

    def remote_ringing(self, now: float) -> list:
        return self._handle("remote_ringing", now, ())

    def remote_early_media(self, now: float) -> list:
        return self._handle("remote_early_media", now, ())

    def remote_answered(self, now: float) -> list:
        return self._handle("remote_answered", now, ())

    def remote_busy(self, now: float) -> list:
        return self._handle("remote_busy", now, ())

    def remote_failed(self, kind: str, now: float) -> list:
        """The call failed: `kind` is "reorder", "congestion", ... (all play reorder)."""
        return self._handle("remote_failed", now, (kind,))

    def remote_hangup(self, now: float) -> list:
        return self._handle("remote_hangup", now, ())

    def command(self, verb: str, args, now: float) -> list:
        """A call-layer command by name (`("line", port, verb, *args)` from the call manager)."""
        if verb == "incoming":
            return self.incoming(args[0] if args else None, now)
        if verb in ("remote_ringing", "remote_early_media", "remote_answered", "remote_busy",
                    "remote_hangup"):
            return self._handle(verb, now, ())
        if verb == "remote_failed":
            return self._handle(verb, now, (args[0] if args else "reorder",))
        if verb == "remote_digit":
            return []              # RFC 4733 digits from the far end: nothing to do here yet
        return [self._error("unknown line command %r" % (verb,))]

    def deadline(self):
        """When `on_timer` must next run, or None."""
        return self._timer[0] if self._timer is not None else None

    def on_timer(self, now: float) -> list:
        """Fire the state timer if it is due at `now`."""
        t = self._timer
        if t is None or t[0] > now:
            return []
        self._timer = None
        return self._handle(t[1], now, ())

    # -- the machine -------------------------------------------------------------------

    def _error(self, message):
        return ("event", "error", {"where": "line", "message": "line %d: %s" % (self.port, message)})

    def _handle(self, event, now, args):
        self._now = now
        out = []
        queue = [(event, args)]
        while queue:
            ev, a = queue.pop(0)
            entry = TRANSITIONS[self.state].get(ev)
            if entry is None:
                out.append(self._error("%s%s in state %s ignored"
                                       % (ev, " " + a[0] if ev == "digit" else "", self.state)))
                continue
            nxt, action = entry
            was = self.state
            if nxt != was:
                self._timer = None
            self.state = nxt
            if ev == "digit":
                out.append(("event", "digit", {"line": self.port, "digit": a[0], "how": a[1]}))
            res = getattr(self, "_a_" + action)(now, *a)
            if nxt != was:
                out.append(("event", "line", {"line": self.port, "state": nxt, "was": was,
                                              "cause": ev}))
            for r in res:
                if r[0] == "follow":
                    queue.append((r[1], r[2:]))
                else:
                    out.append(r)
        return out

    def _set_timer(self, delay, event="timeout"):
        if delay is None:
            self._timer = None
        else:
            self._timer = (self._now + delay, event)

    def _play(self, tone):
        if tone == self.tone:
            return []
        self.tone = tone
        return [("play", tone)]

    # -- actions -----------------------------------------------------------------------

    def _a_none(self, now, *args):
        return []

    def _a_quiet(self, now, *args):
        return self._play(None)

    def _a_dial_tone(self, now, *args):
        self.digits = ""
        self.number = None
        self.failure = None
        out = []
        if self.tone == "dial":                   # flash: restart the tone
            self.tone = None
        out += self._play("dial")
        v = self.plan.match("")
        if v.state == "complete" and v.timeout < self.offhook_timeout:
            self._set_timer(v.timeout, "interdigit")          # warmline / hotline
        else:
            self._set_timer(self.offhook_timeout)
        return out

    def _a_collect(self, now, digit, how):
        self.digits += digit
        out = self._play(None)
        v = self.plan.match(self.digits)
        if v.state == "complete" and v.timeout <= 0:
            self.number = v.number
            return out + [("follow", "number")]
        if v.state in ("invalid", "barred"):
            return out + [("follow", "invalid")]
        self._set_timer(v.timeout, "interdigit")
        return out

    def _a_interdigit_timeout(self, now, *args):
        v = self.plan.on_timeout(self.digits)
        if v.state == "complete":
            self.number = v.number
            return [("follow", "number")]
        return [("follow", "invalid")]

    def _a_dial(self, now, *args):
        self._set_timer(self.dial_timeout)
        return self._play(None) + [("intent", "dial", self.number)]

    def _a_ringback(self, now, *args):
        return self._play("ringback")

    def _a_remote_audio(self, now, *args):
        return self._play(None)

    def _a_talk(self, now, *args):
        return self._play(None)

    def _a_busy(self, now, *args):
        self._set_timer(self.reorder_timeout)
        return self._play("busy")

    def _a_reorder(self, now, *args):
        self.failure = args[0] if args else self.failure
        self._set_timer(self.reorder_timeout)
        return self._play("congestion")

    def _a_howler(self, now, *args):
        return self._play("howler")

    def _a_released(self, now, *args):
        self._set_timer(self.released_silence)
        return self._play(None)

    def _a_idle(self, now, *args):
        self.digits = ""
        return self._play(None)

    def _a_hang_up(self, now, *args):
        self.digits = ""
        return self._play(None) + [("intent", "hangup")]

    def _a_send_digit(self, now, digit, how):
        return [("intent", "digit", digit)]

    def _a_flash(self, now, *args):
        return [("intent", "flash")]

    def _a_ring(self, now, caller_id=None):
        self.ringing = True
        self.caller_id = caller_id
        out = [("ring", True)]
        if caller_id and self.send_caller_id:
            out.append(("cid", caller_id))
        return out

    def _a_stop_ring(self, now, *args):
        self.ringing = False
        return [("ring", False)]

    def _a_answer(self, now, *args):
        self.ringing = False
        return [("ring", False), ("intent", "answer")] + self._play(None)
