"""Client of the sim board's control protocol (INTERFACES.md), for end-to-end tests."""

import json
import socket
import time


class Handset:
    def __init__(self, address, line=1, timeout=10.0):
        host, port = address.rsplit(":", 1)
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

    def ask(self, request, timeout=60.0):
        self.s.settimeout(timeout)
        if self.line != 1 and "line=" not in request:
            request += " line=%d" % self.line
        self.s.sendall(request.encode() + b"\n")
        raw = self.f.readline()
        if not raw:
            raise ConnectionError("sim control closed after %r" % request)
        return json.loads(raw)

    def ok(self, request, timeout=60.0):
        r = self.ask(request, timeout)
        assert r.get("ok"), "%s -> %s" % (request, r)
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
