"""The 81 PROTOS c07-sip cases whose INVITE is over 64 KB, sent whole over TCP (which has no
65507-octet datagram cap) to the real StreamTransport and UserAgent on a real event loop: each
is accepted (answered) or refused cleanly (the connection cut with an `error` status), never
an exception out of the loop, and the valid case 0 is still answered after every one.

The PROTOS zip is read from tests/data/protos-c07-sip/ when present, else from the shared
corpus (/work/shared/corpus/protos-c07-sip/, see its README for provenance and licence, GPL-2,
test input only); without either the test is skipped.
"""

import os
import socket
import time
import zipfile

import pytest

from tipring.firmware.loop import EventLoop
from tipring.firmware.loop.tcp import StreamTransport, MAX_MESSAGE
from tipring.firmware.sip.useragent import UserAgent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLACES = [os.path.join(ROOT, "tests", "data", "protos-c07-sip", "c07-sip-r2-testcases.zip"),
          "/work/shared/corpus/protos-c07-sip/c07-sip-r2-testcases.zip"]
ZIP = next((p for p in PLACES if os.path.exists(p)), None)

pytestmark = pytest.mark.skipif(ZIP is None, reason="PROTOS c07-sip zip not found (tests/data/protos-c07-sip/ "
                                                    "or the shared corpus)")


def invite_of(raw: bytes, index: int, port: int) -> bytes:
    """The case's first record (the INVITE) with the injector's placeholders filled in."""
    sp = raw.index(b" ")
    rec = raw[sp + 1:sp + 1 + int(raw[:sp])]
    subs = {b"<To>": b"1001@127.0.0.1:%d" % port, b"<From>": b"protos@127.0.0.1", b"<From-Address>": b"127.0.0.1",
            b"<From-IP>": b"127.0.0.1", b"<Local-Port>": b"5060", b"<Call-ID>": b"%d" % index, b"<CSeq>": b"1",
            b"<Branch-ID>": b"%d" % index, b"<Teardown-Method>": b"CANCEL"}
    for k, v in subs.items():
        rec = rec.replace(k, v)
    cut = rec.find(b"\r\n\r\n")
    body = len(rec) - cut - 4 if cut >= 0 else 0
    return rec.replace(b"<Content-Length>", b"%d" % body)


class Ata:
    """The UA over the stream transport, glued as app.py glues them."""

    def __init__(self):
        self.loop = EventLoop()
        self.status = []
        self.t = StreamTransport(self.loop, "127.0.0.1", 0, self._message, lambda k, p, r: self.status.append((k, r)))
        self.ua = UserAgent("127.0.0.1", self.t.address[1], "tcp", users=["1001"])
        self.errors = []
        self.loop.on_error = lambda where, exc: self.errors.append((where, exc))

    def _message(self, data, peer):
        for o in self.ua.receive(data, peer, self.loop.now()):
            if o[0] == "send":
                self.t.send(o[1], o[2], o[3] if len(o) > 3 else None)

    def exchange(self, data: bytes, limit=5.0):
        """Send `data` on a new connection; (what came back, whether we closed it)."""
        c = socket.create_connection(self.t.address, timeout=5)
        c.setblocking(False)
        got, closed, pos = b"", False, 0
        end = time.monotonic() + limit       # a guard against a hang, not a timing assertion
        while time.monotonic() < end:
            if pos < len(data):
                try:
                    pos += c.send(data[pos:pos + 65536])
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                    break
            self.loop.run_once(max_wait=0.005)
            try:
                d = c.recv(65536)
                if not d:
                    closed = True
                    break
                got += d
                if pos >= len(data) and b"\r\n\r\n" in got:
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
        c.close()
        for _ in range(5):
            self.loop.run_once(max_wait=0.005)
        return got, closed


def test_protos_invites_over_64k_are_answered_or_refused_cleanly_over_tcp():
    ata = Ata()
    z = zipfile.ZipFile(ZIP)
    valid_raw = z.read("testcases/0000000")
    outcomes = {"answered": 0, "refused": 0}
    big = 0
    try:
        for info in z.infolist():
            if not info.filename.startswith("testcases/") or info.file_size <= MAX_MESSAGE:
                continue
            raw = z.read(info.filename)
            if int(raw[:raw.index(b" ")]) <= MAX_MESSAGE:
                continue
            big += 1
            index = int(info.filename.rsplit("/", 1)[1])
            n = len(ata.status)
            got, closed = ata.exchange(invite_of(raw, index, ata.t.address[1]))
            if got.startswith(b"SIP/2.0 "):
                outcomes["answered"] += 1
            else:
                assert closed, "case %d: neither answered nor refused" % index
                refused = [s for s in ata.status[n:] if s[0] == "error"]
                assert refused and ("octets" in refused[0][1] or "Content-Length" in refused[0][1]), \
                    (index, ata.status[n:])
                outcomes["refused"] += 1
            # PROTOS's criterion: the valid case is still answered afterwards
            ok, _ = ata.exchange(invite_of(valid_raw, 100000 + index, ata.t.address[1]))
            assert ok.startswith(b"SIP/2.0 "), "case %d: the valid INVITE got no answer after it" % index
        assert ata.errors == [], ata.errors[:3]
        assert big == 81, big
        assert outcomes["answered"] + outcomes["refused"] == 81
        print("PROTOS over TCP, INVITE > 64 KB: %(answered)d answered, %(refused)d refused" % outcomes)
    finally:
        ata.t.close()
        ata.loop.close()
