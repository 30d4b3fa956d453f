"""The JSON event log of INTERFACES.md: one object per line, flushed as it happens.

`{"t": <seconds since start>, "event": "<name>", ...}`. Tests and people follow the firmware
through it, so every state change worth knowing goes here, and nothing secret ever does: values
of keys named like a password are masked before they are written. The last events are also kept
in memory for the console's `show log`.
"""

import json
import sys
from collections import deque

SECRET_KEYS = ("password", "passwd", "secret", "ha1", "authorization")


def mask_secrets(fields: dict) -> dict:
    out = {}
    for k, v in fields.items():
        if any(s in k.lower() for s in SECRET_KEYS) and v not in (None, ""):
            out[k] = "****"
        else:
            out[k] = v
    return out


class EventLog:
    """Writes events to a stream (`-` = stdout), a file path, or nowhere; keeps the last N."""

    def __init__(self, target=None, clock=None, keep: int = 500):
        import time
        self._clock = clock
        self._t0 = clock.now() if clock else time.monotonic()
        self._mono = time.monotonic
        self._owned = False
        if target is None:
            self._out = None
        elif target == "-":
            self._out = sys.stdout
        elif isinstance(target, str):
            self._out = open(target, "a", buffering=1, encoding="utf-8")
            self._owned = True
        else:
            self._out = target
        self.recent = deque(maxlen=keep)
        self._listeners = []

    def elapsed(self) -> float:
        now = self._clock.now() if self._clock else self._mono()
        return now - self._t0

    def subscribe(self, fn) -> None:
        """Call `fn(event_dict)` for each event (the console's trace, the demo's narration)."""
        self._listeners.append(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def emit(self, event: str, **fields) -> dict:
        rec = {"t": round(self.elapsed(), 4), "event": event}
        rec.update(mask_secrets(fields))
        self.recent.append(rec)
        if self._out is not None:
            try:
                self._out.write(json.dumps(rec, default=str) + "\n")
                self._out.flush()
            except (OSError, ValueError):
                pass  # a full disk or closed pipe must not stop the phone
        for fn in list(self._listeners):
            try:
                fn(rec)
            except Exception:
                pass
        return rec

    def error(self, where: str, message: str, **fields) -> dict:
        return self.emit("error", where=where, message=message, **fields)

    def close(self) -> None:
        if self._owned and self._out is not None:
            try:
                self._out.close()
            except OSError:
                pass
        self._out = None
