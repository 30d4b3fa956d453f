"""Listen in on RTP on the loopback interface: what a peer is SENT, whatever the peer does with
it afterwards (baresip 1.0 stops feeding its sndfile recorder after a hold re-INVITE, so its
recordings cannot say what a held-then-resumed party hears).

An AF_PACKET socket on "lo" (Linux, root or CAP_NET_RAW) in a thread keeps every IPv4/UDP
datagram to one of the given destination ports that looks like RTP (version 2) with a G.711
payload (PT 0 or 8) or a G.722 one (PT 9). `pcm(mark, ports)` decodes the audio sent to those
ports since `mark` (G.722 through libg722's 8 kHz mode, one decoder per destination and source,
so it too comes back at 8000 Hz);
`sources(...)` tells whether the sender stayed one RTP source whose timestamps only moved
forward (what baresip 1.0 needs: it drops a stream whose timestamp goes back, new SSRC or not).

    tap = RtpTap(range(lo, hi))      # e.g. a baresip's rtp_ports
    m = tap.mark(); time.sleep(1); x = tap.pcm(m)
    tap.stop()
"""

import socket
import struct
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _ulaw(c):
    c = ~c & 0xFF
    exp, mant = (c >> 4) & 7, c & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return -s if c & 0x80 else s


def _alaw(c):
    c ^= 0x55
    exp, mant = (c >> 4) & 7, c & 0x0F
    s = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return s if c & 0x80 else -s


DECODE = {0: [_ulaw(i) for i in range(256)], 8: [_alaw(i) for i in range(256)]}
PT_G722 = 9
PAYLOAD_TYPES = (0, 8, PT_G722)


def available() -> bool:
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
    except (OSError, AttributeError):
        return False
    s.close()
    return True


class RtpTap:
    def __init__(self, ports):
        self.ports = set(ports)
        self.packets = []     # (monotonic t, src port, dst port, pt, marker, seq, ts, ssrc, payload)
        self._lock = threading.Lock()
        self._run = True
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._loop, name="rtptap", daemon=True)
        self.thread.start()

    def add_ports(self, ports):
        with self._lock:
            self.ports |= set(ports)

    def _loop(self):
        while self._run:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:       # loopback shows each datagram twice
                continue
            self._parse(frame)

    def _parse(self, frame):
        if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00":
            return
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 != 4 or ip[9] != 17:
            return
        udp = ip[ihl:]
        sport, dport = struct.unpack("!HH", udp[:4])
        with self._lock:
            if dport not in self.ports:
                return
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            return
        pt = rtp[1] & 0x7F
        if pt not in PAYLOAD_TYPES:
            return
        cc = rtp[0] & 0x0F
        seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
        payload = rtp[12 + 4 * cc:]
        with self._lock:
            self.packets.append((time.monotonic(), sport, dport, pt, bool(rtp[1] & 0x80), seq, ts, ssrc, payload))

    def mark(self) -> int:
        with self._lock:
            return len(self.packets)

    def since(self, mark=0, ports=None):
        with self._lock:
            got = self.packets[mark:]
        if ports is not None:
            ports = set(ports)
            got = [p for p in got if p[2] in ports]
        return got

    def pcm(self, mark=0, ports=None, rate=8000):
        """(samples, rate): the audio sent to `ports` (default: all) since `mark`, in arrival
        order. `rate` 16000 decodes G.722 wideband (its full QMF; for G.722 only)."""
        out = []
        g722 = {}    # (dst port, ssrc) -> G.722 decoder: ADPCM state follows each stream
        for p in self.since(mark, ports):
            if p[3] == PT_G722:
                key = (p[2], p[7])
                if key not in g722:
                    import G722
                    g722[key] = G722.G722(rate, 64000)
                out.extend(g722[key].decode(p[8]))
                continue
            if rate != 8000:
                raise ValueError("G.711 audio at %d Hz: decode it at 8000" % rate)
            table = DECODE[p[3]]
            out.extend(table[b] for b in p[8])
        return out, rate

    def sources(self, mark=0, ports=None):
        """What the far end at `ports` saw since `mark`: (number of SSRCs, number of times
        the timestamp went back within one destination)."""
        ssrcs, back, last = set(), 0, {}
        for p in self.since(mark, ports):
            ssrcs.add(p[7])
            prev = last.get(p[2])
            if prev is not None and ((p[6] - prev) & 0xFFFFFFFF) >= 0x80000000:
                back += 1
            last[p[2]] = p[6]
        return len(ssrcs), back

    def stop(self):
        self._run = False
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(2)
