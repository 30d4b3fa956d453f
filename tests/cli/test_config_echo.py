"""line.N.echo_canceller / line.N.echo_tail_ms: defaults, and bad values named with what is allowed."""

import pytest

from tipring.firmware import config
from tests.cli.test_config import GOOD, write


def test_echo_canceller_is_on_with_a_16_ms_tail_by_default(tmp_path):
    ln = config.load(write(tmp_path, GOOD)).line(1)
    assert (ln["echo_canceller"], ln["echo_tail_ms"]) == (True, 16)


def test_echo_keys_out_of_range_are_refused_with_the_allowed_values(tmp_path):
    bad = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\necho_canceller = "yes"\necho_tail_ms = 128')
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, bad))
    text = str(e.value)
    assert 'line.1.echo_canceller: "yes" is not allowed; allowed: true or false' in text
    assert "line.1.echo_tail_ms: 128 is not allowed; allowed: an integer from 8 to 64" in text


def test_a_good_tail_is_kept(tmp_path):
    ok = GOOD.replace('caller_id = "bell202"', 'caller_id = "bell202"\necho_canceller = false\necho_tail_ms = 48')
    ln = config.load(write(tmp_path, ok)).line(1)
    assert (ln["echo_canceller"], ln["echo_tail_ms"]) == (False, 48)
