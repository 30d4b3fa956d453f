"""The console's transports on the firmware's EventLoop: TCP, a serial device, or a pty.

Sample config line: `[console] listen = "tcp:127.0.0.1:7100"` (or "/dev/ttyAMA0", "pty", "off").

Rules:
1. Never block the loop. Every descriptor is non-blocking; output is queued per connection and
   written as the descriptor accepts it (POLLOUT), bounded at `MAX_QUEUE` bytes: a client that
   does not read loses output, never the loop's time.
2. Never raise out of a loop callback. A client that disconnects, a device that vanishes, bytes
   that are not UTF-8 or a 5000-character line end in a clean-up or a clear error line.
3. Each connection has its own `Shell`. TCP takes several clients at once; a serial device or
   pty is one session, started again after `exit` and reopened after the device goes away
   (a USB-serial cable pulled and plugged back).
4. Login: a console password (`console.password_hash`) is asked for whenever one is set; a TCP
   console bound beyond loopback always asks, and refuses clients while no password is set.

Serial devices are opened with pyserial (`serial.Serial(path, 115200, timeout=0)`: 8N1, raw
termios); reads and writes then go straight to its non-blocking descriptor, because pyserial's
own `write` spins when a non-blocking port is full. In "pty" mode the server opens a pty pair,
keeps the master (and the slave open, so the master never hangs up) and announces the slave path
as `address` and in a `console` event: attach with `tipring console --connect /dev/pts/N`.
"""

import errno
import ipaddress
import os
import select
import socket
import tty

from tipring.firmware.config import parse_hostport
from tipring.firmware.console.shell import LoginGuard, Shell
from tipring.firmware.loop.loop import POLLIN, POLLOUT

MAX_QUEUE = 256 * 1024
MAX_CLIENTS = 8
READ_SIZE = 4096
REOPEN_S = 2.0
BAUD = 115200
_HUP = select.POLLERR | select.POLLHUP | select.POLLNVAL


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Conn:
    """One console session over one descriptor: its Shell, its output queue, its way to close."""

    def __init__(self, server, fd: int, kind: str, peer: str, close_fn):
        self.server = server
        self.fd = fd
        self.kind = kind
        self.peer = peer
        self.close_fn = close_fn
        self.out = bytearray()
        self.dropped = False
        self.closed = False
        self.shell = None

    def queue(self, data: bytes) -> None:
        if self.closed or not data:
            return
        if len(self.out) + len(data) > MAX_QUEUE:
            self.dropped = True
            return
        self.out += data
        self.flush()

    def flush(self) -> None:
        if self.closed:
            return
        if self.dropped and len(self.out) < MAX_QUEUE // 2:
            self.dropped = False
            self.out += b"\r\n[console: output dropped: the other side was not reading]\r\n"
        while self.out:
            try:
                n = os.write(self.fd, self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.server._drop(self, "write failed")
                return
            if n <= 0:
                break
            del self.out[:n]
        self.server.loop.add_reader(self.fd, self.server._on_ready, POLLIN | (POLLOUT if self.out else 0))


class ConsoleServer:
    """Represents the console as configured by `console.listen` on an EventLoop.

    :param loop: the firmware's `EventLoop`.
    :param app: the facade of docs/console-app-api.md (each session's Shell uses it).
    :param listen: "tcp:HOST:PORT" (port 0: any free port), a device path such as
        "/dev/ttyAMA0", "pty", or "off".
    :param max_clients: TCP sessions at once; more are told so and closed.

    `address` is where the console is ("tcp:127.0.0.1:7100" with the real port, the device or
    pty slave path), None when off or when it could not start; then `error` says why (also
    logged as an `error` event): a port in use never stops the firmware. A serial device that
    is missing is retried every REOPEN_S seconds. `close()` ends every session; idempotent.
    """

    def __init__(self, loop, app, listen: str, *, max_clients: int = MAX_CLIENTS):
        self.loop = loop
        self.app = app
        self.listen = listen or "off"
        self.max_clients = max_clients
        self.address = None
        self.conns = {}          # fd -> _Conn
        self._listener = None
        self._loopback = True
        self._serial = None
        self._pty_slave = None
        self._reopen_timer = None
        self._closed = False
        self.guard = LoginGuard()     # wrong passwords count across sessions and reconnects
        self.error = None
        try:
            if self.listen == "off":
                return
            if self.listen.startswith("tcp:"):
                self._start_tcp(self.listen[4:])
            elif self.listen == "pty":
                self._start_pty()
            else:
                self.address = self.listen
                self._open_serial()
        except (OSError, ValueError) as e:  # a console that cannot start must not stop the phone
            self.error = "console %s unavailable: %s" % (self.listen, getattr(e, "strerror", None) or e)
            self._error(self.error)
            self.close()
            self.address = None

    def __repr__(self):
        return "<ConsoleServer %s, %d session%s>" % (self.address or "off", len(self.conns),
                                                     "" if len(self.conns) == 1 else "s")

    @property
    def clients(self) -> int:
        return len(self.conns)

    # ------------------------------------------------------------ events
    def _event(self, name: str, **fields) -> None:
        try:
            self.app.events.emit(name, **fields)
        except Exception:
            pass

    def _error(self, message: str) -> None:
        try:
            self.app.events.error("console", message)
        except Exception:
            pass

    def _need_login(self) -> bool:
        try:
            has_pw = bool(self.app.config.console.get("password_hash"))
        except Exception:
            has_pw = False
        return has_pw or not self._loopback

    # ------------------------------------------------------------ TCP
    def _start_tcp(self, hostport: str) -> None:
        host, port = parse_hostport(hostport, allow_zero=True)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(8)
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        self._listener = s
        self._loopback = is_loopback(host)
        real = s.getsockname()[1]
        self.address = "tcp:%s:%d" % ("[%s]" % host if fam == socket.AF_INET6 else host, real)
        self.loop.add_reader(s.fileno(), self._on_accept)
        self._event("console", state="listening", address=self.address,
                    login="always" if not self._loopback else "when a password is set")

    def _on_accept(self, fd: int, revents: int) -> None:
        try:
            sock, addr = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._error("accept failed: %s" % e)
            return
        sock.setblocking(False)
        peer = "%s:%d" % (addr[0], addr[1])
        if len(self.conns) >= self.max_clients:
            self._refuse(sock, "console: too many sessions (%d); try again later" % self.max_clients)
            return
        if not self._loopback and not self._has_password():
            self._refuse(sock, "console: login is required on %s but no console password is set; "
                               "set one with passwd on the serial console or on loopback" % self.address)
            self._error("refused console client %s: no console password set" % peer)
            return
        conn = _Conn(self, sock.fileno(), "tcp", peer, sock.close)
        conn.sock = sock
        self._start_session(conn, interactive=None)

    def _has_password(self) -> bool:
        try:
            return bool(self.app.config.console.get("password_hash"))
        except Exception:
            return False

    @staticmethod
    def _refuse(sock, message: str) -> None:
        try:
            sock.send((message + "\r\n").encode())
        except OSError:
            pass
        sock.close()

    # ------------------------------------------------------------ serial and pty
    def _open_serial(self) -> None:
        self._reopen_timer = None
        if self._closed:
            return
        import serial
        try:
            ser = serial.Serial(self.listen, BAUD, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            self._error("cannot open console device %s: %s; retrying every %g s" % (self.listen, e, REOPEN_S))
            self._reopen_timer = self.loop.call_later(REOPEN_S, self._open_serial)
            return
        os.set_blocking(ser.fileno(), False)
        self._serial = ser
        conn = _Conn(self, ser.fileno(), "serial", self.listen, ser.close)
        self._event("console", state="open", address=self.listen)
        self._start_session(conn, interactive=True)

    def _start_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)          # no echo or line editing by the kernel: the shell does that
        os.set_blocking(master, False)
        self._pty_slave = slave
        self.address = os.ttyname(slave)
        conn = _Conn(self, master, "pty", self.address, lambda: os.close(master))
        self._event("console", state="listening", address=self.address, transport="pty")
        self._start_session(conn, interactive=True)

    # ------------------------------------------------------------ sessions
    def _start_session(self, conn: _Conn, interactive) -> None:
        conn.shell = Shell(self.app, interactive, self._need_login(), loop=self.loop,
                           write=conn.queue, source="%s %s" % (conn.kind, conn.peer), guard=self.guard)
        self.conns[conn.fd] = conn
        self.loop.add_reader(conn.fd, self._on_ready, POLLIN)
        if conn.kind == "tcp":
            self._event("console", state="connected", peer=conn.peer)
        conn.queue(conn.shell.start())

    def _on_ready(self, fd: int, revents: int) -> None:
        conn = self.conns.get(fd)
        if conn is None:
            self.loop.remove_reader(fd)
            return
        if revents & POLLOUT:
            conn.flush()
        if revents & POLLIN or revents & _HUP:
            try:
                data = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._drop(conn, "read failed: %s" % (errno.errorcode.get(e.errno, e),))
                return
            if not data:
                self._drop(conn, "closed by the other side")
                return
            self._feed(conn, data)

    def _feed(self, conn: _Conn, data: bytes) -> None:
        try:
            out = conn.shell.feed(data)
        except Exception as e:  # a shell bug must not take the console down
            self._error("console session %s: %s: %s" % (conn.peer, type(e).__name__, e))
            out = b"\r\nerror: internal console error; see show log\r\n" + conn.shell.editor.prompt_bytes()
        conn.queue(out)
        if conn.shell.closed:
            if conn.kind == "tcp":
                self._drop(conn, "exit")
            else:  # a serial line or pty stays: a fresh session for whoever types next
                conn.shell = Shell(self.app, True, self._need_login(), loop=self.loop,
                                   write=conn.queue, source="%s %s" % (conn.kind, conn.peer),
                                   guard=self.guard)
                conn.queue(conn.shell.start())

    def _drop(self, conn: _Conn, why: str) -> None:
        if conn.closed:
            return
        if conn.out:  # one last non-blocking try, so "bye" reaches the client
            try:
                os.write(conn.fd, conn.out)
            except OSError:
                pass
        conn.closed = True
        self.conns.pop(conn.fd, None)
        self.loop.remove_reader(conn.fd)
        if conn.shell is not None:
            conn.shell.close()
        try:
            conn.close_fn()
        except OSError:
            pass
        if conn.kind == "tcp":
            self._event("console", state="disconnected", peer=conn.peer, reason=why)
        elif conn.kind == "serial" and not self._closed:
            self._serial = None
            self._error("console device %s: %s; reopening" % (self.listen, why))
            self._reopen_timer = self.loop.call_later(REOPEN_S, self._open_serial)

    def close(self) -> None:
        """Close every session and the listener; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._reopen_timer is not None:
            self._reopen_timer.cancel()
            self._reopen_timer = None
        for conn in list(self.conns.values()):
            self._drop(conn, "console closed")
        if self._listener is not None:
            self.loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        if self._pty_slave is not None:
            try:
                os.close(self._pty_slave)
            except OSError:
                pass
            self._pty_slave = None
