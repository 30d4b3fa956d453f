"""The one place where CPython and MicroPython differ, for the sans-IO core.

`tipring/firmware/sip`, `media`, `dsp`, `line` and `calls` import only the standard modules that the
MicroPython unix port also has (struct, array, hashlib md5/sha256, binascii, re, json, time
ticks) and take anything else from here. No typing, enum, dataclasses or `__future__` in the core:
MicroPython lacks them. Type hints in signatures are fine (MicroPython parses and ignores them).

What lives here: `const`, `IS_MICROPYTHON`, the digest and random helpers, `audioop` (the C PCM
helpers: stdlib up to 3.12, the `audioop-lts` package from 3.13, None on MicroPython or where
missing) and the byte order of 16-bit PCM (`LITTLE_ENDIAN`, `le16_samples`, `le16_bytes`): the
wire and the sound card carry little-endian samples, `array("h")` holds native ones.
"""

try:  # MicroPython
    from micropython import const  # type: ignore
except ImportError:  # CPython
    def const(x):
        return x

import array as _array
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

# -- audioop: the C loops for PCM, or None -------------------------------------------------------
audioop = None
if not IS_MICROPYTHON:
    try:
        import warnings as _warnings
        with _warnings.catch_warnings():  # 3.11/3.12 warn that audioop goes away in 3.13
            _warnings.simplefilter("ignore", DeprecationWarning)
            import audioop
    except ImportError:  # 3.13+ without audioop-lts, or a stripped CPython
        audioop = None

# -- byte order of 16-bit PCM ---------------------------------------------------------------------
LITTLE_ENDIAN = sys.byteorder == "little"


def le16_samples(pcm, typecode: str = "h"):
    """The samples of 16-bit little-endian PCM as a native-order `array(typecode)` ("h" or "H")."""
    a = _array.array(typecode, pcm)
    if not LITTLE_ENDIAN:  # pragma: no cover - big-endian hosts
        a.byteswap()
    return a


def le16_bytes(samples) -> bytes:
    """Native-order 16-bit samples (an array, changed in place on big-endian hosts) as
    little-endian PCM bytes."""
    if not LITTLE_ENDIAN:  # pragma: no cover - big-endian hosts
        samples.byteswap()
    return bytes(samples)

try:
    import hashlib as _hashlib
except ImportError:  # pragma: no cover - every port we run on has it
    _hashlib = None


def hexdigest(algorithm: str, data: bytes) -> str:
    """Lower-case hex digest of `data` with `algorithm` ("md5", "sha256", "sha512-256").

    MicroPython's hashlib has md5/sha1/sha256 but no `hexdigest()` and no SHA-512/256; the
    latter raises ValueError here so the caller can report an unsupported algorithm.
    """
    name = algorithm.lower().replace("-", "")
    if name == "md5":
        h = _hashlib.md5(data)
    elif name == "sha256":
        h = _hashlib.sha256(data)
    elif name == "sha512256":
        if IS_MICROPYTHON:
            raise ValueError("SHA-512-256 is not available on this platform")
        try:
            h = _hashlib.new("sha512_256", data)
        except ValueError:
            raise ValueError("SHA-512-256 is not available on this platform")
    else:
        raise ValueError("unknown digest algorithm %r" % algorithm)
    d = h.digest()
    return "".join("%02x" % b for b in d)


try:
    from os import urandom as _urandom
except ImportError:  # pragma: no cover
    _urandom = None


def random_hex(nbytes: int = 8) -> str:
    """Random lower-case hex string, for tags, branches, cnonces and Call-IDs."""
    if _urandom is not None:
        b = _urandom(nbytes)
    else:  # pragma: no cover - MicroPython without os.urandom
        import random
        b = bytes(random.getrandbits(8) for _ in range(nbytes))
    return "".join("%02x" % x for x in b)
