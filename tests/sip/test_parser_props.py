"""Hypothesis properties over the message parser that tests/sip/test_message.py does not
already state (it has: round trip of generated messages, URIs, name-addrs and Vias; any bytes
give a message or SipParseError). Here: header folding (RFC 3261 §7.3.1) and compact forms
(§7.3.3) change nothing a reader sees; serialising a parsed message is a fixed point, whatever
bytes it was parsed from; invalid UTF-8 in a display name is shown with U+FFFD and nowhere
else accepted."""

from hypothesis import HealthCheck, given, settings, strategies as st

from tipring.firmware.sip.message import SipParseError, parse_message
from tests.sip.test_message import requests, responses, name_addrs

PROP = settings(max_examples=300, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

COMPACT = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i", "Contact": "m",
           "Content-Type": "c", "Subject": "s", "Supported": "k", "Content-Length": "l"}


def _typed(m):
    """What a reader of the message sees, accessor by accessor (errors included)."""
    out = []
    for attr in ("via", "from_", "to", "call_id", "cseq", "contact", "max_forwards",
                 "content_type"):
        try:
            v = getattr(m, attr)
            out.append([str(x) for x in v] if isinstance(v, list) else str(v))
        except SipParseError as e:
            out.append(("error", e.header))
    return out


@PROP
@given(st.one_of(requests(), responses()), st.randoms(use_true_random=False))
def test_folding_a_header_line_changes_nothing(m, rnd):
    wire = m.to_bytes()
    head, sep, body = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    folded = [lines[0]]
    for line in lines[1:]:
        name, colon, value = line.partition(b": ")
        spaces = [i for i in range(1, len(value) - 1)
                  if value[i:i + 1] == b" " and value[i - 1:i] != b" " and value[i + 1:i + 2] != b" "]
        if colon and spaces and b'"' not in value:
            i = rnd.choice(spaces)          # §7.3.1: LWS may be a CRLF plus whitespace
            line = name + colon + value[:i] + b"\r\n" + rnd.choice([b" ", b"\t", b"  "]) + value[i + 1:]
        folded.append(line)
    data = b"\r\n".join(folded) + sep + body
    back = parse_message(data)
    assert back == parse_message(wire) == m
    assert _typed(back) == _typed(m)


@PROP
@given(st.one_of(requests(), responses()))
def test_compact_header_names_change_nothing(m):
    wire = m.to_bytes()
    head, sep, body = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        short = COMPACT.get(name.decode())
        out.append(short.encode() + colon + value if short else line)
    compact = parse_message(b"\r\n".join(out) + sep + body)
    assert compact == m
    assert _typed(compact) == _typed(m)


_SIPISH = st.lists(st.one_of(
    st.sampled_from([b"Via: SIP/2.0/UDP h;branch=z9hG4bK1", b"From: <sip:a@b>;tag=1", b"To: <sip:c@d>",
                     b"Call-ID: x", b"CSeq: 1 INVITE", b"Contact: *", b"Max-Forwards: 70",
                     b"Content-Type: application/sdp", b"l: 3", b" folded", b"\tfolded",
                     b"Record-Route: <sip:p;lr>", b'f: "\xff" <sip:a@b>;tag=2']),
    st.binary(max_size=40)), max_size=10)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.sampled_from([b"INVITE sip:a@b SIP/2.0", b"OPTIONS zz:x SIP/2.0", b"SIP/2.0 200 OK",
                        b"BYE tel:123 SIP/2.0"]), _SIPISH, st.binary(max_size=20))
def test_serialising_what_was_parsed_is_a_fixed_point(start, lines, body):
    data = b"\r\n".join([start] + lines) + b"\r\n\r\n" + body
    try:
        m = parse_message(data)
    except SipParseError:
        return
    wire = m.to_bytes()
    again = parse_message(wire)           # what we print, we parse back
    assert again == m and again.to_bytes() == wire
    assert _typed(again) == _typed(m)


@PROP
@given(name_addrs(), st.binary(min_size=1, max_size=6).filter(lambda b: _not_utf8(b)))
def test_invalid_utf8_only_in_a_display_name_is_replaced(na, junk):
    na.display = "x"
    quoted = str(na).replace('"x"', '"x' + "\x00" + '"')
    value = quoted.encode().replace(b"\x00", junk)
    data = b"OPTIONS sip:a@b SIP/2.0\r\nFrom: " + value + b"\r\nTo: <sip:a@b>\r\n\r\n"
    m = parse_message(data)
    assert "\ufffd" in m.from_.display and m.from_.uri == na.uri and m.from_.params == na.params
    # the same octets in the Call-ID are refused, and the error names it
    try:
        parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: " + junk + b"\r\n\r\n")
        assert False, "accepted invalid UTF-8 in Call-ID"
    except SipParseError as e:
        assert e.header == "Call-ID"


def _not_utf8(b):
    try:
        b.decode()
        return False
    except UnicodeError:
        return b"\r" not in b and b"\n" not in b and b'"' not in b and b"\\" not in b and b"<" not in b
