"""What T.38 fax relay costs per 20 ms frame: spandsp's gateway and UDPTL, during a real fax.

Two spandsp fax machines (tipring/board/sim/fax_machine.py) send one page (the test page of
tests/peers/fax_tiff.py, 1728 x 1100, 204x98 dpi) through two FaxRelays
(tipring/firmware/media/fax_relay.py: T38Gateway + UDPTL with redundancy 3) back to back in
this process, 20 ms at a time, as two ATAs would. For every frame of the sending side's relay
it times, with time.perf_counter_ns:

  1. gateway: T38Gateway.from_line (demodulate the machine's frame into IFP packets) +
     to_line (remodulate the peer's packets into the frame it hears), ctypes included;
  2. relay: FaxRelay.on_capture + playout + on_packet for the datagrams that frame brought
     (UDPTL encode/decode on top of the gateway): the work the loop does per frame in a
     T.38 call, beside the G.711 stream frame of tools/bench/g722_cost.py.

Prints mean, median, p99 and max microseconds per frame over the whole fax (V.21 control,
V.17 training and image data, all phases), the frame count and the UDPTL datagrams; asserts
nothing. Needs libspandsp (Debian libspandsp2).

    .venv/bin/python tools/bench/t38.py [--runs 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.board.sim.fax_machine import FaxMachine  # noqa: E402
from tipring.firmware.media import t38_gateway  # noqa: E402
from tipring.firmware.media.fax_relay import FaxRelay  # noqa: E402
from tipring.firmware.media.sdp import MediaPlan  # noqa: E402
from tipring.firmware.media.t38 import T38Session  # noqa: E402
from tests.peers.fax_tiff import write_page  # noqa: E402

SESSION = T38Session(0, 14400, "transferredTCF", True, 400)
A, B = ("127.0.0.1", 20000), ("127.0.0.1", 30000)


def _plan(to):
    return MediaPlan(to[0], to[1], [(None, "T38")], None, 20, "sendrecv", False, None, SESSION)


def one_fax(workdir):
    """Per-frame ns of the sending side: (gateway only, whole relay), frames, datagrams, ok."""
    src, dst = os.path.join(workdir, "page.tif"), os.path.join(workdir, "got.tif")
    write_page(src)
    fa, fb = FaxMachine("send", src), FaxMachine("receive", dst)
    ra, rb = FaxRelay(_plan(B), A), FaxRelay(_plan(A), B)
    relay_ns, gw_ns = [], []
    clock = time.perf_counter_ns
    spent = [0]
    gw = ra.gateway
    for name in ("from_line", "to_line", "from_peer"):     # time the gateway's own calls
        def timed(*a, _f=getattr(gw, name)):
            t = clock()
            try:
                return _f(*a)
            finally:
                spent[0] += clock() - t
        setattr(gw, name, timed)
    now = 0.0
    try:
        for _ in range(150 * 50):
            now += 0.02
            frame_a = fa.mouthpiece()
            spent[0] = 0
            t0 = clock()
            out_a = ra.on_capture(frame_a, now)
            heard_a = ra.playout(now)
            t1 = clock()
            to_b = [d for d, _ in out_a]
            out_b = rb.on_capture(fb.mouthpiece(), now)
            for d in to_b:
                rb.on_packet(d, A, now)
            fb.earpiece(rb.playout(now))
            t2 = clock()
            for d, _ in out_b:
                ra.on_packet(d, B, now)
            t3 = clock()
            fa.earpiece(heard_a)
            relay_ns.append((t1 - t0) + (t3 - t2))
            gw_ns.append(spent[0])
            if fa.done and fb.done:
                break
        ok = fa.status()["completion"] == 0 and fb.status()["completion"] == 0
        return gw_ns, relay_ns, len(relay_ns), ra.sent + rb.sent, ok
    finally:
        ra.close(now)
        rb.close(now)
        fa.close()
        fb.close()


def _line(name, ns):
    us = sorted(x / 1000.0 for x in ns)
    p99 = us[min(len(us) - 1, int(0.99 * len(us)))]
    print("%-44s mean %7.1f  median %7.1f  p99 %7.1f  max %8.1f us/frame"
          % (name, statistics.mean(us), statistics.median(us), p99, us[-1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    why = t38_gateway.available()
    if why is not None:
        print("T.38 unavailable here: %s" % why)
        return 1
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            gw, relay, frames, datagrams, ok = one_fax(d)
        print("run %d: %d frames (%.1f s of line time), %d UDPTL datagrams, fax %s"
              % (run + 1, frames, frames * 0.02, datagrams, "OK" if ok else "FAILED"))
        _line("  T38Gateway (spandsp via ctypes)", gw)
        _line("  FaxRelay frame (gateway + UDPTL)", relay)
    print("A call runs 50 frames a second: the relay's share of one core is 50 x the mean.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
