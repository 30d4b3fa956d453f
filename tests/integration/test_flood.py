"""Media is never starved by SIP load (issue 14 item 1): during a real call (tipring -> Kamailio
-> baresip) a flood of OPTIONS and then of INVITEs at tipring's SIP port must not delay its RTP
or cut what the handset hears, and must show up as rate-limited in `show status`.

The rate here (300 requests/s, 4 s each) is a fraction of the benchmark's 2000/s for 20 s
(tools/bench/flood.py), so that the test stays short and holds on a busy CI machine; the bound
on lateness is the benchmark's 30 ms slot with a margin for a loaded runner, not a speed claim.
"""

import shutil

import pytest

from tests.peers import rtptap
from tests.peers.flood import FloodCall

pytestmark = [pytest.mark.peers, pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(), reason="the RTP tap needs root (AF_PACKET)")]


def test_a_request_flood_does_not_starve_the_call(tmp_path):
    with FloodCall(str(tmp_path)) as fc:
        for method in ("OPTIONS", "INVITE"):
            r = fc.blast(fc.sip, 300, 4.0, method)
            n, on_time, worst, missing = r["out"]
            assert r["sent"] >= 900, r
            # tipring's RTP to baresip kept its 20 ms slots through the flood
            assert n >= 0.9 * r["seconds"] / 0.020, r
            assert on_time >= 0.99 * n, r
            assert missing <= 2, r
            # the handset heard the far end at every sample
            assert r["heard"][0] == r["heard"][1] and r["heard"][1] >= 2, r
            # the flood was refused, not answered: no reflection
            assert r["replies"] <= 0.2 * r["sent"], r
        status = fc.console("show status")
        assert "rate-limited" in status, status
        limited = int(status.split(" rate-limited")[0].rsplit(",", 1)[1].strip())
        assert limited >= 1000, status
        assert "connected" in fc.console("show calls")
        errs = [e for e in fc.fw.events() if e["event"] == "error" and "rate limit" in e["message"]]
        assert 1 <= len(errs) <= 10, errs          # one report per episode, not one per message
        # and the call still works: the far end still hears us after it
        assert fc.hears_far_end(400)
