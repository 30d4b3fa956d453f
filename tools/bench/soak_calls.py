"""Memory over many calls: RSS before and after N calls between two tipring ATAs.

Two `Firmware` instances on the sim board share one event loop in this process (as
`tipring demo` does) and call each other N times through the real SIP stack, call layer, RTP
sockets and media streams: dial -> ring -> answer -> a few frames of audio -> hang up. RSS is
read from /proc/self/status after a warm-up that reaches the steady state (finished
transactions linger 32 s for Timers D/J/K) and again after N more calls, each after the same
35 s settle. Target: idle RSS
<= 30 MB and flat (within 1 MB) after 10 000 calls.

    .venv/bin/python tools/bench/soak_calls.py [-n 10000]
"""

import argparse
import gc
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tipring.firmware.app import Firmware  # noqa: E402
from tipring.firmware.demo import _config, _free_port  # noqa: E402
from tipring.firmware.loop import EventLoop  # noqa: E402


SETTLE = 35.0


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_call(loop, a, b):
    done = {}
    a.line_intent(1, "dial", "1002")
    loop.run(until=lambda: b.calls_mgr.call_on(1) is not None or not a.calls_mgr.calls)
    if b.calls_mgr.call_on(1) is None:
        return False
    b.line_intent(1, "answer")
    end = time.monotonic() + 2
    loop.run(until=lambda: (a.calls_mgr.call_on(1) is not None and a.calls_mgr.call_on(1).state == "connected")
             or time.monotonic() > end)
    ok = a.calls_mgr.call_on(1) is not None and a.calls_mgr.call_on(1).state == "connected"
    for _ in range(3):  # a few 20 ms frames each way through the streams
        now = loop.now()
        a.media_frame(1, b"\x10\x00" * 160, now)
        b.media_frame(1, b"\x20\x00" * 160, now)
    a.line_intent(1, "hangup")
    end = time.monotonic() + 2
    loop.run(until=lambda: (not a.calls_mgr.calls and not b.calls_mgr.calls) or time.monotonic() > end)
    return ok and not a.calls_mgr.calls and not b.calls_mgr.calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    args = ap.parse_args()
    pa, pb = _free_port(), _free_port()
    loop = EventLoop()
    a = Firmware(_config("1001", pa, pb), loop=loop)
    b = Firmware(_config("1002", pb, pa), loop=loop)
    a.start()
    b.start()
    loop.run_for(0.2)
    idle = rss_kb()
    # warm up until the transactions of finished calls (kept 32 s for Timers D/J/K) reach
    # their steady number: CPython keeps freed memory for reuse, so RSS is compared at the
    # same steady state before and after
    warm, t_end = 0, time.monotonic() + SETTLE + 5
    while time.monotonic() < t_end:
        one_call(loop, a, b)
        warm += 1
    loop.run_for(SETTLE)    # finished transactions linger for Timers D/J/K (32 s on UDP)
    gc.collect()
    before = rss_kb()
    live_before = len(a.ua.tl.transactions) + len(b.ua.tl.transactions)
    t0 = time.monotonic()
    ok = 0
    for i in range(args.n):
        ok += one_call(loop, a, b)
    took = time.monotonic() - t0
    peak = rss_kb()
    loop.run_for(SETTLE)
    gc.collect()
    after = rss_kb()
    live_after = len(a.ua.tl.transactions) + len(b.ua.tl.transactions)
    a.close()
    b.close()
    n = args.n
    print("soak: %d calls (after %d warm-up) between two in-process ATAs, %.1f s, %d completed" % (n, warm, took, ok))
    print("  RSS idle (two ATAs, one process)  %6.1f MB   (target <= 30 MB)" % (idle / 1024.0))
    print("  RSS after warm-up                 %6.1f MB" % (before / 1024.0))
    print("  RSS at the end of the calls       %6.1f MB   (transactions still in their wait timers)"
          % (peak / 1024.0))
    print("  RSS %2d s after the last call       %6.1f MB   growth %+.2f MB (target within 1 MB)"
          % (SETTLE, after / 1024.0, (after - before) / 1024.0))
    print("  live transactions: %d after warm-up, %d at the end" % (live_before, live_after))


if __name__ == "__main__":
    main()
