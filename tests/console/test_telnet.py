"""The telnet layer of console input: every case fed whole and byte by byte, through the filter
alone and through the line editor; an unfinished subnegotiation never holds the console."""

import pytest

from tipring.firmware.console.lineedit import LineEditor
from tipring.firmware.console.telnet import SB_LIMIT, TRANSITIONS, TelnetFilter, byte_class

IAC, SB, SE, WILL, DO = b"\xff", b"\xfa", b"\xf0", b"\xfb", b"\xfd"


def through(data: bytes, **kw) -> bytes:
    f = TelnetFilter(**kw)
    return b"".join(f.feed(b) for b in data)


# (what arrives, the input it carries)
CASES = [
    (b"show status\r", b"show status\r"),                                    # no telnet at all
    (IAC + WILL + b"\x18" + b"ok", b"ok"),                                   # tipring console's hint
    (IAC + DO + b"\x01" + IAC + b"\xfe\x03" + b"ok", b"ok"),                 # DO ECHO, DONT SGA
    (IAC + SB + b"\x18\x00xterm" + IAC + SE + b"ok", b"ok"),                # TERMINAL-TYPE IS xterm
    (IAC + SB + b"\x1f\x00\x50\x00\x18" + IAC + SE + b"ok", b"ok"),         # NAWS 80x24
    (IAC + SB + b"\x1f\xff\xff\x00\x18" + IAC + SE + b"ok", b"ok"),         # IAC IAC inside SB
    (IAC + IAC + b"x", b"\xffx"),                                            # IAC IAC: literal 0xFF
    (b"a" + IAC + b"b", b"a\xffb"),                                          # lone IAC + non-command
    (IAC + b"\xf1" + IAC + b"\xf6" + b"ok", b"ok"),                          # NOP, AYT: 2-byte commands
    (IAC + SE + b"ok", b"ok"),                                               # a stray SE
    (IAC + SB + b"\x18" + IAC + WILL + b"\x01ok", b"ok"),                    # SB cut by IAC WILL
    (IAC + SB + b"\x18" + IAC + b"qok", b"\xffqok"),                         # SB cut by IAC + text
    (IAC, b""),                                                              # IAC at the very end
]


@pytest.mark.parametrize("data, carried", CASES)
def test_each_case(data, carried):
    assert through(data) == carried


@pytest.mark.parametrize("data, carried", [c for c in CASES if c[1]])
@pytest.mark.parametrize("whole", [True, False])
def test_each_case_through_the_line_editor_whole_and_byte_by_byte(data, carried, whole):
    ed = LineEditor(None)
    data += b"\r"
    chunks = [data] if whole else [bytes((b,)) for b in data]
    lines = [e[1] for c in chunks for e in ed.feed(c) if e[0] == "line"]
    assert lines[0] == carried.split(b"\r")[0]


def test_an_unfinished_subnegotiation_ends_after_the_limit():
    # FF FA and no FF F0: the first SB_LIMIT bytes go, everything after is input again
    f = TelnetFilter()
    body = bytes(range(0x20, 0x20 + SB_LIMIT))
    out = b"".join(f.feed(b) for b in IAC + SB + body + b"show status\r")
    assert out == b"show status\r" and f.abandoned == 1 and f.state == "data"


def test_noise_of_repeated_sb_starts_stays_bounded():
    # line noise full of FF FA: each cut-off costs at most SB_LIMIT + 2 bytes
    noise = (IAC + SB + b"\x00" * 10) * 50
    f = TelnetFilter()
    for b in noise:
        f.feed(b)
        assert f._body <= SB_LIMIT
    out = b"".join(f.feed(b) for b in b"x" * (SB_LIMIT + 1) + b"ok")
    assert out.endswith(b"ok")


def test_the_table_covers_every_state_and_byte_class():
    classes = {byte_class(b) for b in range(256)}
    assert classes == {"iac", "sb", "se", "option", "command", "data"}
    for state, row in TRANSITIONS.items():
        assert set(row) == classes, state
        assert all(nxt in TRANSITIONS for nxt, _ in row.values())


def test_every_byte_from_every_state_comes_back_to_data_within_the_limit():
    # from any state, SB_LIMIT + 3 plain bytes always reach the data state
    for first in range(256):
        for second in range(256):
            f = TelnetFilter()
            f.feed(0xFF)
            f.feed(first)
            f.feed(second)
            for _ in range(SB_LIMIT + 3):
                f.feed(ord("a"))
            assert f.state == "data", (first, second)


@pytest.mark.parametrize("whole", [True, False])
def test_the_line_editor_takes_input_again_after_an_unfinished_sb(whole):
    ed = LineEditor(True)
    data = IAC + SB + b"\x18" + b"z" * SB_LIMIT + b"\rhelp\r"
    chunks = [data] if whole else [bytes((b,)) for b in data]
    lines = [e[1] for c in chunks for e in ed.feed(c) if e[0] == "line"]
    assert lines[-1] == b"help"


@pytest.mark.parametrize("cut, typed", [
    (b"\x1b", b"\r"),              # ESC then Enter: the Enter ends the line
    (b"\x1b[", b"\r"),             # a CSI cut by Enter
    (b"\x1b[12;", b"\x03"),        # cut by ctrl-C
    (b"\x1b[1", b"\x1b[D"),        # cut by a new, whole escape sequence
    (b"\x1bO", b"\r"),             # SS3 cut by Enter
])
def test_an_escape_sequence_cut_in_half_does_not_eat_the_next_key(cut, typed):
    ed = LineEditor(True)
    evs = list(ed.feed(b"abc" + cut + typed))
    if typed == b"\r":
        assert ("line", b"abc") in evs
    elif typed == b"\x03":
        assert ("interrupt",) in evs
    else:
        assert ed._cursor == 2                  # the left arrow moved the cursor


def test_esc_then_utf8_text_keeps_the_text():
    ed = LineEditor(False)
    assert ("line", "é".encode()) in list(ed.feed(b"\x1b" + "é".encode() + b"\r"))


def test_the_history_is_bounded_in_lines_and_bytes():
    ed = LineEditor(False, max_line=100, history_size=10)
    for i in range(500):
        list(ed.feed(b"%d" % i + b"x" * 95 + b"\r"))
    list(ed.feed(b"y" * 5000 + b"\r"))          # too long: discarded, not kept
    assert len(ed.history) == 10 and all(len(h) <= 100 for h in ed.history)
    assert ed.history[-1].startswith("499")


# ------------------------------------------------------------------ properties
from hypothesis import given, settings, strategies as st  # noqa: E402

telnetish = st.lists(st.one_of(st.sampled_from([b"\xff", b"\xfa", b"\xf0", b"\xfb", b"\xff\xfa", b"\xff\xff",
                                                b"\x1b", b"\x1b[", b"\r", b"\xc3", b"\x03"]),
                               st.binary(max_size=8)), max_size=60).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(telnetish)
def test_any_input_then_enough_plain_bytes_reaches_plain_input(noise):
    f = TelnetFilter()
    for b in noise:
        f.feed(b)
        assert f._body <= SB_LIMIT
    out = b"".join(f.feed(b) for b in b"a" * (SB_LIMIT + 2) + b"ok")
    assert f.state == "data" and out.endswith(b"ok")


@settings(max_examples=300, deadline=None)
@given(telnetish)
def test_input_without_iac_passes_untouched(data):
    data = data.replace(b"\xff", b"")
    assert through(data) == data


@settings(max_examples=200, deadline=None)
@given(telnetish)
def test_the_editor_never_raises_and_recovers_with_ctrl_c(noise):
    ed = LineEditor(True, complete=lambda text: (0, []))
    list(ed.feed(noise))
    evs = list(ed.feed(b"\x03" * (SB_LIMIT + 4) + b"\rok\r"))
    assert ("line", b"ok") in evs and len(ed.text) == 0
