"""The line editor: each case fed whole and byte by byte (the h11 way)."""

import pytest

from tipring.firmware.console.lineedit import LineEditor


def run(data: bytes, whole: bool = True, **kw):
    ed = LineEditor(**kw)
    ed.prompt = "> "
    evs = []
    chunks = [data] if whole else [bytes((b,)) for b in data]
    for c in chunks:
        evs += list(ed.feed(c))
    lines = [e[1] for e in evs if e[0] == "line"]
    out = b"".join(e[1] for e in evs if e[0] == "out")
    return ed, lines, out, evs


@pytest.fixture(params=["whole", "bytewise"])
def whole(request):
    return request.param == "whole"


@pytest.mark.parametrize("data", [b"a\rb\rc\r", b"a\nb\nc\n", b"a\r\nb\r\nc\r\n", b"a\rb\nc\r\n"])
def test_cr_lf_and_crlf_each_end_one_line(data, whole):
    assert run(data, whole)[1] == [b"a", b"b", b"c"]


def test_empty_lines_are_lines(whole):
    assert run(b"\r\r\n\n", whole)[1] == [b"", b"", b""]


def test_echo_and_backspace(whole):
    ed, lines, out, _ = run(b"shoq\x7fw\r", whole)
    assert lines == [b"show"]
    assert out.startswith(b"shoq\b \x1b[1D") and out.endswith(b"w\r\n")


def test_bs_and_del_both_erase(whole):
    assert run(b"ab\x08c\x7fd\r", whole)[1] == [b"ad"]


def test_ctrl_u_kills_the_line(whole):
    assert run(b"garbage\x15show\r", whole)[1] == [b"show"]


def test_ctrl_w_kills_a_word(whole):
    assert run(b"set sip.bind\x17sip.trace\r", whole)[1] == [b"set sip.trace"]


def test_left_arrow_then_insert_in_the_middle(whole):
    assert run(b"sow\x1b[D\x1b[Dh\r", whole)[1] == [b"show"]


def test_home_end_delete(whole):
    assert run(b"xhow\x1b[H\x1b[3~s\x1b[F!\r", whole)[1] == [b"show!"]
    assert run(b"bc\x01a\x05d\r", whole)[1] == [b"abcd"]


def test_history_up_and_down(whole):
    ed, lines, _, _ = run(b"one\rtwo\r\x1b[A\x1b[A\r\x1b[A\x1b[B\x1b[Bthree\r", whole)
    # up up -> "one"; then up -> "one" (latest); down -> back to typed (empty); down no-op
    assert lines == [b"one", b"two", b"one", b"three"]
    assert ed.history == ["one", "two", "one", "three"]
    ed.add_history("three")
    assert ed.history == ["one", "two", "one", "three"]   # no repeats of the last line


def test_ss3_arrows_from_application_mode(whole):
    assert run(b"abc\rxyz\x15\x1bOA\r", whole)[1] == [b"abc", b"abc"]


def test_unknown_escape_sequences_are_dropped(whole):
    assert run(b"a\x1b[99;5Zb\x1bxc\r", whole)[1] == [b"abc"]


def test_other_control_characters_are_ignored(whole):
    assert run(b"a\x00\x07b\r", whole)[1] == [b"ab"]


def test_telnet_negotiation_is_skipped_but_a_stray_ff_is_kept(whole):
    assert run(b"\xff\xfb\x01\xff\xfa\x18\x01\xff\xf0ok\r", whole)[1] == [b"ok"]
    assert run(b"a\xffb\r", whole)[1] == [b"a\xffb"]   # kept; the shell reports non-UTF-8


def test_utf8_is_grouped_so_backspace_removes_a_whole_character(whole):
    assert run("caf\u00e9\x7f\x7fe\r".encode(), whole)[1] == [b"cae"]
    assert run("\u20ac\r".encode(), whole)[1] == ["\u20ac".encode()]


def test_overlong_line_is_discarded_with_an_error(whole):
    ed, lines, out, evs = run(b"x" * 1500 + b"\rok\r", whole, max_line=1024)
    assert lines == [b"ok"]
    assert ("error", "line longer than 1024 characters; discarded") in evs
    assert out.count(b"x") == 1024   # echo stops at the limit


def test_secret_mode_echoes_nothing_and_keeps_no_history(whole):
    ed = LineEditor(True)
    ed.secret = True
    evs = list(ed.feed(b"hunter2\r"))
    assert [e for e in evs if e[0] == "out"] == [("out", b"\r\n")]
    assert ("line", b"hunter2") in evs


def test_plain_mode_echoes_nothing(whole):
    _, lines, out, _ = run(b"show sx\x7ftatus\r", whole, interactive=False)
    assert lines == [b"show status"] and out == b""


def test_auto_mode_detects_a_line_buffered_client():
    ed = LineEditor(None)
    list(ed.feed(b"show status\n"))
    assert ed.interactive is False
    ed = LineEditor(None)
    list(ed.feed(b"s"))
    assert ed.interactive is True


def test_ctrl_c_and_ctrl_d():
    ed, lines, out, evs = run(b"abc\x03\x04")
    assert ("interrupt",) in evs and ("eof",) in evs and lines == []
    _, _, _, evs = run(b"abc\x04")
    assert ("eof",) not in evs   # only on an empty line


def complete_words(text):
    words = ["show", "set", "save", "sip.bind", "sip.trace", "line.1.user"]
    start = len(text) - len(text.split(" ")[-1])
    return start, [w for w in words if w.startswith(text[start:])]


def test_tab_completes_a_unique_word_and_adds_a_space():
    assert run(b"sh\t\r", complete=complete_words)[1] == [b"show "]


def test_tab_completes_the_common_prefix_and_lists_on_ambiguity():
    ed, lines, out, _ = run(b"set si\t\t\r", complete=complete_words)
    assert lines == [b"set sip."]
    assert b"sip.bind  sip.trace" in out


def test_tab_does_not_add_a_space_after_a_dotted_prefix():
    assert run(b"set li\t\r", complete=complete_words)[1] == [b"set line.1.user "]
