"""The a=crypto attribute (RFC 4568 §9.1) and which one a line takes (tipring/firmware/media/sdes.py)."""

import binascii

import pytest

from tipring.firmware.media.sdes import (
    CryptoAttribute, SrtpKeys, answer_keys, choose, crypto_attributes, keys_for, offer_choice,
    parse_crypto, usable,
)

# RFC 4568 §4 / §8.1 (offer) and §5.1 (MKI of 4 bytes, FEC_ORDER); §6.1 (two keys by MKI)
RFC_OFFER = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"
RFC_MKI4 = ("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 "
            "FEC_ORDER=FEC_SRTP")
RFC_TWO_KEYS = ("1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
                "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4")
KEY = bytes(range(30))
KEY_B64 = binascii.b2a_base64(KEY).decode().strip()


def test_rfc4568_offer_example_parses_field_by_field():
    a = parse_crypto(RFC_OFFER)
    assert (a.tag, a.suite, a.lifetime, a.mki, a.params, a.keys) == (
        1, "AES_CM_128_HMAC_SHA1_80", 2 ** 20, (1, 32), [], 1)
    assert a.key == binascii.a2b_base64("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR") and len(a.key) == 30
    assert str(a) == RFC_OFFER
    # an MKI of 32 bytes would put 32 bytes in every packet: more than we cut out
    assert not usable(a)


def test_rfc4568_mki_and_fec_order_example_is_usable():
    a = parse_crypto(RFC_MKI4)
    assert a.mki == (1, 4) and a.params == ["FEC_ORDER=FEC_SRTP"]
    assert usable(a) and str(a) == RFC_MKI4


def test_two_keys_by_mki_are_counted_and_not_used():
    a = parse_crypto(RFC_TWO_KEYS)
    assert a.keys == 2 and a.mki == (1, 4)
    assert not usable(a)


@pytest.mark.parametrize("value, defect", [
    ("", "needs a tag"),
    ("1 AES_CM_128_HMAC_SHA1_80", "needs a tag"),
    ("x AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64, "bad tag"),
    ("0 AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64, "tag out of range"),
    ("1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64, "tag out of range"),
    ("1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com/key", "not inline"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline", "not inline"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:", "not base64"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:!!notbase64!!", "not base64"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:abc", "not base64"),            # bad padding
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^x" % KEY_B64, "bad lifetime"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^99" % KEY_B64, "lifetime out of range"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4|2^20" % KEY_B64, "lifetime after MKI"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|1:0" % KEY_B64, "MKI length out of range"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4|2:4" % KEY_B64, "two MKI"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:%s|1|2|3" % KEY_B64, "too many"),
])
def test_defects_are_named(value, defect):
    with pytest.raises(ValueError) as e:
        parse_crypto(value)
    assert defect in str(e.value)


def test_crypto_attributes_keeps_what_parses_and_drops_the_rest():
    lines = [("a", "rtpmap:0 PCMU/8000"), ("a", "crypto:garbage"), ("a", "crypto:"),
             ("a", "crypto:7 AES_CM_128_HMAC_SHA1_80 inline:!!"), ("a", "CRYPTO:" + RFC_MKI4),
             ("b", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64),
             ("a", "crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + KEY_B64)]
    got = crypto_attributes(lines)
    assert [(a.tag, a.suite) for a in got] == [(1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32")]


@pytest.mark.parametrize("params, ok", [
    ([], True), (["KDR=0"], True), (["WSH=64"], True), (["FEC_ORDER=SRTP_FEC"], True),
    (["-X_VENDOR=1"], True),
    (["KDR=10"], False), (["UNENCRYPTED_SRTP"], False), (["UNENCRYPTED_SRTCP"], False),
    (["UNAUTHENTICATED_SRTP"], False), (["FEC_KEY=inline:" + KEY_B64], False),
    (["FEC_ORDER=X"], False), (["NEW_MANDATORY"], False),
])
def test_session_parameters(params, ok):
    assert usable(CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", KEY, params=params)) is ok


def test_suites_and_key_lengths():
    assert usable(CryptoAttribute(1, "aes_cm_128_hmac_sha1_32", KEY))
    assert not usable(CryptoAttribute(1, "AES_256_CM_HMAC_SHA1_80", bytes(46)))
    assert not usable(CryptoAttribute(1, "AEAD_AES_128_GCM", bytes(28)))
    assert not usable(CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", KEY[:29]))


def test_choose_takes_the_first_usable_in_the_offers_order():
    offer = [CryptoAttribute(1, "AEAD_AES_256_GCM", bytes(44)),
             CryptoAttribute(2, "AES_CM_128_HMAC_SHA1_32", KEY),
             CryptoAttribute(3, "AES_CM_128_HMAC_SHA1_80", KEY)]
    assert choose(offer).tag == 2
    assert choose(offer[:1]) is None and choose([]) is None


def test_write_round_trip_and_lifetime_forms():
    a = CryptoAttribute(5, "AES_CM_128_HMAC_SHA1_80", KEY, lifetime=2 ** 31, mki=(3, 2), params=["WSH=128"])
    text = str(a)
    assert text == "5 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|3:2 WSH=128" % KEY_B64
    b = parse_crypto(text)
    assert (b.tag, b.key, b.lifetime, b.mki, b.params) == (5, KEY, 2 ** 31, (3, 2), ["WSH=128"])
    assert parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:%s|1000" % KEY_B64).lifetime == 1000
    assert str(CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", KEY, lifetime=1000)).endswith("|1000")


def test_keys_compare_by_value_and_never_show_the_key():
    ours = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", KEY)
    theirs = parse_crypto(RFC_MKI4)
    k = keys_for(ours, theirs)
    assert (k.suite, k.tx_key, k.rx_key, k.rx_mki, k.tag) == ("AES_CM_128_HMAC_SHA1_80", KEY, theirs.key, 4, 1)
    assert k == SrtpKeys("aes_cm_128_hmac_sha1_80", KEY, theirs.key, 4)
    assert k != SrtpKeys("AES_CM_128_HMAC_SHA1_80", KEY, KEY, 4)
    assert KEY_B64 not in repr(k) and "PS1u" not in repr(k)


CRYPTO = [("a", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64)]
BAD = [("a", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + KEY_B64 + " UNENCRYPTED_SRTP")]


@pytest.mark.parametrize("mode, proto, lines, takes, refused", [
    ("off", "RTP/AVP", [], False, None),
    ("off", "RTP/AVP", CRYPTO, False, None),          # best effort offer: plain answer
    ("off", "RTP/SAVP", CRYPTO, False, "SRTP is off"),
    ("optional", "RTP/AVP", [], False, None),
    ("optional", "RTP/AVP", CRYPTO, True, None),
    ("optional", "RTP/SAVP", CRYPTO, True, None),
    ("optional", "RTP/SAVP", BAD, False, "no usable a=crypto"),
    ("optional", "RTP/AVP", BAD, False, None),
    ("required", "RTP/AVP", [], False, "no usable a=crypto"),
    ("required", "RTP/AVP", CRYPTO, True, None),
    ("required", "RTP/SAVP", BAD, False, "no usable a=crypto"),
])
def test_offer_choice(mode, proto, lines, takes, refused):
    chosen, why = offer_choice(mode, proto, lines)
    assert (chosen is not None) is takes
    assert (why is None) if refused is None else (refused in why)


def test_answer_keys_match_tag_and_suite_of_our_offer():
    ours = {1: CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", bytes(30)),
            2: CryptoAttribute(2, "AES_CM_128_HMAC_SHA1_32", bytes([1]) * 30)}
    peer = bytes([9]) * 30
    b64 = binascii.b2a_base64(peer).decode().strip()
    k = answer_keys("optional", "RTP/AVP", [("a", "crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + b64)], ours)
    assert (k.suite, k.tx_key, k.rx_key, k.tag) == ("AES_CM_128_HMAC_SHA1_32", bytes([1]) * 30, peer, 2)
    # a tag we did not offer, or our tag with another suite, is no answer at all (§7.1.3)
    wrong = [("a", "crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + b64),
             ("a", "crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + b64)]
    assert answer_keys("optional", "RTP/AVP", wrong, ours) is None
    with pytest.raises(ValueError, match="SRTP required"):
        answer_keys("required", "RTP/SAVP", wrong, ours)
    with pytest.raises(ValueError, match="SRTP required"):
        answer_keys("optional", "RTP/SAVP", [], ours)
    assert answer_keys("off", "RTP/AVP", wrong, {}) is None
    with pytest.raises(ValueError, match="plain RTP"):
        answer_keys("off", "RTP/SAVP", [], {})
