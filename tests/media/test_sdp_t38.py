"""T.38 in SDP (tipring/firmware/media/t38.py, sdp.py rule 7): image/t38 offers and answers with
the attribute rules of ITU-T T.38 Annex D.2.3. The offers below are shaped as asterisk's
chan_sip/res_pjsip_t38 and HT802/SPA112 ATAs send them."""

import pytest

from tipring.firmware.media.sdp import NoCommonCodec, SdpError, SdpSession, parse
from tipring.firmware.media.t38 import T38Params, T38Session, is_t38

HEAD = "v=0\r\no=pbx 1 %d IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n"
ASTERISK_T38 = (HEAD % 3 + "m=image 4002 udptl t38\r\n"
                "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
                "a=T38FaxMaxBuffer:400\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n")
FEC_V3 = (HEAD % 4 + "m=image 4004 udptl t38\r\n"
          "a=T38FaxVersion:3\r\na=T38MaxBitRate:33600\r\na=T38FaxFillBitRemoval\r\n"
          "a=T38FaxTranscodingMMR:1\r\na=T38FaxRateManagement:localTCF\r\n"
          "a=T38FaxMaxDatagram:160\r\na=T38FaxUdpEC:t38UDPFEC\r\n")
AUDIO_IMAGE = (HEAD % 5 + "m=audio 4000 RTP/AVP 0\r\n"
               "m=image 4002 udptl t38\r\na=T38FaxVersion:0\r\n")
AUDIO = HEAD % 6 + "m=audio 4000 RTP/AVP 0 8\r\n"


def session(t38=True):
    return SdpSession("192.0.2.10", 40000, t38=T38Params() if t38 else None)


def test_t38_only_offer_is_answered_with_our_values():
    ans, plan = session().answer(parse(ASTERISK_T38))
    m = ans.media[0]
    assert is_t38(m) and m.port == 40000
    assert [v for _, v in m.lines] == [
        "T38FaxVersion:0", "T38MaxBitRate:14400", "T38FaxRateManagement:transferredTCF",
        "T38FaxMaxBuffer:1800", "T38FaxMaxDatagram:400", "T38FaxUdpEC:t38UDPRedundancy"]
    assert b"m=image 40000 udptl t38\r\n" in ans.to_bytes()
    assert (plan.codec, plan.pt, plan.address, plan.port) == ("T38", None, "192.0.2.5", 4002)
    assert plan.t38 == T38Session(0, 14400, "transferredTCF", True, 400)


def test_answer_intersects_version_rate_and_ec_and_drops_booleans():
    ans, plan = session().answer(parse(FEC_V3))
    lines = [v for _, v in ans.media[0].lines]
    assert "T38FaxVersion:0" in lines and "T38MaxBitRate:14400" in lines
    assert "T38FaxRateManagement:localTCF" in lines              # repeated (Annex D)
    assert "T38FaxUdpEC:t38UDPRedundancy" in lines                # FEC -> redundancy
    assert not [v for v in lines if "FillBit" in v or "MMR" in v or "JBIG" in v]
    assert plan.t38 == T38Session(0, 14400, "localTCF", True, 160)


def test_no_ec_offer_gets_no_ec():
    body = ASTERISK_T38.replace("t38UDPRedundancy", "t38UDPNoEC")
    ans, plan = session().answer(parse(body))
    assert not [v for _, v in ans.media[0].lines if v.startswith("T38FaxUdpEC")]
    assert plan.t38.redundancy is False


def test_attribute_names_are_case_insensitive():
    body = ASTERISK_T38.replace("T38FaxVersion:0", "t38faxversion:1").replace(
        "T38MaxBitRate", "T38FaxMaxRate")
    p = T38Params.from_media(parse(body).media[0])
    assert (p.version, p.max_bit_rate) == (1, 14400)


def test_audio_and_image_offer_keeps_audio_unless_we_asked_for_t38():
    ans, plan = session().answer(parse(AUDIO_IMAGE))
    assert [m.port for m in ans.media] == [40000, 0] and plan.codec == "PCMU"
    s = session()
    s.t38_mode = True
    ans, plan = s.answer(parse(AUDIO_IMAGE))
    assert [m.port for m in ans.media] == [0, 40000] and plan.codec == "T38"


def test_without_the_engine_t38_only_is_488():
    with pytest.raises(NoCommonCodec) as e:
        session(t38=False).answer(parse(ASTERISK_T38))
    assert e.value.status_hint == 488


@pytest.mark.parametrize("bad", [
    "a=T38FaxVersion:x", "a=T38FaxVersion:4", "a=T38FaxRateManagement:bogus",
    "a=T38FaxUdpEC:t38UDPMagic", "a=T38FaxMaxDatagram:-5", "a=T38MaxBitRate",
])
def test_bad_values_are_a_clear_488(bad):
    body = HEAD % 7 + "m=image 4002 udptl t38\r\n" + bad + "\r\n"
    with pytest.raises(SdpError) as e:
        session().answer(parse(body))
    assert e.value.status_hint == 488 and bad in str(e.value)


def test_offer_t38_then_answer_and_back_to_audio():
    s = session()
    offer = s.offer_t38()
    assert [m.kind for m in offer.media] == ["image"] and s.t38_mode
    assert offer.origin.version == 0
    assert s.offer().media[0].kind == "image"          # re-offers keep T.38 (hold, refresh)
    answer = parse(ASTERISK_T38.replace("udptl t38", "udptl t38"))
    plan = s.on_answer(answer)
    assert plan.t38 == T38Session(0, 14400, "transferredTCF", True, 400)
    # the peer goes back to audio after the fax
    ans, plan = s.answer(parse(AUDIO))
    assert plan.codec == "PCMU" and not s.t38_mode and s.offer().media[0].kind == "audio"


def test_rejected_t38_answer_raises_488():
    s = session()
    s.offer_t38()
    with pytest.raises(NoCommonCodec):
        s.on_answer(parse(HEAD % 8 + "m=image 0 udptl t38\r\n"))


def test_round_trip_of_our_offer():
    s = session()
    text = s.offer_t38().to_bytes()
    again = parse(text)
    assert again.to_bytes() == text
    assert T38Params.from_media(again.media[0]) == T38Params()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = ["T38FaxVersion", "T38MaxBitRate", "T38FaxRateManagement", "T38FaxMaxBuffer",
          "T38FaxMaxDatagram", "T38FaxUdpEC", "T38FaxFillBitRemoval", "T38VendorInfo", "x-other"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_NAMES), st.one_of(
    st.none(), st.text(alphabet="0123456789-abcdefTCFlo tU", max_size=12))), max_size=8))
def test_any_attribute_values_answer_or_488_never_crash(attrs):
    lines = "".join("a=%s%s\r\n" % (n, "" if v is None else ":" + v) for n, v in attrs)
    body = HEAD % 9 + "m=image 4002 udptl t38\r\n" + lines
    try:
        ans, plan = session().answer(parse(body))
    except SdpError as e:
        assert e.status_hint == 488
        return
    assert plan.t38.version <= 0 and plan.t38.max_bit_rate <= 14400
    assert parse(ans.to_bytes()).to_bytes() == ans.to_bytes()
