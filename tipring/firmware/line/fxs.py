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
3. It does not decode hook edges or audio itself: `tipring/firmware/line/hook.py` (HookDecoder) turns
   SHK edges into off_hook / on_hook / flash / pulse digits, a DTMF detector turns capture
   audio into digits, and the glue (`tipring/board/line_port.py`) hands both in here.

Theory of operation (FLOWS.md §4, §6, §7, §10-§15, §17). Off-hook gives dial tone; the
first digit (DTMF or the first rotary pulse) stops it; every digit is judged by the line's
dial plan (`tipring/firmware/line/dialplan.py`): a complete number is handed to the call layer as
``("intent", "dial", number)`` (state "dialing"), a string that matches nothing gets
reorder, an incomplete one waits the plan's inter-digit timer. The call layer answers with
`remote_ringing` (local ringback), `remote_early_media` (the far end's audio), `remote_answered`
(talking), `remote_busy` (busy tone), `remote_failed(kind)` (reorder) or `remote_hangup`
(a short silence, then reorder). Off-hook with nothing dialled for `offhook_timeout` s, or
busy/reorder left for `reorder_timeout` s, ends in the howler (receiver off-hook warning).
An incoming call rings (`("ring", True)` and, when there is one, `("cid", caller_id)` for the
burst between the rings); off-hook answers it (ring trip). In talking, digits go to the
call layer as intents.

JCLIP (NTT "Number Display", Japan; `jclip=True`): caller ID goes OFF-hook before the ringing.
The call with a caller ID enters "car": ``("car", True)`` (the glue reverses the line and rings
the CAR cadence, 16 Hz 0.5 s on / 0.5 s off); the phone's off-hook there is its primary
response, not an answer: "cid_offhook", ``("car", False)`` and ``("jclip", caller_id)`` (the
glue sends the V.23 frame, dsp/callerid.py). The phone hangs up when it has read it, and the
line rings as any call ("ringing"). No primary response in `car_timeout` (6 s): a phone that
is no JCLIP phone: plain ringing, no caller ID. Still off-hook `jclip_onhook_timeout` (7 s)
after the CAR: a person answered, so the call is answered (the timeouts are the Realtek
VoIP SDK's NTT ones; tipring/firmware/line/jclip.py has the sequence's sources and figures).

A rotary digit the hook decoder refused (out of the line's pulse-rate window, bad break
ratio, interrupted) is ``bad_pulse``: an `error` event naming why and the measured rate, then
reorder while dialling (the digits before it are never dialled: one is missing), and only the
event in a call.

Feature codes (FLOWS §11, `tipring/firmware/line/features.py`): every key is first judged by the
line's `FeatureCodes`, then (when it is no code of ours) by the dial plan. A complete code
(``*78``; ``*72`` + a number the dial plan accepts) is applied to `self.features` at once,
reported as ``("intent", "feature", name, arg)`` for the config to persist, and confirmed
with the confirmation tone, then dial tone again ("confirm"); a code that does not apply
(``*98`` with nothing held, a bad number) gets reorder. Dial tone stutters while forward-all
or DND is on, or when `set_indications(stutter=True)` says so (message waiting).

Supplementary services (FLOWS §12-§15, §17; the call layer does the SIP): flash in talking
holds the call (``("intent", "flash")``, state "flash_dial", recall dial tone). There a flash
goes back to the held call (``flash``), a number places a second call
(``("intent", "dial_second", number)``, "second_call" -> "second_talking"), ``*98`` + number
transfers the held call blind (``("intent", "transfer_blind", number)``, "transferring"
until `transfer_ok` / `transfer_failed`). Talking to the second party, flash joins the three
(``conference``), flash again drops the last one (``drop_last``); hanging up transfers B to C
(``transfer_attended``, REFER with Replaces). Call waiting: `command("call_waiting", cid)`
plays the call-waiting tone in bursts over the call (the far end muted meanwhile), flash
holds B and answers C ("swapped"), each further flash swaps. After the first burst for a waiting
call, with `cw_caller_id` on and a caller ID known, the line asks the glue for caller ID on call
waiting (``("cidcw", caller_id)``: CAS, the phone's ACK, FSK; GR-30-CORE Type II), once per
waiting call as the SPA does: the phone keeps showing it, and every repeat would mute the call
again for about a second. Hanging up with a call on hold
is a plain ``hangup``; the call layer answers with `command("recall", cid)`, which rings, and
off-hook then gives ``("intent", "answer_recall")``. With `flash_relay` "rfc4733" or "info"
a flash in a call is ``("intent", "flash_relay", method)`` and the line stays in talking.

Outputs (tuples):
    ("play", tone_name) / ("play", None)   tone plan name ("dial", "stutter_dial",
                                           "recall_dial", "busy", "congestion", "ringback",
                                           "confirm", "call_waiting", "howler") or silence /
                                           call audio
    ("ring", True) / ("ring", False)       start / stop the ring cadence
    ("cid", {"number", "name", ...})       caller ID to send between the first two rings
    ("car", True) / ("car", False)         JCLIP: line reversal + CAR cadence on / off
    ("jclip", {"number", ...}) / ("jclip", None)  JCLIP: send the frame (the phone is
                                           off-hook) / stop it and restore the polarity
    ("cidcw", {"number", "name", ...})     caller ID on call waiting (the glue sends CAS, waits
                                           for the ACK, sends the FSK; the call stays "waiting")
    ("intent", "dial", number) / ("intent", "answer") / ("intent", "hangup")
    ("intent", "flash") / ("intent", "digit", digit)
    ("intent", "feature", name, arg)       a feature code, already applied to `features`
    ("intent", "dial_second", number) / ("intent", "transfer_blind", number)
    ("intent", "transfer_attended") / ("intent", "conference") / ("intent", "drop_last")
    ("intent", "answer_recall") / ("intent", "flash_relay", "rfc4733" | "info")
    ("event", name, fields)                for the event log: hook {line, state off|on|flash},
                                           digit {line, digit, how}, line {line, state, was,
                                           cause}, error {where, message}
"""

from tipring.firmware.line.dialplan import DEFAULT_PLAN, DialPlan
from tipring.firmware.line.features import CALL_FEATURES, FeatureCodes, LineFeatures

OFFHOOK_TIMEOUT = 30.0      # dial tone with nothing dialled -> howler
CAR_TIMEOUT = 6.0           # JCLIP: CAR with no primary response -> plain ringing
JCLIP_ONHOOK_TIMEOUT = 7.0  # JCLIP: still off-hook after the data -> a person answered
REORDER_TIMEOUT = 60.0      # busy / reorder left off-hook -> howler
RELEASED_SILENCE = 2.0      # far end hung up: silence, then reorder (FLOWS §6)
CONFIRM_S = 0.6             # confirmation tone after a feature code, then dial tone again
CW_BURST_S = 0.6            # one call-waiting (SAS) burst, far end muted meanwhile
CW_REPEAT_S = 10.0          # the burst again while the second call waits
FLASH_RELAY = ("off", "rfc4733", "info")

STATES = ("on_hook", "dial_tone", "collecting", "dialing", "ringback", "early_media", "talking",
          "busy", "reorder", "howler", "ringing", "released",
          # feature codes (FLOWS §11)
          "confirm",
          # a call on hold after a flash (FLOWS §12, §14, §15, §17)
          "flash_dial", "flash_collecting", "flash_confirm", "flash_reorder", "second_call",
          "second_talking", "conference", "transferring",
          # call waiting and recall (FLOWS §13)
          "waiting", "swapped", "recalling",
          # JCLIP caller ID before ringing: CAR, then the phone off-hook reads the data
          "car", "cid_offhook")

# states in which the handset's DTMF must be decoded (for the glue's detector)
DTMF_STATES = ("dial_tone", "collecting", "talking", "early_media", "confirm", "flash_dial",
               "flash_collecting", "flash_confirm", "second_call", "second_talking",
               "conference", "waiting", "swapped")

# state -> event -> (next state, action). Actions are `_a_<name>` methods below; they may set
# the state timer and return outputs and follow-up events.
TRANSITIONS = {
    "on_hook": {
        "off_hook":           ("dial_tone",   "dial_tone"),
        "incoming":           ("ringing",     "ring"),
        "incoming_car":       ("car",         "car"),            # JCLIP (Japan)
        "recall":             ("recalling",   "ring"),           # hung up with a call on hold
        "transfer_ok":        ("on_hook",     "none"),           # hung up on B and C: they talk on
        "transfer_failed":    ("recalling",   "ring"),           # ... they did not: ring to reclaim
    },
    "dial_tone": {
        "digit":              ("collecting",  "collect"),
        "pulse_start":        ("dial_tone",   "quiet"),
        "flash":              ("dial_tone",   "dial_tone"),
        "interdigit":         ("dial_tone",   "interdigit_timeout"),   # warmline / hotline
        "number":             ("dialing",     "dial"),
        "invalid":            ("reorder",     "reorder"),
        "bad_pulse":          ("reorder",     "reorder"),        # a rotary digit out of range
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
        "bad_pulse":          ("reorder",     "reorder"),
        "feature":            ("confirm",     "feature"),        # *72 1002, *78, ...
        "call_feature":       ("reorder",     "reorder"),        # *98 with no call held
        "on_hook":            ("on_hook",     "idle"),
    },
    "confirm": {                                                  # confirmation tone
        "timeout":            ("dial_tone",   "dial_tone"),
        "invalid":            ("reorder",     "reorder"),        # the feature did not apply
        "bad_pulse":          ("reorder",     "reorder"),
        "digit":              ("collecting",  "collect"),
        "pulse_start":        ("confirm",     "quiet"),
        "flash":              ("dial_tone",   "dial_tone"),
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
        "bad_pulse":          ("early_media", "none"),         # in a call: reported only
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "talking": {
        "remote_answered":    ("talking",     "none"),
        "remote_hangup":      ("released",    "released"),
        "digit":              ("talking",     "send_digit"),
        "pulse_start":        ("talking",     "none"),
        "flash":              ("talking",     "flash"),          # -> local_flash or relay_flash
        "local_flash":        ("flash_dial",  "hold"),           # FLOWS §12: hold, dial tone
        "relay_flash":        ("talking",     "relay"),          # flash for the far end's PBX
        "call_waiting":       ("waiting",     "cw_start"),       # FLOWS §13
        "held_hangup":        ("talking",     "none"),
        "bad_pulse":          ("talking", "none"),             # in a call: reported only
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
    "car": {                                                      # JCLIP: CAR rings
        "off_hook":           ("cid_offhook", "cid_send"),       # the primary response
        "timeout":            ("ringing",     "car_unanswered"),  # no JCLIP phone: ring
        "remote_hangup":      ("on_hook",     "stop_car"),
        "remote_failed":      ("on_hook",     "stop_car"),
    },
    "cid_offhook": {                                              # JCLIP: the data goes
        "on_hook":            ("ringing",     "ring_after_cid"),  # read it: now ring
        "timeout":            ("talking",     "cid_answer"),     # a person lifted it
        "pulse_start":        ("cid_offhook", "none"),
        "remote_hangup":      ("released",    "cid_released"),
        "remote_failed":      ("released",    "cid_released"),
    },
    "ringing": {
        "off_hook":           ("talking",     "answer"),
        "remote_hangup":      ("on_hook",     "stop_ring"),
        "remote_failed":      ("on_hook",     "stop_ring"),
    },
    # -- one call held (B), the handset free: second dial tone (recall_dial) -------------
    "flash_dial": {
        "digit":              ("flash_collecting", "collect"),
        "pulse_start":        ("flash_dial",  "quiet"),
        "bad_pulse":          ("flash_reorder", "flash_reorder"),
        "flash":              ("talking",     "resume"),         # back to B
        "timeout":            ("flash_reorder", "flash_reorder"),
        "held_hangup":        ("dial_tone",   "dial_tone"),      # B left: a plain line again
        "remote_hangup":      ("dial_tone",   "dial_tone"),
        "on_hook":            ("on_hook",     "hang_up"),        # the call layer recalls
    },
    "flash_collecting": {
        "digit":              ("flash_collecting", "collect"),
        "pulse_start":        ("flash_collecting", "none"),
        "interdigit":         ("flash_collecting", "interdigit_timeout"),
        "bad_pulse":          ("flash_reorder", "flash_reorder"),
        "number":             ("second_call", "dial_second"),    # FLOWS §15, §17: call C
        "invalid":            ("flash_reorder", "flash_reorder"),
        "feature":            ("flash_confirm", "feature"),
        "call_feature":       ("transferring", "transfer_blind"),  # FLOWS §14: *98 C
        "flash":              ("talking",     "resume"),
        "held_hangup":        ("collecting",  "none"),
        "remote_hangup":      ("collecting",  "none"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "flash_confirm": {
        "timeout":            ("flash_dial",  "flash_dial"),
        "invalid":            ("flash_reorder", "flash_reorder"),
        "bad_pulse":          ("flash_reorder", "flash_reorder"),
        "digit":              ("flash_collecting", "collect"),
        "pulse_start":        ("flash_confirm", "quiet"),
        "flash":              ("talking",     "resume"),
        "held_hangup":        ("confirm",     "none"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "flash_reorder": {                                            # B held, nothing else
        "flash":              ("talking",     "resume"),
        "remote_hangup":      ("flash_reorder", "none"),
        "held_hangup":        ("reorder",     "reorder"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "second_call": {                                              # B held, calling C
        "remote_ringing":     ("second_call", "ringback"),
        "remote_early_media": ("second_call", "remote_audio"),
        "remote_answered":    ("second_talking", "talk"),
        "remote_busy":        ("flash_reorder", "held_busy"),
        "remote_failed":      ("flash_reorder", "flash_reorder"),
        "remote_hangup":      ("flash_reorder", "flash_reorder"),
        "timeout":            ("flash_reorder", "flash_reorder"),
        "digit":              ("second_call", "send_digit"),
        "flash":              ("talking",     "resume"),         # give up on C, back to B
        "held_hangup":        ("second_call", "none"),
        "bad_pulse":          ("second_call", "none"),         # in a call: reported only
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "second_talking": {                                           # B held, talking to C
        "digit":              ("second_talking", "send_digit"),
        "pulse_start":        ("second_talking", "none"),
        "remote_answered":    ("second_talking", "none"),
        "flash":              ("conference",  "conference"),     # FLOWS §17
        "remote_hangup":      ("flash_reorder", "flash_reorder"),
        "held_hangup":        ("talking",     "none"),
        "bad_pulse":          ("second_talking", "none"),      # in a call: reported only
        "on_hook":            ("on_hook",     "transfer_attended"),  # FLOWS §15
    },
    "conference": {                                               # A + B + C, mixed locally
        "digit":              ("conference",  "send_digit"),
        "pulse_start":        ("conference",  "none"),
        "flash":              ("talking",     "drop_last"),      # drop C, talk to B
        "remote_hangup":      ("talking",     "none"),           # one left, one talks on
        "held_hangup":        ("talking",     "none"),
        "bad_pulse":          ("conference", "none"),          # in a call: reported only
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "transferring": {                                             # REFER sent for B
        "transfer_ok":        ("confirm",     "confirm_tone"),
        "transfer_failed":    ("flash_reorder", "flash_reorder"),
        "held_hangup":        ("transferring", "none"),
        "remote_hangup":      ("transferring", "none"),
        "on_hook":            ("on_hook",     "hang_up"),
    },
    # -- call waiting (FLOWS §13) ------------------------------------------------------
    "waiting": {                                                  # talking to B, C waits
        "cw_quiet":           ("waiting",     "cw_quiet"),
        "cw_again":           ("waiting",     "cw_tone"),
        "call_waiting":       ("waiting",     "none"),
        "call_waiting_end":   ("talking",     "talk"),           # C gave up / was refused
        "flash":              ("waiting",     "flash"),
        "local_flash":        ("swapped",     "answer_waiting"),  # hold B, answer C
        "relay_flash":        ("waiting",     "relay"),
        "digit":              ("waiting",     "send_digit"),
        "pulse_start":        ("waiting",     "none"),
        "remote_answered":    ("waiting",     "none"),
        "remote_hangup":      ("released",    "released"),       # B left; C rings on on-hook
        "bad_pulse":          ("waiting", "none"),             # in a call: reported only
        "on_hook":            ("on_hook",     "hang_up"),
    },
    "swapped": {                                                  # two calls, one held
        "flash":              ("swapped",     "swap"),
        "digit":              ("swapped",     "send_digit"),
        "pulse_start":        ("swapped",     "none"),
        "remote_answered":    ("swapped",     "none"),
        "remote_hangup":      ("flash_reorder", "flash_reorder"),
        "held_hangup":        ("talking",     "none"),
        "bad_pulse":          ("swapped", "none"),             # in a call: reported only
        "on_hook":            ("on_hook",     "hang_up"),        # the call layer recalls
    },
    "recalling": {                                                # ringing back a held call
        "off_hook":           ("talking",     "answer_recall"),
        "remote_hangup":      ("on_hook",     "stop_ring"),
        "held_hangup":        ("on_hook",     "stop_ring"),
        "remote_failed":      ("on_hook",     "stop_ring"),
    },
}

# call-layer commands that go through the table as events of the same name, with their args
_COMMANDS = ("remote_ringing", "remote_early_media", "remote_answered", "remote_busy",
             "remote_hangup", "call_waiting", "call_waiting_end", "held_hangup", "transfer_ok",
             "transfer_failed")

# events that are inputs from the hook decoder (logged as `hook` events)
_HOOK_EVENTS = {"off_hook": "off", "on_hook": "on", "flash": "flash"}


class FxsLine:
    """Represents the line layer of one FXS port: hook, digits, dial plan, tones, ringing.

    All parameters keyword-only: port (1) the line number in events; dial_plan (the
    INTERFACES.md default) Cisco SPA text or a `DialPlan`; offhook_timeout (30 s) dial tone
    with nothing dialled -> howler; reorder_timeout (60 s) busy/reorder -> howler;
    released_silence (2 s) silence after the far end hung up, then reorder; dial_timeout
    (None) when set, a "dial" intent nobody answers goes to reorder after that many seconds
    (for a board without a call layer); caller_id (True) send caller ID to the handset;
    features (a fresh `LineFeatures`) what the feature codes switch, e.g.
    `LineFeatures.from_config(line_cfg)`; feature_codes ("") the code overrides text of
    `line.N.feature_codes`, or a `FeatureCodes`; flash_relay ("off") "rfc4733" or "info":
    a flash in a call goes to the far end instead of holding; confirm_s (0.6 s),
    cw_burst_s (0.6 s), cw_repeat_s (10 s) confirmation tone and call-waiting tone timing;
    cw_caller_id (True) caller ID on call waiting after the first burst (the glue passes False
    when the line's caller-ID method is not FSK); pulse_window ((8, 22)) the hook decoder's
    accepted pulse rates, named when a rotary digit is refused (`bad_pulse`: reorder).

        line = FxsLine(port=1, dial_plan="(*xx|[2-9]xxx)")
        line.hook("off_hook", now)      # [("play", "dial"), ("event", "hook", ...), ...]
        line.digit("5", "dtmf", now)
        if line.deadline() is not None: line.on_timer(line.deadline())
    """

    def __init__(self, *, port: int = 1, dial_plan=DEFAULT_PLAN,
                 offhook_timeout: float = OFFHOOK_TIMEOUT,
                 reorder_timeout: float = REORDER_TIMEOUT,
                 released_silence: float = RELEASED_SILENCE, dial_timeout=None,
                 caller_id: bool = True, features=None, feature_codes="",
                 flash_relay: str = "off", confirm_s: float = CONFIRM_S,
                 cw_burst_s: float = CW_BURST_S, cw_repeat_s: float = CW_REPEAT_S,
                 cw_caller_id: bool = True, pulse_window=(8.0, 22.0), jclip: bool = False,
                 car_timeout: float = CAR_TIMEOUT, jclip_onhook_timeout: float = JCLIP_ONHOOK_TIMEOUT):
        if flash_relay not in FLASH_RELAY:
            raise ValueError("flash_relay must be one of %s, got %r"
                             % (", ".join(FLASH_RELAY), flash_relay))
        self.port = port
        self.plan = dial_plan if isinstance(dial_plan, DialPlan) else DialPlan(dial_plan)
        self.offhook_timeout = offhook_timeout
        self.reorder_timeout = reorder_timeout
        self.released_silence = released_silence
        self.dial_timeout = dial_timeout
        self.send_caller_id = caller_id
        self.jclip = jclip                 # caller ID the NTT way: CAR, off-hook data, ringing
        self.car_timeout = car_timeout
        self.jclip_onhook_timeout = jclip_onhook_timeout
        self.features = features if features is not None else LineFeatures()
        if isinstance(feature_codes, FeatureCodes):
            self.codes = feature_codes
        else:
            self.codes = FeatureCodes(feature_codes or "", self.plan.long_s, self.plan.short_s)
        self.flash_relay = flash_relay
        self.confirm_s = confirm_s
        self.cw_burst_s = cw_burst_s
        self.cw_repeat_s = cw_repeat_s
        self.cw_caller_id = cw_caller_id
        self.stutter = False       # an outside indication (message waiting) asks for stutter
        self.pulse_window = pulse_window   # (min, max) pps of the hook decoder, for messages
        self.feature = None        # (name, arg) of the feature code just dialled
        self.waiting_caller_id = None
        self._cidcw_due = False    # a new waiting call: caller ID after its first burst
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
                out += self.bad_pulse(e[1], e[2] if len(e) > 3 else None, t)
            else:
                out += self.hook(e[0], t)
        return out

    def bad_pulse(self, reason: str, pps, now: float) -> list:
        """A rotary digit the receiver refused (`reason` from pulse.check_train, `pps` the rate
        measured or None): an `error` event saying why, then reorder while dialling (never a
        dial of the digits so far: a digit is missing from them)."""
        lo, hi = self.pulse_window
        rate = " at %.1f pps" % pps if pps else ""
        msg = ("line %d: rotary digit refused: %s%s (this line takes %g-%g pps)"
               % (self.port, reason, rate, lo, hi))
        out = [("event", "error", {"where": "line", "message": msg})]
        if "bad_pulse" not in TRANSITIONS[self.state]:
            return out
        return out + self._handle("bad_pulse", now, (reason,))

    def incoming(self, caller_id, now: float) -> list:
        """The call layer offers a call: ring (and send `caller_id`, a dict, or None)."""
        return self._handle(self._incoming_event(caller_id), now, (caller_id,))

    def _incoming_event(self, caller_id) -> str:
        # a JCLIP line with a caller ID to send starts with the CAR signal (the input's kind,
        # as hook() tells off_hook from flash: the table then decides)
        if self.jclip and caller_id and self.send_caller_id and self.state == "on_hook":
            return "incoming_car"
        return "incoming"

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
        """A call-layer command by name (`("line", port, verb, *args)` from the call manager).

        Besides the call progress verbs: `call_waiting` (caller_id) a second call waits: SAS
        bursts over the call; `call_waiting_end` it stopped waiting; `recall` (caller_id) ring
        back a call left on hold; `held_hangup` the held party left; `transfer_ok` /
        `transfer_failed` the outcome of a blind transfer's REFER (NOTIFY sipfrag)."""
        if verb == "incoming":
            return self.incoming(args[0] if args else None, now)
        if verb == "recall":
            return self._handle(verb, now, (args[0] if args else None,))
        if verb in _COMMANDS:
            return self._handle(verb, now, tuple(args[:1]))
        if verb == "remote_failed":
            return self._handle(verb, now, (args[0] if args else "reorder",))
        if verb == "remote_digit":
            return []              # RFC 4733 digits from the far end: nothing to do here yet
        return [self._error("unknown line command %r" % (verb,))]

    def set_indications(self, stutter: bool, now: float) -> list:
        """An indication from outside the line (message waiting, SUBSCRIBE message-summary):
        `stutter` dial tone from the next dial tone on (now, if dial tone is playing)."""
        self.stutter = bool(stutter)
        if self.state == "dial_tone" and self.tone != self._dial_tone_name():
            self._now = now
            return self._play(self._dial_tone_name())
        return []

    def _dial_tone_name(self):
        return "stutter_dial" if (self.stutter or self.features.stutter) else "dial"

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
        if self.tone in ("dial", "stutter_dial"):   # flash: restart the tone
            self.tone = None
        out += self._play(self._dial_tone_name())   # stutter: forward-all / DND reminder
        v = self.plan.match("")
        if v.state == "complete" and v.timeout < self.offhook_timeout:
            self._set_timer(v.timeout, "interdigit")          # warmline / hotline
        else:
            self._set_timer(self.offhook_timeout)
        return out

    def _a_collect(self, now, digit, how):
        self.digits += digit
        out = self._play(None)
        p = self.codes.parse(self.digits, self.plan)        # feature codes first
        if p.state != "none":
            return out + self._feature_verdict(p)
        v = self.plan.match(self.digits)
        if v.state == "complete" and v.timeout <= 0:
            self.number = v.number
            return out + [("follow", "number")]
        if v.state in ("invalid", "barred"):
            return out + [("follow", "invalid")]
        self._set_timer(v.timeout, "interdigit")
        return out

    def _feature_verdict(self, p):
        if p.state == "complete":
            self.feature = (p.feature, p.arg)
            return [("follow", "call_feature" if p.feature in CALL_FEATURES else "feature")]
        if p.state == "invalid":
            return [("follow", "invalid")]
        self._set_timer(p.timeout, "interdigit")           # "more"
        return []

    def _a_interdigit_timeout(self, now, *args):
        p = self.codes.on_timeout(self.digits, self.plan)
        if p.state != "none":
            return self._feature_verdict(p)
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
        self.waiting_caller_id = None
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
        self.features.call_ended()
        return self._play(None)

    def _a_hang_up(self, now, *args):
        self.digits = ""
        self.features.call_ended()                 # *70 was for this call only
        return self._play(None) + [("intent", "hangup")]

    def _a_send_digit(self, now, digit, how):
        return [("intent", "digit", digit)]

    def _a_flash(self, now, *args):
        return [("follow", "relay_flash" if self.flash_relay != "off" else "local_flash")]

    def _a_relay(self, now, *args):
        return [("intent", "flash_relay", self.flash_relay)]

    # -- feature codes ---------------------------------------------------------------------

    def _a_feature(self, now, *args):
        name, arg = self.feature
        if self.features.apply(name, arg) != "ok":
            return [("follow", "invalid")]
        return [("intent", "feature", name, arg)] + self._a_confirm_tone(now)

    def _a_confirm_tone(self, now, *args):
        self.digits = ""
        self._set_timer(self.confirm_s)
        return self._play("confirm")

    # -- a call on hold --------------------------------------------------------------------

    def _a_hold(self, now, *args):
        return [("intent", "flash")] + self._a_flash_dial(now)

    def _a_flash_dial(self, now, *args):
        self.digits = ""
        self.number = None
        if self.tone == "recall_dial":
            self.tone = None
        self._set_timer(self.offhook_timeout)
        return self._play("recall_dial")

    def _a_resume(self, now, *args):
        self.digits = ""
        return self._play(None) + [("intent", "flash")]

    def _a_flash_reorder(self, now, *args):
        self._set_timer(None)
        return self._play("congestion")

    def _a_held_busy(self, now, *args):
        self._set_timer(None)
        return self._play("busy")

    def _a_dial_second(self, now, *args):
        self._set_timer(self.dial_timeout)
        return self._play(None) + [("intent", "dial_second", self.number)]

    def _a_transfer_blind(self, now, *args):
        return self._play(None) + [("intent", "transfer_blind", self.feature[1])]

    def _a_transfer_attended(self, now, *args):
        self.digits = ""
        return self._play(None) + [("intent", "transfer_attended")]

    def _a_conference(self, now, *args):
        return self._play(None) + [("intent", "conference")]

    def _a_drop_last(self, now, *args):
        return [("intent", "drop_last")]

    # -- call waiting and recall -------------------------------------------------------------

    def _a_cw_start(self, now, caller_id=None):
        self.waiting_caller_id = caller_id
        self._cidcw_due = True
        return self._a_cw_tone(now)

    def _a_cw_tone(self, now, *args):
        self._set_timer(self.cw_burst_s, "cw_quiet")
        return self._play("call_waiting")

    def _a_cw_quiet(self, now, *args):
        self._set_timer(self.cw_repeat_s, "cw_again")
        out = self._play(None)
        if self._cidcw_due and self.cw_caller_id and self.send_caller_id and self.waiting_caller_id:
            out.append(("cidcw", self.waiting_caller_id))
        self._cidcw_due = False
        return out

    def _a_answer_waiting(self, now, *args):
        self.waiting_caller_id = None
        return self._play(None) + [("intent", "flash")]

    def _a_swap(self, now, *args):
        return [("intent", "flash")]

    def _a_answer_recall(self, now, *args):
        self.ringing = False
        return [("ring", False), ("intent", "answer_recall")] + self._play(None)

    def _a_ring(self, now, caller_id=None):
        self.ringing = True
        self.caller_id = caller_id
        out = [("ring", True)]
        if caller_id and self.send_caller_id:
            out.append(("cid", caller_id))
        return out

    # -- JCLIP: CAR, primary response, data, ringing ---------------------------------------

    def _a_car(self, now, caller_id=None):
        self.ringing = True
        self.caller_id = caller_id
        self._set_timer(self.car_timeout)
        return [("car", True)]

    def _a_cid_send(self, now, *args):
        self._set_timer(self.jclip_onhook_timeout)
        return [("car", False), ("jclip", self.caller_id)]

    def _a_car_unanswered(self, now, *args):
        return [("car", False), ("ring", True)]

    def _a_ring_after_cid(self, now, *args):
        return [("jclip", None), ("ring", True)]      # ("jclip", None): the data stops

    def _a_cid_answer(self, now, *args):
        return [("jclip", None)] + self._a_answer(now)

    def _a_cid_released(self, now, *args):
        self.ringing = False
        return [("jclip", None)] + self._a_released(now)

    def _a_stop_car(self, now, *args):
        self.ringing = False
        return [("car", False)]

    def _a_stop_ring(self, now, *args):
        self.ringing = False
        return [("ring", False)]

    def _a_answer(self, now, *args):
        self.ringing = False
        return [("ring", False), ("intent", "answer")] + self._play(None)
