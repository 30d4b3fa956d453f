"""tipring/firmware/sip/locate.py (RFC 3263 / RFC 2782) on both CPython and MicroPython.

Run: python tests/portable/test_sip_locate_portable.py
     MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_sip_locate_portable.py
"""

import sys

try:
    import tipring.firmware  # noqa: F401
except ImportError:  # run as a script: put the repo root (three levels up) on the path
    sys.path.insert(0, "/".join(__file__.split("/")[:-3]) or ".")

from tipring.firmware.sip.locate import Locator, order_srv


def _drive(loc, zone):
    while True:
        q = loc.next_query()
        if q is None:
            return
        got = zone.get(q, [])
        if got == "timeout":
            loc.fail("timeout")
        else:
            loc.answer(got)


def test_naptr_srv_a():
    zone = {("example.net", "NAPTR"): [(10, 10, "s", "SIP+D2U", "", "_sip._udp.example.net.")],
            ("_sip._udp.example.net", "SRV"): [(20, 0, 5062, "b.example.net."), (10, 0, 5061, "a.example.net.")],
            ("a.example.net", "A"): ["192.0.2.1"], ("b.example.net", "A"): ["192.0.2.2"]}
    loc = Locator("example.net", None, "udp", rand=lambda: 0.5)
    _drive(loc, zone)
    assert loc.targets == [("192.0.2.1", 5061), ("192.0.2.2", 5062)], loc.targets


def test_numeric_and_errors():
    assert Locator("10.0.0.1", None, "tls", rand=lambda: 0.5).targets == [("10.0.0.1", 5061)]
    loc = Locator("x.test", None, "udp", rand=lambda: 0.5)
    _drive(loc, {("x.test", "NAPTR"): "timeout"})
    assert loc.error == "NAPTR x.test: timeout"


def test_weights():
    recs = [(10, 60, 1, "big"), (10, 40, 1, "small")]
    assert [r[3] for r in order_srv(recs, lambda: 0.0)] == ["big", "small"]
    assert [r[3] for r in order_srv(recs, lambda: 0.99)] == ["small", "big"]


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
