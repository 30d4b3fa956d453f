"""SDP security descriptions for SRTP (RFC 4568): the `a=crypto` attribute and its choice.

What this module owns
---------------------
The text of `a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [params]` both ways
(RFC 4568 §9.1), which of an offer's attributes a G.711 line can use, and the keys the two sides
end up with (`SrtpKeys`). It knows no SDP body, socket, clock or cipher: `tipring.firmware.media.sdp`
hands it `a=` values and gets attributes back; the keys it is given are bytes the I/O layer drew
(os.urandom); `tipring.firmware.media.srtp` does the cryptography.

Rules
-----
1. Suites: AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2), a 16-byte master
   key and a 14-byte master salt, sent as 40 characters of base64. SRTCP always carries an 80-bit
   tag (§6.2.2). Every other suite (AES-256, GCM, F8, NULL) is unknown here and skipped.
2. Parsing never raises for what a peer sends: `parse_crypto` raises `ValueError` naming the
   defect, and `crypto_attributes` turns a media section's lines into the attributes that parse,
   dropping the rest (a malformed or unknown attribute is not a reason to fail a call, RFC 4568
   §7.1.2 lets the answerer pick among the others).
3. Usable (`usable`): a known suite, exactly one inline key of the suite's length, an MKI of at
   most 4 bytes (the receiver removes it before authenticating, RFC 3711 §3.1: it is not in the
   authenticated portion), and only session parameters we honour: KDR=0, WSH, FEC_ORDER, and
   any dash-prefixed extension (optional by §6.3.7). UNENCRYPTED_*/UNAUTHENTICATED_SRTP (we
   want protection), KDR other than 0 and FEC_KEY (libsrtp does neither), and every unknown
   mandatory parameter make the attribute unusable (§6.3.7: "MUST be considered invalid").
4. Choice (RFC 4568 §7.1.2): the answer takes the first usable attribute in the offer's order,
   answers with its tag and suite and our own key; the offerer accepts an answer only when its
   tag and suite are one it offered (§7.1.3). The lifetime is read and written but not enforced:
   2^31 packets is 497 days of 20 ms G.711, far beyond a call.
"""

import binascii

SUITES = {
    # name: (master key bytes, master salt bytes, SRTP auth tag bytes)
    "AES_CM_128_HMAC_SHA1_80": (16, 14, 10),
    "AES_CM_128_HMAC_SHA1_32": (16, 14, 4),
}
DEFAULT_SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_LENGTH = 30          # master key || master salt of both suites
MAX_MKI_BYTES = 4
# session parameters (RFC 4568 §6.3) we can honour as given: name -> accepted values or None (any)
_HONOURED = {"KDR": ("0",), "WSH": None, "FEC_ORDER": ("FEC_SRTP", "SRTP_FEC")}


class CryptoAttribute:
    """Represents one `a=crypto` value (RFC 4568 §9.1) with a single inline key.

    `tag` (int, 1-999999999), `suite` (text as sent), `key` (bytes: master key || salt),
    `lifetime` (packets, int, or None), `mki` ((value, length in bytes) or None), `params`
    (session parameters as text, in order), `keys` (how many key-params the line had).

        a = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", key)
        "a=crypto:%s" % a     # a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...
    """

    __slots__ = ("tag", "suite", "key", "lifetime", "mki", "params", "keys")

    def __init__(self, tag: int, suite: str, key: bytes, lifetime: int = None, mki=None,
                 params=None, keys: int = 1):
        self.tag = tag
        self.suite = suite
        self.key = key
        self.lifetime = lifetime
        self.mki = mki
        self.params = list(params or [])
        self.keys = keys

    def __str__(self):
        info = binascii.b2a_base64(self.key).decode().strip()
        if self.lifetime is not None:
            info += "|2^%d" % _log2(self.lifetime) if _is_pow2(self.lifetime) else "|%d" % self.lifetime
        if self.mki is not None:
            info += "|%d:%d" % self.mki
        return " ".join(["%d %s inline:%s" % (self.tag, self.suite, info)] + self.params)

    def __repr__(self):
        return "<CryptoAttribute %d %s%s>" % (self.tag, self.suite, " MKI" if self.mki else "")


def _is_pow2(n):
    return n > 0 and n & (n - 1) == 0


def _log2(n):
    k = 0
    while n > 1:
        n >>= 1
        k += 1
    return k


def _number(text, what):
    if not text or not text.isdigit() or len(text) > 20:
        raise ValueError("bad %s %r" % (what, text))
    return int(text)


def _key_info(info):
    """`key-salt ["|" lifetime] ["|" mki-value ":" mki-length]` -> (key, lifetime, mki)."""
    parts = info.split("|")
    if len(parts) > 3:
        raise ValueError("too many '|' fields in the key")
    if not parts[0] or any(c not in _B64 for c in parts[0]):
        raise ValueError("key is not base64")
    try:
        key = binascii.a2b_base64(parts[0])
    except ValueError:                         # binascii.Error is one (bad padding)
        raise ValueError("key is not base64")
    lifetime = mki = None
    for field in parts[1:]:
        if ":" in field:                           # MKI: value ":" length (bytes, 1-128)
            if mki is not None:
                raise ValueError("two MKI fields")
            v, _, n = field.partition(":")
            mki = (_number(v, "MKI value"), _number(n, "MKI length"))
            if not 1 <= mki[1] <= 128:
                raise ValueError("MKI length out of range (1-128)")
        else:
            if lifetime is not None or mki is not None:
                raise ValueError("lifetime after MKI or twice")
            if field.startswith("2^"):
                exp = _number(field[2:], "lifetime")
                if exp > 64:
                    raise ValueError("lifetime out of range")
                lifetime = 1 << exp
            else:
                lifetime = _number(field, "lifetime")
    return key, lifetime, mki


_B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def parse_crypto(value: str) -> CryptoAttribute:
    """Parse the value of an `a=crypto:` attribute (without the `crypto:`). Raises
    `ValueError` naming what is wrong; a second key-param is counted, not read."""
    fields = value.split()
    if len(fields) < 3:
        raise ValueError("crypto needs a tag, a suite and key parameters")
    tag = _number(fields[0], "tag")
    if not 1 <= tag <= 999999999 or len(fields[0]) > 9:
        raise ValueError("tag out of range (1-9 digits)")
    suite = fields[1]
    key_params = fields[2].split(";")
    method, sep, info = key_params[0].partition(":")
    if method.lower() != "inline" or not sep:
        raise ValueError("key method is not inline")
    key, lifetime, mki = _key_info(info)
    return CryptoAttribute(tag, suite, key, lifetime, mki, fields[3:], len(key_params))


def crypto_attributes(lines) -> list:
    """The parsable `a=crypto` attributes among a media section's (type, value) `lines`, in
    order; malformed ones are left out (rule 2)."""
    out = []
    for t, v in lines:
        if t == "a" and v[:7].lower() == "crypto:":
            try:
                out.append(parse_crypto(v[7:]))
            except ValueError:
                continue
    return out


def _params_ok(params):
    for p in params:
        if p.startswith("-"):
            continue                 # an optional extension: may be ignored (§6.3.7)
        name, eq, value = p.partition("=")
        if name not in _HONOURED:
            return False             # UNENCRYPTED_SRTP, FEC_KEY, unknown mandatory ones
        allowed = _HONOURED[name]
        if allowed is not None and value not in allowed:
            return False
    return True


def usable(a: CryptoAttribute) -> bool:
    """Whether we can run SRTP with the peer's attribute `a` (rule 3)."""
    spec = SUITES.get(a.suite.upper())
    return (spec is not None and a.keys == 1 and len(a.key) == spec[0] + spec[1]
            and (a.mki is None or a.mki[1] <= MAX_MKI_BYTES) and _params_ok(a.params))


def choose(attributes) -> CryptoAttribute:
    """The first usable attribute of an offer (rule 4), or None."""
    for a in attributes:
        if usable(a):
            return a
    return None


class SrtpKeys:
    """The SRTP of one negotiated stream, as the media side needs it: `suite` (upper-case
    name), `tx_key` (ours: what we send with), `rx_key` (the peer's), `rx_mki` (MKI length in
    bytes on the peer's packets, 0 without), `tag`. Equal when every field is equal, so a
    re-negotiation that keeps the keys is seen as no change."""

    __slots__ = ("suite", "tx_key", "rx_key", "rx_mki", "tag")

    def __init__(self, suite: str, tx_key: bytes, rx_key: bytes, rx_mki: int = 0, tag: int = 1):
        self.suite = suite.upper()
        self.tx_key = bytes(tx_key)
        self.rx_key = bytes(rx_key)
        self.rx_mki = rx_mki
        self.tag = tag

    def __eq__(self, other):
        return (isinstance(other, SrtpKeys) and self.suite == other.suite
                and self.tx_key == other.tx_key and self.rx_key == other.rx_key
                and self.rx_mki == other.rx_mki)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):   # never the keys: they are secrets like a password
        return "<SrtpKeys %s tag=%d>" % (self.suite, self.tag)


def keys_for(ours: CryptoAttribute, theirs: CryptoAttribute) -> SrtpKeys:
    """The keys of a stream whose crypto we sent as `ours` and the peer as `theirs`."""
    return SrtpKeys(ours.suite, ours.key, theirs.key, theirs.mki[1] if theirs.mki else 0, ours.tag)


def offer_choice(mode: str, proto: str, lines):
    """Answering a stream offered with `proto` and media `lines` under our SRTP `mode` (off,
    optional, required): (the offer's attribute we take or None, why we must refuse the stream
    or None)."""
    savp = proto.upper() == "RTP/SAVP"
    if mode == "off":
        return None, ("RTP/SAVP offered but SRTP is off on this line" if savp else None)
    chosen = choose(crypto_attributes(lines))
    if chosen is not None:
        return chosen, None
    if mode == "required" or savp:
        return None, "SRTP required: the offer has no usable a=crypto (we take %s)" % (
            " or ".join(SUITES))
    return None, None


def answer_keys(mode: str, proto: str, lines, offered: dict):
    """The keys our offer (`offered`: tag -> our CryptoAttribute, {} for a plain offer) and the
    answer's stream (`proto`, `lines`) agreed on; None for plain RTP. Raises ValueError when
    `mode` is required (or the answer is RTP/SAVP) and there is no usable match (§7.1.3)."""
    savp = proto.upper() == "RTP/SAVP"
    if offered:
        for a in crypto_attributes(lines):
            ours = offered.get(a.tag)
            if ours is not None and ours.suite == a.suite.upper() and usable(a):
                return keys_for(ours, a)
        if mode == "required" or savp:
            raise ValueError("SRTP required: the answer has no usable a=crypto")
    elif savp:
        raise ValueError("the answer is RTP/SAVP but we offered plain RTP")
    return None
