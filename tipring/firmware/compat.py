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

# MD5 and SHA-256 from CPython's own builtin modules where they exist: `hashlib` maps OpenSSL's
# libcrypto into the process (3.7 MB of RSS measured here), which an idle UDP ATA never needs
# (idle RSS target 30 MB); TLS and SHA-512/256 load it when they are used. MicroPython's
# hashlib is its own small module.
try:
    from _md5 import md5 as _md5  # type: ignore
    try:
        from _sha2 import sha256 as _sha256  # type: ignore  # CPython >= 3.12
    except ImportError:
        from _sha256 import sha256 as _sha256  # type: ignore  # CPython 3.11
except ImportError:
    _md5 = _sha256 = None
_hashlib = None


def _hashlib_module():
    global _hashlib
    if _hashlib is None:
        import hashlib
        _hashlib = hashlib
    return _hashlib


def hexdigest(algorithm: str, data: bytes) -> str:
    """Lower-case hex digest of `data` with `algorithm` ("md5", "sha256", "sha512-256").

    MicroPython's hashlib has md5/sha1/sha256 but no `hexdigest()` and no SHA-512/256; the
    latter raises ValueError here so the caller can report an unsupported algorithm.
    """
    name = algorithm.lower().replace("-", "")
    if name == "md5":
        h = _md5(data) if _md5 is not None else _hashlib_module().md5(data)
    elif name == "sha256":
        h = _sha256(data) if _sha256 is not None else _hashlib_module().sha256(data)
    elif name == "sha512256":
        if IS_MICROPYTHON:
            raise ValueError("SHA-512-256 is not available on this platform")
        try:
            h = _hashlib_module().new("sha512_256", data)
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
