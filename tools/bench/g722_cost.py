"""What G.722 costs per 20 ms frame beside G.711: encode + decode, the 8 <-> 16 kHz bridge,
and a whole stream frame.

Measures, in this process, with timeit.repeat (median of 7 runs, loop count calibrated to about
0.2 s a run, as tools/bench/dsp.py does), one 20 ms frame of a 1 kHz tone at -10 dBm0-ish:

  1. G.711: tipring.firmware.dsp.g711 PCMU encode + decode (audioop's C loops) of 160 samples.
  2. G.722 as tipring runs it on an 8 kHz line (tipring/firmware/media/g722.py): libg722's 8 kHz mode,
     the line is G.722's lower sub-band and the wideband peer's QMF is the halfband filter
     between 8 and 16 kHz; the bytes <-> array('h') conversions included.
  3. For comparison, G.722 at 16 kHz with an explicit resampler on each side: audioop.ratecv
     8000 -> 16000 before the encoder and 16000 -> 8000 after the decoder (stateful, as a
     stream would run it), plus the 16 kHz encode + decode. ratecv interpolates linearly and
     filters nothing, so it would alias; it is here only to show what a separate bridge costs.
  4. In the stream: MediaStream.on_capture + the peer's on_packet + playout for one frame,
     PCMU vs G722, best of 3 alternating runs (jitter buffer and RTP included in both).

A call runs 50 frames a second each way: the per-call CPU share is 50 x (frame cost) per second.
Prints microseconds per frame; asserts nothing.

    .venv/bin/python tools/bench/g722_cost.py [--frames 20000]
"""

import argparse
import array
import math
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.firmware.dsp import g711  # noqa: E402
from tipring.firmware.media import g722  # noqa: E402
from tipring.firmware.media.stream import MediaStream  # noqa: E402
from tools.bench.timing import per_call_us as bench  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:   # 3.13+ without audioop-lts
        audioop = None


def tone_frame(rate, freq=1000, amp=8000):
    n = rate // 50
    return array.array("h", [int(amp * math.sin(2 * math.pi * freq * k / rate)) for k in range(n)]).tobytes()


def stream_frame(codec, n):
    """Microseconds for one 20 ms frame out of a and into b (capture -> packet -> play)."""
    a = MediaStream(("10.0.0.1", 4000), ("10.0.0.2", 5000), codec)
    b = MediaStream(("10.0.0.2", 5000), ("10.0.0.1", 4000), codec)
    frame = tone_frame(8000)
    t0 = time.perf_counter()
    for i in range(n):
        now = i * 0.02
        for data, _ in a.on_capture(frame, now):
            b.on_packet(data, ("10.0.0.1", 4000), now)
        b.playout(now)
    dt = (time.perf_counter() - t0) / n * 1e6
    assert b.received == n
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=20000)
    n = ap.parse_args().frames
    print("G.722 vs G.711 per 20 ms frame (python %s, %s)" % (sys.version.split()[0], os.uname().machine))
    line = tone_frame(8000)
    pcmu = g711.lin2ulaw(line)
    t_enc = bench(lambda: g711.lin2ulaw(line))
    t_dec = bench(lambda: g711.ulaw2lin(pcmu))
    print("  G.711 PCMU                    encode %6.2f us  decode %6.2f us  both %6.2f us"
          % (t_enc, t_dec, t_enc + t_dec))
    if not g722.available():
        print("  G.722: the g722 package is not installed (pip install g722)")
        return
    enc, dec = g722.G722Encoder(8000), g722.G722Decoder(8000)
    payload = enc.encode(line)
    t_enc = bench(lambda: enc.encode(line))
    t_dec = bench(lambda: dec.decode(payload))
    print("  G.722, libg722 8 kHz mode     encode %6.2f us  decode %6.2f us  both %6.2f us"
          "  (tipring: no resampler)" % (t_enc, t_dec, t_enc + t_dec))
    enc16, dec16 = g722.G722Encoder(16000), g722.G722Decoder(16000)
    wide = tone_frame(16000)
    payload16 = enc16.encode(wide)
    t_enc16 = bench(lambda: enc16.encode(wide))
    t_dec16 = bench(lambda: dec16.decode(payload16))
    print("  G.722, 16 kHz (a 16 kHz line) encode %6.2f us  decode %6.2f us  both %6.2f us"
          % (t_enc16, t_dec16, t_enc16 + t_dec16))
    if audioop is not None:
        up, down = [None], [None]

        def upsample():
            out, up[0] = audioop.ratecv(line, 2, 1, 8000, 16000, up[0])
            return out

        def downsample():
            out, down[0] = audioop.ratecv(wide, 2, 1, 16000, 8000, down[0])
            return out
        t_up, t_down = bench(upsample), bench(downsample)
        print("  audioop.ratecv 8->16 kHz %6.2f us, 16->8 kHz %6.2f us: 16 kHz G.722 + ratecv = %6.2f us"
              " (not used)" % (t_up, t_down, t_up + t_down + t_enc16 + t_dec16))
    runs = [(stream_frame("PCMU", n), stream_frame("G722", n)) for _ in range(3)]
    pcmu_f, g722_f = min(r[0] for r in runs), min(r[1] for r in runs)
    print("  MediaStream frame out+in: PCMU %.1f us, G722 %.1f us, G.722 adds %.1f us per frame "
          "(%.3f %% of one core per call)" % (pcmu_f, g722_f, g722_f - pcmu_f, 50 * (g722_f - pcmu_f) / 1e4))


if __name__ == "__main__":
    main()
