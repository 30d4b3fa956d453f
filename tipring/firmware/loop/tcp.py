"""SIP over TCP and TLS on the event loop: the only place SIP streams meet a socket.

RFC 3261 §18 (transport layer) for stream transports, TLS through Python's `ssl` module.

Rules:
1. Nothing blocks the loop. Connects run non-blocking (EINPROGRESS, then POLLOUT), TLS
   handshakes run on the loop (SSLWantReadError / SSLWantWriteError pick the poll mask), writes
   go through a bounded output buffer per connection; a peer that does not read is cut off when
   its buffer passes `MAX_OUTPUT`, never waited for.
2. One connection per peer address, whichever side opened it: a message for a peer goes over
   the open connection to that address if there is one (§18.1.1, §18.2.2: a response goes back
   over the connection its request came on, which is the peer address the request was read
   from). No RFC 5923 aliasing of inbound connections for our own requests.
3. Framing by Content-Length (§18.3, `StreamFramer`); a message without Content-Length, a bad
   one, or more than `MAX_MESSAGE` octets without a whole message is a framing error: an
   `error` status and the connection is closed (a stream cannot be resynchronised).
4. Every failure is one status callback, never an exception out of the loop:
   `on_status(kind, peer, reason)` with kind
     "error"     bad input on a connection (framing, oversize); it was closed
     "failed"    a connection we needed could not be set up (refused, reset, timeout, TLS
                 handshake or certificate refused): what was queued for `peer` never left
     "lost"      an open connection closed (EOF, reset, slow reader cut off)
     "restored"  a kept connection (see `keep()`) is open again after being lost
5. Kept peers (the registrar / outbound proxy, `keep(peer)`) are reconnected after a loss with
   back-off (1 s doubling to `BACKOFF_MAX`), so the line's flow comes back by itself when the
   registrar does; the firmware re-registers on "restored".

Theory of operation: `StreamTransport` binds `host:port`; for plain TCP it listens there and
accepts connections (bounded by `MAX_CONNECTIONS`). Over TLS it binds the port (Via and Contact
name it) but does not listen: an ATA has no server certificate, so the registrar reaches it over
the connection the ATA opened (Via `alias`, RFC 5923, and the registrar's connection reuse).
`send(data, peer)` finds or opens the connection to `peer`, queues the bytes and flushes what the
socket takes. Each `StreamConnection` is a small state machine:

    connecting --writable, SO_ERROR 0--> open              (TCP)
    connecting --writable, SO_ERROR 0--> handshaking --done--> open   (TLS)
    any --error / EOF / timeout / close()--> closed
"""

import errno
import socket

from tipring.firmware.loop.loop import POLLIN, POLLOUT
from tipring.firmware.sip.message import StreamFramer
from tipring.firmware.sip.headers import SipParseError

try:
    import ssl
except ImportError:  # pragma: no cover - CPython on the Pi always has ssl
    ssl = None

MAX_MESSAGE = 65536      # head + body of one message: the receive buffer's bound
MAX_OUTPUT = 262144      # queued octets per connection before a slow peer is cut off
READ_CHUNK = 65536
READS_PER_WAKE = 8       # bounded: one busy connection must not starve the 20 ms audio tick
CONNECT_TIMEOUT = 10.0   # TCP connect plus TLS handshake
IDLE_TIMEOUT = 900.0     # an inbound connection with no traffic this long is closed
MAX_CONNECTIONS = 64
BACKOFF_MIN = 1.0
BACKOFF_MAX = 32.0

_SOFT_ERRORS = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN)


def tls_client_context(ca_file=None, verify: bool = True, system_cas: bool = True):
    """An `ssl.SSLContext` for SIP over TLS as a client: TLS 1.2 or newer, the server certificate
    checked against `ca_file` (PEM) or the system CAs, and its name against the registrar host
    (`check_hostname`). `verify=False` skips both (a PBX with a self-signed certificate);
    `system_cas=False` without a CA file trusts no one (every handshake is refused).
    Raises OSError (an unreadable CA file) or ssl.SSLError (a CA file that is not PEM)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        if ca_file:
            ctx.load_verify_locations(cafile=ca_file)
        elif system_cas:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _describe(exc) -> str:
    """One line for an exception from a socket or a TLS handshake."""
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate refused: %s" % (exc.verify_message or exc.reason or exc)
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return "TLS error: %s" % (exc.reason or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class StreamConnection:
    """Represents one TCP or TLS connection to `peer` (host, port) on the loop.

    `outbound`: we opened it; `server_name`: the TLS name checked and sent as SNI.
    """

    def __init__(self, transport, sock, peer, outbound: bool, server_name=None):
        self.transport = transport
        self.sock = sock
        self.peer = peer
        self.outbound = outbound
        self.server_name = server_name
        self.state = "connecting" if outbound else "open"
        self.out = bytearray()
        self.framer = StreamFramer(max_head=MAX_MESSAGE, max_body=MAX_MESSAGE)
        self.was_open = not outbound
        self.last_active = transport.loop.now()
        self._mask = 0
        self._timer = None
        self._want_write = False      # TLS: a read needs the socket writable first
        self.fd = sock.fileno()

    def __repr__(self):
        return "<StreamConnection %s:%d %s %s>" % (self.peer[0], self.peer[1],
                                                  "out" if self.outbound else "in", self.state)

    # ------------------------------------------------------------------ poll mask
    def _watch(self):
        if self.state == "closed":
            return
        if self.state == "connecting":
            mask = POLLOUT
        elif self.state == "handshaking":
            mask = POLLOUT if self._want_write else POLLIN
        else:
            mask = POLLIN | (POLLOUT if (self.out or self._want_write) else 0)
        if mask != self._mask:
            self._mask = mask
            self.transport.loop.add_reader(self.fd, self._ready, mask)

    def _ready(self, fd, revents):
        if self.state == "connecting":
            self._connected()
        elif self.state == "handshaking":
            self._handshake()
        elif self.state == "open":
            if revents & POLLOUT:
                self._flush()
            if self.state == "open" and revents & ~POLLOUT:
                self._read()   # POLLIN, or POLLHUP/POLLERR: recv says which
        self._watch()

    def _where(self):
        return "%s:%d (%s)" % (self.peer[0], self.peer[1], self.transport.name)

    # ------------------------------------------------------------------ set-up
    def start_connect(self):
        try:
            rc = self.sock.connect_ex(self.peer)
        except OSError as e:   # e.g. an address the kernel cannot route
            rc = e.errno or errno.EHOSTUNREACH
        if rc not in (0,) + _SOFT_ERRORS:
            raise OSError(rc, errno_text(rc))
        self._timer = self.transport.loop.call_later(CONNECT_TIMEOUT, self._timeout)
        self._watch()

    def _timeout(self):
        self._timer = None
        if self.state in ("connecting", "handshaking"):
            what = "TLS handshake" if self.state == "handshaking" else "connect"
            self.fail("%s to %s timed out after %.0f s" % (what, self._where(), CONNECT_TIMEOUT))

    def _connected(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail("cannot connect to %s: %s" % (self._where(), errno_text(err)))
            return
        if self.transport.tls is None:
            self._opened()
            return
        try:
            self.sock = self.transport.tls.wrap_socket(self.sock, server_side=False,
                                                       do_handshake_on_connect=False,
                                                       server_hostname=self.server_name)
        except (OSError, ValueError) as e:
            self.fail("TLS with %s: %s" % (self._where(), _describe(e)))
            return
        self.state = "handshaking"
        self._handshake()

    def _handshake(self):
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._want_write = False
            return
        except ssl.SSLWantWriteError:
            self._want_write = True
            return
        except (OSError, ValueError) as e:    # SSLError is an OSError
            name = self.server_name or self.peer[0]
            self.fail("TLS handshake with %s (%s:%d) failed: %s" % (name, self.peer[0], self.peer[1], _describe(e)))
            return
        self._want_write = False
        self._opened()

    def _opened(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.state = "open"
        self.was_open = True
        self.last_active = self.transport.loop.now()
        self.transport._opened(self)
        if self.out:
            self._flush()

    # ------------------------------------------------------------------ data
    def write(self, data: bytes) -> None:
        """Queue `data`; flush at once what the socket takes when open."""
        if self.state == "closed":
            raise OSError(errno.ENOTCONN, "connection to %s:%d is closed" % self.peer)
        if len(self.out) + len(data) > MAX_OUTPUT:
            # bounded: a peer that does not read is cut off, never waited for (rule 1)
            self.close("%s:%d does not read: over %d octets queued" % (self.peer[0], self.peer[1], MAX_OUTPUT),
                       "lost")
            return
        self.out += data
        if self.state == "open":
            self._flush()
        self._watch()

    def _flush(self):
        while self.out and self.state == "open":
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return
            except Exception as e:
                if ssl is not None and isinstance(e, ssl.SSLWantWriteError):
                    return
                if ssl is not None and isinstance(e, ssl.SSLWantReadError):
                    self._want_write = False
                    return
                if isinstance(e, (OSError, ValueError)):
                    self.close("connection to %s lost: %s" % (self._where(), _describe(e)), "lost")
                    return
                raise
            if n <= 0:
                return
            del self.out[:n]
            self.last_active = self.transport.loop.now()
        self._want_write = False

    def _read(self):
        for _ in range(READS_PER_WAKE):
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except Exception as e:
                if ssl is not None and isinstance(e, ssl.SSLWantReadError):
                    return
                if ssl is not None and isinstance(e, ssl.SSLWantWriteError):
                    self._want_write = True
                    return
                if isinstance(e, (OSError, ValueError)):
                    self.close("connection to %s lost: %s" % (self._where(), _describe(e)), "lost")
                    return
                raise
            if not data:
                self.close("connection to %s closed by the peer" % self._where(), "lost")
                return
            self.last_active = self.transport.loop.now()
            if not self._frame(data):
                return
        # more may be buffered inside TLS; poll will not say so
        if self.state == "open" and getattr(self.sock, "pending", None) and self.sock.pending():
            self.transport.loop.call_soon(self._ready, self.fd, POLLIN)

    def _frame(self, data) -> bool:
        try:
            msgs = self.framer.feed(data)
        except SipParseError as e:
            self.close("framing error from %s:%d: %s" % (self.peer[0], self.peer[1], e), "error")
            return False
        if self.framer.pending > MAX_MESSAGE:
            self.close("%s:%d sent over %d octets without a whole message"
                       % (self.peer[0], self.peer[1], MAX_MESSAGE), "error")
            return False
        for m in msgs:
            if not _has_length(m):
                # §18.3: Content-Length is mandatory on a stream; without it the end of the
                # message is a guess, so the stream cannot be trusted any further
                self.close("message without Content-Length from %s:%d (RFC 3261 §18.3)"
                           % (self.peer[0], self.peer[1]), "error")
                return False
            self.transport.on_message(m, self.peer)
            if self.state != "open":
                return False
        return True

    # ------------------------------------------------------------------ ending
    def fail(self, reason: str) -> None:
        """Set-up failed: nothing queued went out."""
        self.close(reason, "failed")

    def close(self, reason=None, kind=None) -> None:
        """Close the socket; `kind` ("failed", "lost", "error") reports it through the transport."""
        if self.state == "closed":
            return
        had_out = bool(self.out)
        self.state = "closed"
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self.transport.loop.remove_reader(self.fd)
        except (OSError, ValueError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.out = bytearray()
        self.transport._closed(self, kind, reason, had_out)


def _has_length(msg: bytes) -> bool:
    head = msg.split(b"\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.split(b"\n")[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"content-length" or name == b"l":
            return True
    return False


def errno_text(code) -> str:
    import os
    return os.strerror(code) if code else "ok"


class StreamTransport:
    """Represents SIP over TCP (or TLS with `tls`, an `ssl.SSLContext`) on one local address.

    :param loop: the `EventLoop`.
    :param host, port: the local address (port 0 = any free port); `address` is the bound one.
    :param on_message: called as `on_message(data, peer)` for each whole framed message.
    :param on_status: called as `on_status(kind, peer, reason)`; see the module's rule 4.
    :param tls: an `ssl.SSLContext` (see `tls_client_context`) for SIP over TLS, else None.
    """

    def __init__(self, loop, host: str, port: int, on_message, on_status=None, tls=None):
        self.loop = loop
        self.on_message = on_message
        self.on_status = on_status or (lambda kind, peer, reason: None)
        self.tls = tls
        self.conns = {}          # peer (host, port) -> StreamConnection
        self.names = {}          # peer -> TLS server name (the registrar's host name)
        self.kept = {}           # peer -> [failures, reconnect Timer or None]
        self.stats = {"accepted": 0, "connected": 0, "refused": 0, "lost": 0, "errors": 0}
        self.closed = False
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.family = family
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.setblocking(False)
            self.sock.bind((host, port))
            if tls is None:
                self.sock.listen(16)
        except OSError:
            self.sock.close()
            raise
        self.address = self.sock.getsockname()[:2]
        self.local_host = host
        if tls is None:
            loop.add_reader(self.sock.fileno(), self._accept, POLLIN)

    @property
    def name(self) -> str:
        return "TLS" if self.tls is not None else "TCP"

    def __repr__(self):
        return "<StreamTransport %s %s:%d %d connections>" % (self.name, self.address[0], self.address[1],
                                                              len(self.conns))

    # ------------------------------------------------------------------ inbound
    def _accept(self, fd, revents):
        for _ in range(16):
            try:
                sock, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._report("error", None, "accept: %s" % _describe(e))
                return
            peer = tuple(addr[:2])
            if len(self.conns) >= MAX_CONNECTIONS:
                sock.close()
                self.stats["refused"] += 1
                self._report("error", peer, "refused a connection from %s:%d: %d connections open"
                               % (peer[0], peer[1], MAX_CONNECTIONS))
                continue
            sock.setblocking(False)
            old = self.conns.get(peer)
            if old is not None:
                old.close()
            conn = StreamConnection(self, sock, peer, outbound=False)
            self.conns[peer] = conn
            self.stats["accepted"] += 1
            conn._watch()
            self._arm_idle(conn)

    def _arm_idle(self, conn):
        def check():
            if conn.state != "open" or self.conns.get(conn.peer) is not conn:
                return
            idle = self.loop.now() - conn.last_active
            if idle >= IDLE_TIMEOUT:
                conn.close()
            else:
                self.loop.call_later(IDLE_TIMEOUT - idle, check)
        self.loop.call_later(IDLE_TIMEOUT, check)

    # ------------------------------------------------------------------ outbound
    def set_server_name(self, peer, name: str) -> None:
        """The name a TLS connection to `peer` checks the certificate against and sends as SNI
        (the registrar's host as configured; an IP literal is checked against IP SANs)."""
        self.names[tuple(peer)] = name

    def send(self, data: bytes, peer, fallback=None) -> None:
        """Send one message to `peer` over its connection, opening one if needed. A response
        whose connection is gone goes to `fallback` (§18.2.2: the Via sent-by) instead.
        Raises OSError only when a connection cannot even be started; later failures come
        through `on_status`."""
        peer = tuple(peer[:2])
        conn = self.conns.get(peer)
        if (conn is None or conn.state == "closed") and fallback is not None:
            fb = tuple(fallback[:2])
            if fb != peer:
                peer, conn = fb, self.conns.get(fb)
        if conn is None or conn.state == "closed":
            try:
                conn = self._connect(peer)
            except OSError as e:
                self.stats["refused"] += 1
                self._closed_kept(peer, "connect: %s" % _describe(e), "failed")
                self._report("failed", peer, "cannot connect to %s:%d (%s): %s" % (peer[0], peer[1], self.name,
                                                                                   _describe(e)))
                return
        conn.write(data)

    def _connect(self, peer):
        if self.closed:
            raise OSError(errno.EBADF, "transport closed")
        family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if self.local_host not in ("0.0.0.0", "::") and family == self.family:
                sock.bind((self.local_host, 0))   # leave from the address Via names
        except OSError:
            sock.close()
            raise
        conn = StreamConnection(self, sock, peer, outbound=True, server_name=self.names.get(peer, peer[0]))
        try:
            conn.start_connect()
        except OSError:
            sock.close()
            raise
        self.conns[peer] = conn
        return conn

    def _opened(self, conn):
        self.stats["connected"] += 1
        k = self.kept.get(conn.peer)
        if k is not None:
            restored = k[0] > 0 or k[2]
            k[0], k[2] = 0, False
            if restored:
                self._report("restored", conn.peer, "connection to %s:%d open again" % conn.peer)

    # ------------------------------------------------------------------ keeping a flow up
    def keep(self, peer) -> None:
        """Keep a connection to `peer` up: reconnect with back-off whenever it is lost."""
        peer = tuple(peer[:2])
        if peer not in self.kept:
            self.kept[peer] = [0, None, False]   # failures, reconnect timer, lost since last open

    def unkeep(self, peer) -> None:
        k = self.kept.pop(tuple(peer[:2]), None)
        if k is not None and k[1] is not None:
            k[1].cancel()

    def backoff(self, failures: int) -> float:
        return min(BACKOFF_MIN * (2 ** min(max(failures - 1, 0), 16)), BACKOFF_MAX)

    def _reconnect(self, peer):
        k = self.kept.get(peer)
        if k is None or self.closed:
            return
        k[1] = None
        conn = self.conns.get(peer)
        if conn is not None and conn.state != "closed":
            return
        try:
            self._connect(peer)
        except OSError as e:
            self.stats["refused"] += 1
            self._closed_kept(peer, "connect: %s" % _describe(e), "failed")
            self._report("failed", peer, "cannot connect to %s:%d (%s): %s" % (peer[0], peer[1], self.name, _describe(e)))

    def _closed_kept(self, peer, reason, kind):
        k = self.kept.get(peer)
        if k is None:
            return None
        if kind == "failed":
            k[0] += 1
        else:
            k[2] = True
        delay = self.backoff(max(k[0], 1))
        if k[1] is None:
            k[1] = self.loop.call_later(delay, self._reconnect, peer)
        return delay

    def retry_in(self, peer):
        """Seconds until a kept peer is tried again, or None."""
        k = self.kept.get(tuple(peer[:2]))
        if k is None or k[1] is None:
            return None
        return round(max(k[1].when - self.loop.now(), 0.0), 1)

    # ------------------------------------------------------------------ closing
    def _closed(self, conn, kind, reason, had_out):
        if self.conns.get(conn.peer) is conn:
            del self.conns[conn.peer]
        if kind is None or self.closed:
            return
        if kind == "failed" or (kind == "lost" and not conn.was_open):
            self.stats["refused"] += 1
            kind = "failed"
        elif kind == "lost":
            self.stats["lost"] += 1
        else:
            self.stats["errors"] += 1
        if conn.outbound or conn.peer in self.kept:
            self._closed_kept(conn.peer, reason, kind)
        self._report(kind, conn.peer, reason)

    def _report(self, kind, peer, reason):
        # always from the loop, never from inside send(): the caller is still busy with the
        # outputs that led to the send
        self.loop.call_soon(self.on_status, kind, peer, reason)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for k in self.kept.values():
            if k[1] is not None:
                k[1].cancel()
        self.kept = {}
        for conn in list(self.conns.values()):
            conn.close()
        try:
            self.loop.remove_reader(self.sock.fileno())
        except (OSError, ValueError):
            pass
        self.sock.close()
