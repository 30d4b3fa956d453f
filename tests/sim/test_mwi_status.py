"""Message waiting in the running firmware (real `Firmware`, sim board, a real UDP socket as
the PBX): the console's `show status` line, the phone's lamp and stutter, and the lamp
going out again."""

import socket

from tipring.firmware.console.views import status_lines
from tests.sim.helpers import Running

NOTIFY = ("NOTIFY sip:1001@{host}:{port} SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{n}mwi;rport\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=pbx{n}\r\nTo: <sip:1001@127.0.0.1>\r\n"
          "Call-ID: mwi{n}@pbx\r\nCSeq: 1 NOTIFY\r\nEvent: message-summary\r\n"
          "Subscription-State: active\r\nContent-Type: application/simple-message-summary\r\n"
          "Content-Length: {len}\r\n\r\n{body}")


def _notify(r, sock, n, body):
    host, port = r.fw.sip.address
    msg = NOTIFY.format(host=host, port=port, me=sock.getsockname()[1], n=n, len=len(body), body=body)
    sock.sendto(msg.encode(), (host, port))
    data, _ = sock.recvfrom(4096)
    return data.split(b"\r\n", 1)[0].decode()


def test_show_status_lamp_and_stutter_follow_the_notifies():
    # direct_calls: the test's socket is not the line's proxy (127.0.0.1:9)
    r = Running(lines=[{"port": 1, "user": "1001", "direct_calls": True}])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    try:
        c = r.client()
        before = r.call(lambda: status_lines(r.fw.status()))
        assert not [ln for ln in before if ln.startswith("mwi")], before
        assert _notify(r, sock, 1, "Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n") == "SIP/2.0 200 OK"
        assert c.ask("wait mwi=on 5")["ok"]
        lines = r.call(lambda: status_lines(r.fw.status()))
        mwi = [ln for ln in lines if ln.startswith("mwi")]
        assert mwi == ["mwi      line 1: messages waiting (2 new, 8 old); subscription off "
                       "(unsolicited NOTIFY only)"], lines
        assert lines.index(mwi[0]) == lines.index(next(l for l in lines if l.startswith("line 1"))) + 1
        assert r.named("mwi") == [{"line": 1, "waiting": True, "new": 2, "old": 8}]
        c.ask("offhook")
        assert c.ask("wait tone=stutter-dial 6")["ok"]
        c.ask("onhook")
        assert _notify(r, sock, 2, "Messages-Waiting: no\r\n") == "SIP/2.0 200 OK"
        assert c.ask("wait mwi=off 8")["ok"]
        lines = r.call(lambda: status_lines(r.fw.status()))
        assert "mwi      line 1: no messages (0 new, 0 old); subscription off (unsolicited NOTIFY only)" in lines
        assert _notify(r, sock, 3, "Messages-Waiting: perhaps\r\n").startswith("SIP/2.0 400 Bad Request")
        err = r.wait_event(lambda n, f: n == "error", 2)
        assert err and err["where"] == "mwi" and "yes or no" in err["message"], err
    finally:
        sock.close()
        r.stop()
