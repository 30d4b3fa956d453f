"""The transaction layer of a UA (RFC 3261 §17): the table of live transactions that the
event loop feeds, matching each message to its transaction (§17.1.3, §17.2.3, the RFC 2543
fallback, and the ACK for a 2xx tied to its `accepted` INVITE server by Call-ID, CSeq and To
tag), creating server transactions for new requests, answering stateless what cannot be
matched, and running every transaction's timers. The machines themselves live in
`tipring.firmware.sip.transaction`; this module only keeps them. Sans-IO: every method takes `now`
and returns `Action`s.

Cost under load (a flood of OPTIONS keeps ~64*T1 = 32 s of completed server transactions, tens
of thousands at 2000/s): nothing here walks the table per message. Deadlines sit in a heap
(one entry per change, stale entries skipped when popped), a response from the TU finds its
server transaction through an index on (Call-ID, CSeq method, top Via branch), and the table
of server transactions is bounded (`max_servers`): past it a new request is refused with an
`overload` action (the UA drops it and counts it) instead of growing memory without end.
"""

import heapq

from tipring.firmware.sip.message import Request, Response, validate
from tipring.firmware.sip.transaction import (
    Action, InviteClient, InviteServer, NonInviteClient, NonInviteServer, T1, T2, T4,
    TRYING_DELAY, cancel_for, client_key, server_key,
)


class TransactionLayer:
    """Represents the transaction layer of a UA: the live transactions, keyed for matching.

    `t1`, `t2`, `t4`: timer bases for new transactions; `reliable`: the default transport
    kind (each call may override it); `trying_delay`: for INVITE servers.

    Every method returns a list of `Action`s, each with `.tx`:
      ("send", msg)      put msg on the wire (a request: to its next hop; a response: per
                         its top Via, §18.2.2)
      ("request", req)   a new request for the TU; `.tx` is its server transaction, or None
                         for an ACK to a 2xx the layer could not tie to a transaction
      ("response", resp) a response for the TU; `.tx` is None for a stray one (a 2xx
                         retransmitted after Timer M: the TU re-sends its ACK)
      ("cancel", cancel) a CANCEL for the INVITE server transaction `.tx`; the layer has
                         already answered the CANCEL 200; the TU answers the INVITE 487
      ("ack", ack)       the ACK to a 2xx we sent, matched to INVITE server `.tx`
      ("timeout",)       B, F, H, or no ACK by Timer L: `.tx` timed out
      ("error", text)    transport error or an event with no transition
      ("terminated",)    `.tx` ended and left the table
      ("overload", req)  a new request found the server table full (`max_servers`); no
                         transaction was made and nothing was answered
    """

    def __init__(self, t1: float = T1, t2: float = T2, t4: float = T4, reliable: bool = False,
                 trying_delay=TRYING_DELAY, max_servers: int = 4096):
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.reliable = reliable
        self.trying_delay = trying_delay
        self.transactions = {}   # key -> Transaction
        self._pending_cancel = {}  # INVITE client key -> CANCEL waiting for a 1xx
        self.max_servers = max_servers
        self._servers = {}       # (Call-ID, CSeq method, top Via branch) -> [server tx]
        self._n_servers = 0
        self._invite_servers = set()  # for the ACK to a 2xx, tied by dialog identifiers
        self._heap = []          # (when, seq, tx); an entry is live while tx._due == when
        self._seq = 0

    def __repr__(self):
        return "<TransactionLayer %d live>" % len(self.transactions)

    def _opts(self, reliable):
        return dict(t1=self.t1, t2=self.t2, t4=self.t4,
                    reliable=self.reliable if reliable is None else reliable)

    # -- from the TU

    def send_request(self, request: Request, now: float, reliable: bool = None) -> list:
        """Start a client transaction for `request` (ACK: no transaction, just the send).
        The new transaction is the `.tx` of the returned actions."""
        if request.method == "ACK":
            return [Action("send", request, None)]
        cls = InviteClient if request.method == "INVITE" else NonInviteClient
        tx = cls(request, now, **self._opts(reliable))
        tx.key = client_key(request)
        tx._due = None
        self.transactions[tx.key] = tx
        return self._route(tx, tx.start())

    def send_response(self, response: Response, now: float) -> list:
        """Send the TU's response through its server transaction (matched by top Via branch,
        sent-by and CSeq method). A response matching none is sent as is (stateless)."""
        tx = self._server_for_response(response)
        if tx is None:
            return [Action("send", response, None)]
        return self._route(tx, tx.send_response(response, now))

    def cancel(self, invite_tx, now: float, reason: str = None) -> list:
        """CANCEL the INVITE client transaction `invite_tx` (§9.1). Sent at once when a
        provisional response has arrived, else held until one does; nothing when the INVITE
        already has a final response."""
        if invite_tx.state not in ("calling", "proceeding") or invite_tx.key is None:
            return []
        cancel = cancel_for(invite_tx.request, reason)
        if invite_tx.state == "calling":
            self._pending_cancel[invite_tx.key] = (cancel, invite_tx.reliable)
            return []
        return self.send_request(cancel, now, invite_tx.reliable)

    # -- from the network

    def receive(self, msg, now: float, reliable: bool = None) -> list:
        """A parsed message from the transport. It is checked with `message.validate()`
        first; a malformed one never raises: a request gets a stateless 400 (its status
        hint, e.g. 505) when its Via allows an answer, anything else is dropped with an
        `error` action."""
        try:
            validate(msg)  # §8.2, §8.1.3.3: mandatory headers, CSeq, Via version...
            if msg.is_request:
                return self._receive_request(msg, now, reliable)
            return self._receive_response(msg, now)
        except ValueError as e:  # SipParseError is a ValueError
            if msg.is_request and msg.method != "ACK":
                try:
                    bad = _stateless(msg, getattr(e, "status_hint", 400), None)
                    return [Action("send", bad, None), Action("error", str(e), None)]
                except ValueError:
                    pass
            return [Action("error", "dropped: %s" % e, None)]

    def _receive_response(self, resp, now):
        key = client_key(resp)
        tx = self.transactions.get(key)
        if tx is None:
            return [Action("response", resp, None)]
        out = self._route(tx, tx.on_response(resp, now))
        if key in self._pending_cancel:
            cancel, rel = self._pending_cancel.pop(key)
            if resp.status < 200:
                out += self.send_request(cancel, now, rel)
        return out

    def _receive_request(self, req, now, reliable):
        key = server_key(req)
        tx = self.transactions.get(key)
        if req.method == "ACK":
            if tx is not None and key[0] == "server2543" and tx.last_response is not None \
                    and tx.last_response.to.tag != req.to.tag:
                tx = None
            if tx is None:
                tx = self._accepted_for_ack(req)
                if tx is None:
                    return [Action("request", req, None)]
                acts = tx.on_request(req, now)
                return self._route(tx, [Action("ack", req, tx) if a.kind == "deliver" else a
                                        for a in acts])
            return self._route(tx, tx.on_request(req, now))
        if tx is not None:
            return self._route(tx, tx.on_request(req, now))
        if self._n_servers >= self.max_servers:
            return [Action("overload", req, None)]
        cls = InviteServer if req.method == "INVITE" else NonInviteServer
        opts = self._opts(reliable)
        if cls is InviteServer:
            tx = InviteServer(req, now, trying_delay=self.trying_delay, **opts)
        else:
            tx = cls(req, now, **opts)
        tx.key = key
        tx._due = None
        self.transactions[key] = tx
        self._index_server(tx)
        out = self._route(tx, tx.start())
        if req.method == "CANCEL":
            return out + self._on_cancel(req, tx, now)
        return out + [Action("request", req, tx)]

    def _on_cancel(self, cancel, cancel_tx, now):
        # §9.2: find the INVITE server transaction by the same key with method INVITE
        key = server_key(cancel)
        inv_key = key[:-1] + ("INVITE",)
        inv = self.transactions.get(inv_key)
        if inv is None:
            resp = _stateless(cancel, 481, "Call/Transaction Does Not Exist")
            return self._route(cancel_tx, cancel_tx.send_response(resp, now))
        # matched: 200 whatever the INVITE's state; only a pending INVITE is cancelled
        ok = _stateless(cancel, 200, "OK", inv.last_response)
        out = self._route(cancel_tx, cancel_tx.send_response(ok, now))
        if inv.state == "proceeding":
            out.append(Action("cancel", cancel, inv))
        return out

    def _accepted_for_ack(self, ack):
        # ACK for a 2xx has its own branch (§17.1.1.3): tie it to the accepted INVITE server
        # by dialog identifiers, so 2xx retransmission stops (§13.3.1.4)
        try:
            cid, seq, tag = ack.call_id, ack.cseq.seq, ack.to.tag
        except ValueError:
            return None
        for tx in self._invite_servers:
            if tx.state == "accepted" \
                    and tx.request.call_id == cid and tx.request.cseq.seq == seq \
                    and tx.last_response is not None and tx.last_response.to.tag == tag:
                return tx
        return None

    def _server_for_response(self, resp):
        top = resp.via[0]
        branch = top.branch
        cseq = resp.cseq
        done = None
        for tx in self._servers.get((resp.call_id, cseq.method, branch or ""), ()):
            if tx.request.cseq == cseq and tx.request.via[0] == top:
                if tx.last_response is None or tx.last_response.status < 200:
                    return tx
                done = done or tx
        # RFC 2543 requests (no branch) that repeat Call-ID, CSeq and Via are told apart by
        # the one still waiting for its answer: otherwise it would wait forever
        return done

    def _index_server(self, tx):
        req = tx.request
        k = (req.call_id, req.cseq.method, req.via[0].branch or "")
        tx._index = k
        self._servers.setdefault(k, []).append(tx)
        self._n_servers += 1
        if isinstance(tx, InviteServer):
            self._invite_servers.add(tx)

    def _unindex_server(self, tx):
        k = getattr(tx, "_index", None)
        if k is None:
            return
        tx._index = None
        same = self._servers.get(k)
        if same is not None and tx in same:
            same.remove(tx)
            if not same:
                del self._servers[k]
        self._n_servers -= 1
        self._invite_servers.discard(tx)

    @property
    def server_count(self) -> int:
        """Live server transactions (bounded by `max_servers`)."""
        return self._n_servers

    # -- the clock

    def deadline(self):
        """Earliest deadline over all transactions, or None."""
        heap = self._heap
        while heap:
            when, _, tx = heap[0]
            if tx._due == when:
                return when
            heapq.heappop(heap)  # stale: the transaction moved on or ended
        return None

    def on_timer(self, now: float) -> list:
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, tx = heapq.heappop(heap)
            if tx._due != when:
                continue
            tx._due = None
            out += self._route(tx, tx.on_timer(now))
        return out

    def _schedule(self, tx):
        d = tx.deadline() if tx.state != "terminated" else None
        if d != getattr(tx, "_due", None):
            tx._due = d
            if d is not None:
                self._seq += 1
                heapq.heappush(self._heap, (d, self._seq, tx))

    def on_transport_error(self, tx, now: float) -> list:
        return self._route(tx, tx.on_transport_error(now))

    def discard(self, tx) -> None:
        """Forget server transaction `tx` at once, without a timer or an action: its TU
        answered statelessly (RFC 3261 §8.2.7), so nothing is retransmitted and a
        retransmitted request is a new one."""
        if tx is not None and tx.key is not None and self.transactions.get(tx.key) is tx:
            del self.transactions[tx.key]
            self._pending_cancel.pop(tx.key, None)
            self._unindex_server(tx)
            tx._due = None   # its heap entries go stale

    # -- bookkeeping

    def _route(self, tx, actions):
        """Rename deliveries for the TU and drop terminated transactions from the table."""
        out = []
        for a in actions:
            if a.kind == "deliver":
                a = Action("response" if isinstance(a.msg, Response) else "request", a.msg, tx)
            elif a.tx is None:
                a.tx = tx
            if a.kind == "terminated" and tx.key is not None:
                if self.transactions.get(tx.key) is tx:
                    del self.transactions[tx.key]
                self._pending_cancel.pop(tx.key, None)
                self._unindex_server(tx)
            out.append(a)
        self._schedule(tx)
        return out


def _stateless(request, status, reason, like=None):
    """A response to `request` copying Via, From, To, Call-ID, CSeq (§8.2.6.2); the To tag is
    taken from `like` (an earlier response) when given."""
    h = [("Via", v) for v in request.headers.get_all("Via")]
    to = request.headers.get("To")
    if like is not None and like.to.tag and not request.to.tag:
        to = like.headers.get("To")
    h += [("From", request.headers.get("From")), ("To", to),
          ("Call-ID", request.headers.get("Call-ID")), ("CSeq", request.headers.get("CSeq"))]
    return Response(status, reason, h)
