"""The small event loop every part of tipring runs in.

Rules it keeps:
1. One thread. Sockets, ALSA PCM descriptors, the console and the sim control port are all
   polled here with `select.poll()`; protocol cores never block and never see a socket.
2. Other threads (gpiozero's pin callbacks, signal handlers) only ever call
   `call_soon_threadsafe()`, which queues a callback and writes one byte to the wake-up pipe.
3. Time comes from an injectable clock. With a `VirtualClock` and nothing ready to read, the
   loop jumps the clock straight to the next timer, so tests of minutes of timers take
   microseconds and never sleep.
4. A handler that raises is reported through `on_error(where, exc)` (the firmware logs it as an
   `error` event) and the loop goes on: bad input never stops the loop.

5. Media first. A descriptor added with `media=True` (RTP sockets, ALSA PCM) is dispatched
   before any other in a turn, and due timers (the sim board's 20 ms media clock, RTP and
   jitter-buffer deadlines) run before the other descriptors; readers of signalling sockets
   bound their own work per turn (tipring/firmware/loop/udp.py). So a SIP flood delays a frame by at
   most one bounded batch of SIP work, never by the whole backlog.

Theory of operation: `run()` repeats `run_once()`: compute the poll timeout from the earliest
timer, poll, dispatch ready media descriptors, run due timers, dispatch the other ready
descriptors, then run queued thread-safe calls.
Timers are (when, seq, Timer) in a heap; cancelling marks the timer and it is skipped when popped.
Cancelled timers far in the future (a 60 s no-answer timer per call) would pile up in the heap
between pops, so once they are most of it the heap is rebuilt without them.
"""

import heapq
import os
import select
import sys
import traceback

from tipring.firmware.loop.clock import MonotonicClock

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
_POLL_ERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


class Timer:
    """A scheduled call; `cancel()` is idempotent."""

    __slots__ = ("when", "callback", "args", "cancelled", "_seq", "_loop")

    def __init__(self, when: float, callback, args: tuple, seq: int, loop=None):
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False
        self._seq = seq
        self._loop = loop

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self._loop is not None:
                self._loop._timer_cancelled()

    def __lt__(self, other):
        return (self.when, self._seq) < (other.when, other._seq)

    def __repr__(self):
        name = getattr(self.callback, "__qualname__", repr(self.callback))
        return "<Timer %s at %.3f%s>" % (name, self.when, " cancelled" if self.cancelled else "")


class EventLoop:
    """Runs callbacks when descriptors are ready, timers fall due, or other threads ask.

    :param clock: an object with `now()`; `MonotonicClock()` when omitted.
    :param on_error: called as `on_error(where, exc)` when a handler raises; the default prints
        the traceback to stderr.
    """

    def __init__(self, clock=None, on_error=None):
        self.clock = clock or MonotonicClock()
        self.on_error = on_error or self._print_error
        self._poll = select.poll()
        self._readers = {}   # fd -> (callback, eventmask, media)
        self._timers = []
        self._cancelled = 0  # cancelled timers still in the heap
        self._seq = 0
        self._pending = []   # thread-safe calls
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poll.register(self._wake_r, POLLIN)
        self._closed = False

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        return self.clock.now()

    def call_at(self, when: float, callback, *args) -> Timer:
        self._seq += 1
        t = Timer(when, callback, args, self._seq, self)
        heapq.heappush(self._timers, t)
        return t

    def _timer_cancelled(self) -> None:
        self._cancelled += 1
        if self._cancelled > 64 and self._cancelled * 2 > len(self._timers):
            self._timers = [t for t in self._timers if not t.cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0

    def call_later(self, delay: float, callback, *args) -> Timer:
        return self.call_at(self.clock.now() + delay, callback, *args)

    def next_deadline(self):
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
            self._cancelled -= 1
        return self._timers[0].when if self._timers else None

    # ------------------------------------------------------------------ descriptors
    def add_reader(self, fd, callback, events: int = POLLIN, media: bool = False) -> None:
        """Call `callback(fd, revents)` whenever `fd` is ready for `events`; `media=True`
        puts it ahead of every other descriptor and of the timers in each turn (rule 5).
        Changing an existing reader keeps its `media` flag unless given again."""
        fd = fd if isinstance(fd, int) else fd.fileno()
        old = self._readers.get(fd)
        if old is not None:
            self._poll.modify(fd, events)
            media = media or old[2]
        else:
            self._poll.register(fd, events)
        self._readers[fd] = (callback, events, media)

    def remove_reader(self, fd) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        if self._readers.pop(fd, None) is not None:
            try:
                self._poll.unregister(fd)
            except (KeyError, ValueError):
                pass

    # ------------------------------------------------------------------ threads
    def call_soon_threadsafe(self, callback, *args) -> None:
        """Queue `callback(*args)` from any thread (or a signal handler) and wake the loop."""
        self._pending.append((callback, args))  # list.append is atomic under the GIL
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the loop is awake anyway

    def call_soon(self, callback, *args) -> None:
        self.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------------ running
    def stop(self) -> None:
        self._stopping = True
        self.call_soon_threadsafe(lambda: None)

    def run(self, until=None) -> None:
        """Run until `stop()` (or until the callable `until()` returns true)."""
        self._stopping = False
        while not self._stopping:
            if until is not None and until():
                return
            self.run_once()

    def run_for(self, seconds: float) -> None:
        """Run for `seconds` of loop time (virtual or real)."""
        end = self.clock.now() + seconds
        marker = self.call_at(end, lambda: None)
        while self.clock.now() < end and not self._stopping:
            self.run_once()
        marker.cancel()

    def run_once(self, max_wait: float = 3600.0) -> None:
        deadline = self.next_deadline()
        now = self.clock.now()
        if self._pending:
            wait = 0.0
        elif deadline is None:
            wait = max_wait
        else:
            wait = min(max(deadline - now, 0.0), max_wait)
        virtual = getattr(self.clock, "virtual", False)
        timeout_ms = 0 if virtual else int(wait * 1000 + 0.999)
        try:
            ready = self._poll.poll(timeout_ms)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            ready = []
        if virtual and not ready and not self._pending and deadline is not None:
            self.clock.set(deadline)
        later = None
        for fd, revents in ready:
            if fd == self._wake_r:
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
                continue
            entry = self._readers.get(fd)
            if entry is None:
                continue
            if entry[2]:
                self._dispatch("fd %d" % fd, entry[0], (fd, revents))
            elif later is None:
                later = [(fd, revents)]
            else:
                later.append((fd, revents))
        self._run_timers()
        if later is not None:
            for fd, revents in later:
                entry = self._readers.get(fd)  # an earlier handler may have closed it
                if entry is not None:
                    self._dispatch("fd %d" % fd, entry[0], (fd, revents))
        self._run_pending()

    def _run_timers(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0].when <= now:
            t = heapq.heappop(self._timers)
            if t.cancelled:
                self._cancelled -= 1
                continue
            t.cancelled = True  # a fired timer cannot be cancelled again or fire twice
            t._loop = None
            self._dispatch(getattr(t.callback, "__qualname__", "timer"), t.callback, t.args)

    def _run_pending(self) -> None:
        if not self._pending:
            return
        todo, self._pending = self._pending, []
        for cb, args in todo:
            self._dispatch(getattr(cb, "__qualname__", "call"), cb, args)

    def _dispatch(self, where, callback, args) -> None:
        try:
            callback(*args)
        except Exception as exc:  # the loop survives any handler: rule 4
            try:
                self.on_error(where, exc)
            except Exception:  # pragma: no cover - an error reporter that fails
                traceback.print_exc()

    @staticmethod
    def _print_error(where, exc) -> None:
        print("tipring: error in %s: %s" % (where, exc), file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
