"""Telnet commands in the console's input, skipped with bounded state (RFC 854, RFC 855).

`tipring console` announces itself with `IAC WILL TERMINAL-TYPE`, and a telnet client on the TCP
console negotiates options, so the console strips telnet commands from every transport's input.
On a UART the same bytes can also be line noise; the rules below make sure noise never holds
the console.

Rules:
1. Bounded state. A subnegotiation (`IAC SB ... IAC SE`) that does not end within `SB_LIMIT`
   bytes is abandoned: its first `SB_LIMIT` bytes are dropped and every byte after them is
   input again. Every other command is at most 3 bytes. No buffer grows with the input.
2. Nothing is lost that is not telnet. `IAC IAC` is one literal 0xFF; an IAC followed by a byte
   that is no telnet command (below 0xF0) is not telnet either: both bytes are input.
3. `feed(byte)` returns the input bytes that byte yields (b"", one byte, or 0xFF plus one);
   no I/O, no clock.

Theory of operation: five states in `TRANSITIONS`, state -> byte class -> (next state, action).
Byte classes: `iac` (0xFF), `sb` (0xFA), `se` (0xF0), `option` (WILL, WONT, DO, DONT: one option
byte follows), `command` (the other two-byte commands 0xF1-0xF9: NOP, DM, BRK, IP, AO, AYT, EC,
EL, GA) and `data` (below 0xF0). Inside a subnegotiation `IAC IAC` is an escaped 0xFF of its
body; `IAC` + anything but SE or IAC means the peer never sent SE: the subnegotiation ends and
the byte is read as the command after an IAC.
"""

IAC = 0xFF
SB = 0xFA
SE = 0xF0
SB_LIMIT = 64       # bytes of an unfinished subnegotiation before it is abandoned


def byte_class(b: int) -> str:
    if b == IAC:
        return "iac"
    if b == SB:
        return "sb"
    if b == SE:
        return "se"
    if 0xFB <= b <= 0xFE:
        return "option"
    if b > SE:
        return "command"
    return "data"


# state -> byte class -> (next state, action); actions: "input" (the byte is input), "ff"
# (a literal 0xFF), "ff+input" (a stray 0xFF, then the byte), "drop", "body" (counts against
# SB_LIMIT), "reread" (leave the subnegotiation, read the byte as a command after IAC)
TRANSITIONS = {
    "data": {"iac": ("iac", "drop"), "sb": ("data", "input"), "se": ("data", "input"),
             "option": ("data", "input"), "command": ("data", "input"), "data": ("data", "input")},
    "iac": {"iac": ("data", "ff"), "sb": ("sb", "drop"), "se": ("data", "drop"),
            "option": ("option", "drop"), "command": ("data", "drop"), "data": ("data", "ff+input")},
    "option": {"iac": ("data", "drop"), "sb": ("data", "drop"), "se": ("data", "drop"),
               "option": ("data", "drop"), "command": ("data", "drop"), "data": ("data", "drop")},
    "sb": {"iac": ("sb_iac", "body"), "sb": ("sb", "body"), "se": ("sb", "body"),
           "option": ("sb", "body"), "command": ("sb", "body"), "data": ("sb", "body")},
    "sb_iac": {"iac": ("sb", "body"), "se": ("data", "drop"), "sb": ("iac", "reread"),
               "option": ("iac", "reread"), "command": ("iac", "reread"), "data": ("iac", "reread")},
}


class TelnetFilter:
    """Represents the telnet layer of one console session's input.

    :param sb_limit: bytes of an unfinished subnegotiation before it is abandoned.

    `abandoned` counts subnegotiations cut off at the limit (noise on a serial line, or a
    hostile client), for the session's diagnostics.
    """

    def __init__(self, sb_limit: int = SB_LIMIT):
        self.sb_limit = sb_limit
        self.state = "data"
        self.abandoned = 0
        self._body = 0

    def __repr__(self):
        return "<TelnetFilter %s>" % self.state

    def feed(self, b: int) -> bytes:
        """The input bytes that byte `b` yields (see the module docstring)."""
        if self.state in ("sb", "sb_iac"):
            if self._body >= self.sb_limit:      # rule 1: abandon; this byte is input again
                self.abandoned += 1
                self.state = "data"
            else:
                self._body += 1
        nxt, action = TRANSITIONS[self.state][byte_class(b)]
        if nxt == "sb" and self.state == "iac":
            self._body = 0
        self.state = nxt
        if action == "input":
            return bytes((b,))
        if action == "ff":
            return b"\xff"
        if action == "ff+input":
            return bytes((IAC, b))
        if action == "reread":
            return self.feed(b)
        return b""

    def reset(self) -> None:
        self.state = "data"
        self._body = 0
