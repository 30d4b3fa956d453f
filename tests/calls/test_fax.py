"""Fax/modem pass-through in the call layer (Call.fax_passthrough, ITU-T V.152) and the answers
to fax offers (RFC 3264 §6), between two tipring call layers on the virtual network and clock:
every message really serialised, parsed and run through the transaction layer."""

import pytest

from tipring.firmware.media.sdp import parse as parse_sdp
from tipring.firmware.sip.message import parse_message
from tests.calls.test_call_flows import A, B, pair, _sent
from tipring.firmware.media import t38_gateway

needs_t38 = pytest.mark.skipif(t38_gateway.available() is not None, reason="libspandsp not installed")

AUDIO_IMAGE = ("v=0\r\no=pbx 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
               "m=image 40002 udptl t38\r\na=T38FaxVersion:0\r\na=T38FaxRateManagement:transferredTCF\r\n")
T38_ONLY = ("v=0\r\no=pbx 1 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=image 40002 udptl t38\r\na=T38FaxVersion:0\r\n")
G722_FIRST = ("v=0\r\no=pbx 1 4 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
              "m=audio 40000 RTP/AVP 9 0 8\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n"
              "a=rtpmap:8 PCMA/8000\r\n")


def _names(sd):
    """The audio codecs an SDP offers, telephone-event aside."""
    m = sd.media[0]
    return {m.codec_name(int(pt))[0].upper() for pt in m.formats} - {"TELEPHONE-EVENT"}


def _connected():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    return net, a, b


def _raw_reinvite(net, a, body, now):
    """A re-INVITE from A with `body` as its offer, as a fax-capable PBX sends it."""
    call = a.call_on(1)
    req = call.dialog.reinvite(body.encode())
    req.headers.remove("Via")
    net.run(a._run(call, [("send", req, call._dest_for(req))], now), A)
    return [parse_message(d) for _, dest, d in net.raw if dest == A and d.startswith(b"SIP/2.0 ")]


def test_audio_and_image_offer_gets_audio_answered_and_image_rejected_with_port_0():
    net, a, b = _connected()
    responses = _raw_reinvite(net, a, AUDIO_IMAGE, 2.0)
    ok = [r for r in responses if r.status == 200 and r.cseq.method == "INVITE"][-1]
    answer = parse_sdp(ok.body)
    assert [m.kind for m in answer.media] == ["audio", "image"]    # one m= line per offered one
    audio, image = answer.media
    assert audio.port != 0 and audio.formats[:2] == ["0", "8"]
    assert image.port == 0 and image.proto.lower() == "udptl" and image.formats == ["t38"]
    assert b"m=image 0 udptl t38\r\n" in ok.body
    assert b.call_on(1).state == "connected" and b.call_on(1).plan.codec == "PCMU"


def test_a_t38_only_reoffer_gets_488_and_the_call_goes_on_in_g711():
    """Without a T.38 engine (no libspandsp: `sdp.t38` None) a T.38-only offer gets 488."""
    net, a, b = _connected()
    b.call_on(1).sdp.t38 = None
    responses = _raw_reinvite(net, a, T38_ONLY, 2.0)
    finals = [r for r in responses if r.cseq.method == "INVITE" and r.status >= 200]
    assert finals[-1].status == 488
    call = b.call_on(1)
    assert call.state == "connected" and call.plan.codec == "PCMU"


def test_fax_tone_in_a_g711_call_sends_no_reinvite_but_keeps_the_call_to_g711():
    net, a, b = _connected()
    call = b.call_on(1)
    before = len(_sent(net, "INVITE"))
    got, acts = b.fax_passthrough(1, call.call_id, "CED", 3.0)
    net.run(acts, B)
    assert got is call and call.fax == "CED"
    assert len(_sent(net, "INVITE")) == before          # already G.711: nothing to re-offer
    assert call.sdp.codecs == ("PCMU", "PCMA")
    assert b.fax_passthrough(1, "no-such-call", "CED", 3.0) == (None, [])


def test_fax_tone_in_a_non_g711_call_reoffers_pcmu_pcma_only():
    """The line prefers G.722 (as the G.722 codec's line preference sets it): a peer's offer
    puts the call on G.722; a fax tone then re-INVITEs with PCMU/PCMA only and the call
    carries on in PCMU. Later offers from the peer get G.711 answers only."""
    net, a, b = _connected()
    call = b.call_on(1)
    call.sdp.codecs = ("G722", "PCMU", "PCMA")
    _raw_reinvite(net, a, G722_FIRST, 2.0)
    assert call.plan.codec == "G722"
    before = len(_sent(net, "INVITE"))
    got, acts = b.fax_passthrough(1, call.call_id, "ANSam", 3.0)
    net.run(acts, B)
    invites = _sent(net, "INVITE")
    assert len(invites) == before + 1
    reoffer = parse_sdp(parse_message(invites[-1]).body)
    assert _names(reoffer) == {"PCMU", "PCMA"}
    assert reoffer.media[0].direction in (None, "sendrecv")
    assert call.plan.codec == "PCMU" and call.state == "connected"
    assert any(m[1] == "update" for m in net.media if m[0] == B)
    # the peer offers G.722 again: the fax call stays in G.711
    _raw_reinvite(net, a, G722_FIRST.replace("1 4 IN", "1 5 IN"), 4.0)
    assert call.plan.codec == "PCMU"


def test_a_fax_tone_while_our_reinvite_is_pending_reoffers_after_it():
    net, a, b = _connected()
    call = b.call_on(1)
    call.sdp.codecs = ("G722", "PCMU", "PCMA")
    _raw_reinvite(net, a, G722_FIRST, 2.0)
    net.drop = lambda data: data.startswith(b"INVITE ")        # our refresh is lost for now
    net.run(b.reinvite(1, 3.0), B)
    assert call._reinvite is not None
    got, acts = b.fax_passthrough(1, call.call_id, "CED", 3.1)
    assert acts == []                                           # one re-INVITE at a time
    net.drop = None
    net.tick(40.0)          # the refresh times out (Timer B), then the fax re-offer goes
    last = parse_sdp(parse_message(_sent(net, "INVITE")[-1]).body)
    assert _names(last) == {"PCMU", "PCMA"}
    assert call.plan.codec == "PCMU"


@needs_t38
def test_a_t38_only_reoffer_is_answered_with_t38_when_the_engine_runs():
    net, a, b = _connected()
    responses = _raw_reinvite(net, a, T38_ONLY, 2.0)
    ok = [r for r in responses if r.cseq.method == "INVITE" and r.status >= 200][-1]
    assert ok.status == 200 and b"m=image " in ok.body and b"udptl t38" in ok.body
    call = b.call_on(1)
    assert call.state == "connected" and call.plan.codec == "T38" and call.plan.t38 is not None
    assert any(m[1] == "update" for m in net.media if m[0] == B)


@needs_t38
def test_fax_tone_with_t38_reinvites_to_t38_and_the_peer_takes_it():
    net, a, b = _connected()
    call = b.call_on(1)
    got, acts = b.fax_passthrough(1, call.call_id, "CED", 3.0, t38=True)
    net.run(acts, B)
    offer = parse_sdp(parse_message(_sent(net, "INVITE")[-1]).body)
    assert [m.kind for m in offer.media] == ["image"]
    assert call.plan.codec == "T38" and a.call_on(1).plan.codec == "T38"
    assert call.state == "connected" and a.call_on(1).state == "connected"
    # a second tone does not re-INVITE again
    before = len(_sent(net, "INVITE"))
    net.run(b.fax_passthrough(1, call.call_id, "CED", 4.0, t38=True)[1], B)
    assert len(_sent(net, "INVITE")) == before


@needs_t38
def test_t38_refused_with_488_falls_back_to_g711_passthrough():
    net, a, b = _connected()
    a.call_on(1).sdp.t38 = None                   # the far end has no T.38
    call = b.call_on(1)
    got, acts = b.fax_passthrough(1, call.call_id, "CNG", 3.0, t38=True)
    out = net.run(acts, B)
    assert call.plan.codec == "PCMU" and call.state == "connected" and not call.sdp.t38_mode
    assert call.fax == "CNG" and call.sdp.codecs == ("PCMU", "PCMA")
    refused = [e for e in net.events if e[0] == B and e[1] == "t38"]
    assert refused and refused[-1][2]["state"] == "refused" and refused[-1][2]["reason"].startswith("488")


@needs_t38
def test_a_t38_only_invite_is_answered_with_t38(monkeypatch):
    """A fax server calling with T.38 alone (as a T.38 gateway does): the call is answered
    in T.38 and its media starts as a relay."""
    from tipring.firmware.media.sdp import SdpSession
    net, a, b = pair()
    monkeypatch.setattr(SdpSession, "offer", lambda self, direction="sendrecv": self.offer_t38(direction))
    net.run(a.dial(1, "1002", 0.0), A)
    monkeypatch.undo()
    invite = parse_message(_sent(net, "INVITE")[0])
    assert b"m=image " in invite.body and b"m=audio" not in invite.body
    net.run(b.answer(1, 1.0), B)
    ca, cb = a.call_on(1), b.call_on(1)
    assert cb.state == "connected" and cb.plan.codec == "T38" and cb.plan.t38.redundancy
    assert ca.state == "connected" and ca.plan.codec == "T38"
    assert any(m[1] == "start" for m in net.media if m[0] == B)
