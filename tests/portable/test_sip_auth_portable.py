"""tipring/firmware/sip/auth.py on both CPython and MicroPython (no pytest, no hashlib.new).

Run: python tests/portable/test_sip_auth_portable.py
     MICROPYPATH=/work/main .venv/bin/micropython tests/portable/test_sip_auth_portable.py
"""

import sys

if __name__ == "__main__":  # a script: this checkout's firmware first, not an installed one
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] if "/tests/" in __file__ else ".")

from tipring.firmware.compat import IS_MICROPYTHON
from tipring.firmware.sip.auth import DigestClient, digest_response, parse_challenges, pick


class Msg:
    def __init__(self, headers=(), status=None, method="GET", uri="/dir/index.html"):
        self.headers = list(headers)
        self.status = status
        self.method = method
        self.uri = uri
        self.body = b""


def _params(value):
    return parse_challenges(value)[0].params


def test_rfc2617_3_5_md5():
    chal = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
            'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    c = DigestClient("Mufasa", "Circle Of Life", cnonce=lambda: "0a4f113b")
    r = c.respond(Msg([("WWW-Authenticate", chal)], 401), Msg())
    assert r.ok
    assert r.header[0] == "Authorization"
    assert _params(r.header[1])["response"] == "6629fae49393a05397450978507c4ef1"


NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def _rfc7616(alg):
    return digest_response(alg, "Mufasa", "Circle of Life", "http-auth@example.org", NONCE,
                           "GET", "/dir/index.html", "auth", "00000001", CNONCE)


def test_rfc7616_3_9_1_md5():
    assert _rfc7616("MD5") == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_3_9_1_sha256():
    assert _rfc7616("SHA-256") == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")


def test_sha512_256():
    if IS_MICROPYTHON:
        return "skip"  # no SHA-512/256 in MicroPython's hashlib
    r = digest_response("SHA-512-256", "J\u00e4s\u00f8n Doe", "Secret, or not?",
                        "api@example.org", "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
                        "GET", "/doe.json", "auth", "00000001",
                        "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
    assert r == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"


def test_pick_strongest_available():
    cs = parse_challenges('Digest realm="r", nonce="1", '
                          'Digest realm="r", nonce="2", algorithm=SHA-256, '
                          'Digest realm="r", nonce="3", algorithm=SHA-512-256')
    want = "2" if IS_MICROPYTHON else "3"
    assert [c.params["nonce"] for c in pick(cs)] == [want]


def test_stale_then_rejected():
    chal = 'Digest realm="r", nonce="%s", qop="auth"'
    c = DigestClient("u", "p", cnonce=lambda: "c")
    req = Msg(method="REGISTER", uri="sip:r")
    r1 = c.respond(Msg([("Proxy-Authenticate", chal % "1")], 407), req)
    assert r1.ok and r1.header[0] == "Proxy-Authorization"
    req2 = Msg(r1.headers, method="REGISTER", uri="sip:r")
    r2 = c.respond(Msg([("Proxy-Authenticate", chal % "2" + ", stale=true")], 407), req2)
    assert r2.ok and r2.stale
    req3 = Msg(r2.headers, method="REGISTER", uri="sip:r")
    r3 = c.respond(Msg([("Proxy-Authenticate", chal % "3")], 407), req3)
    assert not r3.ok and "rejected" in r3.reason


def test_nc_increments():
    c = DigestClient("u", "p", cnonce=lambda: "c")
    req = Msg(method="REGISTER", uri="sip:r")
    c.respond(Msg([("WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth"')], 401), req)
    assert _params(c.authorize(req)[0][1])["nc"] == "00000002"


if __name__ == "__main__":
    from runner import run as run_tests  # beside this file: the script's directory is on sys.path
    sys.exit(1 if run_tests(globals()) else 0)
