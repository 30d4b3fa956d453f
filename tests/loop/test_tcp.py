"""SIP over TCP and TLS on the event loop (tipring/firmware/loop/tcp.py) against real sockets on
loopback: plain Python sockets for the far end, and Python's own TLS server (in a thread, with a
certificate the test makes with openssl) for TLS."""

import socket
import ssl
import threading
import time

import pytest

from tipring.firmware.loop import EventLoop
from tipring.firmware.loop import tcp
from tipring.firmware.loop.tcp import StreamTransport, tls_client_context
from tests.peers import certs

OPTIONS = (b"OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
           b"From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: %s\r\n"
           b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: %d\r\n\r\n%s")


def options(n=1, body=b""):
    tag = b"%d" % n
    return OPTIONS % (tag, tag, len(body), body)


class Rig:
    """A StreamTransport on a real loop, recording what it delivers and reports."""

    def __init__(self, tls=None):
        self.loop = EventLoop()
        self.got = []
        self.status = []
        self.t = StreamTransport(self.loop, "127.0.0.1", 0, lambda d, p: self.got.append((d, p)),
                                 lambda k, p, r: self.status.append((k, p, r)), tls=tls)

    def run_until(self, cond, limit=10.0):
        end = time.monotonic() + limit     # a guard against a hang, not a timing assertion
        while not cond() and time.monotonic() < end:
            self.loop.run_once(max_wait=0.05)
        return cond()

    def close(self):
        self.t.close()
        self.loop.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def connect(addr):
    s = socket.create_connection(addr, timeout=5)
    return s


def recv_all(s, timeout=2.0):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
    except socket.timeout:
        return out, False


def test_messages_are_framed_whole_split_and_glued(rig):
    s = connect(rig.t.address)
    a, b = options(1, b"hello"), options(2)
    s.sendall(b"\r\n\r\n" + a + b)                   # keep-alive CRLFs, two messages in one write
    for i in range(len(a)):                          # then one byte at a time
        s.send(a[i:i + 1])
    assert rig.run_until(lambda: len(rig.got) == 3)
    assert [g[0] for g in rig.got] == [a, b, a]
    peer = s.getsockname()
    assert all(g[1] == peer for g in rig.got)
    # the answer goes back over the connection the request came on
    rig.t.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", peer)
    rig.run_until(lambda: False, 0.2)
    data, closed = recv_all(s, 1.0)
    assert data == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n" and not closed
    assert rig.t.stats["accepted"] == 1 and rig.t.stats["connected"] == 0
    s.close()


def test_outbound_connection_is_opened_once_and_reused():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    r = Rig()
    try:
        dest = server.getsockname()
        r.t.send(options(1), dest)                   # connect in progress: queued
        r.t.send(options(2), dest)
        conn, _ = server.accept()
        assert r.run_until(lambda: r.t.stats["connected"] == 1)
        r.t.send(options(3), dest)
        r.run_until(lambda: False, 0.2)
        data, _ = recv_all(conn, 0.5)
        assert data == options(1) + options(2) + options(3)
        server.settimeout(0.3)
        with pytest.raises(socket.timeout):
            server.accept()                          # no second connection
        conn.sendall(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        assert r.run_until(lambda: r.got)
        assert r.got[0][1] == dest                   # read as coming from the peer we dialled
        conn.close()
    finally:
        r.close()
        server.close()


def test_message_without_content_length_closes_the_connection(rig):
    s = connect(rig.t.address)
    s.sendall(options(1).replace(b"Content-Length: 0\r\n", b""))
    assert rig.run_until(lambda: rig.status)
    kind, peer, reason = rig.status[0]
    assert kind == "error" and "without Content-Length" in reason
    assert rig.got == []
    assert recv_all(s)[1], "the connection stays open"
    s.close()


def test_more_than_64k_without_a_whole_message_is_cut_off(rig):
    s = connect(rig.t.address)
    s.sendall(b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nSubject: " + b"a" * 70000)
    assert rig.run_until(lambda: rig.status)
    kind, peer, reason = rig.status[0]
    assert kind == "error" and ("65536" in reason or "over" in reason), reason
    assert recv_all(s)[1]
    # the transport still takes a good message on a new connection
    s2 = connect(rig.t.address)
    s2.sendall(options(9))
    assert rig.run_until(lambda: rig.got)
    s.close()
    s2.close()


def test_a_body_over_the_bound_is_refused(rig):
    s = connect(rig.t.address)
    s.sendall(options(1).replace(b"Content-Length: 0", b"Content-Length: 200000"))
    assert rig.run_until(lambda: rig.status)
    assert rig.status[0][0] == "error" and "Content-Length" in rig.status[0][2]
    s.close()


def test_connection_refused_is_one_failed_status():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    dest = port.getsockname()
    port.close()                                     # nothing listens there now
    r = Rig()
    try:
        r.t.send(options(1), dest)
        assert r.run_until(lambda: r.status)
        r.run_until(lambda: False, 0.1)
        assert len(r.status) == 1
        kind, peer, reason = r.status[0]
        assert kind == "failed" and peer == dest and "refused" in reason.lower(), reason
        assert dest not in r.t.conns
    finally:
        r.close()


def test_a_peer_that_does_not_read_is_cut_off_and_the_loop_goes_on():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    r = Rig()
    try:
        dest = server.getsockname()
        r.t.send(options(1), dest)
        conn, _ = server.accept()
        assert r.run_until(lambda: r.t.stats["connected"] == 1)
        big = options(2, b"x" * 60000)
        sent = 0
        while not r.status and sent < 200:           # the peer never reads
            r.t.send(big, dest)
            r.loop.run_once(max_wait=0)
            sent += 1
        assert r.run_until(lambda: r.status)
        kind, peer, reason = r.status[0]
        assert kind == "lost" and "does not read" in reason, r.status
        conn.close()
    finally:
        r.close()
        server.close()


def test_a_kept_peer_is_reconnected_with_backoff_and_reported_restored():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    dest = server.getsockname()
    r = Rig()
    try:
        r.t.keep(dest)
        r.t.send(options(1), dest)
        conn, _ = server.accept()
        assert r.run_until(lambda: r.t.stats["connected"] == 1)
        conn.close()                                 # the registrar restarts
        server.close()
        assert r.run_until(lambda: any(s[0] == "lost" for s in r.status))
        assert r.t.retry_in(dest) is not None
        # the first reconnect is refused: back-off grows
        assert r.run_until(lambda: any(s[0] == "failed" for s in r.status))
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(dest)
        server.listen(4)
        assert r.run_until(lambda: any(s[0] == "restored" for s in r.status), 15)
        kinds = [s[0] for s in r.status]
        assert kinds[0] == "lost" and kinds[-1] == "restored" and "failed" in kinds
        server.settimeout(5)
        conn, _ = server.accept()
        conn.close()
    finally:
        r.close()
        server.close()


# ---------------------------------------------------------------------- TLS

class TlsServer(threading.Thread):
    """Python's TLS server on loopback: handshakes, then echoes what it reads back."""

    def __init__(self, cert, key):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.address = self.sock.getsockname()
        self.received = b""
        self.sni = []
        self.ctx.sni_callback = lambda s, name, c: self.sni.append(name)
        self.start()

    def run(self):
        try:
            raw, _ = self.sock.accept()
        except OSError:
            return
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        s.settimeout(5)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                self.received += d
                s.sendall(d)
        except OSError:
            pass
        s.close()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if not certs.available():
        pytest.skip("openssl command not installed")
    d = str(tmp_path_factory.mktemp("pki"))
    good = certs.make_certs(d, names=("localhost", "127.0.0.1"))
    other = certs.make_certs(d, names=("localhost", "127.0.0.1"), ca_name="another CA", tag="other")
    return good, other


def test_tls_handshake_on_the_loop_with_sni_and_a_verified_certificate(pki):
    (ca, cert, key), _ = pki
    srv = TlsServer(cert, key)
    r = Rig(tls=tls_client_context(ca))
    try:
        r.t.set_server_name(srv.address, "localhost")
        r.t.send(options(1), srv.address)
        assert r.run_until(lambda: r.got), r.status
        assert r.got[0] == (options(1), srv.address)   # echoed back over the TLS connection
        assert srv.sni == ["localhost"]
        assert r.status == []
    finally:
        r.close()
        srv.close()


def test_tls_with_the_wrong_ca_is_one_failed_status(pki):
    (ca, cert, key), (other_ca, _, _) = pki
    srv = TlsServer(cert, key)
    r = Rig(tls=tls_client_context(other_ca))
    try:
        r.t.set_server_name(srv.address, "localhost")
        r.t.send(options(1), srv.address)
        assert r.run_until(lambda: r.status)
        kind, peer, reason = r.status[0]
        assert kind == "failed" and "certificate" in reason and "localhost" in reason, reason
        assert r.got == []
    finally:
        r.close()
        srv.close()


def test_tls_with_the_wrong_host_name_is_one_failed_status(pki):
    (ca, cert, key), _ = pki
    srv = TlsServer(cert, key)
    r = Rig(tls=tls_client_context(ca))
    try:
        r.t.set_server_name(srv.address, "pbx.example.net")
        r.t.send(options(1), srv.address)
        assert r.run_until(lambda: r.status)
        kind, peer, reason = r.status[0]
        assert kind == "failed" and "pbx.example.net" in reason and "mismatch" in reason.lower(), reason
    finally:
        r.close()
        srv.close()


def test_tls_to_a_plain_tcp_server_is_a_refused_handshake():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    r = Rig(tls=tls_client_context(None, True))
    try:
        r.t.send(options(1), server.getsockname())
        conn, _ = server.accept()
        conn.sendall(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")   # not TLS
        assert r.run_until(lambda: r.status)
        kind, peer, reason = r.status[0]
        assert kind == "failed" and "TLS" in reason, reason
        conn.close()
    finally:
        r.close()
        server.close()


def test_an_unreadable_ca_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        tls_client_context(str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        tls_client_context(str(bad))

