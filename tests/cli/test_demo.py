"""`tipring demo` (INTERFACES.md): two sim ATAs call each other on loopback and it exits 0 only
when the call worked both ways; the narration ends with the SIP ladder."""

import subprocess
import sys


def test_demo_call_works_both_ways_and_draws_the_ladder():
    r = subprocess.run([sys.executable, "-m", "tipring", "demo"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = r.stdout
    assert "hears dial tone [350, 440]" in out
    assert "caller ID {'number': '1001'" in out
    assert "(1) INVITE sip:1002@" in out and "180 Ringing" in out and "BYE sip:1002@" in out
    assert "demo: the call worked both ways" in out
