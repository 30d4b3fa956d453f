"""Feature codes (vertical service codes) and the per-line supplementary-service settings.

What this module owns
---------------------
1. `DEFAULT_CODES`, the code table as data: code -> (feature name, argument kind). The
   argument kind is None (the code alone, ``*73``) or "number" (the code, then a number judged
   by the line's dial plan, ``*72 5551234``). Defaults are the Cisco SPA ones
   (notes/anchors.md [C9]: ``*72/*73`` forward all, ``*90/*91`` busy, ``*92/*93`` no answer,
   ``*78/*79`` DND, ``*56/*57`` call waiting, ``*70`` cancel call waiting for the next call,
   ``*98`` blind transfer). A line may override them with the text of config key
   ``line.N.feature_codes`` ("*72=forward_all,*87=blind_transfer,*98=": empty name removes).
2. `FeatureCodes.parse(digits, plan)`: the verdict on the keys dialled since dial tone, as the
   dial plan gives one for numbers: "complete" (feature + argument), "more" (wait `timeout` s
   for another key), "invalid" (a code whose number the plan refuses: reorder) or "none" (not
   a feature code: the dial plan decides, so codes not in the table, ``*69``, still go to the
   ITSP).
3. `LineFeatures`, the state the codes switch (forward targets, no-answer time, DND, call
   waiting, "no call waiting on the next call"), with `apply(feature, arg)` and
   `to_config()` / `from_config()` so the console config persists it (FLOWS.md §10, §11, §13).

Rules: sans-IO, no clock; MicroPython-portable (no typing, enum, dataclasses, __future__).
Call features (blind transfer) need a held call; the line decides where they are allowed,
this module only names them (`CALL_FEATURES`).
"""

ARG_NONE = None
ARG_NUMBER = "number"

# feature name -> argument kind
FEATURES = {
    "forward_all": ARG_NUMBER,
    "forward_all_off": ARG_NONE,
    "forward_busy": ARG_NUMBER,
    "forward_busy_off": ARG_NONE,
    "forward_no_answer": ARG_NUMBER,
    "forward_no_answer_off": ARG_NONE,
    "dnd": ARG_NONE,
    "dnd_off": ARG_NONE,
    "call_waiting": ARG_NONE,
    "call_waiting_off": ARG_NONE,
    "cancel_call_waiting_next": ARG_NONE,
    "blind_transfer": ARG_NUMBER,
}

# code -> (feature, argument kind): the Cisco SPA defaults [C9]
DEFAULT_CODES = {
    "*72": ("forward_all", ARG_NUMBER),
    "*73": ("forward_all_off", ARG_NONE),
    "*90": ("forward_busy", ARG_NUMBER),
    "*91": ("forward_busy_off", ARG_NONE),
    "*92": ("forward_no_answer", ARG_NUMBER),
    "*93": ("forward_no_answer_off", ARG_NONE),
    "*78": ("dnd", ARG_NONE),
    "*79": ("dnd_off", ARG_NONE),
    "*56": ("call_waiting", ARG_NONE),
    "*57": ("call_waiting_off", ARG_NONE),
    "*70": ("cancel_call_waiting_next", ARG_NONE),
    "*98": ("blind_transfer", ARG_NUMBER),
}

# features that act on a call in progress (only after a flash); the rest set line state
CALL_FEATURES = ("blind_transfer",)

# feature -> the `line.N.<key>` of tipring/firmware/config.py it changes (None: not persisted)
CONFIG_KEYS = {
    "forward_all": "forward_all", "forward_all_off": "forward_all",
    "forward_busy": "forward_busy", "forward_busy_off": "forward_busy",
    "forward_no_answer": "forward_no_answer", "forward_no_answer_off": "forward_no_answer",
    "dnd": "dnd", "dnd_off": "dnd",
    "call_waiting": "call_waiting", "call_waiting_off": "call_waiting",
    "cancel_call_waiting_next": None, "blind_transfer": None,
}

LONG_S = 10.0       # waiting for the rest of a code (Interdigit_Long_Timer)
SHORT_S = 3.0       # a complete code that a longer one could still become
NUMBER_MAX = 32     # forward targets: dial keys, at most this many
NUMBER_KEYS = "0123456789*#+ABCD"
DND_RESPONSES = (486, 603)
FORWARD_NO_ANSWER_S = 20


def parse_overrides(text):
    """'*72=forward_all,*87=blind_transfer,*98=' -> {code: feature or None}; ValueError
    naming the bad item. Empty text -> {}."""
    out = {}
    if not text or not text.strip():
        return out
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ValueError("%r: want CODE=FEATURE" % item)
        code, name = item.split("=", 1)
        code, name = code.strip(), name.strip()
        if not code or len(code) > 8 or any(c not in "0123456789*#" for c in code):
            raise ValueError("%r: a code is 1-8 keys of 0-9 * #" % code)
        if name and name not in FEATURES:
            raise ValueError("%r: unknown feature; features: %s"
                             % (name, ", ".join(sorted(FEATURES))))
        out[code] = name or None
    return out


class Parse:
    """The verdict on dialled keys: `state` "complete" | "more" | "invalid" | "none";
    `feature` and `arg` when complete (or known), `timeout` for "more"."""

    __slots__ = ("state", "feature", "arg", "timeout")

    def __init__(self, state, feature=None, arg=None, timeout=0.0):
        self.state = state
        self.feature = feature
        self.arg = arg
        self.timeout = timeout

    def __eq__(self, other):
        return (isinstance(other, Parse) and self.state == other.state and self.feature
                == other.feature and self.arg == other.arg and self.timeout == other.timeout)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Parse(%r, %r, %r, %r)" % (self.state, self.feature, self.arg, self.timeout)


NONE = Parse("none")


class FeatureCodes:
    """Represents one line's feature-code table: `DEFAULT_CODES` with the line's overrides.

        codes = FeatureCodes("*87=blind_transfer")
        codes.parse("*7", plan)          # Parse('more', None, None, 10.0)
        codes.parse("*721002", plan)     # Parse('complete', 'forward_all', '1002', 0.0)
    """

    def __init__(self, overrides="", long_s=LONG_S, short_s=SHORT_S):
        table = dict(DEFAULT_CODES)
        for code, name in parse_overrides(overrides).items():
            if name is None:
                table.pop(code, None)
            else:
                table[code] = (name, FEATURES[name])
        self.table = table
        self.long_s = long_s
        self.short_s = short_s

    def __repr__(self):
        return "<FeatureCodes %d codes>" % len(self.table)

    def code_for(self, feature):
        """The (shortest) code for `feature`, or None."""
        best = None
        for code, (name, _kind) in self.table.items():
            if name == feature and (best is None or len(code) < len(best)):
                best = code
        return best

    def parse(self, digits, plan=None):
        """The verdict on `digits` (keys since dial tone). `plan` (a `DialPlan`, or None for
        "any digits, ended by # or the long timer") judges a number argument."""
        return self._parse(digits, plan, False)

    def on_timeout(self, digits, plan=None):
        """The inter-digit timer fired: "complete", "invalid" or "none" (never "more")."""
        return self._parse(digits, plan, True)

    def _parse(self, digits, plan, timed_out):
        longer = False      # a code still to come starts with `digits`
        hit = None          # the longest code `digits` starts with
        for code in self.table:
            if len(code) > len(digits) and code.startswith(digits):
                longer = True
            elif digits.startswith(code) and (hit is None or len(code) > len(hit)):
                hit = code
        if hit is None:
            if longer and not timed_out:
                return Parse("more", timeout=self.long_s)
            return NONE                           # not ours: the dial plan decides
        name, kind = self.table[hit]
        rest = digits[len(hit):]
        if kind is ARG_NONE:
            if rest:
                return NONE if not longer else Parse("more", timeout=self.long_s)
            if longer and not timed_out:
                return Parse("more", name, None, self.short_s)
            return Parse("complete", name, None)
        # a number argument: the dial plan judges it
        if longer and not rest and not timed_out:
            return Parse("more", name, None, self.long_s)
        return _number(name, rest, plan, timed_out, self.long_s)


def _number(name, rest, plan, timed_out, long_s):
    if not rest:
        return Parse("invalid", name) if timed_out else Parse("more", name, None, long_s)
    if plan is None:
        if rest.endswith("#") and len(rest) > 1:
            return Parse("complete", name, rest[:-1])
        if timed_out:
            return Parse("complete", name, rest)
        return Parse("more", name, None, long_s)
    v = plan.on_timeout(rest) if timed_out else plan.match(rest)
    if v.state == "complete":
        if v.timeout <= 0:
            return Parse("complete", name, v.number)
        return Parse("more", name, v.number, v.timeout)
    if v.state == "incomplete":
        return Parse("more", name, None, v.timeout)
    return Parse("invalid", name)


def valid_number(v):
    """True for a forward target: "" (off) or up to NUMBER_MAX dial keys / '+'."""
    return isinstance(v, str) and len(v) <= NUMBER_MAX and all(c in NUMBER_KEYS for c in v)


class LineFeatures:
    """Represents what the feature codes have switched on one line.

    forward_all, forward_busy, forward_no_answer: the target number ("" = off);
    forward_no_answer_s (20): ring this long before forwarding on no answer; dnd (False);
    dnd_response (486 or 603): what DND answers; call_waiting (True);
    cw_cancelled_next (False): *70, no call waiting during the next call (not persisted).

        f = LineFeatures.from_config(line_cfg)
        f.apply("forward_all", "5551234")      # "ok"
        f.stutter                              # True: stutter dial tone as a reminder
        cfg_keys = f.to_config()               # {"forward_all": "5551234", ...}
    """

    PERSISTED = ("forward_all", "forward_busy", "forward_no_answer", "forward_no_answer_s",
                 "dnd", "dnd_response", "call_waiting")

    def __init__(self):
        self.forward_all = ""
        self.forward_busy = ""
        self.forward_no_answer = ""
        self.forward_no_answer_s = FORWARD_NO_ANSWER_S
        self.dnd = False
        self.dnd_response = 486
        self.call_waiting = True
        self.cw_cancelled_next = False

    def __repr__(self):
        on = [k for k in ("forward_all", "forward_busy", "forward_no_answer") if getattr(self, k)]
        if self.dnd:
            on.append("dnd")
        if not self.call_waiting:
            on.append("no_cw")
        return "<LineFeatures %s>" % (" ".join(on) or "plain")

    @property
    def stutter(self):
        """True when dial tone should stutter as a reminder (forward-all or DND on) [C19b]."""
        return bool(self.forward_all) or self.dnd

    def apply(self, feature, arg=None):
        """Switch `feature` (a `FEATURES` name); "ok", or "err" when it does not apply here
        (a call feature, an unknown name, a missing or bad number)."""
        kind = FEATURES.get(feature, "unknown")
        if kind == "unknown" or feature in CALL_FEATURES:
            return "err"
        if kind is ARG_NUMBER:
            if not arg or not valid_number(arg):
                return "err"
        if feature.startswith("forward_"):
            key = feature[:-4] if feature.endswith("_off") else feature
            setattr(self, key, "" if feature.endswith("_off") else arg)
        elif feature == "dnd":
            self.dnd = True
        elif feature == "dnd_off":
            self.dnd = False
        elif feature == "call_waiting":
            self.call_waiting = True
        elif feature == "call_waiting_off":
            self.call_waiting = False
        elif feature == "cancel_call_waiting_next":
            self.cw_cancelled_next = True
        return "ok"

    def call_waiting_now(self):
        """Whether a second call may wait during the current call (*56/*57 and *70)."""
        return self.call_waiting and not self.cw_cancelled_next

    def call_ended(self):
        """The call *70 was for is over: call waiting as configured again."""
        self.cw_cancelled_next = False

    def on_incoming(self, line_busy):
        """What to do with a new INVITE (FLOWS §10, §11, §13): ("forward", number) -> 302,
        ("reject", 486|603), ("wait", None) -> call-waiting tone, or ("ring", seconds or None):
        ring, and forward on no answer after that many seconds."""
        if self.forward_all:
            return ("forward", self.forward_all)
        if self.dnd:
            return ("reject", self.dnd_response)
        if line_busy:
            if self.forward_busy:
                return ("forward", self.forward_busy)
            if self.call_waiting_now():
                return ("wait", None)
            return ("reject", 486)
        if self.forward_no_answer:
            return ("ring", self.forward_no_answer_s)
        return ("ring", None)

    def to_config(self):
        """The persisted keys, as `line.N.<key>` values of tipring/firmware/config.py."""
        return dict((k, getattr(self, k)) for k in self.PERSISTED)

    @classmethod
    def from_config(cls, cfg):
        """From a [[line]] dict (missing keys keep their defaults)."""
        f = cls()
        for k in cls.PERSISTED:
            if cfg is not None and k in cfg and cfg[k] is not None:
                setattr(f, k, cfg[k])
        return f
