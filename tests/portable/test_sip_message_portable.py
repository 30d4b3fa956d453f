"""firmware/sip/message.py on both CPython and MicroPython: parse, verdicts, framing, round trips.

No pytest features: plain test_* functions and `_run()`, which prints "N passed, N failed" and
exits non-zero on failure. Some RFC 4475 torture messages are inlined below because MicroPython
has no file-based fixtures here (tests/sip/test_corpus.py runs all of them under pytest).

Run: python tests/portable/test_sip_message_portable.py
     MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_sip_message_portable.py
"""

import sys

try:
    import firmware  # noqa: F401
except ImportError:  # run as a script from anywhere: put the repo root on the path
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0])

from firmware.sip.message import (
    Headers, NameAddr, Request, Response, SipParseError, SipUri, StreamFramer, Via,
    parse_message, parse_uri, validate,
)


def raises(fn, *args):
    """The SipParseError fn(*args) raises (any other outcome fails the test)."""
    try:
        fn(*args)
    except SipParseError as e:
        return e
    raise AssertionError("no SipParseError from %r" % (fn,))


def verdict(data):
    try:
        validate(parse_message(data))
    except SipParseError:
        return "invalid"
    return "valid"


def get(m, attr):
    return getattr(m, attr)


# RFC 4475 Appendix A messages, byte-exact (tests/data/rfc4475/PROVENANCE.md).
# name -> (expected, bytes); expected is the manifest's valid/invalid verdict.
CORPUS = {
    "wsinv": ("valid", (
        b'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n'
        b'TO :\r\n'
        b' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n'
        b'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n'
        b'  ;\r\n'
        b'  tag = 98asjd8\r\n'
        b'MaX-fOrWaRdS: 0068\r\n'
        b'Call-ID: wsinv.ndaksdj@192.0.2.1\r\n'
        b'Content-Length   : 150\r\n'
        b'cseq: 0009\r\n'
        b'  INVITE\r\n'
        b'Via  : SIP  /   2.0\r\n'
        b' /UDP\r\n'
        b'    192.0.2.2;branch=390skdjuw\r\n'
        b's :\r\n'
        b'NewFangledHeader:   newfangled value\r\n'
        b' continued newfangled value\r\n'
        b'UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Route:\r\n'
        b' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n'
        b'v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n'
        b'  branch  =   z9hG4bK9ikj8  ,\r\n'
        b' SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n'
        b' z9hG4bK30239\r\n'
        b'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n'
        b'      newvalue ;\r\n'
        b'  secondparam ; q = 0.33\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.4\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "intmeth": ("valid", (
        b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
        b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>\r\n'
        b'From: token1~` token2\'+_ token3*%!.- <sip:mundane@example.com>;fromParam\'\'~+*_!.-%="\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9";tag=_token~1\'+`*%!-.\r\n'
        b'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{\r\n'
        b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
        b'Max-Forwards: 255\r\n'
        b"extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\n"
        b'Content-Length: 0\r\n'
        b'\r\n'
    )),
    "esc01": ("valid", (
        b'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n'
        b'To: sip:%75se%72@example.com\r\n'
        b'From: <sip:I%20have%20spaces@example.net>;tag=938\r\n'
        b'Max-Forwards: 87\r\n'
        b'i: esc01.239409asdfakjkn23onasd0-3234\r\n'
        b'CSeq: 234234 INVITE\r\n'
        b'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\r\n'
        b'C: application/sdp\r\n'
        b'Contact:\r\n'
        b'  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\r\n'
        b'Content-Length: 150\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.1\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "esc02": ("valid", (
        b'RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n'
        b'To: "%Z%45" <sip:resource@example.com>\r\n'
        b'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\r\n'
        b'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n'
        b'Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\r\n'
        b'CSeq: 29344 RE%47IST%45R\r\n'
        b'Max-Forwards: 70\r\n'
        b'Contact: <sip:alias1@host1.example.com>\r\n'
        b'C%6Fntact: <sip:alias2@host2.example.com>\r\n'
        b'Contact: <sip:alias3@host3.example.com>\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "escnull": ("valid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'To: sip:null-%00-null@example.com\r\n'
        b'From: sip:null-%00-null@example.com;tag=839923423\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\r\n'
        b'CSeq: 14398234 REGISTER\r\n'
        b'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n'
        b'Contact: <sip:%00@host5.example.com>\r\n'
        b'Contact: <sip:%00%00@host5.example.com>\r\n'
        b'L:0\r\n'
        b'\r\n'
    )),
    "lwsdisp": ("valid", (
        b'OPTIONS sip:user@example.com SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: caller<sip:caller@example.com>;tag=323\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID: lwsdisp.1234abcd@funky.example.com\r\n'
        b'CSeq: 60 OPTIONS\r\n'
        b'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "semiuri": ("valid", (
        b'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\n'
        b'To: sip:j_user@example.com\r\n'
        b'From: sip:caller@example.org;tag=33242\r\n'
        b'Max-Forwards: 3\r\n'
        b'Call-ID: semiuri.0ha0isndaksdj\r\n'
        b'CSeq: 8 OPTIONS\r\n'
        b'Accept: application/sdp, application/pkcs7-mime,\r\n'
        b'        multipart/mixed, multipart/signed,\r\n'
        b'        message/sip, message/sipfrag\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "transports": ("valid", (
        b'OPTIONS sip:user@example.com SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: <sip:caller@example.com>;tag=323\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID:  transports.kijh4akdnaqjkwendsasfdj\r\n'
        b'Accept: application/sdp\r\n'
        b'CSeq: 60 OPTIONS\r\n'
        b'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\r\n'
        b'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\r\n'
        b'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\r\n'
        b'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\r\n'
        b'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "noreason": ("valid", (
        b'SIP/2.0 100 \r\n'
        b'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n'
        b'Call-ID: noreason.asndj203insdf99223ndf\r\n'
        b'CSeq: 35 INVITE\r\n'
        b'From: <sip:user@example.com>;tag=39ansfi3\r\n'
        b'To: <sip:user@example.edu>;tag=902jndnke3\r\n'
        b'Content-Length: 0\r\n'
        b'Contact: <sip:user@host105.example.com>\r\n'
        b'\r\n'
    )),
    "unreason": ("valid", (
        b'SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82\xd1\x8c - \xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb5\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n'
        b'Call-ID: unreason.1234ksdfak3j2erwedfsASdf\r\n'
        b'CSeq: 35 INVITE\r\n'
        b'From: sip:user@example.com;tag=11141343\r\n'
        b'To: sip:user@example.edu;tag=2229\r\n'
        b'Content-Length: 154\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Contact: <sip:user@host198.example.com>\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.198\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.198\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "dblreq": ("valid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:j.user@example.com;tag=43251j3j324\r\n'
        b'Max-Forwards: 8\r\n'
        b'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\r\n'
        b'Contact: sip:j.user@host.example.com\r\n'
        b'CSeq: 8 REGISTER\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\r\n'
        b'Content-Length: 0\r\n'
        b'\r\n'
        b'\r\n'
        b'INVITE sip:joe@example.com SIP/2.0\r\n'
        b't: sip:joe@example.com\r\n'
        b'From: sip:caller@example.net;tag=141334\r\n'
        b'Max-Forwards: 8\r\n'
        b'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 150\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.15\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm =video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
        b'\r\n'
    )),
    "inv2543": ("valid", (
        b'INVITE sip:UserB@example.com SIP/2.0\r\n'
        b'Via: SIP/2.0/UDP iftgw.example.com\r\n'
        b'From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n'
        b'Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n'
        b'To: sip:+16505552222@ss1.example.net;user=phone\r\n'
        b'Call-ID: inv2543.1717@ift.client.example.com\r\n'
        b'CSeq: 56 INVITE\r\n'
        b'Content-Type: application/sdp\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.5\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0\r\n'
    )),
    "cparam01": ("valid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\n'
        b'Max-Forwards: 70\r\n'
        b'From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\r\n'
        b'To: sip:watson@example.com\r\n'
        b'Call-ID: cparam01.70710@saturn.example.com\r\n'
        b'CSeq: 2 REGISTER\r\n'
        b'Contact: sip:+19725552222@gw1.example.net;unknownparam\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "regescrt": ("valid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:user@example.com;tag=8\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\r\n'
        b'CSeq: 14398234 REGISTER\r\n'
        b'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n'
        b'M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\r\n'
        b'L:0\r\n'
        b'\r\n'
    )),
    "unkscm": ("valid", (
        b'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:caller@example.net;tag=384\r\n'
        b'Max-Forwards: 3\r\n'
        b'Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\r\n'
        b'CSeq: 3923423 OPTIONS\r\n'
        b'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\n'
        b'Content-Length: 0\r\n'
        b'\r\n'
    )),
    "bcast": ("valid", (
        b'SIP/2.0 200 OK\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n'
        b'Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n'
        b'Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\r\n'
        b'CSeq: 35 INVITE\r\n'
        b'From: sip:user@example.com;tag=11141343\r\n'
        b'To: sip:user@example.edu;tag=2229\r\n'
        b'Content-Length: 154\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Contact: <sip:user@host28.example.com>\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.198\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.198\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "badinv01": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:caller@example.net;tag=134161461246\r\n'
        b'Max-Forwards: 7\r\n'
        b'Call-ID: badinv01.0ha0isndaksdjasdf3234nas\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n'
        b'Contact: "Joe" <sip:joe@example.org>;;;;\r\n'
        b'Content-Length: 152\r\n'
        b'Content-Type: application/sdp\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.15\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "clerr": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'Max-Forwards: 80\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:caller@example.net;tag=93942939o2\r\n'
        b'Contact: <sip:caller@hungry.example.net>\r\n'
        b'Call-ID: clerr.0ha0isndaksdjweiafasdk3\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 9999\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.155\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.155\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "ncl": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'Max-Forwards: 254\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:caller@example.net;tag=32394234\r\n'
        b'Call-ID: ncl.0ha0isndaksdj2193423r542w35\r\n'
        b'CSeq: 0 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\r\n'
        b'Contact: <sip:caller@example53.example.net>\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: -999\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.53\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.53\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "scalar02": ("invalid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\r\n'
        b'To: <sip:user@example.com>\r\n'
        b'From: <sip:user@example.com>;tag=239232jh3\r\n'
        b'CSeq: 36893488147419103232 REGISTER\r\n'
        b'Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\r\n'
        b'Max-Forwards: 300\r\n'
        b'Expires: 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\r\n'
        b'Contact: <sip:user@host129.example.com>\r\n'
        b'  ;expires=280297596632815\r\n'
        b'Content-Length: 0\r\n'
        b'\r\n'
    )),
    "scalarlg": ("invalid", (
        b'SIP/2.0 503 Service Unavailable\r\n'
        b'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\r\n'
        b'To: <sip:user@example.com>\r\n'
        b'From: <sip:other@example.net>;tag=2easdjfejw\r\n'
        b'CSeq: 9292394834772304023312 OPTIONS\r\n'
        b'Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\r\n'
        b'Retry-After: 949302838503028349304023988\r\n'
        b'Warning: 1812 overture "In Progress"\r\n'
        b'Content-Length: 0\r\n'
        b'\r\n'
    )),
    "quotbal": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'To: "Mr. J. User <sip:j.user@example.com>\r\n'
        b'From: sip:caller@example.net;tag=93334\r\n'
        b'Max-Forwards: 10\r\n'
        b'Call-ID: quotbal.aksdj\r\n'
        b'Contact: <sip:caller@host59.example.net>\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 152\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.15\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "ltgtruri": ("invalid", (
        b'INVITE <sip:user@example.com> SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:caller@example.net;tag=39291\r\n'
        b'Max-Forwards: 23\r\n'
        b'Call-ID: ltgtruri.1@192.0.2.5\r\n'
        b'CSeq: 1 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.5\r\n'
        b'Contact: <sip:caller@host5.example.net>\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 159\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.5\r\n'
        b't=3149328700 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "lwsruri": ("invalid", (
        b'INVITE sip:user@example.com; lr SIP/2.0\r\n'
        b'To: sip:user@example.com;tag=3xfe-9921883-z9f\r\n'
        b'From: sip:caller@example.net;tag=231413434\r\n'
        b'Max-Forwards: 5\r\n'
        b'Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\r\n'
        b'CSeq: 2130706432 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\r\n'
        b'Contact: <sip:caller@host1.example.net>\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 159\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.1\r\n'
        b't=3149328700 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "lwsstart": ("invalid", (
        b'INVITE  sip:user@example.com  SIP/2.0\r\n'
        b'Max-Forwards: 8\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:caller@example.net;tag=8814\r\n'
        b'Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\r\n'
        b'CSeq: 1893884 INVITE\r\n'
        b'Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\r\n'
        b'Contact: <sip:caller@host1.example.net>\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 150\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.1\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "trws": ("invalid", (
        b'OPTIONS sip:remote-target@example.com SIP/2.0  \r\n'
        b'Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\r\n'
        b'To: <sip:remote-target@example.com>\r\n'
        b'From: <sip:local-resource@example.com>;tag=329429089\r\n'
        b'Call-ID: trws.oicu34958239neffasdhr2345r\r\n'
        b'Accept: application/sdp\r\n'
        b'CSeq: 238923 OPTIONS\r\n'
        b'Max-Forwards: 70\r\n'
        b'Content-Length: 0\r\n'
        b'\r\n'
    )),
    "escruri": ("invalid", (
        b'INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:caller@example.net;tag=341518\r\n'
        b'Max-Forwards: 7\r\n'
        b'Contact: <sip:caller@host39923.example.net>\r\n'
        b'Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\r\n'
        b'CSeq: 149209342 INVITE\r\n'
        b'Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 150\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.1\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "regbadct": ("invalid", (
        b'REGISTER sip:example.com SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:user@example.com;tag=998332\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\r\n'
        b'CSeq: 1 REGISTER\r\n'
        b'Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\r\n'
        b'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "badaspec": ("invalid", (
        b'OPTIONS sip:user@example.org SIP/2.0\r\n'
        b'Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\r\n'
        b'Max-Forwards: 70\r\n'
        b'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\r\n'
        b'To: "Watson, Thomas" < sip:t.watson@example.org >\r\n'
        b'Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\r\n'
        b'Accept: application/sdp\r\n'
        b'CSeq: 3923239 OPTIONS\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "baddn": ("invalid", (
        b'OPTIONS sip:t.watson@example.org SIP/2.0\r\n'
        b'Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\n'
        b'Max-Forwards:      70\r\n'
        b'From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n'
        b'To:      Watson, Thomas <sip:t.watson@example.org>\r\n'
        b'Call-ID: baddn.31415@c.example.com\r\n'
        b'Accept: application/sdp\r\n'
        b'CSeq:    3923239 OPTIONS\r\n'
        b'l: 0\r\n'
    )),
    "badvers": ("invalid", (
        b'OPTIONS sip:t.watson@example.org SIP/7.0\r\n'
        b'Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n'
        b'Max-Forwards:     70\r\n'
        b'From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n'
        b'To:      T. Watson <sip:t.watson@example.org>\r\n'
        b'Call-ID: badvers.31417@c.example.com\r\n'
        b'CSeq:    1 OPTIONS\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "mismatch01": ("invalid", (
        b'OPTIONS sip:user@example.com SIP/2.0\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:caller@example.net;tag=34525\r\n'
        b'Max-Forwards: 6\r\n'
        b'Call-ID: mismatch01.dj0234sxdfl3\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n'
        b'l: 0\r\n'
        b'\r\n'
    )),
    "mismatch02": ("invalid", (
        b'NEWMETHOD sip:user@example.com SIP/2.0\r\n'
        b'To: sip:j.user@example.com\r\n'
        b'From: sip:caller@example.net;tag=34525\r\n'
        b'Max-Forwards: 6\r\n'
        b'Call-ID: mismatch02.dj0234sxdfl3\r\n'
        b'CSeq: 8 INVITE\r\n'
        b'Contact: <sip:caller@host.example.net>\r\n'
        b'Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\r\n'
        b'Content-Type: application/sdp\r\n'
        b'l: 138\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n'
        b'c=IN IP4 192.0.2.1\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "bigcode": ("invalid", (
        b'SIP/2.0 4294967301 better not break the receiver\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n'
        b'Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\n'
        b'CSeq: 353494 INVITE\r\n'
        b'From: <sip:user@example.com>;tag=39ansfi3\r\n'
        b'To: <sip:user@example.edu>;tag=902jndnke3\r\n'
        b'Content-Length: 0\r\n'
        b'Contact: <sip:user@host105.example.com>\r\n'
        b'\r\n'
    )),
    "insuf": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'CSeq: 193942 INVITE\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\n'
        b'Content-Type: application/sdp\r\n'
        b'l: 152\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.95\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.95\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "multi01": ("invalid", (
        b'INVITE sip:user@company.com SIP/2.0\r\n'
        b'Contact: <sip:caller@host25.example.net>\r\n'
        b'Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\r\n'
        b'Max-Forwards: 70\r\n'
        b'CSeq: 5 INVITE\r\n'
        b'Call-ID: multi01.98asdh@192.0.2.1\r\n'
        b'CSeq: 59 INVITE\r\n'
        b'Call-ID: multi01.98asdh@192.0.2.2\r\n'
        b'From: sip:caller@example.com;tag=3413415\r\n'
        b'To: sip:user@example.com\r\n'
        b'To: sip:other@example.net\r\n'
        b'From: sip:caller@example.net;tag=2923420123\r\n'
        b'Content-Type: application/sdp\r\n'
        b'l: 154\r\n'
        b'Contact: <sip:caller@host36.example.net>\r\n'
        b'Max-Forwards: 5\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.25\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.25\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
        b'\r\n'
    )),
    "mcl01": ("invalid", (
        b'OPTIONS sip:user@example.com SIP/2.0\r\n'
        b'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:other@example.net;tag=3923942\r\n'
        b'Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\r\n'
        b'CSeq: 15932 OPTIONS\r\n'
        b'Content-Length: 13\r\n'
        b'Max-Forwards: 60\r\n'
        b'Content-Length: 5\r\n'
        b'Content-Type: text/plain\r\n'
        b'\r\n'
        b"There's no way to know how many octets are supposed to be here.\r\n"
        b'\r\n'
    )),
    "baddate": ("invalid", (
        b'INVITE sip:user@example.com SIP/2.0\r\n'
        b'To: sip:user@example.com\r\n'
        b'From: sip:caller@example.net;tag=2234923\r\n'
        b'Max-Forwards: 70\r\n'
        b'Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\r\n'
        b'CSeq: 1392934 INVITE\r\n'
        b'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n'
        b'Date: Fri, 01 Jan 2010 16:00:00 EST\r\n'
        b'Contact: <sip:caller@host5.example.net>\r\n'
        b'Content-Type: application/sdp\r\n'
        b'Content-Length: 150\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n'
        b's=-\r\n'
        b'c=IN IP4 192.0.2.5\r\n'
        b't=0 0\r\n'
        b'm=audio 49217 RTP/AVP 0 12\r\n'
        b'm=video 3227 RTP/AVP 31\r\n'
        b'a=rtpmap:31 LPC\r\n'
    )),
    "test": ("invalid", (
        b'INVITE sip:alan@jasomi.com\r\n'
        b'TO : alan@jasomi.com\r\n'
        b'From: ralph@example.com\r\n'
        b'MaX-fOrWaRdS: 0068\r\n'
        b'Call-ID: test.0ha0isndaksdj@192.0.2.1\r\n'
        b'Xyzzy-2: this is the number ten : 10\r\n'
        b'Xyzzy-3: INVITE\r\n'
        b'Xyzzy: 10000000000\r\n'
        b'Meaning: foo bar spam\r\n'
        b'Foobar roobar\r\n'
        b'Content-Length: 18\r\n'
        b'Content-Type: application/sdp\r\n'
        b'\r\n'
        b'v=0\r\n'
        b'testing=123\r\n'
    )),
}


def test_corpus_verdicts():
    bad = [n for n, (want, data) in CORPUS.items() if verdict(data) != want]
    assert not bad, bad


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
    for name in ("wsinv", "esc01", "intmeth", "bcast", "unreason"):
        data = CORPUS[name][1]
        assert StreamFramer().feed(data) == [data]
        f = StreamFramer()
        got = []
        for i in range(len(data)):
            got += f.feed(data[i:i + 1])
        assert got == [data], name
        f = StreamFramer()
        assert f.feed(b"\r\n\r\n" + data + data + b"INVITE sip:x SIP/2.0\r\n") == [data, data]
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
        data = seeds[i % 3]
        cut = x % (len(data) + 1)
        b = bytearray(data[:cut] + data[cut + (x >> 8) % 40:])
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
