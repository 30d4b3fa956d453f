"""The media pace during a config save on a slow disk: blocking on the loop vs off the loop.

The real firmware runs on the sim board in this process (its loop in a thread, as
tests/sim/helpers.Running does), the virtual handset off-hook so the 20 ms media clock runs.
`os.fsync` is slowed by DELAY (300 ms by default: an SD card's fsync under load). A config save
does two or three fsyncs (the .bak, the file, their directory), so it holds the disk for about
a second.

Each save is made two ways, SAVES times each:
  blocking   `config_store.save_config` called on the loop thread (what `*72` did before)
  off-loop   `Firmware.saver.save` (the worker thread; the result comes back on the loop)
Every media frame's time is read on the loop thread (`loop.now()`, one clock). Printed per
way: the frames the board played while the save ran against the frames due (one per 20 ms),
and the longest gap between two frames.

    .venv/bin/python tools/bench/save_pace.py [--delay 0.3] [--saves 3]
"""

import argparse
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tipring.firmware import config_store  # noqa: E402
from tipring.firmware.config import Config, set_value  # noqa: E402
from tests.sim.helpers import Running  # noqa: E402

FRAME_S = 0.020


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay", type=float, default=0.3, help="seconds each fsync takes (default 0.3)")
    ap.add_argument("--saves", type=int, default=3, help="saves per way (default 3)")
    args = ap.parse_args()

    real_fsync = os.fsync
    fsyncs = []

    def slow_fsync(fd):
        fsyncs.append(threading.current_thread().name)
        time.sleep(args.delay)
        real_fsync(fd)

    tmp = tempfile.mkdtemp(prefix="tipring-save-pace-")
    path = os.path.join(tmp, "tipring.toml")
    r = Running()
    stamps = []

    def setup():
        r.fw.cfg = Config(r.fw.cfg.data, path)
        port = r.board.ports[1]
        tick = port.media_tick

        def stamped(*a):
            stamps.append(r.fw.loop.now())
            return tick(*a)
        port.media_tick = stamped
    r.call(setup)
    h = r.client()
    h.ok("offhook")
    h.ok("wait tone=dial 5")
    config_store.save_config(r.fw.cfg, path)
    os.fsync = slow_fsync
    print("fsync delay %.0f ms, %d saves per way; the 20 ms media clock of the sim board" % (args.delay * 1000, args.saves))
    print("%-10s %8s %10s %10s %12s %14s" % ("way", "save ms", "frames", "due", "max gap ms", "fsync thread"))
    try:
        for way in ("blocking", "off-loop"):
            for i in range(args.saves):
                cfg = set_value(r.fw.cfg, "line.1.expires", str(600 + i + (100 if way == "off-loop" else 0)))
                r.call(lambda: setattr(r.fw, "cfg", cfg))
                del fsyncs[:]
                done = threading.Event()
                span = []

                def start():
                    span.append(r.fw.loop.now())
                    if way == "blocking":
                        config_store.save_config(cfg, path)
                        finished(None)
                    else:
                        r.fw.saver.save(cfg, path, finished)

                def finished(result):
                    span.append(r.fw.loop.now())
                    done.set()
                r.fw.loop.call_soon_threadsafe(start)
                assert done.wait(60), "the save did not finish"
                time.sleep(0.1)                      # a few frames after, so the gap is closed
                t0, t1 = span
                inside = [t for t in stamps if t0 <= t <= t1]
                around = [t for t in stamps if t0 - 0.1 <= t <= t1 + 0.1]
                gap = max((b - a for a, b in zip(around, around[1:])), default=float("nan"))
                print("%-10s %8.0f %10d %10d %12.0f %14s" % (way, (t1 - t0) * 1000, len(inside),
                                                         int((t1 - t0) / FRAME_S), gap * 1000,
                                                         sorted(set(fsyncs))[0] if fsyncs else "-"))
    finally:
        os.fsync = real_fsync
        h.ok("onhook")
        r.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
