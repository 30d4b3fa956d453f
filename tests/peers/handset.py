"""Client of the sim board's control protocol (INTERFACES.md), for end-to-end tests."""

import json
import socket
import time


class Handset:
    """One connection to the control port: `ask`/`ok` a request (``line=N`` added for another
    line), or `send` raw bytes and `read` the next reply (bad input, pipelining)."""

    def __init__(self, address, line=1, timeout=10.0):
        """`address`: "HOST:PORT" or a (host, port) tuple."""
        host, port = address.rsplit(":", 1) if isinstance(address, str) else address
        end = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.create_connection((host, int(port)), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rb")
        self.line = line

    def send(self, raw: bytes) -> None:
        self.s.sendall(raw)

    def read(self, timeout=60.0) -> dict:
        self.s.settimeout(timeout)
        raw = self.f.readline()
        if not raw:
            raise ConnectionError("the sim control port closed the connection")
        return json.loads(raw)

    def ask(self, request, timeout=60.0):
        if self.line != 1 and "line=" not in request:
            request += " line=%d" % self.line
        self.send(request.encode() + b"\n")
        return self.read(timeout)

    def ok(self, request, timeout=60.0):
        r = self.ask(request, timeout)
        assert r.get("ok") is True, "%s -> %s" % (request, r)
        return r

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
