"""tipring/firmware/sip/message.py on both CPython and MicroPython: parse, verdicts, framing, round trips.

The RFC 4475 and RFC 5118 torture messages are read from tests/data (their MANIFEST.tsv gives
each verdict: `valid` and `valid-but-tricky` both mean accept), the same files
tests/sip/test_corpus.py runs under pytest. No pytest features: plain test_* functions run by
runner.py, which prints "N passed, N failed" and exits non-zero on failure.

Run: python tests/portable/test_sip_message_portable.py
     MICROPYPATH=. .venv/bin/micropython tests/portable/test_sip_message_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.sip.message import (
    Headers, NameAddr, Request, Response, SipParseError, SipUri, StreamFramer, Via,
    parse_message, parse_uri, validate,
)
try:
    from runner import data, manifest, raises as _raises   # a script: its directory is on sys.path
except ImportError:
    from tests.portable.runner import data, manifest, raises as _raises   # pytest (importlib mode)


def raises(fn, *args):
    """The SipParseError fn(*args) raises (any other outcome fails the test)."""
    return _raises(SipParseError, fn, *args)


def verdict(raw):
    try:
        validate(parse_message(raw))
    except SipParseError:
        return "invalid"
    return "valid"


def get(m, attr):
    return getattr(m, attr)


def wire_form(raw):
    """The RFC 5118 archive is bare LF with some wrong Content-Lengths: real wire bytes."""
    text = raw.replace(b"\r\n", b"\n")
    if b"\n\n" not in text:
        text += b"\n"
    head, _, body = text.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n")
             if not ln.lower().startswith(b"content-length:") and not ln.lower().startswith(b"l:")]
    body = body.replace(b"\n", b"\r\n")
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


M4475 = manifest("rfc4475")
M5118 = manifest("rfc5118")

# name (without .dat) -> (expected verdict, bytes), read once from tests/data/rfc4475
CORPUS = {}
for _row in M4475:
    CORPUS[_row["file"].rsplit(".", 1)[0]] = (
        "invalid" if _row["expected"] == "invalid" else "valid", data("rfc4475", _row["file"]))


def m5(name):
    return parse_message(wire_form(data("rfc5118", name)))


def test_corpus_verdicts():
    assert len(CORPUS) == 50 and len(M5118) == 12
    bad = [n for n, (want, raw) in CORPUS.items() if verdict(raw) != want]
    assert not bad, bad


def test_rfc5118_verdicts_and_details():
    for row in M5118:
        raw = wire_form(data("rfc5118", row["file"]))
        want = "invalid" if row["expected"] == "invalid" else "valid"
        assert verdict(raw) == want, row["file"]
        assert StreamFramer().feed(raw) == [raw], row["file"]
        try:   # the raw archive bytes (bare LF, odd lengths): a SipParseError at worst
            parse_message(data("rfc5118", row["file"]))
        except SipParseError:
            pass
    u = parse_uri(m5("ipv6-good").uri)
    assert u.host == "2001:db8::10" and u.host_port() == ("2001:db8::10", 5060)
    assert str(u) == "sip:[2001:db8::10]"
    u = parse_uri(m5("port-ambiguous").uri)
    assert u.host == "2001:db8::10:5070" and u.port is None
    u = parse_uri(m5("port-unambiguous").uri)
    assert (u.host, u.port) == ("2001:db8::10", 5070)
    raises(parse_uri, m5("ipv6-bad").uri)
    assert m5("via-received-param-with-delim").via[0].params["received"] == "[2001:db8::9:255]"
    assert m5("via-received-param-no-delim").via[0].params["received"] == "2001:db8::9:255"
    vias = m5("mult-ip-in-header").via
    assert (vias[0].host, vias[0].port) == ("2001:db8::9:1", 6050)
    assert vias[2].params["received"] == "192.0.2.200"
    vias = m5("ipv4-mapped-ipv6").via
    assert [v.host for v in vias] == ["::ffff:192.0.2.10", "::ffff:192.0.2.2"]
    assert parse_uri(m5("ipv6-bug-abnf-3-colons").uri).host == "2001:db8:::192.0.2.1"
    assert b"IN IP6 2001:db8::20" in m5("ipv6-in-sdp").body


def test_corpus_tricky_parts():
    m = parse_message(CORPUS["longreq"][1])
    assert len(m.via) == 34 and len(m.from_.tag) > 100 and len(CORPUS["longreq"][1]) > 3000
    assert [v.transport for v in parse_message(CORPUS["transports"][1]).via] == [
        "UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    m = parse_message(CORPUS["mpart01"][1])
    assert len(m.body) == 553 and b"\x00" in m.body and m.content_type == "multipart/mixed"
    m = parse_message(CORPUS["unksm2"][1])
    assert m.to.uri.scheme == "isbn" and m.from_.uri.scheme == "http" and m.contact[0].uri.scheme == "name"
    c = parse_message(CORPUS["cparam02"][1]).contact[0]
    assert c.params == {} and c.uri.params == {"unknownparam": None}
    assert parse_message(CORPUS["zeromf"][1]).max_forwards == 0
    assert parse_message(CORPUS["badbranch"][1]).via[0].branch == "z9hG4bK"
    assert parse_message(CORPUS["lwsdisp"][1]).from_.display == "caller"
    m = parse_message(CORPUS["baddn"][1] + b"\r\n")
    assert raises(get, m, "from_").header == "From"
    assert raises(validate, parse_message(CORPUS["insuf"][1])).header in ("Call-ID", "From", "To")


def test_wsinv():
    m = parse_message(CORPUS["wsinv"][1])
    assert m.max_forwards == 68 and m.cseq.seq == 9 and m.cseq.method == "INVITE"
    assert [v.branch for v in m.via] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.to.tag == "1918181833n" and m.from_.display == 'J Rosenberg \\"'
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert m.headers.get("s") == "" and len(m.body) == 150


def test_intmeth_nul_and_utf8():
    m = parse_message(CORPUS["intmeth"][1])
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.cseq.method == m.method and m.method.startswith("!interesting")
    assert parse_uri(m.uri).password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"


def test_escapes():
    m = parse_message(CORPUS["esc01"][1])
    assert parse_uri(m.uri).user == "sips:user@example.com"
    assert m.contact[0].uri.params == {"lr": None, "name": "value%41"}
    m = parse_message(CORPUS["escnull"][1])
    assert [c.uri.user for c in m.contact] == ["\x00", "\x00\x00"]
    m = parse_message(CORPUS["esc02"][1])
    assert m.method == "RE%47IST%45R" and len(m.contact) == 2
    assert parse_uri(parse_message(CORPUS["semiuri"][1]).uri).user == "user;par=u@example.net"


def test_framing_and_reasons():
    assert parse_message(CORPUS["dblreq"][1]).body == b""
    assert len(parse_message(CORPUS["inv2543"][1]).body) == 105
    assert parse_message(CORPUS["noreason"][1]).reason == ""
    assert parse_message(CORPUS["unreason"][1]).status == 200
    e = raises(parse_message, CORPUS["clerr"][1])
    assert e.header == "Content-Length" and e.status_hint == 400
    assert raises(parse_message, CORPUS["badvers"][1]).status_hint == 505
    assert raises(parse_message, CORPUS["mcl01"][1]).header == "Content-Length"


def test_typed_errors_name_the_header():
    assert raises(get, parse_message(CORPUS["scalar02"][1]), "cseq").header == "CSeq"
    assert raises(get, parse_message(CORPUS["quotbal"][1]), "to").header == "To"
    assert raises(get, parse_message(CORPUS["badaspec"][1]), "to").header == "To"
    assert raises(validate, parse_message(CORPUS["mismatch01"][1])).header == "CSeq"
    assert raises(parse_uri, parse_message(CORPUS["unkscm"][1]).uri).status_hint == 416


def test_contact_forms():
    c = parse_message(CORPUS["cparam01"][1]).contact[0]
    assert c.params == {"unknownparam": None} and c.uri.params == {}
    c = parse_message(CORPUS["regescrt"][1]).contact[0]
    assert c.uri.headers == {"Route": "<sip:sip.example.com>"}


def test_stream_framer_whole_bytewise_trailing():
    for name in ("wsinv", "esc01", "intmeth", "bcast", "unreason", "mpart01", "longreq"):
        raw = CORPUS[name][1]
        assert StreamFramer().feed(raw) == [raw]
        f = StreamFramer()
        got = []
        for i in range(len(raw)):
            got += f.feed(raw[i:i + 1])
        assert got == [raw], name
        f = StreamFramer()
        assert f.feed(b"\r\n\r\n" + raw + raw + b"INVITE sip:x SIP/2.0\r\n") == [raw, raw]
        assert f.pending == 22


def test_roundtrip_build_and_parse():
    r = Request("OPTIONS", "sip:bob@example.com", [
        ("v", "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKabc;rport"),
        ("f", '"A \\"q\\"" <sip:a@example.com>;tag=9'), ("To", "<sip:bob@example.com>"),
        ("i", "xyz@h"), ("CSeq", "1 OPTIONS"), ("Content-Length", "77")], b"body")
    wire = r.to_bytes()
    assert b"\r\nVia: SIP/2.0/UDP [2001:db8::1]:5070;" in wire
    assert wire.endswith(b"Content-Length: 4\r\n\r\nbody")
    m = parse_message(wire)
    assert m == r and m.to_bytes() == wire
    validate(m)
    assert (m.via[0].host, m.via[0].port, m.via[0].branch) == ("2001:db8::1", 5070, "z9hG4bKabc")
    assert m.from_.display == 'A "q"' and m.from_.tag == "9"
    resp = Response(486, headers=[("Call-ID", "x")])
    assert resp.to_bytes() == b"SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"


def test_typed_str_roundtrip():
    u = SipUri("sips", "a b;c", "2001:db8::2", 5061, {"transport": "tcp", "lr": None},
               {"Subject": "x y"}, "p@ss")
    assert parse_uri(str(u)) == u
    na = NameAddr(u, 'Disp "x" \\', {"tag": "t1", "q": "0.5"})
    assert NameAddr.parse(str(na)) == na
    v = Via("TLS", "host.example", None, {"branch": "z9hG4bK1", "received": "192.0.2.1"})
    assert Via.parse(str(v)) == v


def test_headers_ops():
    h = Headers([("Via", "SIP/2.0/UDP a"), ("To", "<sip:t@x>")])
    h.add("v", "SIP/2.0/UDP top", True)
    assert h.get_all("VIA") == ["SIP/2.0/UDP top", "SIP/2.0/UDP a"]
    h.set("Via", "SIP/2.0/TCP one")
    assert h.items() == [("Via", "SIP/2.0/TCP one"), ("To", "<sip:t@x>")]
    h.remove("via")
    assert "Via" not in h and "t" in h


def test_garbage_raises_only_sip_parse_error():
    seeds = [CORPUS["wsinv"][1], CORPUS["intmeth"][1], CORPUS["esc01"][1]]
    x = 12345
    for i in range(300):
        # a tiny LCG: deterministic and the same on both interpreters
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        raw = seeds[i % 3]
        cut = x % (len(raw) + 1)
        b = bytearray(raw[:cut] + raw[cut + (x >> 8) % 40:])
        if b:
            b[(x >> 4) % len(b)] = (x >> 12) & 0xFF
        try:
            m = parse_message(bytes(b))
            try:
                validate(m)
            except SipParseError:
                pass
            m.to_bytes()
        except SipParseError:
            pass


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
