"""Hostile requests to a running `tipring run` over real UDP sockets on loopback (issue 14,
item 2): a scanner cannot tell our user from any other, each refused INVITE draws exactly one
datagram, odd URIs and bytes get their answer, a bad INVITE from the proxy leaves the line free.

The line's proxy is a UDP socket of this test (registration off), so the test can speak both
as the proxy and as a stranger. SIP timers run at T1 = 50 ms, so a retransmission that should
not happen would come many times within the time the test listens."""

import shutil
import socket
import subprocess

import pytest

from tests.calls.ata import SDP
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import free_port

pytestmark = pytest.mark.peers


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def listen(sock, seconds):
    """Every datagram that arrives within `seconds`."""
    got = []
    sock.settimeout(seconds)
    try:
        while True:
            got.append(sock.recv(65535))
    except socket.timeout:
        pass
    return got


def msg(method, sock, target, user="1001", ruri=None, branch="z9hG4bK1", call_id="c1", contact=True,
        frm=b'"Bob" <sip:2002@pbx>', body=b""):
    host, port = sock.getsockname()
    ruri = ruri or "sip:%s@%s:%d" % (user, target[0], target[1])
    lines = [("%s %s SIP/2.0" % (method, ruri)).encode(),
             b"Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (host.encode(), port, branch.encode()),
             b"Max-Forwards: 70", b"From: " + frm + b";tag=f1", ("To: <sip:%s@pbx>" % user).encode(),
             ("Call-ID: %s" % call_id).encode(), ("CSeq: 1 %s" % method).encode()]
    if contact:
        lines.append(b"Contact: <sip:2002@%s:%d>" % (host.encode(), port))
    if body:
        lines.append(b"Content-Type: application/sdp")
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.fixture
def ata(tmp_path):
    proxy = udp()
    ctl = free_port()
    cfg = sim_line_config("127.0.0.1:%d" % proxy.getsockname()[1], "127.0.0.1:%d" % ctl, register=False)
    cfg["sip"]["t1_ms"] = 100
    fw = RunningFirmware(str(tmp_path), cfg)
    target = ("127.0.0.1", int(cfg["sip"]["bind"].rsplit(":", 1)[1]))
    try:
        yield fw, target, proxy, ctl
    finally:
        fw.stop()
        proxy.close()


def test_a_stranger_gets_one_identical_datagram_for_our_user_and_any_other(ata):
    fw, target, proxy, ctl = ata
    s = udp()
    answers = []
    for n, user in enumerate(("1001", "1002", "9999")):
        s.sendto(msg("INVITE", s, target, user=user, branch="z9hG4bKs%d" % n, call_id="s%d" % n, body=SDP), target)
        got = listen(s, 1.5)         # 15 x T1: Timer G would have resent a stateful 403 four times
        assert len(got) == 1, [g.split(b"\r\n")[0] for g in got]
        answers.append(got[0].split(b"\r\n")[0])
    assert answers[0] == answers[1] == answers[2] == b"SIP/2.0 403 Forbidden (not from our proxy)"
    st = Handset(("127.0.0.1", ctl), timeout=3).ok("state")
    assert not st["ringing"] and st["rings"] == 0
    assert not fw.named("call")
    s.close()


@pytest.mark.skipif(shutil.which("svwar") is None, reason="sipvicious (svwar) is not installed")
def test_svwar_invite_scan_finds_nothing(ata):
    fw, target, proxy, ctl = ata
    for extra in ([], ["--force"]):
        r = subprocess.run(["svwar", "-m", "INVITE", "-e", "995-1010", "-p", str(target[1]), "-b", "127.0.0.1"]
                           + extra + ["127.0.0.1"], capture_output=True, text=True, timeout=120)
        out = r.stdout + r.stderr
        # svwar reports the extensions whose answer differs from a random one's; with --force
        # it lists every extension alike or none: either way 1001 never stands out
        found = [l.split("|")[1].strip() for l in r.stdout.splitlines() if l.startswith("| ") and "Extension" not in l]
        assert "1001" not in found or len(found) == 16, out[-800:]
    st = Handset(("127.0.0.1", ctl), timeout=3).ok("state")
    assert not st["ringing"] and st["rings"] == 0


def test_odd_uri_and_bytes_get_their_answer(ata):
    fw, target, proxy, ctl = ata
    s = udp()
    s.sendto(msg("OPTIONS", s, target, ruri="zz:whatever", contact=False), target)
    assert [g.split(b"\r\n")[0] for g in listen(s, 0.5)] == [b"SIP/2.0 416 Unsupported URI Scheme"]
    s.sendto(msg("OPTIONS", s, target, branch="z9hG4bK2", contact=False, frm=b'"M\xfcller \xff" <sip:2002@pbx>'), target)
    got = listen(s, 0.5)
    assert [g.split(b"\r\n")[0] for g in got] == [b"SIP/2.0 200 OK"]
    s.sendto(msg("OPTIONS", s, target, branch="z9hG4bK3", call_id="badX",
                 contact=False).replace(b"Call-ID: badX", b"Call-ID: bad\xff"), target)
    got = listen(s, 0.5)
    assert len(got) == 1 and got[0].startswith(b"SIP/2.0 400") and b"Call-ID" in got[0].split(b"\r\n")[0]
    s.close()


def test_an_invite_without_contact_from_the_proxy_gets_400_and_the_line_stays_free(ata):
    fw, target, proxy, ctl = ata
    proxy.sendto(msg("INVITE", proxy, target, contact=False, body=SDP), target)
    got = listen(proxy, 0.25)
    # to the proxy the answer is stateful: repeated (Timer G) until the ACK
    assert {g.split(b"\r\n")[0] for g in got} == {b"SIP/2.0 400 Bad Request (no Contact)"}
    proxy.sendto(msg("ACK", proxy, target, contact=False), target)
    listen(proxy, 0.2)
    assert not [e for e in fw.named("error") if "ValueError" in e["message"] or "internal" in e["message"]]
    # at once, the next INVITE rings the phone: no phantom call holds the line
    proxy.sendto(msg("INVITE", proxy, target, branch="z9hG4bK2", call_id="c2", body=SDP), target)
    got = listen(proxy, 0.5)
    assert b"SIP/2.0 180 Ringing" in [g.split(b"\r\n")[0] for g in got], [g.split(b"\r\n")[0] for g in got]
    assert fw.wait_event(lambda e: e["event"] == "call" and e.get("state") == "ringing", 3)
    proxy.sendto(msg("CANCEL", proxy, target, branch="z9hG4bK2", call_id="c2", contact=False), target)
    got = listen(proxy, 0.25)
    assert {g.split(b"\r\n")[0] for g in got} == {b"SIP/2.0 200 OK", b"SIP/2.0 487 Request Terminated"}
    assert fw.wait_event(lambda e: e["event"] == "call" and e.get("state") == "ended", 3)
