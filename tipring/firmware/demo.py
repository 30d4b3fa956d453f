"""`tipring demo`: two simulated ATAs on loopback call each other, narrated, no server needed.

Two `Firmware` instances share one event loop in this process, each with the sim board and
one line (1001 and 1002), each other's SIP address as proxy. A script thread drives the two
virtual handsets over the sim control protocol exactly as a person or a test would
(INTERFACES.md): off-hook, dial tone, dial, ring with caller ID, answer, a tone each way (the
far handset must hear it), hang up. At the end it draws the SIP ladder of the call from ATA A's
trace. Exit 0 only when the call worked both ways.
"""

import socket
import sys
import threading
import time

from tipring.firmware.config import validate
from tipring.firmware.loop import EventLoop


def _free_port() -> int:
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        u.close()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise OSError("no free port")


class _Handset:
    def __init__(self, address: str):
        host, port = address.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=30)
        self.f = self.s.makefile("rb")

    def __call__(self, request: str) -> dict:
        import json
        self.s.sendall(request.encode() + b"\n")
        return json.loads(self.f.readline() or b"{}")

    def close(self):
        self.s.close()


def _config(me: str, sip_port: int, peer_port: int):
    return validate({
        "board": {"kind": "sim", "control": "127.0.0.1:0", "country": "us"},
        "sip": {"bind": "127.0.0.1:%d" % sip_port},
        "line": [{"port": 1, "user": me, "password": "", "registrar": "127.0.0.1:%d" % peer_port,
                  "domain": "127.0.0.1:%d" % peer_port, "register": False, "direct_calls": True,
                  "dial_plan": "(100x)"}],
        "console": {"listen": "off"},
    })


def _start_pair(Firmware, loop, log_json, attempts=5):
    """ATA A and B started on two free ports that each names as the other's peer. A port found
    free can be taken by another process before our bind (the demo runs beside test suites);
    then both are closed and two new ports tried."""
    for attempt in range(attempts):
        pa, pb = _free_port(), _free_port()
        a = Firmware(_config("1001", pa, pb), log_json=log_json, loop=loop)
        b = Firmware(_config("1002", pb, pa), loop=loop)
        try:
            a.start()
            b.start()
            return a, b
        except OSError:
            a.close()
            b.close()
            if attempt == attempts - 1:
                raise
    raise OSError("no free port pair")


def run_demo(log_json=None, out=None) -> int:
    from tipring.firmware.app import Firmware
    from tipring.firmware.console.ladder import render_ladder
    out = out or sys.stdout
    say = lambda text: (out.write(text + "\n"), out.flush())
    loop = EventLoop()
    a, b = _start_pair(Firmware, loop, log_json)
    a.set_trace(True)
    result = {"ok": False}

    def script():
        try:
            result["ok"] = _script(a, b, say)
        except Exception as e:  # the demo reports, never hangs
            say("demo failed: %s: %s" % (type(e).__name__, e))
        finally:
            loop.call_soon_threadsafe(loop.stop)

    th = threading.Thread(target=script, daemon=True)
    th.start()
    loop.call_later(60, loop.stop)
    try:
        loop.run()
    finally:
        say("")
        say("The SIP exchange, as ATA A (line 1001) saw it:")
        for line in render_ladder([m for m in a.sip_history() if m.get("call_id")]):
            say("  " + line)
        a.close()
        b.close()
    say("")
    say("demo: the call worked both ways" if result["ok"] else "demo: FAILED")
    return 0 if result["ok"] else 1


def _script(a, b, say) -> bool:
    ha, hb = _Handset(a.board.address), _Handset(b.board.address)
    say("tipring demo: two simulated ATAs on loopback, no server.")
    say("  ATA A: line 1001, SIP %s:%d, handset on %s" % (a.ua.host, a.ua.port, a.board.address))
    say("  ATA B: line 1002, SIP %s:%d, handset on %s" % (b.ua.host, b.ua.port, b.board.address))
    ha("offhook")
    r = ha("wait tone=dial 5")
    st = ha("state")
    say("A lifts the handset and hears %s tone %s Hz." % (st.get("tone"), st.get("freqs")))
    if not r.get("ok"):
        return False
    ha("dial 1002 mode=dtmf")
    say("A dials 1002 (DTMF tones, heard by A's own detector).")
    ln = ha("listen 1000")
    say("A hears %s %s Hz while B's phone rings." % (ln.get("tone"), ln.get("freqs")))
    r = hb("wait ringing 10")
    if not r.get("ok"):
        say("B never rang: %s" % r)
        return False
    say("B's phone rings.")
    r = hb("wait caller_id 10")
    st = hb("state")
    say("B's display shows caller ID %s." % (st.get("caller_id"),))
    hb("offhook")
    say("B answers.")
    time.sleep(0.8)
    ha("say 1000")
    hb("say 600")
    time.sleep(1.2)
    heard_b = hb("listen 600")
    heard_a = ha("listen 600")
    say("A says 1000 Hz; B hears %s Hz (%s)." % (heard_b.get("freqs"), heard_b.get("tone")))
    say("B says 600 Hz; A hears %s Hz (%s)." % (heard_a.get("freqs"), heard_a.get("tone")))
    ok_b = any(abs(f - 1000) <= 15 for f in heard_b.get("freqs") or [])
    ok_a = any(abs(f - 600) <= 15 for f in heard_a.get("freqs") or [])
    ha("say off")
    hb("say off")
    ha("onhook")
    say("A hangs up.")
    time.sleep(0.5)
    st = hb("listen 500")
    say("B hears %s after the far end hung up, and hangs up too." % st.get("tone"))
    hb("onhook")
    time.sleep(0.3)
    ha.close()
    hb.close()
    return ok_a and ok_b
