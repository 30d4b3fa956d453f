"""The event loop: one thread, poll() over file descriptors, a timer heap, a wake-up pipe."""

from tipring.firmware.loop.clock import MonotonicClock, VirtualClock
from tipring.firmware.loop.loop import EventLoop, Timer

__all__ = ["EventLoop", "Timer", "MonotonicClock", "VirtualClock"]
