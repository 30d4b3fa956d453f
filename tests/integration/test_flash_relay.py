"""Flash relay (issue 9; Cisco SPA "Hook Flash Tx Method", Grandstream "Send Flash Event"): with
`line.N.flash_relay` set, a hook flash in a call goes to the far end (a PBX that hosts the
services) instead of holding the call locally: as RFC 4733 event 16 in the RTP stream, or as a
SIP INFO `application/hook-flash` `signal=hf`. The far end is SIPp (tests/peers/sipp/
call_flash_relay.xml); for RFC 4733 its SDP points tipring's RTP at this test's own socket."""

import re
import shutil
import socket
import struct
import time

import pytest

from tests.integration.test_call_sipp import requests, rig, sipp_ok  # noqa: F401 (rig: fixture)

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(not shutil.which("sipp"), reason="sipp not installed (tools/setup --test)")]


def rtp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    return s


def telephone_events(sock, seconds):
    """(event, end bit, duration) of every RFC 4733 packet (PT 101) read for `seconds`."""
    found, until = [], time.time() + seconds
    while time.time() < until:
        try:
            data = sock.recv(2048)
        except socket.timeout:
            continue
        if len(data) >= 16 and data[1] & 0x7F == 101:
            event, flags, duration = struct.unpack("!BBH", data[12:16])
            found.append((event, bool(flags & 0x80), duration))
    return found


def talking(r):
    r.dial()
    assert r.call_event("connected"), r.trail()
    assert r.h.ok("wait fxs=talking 5")


def test_flash_relay_rfc4733_sends_event_16_and_keeps_the_call(rig):
    r = rig(flash_relay="rfc4733")
    sock = rtp_socket()
    try:
        s = r.sipp("call_flash_relay.xml", "-set", "rtpport", str(sock.getsockname()[1]))
        talking(r)
        assert not [e for e in telephone_events(sock, 0.5)]   # speech only so far
        r.h.ok("flash 500")
        events = telephone_events(sock, 1.5)
        assert events and {e[0] for e in events} == {16}, events
        ends = [e for e in events if e[1]]
        assert len(ends) == 3 and ends[0][2] == 2000, events   # 250 ms at 8 kHz, end sent 3 times
        assert r.h.ok("wait fxs=talking 2")                   # not held: the PBX owns the flash
        r.h.ok("onhook")
        sipp_ok(s)
    finally:
        sock.close()
    msgs = s.messages()
    assert len(requests(s, "INVITE")) == 1 and not requests(s, "INFO"), msgs
    hook = [e for e in r.fw.events() if e["event"] == "hook" and e["state"] == "flash"]
    assert len(hook) == 1
    assert not [e for e in r.fw.events() if e["event"] == "error"], r.trail()


def test_flash_relay_info_sends_hook_flash_info_answered_200_and_keeps_the_call(rig):
    r = rig(flash_relay="info")
    sock = rtp_socket()
    try:
        s = r.sipp("call_flash_relay.xml", "-set", "rtpport", str(sock.getsockname()[1]))
        talking(r)
        r.h.ok("flash 500")
        time.sleep(1.0)                                          # the INFO and its 200
        assert not [e for e in telephone_events(sock, 0.3) if e[0] == 16]
        assert r.h.ok("wait fxs=talking 2")
        r.h.ok("onhook")
        sipp_ok(s)
    finally:
        sock.close()
    msgs = s.messages()
    assert len(requests(s, "INVITE")) == 1 and len(requests(s, "INFO")) == 1, msgs
    info = msgs[msgs.index("INFO sip:"):]
    assert re.search(r"^Content-Type: application/hook-flash\s*$", info, re.M), info
    assert re.search(r"\r?\n\r?\nsignal=hf\r?\n", info), info           # the body, after the blank line
    assert not [e for e in r.fw.events() if e["event"] == "error"], r.trail()
