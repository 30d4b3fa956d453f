"""tipring/firmware/sip/transaction.py and transaction_layer.py on CPython and MicroPython: the four
RFC 3261 §17 machines (with RFC 6026) on a virtual clock, every timer they run, and the layer's
matching (retransmissions, CANCEL, the ACK for a 2xx, RFC 2543 keys, stateless 400/505).

Run: python tests/portable/test_sip_transaction_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_sip_transaction_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.sip.message import Request, Response, parse_message
from tipring.firmware.sip.transaction import (
    STATES, TRANSITIONS, Action, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    cancel_for, client_key, server_key,
)
from tipring.firmware.sip.transaction_layer import TransactionLayer

BRANCH = "z9hG4bK776asdhds"


def request(method="INVITE", branch=BRANCH, seq=1, to_tag=None, via_host="pc33.example.com",
            uri="sip:bob@biloxi.example.com"):
    """A request as RFC 3261 §24.2's Alice sends it (tests/sip/test_transaction.py uses these
    builders too)."""
    to = "Bob <sip:bob@biloxi.example.com>" + (";tag=" + to_tag if to_tag else "")
    via = "SIP/2.0/UDP %s;branch=%s" % (via_host, branch) if branch else "SIP/2.0/UDP " + via_host
    return Request(method, uri, [
        ("Via", via), ("Max-Forwards", "70"), ("Route", "<sip:proxy.example.com;lr>"),
        ("To", to), ("From", "Alice <sip:alice@atlanta.example.com>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710"), ("CSeq", "%d %s" % (seq, method)),
        ("Contact", "<sip:alice@pc33.example.com>")])


def response(req, status, to_tag="a6c85cf"):
    h = [("Via", v) for v in req.headers.get_all("Via")]
    to = req.headers.get("To")
    if to_tag and status > 100 and ";tag=" not in to:
        to += ";tag=" + to_tag
    h += [("To", to), ("From", req.headers.get("From")),
          ("Call-ID", req.headers.get("Call-ID")), ("CSeq", req.headers.get("CSeq"))]
    return Response(status, None, h)


def run_timers(tx, until=1000.0):
    """Fire timers until terminated or `until`: [(time, action)]."""
    out = []
    while tx.state != "terminated":
        now = tx.deadline()
        if now is None or now > until:
            break
        out += [(now, a) for a in tx.on_timer(now)]
    return out


def kinds(actions):
    return [a[0] for a in actions]


def test_table_is_consistent():
    for machine, states in TRANSITIONS.items():
        for state, events in states.items():
            for event, (nxt, actions) in events.items():
                assert nxt in STATES[machine], (machine, state, event, nxt)
                assert isinstance(actions, tuple)
    a = Action("send", "x")
    assert a == ("send", "x") and a[0] == "send" and len(Action("timeout")) == 1


def test_invite_client_timer_a_doubles_until_b():
    tx = InviteClient(request(), 0.0)
    assert kinds(tx.start()) == ["send"] and tx.state == "calling"
    fired = run_timers(tx)
    resends = [t for t, a in fired if a[0] == "send"]
    assert resends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]   # A: T1, doubling (§17.1.1.2)
    assert [(t, a[0]) for t, a in fired if a[0] != "send"] == [(32.0, "timeout"), (32.0, "terminated")]
    assert tx.state == "terminated"


def test_invite_client_failure_acked_in_transaction_then_timer_d():
    inv = request()
    tx = InviteClient(inv, 0.0)
    tx.start()
    out = tx.on_response(response(inv, 180), 0.1)
    assert kinds(out) == ["deliver"] and tx.state == "proceeding" and tx.deadline() is None
    out = tx.on_response(response(inv, 486), 1.0)
    assert kinds(out) == ["send", "deliver"] and tx.state == "completed"
    ack = out[0][1]
    assert ack.method == "ACK" and ack.via[0].branch == BRANCH and ack.to.tag == "a6c85cf"
    assert ack.cseq.seq == 1 and ack.cseq.method == "ACK" and ack.headers.get("Route") == "<sip:proxy.example.com;lr>"
    again = tx.on_response(response(inv, 486), 2.0)     # a retransmitted 486: the same ACK again
    assert kinds(again) == ["send"] and again[0][1].to_bytes() == ack.to_bytes()
    assert tx.deadline() == 33.0                         # Timer D: 32 s over UDP
    assert kinds(tx.on_timer(33.0)) == ["terminated"]


def test_invite_client_2xx_accepted_and_reliable_transport():
    inv = request()
    tx = InviteClient(inv, 0.0)
    out = tx.on_response(response(inv, 200), 0.2)
    assert kinds(out) == ["deliver"] and tx.state == "accepted" and tx.deadline() == 0.2 + 32.0
    assert kinds(tx.on_response(response(inv, 200, to_tag="fork2"), 0.3)) == ["deliver"]  # RFC 6026
    tx = InviteClient(inv, 0.0, reliable=True)
    assert sorted(tx.timers) == ["B"]                     # no Timer A over TCP
    out = tx.on_response(response(inv, 404), 1.0)
    assert kinds(out) == ["send", "deliver", "terminated"]   # Timer D is zero


def test_unknown_event_is_an_error_and_changes_nothing():
    tx = InviteClient(request(), 0.0)
    tx.on_response(response(request(), 200), 0.1)
    out = tx._event("timer B", 0.2, None)
    assert kinds(out) == ["error"] and "accepted" in out[0][1] and tx.state == "accepted"


def test_non_invite_client_e_capped_at_t2_then_f_and_k():
    reg = request("REGISTER")
    tx = NonInviteClient(reg, 0.0)
    fired = run_timers(tx)
    resends = [t for t, a in fired if a[0] == "send"]
    assert resends[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]        # doubles to T2 = 4 s, then every 4 s
    assert kinds([a for t, a in fired if a[0] != "send"]) == ["timeout", "terminated"]
    tx = NonInviteClient(reg, 0.0)
    assert kinds(tx.on_response(response(reg, 100), 0.1)) == ["deliver"] and tx.state == "proceeding"
    assert kinds(tx.on_timer(0.5)) == ["send"] and tx.timers["E"] == 4.5   # proceeding: every T2
    assert kinds(tx.on_response(response(reg, 200), 1.0)) == ["deliver"] and tx.state == "completed"
    assert tx.on_response(response(reg, 200), 1.1) == []    # absorbed
    assert tx.deadline() == 6.0 and kinds(tx.on_timer(6.0)) == ["terminated"]   # Timer K = T4
    tx = NonInviteClient(reg, 0.0, reliable=True)
    assert kinds(tx.on_response(response(reg, 200), 0.1)) == ["deliver", "terminated"]


def test_invite_server_trying_failure_g_h_and_ack():
    inv = request()
    tx = InviteServer(inv, 0.0)
    assert tx.start() == [] and tx.deadline() == 0.2
    out = tx.on_timer(0.2)
    assert kinds(out) == ["send"] and out[0][1].status == 100   # §17.2.1: 100 after 200 ms
    assert [a[1].status for a in tx.on_request(inv, 0.3)] == [100]   # retransmission
    out = tx.send_response(response(inv, 486), 1.0)
    assert [a[1].status for a in out] == [486] and tx.state == "completed"
    assert [a[1].status for a in tx.on_timer(1.5)] == [486]          # Timer G
    assert tx.timers["G"] == 2.5 and tx.timers["H"] == 33.0
    ack = request("ACK", to_tag="a6c85cf")
    assert tx.on_request(ack, 2.0) == [] and tx.state == "confirmed"
    assert tx.deadline() == 7.0 and kinds(tx.on_timer(7.0)) == ["terminated"]   # Timer I = T4
    tx = InviteServer(inv, 0.0)
    tx.send_response(response(inv, 480), 0.0)
    fired = run_timers(tx)
    assert kinds([a for t, a in fired if a[0] != "send"]) == ["timeout", "terminated"]
    assert fired[-1][0] == 32.0                                       # Timer H = 64*T1


def test_invite_server_2xx_retransmitted_until_ack_or_timer_l():
    inv = request()
    tx = InviteServer(inv, 0.0, trying_delay=None)
    assert tx.deadline() is None
    tx.send_response(response(inv, 200), 1.0)
    assert tx.state == "accepted"
    assert [a[1].status for a in tx.on_timer(1.5)] == [200]          # §13.3.1.4, T1 doubling
    assert tx.timers["2xx"] == 2.5
    out = tx.on_request(request("ACK", branch="z9hG4bKother", to_tag="a6c85cf"), 2.0)
    assert kinds(out) == ["deliver"] and "2xx" not in tx.timers
    assert kinds(tx.on_timer(33.0)) == ["terminated"]                 # Timer L, acked: quiet
    tx = InviteServer(inv, 0.0, trying_delay=None)
    tx.send_response(response(inv, 200), 0.0)
    fired = run_timers(tx)
    assert kinds([a for t, a in fired if a[0] != "send"]) == ["timeout", "terminated"]
    assert [t for t, a in fired if a[0] == "send"][:4] == [0.5, 1.5, 3.5, 7.5]


def test_non_invite_server_absorbs_then_timer_j():
    bye = request("BYE", seq=2, to_tag="x")
    tx = NonInviteServer(bye, 0.0)
    assert tx.on_request(bye, 0.1) == []                    # nothing sent yet: nothing to resend
    out = tx.send_response(response(bye, 200), 0.2)
    assert kinds(out) == ["send"] and tx.state == "completed"
    assert [a[1].status for a in tx.on_request(bye, 0.3)] == [200]
    assert tx.deadline() == 0.2 + 32.0 and kinds(tx.on_timer(32.2)) == ["terminated"]
    tx = NonInviteServer(bye, 0.0, reliable=True)
    assert kinds(tx.send_response(response(bye, 200), 0.0)) == ["send", "terminated"]


def test_keys_and_rfc2543_fallback():
    inv = request()
    assert client_key(inv) == ("client", BRANCH, "INVITE")
    assert server_key(inv) == ("server", BRANCH, "pc33.example.com", 5060, "INVITE")
    assert server_key(request("ACK")) == server_key(inv)
    assert server_key(request("CANCEL"))[-1] == "CANCEL"
    old = request(branch=None)
    k = server_key(old)
    assert k[0] == "server2543" and k[2] == "1928301774" and k[3] == "a84b4c76e66710" and k[4] == 1
    c = cancel_for(inv, 'SIP;cause=200;text="Call completed elsewhere"')
    assert c.method == "CANCEL" and c.via[0].branch == BRANCH and c.cseq.method == "CANCEL"
    assert c.headers.get("Reason").startswith("SIP;cause=200") and c.uri == inv.uri


def test_layer_client_flow_and_stray_2xx():
    tl = TransactionLayer()
    inv = request()
    out = tl.send_request(inv, 0.0)
    tx = out[0].tx
    assert kinds(out) == ["send"] and tl.transactions[client_key(inv)] is tx
    assert tl.deadline() == 0.5
    out = tl.receive(response(inv, 180), 0.1)
    assert kinds(out) == ["response"] and out[0].tx is tx and tl.deadline() is None   # 1xx stops A and B
    out = tl.receive(response(inv, 200), 0.2)
    assert kinds(out) == ["response"] and tx.state == "accepted"
    out = tl.on_timer(40.0)
    assert kinds(out) == ["terminated"] and not tl.transactions
    out = tl.receive(response(inv, 200), 41.0)              # after Timer M: the TU re-ACKs
    assert kinds(out) == ["response"] and out[0].tx is None
    assert tl.send_request(request("ACK", to_tag="a6c85cf"), 41.0)[0].tx is None


def test_layer_server_retransmission_cancel_and_2xx_ack():
    tl = TransactionLayer(trying_delay=None)
    inv = request()
    out = tl.receive(inv, 0.0)
    assert kinds(out) == ["request"] and out[0].tx.machine == "invite_server"
    assert tl.receive(request(), 0.1) == [] and tl.server_count == 1   # absorbed, nothing sent yet
    tl.send_response(response(inv, 180), 0.2)
    out = tl.receive(request(), 0.3)
    assert [a[1].status for a in out] == [180]                        # resends the last response
    out = tl.receive(request("CANCEL"), 0.4)
    assert kinds(out) == ["send", "cancel"] and out[0][1].status == 200 and out[0][1].cseq.method == "CANCEL"
    assert out[0][1].to.tag == "a6c85cf"                              # the 200 carries the 180's tag
    out = tl.send_response(response(inv, 200), 0.5)                   # we answered anyway
    assert [a[1].status for a in out] == [200]
    ack = request("ACK", branch="z9hG4bKnewbranch", to_tag="a6c85cf")
    out = tl.receive(ack, 0.6)
    assert kinds(out) == ["ack"] and out[0].tx.machine == "invite_server"
    out = tl.receive(request("ACK", branch="z9hG4bKnone", to_tag="nomatch"), 0.7)
    assert kinds(out) == ["request"] and out[0].tx is None            # an ACK nobody owns
    out = tl.receive(request("CANCEL", branch="z9hG4bKnothere"), 0.8)
    assert [a[1].status for a in out if a[0] == "send"] == [481]


def test_layer_outgoing_cancel_waits_for_a_provisional():
    tl = TransactionLayer()
    inv = request()
    tx = tl.send_request(inv, 0.0)[0].tx
    assert tl.cancel(tx, 0.1) == []                           # §9.1: not before a 1xx
    out = tl.receive(response(inv, 100), 0.2)
    assert kinds(out) == ["response", "send"] and out[1][1].method == "CANCEL"
    out = tl.receive(response(inv, 487), 0.3)
    assert kinds(out) == ["send", "response"] and out[0][1].method == "ACK"
    assert tl.cancel(tx, 0.4) == []                           # already final


def test_layer_bad_requests_and_overload():
    tl = TransactionLayer(max_servers=1)
    bad = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                        b"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
                        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    out = tl.receive(bad, 0.0)                                # CSeq method mismatch: 400
    assert kinds(out) == ["send", "error"] and out[0][1].status == 400
    resp = parse_message(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n")
    assert kinds(tl.receive(resp, 0.0)) == ["error"]          # a broken response is dropped
    assert kinds(tl.receive(request("OPTIONS"), 0.0)) == ["request"]
    out = tl.receive(request("OPTIONS", branch="z9hG4bKsecond"), 0.0)
    assert kinds(out) == ["overload"] and tl.server_count == 1


def test_layer_back_to_back_over_a_lossy_link():
    """Two layers talking: the INVITE and the 200 are each lost once; both recovered."""
    a, b = TransactionLayer(trying_delay=None), TransactionLayer(trying_delay=None)
    inv = request()
    lost = a.send_request(inv, 0.0)                           # first INVITE lost
    assert kinds(lost) == ["send"]
    now = a.deadline()
    resent = a.on_timer(now)                                  # Timer A
    got = b.receive(parse_message(resent[0][1].to_bytes()), now)
    srv = got[0].tx
    ok = response(srv.request, 200)
    b.send_response(ok, now + 0.1)                            # 200 lost
    now2 = b.deadline()
    again = b.on_timer(now2)
    assert [x[1].status for x in again] == [200]
    out = a.receive(parse_message(again[0][1].to_bytes()), now2)
    assert kinds(out) == ["response"] and out[0][1].status == 200
    ack = request("ACK", branch="z9hG4bKack2xx", to_tag="a6c85cf")
    assert kinds(b.receive(parse_message(ack.to_bytes()), now2 + 0.1)) == ["ack"]
    assert "2xx" not in srv.timers


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
