"""Ending a test peer's process group, whatever state it is in (shared by every peer helper)."""

import os
import signal
import subprocess


def end_group(proc, term_wait: float = 0.0) -> None:
    """SIGTERM the group and wait up to `term_wait` s (when > 0), then SIGKILL what is left.
    Peers run with start_new_session=True, so their forked children go too."""
    if proc.poll() is None and term_wait > 0:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(term_wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)
