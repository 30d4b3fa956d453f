"""The sim board's control protocol (INTERFACES.md): TCP, line-based, UTF-8, one JSON reply each.

Owns the wire and the verbs; the handsets do the work. A request is one line,
``VERB [ARGS...] [line=N]`` (line 1 when omitted); the reply is one JSON line, ``{"ok": true, ...}``
or ``{"ok": false, "error": "..."}``. Several clients at once; all of it runs on the firmware's
event loop and never blocks it: sockets are non-blocking, and the verbs that take time
(`dial`, `flash`, `listen`, `record FILE MS`, `wait`) reply later from loop timers or the media
tick. A client's requests are answered in order: while one waits, its next lines queue.

    > offhook
    < {"ok": true, "hook": "off"}
    > listen 400
    < {"ok": true, "tone": "dial", "freqs": [350, 440], "cadence": [], "level_dbm0": -10.0, "ms": 400}
    > dial 5551234 mode=pulse pps=10 break=60
    < {"ok": true, "digits": "5551234", "mode": "pulse"}
    > wait tone=congestion 5
    < {"ok": false, "error": "timeout"}
    > frobnicate
    < {"ok": false, "error": "unknown verb 'frobnicate'; verbs: offhook, onhook, ..."}

Bad input never wins: unknown verbs, bad arguments, lines that are not UTF-8 or longer than
`MAX_LINE` get ``ok: false`` with a reason; nothing a client sends can raise out of the loop.
"""

import json
import socket

from tipring.firmware.loop.loop import POLLIN, POLLOUT

MAX_LINE = 4096
MAX_OUT = 1 << 20          # a client that reads nothing loses its connection past this
MAX_CLIENTS = 32
MAX_DIGITS = 64
DTMF_KEYS = "0123456789*#ABCD"

HELP = {
    "offhook": "offhook: lift the receiver",
    "onhook": "onhook: replace the receiver",
    "flash": "flash [MS]: on-hook for MS ms (default 500), then off-hook",
    "dial": "dial DIGITS [mode=dtmf|pulse] [pps=10] [break=60] [on=80] [off=80] [gap=700]",
    "state": "state: hook, ringing, rings, caller_id, mwi, tone, freqs, level_dbm0",
    "listen": "listen MS: what the earpiece plays over the next MS ms",
    "say": "say FREQ|off: a steady sine into the mouthpiece",
    "play": "play FILE: a WAV (8 kHz mono 16-bit) into the mouthpiece",
    "record": "record FILE [MS] | record off: the earpiece into a WAV",
    "wait": "wait WHAT [TIMEOUT_S]: ringing, not-ringing, idle, caller_id, tone=X, hook=off|on, "
            "rings=N, fxs=STATE, mwi=on|off, fax=done",
    "fax": "fax send FILE | fax receive FILE | fax status | fax off: a spandsp fax machine "
           "in place of the handset's mouth and ear (TIFF pages)",
    "help": "help [VERB]",
    "quit": "quit: close this connection",
}
VERBS = tuple(HELP)


class BadRequest(Exception):
    """A request the handset cannot do; the message is the reply's `error`."""


def _number(kw, key, default, lo, hi, what="a number"):
    if key not in kw:
        return default
    raw = kw.pop(key)
    try:
        v = float(raw)
    except ValueError:
        raise BadRequest("%s=%s: want %s from %g to %g" % (key, raw[:20], what, lo, hi))
    if not lo <= v <= hi or v != v:
        raise BadRequest("%s=%g: want %s from %g to %g" % (key, v, what, lo, hi))
    return v


def _positional_number(text, name, lo, hi):
    try:
        v = float(text)
    except ValueError:
        raise BadRequest("%s %r: want a number from %g to %g" % (name, text, lo, hi))
    if not lo <= v <= hi:
        raise BadRequest("%s %g: want a number from %g to %g" % (name, v, lo, hi))
    return v


class _Client:
    def __init__(self, server, sock, peer):
        self.server = server
        self.sock = sock
        self.peer = peer
        self.inbuf = b""
        self.outbuf = b""
        self.queue = []
        self.waiting = False        # a deferred reply is pending
        self.discard = False        # skipping the rest of an over-long line
        self.closed = False
        self.close_after = False

    def fileno(self):
        return self.sock.fileno()


class ControlServer:
    """Represents the control port: a listening socket and its clients on the loop.

    :param loop: the `EventLoop`; :param board: the `SimBoard` (handsets, ports);
    :param host, port: where to listen (port 0 = any free port; see `address`).
    """

    def __init__(self, loop, board, host: str, port: int):
        self.loop = loop
        self.board = board
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.sock.listen(16)
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        h, p = self.sock.getsockname()[:2]
        self.address = "%s:%d" % ("[%s]" % h if ":" in h else h, p)
        self.clients = {}
        self.waits = []             # [client, predicate, deadline timer, reply, t0]
        self._closed = False
        loop.add_reader(self.sock.fileno(), self._accept, POLLIN)

    # -- sockets -----------------------------------------------------------------------------

    def _accept(self, fd, revents):
        for _ in range(16):
            try:
                s, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self.clients) >= MAX_CLIENTS:
                try:
                    s.sendall(b'{"ok": false, "error": "too many clients"}\n')
                except OSError:
                    pass
                s.close()
                continue
            s.setblocking(False)
            c = _Client(self, s, peer)
            self.clients[s.fileno()] = c
            self.loop.add_reader(s.fileno(), lambda fd, ev, c=c: self._io(c, ev), POLLIN)

    def _io(self, c, revents):
        if c.closed:
            return
        if revents & POLLOUT:
            self._flush(c)
        if revents & POLLIN or revents & ~(POLLIN | POLLOUT):
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(c)
                return
            self._received(c, data)

    def _received(self, c, data):
        c.inbuf += data
        while not c.closed:
            i = c.inbuf.find(b"\n")
            if i < 0:
                if len(c.inbuf) > MAX_LINE:
                    if not c.discard:
                        c.queue.append(None)        # answer the over-long line in order
                    c.discard = True
                    c.inbuf = b""
                break
            line, c.inbuf = c.inbuf[:i], c.inbuf[i + 1:]
            if c.discard:
                c.discard = False
                continue
            if len(line) > MAX_LINE:
                c.queue.append(None)
            else:
                c.queue.append(line)
        self._next(c)

    def _next(self, c):
        while c.queue and not c.waiting and not c.closed:
            raw = c.queue.pop(0)
            if raw is None:
                self._send(c, {"ok": False, "error": "request longer than %d bytes" % MAX_LINE})
                continue
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                self._send(c, {"ok": False, "error": "request is not UTF-8 text"})
                continue
            if not text:
                continue
            c.waiting = True
            done = [False]

            def reply(obj, c=c, done=done):
                if done[0]:
                    return
                done[0] = True
                c.waiting = False
                self._send(c, obj)
                if c.close_after:
                    self._flush(c)
                    self._drop(c)
                    return
                self.loop.call_soon(self._next, c)

            try:
                self.request(text, reply, c)
            except BadRequest as e:
                reply({"ok": False, "error": str(e)})
            except Exception as e:  # a bug in a verb: say so, keep the loop and the client
                reply({"ok": False, "error": "internal error: %s: %s" % (type(e).__name__, e)})

    def _send(self, c, obj):
        if c.closed:
            return
        if "ok" not in obj:
            obj = dict({"ok": True}, **obj)
        c.outbuf += (json.dumps(obj) + "\n").encode()
        if len(c.outbuf) > MAX_OUT:
            self._drop(c)
            return
        self._flush(c)

    def _flush(self, c):
        if c.closed:
            return
        while c.outbuf:
            try:
                n = c.sock.send(c.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(c)
                return
            c.outbuf = c.outbuf[n:]
        self.loop.add_reader(c.sock.fileno(), lambda fd, ev, c=c: self._io(c, ev),
                             POLLIN | POLLOUT if c.outbuf else POLLIN)

    def _drop(self, c):
        if c.closed:
            return
        c.closed = True
        self.waits = [w for w in self.waits if w[0] is not c]
        try:
            self.loop.remove_reader(c.sock.fileno())
        except (OSError, ValueError):
            pass
        self.clients.pop(c.sock.fileno(), None)
        try:
            c.sock.close()
        except OSError:
            pass

    def close(self) -> None:
        """Close every client and the listening socket; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for c in list(self.clients.values()):
            self._drop(c)
        try:
            self.loop.remove_reader(self.sock.fileno())
        except (OSError, ValueError):
            pass
        self.sock.close()

    # -- requests ----------------------------------------------------------------------------

    def request(self, text: str, reply, client=None) -> None:
        """Handle one request line; `reply(dict)` is called exactly once (maybe later)."""
        self.board.wake()             # the media clock runs while the handset acts and hears
        words = text.split()
        verb = words[0].lower()
        pos, kw = [], {}
        for i, w in enumerate(words[1:]):
            if verb == "wait" and i == 0 and not w.lower().startswith("line="):
                pos.append(w)             # `wait tone=busy`: the condition, not an option
            elif "=" in w and not w.startswith("="):
                k, v = w.split("=", 1)
                kw[k.lower()] = v
            else:
                pos.append(w)
        if verb not in HELP:
            raise BadRequest("unknown verb %r; verbs: %s" % (verb[:40], ", ".join(VERBS)))
        line = kw.pop("line", "1")
        try:
            n = int(line)
        except ValueError:
            n = None
        ports = sorted(self.board.handsets)
        if n not in self.board.handsets:
            raise BadRequest("line=%s: no such line; lines: %s" % (line[:20], ", ".join(str(p) for p in ports)))
        hs = self.board.handsets[n]
        getattr(self, "_v_" + verb)(hs, n, pos, kw, reply, client)

    @staticmethod
    def _no_more(verb, pos, kw, max_pos=0):
        if len(pos) > max_pos:
            raise BadRequest("%s: unexpected argument %r; usage: %s" % (verb, pos[max_pos][:40], HELP[verb]))
        if kw:
            raise BadRequest("%s: unknown option %r; usage: %s" % (verb, sorted(kw)[0][:40], HELP[verb]))

    def _v_help(self, hs, n, pos, kw, reply, client):
        if pos and pos[0].lower() in HELP:
            reply({"help": HELP[pos[0].lower()]})
        else:
            reply({"verbs": list(VERBS), "help": [HELP[v] for v in VERBS]})

    def _v_quit(self, hs, n, pos, kw, reply, client):
        if client is not None:
            client.close_after = True
        reply({"bye": True})

    def _v_offhook(self, hs, n, pos, kw, reply, client):
        self._no_more("offhook", pos, kw)
        reply(hs.offhook())

    def _v_onhook(self, hs, n, pos, kw, reply, client):
        self._no_more("onhook", pos, kw)
        reply(hs.onhook())

    def _v_flash(self, hs, n, pos, kw, reply, client):
        self._no_more("flash", pos, kw, 1)
        ms = _positional_number(pos[0], "flash", 20, 5000) if pos else 500.0
        hs.flash(ms, reply)

    def _v_dial(self, hs, n, pos, kw, reply, client):
        if not pos:
            raise BadRequest("dial: which digits? usage: %s" % HELP["dial"])
        digits = pos[0].upper()
        mode = kw.pop("mode", "dtmf").lower()
        if mode not in ("dtmf", "pulse"):
            raise BadRequest("mode=%s: allowed: dtmf, pulse" % mode[:20])
        pps = _number(kw, "pps", 10.0, 5, 30)
        brk = _number(kw, "break", 60.0, 30, 90, "a percentage")
        on = _number(kw, "on", 80.0, 20, 2000, "ms")
        off = _number(kw, "off", 80.0, 20, 2000, "ms")
        gap = _number(kw, "gap", 700.0, 300, 5000, "ms")
        self._no_more("dial", pos, kw, 1)
        keys = DTMF_KEYS if mode == "dtmf" else "0123456789"
        bad = [d for d in digits if d not in keys]
        if bad or len(digits) > MAX_DIGITS:
            raise BadRequest("dial %s: %s dialling takes up to %d of %s" % (
                digits[:40], mode, MAX_DIGITS, " ".join(keys)))
        hs.dial(digits, mode, reply, pps=pps, brk=brk, on=on, off=off, gap=gap)

    def _v_state(self, hs, n, pos, kw, reply, client):
        self._no_more("state", pos, kw)
        st = hs.state()
        st["line"] = n
        st["fxs"] = self.board.ports[n].fxs.state
        reply(st)

    def _v_listen(self, hs, n, pos, kw, reply, client):
        self._no_more("listen", pos, kw, 1)
        if not pos:
            raise BadRequest("listen: how long? usage: %s" % HELP["listen"])
        hs.listen(_positional_number(pos[0], "listen", 20, 60000), reply)

    def _v_say(self, hs, n, pos, kw, reply, client):
        self._no_more("say", pos, kw, 1)
        if not pos:
            raise BadRequest("say: which frequency? usage: %s" % HELP["say"])
        if pos[0].lower() == "off":
            hs.say(None)
            reply({"say": "off"})
            return
        f = _positional_number(pos[0], "say", 50, hs.rate / 2 - 100)    # 3900 Hz at 8 kHz
        hs.say(f)
        reply({"say": f})

    def _v_play(self, hs, n, pos, kw, reply, client):
        self._no_more("play", pos, kw, 1)
        if not pos:
            raise BadRequest("play: which file? usage: %s" % HELP["play"])
        try:
            ms = hs.play(pos[0])
        except ValueError as e:
            raise BadRequest(str(e))
        reply({"file": pos[0], "ms": ms})

    def _v_record(self, hs, n, pos, kw, reply, client):
        self._no_more("record", pos, kw, 2)
        if not pos:
            raise BadRequest("record: which file? usage: %s" % HELP["record"])
        if pos[0].lower() in ("off", "stop"):
            reply(hs.stop_record())
            return
        if len(pos) > 1:
            ms = _positional_number(pos[1], "record", 20, 600000)
            hs.record(pos[0], ms, reply)
            return
        try:
            open(pos[0], "ab").close()
        except OSError as e:
            raise BadRequest("%s: cannot write: %s" % (pos[0], e.strerror or e))
        hs.record(pos[0], None, None)
        reply({"recording": pos[0]})

    def _v_fax(self, hs, n, pos, kw, reply, client):
        self._no_more("fax", pos, kw, 2)
        what = pos[0].lower() if pos else ""
        if what in ("send", "receive") and len(pos) == 2:
            try:
                reply({"fax": hs.plug_fax(what, pos[1])})
            except OSError as e:
                raise BadRequest("fax %s: %s: %s" % (what, pos[1][:80], e.strerror or e))
            except Exception as e:        # FaxUnavailable: no spandsp here
                raise BadRequest("fax: %s" % e)
        elif what == "status" and len(pos) == 1:
            reply({"fax": hs.fax.status() if hs.fax is not None else None})
        elif what == "off" and len(pos) == 1:
            reply({"fax": hs.unplug_fax() or None})
        else:
            raise BadRequest("fax: usage: %s" % HELP["fax"])

    def _v_wait(self, hs, n, pos, kw, reply, client):
        if not pos:
            raise BadRequest("wait: for what? usage: %s" % HELP["wait"])
        what = pos.pop(0).lower()
        timeout = _positional_number(pos.pop(0), "wait timeout", 0, 3600) if pos else 10.0
        self._no_more("wait", pos, kw)
        pred = self._predicate(hs, n, what)
        if pred():
            reply(dict({"waited": what, "after_s": 0.0}, **hs.state()))
            return
        t0 = self.loop.now()
        entry = [client, pred, None, reply, t0, hs, what]
        entry[2] = self.loop.call_later(timeout, self._wait_timeout, entry)
        self.waits.append(entry)

    def _predicate(self, hs, n, what):
        port = self.board.ports[n]
        if what == "ringing":
            return lambda: hs.ringing
        if what in ("not-ringing", "!ringing"):
            return lambda: not hs.ringing
        if what == "idle":
            return lambda: not hs.off_hook and not hs.ringing
        if what in ("caller_id", "caller-id", "callerid"):
            return lambda: hs.caller_id is not None
        if "=" in what:
            k, v = what.split("=", 1)
            if k == "tone":
                want = v.replace("_", "-")
                return lambda: hs.off_hook and hs.tone() == want
            if k == "hook" and v in ("on", "off"):
                return lambda: (hs.off_hook if v == "off" else not hs.off_hook)
            if k == "rings":
                try:
                    count = int(v)
                except ValueError:
                    raise BadRequest("wait rings=%s: want a whole number" % v[:20])
                return lambda: hs.rings >= count
            if k == "fxs":
                return lambda: port.fxs.state == v
            if k == "mwi" and v in ("on", "off"):
                return lambda: hs.mwi is (v == "on")
            if k == "fax" and v == "done":
                return lambda: hs.fax is not None and hs.fax.done
        raise BadRequest("wait %s: allowed: ringing, not-ringing, idle, caller_id, tone=TONE, "
                         "hook=off|on, rings=N, fxs=STATE, mwi=on|off, fax=done" % what[:40])

    def _wait_timeout(self, entry):
        if entry in self.waits:
            self.waits.remove(entry)
            entry[3]({"ok": False, "error": "timeout", "waited": entry[6],
                      "after_s": round(self.loop.now() - entry[4], 3)})

    def tick(self) -> None:
        """Called by the board after each media tick: settle the waits that now hold (the
        board keeps its clock running while any wait is pending)."""
        if not self.waits:
            return
        for entry in list(self.waits):
            try:
                hit = entry[1]()
            except Exception:
                hit = False
            if hit and entry in self.waits:
                self.waits.remove(entry)
                entry[2].cancel()
                entry[3](dict({"waited": entry[6], "after_s": round(self.loop.now() - entry[4], 3)},
                              **entry[5].state()))
