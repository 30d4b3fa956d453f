"""A running firmware on the sim board for tests: the real `Firmware`, its loop in a thread,
the control protocol over TCP, and the event log captured as it is emitted."""
import threading
import time

from tipring.firmware.app import Firmware
from tipring.firmware.config import validate
from tests.peers.handset import Handset as Client


class Running:
    """`Firmware` on the sim board with its loop in a background thread."""

    def __init__(self, country="us", lines=None, dial_plan=None, **line_options):
        lines = lines or [{"port": 1, "user": "1001"}]
        raw_lines = []
        for ln in lines:
            d = {"registrar": "127.0.0.1:9", "register": False}
            d.update(ln)
            if dial_plan and "dial_plan" not in d:
                d["dial_plan"] = dial_plan
            raw_lines.append(d)
        self.cfg = validate({"board": {"kind": "sim", "control": "127.0.0.1:0", "country": country},
                             "sip": {"bind": "127.0.0.1:0"}, "line": raw_lines})
        self.fw = Firmware(self.cfg, log_json=None)
        self.events = []
        emit = self.fw.emit

        def record(name, fields):
            self.events.append((name, dict(fields)))
            return emit(name, fields)

        self.fw.emit = record
        self.fw.start()
        self.board = self.fw.board
        if line_options:
            self.board.configure(**line_options)
        self.thread = threading.Thread(target=self.fw.loop.run, daemon=True)
        self.thread.start()
        host, port = self.board.address.rsplit(":", 1)
        self.addr = (host, int(port))
        self._clients = []

    def call(self, fn, *args):
        """Run `fn(*args)` on the loop thread and return its result."""
        box, done = [], threading.Event()

        def run():
            try:
                box.append(fn(*args))
            finally:
                done.set()

        self.fw.loop.call_soon_threadsafe(run)
        assert done.wait(5), "the loop did not run %r" % fn
        return box[0] if box else None

    def client(self):
        c = Client(self.addr)
        self._clients.append(c)
        return c

    def named(self, name):
        return [f for n, f in list(self.events) if n == name]

    def wait_event(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for n, f in list(self.events):
                if pred(n, f):
                    return f
            time.sleep(0.02)
        return None

    def stop(self):
        for c in self._clients:
            c.close()
        self.fw.loop.call_soon_threadsafe(self.fw.loop.stop)
        self.thread.join(5)
        self.fw.close()
        self.fw.loop.close()
