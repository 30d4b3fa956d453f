"""Test helpers: play the human at the far end of a console, driving the EventLoop in this thread
until the expected text arrives (a deadline timer keeps a broken test from hanging)."""

import os

from tipring.firmware.loop.loop import EventLoop


class DeadlineExceeded(AssertionError):
    pass


def run_until(loop: EventLoop, cond, timeout: float = 5.0) -> bool:
    """Run `loop` until `cond()` holds or `timeout` seconds of loop time pass; returns cond()."""
    deadline = loop.now() + timeout
    timer = loop.call_at(deadline, lambda: None)   # wakes poll() for the deadline check
    try:
        loop.run(until=lambda: cond() or loop.now() >= deadline)
    finally:
        timer.cancel()
    return bool(cond())


def run_until_exit(loop: EventLoop, proc, timeout: float = 20.0) -> int:
    """Run `loop` (serving the console) until the subprocess `proc` exits; its return code."""
    def reap():
        if proc.poll() is None:
            loop.call_later(0.02, reap)
    reap()
    if not run_until(loop, lambda: proc.poll() is not None, timeout):
        raise DeadlineExceeded("the subprocess did not exit within %g s" % timeout)
    return proc.returncode


class Human:
    """The far end of a console: writes keystrokes to `fd` (a pty master or a socket) and
    collects what the console writes back, by running `loop` until it shows up."""

    def __init__(self, loop: EventLoop, fd, sock=None):
        self.loop = loop
        self.fd = fd if isinstance(fd, int) else fd.fileno()
        self.sock = sock
        self.buf = b""
        self.mark = 0
        self.eof = False
        loop.add_reader(self.fd, self._on_read)

    def _on_read(self, fd, revents):
        try:
            data = self.sock.recv(65536) if self.sock is not None else os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            self.loop.remove_reader(fd)
        self.buf += data

    def type(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            os.write(self.fd, data)

    def wait_for(self, cond, timeout: float = 5.0) -> None:
        if not run_until(self.loop, cond, timeout):
            raise DeadlineExceeded("timed out; the console wrote since the last mark:\n%r"
                                   % self.buf[self.mark:])

    def expect(self, token: bytes, timeout: float = 5.0) -> bytes:
        """Run the loop until `token` appears after the last mark; return the text up to it
        and move the mark past it."""
        self.wait_for(lambda: token in self.buf[self.mark:], timeout)
        end = self.buf.index(token, self.mark) + len(token)
        text, self.mark = self.buf[self.mark:end], end
        return text

    def command(self, line: str, prompt: bytes = b"\r\ntipring> ") -> str:
        """Type a line and return everything up to the next prompt (at the start of a line;
        a redraw after ctrl-U starts with CR only), decoded."""
        self.type(line.encode() + b"\r")
        return self.expect(prompt).decode("utf-8", "replace")

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
