"""Start-to-registered time: tipring vs baresip against the same Kamailio, in one run.

Starts Kamailio on a free loopback port (tests/peers), then N times each: launch the UA as a
process and time until it reports the registration (tipring: the `registered` event in its
JSON log; baresip: "200 OK" for its account in its log), then stop it. Prints the median, the
best and the ratio. Goal: tipring <= 0.5 s and no worse than 2x baresip.

    .venv/bin/python tools/bench/register.py [-n 7]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.peers.kamailio import Kamailio, free_port  # noqa: E402
from tests.peers.firmware import write_config  # noqa: E402


# as installed on a Pi: bytecode cached (a first, unmeasured run writes it)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_tipring(work, kam, i):
    d = os.path.join(work, "tipring-%s" % i)
    os.makedirs(d)
    cfg = os.path.join(d, "t.toml")
    ev = os.path.join(d, "ev.jsonl")
    write_config(cfg, {"board": {"kind": "sim", "control": "127.0.0.1:0"},
                       "sip": {"bind": "127.0.0.1:%d" % free_port()},
                       "line": [{"port": 1, "user": "1001", "password": "secret1001",
                                 "registrar": kam.address, "domain": kam.address}]})
    exe = os.path.join(os.path.dirname(sys.executable), "tipring")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "tipring"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd + ["run", "--config", cfg, "--log-json", ev], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=d, env=ENV)
    took = None
    while time.monotonic() - t0 < 10:
        try:
            with open(ev) as f:
                if any(json.loads(l).get("event") == "registered" for l in f if l.strip()):
                    took = time.monotonic() - t0
                    break
        except (OSError, ValueError):
            pass
        time.sleep(0.002)
    p.terminate()
    p.wait(10)
    return took


def time_baresip(work, kam, i):
    d = os.path.join(work, "baresip-%d" % i)
    os.makedirs(d)
    with open(os.path.join(ROOT, "tests", "peers", "baresip", "config")) as f:
        cfg = f.read()
    for k, v in {"sip_listen": "127.0.0.1:%d" % free_port(), "ctrl_tcp_listen": "127.0.0.1:%d" % free_port(),
                 "cons_listen": "127.0.0.1:%d" % free_port()}.items():
        cfg = re.sub(r"(?m)^%s\s.*$" % k, "%s\t\t%s" % (k, v), cfg)
    open(os.path.join(d, "config"), "w").write(cfg)
    open(os.path.join(d, "accounts"), "w").write(
        "<sip:1002@%s;transport=udp>;auth_pass=secret1002;regint=600;mwi=no\n" % kam.address)
    open(os.path.join(d, "contacts"), "w").close()
    log = os.path.join(d, "log")
    t0 = time.monotonic()
    with open(log, "w") as out:
        p = subprocess.Popen(["stdbuf", "-oL", "baresip", "-f", d], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=d)
        took = None
        while time.monotonic() - t0 < 10:
            with open(log, errors="replace") as f:
                if re.search(r"1002@[^:]*: .* 200 OK", f.read()):
                    took = time.monotonic() - t0
                    break
            time.sleep(0.002)
        p.terminate()
        p.wait(10)
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=7)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tipring-bench-reg-")
    with Kamailio(work) as kam:
        time_tipring(work, kam, "warm-up")
        tip = [time_tipring(work, kam, i) for i in range(args.n)]
        bs = [time_baresip(work, kam, i) for i in range(args.n)]
    tip_ok = [t for t in tip if t is not None]
    bs_ok = [t for t in bs if t is not None]
    print("start -> registered, Kamailio on loopback, %d runs each" % args.n)
    for name, v in (("tipring", tip_ok), ("baresip", bs_ok)):
        if v:
            print("  %-8s median %6.1f ms   best %6.1f ms   (%d/%d registered)"
                  % (name, statistics.median(v) * 1000, min(v) * 1000, len(v), args.n))
        else:
            print("  %-8s never registered" % name)
    if tip_ok and bs_ok:
        ratio = statistics.median(tip_ok) / statistics.median(bs_ok)
        goal = statistics.median(tip_ok) <= 0.5 and ratio <= 2.0
        print("  ratio tipring/baresip %.2f  (goal <= 0.5 s and <= 2x baresip: %s)" % (ratio, "met" if goal else "NOT met"))


if __name__ == "__main__":
    main()
