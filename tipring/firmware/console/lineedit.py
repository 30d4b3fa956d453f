"""A sans-IO line editor for the console: bytes in, events out (echo, edited lines, errors).

Rules:
1. No I/O and no clock. `feed(data)` yields events in order: `("out", bytes)` to write back,
   `("line", bytes)` for a finished line, `("error", text)`, `("interrupt",)` for ctrl-C and
   `("eof",)` for ctrl-D on an empty line. The caller may change `prompt` and `secret` between
   events (after a line it decides what the next prompt is), so `feed` is a generator.
2. CR, LF and CRLF each end exactly one line (a LF right after a CR is swallowed).
3. Interactive mode echoes and redraws with VT100 sequences; plain mode (a line-buffered client
   such as `nc`) echoes nothing but still honours backspace. `interactive=None` decides on the
   first input: one chunk holding a whole line without escapes means a line-buffered client.
4. Bad input never raises and never holds the editor: bytes are kept as typed, grouped into
   UTF-8 characters; the caller decodes the finished line. A line past `max_line` bytes is
   discarded with an error; the history keeps at most `history_size` lines of at most
   `max_line` bytes. Telnet commands go through `telnet.TelnetFilter` (bounded: an unfinished
   subnegotiation is dropped after `SB_LIMIT` bytes). An escape sequence is at most 16 bytes;
   one cut short by a control character (ESC then Enter, a new ESC) is dropped and that
   character is read as typed.

Keys: printable text; backspace (BS, DEL); ctrl-U (kill line); ctrl-A/ctrl-E and Home/End;
left/right arrows; Delete; ctrl-W (kill word); up/down (history); tab (completion through
`complete(text_before_cursor) -> (start, candidates)`); ctrl-C; ctrl-D; ctrl-L (redraw).
"""

CSI_KEYS = {b"A": "up", b"B": "down", b"C": "right", b"D": "left", b"H": "home", b"F": "end",
            b"1~": "home", b"7~": "home", b"4~": "end", b"8~": "end", b"3~": "delete"}
SS3_KEYS = {b"A": "up", b"B": "down", b"C": "right", b"D": "left", b"H": "home", b"F": "end"}
from tipring.firmware.console.telnet import TelnetFilter

CTRL_KEYS = {0x01: "home", 0x02: "left", 0x03: "interrupt", 0x04: "eof", 0x05: "end",
             0x06: "right", 0x08: "backspace", 0x09: "tab", 0x0C: "redraw", 0x0E: "down",
             0x10: "up", 0x15: "kill", 0x17: "kill_word", 0x7F: "backspace"}
IAC = 0xFF
MAX_ESCAPE = 16       # bytes after ESC; longer is not a key we know


def _utf8_len(lead: int) -> int:
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 1  # a stray continuation or an impossible byte: one (invalid) character


def common_prefix(words: list) -> str:
    if not words:
        return ""
    lo, hi = min(words), max(words)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    return lo[:n]


class LineEditor:
    """Turns keystrokes into lines, with echo and editing when the terminal is interactive.

    :param interactive: True (echo, VT100 editing), False (no echo) or None (decide on first input).
    :param complete: `complete(text) -> (start, candidates)`; candidates replace `text[start:]`.
    :param max_line: longest line in bytes; longer ones are discarded with an error.
    :param history_size: lines kept for up/down.
    :param keep: `keep(text) -> bool` decides which finished lines go into the history (all
        but secret ones when omitted; the shell leaves out `set ... password` lines).
    """

    def __init__(self, interactive=True, complete=None, max_line: int = 1024, history_size: int = 50,
                 keep=None):
        self.interactive = interactive
        self.keep = keep
        self.complete = complete
        self.max_line = max_line
        self.history = []
        self.history_size = history_size
        self.prompt = ""
        self.secret = False
        self._chars = []          # list of bytes, one UTF-8 character each
        self._cursor = 0
        self._pending = b""       # an incomplete UTF-8 character
        self._need = 0
        self._esc = None          # None, or the escape sequence so far (bytes after ESC)
        self.telnet = TelnetFilter()
        self._last_cr = False
        self._overflow = False
        self._hist_pos = None     # index into history while browsing
        self._saved = None        # the line being typed before browsing history

    # ------------------------------------------------------------ public
    @property
    def text(self) -> bytes:
        return b"".join(self._chars)

    def prompt_bytes(self) -> bytes:
        """The prompt to show for a fresh line."""
        return self.prompt.encode("utf-8")

    def redraw(self) -> bytes:
        """Prompt and the line typed so far, cursor in place (interactive terminals only)."""
        if not self.interactive:
            return b""
        shown = b"" if self.secret else self.text
        back = 0 if self.secret else len(self._chars) - self._cursor
        return (b"\r" + self.prompt_bytes() + shown + b"\x1b[K"
                + (b"\x1b[%dD" % back if back else b""))

    def around(self, text: bytes) -> bytes:
        """Output that prints `text` (whole CRLF-ended lines) above the line being typed."""
        if not self.interactive:
            return text
        return b"\r\x1b[K" + text + self.redraw()

    def add_history(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-self.history_size]

    def reset(self) -> None:
        self._chars, self._cursor = [], 0
        self._overflow = False
        self._hist_pos = self._saved = None

    def detect(self, data: bytes) -> None:
        """With `interactive=None`, decide from the first input: a whole line in one chunk,
        without escapes, comes from a line-buffered client (no echo wanted). Telnet
        negotiation (which `tipring console` sends from a terminal) means a terminal."""
        if self.interactive is None and data:
            body = data.rstrip(b"\r\n")
            self.interactive = not (len(data) > 1 and body != data and b"\x1b" not in data
                                    and bytes((IAC,)) not in data and len(body) > 0)

    def feed(self, data: bytes):
        """Yield the events `data` produces (see the module docstring)."""
        self.detect(data)
        for b in data:
            for ev in self._byte(b):
                yield ev

    def feed_byte(self, b: int) -> list:
        """The events of one input byte (for callers that stop part-way through a chunk)."""
        return list(self._byte(b))

    # ------------------------------------------------------------ byte level
    def _byte(self, b: int):
        for c in self.telnet.feed(b):
            yield from self._input(c)

    def _input(self, b: int):
        if self._esc is not None:
            if not (b < 0x20 or b == 0x7F or (b >= 0x80 and self._esc)):
                yield from self._escape(b)
                return
            self._esc = None       # cut short: drop the sequence, read this byte as typed
        if self._need:
            if 0x80 <= b <= 0xBF:
                self._pending += bytes((b,))
                self._need -= 1
                if not self._need:
                    ch, self._pending = self._pending, b""
                    yield from self._insert(ch)
                return
            ch, self._pending, self._need = self._pending, b"", 0
            yield from self._insert(ch)  # truncated character: kept, fails decoding later
        last_cr, self._last_cr = self._last_cr, b == 0x0D
        if b in (0x0D, 0x0A):
            if b == 0x0A and last_cr:
                return
            yield from self._enter()
        elif b == 0x1B:
            self._esc = b""
        elif b in CTRL_KEYS:
            yield from self._key(CTRL_KEYS[b])
        elif b < 0x20:
            return  # other control characters are ignored
        elif b < 0x80:
            yield from self._insert(bytes((b,)))
        else:
            n = _utf8_len(b)
            if n == 1:
                yield from self._insert(bytes((b,)))
            else:
                self._pending, self._need = bytes((b,)), n - 1

    def _escape(self, b: int):
        seq = self._esc + bytes((b,))
        if len(seq) == 1:
            if b in (0x5B, 0x4F):  # '[' or 'O'
                self._esc = seq
            elif b >= 0x80:        # ESC then text: the ESC alone is dropped
                self._esc = None
                yield from self._input(b)
            else:
                self._esc = None   # ESC + key (alt-key): ignored
            return
        if seq[:1] == b"O":
            self._esc = None
            key = SS3_KEYS.get(seq[1:])
            if key:
                yield from self._key(key)
            return
        if 0x40 <= b <= 0x7E:
            self._esc = None
            key = CSI_KEYS.get(seq[1:])
            if key:
                yield from self._key(key)
            return
        if len(seq) > MAX_ESCAPE:
            self._esc = None       # not a sequence we know: drop it
            return
        self._esc = seq

    # ------------------------------------------------------------ editing
    def _out(self, data: bytes):
        if self.interactive and data:
            yield ("out", data)

    def _insert(self, ch: bytes):
        if self._overflow:
            return
        if len(self.text) + len(ch) > self.max_line:
            self._overflow = True
            return
        self._chars.insert(self._cursor, ch)
        self._cursor += 1
        if self.secret:
            return
        rest = b"".join(self._chars[self._cursor:])
        tail = b"\x1b[%dD" % (len(self._chars) - self._cursor) if rest else b""
        yield from self._out(ch + rest + tail)

    def _enter(self):
        yield from self._out(b"\r\n")
        if self._overflow:
            self.reset()
            yield ("error", "line longer than %d characters; discarded" % self.max_line)
            return
        line = self.text
        self.reset()
        if not self.secret:
            try:
                text = line.decode("utf-8").strip()
                if self.keep is None or self.keep(text):
                    self.add_history(text)
            except UnicodeDecodeError:
                pass
        yield ("line", line)

    def _set_line(self, text: bytes):
        self._chars = [bytes((c,)) for c in text] if text.isascii() else self._split(text)
        self._cursor = len(self._chars)
        yield from self._out(self.redraw())

    @staticmethod
    def _split(text: bytes) -> list:
        out, i = [], 0
        while i < len(text):
            n = _utf8_len(text[i])
            out.append(text[i:i + n])
            i += n
        return out

    def _key(self, key: str):
        n = len(self._chars)
        if key == "backspace":
            if self._cursor == 0 or self._overflow:
                return
            del self._chars[self._cursor - 1]
            self._cursor -= 1
            if self.secret:
                return
            rest = b"".join(self._chars[self._cursor:])
            yield from self._out(b"\b" + rest + b" " + b"\x1b[%dD" % (len(self._chars) - self._cursor + 1))
        elif key == "delete":
            if self._cursor < n:
                del self._chars[self._cursor]
                yield from self._out(self.redraw())
        elif key == "kill":
            self.reset()
            yield from self._out(self.redraw())
        elif key == "kill_word":
            i = self._cursor
            while i > 0 and self._chars[i - 1] == b" ":
                i -= 1
            while i > 0 and self._chars[i - 1] != b" ":
                i -= 1
            del self._chars[i:self._cursor]
            self._cursor = i
            yield from self._out(self.redraw())
        elif key == "left":
            if self._cursor > 0 and not self.secret:
                self._cursor -= 1
                yield from self._out(b"\x1b[D")
        elif key == "right":
            if self._cursor < n and not self.secret:
                self._cursor += 1
                yield from self._out(b"\x1b[C")
        elif key == "home":
            self._cursor = 0
            yield from self._out(self.redraw())
        elif key == "end":
            self._cursor = n
            yield from self._out(self.redraw())
        elif key == "redraw":
            yield from self._out(b"\r\n" + self.redraw())
        elif key in ("up", "down"):
            yield from self._browse(key)
        elif key == "tab":
            yield from self._tab()
        elif key == "interrupt":
            yield from self._out(b"^C\r\n")
            self.reset()
            yield ("interrupt",)
        elif key == "eof":
            if n == 0:
                yield ("eof",)

    def _browse(self, key: str):
        if self.secret or not self.history:
            return
        if self._hist_pos is None:
            if key == "down":
                return
            self._saved = self.text
            self._hist_pos = len(self.history)
        pos = self._hist_pos + (-1 if key == "up" else 1)
        if pos < 0:
            return
        if pos >= len(self.history):
            self._hist_pos = None
            text, self._saved = self._saved or b"", None
        else:
            self._hist_pos = pos
            text = self.history[pos].encode("utf-8")
        yield from self._set_line(text)

    def _tab(self):
        if self.secret or self.complete is None or self._overflow:
            return
        try:
            text = b"".join(self._chars[:self._cursor]).decode("utf-8")
        except UnicodeDecodeError:
            return
        try:
            start, cands = self.complete(text)
        except Exception:
            return
        if not cands:
            return
        word = text[start:]
        prefix = common_prefix(cands)
        if len(cands) == 1 and not prefix.endswith("."):
            prefix += " "
        if len(prefix) > len(word) and prefix.startswith(word):
            for ch in prefix[len(word):]:
                yield from self._insert(ch.encode("utf-8"))
        elif len(cands) > 1:
            yield from self._out(b"\r\n" + "  ".join(cands).encode("utf-8") + b"\r\n" + self.redraw())
