"""NAT (RFC 3581), keep-alives, the registrar ping and the backup registrar, on a virtual clock.

The ATA side is a real UserAgent with the Registration and its monitor as TUs; the registrar
is played by the test from the bytes the UA put on the wire (parsed back), so Via, branch and
retransmissions are the real ones.
"""

from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent, response_to

PRIMARY = ("127.0.0.1", 5060)
BACKUP = ("127.0.0.1", 5062)


class Net:
    """The UA and a registrar (or two) that answer as `answer(req, dest)` says: a Response,
    or None for a registrar that is down."""

    def __init__(self, answer, **kw):
        self.ua = UserAgent("127.0.0.1", 5070, t1=0.5)
        args = dict(line=1, user="1001", password="secret1001", domain="127.0.0.1", registrar=PRIMARY,
                    contact="sip:1001@127.0.0.1:5070", expires=3600, jitter=lambda: 0.0)
        args.update(kw)
        self.reg = Registration(**args)
        self.ua.add_tu(self.reg)
        if self.reg.monitor is not None:
            self.ua.add_tu(self.reg.monitor)
        self.answer = answer
        self.now = 0.0
        self.wire = []      # (t, dest, bytes)
        self.events = []    # (t, name, fields)
        self.run(self.ua.run_tu(self.reg, self.reg.start(0.0), 0.0))

    def run(self, outs):
        queue = list(outs)
        while queue:
            o = queue.pop(0)
            if o[0] == "event":
                self.events.append((self.now, o[1], o[2]))
            elif o[0] == "send":
                self.wire.append((self.now, o[2], o[1]))
                if o[1].strip(b"\r\n") == b"":
                    continue
                req = parse_message(o[1])
                if req.is_request:
                    resp = self.answer(req, o[2], self)
                    if resp is not None:
                        queue += self.ua.receive(bytes(resp), o[2], self.now)

    def until(self, t):
        while True:
            d = self.ua.deadline()
            if d is None or d > t:
                self.now = t
                return
            self.now = max(self.now, d)
            self.run(self.ua.on_timer(self.now))

    def sent(self, method, dest=None):
        out = []
        for t, d, data in self.wire:
            if data.startswith(method.encode() + b" ") and (dest is None or d == dest):
                out.append((t, parse_message(data)))
        return out

    def named(self, name):
        return [(t, f) for t, n, f in self.events if n == name]


def grant(req, expires=3600, via=None):
    """200 for a REGISTER, listing the Contacts it asked for (the registrar's view)."""
    extra = [("Contact", c) for c in req.headers.get_all("Contact")]
    if not extra:   # a query (RFC 3261 §10.2.3): this registrar always holds the Net's binding
        extra = [("Contact", "<sip:1001@127.0.0.1:5070>;expires=%d" % expires)]
    extra.append(("Expires", str(expires)))
    resp = response_to(req, 200, to_tag="reg", extra=extra)
    if via is not None:
        resp.headers.remove("Via")
        resp.headers.add("Via", via)
    return resp


def nat_registrar(mapping):
    """A registrar behind which we are NATed: it sees the REGISTER come from `mapping`."""
    def answer(req, dest, net):
        if req.method == "OPTIONS":
            return response_to(req, 200, to_tag="ka")
        v = req.headers.get_all("Via")[0].replace(";rport", ";received=%s;rport=%d" % mapping)
        return grant(req, via=v)
    return answer


def test_received_rport_become_the_contact_and_the_line_reregisters_once():
    net = Net(nat_registrar(("203.0.113.7", 40123)), ping_s=0)
    regs = net.sent("REGISTER")
    assert len(regs) == 2, net.wire
    first, second = regs[0][1], regs[1][1]
    assert first.headers.get("Contact") == "<sip:1001@127.0.0.1:5070>;expires=3600"
    # the new mapping registered, the old contact removed in the same REGISTER
    assert second.headers.get("Contact") == \
        "<sip:1001@203.0.113.7:40123>;expires=3600, <sip:1001@127.0.0.1:5070>;expires=0"
    assert second.cseq.seq == first.cseq.seq + 1 and second.call_id == first.call_id
    assert [f["contact"] for _, f in net.named("nat")] == ["sip:1001@203.0.113.7:40123"]
    ok = net.named("registered")
    assert len(ok) == 1 and ok[0][1]["contact"] == "sip:1001@203.0.113.7:40123"
    assert net.reg.contact == "sip:1001@203.0.113.7:40123"
    # the refresh keeps the mapping and does not re-register twice
    net.until(1800.0)
    refresh = net.sent("REGISTER")[2:]
    assert len(refresh) == 1 and refresh[0][1].headers.get("Contact") == "<sip:1001@203.0.113.7:40123>;expires=3600"
    assert len(net.named("nat")) == 1 and len(net.named("registered")) == 2


def test_a_mapping_that_moves_on_every_answer_is_not_chased():
    ports = iter(range(40000, 40100))
    net = Net(lambda req, dest, n: grant(req, via=req.headers.get_all("Via")[0].replace(
        ";rport", ";received=198.51.100.1;rport=%d" % next(ports))))
    assert len(net.sent("REGISTER")) == 2        # the first answer re-registers; the second does not
    assert len(net.named("registered")) == 1 and net.reg.state == "registered"


def test_no_received_no_change():
    net = Net(lambda req, dest, n: grant(req, via=req.headers.get_all("Via")[0].replace(";rport", ";rport=5070")))
    assert len(net.sent("REGISTER")) == 1 and not net.named("nat")
    assert net.reg.contact == "sip:1001@127.0.0.1:5070"


def test_crlf_keepalives_go_to_the_registrar_every_interval():
    net = Net(nat_registrar(("127.0.0.1", 5070)), keepalive_s=15)
    net.until(100.0)
    ka = [(t, d) for t, d, data in net.wire if data == b"\r\n\r\n"]
    assert [t for t, _ in ka] == [15.0, 30.0, 45.0, 60.0, 75.0, 90.0]
    assert {d for _, d in ka} == {PRIMARY}
    # stopped: no more keep-alives
    net.run(net.ua.run_tu(net.reg, net.reg.stop(100.0), 100.0))
    net.until(200.0)
    assert len([1 for _, _, data in net.wire if data == b"\r\n\r\n"]) == 6


def restartable(state):
    """Kamailio-like: answers while state["up"]; a restart empties its location table, which a
    REGISTER query (no Contact, RFC 3261 §10.2.3) reads back."""
    def answer(req, dest, net):
        table = state.setdefault("table", {})
        if not state["up"]:
            table.clear()                       # down: usrloc is in memory, gone on restart
        if not state["up"] or dest != state.get("at", PRIMARY):
            return None
        if req.method == "OPTIONS":
            return response_to(req, 200, to_tag="ka")
        contacts = req.headers.get_all("Contact")
        if not contacts:                        # a query: the bindings held
            state.setdefault("queries", []).append((net.now, dest))
            return response_to(req, 200, to_tag="reg", extra=[("Contact", c) for c in table.get(dest, [])])
        state.setdefault("bound", []).append((net.now, dest))
        table[dest] = [c for c in contacts if "expires=0" not in c.replace(" ", "")]
        return grant(req)
    return answer


def test_ping_failure_reports_once_and_reregisters_as_soon_as_the_registrar_is_back():
    st = {"up": True}
    net = Net(restartable(st), ping_s=10)
    assert len(net.named("registered")) == 1
    net.until(100.0)
    assert len(net.sent("OPTIONS")) == 10           # every 10 s, all answered
    st["up"] = False                                 # the registrar restarts at t=100 ...
    net.until(160.0)
    fails = net.named("registration_failed")
    assert fails[0][1]["cause"] == "ping" and 104.0 < fails[0][0] <= 114.0
    assert len(fails) == 2 and "no answer" in fails[1][1]["reason"]   # the REGISTER sent then
    st["up"] = True                                  # ... and is back at t=160, location table empty
    net.until(200.0)
    back = [t for t, f in net.named("registered") if t > 100.0]
    assert back and back[0] - 160.0 <= 10.0, net.events   # a REGISTER retransmission got through
    assert len(net.named("registration_failed")) <= 3          # rate-limited, not one per retry


def test_a_ping_answered_after_failing_reregisters_at_once():
    st = {"up": True}
    net = Net(restartable(st), ping_s=10, expires=3600)
    st["up"] = False
    net.until(14.5)                                   # the ping at 10 s timed out at 14
    assert net.named("registration_failed")
    # the REGISTER sent at 14 is answered by its retransmissions once the registrar is up;
    # the ping's late answer does not add another
    st["up"] = True
    net.until(30.0)
    assert len([t for t, f in net.named("registered") if t > 14]) == 1
    assert net.reg.state == "registered"


def test_refresh_5xx_gets_a_quick_first_retry_then_the_backoff():
    calls = []

    def answer(req, dest, net):
        calls.append(net.now)
        if req.method == "REGISTER" and len(calls) > 1:
            return response_to(req, 500, to_tag="x")
        return grant(req, expires=100)
    net = Net(answer, ping_s=0, expires=100)
    net.until(200.0)
    regs = [t for t, _ in net.sent("REGISTER")]
    assert regs[:4] == [0.0, 50.0, 52.0, 82.0]       # refresh, quick 2 s, then 30 s
    fails = net.named("registration_failed")
    assert fails[0][1]["status"] == 500 and fails[0][1]["retry_in"] == 2.0
    # the same failure 2 s later is merged, then reported with how many were held back
    assert [f.get("repeats") for _, f in fails][:2] == [None, 1]


def test_backup_takes_over_when_the_primary_fails_and_the_line_returns_later():
    st = {"up": True, "at": PRIMARY}

    def answer(req, dest, net):
        if req.method == "OPTIONS":
            return response_to(req, 200, to_tag="ka") if st["up"] else None
        if dest == BACKUP or st["up"]:
            return grant(req, expires=600)
        return None
    net = Net(answer, ping_s=10, backup=BACKUP, backup_text="127.0.0.1:5062", expires=600)
    st["up"] = False
    net.until(60.0)
    at_backup = net.sent("REGISTER", BACKUP)
    assert at_backup and 14.0 <= at_backup[0][0] <= 15.0      # the failed ping at 14 s moved it
    assert net.reg.next_hop == BACKUP and net.reg.state == "registered"
    ok = [f for t, f in net.named("registered") if t > 0]
    assert ok[-1]["registrar"] == "127.0.0.1:5062" and ok[-1]["backup"] is True
    pings = net.sent("OPTIONS")
    assert all(net.wire[i][1] == PRIMARY for i, (t, d, data) in enumerate(net.wire) if data.startswith(b"OPTIONS"))
    assert len(pings) >= 5
    st["up"] = True
    net.until(80.0)
    back = [t for t, r in net.sent("REGISTER", PRIMARY) if t > 14]
    assert back and back[0] <= 71.0                              # the first good ping brings it home
    assert net.reg.next_hop == PRIMARY and net.reg.state == "registered"
    assert net.named("registered")[-1][1]["registrar"] == "127.0.0.1:5060"


def test_refresh_timeout_at_the_primary_fails_over_to_the_backup_at_once():
    def answer(req, dest, net):
        if dest == BACKUP or net.now < 1.0:
            return grant(req, expires=100)
        return None
    net = Net(answer, ping_s=0, backup=BACKUP, expires=100)
    net.until(100.0)
    fails = net.named("registration_failed")
    assert fails and fails[0][1]["registrar"] == "127.0.0.1:5060" and fails[0][1]["next"] == "127.0.0.1:5062"
    assert fails[0][0] == 82.0                                    # the refresh at 50 s, Timer F
    assert net.sent("REGISTER", BACKUP)[0][0] == 82.0 and net.reg.state == "registered"


def test_transport_lost_reregisters_now_unless_a_register_is_in_flight():
    net = Net(restartable({"up": True}), ping_s=0)
    assert net.reg.state == "registered"
    acts = net.reg.on_transport_lost("connection reset", 5.0)
    assert [a[0] for a in acts] == ["send"] and acts[0][1].method == "REGISTER"
    assert net.reg.on_transport_lost("connection reset", 5.1) == []                  # that REGISTER is in flight


def test_received_is_always_added_when_rport_is_asked_for_rfc3581():
    ua = UserAgent("127.0.0.1", 5070)
    seen = []
    ua.handlers["OPTIONS"] = lambda req, tx, src, now: seen.append(req) or []
    opts = ("OPTIONS sip:1001@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKa1;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\n"
            "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    ua.receive(opts.encode(), ("127.0.0.1", 40001), 0.0)
    top = seen[0].via[0]
    assert top.params["received"] == "127.0.0.1" and top.params["rport"] == "40001"
    # without rport, received only when the source differs from sent-by (RFC 3261 §18.2.1)
    ua.receive(opts.replace(";rport", "").replace("a1", "a2").replace("c1", "c2").encode(), ("127.0.0.1", 5099), 0.0)
    assert "received" not in seen[1].via[0].params


def test_a_restart_quicker_than_the_ping_is_caught_by_the_binding_query():
    """The registrar restarts between two pings (down 1 s, every ping answered): only the
    REGISTER query after the next ping shows the binding gone; the line registers again then,
    not at the refresh half an hour later."""
    st = {"up": True}
    net = Net(restartable(st), ping_s=10, expires=3600)
    net.until(25.0)
    assert len(st["queries"]) == 2 and len(net.named("registered")) == 1   # bound: nothing to do
    st["up"] = False
    st["table"].clear()                              # a restart: usrloc is in memory
    net.until(26.0)
    st["up"] = True                                  # back at 26 s with an empty table
    net.until(45.0)
    back = [t for t, f in net.named("registered") if t > 26.0]
    assert back and back[0] <= 30.5, net.events       # the query after the 30 s ping
    lost = [f for t, f in net.named("registration_failed")]
    assert lost and lost[0]["cause"] == "check"
    assert st["table"][PRIMARY]


def test_a_registrar_that_refuses_queries_is_not_asked_again():
    asked = []

    def answer(req, dest, net):
        if req.method == "OPTIONS":
            return response_to(req, 200, to_tag="ka")
        if not req.headers.get_all("Contact"):
            asked.append(net.now)
            return response_to(req, 405, to_tag="q")
        return grant(req)
    net = Net(answer, ping_s=10, expires=3600)
    net.until(60.0)
    assert len(asked) == 1 and len(net.named("registered")) == 1
