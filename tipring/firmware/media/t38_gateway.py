"""The T.38 fax gateway of one call: line PCM <-> T.38 IFP packets, over spandsp's t38_gateway
(ITU-T T.38 §7 "gateway" mode: demodulate the fax machine's V.21/V.27ter/V.29/V.17 into IFP
packets, remodulate the peer's packets for it).

What this module owns
---------------------
`T38Gateway`: one spandsp `t38_gateway_state_t` for one call. `from_line(pcm)` takes a 20 ms
frame of the line's 8 kHz audio (what the fax machine sent) and returns the IFP packets the
gateway made of it; `from_peer(seq, ifp)` hands it one IFP packet from the far end (in
sequence order; UDPTL's recovery is tipring/firmware/media/udptl.py's job); `to_line(n)`
returns the next `n` samples for the fax machine. Computation only: no socket, no clock, no
thread (the packets come out of spandsp's callback during the call that made them).

Rules
-----
1. spandsp (Debian libspandsp2, 0.0.6) is reached through ctypes, loaded on first use, never
   at import: the firmware runs without it and `available()` says so, and then T.38 is never
   offered or accepted (`tipring.firmware.media.sdp` rule 7; the line's fax tones go to G.711
   pass-through). Opaque states are `c_void_p` (restype and argtypes set for each function,
   or 64-bit pointers are cut to ints); NULL to `t38_gateway_init` lets spandsp allocate; the
   state is freed by `close()`.
2. The gateway is set from what SDP agreed (`T38Session`): the version, the rate management
   (local or transferred TCF), the fastest image rate (V.17 14400 at most: the modems are
   V.27ter, V.29 and V.17), the peer's T38FaxMaxDatagram; ECM allowed; idle sends silence to
   the line so every `to_line` call has audio.
3. spandsp asks to send some packets `count` times (indicators and the end of data, its
   own repetition scheme); each copy is a packet of its own (it gets its own UDPTL sequence
   number), at most `MAX_REPEAT` copies, since UDPTL's redundancy already protects them.
4. The work per 20 ms frame stays small: tools/bench/t38.py prints microseconds per frame.
"""

PCM_RATE = 8000
MAX_REPEAT = 3
MODEMS_V27TER, MODEMS_V29, MODEMS_V17 = 0x01, 0x02, 0x04   # spandsp T30_SUPPORT_*
RATE_MANAGEMENT = {"localTCF": 1, "transferredTCF": 2}     # T38_DATA_RATE_MANAGEMENT_*

_lib = None
_why = None
_found = None       # whether the loader would find libspandsp (`available`), looked up once
_HANDLER = None     # the ctypes type of spandsp's t38_tx_packet_handler_t


class T38Unavailable(Exception):
    """T.38 cannot run here (no libspandsp, no ctypes); the message says why."""


def spandsp():
    """libspandsp through ctypes with the gateway's prototypes, loaded once (rule 1)."""
    global _lib, _why
    if _lib is not None:
        return _lib
    if _why is not None:
        raise T38Unavailable(_why)
    try:
        import ctypes
    except ImportError:       # MicroPython: no T.38, fax goes through G.711
        _why = "no ctypes in this Python"
        raise T38Unavailable(_why)
    try:
        # the soname first: ctypes.util.find_library runs ldconfig in a subprocess
        lib = ctypes.CDLL(SONAME)
    except OSError:
        _why = "libspandsp not found (Debian: apt-get install libspandsp2)"
        raise T38Unavailable(_why)
    _prototypes(ctypes, lib)
    _lib = lib
    return lib


def _prototypes(ctypes, lib):
    global _HANDLER
    vp, i, i16p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int16)
    _HANDLER = ctypes.CFUNCTYPE(i, vp, vp, ctypes.c_void_p, i, i)
    protos = {
        "t38_gateway_init": (vp, [vp, vp, vp]),
        "t38_gateway_free": (i, [vp]),
        "t38_gateway_rx": (i, [vp, i16p, i]),
        "t38_gateway_tx": (i, [vp, i16p, i]),
        "t38_gateway_set_ecm_capability": (None, [vp, i]),
        "t38_gateway_set_transmit_on_idle": (None, [vp, i]),
        "t38_gateway_set_supported_modems": (None, [vp, i]),
        "t38_gateway_get_t38_core_state": (vp, [vp]),
        "t38_core_rx_ifp_packet": (i, [vp, ctypes.c_char_p, i, ctypes.c_uint16]),
        "t38_set_t38_version": (None, [vp, i]),
        "t38_set_data_rate_management_method": (None, [vp, i]),
        "t38_set_max_datagram_size": (None, [vp, i]),
        "t38_set_fastest_image_data_rate": (None, [vp, i]),
    }
    declare(lib, protos)


def declare(lib, protos: dict) -> None:
    """Set each function's (restype, argtypes) from `protos` (rule 1: opaque states are
    c_void_p, else 64-bit pointers are cut to ints); the sim fax machine declares its own."""
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


SONAME = "libspandsp.so.2"
LIB_DIRS = ("/lib", "/usr/lib", "/usr/local/lib")


def _findable() -> bool:
    """Whether the dynamic loader would find libspandsp, without loading it: loading maps
    2 MB of RSS (libtiff and libjpeg come with it) into every ATA, fax or not, and every
    call asks (`tipring.firmware.media.t38.local_params`)."""
    import glob
    import os
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for base in LIB_DIRS:
        dirs.append(base)
        dirs += glob.glob(os.path.join(base, "*-linux-gnu*"))     # Debian multiarch
    return any(os.path.exists(os.path.join(d, SONAME)) for d in dirs)


def available() -> str:
    """None when T.38 can run here, else why not (one line). Loads nothing: the library is
    looked for where the loader looks, and loaded when a call first relays a fax (rule 1)."""
    if _lib is not None:
        return None
    if _why is not None:
        return _why
    try:
        from importlib.util import find_spec
        if find_spec("ctypes") is None:
            return "no ctypes in this Python"
    except ImportError:       # MicroPython: no T.38, fax goes through G.711
        return "no ctypes in this Python"
    global _found
    if _found is None:       # once: every call asks, and the file system does not change under us
        _found = _findable()
    if not _found:
        return "libspandsp not found (Debian: apt-get install libspandsp2)"
    return None


class T38Gateway:
    """Represents the T.38 gateway of one call (rules 2-3).

    `session`: the agreed `tipring.firmware.media.t38.T38Session` (None: T.38 defaults).

        gw = T38Gateway(plan.t38)
        ifps = gw.from_line(capture)          # every 20 ms, then UDPTL-encode each
        gw.from_peer(seq, ifp)                # each IFP the UDPTL decoder delivers
        heard = gw.to_line(160)               # the fax machine's next 20 ms
        gw.close()
    """

    def __init__(self, session=None):
        import ctypes
        self._ct = ctypes
        lib = spandsp()
        self._lib = lib
        self._out = []
        self._handler = _HANDLER(self._on_packet)   # kept: spandsp holds it
        self._state = lib.t38_gateway_init(None, ctypes.cast(self._handler, ctypes.c_void_p), None)
        if not self._state:
            raise T38Unavailable("t38_gateway_init failed")
        self._buf = (ctypes.c_int16 * PCM_RATE)()
        self.packets_out = 0
        self.packets_in = 0
        self.configure(session)

    def configure(self, session) -> None:
        """Set the gateway from the agreed T.38 parameters (rule 2)."""
        lib, gw = self._lib, self._state
        core = lib.t38_gateway_get_t38_core_state(gw)
        version = session.version if session is not None else 0
        rate = min(session.max_bit_rate, 14400) if session is not None else 14400
        method = RATE_MANAGEMENT.get(session.rate_management if session else "transferredTCF", 2)
        lib.t38_set_t38_version(core, version)
        lib.t38_set_data_rate_management_method(core, method)
        lib.t38_set_fastest_image_data_rate(core, rate)
        if session is not None and session.peer_max_datagram:
            lib.t38_set_max_datagram_size(core, session.peer_max_datagram)
        modems = MODEMS_V27TER | (MODEMS_V29 if rate >= 7200 else 0) | (MODEMS_V17 if rate >= 14400 else 0)
        lib.t38_gateway_set_supported_modems(gw, modems)
        lib.t38_gateway_set_ecm_capability(gw, 1)
        lib.t38_gateway_set_transmit_on_idle(gw, 1)
        self._core = core

    def _on_packet(self, core, user_data, buf, length, count):
        """spandsp's tx_packet_handler: one IFP packet to send `count` times (rule 3)."""
        try:
            data = self._ct.string_at(buf, length)
            for _ in range(max(1, min(count, MAX_REPEAT))):
                self._out.append(data)
        except Exception:       # never let an exception cross back into C
            pass
        return 0

    def from_line(self, pcm: bytes) -> list:
        """The line's audio (16-bit little-endian PCM, 8 kHz) in; the IFP packets it gave out."""
        n = len(pcm) // 2
        if n:
            self._ct.memmove(self._buf, pcm, 2 * min(n, PCM_RATE))
            self._lib.t38_gateway_rx(self._state, self._buf, min(n, PCM_RATE))
        return self._take()

    def _take(self):
        out, self._out = self._out, []
        self.packets_out += len(out)
        return out

    def from_peer(self, seq: int, ifp: bytes) -> list:
        """One IFP packet from the far end, in sequence; returns packets spandsp sent meanwhile."""
        self.packets_in += 1
        self._lib.t38_core_rx_ifp_packet(self._core, bytes(ifp), len(ifp), seq & 0xFFFF)
        return self._take()

    def to_line(self, samples: int) -> bytes:
        """The next `samples` of audio for the fax machine (silence when idle, rule 2)."""
        samples = min(samples, PCM_RATE)
        got = self._lib.t38_gateway_tx(self._state, self._buf, samples)
        data = self._ct.string_at(self._buf, 2 * max(0, got))
        return data + bytes(2 * (samples - max(0, got)))

    def close(self) -> None:
        """Free the spandsp state (idempotent)."""
        if self._state:
            self._lib.t38_gateway_free(self._state)
            self._state = None

    def __repr__(self):
        return "<T38Gateway out=%d in=%d%s>" % (self.packets_out, self.packets_in,
                                                "" if self._state else " closed")
