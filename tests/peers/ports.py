"""Loopback ports for the real peers (Kamailio, baresip, SIPp, tipring itself) in tests.

Why not "bind port 0, close, hand the number out": the kernel gives the same ephemeral range to
every process on the machine (other pytest runs, outgoing TCP connections, tipring's own bind-0
sockets), so between our close and the peer's bind another process can take the port, and the
peer dies with "Address already in use". Two measures, each enough for most races:

1. Each test process claims a slice of its own (SLICE ports) in 6000..15999, below both the
   kernel's ephemeral range (32768-60999 here) and the RTP ports tipring picks (16384-32767).
   A slice is claimed by holding an exclusive flock on a lock file in the temp directory for
   the life of the process, so parallel pytest processes (or xdist workers) never share one,
   and a crashed process frees its slice with its file descriptors. Inside the slice ports are
   handed out in turn, each checked free for UDP and TCP first (a peer left over from a killed
   run, or an unrelated listener, is skipped).
2. The peer helpers (baresip.py, kamailio.py) retry their start on a fresh set of ports when
   the peer exits early or logs a bind failure (`start_with_retries`, up to TRIES times).

With more than SLICES processes at once the extra ones fall back to the kernel's choice (the old
way), and the retries still cover them. Everything binds 127.0.0.1 only.
"""

import os
import socket
import tempfile

LOW, HIGH = 6000, 16000     # [LOW, HIGH): below ephemeral ports and tipring's RTP range
SLICE = 500
SLICES = (HIGH - LOW) // SLICE
TRIES = 3
LOCK_DIR = os.path.join(tempfile.gettempdir(), "tipring-test-ports")

BIND_FAILED = ("Address already in use", "address already in use")


class PortInUse(RuntimeError):
    """A peer could not bind one of the ports it was given (another process took it)."""


class _Slice:
    """The slice this process holds (or None: fall back to the kernel), and where we are in it."""

    def __init__(self):
        self.pid = None
        self.fd = None
        self.base = None
        self.next = 0

    def claim(self) -> None:
        if self.pid == os.getpid():
            return
        # a forked child must not hand out its parent's ports: it claims a slice of its own
        self.pid, self.fd, self.base, self.next = os.getpid(), None, None, 0
        try:
            import fcntl
            if not os.path.isdir(LOCK_DIR):
                os.makedirs(LOCK_DIR, exist_ok=True)
                os.chmod(LOCK_DIR, 0o1777)    # other users' runs share the slices (sticky, as /tmp)
        except (ImportError, OSError):
            return
        start = os.getpid() % SLICES      # spread first tries so processes rarely contend
        for k in range(SLICES):
            n = (start + k) % SLICES
            try:
                fd = os.open(os.path.join(LOCK_DIR, "slice-%02d.lock" % n), os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            try:
                os.fchmod(fd, 0o666)            # lockable by another user's run too
            except OSError:
                pass
            os.truncate(fd, 0)
            os.write(fd, b"%d\n" % os.getpid())     # who holds it, for a person looking
            self.fd, self.base = fd, LOW + n * SLICE
            return

    def take(self, n: int, align: int) -> int:
        """The first base in our slice, from the cursor on, with base..base+n-1 all free."""
        for _ in range(SLICE):
            off = self.next
            off += (-(self.base + off)) % align
            if off + n > SLICE:
                off = (-self.base) % align
            self.next = off + n
            if self.next >= SLICE:
                self.next = 0
            if all_free(self.base + off, n):
                return self.base + off
        raise RuntimeError("no %d free ports in %d..%d" % (n, self.base, self.base + SLICE - 1))


_slice = _Slice()


def slice_range():
    """(first, last) port of this process's slice, or None when it fell back to the kernel."""
    _slice.claim()
    return None if _slice.base is None else (_slice.base, _slice.base + SLICE - 1)


def is_free(port: int) -> bool:
    """Can we bind `port` on 127.0.0.1 for both UDP and TCP right now?"""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def all_free(base: int, n: int) -> bool:
    return all(is_free(p) for p in range(base, base + n))


def _kernel_block(n: int, align: int) -> int:
    """The old way, for when no slice is left: a kernel-chosen port with the rest after it."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        p -= p % align
        if p + n <= 65536 and all_free(p, n):
            return p
    raise RuntimeError("no %d free ports" % n)


def free_block(n: int = 1, align: int = 1) -> int:
    """A port P (a multiple of `align`) with P..P+n-1 free for UDP and TCP on 127.0.0.1."""
    _slice.claim()
    if _slice.base is None:
        return _kernel_block(n, align)
    return _slice.take(n, align)


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1, from this process's slice."""
    return free_block(1)


def free_media_port() -> int:
    """An even port P with P..P+3 free (SIPp binds audio RTP/RTCP at P, P+1 and video at P+2,
    P+3)."""
    return free_block(4, 2)


def bind_failed(log: str) -> bool:
    """Does a peer's log say one of its binds failed?"""
    return any(m in log for m in BIND_FAILED)


def start_with_retries(start, tries: int = TRIES):
    """Call `start(attempt)` until it does not raise PortInUse, at most `tries` times; `start`
    picks fresh ports each time and cleans up after itself before raising."""
    for attempt in range(tries):
        try:
            return start(attempt)
        except PortInUse:
            if attempt == tries - 1:
                raise
