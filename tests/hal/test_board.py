"""board/: every shipped board loads; a wrong file gets every problem named at once."""
import pytest

from tipring.board import BoardError, list_boards, load_board, validate_board

SHIPPED = ["ag1171-2line", "ag1171-usb", "i2s-codec", "sim"]


def test_shipped_boards_listed():
    assert list_boards() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_board_loads(name):
    b = load_board(name)
    assert b["name"] == name and b["kind"] in ("slic", "sim")
    for line in b["line"]:
        assert line["audio"]["backend"] in ("alsa", "sim")
        if b["kind"] == "slic":
            assert line["rm"]["gpio"] != line["fr"]["gpio"]
            assert line["shk"]["active"] in ("high", "low")


def test_ag1171_usb_roles():
    b = load_board("ag1171-usb")
    line = b["line"][0]
    assert (line["rm"]["gpio"], line["fr"]["gpio"], line["shk"]["gpio"], line["pd"]["gpio"]) \
        == (17, 12, 27, 23)
    assert line["shk"]["level_shifter"] is False and line["fr"]["idle"] == "high"
    assert set(b["leds"]) == {"power", "registered", "line_in_use", "fault"}
    assert b["reset_button"] == {"gpio": 26, "pull": "up", "hold_s": 10.0}
    assert b["slic"]["ring_freq_hz"] == 0


def test_defaults_are_filled():
    b = validate_board({"kind": "sim", "line": [{"port": 1}]}, "mini")
    assert b["name"] == "mini" and b["line"][0]["audio"] == {"backend": "alsa",
                                                             "device": "default", "rate": 8000}
    assert b["leds"] == {"power": None, "registered": None, "line_in_use": None,
                         "fault": None}
    assert b["reset_button"] is None and b["pin_factory"] == "default"


def test_load_by_path(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('kind = "sim"\n[[line]]\nport = 1\n')
    assert load_board(str(p))["name"] == "mine"


BAD = '''
kind = "slic"
colour = "blue"

[slic]
part = "ag1171"
supply_v = 5.0

[[line]]
port = 1
rm = { gpio = 17, active = "hi" }
fr = { gpio = 40 }
shk = { gpio = 17, pull = "sideways" }

[leds]
pwr = { gpio = 5 }
'''


def test_wrong_board_names_every_key_and_allowed_values(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(BAD)
    with pytest.raises(BoardError) as ei:
        load_board(str(p))
    msgs = ei.value.messages
    text = "\n".join(msgs)
    expected = [
        "colour: unknown key; allowed keys: description, kind, leds, line, name, "
        "pin_factory, reserved_gpio, reset_button, slic",
        "line[0].rm.active: 'hi' is not allowed; allowed: 'high', 'low'",
        "line[0].fr.gpio: 40 is not allowed; allowed: a BCM GPIO number 0..27",
        "line[0].shk.pull: 'sideways' is not allowed; allowed: 'up', 'down', 'none'",
        "line[0].shk.gpio: 17 is already used by line[0].rm.gpio",
        "line[0].shk.level_shifter: false is not allowed with slic.supply_v = 5.0",
        "leds.pwr: unknown key; allowed keys: fault, line_in_use, power, registered",
    ]
    for e in expected:
        assert any(e in m for m in msgs), (e, text)
    assert all(m.startswith(str(p) + ": ") for m in msgs)
    assert len(msgs) == len(expected), text
    assert isinstance(ei.value, ValueError) and str(ei.value) == text


@pytest.mark.parametrize("body,needle", [
    ('kind = "cloud"\n[[line]]\nport = 1\n', "kind: 'cloud' is not allowed; allowed: 'slic', 'sim'"),
    ('kind = "sim"\n', "line: missing; allowed: an array of tables"),
    ('kind = "sim"\n[[line]]\nport = 1\n[[line]]\nport = 1\n', "line[1].port: 1 is already used"),
    ('kind = "slic"\n[[line]]\nport = 1\n', "slic: missing"),
    ('kind = "slic"\n[slic]\npart="ag1171"\n[[line]]\nport = 1\n', "line[0].rm: missing"),
    ('kind = "sim"\nreserved_gpio = [18]\n[[line]]\nport = 1\nshk = { gpio = 18 }\n',
     "line[0].shk.gpio: 18 is reserved"),
    ('kind = "sim"\n[[line]]\nport = 9\n', "line[0].port: 9 is not allowed; allowed: an integer 1..8"),
    ('kind = "sim"\n[[line]]\nport = true\n', "line[0].port: True is not allowed"),
    ('kind = "sim"\nline = 3\n', "line: 3 is not an array of tables"),
    ('kind = "sim"\n[[line]]\nport = 1\n[reset_button]\ngpio = 26\nhold_s = 1\n',
     "reset_button.hold_s: 1 is not allowed; allowed: a number 3..30"),
    ('kind = ', "not valid TOML"),
])
def test_single_defects(tmp_path, body, needle):
    p = tmp_path / "b.toml"
    p.write_text(body)
    with pytest.raises(BoardError) as ei:
        load_board(str(p))
    assert needle in str(ei.value), str(ei.value)


def test_unknown_board_name_lists_shipped():
    with pytest.raises(BoardError, match="allowed: ag1171-2line, ag1171-usb, i2s-codec, sim"):
        load_board("nope")


def test_missing_file():
    with pytest.raises(BoardError, match="cannot read board file"):
        load_board("/nonexistent/x.toml")


# -- a line's audio rate (audio.rate: 8000 or 16000) --------------------------------------------

def test_audio_rate_defaults_to_8000_and_takes_16000_on_both_backends():
    for backend in ("alsa", "sim"):
        b = validate_board({"kind": "sim", "line": [
            {"port": 1, "audio": {"backend": backend, "rate": 16000}}, {"port": 2}]})
        assert [ln["audio"]["rate"] for ln in b["line"]] == [16000, 8000]
    assert [ln["audio"]["rate"] for ln in load_board("sim")["line"]] == [8000, 8000]
    assert [ln["audio"]["rate"] for ln in load_board("ag1171-usb")["line"]] == [8000]
    assert [ln["audio"]["rate"] for ln in load_board("i2s-codec")["line"]] == [16000]


@pytest.mark.parametrize("rate", [44100, 0, 16000.0, "16000", True, 48000])
def test_a_bad_audio_rate_is_one_problem_naming_what_is_allowed(rate):
    with pytest.raises(BoardError) as ei:
        validate_board({"kind": "sim", "line": [{"port": 1, "audio": {"rate": rate}}]})
    assert ei.value.messages == ["line[0].audio.rate: %r is not allowed; allowed: 8000 or 16000 "
                                 "(samples per second)" % (rate,)]
