"""A power cut during `save` never leaves a broken config: SIGKILL a saving process at random
moments, hundreds of times, and check the file each time.

A forked child saves versions k = v+1, v+2, ... (line.1.expires = 1000 + k) in a loop, writing
each k to a pipe just before it starts saving it. The parent kills it after a random delay and
then demands that the file parses, validates and is version k_last - 1 (old) or k_last (new),
where k_last is the last version the child announced; and that the backup is valid and older.
"""

import os
import random
import signal
import stat
import time

from tipring.firmware import config
from tipring.firmware.config_store import save_config

KILLS = 500          # target number of kills
BUDGET_S = 40.0      # wall-clock bound for the whole test (the loop stops early if reached)
BASE = 1000


def _version(path: str) -> int:
    return config.load(path).get("line.1.expires") - BASE


def _child(path: str, start: int, wfd: int) -> None:
    try:
        base = config.builtin_default()
        k = start
        while True:
            cfg = config.set_value(base, "line.1.expires", str(BASE + k))
            os.write(wfd, b"%d\n" % k)
            save_config(cfg, path)
            k += 1
    finally:
        os._exit(0)


def test_sigkill_during_save_leaves_old_or_new(tmp_path):
    path = str(tmp_path / "tipring.toml")
    save_config(config.set_value(config.builtin_default(), "line.1.expires", str(BASE + 1)), path)
    rng = random.Random(1234)
    kills = 0
    t_end = time.monotonic() + BUDGET_S
    seen_versions = set()
    mid_write = 0    # kills that left a temp file: they landed between open and rename
    while kills < KILLS and time.monotonic() < t_end:
        before = _version(path)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(r)
            _child(path, before + 1, w)
        os.close(w)
        # mostly short delays, so kills land inside the first saves as well as later ones
        delay = rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.01), rng.uniform(0, 0.03)])
        if delay:
            time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        announced = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            announced += chunk
        os.close(r)
        ks = [int(x) for x in announced.split()]
        kills += 1

        now = _version(path)          # raises ConfigError if torn: the test fails here
        if ks:
            assert now in (ks[-1] - 1, ks[-1]), (ks[-1], now)
        else:
            assert now == before
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        if os.path.exists(path + ".bak"):
            assert _version(path + ".bak") <= now   # the last good file before (or equal to) it
        seen_versions.add(now)
        mid_write += os.path.exists(path + ".tmp") or os.path.exists(path + ".bak.tmp")
    assert kills >= 100, "only %d kills in the time budget" % kills
    assert len(seen_versions) > 10   # the kills did land while saves were making progress
    assert mid_write > 0             # and some landed in the middle of writing a file
    print("%d kills, %d mid-write, %d versions" % (kills, mid_write, len(seen_versions)))
