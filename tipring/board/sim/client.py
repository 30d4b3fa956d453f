"""`tipring phone`: an interactive virtual handset, a thin REPL over the sim control protocol.

Reads verbs from stdin (the same verbs as INTERFACES.md's control protocol), adds ``line=N``
unless the request names a line, sends each request and prints the JSON reply. ``quit``,
``exit`` or end of input leave with status 0; a control port that does not answer gives a clear
message and status 1.

    $ tipring phone --control 127.0.0.1:7001 --line 1
    phone> offhook
    {"ok": true, "hook": "off"}
"""

import json
import socket
import sys

from tipring.firmware.config import parse_hostport


def _reply(f):
    raw = f.readline()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"ok": False, "error": "not JSON: %r" % raw[:200]}


def interactive(control: str, line: int = 1, stdin=None, stdout=None) -> int:
    """Run the REPL against `control` ("HOST:PORT") for line `line`; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        host, port = parse_hostport(control or "127.0.0.1:7001", 7001)
    except ValueError as e:
        print("tipring phone: bad --control %r: %s (want HOST:PORT)" % (control, e), file=sys.stderr)
        return 1
    try:
        s = socket.create_connection((host, port), timeout=5)
    except OSError as e:
        print("tipring phone: cannot connect to the sim board at %s:%d: %s (is `tipring run` "
              "running with board.kind = \"sim\"?)" % (host, port, e.strerror or e), file=sys.stderr)
        return 1
    s.settimeout(None)
    f = s.makefile("rb")
    tty = hasattr(stdin, "isatty") and stdin.isatty()
    try:
        while True:
            if tty:
                stdout.write("phone> ")
                stdout.flush()
            text = stdin.readline()
            if not text:
                return 0
            text = text.strip()
            if not text:
                continue
            if text.split()[0].lower() in ("quit", "exit"):
                return 0
            if not any(w.startswith("line=") for w in text.split()):
                text += " line=%d" % line
            try:
                s.sendall(text.encode("utf-8") + b"\n")
            except OSError as e:
                print("tipring phone: connection lost: %s" % e, file=sys.stderr)
                return 1
            r = _reply(f)
            if r is None:
                print("tipring phone: the sim board closed the connection", file=sys.stderr)
                return 1
            stdout.write(json.dumps(r) + "\n")
            stdout.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        s.close()
