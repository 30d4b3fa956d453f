"""DNS for the event loop: RFC 3263 lookups run on a worker thread, answers cached by TTL.

Rules:
1. The loop thread never waits for DNS. `locate()` starts a worker thread that drives a
   `tipring.firmware.sip.locate.Locator` (the sans-IO RFC 3263/2782 logic) with dnspython queries, and
   hands the result back through `loop.call_soon_threadsafe`, as the console's password
   hashing does. The callback runs on the loop thread. A numeric host never gets here (the
   caller asks `Locator` first, which needs no DNS for it).
2. Every answer is cached for its TTL (capped at `MAX_TTL`), and a "no such name / no such
   record" for the SOA minimum of the answer (RFC 2308 §5; not cached without an SOA). Failures
   (timeout, SERVFAIL) are not cached: the next lookup asks again. The cache's clock is
   injectable so tests step past a TTL without waiting.
3. Lookups of the same (host, port, transport) already on their way are joined, not repeated.
4. Servers: `servers` ("IP" or "IP:PORT", e.g. a test's server on 127.0.0.1:5353), or the
   system's resolv.conf when empty. `timeout` bounds one question (every server tried).
5. Addresses (A/AAAA) come from the hosts file first, as the C library's resolver does with
   nsswitch's "files dns" (dnspython reads no hosts file), and `localhost` is always the
   loopback address (RFC 6761 §6.3): a registrar set as "localhost:5061" for a TLS
   certificate's name, or a PBX named in /etc/hosts, resolves without a DNS server.

    resolver = DnsResolver(loop, servers=["127.0.0.1:5353"], timeout=3.0)
    resolver.locate("example.test", None, "udp", ("A",), lambda targets, error: ...)
    resolver.close()
"""

import logging
import threading

import dns.exception
import dns.flags
import dns.inet
import dns.nameserver
import dns.rdatatype
import dns.resolver

from tipring.firmware.sip.locate import Locator

log = logging.getLogger("tipring.dns")

MAX_TTL = 86400
MAX_NEGATIVE_TTL = 3600
HOSTS_FILE = "/etc/hosts"
LOOPBACK = {"A": ["127.0.0.1"], "AAAA": ["::1"]}


def read_hosts(path: str = HOSTS_FILE) -> dict:
    """{(name, "A"|"AAAA"): [address, ...]} from a hosts file; {} when it cannot be read."""
    out = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        addr = words[0]
        kind = "AAAA" if ":" in addr else "A"
        for name in words[1:]:
            out.setdefault((name.lower().rstrip("."), kind), []).append(addr)
    return out


def _records(rdtype: str, rrset) -> list:
    """dnspython rdata -> the plain tuples `Locator` takes."""
    out = []
    for rd in rrset:
        if rdtype == "NAPTR":
            out.append((rd.order, rd.preference, rd.flags.decode("ascii", "replace"),
                        rd.service.decode("ascii", "replace"), rd.regexp.decode("ascii", "replace"),
                        rd.replacement.to_text()))
        elif rdtype == "SRV":
            out.append((rd.priority, rd.weight, rd.port, rd.target.to_text()))
        else:
            out.append(rd.address)
    return out


def _negative_ttl(response):
    """RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM); None without an SOA."""
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return min(rrset.ttl, rrset[0].minimum, MAX_NEGATIVE_TTL)
    return None


def parse_server(text: str):
    """"IP" or "IP:PORT" or "[IPv6]:PORT" -> (ip, port); ValueError for anything else."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("%r: [IPv6]:PORT" % text)
        port = int(rest[1:]) if rest else 53
    elif text.count(":") == 1:
        host, port_s = text.split(":")
        port = int(port_s)
    else:
        host, port = text, 53
    if not dns.inet.is_address(host):
        raise ValueError("%r is not an IP address" % host)
    if not 1 <= port <= 65535:
        raise ValueError("port %d out of range" % port)
    return host, port


class DnsCache:
    """Answers by (name, rdtype) until their TTL runs out; thread-safe; `clock.now()` seconds."""

    def __init__(self, clock):
        self.clock = clock
        self._lock = threading.Lock()
        self._entries = {}          # (name, rdtype) -> (expires_at, records)

    def get(self, name: str, rdtype: str):
        """The cached records (possibly [] for a cached "no"), or None when not cached."""
        key = (name.lower(), rdtype)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock.now() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, name: str, rdtype: str, records: list, ttl) -> None:
        if ttl is None or ttl <= 0:
            return
        with self._lock:
            self._entries[(name.lower(), rdtype)] = (self.clock.now() + min(ttl, MAX_TTL), list(records))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class DnsResolver:
    """Represents the ATA's DNS client: RFC 3263 lookups off the loop thread, TTL-cached.

    :param loop: the `EventLoop` whose thread gets the results.
    :param servers: DNS servers ("IP" or "IP:PORT"); empty = the system's resolv.conf.
    :param timeout: seconds one question may take, all servers together.
    :param clock: `now()` for the cache; the loop's clock when omitted.
    :param rand: `rand()` in [0, 1) for SRV weights (`random.random` when omitted).
    """

    def __init__(self, loop, servers=(), timeout: float = 5.0, clock=None, rand=None,
                 hosts_file: str = HOSTS_FILE):
        self.loop = loop
        self.hosts = read_hosts(hosts_file) if hosts_file else {}
        self.timeout = float(timeout)
        self.cache = DnsCache(clock or loop.clock)
        self.rand = rand
        self.servers = [parse_server(s) for s in servers]
        self.queries = 0            # questions sent to a server (cache misses)
        self._inflight = {}         # lookup key -> [callbacks]; loop thread only
        self._closed = False
        self._resolver = None
        self._config_error = None
        try:
            self._resolver = self._make_resolver()
        except (dns.exception.DNSException, OSError) as e:
            self._config_error = "no DNS servers: %s" % e

    def _make_resolver(self):
        if self.servers:
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in self.servers]
        else:
            r = dns.resolver.Resolver()             # /etc/resolv.conf
        r.timeout = self.timeout
        r.lifetime = self.timeout
        r.cache = None                              # ours, with an injectable clock
        return r

    # ------------------------------------------------------------------ the loop's side
    def locate(self, host: str, port, transport: str, families, callback) -> None:
        """Find where requests for `host[:port]` go (RFC 3263); later, on the loop thread,
        `callback(targets, error)`: targets [(ip, port), ...] in the order to try them, or []
        with error a one-line reason. Never raises, never blocks."""
        key = (host.lower(), port, transport, tuple(families))
        waiting = self._inflight.get(key)
        if waiting is not None:
            waiting.append(callback)
            return
        self._inflight[key] = [callback]
        t = threading.Thread(target=self._work, args=(key, host, port, transport, families),
                             name="tipring-dns", daemon=True)
        t.start()

    def _deliver(self, key, targets, error) -> None:
        for cb in self._inflight.pop(key, []):
            if self._closed:
                return
            cb(list(targets), error)

    def close(self) -> None:
        """Drop the results of lookups still running (their threads end on their timeout)."""
        self._closed = True
        self._inflight.clear()

    # ------------------------------------------------------------------ the worker's side
    def _work(self, key, host, port, transport, families) -> None:
        try:
            loc = Locator(host, port, transport, families, rand=self.rand)
            while (q := loc.next_query()) is not None:
                outcome = self.query(*q)
                if isinstance(outcome, str):
                    loc.fail(outcome)
                else:
                    loc.answer(outcome)
            targets, error = loc.targets, loc.error
            log.debug("located %s: %s (%s)", host, targets or error, loc.trail)
        except Exception as e:                      # never a traceback out of a lookup
            log.exception("DNS lookup of %s", host)
            targets, error = [], "DNS lookup of %s failed: %s" % (host, e)
        if not self._closed:
            self.loop.call_soon_threadsafe(self._deliver, key, targets, error)

    def query(self, name: str, rdtype: str):
        """One question, from the cache or a server (blocking: worker threads only). Returns
        the records ([] for NXDOMAIN/NODATA) or a str saying why there is no answer."""
        if rdtype in ("A", "AAAA"):
            plain = name.lower().rstrip(".")
            if plain == "localhost" or plain.endswith(".localhost"):
                return list(LOOPBACK[rdtype])
            known = self.hosts.get((plain, rdtype))
            if known:
                return list(known)
        cached = self.cache.get(name, rdtype)
        if cached is not None:
            return cached
        if self._resolver is None:
            return self._config_error
        self.queries += 1
        try:
            ans = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as e:
            resp = None
            try:
                resp = next(iter(e.responses().values()), None)
            except Exception:
                pass
            self.cache.put(name, rdtype, [], _negative_ttl(resp))
            return []
        except dns.resolver.LifetimeTimeout:
            return "DNS timeout after %.0f s" % self.timeout
        except dns.resolver.NoNameservers as e:
            return "no DNS server answered (%s)" % str(e).split(":")[0]
        except dns.exception.DNSException as e:
            return "DNS error: %s" % e
        if ans.rrset is None:
            self.cache.put(name, rdtype, [], _negative_ttl(ans.response))
            return []
        records = _records(rdtype, ans.rrset)
        self.cache.put(name, rdtype, records, ans.rrset.ttl)
        return records
