"""One call's RTP media stream, sans-IO: G.711 or G.722 out and in, RFC 4733 digits, RTCP reports.

What this module owns
---------------------
`MediaStream` ties the media modules together for one negotiated audio stream: it packetises
captured PCM (RFC 3550 §5.1, RFC 3551 G.711 and G.722 payloads), sends RFC 4733 digits in place of audio,
reads what arrives on its port (RTP or RTCP, told apart by RFC 5761 §4), feeds the jitter
buffer, reports digits, and sends an SR or RR with an SDES CNAME about every 5 s (RFC 3550 §6).
It opens no socket and reads no clock: the loop hands it frames, datagrams and `now`, and gets
back (bytes, address) pairs to send and frames to play.

Rules
-----
1. The capture clock drives sending: each `on_capture(frame, now)` moves the RTP timestamp by
   the frame's samples, whether or not anything is sent (a held stream resumes with the marker
   bit, RFC 3551 §4.1). Packets carry `ptime` ms of audio (10, 20 or 30); a frame of another
   size is re-cut. Sequence numbers run on across `update()`: a re-INVITE changes codec,
   address or direction, never the numbering (RFC 3550 §5.1: one SSRC, one sequence space).
2. Symmetric RTP (RFC 4961): RTP goes to the SDP address until the first valid packet arrives,
   then to wherever that source sends from. A valid packet is version 2, parses, and carries a
   payload type we receive (the negotiated codecs, PCMU/PCMA, telephone-event, CN).
3. One remote source at a time. A packet of another SSRC is ignored unless the current source
   said BYE, has been silent for `ssrc_timeout` seconds, the remote address changed by
   `update()`, or the newcomer sent `SSRC_SWITCH_PACKETS` packets in a row; then it replaces
   the current source (fresh statistics, the jitter buffer resets).
4. RFC 4733: while a digit is being sent no audio goes out (the in-band tone would double it);
   received events come back once per digit as ("digit", d) and ("digit_end", d, ms). An
   event that never ends is ended by `on_timer` and reported by the next `on_packet`.
5. Nothing received raises: malformed datagrams are counted in `errors` and dropped.
6. SRTP (RFC 3711) when the plan has keys (`srtp`, a `tipring.firmware.media.sdes.SrtpKeys`): every
   packet out is protected, every packet in is checked before anything else reads it, so a
   forged or plain packet can neither play nor move the latched address; a packet failing
   authentication is counted in `srtp_auth_failed`, a replayed one in `srtp_replayed`, and
   dropped. The contexts (`tipring.firmware.media.srtp`, imported only then) live as long as their
   key: `update()` with the same keys keeps them, new keys make new ones, and `carry_on()`
   takes over an earlier stream's contexts when the keys match, so the rollover counter and
   the replay window go on with the RTP source.
7. G.722 (`tipring.firmware.media.g722`, imported only when negotiated) codes with state, so the
   stream keeps one encoder while it sends G.722 (a re-INVITE that keeps the codec keeps it)
   and one decoder per remote source (a new source starts a fresh one). On an 8 kHz line the
   codec's 8 kHz mode bridges it to G.722's 16 kHz; on a 16 kHz line the codec runs its full
   QMF and the line's audio goes in and out as it is. Since the RTP clock of G.722 is 8000 too
   (RFC 3551 §4.5.2) a 20 ms packet moves the timestamp 160 like G.711, whatever the line.
8. The line's rate (`line_rate`, 8000 or 16000) is the rate of every PCM frame in and out:
   `on_capture` takes 2 * line_rate / 50 bytes a 20 ms frame, `playout` returns as many. RTP
   timestamps stay at the codec's clock (`CLOCK_RATE`, 8000 for PCMU, PCMA and G.722), and the
   jitter buffer keeps the two units apart. G.711 is narrowband: on a 16 kHz line a
   `tipring.firmware.dsp.resample.Decimator` runs before its encoder and an `Interpolator` after
   its decoder (one of each per stream, made while G.711 is in use; the interpolator, like the
   G.722 decoder, starts afresh with a new remote source), and the jitter buffer conceals at
   16 kHz. At 8000 no converter exists and the path is exactly the narrowband one.
"""

from tipring.firmware.compat import random_hex
from tipring.firmware.dsp.g711 import CODECS
from tipring.firmware.media.jitter import JitterBuffer
from tipring.firmware.media.rtcp import (
    SDES_CNAME, ReceiverStats, RtcpByePacket, RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket,
    ntp_timestamp, parse_compound, serialize_compound,
)
from tipring.firmware.media.rtp import CLOCK_RATE, CODEC_PT, PT_CN, RtpPacket, is_rtcp
from tipring.firmware.media.telephone_event import EventReceiver, EventSender

G722 = "G722"
LINE_RATES = (8000, 16000)

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_SENDS = ("sendrecv", "sendonly")
_RECEIVES = ("sendrecv", "recvonly")
SSRC_SWITCH_PACKETS = 3
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)


def _rand32():
    return int(random_hex(4), 16)


def _plan_get(plan, name, default=None):
    if isinstance(plan, dict):
        return plan.get(name, default)
    return getattr(plan, name, default)


class MediaStream:
    """Represents one negotiated RTP audio stream of a call.

    `local`: our (host, port); `remote`: the peer's (host, port) from its SDP; `codec`: "PCMU",
    "PCMA" or "G722"; `pt`: the payload type to send (default the codec's static one); `ptime`: ms per
    packet (10, 20, 30); `dtmf_pt`: telephone-event PT or None; `direction`: ours, one of
    sendrecv, sendonly, recvonly, inactive; `codecs`: every (pt, name) the peer may send
    (default [(pt, codec)]); keyword-only: `frame_ms`, the size of capture and playout
    frames (20); `line_rate`, the line's audio rate, 8000 or 16000 (rule 8); `now`, the time
    the stream starts; `ssrc`, `cname`, `rtcp_interval` (5 s),
    `rtcp_mux` (True: RTCP on the RTP port, else port + 1), `ssrc_timeout` (0.5 s),
    `ntp_offset` (added to `now` to get seconds since 1900), `jitter` (JitterBuffer kwargs).

        s = MediaStream(("10.0.0.2", 4000), ("10.0.0.9", 5000), "PCMU", dtmf_pt=101)
        for data, addr in s.on_capture(frame, now): sock.sendto(data, addr)
        events = s.on_packet(data, addr, now)   # [("digit", "5"), ...]
        earpiece(s.playout(now))
    """

    def __init__(self, local, remote, codec: str = "PCMU", pt: int = None, ptime: int = 20,
                 dtmf_pt: int = None, direction: str = "sendrecv", codecs=None, *,
                 frame_ms: int = 20, line_rate: int = 8000, now: float = 0.0, ssrc: int = None,
                 cname: str = None,
                 rtcp_interval: float = 5.0, rtcp_mux: bool = True, ssrc_timeout: float = 0.5,
                 ntp_offset: float = NTP_UNIX_OFFSET, jitter: dict = None, srtp=None):
        if line_rate not in LINE_RATES:
            raise ValueError("line rate %r (8000 or 16000)" % (line_rate,))
        self.local = local
        self.line_rate = line_rate
        self._ratio = line_rate // CLOCK_RATE    # line samples per RTP timestamp unit
        self._narrow = None          # G.711 on a 16 kHz line: Decimator before the encoder (rule 8)
        self._widen = None           # and Interpolator after the decoder, made at first use
        self.ssrc = _rand32() if ssrc is None else ssrc
        self.cname = cname or ("tipring-%08x" % self.ssrc)
        self.rtcp_interval = rtcp_interval
        self.rtcp_mux = rtcp_mux
        self.ssrc_timeout = ssrc_timeout
        self.ntp_offset = ntp_offset
        self.frame_samples = frame_ms * line_rate // 1000     # line samples a playout frame
        # send side
        self._seq = _rand32() & 0xFFFF
        self._ts = _rand32()
        self._out = b""
        self._marker = True
        self._events_out = EventSender()
        self.sent = 0
        self.sent_octets = 0
        self._sent_since_report = False
        # receive side
        jitter = dict(jitter or {})
        if line_rate != CLOCK_RATE:
            jitter["line_rate"] = line_rate
        self.jitter = JitterBuffer(frame_samples=self.frame_samples, **jitter)
        self._events_in = EventReceiver()
        self._pending = []
        self.remote_ssrc = None
        self._rstats = None
        self._last_rx = None
        self._bye = False
        self._moved = False
        self._cand = None
        self._cand_count = 0
        self._lost_prior = 0
        self.received = 0
        self.errors = 0
        self.ignored = 0
        self.latched = None
        self.srtp = None             # SrtpKeys in use, None for plain RTP
        self._tx = self._rx = None   # tipring.firmware.media.srtp SrtpSender / SrtpReceiver
        self.srtp_suite = None       # the last suite used, for stats()
        self.srtp_auth_failed = 0
        self.srtp_replayed = 0
        self._srtp_mod = None
        self._next_rtcp = now + rtcp_interval * (0.25 + 0.5 * self._random())
        self.remote = None
        self.codec = None
        self.direction = None
        self._decoders = {}
        self._g722_enc = None        # tipring.firmware.media.g722 coders, while G.722 is in use (rule 7)
        self._g722_dec = None
        self.update(remote=remote, codec=codec, pt=pt, ptime=ptime, dtmf_pt=dtmf_pt,
                    direction=direction, codecs=codecs, srtp=srtp)

    @classmethod
    def from_plan(cls, plan, local, **kwargs) -> "MediaStream":
        """A stream from an SDP negotiation result (`tipring.firmware.media.sdp.MediaPlan` or a dict
        with the same names: address, port, codec, pt, codecs, dtmf_pt, ptime, direction,
        srtp)."""
        return cls(local, (_plan_get(plan, "address"), _plan_get(plan, "port")),
                   codec=_plan_get(plan, "codec", "PCMU"), pt=_plan_get(plan, "pt"),
                   ptime=_plan_get(plan, "ptime") or 20, dtmf_pt=_plan_get(plan, "dtmf_pt"),
                   direction=_plan_get(plan, "direction", "sendrecv"),
                   codecs=_plan_get(plan, "codecs"), srtp=_plan_get(plan, "srtp"), **kwargs)

    def __repr__(self) -> str:
        return "<MediaStream %s %s -> %s %s sent=%d received=%d>" % (
            self.codec, self.local, self.target, self.direction, self.sent, self.received)

    def _random(self):
        return int(random_hex(2), 16) / 65535.0

    # -- configuration ------------------------------------------------------------------------

    def update(self, plan=None, **changes) -> None:
        """Apply a re-negotiation: a MediaPlan-like `plan` and/or keyword changes among
        remote, codec, pt, ptime, dtmf_pt, direction, codecs, srtp. Sequence numbers, timestamps
        and our SSRC carry on; SRTP re-keys only when the keys change (rule 6)."""
        if plan is not None:
            changes.setdefault("remote", (_plan_get(plan, "address"), _plan_get(plan, "port")))
            for name in ("codec", "pt", "ptime", "dtmf_pt", "direction", "codecs", "srtp"):
                changes.setdefault(name, _plan_get(plan, name))
        remote = changes.get("remote")
        if remote is not None and tuple(remote) != self.remote:
            self.remote = tuple(remote)
            self.latched = None          # re-latch on the new peer's packets
            self._moved = True           # and let a new source take over at once
        codec = changes.get("codec")
        if codec is not None:
            codec = codec.upper()
            if codec not in CODECS and codec != G722:
                raise ValueError("unsupported codec %r (PCMU, PCMA or G722)" % codec)
            self.codec = codec
            self.pt = CODEC_PT[codec]
            if codec == G722:
                if self._g722_enc is None:
                    from tipring.firmware.media.g722 import G722Encoder
                    self._g722_enc = G722Encoder(self.line_rate)
                self._encode = self._g722_enc.encode
                self._narrow = self._widen = None   # wideband all the way: no converter (rule 8)
            else:
                self._g722_enc = None    # a later switch back to G.722 starts afresh
                self._encode = CODECS[codec][0]
                if self._ratio > 1:
                    self._encode = self._narrow_encoder(self._encode)
        if changes.get("pt") is not None:
            self.pt = changes["pt"]
        ptime = changes.get("ptime")
        if ptime is not None:
            if ptime not in (10, 20, 30):
                raise ValueError("unsupported ptime %r (10, 20 or 30)" % ptime)
            self.ptime = ptime
            self._packet_bytes = 2 * ptime * self.line_rate // 1000     # line PCM a packet
            self._packet_ticks = ptime * CLOCK_RATE // 1000             # its timestamp step
        if "dtmf_pt" in changes:
            self.dtmf_pt = changes["dtmf_pt"]
        direction = changes.get("direction")
        if direction is not None:
            if direction not in DIRECTIONS:
                raise ValueError("bad direction %r (one of %s)" % (direction,
                                                                   ", ".join(DIRECTIONS)))
            if direction in _SENDS and self.direction not in _SENDS:
                self._marker = True
            self.direction = direction
        codecs = changes.get("codecs")
        decoders = {0: CODECS["PCMU"][1], 8: CODECS["PCMA"][1]}
        for pt, name in (codecs or [(self.pt, self.codec)]):
            if name.upper() in CODECS:
                decoders[pt] = CODECS[name.upper()][1]
            elif name.upper() == G722:
                decoders[pt] = self._decode_g722
        if self._ratio > 1:
            for pt, dec in decoders.items():
                if dec != self._decode_g722:     # bound methods: equal, never identical
                    decoders[pt] = self._wide_decoder(dec)
        if codecs is not None or not self._decoders or codec is not None:
            self._decoders = decoders
        if "srtp" in changes:
            self._rekey(changes["srtp"])

    def _decode_g722(self, payload):
        if self._g722_dec is None:
            from tipring.firmware.media.g722 import G722Decoder
            self._g722_dec = G722Decoder(self.line_rate)
        return self._g722_dec.decode(payload)

    def _narrow_encoder(self, encode):
        """A G.711 encoder fed from the 16 kHz line through the stream's decimator (rule 8)."""
        if self._narrow is None:
            from tipring.firmware.dsp.resample import Decimator
            self._narrow = Decimator()
        narrow = self._narrow.process
        return lambda pcm: encode(narrow(pcm))

    def _wide_decoder(self, decode):
        """A G.711 decoder whose 8 kHz audio the stream's interpolator brings to the 16 kHz line;
        one interpolator for every G.711 payload type, as they are one signal (rule 8)."""
        def wide(payload):
            if self._widen is None:
                from tipring.firmware.dsp.resample import Interpolator
                self._widen = Interpolator()
            return self._widen.process(decode(payload))
        return wide

    def _rekey(self, keys):
        """Contexts for `keys` (None: plain RTP), keeping each one whose key is unchanged."""
        if keys is None:
            self.srtp = self._tx = self._rx = None
            return
        from tipring.firmware.media import srtp
        self._srtp_mod = srtp          # its error classes, for the per-packet paths
        tx, rx = self._tx, self._rx
        if tx is None or (tx.suite, tx.key) != (keys.suite, keys.tx_key):
            tx = srtp.SrtpSender(keys.suite, keys.tx_key)
        if rx is None or (rx.suite, rx.key, rx.mki) != (keys.suite, keys.rx_key, keys.rx_mki):
            rx = srtp.SrtpReceiver(keys.suite, keys.rx_key, keys.rx_mki)
        self.srtp, self._tx, self._rx = keys, tx, rx
        self.srtp_suite = keys.suite

    @property
    def sending(self) -> bool:
        t = self.target
        return self.direction in _SENDS and t is not None and t[0] not in ("0.0.0.0", "")

    @property
    def receiving(self) -> bool:
        return self.direction in _RECEIVES

    @property
    def target(self):
        """Where RTP goes: the latched source address, else the SDP address."""
        return self.latched or self.remote

    @property
    def rtcp_target(self):
        t = self.target
        if t is None or self.rtcp_mux:
            return t
        return (t[0], t[1] + 1)

    # -- sending ------------------------------------------------------------------------------

    def send_digit(self, digit: str, duration_ms: int = 100) -> bool:
        """Queue an RFC 4733 digit; False when telephone-event was not negotiated (the caller
        then plays the digit in-band)."""
        if self.dtmf_pt is None:
            return False
        self._events_out.start(digit, duration_ms)
        return True

    def _packet(self, out, pt, marker, ts, payload):
        data = RtpPacket(pt, marker, self._seq, ts, self.ssrc, payload).serialize()
        self._seq = (self._seq + 1) & 0xFFFF
        if self._tx is not None:
            data = self._protect(self._tx.protect, data)
            if data is None:
                return
        self.sent += 1
        self.sent_octets += len(payload)
        self._sent_since_report = True
        out.append((data, self.target))

    def _protect(self, protect, data):
        try:
            return protect(data)
        except ValueError:           # srtp.SrtpError: libsrtp refused it (rule 6 says never)
            self.errors += 1
            return None

    def on_capture(self, frame: bytes, now: float) -> list:
        """One captured frame of PCM in; the RTP datagrams to send as (bytes, addr) out."""
        out = []
        self._out += frame
        n = self._packet_bytes
        while len(self._out) >= n:
            chunk, self._out = self._out[:n], self._out[n:]
            samples = self._packet_ticks        # RTP timestamp units, at the codec's clock
            ts = self._ts
            self._ts = (self._ts + samples) & 0xFFFFFFFF
            if not self.sending:
                self._marker = True
                if self._narrow is not None:     # the next talkspurt starts from rest
                    self._narrow.reset()
                continue
            if self.dtmf_pt is not None and self._events_out.busy:
                for payload, marker, ev_ts in self._events_out.tick(ts, samples):
                    if payload is not None:
                        self._packet(out, self.dtmf_pt, marker, ev_ts, payload)
                if self._narrow is not None:
                    self._narrow.reset()
                continue
            self._packet(out, self.pt, self._marker, ts, self._encode(chunk))
            self._marker = False
        return out

    def send_state(self, now: float) -> tuple:
        """What `carry_on` needs to go on with this stream's numbering in a new stream of the
        same call: (ssrc, cname, next sequence number, next timestamp, now, SRTP contexts)."""
        return (self.ssrc, self.cname, self._seq, self._ts, now, (self._tx, self._rx))

    def carry_on(self, state, now: float) -> None:
        """Send as the same RTP source as an earlier stream of this call (`send_state` of it):
        its SSRC and CNAME, the next sequence number, and a timestamp moved on by the time
        since then, with the marker bit (RFC 3550 §5.1, RFC 3551 §4.1). A resumed, swapped or
        conference-joined call is then one source whose numbering only moves forward; a fresh
        SSRC with a random timestamp is legal but some peers (baresip 1.0) drop every packet
        whose timestamp is behind the last one they played, whatever the SSRC. SRTP contexts
        of the same keys are taken over (rule 6)."""
        ssrc, cname, seq, ts, then = state[:5]
        tx, rx = state[5] if len(state) > 5 else (None, None)
        if tx is not None and self._tx is not None and (tx.suite, tx.key) == (self._tx.suite, self._tx.key):
            self._tx = tx
        if rx is not None and self._rx is not None and \
                (rx.suite, rx.key, rx.mki) == (self._rx.suite, self._rx.key, self._rx.mki):
            self._rx = rx
        self.ssrc = ssrc
        self.cname = cname
        self._seq = seq & 0xFFFF
        self._ts = (ts + int(max(0.0, now - then) * CLOCK_RATE)) & 0xFFFFFFFF
        self._marker = True

    # -- receiving ----------------------------------------------------------------------------

    def on_packet(self, data: bytes, addr, now: float) -> list:
        """One datagram from `addr` in; events out: ("digit", d), ("digit_end", d, ms),
        ("bye", ssrc), ("ssrc", ssrc) when a new remote source takes over."""
        events = self._pending
        self._pending = []
        rtcp = is_rtcp(data)
        if self._rx is not None:
            data = self._unprotect(self._rx.unprotect_rtcp if rtcp else self._rx.unprotect, data)
            if data is None:
                return events
        if rtcp:
            return events + self._on_rtcp(data, now)
        try:
            pkt = RtpPacket.parse(data)
        except ValueError:
            self.errors += 1
            return events
        pt = pkt.payload_type
        decode = self._decoders.get(pt)
        if decode is None and pt != PT_CN and (self.dtmf_pt is None or pt != self.dtmf_pt):
            self.ignored += 1
            return events
        if pkt.ssrc != self.remote_ssrc:
            if not self._switch_source(pkt, now):
                self.ignored += 1
                return events
            events.append(("ssrc", pkt.ssrc))
        else:
            self._cand = None
            self._moved = False
        self.latched = tuple(addr)   # symmetric RTP; also follows a NAT rebinding
        self._last_rx = now
        self.received += 1
        self._rstats.update(pkt.sequence_number, pkt.timestamp, now, decode is not None)
        if not self.receiving:
            return events
        if self.dtmf_pt is not None and pt == self.dtmf_pt:
            try:
                events += self._events_in.on_event(pkt.timestamp, pkt.payload, now)
            except ValueError:
                self.errors += 1
            pcm = None
        elif decode is None:  # comfort noise: nothing to play, but no loss either
            pcm = None
        else:
            pcm = decode(pkt.payload)
        self.jitter.put(pkt.sequence_number, pkt.timestamp, pcm, now, pkt.ssrc, pkt.marker)
        return events

    def _unprotect(self, unprotect, data):
        try:
            return unprotect(data)
        except self._srtp_mod.AuthFailed:
            self.srtp_auth_failed += 1
        except self._srtp_mod.Replayed:
            self.srtp_replayed += 1
        except ValueError:           # srtp.SrtpError: too short, too long, a libsrtp error
            self.errors += 1
        return None

    def _switch_source(self, pkt, now):
        if self.remote_ssrc is not None:
            silent = self._last_rx is None or now - self._last_rx >= self.ssrc_timeout
            if not (self._bye or self._moved or silent):
                if pkt.ssrc == self._cand:
                    self._cand_count += 1
                else:
                    self._cand, self._cand_count = pkt.ssrc, 1
                if self._cand_count < SSRC_SWITCH_PACKETS:
                    return False
            self._lost_prior += self._rstats.lost
        self.remote_ssrc = pkt.ssrc
        self._g722_dec = None        # a new source's ADPCM state starts from rest (rule 7)
        self._widen = None           # and so does its interpolator's history (rule 8)
        self._rstats = ReceiverStats(pkt.ssrc, pkt.sequence_number)
        self._events_in = EventReceiver()
        self._bye = self._moved = False
        self._cand = None
        return True

    def _on_rtcp(self, data, now):
        try:
            packets = parse_compound(data)
        except ValueError:
            self.errors += 1
            return []
        events = []
        for p in packets:
            if isinstance(p, RtcpSrPacket) and p.ssrc == self.remote_ssrc:
                self._rstats.on_sender_report(p.ntp, now)
            elif isinstance(p, RtcpByePacket) and self.remote_ssrc in p.sources:
                self._bye = True
                events.append(("bye", self.remote_ssrc))
        return events

    def playout(self, now: float) -> bytes:
        """The next frame for the earpiece: decoded audio, concealment or silence."""
        if not self.receiving:
            return bytes(2 * self.frame_samples)
        return self.jitter.get(now)

    # -- RTCP ---------------------------------------------------------------------------------

    def deadline(self) -> float:
        """When `on_timer` wants to run next."""
        d = self._events_in.deadline()
        return self._next_rtcp if d is None or d > self._next_rtcp else d

    def on_timer(self, now: float) -> list:
        """Due RTCP reports as (bytes, addr); ends a digit whose packets stopped."""
        self._pending += self._events_in.expire(now)
        if now < self._next_rtcp:
            return []
        # RFC 3550 §6.3.1: randomise the interval to [0.5, 1.5] x its value
        self._next_rtcp = now + self.rtcp_interval * (0.5 + self._random())
        return self._report(now, [])

    def close(self, now: float) -> list:
        """The final RTCP compound with a BYE (RFC 3550 §6.6), as (bytes, addr) to send."""
        return self._report(now, [RtcpByePacket([self.ssrc])])

    def _report(self, now, extra):
        target = self.rtcp_target
        if target is None or target[0] in ("0.0.0.0", ""):
            return []
        reports = []
        if self._rstats is not None:
            reports.append(self._rstats.report_block(now))
        if self._sent_since_report:
            first = RtcpSrPacket(self.ssrc, ntp_timestamp(now + self.ntp_offset), self._ts,
                                 self.sent, self.sent_octets, reports)
        else:
            first = RtcpRrPacket(self.ssrc, reports)
        self._sent_since_report = False
        sdes = RtcpSdesPacket([(self.ssrc, [(SDES_CNAME, self.cname.encode())])])
        data = serialize_compound([first, sdes] + extra)
        if self._tx is not None:
            data = self._protect(self._tx.protect_rtcp, data)
            if data is None:
                return []
        return [(data, target)]

    # -- statistics ---------------------------------------------------------------------------

    def stats(self) -> dict:
        """The fields of the `media` event (INTERFACES.md): codec, sent, received, lost,
        jitter_ms, late; with SRTP also `srtp` (the suite), `srtp_auth_failed`, `srtp_replayed`."""
        lost = self._lost_prior + (self._rstats.lost if self._rstats else 0)
        jitter = self._rstats.jitter_ms if self._rstats else 0.0
        st = {"codec": self.codec, "sent": self.sent, "received": self.received,
              "lost": max(0, lost), "jitter_ms": round(jitter, 1), "late": self.jitter.late}
        if self.srtp_suite is not None:
            st.update(srtp=self.srtp_suite, srtp_auth_failed=self.srtp_auth_failed,
                      srtp_replayed=self.srtp_replayed)
        return st

