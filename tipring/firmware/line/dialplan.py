"""Dial plans in the Cisco SPA / Linksys / Sipura grammar: when a dialled string is a number,
and which number to send.

What this module owns
---------------------
Parsing a dial plan such as ``(*xx|[3469]11|0|00|<:1408>[2-9]xxxxxx|1[2-9]xx[2-9]xxxxxx|011x.)``
into per-sequence token lists, and deciding after every key what the line does next: wait
(and how long), dial (which rewritten number, now or after a timer), or play reorder.
Sources: Sipura SPA-2000 and Linksys SPA9000 / SPA9x2 administration guides ("Dial Plan"),
Cisco SPA100 (SPA112/122) administration guide ("Configuring Dial Plans", "Acceptance and
Transmission of the Dialed Digits"), notes/anchors.md [C5][C6][C7].

Rules
-----
1. Sans-IO: no clock, no line state. ``DialPlan.match(digits)`` and ``on_timeout(plan,
   digits)`` are pure functions of the plan and the keys collected since dial tone; the line
   keeps the string and runs the timer that ``Verdict.timeout`` asks for.
2. Hand-written, not ``re``. The plan is the product: users paste the plan they ran on their
   SPA and expect the same behaviour, and the SPA semantics (candidate sets, a short timer
   once any sequence is complete, bars that win over wider sequences, per-sequence timer
   overrides that start at a point in the sequence, ``<dialled:sent>`` rewrites, pauses)
   are not what a regex answers. We need "can this still grow into a match?" (a prefix
   question ``re`` cannot ask), per-path output and timers, and a specificity score, all
   on MicroPython, whose ``re`` has no such features. So the grammar compiles to a small
   token list per sequence and a hand NFA walks it.
3. Bad input never wins: a bad plan raises ``DialPlanError`` (a ``ValueError``) naming the
   position and the reason; any key string given to ``match``/``on_timeout`` (even keys no
   plan could match) yields a ``Verdict``, never an exception.

Grammar (whitespace is ignored except that it ends a timer value)
-------------------------------------------------------------------
    plan      := [ "L:" n "," ] [ "S:" n "," ] ( "(" seq ("|" seq)* ")" | seq ("|" seq)* )
    seq       := item+
    item      := key | "x" | set | item "." | "<" elems ":" text ">" | "S" n | "L" n
                 | "P" n | "!" | ","
    key       := 0-9 * # A B C D          set := "[" (key | key "-" key)+ "]"

- ``x`` (or ``X``) is any digit 0-9; ``[2-9]``, ``[135]``, ``[2-4*]`` are sets (ranges are
  digit-digit or A-D letter ranges, start <= end).
- ``.`` repeats the element before it zero or more times: ``01.`` matches 0, 01, 011, ...
  (so ``xx.`` is one digit or more).
- ``<dialled:sent>`` replaces the keys matched by ``dialled`` (keys, ``x``, sets, ``.``;
  may be empty) with the literal ``sent`` text: ``<:1408>`` inserts, ``<9:>`` removes,
  ``<1:+1>`` rewrites.
- ``!`` anywhere in a sequence bars it: a number it matches gets reorder (the guides show
  it at the end, ``1900xxxxxxx!``; the start, ``!1900xxxxxxx``, is accepted too).
- ``S n`` / ``L n`` override the short / long inter-digit timer for this sequence from that
  point on (``...xxxS0``: dial as soon as the last digit is in). ``L:n,`` / ``S:n,`` before
  the plan override the line's defaults for the whole plan. A bare ``S``, ``L``, ``P`` or
  ``L:`` means 5 s, as the Cisco guides say.
- ``P n`` is a pause: the sequence only matches if the user dials nothing for n seconds.
  That is how hotlines and warmlines are made, ``( S0 <:18005551212> )`` and
  ``( P5 <:1000> | xxxx )``; so a P sequence may hold only timers, ``<:text>`` and ``!``,
  never keys (``P`` elsewhere raises: we cannot see pauses between keys).
- ``,`` (the "outside line" dial tone of ``9,1xxxxxxxxxx``) is accepted and ignored.
- Nested ``( )`` groups and keys other than 0-9 * # A-D are errors.

Theory of operation
-------------------
Each sequence compiles to tokens: KEY (a key set, repeat flag, echo flag: echo is off inside
``<dialled:...>``), EMIT (text from a substitution), SHORT / LONG (timer overrides) and PAUSE.
Matching walks every sequence as an NFA whose configurations are (token index, output so far,
cost so far); epsilon tokens (EMIT, SHORT, LONG, PAUSE, skipping a repeat) are taken at once. Only
the cheapest configuration per index is kept (later costs do not depend on the path so far),
so a walk is O(keys x tokens) even for ``<x.:>x.`` and never grows with ambiguity; the timer
overrides in effect depend on the index alone (the token list is linear). After the last
key, a sequence *matches fully* if a configuration sits at the end (its output is the number
to send) and *can extend* if a configuration still has a KEY token ahead.

Then, as the guides describe (the candidate set shrinks as keys come in):
- a full match, nothing allowed can extend: "complete", timeout 0 (dial now);
- a full match, some non-barred sequence can extend: "complete" after the short timer
  (Interdigit_Short_Timer, 3 s, or the winner's ``S`` override; ``S0`` dials now);
- a pause sequence wins (the empty dial of a warmline): "complete" after its pause;
- no full match, something can extend: "incomplete", wait the long timer
  (Interdigit_Long_Timer, 10 s; with ``L`` overrides, the longest among live sequences, so a
  user in the middle of any candidate is not cut off);
- nothing live: "invalid" (reorder); only barred sequences live: "barred" at once;
- the best full match is barred: "barred" at once, unless a non-barred sequence that can
  still extend is more specific over the keys so far (below), then "incomplete" for the
  short timer: ``(1900xxxxxxx! | xx.)`` rejects at the 11th digit although ``xx.`` could
  grow, while ``(xx.! | 9xxx)`` lets 9 through.
``on_timeout`` is the terminating event "timer fired": the best full match is dialled
(or barred), otherwise "invalid" (the SPA100 guide rejects an incomplete entry on time-out;
older phone guides sent it as dialled, we follow the ATA). ``#`` that no sequence can take
as a key is "send": the keys before it are evaluated as on a time-out, except that a pause
sequence does not match (pressing # is not a pause).

Tie-breaking (which full match wins): the most specific, compared key by key from the left
(as Asterisk orders its patterns): each key costs the size of the element that took it (a
literal 1, ``[3469]`` 4, ``x`` 10) plus 16 when a repeat took it, so a single element beats a
repeat, and the first key where two matches differ decides. On 911, ``[3469]11`` (4,1,1)
beats ``xx.`` (10,26,26); on 19005551212, ``1900xxxxxxx!`` and ``1900x.!`` (1,1,...) beat
``1xxxxxxxxxx`` (1,10,...), so a prefix bar holds; ``1xxx`` beats ``[1-3]234`` on 1234 (the
first key decides). Equal costs: a barred sequence wins (a bar is never weaker than what it
carves out of), then the earlier sequence in the plan. Within one sequence, an ambiguous
split (``<1.:>1.`` on 111) takes the cheapest path, then the first found. "Longest match"
is the short timer's job: while a longer sequence can still match, a complete one waits.
"""

KEYS = "0123456789*#ABCD"
DIGITS = "0123456789"
DEFAULT_PLAN = "(*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.)"
LONG_S = 10.0   # Interdigit_Long_Timer default
SHORT_S = 3.0   # Interdigit_Short_Timer default
BARE_TIMER_S = 5.0  # "if no number is entered after S/L/P/L:, the default timer of 5 s applies"
REPEAT_COST = 16    # more than the widest set (16 keys): any single element beats a repeat

INCOMPLETE = "incomplete"
COMPLETE = "complete"
INVALID = "invalid"
BARRED = "barred"

# token kinds
KEY = "key"       # ("key", keyset, repeat, echo)
EMIT = "emit"     # ("emit", text)
SHORT = "short"   # ("short", seconds)
LONG = "long"     # ("long", seconds)
PAUSE = "pause"   # ("pause", seconds)

_SUB_TEXT_BAD = "<>|()[]:"


class DialPlanError(ValueError):
    """A dial plan that does not parse; `pos` is the 0-based index into the plan text."""

    def __init__(self, pos, reason):
        super().__init__("dial plan position %d: %s" % (pos, reason))
        self.pos = pos
        self.reason = reason


class Verdict:
    """What the line does with the keys collected so far.

    `state` is "incomplete" (wait up to `timeout` s for another key), "complete" (dial
    `number` after `timeout` s, 0 = now, unless another key comes first), "invalid" (matches
    nothing: reorder) or "barred" (a ``!`` sequence matched: reorder). `number` is the
    rewritten number when complete, else None.
    """

    __slots__ = ("state", "number", "timeout")

    def __init__(self, state, number=None, timeout=0.0):
        self.state = state
        self.number = number
        self.timeout = float(timeout)

    def __eq__(self, other):
        return (isinstance(other, Verdict) and self.state == other.state
                and self.number == other.number and self.timeout == other.timeout)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Verdict(%r, %r, %r)" % (self.state, self.number, self.timeout)


class _Seq:
    """One compiled digit sequence: its tokens, whether it is barred, its pause if any.

    The token list is linear, so every path that stands at token index i has passed the same
    timer tokens: `short_at[i]` / `long_at[i]` (None: the plan default) and `keys_from[i]`
    (a KEY token at or after i: more keys can be taken) are tables by index."""

    __slots__ = ("index", "text", "tokens", "barred", "pause", "keys_from", "short_at",
                 "long_at")

    def __init__(self, index, text, tokens, barred, pause):
        self.index = index
        self.text = text
        self.tokens = tokens
        self.barred = barred
        self.pause = pause
        n = len(tokens)
        ahead = [False] * (n + 1)
        for i in range(n - 1, -1, -1):
            ahead[i] = ahead[i + 1] or tokens[i][0] == KEY
        self.keys_from = ahead
        short, long_ = [None] * (n + 1), [None] * (n + 1)
        for i in range(n):
            t = tokens[i]
            short[i + 1] = t[1] if t[0] == SHORT else short[i]
            long_[i + 1] = t[1] if t[0] == LONG else long_[i]
        self.short_at = short
        self.long_at = long_


# ---------------------------------------------------------------------------------------
# parsing


class _Parser:
    def __init__(self, text):
        self.s = text
        self.n = len(text)
        self.i = 0

    def fail(self, pos, reason):
        raise DialPlanError(pos, reason)

    def skip_ws(self):
        s, n = self.s, self.n
        while self.i < n and s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self):
        self.skip_ws()
        return self.s[self.i] if self.i < self.n else ""

    def number(self, default):
        """Digits right after the current position (no whitespace inside), else `default`."""
        start = self.i
        while self.i < self.n and self.s[self.i] in DIGITS:
            self.i += 1
        if self.i == start:
            return default
        return float(int(self.s[start:self.i]))

    def plan(self):
        """-> (sequences, long override or None, short override or None)."""
        overrides = {}
        while True:
            c = self.peek()
            j = self.i + 1
            while j < self.n and self.s[j] in " \t\r\n":
                j += 1
            if c not in ("L", "S") or j >= self.n or self.s[j] != ":":
                break
            at = self.i
            if c in overrides:
                self.fail(at, "master %s: timer given twice" % c)
            self.i = j + 1
            self.skip_ws()
            overrides[c] = self.number(BARE_TIMER_S)
            if self.peek() != ",":
                self.fail(self.i, "master %s: timer must end with ','" % c)
            self.i += 1
        opened = -1
        if self.peek() == "(":
            opened = self.i
            self.i += 1
        seqs = []
        while True:
            seqs.append(self.sequence(len(seqs)))
            c = self.peek()
            if c == "|":
                self.i += 1
                continue
            if c == ")":
                if opened < 0:
                    self.fail(self.i, "unbalanced ')'")
                self.i += 1
                if self.peek():
                    self.fail(self.i, "unexpected %r after the closing ')'" % self.s[self.i])
                break
            # end of text
            if opened >= 0:
                self.fail(opened, "unbalanced '(' (no closing ')')")
            break
        return seqs, overrides.get("L"), overrides.get("S")

    def sequence(self, index):
        self.skip_ws()
        start = self.i
        tokens = []
        barred = False
        pause = None
        pause_at = -1
        first_key_at = -1
        after_elem = False  # may a '.' come here (right after a key, 'x' or set)?
        while True:
            c = self.peek()
            at = self.i
            if c in ("", "|", ")"):
                break
            if c == ".":
                if not after_elem:
                    self.fail(at, "'.' must follow a key, 'x' or a set")
                self.repeat(tokens, at)
                after_elem = False
                continue
            after_elem = c in KEYS or c in "xX["
            if c == "(":
                self.fail(at, "nested '(' is not supported")
            if c in KEYS or c in "xX[":
                if first_key_at < 0:
                    first_key_at = at
                tokens.append(self.element(True))
            elif c == "<":
                self.substitution(tokens)
            elif c in "SLP":
                self.i += 1
                value = self.number(BARE_TIMER_S)
                if c == "S":
                    tokens.append((SHORT, value))
                elif c == "L":
                    tokens.append((LONG, value))
                else:
                    if pause is not None:
                        self.fail(at, "a sequence can hold only one pause 'P'")
                    pause, pause_at = value, at
                    tokens.append((PAUSE, value))
            elif c == "!":
                barred = True
                self.i += 1
            elif c == ",":
                self.i += 1  # outside-line dial tone: accepted, not modelled
            elif c == "]":
                self.fail(at, "unbalanced ']'")
            elif c == ">":
                self.fail(at, "unbalanced '>'")
            else:
                self.fail(at, "unexpected character %r" % c)
        if not tokens:
            self.fail(start, "empty sequence")
        if pause is not None and first_key_at >= 0:
            self.fail(pause_at, "a pause 'P' sequence matches the empty dial only "
                                "(hotline/warmline, e.g. P5<:1000>); it cannot hold keys")
        text = self.s[start:self.i].strip()
        return _Seq(index, text, tokens, barred, pause)

    def element(self, echo):
        """A key, `x` or `[set]` at the current position -> KEY token."""
        c = self.s[self.i]
        if c == "[":
            return (KEY, self.keyset(), False, echo)
        self.i += 1
        if c in "xX":
            return (KEY, DIGITS, False, echo)
        return (KEY, c, False, echo)

    def repeat(self, tokens, at):
        self.i += 1
        if not tokens or tokens[-1][0] != KEY or tokens[-1][2]:
            self.fail(at, "'.' must follow a key, 'x' or a set")
        t = tokens[-1]
        tokens[-1] = (KEY, t[1], True, t[3])

    def keyset(self):
        opened = self.i
        self.i += 1
        keys = ""
        prev = ""
        while True:
            c = self.peek()
            at = self.i
            if c == "":
                self.fail(opened, "unbalanced '[' (no closing ']')")
            if c == "]":
                self.i += 1
                break
            if c == "-":
                self.i += 1
                end = self.peek()
                if not prev:
                    self.fail(at, "range '-' needs a start key")
                if end == "" or end == "]" or end not in KEYS:
                    self.fail(at, "range '%s-' needs an end key" % prev)
                self.i += 1
                if (prev in DIGITS) != (end in DIGITS) or prev in "*#" or end in "*#":
                    self.fail(at - 1, "bad range '%s-%s' (ends must both be digits or A-D)"
                              % (prev, end))
                if ord(end) < ord(prev):
                    self.fail(at - 1, "bad range '%s-%s' (start after end)" % (prev, end))
                for o in range(ord(prev), ord(end) + 1):
                    if chr(o) not in keys:
                        keys += chr(o)
                prev = ""
                continue
            if c not in KEYS:
                self.fail(at, "unexpected %r in a set (keys 0-9 * # A-D and ranges)" % c)
            self.i += 1
            if c not in keys:
                keys += c
            prev = c
        if not keys:
            self.fail(opened, "empty set '[]'")
        return keys

    def substitution(self, tokens):
        opened = self.i
        self.i += 1
        dialled = []
        while True:
            c = self.peek()
            at = self.i
            if c == ":":
                self.i += 1
                break
            if c in ("", "|", ")", ">"):
                self.fail(opened, "substitution '<' needs '<dialled:sent>'")
            if c in KEYS or c in "xX[":
                dialled.append(self.element(False))
            elif c == ".":
                self.repeat(dialled, at)
            else:
                self.fail(at, "unexpected %r in the dialled part of '<...:...>'" % c)
        sent = ""
        while True:
            c = self.peek()
            at = self.i
            if c == ">":
                self.i += 1
                break
            if c == "" or c in "|)":
                self.fail(opened, "unbalanced '<' (no closing '>')")
            if c in _SUB_TEXT_BAD:
                self.fail(at, "unexpected %r in the sent part of '<...:...>'" % c)
            sent += c
            self.i += 1
        tokens.extend(dialled)
        if sent:
            tokens.append((EMIT, sent))


# ---------------------------------------------------------------------------------------
# matching

def _close(seq, configs):
    """Epsilon closure of `configs` (a dict index -> (output, cost)): take EMIT, SHORT, LONG
    and PAUSE tokens and skip repeats. One config per index, the cheapest (Viterbi: costs
    are compared left to right over the same keys, so the order of two paths at one index
    never changes with what follows), the first found on a tie; so a walk holds at most
    len(tokens) + 1 configs whatever the plan. A cost is a str, one chr(cost) per key."""
    tokens = seq.tokens
    n = len(tokens)
    out = {}
    for i in sorted(configs):
        _put(out, i, configs[i])
    for i in range(n):        # epsilon moves only go forward: one sweep in index order
        c = out.get(i)
        if c is None:
            continue
        t = tokens[i]
        kind = t[0]
        if kind == EMIT:
            del out[i]
            _put(out, i + 1, (c[0] + t[1], c[1]))
        elif kind != KEY:     # SHORT, LONG, PAUSE: their effect is in the seq's tables
            del out[i]
            _put(out, i + 1, c)
        elif t[2]:            # a repeat may also be skipped
            _put(out, i + 1, c)
    return out


def _put(configs, i, c):
    old = configs.get(i)
    if old is None or c[1] < old[1]:
        configs[i] = c


def _step(seq, configs, ch):
    """Take the key `ch` from every config that can: the next configs, closed."""
    tokens = seq.tokens
    n = len(tokens)
    nxt = {}
    for i in sorted(configs):
        if i >= n:
            continue
        t = tokens[i]
        if ch not in t[1]:
            continue
        out, cost = configs[i]
        cost += chr(len(t[1]) + (REPEAT_COST if t[2] else 0))
        _put(nxt, i if t[2] else i + 1, (out + ch if t[3] else out, cost))
    return _close(seq, nxt) if nxt else nxt


def _walk(seq, digits):
    """Live configs of `seq` after taking every key of `digits` ({}: the sequence is out)."""
    configs = _close(seq, {0: ("", "")})
    for ch in digits:
        configs = _step(seq, configs, ch)
        if not configs:
            break
    return configs


class _Scan:
    """Every sequence walked over one key string: the best full match and who can extend."""

    def __init__(self, plan, digits, pauses):
        self.best = None          # ((cost, barred first, seq index), seq, output)
        self.live = False         # any sequence still alive (full or extendable)
        self.extend_ok = False    # a non-barred sequence can take more keys
        self.extend_barred = False
        self.extend_cost = None   # lowest cost so far among non-barred extendable configs
        self.long = None          # longest long timer among non-barred extendable configs
        for seq in plan.sequences:
            if seq.pause is not None and not pauses:
                continue
            configs = _walk(seq, digits)
            if not configs:
                continue
            self.live = True
            n = len(seq.tokens)
            for i in sorted(configs):
                out, cost = configs[i]
                if i == n:
                    rank = (cost, 0 if seq.barred else 1, seq.index)
                    if self.best is None or rank < self.best[0]:
                        self.best = (rank, seq, out)
                if seq.keys_from[i]:
                    if seq.barred:
                        self.extend_barred = True
                        continue
                    self.extend_ok = True
                    if self.extend_cost is None or cost < self.extend_cost:
                        self.extend_cost = cost
                    lt = seq.long_at[i]
                    if lt is None:
                        lt = plan.long_s
                    if self.long is None or lt > self.long:
                        self.long = lt


class DialPlan:
    """Represents one line's dial plan, parsed once; `match` and `on_timeout` judge key strings.

    text:    the plan, SPA syntax, e.g. DEFAULT_PLAN; raises DialPlanError (ValueError)
             naming the position and reason when it does not parse.
    long_s:  Interdigit_Long_Timer, seconds (default 10), unless the plan says ``L:n,``.
    short_s: Interdigit_Short_Timer, seconds (default 3), unless the plan says ``S:n,``.

        plan = DialPlan(DEFAULT_PLAN)     # (*xx|[3469]11|0|00|[2-9]xxx|1xxx|xx.)
        plan.match("*69")        # Verdict('complete', '*69', 0.0): dial now
        plan.match("911")        # Verdict('complete', '911', 3.0): dial unless a key in 3 s
    """

    def __init__(self, text: str, long_s: float = LONG_S, short_s: float = SHORT_S):
        if not isinstance(text, str):
            raise ValueError("dial plan must be a string, got %r" % (text,))
        for name, v in (("long_s", long_s), ("short_s", short_s)):
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError("%s must be a number of seconds >= 0, got %r" % (name, v))
        self.text = text
        seqs, lo, so = _Parser(text).plan()
        self.sequences = seqs
        self.long_s = float(long_s) if lo is None else lo
        self.short_s = float(short_s) if so is None else so

    def __repr__(self):
        return "DialPlan(%r)" % (self.text,)

    def match(self, digits: str) -> Verdict:
        """The verdict after the keys `digits` (everything since dial tone, in order).

        A trailing ``#`` that no sequence takes as a key means "send": see `on_timeout`.
        """
        if digits[-1:] == "#":
            scan = _Scan(self, digits, True)
            if not scan.live:
                return self._final(_Scan(self, digits[:-1], False))
        else:
            scan = _Scan(self, digits, True)
        best = scan.best
        if best is not None:
            seq, number = best[1], best[2]
            short = seq.short_at[len(seq.tokens)]
            if short is None:
                short = self.short_s
            if seq.barred:
                if scan.extend_ok and scan.extend_cost < best[0][0]:
                    return Verdict(INCOMPLETE, None, short)
                return Verdict(BARRED, None, 0.0)
            if seq.pause is not None:
                return Verdict(COMPLETE, number, seq.pause)
            if scan.extend_ok:
                return Verdict(COMPLETE, number, short)
            return Verdict(COMPLETE, number, 0.0)
        if scan.extend_ok:
            return Verdict(INCOMPLETE, None, scan.long)
        if scan.extend_barred:
            return Verdict(BARRED, None, 0.0)
        return Verdict(INVALID, None, 0.0)

    def on_timeout(self, digits: str) -> Verdict:
        """The inter-digit (or pause) timer fired after `digits`: dial the best full match at
        once ("complete", timeout 0), "barred" if that match is barred, else "invalid"."""
        if digits[-1:] == "#" and not _Scan(self, digits, True).live:
            return self._final(_Scan(self, digits[:-1], False))
        return self._final(_Scan(self, digits, True))

    def _final(self, scan):
        if scan.best is None:
            return Verdict(INVALID, None, 0.0)
        if scan.best[1].barred:
            return Verdict(BARRED, None, 0.0)
        return Verdict(COMPLETE, scan.best[2], 0.0)


def on_timeout(plan: DialPlan, digits: str) -> Verdict:
    """What to do when the inter-digit timer fires: `DialPlan.on_timeout`."""
    return plan.on_timeout(digits)
