"""A small authoritative DNS server on 127.0.0.1, for tests of RFC 3263 server location.

Built on dnspython's message module (the same library the firmware resolves with, but its
server side: it parses real queries off a real UDP socket and writes real responses). Serves
NAPTR, SRV, A and AAAA records from a zone given as a dict, answers NXDOMAIN (with an SOA in
the authority section, so the answer may be cached per RFC 2308) for names it does not have,
NODATA for a type a name lacks, and stays silent for the names in `silent` (a server that does
not answer: the resolver's timeout). Counts every query it receives, per (name, type).

    with DnsServer({"example.test": {"A": ["127.0.0.1"]}}, ttl=60) as dns:
        dns.address                      # "127.0.0.1:PORT"
        dns.count("example.test", "A")   # queries received for it so far
"""

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SOA = "ns.test. hostmaster.test. 1 3600 600 86400 %d"


def _rdata_text(rdtype: str, value) -> str:
    """Zone-file text of one record: A/AAAA an address, SRV (prio, weight, port, target),
    NAPTR (order, pref, flags, service, regexp, replacement)."""
    if rdtype == "SRV":
        p, w, port, target = value
        return "%d %d %d %s" % (p, w, port, target if target.endswith(".") else target + ".")
    if rdtype == "NAPTR":
        order, pref, flags, service, regexp, repl = value
        return '%d %d "%s" "%s" "%s" %s' % (order, pref, flags, service, regexp,
                                           repl if repl.endswith(".") else repl + ".")
    return str(value)


class DnsServer:
    """Represents one authoritative server for the test zone, on a free UDP port.

    :param zone: {name: {rdtype: [values]}}; names without the trailing dot.
    :param ttl: the TTL of every answer; `negative_ttl` the SOA minimum for NXDOMAIN/NODATA.
    :param silent: names for which no answer is ever sent (any type).
    """

    def __init__(self, zone: dict, ttl: int = 300, negative_ttl: int = 60, silent=()):
        self.zone = {k.rstrip(".").lower(): v for k, v in zone.items()}
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.silent = {s.rstrip(".").lower() for s in silent}
        self.queries = []           # (name, rdtype) in arrival order
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = None

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.port

    def count(self, name: str, rdtype: str = None) -> int:
        name = name.rstrip(".").lower()
        with self._lock:
            return sum(1 for n, t in self.queries if n == name and (rdtype is None or t == rdtype))

    def total(self) -> int:
        with self._lock:
            return len(self.queries)

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ serving
    def _serve(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:     # not DNS: a real server drops it too
                continue
            if not query.question:
                continue
            q = query.question[0]
            name = q.name.to_text(omit_final_dot=True).lower()
            rdtype = dns.rdatatype.to_text(q.rdtype)
            with self._lock:
                self.queries.append((name, rdtype))
            if name in self.silent:
                continue
            try:
                self.sock.sendto(self._response(query, q, name, rdtype).to_wire(), addr)
            except OSError:
                return

    def _response(self, query, q, name, rdtype):
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        records = self.zone.get(name)
        if records is None:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        elif records.get(rdtype):
            rrset = dns.rrset.from_text_list(q.name, self.ttl, dns.rdataclass.IN, rdtype,
                                             [_rdata_text(rdtype, v) for v in records[rdtype]])
            resp.answer.append(rrset)
            return resp
        # NXDOMAIN or NODATA: the zone's SOA, so a resolver may cache the "no" (RFC 2308 §3)
        soa = dns.rrset.from_text(dns.name.from_text("test."), self.negative_ttl, dns.rdataclass.IN, "SOA",
                                  SOA % self.negative_ttl)
        resp.authority.append(soa)
        return resp
