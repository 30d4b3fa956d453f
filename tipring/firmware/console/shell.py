"""The console shell: router-style commands over the firmware's `app` facade, sans IO.

Rules:
1. The shell never reaches into calls, lines or the SIP stack: everything goes through the
   `app` facade of docs/console-app-api.md. Config changes go through
   `tipring.firmware.config.set_value` (the file's own validator) and `app.apply_config`, which decides
   what applies live and returns notes for the user.
2. Nothing changes on error. An unknown command, a bad key or a bad value gets one clear line
   naming what is allowed, and the running config is untouched.
3. `feed(bytes) -> bytes` is the whole interface for input; output that arrives on its own
   (SIP trace lines, the end of a login delay, a password hash computed off the loop) goes
   through `write`, which the transport sets. Output lines end in CRLF.
4. With a `loop` (tipring.firmware.loop.EventLoop) the shell uses it for time, for the login delay
   timer, to hash passwords in a worker thread (PBKDF2 is slow on a Pi and the loop carries
   audio) and to save through the app's `config_store.Saver` (fsync is slow on an SD card);
   without one, everything runs inline on `time.monotonic` (unit tests).

Theory of operation: a `LineEditor` turns keystrokes into lines; each line goes to the current
state: `login` (password prompt), `ask` (a question such as a confirmation, answered by a
callback), `ready` (commands), `locked` (after 3 wrong passwords: input ignored until the delay
ends; the count lives in a `LoginGuard` the server shares between sessions, so reconnecting
does not reset it), `busy` (waiting for a hash or a save; input is kept and replayed) or `closed`.
Commands are data in `COMMANDS` (name -> usage, help, handler method); a two-word name
("show status") wins over one, and unique abbreviations work ("sh st").
"""

import threading
import time
import weakref

from tipring.firmware import config
from tipring.firmware import config_store
from tipring.firmware.console import ladder, views
from tipring.firmware.console.lineedit import LineEditor
from tipring.firmware.eventlog import mask_secrets

PROMPT = "tipring> "
PASSWORD_PROMPT = "Password: "
MAX_LINE = 1024
LOGIN_TRIES = 3
LOCK_S = 5.0          # first delay after LOGIN_TRIES wrong passwords; doubles, up to LOCK_MAX_S
LOCK_MAX_S = 60.0
MIN_PASSWORD = 6
CRLF = "\r\n"

# name -> (usage, help, handler method)
COMMANDS = {
    "help": ("help [CMD]", "list the commands, or explain one", "_cmd_help"),
    "show status": ("show status", "lines, registration, calls, uptime, addresses, version", "_cmd_show_status"),
    "show config": ("show config", "the running config (secrets as ****)", "_cmd_show_config"),
    "show calls": ("show calls", "the calls in progress", "_cmd_show_calls"),
    "show log": ("show log [N]", "the last N events of the event log (default 20)", "_cmd_show_log"),
    "show ladder": ("show ladder [CALL|all]", "the last call's SIP exchange as a sequence chart", "_cmd_show_ladder"),
    "set": ("set KEY VALUE", "change a config value (e.g. set line.1.expires 600); tab completes keys", "_cmd_set"),
    "save": ("save", "write the running config to the config file (keeps a .bak)", "_cmd_save"),
    "revert": ("revert", "drop unsaved changes: load the saved config again", "_cmd_revert"),
    "trace": ("trace on|off", "print SIP messages as they pass (secrets masked)", "_cmd_trace"),
    "hangup": ("hangup [LINE]", "end the call on LINE (or on every line)", "_cmd_hangup"),
    "ring": ("ring LINE", "test ring: a few seconds of the country's ring cadence", "_cmd_ring"),
    "passwd": ("passwd", "set or remove the console password (stored hashed)", "_cmd_passwd"),
    "reboot": ("reboot", "de-register and restart the firmware", "_cmd_reboot"),
    "factory-reset": ("factory-reset", "erase the saved config, then restart (asks first)", "_cmd_factory_reset"),
    "exit": ("exit", "end this console session (also quit, logout, ctrl-D)", "_cmd_exit"),
}
ALIASES = {"quit": "exit", "logout": "exit", "?": "help"}
SHOW_WHAT = [k.split()[1] for k in COMMANDS if k.startswith("show ")]
TOP_WORDS = []
for _k in COMMANDS:
    if _k.split()[0] not in TOP_WORDS:
        TOP_WORDS.append(_k.split()[0])

_tracing = weakref.WeakKeyDictionary()   # app -> shells with trace on (app's trace stays on while any)
_savers = weakref.WeakKeyDictionary()    # app -> Saver, for a facade without its own


class LoginGuard:
    """Counts wrong console passwords across sessions, so hanging up and calling again does
    not reset the count: after `tries` wrong ones, logins wait `first_delay` seconds, doubling
    with each further lock-out up to `max_delay`; a right password resets it."""

    def __init__(self, tries: int = LOGIN_TRIES, first_delay: float = LOCK_S, max_delay: float = LOCK_MAX_S):
        self.tries, self.first_delay, self.max_delay = tries, first_delay, max_delay
        self.failures = 0
        self.lockouts = 0
        self.until = 0.0

    def wait(self, now: float) -> float:
        """Seconds before the next try is allowed (0 when it is)."""
        return max(self.until - now, 0.0)

    def failed(self, now: float) -> float:
        """Count a wrong password; returns the delay it starts (0 when none)."""
        self.failures += 1
        if self.failures < self.tries:
            return 0.0
        delay = min(self.first_delay * (2 ** self.lockouts), self.max_delay)
        self.failures = 0
        self.lockouts += 1
        self.until = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = self.lockouts = 0
        self.until = 0.0


class Shell:
    """Represents one console session: login, line editing, commands.

    :param app: the firmware facade (docs/console-app-api.md).
    :param interactive: True for a terminal (echo, editing), False for a line-buffered client,
        None to decide on the first input.
    :param need_login: ask for the console password before anything else.
    :param loop: the EventLoop for time, timers and off-loop hashing; None runs all inline.
    :param write: `write(bytes)` for output that arrives between inputs (trace, timers).
    :param source: names this session in the event log ("tcp 127.0.0.1:40312", "serial").
    :param guard: the `LoginGuard` shared by every session of one console (a fresh one if omitted).
    """

    def __init__(self, app, interactive=True, need_login: bool = False, *, loop=None, write=None,
                 source: str = "console", guard: LoginGuard = None):
        self.app = app
        self.guard = guard if guard is not None else LoginGuard()
        self.loop = loop
        self.write = write
        self.source = source
        self.editor = LineEditor(interactive, complete=self.complete, max_line=MAX_LINE,
                                 keep=self._keep_in_history)
        self.state = "login" if need_login else "ready"
        self.closed = False
        self._ask_cb = None
        self._backlog = b""
        self._trace_on = False
        self._set_prompt()

    # ------------------------------------------------------------ io plumbing
    def now(self) -> float:
        return self.loop.now() if self.loop is not None else time.monotonic()

    def _set_prompt(self, prompt: str = None, secret: bool = False) -> None:
        if self.state == "login":
            prompt, secret = PASSWORD_PROMPT, True
        self.editor.prompt = PROMPT if prompt is None else prompt
        self.editor.secret = secret

    def _emit(self, data: bytes) -> None:
        if data and self.write is not None and not self.closed:
            self.write(data)

    def start(self) -> bytes:
        """The greeting: banner, any loud start-up warning, then the first prompt."""
        lines = ["tipring %s console; type help for commands" % getattr(self.app, "version", "?")]
        lines += self._warnings()
        return self._text(lines) + self.editor.prompt_bytes()

    @staticmethod
    def _text(lines) -> bytes:
        if isinstance(lines, str):
            lines = [lines]
        return "".join(l + CRLF for l in lines).encode("utf-8", "replace")

    # ------------------------------------------------------------ input
    def feed(self, data: bytes) -> bytes:
        """Process input bytes; returns what to write back (echo, output, next prompt)."""
        if self.closed or not data:
            return b""
        if self.state == "busy":
            self._backlog = (self._backlog + data)[-4 * MAX_LINE:]
            return b""
        out = []
        if self.state == "locked":
            if self.guard.wait(self.now()) > 0:
                return b""
            out.append(self._unlock_text())
        self.editor.detect(data)
        for i, byte in enumerate(data):
            for ev in self.editor.feed_byte(byte):
                out.append(self._event_out(ev))
            if self.state in ("busy", "locked") or self.closed:
                if self.state == "busy":  # keep what followed, to replay after the wait
                    self._backlog = (self._backlog + data[i + 1:])[-4 * MAX_LINE:]
                break
        return b"".join(out)

    def _event_out(self, ev: tuple) -> bytes:
        kind = ev[0]
        if kind == "out":
            return ev[1]
        if kind == "line":
            return self._line(ev[1])
        if kind == "error":
            return self._text("error: " + ev[1]) + self._prompt()
        if kind == "interrupt":
            out = b""
            if self.state == "ask":
                self.state, self._ask_cb = "ready", None
                self._set_prompt()
                out = self._text("cancelled")
            return out + self._prompt()
        if kind == "eof":
            if self.state in ("ready", "ask"):
                return self._cmd_exit([])
            return self._prompt()
        return b""

    def _prompt(self) -> bytes:
        if self.closed or self.state in ("busy", "locked"):
            return b""
        return self.editor.prompt_bytes()

    def _line(self, raw: bytes) -> bytes:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._text("error: input is not UTF-8 text; line ignored") + self._prompt()
        if any(ord(c) < 32 for c in text):
            return self._text("error: control characters in the line; line ignored") + self._prompt()
        if self.state == "login":
            return self._login(text)
        if self.state == "ask":
            cb, self._ask_cb = self._ask_cb, None
            self.state = "ready"
            self._set_prompt()
            try:
                res = cb(text)
            except Exception as e:  # a facade failure must not kill the session
                res = self._text("error: %s" % e)
            return res + self._prompt()
        line = text.strip()
        try:
            out = self.run(line)
        except Exception as e:  # the facade raised: report, keep the session
            why = e.args[0] if isinstance(e, KeyError) and e.args else e   # no KeyError repr quotes
            self._log_error("command %r failed: %s" % (line.split(" ", 1)[0], why))
            out = self._text("error: %s failed: %s" % (line.split(" ", 1)[0], why))
        return out + self._prompt()

    def _keep_in_history(self, line: str) -> bool:
        return self.state == "ready" and not self._is_secret_line(line)

    @staticmethod
    def _is_secret_line(line: str) -> bool:
        words = line.split()
        return len(words) >= 2 and words[0] == "set" and words[1].rsplit(".", 1)[-1] in config.SECRET_KEYS

    def _ask(self, question: str, callback, secret: bool = False) -> bytes:
        """Make the next line the answer to `question`; `callback(answer) -> bytes`."""
        self.state = "ask"
        self._ask_cb = callback
        self._set_prompt(question, secret)
        return b""

    # ------------------------------------------------------------ async work
    def _await(self, start, then) -> bytes:
        """Work that ends later: `start(done)` begins it and `done(result)` must come back on
        the loop thread (inline without a loop); then `then(result) -> bytes` is printed with
        the next prompt. Meanwhile the session is `busy` and keeps what is typed."""
        if self.loop is None:
            box = []
            start(box.append)
            return then(box[0] if box else None)
        prev_state = self.state
        self.state = "busy"

        def finish(result):
            if self.closed:
                return
            if self.state == "busy":
                self.state = prev_state if prev_state != "busy" else "ready"
            out = then(result) + self._prompt()
            backlog, self._backlog = self._backlog, b""
            if backlog:
                out += self.feed(backlog)
            self._emit(out)

        start(finish)
        return b""

    def _run_blocking(self, fn, args: tuple, then) -> bytes:
        """Run `fn(*args)` off the loop (inline without one) and `then(result) -> bytes` after;
        an exception `fn` raises is the result."""
        def call():
            try:
                return fn(*args)
            except Exception as e:
                return e

        def start(done):
            if self.loop is None:
                done(call())
                return
            threading.Thread(target=lambda: self.loop.call_soon_threadsafe(done, call()),
                             name="tipring-console-hash", daemon=True).start()

        return self._await(start, then)

    def _saver(self):
        """The app's `Saver` (docs/console-app-api.md), so console saves queue behind the
        firmware's own (feature codes); one per app when the facade has none."""
        saver = getattr(self.app, "saver", None)
        if saver is None:
            saver = _savers.get(self.app)
            if saver is None or saver.loop is not self.loop:
                saver = _savers[self.app] = config_store.Saver(self.loop)
        return saver

    def _later(self, delay: float, fn) -> None:
        if self.loop is not None:
            self.loop.call_later(delay, fn)

    def _soon(self, fn) -> None:
        """Run `fn` after this input's output is written (inline without a loop)."""
        if self.loop is not None:
            self.loop.call_soon(fn)
        else:
            fn()

    def _log_error(self, message: str) -> None:
        try:
            self.app.events.error("console", message, source=self.source)
        except Exception:
            pass

    def _event(self, name: str, **fields) -> None:
        try:
            self.app.events.emit(name, source=self.source, **mask_secrets(fields))
        except Exception:
            pass

    # ------------------------------------------------------------ login
    def _login(self, text: str) -> bytes:
        stored = (self.app.config.console or {}).get("password_hash")
        if not stored:
            self.state = "ready"
            self._set_prompt()
            return self._text("no console password is set") + self._prompt()
        wait = self.guard.wait(self.now())
        if wait > 0:
            return self._lock(wait, "too many wrong passwords")
        return self._run_blocking(config_store.check_password, (text, stored), self._login_result)

    def _login_result(self, ok) -> bytes:
        if ok is True:
            self.state = "ready"
            self.guard.succeeded()
            self._set_prompt()
            self._event("console_login", ok=True)
            return self._text(self._warnings() + ["logged in"])
        self._event("console_login", ok=False)
        delay = self.guard.failed(self.now())
        if not delay:
            self.state = "login"
            self._set_prompt()
            return self._text("wrong password")
        self._log_error("%d wrong console passwords; logins wait %g s" % (self.guard.tries, delay))
        return self._lock(delay, "wrong password; %d wrong tries" % self.guard.tries)

    def _lock(self, delay: float, why: str) -> bytes:
        self.state = "locked"
        self._later(delay, self._unlock_timer)
        return self._text("%s: wait %g s" % (why, round(delay, 1)))

    def _unlock_text(self) -> bytes:
        self.state = "login"
        self._set_prompt()
        self.editor.reset()
        return self.editor.prompt_bytes()

    def _unlock_timer(self) -> None:
        if self.state == "locked" and not self.closed:
            self._emit(self._unlock_text())

    # ------------------------------------------------------------ dispatch
    def run(self, line: str) -> bytes:
        """Run one command line (no login or prompt handling); returns the output."""
        words = line.split()
        if not words:
            return b""
        words[0] = ALIASES.get(words[0], words[0])
        for i in (0, 1):                     # router style: "sh st" is "show status"
            pool = TOP_WORDS if i == 0 else SHOW_WHAT if words[0] == "show" else ()
            if len(words) > i and pool and words[i] not in pool:
                hits = [w for w in pool if w.startswith(words[i])]
                if len(hits) == 1:
                    words[i] = hits[0]
                elif len(hits) > 1:
                    return self._text("ambiguous %r: %s" % (words[i], ", ".join(hits)))
        name = " ".join(words[:2]) if " ".join(words[:2]) in COMMANDS else words[0]
        if name not in COMMANDS:
            if words[0] == "show":
                if len(words) == 1:
                    return self._text("show: what? allowed: %s" % ", ".join(SHOW_WHAT))
                return self._text("show: unknown %r; allowed: %s" % (words[1], ", ".join(SHOW_WHAT)))
            return self._text("unknown command %r; commands: %s (help CMD explains one)"
                              % (words[0], ", ".join(TOP_WORDS)))
        args = words[len(name.split()):]
        if name == "set":
            parts = line.strip().split(None, 2)
            args = parts[1:]
        return getattr(self, COMMANDS[name][2])(args)

    def _usage(self, name: str, problem: str = None) -> bytes:
        return self._text("%susage: %s" % (problem + "; " if problem else "", COMMANDS[name][0]))

    # ------------------------------------------------------------ completion
    def complete(self, text: str) -> tuple:
        """Tab completion: `(start, candidates)` for the last word of `text`."""
        words = text.split(" ")
        start = len(text) - len(words[-1])
        word = words[-1]
        done = [w for w in words[:-1] if w]
        if not done:
            pool = TOP_WORDS
        elif len(done) == 1 and done[0] == "show":
            pool = SHOW_WHAT
        elif len(done) == 1 and done[0] == "help":
            pool = TOP_WORDS
        elif len(done) == 1 and done[0] == "set":
            pool = views.config_keys(self.app.config)
        elif len(done) == 1 and done[0] == "trace":
            pool = ["on", "off"]
        elif len(done) == 1 and done[0] in ("hangup", "ring"):
            pool = [str(ln["port"]) for ln in self.app.config.lines]
        elif len(done) == 2 and done[0] == "set":
            pool = views.value_hints(done[1])
        else:
            pool = []
        return start, [p for p in pool if p.startswith(word)]

    # ------------------------------------------------------------ commands
    def _cmd_help(self, args) -> bytes:
        if args:
            want = ALIASES.get(args[0], args[0])
            names = [k for k in COMMANDS if k == " ".join([want] + args[1:2]) or k.split()[0] == want]
            if not names:
                return self._text("help: unknown command %r; commands: %s" % (args[0], ", ".join(TOP_WORDS)))
            return self._text(["%-24s %s" % (COMMANDS[k][0], COMMANDS[k][1]) for k in names])
        return self._text(["%-24s %s" % (u, h) for u, h, _ in COMMANDS.values()])

    def _warnings(self) -> list:
        try:
            return views.fallback_warnings(self.app.events.recent)
        except Exception:
            return []

    def _cmd_show_status(self, args) -> bytes:
        lines = views.status_lines(self.app.status(), getattr(self.app, "version", "?"))
        lines[1:1] = self._warnings()
        if self._unsaved():
            lines.append("config   unsaved changes (save keeps them, revert drops them)")
        return self._text(lines)

    def _cmd_show_config(self, args) -> bytes:
        lines = views.config_lines(self.app.config)
        if self._unsaved():
            lines.append("# unsaved changes: save keeps them, revert drops them")
        return self._text(lines)

    def _cmd_show_calls(self, args) -> bytes:
        return self._text(views.calls_lines(self.app.calls()))

    def _cmd_show_log(self, args) -> bytes:
        n = 20
        if args:
            if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 500:
                return self._text("show log: N must be a number from 1 to 500")
            n = int(args[0])
        recent = list(self.app.events.recent)[-n:]
        if not recent:
            return self._text("the event log is empty")
        return self._text([views.event_line(ev) for ev in recent])

    def _cmd_show_ladder(self, args) -> bytes:
        if len(args) > 1:
            return self._usage("show ladder")
        which = args[0] if args else None
        history = self.app.sip_history() or []
        if not history:
            return self._text("no SIP messages recorded yet")
        msgs = ladder.pick(history, which)
        if not msgs:
            ids = ", ".join(cid for cid, _, _ in ladder.exchanges(history))
            return self._text("show ladder: no call %r; recent: %s, all" % (which, ids))
        title = "all recent SIP messages" if which == "all" else "call-id %s" % msgs[0].get("call_id")
        lines = [title, ""] + ladder.render_ladder(msgs) + [""]
        others = [(c, m, n) for c, m, n in ladder.exchanges(history) if c != msgs[0].get("call_id")]
        if others and which != "all":
            lines.append("other exchanges: " + ", ".join("%s (%s, %d)" % o for o in others[-5:]))
        return self._text(lines)

    def _cmd_set(self, args) -> bytes:
        if not args:
            return self._usage("set", "set needs a key and a value")
        key = args[0]
        if key in views.HIDDEN_KEYS:
            return self._text("set: %s is set with passwd" % key)
        cfg = self.app.config
        try:
            if len(args) < 2:
                return self._text("set: %s needs a value; allowed: %s; usage: %s"
                                  % (key, config.allowed(key, cfg), COMMANDS["set"][0]))
            new = config.set_value(cfg, key, args[1])
        except KeyError as e:
            return self._text("set: " + (e.args[0] if e.args else str(e)))
        except config.ConfigError as e:
            return self._text("set: " + "; ".join(e.problems))
        shown = views.fmt_value(key, new.get(key))
        if new.to_toml_dict() == cfg.to_toml_dict():
            return self._text("%s is already %s" % (key, shown))
        notes = self.app.apply_config(new) or []
        self._event("config", action="set", key=key,
                    value="****" if key.rsplit(".", 1)[-1] in config.SECRET_KEYS else new.get(key))
        return self._text(["%s = %s" % (key, shown)] + list(notes) + ["(not saved: save keeps it)"])

    def _saved_config(self):
        path = getattr(self.app, "config_path", None)
        if not path:
            return None
        try:
            return config_store.load(path)
        except config.ConfigError:
            return None

    def _unsaved(self) -> bool:
        if not getattr(self.app, "config_path", None):
            return False
        saved = self._saved_config()
        return saved is None or saved.to_toml_dict() != self.app.config.to_toml_dict()

    def _cmd_save(self, args) -> bytes:
        path = getattr(self.app, "config_path", None)
        if not path:
            return self._text("save: no config file (running the built-in default); start tipring "
                              "with --config FILE to be able to save")

        def saved(result) -> bytes:
            if isinstance(result, Exception):
                why = "; ".join(result.problems) if isinstance(result, config.ConfigError) else result
                self._log_error("save to %s failed: %s" % (path, why))
                return self._text("save failed: %s; the file on disk is unchanged" % why)
            self._event("config", action="save", path=path)
            return self._text("saved to %s (previous good file kept as %s%s)"
                              % (path, path, config_store.BACKUP_SUFFIX))

        # the disk may take a while (fsync on an SD card): the write runs off the loop and
        # the session prints the result, then the prompt, when it is done
        cfg = self.app.config
        return self._await(lambda done: self._saver().save(cfg, path, done), saved)

    def _cmd_revert(self, args) -> bytes:
        path = getattr(self.app, "config_path", None)
        if not path:
            return self._text("revert: no saved config (running the built-in default)")
        try:
            cfg, notes = config_store.load_with_fallback(path)
        except config.ConfigError as e:
            return self._text(["revert: the saved config is unusable; nothing changed"]
                              + ["  " + p for p in e.problems])
        if cfg.to_toml_dict() == self.app.config.to_toml_dict():
            return self._text(notes + ["nothing to revert: the running config is the saved one"])
        applied = self.app.apply_config(cfg) or []
        self._event("config", action="revert", path=path)
        return self._text(notes + ["reverted to %s" % path] + list(applied))

    def _cmd_trace(self, args) -> bytes:
        if len(args) != 1 or args[0] not in ("on", "off"):
            return self._usage("trace", "trace takes on or off")
        on = args[0] == "on"
        shells = _tracing.setdefault(self.app, set())
        if on and not self._trace_on:
            self.app.events.subscribe(self._on_event)
            self._trace_on = True
            shells.add(self)
            self.app.set_trace(True)
        elif not on and self._trace_on:
            self._trace_off()
        return self._text("trace %s" % args[0])

    def _trace_off(self) -> None:
        self.app.events.unsubscribe(self._on_event)
        self._trace_on = False
        shells = _tracing.get(self.app, set())
        shells.discard(self)
        if not shells:
            _tracing.pop(self.app, None)
            self.app.set_trace(False)

    def _on_event(self, ev: dict) -> None:
        if ev.get("event") == "sip" and not self.closed:
            self._emit(self.editor.around(self._text(views.trace_lines(ev))))

    def _line_arg(self, name: str, arg: str):
        ports = [ln["port"] for ln in self.app.config.lines]
        if not arg.isdigit() or int(arg) not in ports:
            return None, self._text("%s: no line %r; lines: %s" % (name, arg, ", ".join(map(str, ports))))
        return int(arg), None

    def _cmd_hangup(self, args) -> bytes:
        if len(args) > 1:
            return self._usage("hangup")
        line = None
        if args:
            line, err = self._line_arg("hangup", args[0])
            if err:
                return err
        return self._text(self.app.hangup(line))

    def _cmd_ring(self, args) -> bytes:
        if len(args) != 1:
            return self._usage("ring", "ring needs a line")
        line, err = self._line_arg("ring", args[0])
        return err or self._text(self.app.ring(line))

    def _cmd_passwd(self, args) -> bytes:
        def first(pw):
            if pw and len(pw) < MIN_PASSWORD:
                return self._text("passwd: at least %d characters (or empty to remove the password); "
                                  "nothing changed" % MIN_PASSWORD)
            return self._ask("Again: ", lambda again: second(pw, again), secret=True) or b""

        def second(pw, again):
            if pw != again:
                return self._text("passwd: the two passwords differ; nothing changed")
            if not pw:
                return self._store_hash(None)
            return self._run_blocking(config_store.hash_password, (pw,), self._store_hash)

        return self._ask("New console password (empty removes it): ", first, secret=True)

    def _store_hash(self, stored) -> bytes:
        if isinstance(stored, Exception):
            return self._text("passwd failed: %s; nothing changed" % stored)
        data = self.app.config.to_toml_dict()
        console = data.setdefault("console", {})
        if stored is None:
            if "password_hash" not in console:
                return self._text("no console password was set")
            del console["password_hash"]
        else:
            console["password_hash"] = stored
        try:
            new = config.validate(data, self.app.config.path)
        except config.ConfigError as e:
            return self._text("passwd: " + "; ".join(e.problems))
        notes = self.app.apply_config(new) or []
        self._event("config", action="passwd", key="console.password_hash",
                    value="(removed)" if stored is None else "****")
        msg = "console password removed" if stored is None else "console password set"
        return self._text([msg] + list(notes) + ["(not saved: save keeps it)"])

    def _cmd_reboot(self, args) -> bytes:
        def go():
            self._event("console_reboot")
            self._soon(self.app.reboot)
            return self._text("rebooting...")

        if self._unsaved():
            return self._ask("unsaved changes will be lost; reboot anyway? (yes/no): ",
                             lambda a: go() if a.strip().lower() in ("y", "yes") else self._text("cancelled"))
        return go()

    def _cmd_factory_reset(self, args) -> bytes:
        def answer(a):
            if a.strip().lower() != "yes":
                return self._text("cancelled; nothing changed")
            self._event("console_factory_reset")
            self._soon(self.app.factory_reset)
            return self._text("erasing the saved config and rebooting...")

        return self._ask("erase the saved config and its backup, then reboot? type yes to confirm: ", answer)

    def _cmd_exit(self, args) -> bytes:
        self.close()
        return self._text("bye")

    def close(self) -> None:
        """End the session: stop its trace; idempotent."""
        if self._trace_on:
            try:
                self._trace_off()
            except Exception:
                pass
        self.closed = True
        self.state = "closed"
