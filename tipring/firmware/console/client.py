"""`tipring console --connect tcp:HOST:PORT|DEVICE`: attach this terminal to the console.

The terminal goes raw (when stdin is a tty; restored on every exit) so the firmware's shell does
the echo, line editing and tab completion; bytes are relayed both ways with `select`. Ctrl-]
quits, as in telnet. A DEVICE is opened with pyserial at 115200 8N1 (a USB-serial cable on
/dev/ttyUSB0, or the pty the firmware announced in "pty" mode).

When stdin is not a terminal (a script piping commands), its end is not the end of the session:
the client keeps printing what comes back until the firmware has been quiet for a moment.

Exit status: 0 after Ctrl-], the other side closing, or the end of piped input; 1 (with one
clear line on stderr) when it cannot connect.
"""

import os
import select
import socket
import sys

QUIT = b"\x1d"        # Ctrl-]
TERMINAL_HINT = b"\xff\xfb\x18"   # telnet IAC WILL TERMINAL-TYPE: "a terminal is typing"
QUIET_S = 0.5         # after piped input ends: leave once the console is this quiet


class _Link:
    """A byte pipe to the console: a TCP socket or a serial port."""

    def __init__(self, target: str, timeout: float = 5.0):
        self.sock = self.ser = None
        if target.startswith("tcp:"):
            from tipring.firmware.config import parse_hostport
            host, port = parse_hostport(target[4:])
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.setblocking(False)
        else:
            import serial
            self.ser = serial.Serial(target, 115200, timeout=0, write_timeout=0)
            os.set_blocking(self.ser.fileno(), False)

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else self.ser.fileno()

    def recv(self) -> bytes:
        """Bytes available (b"" at the end); None when nothing is there yet."""
        try:
            if self.sock is not None:
                return self.sock.recv(4096)
            return os.read(self.ser.fileno(), 4096)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fileno(), view) if self.ser is not None else self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, InterruptedError):
                select.select([], [self.fileno()], [], 1.0)

    def close(self) -> None:
        for c in (self.sock, self.ser):
            if c is not None:
                try:
                    c.close()
                except OSError:
                    pass


def attach(target: str, stdin=None, stdout=None) -> int:
    """Relay this terminal to the console at `target` until Ctrl-] or the other side closes."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    try:
        link = _Link(target)
    except Exception as e:  # refused, no such device, bad address: one clear line
        reason = getattr(e, "strerror", None) or str(e)
        print("tipring console: cannot connect to %s: %s" % (target, reason), file=sys.stderr)
        return 1
    in_fd, out_fd = stdin.fileno(), stdout.fileno()
    is_tty = os.isatty(in_fd)
    saved = None
    if is_tty:
        import termios
        import tty
        saved = termios.tcgetattr(in_fd)
        print("connected to %s; Ctrl-] quits\r" % target, file=sys.stderr)
        tty.setraw(in_fd)
    try:
        if is_tty and link.sock is not None:
            link.send(TERMINAL_HINT)   # tells the TCP console to echo and edit (no line-mode guess)
        return _relay(link, in_fd, out_fd, is_tty)
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
            print("\r\ndisconnected from %s" % target, file=sys.stderr)
        link.close()


def _relay(link: _Link, in_fd: int, out_fd: int, is_tty: bool) -> int:
    stdin_open = True
    while True:
        watch = [link] + ([in_fd] if stdin_open else [])
        ready = select.select(watch, [], [], None if stdin_open else QUIET_S)[0]
        if not ready:
            return 0  # piped input is done and the console has gone quiet
        if link in ready:
            data = link.recv()
            if data == b"":
                return 0
            if data:
                _write_all(out_fd, data)
        if in_fd in ready:
            data = os.read(in_fd, 1024)
            if not data:
                stdin_open = False
                continue
            if QUIT in data:
                link.send(data[:data.index(QUIT)])
                return 0
            if not is_tty:
                data = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
            link.send(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
