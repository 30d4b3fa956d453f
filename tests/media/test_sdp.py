"""SDP parse/serialize (RFC 4566) and offer/answer (RFC 3264) for one G.711 line."""

import pytest

from tipring.firmware.media.sdp import (
    MediaPlan, NoCommonCodec, SdpError, SdpSession, SessionDescription, parse, serialize,
)


def sdp(*lines):
    return ("\r\n".join(lines) + "\r\n").encode()


# A typical softphone offer: PCMU, PCMA, G.729, telephone-event/101, ptime 20.
OFFER = sdp(
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 198.51.100.7",
    "s=-",
    "c=IN IP4 198.51.100.7",
    "t=0 0",
    "m=audio 49170 RTP/AVP 8 0 18 101",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:30",
    "a=sendrecv",
)


def session(**kw):
    kw.setdefault("session_id", "42")
    return SdpSession("192.0.2.10", 40000, **kw)


# --------------------------------------------------------------------- parsing

def test_parse_fields():
    sd = parse(OFFER)
    assert sd.origin.username == "alice" and sd.origin.version == 2890844526
    assert sd.connection == "198.51.100.7"
    (m,) = sd.media
    assert (m.kind, m.port, m.proto, m.formats) == ("audio", 49170, "RTP/AVP",
                                                    ["8", "0", "18", "101"])
    assert m.rtpmap[101] == ("telephone-event", 8000, None)
    assert m.fmtp == {18: "annexb=no", 101: "0-15"}
    assert m.ptime == 30 and m.direction == "sendrecv"


def test_roundtrip_byte_for_byte():
    assert parse(OFFER).to_bytes() == OFFER


def test_roundtrip_keeps_unknown_lines():
    # written back in our attribute order: rtpmap/fmtp per format, ptime, others, direction
    text = sdp("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=call", "i=info", "c=IN IP4 10.0.0.1",
               "b=AS:64", "t=0 0", "a=tool:x", "a=recvonly",
               "m=audio 5004 RTP/AVP 0", "i=voice", "b=TIAS:64000",
               "a=rtpmap:0 PCMU/8000", "a=ptime:20", "a=rtcp:5005", "a=maxptime:40",
               "a=inactive",
               "m=video 5006 RTP/AVP 96", "a=rtpmap:96 H264/90000")
    sd = parse(text)
    assert sd.direction == "recvonly" and sd.media[0].direction == "inactive"
    assert bytes(sd) == text


def test_parse_lf_only_and_static_pt_without_rtpmap():
    sd = parse(b"v=0\no=- 1 1 IN IP4 a\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\nm=audio 9 RTP/AVP 0 8\n")
    m = sd.media[0]
    assert m.codec_name(0) == ("PCMU", 8000) and m.codec_name(8) == ("PCMA", 8000)
    assert m.codec_name(96) is None


@pytest.mark.parametrize("bad, what", [
    (b"", "empty"),
    (b"o=- 1 1 IN IP4 a\r\n", "v="),
    (b"v=1\r\n", "version"),
    (b"v=0\r\ns=-\r\n", "o="),
    (b"v=0\r\no=- 1 x IN IP4 a\r\n", "version"),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio x RTP/AVP 0\r\n", "port"),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 4000 RTP/AVP\r\n", "m="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 4000 RTP/AVP 0\r\n", "c="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n"
     b"a=rtpmap:x PCMU\r\n", "rtpmap"),
    (b"v=0\r\nthis is not sdp\r\n", "type"),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4\r\n", "c="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nv=0\r\n", "second"),
    (b"\xff\xfe", "UTF-8"),
])
def test_parse_errors_name_the_line(bad, what):
    with pytest.raises(SdpError) as e:
        parse(bad)
    assert e.value.status_hint == 400
    assert what in str(e.value)


# ------------------------------------------------------------------------ offers

def test_offer_shape():
    s = session()
    text = s.offer().to_bytes().decode()
    assert text == (
        "v=0\r\n"
        "o=tipring 42 0 IN IP4 192.0.2.10\r\n"
        "s=tipring\r\n"
        "c=IN IP4 192.0.2.10\r\n"
        "t=0 0\r\n"
        "m=audio 40000 RTP/AVP 0 8 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n")


def test_offer_preference_and_no_dtmf():
    s = session(codecs=("PCMA",), dtmf_pt=None)
    m = s.offer().media[0]
    assert m.formats == ["8"] and m.fmtp == {}


def test_version_increments_only_when_changed():
    s = session()
    assert s.offer().origin.version == 0
    assert s.offer().origin.version == 0           # same SDP again (session refresh): same
    assert s.offer("sendonly").origin.version == 1  # hold
    assert s.offer("sendonly").origin.version == 1
    assert s.offer().origin.version == 2           # resume
    s.port = 40002
    held = s.offer()
    assert held.origin.version == 3 and held.origin.session_id == "42"


def test_offer_rejects_bad_direction():
    with pytest.raises(ValueError):
        session().offer("sideways")


# ----------------------------------------------------------------------- answers

def test_answer_keeps_offerer_order_and_pts():
    ans, plan = session().answer(parse(OFFER))
    m = ans.media[0]
    assert m.formats == ["8", "0", "101"]        # G.729 dropped, offerer's order kept
    assert m.rtpmap[101] == ("telephone-event", 8000, None) and m.fmtp == {101: "0-16"}
    assert m.direction == "sendrecv" and m.port == 40000 and ans.connection == "192.0.2.10"
    assert isinstance(plan, MediaPlan)
    assert (plan.address, plan.port, plan.pt, plan.codec) == ("198.51.100.7", 49170, 8, "PCMA")
    assert plan.codecs == [(8, "PCMA"), (0, "PCMU")]
    assert plan.dtmf_pt == 101 and plan.ptime == 30
    assert plan.send and plan.recv and not plan.remote_hold


def test_answer_dynamic_dtmf_pt_follows_offer():
    offer = OFFER.replace(b"101", b"96")
    ans, plan = session().answer(parse(offer))
    assert ans.media[0].formats[-1] == "96" and plan.dtmf_pt == 96


def test_answer_without_telephone_event_offered():
    offer = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.2", "t=0 0",
                "m=audio 7000 RTP/AVP 0")
    ans, plan = session().answer(parse(offer))
    assert ans.media[0].formats == ["0"] and plan.dtmf_pt is None and plan.ptime == 20


@pytest.mark.parametrize("offered, wish, answered, send, recv", [
    ("sendrecv", "sendrecv", "sendrecv", True, True),
    ("sendonly", "sendrecv", "recvonly", False, True),
    ("recvonly", "sendrecv", "sendonly", True, False),
    ("inactive", "sendrecv", "inactive", False, False),
    ("sendrecv", "sendonly", "sendonly", True, False),   # we hold while answering
    ("sendonly", "sendonly", "inactive", False, False),
    (None, "sendrecv", "sendrecv", True, True),           # no attribute = sendrecv
])
def test_answer_direction_rfc3264_6_1(offered, wish, answered, send, recv):
    text = OFFER.replace(b"a=sendrecv\r\n", b"" if offered is None else
                         b"a=%s\r\n" % offered.encode())
    ans, plan = session().answer(parse(text), wish)
    assert ans.media[0].direction == answered
    assert (plan.send, plan.recv, plan.direction) == (send, recv, answered)
    assert plan.remote_hold == (offered in ("sendonly", "inactive"))


def test_session_level_direction_applies():
    text = OFFER.replace(b"a=sendrecv\r\n", b"").replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")
    ans, plan = session().answer(parse(text))
    assert ans.media[0].direction == "recvonly" and plan.remote_hold


def test_legacy_hold_c_zero():
    text = OFFER.replace(b"c=IN IP4 198.51.100.7", b"c=IN IP4 0.0.0.0")
    sd = parse(text)
    assert sd.is_hold(sd.media[0])
    ans, plan = session().answer(sd)
    assert plan.remote_hold and not plan.send and plan.recv
    assert ans.media[0].direction == "recvonly"


def test_reject_video_and_second_audio_with_port_zero():
    text = OFFER + sdp("m=video 49172 RTP/AVP 96", "a=rtpmap:96 H264/90000",
                       "m=audio 49174 RTP/AVP 0")
    ans, plan = session().answer(parse(text))
    assert [(m.kind, m.port) for m in ans.media] == [("audio", 40000), ("video", 0),
                                                      ("audio", 0)]
    assert ans.media[1].formats == ["96"]
    assert plan.port == 49170
    # and it re-parses: port 0 lines need no c=
    assert len(parse(ans.to_bytes()).media) == 3


def test_answer_skips_rejected_and_srtp_streams():
    text = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.2", "t=0 0",
               "m=audio 0 RTP/AVP 0", "m=audio 7002 RTP/SAVP 0", "m=audio 7004 RTP/AVP 18 0")
    ans, plan = session().answer(parse(text))
    assert [m.port for m in ans.media] == [0, 0, 40000] and plan.port == 7004
    assert ans.media[2].formats == ["0"]


def test_no_common_codec_is_488():
    text = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.2", "t=0 0",
               "m=audio 7000 RTP/AVP 18 101", "a=rtpmap:18 G729/8000",
               "a=rtpmap:101 telephone-event/8000")
    with pytest.raises(NoCommonCodec) as e:
        session().answer(parse(text))
    assert e.value.status_hint == 488 and "PCMU/PCMA" in str(e.value)


def test_video_only_is_488():
    text = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.2", "t=0 0",
               "m=video 7000 RTP/AVP 96")
    with pytest.raises(NoCommonCodec):
        session().answer(parse(text))


def test_wideband_name_same_but_rate_differs_is_not_common():
    text = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.2", "t=0 0",
               "m=audio 7000 RTP/AVP 97", "a=rtpmap:97 PCMU/16000")
    with pytest.raises(NoCommonCodec):
        session().answer(parse(text))


def test_answer_version_on_reoffer():
    s = session()
    a1, _ = s.answer(parse(OFFER))
    a2, _ = s.answer(parse(OFFER))  # same re-offer (refresh): identical answer, same version
    hold = OFFER.replace(b"a=sendrecv", b"a=sendonly")
    a3, p3 = s.answer(parse(hold))
    assert [a.origin.version for a in (a1, a2, a3)] == [0, 0, 1]
    assert p3.remote_hold and s.remote_version == 2890844526


# ------------------------------------------------------------- reading an answer

def answer_to(s, *media_lines, c="203.0.113.5"):
    s.offer()
    return s.on_answer(parse(sdp("v=0", "o=bob 1 1 IN IP4 h", "s=-", "c=IN IP4 %s" % c,
                                 "t=0 0", *media_lines)))


def test_on_answer_picks_answer_first_codec():
    plan = answer_to(session(), "m=audio 6000 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000",
                     "a=recvonly")
    assert (plan.address, plan.port, plan.pt, plan.codec, plan.dtmf_pt) == (
        "203.0.113.5", 6000, 8, "PCMA", 101)
    assert plan.send and not plan.recv and plan.direction == "sendonly"


def test_on_answer_to_hold_offer():
    s = session()
    s.offer("sendonly")
    plan = s.on_answer(parse(sdp("v=0", "o=bob 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.9",
                                 "t=0 0", "m=audio 6000 RTP/AVP 0", "a=recvonly")))
    assert plan.direction == "sendonly" and plan.send and not plan.recv


def test_on_answer_rejected_stream_and_mismatch():
    with pytest.raises(NoCommonCodec):
        answer_to(session(), "m=audio 0 RTP/AVP 0")
    with pytest.raises(NoCommonCodec):
        answer_to(session(), "m=audio 6000 RTP/AVP 18")
    with pytest.raises(SdpError) as e:
        answer_to(session(), "m=audio 6000 RTP/AVP 0", "m=video 0 RTP/AVP 96")
    assert e.value.status_hint == 488
    with pytest.raises(SdpError):
        session().on_answer(parse(OFFER))  # no offer made


def test_serialize_from_scratch():
    sd = SessionDescription(connection="10.0.0.1")
    assert serialize(sd) == "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(OFFER.split(b"\r\n") + [b"m=audio 1 RTP/AVP", b"a=rtpmap:",
                                                        b"c=IN IP4", b"x", b"o=1", b"\xff"]),
                max_size=20))
def test_fuzz_parse_and_answer_raise_only_sdp_error(lines):
    try:
        sd = parse(b"\r\n".join(lines))
        session().answer(sd)
    except SdpError:
        pass
