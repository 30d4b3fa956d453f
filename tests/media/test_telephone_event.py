"""RFC 4733 telephone-event sender and receiver (tipring/firmware/media/telephone_event.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipring.firmware.media.telephone_event import (
    EventReceiver, EventSender, TelephoneEvent, digit_to_event, event_to_digit,
)


def test_payload_wire_format():
    ev = TelephoneEvent(5, end=True, volume=10, duration=800)
    assert ev.serialize() == bytes([5, 0x8A, 0x03, 0x20])
    assert TelephoneEvent.parse(ev.serialize()) == ev
    assert TelephoneEvent.parse(b"\x0b\x0a\x00\xa0") == TelephoneEvent(11, False, 10, 160)
    with pytest.raises(ValueError):
        TelephoneEvent.parse(b"\x01\x02\x03")


@given(st.binary(min_size=4, max_size=4))
def test_payload_round_trip_ignoring_reserved_bit(data):
    ev = TelephoneEvent.parse(data)
    assert ev.serialize() == bytes([data[0], data[1] & 0xBF]) + data[2:]


def test_digit_codes():
    assert [digit_to_event(d) for d in "0159*#ABCD"] == [0, 1, 5, 9, 10, 11, 12, 13, 14, 15]
    assert digit_to_event("a") == 12 and digit_to_event("flash") == 16
    assert event_to_digit(11) == "#" and event_to_digit(16) == "flash"
    assert event_to_digit(40) is None
    for bad in ("E", "", "12", "x"):
        with pytest.raises(ValueError):
            digit_to_event(bad)


def send_all(sender, ts0=1000, samples=160):
    """Drive the sender one packet time at a time; collect (tick, payload, marker, ts)."""
    out = []
    tick = 0
    while sender.busy:
        for payload, marker, ts in sender.tick(ts0 + tick * samples, samples):
            out.append((tick, payload, marker, ts))
        tick += 1
    return out


def test_sender_schedule_for_a_100_ms_digit():
    s = EventSender()
    s.start("5", 100)
    assert s.busy
    out = send_all(s)
    sent = [(t, TelephoneEvent.parse(p), m, ts) for t, p, m, ts in out if p is not None]
    # every packet carries the event's start timestamp; the first alone has the marker
    assert {ts for _, _, _, ts in sent} == {1000}
    assert [m for _, _, m, _ in sent] == [True] + [False] * (len(sent) - 1)
    evs = [e for _, e, _, _ in sent]
    assert all(e.event == 5 for e in evs)
    updates = [e for e in evs if not e.end]
    ends = [e for e in evs if e.end]
    assert [e.duration for e in updates] == [160, 480]       # first tick, then past 50 ms
    assert len(ends) == 3 and {e.duration for e in ends} == {800}
    # 5 ticks of tone (muted audio) then 2 more end retransmits
    assert [t for t, p, _, _ in out] == list(range(7))
    assert not s.busy


def test_sender_updates_average_50_ms_for_long_digits():
    s = EventSender()
    s.start("#", 1000)
    sent = [TelephoneEvent.parse(p) for _, p, _, _ in send_all(s) if p is not None]
    updates = [e for e in sent if not e.end]
    assert 19 <= len(updates) <= 21
    durations = [e.duration for e in updates]
    assert durations == sorted(durations) and durations[-1] < 8000
    gaps = [b - a for a, b in zip(durations, durations[1:])]
    assert set(gaps) <= {320, 480}
    assert sum(gaps) / len(gaps) == pytest.approx(400, abs=20)


def test_sender_queues_digits_with_their_own_timestamps():
    s = EventSender()
    s.start("1", 60)
    s.start("2", 60)
    out = send_all(s)
    ts_by_event = {}
    for _, p, _, ts in out:
        if p is not None:
            ts_by_event.setdefault(TelephoneEvent.parse(p).event, set()).add(ts)
    assert len(ts_by_event[1]) == 1 and len(ts_by_event[2]) == 1
    assert ts_by_event[2].pop() > ts_by_event[1].pop()
    assert [m for _, p, m, _ in out if p is not None].count(True) == 2


def test_sender_caps_duration():
    s = EventSender()
    s.start("0", 20000)
    out = [TelephoneEvent.parse(p) for _, p, _, _ in send_all(s) if p is not None]
    assert out[-1].end and out[-1].duration == 0xFFFF


def payloads(digit, ms=100):
    s = EventSender()
    s.start(digit, ms)
    return [(ts, p) for _, p, _, ts in send_all(s) if p is not None]


def test_receiver_reports_start_and_end_once():
    r = EventReceiver()
    events = []
    for i, (ts, p) in enumerate(payloads("7")):
        events += r.on_event(ts, p, i * 0.02)
    assert events == [("digit", "7"), ("digit_end", "7", 100)]


def test_receiver_handles_lost_start_packets():
    r = EventReceiver()
    pk = payloads("9")
    events = []
    for ts, p in pk[2:]:                       # the first two updates never arrived
        events += r.on_event(ts, p, 0.0)
    assert events == [("digit", "9"), ("digit_end", "9", 100)]


def test_receiver_handles_lost_end_packets_when_the_next_digit_starts():
    r = EventReceiver()
    events = []
    for ts, p in [x for x in payloads("1") if not TelephoneEvent.parse(x[1]).end]:
        events += r.on_event(ts, p, 0.0)
    for ts, p in payloads("2"):
        events += r.on_event(ts + 2000, p, 0.5)
    assert events == [("digit", "1"), ("digit_end", "1", 60), ("digit", "2"),
                      ("digit_end", "2", 100)]


def test_receiver_ignores_duplicates_and_stragglers():
    r = EventReceiver()
    pk = payloads("3")
    events = []
    for ts, p in pk + pk:                       # everything twice
        events += r.on_event(ts, p, 0.0)
    for ts, p in payloads("4"):
        events += r.on_event(ts + 5000, p, 1.0)
    events += r.on_event(pk[0][0], pk[0][1], 1.1)    # a reordered update of "3"
    assert events == [("digit", "3"), ("digit_end", "3", 100), ("digit", "4"),
                      ("digit_end", "4", 100)]


def test_receiver_expires_an_event_without_end():
    r = EventReceiver(timeout=1.0)
    ts, p = payloads("8")[0]
    assert r.on_event(ts, p, 5.0) == [("digit", "8")]
    assert r.deadline() == 6.0
    assert r.expire(5.5) == []
    assert r.expire(6.0) == [("digit_end", "8", 20)]
    assert r.deadline() is None and r.expire(7.0) == []
    assert r.on_event(ts, p, 7.0) == []           # that event is over


def test_receiver_same_timestamp_new_event_is_new_digit():
    r = EventReceiver()
    a = TelephoneEvent(1, True, 10, 400).serialize()
    b = TelephoneEvent(2, True, 10, 400).serialize()
    assert r.on_event(100, a, 0.0) == [("digit", "1"), ("digit_end", "1", 50)]
    assert r.on_event(900, b, 0.1) == [("digit", "2"), ("digit_end", "2", 50)]
