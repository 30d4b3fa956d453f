"""SRTP and SRTCP (RFC 3711) for one media stream, over libsrtp 2 through pylibsrtp.

What this module owns
---------------------
The cryptographic contexts of one call's stream: `SrtpSender` protects the RTP and RTCP we send
with our master key, `SrtpReceiver` checks and decrypts what the peer sends with its key. The
keys come from the SDP (`tipring.firmware.media.sdes.SrtpKeys`); `tipring.firmware.media.stream` holds the
contexts and calls them per packet. Pure computation on bytes, no socket or clock, but not
portable: it needs the pylibsrtp package (a C library), so it is imported only when a stream
negotiates SRTP, and a tipring without pylibsrtp runs with SRTP off (`available()` says
whether it can; config validation refuses `srtp` modes other than "off" without it).

Rules
-----
1. One libsrtp session per key and direction. Its per-source state (the rollover counter and
   the replay window, RFC 3711 §3.3.1, §3.3.2) lives as long as the key: a stream that carries
   on as the same RTP source (resume, swap, conference) keeps the same `SrtpSender`, so the
   packet index only moves forward and a keystream is never used twice. A new key is a new
   session whose index starts again with the rollover counter at 0, on both sides.
2. Inbound the session takes any SSRC (libsrtp's "any inbound" template): a new remote source
   gets its own context, cloned only once a packet of it authenticates.
3. Nothing the network sends raises anything but `SrtpError`: `AuthFailed` (the tag does not
   match, RFC 3711 §3.3 step 5; also a plain RTP packet), `Replayed` (an index seen before or
   too old for the window, §3.3.2), or `SrtpError` itself (too short, too long, a libsrtp
   error). The stream counts and drops; the call goes on.
4. MKI (RFC 3711 §3.1, RFC 4568 §6.1): the peer's packets may carry an MKI of `rx_mki` bytes
   between the payload and the tag; it is outside the authenticated portion, so it is cut out
   before libsrtp sees the packet. We send none.
"""

try:
    import pylibsrtp
except ImportError:   # pragma: no cover - exercised on machines without the package
    pylibsrtp = None

# libsrtp's error texts for the failures we tell apart (pylibsrtp raises Error(text))
_AUTH = "authentication failure"
_REPLAY = ("replay check failed (bad index)", "replay check failed (index too old)")
MAX_PACKET = 1500 - 148     # pylibsrtp's buffer less the largest trailer it reserves
RTP_HEADER = 12
SRTCP_INDEX = 4
REPLAY_WINDOW = 128         # packets: 2.5 s of 20 ms audio arriving out of order (RFC 3711 §3.3.2)


class SrtpError(ValueError):
    """A packet SRTP cannot use; it is dropped."""


class AuthFailed(SrtpError):
    """The authentication tag does not match (tampered, wrong key, or plain RTP)."""


class Replayed(SrtpError):
    """The packet index was seen before or is older than the replay window."""


def available() -> bool:
    """Whether SRTP can run here (pylibsrtp imports)."""
    return pylibsrtp is not None


def _profile(suite):
    if pylibsrtp is None:
        raise SrtpError("SRTP needs the pylibsrtp package (pip install pylibsrtp)")
    profiles = {"AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
                "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32}
    try:
        return profiles[suite.upper()]
    except KeyError:
        raise SrtpError("unsupported SRTP suite %r" % suite)


def _session(suite, key, ssrc_type):
    policy = pylibsrtp.Policy(key=bytes(key), ssrc_type=ssrc_type, srtp_profile=_profile(suite))
    policy.window_size = REPLAY_WINDOW
    try:
        return pylibsrtp.Session(policy)
    except pylibsrtp.Error as e:
        raise SrtpError("cannot set up SRTP: %s" % e)


def _raise(e):
    text = str(e)
    if text == _AUTH:
        raise AuthFailed(text)
    if text in _REPLAY:
        raise Replayed(text)
    raise SrtpError(text)


class SrtpSender:
    """Represents our sending side of one SRTP stream: `suite` (RFC 4568 name), `key` (30
    bytes of master key || salt).

        tx = SrtpSender("AES_CM_128_HMAC_SHA1_80", key)
        sock.sendto(tx.protect(rtp), addr); sock.sendto(tx.protect_rtcp(rtcp), addr2)
    """

    def __init__(self, suite: str, key: bytes):
        self.suite = suite.upper()
        self.key = bytes(key)
        self._s = _session(suite, key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)

    def __repr__(self):
        return "<SrtpSender %s>" % self.suite

    def protect(self, packet: bytes) -> bytes:
        """SRTP packet for an RTP packet; `SrtpError` when libsrtp refuses it (a repeated
        index: rule 1 says it never happens)."""
        if len(packet) < RTP_HEADER or len(packet) > MAX_PACKET:
            raise SrtpError("RTP packet of %d bytes" % len(packet))
        try:
            return self._s.protect(bytes(packet))
        except pylibsrtp.Error as e:
            _raise(e)

    def protect_rtcp(self, packet: bytes) -> bytes:
        """SRTCP packet (encrypted, E flag, index, 80-bit tag) for an RTCP compound."""
        if len(packet) < 8 or len(packet) > MAX_PACKET:
            raise SrtpError("RTCP packet of %d bytes" % len(packet))
        try:
            return self._s.protect_rtcp(bytes(packet))
        except pylibsrtp.Error as e:
            _raise(e)


class SrtpReceiver:
    """Represents our receiving side of one SRTP stream: the peer's `suite` and `key`, and
    `mki`, the MKI length in bytes its packets carry (0: none)."""

    def __init__(self, suite: str, key: bytes, mki: int = 0):
        self.suite = suite.upper()
        self.key = bytes(key)
        self.mki = mki
        self.tag_len = 4 if self.suite.endswith("_32") else 10
        self._s = _session(suite, key, pylibsrtp.Policy.SSRC_ANY_INBOUND)

    def __repr__(self):
        return "<SrtpReceiver %s>" % self.suite

    def _cut_mki(self, packet, tag_len, header):
        if not self.mki:
            return packet
        if len(packet) < header + self.mki + tag_len:
            raise AuthFailed("too short for MKI and tag")
        end = len(packet) - tag_len
        return packet[:end - self.mki] + packet[end:]

    def unprotect(self, packet: bytes) -> bytes:
        """The RTP packet inside an SRTP one; `AuthFailed`, `Replayed` or `SrtpError`."""
        if len(packet) < RTP_HEADER + self.tag_len or len(packet) > MAX_PACKET:
            raise SrtpError("SRTP packet of %d bytes" % len(packet))
        packet = self._cut_mki(bytes(packet), self.tag_len, RTP_HEADER)
        try:
            return self._s.unprotect(packet)
        except pylibsrtp.Error as e:
            _raise(e)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The RTCP compound inside an SRTCP packet (80-bit tag whatever the suite)."""
        if len(packet) < 8 + SRTCP_INDEX + 10 or len(packet) > MAX_PACKET:
            raise SrtpError("SRTCP packet of %d bytes" % len(packet))
        packet = self._cut_mki(bytes(packet), 10, 8 + SRTCP_INDEX)
        try:
            return self._s.unprotect_rtcp(packet)
        except pylibsrtp.Error as e:
            _raise(e)
