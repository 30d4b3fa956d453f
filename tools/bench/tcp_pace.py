"""Does the event loop keep its 20 ms media pace while the SIP stream transport is abused?

Runs a real EventLoop with a 20 ms periodic tick (the media clock's stand-in) and a TCP
StreamTransport plus a TLS one, and for a few seconds per scenario on loopback:
  idle       nothing else (the baseline)
  flood      a peer sends 70 KB with no whole message, over and over (each is cut off)
  refused    messages to a port where nothing listens (each connect refused)
  tls-bad-ca TLS handshakes to a server whose certificate the client does not trust
  slow-peer  a peer that never reads while we queue messages for it (cut off at the bound)
Prints, per scenario, ticks, the median / p99 / max lateness of a tick in ms, and how many
abuses were handled. Nothing is asserted: numbers to read.

    .venv/bin/python tools/bench/tcp_pace.py [-s 3]
"""

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tipring.firmware.loop import EventLoop  # noqa: E402
from tipring.firmware.loop.tcp import StreamTransport, tls_client_context  # noqa: E402
from tests.peers import certs  # noqa: E402

MSG = (b"OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKx\r\n"
       b"From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
       b"Max-Forwards: 70\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)


def tls_server(cert, key, stop):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.2)

    def run():
        while not stop.is_set():
            try:
                raw, _ = srv.accept()
            except OSError:
                continue
            try:
                ctx.wrap_socket(raw, server_side=True).close()
            except (OSError, ssl.SSLError):
                raw.close()
    threading.Thread(target=run, daemon=True).start()
    return srv


def measure(seconds, abuse):
    loop = EventLoop()
    status = []
    tcp = StreamTransport(loop, "127.0.0.1", 0, lambda d, p: None, lambda k, p, r: status.append(k))
    late = []
    start = time.monotonic()
    state = {"next": start + 0.02, "n": 0}

    def tick():
        now = time.monotonic()
        late.append((now - state["next"]) * 1000.0)
        state["next"] += 0.02
        loop.call_at(state["next"], tick)
    loop.call_at(state["next"], tick)
    count = abuse(loop, tcp, status, start + seconds)
    loop.run(until=lambda: time.monotonic() > start + seconds)
    tcp.close()
    loop.close()
    return late, count(status)


def idle(loop, tcp, status, end):
    return lambda s: 0


def flood(loop, tcp, status, end):
    sent = [0]

    def again():
        if time.monotonic() > end:
            return
        c = socket.create_connection(tcp.address)
        c.setblocking(False)
        try:
            c.send(b"INVITE sip:a SIP/2.0\r\nSubject: " + b"a" * 70000)
        except BlockingIOError:
            pass
        sent[0] += 1
        loop.call_later(0.01, c.close)
        loop.call_later(0.005, again)
    loop.call_soon(again)
    return lambda s: s.count("error")


def refused(loop, tcp, status, end):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dest = s.getsockname()
    s.close()

    def again():
        if time.monotonic() < end:
            tcp.send(MSG, dest)
            loop.call_later(0.002, again)
    loop.call_soon(again)
    return lambda st: st.count("failed")


def make_tls_bad_ca(pki):
    def tls_bad_ca(loop, tcp, status, end):
        (ca, cert, key), (other_ca, _, _) = pki
        stop = threading.Event()
        srv = tls_server(cert, key, stop)
        tls = StreamTransport(loop, "127.0.0.1", 0, lambda d, p: None, lambda k, p, r: status.append(k),
                              tls=tls_client_context(other_ca))
        dest = srv.getsockname()

        def again():
            if time.monotonic() < end:
                if dest not in tls.conns:
                    tls.send(MSG, dest)
                loop.call_later(0.005, again)
            else:
                stop.set()
                tls.close()
                srv.close()
        loop.call_soon(again)
        return lambda st: st.count("failed")
    return tls_bad_ca


def slow_peer(loop, tcp, status, end):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    dest = srv.getsockname()
    held = []

    def again():
        if time.monotonic() < end:
            tcp.send(MSG * 8, dest)
            try:
                srv.setblocking(False)
                held.append(srv.accept()[0])   # accepted, never read
            except BlockingIOError:
                pass
            loop.call_later(0.001, again)
        else:
            for c in held:
                c.close()
            srv.close()
    loop.call_soon(again)
    return lambda st: st.count("lost")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-s", "--seconds", type=float, default=3.0)
    a = ap.parse_args()
    pki = None
    with tempfile.TemporaryDirectory() as d:
        if certs.available():
            pki = (certs.make_certs(d, ("localhost", "127.0.0.1")),
                   certs.make_certs(d, ("localhost", "127.0.0.1"), "other CA", "other"))
        scenarios = [("idle", idle), ("flood", flood), ("refused", refused), ("slow-peer", slow_peer)]
        if pki:
            scenarios.append(("tls-bad-ca", make_tls_bad_ca(pki)))
        print("%-11s %6s %9s %9s %9s %8s" % ("scenario", "ticks", "median", "p99", "max", "handled"))
        for name, fn in scenarios:
            late, handled = measure(a.seconds, fn)
            late.sort()
            p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
            print("%-11s %6d %8.2fms %8.2fms %8.2fms %8d" % (name, len(late), statistics.median(late), p99,
                                                             late[-1], handled))


if __name__ == "__main__":
    main()
