"""A fax machine for the sim board: spandsp's T.30 fax terminal (ITU-T T.30 over V.21, V.27ter,
V.29, V.17) on a line's audio, in place of the virtual handset's mouth and ear.

What this module owns
---------------------
`FaxMachine`: one spandsp `fax_state_t` (Debian libspandsp2 0.0.6, through ctypes) that sends
a TIFF (`send`, the calling fax: CNG, then the page) or receives one (`receive`, the
answering fax: CED, then writes the page to a TIFF), 20 ms at a time: `mouthpiece()` is the
frame the machine puts on the line, `earpiece(frame)` the line's audio it hears. `status()`
says how far it got: T.30 phase E completion code (0 = T30_ERR_OK) and its text, pages sent or
received, the bit rate and whether ECM ran. The sim handset (tipring/board/sim/handset.py)
carries one when the control protocol says `fax send FILE` or `fax receive FILE`; the hook
switch and the dial stay the handset's.

Rules
-----
1. ctypes loads spandsp on first use (tipring/firmware/media/t38_gateway.py's loader); without
   it `FaxUnavailable` says why. Opaque states are c_void_p; NULL to `fax_init` lets spandsp
   allocate; `close()` frees (idempotent).
2. Both machines support V.27ter, V.29 and V.17 and ECM, transmit silence when idle, and the
   phase E handler records the completion code when T.30 ends (the call may go on).
3. A file spandsp cannot read gives completion code T30_ERR_FILEERROR (not a crash): the
   status says so.
"""

PCM_RATE = 8000
FRAME_SAMPLES = 160
MODEMS = 0x01 | 0x02 | 0x04         # T30_SUPPORT_V27TER | V29 | V17

_ready = None
_PHASE_E = None


class FaxUnavailable(Exception):
    """No spandsp here; the message says why."""


def _fax_lib():
    """libspandsp with the fax terminal's prototypes (rule 1)."""
    global _ready, _PHASE_E
    from tipring.firmware.media.t38_gateway import T38Unavailable, declare, spandsp
    try:
        lib = spandsp()
    except T38Unavailable as e:
        raise FaxUnavailable(str(e))
    if _ready is None:
        import ctypes
        vp, i, i16p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int16)
        _PHASE_E = ctypes.CFUNCTYPE(None, vp, vp, i)
        protos = {
            "fax_init": (vp, [vp, i]), "fax_free": (i, [vp]),
            "fax_rx": (i, [vp, i16p, i]), "fax_tx": (i, [vp, i16p, i]),
            "fax_set_transmit_on_idle": (None, [vp, i]), "fax_get_t30_state": (vp, [vp]),
            "t30_set_tx_file": (None, [vp, ctypes.c_char_p, i, i]),
            "t30_set_rx_file": (None, [vp, ctypes.c_char_p, i]),
            "t30_set_tx_ident": (i, [vp, ctypes.c_char_p]),
            "t30_set_ecm_capability": (i, [vp, i]),
            "t30_set_supported_modems": (i, [vp, i]),
            "t30_set_phase_e_handler": (None, [vp, vp, vp]),
            "t30_get_transfer_statistics": (None, [vp, vp]),
            "t30_completion_code_to_str": (ctypes.c_char_p, [i]),
        }
        declare(lib, protos)
        _ready = True
    return lib


def available() -> str:
    """None when a fax machine can run here, else why not."""
    try:
        _fax_lib()
    except FaxUnavailable as e:
        return str(e)
    return None


def _stats_type():
    import ctypes
    # t30_stats_t of spandsp 0.0.6 (t30.h): fourteen ints
    fields = ["bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
              "x_resolution", "y_resolution", "width", "length", "image_size", "encoding",
              "bad_rows", "longest_bad_row_run", "error_correcting_mode_retries", "current_status"]
    return type("T30Stats", (ctypes.Structure,), {"_fields_": [(f, ctypes.c_int) for f in fields]})


class FaxMachine:
    """Represents a fax machine on a line: `mode` "send" (the calling fax, `path` a TIFF to send)
    or "receive" (the answering fax, `path` where the received TIFF goes); `ident`: its
    station identifier (T.30 TSI/CSI, up to 20 characters).

        fax = FaxMachine("send", "/tmp/page.tif")
        line_frame = fax.mouthpiece()        # every 20 ms
        fax.earpiece(frame_from_line)
        fax.status()["completion"] == 0      # the page went
    """

    def __init__(self, mode: str, path: str, ident: str = "tipring sim"):
        if mode not in ("send", "receive"):
            raise ValueError("fax mode must be send or receive, not %r" % (mode,))
        import ctypes
        self._ct = ctypes
        lib = _fax_lib()
        self._lib = lib
        self.mode = mode
        self.path = path
        self.completion = None        # T.30 phase E completion code once it ended
        self._state = lib.fax_init(None, 1 if mode == "send" else 0)
        if not self._state:
            raise FaxUnavailable("fax_init failed")
        t30 = lib.fax_get_t30_state(self._state)
        self._t30 = t30
        lib.fax_set_transmit_on_idle(self._state, 1)
        lib.t30_set_tx_ident(t30, ident[:20].encode("ascii", "replace"))
        lib.t30_set_ecm_capability(t30, 1)
        lib.t30_set_supported_modems(t30, MODEMS)
        if mode == "send":
            lib.t30_set_tx_file(t30, path.encode(), -1, -1)
        else:
            lib.t30_set_rx_file(t30, path.encode(), -1)
        self._phase_e = _PHASE_E(self._on_phase_e)     # kept: spandsp holds it
        lib.t30_set_phase_e_handler(t30, ctypes.cast(self._phase_e, ctypes.c_void_p), None)
        self._buf = (ctypes.c_int16 * FRAME_SAMPLES)()

    def _on_phase_e(self, t30, user_data, code):
        self.completion = int(code)

    @property
    def done(self) -> bool:
        return self.completion is not None

    def mouthpiece(self, samples: int = FRAME_SAMPLES) -> bytes:
        """What the machine sends on the line for the next `samples` (16-bit LE PCM)."""
        if not self._state:
            return bytes(2 * samples)
        samples = min(samples, FRAME_SAMPLES)
        got = max(0, self._lib.fax_tx(self._state, self._buf, samples))
        return self._ct.string_at(self._buf, 2 * got) + bytes(2 * (samples - got))

    def earpiece(self, frame: bytes) -> None:
        """The line's audio into the machine's modem (16-bit LE PCM)."""
        if not self._state:
            return
        for k in range(0, len(frame) // 2, FRAME_SAMPLES):
            chunk = frame[2 * k:2 * (k + FRAME_SAMPLES)]
            n = len(chunk) // 2
            self._ct.memmove(self._buf, chunk, 2 * n)
            self._lib.fax_rx(self._state, self._buf, n)

    def status(self) -> dict:
        """mode, file, done, completion (code, None while running) and its text, pages, bit rate, ECM."""
        st = {"mode": self.mode, "file": self.path, "done": self.done, "completion": self.completion}
        if self.completion is not None:
            st["result"] = (self._lib.t30_completion_code_to_str(self.completion) or b"").decode()
        if self._state:
            stats = _stats_type()()
            self._lib.t30_get_transfer_statistics(self._t30, self._ct.byref(stats))
            st.update(pages=stats.pages_tx if self.mode == "send" else stats.pages_rx,
                      bit_rate=stats.bit_rate, ecm=bool(stats.error_correcting_mode))
        return st

    def close(self) -> None:
        """Free spandsp's state (idempotent); a receiving machine's TIFF is complete after it."""
        if self._state:
            self._lib.fax_free(self._state)
            self._state = None

    def __repr__(self):
        return "<FaxMachine %s %s%s>" % (self.mode, self.path,
                                        " done %s" % self.completion if self.done else "")
