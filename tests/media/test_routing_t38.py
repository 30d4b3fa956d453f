"""T.38 in the media router (tipring/firmware/media/routing.py rule 7, fax_relay.py): a real
`Call` whose plan turns T.38 mid-call swaps its RTP stream for a FaxRelay on the same port
(with its `media` event, a `t38` event and the line's `fax_mode`), a page goes from a spandsp
fax machine on the line through the router to a far FaxRelay with another fax machine, and
the call turns back to audio as the same RTP source."""

import pytest

from tipring.board.sim.fax_machine import FaxMachine
from tipring.firmware.calls.call import Call
from tipring.firmware.media import t38_gateway
from tipring.firmware.media.fax_relay import FaxRelay
from tipring.firmware.media.routing import MediaRouter
from tipring.firmware.media.rtp import RtpPacket
from tipring.firmware.media.sdp import MediaPlan
from tipring.firmware.media.t38 import T38Session
from tipring.firmware.sip.useragent import UserAgent
from tests.peers.fax_tiff import read_pages, write_page

pytestmark = pytest.mark.skipif(t38_gateway.available() is not None, reason="libspandsp not installed")

HOST = "127.0.0.1"
OURS, THEIRS = 20002, 30002
SESSION = T38Session(0, 14400, "transferredTCF", True, 400)


def _call():
    ua = UserAgent(HOST, 5060, users=["1001"])
    call = Call({"port": 1, "user": "1001"}, "out", ua, (HOST, OURS), 0.0)
    call.call_id = "fax-1"
    call.plan = MediaPlan(HOST, THEIRS, [(0, "PCMU")], 101, 20, "sendrecv", False)
    return call


def _t38_plan(port=THEIRS):
    return MediaPlan(HOST, port, [(None, "T38")], None, 20, "sendrecv", False, None, SESSION)


def test_plan_turning_t38_swaps_the_stream_and_back(tmp_path):
    router = MediaRouter()
    call = _call()
    router.op("start", call, 0.0)
    rtp = router.stream_for(1)
    _, out = router.frame(1, bytes(320), 0.02)
    ssrc = RtpPacket.parse(out[0][2]).ssrc
    call.plan = _t38_plan()
    out = router.op("update", call, 0.04)
    kinds = [(o[0], o[1]) for o in out]
    assert ("event", "media") in kinds and ("event", "t38") in kinds
    media = [o[2] for o in out if o[:2] == ("event", "media")][0]
    assert media["codec"] == "PCMU" and media["sent"] == 1
    t38 = [o[2] for o in out if o[:2] == ("event", "t38")][0]
    assert t38["state"] == "started" and t38["peer"] == "%s:%d" % (HOST, THEIRS)
    assert ("line", 1, "fax_mode", "t38") in out
    relay = router.stream_for(1)
    assert isinstance(relay, FaxRelay) and relay.local == (HOST, OURS) and relay is not rtp
    heard, out = router.frame(1, bytes(320), 0.06)
    assert len(heard) == 320
    # back to audio: the T.38 leg ends (its media event), RTP goes on as the same source
    call.plan = MediaPlan(HOST, THEIRS, [(0, "PCMU")], 101, 20, "sendrecv", False)
    out = router.op("update", call, 0.08)
    ended = [o[2] for o in out if o[:2] == ("event", "media")][0]
    assert ended["codec"] == "T38" and "jitter_mode" not in ended
    assert [o[2]["state"] for o in out if o[:2] == ("event", "t38")] == ["stopped"]
    _, out = router.frame(1, bytes(320), 0.10)
    assert RtpPacket.parse(out[0][2]).ssrc == ssrc
    router.op("stop", call, 0.12)


def test_a_page_through_the_router_to_a_far_relay(tmp_path):
    src, dst = str(tmp_path / "page.tif"), str(tmp_path / "got.tif")
    write_page(src)
    ours, theirs = FaxMachine("send", src), FaxMachine("receive", dst)
    router = MediaRouter()
    call = _call()
    call.plan = _t38_plan()
    out = router.op("start", call, 0.0)
    assert ("line", 1, "fax_mode", "t38") in out
    far = FaxRelay(MediaPlan(HOST, OURS, [(None, "T38")], None, 20, "sendrecv", False, None, SESSION),
                   (HOST, THEIRS))
    now = 0.0
    try:
        for _ in range(150 * 50):
            now += 0.02
            heard, out = router.frame(1, ours.mouthpiece(), now)
            ours.earpiece(heard)
            for o in out:
                if o[0] == "rtp":
                    assert o[1] == OURS and tuple(o[3]) == (HOST, THEIRS)
                    far.on_packet(o[2], (HOST, OURS), now)
            for data, addr in far.on_capture(theirs.mouthpiece(), now):
                assert addr == (HOST, OURS)
                router.packet(OURS, data, (HOST, THEIRS), now)
            theirs.earpiece(far.playout(now))
            if ours.done and theirs.done:
                break
        assert ours.status()["completion"] == 0 and theirs.status()["completion"] == 0
        out = router.op("stop", call, now)
        media = [o[2] for o in out if o[:2] == ("event", "media")][0]
        assert media["codec"] == "T38" and media["sent"] > 50 and media["received"] > 10
        assert ("close", OURS) in out
    finally:
        far.close(now)
        ours.close()
        theirs.close()
    pages = read_pages(dst)
    assert len(pages) == 1 and pages[0][256] == 1728


def test_a_page_through_relays_on_a_16_khz_line(tmp_path):
    """A wideband board's line (16 kHz): the relay halves and doubles the rate around the 8 kHz
    gateway (fax_relay.py rule 4); the page still arrives, at 16 kHz frames of 640 bytes."""
    from tipring.firmware.dsp.resample import Decimator, Interpolator
    src, dst = str(tmp_path / "page.tif"), str(tmp_path / "got.tif")
    write_page(src)
    ours, theirs = FaxMachine("send", src), FaxMachine("receive", dst)
    router = MediaRouter(line_rate=lambda port: 16000)
    call = _call()
    call.plan = _t38_plan()
    router.op("start", call, 0.0)
    far = FaxRelay(MediaPlan(HOST, OURS, [(None, "T38")], None, 20, "sendrecv", False, None, SESSION),
                   (HOST, THEIRS))
    up, down = Interpolator(), Decimator()         # the 16 kHz line's side of the fax machine
    now = 0.0
    try:
        for _ in range(150 * 50):
            now += 0.02
            heard, out = router.frame(1, up.process(ours.mouthpiece()), now)
            assert len(heard) == 640
            ours.earpiece(down.process(heard))
            for o in out:
                if o[0] == "rtp":
                    far.on_packet(o[2], (HOST, OURS), now)
            for data, addr in far.on_capture(theirs.mouthpiece(), now):
                router.packet(OURS, data, (HOST, THEIRS), now)
            theirs.earpiece(far.playout(now))
            if ours.done and theirs.done:
                break
        assert ours.status()["completion"] == 0 and theirs.status()["completion"] == 0
        router.op("stop", call, now)
    finally:
        far.close(now)
        ours.close()
        theirs.close()
    assert len(read_pages(dst)) == 1


def test_a_relay_that_cannot_start_leaves_the_call_up_and_says_why(monkeypatch):
    """spandsp found but failing to load or start (a broken install, no memory): an `error`
    event, a silent inactive stream in the leg, frames keep flowing, the call is not touched."""
    from tipring.firmware.media import fax_relay
    from tipring.firmware.media.stream import MediaStream

    def broken(session):
        raise t38_gateway.T38Unavailable("t38_gateway_init failed")
    monkeypatch.setattr(fax_relay, "T38Gateway", broken)
    router = MediaRouter()
    call = _call()
    router.op("start", call, 0.0)
    call.plan = _t38_plan()
    out = router.op("update", call, 0.02)
    errors = [o[2] for o in out if o[:2] == ("event", "error")]
    assert errors and "T.38 relay cannot start" in errors[0]["message"] and errors[0]["call_id"] == "fax-1"
    leg = router.stream_for(1)
    assert isinstance(leg, MediaStream) and leg.direction == "inactive"
    for k in range(5):
        heard, sent = router.frame(1, bytes(320), 0.04 + 0.02 * k)
        assert heard == bytes(320) and not [o for o in sent if o[0] == "rtp"]
    router.op("stop", call, 0.2)
