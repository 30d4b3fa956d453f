"""UDP endpoint on the event loop: the only place SIP datagrams meet a socket.

Binds `host:port` (port 0 = any free port), reads ready datagrams without blocking and hands
`(data, (host, port))` to a callback: at most `batch` per loop turn, so a flooded signalling
socket gives the loop back to media and timers after a bounded slice of work (the kernel keeps
the rest; poll() reports the socket ready again next turn). An RTP endpoint is `media=True`:
the loop serves it first. `send()` never blocks (a full socket buffer drops the
datagram and counts it, as UDP would on the wire; SIP retransmits).
"""

import errno
import socket

from tipring.firmware.loop.loop import POLLIN

MAX_DATAGRAM = 65535


class UdpEndpoint:
    """A non-blocking UDP socket registered with an `EventLoop`."""

    def __init__(self, loop, host: str, port: int, on_datagram, on_error=None, media: bool = False,
                 batch: int = 64):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.loop = loop
        self.on_datagram = on_datagram
        self.on_error = on_error
        self.dropped = 0
        self.batch = batch
        self.address = self.sock.getsockname()[:2]
        loop.add_reader(self.sock.fileno(), self._readable, POLLIN, media=media)
        self._closed = False

    def _readable(self, fd, revents) -> None:
        for _ in range(self.batch):  # bounded: one busy socket must not starve the audio
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # ICMP port unreachable from an earlier send surfaces here on Linux
                if self.on_error:
                    self.on_error(e)
                continue
            self.on_datagram(data, addr[:2])

    def send(self, data: bytes, addr) -> bool:
        try:
            self.sock.sendto(data, addr)
            return True
        except (BlockingIOError, InterruptedError):
            self.dropped += 1
            return False
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                if self.on_error:
                    self.on_error(e)
                return False
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.loop.remove_reader(self.sock.fileno())
        except (OSError, ValueError):
            pass
        self.sock.close()

    def __repr__(self):
        return "<UdpEndpoint %s:%d%s>" % (self.address[0], self.address[1], " closed" if self._closed else "")
