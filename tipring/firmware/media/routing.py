"""Which RTP stream each FXS line hears, what each call's far end is sent: the media routing.

What this module owns
---------------------
The RTP streams of every line's calls (`MediaStream`, one per call) and how audio flows
between them and the handset, 20 ms at a time. The call layer (tipring/firmware/calls) says what
happens to a call's media with `("media", op, call)`; the board's media clock hands in the
mouthpiece frame; the RTP sockets hand in datagrams. This module decides the rest and returns
what to do as outputs; it opens no socket and reads no clock (DESIGN property 1):

    ("rtp", local_port, data, addr)     send a datagram from the call's RTP port
    ("close", local_port)               the call's RTP (and RTCP) sockets may close
    ("event", name, fields)             an event-log record (`media`, `digit`)
    ("line", port, verb, *args)         a line command (`remote_digit`)
    ("changed", port)                   the line's media changed (the board's clock wakes)

Rules
-----
1. Per line, one call is HEARD (the handset hears it, it is sent the handset), one may be
   JOINED to it in a local three-way conference (FLOWS §17: each remote hears the handset plus
   the other remote, the handset hears both), and any others are PARKED: calls we hold while
   the handset talks in another call (FLOWS §12, §13). A new call's `start` parks the heard
   call; the parked call's own `start` (resume, swap) makes its stream heard again, the same
   stream, so SSRC, sequence numbers and timestamps simply go on.
2. A party we hold hears the line's hold music (`line.N.hold_music`, tipring/firmware/media/moh.py),
   or silence without it, never the handset: the heard call while it is `sendonly` (the
   second dial tone), and every parked call, every frame, for as long as it is held. The music
   starts from its beginning at each new hold of the line.
3. A stream that ends while its call goes on (a conference that replaced it) leaves its send
   state here, keyed by Call-ID: the call's next stream sends as the same RTP source
   (`MediaStream.carry_on`), so a resumed or joined far end sees one numbering that only
   moves forward. Nothing is written onto the call-layer objects.
4. A stream's end sends its RTCP BYE (RFC 3550 §6.6) and emits one `media` event with its
   statistics (INTERFACES.md).
5. A fax/modem call (`call.fax`) plays out through a fixed jitter buffer (`FAX_JITTER_MS`),
   as SPA/HT ATAs do G.711 pass-through; a call that turns fax mid-way is fixed by
   `fix_jitter`.
6. RFC 4733 digits from the far end of a heard or joined call come out as a `digit` event and
   a `remote_digit` line command; a parked call's digits are nobody's to hear.
7. Every frame is at its line's rate (`line_rate(port)`, 8000 or 16000, the board's word):
   the streams are made for it (`MediaStream(line_rate=...)`), the conference mixes at it, the
   hold music is converted to it. RTP numbering, and so the carried-on send state of rule 3,
   is at the codec's clock whatever the line.
8. T.38 fax relay: a call whose plan is T.38 (`plan.t38`, SDP image/t38) has a `FaxRelay`
   (tipring/firmware/media/fax_relay.py, made for the line's rate) as its leg's stream, on the
   same media port; a plan that turns T.38 (or back to audio) mid-call ends the leg's stream
   (its `media` event) and starts the other kind, with a `t38` event (`state`
   started/stopped) and a `fax_mode` line command (the echo canceller steps out, as on a
   fax tone). A relay that cannot start (spandsp found but failing to load or initialise) is
   an `error` event and a silent, inactive stream in its place: the call stays up.
"""

from tipring.firmware.media.mixer import Conference
from tipring.firmware.media.stream import MediaStream

FAX_JITTER_MS = 60      # fixed playout delay of a fax/modem call (G.711 pass-through)


class _Leg:
    """One call's stream on a line: the MediaStream and the Call it carries (read only)."""

    __slots__ = ("stream", "call")

    def __init__(self, stream, call):
        self.stream = stream
        self.call = call


class LineMedia:
    """Represents the media of one FXS line: the heard call, the joined one, the parked ones."""

    def __init__(self, port: int):
        self.port = port
        self.heard = None          # _Leg the handset hears
        self.joined = None         # _Leg mixed in with it (three-way conference)
        self.parked = {}           # call_id -> _Leg of a call held while another is heard
        self.moh_on = False        # a held party of this line hears the music now

    def legs(self) -> list:
        return [leg for leg in (self.heard, self.joined) if leg is not None] + list(self.parked.values())

    @property
    def empty(self) -> bool:
        return self.heard is None and self.joined is None and not self.parked


class MediaRouter:
    """Represents the media routing of every line.

        router = MediaRouter(line_rate=board.line_rate)   # default: every line 8 kHz
        out = router.op("start", call, now)             # ("media", op, call) from the call layer
        heard, out = router.frame(port, capture, now)   # each 20 ms of the line's media clock
        out = router.packet(local_port, data, addr, now)
    """

    def __init__(self, hold_music=None, line_rate=None):
        self.lines = {}                # FXS port -> LineMedia
        self.line_rate = line_rate or (lambda port: 8000)   # FXS port -> its audio rate (rule 7)
        self.hold_music = dict(hold_music or {})   # FXS port -> HoldMusic
        self._sent = {}                # call_id -> send state of its last ended stream (rule 3)

    # ------------------------------------------------------------------ what the line has
    def _line(self, port) -> LineMedia:
        lm = self.lines.get(port)
        if lm is None:
            lm = self.lines[port] = LineMedia(port)
        return lm

    def has_media(self, port: int) -> bool:
        """True while any call of the line has a stream (the media clock must run)."""
        lm = self.lines.get(port)
        return lm is not None and not lm.empty

    def heard_call_id(self, port: int):
        """The Call-ID of the call the handset hears (or, that gone, the joined one), or None."""
        lm = self.lines.get(port)
        if lm is None:
            return None
        for leg in (lm.heard, lm.joined):
            if leg is not None:
                return leg.call.call_id or "?"
        return None

    def stream_for(self, port: int, role: str = "heard"):
        """The MediaStream in `role` ("heard" or "joined") on the line, or None (status, tools)."""
        lm = self.lines.get(port)
        leg = getattr(lm, role, None) if lm is not None else None
        return leg.stream if leg is not None else None

    def set_hold_music(self, music: dict) -> None:
        """Each line's HoldMusic (read by the I/O layer at load); a line without is silence."""
        self.hold_music = dict(music)
        for port, lm in self.lines.items():
            if port not in music:
                lm.moh_on = False

    # ------------------------------------------------------------------ the call layer's ops
    def op(self, op: str, call, now: float) -> list:
        """Carry out `("media", op, call)`: start, update, join or stop the call's stream."""
        lm = self._line(call.port)
        out = []
        handler = {"start": self._start, "update": self._update, "join": self._join,
                   "stop": self._stop}.get(op)
        if handler is not None:
            handler(lm, call, now, out)
        if op in ("start", "update", "join"):
            out.append(("changed", call.port))
        if lm.empty:
            lm.moh_on = False
        return out

    def _start(self, lm, call, now, out):
        if call.plan is None:
            return
        heard = lm.heard
        if lm.joined is not None and lm.joined.call is call:
            # the conference is over: this call alone again
            leg, lm.joined = lm.joined, None
            if heard is not None:
                self._end(lm, heard, now, out, keep_state=True)
            lm.heard = leg
            return
        parked = lm.parked.pop(call.call_id, None)
        if heard is not None and heard.call is not call:
            lm.parked[heard.call.call_id] = heard      # rule 1: held while the new one talks
        if parked is not None:
            self._follow(lm, parked, call, now, out)
            lm.heard = parked
            return
        prev = heard.stream if heard is not None and heard.call is call else None
        if prev is not None and _is_relay(prev) != _is_t38(call):
            self._follow(lm, heard, call, now, out)
            return
        lm.heard = _Leg(self._new_stream(call, now, prev, lm, out), call)

    def _update(self, lm, call, now, out):
        if call.plan is None:
            return
        for leg in lm.legs():
            if leg.call is call:
                self._follow(lm, leg, call, now, out)
                return

    def _follow(self, lm, leg, call, now, out):
        """The leg's stream follows the call's new plan; a switch between RTP and T.38 ends
        one stream and starts the other (rule 8)."""
        if _is_relay(leg.stream) == _is_t38(call):
            leg.stream.update(call.plan)
            return
        relay = _is_relay(leg.stream)
        self._end(lm, leg, now, out, keep_state=not relay)
        if relay:
            out.append(("event", "t38", {"line": lm.port, "call_id": call.call_id, "state": "stopped"}))
        leg.stream = self._new_stream(call, now, None, lm, out)

    def _join(self, lm, call, now, out):
        if call.plan is None:
            return
        if lm.joined is not None and lm.joined.call is not call:
            self._end(lm, lm.joined, now, out, keep_state=True)
        parked = lm.parked.pop(call.call_id, None)
        if parked is not None:
            self._follow(lm, parked, call, now, out)
            lm.joined = parked
        elif lm.joined is None:
            lm.joined = _Leg(self._new_stream(call, now, None, lm, out), call)

    def _stop(self, lm, call, now, out):
        if lm.joined is not None and lm.joined.call is call:
            self._end(lm, lm.joined, now, out)
            lm.joined = None
        elif lm.heard is not None and lm.heard.call is call:
            self._end(lm, lm.heard, now, out)
            lm.heard, lm.joined = lm.joined, None       # the conference's other party talks on
        else:
            leg = lm.parked.pop(call.call_id, None)
            if leg is not None and leg.call is call:
                self._end(lm, leg, now, out)
        self._sent.pop(call.call_id, None)
        out.append(("close", call.rtp[1]))

    def _new_stream(self, call, now, prev=None, lm=None, out=None):
        """The call's stream, sending as the same source as its earlier one (`prev`, else the
        one that ended, rule 3) when it had one; its T.38 relay when the plan is T.38 (rule 8)."""
        if _is_t38(call):
            return self._relay(call, now, lm, out)
        stream = MediaStream.from_plan(call.plan, tuple(call.rtp), now=now, rtcp_mux=False,
                                       line_rate=self.line_rate(call.port))
        if call.fax is not None:       # a fax call stays in pass-through
            stream.jitter.fix(FAX_JITTER_MS)
        state = prev.send_state(now) if prev is not None else self._sent.pop(call.call_id, None)
        if state is not None:
            stream.carry_on(state, now)
        return stream

    def _relay(self, call, now, lm, out):
        """The call's T.38 relay (rule 8), with its `t38` event and the line's `fax_mode`."""
        from tipring.firmware.media.fax_relay import FaxRelay
        from tipring.firmware.media.t38_gateway import T38Unavailable
        try:
            relay = FaxRelay(call.plan, tuple(call.rtp), now, line_rate=self.line_rate(call.port))
        except T38Unavailable as e:
            # spandsp was found but would not load or start: the call stays up on a silent,
            # inactive stream (never a half-made leg the next frame trips over), and says why
            if out is not None:
                out.append(("event", "error", {"where": "media", "line": call.port, "call_id": call.call_id,
                                               "message": "T.38 relay cannot start (%s); the call stays "
                                                          "up without fax media" % e}))
            return MediaStream(tuple(call.rtp), (call.plan.address, call.plan.port), "PCMU",
                               direction="inactive", now=now, rtcp_mux=False,
                               line_rate=self.line_rate(call.port))
        if out is not None and lm is not None:
            t = call.plan.t38
            out.append(("event", "t38", {"line": lm.port, "call_id": call.call_id, "state": "started",
                                         "peer": "%s:%d" % relay.remote, "version": t.version,
                                         "max_bit_rate": t.max_bit_rate,
                                         "rate_management": t.rate_management,
                                         "redundancy": t.redundancy}))
            out.append(("line", lm.port, "fax_mode", "t38"))
        return relay

    def _end(self, lm, leg, now, out, keep_state=False):
        stream, call = leg.stream, leg.call
        if keep_state:
            state = stream.send_state(now)
            if state is not None:
                self._sent[call.call_id] = state
        self._send(stream, stream.close(now), out)
        fields = dict({"line": lm.port, "call_id": call.call_id}, **stream.stats())
        if stream.jitter is not None:
            fields.update(jitter_mode=stream.jitter.mode,
                          jitter_target_ms=round(stream.jitter.target * 1000.0 / stream.jitter.clock_rate))
        out.append(("event", "media", fields))

    # ------------------------------------------------------------------ audio
    @staticmethod
    def _send(stream, packets, out):
        port = stream.local[1]
        for data, addr in packets:
            if addr is not None:
                out.append(("rtp", port, data, addr))

    def _capture(self, stream, frame, now, out):
        """One frame to the far end of `stream`, and its due RTCP."""
        self._send(stream, stream.on_capture(frame, now), out)
        if stream.deadline() <= now:
            self._send(stream, stream.on_timer(now), out)

    def frame(self, port: int, capture: bytes, now: float):
        """The line's 20 ms tick: (what the handset hears or None without call media, outputs).
        The handset's frame goes to the heard call (and the joined one, mixed); held parties
        get the hold music (rule 2)."""
        out = []
        lm = self.lines.get(port)
        if lm is None or lm.empty:
            return None, out
        heard = lm.heard
        holding = bool(lm.parked) or (heard is not None and lm.joined is None
                                      and heard.stream.direction == "sendonly")
        music = self._music(lm, len(capture)) if holding else None
        if not holding:
            lm.moh_on = False
        for leg in lm.parked.values():
            leg.stream.playout(now)      # keep its jitter buffer draining for the resume
            self._capture(leg.stream, music, now, out)
        if heard is None:
            return None, out
        if lm.joined is not None:
            return self._conference(heard.stream, lm.joined.stream, capture, now, out), out
        stream = heard.stream
        self._capture(stream, music if stream.direction == "sendonly" else capture, now, out)
        return stream.playout(now), out

    def _music(self, lm, nbytes):
        """This frame of the line's hold music (silence without), from its start at a new hold."""
        moh = self.hold_music.get(lm.port)
        if moh is None:
            return bytes(nbytes)
        if not lm.moh_on:
            moh.restart()
            lm.moh_on = True
        return moh.next_frame(nbytes, self.line_rate(lm.port))

    def _conference(self, a, b, capture, now, out):
        """Three-way calling mixed here (FLOWS §17): each remote hears the handset plus the
        other remote, the handset hears both remotes."""
        from_a = a.playout(now)
        from_b = b.playout(now)
        conf = Conference(["line", "a", "b"], frame_samples=len(capture) // 2)
        conf.put("line", capture)
        if from_a is not None and len(from_a) == len(capture):
            conf.put("a", from_a)
        if from_b is not None and len(from_b) == len(capture):
            conf.put("b", from_b)
        heard = conf.mix()
        self._capture(a, heard["a"], now, out)
        self._capture(b, heard["b"], now, out)
        return heard["line"]

    def packet(self, local_port: int, data: bytes, addr, now: float) -> list:
        """A datagram on a call's RTP (or RTCP) port: into its stream; digits out (rule 6)."""
        out = []
        for lm in self.lines.values():
            for leg in lm.legs():
                if leg.stream.local[1] != local_port:
                    continue
                events = leg.stream.on_packet(data, addr, now)
                if leg is lm.heard or leg is lm.joined:
                    for ev in events:
                        if ev[0] == "digit":
                            out.append(("event", "digit", {"line": lm.port, "digit": ev[1], "how": "rfc4733"}))
                            out.append(("line", lm.port, "remote_digit", ev[1]))
                return out
        return out

    # ------------------------------------------------------------------ in-call signals
    def send_digit(self, port: int, digit: str, duration_ms: int = 100) -> bool:
        """An RFC 4733 event (a digit, or "flash") in the heard call's stream; False when the
        line has no heard call or it negotiated no telephone-event."""
        stream = self.stream_for(port)
        if stream is None or stream.dtmf_pt is None:
            return False
        return bool(stream.send_digit(digit, duration_ms))

    def fix_jitter(self, port: int, call) -> bool:
        """The call turned fax/modem (rule 5): its heard or joined stream plays out through a
        fixed buffer from now on. True when a stream changed mode here."""
        lm = self.lines.get(port)
        fixed = False
        for leg in (lm.heard, lm.joined) if lm is not None else ():
            if leg is not None and leg.call is call and leg.stream.jitter is not None \
                    and leg.stream.jitter.mode != "fixed":
                leg.stream.jitter.fix(FAX_JITTER_MS)
                fixed = True
        return fixed


def _is_t38(call) -> bool:
    """The call's plan is T.38 fax relay (rule 8)."""
    return call.plan is not None and getattr(call.plan, "t38", None) is not None


def _is_relay(stream) -> bool:
    return getattr(stream, "kind", "rtp") == "t38"
