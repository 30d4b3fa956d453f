"""tipring/firmware/sip/message.py: API semantics, round-trip properties and a bounded fuzz test."""

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tipring.firmware.sip.message import (
    CSeq, Headers, NameAddr, Request, Response, SipParseError, SipUri, StreamFramer, Via,
    parse_message, parse_uri, validate,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")

INVITE = (
    b"INVITE sip:bob@192.0.2.20:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: \"Alice ATA\" <sip:alice@192.0.2.10>;tag=1928301774\r\n"
    b"To: <sip:bob@192.0.2.20>\r\n"
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


# ---------------------------------------------------------------- parsing and accessors

def test_request_fields_and_typed_accessors():
    m = parse_message(INVITE)
    assert isinstance(m, Request) and m.is_request
    assert (m.method, m.uri, m.body) == ("INVITE", "sip:bob@192.0.2.20:5060", b"v=0\n")
    v, = m.via
    assert (v.transport, v.host, v.port, v.branch) == ("UDP", "192.0.2.10", 5060,
                                                       "z9hG4bK776asdhds")
    assert v.params == {"rport": None, "branch": "z9hG4bK776asdhds"}
    assert m.from_.display == "Alice ATA" and m.from_.tag == "1928301774"
    assert m.from_.uri.user == "alice" and m.from_.uri.host == "192.0.2.10"
    assert m.to.tag is None and m.to.display is None
    assert m.call_id == "a84b4c76e66710@192.0.2.10"
    assert (m.cseq.seq, m.cseq.method) == (314159, "INVITE")
    assert m.contact[0].uri.params == {"transport": "udp"} and m.contact[0].uri.transport == "udp"
    assert m.max_forwards == 70 and m.content_type == "application/sdp"
    assert m.content_length == 4
    assert m.via is m.via  # cached


def test_response_and_default_reason():
    m = parse_message(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                      b"Content-Length: 0\r\n\r\n")
    assert isinstance(m, Response) and not m.is_request and (m.status, m.reason) == (180, "Ringing")
    assert Response(486).reason == "Busy Here" and Response(299).reason == ""
    assert Response(200, "Fine").reason == "Fine"


def test_compact_forms_case_and_repeats():
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h1;branch=z9hG4bK1, "
                      b"SIP/2.0/TCP h2:5070;branch=z9hG4bK2\r\nVIA: SIP/2.0/UDP h3\r\n"
                      b"f: <sip:x@y>;tag=1\r\nT: sip:z@y\r\ni: id1\r\nCSEQ: 1 OPTIONS\r\n"
                      b"m: *\r\nl: 0\r\nk: timer\r\nK: 100rel\r\nc: Application/SDP ; x=1\r\n\r\n")
    assert [v.host for v in m.via] == ["h1", "h2", "h3"] and m.via[1].port == 5070
    assert m.headers.get_all("via") == ["SIP/2.0/UDP h1;branch=z9hG4bK1",
                                        "SIP/2.0/TCP h2:5070;branch=z9hG4bK2",
                                        "SIP/2.0/UDP h3"]
    assert m.headers.get("Via") == ("SIP/2.0/UDP h1;branch=z9hG4bK1, "
                                    "SIP/2.0/TCP h2:5070;branch=z9hG4bK2")
    assert m.headers.get_all("Supported") == ["timer", "100rel"]
    assert m.contact[0].star and m.content_type == "application/sdp"
    assert m.call_id == "id1" and "call-id" in m.headers and "I" in m.headers
    names = [n for n, _ in m.headers.items()]
    assert names[:4] == ["Via", "Via", "From", "To"] and "Content-Type" in names


def test_multi_value_split_honours_quotes_and_angles():
    m = parse_message(b"REGISTER sip:r SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                      b"From: <sip:a@r>;tag=1\r\nTo: <sip:a@r>\r\nCall-ID: c\r\n"
                      b"CSeq: 2 REGISTER\r\n"
                      b"Contact: \"Watson, Thomas\" <sip:t@h;a=1,2>;q=0.5, <sip:u@h>\r\n\r\n")
    c1, c2 = m.contact
    assert c1.display == "Watson, Thomas" and c1.params == {"q": "0.5"}
    assert c2.uri.user == "u"
    validate(m)


def test_folding_and_lws():
    m = parse_message(b"BYE sip:a@b SIP/2.0\r\nVia: SIP / 2.0 / UDP\r\n  h.example:5060 ;\r\n"
                      b"\tbranch = z9hG4bKx\r\nCSeq: 7\r\n BYE\r\nSubject: one\r\n two\r\n\r\n")
    v, = m.via
    assert (v.transport, v.host, v.port, v.branch) == ("UDP", "h.example", 5060, "z9hG4bKx")
    assert str(m.cseq) == "7 BYE" and m.headers.get("subject") == "one two"


def test_bare_lf_message():
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nCSeq: 1 OPTIONS\n"
                      b"Content-Length: 2\n\nhi")
    assert m.body == b"hi" and m.cseq.seq == 1


def test_leading_crlf_ignored():
    assert parse_message(b"\r\n\r\n" + INVITE) == parse_message(INVITE)


@pytest.mark.parametrize("data, header, hint", [
    (b"", None, 400),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", None, 400),               # no empty line
    (b"INVITE sip:a@b SIP/3.0\r\n\r\n", None, 505),
    (b"SIP/2.1 200 OK\r\n\r\n", None, 505),
    (b"SIP/2.0 20 OK\r\n\r\n", None, 400),
    (b"SIP/2.0 099 OK\r\n\r\n", None, 400),
    (b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", None, 400),
    (b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n", None, 400),
    (b"INVITE sip:a@b SIP/2.0\r\n folded-first: x\r\n\r\n", None, 400),
    (b"INVITE sip:a@b SIP/2.0\r\nX: a\rb\r\n\r\n", None, 400),           # bare CR
    (b"INVITE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n", "Session-Expires", 400),  # not UTF-8 (x: compact)
    (b"INVITE sip:a@b\xff SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n", None, 400),  # start line not UTF-8
    (b"INVITE sip:a@b SIP/2.0\r\nCall-ID: a\xff\r\n\r\n", "Call-ID", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nl: 5\r\n\r\nabc", "Content-Length", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nl: +5\r\n\r\nabcdef", "Content-Length", 400),
    (b"INVITE sip:a@b SIP/2.0\r\nl: 1_0\r\n\r\n0123456789", "Content-Length", 400),
    (b"INV ITE sip:a@b SIP/2.0\r\n\r\n", None, 400),
    (b"INVITE nocolon SIP/2.0\r\n\r\n", None, 400),
])
def test_parse_errors(data, header, hint):
    with pytest.raises(SipParseError) as e:
        parse_message(data)
    assert e.value.header == header and e.value.status_hint == hint
    assert str(e.value) == ((header + ": ") if header else "") + e.value.reason


@pytest.mark.parametrize("line, attr, header", [
    (b"CSeq: 4294967296 INVITE", "cseq", "CSeq"),
    (b"CSeq: 1", "cseq", "CSeq"),
    (b"Max-Forwards: 256", "max_forwards", "Max-Forwards"),
    (b"Max-Forwards: -1", "max_forwards", "Max-Forwards"),
    (b"Via: SIP/2.0/UDP", "via", "Via"),
    (b"Via: SIP/2.0/UDP h:99999", "via", "Via"),
    (b"Via: SIP/2.0/UDP [::1", "via", "Via"),
    (b"From: <sip:a@b", "from_", "From"),
    (b"To: \"unterminated <sip:a@b>", "to", "To"),
    (b"Contact: *, <sip:a@b>", "contact", "Contact"),
    (b"Content-Type: nonsense", "content_type", "Content-Type"),
    (b"Call-ID: a b", "call_id", "Call-ID"),
])
def test_typed_accessor_errors_name_the_header(line, attr, header):
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\n" + line + b"\r\n\r\n")
    with pytest.raises(SipParseError) as e:
        getattr(m, attr)
    assert e.value.header == header


def test_lazy_parts_raise_sip_parse_error():
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;;x\r\n"
                      b"From: <sip:a@b:notaport>;tag=1\r\n\r\n")
    with pytest.raises(SipParseError) as e:
        m.via[0].branch
    assert e.value.header == "Via"
    with pytest.raises(SipParseError) as e:
        m.from_.uri
    assert e.value.header == "From"


def test_missing_and_repeated_mandatory_headers():
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    with pytest.raises(SipParseError) as e:
        m.call_id
    assert e.value.header == "Call-ID"
    assert m.via == [] and m.contact == [] and m.max_forwards is None and m.content_type is None
    m = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\ni: 2\r\n\r\n")
    with pytest.raises(SipParseError):
        m.call_id


# ---------------------------------------------------------------- building and serialising

def test_build_request_and_serialise():
    r = Request("OPTIONS", "sip:bob@example.com", [
        ("v", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc"),
        ("f", "<sip:a@example.com>;tag=9"),
        ("To", "<sip:bob@example.com>"),
        ("i", "xyz"),
        ("cseq", "1 OPTIONS"),
        ("content-length", "999"),
    ], body=b"hello")
    wire = r.to_bytes()
    assert wire == bytes(r)
    assert wire.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP")
    assert b"\r\nFrom: <sip:a@example.com>;tag=9\r\n" in wire and b"\r\nCall-ID: xyz\r\n" in wire
    assert b"\r\nCSeq: 1 OPTIONS\r\nContent-Length: 5\r\n\r\nhello" in wire
    assert parse_message(wire) == r
    validate(parse_message(wire))


def test_response_gets_content_length_appended():
    wire = Response(200, headers=[("Call-ID", "x")]).to_bytes()
    assert wire == b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"


def test_headers_api():
    h = Headers([("Via", "SIP/2.0/UDP a"), ("To", "<sip:t@x>"), ("v", "SIP/2.0/UDP b")])
    assert h.get("VIA") == "SIP/2.0/UDP a" and h.get("nope", 1) == 1
    h.add("Via", "SIP/2.0/UDP top", first=True)
    assert h.get_all("v") == ["SIP/2.0/UDP top", "SIP/2.0/UDP a", "SIP/2.0/UDP b"]
    assert h.items()[0] == ("Via", "SIP/2.0/UDP top")
    h.add("Route", "<sip:r1;lr>, <sip:r2;lr>")
    assert h.get_all("route") == ["<sip:r1;lr>", "<sip:r2;lr>"]
    h.set("via", "SIP/2.0/TCP only")
    assert h.get_all("Via") == ["SIP/2.0/TCP only"] and h.items()[0] == ("Via", "SIP/2.0/TCP only")
    h.remove("V")
    assert "Via" not in h and "to" in h
    h.add("X-Custom", "1")
    assert ("X-Custom", "1") in h.items() and h.get("x-custom") == "1"
    assert h.get_all("Authorization") == []
    h.add("Authorization", 'Digest a="1,2", b=3')
    assert h.get_all("Authorization") == ['Digest a="1,2", b=3']  # never comma-split


def test_mutation_drops_typed_cache():
    m = parse_message(INVITE)
    assert m.via[0].host == "192.0.2.10"
    m.headers.add("Via", "SIP/2.0/UDP proxy.example;branch=z9hG4bKp", first=True)
    assert [v.host for v in m.via] == ["proxy.example", "192.0.2.10"]
    assert parse_message(m.to_bytes()).via[0].branch == "z9hG4bKp"


def test_typed_values_str():
    v = Via("TCP", "2001:db8::1", 5061, {"branch": "z9hG4bK1", "rport": None})
    assert str(v) == "SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK1;rport"
    assert Via.parse(str(v)) == v and v.sent_by == ("2001:db8::1", 5061)
    na = NameAddr(SipUri("sip", "bob", "b.example"), 'Bob "B" \\', {"tag": "1"})
    assert str(na) == '"Bob \\"B\\" \\\\" <sip:bob@b.example>;tag=1'
    assert NameAddr.parse(str(na)) == na and na.tag == "1"
    assert str(CSeq(5, "BYE")) == "5 BYE" and CSeq.parse("5 BYE") == CSeq(5, "BYE")


def test_uris():
    u = parse_uri("sips:Al%69ce:pw@Example.COM:5061;Transport=TCP;lr?Subject=hi%20there&X=1")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "Alice", "pw",
                                                                "Example.COM", 5061)
    assert u.params == {"transport": "TCP", "lr": None}
    assert u.headers == {"Subject": "hi there", "X": "1"}
    assert parse_uri(str(u)) == u
    assert parse_uri("sips:h").host_port() == ("h", 5061)
    assert parse_uri("sip:h").host_port() == ("h", 5060)
    t = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (t.scheme, t.user, t.host, t.params) == ("tel", "+1-201-555-0123", None,
                                                     {"phone-context": "example.com"})
    assert str(t) == "tel:+1-201-555-0123;phone-context=example.com"
    assert str(SipUri("sip", "a b@c", "h")) == "sip:a%20b%40c@h"
    for bad in ("sip:", "sip:@h", "sip:h:x", "sip:a@[::1", "sip:h;;a", "sip:a%zz@h", "nocolon",
                "sip:a b@h"):
        with pytest.raises(SipParseError):
            parse_uri(bad)
    with pytest.raises(SipParseError) as e:
        parse_uri("mailto:a@b")
    assert e.value.status_hint == 416


def test_validate_checks():
    base = (b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
            b"From: <sip:a@x>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n")
    validate(parse_message(base + b"CSeq: 1 INVITE\r\n\r\n"))
    for extra, header in [(b"CSeq: 1 BYE\r\n", "CSeq"),
                          (b"CSeq: 1 INVITE\r\nMax-Forwards: 999\r\n", "Max-Forwards"),
                          (b"CSeq: 1 INVITE\r\nContact: <sip:a@b>;;\r\n", "Contact"),
                          (b"CSeq: 1 INVITE\r\nDate: Sat, 13 Nov 2010 23:29:00 PST\r\n", "Date"),
                          (b"CSeq: 1 INVITE\r\nTo: <sip:again@x>\r\n", "To"),
                          (b"", "CSeq")]:
        with pytest.raises(SipParseError) as e:
            validate(parse_message(base + extra + b"\r\n"))
        assert e.value.header == header, extra
    with pytest.raises(SipParseError) as e:
        validate(parse_message(base.replace(b"SIP/2.0/UDP", b"SIP/3.0/UDP")
                               + b"CSeq: 1 INVITE\r\n\r\n"))
    assert e.value.status_hint == 505


# ---------------------------------------------------------------- stream framing

def test_stream_framer_splits_and_buffers():
    f = StreamFramer()
    two = INVITE + INVITE
    assert f.feed(two[:50]) == []
    out = f.feed(two[50:] + b"\r\n\r\n")
    assert out == [INVITE, INVITE] and f.pending == 0
    f = StreamFramer()
    got = []
    for b in two:
        got += f.feed(bytes([b]))
    assert got == [INVITE, INVITE]
    # no Content-Length on a stream: taken as 0
    assert StreamFramer().feed(b"OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\nNEXT") == [
        b"OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n"]


# ---------------------------------------------------------------- round-trip properties

_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(_TOKEN_CHARS, min_size=1, max_size=12)
hostnames = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}\Z")
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: "%d.%d.%d.%d" % t)
ipv6 = st.sampled_from(["2001:db8::10", "::1", "fe80::1:2:3", "::ffff:192.0.2.2",
                        "2001:db8:0:0:0:0:0:1"])
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.one_of(st.none(), st.integers(1, 65535))
text_no_ctl = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
param_values = st.one_of(st.none(), text_no_ctl.filter(lambda s: s != ""))
uri_params = st.dictionaries(tokens.map(str.lower), param_values, max_size=3)


@st.composite
def sip_uris(draw):
    scheme = draw(st.sampled_from(["sip", "sips"]))
    user = draw(st.one_of(st.none(), text_no_ctl.filter(lambda s: s != "")))
    password = draw(st.one_of(st.none(), text_no_ctl)) if user is not None else None
    headers = draw(st.dictionaries(text_no_ctl.filter(lambda s: s != ""), text_no_ctl,
                                   max_size=2))
    return SipUri(scheme, user, draw(hosts), draw(ports), draw(uri_params), headers, password)


hparams = st.dictionaries(tokens.map(str.lower), st.one_of(st.none(), tokens), max_size=3)


@st.composite
def name_addrs(draw):
    display = draw(st.one_of(st.none(), text_no_ctl))
    return NameAddr(draw(sip_uris()), display, draw(hparams))


@st.composite
def vias(draw):
    return Via(draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS"])), draw(hosts),
               draw(ports), draw(hparams))


header_names = st.one_of(st.sampled_from([
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Subject", "Allow",
    "v", "f", "t", "i", "m", "s", "k", "Authorization", "X-Whatever"]), tokens).filter(
    lambda n: n.lower() not in ("content-length", "l"))
header_values = st.text(st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\r\n"), max_size=40).map(
    lambda s: s.strip())
header_lists = st.lists(st.tuples(header_names, header_values), max_size=8)


@st.composite
def requests(draw):
    return Request(draw(tokens), str(draw(sip_uris())), draw(header_lists),
                   draw(st.binary(max_size=64)))


@st.composite
def responses(draw):
    reason = draw(st.text(st.characters(blacklist_categories=("Cs",),
                                        blacklist_characters="\r\n\x00"), max_size=20))
    return Response(draw(st.integers(100, 699)), reason, draw(header_lists),
                    draw(st.binary(max_size=64)))


PROP = settings(max_examples=300, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(st.one_of(requests(), responses()))
def test_roundtrip_messages(m):
    wire = m.to_bytes()
    back = parse_message(wire)
    assert back == m
    assert back.to_bytes() == wire
    assert StreamFramer().feed(wire) == [wire]


@PROP
@given(sip_uris())
def test_roundtrip_uris(u):
    assert parse_uri(str(u)) == u


@PROP
@given(name_addrs())
def test_roundtrip_name_addrs(na):
    assert NameAddr.parse(str(na)) == na


@PROP
@given(vias())
def test_roundtrip_vias(v):
    assert Via.parse(str(v)) == v


# ---------------------------------------------------------------- fuzz: only SipParseError

def _corpus():
    out = []
    for sub in ("rfc4475", "rfc5118"):
        d = os.path.join(DATA, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith((".md", ".tsv")) or name in ("SHA256SUMS", ".gitattributes"):
                continue
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
    out.append(INVITE)
    return out


def _exercise(data):
    """Parse and touch everything; only SipParseError may come out."""
    try:
        m = parse_message(data)
    except SipParseError:
        return "error"
    m.to_bytes()
    m.headers.items()
    for attr in ("via", "from_", "to", "call_id", "cseq", "contact", "max_forwards",
                 "content_type", "content_length"):
        try:
            val = getattr(m, attr)
            for x in (val if isinstance(val, list) else [val]):
                if isinstance(x, (Via, NameAddr)):
                    x.params
                    str(x)
                if isinstance(x, NameAddr) and not x.star:
                    str(x.uri)
        except SipParseError:
            pass
    try:
        validate(m)
    except SipParseError:
        pass
    if m.is_request:
        try:
            parse_uri(m.uri)
        except SipParseError:
            pass
    return "parsed"


_SPECIALS = [b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b";", b",", b"\"", b"<", b">", b"\\",
             b"%", b"@", b"[", b"]", b"=", b"\x00", b"\xff", b"\r\n ", b"\r\n\r\n", b"SIP/2.0",
             b"99999999999999999999", b"-1", b"Content-Length: 5\r\n", b"l: 0\r\n",
             b"Via: ", b"sip:", b"\xc3", b"\xe2\x80\xa8"]


def _mutate(rng, data, corpus):
    kind = rng.randrange(7)
    n = len(data)
    if kind == 0 and n:                                    # flip bytes
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(n)] = rng.randrange(256)
        return bytes(b)
    if kind == 1:                                          # truncate
        return data[:rng.randrange(n + 1)]
    if kind == 2:                                          # splice two messages
        other = rng.choice(corpus)
        return data[:rng.randrange(n + 1)] + other[rng.randrange(len(other) + 1):]
    if kind == 3:                                          # insert syntax characters
        b = data
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b) + 1)
            b = b[:i] + rng.choice(_SPECIALS) + b[i:]
        return b
    if kind == 4 and n:                                    # delete a range
        i = rng.randrange(n)
        return data[:i] + data[i + rng.randint(1, 40):]
    if kind == 5:                                          # duplicate a line
        lines = data.split(b"\r\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[rng.randrange(len(lines))])
        return b"\r\n".join(lines)
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))


def test_fuzz_corpus_mutations_raise_only_sip_parse_error():
    rng = random.Random(4475)
    corpus = _corpus()
    outcomes = {"error": 0, "parsed": 0}
    for _ in range(3000):
        data = rng.choice(corpus)
        for _ in range(rng.randint(1, 3)):
            data = _mutate(rng, data, corpus)
        outcomes[_exercise(data)] += 1
        f = StreamFramer()
        try:
            for piece in (data[:7], data[7:]):
                for whole in f.feed(piece):
                    _exercise(whole)
        except SipParseError:
            pass
    assert outcomes["error"] > 100 and outcomes["parsed"] > 100  # both paths were exercised


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_raise_only_sip_parse_error(data):
    _exercise(data)
    _exercise(b"INVITE sip:a@b SIP/2.0\r\n" + data)
