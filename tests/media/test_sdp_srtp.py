"""SRTP in the offer/answer of a line (tipring/firmware/media/sdp.py rule 6, RFC 4568 §7)."""

import pytest

from tipring.firmware.media.sdes import crypto_attributes
from tipring.firmware.media.sdp import NoCommonCodec, SdpError, SdpSession, parse


_drawn = [0]


def keys(size):
    """A key source that never repeats within a test run (os.urandom, deterministically)."""
    _drawn[0] += 1
    return bytes([_drawn[0] % 256]) * size


def session(mode, port=4000):
    return SdpSession("192.0.2.1", port, srtp=mode, new_key=keys)


def media(sd):
    return sd.media[0]


def plain_offer():
    return parse(SdpSession("192.0.2.9", 5000).offer().to_bytes())


BARESIP_BEST_EFFORT = """v=0\r
o=- 1 2 IN IP4 192.0.2.9\r
s=-\r
c=IN IP4 192.0.2.9\r
t=0 0\r
m=audio 16000 RTP/AVP 0 8 101\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=crypto:1 AEAD_AES_256_GCM inline:UI0/u7EemJ0BLTXbNnY1WPfpuL1EXGxxZTI0UZudB6Nc6zxHIW4mXgYWz3k=\r
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:dF0yWUeFCtoqsLfbxl0KFqZoqT05J2Z1Np4uR+FX\r
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:v9ZBFQq2z4ud2zFOEIVI+TRbFsjyCL7XG5mc3cnA\r
a=sendrecv\r
"""


@pytest.mark.parametrize("mode, proto, n", [("off", "RTP/AVP", 0), ("optional", "RTP/AVP", 2),
                                            ("required", "RTP/SAVP", 2)])
def test_offer_by_mode(mode, proto, n):
    sd = parse(session(mode).offer().to_bytes())
    m = media(sd)
    assert m.proto == proto
    got = crypto_attributes(m.lines)
    assert len(got) == n
    if n:
        assert [(a.tag, a.suite) for a in got] == [(1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32")]
        assert got[0].key != got[1].key and all(len(a.key) == 30 for a in got)


def test_mode_and_key_source_are_checked():
    with pytest.raises(ValueError, match="off, optional, required"):
        SdpSession("192.0.2.1", 4000, srtp="maybe")
    with pytest.raises(ValueError, match="key source"):
        SdpSession("192.0.2.1", 4000, srtp="optional")


def test_re_offers_keep_the_keys_so_hold_and_resume_do_not_re_key():
    s = session("optional")
    first = s.offer()
    hold = s.offer("sendonly")
    again = s.offer()
    k = [[a.key for a in crypto_attributes(media(sd).lines)] for sd in (first, hold, again)]
    assert k[0] == k[1] == k[2]
    assert again.origin.version == hold.origin.version + 1 == first.origin.version + 2


def test_optional_and_required_lines_talk_srtp():
    a, b = session("optional"), session("required", 5000)
    answer, plan_b = b.answer(parse(a.offer().to_bytes()))
    assert media(answer).proto == "RTP/AVP"           # answers in the offer's profile
    plan_a = a.on_answer(parse(answer.to_bytes()))
    assert plan_a.srtp.suite == plan_b.srtp.suite == "AES_CM_128_HMAC_SHA1_80"
    assert plan_a.srtp.tx_key == plan_b.srtp.rx_key and plan_b.srtp.tx_key == plan_a.srtp.rx_key
    assert plan_a.srtp.tx_key != plan_a.srtp.rx_key


def test_answer_takes_the_first_supported_suite_of_a_baresip_offer():
    answer, plan = session("optional").answer(parse(BARESIP_BEST_EFFORT))
    got = crypto_attributes(media(answer).lines)
    assert [(x.tag, x.suite) for x in got] == [(2, "AES_CM_128_HMAC_SHA1_32")]
    assert plan.srtp.suite == "AES_CM_128_HMAC_SHA1_32" and plan.srtp.rx_key == crypto_attributes(
        media(parse(BARESIP_BEST_EFFORT)).lines)[1].key


def test_off_answers_a_best_effort_offer_in_plain_rtp():
    answer, plan = session("off").answer(parse(BARESIP_BEST_EFFORT))
    assert plan.srtp is None and media(answer).proto == "RTP/AVP"
    assert crypto_attributes(media(answer).lines) == []


def test_off_refuses_savp():
    offer = parse(session("required", 5000).offer().to_bytes())
    with pytest.raises(NoCommonCodec) as e:
        session("off").answer(offer)
    assert e.value.status_hint == 488 and "SRTP is off" in str(e.value)


def test_optional_answers_a_plain_offer_plainly():
    answer, plan = session("optional").answer(plain_offer())
    assert plan.srtp is None and crypto_attributes(media(answer).lines) == []


def test_required_refuses_a_plain_offer_with_488():
    with pytest.raises(NoCommonCodec) as e:
        session("required").answer(plain_offer())
    assert e.value.status_hint == 488 and "SRTP required" in str(e.value)


def test_required_refuses_an_offer_whose_crypto_is_all_unusable():
    text = BARESIP_BEST_EFFORT.replace("AES_CM_128_HMAC_SHA1_32", "F8_128_HMAC_SHA1_80").replace(
        "AES_CM_128_HMAC_SHA1_80 inline:v9ZBFQq2z4ud2zFOEIVI+TRbFsjyCL7XG5mc3cnA",
        "AES_CM_128_HMAC_SHA1_80 inline:v9ZBFQq2z4ud2zFOEIVI+TRbFsjyCL7XG5mc3cnA UNENCRYPTED_SRTP")
    with pytest.raises(NoCommonCodec, match="SRTP required"):
        session("required").answer(parse(text))


def test_second_audio_stream_with_crypto_is_taken_when_the_first_has_none():
    text = BARESIP_BEST_EFFORT.replace("m=audio 16000 RTP/AVP 0 8 101\r\n",
                                       "m=audio 16002 RTP/AVP 0\r\nm=audio 16000 RTP/AVP 0 8 101\r\n")
    answer, plan = session("required").answer(parse(text))
    assert [m.port for m in answer.media] == [0, 4000] and plan.port == 16000 and plan.srtp


def test_answer_without_crypto_fails_a_required_call_and_not_an_optional_one():
    for mode in ("optional", "required"):
        s = session(mode)
        s.offer()
        plain_answer, _ = SdpSession("192.0.2.9", 5000).answer(plain_offer())
        if mode == "optional":
            assert s.on_answer(parse(plain_answer.to_bytes())).srtp is None
        else:
            with pytest.raises(SdpError) as e:
                s.on_answer(parse(plain_answer.to_bytes()))
            assert e.value.status_hint == 488 and "SRTP required" in str(e.value)


def test_re_answer_with_the_same_keys_gives_equal_keys_and_a_new_peer_key_differs():
    a, b = session("optional"), session("optional", 5000)
    answer, plan1 = b.answer(parse(a.offer().to_bytes()))
    _, plan2 = b.answer(parse(a.offer("sendonly").to_bytes()))      # hold: same keys
    assert plan1.srtp == plan2.srtp and plan2.direction == "recvonly"
    other = session("optional", 4000)                                # the peer re-keys
    _, plan3 = b.answer(parse(other.offer().to_bytes()))
    assert plan3.srtp != plan1.srtp and plan3.srtp.tx_key == plan1.srtp.tx_key
