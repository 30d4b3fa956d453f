"""tipring/firmware/line/hook.py properties (hypothesis), beyond the fixed cases in
tests/portable/test_line_portable.py (which pytest collects too)."""
from hypothesis import given, settings, strategies as st

from tipring.firmware.line.hook import HookDecoder
from tipring.firmware.line.pulse import digit_to_pulses

T0 = 1000.0


def loop_driven(dec, edges, end):
    out = []
    for t, lv in edges:
        while dec.deadline() is not None and dec.deadline() < t:
            out += dec.on_timer(dec.deadline())
        out += dec.edge(t, lv)
    while dec.deadline() is not None and dec.deadline() <= end:
        out += dec.on_timer(dec.deadline())
    return out


def edges_only(dec, edges, end):
    """No timers between edges: a loop that woke late. Same events, same stamps."""
    out = []
    for t, lv in edges:
        out += dec.edge(t, lv)
    return out + dec.on_timer(end)


def bounce(t, level, b):
    if b <= 0:
        return [(t, level)]
    return [(t, level), (t + b / 3, not level), (t + b, level)]


@st.composite
def dialled(draw):
    number = draw(st.text(alphabet="0123456789", min_size=1, max_size=6))
    mapping = draw(st.sampled_from(["standard", "sweden", "new_zealand"]))
    edges, t = [], T0 + 1.0
    for d in number:
        pps = draw(st.floats(9.0, 22.0))
        ratio = draw(st.floats(0.55, 0.77))
        period = 1.0 / pps
        brk, make = ratio * period, (1 - ratio) * period
        b = draw(st.floats(0.0, 0.003))
        if min(brk, make) - b < 0.0105:
            b = 0.0
        for _ in range(digit_to_pulses(d, mapping)):
            edges += bounce(t, False, b)
            edges += bounce(t + brk, True, b)
            t += period
        t += draw(st.floats(0.26, 2.0)) - make
    return number, mapping, edges, t


@settings(max_examples=150, deadline=None)
@given(dialled())
def test_valid_dialling_decodes(case):
    number, mapping, edges, end = case
    for drive in (loop_driven, edges_only):
        dec = HookDecoder(off_hook=True, now=T0, pulse_map=mapping)
        ev = drive(dec, edges, end + 1.0)
        assert "".join(e[1] for e in ev if e[0] == "digit") == number, ev
        assert [e for e in ev if e[0] not in ("digit", "pulse_start")] == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0005, 1.5), st.booleans()), max_size=60),
       st.booleans(), st.booleans())
def test_any_edges_never_raise_and_stay_consistent(steps, start_off, ringing):
    edges, t = [], T0
    for dt, lv in steps:
        t += dt
        edges.append((t, lv))
    dec = HookDecoder(off_hook=start_off, now=T0)
    dec.set_ringing(ringing)
    a = loop_driven(dec, edges, t + 3.0)
    dec2 = HookDecoder(off_hook=start_off, now=T0)
    dec2.set_ringing(ringing)
    b = edges_only(dec2, edges, t + 3.0)
    assert a == b
    stamps = [e[-1] for e in a]
    assert stamps == sorted(stamps)
    off = start_off
    for e in a:
        if e[0] == "off_hook":
            assert not off
            off = True
        elif e[0] == "on_hook":
            assert off
            off = False
        else:
            assert off, e                # flash / digits only while off-hook
    assert dec.is_off_hook == off
