"""A bounded SIP request flood on loopback, and the RTP pacing figure it is judged by.

`Flood(target, rate, seconds, method)` sends `rate` requests/s of `method` (OPTIONS or INVITE
with an SDP offer, each a new transaction: fresh branch, Call-ID and From tag, so nothing is
absorbed as a retransmission) from one UDP socket on 127.0.0.1 to `target`, in a thread that
stops by itself after `seconds` (or on `stop()`), reads and counts whatever comes back, and
never sends anywhere but the loopback target it was given.

`pacing(packets)` takes (arrival time, RTP sequence number) of one sender's stream and says how
many packets left within `slack` of their 20 ms slot: the slots are laid from the earliest
packet that is not late (the minimum of t - i*20 ms), so a constant offset is not lateness.
"""

import socket
import threading
import time

FRAME = 0.020


def request(method: str, target, user: str, n: int, src_port: int) -> bytes:
    host, port = target
    tag = "fl%d" % n
    sdp = b""
    if method == "INVITE":
        sdp = ("v=0\r\no=flood %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % n).encode()
    head = ("%s sip:%s@%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKflood%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:flood@127.0.0.1>;tag=%s\r\n"
            "To: <sip:%s@%s:%d>\r\n"
            "Call-ID: flood-%d@127.0.0.1\r\n"
            "CSeq: 1 %s\r\n"
            "Contact: <sip:flood@127.0.0.1:%d>\r\n"
            "%s"
            "Content-Length: %d\r\n\r\n"
            % (method, user, host, port, src_port, n, tag, user, host, port, n, method, src_port,
               "Content-Type: application/sdp\r\n" if sdp else "", len(sdp)))
    return head.encode() + sdp


class Flood:
    """Represents one flood run in a background thread (see the module docstring)."""

    def __init__(self, target, rate: float, seconds: float, method: str = "OPTIONS", user: str = "1001"):
        if target[0] not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("floods go to loopback only, not %r" % (target[0],))
        self.target = (target[0], int(target[1]))
        self.rate = rate
        self.seconds = seconds
        self.method = method
        self.user = user
        self.sent = 0
        self.replies = 0
        self.started = None
        self.ended = None
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, name="flood", daemon=True)

    def start(self) -> "Flood":
        self.thread.start()
        return self

    def _drain(self):
        while True:
            try:
                self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.replies += 1

    def _run(self):
        self.started = time.monotonic()
        end = self.started + self.seconds
        n = 0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - self.started) * self.rate)  # requests that should be out by now
            while n < due:
                try:
                    self.sock.sendto(request(self.method, self.target, self.user, n, self.port), self.target)
                    self.sent += 1
                except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                    pass
                n += 1
            self._drain()
            time.sleep(0.002)
        self.ended = time.monotonic()
        time.sleep(0.2)
        self._drain()

    def wait(self, timeout=None) -> None:
        self.thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        self.sock.close()


def pacing(packets, slack: float = 0.030, frame: float = FRAME):
    """(packets, on time, worst lateness in s, packets missing) for [(t, seq), ...] of one
    stream, in arrival order; sequence numbers may wrap."""
    if not packets:
        return 0, 0, 0.0, 0
    first_seq = packets[0][1]
    idx = []
    unwrapped = 0
    last = first_seq
    for t, seq in packets:
        step = (seq - last) & 0xFFFF
        if step > 0x8000:
            step -= 0x10000
        unwrapped += step
        last = seq
        idx.append((t, unwrapped))
    t0 = min(t - i * frame for t, i in idx)
    late = [t - i * frame - t0 for t, i in idx]
    on_time = sum(1 for x in late if x <= slack)
    span = max(i for _, i in idx) - min(i for _, i in idx) + 1
    return len(idx), on_time, max(late), max(0, span - len(set(i for _, i in idx)))


def _main_stream(packets):
    """([(t, seq)], number of streams): the call's stream is the (destination, SSRC) with the
    most packets; a flooded UA that answers INVITEs may start others beside it."""
    streams = {}
    for p in packets:
        streams.setdefault((p[2], p[7]), []).append((p[0], p[5]))
    if not streams:
        return [], 0
    return max(streams.values(), key=len), len(streams)


class FloodCall:
    """A call under fire: Kamailio, baresip 1002 (auto-answer, sending `far_hz`), tipring 1001
    on the sim board whose handset calls 1002 and says `near_hz`, an RTP tap on loopback.
    `blast(target, rate, seconds, method)` floods one SIP address while sampling what the
    handset hears, and returns the pacing of both RTP directions over that window. Stopped
    whole by `stop()` (or the `with` block) whatever state it is in."""

    def __init__(self, workdir, far_hz=700, near_hz=1000, console=True):
        from tests.peers import rtptap
        from tests.peers.baresip import BaresipPhone
        from tests.peers.firmware import RunningFirmware, sim_line_config
        from tests.peers.handset import Handset
        from tests.peers.kamailio import Kamailio
        from tests.peers.ports import free_port
        self.kam = self.phone = self.fw = self.tap = self.handset = None
        self.far_hz = far_hz
        try:
            self.kam = Kamailio(workdir)
            self.kam.start()
            self.phone = BaresipPhone(workdir, "1002", registrar=self.kam.address, answer="auto", tone_hz=far_hz)
            self.control = "127.0.0.1:%d" % free_port()
            cfg = sim_line_config(self.kam.address, self.control)
            self.console_port = free_port() if console else None
            if console:
                cfg["console"] = {"listen": "tcp:127.0.0.1:%d" % self.console_port}
            self.fw = RunningFirmware(workdir, cfg)
            if not self.fw.wait_event(lambda e: e["event"] == "registered", 15):
                raise RuntimeError("tipring did not register: %s" % self.fw.events())
            self.sip = tuple(cfg["sip"]["bind"].split(":"))
            self.sip = (self.sip[0], int(self.sip[1]))
            lo, hi = self.phone.rtp_ports
            self.to_phone = set(range(lo, hi + 1))
            self.to_ata = set(range(16384, 32768))   # tipring's RTP range (tipring/firmware/app.py)
            self.tap = rtptap.RtpTap(self.to_phone | self.to_ata)
            self.handset = Handset(self.control)
            h = self.handset
            h.ok("offhook")
            if not h.ok("wait tone=dial 5"):
                raise RuntimeError("no dial tone")
            h.ok("dial 1002# mode=dtmf")
            if not self.fw.wait_event(lambda e: e["event"] == "call" and e.get("state") == "connected", 15):
                raise RuntimeError("the call did not connect: %s" % self.fw.events()[-10:])
            h.ok("say %d" % near_hz)
            time.sleep(1.0)
        except BaseException:
            self.stop()
            raise

    def hears_far_end(self, ms=300) -> bool:
        got = self.handset.ok("listen %d" % ms)
        return any(abs(f - self.far_hz) <= 20 for f in got.get("freqs", []))

    def blast(self, target, rate, seconds, method="OPTIONS", listen_every=1.0):
        """Flood `target`; returns a dict: sent, replies, heard (handset samples that had the
        far end's tone / samples taken), out and back (pacing() of tipring -> baresip and
        baresip -> tipring over the flood window)."""
        mark = self.tap.mark()
        fl = Flood(target, rate, seconds, method).start()
        heard = taken = 0
        try:
            while fl.thread.is_alive():
                time.sleep(listen_every)
                if not fl.thread.is_alive():
                    break
                taken += 1
                heard += bool(self.hears_far_end())
            fl.wait(seconds + 5)
        finally:
            fl.stop()
        t0, t1 = fl.started, fl.ended
        got = [p for p in self.tap.since(mark) if t0 <= p[0] <= t1]
        out, n_out = _main_stream([p for p in got if p[2] in self.to_phone])
        back, n_back = _main_stream([p for p in got if p[2] in self.to_ata])
        return {"sent": fl.sent, "replies": fl.replies, "seconds": round(t1 - t0, 2),
                "heard": (heard, taken), "out": pacing(out), "back": pacing(back),
                "streams": (n_out, n_back)}

    def console(self, command) -> str:
        import socket as _s
        s = _s.create_connection(("127.0.0.1", self.console_port), timeout=10)
        try:
            buf, end = b"", time.monotonic() + 10
            while not buf.endswith(b"tipring> ") and time.monotonic() < end:
                buf += s.recv(65536)
            s.sendall(command.encode() + b"\r\n")
            buf = b""
            while not buf.endswith(b"tipring> ") and time.monotonic() < end:
                buf += s.recv(65536)
            return buf.decode(errors="replace")
        finally:
            s.close()

    def stop(self):
        for closer in (lambda: self.handset and self.handset.close(),
                       lambda: self.fw and (self.fw.stop(), self.fw.kill()),
                       lambda: self.phone and self.phone.stop(),
                       lambda: self.kam and self.kam.stop(),
                       lambda: self.tap and self.tap.stop()):
            try:
                closer()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
