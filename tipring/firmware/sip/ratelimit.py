"""Per-source admission of new SIP requests, so that no sender can take the ATA's time.

What it owns: the decision whether a request that would open a new server transaction (or
reach the transaction user as a stray ACK, or draw a 400) is worth any work at all. A
retransmission of a live transaction and any response are never limited: they are cheap and
they belong to work we started.

Rules:
1. Token buckets (RFC 2697's single-rate idea, simplified): each source host has `rate`
   requests/s with bursts of `burst`; every source that is not trusted also draws from one
   shared bucket (`total_rate`, `total_burst`), so a flood from many addresses (spoofed,
   or a botnet) is bounded as a whole. The line's own registrar and proxy are trusted: they
   carry every call, so they get a bucket of their own (`trusted_rate`), keyed by exact
   address, that strangers cannot drain.
2. A refused request gets nothing: no answer, no transaction, no event per message. Answering a
   flood would make the ATA a reflector (RFC 3261 §26.3.2.4 asks a UA not to be one);
   RFC 3261 §21.5.4 503 is for overload a peer can act on, which a scanner will not.
3. Bounded memory: at most `max_sources` buckets; when full, the oldest is forgotten (a
   forgotten source starts again with a full bucket, still under the shared one).
4. Sans-IO: takes `now`; no clock, socket or thread. Portable to MicroPython.

`limited` counts refused requests, `sources` the buckets kept; `episode()` tells the caller
when to report (once when limiting starts, then at most every `report_every` seconds).
"""


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float):
        self.tokens = tokens
        self.stamp = stamp


class RequestLimiter:
    """Represents the admission control of new requests, per source and overall.

    :param rate, burst: a stranger's requests per second and burst size.
    :param trusted_rate, trusted_burst: the same for the line's registrar/proxy.
    :param total_rate, total_burst: every stranger together.
    :param max_sources: buckets kept at most.
    :param is_trusted: `is_trusted(host, port) -> bool`; none trusted when omitted.
    """

    def __init__(self, rate: float = 20.0, burst: float = 40.0, trusted_rate: float = 500.0,
                 trusted_burst: float = 1000.0, total_rate: float = 200.0, total_burst: float = 400.0,
                 max_sources: int = 512, is_trusted=None, report_every: float = 10.0):
        self.rate = rate
        self.burst = burst
        self.trusted_rate = trusted_rate
        self.trusted_burst = trusted_burst
        self.total_rate = total_rate
        self.total_burst = total_burst
        self.max_sources = max_sources
        self.is_trusted = is_trusted
        self.report_every = report_every
        self._buckets = {}
        self._total = _Bucket(total_burst, 0.0)
        self.limited = 0
        self._reported_at = None
        self._reported_count = 0

    @property
    def sources(self) -> int:
        return len(self._buckets)

    def _take(self, b: _Bucket, rate: float, burst: float, now: float) -> bool:
        if now > b.stamp:
            b.tokens = min(burst, b.tokens + (now - b.stamp) * rate)
            b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        return False

    def admit(self, host: str, port: int, now: float) -> bool:
        """True when a new request from host:port may be handled now; counts a refusal."""
        trusted = self.is_trusted is not None and self.is_trusted(host, port)
        key = (host, port) if trusted else host
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_sources:
                del self._buckets[next(iter(self._buckets))]  # the oldest (dict order)
            b = self._buckets[key] = _Bucket(self.trusted_burst if trusted else self.burst, now)
        if trusted:
            ok = self._take(b, self.trusted_rate, self.trusted_burst, now)
        else:
            # the source's own bucket first, so one noisy source cannot empty the shared one
            ok = self._take(b, self.rate, self.burst, now) and \
                self._take(self._total, self.total_rate, self.total_burst, now)
        if not ok:
            self.limited += 1
        return ok

    def episode(self, now: float):
        """How many requests were refused since the last report, when a report is due now
        (the first refusal, then at most every `report_every` s); else None."""
        new = self.limited - self._reported_count
        if new <= 0:
            return None
        if self._reported_at is not None and now - self._reported_at < self.report_every:
            return None
        self._reported_at = now
        self._reported_count = self.limited
        return new
