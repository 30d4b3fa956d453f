"""The SIP ladder: columns per party, arrows per message, on a realistic history."""

from tipring.firmware.console.ladder import exchanges, pick, render_ladder, summary_text
from tests.console.fakeapp import HISTORY

REGISTER_CHART = """\
          127.0.0.1:5070                127.0.0.1:5060
            (this ATA)
                 |                             |
   0.000         | (1) REGISTER sip:127.0.0.1  |
                 |---------------------------->|
   0.004         | (2) 401 Unauthorized        |
                 |<----------------------------|
   0.006         | (3) REGISTER sip:127.0.0.1  |
                 |---------------------------->|
   0.011         | (4) 200 OK                  |
                 |<----------------------------|"""


def test_registration_chart_exactly():
    assert "\n".join(render_ladder(pick(HISTORY, "reg-7f3a"))) == REGISTER_CHART


def test_call_chart_has_one_arrow_per_message_in_the_right_direction():
    msgs = pick(HISTORY)
    assert [m["call_id"] for m in msgs] == ["call-91c2"] * 10
    rows = render_ladder(msgs)
    body = rows[3:]
    assert len(body) == 2 * len(msgs)
    for i, m in enumerate(msgs):
        label, arrow = body[2 * i], body[2 * i + 1]
        assert "(%d) %s" % (i + 1, summary_text(m["summary"])) in label
        assert ("--->|" in arrow) == (m["dir"] == "out")
        assert ("|<---" in arrow) == (m["dir"] == "in")
    assert body[-2].lstrip().startswith("19.004")   # BYE's 200 OK, seconds after the INVITE


def test_three_parties_and_long_labels():
    msgs = [
        {"t": 0.0, "dir": "out", "summary": "INVITE sip:1002@proxy.example.net;transport=udp;user=phone"
                                            "-with-a-very-long-request-uri SIP/2.0",
         "peer": "10.0.0.1:5060", "local": "10.0.0.9:5070", "call_id": "x"},
        {"t": 0.5, "dir": "in", "summary": "SIP/2.0 200 OK", "peer": "10.0.0.1:5060",
         "local": "10.0.0.9:5070", "call_id": "x"},
        {"t": 9.0, "dir": "in", "summary": "BYE sip:1001@10.0.0.9:5070 SIP/2.0", "peer": "10.0.0.2:5080",
         "local": "10.0.0.9:5070", "call_id": "x"},
    ]
    rows = render_ladder(msgs)
    assert rows[0].split() == ["10.0.0.9:5070", "10.0.0.1:5060", "10.0.0.2:5080"]
    assert "..." in rows[3]                       # long request line shortened
    bye_arrow = rows[-1]
    xs = [i for i, c in enumerate(rows[2]) if c == "|"]
    assert bye_arrow[xs[0] + 1] == "<" and bye_arrow[xs[2]] == "|"
    assert bye_arrow[xs[1]] == "-"                # crosses the proxy's column
    assert max(len(r) for r in rows) < 132


def test_pick_and_exchanges():
    assert pick([]) == [] and render_ladder([]) == []
    assert len(pick(HISTORY, "all")) == len(HISTORY)
    assert [m["call_id"] for m in pick(HISTORY, "call")] == ["call-91c2"] * 10
    assert exchanges(HISTORY) == [("reg-7f3a", "REGISTER", 4), ("call-91c2", "INVITE", 10)]
    only_reg = HISTORY[:4]
    assert pick(only_reg) == only_reg             # no INVITE: the latest exchange
