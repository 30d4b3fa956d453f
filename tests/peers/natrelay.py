"""A one-client UDP NAT on loopback, for NAT tests: tipring talks to `inside` (its registrar
address), the relay forwards from `outside` (another loopback address and port) to the real
registrar, and everything that reaches `outside` goes back to tipring from `inside`, as a
full-cone NAT does. Kamailio then sees the REGISTER come from `outside` and says so with
received/rport. Datagrams that are only CRLFs (keep-alives) are counted with their time.

    with NatRelay(("127.0.0.1", kam_port)) as nat:    # nat.inside: the registrar for tipring
        ...; nat.keepalives -> [monotonic times]
"""

import select
import socket
import threading
import time


class NatRelay:
    def __init__(self, upstream, outside_host="127.0.0.2"):
        self.upstream = tuple(upstream)
        self.inner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inner.bind(("127.0.0.1", 0))
        self.outer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.outer.bind((outside_host, 0))
        self.inside = self.inner.getsockname()
        self.outside = self.outer.getsockname()
        self.client = None          # tipring's address, learnt from its first datagram
        self.keepalives = []        # monotonic time of each CRLF keep-alive from tipring
        self.forwarded = 0
        self._run = True
        self.thread = threading.Thread(target=self._loop, name="natrelay", daemon=True)
        self.thread.start()

    def _loop(self):
        while self._run:
            try:
                ready, _, _ = select.select([self.inner, self.outer], [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, addr = s.recvfrom(65535)
                except OSError:
                    continue
                if s is self.inner:
                    self.client = addr
                    if not data.strip(b"\r\n"):
                        self.keepalives.append(time.monotonic())
                    try:
                        self.outer.sendto(data, self.upstream)
                    except OSError:
                        pass
                elif self.client is not None:
                    self.forwarded += 1
                    try:
                        self.inner.sendto(data, self.client)
                    except OSError:
                        pass

    def stop(self):
        self._run = False
        self.thread.join(2)
        self.inner.close()
        self.outer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
