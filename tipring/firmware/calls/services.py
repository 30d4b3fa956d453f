"""The service state of one FXS line: which of its calls the handset hears, which is held,
which waits, and what the handset is doing with them (FLOWS.md §12-§15, §17).

Rules:
1. Sans-IO and MicroPython-portable, like the rest of tipring/firmware/calls: no clock, no socket, no
   typing. It holds Call objects but never calls them; the manager (tipring/firmware/calls/manager.py)
   does the SIP and feeds the outcome in here as an event.
2. Every state, every event and what it does to the line's call slots are in `TRANSITIONS`.
   `move(event, call)` is the only way the state or the slots change; an event with no entry
   for the current state is an `error` event and changes nothing. An action that leaves the
   line without any call raises the follow-up event `empty`, which goes through the table.
3. The FXS line (tipring/firmware/line/fxs.py) names the same situations from the handset's side;
   `LINE_STATES` says, for every line state, which service states it may meet, and
   tests/calls/test_service_machine.py drives real flows checking that both agree.

Theory of operation. The slots: `active` is the call the handset hears (`call_on(port)`),
`held` the other call on hold, `waiting` an incoming call waiting to be answered, `bridge` our
call to the conference bridge while it is being set up, `joined` the parties sent to that
bridge (in the order they joined), `handing` the call whose REFER the handset hung up for.

    idle --dial/incoming--> single --hold (flash)--> held --dial_second--> second
    second --conference--> conference --drop_last--> single
    second --call_bridge--> bridging --bridge_up--> bridged --drop_last--> single
    single --wait--> waiting --answer_waiting (flash)--> swapped --swap (flash)--> swapped
    held/second/swapped --recall/hangup (on-hook)--> recall --answer_recall--> single
    second/conference --transfer_on_hangup--> transferring --transfer_ok--> idle
                                                           --transfer_failed--> recall

A call that ends leaves its slot (`active_end`, `held_end`, `waiting_end`); a call that takes
the line's place (a transfer's new call, an INVITE with Replaces) is `replace`.
"""

STATES = ("idle", "single", "held", "second", "conference", "bridging", "bridged", "waiting",
          "swapped", "recall", "transferring")

# state -> event -> (next state, action). Actions are `_a_<name>` methods: they move calls
# between the slots, never the state.
TRANSITIONS = {
    "idle": {
        "dial":               ("single",      "take"),
        "incoming":           ("single",      "take"),
        "replace":            ("single",      "take"),
    },
    "single": {                                       # one call, the handset hears it
        "active_end":         ("idle",        "drop_active"),
        "replace":            ("single",      "take"),
        "wait":               ("waiting",     "wait"),          # FLOWS §13: C rings in
        "hold":               ("held",        "none"),          # flash: hold it (FLOWS §12)
        "unhold":             ("single",      "none"),          # flash: resume one the far end held
        "dial_second":        ("second",      "park"),
        "recall":             ("recall",      "none"),          # on-hook, it was held by a flash
    },
    "held": {                                         # the only call, on hold by our flash
        "unhold":             ("single",      "resume"),        # flash again: back to it
        "hold":               ("held",        "none"),
        "dial_second":        ("second",      "park"),          # FLOWS §12, §17: call C
        "restore":            ("held",        "resume"),        # C failed at once: B stays
        "recall":             ("recall",      "resume"),        # on-hook: the phone rings back
        "active_end":         ("idle",        "drop_active"),
        "held_end":           ("idle",        "drop_held"),
        "replace":            ("held",        "take"),
    },
    "second": {                                       # B held, the handset's second call C
        "conference":         ("conference",  "none"),          # FLOWS §17, mixed here
        "call_bridge":        ("bridging",    "call_bridge"),   # ... or on a network bridge
        "drop_second":        ("single",      "resume"),        # flash: give up C, back to B
        "hangup":             ("recall",      "resume"),        # on-hook: C ends, B rings back
        "transfer_on_hangup": ("transferring", "hand_over"),    # FLOWS §15: B to C by REFER
        "active_end":         ("held",        "drop_active"),   # C left; B stays held
        "held_end":           ("single",      "drop_held"),     # B left; C talks on
        "replace":            ("second",      "take"),
    },
    "conference": {                                   # B and C mixed with the handset
        "drop_last":          ("single",      "resume"),        # flash: C ends, B talks on
        "end_conference":     ("single",      "drop_held"),     # on-hook: B ends here, C next
        "transfer_on_hangup": ("transferring", "hand_over"),    # conference_hangup = transfer
        "active_end":         ("single",      "resume"),        # C left: B talks on
        "held_end":           ("single",      "drop_held"),     # B left: C talks on
        "replace":            ("conference",  "take"),
    },
    "bridging": {                                     # calling the conference bridge
        "bridge_up":          ("bridged",     "bridge_up"),     # B and C are REFERred to it
        "bridge_failed":      ("second",      "bridge_gone"),   # then mixed here instead
        "bridge_cancel":      ("second",      "bridge_gone"),   # on-hook meanwhile
        "active_end":         ("bridging",    "drop_active"),
        "held_end":           ("bridging",    "drop_held"),
        "replace":            ("bridging",    "take"),
    },
    "bridged": {                                      # talking on the bridge call
        "drop_last":          ("single",      "none"),          # flash: the bridge drops C
        "wait":               ("waiting",     "wait"),          # C rings in: a plain call now
        "hold":               ("held",        "none"),          # flash after a party left: hold it
        "active_end":         ("idle",        "drop_active"),
        "replace":            ("bridged",     "take"),
    },
    "waiting": {                                      # talking to B, C waits
        "answer_waiting":     ("swapped",     "answer_waiting"),  # flash: B held, C answered
        "ring_waiting":       ("single",      "ring_waiting"),  # on-hook: C rings the phone
        "waiting_end":        ("single",      "drop_waiting"),
        "active_end":         ("waiting",     "drop_active"),   # B left; C still waits
        "replace":            ("waiting",     "take"),
    },
    "swapped": {                                      # two calls, one held: flash swaps
        "swap":               ("swapped",     "swap"),
        "drop_second":        ("single",      "resume"),        # flash while the active one is not up
        "hangup":             ("recall",      "resume"),        # on-hook: the held one rings back
        "active_end":         ("held",        "drop_active"),
        "held_end":           ("single",      "drop_held"),
        "replace":            ("swapped",     "take"),
    },
    "recall": {                                       # ringing the phone back for a held call
        "answer_recall":      ("single",      "none"),
        "active_end":         ("idle",        "drop_active"),
        "replace":            ("recall",      "take"),
    },
    "transferring": {                                 # on-hook, our REFER for B and C out
        "transfer_ok":        ("idle",        "clear"),         # they talk on without us
        "transfer_failed":    ("recall",      "reclaim"),       # FLOWS §15: ring back for B
        "active_end":         ("transferring", "drop_active"),
        "held_end":           ("transferring", "drop_held"),
        "replace":            ("transferring", "take"),
    },
}
for _state in STATES[1:]:
    TRANSITIONS[_state]["empty"] = ("idle", "clear")          # the last call left the line

# line state (tipring/firmware/line/fxs.py STATES) -> the service states it can meet. The line
# learns of a call's end a moment after the calls layer, hence idle beside most.
LINE_STATES = {
    "on_hook":          ("idle", "transferring"),
    "dial_tone":        ("idle",),
    "collecting":       ("idle",),
    "confirm":          ("idle",),
    "dialing":          ("single",),
    "ringback":         ("single",),
    "early_media":      ("single",),
    "talking":          ("single", "bridging", "bridged"),   # C left while the bridge was called
    "busy":             ("idle",),
    "reorder":          ("idle",),
    "howler":           ("idle",),
    "released":         ("idle", "waiting"),
    "ringing":          ("single",),
    "car":              ("single",),                  # JCLIP: caller ID before the ring (line/jclip.py)
    "cid_offhook":      ("single",),
    "flash_dial":       ("held",),
    "flash_collecting": ("held",),
    "flash_confirm":    ("held",),
    "flash_reorder":    ("held",),
    "second_call":      ("second",),
    "second_talking":   ("second",),
    "conference":       ("conference", "bridging", "bridged"),
    "transferring":     ("held", "single"),       # a blind REFER belongs to its call (*98)
    "waiting":          ("waiting",),
    "swapped":          ("swapped",),
    "recalling":        ("recall",),
}


class LineService:
    """Represents the service state of one line and the calls in its slots."""

    def __init__(self, port: int):
        self.port = port
        self.state = "idle"
        self.active = None
        self.held = None
        self.waiting = None
        self.bridge = None
        self.joined = ()
        self.handing = None

    def move(self, event: str, call=None) -> list:
        """Apply `event` (with the call it concerns); returns [] or an `error` event."""
        entry = TRANSITIONS[self.state].get(event)
        if entry is None:
            return [("event", "error", {"where": "calls", "line": self.port, "state": self.state, "event": event,
                                        "message": "line %d: service event %r has no move in state %r"
                                        % (self.port, event, self.state)})]
        nxt, action = entry
        getattr(self, "_a_" + action)(call)
        self.state = nxt
        if nxt == "idle":
            self._a_clear(None)         # nothing of the last situation stays behind
        elif not self.calls() and self.bridge is None:
            return self.move("empty")
        return []

    # ------------------------------------------------------------------ reading
    def calls(self) -> list:
        """Every call of the line the handset has: active, held, waiting (those that exist)."""
        return [c for c in (self.active, self.held, self.waiting) if c is not None]

    def role(self, call):
        """"active", "held", "waiting" or "bridge" for a call in a slot, else None."""
        if call is None:
            return None
        for name in ("active", "held", "waiting", "bridge"):
            if getattr(self, name) is call:
                return name
        return None

    def status(self) -> dict:
        return {"line": self.port, "service": self.state,
                "active": getattr(self.active, "call_id", None), "held": getattr(self.held, "call_id", None),
                "waiting": getattr(self.waiting, "call_id", None)}

    # ------------------------------------------------------------------ actions (slots only)
    def _a_none(self, call):
        pass

    def _a_take(self, call):
        self.active = call

    def _a_wait(self, call):
        self.waiting = call

    def _a_park(self, call):
        self.held, self.active = self.active, call

    def _a_resume(self, call):
        if self.held is not None:
            self.active, self.held = self.held, None

    def _a_swap(self, call):
        self.active, self.held = self.held, self.active

    def _a_answer_waiting(self, call):
        self.held, self.active, self.waiting = self.active, self.waiting, None

    def _a_ring_waiting(self, call):
        self.active, self.waiting = self.waiting, None

    def _a_drop_active(self, call):
        self.active = None

    def _a_drop_held(self, call):
        self.held = None

    def _a_drop_waiting(self, call):
        self.waiting = None

    def _a_call_bridge(self, call):
        self.bridge = call

    def _a_bridge_gone(self, call):
        self.bridge = None

    def _a_bridge_up(self, parties):
        """`parties`: the calls referred to the bridge, the last to join last."""
        self.joined = tuple(parties)
        self.active, self.held, self.bridge = self.bridge, None, None

    def _a_hand_over(self, call):
        self.handing = call

    def _a_reclaim(self, call):
        """`call`: the held party to ring back for, when it is still up."""
        self.handing = None
        if call is not None:
            self.active, self.held = call, None

    def _a_clear(self, call):
        self.active = self.held = self.waiting = self.bridge = self.handing = None
        self.joined = ()
