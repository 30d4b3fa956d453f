"""Transactions (RFC 3261 §17, RFC 6026) on virtual time: every timer, absorption, matching."""

import pytest

from tipring.firmware.sip.message import Request, Response, parse_message
from tipring.firmware.sip.transaction import (
    STATES, TRANSITIONS, Action, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    cancel_for, client_key, server_key,
)
from tipring.firmware.sip.transaction_layer import TransactionLayer

# the message builders and timer runner are the portable file's (one copy, both interpreters)
from tests.portable.test_sip_transaction_portable import BRANCH, kinds, request, response, run_timers  # noqa: E402,F401

INVITE = request()


# --------------------------------------------------------------------- the table

def test_table_states_are_known_and_strings():
    for machine, states in TRANSITIONS.items():
        for state, events in states.items():
            for event, (nxt, actions) in events.items():
                assert nxt in STATES[machine], (machine, state, event, nxt)
                assert isinstance(actions, tuple)


def test_action_tuple_protocol():
    a = Action("send", INVITE)
    assert a == ("send", INVITE) and a[0] == "send" and a.kind == "send" and a.msg is INVITE
    kind, msg = a
    assert (kind, msg) == ("send", INVITE)
    assert Action("timeout") == ("timeout",) and len(Action("timeout")) == 1


# ------------------------------------------------------------ INVITE client (ICT)

def test_invite_retransmits_until_timer_b():
    tx = InviteClient(INVITE, now=0.0, t1=0.5)
    assert tx.start() == [("send", INVITE)]
    sent = []
    timeouts = []
    while tx.state != "terminated":
        now = tx.deadline()
        for a in tx.on_timer(now):
            if a[0] == "send":
                sent.append(now)
            elif a[0] == "timeout":
                timeouts.append(now)
    assert sent == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5] and now == 32.0
    assert timeouts == [32.0]


def test_invite_retransmissions_are_the_same_request():
    tx = InviteClient(INVITE, now=0.0)
    (a,) = tx.on_timer(0.5)
    assert a == ("send", INVITE) and a.tx is tx


def test_invite_provisional_stops_a_and_b():
    tx = InviteClient(INVITE, now=0.0)
    r180 = response(INVITE, 180)
    assert tx.on_response(r180, 0.2) == [("deliver", r180)]
    assert tx.state == "proceeding" and tx.deadline() is None
    assert tx.on_timer(100.0) == []  # no Timer B in proceeding: the TU decides


def test_invite_non2xx_acked_inside_transaction_then_timer_d():
    tx = InviteClient(INVITE, now=0.0)
    r486 = response(INVITE, 486)
    acts = tx.on_response(r486, 1.0)
    assert kinds(acts) == ["send", "deliver"] and tx.state == "completed"
    ack = acts[0].msg
    assert ack.method == "ACK" and ack.uri == INVITE.uri
    assert ack.via[0].branch == BRANCH and len(ack.via) == 1
    assert str(ack.cseq) == "1 ACK" and ack.to.tag == "a6c85cf"
    assert ack.from_ == INVITE.from_ and ack.call_id == INVITE.call_id
    assert ack.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    # a retransmitted 486 gets the same ACK again, and is not delivered twice
    assert tx.on_response(r486, 2.0) == [("send", ack)]
    # Timer D: 32 s over UDP
    assert tx.deadline() == 33.0
    assert run_timers(tx) == [(33.0, ("terminated",))]


def test_invite_2xx_goes_to_accepted_and_timer_m():
    tx = InviteClient(INVITE, now=0.0, t1=0.5)
    tx.on_response(response(INVITE, 180), 0.1)
    ok = response(INVITE, 200)
    assert tx.on_response(ok, 1.0) == [("deliver", ok)]  # no ACK from the transaction
    assert tx.state == "accepted" and tx.deadline() == 33.0
    # RFC 6026: retransmitted 2xx and 2xx from other forks reach the TU
    ok2 = response(INVITE, 200, to_tag="fork2")
    assert tx.on_response(ok, 2.0) == [("deliver", ok)]
    assert tx.on_response(ok2, 3.0) == [("deliver", ok2)]
    assert tx.on_response(response(INVITE, 180), 4.0) == []
    assert tx.on_response(response(INVITE, 486), 4.0) == []
    assert run_timers(tx) == [(33.0, ("terminated",))]


def test_invite_2xx_straight_from_calling():
    tx = InviteClient(INVITE, now=0.0)
    tx.on_response(response(INVITE, 200), 0.7)
    assert tx.state == "accepted" and tx.timers == {"M": 32.7}


def test_invite_client_reliable_no_retransmits_d_zero():
    tx = InviteClient(INVITE, now=0.0, reliable=True)
    assert tx.deadline() == 32.0 and list(tx.timers) == ["B"]
    acts = tx.on_response(response(INVITE, 603), 1.0)
    assert kinds(acts) == ["send", "deliver", "terminated"] and tx.state == "terminated"


def test_invite_client_reliable_timeout():
    tx = InviteClient(INVITE, now=0.0, reliable=True)
    assert run_timers(tx) == [(32.0, ("timeout",)), (32.0, ("terminated",))]


def test_invite_client_transport_error():
    tx = InviteClient(INVITE, now=0.0)
    acts = tx.on_transport_error(0.1)
    assert kinds(acts) == ["error", "terminated"] and tx.state == "terminated"


def test_unknown_event_is_error_and_changes_nothing():
    tx = NonInviteServer(request("OPTIONS"), now=0.0)
    tx.send_response(response(request("OPTIONS"), 200), 0.0)
    before = tx.state
    acts = tx.send_response(response(request("OPTIONS"), 180), 0.1)
    assert kinds(acts) == ["error"] and "completed" in acts[0].msg and tx.state == before


# ----------------------------------------------------------- non-INVITE client (NICT)

REGISTER = request("REGISTER", uri="sip:registrar.biloxi.example.com")


def test_non_invite_timer_e_caps_at_t2_then_timer_f():
    tx = NonInviteClient(REGISTER, now=0.0, t1=0.5, t2=4.0)
    sent = [t for t, a in run_timers(tx) if a[0] == "send"]
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert tx.state == "terminated"


def test_non_invite_timeout_action_at_f():
    tx = NonInviteClient(REGISTER, now=10.0)
    acts = run_timers(tx)
    assert acts[-2:] == [(42.0, ("timeout",)), (42.0, ("terminated",))]


def test_non_invite_proceeding_retransmits_every_t2():
    tx = NonInviteClient(REGISTER, now=0.0, t1=0.5, t2=4.0)
    tx.on_timer(0.5)                          # E: 0.5 -> next at 1.5
    r100 = response(REGISTER, 100)
    assert tx.on_response(r100, 1.0) == [("deliver", r100)] and tx.state == "proceeding"
    sent = [t for t, a in run_timers(tx, until=20.0) if a[0] == "send"]
    assert sent == [1.5, 5.5, 9.5, 13.5, 17.5]


def test_non_invite_final_then_timer_k():
    tx = NonInviteClient(REGISTER, now=0.0, t4=5.0)
    ok = response(REGISTER, 200)
    assert tx.on_response(ok, 0.3) == [("deliver", ok)] and tx.state == "completed"
    assert tx.on_response(ok, 0.9) == []     # retransmission absorbed
    assert run_timers(tx) == [(5.3, ("terminated",))]


def test_non_invite_reliable_k_zero_no_e():
    tx = NonInviteClient(REGISTER, now=0.0, reliable=True)
    assert list(tx.timers) == ["F"]
    acts = tx.on_response(response(REGISTER, 401), 0.2)
    assert kinds(acts) == ["deliver", "terminated"]


# ----------------------------------------------------------- INVITE server (IST)

def test_invite_server_100_trying_after_200ms():
    tx = InviteServer(INVITE, now=0.0)
    assert tx.start() == [] and tx.deadline() == pytest.approx(0.2)
    (a,) = tx.on_timer(0.2)
    assert a[0] == "send" and a.msg.status == 100 and a.msg.to.tag is None
    assert a.msg.via == INVITE.via and str(a.msg.cseq) == "1 INVITE"
    # a retransmitted INVITE gets the 100 again
    assert tx.on_request(INVITE, 0.6) == [("send", a.msg)]


def test_invite_server_no_trying_when_tu_is_quick():
    tx = InviteServer(INVITE, now=0.0)
    r180 = response(INVITE, 180)
    assert tx.send_response(r180, 0.05) == [("send", r180)]
    assert tx.deadline() is None
    assert tx.on_request(INVITE, 0.5) == [("send", r180)]   # absorbed: last provisional


def test_invite_server_failure_timer_g_and_h():
    tx = InviteServer(INVITE, now=0.0, t1=0.5, t2=4.0)
    r486 = response(INVITE, 486)
    assert tx.send_response(r486, 0.0) == [("send", r486)] and tx.state == "completed"
    acts = run_timers(tx)
    sent = [t for t, a in acts if a[0] == "send"]
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert acts[-2:] == [(32.0, ("timeout",)), (32.0, ("terminated",))]


def test_invite_server_ack_confirms_then_timer_i():
    tx = InviteServer(INVITE, now=0.0, t4=5.0)
    r486 = response(INVITE, 486)
    tx.send_response(r486, 0.0)
    assert tx.on_request(INVITE, 0.4) == [("send", r486)]          # absorbed, answered
    ack = request("ACK", to_tag="a6c85cf")
    assert tx.on_request(ack, 1.0) == [] and tx.state == "confirmed"
    assert tx.on_request(ack, 1.1) == [] and tx.on_request(INVITE, 1.2) == []
    assert run_timers(tx) == [(6.0, ("terminated",))]


def test_invite_server_reliable_i_zero_no_g():
    tx = InviteServer(INVITE, now=0.0, reliable=True)
    tx.send_response(response(INVITE, 486), 0.0)
    assert sorted(tx.timers) == ["H"]
    acts = tx.on_request(request("ACK", to_tag="a6c85cf"), 0.1)
    assert acts == [("terminated",)]


def test_invite_server_2xx_accepted_retransmits_until_ack_timer_l():
    tx = InviteServer(INVITE, now=0.0, t1=0.5, t2=4.0)
    ok = response(INVITE, 200)
    assert tx.send_response(ok, 0.0) == [("send", ok)] and tx.state == "accepted"
    assert tx.on_request(INVITE, 0.1) == []              # RFC 6026: absorbed
    sent = [t for t, a in run_timers(tx, until=8.0) if a[0] == "send"]
    assert sent == [0.5, 1.5, 3.5, 7.5]                   # §13.3.1.4: T1 doubling to T2
    ack = request("ACK", branch="z9hG4bKack", to_tag="a6c85cf")
    assert tx.on_request(ack, 8.0) == [("deliver", ack)]
    assert tx.send_response(ok, 8.5) == [("send", ok)]    # the TU may still pass 2xx down
    assert run_timers(tx) == [(32.0, ("terminated",))]   # Timer L, no timeout: it was ACKed


def test_invite_server_2xx_never_acked_times_out_at_l():
    tx = InviteServer(INVITE, now=0.0, t1=0.5, reliable=True)
    tx.send_response(response(INVITE, 200), 0.0)
    acts = run_timers(tx)
    sent = [t for t, a in acts if a[0] == "send"]
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]  # also over TCP
    assert acts[-2:] == [(32.0, ("timeout",)), (32.0, ("terminated",))]


# ------------------------------------------------------- non-INVITE server (NIST)

BYE = request("BYE", seq=2, to_tag="a6c85cf", branch="z9hG4bKbye1")


def test_non_invite_server_absorbs_and_timer_j():
    tx = NonInviteServer(BYE, now=0.0, t1=0.5)
    assert tx.on_request(BYE, 0.1) == []                  # trying: nothing to resend
    r100 = response(BYE, 100)
    assert tx.send_response(r100, 0.2) == [("send", r100)] and tx.state == "proceeding"
    assert tx.on_request(BYE, 0.3) == [("send", r100)]
    ok = response(BYE, 200)
    assert tx.send_response(ok, 0.4) == [("send", ok)] and tx.state == "completed"
    assert tx.on_request(BYE, 5.0) == [("send", ok)]
    assert run_timers(tx) == [(32.4, ("terminated",))]


def test_non_invite_server_reliable_j_zero():
    tx = NonInviteServer(BYE, now=0.0, reliable=True)
    acts = tx.send_response(response(BYE, 200), 0.0)
    assert kinds(acts) == ["send", "terminated"]


# ------------------------------------------------------------------- matching

def test_keys():
    r = response(INVITE, 180)
    assert client_key(r) == client_key(INVITE) == ("client", BRANCH, "INVITE")
    ack = request("ACK", to_tag="x")
    assert server_key(ack) == server_key(INVITE)
    assert server_key(request("CANCEL")) != server_key(INVITE)
    assert server_key(INVITE)[2:4] == ("pc33.example.com", 5060)
    other_host = request(via_host="pc34.example.com")
    assert server_key(other_host) != server_key(INVITE)


def test_rfc2543_keys():
    old = request(branch=None)
    k = server_key(old)
    assert k[0] == "server2543"
    assert server_key(request("ACK", branch=None, to_tag="t")) == k
    assert server_key(request(branch=None, seq=2)) != k
    assert server_key(request(branch="1234")) != k  # no cookie: 2543 rules, Via differs


# -------------------------------------------------------------- the layer

def test_layer_client_invite_flow_and_table():
    layer = TransactionLayer()
    acts = layer.send_request(INVITE, 0.0)
    tx = acts[0].tx
    assert acts == [("send", INVITE)] and isinstance(tx, InviteClient)
    assert layer.deadline() == 0.5
    assert layer.on_timer(0.5) == [("send", INVITE)]
    r180 = parse_message(bytes(response(INVITE, 180)))
    (a,) = layer.receive(r180, 0.6)
    assert a.kind == "response" and a.tx is tx
    r404 = parse_message(bytes(response(INVITE, 404)))
    acts = layer.receive(r404, 1.0)
    assert kinds(acts) == ["send", "response"] and acts[0].msg.method == "ACK"
    assert layer.on_timer(33.0) == [("terminated",)] and layer.transactions == {}


def test_layer_stray_2xx_goes_to_tu():
    layer = TransactionLayer()
    layer.send_request(INVITE, 0.0)
    ok = response(INVITE, 200)
    layer.receive(ok, 1.0)
    assert [k for k in kinds(layer.on_timer(33.0))] == ["terminated"]
    (a,) = layer.receive(ok, 40.0)  # retransmitted 2xx after Timer M: the TU re-ACKs
    assert a.kind == "response" and a.tx is None


def test_layer_ack_is_not_a_transaction():
    layer = TransactionLayer()
    ack = request("ACK", branch="z9hG4bKnew", to_tag="t")
    assert layer.send_request(ack, 0.0) == [("send", ack)] and layer.transactions == {}


def test_layer_server_new_request_then_retransmission():
    layer = TransactionLayer()
    acts = layer.receive(BYE, 0.0)
    assert kinds(acts) == ["request"] and isinstance(acts[0].tx, NonInviteServer)
    assert layer.receive(BYE, 0.1) == []                     # absorbed
    ok = response(BYE, 200)
    assert layer.send_response(ok, 0.2) == [("send", ok)]
    assert layer.receive(BYE, 0.3) == [("send", ok)]         # answered from the transaction
    layer.on_timer(100.0)
    assert layer.transactions == {}


def test_layer_invite_server_non2xx_ack_absorbed():
    layer = TransactionLayer()
    tx = layer.receive(INVITE, 0.0)[0].tx
    layer.send_response(response(INVITE, 486), 0.1)
    assert layer.receive(request("ACK", to_tag="a6c85cf"), 0.2) == []
    assert tx.state == "confirmed"


def test_layer_ack_for_2xx_matched_by_dialog_ids():
    layer = TransactionLayer()
    tx = layer.receive(INVITE, 0.0)[0].tx
    layer.send_response(response(INVITE, 200), 0.1)
    ack = request("ACK", branch="z9hG4bKack2xx", to_tag="a6c85cf")
    (a,) = layer.receive(ack, 0.3)
    assert a.kind == "ack" and a.tx is tx and tx.acked
    assert layer.on_timer(0.6) == []                         # retransmission stopped
    # an ACK tied to nothing reaches the TU without a transaction
    (b,) = layer.receive(request("ACK", branch="z9hG4bKx", seq=9, to_tag="zz"), 0.4)
    assert b.kind == "request" and b.tx is None


def test_layer_rfc2543_ack_matches_with_to_tag():
    layer = TransactionLayer()
    old = request(branch=None)
    tx = layer.receive(old, 0.0)[0].tx
    layer.send_response(response(old, 486), 0.1)
    assert layer.receive(request("ACK", branch=None, to_tag="a6c85cf"), 0.2) == []
    assert tx.state == "confirmed"


def test_layer_incoming_cancel():
    layer = TransactionLayer()
    inv_tx = layer.receive(INVITE, 0.0)[0].tx
    layer.send_response(response(INVITE, 180, to_tag="ring1"), 0.05)
    acts = layer.receive(request("CANCEL"), 1.0)
    assert kinds(acts) == ["send", "cancel"]
    ok = acts[0].msg
    assert ok.status == 200 and ok.cseq.method == "CANCEL" and ok.to.tag == "ring1"
    assert acts[1].tx is inv_tx
    # the TU answers the INVITE 487; the ACK comes back on the same branch
    layer.send_response(response(INVITE, 487, to_tag="ring1"), 1.1)
    assert layer.receive(request("ACK", to_tag="ring1"), 1.2) == []
    assert inv_tx.state == "confirmed"


def test_layer_cancel_without_invite_is_481():
    layer = TransactionLayer()
    acts = layer.receive(request("CANCEL", branch="z9hG4bKnothing"), 0.0)
    assert kinds(acts) == ["send"] and acts[0].msg.status == 481


def test_layer_outgoing_cancel_waits_for_provisional():
    layer = TransactionLayer()
    tx = layer.send_request(INVITE, 0.0)[0].tx
    assert layer.cancel(tx, 0.1) == []                      # §9.1: not before a 1xx
    acts = layer.receive(response(INVITE, 180), 0.2)
    assert kinds(acts) == ["response", "send"]
    cancel = acts[1].msg
    assert cancel.method == "CANCEL" and cancel.via[0].branch == BRANCH
    assert str(cancel.cseq) == "1 CANCEL" and cancel.to.tag is None
    assert cancel.headers.get_all("Route") == INVITE.headers.get_all("Route")
    assert isinstance(acts[1].tx, NonInviteClient)
    assert acts[1].tx.key == ("client", BRANCH, "CANCEL")


def test_layer_outgoing_cancel_after_provisional_and_after_final():
    layer = TransactionLayer()
    tx = layer.send_request(INVITE, 0.0)[0].tx
    layer.receive(response(INVITE, 183), 0.2)
    acts = layer.cancel(tx, 0.3, reason='SIP;cause=487;text="hung up"')
    assert kinds(acts) == ["send"] and acts[0].msg.headers.get("Reason").startswith("SIP;")
    tx2 = layer.send_request(request(branch="z9hG4bKother"), 1.0)[0].tx
    layer.receive(response(request(branch="z9hG4bKother"), 200), 1.1)
    assert layer.cancel(tx2, 1.2) == []


def test_pending_cancel_dropped_on_final():
    layer = TransactionLayer()
    tx = layer.send_request(INVITE, 0.0)[0].tx
    layer.cancel(tx, 0.1)
    acts = layer.receive(response(INVITE, 486), 0.2)
    assert [a.msg.method for a in acts if a.kind == "send"] == ["ACK"]


def test_cancel_for_builds_section_9_1():
    c = cancel_for(INVITE)
    assert c.uri == INVITE.uri and c.call_id == INVITE.call_id and c.from_ == INVITE.from_
    assert c.to == INVITE.to and c.via == INVITE.via[:1]


def test_layer_malformed_request_gets_400():
    layer = TransactionLayer()
    bad = Request("OPTIONS", "sip:a@b", [("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
                                         ("From", "<sip:a@b>;tag=1"), ("To", "<sip:a@b>"),
                                         ("Call-ID", "x"), ("CSeq", "nonsense")])
    acts = layer.receive(bad, 0.0)
    assert kinds(acts) == ["send", "error"] and acts[0].msg.status == 400
    assert layer.transactions == {}


def test_layer_reliable_per_message():
    layer = TransactionLayer()
    tx = layer.send_request(INVITE, 0.0, reliable=True)[0].tx
    assert tx.reliable and layer.deadline() == 32.0


# ------------------------------------------------- two stacks back to back, lossy

class Net:
    """Two transaction layers joined by a virtual UDP link that loses chosen datagrams.

    `drop` holds (direction, summary) pairs: the first datagram matching each is lost.
    The UAS core here answers INVITE with 180 then 200 after `answer_after` seconds,
    BYE with 200; the UAC core ACKs every 2xx. Time moves only through `run()`."""

    def __init__(self, drop=(), latency=0.01, answer_after=1.0):
        from tipring.firmware.sip.dialog import Dialog, make_response
        self.Dialog, self.make_response = Dialog, make_response
        self.a, self.b = TransactionLayer(), TransactionLayer()
        self.drop = list(drop)
        self.latency = latency
        self.answer_after = answer_after
        self.wire = []      # (time, to, bytes)
        self.ladder = []    # (time, direction, summary)
        self.tu_a, self.tu_b = [], []
        self.later = []     # (time, fn)
        self.ack_sent = None

    @staticmethod
    def summary(msg):
        return msg.method if msg.is_request else "%d %s" % (msg.status, msg.cseq.method)

    def emit(self, side, actions, now):
        for a in actions:
            if a.kind == "send":
                direction = "a>b" if side == "a" else "b>a"
                s = self.summary(a.msg)
                if (direction, s) in self.drop:
                    self.drop.remove((direction, s))
                    self.ladder.append((now, direction, s + " (lost)"))
                    continue
                self.ladder.append((now, direction, s))
                self.wire.append((now + self.latency, "b" if side == "a" else "a",
                                  bytes(a.msg)))
            else:
                (self.tu_a if side == "a" else self.tu_b).append((now, a))
                self.tu(side, a, now)

    def tu(self, side, a, now):
        if side == "b" and a.kind == "request" and a.msg.method == "INVITE":
            req = a.msg
            self.emit("b", self.b.send_response(self.make_response(req, 180, to_tag="bt"),
                                                now), now)
            ok = self.make_response(req, 200, to_tag="bt", contact="<sip:b@198.51.100.2>")
            self.later.append((now + self.answer_after,
                               lambda t: self.emit("b", self.b.send_response(ok, t), t)))
        elif side == "b" and a.kind == "request" and a.msg.method == "BYE":
            self.emit("b", self.b.send_response(self.make_response(a.msg, 200), now), now)
        elif side == "a" and a.kind == "response" and a.msg.status == 200 \
                and a.msg.cseq.method == "INVITE":
            if self.ack_sent is None:
                self.dialog = self.Dialog.uac(self.invite, a.msg, via_host="192.0.2.10")
                self.ack_sent = self.dialog.ack(self.invite.cseq.seq)
            self.emit("a", self.a.send_request(self.ack_sent, now), now)

    def run(self, until):
        now = 0.0
        while True:
            times = [w[0] for w in self.wire] + [l[0] for l in self.later]
            times += [d for d in (self.a.deadline(), self.b.deadline()) if d is not None]
            if not times or min(times) > until:
                return now
            now = min(times)
            for w in [w for w in self.wire if w[0] <= now]:
                self.wire.remove(w)
                layer = self.a if w[1] == "a" else self.b
                self.emit(w[1], layer.receive(parse_message(w[2]), now), now)
            for l in [l for l in self.later if l[0] <= now]:
                self.later.remove(l)
                l[1](now)
            self.emit("a", self.a.on_timer(now), now)
            self.emit("b", self.b.on_timer(now), now)


def b2b_invite():
    from tipring.firmware.sip.dialog import new_request
    return new_request("INVITE", "sip:b@198.51.100.2", "<sip:a@192.0.2.10>", "<sip:b@example>",
                       contact="<sip:a@192.0.2.10>", via_host="192.0.2.10")


def test_b2b_call_setup_over_clean_link():
    net = Net()
    net.invite = b2b_invite()
    net.emit("a", net.a.send_request(net.invite, 0.0), 0.0)
    net.run(until=100.0)
    assert [s for _, d, s in net.ladder] == [
        "INVITE", "180 INVITE", "200 INVITE", "ACK"]
    assert [a.kind for _, a in net.tu_b if a.kind != "terminated"] == ["request", "ack"]
    assert net.a.transactions == {} and net.b.transactions == {}


def test_b2b_lost_invite_lost_200_lost_ack_all_recovered():
    net = Net(drop=[("a>b", "INVITE"), ("b>a", "200 INVITE"), ("a>b", "ACK")])
    net.invite = b2b_invite()
    net.emit("a", net.a.send_request(net.invite, 0.0), 0.0)
    net.run(until=100.0)
    lines = [(round(t, 2), d, s) for t, d, s in net.ladder]
    assert lines[:2] == [(0.0, "a>b", "INVITE (lost)"), (0.5, "a>b", "INVITE")]  # Timer A
    assert (1.51, "b>a", "200 INVITE (lost)") in lines
    assert (2.01, "b>a", "200 INVITE") in lines                # 2xx retransmitted at T1
    assert (2.02, "a>b", "ACK (lost)") in lines
    assert (3.01, "b>a", "200 INVITE") in lines                # ... and again at 2*T1
    assert (3.02, "a>b", "ACK") in lines                       # TU re-ACKs the retransmission
    # the UAS TU saw one INVITE and one ACK; no timeout anywhere
    kinds_b = [a.kind for _, a in net.tu_b]
    assert kinds_b.count("request") == 1 and kinds_b.count("ack") == 1
    assert "timeout" not in kinds_b + [a.kind for _, a in net.tu_a]
    assert net.a.transactions == {} and net.b.transactions == {}


def test_b2b_lost_bye_response_absorbed():
    net = Net(drop=[("b>a", "200 BYE")])
    from tipring.firmware.sip.dialog import new_request
    bye = new_request("BYE", "sip:b@198.51.100.2", "<sip:a@192.0.2.10>", "<sip:b@x>;tag=bt",
                      via_host="192.0.2.10")
    net.emit("a", net.a.send_request(bye, 0.0), 0.0)
    net.run(until=100.0)
    assert [(round(t, 2), s) for t, d, s in net.ladder] == [
        (0.0, "BYE"), (0.01, "200 BYE (lost)"), (0.5, "BYE"), (0.51, "200 BYE")]
    assert [a.kind for _, a in net.tu_b].count("request") == 1   # retransmission absorbed
    assert [a.kind for _, a in net.tu_a if a.kind == "response"] == ["response"]


def test_layer_bad_version_gets_505_and_bad_response_dropped():
    layer = TransactionLayer()
    bad = Request("OPTIONS", "sip:a@b", [("Via", "SIP/3.0/UDP h;branch=z9hG4bK1"),
                                         ("From", "<sip:a@b>;tag=1"), ("To", "<sip:a@b>"),
                                         ("Call-ID", "x"), ("CSeq", "1 OPTIONS")])
    acts = layer.receive(bad, 0.0)
    assert acts[0].kind == "send" and acts[0].msg.status == 505
    resp = Response(200, None, [("From", "<sip:a@b>;tag=1"), ("To", "<sip:a@b>"),
                                ("Call-ID", "x"), ("CSeq", "1 OPTIONS")])
    assert kinds(layer.receive(resp, 0.0)) == ["error"]
