"""What one 20 ms frame of a call's media costs at 8 kHz and on a 16 kHz (wideband) line.

Measures, in this process, one 20 ms frame through two MediaStreams back to back (issue #15):
A.on_capture(line frame) -> each datagram into B.on_packet -> B.playout, i.e. the send side
(encode, and on a 16 kHz line the decimator for G.711), the receive side (decode, the
interpolator for G.711 at 16 kHz, the jitter buffer) and RTP in both, for:

  PCMU  8k    today's path (must cost what it cost before the wideband work)
  G722  8k    libg722's 8 kHz mode (unchanged)
  PCMU  16k   G.711 on a 16 kHz line: Decimator before the encoder, Interpolator after the decoder
  G722  16k   libg722's 16 kHz mode, full QMF, no converter of ours

Each case is the median of 7 timeit runs (loop count calibrated to about 0.2 s a run); the
whole set runs `--rounds` times alternating and the best of each is printed, so another
process on the machine skews it less. A call runs 50 frames a second: the per-call CPU share is
50 x the number. Also prints, with `--plc`, a frame with a packet lost (the concealment's pitch
search starts). Prints microseconds per frame; asserts nothing.

    .venv/bin/python tools/bench/wideband_media.py [--rounds 3] [--plc]
"""

import argparse
import array
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.firmware.media import g722  # noqa: E402
from tipring.firmware.media.stream import MediaStream  # noqa: E402
from tools.bench.timing import per_call_us as bench  # noqa: E402

A = ("10.0.0.1", 4000)
B = ("10.0.0.2", 5000)


def tone_frames(rate, freq=1000, amp=8000, count=50):
    n = rate // 50
    return [array.array("h", [int(amp * math.sin(2 * math.pi * freq * (f * n + k) / rate))
                              for k in range(n)]).tobytes() for f in range(count)]


def make_case(codec, rate, lose_every=0):
    """A closure running one frame A -> B; `lose_every` N drops every Nth packet."""
    kw = {} if rate == 8000 else {"line_rate": rate}
    a = MediaStream(A, B, codec, ssrc=1, **kw)
    b = MediaStream(B, A, codec, ssrc=2, **kw)
    frames = tone_frames(rate)
    state = {"i": 0, "now": 0.0}

    def one():
        i = state["i"]
        now = state["now"]
        for data, _ in a.on_capture(frames[i % 50], now):
            if not lose_every or i % lose_every:
                b.on_packet(data, A, now)
        b.playout(now)
        state["i"] = i + 1
        state["now"] = now + 0.02
    return one


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plc", action="store_true", help="also a case with every 5th packet lost")
    args = ap.parse_args(argv)
    cases = [("PCMU", 8000), ("PCMU", 16000)]
    if g722.available():
        cases[1:1] = [("G722", 8000)]
        cases.append(("G722", 16000))
    results = {}
    for _ in range(args.rounds):
        for codec, rate in cases:
            us = bench(make_case(codec, rate))
            key = (codec, rate, 0)
            results[key] = min(us, results.get(key, us))
            if args.plc:
                us = bench(make_case(codec, rate, lose_every=5))
                key = (codec, rate, 5)
                results[key] = min(us, results.get(key, us))
    print("MediaStream on_capture + peer on_packet + playout, us per 20 ms frame (best of %d)"
          % args.rounds)
    for (codec, rate, lose), us in sorted(results.items(), key=lambda kv: (kv[0][2], kv[0][1],
                                                                            kv[0][0])):
        what = "" if not lose else "  (1 packet in %d lost)" % lose
        print("  %-5s %5d Hz line  %8.1f us  (%.2f %% of a core per call direction)%s"
              % (codec, rate, us, us * 50 / 1e4, what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
