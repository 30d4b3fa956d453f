"""Message waiting's sans-IO parts on both interpreters: the RFC 3842 body, the VMWI
messages (GR-30-CORE / EN 300 659-3) through the FSK modem and back, and the tone plans'
caller-ID timing. Plain functions, no pytest.

    python tests/portable/test_mwi_portable.py
    MICROPYPATH=. .venv/bin/micropython tests/portable/test_mwi_portable.py
"""

import sys

try:
    sys.path.insert(0, __file__.rsplit("/", 3)[0] if "/" in __file__ else ".")
except NameError:  # pragma: no cover
    pass

from tipring.firmware.calls.mwi import parse_message_summary  # noqa: E402
from tipring.firmware.dsp import callerid, tone_plans  # noqa: E402
from tipring.firmware.sip.subscription import parse_state  # noqa: E402


def test_message_summary():
    s = parse_message_summary(b"Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n")
    assert s["waiting"] is True and (s["new"], s["old"]) == (2, 8)
    try:
        parse_message_summary(b"Voice-Message: 2/8\r\n")
        assert False, "no Messages-Waiting must be refused"
    except ValueError:
        pass


def test_subscription_state():
    assert parse_state("terminated;reason=deactivated") == ("terminated", {"reason": "deactivated"})
    assert parse_state("active; expires=600")[1]["expires"] == "600"


def test_vmwi_through_the_modem():
    for std in ("bell202", "etsi-fsk"):
        rx = callerid.CallerIDReceiver(std)
        got = rx.feed(callerid.fsk_burst(callerid.vmwi(True, 3), std))
        assert got and got[0]["waiting"] is True and got[0]["messages"] == 3, (std, got)
    assert callerid.parse(callerid.vmwi_sdmf(False))["waiting"] is False


def test_callerid_timing():
    assert tone_plans.callerid_timing("uk", "etsi-fsk") == {"when": "before_ring", "alert": "dt-as",
                                                             "line_reversal": True}
    assert tone_plans.callerid_timing("us", "bell202")["when"] == "after_first_ring"
    assert tone_plans.callerid_timing("jp", "bell202")["when"] == "after_first_ring"
    assert tone_plans.callerid_timing("de", "dtmf")["when"] == "before_ring"


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
