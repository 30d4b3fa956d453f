"""Supplementary services decided on the network side (FLOWS.md §7, §10-§15): forwarding, DND,
the call-waiting cue, blind and attended transfer as transferee, transferor and target.

Three tipring call layers (A 1001, B 1002, C 1003) on a virtual network and clock, as in
test_call_flows.py, plus a tiny stand-in for the proxy P: it relays requests by the user part
of the Request-URI and responses by their Via, so every INVITE reaches a UA from its proxy
(the ghost-call check holds) and the dialogs run UA to UA (no Record-Route)."""

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.sip.dialog import new_request
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.useragent import UserAgent
from tests.calls.vnet import VirtualNet

P = ("127.0.0.1", 5060)
A = ("127.0.0.1", 5070)
B = ("127.0.0.1", 5080)
C = ("127.0.0.1", 5090)
DOMAIN = "127.0.0.1:5060"


def line(port, user):
    return {"port": port, "user": user, "password": "secret" + user, "auth_user": None, "display_name": None,
            "domain": DOMAIN, "no_answer_s": 60, "direct_calls": False}


class Net(VirtualNet):
    """Three UAs and P, which relays requests by Request-URI user and responses by Via."""

    def __init__(self):
        super().__init__()
        self.users = {}
        self.features = {}

    def add(self, addr, *users):
        ua = UserAgent(addr[0], addr[1])
        lines = [line(i + 1, u) for i, u in enumerate(users)]
        self.features[addr] = {}
        n = [20000 + addr[1]]

        def alloc():
            n[0] += 2
            return (addr[0], n[0])
        mgr = CallManager(ua, lines, lambda p: P, alloc,
                          features_for=lambda port, a=addr: self.features[a].get(port, {}))
        self.nodes[addr] = (ua, mgr)
        for u in users:
            self.users[u] = addr
        return mgr

    def relay(self, data, dest):
        if dest != P:
            return None
        msg = parse_message(data)
        if msg.is_request:
            return self.users[msg.uri.split(":", 1)[1].split("@")[0]]
        via = msg.via[0]
        return (via.host, via.port)

    # -- reading what happened
    def sent(self, start, frm=None, to=None):
        """Parsed messages whose start line begins with `start` (first hop only: not P's relay)."""
        return [parse_message(d) for f, t, d in self.raw
                if d.startswith(start.encode()) and f != P and (frm is None or f == frm) and (to is None or t == to)]

    def cmds(self, at):
        return [c[2:] for c in self.line_cmds if c[0] == at]

    def calls(self, at, state):
        return [e[2] for e in self.events if e[0] == at and e[1] == "call" and e[2]["state"] == state]


def three():
    net = Net()
    a = net.add(A, "1001")
    b = net.add(B, "1002")
    c = net.add(C, "1003")
    return net, a, b, c


def _talking(net, caller, at, callee, callee_at, number, port=1, t=0.0):
    net.now = t
    net.run(caller.dial(port, number, t), at)
    net.run(callee.answer(1, t + 0.5), callee_at)
    assert caller.call_on(port).state == "connected" and callee.call_on(1).state == "connected"


# ---------------------------------------------------------------------- forwarding, DND


def test_forward_all_answers_302_with_diversion_and_the_caller_reaches_the_target():
    net, a, b, c = three()
    net.features[B][1] = {"forward_all": "1003"}
    net.run(a.dial(1, "1002", 0.0), A)
    r302 = net.sent("SIP/2.0 302", frm=B)
    assert len(r302) == 1
    assert r302[0].headers.get("Contact") == "<sip:1003@%s>" % DOMAIN
    assert r302[0].headers.get("Diversion") == "<sip:1002@%s>;reason=unconditional;counter=1" % DOMAIN
    assert r302[0].headers.get("History-Info").startswith("<sip:1002@%s>;index=1, <sip:1003@" % DOMAIN)
    assert r302[0].to.tag
    assert net.cmds(B) == []                              # B's phone never rang
    ended = net.calls(B, "ended")
    assert ended and ended[0]["reason"] == "forwarded to sip:1003@%s (unconditional)" % DOMAIN
    # A follows the 302 (FLOWS §10): a new INVITE to the Contact, which reaches C
    assert [m.uri for m in net.sent("INVITE ", frm=A)] == ["sip:1002@%s" % DOMAIN, "sip:1003@%s" % DOMAIN]
    assert ("incoming", {"number": "1001", "name": None}) in net.cmds(C)
    net.run(c.answer(1, 1.0), C)
    assert a.call_on(1).state == "connected" and a.call_on(1).peer == "1002"
    assert b.calls == {}


def test_busy_line_with_forward_busy_answers_302_user_busy():
    net, a, b, c = three()
    b.line_busy = lambda port: True
    net.features[B][1] = {"forward_busy": "1003", "forward_all": ""}
    net.run(a.dial(1, "1002", 0.0), A)
    r302 = net.sent("SIP/2.0 302", frm=B)[0]
    assert r302.headers.get("Diversion") == "<sip:1002@%s>;reason=user-busy;counter=1" % DOMAIN
    assert ";cause=486>" in r302.headers.get("History-Info")          # RFC 4458 cause
    assert ("incoming", {"number": "1001", "name": None}) in net.cmds(C)
    assert net.cmds(B) == []


def test_a_second_caller_to_a_line_in_a_call_rings_180_and_the_line_hears_call_waiting():
    net, a, b, c = three()
    net.features[B][1] = {"call_waiting": True}
    _talking(net, c, C, b, B, "1002")                     # B talks to C
    n, rung = len(net.line_cmds), len(net.sent("SIP/2.0 180", frm=B))
    net.run(a.dial(1, "1002", 2.0), A)                    # A calls B: 180, B's line is told
    assert net.sent("SIP/2.0 486", frm=B) == []
    assert len(net.sent("SIP/2.0 180", frm=B)) == rung + 1
    assert (A, 1, "remote_ringing") in net.line_cmds
    assert [c_ for c_ in net.line_cmds[n:] if c_[0] == B] == [(B, 1, "call_waiting", {"number": "1001", "name": None})]
    assert b.call_on(1).state == "connected" and b.waiting[1].peer == "1001"
    net.run(a.hangup(1, 3.5), A)                          # that caller gives up: the tone ends
    assert [c_[2] for c_ in net.line_cmds[n:] if c_[0] == B] == ["call_waiting", "call_waiting_end"]
    assert b.call_on(1).state == "connected" and not b.waiting


def test_call_waiting_off_or_no_call_in_progress_gives_a_plain_486():
    net, a, b, c = three()
    net.features[B][1] = {"call_waiting": False}
    _talking(net, c, C, b, B, "1002")
    net.run(a.dial(1, "1002", 2.0), A)
    assert len(net.sent("SIP/2.0 486", frm=B)) == 1 and not [x for x in net.cmds(B) if x[0] == "call_waiting"]
    net2, a2, b2, _ = three()
    net2.features[B][1] = {"call_waiting": True}
    b2.line_busy = lambda port: True                      # off-hook, dialling: no call to wait on
    net2.run(a2.dial(1, "1002", 0.0), A)
    assert len(net2.sent("SIP/2.0 486", frm=B)) == 1 and net2.cmds(B) == []


def test_forward_on_no_answer_rings_then_302_no_answer_and_the_phone_stops():
    net, a, b, c = three()
    net.features[B][1] = {"forward_no_answer": "1003", "forward_no_answer_s": 5}
    net.run(a.dial(1, "1002", 0.0), A)
    assert net.cmds(B)[0][0] == "incoming"
    net.tick(4.9)
    assert not net.sent("SIP/2.0 302")
    net.tick(5.5)
    r302 = net.sent("SIP/2.0 302", frm=B)[0]
    assert r302.headers.get("Contact") == "<sip:1003@%s>" % DOMAIN
    assert r302.headers.get("Diversion") == "<sip:1002@%s>;reason=no-answer;counter=1" % DOMAIN
    assert net.cmds(B)[-1] == ("remote_hangup",)
    assert ("incoming", {"number": "1001", "name": None}) in net.cmds(C)
    assert b.calls == {} and net.calls(B, "ended")[0]["reason"].endswith("(no-answer)")
    net.run(c.answer(1, 6.0), C)
    assert a.call_on(1).state == "connected"


def test_dnd_declines_603_without_ringing_or_486_when_configured():
    net, a, b, c = three()
    net.features[B][1] = {"dnd": True, "dnd_response": 603}
    net.run(a.dial(1, "1002", 0.0), A)
    assert [m.status for m in net.sent("SIP/2.0 ", frm=B)] == [603]
    assert net.cmds(B) == [] and (A, 1, "remote_failed", "reorder") in net.line_cmds
    assert net.calls(B, "ended")[0]["reason"] == "do not disturb (603 Decline)"
    net.features[B][1] = {"dnd": True, "dnd_response": 486}
    net.run(a.dial(1, "1002", 1.0), A)
    assert [m.status for m in net.sent("SIP/2.0 ", frm=B)] == [603, 486]
    assert (A, 1, "remote_busy") in net.line_cmds and net.cmds(B) == []


# ---------------------------------------------------------------------- blind transfer


def _notify_bodies(net, frm):
    return [(n.headers.get("Subscription-State"), n.body.decode()) for n in net.sent("NOTIFY ", frm=frm)]


def test_blind_transfer_b_is_transferee_and_a_transferor_both_tipring():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    old_b = b.call_on(1)
    n_cmd = len(net.line_cmds)
    net.now = 5.0
    net.run(a.transfer_blind(1, "1003", 5.0), A)
    refer = net.sent("REFER ", frm=A)[0]
    assert refer.headers.get("Refer-To") == "<sip:1003@%s>" % DOMAIN
    assert refer.headers.get("Referred-By") == "<sip:1001@%s>" % DOMAIN
    assert net.sent("SIP/2.0 202", frm=B)
    first = net.sent("NOTIFY ", frm=B)[0]
    assert first.headers.get("Event") == "refer"
    assert first.headers.get("Subscription-State").startswith("active")
    assert first.content_type == "message/sipfrag" and first.body == b"SIP/2.0 100 Trying\r\n"
    # B places the new call through its proxy, Referred-By copied; C rings
    inv = [m for m in net.sent("INVITE ", frm=B)]
    assert len(inv) == 1 and inv[0].uri == "sip:1003@%s" % DOMAIN
    assert inv[0].headers.get("Referred-By") == "<sip:1001@%s>" % DOMAIN
    assert [w for w in net.wire if w[0] == B and w[2].startswith("INVITE ")][0][1] == P
    assert ("incoming", {"number": "1002", "name": None}) in net.cmds(C)
    assert a.call_on(1) is not None and b.call_on(1) is old_b        # nothing moves until C answers
    net.run(c.answer(1, 6.0), C)
    assert _notify_bodies(net, B) == [("active;expires=60", "SIP/2.0 100 Trying\r\n"),
                                      ("terminated;reason=noresource", "SIP/2.0 200 OK\r\n")]
    assert net.sent("BYE ", frm=B, to=A) or net.sent("BYE ", frm=A, to=B)
    new_b = b.call_on(1)
    assert new_b is not old_b and new_b.state == "connected" and new_b.peer == "1003"
    assert c.call_on(1).state == "connected" and a.calls == {} and len(b.calls) == 1
    # A's line: transfer_ok, nothing else; B's handset stays talking: no command at all
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == A] == [(A, 1, "transfer_ok")]
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == B] == []
    # B's media moves: the new call's stream starts, the old one stops
    b_media = [(m[1], m[2]) for m in net.media if m[0] == B]
    assert ("start", new_b.call_id) in b_media and ("stop", old_b.call_id) in b_media
    assert b_media.index(("stop", old_b.call_id)) > b_media.index(("start", old_b.call_id))
    assert net.calls(A, "ended")[0]["reason"] == "transferred"
    assert net.calls(B, "ended")[0]["reason"] == "transferred to 1003"


def test_blind_transfer_to_a_busy_target_is_reported_and_the_call_stays():
    net, a, b, c = three()
    c.line_busy = lambda port: True
    _talking(net, a, A, b, B, "1002")
    old_b = b.call_on(1)
    n_cmd = len(net.line_cmds)
    net.run(a.transfer_blind(1, "1003", 5.0), A)
    assert _notify_bodies(net, B) == [("active;expires=60", "SIP/2.0 100 Trying\r\n"),
                                      ("terminated;reason=noresource", "SIP/2.0 486 Busy Here\r\n")]
    assert (A, 1, "transfer_failed") in net.line_cmds
    assert a.call_on(1).state == "connected" and b.call_on(1) is old_b and old_b.state == "connected"
    assert not net.sent("BYE ") and [x for x in net.line_cmds[n_cmd:] if x[0] == B] == []
    # the call can be transferred again later
    c.line_busy = lambda port: False
    net.run(a.transfer_blind(1, "1003", 8.0), A)
    net.run(c.answer(1, 9.0), C)
    assert (A, 1, "transfer_ok") in net.line_cmds and b.call_on(1).peer == "1003"


def test_refer_without_answer_tells_the_transferor_line_it_failed():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    net.drop = lambda data: data.startswith(b"REFER ")
    net.run(a.transfer_blind(1, "1003", 2.0), A)
    net.tick(40.0)                                        # Timer F
    assert (A, 1, "transfer_failed") in net.line_cmds
    assert a.call_on(1).state == "connected"


def test_transferor_hangs_up_after_202_and_the_transfer_still_completes_quietly():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    n_cmd = len(net.line_cmds)
    net.run(a.transfer_blind(1, "1003", 2.0), A)
    net.run(a.hangup(1, 2.1), A)                          # A does not wait for the NOTIFY
    b_cmds = lambda: [x for x in net.line_cmds[n_cmd:] if x[0] == B]
    assert b_cmds() == []                                 # no remote_hangup: B's handset keeps the line
    assert b.call_on(1).transfer_of is not None           # the pending new call holds the line
    net.run(c.answer(1, 3.0), C)
    assert b.call_on(1).state == "connected" and b.call_on(1).peer == "1003"
    assert b_cmds() == [] and len(b.calls) == 1


def test_old_call_gone_and_the_transfer_fails_the_handset_hears_the_end():
    net, a, b, c = three()
    c.line_busy = lambda port: True
    _talking(net, a, A, b, B, "1002")
    n_cmd = len(net.line_cmds)
    held = []
    net.drop = lambda data: data.startswith(b"INVITE ") and not held and (held.append(data) or True)
    net.run(a.transfer_blind(1, "1003", 2.0), A)          # B's INVITE to C is held back...
    net.drop = None
    net.run(a.hangup(1, 2.1), A)                          # ...while A leaves
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == B] == []
    net.tick(3.0)                                         # the INVITE is retransmitted: C is busy
    assert [x[1:] for x in net.line_cmds[n_cmd:] if x[0] == B] == [(1, "remote_hangup")]
    assert b.calls == {} and b.call_on(1) is None


def test_transferee_handset_hangs_up_while_the_target_rings():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    net.run(a.transfer_blind(1, "1003", 2.0), A)
    net.run(b.hangup(1, 3.0), B)
    assert net.sent("CANCEL ", frm=B) and ("remote_hangup",) in net.cmds(C)
    assert (A, 1, "remote_hangup") in net.line_cmds
    assert b.calls == {} and c.calls == {}


def test_refer_with_refer_sub_false_gets_202_and_no_notify():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    ca = a.call_on(1)
    req = ca.dialog.refer("<sip:1003@%s>" % DOMAIN, headers=[("Refer-Sub", "false")])
    req.headers.remove("Via")
    net.run(a._run(ca, [("send", req, ca._dest_for(req))], 2.0), A)
    ok = net.sent("SIP/2.0 202", frm=B)[0]
    assert ok.headers.get("Refer-Sub") == "false"
    net.run(c.answer(1, 3.0), C)
    assert not net.sent("NOTIFY ") and b.call_on(1).peer == "1003"
    assert net.sent("BYE ", frm=B, to=A)


# ---------------------------------------------------------------------- attended transfer, Replaces


def _four_way():
    """A (two lines: 1001 and 1011) talks to B on line 1 and to C on line 2."""
    net = Net()
    a = net.add(A, "1001", "1011")
    b = net.add(B, "1002")
    c = net.add(C, "1003")
    _talking(net, a, A, b, B, "1002", port=1)
    _talking(net, a, A, c, C, "1003", port=2, t=1.0)
    return net, a, b, c


def test_attended_transfer_b_sends_invite_with_replaces_and_c_takes_over_without_ringing():
    net, a, b, c = _four_way()
    a_c, c_a = a.call_on(2), c.call_on(1)
    n_cmd = len(net.line_cmds)
    net.now = 5.0
    net.run(a.transfer_attended(1, a_c, 5.0), A)
    refer = net.sent("REFER ", frm=A)[0]
    to = refer.headers.get("Refer-To")
    assert to.startswith("<sip:1003@127.0.0.1:5090?Replaces=") and "%3Bto-tag%3D" in to and "%40" in to
    # B's INVITE carries the Replaces header, unescaped, naming the A-C dialog as C sees it
    inv = net.sent("INVITE ", frm=B)[0]
    assert inv.uri == "sip:1003@127.0.0.1:5090"
    assert inv.headers.get("Replaces") == "%s;to-tag=%s;from-tag=%s" % (a_c.call_id, c_a.local_tag, a_c.local_tag)
    # C answers at once (no 180, no ring), ends its dialog with A, and moves its media
    answers = [m.status for m in net.sent("SIP/2.0 ", frm=C) if m.call_id == inv.call_id and m.cseq.method == "INVITE"]
    assert answers == [200]
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == C] == []
    c_new = c.call_on(1)
    assert c_new is not c_a and c_new.state == "connected" and c_new.peer == "1002"
    assert net.sent("BYE ", frm=C, to=A)[0].call_id == a_c.call_id
    c_media = [(m[1], m[2]) for m in net.media if m[0] == C]
    assert ("stop", c_a.call_id) in c_media and ("start", c_new.call_id) in c_media
    assert net.calls(C, "ended")[0]["reason"] == "replaced by 1002"
    # B reports 200, A leaves both calls; A's lines hear transfer_ok only
    assert [s for s, _ in _notify_bodies(net, B)][-1] == "terminated;reason=noresource"
    assert _notify_bodies(net, B)[-1][1] == "SIP/2.0 200 OK\r\n"
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == A] == [(A, 1, "transfer_ok")]
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == B] == []
    assert a.calls == {} and b.call_on(1).peer == "1003" and b.call_on(1).state == "connected"


def _invite_with_replaces(net, replaces, frm=B, user="1002", to=C, to_user="1003"):
    ua, _ = net.nodes[frm]
    req = new_request("INVITE", "sip:%s@%s" % (to_user, DOMAIN), "<sip:%s@%s>" % (user, DOMAIN),
                      "<sip:%s@%s>" % (to_user, DOMAIN), contact="<sip:%s@%s:%d>" % (user, frm[0], frm[1]),
                      via_host=frm[0], via_port=frm[1], headers=[("Replaces", replaces)])
    req.headers.remove("Via")
    net.run(ua.send_request(req, P, net.now), frm)
    return [m.status for m in net.sent("SIP/2.0 ", frm=to) if m.call_id == req.call_id and m.status >= 200]


def test_replaces_that_matches_nothing_gets_481_and_changes_nothing():
    net, a, b, c = three()
    _talking(net, a, A, c, C, "1003")
    c_a = c.call_on(1)
    assert _invite_with_replaces(net, "nosuchcall@x;to-tag=1;from-tag=2") == [481]
    wrong_tags = "%s;to-tag=%s;from-tag=bogus" % (c_a.call_id, c_a.local_tag)
    assert _invite_with_replaces(net, wrong_tags) == [481]
    assert c.call_on(1) is c_a and c_a.state == "connected" and not net.sent("BYE ")


def test_replaces_naming_an_early_dialog_we_did_not_start_gets_481():
    net, a, b, c = three()
    net.run(a.dial(1, "1003", 0.0), A)                   # C rings: an early dialog C answers as UAS
    c_a = c.call_on(1)
    assert c_a.state == "incoming"
    rep = "%s;to-tag=%s;from-tag=%s" % (c_a.call_id, c_a.local_tag, c_a.dialog.remote_tag)
    assert _invite_with_replaces(net, rep) == [481]
    assert c.call_on(1) is c_a and c_a.state == "incoming"


def test_replaces_with_early_only_on_a_confirmed_dialog_gets_486():
    net, a, b, c = three()
    _talking(net, a, A, c, C, "1003")
    c_a = c.call_on(1)
    rep = "%s;to-tag=%s;from-tag=%s;early-only" % (c_a.call_id, c_a.local_tag, c_a.dialog.remote_tag)
    assert _invite_with_replaces(net, rep) == [486]
    assert c_a.state == "connected"


def test_replaces_naming_our_own_early_dialog_is_accepted_and_the_old_invite_cancelled():
    net, a, b, c = three()
    net.run(a.dial(1, "1003", 0.0), A)                   # A's INVITE rings C: A's own early dialog
    a_c = a.call_on(1)
    assert a_c.state == "ringing"
    rep = "%s;to-tag=%s;from-tag=%s" % (a_c.call_id, a_c.dialog.local_tag, a_c.dialog.remote_tag)
    n_cmd = len(net.line_cmds)
    assert _invite_with_replaces(net, rep, to=A, to_user="1001") == [200]
    assert net.sent("CANCEL ", frm=A) and ("remote_hangup",) in net.cmds(C)
    assert a.call_on(1).state == "connected" and a.call_on(1).peer == "1002"
    assert [x for x in net.line_cmds[n_cmd:] if x[0] == A] == []
    assert len(a.calls) == 1 and c.calls == {}


def test_refer_with_a_bad_or_missing_refer_to_is_400_and_the_call_stays():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    ca = a.call_on(1)
    for extra in ([("Refer-To", "<http://example.com/x>")], []):
        req = ca.dialog.request("REFER", headers=extra)
        req.headers.remove("Via")
        net.run(a._run(ca, [("send", req, ca._dest_for(req))], 2.0), A)
    assert [m.status for m in net.sent("SIP/2.0 4", frm=B)] == [400, 400]
    assert not net.sent("NOTIFY ") and b.call_on(1).state == "connected"


# ---------------------------------------------------------------------- flash relay


def test_flash_relay_by_info_sends_hook_flash_in_the_dialog_and_the_call_stays():
    net, a, b, c = three()
    _talking(net, a, A, b, B, "1002")
    net.run(a.flash_info(1, 1.0), A)
    info = net.sent("INFO ", frm=A)
    assert len(info) == 1
    assert info[0].headers.get("Content-Type") == "application/hook-flash"
    assert info[0].body == b"signal=hf\r\n"
    assert info[0].call_id == a.call_on(1).call_id and info[0].to.tag
    assert len(net.sent("SIP/2.0 200", frm=B)) >= 1
    assert a.call_on(1).state == "connected" and b.call_on(1).state == "connected"
    assert net.sent("INVITE ", frm=A)[-1].to.tag is None          # no re-INVITE: nothing held
    assert [e for e in net.events if e[0] == A and e[1] == "error"] == []


def test_flash_relay_without_a_call_is_an_error_not_a_crash():
    net, a, b, c = three()
    out = a.flash_info(1, 0.0)
    assert out and out[0][0] == "event" and out[0][1] == "error"
