"""tipring/firmware/line/ring_cadence.py: the schedule as a function of time (hypothesis)."""
import pytest
from hypothesis import given, settings, strategies as st

from tipring.firmware.line.ring_cadence import CADENCES, DISTINCTIVE, RingSchedule, check_cadence


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=3), st.integers(1, 40),
       st.sampled_from([16, 20, 25, 50]), st.floats(0, 1000), st.floats(0, 2))
def test_levels_change_only_at_next_change(ons, off, freq, start, pre):
    cadence = []
    for on in ons:
        cadence += [on / 10, off / 10]
    s = RingSchedule(cadence, freq, start, pre_ring=round(pre, 3))
    t = start
    toggles = 0
    cycle_end = s.first_ring + sum(cadence)
    while t < cycle_end - 1e-9:                     # float sum of the cadence
        n = s.next_change(t)
        assert n > t
        mid = s.state(t + (n - t) / 2)
        assert mid == s.state(t)                    # constant between changes
        if s.state(n)[3] != mid[3]:
            toggles += 1
        t = n
    assert t == pytest.approx(cycle_end)
    assert s.state(t)[:3] == (2, 0, True)
    # every burst: F/R inverted on entry, toggled every half period
    assert toggles >= sum(round(on / 10 * 2 * freq) for on in ons) - len(ons)


def test_tables_are_ringable():
    for cad, f in list(CADENCES.values()) + [(d, 20) for d in DISTINCTIVE.values()]:
        check_cadence(cad, f)


@pytest.mark.parametrize("cad,f,msg", [((), 20, "even-length"), ((1.0, -1.0), 20, r"cadence\[1\]"),
                                       ((1.0, 1.0), 5, "10..70 Hz"), ((1.0, 1.0), True, "Hz")])
def test_bad_cadence(cad, f, msg):
    with pytest.raises(ValueError, match=msg):
        check_cadence(cad, f)
