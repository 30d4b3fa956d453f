"""What SRTP costs per packet and per call: protect + unprotect of a G.711 20 ms packet.

Measures, in this process, with time.perf_counter() over N packets (a sequence that runs past
a wrap, so the rollover counter moves):

  1. libsrtp alone: SrtpSender.protect and SrtpReceiver.unprotect (tipring/firmware/media/srtp.py over
     pylibsrtp) on a 172-byte RTP packet (12 header + 160 PCMU), both suites;
     SRTCP protect + unprotect of a 52-byte SR+SDES compound.
  2. In the stream: MediaStream.on_capture + the peer's on_packet + playout for one 20 ms
     frame, plain RTP vs SRTP (AES_CM_128_HMAC_SHA1_80), best of 3 alternating runs, so the
     difference is what a call pays per frame each way, G.711 encode/decode and the jitter
     buffer included in both.

A call sends 50 packets a second and receives 50: the per-call CPU share is 50 x (protect +
unprotect) per second. Prints microseconds per packet and that share.

    .venv/bin/python tools/bench/srtp_cost.py [--packets 20000]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tipring.firmware.media.rtp import RtpPacket  # noqa: E402
from tipring.firmware.media.sdes import SrtpKeys  # noqa: E402
from tipring.firmware.media.srtp import SrtpReceiver, SrtpSender  # noqa: E402
from tipring.firmware.media.stream import MediaStream  # noqa: E402

S80, S32 = "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"


def per_packet(fn, items):
    t0 = time.perf_counter()
    for x in items:
        fn(x)
    return (time.perf_counter() - t0) / len(items) * 1e6


def libsrtp(suite, n):
    key = os.urandom(30)
    tx, rx = SrtpSender(suite, key), SrtpReceiver(suite, key)
    start = 65536 - n // 2                      # through a sequence wrap
    plain = [RtpPacket(0, False, (start + i) & 0xFFFF, i * 160, 0x1234, os.urandom(160)).serialize()
             for i in range(n)]
    wire = []
    t_protect = per_packet(lambda p: wire.append(tx.protect(p)), plain)
    t_unprotect = per_packet(rx.unprotect, wire)
    sr = bytes.fromhex("80c80006000012340000000000000000000000000000000000000000"
                       "81ca0005000012340108746970726e6700000000")
    srtcp = []
    t_rtcp = per_packet(lambda p: srtcp.append(tx.protect_rtcp(p)), [sr] * (n // 10))
    t_rtcp += per_packet(rx.unprotect_rtcp, srtcp)
    return t_protect, t_unprotect, t_rtcp


def stream_frame(srtp, n):
    """Microseconds for one 20 ms frame out of a and into b (capture -> packet -> play)."""
    ka, kb = os.urandom(30), os.urandom(30)
    a = MediaStream(("10.0.0.1", 4000), ("10.0.0.2", 5000),
                    srtp=SrtpKeys(S80, ka, kb) if srtp else None)
    b = MediaStream(("10.0.0.2", 5000), ("10.0.0.1", 4000),
                    srtp=SrtpKeys(S80, kb, ka) if srtp else None)
    frame = os.urandom(320)
    t0 = time.perf_counter()
    for i in range(n):
        now = i * 0.02
        for data, _ in a.on_capture(frame, now):
            b.on_packet(data, ("10.0.0.1", 4000), now)
        b.playout(now)
    dt = (time.perf_counter() - t0) / n * 1e6
    assert b.received == n and b.srtp_auth_failed == 0
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=20000)
    n = ap.parse_args().packets
    print("SRTP per packet (%d packets, python %s, %s)" % (n, sys.version.split()[0], os.uname().machine))
    for suite in (S80, S32):
        p, u, r = libsrtp(suite, n)
        print("  %-24s protect %6.2f us  unprotect %6.2f us  SRTCP both %6.2f us" % (suite, p, u, r))
        print("  %-24s per call: 50 pps each way = %.3f %% of one core" % ("", 50 * (p + u) / 1e4))
    # best of 3, alternating, so a busy neighbour on a shared machine skews neither side
    runs = [(stream_frame(False, n), stream_frame(True, n)) for _ in range(3)]
    plain, secure = min(r[0] for r in runs), min(r[1] for r in runs)
    print("  MediaStream frame out+in: plain %.1f us, SRTP %.1f us, SRTP adds %.1f us per frame "
          "(%.3f %% of one core per call)" % (plain, secure, secure - plain, 50 * (secure - plain) / 1e4))


if __name__ == "__main__":
    main()
