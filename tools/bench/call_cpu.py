"""CPU per active call and idle memory: tipring vs baresip, measured in the same run.

Starts Kamailio on a free loopback port (tests/peers), a baresip phone 1002 (auto-answer) and
`tipring run` with the sim board as 1001, both registered. The source audio of every baresip
is an 8 kHz mono WAV (aufile), as in perf-baselines §6, so baresip does no resampling.

  1. idle:  WINDOW s with no call: CPU of the tipring process and of baresip 1002 (both
            registered; tipring's sim media clock sleeps once the line and the handset have
            been idle for a second, tipring/board/common.py); tipring's VmRSS.
  2. call:  the sim handset goes off-hook, dials 1002# (DTMF, heard by the line's detector),
            says 1000 Hz; baresip answers and streams its WAV back. After SETTLE s, WINDOW s
            of CPU for both processes. This is the real firmware: G.711 20 ms, RTP both ways,
            jitter buffer, RTCP, the handset-side DTMF detector (runs in `talking`).
  3. ref:   baresip <-> baresip, direct on loopback (no registrar), as perf-baselines §6:
            WINDOW s of CPU for each UA.

  4. split: the tipring number includes the sim board's virtual handset, which a real board does
            not have (its earpiece runs a call-progress tone classifier on every frame). Two sim
            ATAs in this process (as `tipring demo`) call each other; time.perf_counter() around
            the handsets' mouthpiece()/earpiece() gives the handset's share per 20 ms tick, idle
            (on-hook: 0, the clock sleeps) and in a call, which is subtracted to estimate the
            firmware alone.

CPU = utime+stime from /proc/PID/stat (10 ms ticks, all threads) and the summed
/proc/PID/task/*/schedstat run time (ns); the table uses schedstat, stat is shown beside it.
"Per call" is in-call minus idle over the same duration. Goal: tipring <= 2x baresip per
call, tipring idle VmRSS <= 30 MB.

With `--wideband` the same run is a G.722 call: tipring's line 1 runs at 16 kHz (the sim board
with `rate = 16000`, G.722 in libg722's 16 kHz mode, the line's DTMF detector behind the
decimator), baresip 1002 and the baresip<->baresip reference use their g722 module (full QMF
at 16 kHz), so each side does the same codec work.

    .venv/bin/python tools/bench/call_cpu.py [--window 20] [--wideband]
"""

import argparse
import math
import os
import shutil
import struct
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tipring.firmware.app import Firmware  # noqa: E402  (before tests.peers.baresip, which puts tests/peers on sys.path)
from tipring.firmware.demo import _Handset, _config, _free_port  # noqa: E402
from tipring.firmware.loop import EventLoop  # noqa: E402
from tests.peers.baresip import BaresipPhone  # noqa: E402
from tests.peers.firmware import RunningFirmware, sim_board_file, sim_line_config  # noqa: E402
from tests.peers.handset import Handset  # noqa: E402
from tests.peers.kamailio import Kamailio, free_port  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")
SETTLE = 3.0


def cpu(pid):
    """(utime+stime seconds, schedstat run seconds) of a process, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    ns = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns += int(f.read().split()[0])
        except OSError:
            pass
    return ticks / TCK, ns / 1e9


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def measure(pids, window):
    """{pid: (stat fraction of a core, schedstat fraction of a core)} over `window` s."""
    c0 = {p: cpu(p) for p in pids}
    w0 = time.monotonic()
    time.sleep(window)
    c1 = {p: cpu(p) for p in pids}
    w = time.monotonic() - w0
    return {p: ((c1[p][0] - c0[p][0]) / w, (c1[p][1] - c0[p][1]) / w) for p in pids}


def make_wav(path, seconds, freq=700.0):
    n = int(8000 * seconds)
    period = 8000  # 700 Hz repeats every 80 samples; build one second and repeat it
    one = struct.pack("<%dh" % period, *(int(8000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(period)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(one * (n // period))


def handset_share(seconds):
    """(idle us, in-call us) per 20 ms tick per line spent in the sim handset's mouthpiece/earpiece."""
    import threading
    loop = EventLoop()
    pa, pb = _free_port(), _free_port()
    fws = [Firmware(_config("1001", pa, pb), loop=loop), Firmware(_config("1002", pb, pa), loop=loop)]
    acc = {"t": 0.0, "n": 0}
    for f in fws:
        f.start()
        hs = f.board.handsets[1]
        for name in ("mouthpiece", "earpiece"):
            orig = getattr(hs, name)

            def timed(*a, orig=orig, name=name):
                t0 = time.perf_counter()
                try:
                    return orig(*a)
                finally:
                    acc["t"] += time.perf_counter() - t0
                    acc["n"] += name == "earpiece"
            setattr(hs, name, timed)
    res = {}

    def window():
        """us in one line's handset per 20 ms of wall time (per tick while the clock runs;
        idle, the clock sleeps and the share is ~0)."""
        acc["t"], acc["n"] = 0.0, 0
        t0 = time.monotonic()
        time.sleep(seconds)
        return acc["t"] / ((time.monotonic() - t0) / 0.020 * len(fws)) * 1e6

    def script():
        try:
            ha, hb = _Handset(fws[0].board.address), _Handset(fws[1].board.address)
            time.sleep(1.5)                 # as in the idle window above: the clocks have slept
            res["idle"] = window()
            ha("offhook")
            ha("wait tone=dial 5")
            ha("dial 1002 mode=dtmf")
            if hb("wait ringing 10").get("ok"):
                hb("offhook")
                time.sleep(1.0)
                ha("say 1000")
                hb("say 600")
                time.sleep(0.5)
                res["call"] = window()
            ha("onhook")
            hb("onhook")
            time.sleep(0.3)
            ha.close()
            hb.close()
        finally:
            loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=script, daemon=True).start()
    guard = loop.call_later(seconds * 2 + 30, loop.stop)
    try:
        loop.run()
    finally:
        guard.cancel()
        for f in fws:
            f.close()
    return res.get("idle"), res.get("call")


def fmt_row(name, idle, call):
    """idle/call: (stat, schedstat) fractions of a core."""
    per = call[1] - idle[1]
    return ("  %-22s %8.3f %% (%5.3f)  %8.3f %% (%5.3f)  %8.3f %%  %7.0f us" %
            (name, idle[1] * 100, idle[0] * 100, call[1] * 100, call[0] * 100, per * 100, per * 0.020 * 1e6)), per


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=20.0, help="seconds per measurement window (default 20)")
    ap.add_argument("--wideband", action="store_true",
                    help="a G.722 call on a 16 kHz line, against baresip's G.722 (default: PCMU, 8 kHz line)")
    args = ap.parse_args()
    bs_codecs = "G722/16000/1" if args.wideband else "PCMU,PCMA"
    W = args.window
    if not (shutil.which("kamailio") and shutil.which("baresip")):
        sys.exit("kamailio and baresip are needed (tools/setup --test)")
    work = tempfile.mkdtemp(prefix="tipring-bench-cpu-")
    wav = os.path.join(work, "src.wav")
    make_wav(wav, 2 * W + 60)      # aufile hangs up at the end of the file: long enough for a window + margins
    peers = []
    res = {}
    try:
        kam = Kamailio(work)
        peers.append(kam)
        kam.start()
        phone = BaresipPhone(work, "1002", registrar=kam.address, answer="auto", wav=wav, codecs=bs_codecs)
        peers.append(phone)
        ctl = free_port()
        cfg = sim_line_config(kam.address, "127.0.0.1:%d" % ctl)
        if args.wideband:
            cfg["board"]["kind"] = sim_board_file(work)
            cfg["line"][0]["codecs"] = "g722"
        fw = RunningFirmware(work, cfg)
        peers.append(fw)
        if not fw.wait_event(lambda e: e["event"] == "registered", 10):
            raise RuntimeError("tipring did not register: %s" % fw.output()[-800:])
        tp, bp = fw.proc.pid, phone.proc.pid
        # the phone's pid is stdbuf's, which execs baresip: the same pid
        h = Handset("127.0.0.1:%d" % ctl)
        peers.append(h)
        time.sleep(SETTLE)

        # 1. idle
        res["idle"] = measure([tp, bp], W)
        res["rss_idle"] = status_kb(tp, "VmRSS")
        res["bs_rss_idle"] = status_kb(bp, "VmRSS")

        # 2. in call
        h.ok("offhook")
        h.ok("wait tone=dial 5")
        h.ok("dial 1002# mode=dtmf")
        up = fw.wait_event(lambda e: e["event"] == "call" and e["state"] == "connected", 15)
        if not up:
            raise RuntimeError("call did not connect: %s" % [e for e in fw.events() if e["event"] in ("call", "error")])
        h.ok("say 1000")
        time.sleep(SETTLE)
        res["call"] = measure([tp, bp], W)
        res["rss_call"] = status_kb(tp, "VmRSS")
        res["hwm"] = status_kb(tp, "VmHWM")
        heard = h.ok("listen 400")
        res["heard"] = heard.get("freqs")
        h.ok("onhook")
        media = fw.wait_event(lambda e: e["event"] == "media", 10)
        res["media"] = media
        h.close()

        # 3. reference: baresip <-> baresip, direct
        a = BaresipPhone(work, "alice", registrar=None, answer="manual", wav=wav, codecs=bs_codecs)
        peers.append(a)
        b = BaresipPhone(work, "bob", registrar=None, answer="auto", wav=wav, codecs=bs_codecs)
        peers.append(b)
        a.cmd("dial", b.uri)
        if not a.wait({"CALL_ESTABLISHED"}, 10):
            raise RuntimeError("baresip <-> baresip call not established")
        time.sleep(SETTLE)
        res["ref"] = measure([a.proc.pid, b.proc.pid], W)
        res["ref_pids"] = (a.proc.pid, b.proc.pid)
        res["ref_idle"] = None
        a.cmd("hangup")
        time.sleep(0.5)
    finally:
        for p in reversed(peers):
            try:
                if isinstance(p, RunningFirmware):
                    p.stop()
                    p.kill()
                elif isinstance(p, Handset):
                    p.close()
                else:
                    p.stop()
            except Exception as e:  # stop the others whatever happens
                print("stopping %r: %s" % (p, e), file=sys.stderr)

    hs_idle, hs_call = handset_share(min(W, 10.0))
    ti, tc = res["idle"][tp], res["call"][tp]
    bi, bc = res["idle"][bp], res["call"][bp]
    ra, rb = (res["ref"][p] for p in res["ref_pids"])
    print()
    print("CPU per active call, %s, loopback, %g s windows (%% of one core; schedstat, stat in ())"
          % ("G.722 20 ms on a 16 kHz line" if args.wideband else "G.711 PCMU 20 ms", W))
    print("  %-22s %19s  %19s  %10s  %10s" % ("process", "idle", "in call", "per call", "per 20 ms"))
    row, t_per = fmt_row("tipring (sim board)", ti, tc)
    print(row)
    row, b_per = fmt_row("baresip 1002 (its peer)", bi, bc)
    print(row)
    row, ra_per = fmt_row("baresip caller (ref)", (0.0, 0.0), ra)
    print(row + "   (idle taken as 0, §6)")
    row, rb_per = fmt_row("baresip callee (ref)", (0.0, 0.0), rb)
    print(row + "   (idle taken as 0, §6)")
    ref = (ra_per + rb_per) / 2
    base = b_per if b_per > 0 else ref
    print()
    if base > 0:
        ratio = t_per / base
        print("  ratio tipring / baresip (same call)       %6.2f x" % ratio)
    if ref > 0:
        print("  ratio tipring / baresip<->baresip (ref)   %6.2f x   (ref %.0f us per 20 ms; perf-baselines §6: 67 us)"
              % (t_per / ref, ref * 0.020 * 1e6))
        print("  goal per call <= 2x baresip: vs its peer in the same call %s, vs baresip<->baresip %s"
              % ("met" if t_per <= 2 * base else "NOT met", "met" if t_per <= 2 * ref else "NOT met"))
    if hs_idle is not None and hs_call is not None:
        fw_idle = ti[1] * 0.020 * 1e6 - hs_idle
        fw_call = tc[1] * 0.020 * 1e6 - hs_call
        fw_per = fw_call - fw_idle
        print()
        print("  the sim handset's share (in-process, perf_counter, per 20 ms): idle %.0f us, in call %.0f us"
              % (hs_idle, hs_call))
        print("  tipring without the sim handset (estimate): idle %.0f us, in call %.0f us, per call %.0f us per 20 ms"
              " = %.3f %% of a core" % (fw_idle, fw_call, fw_per, fw_per / 200.0))
        if base > 0:
            print("  ratio firmware-only / baresip (same call)  %6.2f x" % (fw_per / (base * 0.020 * 1e6)))
        if ref > 0:
            print("  ratio firmware-only / baresip<->baresip    %6.2f x" % (fw_per / (ref * 0.020 * 1e6)))
    print()
    print("Memory of the tipring process (VmRSS)")
    print("  idle, registered          %6.1f MB   (goal <= 30 MB: %s)" % (res["rss_idle"] / 1024,
                                                                          "met" if res["rss_idle"] <= 30 * 1024 else "NOT met"))
    print("  in call                   %6.1f MB   (peak VmHWM %.1f MB)" % (res["rss_call"] / 1024, res["hwm"] / 1024))
    print("  baresip 1002 idle         %6.1f MB" % (res["bs_rss_idle"] / 1024))
    m = res.get("media") or {}
    print()
    print("Check: tipring handset heard %s Hz (baresip sends 700 Hz); codec %s; tipring RTP sent %s, received %s, lost %s"
          % (res.get("heard"), m.get("codec"), m.get("sent"), m.get("received"), m.get("lost")))


if __name__ == "__main__":
    main()
