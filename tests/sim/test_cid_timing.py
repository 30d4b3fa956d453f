"""Caller ID where each country sends it (tipring/firmware/dsp/tone_plans.py `callerid`), through the
whole firmware on the sim board: the virtual handset decodes the FSK (or DTMF) itself from the
line audio and notes how many rings it had heard then (`caller_id_ring`) and whether the line
was reversed (`caller_id_reversed`, from the F/R pin between ring bursts).

UK (BT SIN 227): line reversal, DT-AS, FSK, then the first ring. US, DE, FR, CN, JP, AU:
after the first ring, in its long pause (GR-30-CORE; ETSI variant (c)). DTMF caller ID (ETSI
DTMF variants): before the first ring, after a line reversal."""

import pytest

from tests.sim.helpers import Running

CID = {"number": "1002", "name": "Bob"}


@pytest.mark.parametrize("country,method,ring,reversed_", [
    ("us", "bell202", 1, False),
    ("uk", "etsi-fsk", 0, True),
    ("de", "etsi-fsk", 1, False),
    ("fr", "etsi-fsk", 1, False),
    ("cn", "bell202", 1, False),
    ("jp", "bell202", 1, False),
    ("au", "bell202", 1, False),
    ("us", "dtmf", 0, True),
    ("de", "dtmf", 0, True),
])
def test_caller_id_sits_where_the_country_sends_it(country, method, ring, reversed_):
    r = Running(country=country, lines=[{"port": 1, "user": "1001", "caller_id": method}])
    try:
        c = r.client()
        r.call(r.board.incoming, 1, CID)
        got = c.ask("wait caller_id 12")
        assert got["ok"], (got, r.named("error"))
        assert got["caller_id"]["number"] == "1002"
        if method != "dtmf":
            assert got["caller_id"]["name"] == "Bob"
        assert got["caller_id_ring"] == ring, got
        assert got["caller_id_reversed"] is reversed_, got
        st = c.ask("wait rings=2 12")                    # the call rings on, caller ID kept
        assert st["ok"] and st["caller_id"]["number"] == "1002", st
        assert st["polarity"] == "forward", st           # restored for the ringing
        c.ask("offhook")
        assert not r.named("error"), r.named("error")
    finally:
        r.stop()


def test_uk_sequence_order_and_gaps_on_the_line():
    """SIN 227 on the wire: the F/R reversal, then >= 100 ms of quiet, the DT-AS (2130+2750 Hz,
    88-110 ms), >= 45 ms, the FSK, >= 200 ms, the polarity back, then RM: the first ring. The
    sequence's gaps in samples; its order on the pins as the handset saw them."""
    from tipring.board.line_signals import DTAS_LEAD_MS, DTAS_TAIL_MS, prering_pcm
    from tipring.firmware.dsp import callerid
    pcm = prering_pcm(CID, "etsi-fsk", "dt-as", when=(1, 2, 3, 4))
    samples = len(pcm) // 2
    alert = callerid.alert_tone(100)
    i = pcm.find(alert)
    assert i == 2 * (8 * DTAS_LEAD_MS) and DTAS_LEAD_MS >= 100
    rx = callerid.CallerIDReceiver("etsi-fsk")
    msgs = rx.feed(pcm)
    assert msgs and msgs[0]["number"] == "1002"
    assert pcm.endswith(bytes(2 * 8 * DTAS_TAIL_MS)) and DTAS_TAIL_MS >= 200
    assert samples / 8 < 2000                             # well inside the time a caller waits
    r = Running(country="uk", lines=[{"port": 1, "user": "1001"}])
    try:
        c = r.client()
        hs = r.board.handsets[1]
        seen = []
        hs.fr.listeners.append(lambda t, v: seen.append(("fr", t, hs.polarity)))
        hs.rm.listeners.append(lambda t, v: seen.append(("rm", t, v)))
        r.call(r.board.incoming, 1, CID)
        assert c.ask("wait rings=1 5")["ok"]
        kinds = [k for k, _t, _v in seen]
        first_rm = kinds.index("rm")
        assert seen[0][0] == "fr" and seen[0][2] == "reversed", seen[:3]
        back = [x for x in seen[:first_rm] if x[0] == "fr" and x[2] == "forward"]
        assert back, seen[:first_rm + 1]                          # polarity back, then the ring
        # the gaps themselves are counted in samples above (no wall clock in tests)
    finally:
        r.stop()
