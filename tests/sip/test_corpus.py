"""RFC 4475 and RFC 5118 torture tests against tipring/firmware/sip/message.py.

The verdict function is `verdict()` below: a message is "invalid" when parse_message() raises
SipParseError or validate() (the RFC 3261 checks a UA makes before processing) does; otherwise
it is accepted. The manifests' `valid` and `valid-but-tricky` both mean "accept"; the tricky
part of each is asserted separately. Every message is also fed through StreamFramer whole,
byte by byte and with trailing data.
"""

import os

import pytest

from tipring.firmware.sip.message import (
    SipParseError, StreamFramer, parse_message, parse_uri, validate, Response,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
RFC4475 = os.path.join(DATA, "rfc4475")
RFC5118 = os.path.join(DATA, "rfc5118")


def manifest(directory):
    rows = []
    with open(os.path.join(directory, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["file", "rfc_section", "expected", "description"]
        for line in f:
            if line.strip():
                rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


def load(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()


def verdict(data):
    """'valid' or ('invalid', error): parse_message() then validate()."""
    try:
        validate(parse_message(data))
    except SipParseError as e:
        return "invalid", e
    return "valid", None


M4475 = manifest(RFC4475)
M5118 = manifest(RFC5118)


def test_manifest_covers_all_50_files():
    names = sorted(r["file"] for r in M4475)
    on_disk = sorted(n for n in os.listdir(RFC4475) if n.endswith(".dat"))
    assert names == on_disk and len(names) == 50
    assert {r["expected"] for r in M4475} == {"valid", "invalid", "valid-but-tricky"}


@pytest.mark.parametrize("row", M4475, ids=[r["file"] for r in M4475])
def test_rfc4475_verdict(row):
    got, err = verdict(load(RFC4475, row["file"]))
    want = "invalid" if row["expected"] == "invalid" else "valid"
    assert got == want, "%s: %s (%s)" % (row["file"], err, row["description"][:80])
    if err is not None:
        assert isinstance(err.status_hint, int) and 400 <= err.status_hint < 600
        assert str(err)


def test_rfc4475_score_is_50_of_50():
    score = 0
    for row in M4475:
        got, _ = verdict(load(RFC4475, row["file"]))
        score += (got == "invalid") == (row["expected"] == "invalid")
    assert score == 50


# ---------------------------------------------------------------- streaming the corpus

# Messages whose Content-Length frames them exactly (the rest are about broken framing).
FRAMED = [r["file"] for r in M4475
          if r["file"] not in ("clerr.dat", "ncl.dat", "mcl01.dat", "dblreq.dat",
                               "inv2543.dat", "baddn.dat", "test.dat")]
TRAILER = b"OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;bran"


@pytest.mark.parametrize("name", FRAMED)
def test_stream_whole_bytewise_and_trailing(name):
    data = load(RFC4475, name)
    whole = StreamFramer().feed(data)
    assert whole == [data]

    f = StreamFramer()
    got = []
    for i in range(len(data)):
        got += f.feed(data[i:i + 1])
    assert got == [data] and f.pending == 0

    f = StreamFramer()
    assert f.feed(b"\r\n\r\n" + data + data + TRAILER) == [data, data]  # keep-alive CRLFs skipped
    assert f.pending == len(TRAILER)

    # the framed bytes parse to the same verdict as the datagram
    assert verdict(whole[0])[0] == verdict(data)[0]


def test_stream_framing_errors_are_sticky():
    f = StreamFramer()
    with pytest.raises(SipParseError) as e:
        f.feed(load(RFC4475, "ncl.dat"))
    assert e.value.header == "Content-Length"
    with pytest.raises(SipParseError):
        f.feed(b"\r\n")
    with pytest.raises(SipParseError) as e:
        StreamFramer().feed(load(RFC4475, "mcl01.dat"))
    assert e.value.header == "Content-Length"


def test_stream_waits_for_clerr_body():
    # RFC 4475 §3.1.2.2: on a stream, wait for the 9999 octets (the transport times out)
    f = StreamFramer()
    assert f.feed(load(RFC4475, "clerr.dat")) == []
    assert f.pending == len(load(RFC4475, "clerr.dat"))


def test_stream_head_size_limit():
    f = StreamFramer(max_head=1000)
    with pytest.raises(SipParseError) as e:
        f.feed(b"INVITE sip:a@b SIP/2.0\r\nX: " + b"a" * 2000)
    assert e.value.status_hint == 513


def test_datagram_with_trailing_data_is_cut_to_content_length():
    data = load(RFC4475, "zeromf.dat")
    m = parse_message(data + b"garbage after the message")
    assert m.body == b"" and m == parse_message(data)


# ---------------------------------------------------------------- the tricky parts (§3.1.1, §3.3)

def msg(name):
    return parse_message(load(RFC4475, name))


def test_wsinv():
    m = msg("wsinv.dat")
    assert m.method == "INVITE"
    assert m.max_forwards == 68
    assert (m.cseq.seq, m.cseq.method) == (9, "INVITE")
    assert m.to.tag == "1918181833n" and str(m.to.uri) == "sip:vivekg@chair-dnrc.example.com"
    assert m.from_.display == 'J Rosenberg \\"' and m.from_.tag == "98asjd8"
    assert [(v.transport, v.host) for v in m.via] == [
        ("UDP", "192.0.2.2"), ("TCP", "spindle.example.com"), ("UDP", "192.168.255.111")]
    assert [v.branch for v in m.via] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.headers.get("Subject") == ""
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert m.headers.get_all("unknownheaderwithunusualvalue") == [";;,,;;,;"]
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    c, = m.contact
    assert c.display == 'Quoted string ""' and c.params == {
        "newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert m.content_type == "application/sdp" and len(m.body) == 150


def test_intmeth():
    m = msg("intmeth.dat")
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.cseq.method == m.method
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    u = parse_uri(m.uri)
    assert u.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert u.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)" and u.host == "example.com"
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.headers.get("extensionHeader-!.%*+_`'~").startswith("\ufeff")


def test_esc01_unescapes_once():
    m = msg("esc01.dat")
    u = parse_uri(m.uri)
    assert u.user == "sips:user@example.com" and u.host == "example.net"
    assert m.to.uri.user == "user"
    assert m.from_.uri.user == "I have spaces"
    c, = m.contact
    assert c.uri.user == "caller"
    assert c.uri.params == {"lr": None, "name": "value%41"}
    assert m.content_type == "application/sdp"


def test_escnull_keeps_nulls():
    m = msg("escnull.dat")
    assert m.to.uri.user == "null-\x00-null"
    assert [c.uri.user for c in m.contact] == ["\x00", "\x00\x00"]


def test_esc02_percent_is_not_an_escape_everywhere():
    m = msg("esc02.dat")
    assert m.method == "RE%47IST%45R" and m.method != "REGISTER"
    assert m.to.display == "%Z%45"
    assert len(m.contact) == 2
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_and_longreq():
    assert msg("lwsdisp.dat").from_.display == "caller"
    m = msg("longreq.dat")
    assert len(m.via) == 34
    assert len(m.to.display) > 90 and len(m.from_.tag) > 100
    assert len(load(RFC4475, "longreq.dat")) > 3000


def test_dblreq_ignores_the_second_request():
    m = msg("dblreq.dat")
    assert m.method == "REGISTER" and m.body == b""


def test_semiuri_user_contains_semicolon():
    u = parse_uri(msg("semiuri.dat").uri)
    assert u.user == "user;par=u@example.net" and u.host == "example.com" and u.params == {}
    assert msg("semiuri.dat").headers.get_all("Accept") == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip", "message/sipfrag"]


def test_transports():
    assert [v.transport for v in msg("transports.dat").via] == [
        "UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_body_framed_by_content_length():
    m = msg("mpart01.dat")
    assert len(m.body) == 553 and b"\x00" in m.body
    assert m.content_type == "multipart/mixed"


def test_response_reason_phrases():
    m = msg("unreason.dat")
    assert isinstance(m, Response) and m.status == 200
    assert m.reason.startswith("= 2**3 * 5**2 ") and any(ord(c) > 127 for c in m.reason)
    m = msg("noreason.dat")
    assert m.status == 100 and m.reason == ""


def test_unknown_schemes_parse_but_answer_416():
    for name in ("unkscm.dat", "novelsc.dat"):
        m = msg(name)
        with pytest.raises(SipParseError) as e:
            parse_uri(m.uri)
        assert e.value.status_hint == 416
    m = msg("unksm2.dat")
    assert m.to.uri.scheme == "isbn" and m.to.uri.opaque == "2983792873"
    assert m.from_.uri.scheme == "http" and m.from_.tag == "3234233"
    assert m.contact[0].uri.scheme == "name"


def test_contact_params_vs_uri_params():
    c, = msg("cparam01.dat").contact
    assert c.params == {"unknownparam": None} and c.uri.params == {}
    c, = msg("cparam02.dat").contact
    assert c.params == {} and c.uri.params == {"unknownparam": None}
    c, = msg("regescrt.dat").contact
    assert c.uri.headers == {"Route": "<sip:sip.example.com>"}


def test_inv2543_and_bcast_and_zeromf():
    m = msg("inv2543.dat")
    assert m.via[0].branch is None and m.from_.tag is None and m.max_forwards is None
    assert m.content_length is None and len(m.body) == 105
    assert msg("bcast.dat").via[1].host == "255.255.255.255"
    assert msg("zeromf.dat").max_forwards == 0
    assert msg("badbranch.dat").via[0].branch == "z9hG4bK"


def test_invalid_hints():
    with pytest.raises(SipParseError) as e:
        msg("badvers.dat")
    assert e.value.status_hint == 505 and e.value.header is None
    with pytest.raises(SipParseError) as e:
        msg("scalar02.dat").cseq
    assert e.value.header == "CSeq" and str(e.value).startswith("CSeq: ")
    with pytest.raises(SipParseError) as e:
        msg("scalar02.dat").max_forwards
    assert e.value.header == "Max-Forwards"
    with pytest.raises(SipParseError) as e:
        msg("quotbal.dat").to
    assert e.value.header == "To"
    with pytest.raises(SipParseError) as e:
        validate(msg("insuf.dat"))
    assert e.value.header in ("Call-ID", "From", "To")
    with pytest.raises(SipParseError) as e:
        msg("clerr.dat")
    assert e.value.header == "Content-Length" and "9999" in e.value.reason


def test_baddn_is_invalid_even_when_terminated():
    # the archived file also lacks the empty line; the display name alone must fail too
    m = parse_message(load(RFC4475, "baddn.dat") + b"\r\n")
    with pytest.raises(SipParseError) as e:
        m.from_
    assert e.value.header == "From"


# ---------------------------------------------------------------- RFC 5118 (IPv6)

def wire_form(raw):
    """The RFC 5118 archive is bare LF with some wrong Content-Lengths: build real wire bytes."""
    text = raw.replace(b"\r\n", b"\n")
    if b"\n\n" not in text:
        text += b"\n"
    head, _, body = text.partition(b"\n\n")
    lines = [l for l in head.split(b"\n")
             if not l.lower().startswith((b"content-length:", b"l:"))]
    body = body.replace(b"\n", b"\r\n")
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize("row", M5118, ids=[r["file"] for r in M5118])
def test_rfc5118_verdict(row):
    data = wire_form(load(RFC5118, row["file"]))
    got, err = verdict(data)
    want = "invalid" if row["expected"] == "invalid" else "valid"
    assert got == want, "%s: %s" % (row["file"], err)
    assert StreamFramer().feed(data) == [data]


@pytest.mark.parametrize("row", M5118, ids=[r["file"] for r in M5118])
def test_rfc5118_raw_bare_lf(row):
    # raw archive bytes: bare LF is accepted; a missing empty line or a Content-Length longer
    # than the body is a framing error, never another exception
    raw = load(RFC5118, row["file"])
    try:
        parse_message(raw)
    except SipParseError:
        pass


def test_rfc5118_details():
    def m5(name):
        return parse_message(wire_form(load(RFC5118, name)))
    u = parse_uri(m5("ipv6-good").uri)
    assert u.host == "2001:db8::10" and u.host_port() == ("2001:db8::10", 5060)
    assert str(u) == "sip:[2001:db8::10]"
    u = parse_uri(m5("port-ambiguous").uri)
    assert u.host == "2001:db8::10:5070" and u.port is None
    u = parse_uri(m5("port-unambiguous").uri)
    assert (u.host, u.port) == ("2001:db8::10", 5070)
    with pytest.raises(SipParseError):
        parse_uri(m5("ipv6-bad").uri)
    assert m5("via-received-param-with-delim").via[0].params["received"] == "[2001:db8::9:255]"
    assert m5("via-received-param-no-delim").via[0].params["received"] == "2001:db8::9:255"
    vias = m5("mult-ip-in-header").via
    assert (vias[0].host, vias[0].port) == ("2001:db8::9:1", 6050)
    assert vias[2].params["received"] == "192.0.2.200"
    vias = m5("ipv4-mapped-ipv6").via
    assert [v.host for v in vias] == ["::ffff:192.0.2.10", "::ffff:192.0.2.2"]
    assert (vias[0].port, vias[1].port) == (19823, None)
    assert parse_uri(m5("ipv6-bug-abnf-3-colons").uri).host == "2001:db8:::192.0.2.1"
    assert b"IN IP6 2001:db8::20" in m5("ipv6-in-sdp").body
