"""MediaStream (tipring/firmware/media/stream.py): two streams back to back on virtual time, and once
over real UDP sockets on loopback through a lossy, jittery userspace relay."""

import array
import heapq
import math
import random
import select
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipring.firmware.media.rtcp import RtcpByePacket, RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket
from tipring.firmware.media.rtcp import parse_compound
from tipring.firmware.media.rtp import RtpPacket, is_rtcp
from tipring.firmware.media.sdp import SdpSession, parse
from tipring.firmware.media.stream import MediaStream

A = ("10.0.0.1", 4000)
B = ("10.0.0.2", 5000)
TICK = 0.02


def sine_source(freq, amp=8000, frame=160):
    n = [0]

    def next_frame():
        k0 = n[0]
        n[0] += frame
        return bytes(array.array("h", [int(amp * math.sin(2 * math.pi * freq * (k0 + k) / 8000))
                                       for k in range(frame)]))
    return next_frame


def goertzel(pcm, freq, rate=8000):
    x = array.array("h", pcm)
    w = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + w * s1 - s2, s1
    return s1 * s1 + s2 * s2 - w * s1 * s2


def dominant(pcm, candidates=(300, 440, 700, 1000, 1300, 1700, 2000, 3000)):
    return max(candidates, key=lambda f: goertzel(pcm, f))


def pair(**kw):
    a = MediaStream(A, B, ssrc=0xAAAA0001, **kw)
    b = MediaStream(B, A, ssrc=0xBBBB0002, **kw)
    return a, b


def talk(a, b, ticks, t0=0.0, src_a=None, src_b=None, net=None, frame=160):
    """Run `ticks` capture ticks; returns (audio b heard, audio a heard, events at b, at a)."""
    src_a = src_a or sine_source(1000, frame=frame)
    src_b = src_b or sine_source(440, frame=frame)
    heard_b, heard_a, ev_b, ev_a = [], [], [], []
    for k in range(ticks):
        now = t0 + k * TICK
        for data, addr in a.on_capture(src_a(), now):
            ev_b += b.on_packet(data, a.local, now) if net is None else net(data, a, b, now)
        for data, addr in b.on_capture(src_b(), now):
            ev_a += a.on_packet(data, b.local, now)
        heard_b.append(b.playout(now))
        heard_a.append(a.playout(now))
    return b"".join(heard_b), b"".join(heard_a), ev_b, ev_a


@pytest.mark.parametrize("codec, ptime", [("PCMU", 20), ("PCMA", 20), ("PCMU", 10),
                                          ("PCMA", 30)])
def test_sine_back_to_back_is_heard_at_1khz(codec, ptime):
    a, b = pair(codec=codec, ptime=ptime)
    heard_b, heard_a, _, _ = talk(a, b, 100)
    tail_b, tail_a = heard_b[-320 * 50:], heard_a[-320 * 50:]
    assert dominant(tail_b) == 1000
    assert dominant(tail_a) == 440
    p1k = goertzel(tail_b, 1000)
    assert all(goertzel(tail_b, f) < p1k / 1000 for f in (500, 1500, 2000, 3000))
    st_ = b.stats()
    assert st_["codec"] == codec and st_["lost"] == 0 and st_["late"] == 0
    assert st_["received"] == a.stats()["sent"] == 100 * 20 // ptime


def test_stats_have_the_media_event_fields():
    a, b = pair()
    talk(a, b, 10)
    s = b.stats()
    assert set(s) == {"codec", "sent", "received", "lost", "jitter_ms", "late"}
    assert s == {"codec": "PCMU", "sent": 10, "received": 10, "lost": 0, "jitter_ms": 0.0,
                 "late": 0}


def test_packets_carry_sequence_timestamp_ssrc_and_first_marker():
    a = MediaStream(A, B, ssrc=0x1234)
    pkts = []
    for k in range(3):
        pkts += [RtpPacket.parse(d) for d, addr in a.on_capture(bytes(320), k * TICK)]
    assert [p.marker for p in pkts] == [True, False, False]
    assert all(p.ssrc == 0x1234 and p.payload_type == 0 and len(p.payload) == 160 for p in pkts)
    assert [(p.sequence_number - pkts[0].sequence_number) & 0xFFFF for p in pkts] == [0, 1, 2]
    assert [(p.timestamp - pkts[0].timestamp) & 0xFFFFFFFF for p in pkts] == [0, 160, 320]
    assert pkts[0].payload == b"\xff" * 160


def test_ptime_recuts_capture_frames():
    a = MediaStream(A, B, ptime=30)
    sizes = []
    for k in range(6):
        sizes += [len(RtpPacket.parse(d).payload) for d, _ in a.on_capture(bytes(320), k * TICK)]
    assert sizes == [240] * 4


def test_rfc4733_digit_is_sent_instead_of_audio_and_reported_once():
    a, b = pair(dtmf_pt=101)
    talk(a, b, 10)
    assert a.send_digit("5", 100)
    sent = []

    def net(data, a_, b_, now):
        sent.append(RtpPacket.parse(data))
        return b_.on_packet(data, a_.local, now)

    _, _, ev_b, _ = talk(a, b, 20, t0=10 * TICK, net=net)
    assert ev_b == [("digit", "5"), ("digit_end", "5", 100)]
    kinds = [p.payload_type for p in sent]
    first = kinds.index(101)
    assert first == 0 and kinds.count(101) == 5   # updates at 20 and 60 ms, the end x 3
    assert kinds[first:first + 6] == [101] * 5 + [0]   # 7 ticks without audio, then audio
    ev = [p for p in sent if p.payload_type == 101]
    assert ev[0].marker and not any(p.marker for p in ev[1:])
    assert len({p.timestamp for p in ev}) == 1
    seqs = [p.sequence_number for p in sent]
    assert all(((y - x) & 0xFFFF) == 1 for x, y in zip(seqs, seqs[1:]))
    s = b.stats()
    assert s["lost"] == 0 and s["late"] == 0 and b.jitter.lost == 0
    assert s["jitter_ms"] == 0.0          # event packets share a timestamp: no jitter


def test_digit_without_telephone_event_falls_back():
    a = MediaStream(A, B)
    assert a.send_digit("1") is False


def test_symmetric_rtp_latches_to_the_source_address():
    a = MediaStream(A, B, ssrc=1)
    b = MediaStream(B, A, ssrc=2)
    nat = ("192.0.2.50", 6000)
    assert a.on_capture(bytes(320), 0.0)[0][1] == B
    for d, _ in b.on_capture(bytes(320), 0.0):
        a.on_packet(d, nat, 0.0)
    assert a.latched == nat and a.target == nat
    assert a.on_capture(bytes(320), TICK)[0][1] == nat


def test_malformed_and_foreign_packets_are_counted_not_raised():
    a = MediaStream(A, B, ssrc=1)
    assert a.on_packet(b"\x00\x01\x02", B, 0.0) == []
    assert a.on_packet(b"\x80\xc9\x00\x09", B, 0.0) == []              # bad RTCP length
    assert a.on_packet(RtpPacket(96, ssrc=7, payload=b"x").serialize(), B, 0.0) == []
    assert a.errors == 2 and a.ignored == 1 and a.received == 0 and a.latched is None


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_fuzz_on_packet_never_raises(data):
    a = MediaStream(A, B, ssrc=1, dtmf_pt=101)
    a.on_packet(data, B, 0.0)
    a.on_packet(b"\x80\x65" + data, B, 0.01)
    assert len(a.playout(0.02)) == 320


def rtp_from(ssrc, seq, now_ts, payload=b"\xff" * 160):
    return RtpPacket(0, False, seq, now_ts, ssrc, payload).serialize()


def test_other_ssrc_mid_stream_is_ignored_until_the_rules_allow():
    a = MediaStream(A, B, ssrc=1)
    for k in range(5):
        assert a.on_packet(rtp_from(100, k, k * 160), B, k * TICK) == [("ssrc", 100)] * (k == 0)
    # an interloper interleaved with the live source never takes over
    for k in range(5, 15):
        a.on_packet(rtp_from(200, k, 0), ("203.0.113.9", 9), k * TICK)
        a.on_packet(rtp_from(100, k, k * 160), B, k * TICK)
    assert a.remote_ssrc == 100 and a.latched == B and a.ignored == 10
    # three in a row from the newcomer: the source changed (a B2BUA switched legs)
    ev = []
    for k in range(15, 18):
        ev += a.on_packet(rtp_from(300, 50 + k, 9000 + k * 160), ("198.51.100.3", 7), k * TICK)
    assert ev == [("ssrc", 300)] and a.remote_ssrc == 300 and a.latched == ("198.51.100.3", 7)
    # after the current source fell silent for 0.5 s, one packet is enough
    assert a.on_packet(rtp_from(400, 1, 0), B, 17 * TICK + 0.5) == [("ssrc", 400)]


def test_rtcp_bye_lets_a_new_source_in_at_once():
    a, b = pair()
    talk(a, b, 5)
    ev = []
    for data, addr in b.close(5 * TICK):
        ev += a.on_packet(data, B, 5 * TICK)
    assert ev == [("bye", 0xBBBB0002)]
    assert a.on_packet(rtp_from(77, 1, 0), B, 6 * TICK) == [("ssrc", 77)]
    assert a.jitter.resets == 1


def test_update_changes_codec_address_direction_without_renumbering():
    a = MediaStream(A, B, ssrc=1)
    p0 = RtpPacket.parse(a.on_capture(bytes(320), 0.0)[0][0])
    a.update(codec="PCMA", remote=("10.0.0.3", 5002))
    d, addr = a.on_capture(bytes(320), TICK)[0]
    p1 = RtpPacket.parse(d)
    assert addr == ("10.0.0.3", 5002) and p1.payload_type == 8 and p1.payload == b"\xd5" * 160
    assert p1.sequence_number == (p0.sequence_number + 1) & 0xFFFF and p1.ssrc == 1
    a.update(direction="recvonly")
    assert a.on_capture(bytes(320), 2 * TICK) == [] and not a.sending
    a.update(direction="sendrecv")
    p3 = RtpPacket.parse(a.on_capture(bytes(320), 3 * TICK)[0][0])
    assert p3.marker and p3.sequence_number == (p0.sequence_number + 2) & 0xFFFF
    assert (p3.timestamp - p0.timestamp) & 0xFFFFFFFF == 3 * 160
    a.update(remote=("0.0.0.0", 5002), direction="sendrecv")       # RFC 2543 hold
    assert a.on_capture(bytes(320), 4 * TICK) == []
    with pytest.raises(ValueError):
        a.update(codec="G729")
    with pytest.raises(ValueError):
        a.update(direction="sideways")


def test_sendonly_plays_silence_and_inactive_sends_nothing():
    a, b = pair()
    b.update(direction="sendonly")
    heard_b, heard_a, _, _ = talk(a, b, 20)
    assert heard_b == bytes(len(heard_b)) and dominant(heard_a[-3200:]) == 440
    a.update(direction="inactive")
    assert a.on_capture(bytes(320), 1.0) == []


def test_from_plan_of_a_real_negotiation():
    offerer = SdpSession("10.0.0.1", 4000, codecs=("PCMA", "PCMU"))
    answerer = SdpSession("10.0.0.2", 5000)
    offer = parse(offerer.offer().to_bytes())
    answer, plan_b = answerer.answer(offer)
    plan_a = offerer.on_answer(parse(answer.to_bytes()))
    a = MediaStream.from_plan(plan_a, A)
    b = MediaStream.from_plan(plan_b, B)
    assert a.codec == b.codec == "PCMA" and a.dtmf_pt == b.dtmf_pt == 101
    assert a.remote == B and b.remote == A
    heard_b, _, _, _ = talk(a, b, 50)
    assert dominant(heard_b[-320 * 25:]) == 1000


def test_rtcp_reports_every_five_seconds_or_so():
    a, b = pair()
    reports = []
    src_a, src_b = sine_source(1000), sine_source(440)
    for k in range(1500):                    # 30 s
        now = k * TICK
        for d, _ in a.on_capture(src_a(), now):
            b.on_packet(d, A, now)
        for d, _ in b.on_capture(src_b(), now):
            a.on_packet(d, B, now)
        a.playout(now)
        b.playout(now)
        while a.deadline() <= now:
            for d, addr in a.on_timer(now):
                assert is_rtcp(d) and addr == B
                reports.append((now, parse_compound(d)))
                b.on_packet(d, A, now)
        while b.deadline() <= now:
            for d, addr in b.on_timer(now):
                a.on_packet(d, B, now)
    times = [t for t, _ in reports]
    assert 4 <= len(times) <= 12
    assert 0.5 < times[0] <= 3.75 + TICK
    assert all(2.5 - TICK <= y - x <= 7.5 + TICK for x, y in zip(times, times[1:]))
    for _, (sr, sdes) in reports:
        assert isinstance(sr, RtcpSrPacket) and sr.ssrc == 0xAAAA0001
        assert isinstance(sdes, RtcpSdesPacket) and sdes.cname(0xAAAA0001) == a.cname
        assert sr.reports[0].ssrc == 0xBBBB0002 and sr.reports[0].packets_lost == 0
    # b's SRs reached a: its report blocks carry LSR/DLSR
    assert reports[-1][1][0].reports[0].lsr != 0


def test_receiver_only_sends_rr_and_counts_loss():
    a, b = pair()
    b.update(direction="recvonly")
    drop = {3, 4, 10}
    count = [0]

    def net(data, a_, b_, now):
        count[0] += 1
        return [] if count[0] - 1 in drop else b_.on_packet(data, a_.local, now)

    talk(a, b, 30, net=net)
    rtcp = b.on_timer(b.deadline())
    rr, sdes = parse_compound(rtcp[0][0])
    assert isinstance(rr, RtcpRrPacket)
    assert rr.reports[0].packets_lost == 3 and rr.reports[0].fraction_lost == 3 * 256 // 30
    s = b.stats()
    assert s["lost"] == 3 and s["received"] == 27 and b.jitter.lost == 3


def test_rtcp_without_mux_goes_to_the_next_port():
    a = MediaStream(A, B, rtcp_mux=False)
    assert a.rtcp_target == ("10.0.0.2", 5001)
    (d, addr), = a.close(1.0)
    assert addr == ("10.0.0.2", 5001)
    assert isinstance(parse_compound(d)[-1], RtcpByePacket)


# -- real sockets --------------------------------------------------------------------------

class UdpRelay(threading.Thread):
    """A userspace UDP relay on loopback: what A sends to `port_a` reaches B from `port_b`, and
    back; each datagram is held base + uniform(0, jitter) seconds (so some overtake others),
    dropped with probability `loss`."""

    def __init__(self, peer_a, peer_b, base=0.02, jitter=0.03, loss=0.03, seed=9):
        threading.Thread.__init__(self, daemon=True)
        self.sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sa.bind(("127.0.0.1", 0))
        self.sb.bind(("127.0.0.1", 0))
        self.peer = {self.sa: (self.sb, peer_b), self.sb: (self.sa, peer_a)}
        self.base, self.jitter, self.loss = base, jitter, loss
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.dropped = 0
        self.forwarded = 0

    def run(self):
        heap = []
        n = 0
        while not self.stop.is_set():
            timeout = 0.005
            if heap:
                timeout = max(0.0, min(timeout, heap[0][0] - time.monotonic()))
            r, _, _ = select.select([self.sa, self.sb], [], [], timeout)
            for s in r:
                data, _ = s.recvfrom(2048)
                if self.rng.random() < self.loss and not is_rtcp(data):
                    self.dropped += 1
                    continue
                n += 1
                delay = self.base + self.rng.random() * self.jitter
                heapq.heappush(heap, (time.monotonic() + delay, n, s, data))
            while heap and heap[0][0] <= time.monotonic():
                _, _, s, data = heapq.heappop(heap)
                out, dest = self.peer[s]
                out.sendto(data, dest)
                self.forwarded += 1
        self.sa.close()
        self.sb.close()


def test_two_streams_over_real_udp_through_a_lossy_relay():
    sock_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock_a.bind(("127.0.0.1", 0))
    sock_b.bind(("127.0.0.1", 0))
    sock_a.setblocking(False)
    sock_b.setblocking(False)
    relay = UdpRelay(sock_a.getsockname(), sock_b.getsockname())
    relay.start()
    relay_a, relay_b = relay.sa.getsockname(), relay.sb.getsockname()
    try:
        a = MediaStream(sock_a.getsockname(), relay_a, dtmf_pt=101,
                        rtcp_interval=1.0)
        b = MediaStream(sock_b.getsockname(), relay_b, dtmf_pt=101,
                        rtcp_interval=1.0)
        src_a, src_b = sine_source(1000), sine_source(440)
        heard_b, heard_a, events_b = [], [], []
        t0 = time.monotonic()
        ticks = 150                           # 3 s of audio, paced by the real clock
        for k in range(ticks):
            target = t0 + k * TICK
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic() - t0
            if k == 60:
                assert a.send_digit("7", 120)
            for stream, sock, src in ((a, sock_a, src_a), (b, sock_b, src_b)):
                for data, addr in stream.on_capture(src(), now):
                    sock.sendto(data, addr)
                for data, addr in stream.on_timer(now):
                    sock.sendto(data, addr)
            for stream, sock, evs in ((a, sock_a, []), (b, sock_b, events_b)):
                while True:
                    try:
                        data, addr = sock.recvfrom(2048)
                    except BlockingIOError:
                        break
                    evs += stream.on_packet(data, addr, now)
            heard_b.append(b.playout(now))
            heard_a.append(a.playout(now))
    finally:
        relay.stop.set()
        relay.join(2.0)
        sock_a.close()
        sock_b.close()
    assert dominant(b"".join(heard_b[100:])) == 1000
    assert dominant(b"".join(heard_a[100:])) == 440
    assert ("digit", "7") in events_b
    assert b.latched == relay_b and a.latched == relay_a
    sa, sb = a.stats(), b.stats()
    assert sb["received"] > 100 and sa["received"] > 100
    assert sb["received"] + sb["lost"] <= sa["sent"]
    assert relay.dropped == 0 or sa["lost"] + sb["lost"] > 0
    assert 0 < sb["jitter_ms"] < 100


def test_new_remote_address_from_reinvite_lets_a_new_source_in():
    a = MediaStream(A, B, ssrc=1)
    for k in range(3):
        a.on_packet(rtp_from(100, k, k * 160), B, k * TICK)
    a.update(remote=("10.0.0.7", 7000))
    assert a.target == ("10.0.0.7", 7000) and a.latched is None
    assert a.on_packet(rtp_from(500, 9, 0), ("10.0.0.7", 7000), 4 * TICK) == [("ssrc", 500)]
    assert a.latched == ("10.0.0.7", 7000)
    # the new source is live now: a stray packet of yet another SSRC does not take over
    a.on_packet(rtp_from(500, 10, 160), ("10.0.0.7", 7000), 5 * TICK)
    assert a.on_packet(rtp_from(600, 1, 0), B, 5 * TICK) == [] and a.remote_ssrc == 500


def test_a_new_stream_of_the_same_call_carries_on_the_source_numbering():
    # a resumed / swapped / joined call: one source whose numbering only moves forward
    # (baresip 1.0 drops packets whose timestamp goes back, whatever the SSRC)
    old = MediaStream(A, B, ssrc=0x1234)
    pkts = []
    for k in range(3):
        pkts += [RtpPacket.parse(d) for d, addr in old.on_capture(bytes(320), k * TICK)]
    state = old.send_state(3 * TICK)
    new = MediaStream(A, B)
    new.carry_on(state, 3 * TICK + 1.5)                      # 1.5 s on hold in between
    first = RtpPacket.parse(new.on_capture(bytes(320), 3 * TICK + 1.5)[0][0])
    assert first.ssrc == 0x1234 and first.marker
    assert first.sequence_number == (pkts[-1].sequence_number + 1) & 0xFFFF
    assert (first.timestamp - pkts[-1].timestamp) & 0xFFFFFFFF == 160 + 12000
