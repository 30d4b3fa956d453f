"""tipring/firmware/sip/registration.py and subscription.py on CPython and MicroPython, each a TU of a
real `UserAgent` talking to a scripted registrar/notifier over a virtual network: digest auth
(401, then 200 with the right RFC 2617 response, checked independently), refresh at half the
granted time, a wrong password, 403, Timer F back-off, 423, NAT (rport), unregister; SUBSCRIBE
with 407, NOTIFY before and after the 2xx, refresh in the dialog, terminated, unsubscribe.

Run: python tests/portable/test_sip_registration_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_sip_registration_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.subscription import Subscription
from tipring.firmware.sip.useragent import UserAgent

try:
    from peer import Rig, auth_params, check_digest, reply, request_bytes   # a script
except ImportError:
    from tests.portable.peer import Rig, auth_params, check_digest, reply, request_bytes   # pytest

ATA = ("127.0.0.1", 5070)
REG = ("127.0.0.1", 5060)
CHALLENGE = 'Digest realm="tipring.test", nonce="n0nce1", qop="auth", algorithm=MD5'


def setup(password="secret", expires=3600):
    ua = UserAgent(ATA[0], ATA[1])
    reg = Registration(1, "1001", password, "tipring.test", REG, ua.contact_uri("1001"),
                       expires=expires, jitter=lambda: 0.0)
    ua.add_tu(reg)
    rig = Rig(ua)
    return rig, reg


def start(rig, reg):
    return rig.carry(rig.ua.run_tu(reg, reg.start(rig.now), rig.now))


def granted(req, expires):
    contact = req.headers.get("Contact").split(";")[0]
    return reply(req, 200, to_tag="reg1", headers=[("Contact", "%s;expires=%d" % (contact, expires))])


def test_register_401_then_200_with_a_correct_digest():
    rig, reg = setup()
    first, = start(rig, reg)
    assert rig.sent[0][0] == REG and first.method == "REGISTER" and first.uri == "sip:tipring.test"
    assert "Authorization" not in first.headers and first.cseq.seq == 1
    assert first.headers.get("Contact") == "<sip:1001@127.0.0.1:5070>;expires=3600"
    assert first.via[0].branch.startswith("z9hG4bK") and "rport" in first.via[0].params
    second, = rig.feed(reply(first, 401, to_tag="r", headers=[("WWW-Authenticate", CHALLENGE)]), REG)
    assert second.call_id == first.call_id and second.cseq.seq == 2
    assert second.from_.tag == first.from_.tag and second.via[0].branch != first.via[0].branch
    p = check_digest(second, "secret")
    assert p["username"] == "1001" and p["realm"] == "tipring.test" and p["nc"] == "00000001"
    assert reg.state == "registering" and rig.event_names() == []
    assert rig.feed(granted(second, 120), REG) == []
    assert reg.state == "registered" and reg.registered
    assert rig.events == [("registered", {"line": 1, "registrar": "127.0.0.1:5060", "expires": 120})]


def test_refresh_at_half_the_granted_time_with_cached_credentials():
    rig, reg = setup()
    first, = start(rig, reg)
    second, = rig.feed(reply(first, 401, headers=[("WWW-Authenticate", CHALLENGE)]), REG)
    rig.feed(granted(second, 120), REG)
    assert rig.tick(59.9) == []                       # the 200's transaction timers only
    refresh, = rig.tick(60.0)
    assert rig.now == 60.0 and refresh.cseq.seq == 3 and refresh.call_id == first.call_id
    p = check_digest(refresh, "secret")               # pre-emptive: same nonce, next nc
    assert p["nonce"] == "n0nce1" and p["nc"] == "00000002"
    rig.feed(granted(refresh, 120), REG)
    assert reg.deadline() == 120.0 and rig.event_names() == ["registered", "registered"]


def test_wrong_password_is_reported_and_backed_off():
    rig, reg = setup(password="wrong")
    first, = start(rig, reg)
    second, = rig.feed(reply(first, 401, headers=[("WWW-Authenticate", CHALLENGE)]), REG)
    assert rig.feed(reply(second, 401, headers=[("WWW-Authenticate", CHALLENGE)]), REG) == []
    name, f = rig.events[-1]
    assert name == "registration_failed" and f["status"] == 401
    assert f["reason"].startswith("wrong password") and f["retry_in"] == 30.0
    assert reg.state == "backoff" and reg.deadline() == 30.0
    again, = [m for m in rig.tick(30.0) if m.method == "REGISTER"]
    assert again.cseq.seq == 3 and reg.state == "registering"


def test_403_fails_the_account_and_timer_f_backs_off():
    rig, reg = setup()
    first, = start(rig, reg)
    rig.feed(reply(first, 403), REG)
    name, f = rig.events[-1]
    assert (name, f["status"], reg.state) == ("registration_failed", 403, "failed")
    assert "check the account" in f["reason"] and reg.deadline() == 1800.0
    rig, reg = setup()
    first, = start(rig, reg)
    resent = rig.tick(40.0)                           # no answer: Timer E resends, F gives up
    assert len(resent) == 10 and all(m.to_bytes() == first.to_bytes() for m in resent)
    name, f = rig.events[-1]
    assert name == "registration_failed" and f["status"] is None
    assert f["reason"] == "no answer from 127.0.0.1:5060" and reg.state == "backoff"


def test_423_raises_expires_and_nat_mapping_re_registers():
    rig, reg = setup(expires=60)
    first, = start(rig, reg)
    second, = rig.feed(reply(first, 423, headers=[("Min-Expires", "300")]), REG)
    assert second.headers.get("Expires") == "300" and second.cseq.seq == 2
    # the registrar saw us at another address (RFC 3581): the Contact follows it, the old goes
    via = second.headers.get("Via") + ";received=192.0.2.7"
    ok = reply(second, 200, headers=[("Contact", "<sip:1001@127.0.0.1:5070>;expires=300")])
    ok = ok.replace(second.headers.get("Via").encode(), via.replace(";rport", ";rport=40000").encode())
    third, = rig.feed(ok, REG)
    assert rig.events[-1][0] == "nat" and rig.events[-1][1]["contact"] == "sip:1001@192.0.2.7:40000"
    assert third.headers.get("Contact") == ("<sip:1001@192.0.2.7:40000>;expires=300, "
                                            "<sip:1001@127.0.0.1:5070>;expires=0")
    rig.feed(reply(third, 200, headers=[("Contact", "<sip:1001@192.0.2.7:40000>;expires=300")]), REG)
    assert reg.state == "registered" and rig.events[-1][1]["contact"] == "sip:1001@192.0.2.7:40000"


def test_unregister_sends_expires_zero():
    rig, reg = setup()
    first, = start(rig, reg)
    rig.feed(granted(first, 600), REG)
    bye, = rig.carry(rig.ua.run_tu(reg, reg.stop(rig.now), rig.now))
    assert bye.headers.get("Expires") == "0" and bye.headers.get("Contact").endswith(";expires=0")
    rig.feed(reply(bye, 200), REG)
    assert reg.state == "stopped" and rig.events[-1] == ("unregistered", {"line": 1, "registrar": "127.0.0.1:5060",
                                                                          "status": 200})


def test_garbage_from_the_registrar_never_wins():
    rig, reg = setup()
    first, = start(rig, reg)
    assert rig.feed(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", REG) == []
    assert rig.errors() and reg.state == "registering"
    rig.feed(granted(first, 120), REG)
    assert reg.state == "registered"


# --------------------------------------------------------------------------- SUBSCRIBE

def subscriber():
    ua = UserAgent(ATA[0], ATA[1])
    sub = Subscription(1, "1001", "secret", "tipring.test", "sip:1001@tipring.test", REG,
                       ua.contact_uri("1001"), expires=600)
    ua.add_tu(sub)

    def on_notify(req, tx, src, now):
        status, acts = sub.on_notify(req, now) if sub.matches(req) else (481, [])
        return ua.send_response(reply_obj(req, status), now) + ua.run_tu(sub, acts, now)
    ua.handlers["NOTIFY"] = on_notify
    return Rig(ua), sub


def reply_obj(req, status):
    from tipring.firmware.sip.message import parse_message
    return parse_message(reply(req, status))


def notify(sub_req, seq, state, body=b"", to_tag="n1"):
    tag = sub_req.from_.tag
    return request_bytes(
        "NOTIFY", "sip:1001@127.0.0.1:5070", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK%s%s%d" % (sub_req.call_id[:6], to_tag, seq),
        "<sip:1001@tipring.test>;tag=" + to_tag, "<sip:1001@tipring.test>;tag=" + tag, sub_req.call_id, seq,
        contact="<sip:mwi@127.0.0.1:5060>", body=body,
        extra=["Event: message-summary", "Subscription-State: " + state])


def test_subscribe_with_407_notify_refresh_and_unsubscribe():
    rig, sub = subscriber()
    first, = rig.carry(rig.ua.run_tu(sub, sub.start(0.0), 0.0))
    assert first.method == "SUBSCRIBE" and first.headers.get("Event") == "message-summary"
    assert first.headers.get("Expires") == "600" and first.headers.get("Accept") == "application/simple-message-summary"
    chal = CHALLENGE.replace("tipring.test", "proxy.test")
    second, = rig.feed(reply(first, 407, headers=[("Proxy-Authenticate", chal)]), REG)
    p = check_digest(second, "secret", "Proxy-Authorization")
    assert p["realm"] == "proxy.test" and second.cseq.seq == 2
    # the NOTIFY may beat the 2xx (RFC 6665 §4.1.2.4): it makes the dialog
    ok, = rig.feed(notify(second, 1, "active;expires=600"), REG)
    assert ok.status == 200 and sub.state == "active" and sub.dialog is not None
    rig.feed(reply(second, 202, to_tag="n1", headers=[("Expires", "600")]), REG)
    assert [f["state"] for n, f in rig.events if n == "subscription"] == ["active"]
    refresh, = [m for m in rig.tick(540.0) if m.method == "SUBSCRIBE"]
    assert rig.now == 540.0 and refresh.to.tag == "n1" and refresh.uri == "sip:mwi@127.0.0.1:5060"
    assert refresh.cseq.seq == 3 and "Proxy-Authorization" in refresh.headers
    rig.feed(reply(refresh, 200, headers=[("Expires", "600")]), REG)
    assert sub.state == "active" and sub.deadline() == 540.0 + 540.0
    stray, = rig.feed(notify(second, 2, "active", to_tag="fork2"), REG)
    assert stray.status == 481                         # a second fork is not followed
    bad, = rig.feed(notify(second, 3, "").replace(b"Subscription-State: \r\n", b""), REG)
    assert bad.status == 400 and rig.errors()
    off, = rig.carry(rig.ua.run_tu(sub, sub.stop(rig.now), rig.now))
    assert off.headers.get("Expires") == "0" and off.to.tag == "n1"
    rig.feed(reply(off, 200), REG)
    assert sub.state == "terminated"


def test_notify_terminated_resubscribes_or_gives_up():
    rig, sub = subscriber()
    first, = rig.carry(rig.ua.run_tu(sub, sub.start(0.0), 0.0))
    rig.feed(reply(first, 200, to_tag="n1", headers=[("Expires", "600")]), REG)
    ok, = rig.feed(notify(first, 1, "terminated;reason=deactivated"), REG)
    assert ok.status == 200 and sub.state == "backoff" and sub.deadline() == rig.now
    again, = [m for m in rig.tick(rig.now) if m.method == "SUBSCRIBE"]
    assert again.call_id != first.call_id and again.to.tag is None    # a new subscription
    rig.feed(reply(again, 200, to_tag="n2", headers=[("Expires", "600")]), REG)
    rig.feed(notify(again, 1, "terminated;reason=rejected", to_tag="n2"), REG)
    assert sub.state == "failed" and sub.deadline() == rig.now + 1800.0
    rig2, sub2 = subscriber()
    first, = rig2.carry(rig2.ua.run_tu(sub2, sub2.start(0.0), 0.0))
    rig2.feed(reply(first, 489, headers=[("Allow-Events", "presence")]), REG)
    assert sub2.state == "failed" and rig2.events[-1][1]["status"] == 489


def test_auth_params_reader():
    p = auth_params('Digest username="a", realm="r", nc=00000001, qop=auth, response="x"')
    assert p == {"username": "a", "realm": "r", "nc": "00000001", "qop": "auth", "response": "x"}


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
