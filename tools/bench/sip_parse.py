"""SIP parse benchmark: tipring vs pyVoIP 1.6.8 vs sipmessage 0.7.1, measured in the same run.

Messages and method follow /work/shared/notes/perf-baselines.md §1 (scripts sip_msgs.py and
bench_sip.py): an INVITE with an SDP offer (PCMU/PCMA/G729/telephone-event), a 200 OK with an
SDP answer and a 401 with a digest challenge; timeit.repeat(repeat=7), each run calibrated to
about 0.3-0.4 s, median per-call time. tipring's measured path parses AND extracts the typed
Via, From, To, CSeq and Call-ID (its accessors are lazy, so bare parse alone would flatter it).

Run: .venv/bin/python tools/bench/sip_parse.py   (prints numbers; nothing asserts on time)
"""

import os
import statistics
import sys
import timeit
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
warnings.simplefilter("ignore")

from tipring.firmware.sip.message import parse_message  # noqa: E402

REPEAT = 7

SDP_OFFER = (
    "v=0\r\n"
    "o=ata 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "i=ATA call\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "b=AS:84\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 18 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
).encode()

SDP_ANSWER = (
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.20\r\n"
    "t=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
).encode()

INVITE = (
    "INVITE sip:bob@192.0.2.20:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice ATA\" <sip:alice@192.0.2.10>;tag=1928301774\r\n"
    "To: <sip:bob@192.0.2.20>\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: TestATA/0.1\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: %d\r\n"
    "\r\n" % len(SDP_OFFER)
).encode() + SDP_OFFER

OK200 = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK776asdhds\r\n"
    "From: \"Alice ATA\" <sip:alice@192.0.2.10>;tag=1928301774\r\n"
    "To: <sip:bob@192.0.2.20>;tag=a6c85cf\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.20:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n"
    "Supported: replaces, timer\r\n"
    "Server: TestUAS/0.1\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: %d\r\n"
    "\r\n" % len(SDP_ANSWER)
).encode() + SDP_ANSWER

UNAUTH401 = (
    "SIP/2.0 401 Unauthorized\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK776asdhds\r\n"
    "From: \"Alice ATA\" <sip:alice@192.0.2.10>;tag=1928301774\r\n"
    "To: <sip:bob@192.0.2.20>;tag=as5f3c9a1b\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Server: TestUAS/0.1\r\n"
    "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=MD5, qop=\"auth\"\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
).encode()

MESSAGES = {"INVITE": INVITE, "200 OK": OK200, "401": UNAUTH401}


def bench(fn, arg, target_s=0.35):
    """Median per-call seconds over REPEAT runs, each calibrated to about target_s."""
    n = 1
    while True:
        t = timeit.timeit(lambda: fn(arg), number=n)
        if t > 0.05:
            break
        n *= 4
    n = max(1, int(n * target_s / t))
    runs = timeit.repeat(lambda: fn(arg), number=n, repeat=REPEAT)
    return statistics.median([r / n for r in runs])


def tipring_parse_typed(data):
    """parse + the typed values a transaction/dialog layer reads first."""
    m = parse_message(data)
    m.via
    m.from_
    m.to
    m.cseq
    m.call_id
    return m


def tipring_parse_full(data):
    """parse + typed values + the parts those keep lazy: Via params, tags, From/To URIs."""
    m = parse_message(data)
    m.via[0].branch
    m.from_.tag
    m.from_.uri
    m.to.tag
    m.to.uri
    m.cseq
    m.call_id
    return m


def tipring_parse(data):
    return parse_message(data)


def main():
    cases = [("tipring parse + typed Via/From/To/CSeq/Call-ID", tipring_parse_typed),
             ("tipring parse_message only (lazy)", tipring_parse),
             ("tipring typed + branch, tags, From/To URIs", tipring_parse_full)]
    versions = []
    try:
        import importlib.metadata as md
        import pyVoIP.VoIP  # noqa: F401  (pyVoIP.SIP alone hits a circular import in 1.6.8)
        from pyVoIP.SIP import SIPMessage
        cases.append(("pyVoIP SIPMessage(data)", SIPMessage))
        versions.append("pyVoIP %s" % md.version("pyVoIP"))
    except ImportError:
        SIPMessage = None
    try:
        import importlib.metadata as md
        from sipmessage import Message
        cases.append(("sipmessage Message.parse (lazy)", Message.parse))
        versions.append("sipmessage %s" % md.version("sipmessage"))
    except ImportError:
        Message = None

    # sanity: tipring reads what the others read
    for name, data in MESSAGES.items():
        m = tipring_parse_typed(data)
        assert m.call_id == "a84b4c76e66710@192.0.2.10", name
        assert m.via[0].branch == "z9hG4bK776asdhds" and m.cseq.seq == 314159, name
        assert m.to_bytes() == data, name

    print("python %s  %s" % (sys.version.split()[0], "  ".join(versions)))
    results = {}
    print("%-48s %s" % ("case (us per message, median)", "".join("%12s" % n for n in MESSAGES)))
    for label, fn in cases:
        cells = []
        for name, data in MESSAGES.items():
            med = bench(fn, data)
            results[(label, name)] = med
            cells.append("%10.2fus" % (med * 1e6))
        print("%-48s %s" % (label, "".join(cells)), flush=True)

    print()
    for ours, short in ((cases[0][0], "typed"), (cases[1][0], "parse only"),
                        (cases[2][0], "typed+full")):
        for label, _ in cases[3:]:
            ratios = ["%10.2fx" % (results[(ours, n)] / results[(label, n)]) for n in MESSAGES]
            print("%-48s %s" % ("tipring %s / %s" % (short, label.split(" ")[0]),
                                "".join(ratios)))
    print("(targets for 'typed': <= 0.33x pyVoIP, <= 1.00x sipmessage lazy parse)")


if __name__ == "__main__":
    main()
