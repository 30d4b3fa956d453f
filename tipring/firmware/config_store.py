"""Saving and loading the config file so that no typo or power cut leaves the ATA unbootable.

Rules:
1. `save_config` never leaves a half-written file behind the real name. It writes
   `PATH.tmp` in the same directory, fsyncs it, renames it over `PATH` (atomic on POSIX) and
   fsyncs the directory, so after a crash at any instant `PATH` is the old file or the new one.
2. The previous good file is kept as `PATH.bak` (copied the same atomic way before the new file
   goes in). A previous file that does not validate is not "good" and does not replace the
   backup.
3. Every file written here is mode 0600: it holds SIP passwords and the console password hash.
4. `load_with_fallback` is what start-up uses: a main file that fails to parse or validate gives
   way to the backup, with a loud note for the console, the event log and the LED; when both are
   bad a `ConfigError` lists the problems of both.
5. The loop never waits for the disk. A running firmware saves through one `Saver`: the write,
   the fsyncs and the rename run on its worker thread, one job at a time in the order asked
   (two saves never interleave and the last config asked for is the one on disk); the result
   comes back on the loop thread through `loop.call_soon_threadsafe`. An fsync on a slow SD
   card takes hundreds of milliseconds, and the loop carries 20 ms audio frames.

Console passwords are stored as `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` (hashlib, CPython
firmware side only): `hash_password` makes one, `check_password` verifies in constant time.
"""

import collections
import os
import threading

import tomli_w

from tipring.firmware import config
from tipring.firmware.config import Config, ConfigError

BACKUP_SUFFIX = ".bak"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o600
PBKDF2_ITERATIONS = 100_000


# ---------------------------------------------------------------- saving

def render(cfg: Config) -> bytes:
    """The config as TOML bytes, checked to read back as the same valid config."""
    text = tomli_w.dumps(cfg.to_toml_dict())
    again = config.validate(config.tomllib.loads(text))  # never write what we could not load
    if again.to_toml_dict() != cfg.to_toml_dict():
        raise ConfigError(["config: does not survive a save/load round trip"])
    return text.encode("utf-8")


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` via `path.tmp` + fsync + rename + directory fsync."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = path + TEMP_SUFFIX
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an old temp file may have had another mode
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    _fsync_dir(directory)


def _is_good(data: bytes, path: str) -> bool:
    try:
        config.validate(config.parse_document(data, path))
        return True
    except ConfigError:
        return False


def save_config(cfg: Config, path: str) -> None:
    """Write `cfg` to `path` atomically (mode 0600), keeping the previous good file as `path.bak`.

    Raises `OSError` when the directory is not writable and `ConfigError` if the config would
    not read back; in both cases the file on disk is untouched.
    """
    data = render(cfg)
    try:
        with open(path, "rb") as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    if old is not None and old != data and _is_good(old, path):
        _write_atomic(path + BACKUP_SUFFIX, old)
    _write_atomic(path, data)


def remove_saved(path: str) -> list:
    """Remove the config file, its backup and any stale temp file (factory reset); returns what
    was removed."""
    gone = []
    for p in (path, path + BACKUP_SUFFIX, path + TEMP_SUFFIX, path + BACKUP_SUFFIX + TEMP_SUFFIX):
        try:
            os.unlink(p)
            gone.append(p)
        except FileNotFoundError:
            pass
    if gone:
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return gone


class Saver:
    """Represents the firmware's one way to write the config file: off the loop, one job at a
    time (rule 5).

    :param loop: the EventLoop whose thread gets the results; None runs every job inline
        (unit tests, tools).
    :param save: the function that writes (`save_config`); `erase` uses `remove_saved`.

    `save(cfg, path, done)` and `erase(path, done)` queue a job and return at once; `done(result)`
    runs on the loop thread when it is over, with None for success or the exception. A save
    asked while another save of the same file still waits in the queue replaces that one's
    config (the newer config wins; the older is never written) and both callers hear the one
    result. `close(timeout)` waits for the queued jobs (a stop right after a `*72` keeps it).
    """

    def __init__(self, loop=None, save=None):
        self.loop = loop
        self._save = save or save_config
        self._lock = threading.Lock()
        self._jobs = collections.deque()   # [kind, path, cfg, [done...]]
        self._worker = None
        self._idle = threading.Event()
        self._idle.set()
        self.written = 0                   # jobs done, for status and benchmarks
        self.merged = 0                    # saves that a newer config replaced in the queue

    def __repr__(self):
        return "<Saver %d queued, %s>" % (len(self._jobs), "idle" if self.idle else "writing")

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def save(self, cfg: Config, path: str, done=None) -> None:
        """Queue writing `cfg` to `path` (atomic, keeping `.bak`)."""
        self._submit("save", path, cfg, done)

    def erase(self, path: str, done=None) -> None:
        """Queue removing the file, its backup and temp files (factory reset), after any save."""
        self._submit("erase", path, None, done)

    def _submit(self, kind, path, cfg, done) -> None:
        if self.loop is None:
            self._report([done], self._run(kind, path, cfg))
            return
        with self._lock:
            last = self._jobs[-1] if self._jobs else None
            if kind == "save" and last is not None and last[0] == "save" and last[1] == path:
                last[2] = cfg
                last[3].append(done)
                self.merged += 1
            else:
                self._jobs.append([kind, path, cfg, [done]])
            self._idle.clear()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="tipring-config-save", daemon=True)
                self._worker.start()

    def _run(self, kind, path, cfg):
        try:
            if kind == "save":
                self._save(cfg, path)
            else:
                remove_saved(path)
            return None
        except Exception as e:  # reported to the caller, never raised in a thread
            return e
        finally:
            self.written += 1

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._worker = None
                    self._idle.set()
                    return
                kind, path, cfg, dones = self._jobs.popleft()
            result = self._run(kind, path, cfg)
            try:
                self.loop.call_soon_threadsafe(self._report, dones, result)
            except (OSError, ValueError):  # the loop is closed: nobody is waiting any more
                pass

    @staticmethod
    def _report(dones, result) -> None:
        for done in dones:
            if done is not None:
                done(result)

    def close(self, timeout: float = 10.0) -> bool:
        """Wait up to `timeout` seconds for the queued jobs; True when all are written."""
        return self._idle.wait(timeout)


# ---------------------------------------------------------------- loading

def load(path: str) -> Config:
    """`config.load`: the one path from a file to a Config (check-config uses it too)."""
    return config.load(path)


def load_with_fallback(path: str) -> tuple:
    """`(Config, notes)` from `path`, or from `path.bak` when `path` is unusable.

    Whatever `config.load` refuses (an empty or all-NUL file too) counts as unusable. The notes are empty when the main file
    was good; otherwise they say loudly what was wrong
    and which file is running. The returned Config's `.path` is always `path`, so a later save
    repairs the main file. Both files bad: `ConfigError` listing the problems of both.
    """
    try:
        return load(path), []
    except ConfigError as e:
        main_problems = e.problems
    backup = path + BACKUP_SUFFIX
    try:
        cfg = load(backup)
    except ConfigError as e:
        raise ConfigError(["%s: %s" % (path, p) if not p.startswith(path) else p for p in main_problems]
                          + ["%s: %s" % (backup, p) if not p.startswith(backup) else p
                             for p in e.problems])
    notes = ["CONFIG FALLBACK: %s is unusable; running the last good config from %s" % (path, backup)]
    notes += ["  " + p for p in main_problems]
    notes.append("  fix it with the console (set ... then save) or rewrite %s" % path)
    return Config(cfg.data, path), notes


# ---------------------------------------------------------------- console password

def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS, salt: bytes = None) -> str:
    """A salted PBKDF2-SHA256 string `pbkdf2-sha256$iterations$salt_hex$hash_hex`."""
    salt = os.urandom(16) if salt is None else salt
    import hashlib      # here, not at import: it maps OpenSSL (compat.py says why)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, salt.hex(), dk.hex())


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches a string made by `hash_password`; False for anything else."""
    try:
        scheme, iters, salt_hex, hash_hex = stored.split("$")
        if scheme != "pbkdf2-sha256":
            return False
        iterations = int(iters)
        if not 1 <= iterations <= 10_000_000:
            return False
        salt, want = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except (ValueError, AttributeError):
        return False
    import hashlib
    import hmac
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "replace"), salt, iterations)
    return hmac.compare_digest(dk, want)
