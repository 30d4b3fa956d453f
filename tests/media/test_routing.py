"""The media router (tipring/firmware/media/routing.py) without sockets: real `Call`s of a real
`UserAgent` whose plans point at real far-end `MediaStream`s; what the router says to send goes
to the far end it is addressed to, what a far end sends comes back through `packet`. Checked:
the three-way mix, what a held party hears (silence, the hold music from its start at each
hold), a held call kept alive and sent the music while the handset talks in a second call
(#15), its stream resumed as the same RTP source, and the outputs for a stream's end."""

import array

from tipring.firmware.calls.call import Call
from tipring.firmware.dsp.g711 import ulaw2lin
from tipring.firmware.media.moh import HoldMusic
from tipring.firmware.media.routing import MediaRouter
from tipring.firmware.media.rtp import RtpPacket, is_rtcp
from tipring.firmware.media.sdp import MediaPlan
from tipring.firmware.media.stream import MediaStream
from tipring.firmware.sip.useragent import UserAgent

HOST = "127.0.0.1"
TICK = 0.02


def _frame(v):
    return array.array("h", [v] * 160).tobytes()


def _level(frame):
    """The mean sample of a frame (G.711 rounds a constant to a near one)."""
    x = array.array("h", frame)
    return sum(x) / float(len(x))


class Net:
    """A line's calls, their far ends and the router between, on a virtual clock."""

    def __init__(self, music=None):
        self.ua = UserAgent(HOST, 5060, users=["1001"])
        self.router = MediaRouter({1: music} if music is not None else None)
        self.now = 0.0
        self.far = {}        # far RTP port -> MediaStream
        self.heard = {}      # far RTP port -> frames the far end received, decoded, per tick
        self.out = []        # every output that was not RTP

    def call(self, n, direction="sendrecv"):
        """Call number n: ours on 20000+2n, its far end on 30000+2n."""
        ours, theirs = 20000 + 2 * n, 30000 + 2 * n
        call = Call({"port": 1, "user": "1001"}, "out", self.ua, (HOST, ours), self.now)
        call.call_id = "call-%d" % n
        call.plan = MediaPlan(HOST, theirs, [(0, "PCMU")], 101, 20, direction, False)
        self.far[theirs] = MediaStream((HOST, theirs), (HOST, ours), "PCMU", dtmf_pt=101,
                                       now=self.now, rtcp_mux=False)
        self.heard[theirs] = []
        return call

    def op(self, op, call):
        self._carry(self.router.op(op, call, self.now))

    def _carry(self, outputs):
        got = {}
        for o in outputs:
            if o[0] == "rtp":
                far = self.far.get(o[3][1])
                if far is not None:
                    pkt = None if is_rtcp(o[2]) else RtpPacket.parse(o[2])
                    if pkt is not None and pkt.payload_type == 0:
                        got.setdefault(o[3][1], []).append(pkt)
                    far.on_packet(o[2], (HOST, o[1]), self.now)
            else:
                self.out.append(o)
        return got

    def tick(self, capture, far_says=None):
        """One 20 ms frame: each far end sends (far_says: far port -> level), the handset
        says `capture`. Returns what the handset hears."""
        for port, far in self.far.items():
            level = (far_says or {}).get(port)
            if level is not None:
                for data, addr in far.on_capture(_frame(level), self.now):
                    self._carry(self.router.packet(addr[1], data, (HOST, port), self.now))
        heard, outputs = self.router.frame(1, _frame(capture), self.now)
        got = self._carry(outputs)
        for port in self.far:
            pkts = got.get(port, [])
            self.heard[port].append(pkts[0] if pkts else None)
        self.now += TICK
        return heard

    def level_at(self, port, k=-1):
        pkt = self.heard[port][k]
        return None if pkt is None else _level(ulaw2lin(pkt.payload))


def test_the_conference_mix_each_remote_hears_the_handset_and_the_other():
    net = Net()
    a, b = net.call(1), net.call(2)
    net.op("start", a)
    net.op("join", b)
    for _ in range(15):                          # past the jitter buffers' first delay
        heard = net.tick(3000, {30002: 1000, 30004: 200})
    assert abs(_level(heard) - 1200) < 60        # the handset hears both remotes
    assert abs(net.level_at(30002) - 3200) < 150  # A hears the handset and B
    assert abs(net.level_at(30004) - 4000) < 150  # B hears the handset and A
    net.op("stop", b)                            # back to a two-party call
    assert ("close", 20004) in net.out
    media = [o[2] for o in net.out if o[0] == "event" and o[1] == "media"]
    assert [m["call_id"] for m in media] == ["call-2"] and media[0]["line"] == 1
    for _ in range(3):
        heard = net.tick(-500, {30002: 1000})
    assert abs(_level(heard) - 1000) < 60 and abs(net.level_at(30002) + 500) < 40
    assert net.router.heard_call_id(1) == "call-1"


def test_a_call_we_hold_is_sent_silence_not_the_handset():
    # FLOWS §12: at the second dial tone the held party must not hear A talk or key C's number
    net = Net()
    a = net.call(1, "sendonly")
    net.op("start", a)
    net.tick(3000)
    assert net.level_at(30002) == 0
    a.plan = MediaPlan(HOST, 30002, [(0, "PCMU")], 101, 20, "sendrecv", False)
    net.op("update", a)                          # resumed: the handset again
    net.tick(3000)
    assert abs(net.level_at(30002) - 3000) < 100


def test_a_call_we_hold_hears_the_hold_music_from_its_start_at_each_hold():
    music = array.array("h", [1000] * 160 + [2000] * 160 + [3000] * 160).tobytes()
    net = Net(HoldMusic(music))
    a = net.call(1, "sendonly")
    net.op("start", a)
    for _ in range(4):
        net.tick(-3000)
    got = [round(net.level_at(30002, k), -3) for k in range(4)]
    assert got == [1000, 2000, 3000, 1000]       # the file, looped
    a.plan = MediaPlan(HOST, 30002, [(0, "PCMU")], 101, 20, "sendrecv", False)
    net.op("update", a)
    net.tick(-3000)
    assert net.level_at(30002) < -2800
    a.plan = MediaPlan(HOST, 30002, [(0, "PCMU")], 101, 20, "sendonly", False)
    net.op("update", a)                          # held again: the music from its start
    net.tick(-3000)
    assert round(net.level_at(30002), -3) == 1000


def test_a_held_call_hears_the_music_while_the_handset_talks_in_the_second_call():
    # #15: B held, C answers: B still hears the music every frame, C hears the handset
    music = array.array("h", [1500] * 160).tobytes()
    net = Net(HoldMusic(music))
    b = net.call(1)
    net.op("start", b)
    for _ in range(3):
        net.tick(3000, {30002: 700})
    b.plan = MediaPlan(HOST, 30002, [(0, "PCMU")], 101, 20, "sendonly", False)
    net.op("update", b)                          # B held (flash)
    net.tick(3000)
    assert abs(net.level_at(30002) - 1500) < 60
    c = net.call(2)
    net.op("start", c)                           # C answers the second call
    assert net.router.heard_call_id(1) == "call-2" and net.router.has_media(1)
    assert not [o for o in net.out if o[0] in ("close", "event")]     # B's stream lives on
    for _ in range(12):
        heard = net.tick(3000, {30004: 900})
        assert abs(net.level_at(30002) - 1500) < 60      # every frame: the music
        assert abs(net.level_at(30004) - 3000) < 100     # C hears the handset
    assert abs(_level(heard) - 900) < 40                 # the handset hears C
    seq_b = net.heard[30002][-1].sequence_number
    # swap (flash): C held, B resumed, the same RTP source numbering on
    c.plan = MediaPlan(HOST, 30004, [(0, "PCMU")], 101, 20, "sendonly", False)
    b.plan = MediaPlan(HOST, 30002, [(0, "PCMU")], 101, 20, "sendrecv", False)
    net.op("start", b)
    net.op("update", c)
    net.tick(3000)
    pkt = net.heard[30002][-1]
    assert pkt.sequence_number == (seq_b + 1) & 0xFFFF      # one stream, never a gap
    assert abs(net.level_at(30002) - 3000) < 100 and abs(net.level_at(30004) - 1500) < 60
    net.op("stop", c)                            # the held one hangs up: its stream ends
    assert ("close", 20004) in net.out
    assert [o[2]["call_id"] for o in net.out if o[0] == "event" and o[1] == "media"] == ["call-2"]
    net.op("stop", b)
    assert not net.router.has_media(1) and net.router.heard_call_id(1) is None


def test_a_held_call_without_music_is_sent_silence_and_its_digits_reach_nobody():
    net = Net()
    b, c = net.call(1, "sendonly"), net.call(2)
    net.op("start", b)
    net.op("start", c)
    net.far[30002].send_digit("5")
    for _ in range(10):
        net.tick(3000, {30002: 700, 30004: 900})
    assert all(net.level_at(30002, k) == 0 for k in range(10))
    assert not [o for o in net.out if o[0] in ("event", "line")]
    net.far[30004].send_digit("7")               # the heard call's digit: event and the line
    for _ in range(10):
        net.tick(3000, {30004: 900})
    assert ("line", 1, "remote_digit", "7") in net.out
    assert [o[2] for o in net.out if o[0] == "event"] == [{"line": 1, "digit": "7", "how": "rfc4733"}]


def test_digits_and_fax_mode_go_to_the_heard_call():
    net = Net()
    a = net.call(1)
    assert net.router.send_digit(1, "5") is False        # no call yet
    net.op("start", a)
    assert net.router.send_digit(1, "5") is True
    assert net.router.fix_jitter(1, a) is True and net.router.stream_for(1).jitter.mode == "fixed"
    assert net.router.fix_jitter(1, a) is False          # already fixed
