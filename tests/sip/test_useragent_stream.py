"""The user agent over a stream transport (TCP/TLS), on a virtual clock: Via and Contact name
the transport, no retransmissions (reliable timers), responses go back where the request came
from (RFC 3261 §18.2.2), and a connection that fails ends its transactions at once."""

from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent

INVITE = ("INVITE sip:1001@127.0.0.1:5070;transport=tcp SIP/2.0\r\n"
          "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKabc%s\r\n"
          "From: <sip:1002@127.0.0.1>;tag=f\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: c%s\r\n"
          "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def sends(out):
    return [o for o in out if o[0] == "send"]


def registration():
    ua = UserAgent("127.0.0.1", 5070, "tcp", users=["1001"])
    reg = Registration(1, "1001", "secret1001", "127.0.0.1", ("127.0.0.1", 5060),
                       ua.contact_uri("1001"), 300)
    reg.next_hop = ("127.0.0.1", 5060)
    ua.add_tu(reg)
    return ua, reg


def test_via_and_contact_name_the_stream_transport():
    for kind in ("tcp", "tls"):
        ua = UserAgent("127.0.0.1", 5070, kind)
        v = ua.via()
        assert v.startswith("SIP/2.0/%s 127.0.0.1:5070;branch=z9hG4bK" % kind.upper())
        assert v.endswith(";rport;alias")
        assert ua.contact_uri("1001") == "sip:1001@127.0.0.1:5070;transport=%s" % kind
    udp = UserAgent("127.0.0.1", 5070, "udp")
    assert "alias" not in udp.via() and udp.contact_uri("1001") == "sip:1001@127.0.0.1:5070"


def test_register_over_tcp_is_sent_once_and_times_out_at_timer_f():
    ua, reg = registration()
    out = ua.run_tu(reg, reg.start(0.0), 0.0)
    assert len(sends(out)) == 1 and sends(out)[0][2] == ("127.0.0.1", 5060)
    assert b"Via: SIP/2.0/TCP 127.0.0.1:5070;" in sends(out)[0][1]
    later, now = [], 0.0
    while reg.state == "registering":
        now = ua.deadline()
        later += ua.on_timer(now)
    assert sends(later) == []                       # no Timer E retransmits on a reliable transport
    assert now == 32.0                              # Timer F = 64*T1
    fail = [o for o in later if o[0] == "event" and o[1] == "registration_failed"]
    assert fail and fail[0][2]["reason"] == "no answer from 127.0.0.1:5060"


def test_a_failed_connection_ends_the_register_at_once_with_its_reason():
    ua, reg = registration()
    ua.run_tu(reg, reg.start(0.0), 0.0)
    out = ua.transport_failed(("127.0.0.1", 5060), "cannot connect to 127.0.0.1:5060 (TCP): Connection refused", 0.1)
    fail = [o for o in out if o[0] == "event" and o[1] == "registration_failed"]
    assert len(fail) == 1 and "Connection refused" in fail[0][2]["reason"]
    assert reg.state == "backoff" and ua.tl.transactions == {}
    assert ua.transport_failed(("127.0.0.1", 5060), "again", 0.2) == []


def test_responses_go_back_over_the_connection_the_request_came_on():
    ua = UserAgent("127.0.0.1", 5070, "tcp", users=["1001"])
    conn = ("127.0.0.1", 41000)                     # the proxy's connection, an ephemeral port
    out = ua.receive((INVITE % ("1", "1")).encode(), conn, 0.0)
    answers = sends(out)
    assert answers, out
    for o in answers:
        assert o[2] == conn                         # the connection it came on
        assert o[3] == ("127.0.0.1", 5060)          # the Via sent-by, should that connection be gone
    # the same INVITE again, on another connection: the answer goes there
    other = ("127.0.0.1", 41001)
    again = sends(ua.receive((INVITE % ("1", "1")).encode(), other, 0.5))
    assert again and all(o[2] == other for o in again)


def test_over_udp_responses_still_follow_the_via():
    ua = UserAgent("127.0.0.1", 5070, "udp", users=["1001"])
    out = sends(ua.receive((INVITE % ("2", "2")).replace("TCP", "UDP").replace(";branch", ";rport;branch").encode(),
                           ("127.0.0.1", 41000), 0.0))
    assert out and all(o[2] == ("127.0.0.1", 41000) and len(o) == 3 for o in out)
