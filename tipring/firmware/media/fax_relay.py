"""T.38 fax relay for one call: the line's 8 kHz audio <-> UDPTL datagrams, in place of the
call's RTP stream while SDP has agreed `m=image ... udptl t38` (ITU-T T.38, RFC 3362).

What this module owns
---------------------
`FaxRelay`: the T.38 gateway (tipring/firmware/media/t38_gateway.py, spandsp) and the UDPTL
codec (tipring/firmware/media/udptl.py) of one call, shaped as the media router
(tipring/firmware/media/routing.py) drives a `MediaStream`, so the router keeps one shape for a
call's leg whichever media it carries:

    on_capture(frame, now) -> [(datagram, addr)]   the fax machine's 20 ms into IFP packets
    playout(now) -> frame                          the gateway's 20 ms for the fax machine
    on_packet(data, addr, now) -> []               a UDPTL datagram from the peer
    update(plan), close(now), stats(), deadline(), on_timer(now), send_state(now)

Rules
-----
1. Addresses: datagrams go to the plan's address and port (the peer's `m=image` port), from
   the call's own media port: T.38 takes over the RTP port (as HT802/SPA112 do), so the I/O
   layer's socket and the router's port lookup stay as they were.
2. UDPTL: redundancy 3 when `t38UDPRedundancy` was agreed (else none), datagrams kept within
   the peer's T38FaxMaxDatagram; the decoder recovers losses and drops duplicates; a datagram
   from another address than the peer's is still taken (NAT: the peer's packets may come
   from elsewhere), one that does not parse is counted.
3. Packets spandsp makes while taking the peer's packets go out with the next frame (at most
   20 ms later): the media clock is the only sender, as for RTP.
4. The line's rate: spandsp's modems run at 8 kHz (T.38 §6: the PSTN side is a 3.1 kHz
   channel). On a 16 kHz line (`line_rate` 16000, a wideband board) the mouthpiece frame is
   halved and the gateway's frame doubled through tipring/firmware/dsp/resample.py's
   half-band filters, so the fax machine's band crosses as it is and nothing aliases.
5. The `media` event at the end carries `codec` "T38", `sent`/`received` datagrams, `lost`
   (not recovered), `late`, `jitter_ms` 0 (no jitter buffer: the gateway plays out at once),
   and the UDPTL counters (`recovered`, `duplicate`, `malformed`), `ifp_sent`, `ifp_received`.
"""

from tipring.firmware.media.t38_gateway import T38Gateway
from tipring.firmware.media.udptl import DEFAULT_REDUNDANCY, UdptlDecoder, UdptlEncoder

FRAME_SAMPLES = 160          # 20 ms at the gateway's 8 kHz


class FaxRelay:
    """Represents the T.38 relay of one call (rules 1-5). `plan`: a MediaPlan with `t38`
    set; `local`: (host, port) of the call's media socket; `line_rate`: 8000 or 16000."""

    jitter = None            # no jitter buffer (the router asks)
    dtmf_pt = None           # no RFC 4733 in a fax relay

    def __init__(self, plan, local, now: float = 0.0, line_rate: int = 8000):
        if line_rate not in (8000, 16000):
            raise ValueError("line rate %r: T.38 relays an 8000 or 16000 Hz line" % (line_rate,))
        self.local = tuple(local)
        self.line_rate = line_rate
        self._down = self._up = None
        if line_rate == 16000:       # rule 4
            from tipring.firmware.dsp.resample import Decimator, Interpolator
            self._down, self._up = Decimator(), Interpolator()
        self.gateway = T38Gateway(plan.t38)
        self._set_plan(plan)
        self.decoder = UdptlDecoder()
        self.sent = 0
        self._pending = []       # IFP packets made while taking the peer's (rule 3)
        self.started = now

    def _set_plan(self, plan):
        session = plan.t38
        self.remote = (plan.address, plan.port)
        self.direction = plan.direction
        self.session = session
        redundancy = DEFAULT_REDUNDANCY if session is None or session.redundancy else 0
        old = getattr(self, "encoder", None)
        self.encoder = UdptlEncoder(redundancy, session.peer_max_datagram if session else None,
                                    first_seq=old.seq if old is not None else 0)

    @property
    def kind(self) -> str:
        return "t38"

    def update(self, plan) -> None:
        """A new T.38 plan for the same call (a re-INVITE moved the peer or changed values)."""
        self._set_plan(plan)
        self.gateway.configure(plan.t38)

    def on_capture(self, frame: bytes, now: float) -> list:
        """The fax machine's frame into the gateway; the datagrams to send (rule 3)."""
        if frame and self._down is not None:
            frame = self._down.process(frame)
        ifps = self._pending + (self.gateway.from_line(frame) if frame else [])
        self._pending = []
        if not ifps or self.direction in ("recvonly", "inactive"):
            return []
        out = []
        for ifp in ifps:
            out.append((self.encoder.encode(ifp), self.remote))
        self.sent += len(out)
        return out

    def playout(self, now: float) -> bytes:
        """The gateway's next 20 ms for the fax machine, at the line's rate (rule 4)."""
        frame = self.gateway.to_line(FRAME_SAMPLES)
        return self._up.process(frame) if self._up is not None else frame

    def on_packet(self, data: bytes, addr, now: float) -> list:
        """A UDPTL datagram from the peer: its new IFP packets into the gateway (rule 2)."""
        for seq, ifp in self.decoder.receive(data):
            self._pending += self.gateway.from_peer(seq, ifp)
        return []

    def deadline(self) -> float:
        return float("inf")         # no RTCP for UDPTL

    def on_timer(self, now: float) -> list:
        return []

    def send_state(self, now: float):
        return None                 # nothing for a later RTP stream to carry on

    def close(self, now: float) -> list:
        """Free the gateway (idempotent); nothing to send (UDPTL has no BYE)."""
        self.gateway.close()
        return []

    def stats(self) -> dict:
        d = self.decoder
        return {"codec": "T38", "sent": self.sent, "received": d.received, "lost": d.lost,
                "late": d.late, "jitter_ms": 0, "recovered": d.recovered,
                "duplicate": d.duplicate, "malformed": d.malformed,
                "ifp_sent": self.gateway.packets_out, "ifp_received": self.gateway.packets_in}

    def __repr__(self):
        return "<FaxRelay %s:%d -> %s:%d>" % (self.local + self.remote)
