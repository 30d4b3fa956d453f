"""DNS lookups of a registrar name (RFC 3263) and the loop's pace while one hangs.

Starts the test suite's authoritative DNS server (tests/peers/dns_server.py) on a free
loopback port and an `EventLoop` with a `DnsResolver` on it, then prints:

  1. lookup:  NAPTR -> SRV (3 targets) -> A, cold (5 queries on the wire) and from the TTL
              cache, median and max of N runs, measured from `locate()` to the callback on
              the loop thread (worker thread start and wake-up pipe included).
  2. pace:    a 20 ms loop timer (a media tick) while a lookup waits `--hang` seconds for a
              server that never answers: ticks fired, the median and largest gap between two
              ticks. With the lookup on the loop thread the largest gap would be the timeout.

    .venv/bin/python tools/bench/dns_lookup.py [--runs 50] [--hang 3]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.firmware.loop import EventLoop                    # noqa: E402
from tipring.firmware.loop.resolver import DnsResolver         # noqa: E402
from tests.peers.dns_server import DnsServer           # noqa: E402

ZONE = {
    "example.test": {"NAPTR": [(10, 10, "s", "SIP+D2U", "", "_sip._udp.example.test")]},
    "_sip._udp.example.test": {"SRV": [(10, 60, 5071, "a.example.test"), (10, 40, 5072, "b.example.test"),
                                       (20, 0, 5073, "c.example.test")]},
    "a.example.test": {"A": ["127.0.0.11"]},
    "b.example.test": {"A": ["127.0.0.12"]},
    "c.example.test": {"A": ["127.0.0.13"]},
}


def one_lookup(loop, resolver, host, port=None):
    box = []
    t0 = time.perf_counter()
    resolver.locate(host, port, "udp", ("A",), lambda t, e: box.append((time.perf_counter() - t0, t, e)))
    loop.run(until=lambda: box)
    return box[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--hang", type=int, default=3)
    args = ap.parse_args()
    with DnsServer(ZONE, ttl=3600, silent=["hang.test"]) as dns:
        loop = EventLoop()
        r = DnsResolver(loop, servers=[dns.address], timeout=args.hang)
        cold, warm = [], []
        for _ in range(args.runs):
            r.cache.clear()
            before = dns.total()
            dt, targets, err = one_lookup(loop, r, "example.test")
            assert len(targets) == 3 and err is None, (targets, err)
            cold.append(dt)
            queries = dns.total() - before
            dt, targets, err = one_lookup(loop, r, "example.test")
            warm.append(dt)
        print("lookup example.test (NAPTR, SRV, 3 x A; %d queries cold): cold median %.2f ms max %.2f ms; "
              "cached median %.3f ms max %.3f ms (%d runs)"
              % (queries, 1000 * statistics.median(cold), 1000 * max(cold),
                 1000 * statistics.median(warm), 1000 * max(warm), args.runs))

        ticks = []

        def tick():
            ticks.append(time.perf_counter())
            loop.call_later(0.02, tick)

        loop.call_later(0.02, tick)
        dt, targets, err = one_lookup(loop, r, "hang.test", 5060)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        print("lookup hang.test (server silent, timeout %d s): %.2f s, %r; 20 ms ticks meanwhile: %d, "
              "gap median %.1f ms, max %.1f ms"
              % (args.hang, dt, err, len(ticks), 1000 * statistics.median(gaps), 1000 * max(gaps)))
        loop.close()


if __name__ == "__main__":
    main()
