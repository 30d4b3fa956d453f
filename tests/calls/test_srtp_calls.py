"""SRTP modes of a line in real call flows (line.N.srtp; tipring/firmware/media/sdp.py rule 6) between
two tipring call layers on the virtual network of test_call_flows.py."""

import os

from tipring.firmware.calls.manager import CallManager
from tipring.firmware.media.sdp import SdpSession, parse as parse_sdp
from tipring.firmware.sip.dialog import make_response
from tipring.firmware.sip.message import parse_message
from tipring.firmware.sip.useragent import UserAgent
from tests.calls.test_call_flows import A, B, Net, _sent, calls_of, line


class SrtpNet(Net):
    def add(self, host, port, user, srtp="off"):
        ua = UserAgent(host, port)
        ln = dict(line(1, user, (host, port)), srtp=srtp)
        mgr = CallManager(ua, [ln], lambda p: self.peer_of[(host, port)], self._alloc(host),
                          media_keys=os.urandom)
        self.nodes[(host, port)] = (ua, mgr)
        return ua, mgr


def pair(mode_a, mode_b):
    net = SrtpNet()
    net.peer_of = {A: B, B: A}
    _, a = net.add(*A, user="1001", srtp=mode_a)
    _, b = net.add(*B, user="1002", srtp=mode_b)
    return net, a, b


def test_optional_calls_required_with_srtp_and_hold_resume_keep_the_keys():
    net, a, b = pair("optional", "required")
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    ca, cb = a.call_on(1), b.call_on(1)
    assert ca.state == cb.state == "connected"
    ka, kb = ca.plan.srtp, cb.plan.srtp
    assert ka and kb and ka.tx_key == kb.rx_key and kb.tx_key == ka.rx_key
    invite = parse_message(_sent(net, "INVITE")[0])
    assert b"m=audio 20002 RTP/AVP" in invite.body and invite.body.count(b"a=crypto:") == 2
    net.run(a.reinvite(1, 2.0, "sendonly"), A)               # hold
    assert cb.state == "held" and cb.plan.srtp == kb and ca.plan.srtp == ka
    net.run(a.reinvite(1, 3.0), A)                           # resume
    assert cb.state == "connected" and cb.plan.srtp == kb and ca.plan.srtp == ka


def test_required_callee_refuses_a_plain_offer_with_488():
    net, a, b = pair("off", "required")
    net.run(a.dial(1, "1002", 0.0), A)
    assert any(w[2].startswith("SIP/2.0 488") for w in net.wire)
    refusal = parse_message([d for d in net.sent_bytes() if d.startswith(b"SIP/2.0 488")][0])
    assert "SRTP required" in refusal.headers.get("Warning")
    assert (A, 1, "remote_failed", "reorder") in net.line_cmds
    assert not [c for c in net.line_cmds if c[0] == B and c[2] == "incoming"]   # never rang
    assert "SRTP required" in calls_of(net, B, "ended")[0]["reason"]
    assert calls_of(net, A, "ended")[0]["reason"].startswith("488")


def test_plain_callee_refuses_a_required_callers_savp_offer():
    net, a, b = pair("required", "off")
    net.run(a.dial(1, "1002", 0.0), A)
    assert b"RTP/SAVP" in parse_message(_sent(net, "INVITE")[0]).body
    assert (A, 1, "remote_failed", "reorder") in net.line_cmds
    assert "SRTP is off" in calls_of(net, B, "ended")[0]["reason"]


def test_optional_caller_and_plain_callee_talk_plain_rtp():
    net, a, b = pair("optional", "off")
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    assert a.call_on(1).state == "connected" and a.call_on(1).plan.srtp is None
    assert b.call_on(1).plan.srtp is None
    assert b"a=crypto" not in [d for d in net.sent_bytes() if d.startswith(b"SIP/2.0 200")][0]


def test_required_caller_ends_a_call_whose_answer_has_no_crypto():
    """A peer (or a broken SBC) that answers our RTP/SAVP offer without a=crypto: the call is
    ACKed and ended with BYE at once, the handset hears reorder, the reason says why."""
    net, a, b = pair("required", "off")
    net.drop = lambda data: True            # B's part is played by hand
    net.run(a.dial(1, "1002", 0.0), A)
    invite = parse_message(_sent(net, "INVITE")[0])
    plain = SdpSession("127.0.0.1", 30000)
    answer = plain.answer(parse_sdp(SdpSession("127.0.0.1", 30002).offer().to_bytes()))[0].to_bytes()
    ok = make_response(invite, 200, "OK", to_tag="far", contact="<sip:1002@127.0.0.1:5080>",
                       body=answer, content_type="application/sdp")
    ua_a, _ = net.nodes[A]
    net.run(ua_a.receive(bytes(ok), B, 0.5), A)
    assert _sent(net, "ACK") and _sent(net, "BYE")
    assert (A, 1, "remote_failed", "reorder") in net.line_cmds
    assert "SRTP required: the answer has no usable a=crypto" in a.call_on(1).reason
    assert not [m for m in net.media if m[0] == A and m[1] == "start"]
