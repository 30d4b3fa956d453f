"""Hook, flash and rotary-pulse decoding (tipring/firmware/line/hook.py, pulse.py, ring_cadence.py).

Runs unchanged under CPython (pytest or plain) and MicroPython (plain):
    python tests/portable/test_line_portable.py
    MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_line_portable.py
No pytest features: plain test_* functions and `_run()`.
"""
import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.line.hook import FLASH_PRESETS, HookDecoder
from tipring.firmware.line.pulse import check_train, digit_to_pulses, pulses_to_digit
from tipring.firmware.line.ring_cadence import CADENCES, RingSchedule, cid_window, ring_plan

T0 = 1000.0


def run(dec, edges, end=None):
    """Drive `dec` the way the loop does: timers at their deadlines, then each edge."""
    out = []
    for t, level in edges:
        while True:
            d = dec.deadline()
            if d is None or d >= t:
                break
            out += dec.on_timer(d)
        out += dec.edge(t, level)
    if end is not None:
        while True:
            d = dec.deadline()
            if d is None or d > end:
                break
            out += dec.on_timer(d)
    return out


def pulses(t, n, pps=10.0, brk=0.6):
    """Edges for `n` pulses starting with a break at `t`; returns (edges, time of last make)."""
    period = 1.0 / pps
    edges = []
    for i in range(n):
        start = t + i * period
        edges.append((start, False))
        edges.append((start + brk * period, True))
    return edges, edges[-1][0]


def kinds(events):
    return [e[0] for e in events]


def digits(events):
    return "".join(e[1] for e in events if e[0] == "digit")


def off_hook_decoder(**kw):
    return HookDecoder(off_hook=True, now=T0, **kw)


def dial(n, pps=10.0, brk=0.6, **kw):
    dec = off_hook_decoder(**kw)
    edges, last = pulses(T0 + 1.0, n, pps, brk)
    return run(dec, edges, end=last + 2.0)


# -- off-hook / on-hook / flash -------------------------------------------------------

def test_lift_and_hang_up():
    dec = HookDecoder(now=T0)
    ev = run(dec, [(T0 + 1.0, True), (T0 + 5.0, False)], end=T0 + 10.0)
    assert ev == [("off_hook", T0 + 1.0 + 0.010), ("on_hook", T0 + 5.0 + 0.9)], ev
    assert not dec.is_off_hook and dec.deadline() is None


def test_idle_decoder_needs_no_timer():
    assert HookDecoder(now=T0).deadline() is None
    assert off_hook_decoder().deadline() is None


def test_flash_window_boundaries_spa112():
    cases = [(0.099, ["pulse_start", "pulse_error"]), (0.100, ["flash"]), (0.5, ["flash"]),
             (0.900, ["flash"]), (0.901, ["on_hook", "off_hook"]), (3.0, ["on_hook", "off_hook"])]
    for brk, want in cases:
        dec = off_hook_decoder()
        ev = run(dec, [(T0 + 1.0, False), (T0 + 1.0 + brk, True)], end=T0 + 10.0)
        assert kinds(ev) == want, (brk, ev)


def test_flash_is_stamped_when_decided():
    dec = off_hook_decoder()
    ev = run(dec, [(T0 + 1.0, False), (T0 + 1.3, True)], end=T0 + 3)
    assert ev == [("flash", T0 + 1.3 + 0.010)], ev


def test_hang_up_reported_at_window_max_while_line_still_open():
    dec = off_hook_decoder()
    ev = run(dec, [(T0 + 1.0, False)], end=T0 + 1.0 + 0.9)
    assert ev == [("on_hook", T0 + 1.9)], ev


def test_grandstream_preset():
    lo, hi = FLASH_PRESETS["grandstream"]
    for brk, want in [(0.25, []), (0.3, ["flash"]), (1.1, ["flash"]), (1.2, ["on_hook", "off_hook"])]:
        dec = off_hook_decoder(flash_min=lo, flash_max=hi)
        ev = run(dec, [(T0 + 1.0, False), (T0 + 1.0 + brk, True)], end=T0 + 10.0)
        assert kinds(ev) == want, (brk, ev)


def test_longer_hangup_leaves_a_dead_zone():
    dec = off_hook_decoder(hangup=1.0)
    ev = run(dec, [(T0 + 1.0, False), (T0 + 1.95, True)], end=T0 + 10.0)
    assert ev == [], ev
    dec = off_hook_decoder(hangup=1.0)
    ev = run(dec, [(T0 + 1.0, False)], end=T0 + 10.0)
    assert ev == [("on_hook", T0 + 2.0)], ev


def test_flash_disabled():
    dec = off_hook_decoder(flash=False)
    ev = run(dec, [(T0 + 1.0, False), (T0 + 1.5, True)], end=T0 + 10.0)
    assert ev == [], ev


def test_bounces_are_filtered():
    # lift with contact bounce, then a break with bounce on both edges: one flash
    b = [(0.0, True), (0.002, False), (0.004, True), (0.005, False), (0.007, True)]
    edges = [(T0 + 1.0 + dt, lv) for dt, lv in b]
    edges += [(T0 + 2.0, False), (T0 + 2.003, True), (T0 + 2.004, False)]
    edges += [(T0 + 2.4, True), (T0 + 2.401, False), (T0 + 2.403, True)]
    dec = HookDecoder(now=T0)
    ev = run(dec, edges, end=T0 + 5)
    assert ev == [("off_hook", T0 + 1.007 + 0.010), ("flash", T0 + 2.403 + 0.010)], ev


def test_short_glitch_ignored():
    dec = off_hook_decoder()
    ev = run(dec, [(T0 + 1.0, False), (T0 + 1.009, True)], end=T0 + 5)
    assert ev == [], ev


def test_ring_trip_needs_50ms():
    dec = HookDecoder(now=T0)
    dec.set_ringing(True)
    ev = run(dec, [(T0 + 1.0, True), (T0 + 1.03, False)], end=T0 + 2)
    assert ev == [], ev
    ev = run(dec, [(T0 + 3.0, True)], end=T0 + 4)
    assert ev == [("off_hook", T0 + 3.05)], ev


def test_bad_parameters_name_the_rule():
    for kw in [dict(flash_min=0.9, flash_max=0.5), dict(hangup=0.5), dict(pulse_map="xx"),
               dict(debounce=0.2), dict(interdigit=0.01)]:
        try:
            HookDecoder(**kw)
        except ValueError as e:
            assert str(e), kw
        else:
            assert False, kw


# -- rotary pulses ---------------------------------------------------------------------

def test_every_digit_standard():
    for n in range(1, 11):
        ev = dial(n)
        assert kinds(ev) == ["pulse_start", "digit"], (n, ev)
        assert ev[1][1:3] == (pulses_to_digit(n), "pulse"), ev


def test_digit_event_stamped_at_interdigit():
    ev = dial(3)
    last_make = T0 + 1.0 + 0.2 + 0.06
    assert ev[-1] == ("digit", "3", "pulse", last_make + 0.25), ev


def test_rates_accept_8_to_22_pps():
    for pps, ok in [(7, False), (8, True), (9, True), (10, True), (20, True), (22, True), (23, False)]:
        ev = dial(5, pps=pps, brk=0.6)
        if ok:
            assert digits(ev) == "5", (pps, ev)
        else:
            assert kinds(ev) == ["pulse_start", "pulse_error"], (pps, ev)
            assert ev[-1][1] in ("too slow", "too fast"), (pps, ev)


def test_break_ratio_accept_55_to_77_percent():
    for pct, ok in [(50, False), (55, True), (60, True), (66, True), (77, True), (80, False)]:
        ev = dial(4, pps=10, brk=pct / 100.0)
        if ok:
            assert digits(ev) == "4", (pct, ev)
        else:
            assert ev[-1][0] == "pulse_error", (pct, ev)
            assert ev[-1][1].startswith("break too"), (pct, ev)


def test_extremes_22pps_77pct_and_9pps_55pct():
    assert digits(dial(10, pps=22, brk=0.77)) == "0"
    assert digits(dial(10, pps=9, brk=0.55)) == "0"
    assert digits(dial(1, pps=22, brk=0.55)) == "1"
    assert digits(dial(1, pps=9, brk=0.77)) == "1"


def test_swedish_and_new_zealand_codings():
    for mapping, n, want in [("sweden", 1, "0"), ("sweden", 10, "9"), ("sweden", 6, "5"),
                             ("new_zealand", 1, "9"), ("new_zealand", 9, "1"),
                             ("new_zealand", 10, "0")]:
        assert digits(dial(n, pulse_map=mapping)) == want, (mapping, n)
        assert digit_to_pulses(want, mapping) == n


def test_number_with_interdigit_gaps():
    dec = off_hook_decoder()
    edges, t = [], T0 + 1.0
    for d in "5550123":
        e, last = pulses(t, digit_to_pulses(d), 10, 0.62)
        edges += e
        t = last + 0.7
    assert digits(run(dec, edges, end=t + 2)) == "5550123"


def test_gap_of_250ms_separates_digits_240ms_does_not():
    e1, last = pulses(T0 + 1.0, 2)
    e2, last2 = pulses(last + 0.25, 3)
    assert digits(run(off_hook_decoder(), e1 + e2, end=last2 + 2)) == "23"
    e2, last2 = pulses(last + 0.24, 3)
    ev = run(off_hook_decoder(), e1 + e2, end=last2 + 2)
    assert kinds(ev) == ["pulse_start", "pulse_error"] and ev[1][1] == "too slow", ev


def test_eleven_pulses_rejected():
    ev = dial(11)
    assert ev[-1][:2] == ("pulse_error", "too many pulses"), ev


def test_hang_up_mid_digit():
    dec = off_hook_decoder()
    edges, last = pulses(T0 + 1.0, 3)
    edges.append((last + 0.04, False))
    ev = run(dec, edges, end=last + 5)
    assert kinds(ev) == ["pulse_start", "pulse_error", "on_hook"], ev
    assert ev[1][1] == "interrupted"


def test_bouncy_rotary_dial_still_decodes():
    dec = off_hook_decoder()
    edges, last = pulses(T0 + 1.0, 7, 10, 0.63)
    bouncy = []
    for t, lv in edges:
        bouncy += [(t, lv), (t + 0.001, not lv), (t + 0.0025, lv)]
    assert digits(run(dec, bouncy, end=last + 2)) == "7"


def test_pulse_disabled_ignores_short_breaks():
    ev = dial(3, pulse=False)
    assert ev == [], ev


def test_check_train_reasons():
    assert check_train([(0.06, 0.04), (0.06, None)]) is None
    assert check_train([(0.06, 0.1), (0.06, None)]) == "too slow"
    assert check_train([(0.01, None)]) == "break too short"
    assert check_train([(0.098, None)]) == "break too long"
    assert check_train([(0.09, None)], min_pps=9.0) == "break too long"


# -- ring cadence (pure schedule) ------------------------------------------------------

def test_ring_plans():
    assert ring_plan("US") == ((2.0, 4.0), 20)
    assert ring_plan("uk") == ((0.4, 0.2, 0.4, 2.0), 25)
    assert ring_plan("jp") == ((1.0, 2.0), 16)
    try:
        ring_plan("xx")
    except ValueError as e:
        assert "us" in str(e)
    else:
        assert False
    for c, (cad, f) in CADENCES.items():
        RingSchedule(cad, f, 0.0)


def test_us_schedule_edges():
    s = RingSchedule((2.0, 4.0), 20, T0)
    t, n_fr, rm_changes, last = T0, 0, 0, s.state(T0)
    assert last == (1, 0, True, True)
    while t < T0 + 6.0:
        t = s.next_change(t)
        st = s.state(t)
        n_fr += st[3] != last[3]
        rm_changes += st[2] != last[2]
        last = st
    assert t == T0 + 6.0 and last == (2, 0, True, True), (t, last)
    assert rm_changes == 2 and n_fr == 80, (rm_changes, n_fr)


def test_cid_window():
    assert cid_window((2.0, 4.0)) == (2.0, 6.0)
    assert cid_window((0.4, 0.2, 0.4, 2.0)) == (1.0, 3.0)
    assert RingSchedule((2.0, 4.0), 20, 10.0).cid_slot() == (12.0, 16.0)
    assert RingSchedule((2.0, 4.0), 20, 10.0, pre_ring=1.5).cid_slot() == (10.0, 11.5)


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
