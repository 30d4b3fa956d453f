"""Registration (RFC 3261 §10, FLOWS.md §2-3) on a virtual clock: no sleeping, no sockets.

The registrar side is played with real messages built by the test; the digest is checked by
recomputing it (RFC 2617 §3.2.2).
"""

import hashlib

from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent, response_to
from tipring.firmware.sip.auth import parse_challenges


def reg(**kw):
    args = dict(line=1, user="1001", password="secret1001", domain="127.0.0.1",
                registrar=("127.0.0.1", 5060), contact="sip:1001@127.0.0.1:5070", expires=3600,
                jitter=lambda: 0.0)
    args.update(kw)
    return Registration(**args)


def sent(actions):
    reqs = [a[1] for a in actions if a[0] == "send"]
    assert len(reqs) == 1, actions
    # what goes on the wire, as the registrar would see it
    r = reqs[0]
    if "Via" not in r.headers:
        r.headers.add("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtest%d" % r.cseq.seq)
    return parse_message(bytes(r))


def events(actions, name=None):
    return [a[2] | {"event": a[1]} for a in actions if a[0] == "event" and (name is None or a[1] == name)]


CHALLENGE = 'Digest realm="127.0.0.1", nonce="abc123", qop="auth", algorithm=MD5'


def answer(req, status, *extra, contact_expires=None):
    ex = list(extra)
    if contact_expires is not None:
        ex.append(("Contact", "<sip:1001@127.0.0.1:5070>;expires=%d" % contact_expires))
    return response_to(req, status, to_tag="reg", extra=ex)


def test_register_challenge_grant_and_refresh_at_half_the_granted_time():
    r = reg(expires=600)
    first = sent(r.start(0.0))
    assert first.method == "REGISTER" and first.uri == "sip:127.0.0.1"
    assert first.headers.get("Expires") == "600" and first.cseq.seq == 1
    second = sent(r.on_response(answer(first, 401, ("WWW-Authenticate", CHALLENGE)), 0.01))
    assert second.cseq.seq == 2 and second.call_id == first.call_id
    auth = parse_challenges(second.headers.get("Authorization"))[0].params
    ha1 = hashlib.md5(b"1001:127.0.0.1:secret1001").hexdigest()
    ha2 = hashlib.md5(("REGISTER:" + auth["uri"]).encode()).hexdigest()
    want = hashlib.md5(":".join([ha1, "abc123", auth["nc"], auth["cnonce"], "auth", ha2]).encode()).hexdigest()
    assert auth["response"] == want
    acts = r.on_response(answer(second, 200, contact_expires=300), 0.02)
    assert events(acts) == [{"event": "registered", "line": 1, "registrar": "127.0.0.1:5060", "expires": 300}]
    assert r.state == "registered" and r.deadline() == 150.02
    refresh = sent(r.on_timer(150.02))
    assert refresh.cseq.seq == 3 and "Authorization" in refresh.headers  # credentials up front
    assert r.registered  # still bound while the refresh is in flight


def test_backoff_doubles_from_30_s_to_the_30_min_cap_with_jitter_only_downwards():
    r = reg()
    r.start(0.0)
    now, seq = 0.0, []
    for _ in range(9):
        acts = r.on_failure("no answer", now)
        seq.append(events(acts, "registration_failed")[0]["retry_in"])
        now = r.deadline()
        r.on_timer(now)
    assert seq == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    jittery = reg(jitter=lambda: 0.999)
    jittery.start(0.0)
    d = events(jittery.on_failure("x", 0.0))[0]["retry_in"]
    assert 24.0 <= d < 30.0


def test_retry_after_is_honoured_and_5xx_backs_off():
    r = reg()
    req = sent(r.start(0.0))
    acts = r.on_response(answer(req, 503, ("Retry-After", "7 (maintenance)")), 1.0)
    assert events(acts)[0]["retry_in"] == 7 and r.deadline() == 8.0
    assert r.on_timer(7.9) == []
    assert sent(r.on_timer(8.0)).cseq.seq == 2


def test_423_takes_min_expires_and_403_stops_without_hammering():
    r = reg(expires=60)
    req = sent(r.start(0.0))
    again = sent(r.on_response(answer(req, 423, ("Min-Expires", "300")), 0.1))
    assert again.headers.get("Expires") == "300"
    acts = r.on_response(answer(again, 403), 0.2)
    fail = events(acts, "registration_failed")[0]
    assert fail["status"] == 403 and fail["retry_in"] == 1800 and r.state == "failed"
    assert r.deadline() == 1800.2 and r.on_timer(1000.0) == []


def test_second_challenge_for_the_same_credentials_is_a_wrong_password_not_a_loop():
    r = reg()
    req = sent(r.start(0.0))
    authed = sent(r.on_response(answer(req, 401, ("WWW-Authenticate", CHALLENGE)), 0.0))
    acts = r.on_response(answer(authed, 401, ("WWW-Authenticate", CHALLENGE.replace("abc123", "def456"))), 0.0)
    assert not [a for a in acts if a[0] == "send"]
    fail = events(acts, "registration_failed")[0]
    assert fail["status"] == 401 and "wrong password" in fail["reason"]


def test_stale_nonce_is_answered_at_once():
    r = reg()
    req = sent(r.start(0.0))
    authed = sent(r.on_response(answer(req, 401, ("WWW-Authenticate", CHALLENGE)), 0.0))
    stale = CHALLENGE.replace("abc123", "fresh9") + ", stale=true"
    third = sent(r.on_response(answer(authed, 401, ("WWW-Authenticate", stale)), 0.0))
    assert 'nonce="fresh9"' in third.headers.get("Authorization")
    assert events(r.on_response(answer(third, 200), 0.0))[0]["event"] == "registered"


def test_failed_refresh_reports_the_lapse_when_the_binding_runs_out():
    r = reg(expires=100)
    req = sent(r.start(0.0))
    r.on_response(answer(req, 200, contact_expires=100), 0.0)
    sent(r.on_timer(50.0))
    acts = r.on_failure("no answer", 82.0)         # Timer F after 32 s
    assert r.registered and r.deadline() == 84.0   # a lost refresh: a quick first retry
    sent(r.on_timer(84.0))
    acts = r.on_response(answer(req, 503), 90.0)   # an answer to an old REGISTER: ignored
    assert acts == [] and r.state == "registering"
    r.on_failure("no answer", 90.0)
    assert r.registered and r.deadline() == 100.0  # retried no later than the binding's end
    acts = r.on_timer(100.0)
    lapsed = events(acts, "registration_failed")
    assert lapsed and lapsed[0]["lapsed"] is True and not r.registered
    assert [a for a in acts if a[0] == "send"]


def test_deregistration_sends_expires_zero_and_reports_unregistered():
    r = reg()
    req = sent(r.start(0.0))
    r.on_response(answer(req, 200), 0.0)
    bye = sent(r.stop(10.0))
    assert bye.headers.get("Expires") == "0" and "expires=0" in bye.headers.get("Contact")
    acts = r.on_response(answer(bye, 200), 10.1)
    assert events(acts) == [{"event": "unregistered", "line": 1, "registrar": "127.0.0.1:5060", "status": 200}]
    assert r.state == "stopped" and r.deadline() is None


def test_through_the_user_agent_timer_f_becomes_a_failure_on_virtual_time():
    ua = UserAgent("127.0.0.1", 5070, t1=0.5)
    r = reg()
    r.next_hop = ("127.0.0.1", 5060)
    ua.add_tu(r)
    out = ua.run_tu(r, r.start(0.0), 0.0)
    wire = [o for o in out if o[0] == "send"]
    assert wire and wire[0][2] == ("127.0.0.1", 5060) and b";rport" in wire[0][1]
    times, fails = [], []
    now = 0.0
    while not fails:
        now = ua.deadline()
        for o in ua.on_timer(now):
            if o[0] == "send":
                times.append(now)
            elif o[1] == "registration_failed":
                fails.append((now, o[2]))
    # Timer E retransmits at 0.5, 1.5, 3.5, 7.5 then every T2 (4 s); Timer F at 64*T1 = 32 s
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert fails[0][0] == 32.0 and "no answer" in fails[0][1]["reason"]
