"""Post-dial delay and added one-way audio latency of tipring, measured in-process.

Everything runs in this process on one `EventLoop` (as `tipring/firmware/demo.py` does) with the sim
board, so every timestamp below is `time.monotonic()` (the loop's clock, `loop.now()`), read
on the loop thread: no two clocks are compared. A script thread drives the virtual handsets
over the sim control protocol, as a person or a test would.

1. Post-dial delay. Firmware P (line 1001, default dial plan, no registration) has a UDP socket
   of ours as its proxy; that socket is a reader on the same loop and stamps each datagram's
   arrival. The handset dials `1002#` (DTMF). Measured, per attempt:
     t_onset   the mouthpiece frame where the tone of the last key (`#`) starts (frame end time)
     t_digit   the line reports that key (`digit` event; DTMF detector, on the 20 ms tick)
     t_intent  the line asks the call layer to dial (`line_intent("dial")`)
     t_send    the INVITE leaves through the SIP socket (`sip.send`)
     t_wire    the INVITE arrives at our proxy socket
   Post-dial delay = t_wire - t_digit (goal <= 5 ms). Shown besides: detection time
   t_digit - t_onset (DTMF needs tone energy over >= 40 ms: this is not part of the goal).

2. One-way audio latency. Firmware A (1001) calls Firmware B (1002) directly on loopback and
   B answers. A's handset sends silence with a click (one sample at +20000) every 500 ms.
     capture -> RTP send:  the click's frame leaves A's mouthpiece at the tick t_cap (the frame
         covers [t_cap - 20 ms, t_cap]); the RTP packet carrying it is sent at t_tx. Added
         latency = packetisation (age of the click's sample at t_cap) + (t_tx - t_cap).
     RTP receive -> playback:  B's RTP socket gets the packet at t_rx; the click leaves B's
         line in the earpiece frame handed over at tick t_play, at sample k of that frame
         (played at t_play + k/8000, the frame being played over [t_play, t_play + 20 ms]).
         Added latency = t_play + k/8000 - t_rx. The arrival is perfectly regular (zero jitter):
         A's 20 ms clock and B's run off the same loop.
   Goal: each direction <= 30 ms. The jitter buffer's initial target is printed with it.

    .venv/bin/python tools/bench/latency.py [-n 20]
"""

import argparse
import os
import socket
import statistics
import struct
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tipring.firmware.app import Firmware  # noqa: E402
from tipring.firmware.config import validate  # noqa: E402
from tipring.firmware.demo import _free_port, _Handset  # noqa: E402
from tipring.firmware.loop import EventLoop  # noqa: E402

FRAME = 160
CLICK_AT = 80        # sample index of the click inside the captured frame
CLICK = 20000
SILENT = bytes(2 * FRAME)


def cfg(me, sip_port, peer_port, plan=None, control=0):
    ln = {"port": 1, "user": me, "password": "", "registrar": "127.0.0.1:%d" % peer_port,
          "domain": "127.0.0.1:%d" % peer_port, "register": False, "direct_calls": True}
    if plan:
        ln["dial_plan"] = plan
    return validate({"board": {"kind": "sim", "control": "127.0.0.1:%d" % control, "country": "us"},
                     "sip": {"bind": "127.0.0.1:%d" % sip_port}, "line": [ln], "console": {"listen": "off"}})


def loud(frame, level=4000):
    """Index of the first sample with |x| >= level, or None."""
    s = struct.unpack("<%dh" % (len(frame) // 2), frame)
    for i, v in enumerate(s):
        if v >= level or v <= -level:
            return i
    return None


def pcmu_click_index(payload):
    """Index of the first non-silent PCMU byte (silence is 0xFF / 0x7F), or None."""
    for i, b in enumerate(payload):
        if b not in (0xFF, 0x7F, 0xFE, 0x7E):
            return i
    return None


# --------------------------------------------------------------------------- post-dial delay

def busy_here(invite):
    """A 486 for an INVITE: its Via, From, Call-ID and CSeq, a To with a tag."""
    head = invite.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = []
    for h in head[1:]:
        name = h.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq"):
            keep.append(h)
        elif name in (b"to", b"t"):
            keep.append(h + b";tag=bench486")
    return b"SIP/2.0 486 Busy Here\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


def post_dial_setup(loop):
    """Build P and its proxy socket on the loop's thread; returns (firmware, drive(n, out))."""
    proxy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    proxy.bind(("127.0.0.1", 0))
    proxy.setblocking(False)
    p = Firmware(cfg("1001", _free_port(), proxy.getsockname()[1]), loop=loop)
    p.start()
    rec = {"invites": []}
    cur = {}

    def on_proxy(fd, revents):
        while True:
            try:
                data, addr = proxy.recvfrom(65535)
            except BlockingIOError:
                return
            if data.startswith(b"INVITE ") and "wire" not in cur:
                cur["wire"] = loop.now()
                cur["done"].set()
            if data.startswith(b"INVITE "):   # refuse it, so that the call ends at once
                proxy.sendto(busy_here(data), addr)
    loop.add_reader(proxy, on_proxy)

    orig_emit = p.emit

    def emit(name, fields):
        if name == "digit":
            cur.setdefault("digits", []).append((loop.now(), fields.get("digit")))
        return orig_emit(name, fields)
    p.emit = emit

    orig_intent = p.line_intent

    def line_intent(port, intent, *args):
        if intent == "dial" and "intent" not in cur:
            cur["intent"] = loop.now()
        return orig_intent(port, intent, *args)
    p.line_intent = line_intent

    orig_send = p.sip.send

    def send(data, addr):
        if bytes(data[:7]) == b"INVITE " and "send" not in cur:
            cur["send"] = loop.now()
        return orig_send(data, addr)
    p.sip.send = send

    hs = p.board.handsets[1]
    orig_mouth = hs.mouthpiece
    state = {"prev_loud": False}

    def mouthpiece():
        f = orig_mouth()
        is_loud = loud(f, 500) is not None
        if is_loud and not state["prev_loud"]:
            cur.setdefault("onsets", []).append(loop.now())
        state["prev_loud"] = is_loud
        return f
    hs.mouthpiece = mouthpiece

    def drive(n, out):
        return _post_dial_drive(loop, p, proxy, cur, n, out)
    return p, drive


def _post_dial_drive(loop, p, proxy, cur, n, out):
    results = []
    h = _Handset(p.board.address)
    try:
        h("onhook")
        for i in range(n):
            cur.clear()
            cur["done"] = threading.Event()
            h("offhook")
            r = h("wait tone=dial 5")
            if not r.get("ok"):
                out.append("  attempt %d: no dial tone %s" % (i, r))
                continue
            t_reply0 = time.monotonic()
            h("dial 1002# mode=dtmf")
            t_reply = time.monotonic()
            ok = cur["done"].wait(5)
            time.sleep(0.05)
            h("onhook")
            time.sleep(1.5)                  # longer than a hook flash
            if not ok or "digits" not in cur:
                out.append("  attempt %d: no INVITE (%s)" % (i, sorted(cur)))
                continue
            t_digit, d = cur["digits"][-1]
            onset = max([t for t in cur.get("onsets", []) if t <= t_digit] or [float("nan")])
            results.append({"digit": d, "onset": onset, "t_digit": t_digit, "intent": cur.get("intent"),
                            "send": cur.get("send"), "wire": cur["wire"], "reply": t_reply, "reply0": t_reply0})
    finally:
        h.close()
        loop.call_soon_threadsafe(lambda: (loop.remove_reader(proxy), proxy.close()))
    return results


# --------------------------------------------------------------------------- audio latency

def audio_setup(loop):
    """Build A and B on the loop's thread; returns ([a, b], drive(seconds, out))."""
    pa, pb = _free_port(), _free_port()
    a = Firmware(cfg("1001", pa, pb, plan="(100x)"), loop=loop)
    b = Firmware(cfg("1002", pb, pa, plan="(100x)"), loop=loop)
    a.start()
    b.start()
    clicks = {"armed": False, "every": 25, "n": 0, "t_answer": None}
    depth = []
    tx, rx, play, cap = [], [], [], []
    jb = {}

    hsa, hsb = a.board.handsets[1], b.board.handsets[1]
    orig_mouth = hsa.mouthpiece

    def mouthpiece():
        f = orig_mouth()
        if clicks["armed"]:
            clicks["n"] += 1
            if clicks["n"] % clicks["every"] == 0:
                cap.append((loop.now(), a.board._next))
                return SILENT[:2 * CLICK_AT] + struct.pack("<h", CLICK) + SILENT[2 * CLICK_AT + 2:]
            return SILENT
        return f
    hsa.mouthpiece = mouthpiece

    orig_send = a._rtp_send

    def rtp_send(stream, data, addr):
        if clicks["armed"] and len(data) > 12 and (data[1] & 0x7F) == stream.pt:
            k = pcmu_click_index(data[12:])
            if k is not None:
                tx.append((loop.now(), k, struct.unpack("!H", data[2:4])[0]))
        return orig_send(stream, data, addr)
    a._rtp_send = rtp_send

    orig_in = b._rtp_in

    def rtp_in(local_port, data, addr):
        if clicks["armed"] and len(data) > 12 and (data[1] & 0x7F) in (0, 8):
            k = pcmu_click_index(data[12:])
            if k is not None:
                rx.append((loop.now(), k, struct.unpack("!H", data[2:4])[0]))
        return orig_in(local_port, data, addr)
    b._rtp_in = rtp_in

    orig_ear = hsb.earpiece

    def earpiece(frame):
        st = b.media.stream_for(1)
        if st is not None and clicks.get("t_answer") is not None:
            j = st.jitter
            depth.append((loop.now() - clicks["t_answer"], j.depth_ms, j.target * 1000.0 / j.clock_rate))
        if clicks["armed"]:
            k = loud(frame)
            if k is not None:
                play.append((loop.now(), k, b.board._next))
        return orig_ear(frame)
    hsb.earpiece = earpiece

    def drive(seconds, out):
        r = _audio_drive(a, b, clicks, jb, cap, tx, rx, play, seconds, out)
        if r is not None:
            r["depth"] = depth
        return r
    return [a, b], drive


def _audio_drive(a, b, clicks, jb, cap, tx, rx, play, seconds, out):
    ha, hb = _Handset(a.board.address), _Handset(b.board.address)
    try:
        ha("offhook")
        ha("wait tone=dial 5")
        ha("dial 1002 mode=dtmf")
        if not hb("wait ringing 10").get("ok"):
            out.append("  B never rang")
            return None
        clicks["t_answer"] = time.monotonic()
        hb("offhook")
        time.sleep(1.0)
        st = b.media.stream_for(1)
        if st is None:
            out.append("  no media stream on B")
            return None
        j = st.jitter
        jb["initial_ms"] = j._initial * 1000 / j.clock_rate
        jb["min_ms"] = j._min * 1000 / j.clock_rate
        jb["max_ms"] = j._max * 1000 / j.clock_rate
        jb["target_ms_before"] = j.target * 1000 / j.clock_rate
        jb["depth_ms_before"] = j.depth_ms
        clicks["armed"] = True
        time.sleep(seconds)
        clicks["armed"] = False
        jb["target_ms_after"] = j.target * 1000 / j.clock_rate
        jb["depth_ms_after"] = j.depth_ms
        jb["stats"] = st[0].stats()
        jb["jb"] = {k: getattr(j, k) for k in ("shrunk", "expanded", "resyncs", "concealed", "lost", "late")}
        ha("onhook")
        time.sleep(0.3)
        hb("onhook")
        time.sleep(0.2)
    finally:
        ha.close()
        hb.close()
    return {"cap": cap, "tx": tx, "rx": rx, "play": play, "jb": jb}


def ms(x):
    return x * 1000.0


def summary(vals):
    vals = [v for v in vals if v == v]
    if not vals:
        return "   n/a"
    return "%7.3f  %7.3f  %7.3f" % (statistics.median(vals), min(vals), max(vals))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=15, help="dial attempts (default 15)")
    ap.add_argument("--audio-seconds", type=float, default=8.0, help="click train length (default 8 s)")
    args = ap.parse_args()
    loop = EventLoop()
    out, res = [], {}
    p, drive_pdd = post_dial_setup(loop)
    ab, drive_audio = audio_setup(loop)
    fws = [p] + ab

    def script():
        try:
            res["pdd"] = drive_pdd(args.n, out)
            res["audio"] = drive_audio(args.audio_seconds, out)
        except Exception as e:  # report, never hang
            import traceback
            out.append("failed: %s" % traceback.format_exc())
        finally:
            loop.call_soon_threadsafe(loop.stop)

    th = threading.Thread(target=script, daemon=True)
    th.start()
    guard = loop.call_later(170, loop.stop)
    try:
        loop.run()
    finally:
        guard.cancel()
        for f in fws:
            try:
                f.close()
            except Exception:
                pass
    for line in out:
        print(line)

    pdd = res.get("pdd") or []
    print()
    print("Post-dial delay, sim handset dials 1002# (DTMF), INVITE to a UDP proxy socket on the same loop")
    print("  all times time.monotonic() on the loop thread; %d/%d attempts produced an INVITE" % (len(pdd), args.n))
    print("  %-44s %7s  %7s  %7s  (ms)" % ("", "median", "min", "max"))
    rows = [
        ("'#' reported by the line -> INVITE on the wire", [ms(r["wire"] - r["t_digit"]) for r in pdd]),
        ("   of which: digit -> line_intent(dial)", [ms(r["intent"] - r["t_digit"]) for r in pdd if r["intent"]]),
        ("   line_intent -> sip.send(INVITE)", [ms(r["send"] - r["intent"]) for r in pdd if r["send"] and r["intent"]]),
        ("   sip.send -> arrival at the proxy socket", [ms(r["wire"] - r["send"]) for r in pdd if r["send"]]),
        ("(not in the goal) '#' tone onset -> reported", [ms(r["t_digit"] - r["onset"]) for r in pdd]),
        ("(not in the goal) INVITE -> `dial` reply", [ms(r["reply"] - r["wire"]) for r in pdd]),
    ]
    for name, v in rows:
        print("  %-44s %s" % (name, summary(v)))
    if pdd:
        med = statistics.median([ms(r["wire"] - r["t_digit"]) for r in pdd])
        print("  goal: '#' -> INVITE <= 5 ms: %s (median %.2f ms, worst %.2f ms)"
              % ("met" if med <= 5 else "NOT met", med, max(ms(r["wire"] - r["t_digit"]) for r in pdd)))
    print("  (the `dial` control reply returns when the handset has finished keying, after the tone of")
    print("   the last key ends, so it is later than the INVITE and is no reference for the delay)")

    au = res.get("audio")
    print()
    print("Added one-way audio latency, A -> B on loopback, G.711 PCMU 20 ms, zero jitter, one click / 500 ms")
    if not au:
        print("  no result")
        return
    cap, tx, rx, play, jb = au["cap"], au["tx"], au["rx"], au["play"], au["jb"]
    n = min(len(cap), len(tx), len(rx), len(play))
    print("  clicks captured %d, sent %d, received %d, played %d" % (len(cap), len(tx), len(rx), len(play)))
    pack = [ms((FRAME - CLICK_AT) / 8000.0)] * n            # the click's age when its frame is complete
    proc_tx = [ms(tx[i][0] - cap[i][0]) for i in range(n)]
    wire = [ms(rx[i][0] - tx[i][0]) for i in range(n)]
    rx_play = [ms(play[i][0] + play[i][1] / 8000.0 - rx[i][0]) for i in range(n)]
    tick_play = [ms(play[i][0] - play[i][2]) for i in range(n)]
    cap_side = [pack[i] + proc_tx[i] for i in range(n)]
    m2e = [ms(play[i][0] + play[i][1] / 8000.0 - (cap[i][1] - (FRAME - CLICK_AT) / 8000.0)) for i in range(n)]
    print("  %-44s %7s  %7s  %7s  (ms)" % ("", "median", "min", "max"))
    for name, v in [
        ("capture -> RTP send (added)", cap_side),
        ("   packetisation (click age at frame end)", pack),
        ("   mouthpiece frame -> RTP packet sent", proc_tx),
        ("RTP send -> RTP receive (loopback, B's loop)", wire),
        ("RTP receive -> playback (added)", rx_play),
        ("   RTP receive -> its frame handed to earpiece", [ms(play[i][0] - rx[i][0]) for i in range(n)]),
        ("   + click's position in that frame (k/8000)", [ms(play[i][1] / 8000.0) for i in range(n)]),
        ("   (B's tick ran this late after its schedule)", tick_play),
        ("mouth -> ear, A's handset -> B's handset", m2e),
    ]:
        print("  %-44s %s" % (name, summary(v)))
    print("  jitter buffer: initial target %.0f ms (min %.0f, max %.0f); target %.0f ms when the clicks began,"
          % (jb["initial_ms"], jb["min_ms"], jb["max_ms"], jb["target_ms_before"]))
    print("  %.0f ms when they ended; B's stream: lost %s, late %s, jitter %s ms"
          % (jb["target_ms_after"], jb["stats"].get("lost"), jb["stats"].get("late"), jb["stats"].get("jitter_ms")))
    print("  B's jitter buffer counters: %s" % ", ".join("%s %s" % kv for kv in jb["jb"].items()))
    dep = au.get("depth") or []
    if dep:
        print("  B's jitter buffer over the call (s after B went off-hook: depth right after each playout / target, ms):")
        marks, row = [0.1, 0.3, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0], []
        for m in marks:
            hit = [d for d in dep if d[0] >= m]
            if hit:
                row.append("%4.1fs %3.0f/%3.0f" % (m, hit[0][1], hit[0][2]))
        print("    " + "  ".join(row))
    if n:
        c, r = statistics.median(cap_side), statistics.median(rx_play)
        print("  goal <= 30 ms each way: capture -> send %s (%.1f ms), receive -> playback %s (%.1f ms)"
              % ("met" if c <= 30 else "NOT met", c, "met" if r <= 30 else "NOT met", r))


if __name__ == "__main__":
    main()
