"""Locating a SIP server: RFC 3263 §4 (which transport, port and address a request goes to),
with the SRV target ordering of RFC 2782.

Rules:
1. Sans-IO. `Locator` never queries anything: it says which DNS question it needs answered next
   (`next_query()` -> (name, rdtype) or None when it is done) and is told the answer
   (`answer(records)`, or `fail(reason)` when the DNS gave none: timeout, SERVFAIL). The query
   machinery (dnspython, worker thread, TTL cache) lives in `tipring/firmware/loop/resolver.py`.
2. Randomness (SRV weights) is injected: `rand()` returns a float in [0, 1), so a test seeds it.
3. Records are plain tuples, as they come off the wire:
   NAPTR (order, preference, flags, service, regexp, replacement), SRV (priority, weight, port,
   target), A/AAAA an address text. Names are compared without the trailing dot, lower-cased.

Theory of operation (RFC 3263 §4.1, §4.2), for a registrar or proxy given as HOST[:PORT]:

    numeric HOST           -> [(HOST, PORT or 5060/5061)], no DNS at all (§4.2)
    HOST with a PORT       -> A/AAAA of HOST, each address with PORT (§4.2)
    HOST alone             -> NAPTR of HOST: records whose service is ours (SIP+D2U for udp,
                              SIP+D2T for tcp, SIPS+D2T for tls) with flag "s", best order then
                              preference first, give the SRV name (§4.1); without one, the SRV
                              name is _sip._udp.HOST, _sip._tcp.HOST or _sips._tcp.HOST (§4.1)
                           -> SRV of that name, ordered per RFC 2782 (priority, then weighted
                              random within a priority), then A/AAAA of each target, each
                              address with the target's port (§4.2); a lone "." target means
                              "no such service here" (RFC 2782)
                           -> no SRV: A/AAAA of HOST with port 5060 (5061 for TLS) (§4.2)

The transport is the one configured (`sip.transport`): the NAPTR lookup only finds which SRV
name the domain publishes for it, it never moves the ATA to another transport. The result,
`targets`, is the ordered list of (address, port) to try; §4.3 says to try the next one when a
request to one gets no answer at all, a transport error or a 503 (the registration and the call
layer do that, `tipring/firmware/sip/registration.py`, `tipring/firmware/calls/call.py`).
"""

DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}
NAPTR_SERVICE = {"udp": "SIP+D2U", "tcp": "SIP+D2T", "tls": "SIPS+D2T"}
SRV_PREFIX = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp."}


def is_numeric_host(host: str) -> bool:
    """True for an IPv4 dotted quad or an IPv6 literal (bracketed or not): no DNS for those."""
    if ":" in host:
        return True
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or len(p) > 3 or int(p) > 255:
            return False
    return True


def _name(text: str) -> str:
    return text.rstrip(".").lower()


def order_naptr(records, transport: str = "udp") -> list:
    """The SRV names a domain's NAPTR records give for `transport`, best first (RFC 3263 §4.1:
    lowest order, then lowest preference; only terminal "s" records of our service)."""
    want = NAPTR_SERVICE[transport]
    usable = []
    for r in records:
        order, pref, flags, service, _regexp, replacement = r
        if service.upper() != want or flags.lower() != "s":
            continue
        name = _name(replacement)
        if name:
            usable.append((order, pref, len(usable), name))
    usable.sort()
    return [t[3] for t in usable]


def order_srv(records, rand) -> list:
    """SRV records in the order to try them (RFC 2782 "Usage rules"): lower priority first;
    within one priority, repeatedly pick at random weighted by `weight`, records of weight 0
    placed first in the running sum so that they are picked only when nothing else is left or
    the draw is 0. `rand()` is a float in [0, 1)."""
    by_priority = {}
    for r in records:
        by_priority.setdefault(r[0], []).append(r)
    out = []
    for prio in sorted(by_priority):
        # weight 0 first, else as given (an explicit index: MicroPython's sort is not stable)
        group = [t[2] for t in sorted((r[1] != 0, i, r) for i, r in enumerate(by_priority[prio]))]
        while group:
            total = 0
            for r in group:
                total += r[1]
            draw = int(rand() * (total + 1))            # uniform on 0..total inclusive
            if draw > total:                            # rand() must stay below 1.0
                draw = total
            running = 0
            pick = len(group) - 1
            for i, r in enumerate(group):
                running += r[1]
                if running >= draw:
                    pick = i
                    break
            out.append(group.pop(pick))
    return out


class Locator:
    """Represents one RFC 3263 lookup of where to send SIP requests for a host.

    :param host: the registrar or proxy host (a name, or a numeric address: then no DNS).
    :param port: the port given with it, or None (then SRV is used, §4.2).
    :param transport: "udp", "tcp" or "tls" (the configured `sip.transport`).
    :param families: address record types to ask for, in order: ("A",) for an IPv4 socket,
        ("AAAA",) for an IPv6 one, both for a dual-stack one.
    :param rand: `rand()` -> float in [0, 1) for the SRV weights; `random.random` when omitted.

        loc = Locator("example.net", None, "udp")
        while (q := loc.next_query()) is not None:
            loc.answer(records_for(*q))        # or loc.fail("timeout")
        loc.targets                            # [("192.0.2.10", 5060), ...]; loc.error if empty
    """

    def __init__(self, host: str, port=None, transport: str = "udp", families=("A",), rand=None):
        if transport not in DEFAULT_PORT:
            raise ValueError("transport %r: udp, tcp or tls" % transport)
        self.host = host.strip("[]")
        self.port = port
        self.transport = transport
        self.families = tuple(families)
        if rand is None:
            import random
            rand = random.random
        self.rand = rand
        self.targets = []            # (address, port), in the order to try them
        self.error = None            # why there are no targets
        self.trail = []              # (name, rdtype, outcome) for the log
        self._pending = []           # (name, rdtype, port) still to ask
        self._srv_name = None
        self._srv_ports = []         # ports of the SRV targets whose addresses we ask, in order
        self._stage = None
        default = DEFAULT_PORT[transport]
        if is_numeric_host(self.host):
            self.targets = [(self.host, port or default)]
            self._stage = "done"
        elif port:
            self._stage = "address"
            self._ask_addresses(self.host, port)
        else:
            self._stage = "naptr"
            self._pending = [(self.host, "NAPTR", None)]

    @property
    def done(self) -> bool:
        return self._stage == "done"

    def next_query(self):
        """(name, rdtype) the lookup needs answered next, or None when it is done."""
        if self._stage == "done":
            return None
        return self._pending[0][:2]

    def answer(self, records) -> None:
        """The records for the current question ([] when the name or the type does not exist)."""
        name, rdtype, port = self._pending.pop(0)
        self.trail.append((name, rdtype, len(records)))
        if rdtype == "NAPTR":
            names = order_naptr(records, self.transport)
            self._srv_name = names[0] if names else SRV_PREFIX[self.transport] + _name(self.host)
            self._stage = "srv"
            self._pending = [(self._srv_name, "SRV", None)]
        elif rdtype == "SRV":
            real = [r for r in records if _name(r[3]) != ""]
            if records and not real:
                self._finish("%s: SRV says no %s service here" % (self._srv_name, self.transport))
                return
            if not real:
                self._stage = "address"
                self._ask_addresses(self.host, DEFAULT_PORT[self.transport])
                return
            self._stage = "address"
            for r in order_srv(real, self.rand):
                self._ask_addresses(_name(r[3]), r[2])
        else:
            for addr in records:
                t = (addr, port)
                if t not in self.targets:
                    self.targets.append(t)
        if not self._pending:
            self._finish(None)

    def fail(self, reason: str) -> None:
        """The DNS gave no answer to the current question (timeout, SERVFAIL, no server).

        A NAPTR or SRV question that fails ends the lookup: the server that failed it would
        fail the next one too. An address question of one SRV target skips that target."""
        name, rdtype, _port = self._pending.pop(0)
        self.trail.append((name, rdtype, reason))
        if rdtype in ("NAPTR", "SRV"):
            self._pending = []
            self._finish("%s %s: %s" % (rdtype, name, reason))
            return
        if not self._pending:
            self._finish("%s %s: %s" % (rdtype, name, reason))

    # ------------------------------------------------------------------ internals
    def _ask_addresses(self, name, port):
        for rdtype in self.families:
            self._pending.append((name, rdtype, port))

    def _finish(self, reason):
        self._stage = "done"
        self._pending = []
        if not self.targets:
            self.error = reason or "%s: no %s record" % (self.host, "/".join(self.families))
        else:
            self.error = None

    def __repr__(self):
        return "<Locator %s %s %s>" % (self.host, self._stage, self.targets or self.error)
