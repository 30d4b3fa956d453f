"""Rotary (decadic) pulse trains: which digit a pulse count means and whether a train is valid.

Owns the pulse-dial receiver tolerances and the national digit codings. `hook.HookDecoder`
measures the breaks and makes and asks `check_train` / `pulses_to_digit` here.

Standards and sources (notes/hardware.md §2.2):
- Nominal 10 pps, break/make 60/40 (US) or 67/33 (Europe); Japan also 20 pps.
- Receiver tolerance: 9-22 pulses/s and 55-77 % break (NEC NEAX 2000 receive spec), inter-digit
  pause >= 256 ms (NEC) / >= 250 ms (Zyxel IES). tipring accepts 8-22 pps by default
  (`MIN_PPS`, `MAX_PPS`; `line.N.pulse_pps_min` / `pulse_pps_max`): old exchanges' phones and
  worn dials run slow, down to 8 pps, and the break window already tells a pulse from a flash.
- Digit coding: n pulses = digit n, 10 pulses = 0; Sweden n+1 pulses (0 = 1 pulse, 9 = 10);
  New Zealand 10-n pulses (0 = 10, 1 = 9, ... 9 = 1).

A train is a list of `(break_s, make_s)`; the last make is the inter-digit pause and is not
part of any pulse period, so it is passed as None. A one-pulse train has no period to measure:
its break alone must fit between the shortest break at the fastest rate
(`min_break_ratio / max_pps`) and the longest at the slowest (`max_break_ratio / min_pps`).
"""

PULSE_MAPS = ("standard", "sweden", "new_zealand")

MIN_PPS = 8.0          # default receiver window, pulses per second
MAX_PPS = 22.0
PPS_LIMITS = (5.0, 30.0)   # what a line may be configured to: beyond these no dial is a dial

# tolerance on every comparison, in seconds / ratio: absorbs float error in edge stamps only
EPS = 1e-6
# the rate window's edges are the dial's nominal speeds: a dial set to 8 pps is an 8 pps dial
# although GPIO edge stamps jitter by a millisecond or two (1 % of a 125 ms period)
RATE_TOL = 0.02


def pulses_to_digit(count: int, mapping: str = "standard"):
    """The digit character that `count` pulses mean under `mapping`, or None when none."""
    if count < 1 or count > 10:
        return None
    if mapping == "standard":
        return "0" if count == 10 else str(count)
    if mapping == "sweden":
        return str(count - 1)
    if mapping == "new_zealand":
        return "0" if count == 10 else str(10 - count)
    raise ValueError("unknown pulse map %r; allowed: %s" % (mapping, ", ".join(PULSE_MAPS)))


def digit_to_pulses(digit: str, mapping: str = "standard") -> int:
    """How many pulses dial `digit` under `mapping` (the sender side, for the sim handset)."""
    if len(digit) != 1 or digit not in "0123456789":
        raise ValueError("pulse dialling has digits 0-9 only, got %r" % (digit,))
    n = int(digit)
    if mapping == "standard":
        return 10 if n == 0 else n
    if mapping == "sweden":
        return n + 1
    if mapping == "new_zealand":
        return 10 if n == 0 else 10 - n
    raise ValueError("unknown pulse map %r; allowed: %s" % (mapping, ", ".join(PULSE_MAPS)))


def check_train(train, min_pps=MIN_PPS, max_pps=MAX_PPS, min_break=0.55, max_break=0.77):
    """None when every pulse of `train` is within tolerance, else a short reason string.

    Reasons: "too slow", "too fast" (pulse rate), "break too short", "break too long"
    (break ratio, or the lone break of a one-pulse train), "too many pulses".
    """
    if len(train) > 10:
        return "too many pulses"
    for i in range(len(train)):
        brk, make = train[i]
        if make is None:
            if i > 0:
                continue            # break already judged as part of the previous period
            if brk < min_break / max_pps - EPS:
                return "break too short"
            if brk > max_break / min_pps + EPS:
                return "break too long"
            continue
        period = brk + make
        if period > (1.0 + RATE_TOL) / min_pps + EPS:
            return "too slow"
        if period < (1.0 - RATE_TOL) / max_pps - EPS:
            return "too fast"
        ratio = brk / period
        if ratio < min_break - EPS:
            return "break too short"
        if ratio > max_break + EPS:
            return "break too long"
    # the last break follows the previous period; judge it against the same ratio window
    # using that period (a rotary dial's pulses are uniform)
    n = len(train)
    if n > 1:
        brk = train[n - 1][0]
        period = train[n - 2][0] + train[n - 2][1]
        if brk < min_break * period - EPS:
            return "break too short"
        if brk > max_break * period + EPS:
            return "break too long"
    return None


def train_pps(train):
    """The mean pulse rate of `train` (pulses per second), or None for a one-pulse train."""
    periods = [b + m for b, m in train if m is not None]
    if not periods:
        return None
    return len(periods) / sum(periods)
