"""Message waiting (RFC 3842 over RFC 6665) on the virtual network: tipring A (line 1001, its
UA, call layer and `MwiService`) and a notifier P at the line's proxy address, written here
with tipring's own SIP parts (UserAgent, Dialog, digest), every message serialised and parsed.
S is a stranger. The clock moves only when a test says."""

import pytest

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.calls.mwi import MwiService, parse_message_summary
from tipring.firmware.sip.auth import digest_response, parse_challenges
from tipring.firmware.sip.dialog import Dialog
from tipring.firmware.sip.message import Request, parse_message
from tipring.firmware.sip.useragent import UserAgent, response_to
from tests.calls.vnet import VirtualNet

A = ("127.0.0.1", 5070)
P = ("127.0.0.1", 5060)
S = ("127.0.0.1", 5999)
DOMAIN = "127.0.0.1"
BODY = b"Messages-Waiting: yes\r\nMessage-Account: sip:*97@127.0.0.1\r\nVoice-Message: 2/8 (0/2)\r\n"
NONE_WAITING = b"Messages-Waiting: no\r\nVoice-Message: 0/10\r\n"

pytestmark = pytest.mark.timeout(30)


def line(**keys):
    ln = {"port": 1, "user": "1001", "password": "secret1001", "auth_user": None, "domain": DOMAIN,
          "direct_calls": False, "register": False, "mwi_subscribe": False, "mwi_uri": "",
          "mwi_expires": 600, "no_answer_s": 60}
    ln.update(keys)
    return ln


class Notifier:
    """P: a voicemail server's SUBSCRIBE/NOTIFY side. Challenges the first SUBSCRIBE of each
    dialog with 407 when `auth`, checks the digest, answers 200 with Expires, and NOTIFYs."""

    def __init__(self, net, auth=True, expires=600, answer=200):
        self.net = net
        self.ua = UserAgent(P[0], P[1])
        self.ua.handlers["SUBSCRIBE"] = self.on_subscribe
        self.auth = auth
        self.expires = expires
        self.answer = answer
        self.subscribes = []        # every SUBSCRIBE received
        self.dialog = None
        self.notify_answers = []
        self.ua.handlers["response"] = lambda resp, tx, now: self.notify_answers.append(resp.status) or []
        net.nodes[P] = (self.ua, None)

    def on_subscribe(self, req, tx, src, now):
        self.subscribes.append(req)
        if self.answer != 200:
            return self.ua.send_response(response_to(req, self.answer, to_tag="nt"), now)
        creds = req.headers.get("Proxy-Authorization")
        if self.auth and not req.to.tag and creds is None:
            return self.ua.send_response(response_to(req, 407, to_tag="chal", extra=[
                ("Proxy-Authenticate", 'Digest realm="%s", nonce="n0nce", qop="auth", algorithm=MD5' % DOMAIN)]), now)
        if creds is not None:
            c = parse_challenges(creds, "Proxy-Authorization")[0].params
            want = digest_response("MD5", "1001", "secret1001", DOMAIN, "n0nce", "SUBSCRIBE", c["uri"],
                                   c.get("qop"), c.get("nc"), c.get("cnonce"))
            assert c["response"] == want and c["username"] == "1001"
        exp = int(req.headers.get("Expires"))
        tag = req.to.tag or "vm%d" % len(self.subscribes)
        if self.dialog is None or self.dialog.call_id != req.call_id:
            self.dialog = Dialog.uas(req, tag, contact="<sip:vm@%s:%d>" % P, confirmed=True)
        resp = response_to(req, 200, to_tag=tag, extra=[("Expires", str(min(exp, self.expires))),
                                                         ("Contact", "<sip:vm@%s:%d>" % P)])
        return self.ua.send_response(resp, now)

    def notify(self, body=BODY, state="active;expires=600"):
        req = self.dialog.notify("message-summary", state, body,
                                 "application/simple-message-summary" if body else None)
        req.headers.remove("Via")
        self.net.run(self.ua.send_request(req, A, self.net.now), P)


def rig(**keys):
    net = VirtualNet()
    ua = UserAgent(A[0], A[1], users=["1001"])
    lines = [line(**keys)]
    mgr = CallManager(ua, lines, lambda p: P, lambda: (A[0], 30000))
    net.nodes[A] = (ua, mgr)
    mwi = MwiService(ua, lines, lambda p: P, lambda p: "sip:1001@%s:%d" % A)
    return net, ua, mwi


def unsolicited(net, frm, body=BODY, ctype="application/simple-message-summary", event="message-summary",
                user="1001"):
    """An out-of-dialog NOTIFY as a PBX sends it to a registered contact."""
    ua = UserAgent(frm[0], frm[1])
    net.nodes.setdefault(frm, (ua, None))
    ua = net.nodes[frm][0]
    h = [("From", "<sip:%s@%s>;tag=pbx%d" % (user, DOMAIN, len(net.raw))),
         ("To", "<sip:%s@%s>" % (user, DOMAIN)), ("Call-ID", "mwi%d@pbx" % len(net.raw)),
         ("CSeq", "1 NOTIFY"), ("Event", event), ("Subscription-State", "active"),
         ("Contact", "<sip:pbx@%s:%d>" % frm)]
    if ctype:
        h.append(("Content-Type", ctype))
    req = Request("NOTIFY", "sip:%s@%s:%d" % (user, A[0], A[1]), h, body)
    net.run(ua.send_request(req, A, net.now), frm)
    return [parse_message(d) for f, t, d in net.raw if f == A and t == frm][-1]


def mwi_events(net):
    return [e[2] for e in net.events if e[1] == "mwi"]


# ------------------------------------------------------------------ the body (RFC 3842 §5.2)

def test_message_summary_body_rfc3842_example():
    s = parse_message_summary(b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n"
                              b"Voice-Message: 4/8 (1/2)\r\n")
    assert (s["waiting"], s["new"], s["old"], s["account"]) == (True, 4, 8, "sip:alice@vmail.example.com")
    assert parse_message_summary("messages-waiting: NO\n")["waiting"] is False
    # no voice class: the sum over the classes given
    s = parse_message_summary(b"Messages-Waiting: yes\r\nFax-Message: 1/0\r\nText-Message: 2/3\r\n")
    assert (s["new"], s["old"]) == (3, 3) and s["classes"]["fax-message"] == (1, 0)


@pytest.mark.parametrize("body,fault", [
    (b"Voice-Message: 2/8\r\n", "without Messages-Waiting"),
    (b"Messages-Waiting: maybe\r\n", "yes or no"),
    (b"Messages-Waiting: yes\r\nVoice-Message: two/8\r\n", "new/old"),
    (b"Messages-Waiting yes\r\n", "without a colon"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_bad_body_is_refused_with_the_fault_named(body, fault):
    with pytest.raises(ValueError) as e:
        parse_message_summary(body)
    assert fault in str(e.value)


# ------------------------------------------------------------------ unsolicited NOTIFY

def test_unsolicited_notify_from_the_proxy_is_taken_200_and_lights_the_lamp_once():
    net, ua, mwi = rig()
    assert unsolicited(net, P).status == 200
    assert mwi_events(net) == [{"line": 1, "waiting": True, "new": 2, "old": 8}]
    assert (A, 1, "mwi", True, 2, 8) in net.line_cmds
    n = len(net.line_cmds)
    assert unsolicited(net, P).status == 200                  # the same again: nothing new
    assert len(mwi_events(net)) == 1 and len(net.line_cmds) == n
    assert unsolicited(net, P, NONE_WAITING).status == 200
    assert mwi_events(net)[-1] == {"line": 1, "waiting": False, "new": 0, "old": 10}
    assert mwi.status(1)["waiting"] is False and mwi.status(1)["subscription"] == "off"


def test_unsolicited_notify_from_a_stranger_is_403_and_changes_nothing():
    net, ua, mwi = rig()
    resp = unsolicited(net, S)
    assert resp.status == 403
    assert not mwi_events(net) and not net.line_cmds
    err = [e[2] for e in net.events if e[1] == "error"]
    assert err and err[0]["where"] == "mwi" and "not from the proxy" in err[0]["message"]
    net2, _, _ = rig(direct_calls=True)                      # the INVITE policy, lifted per line
    assert unsolicited(net2, S).status == 200 and mwi_events(net2)


def test_unsolicited_notify_for_another_user_is_404():
    net, ua, mwi = rig()
    assert unsolicited(net, P, user="1009").status == 404 and not mwi_events(net)


@pytest.mark.parametrize("body,ctype", [(b"Messages-Waiting: perhaps\r\n", "application/simple-message-summary"),
                                        (b"<xml/>", "application/xml")])
def test_a_bad_body_gets_400_with_the_reason_and_an_error_event(body, ctype):
    net, ua, mwi = rig()
    unsolicited(net, P, BODY)
    resp = unsolicited(net, P, body, ctype)
    assert resp.status == 400 and resp.reason.startswith("Bad Request:")
    assert [e[2]["where"] for e in net.events if e[1] == "error"] == ["mwi"]
    assert mwi.status(1)["waiting"] is True                  # the lamp keeps its state


def test_a_notify_of_another_package_still_reaches_the_call_layer():
    net, ua, mwi = rig()
    resp = unsolicited(net, P, b"SIP/2.0 200 OK\r\n", "message/sipfrag", event="refer")
    assert resp.status == 481 and not mwi_events(net)        # no such call: as before MWI


# ------------------------------------------------------------------ SUBSCRIBE (RFC 6665)

def test_subscribe_with_digest_then_notify_refresh_and_unsubscribe():
    net, ua, mwi = rig(mwi_subscribe=True)
    p = Notifier(net, auth=True, expires=600)
    net.run(mwi.start(0.0), A)
    first, second = p.subscribes[:2]
    assert first.headers.get("Event") == "message-summary"
    assert first.headers.get("Accept") == "application/simple-message-summary"
    assert first.uri == "sip:1001@%s" % DOMAIN and first.headers.get("Expires") == "600"
    assert second.headers.get("Proxy-Authorization") and second.cseq.seq == first.cseq.seq + 1
    assert second.call_id == first.call_id
    subs = [e[2] for e in net.events if e[1] == "subscription"]
    assert subs[-1]["state"] == "active" and subs[-1]["expires"] == 600
    assert subs[-1]["package"] == "message-summary" and "event" not in subs[-1]   # the log's own key
    p.notify()
    assert p.notify_answers == [200]
    assert mwi_events(net) == [{"line": 1, "waiting": True, "new": 2, "old": 8}]
    assert mwi.status(1)["subscription"] == "active"
    # refresh a minute before the end, in the dialog, with credentials again
    net.tick(539.0)
    assert len(p.subscribes) == 2
    net.tick(541.0)
    assert len(p.subscribes) == 3
    ref = p.subscribes[2]
    assert ref.to.tag == "vm2" and ref.call_id == first.call_id and ref.cseq.seq > second.cseq.seq
    assert ref.uri == "sip:vm@%s:%d" % P                    # the dialog's remote target
    p.notify(NONE_WAITING)
    assert mwi_events(net)[-1]["waiting"] is False
    # shutdown: Expires 0 in the dialog, answered, terminated
    net.run(mwi.stop(net.now), A)
    last = p.subscribes[-1]
    assert last.headers.get("Expires") == "0" and last.to.tag == "vm2"
    assert mwi.settled and [e[2] for e in net.events if e[1] == "subscription"][-1]["state"] == "terminated"


def test_notify_before_the_200_builds_the_dialog_and_terminated_deactivated_resubscribes():
    net, ua, mwi = rig(mwi_subscribe=True)
    p = Notifier(net, auth=False)
    got = []
    orig = p.on_subscribe

    def notify_first(req, tx, src, now):            # RFC 6665 §4.1.2.4: NOTIFY may overtake the 200
        got.append(req)
        p.dialog = Dialog.uas(req, "early1", contact="<sip:vm@%s:%d>" % P, confirmed=True)
        p.notify()
        return orig(req, tx, src, now)
    p.ua.handlers["SUBSCRIBE"] = notify_first
    net.run(mwi.start(0.0), A)
    assert p.notify_answers == [200] and mwi_events(net)
    assert mwi.subs[1].dialog.remote_tag == "early1"
    p.ua.handlers["SUBSCRIBE"] = orig
    call_id = mwi.subs[1].call_id
    p.notify(b"", "terminated;reason=deactivated")
    assert p.notify_answers[-1] == 200
    net.tick(net.now + 0.01)
    assert p.subscribes[-1].call_id != call_id and not p.subscribes[-1].to.tag   # a new subscription
    assert mwi.status(1)["subscription"] == "active"


def test_489_bad_event_fails_and_retries_only_after_30_minutes():
    net, ua, mwi = rig(mwi_subscribe=True)
    p = Notifier(net, answer=489)
    net.run(mwi.start(0.0), A)
    ev = [e[2] for e in net.events if e[1] == "subscription"][-1]
    assert ev["state"] == "failed" and ev["status"] == 489 and ev["retry_in"] == 1800
    net.tick(1799.0)
    assert len(p.subscribes) == 1
    net.tick(1801.0)
    assert len(p.subscribes) == 2


def test_a_notify_with_a_to_tag_we_do_not_know_from_the_proxy_is_taken_as_unsolicited():
    net, ua, mwi = rig()
    p = Notifier(net)
    p.dialog = Dialog(call_id="gone@tipring", local_tag="x", remote_tag="y", local_uri="<sip:vm@127.0.0.1>",
                      remote_uri="<sip:1001@127.0.0.1>", local_seq=1, remote_seq=None,
                      remote_target="sip:1001@127.0.0.1:5070", route_set=[], state="confirmed", is_uac=False)
    p.notify()
    # a To tag that matches no subscription of ours, from the proxy: taken as unsolicited MWI
    assert p.notify_answers == [200] and mwi_events(net)
