"""Start and stop a real, headless baresip phone (Debian baresip-core) for tests.

What the rig's baresip.sh does, in Python and on free ports: copy the config template, point
SIP, RTP, ctrl_tcp and cons at loopback ports of our own, write the account line, and run
baresip in its own process group so it can always be killed. Driven over ctrl_tcp with bctl.
`record=True` loads sndfile, which writes the received/sent audio to dump-*-dec/enc.wav.
`mediaenc="srtp"` (SDES, best effort: RTP/AVP with a=crypto, plain RTP when the peer has none)
or "srtp-mand" (RTP/SAVP, SRTP or no call) loads the srtp module and sets the account's
mediaenc (RFC 4568 SDES keys).

Ports come from tests/peers/ports.py (this process's own slice). A start that still loses a
race (baresip exits, or logs "Address already in use" for ctrl_tcp/cons and runs on) is stopped
and retried on fresh ports, up to ports.TRIES times; `attempts` says how many it took.
"""

import glob
import math
import os
import re
import shutil
import struct
import subprocess
import time
import wave

from tests.peers.ports import PortInUse, bind_failed, free_block, start_with_retries
from tests.peers.proc import end_group

HERE = os.path.dirname(os.path.abspath(__file__))


class BaresipPhone:
    def __init__(self, workdir, user="1002", registrar=None, answer="auto", record=False,
                 tone_hz=1000, codecs="PCMU,PCMA", regint=600, wav=None, trace=False, mediaenc=None,
                 port_picker=free_block):
        """`port_picker(n, align)` gives a base port with n free ports after it (ports.free_block;
        a test may hand out a busy one). A start that loses a port race is retried on fresh ports."""
        self.user = user
        self.registrar = registrar
        self.workdir = workdir
        self.pick = port_picker
        self.opts = dict(answer=answer, record=record, tone_hz=tone_hz, codecs=codecs, regint=regint, wav=wav,
                         trace=trace, mediaenc=mediaenc)
        self.ctl = None
        self.proc = None
        self._log = None
        self.attempts = 0       # how many starts it took (more than 1 = a port race was lost)
        start_with_retries(lambda n: self._start())

    def _choose_ports(self):
        # SIP at P (UDP+TCP) and SIP/TLS at P+1 (baresip opens it by itself), ctrl_tcp at P+2,
        # cons at P+3: one block, so none of them can overlap another
        base = self.pick(4, 1)
        self.sip_port, self.ctrl_port, self.cons_port = base, base + 2, base + 3
        lo = self.pick(22, 2)
        self.rtp_ports = (lo, lo + 20)

    def _write_config(self):
        o = self.opts
        with open(os.path.join(HERE, "baresip", "config")) as f:
            cfg = f.read()
        subs = {
            "sip_listen": "127.0.0.1:%d" % self.sip_port,
            "ctrl_tcp_listen": "127.0.0.1:%d" % self.ctrl_port,
            "cons_listen": "127.0.0.1:%d" % self.cons_port,
            "rtp_ports": "%d-%d" % self.rtp_ports,
            "net_interface": "127.0.0.1",
        }
        if o["wav"]:
            shutil.copy(o["wav"], os.path.join(self.dir, "tone.wav"))
            subs.update({"audio_source": "aufile,tone.wav", "ausrc_srate": "8000", "ausrc_channels": "1"})
        else:
            subs["audio_source"] = "ausine,%d" % o["tone_hz"]
        for k, v in subs.items():
            cfg = re.sub(r"(?m)^%s\s.*$" % re.escape(k), "%s\t\t%s" % (k, v), cfg)
        if o["record"]:
            cfg = cfg.replace("#module\t\t\tsndfile.so", "module\t\t\tsndfile.so")
            if "module\t\t\tsndfile.so" not in cfg:
                cfg += "\nmodule\t\t\tsndfile.so\n"
        if o["mediaenc"]:
            cfg = cfg.replace("#module\t\t\tsrtp.so", "module\t\t\tsrtp.so")
        if "g722" in o["codecs"].lower():
            cfg = cfg.replace("#module\t\t\tg722.so", "module\t\t\tg722.so")
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(cfg)
        user, registrar, mediaenc = self.user, self.registrar, o["mediaenc"]
        domain = registrar or "127.0.0.1"
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<sip:%s@%s;transport=udp>;auth_pass=secret%s;answermode=%s;audio_codecs=%s;"
                    "regint=%d;mwi=no;ptime=20%s\n" % (user, domain, user, o["answer"], o["codecs"],
                                                       o["regint"] if registrar else 0,
                                                       ";mediaenc=%s" % mediaenc if mediaenc else ""))
        open(os.path.join(self.dir, "contacts"), "w").close()

    def _start(self):
        self.attempts += 1
        self._choose_ports()
        self.dir = os.path.join(self.workdir, "baresip-%s-%d" % (self.user, self.sip_port))
        os.makedirs(self.dir, exist_ok=True)
        self._write_config()
        self.log_path = os.path.join(self.dir, "baresip.log")
        self._log = open(self.log_path, "w")
        args = ["stdbuf", "-oL", "-eL", "baresip", "-f", self.dir] + (["-s"] if self.opts["trace"] else [])
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)
        try:
            self._wait_ready(registered=bool(self.registrar))
            # as a package module: putting tests/peers on sys.path would let its
            # firmware.py shadow the real firmware package in this process
            from tests.peers.bctl import Baresip
            self.ctl = Baresip(port=self.ctrl_port)
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _wait_ready(self, registered, timeout=10.0):
        """Until baresip says it is ready (and registered); PortInUse when a bind failed. SIP
        bind failures end baresip, but ctrl_tcp and cons only log theirs and run on: then a
        client on our ctrl port would drive whoever holds it, so that is a failed start too."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                text = self.log()
                if bind_failed(text):
                    raise PortInUse("baresip could not bind its ports: " + text[-800:])
                raise RuntimeError("baresip exited: " + text[-800:])
            text = self.log()
            if "baresip is ready" in text and bind_failed(text):
                raise PortInUse("baresip could not bind its ports: " + text[-800:])
            if "baresip is ready" in text and (not registered or re.search(r"%s@[^:]*: .* 200 OK" % self.user, text)):
                return
            time.sleep(0.05)
        raise RuntimeError("baresip not ready in %.0f s: %s" % (timeout, self.log()[-800:]))

    @property
    def uri(self) -> str:
        return "sip:%s@127.0.0.1:%d" % (self.user, self.sip_port)

    def cmd(self, command, params=""):
        return self.ctl.command(command, params)

    def wait(self, types, timeout=10.0):
        try:
            return self.ctl.wait_event(set(types), timeout=timeout)
        except Exception:
            return None

    def recordings(self, kind="dec"):
        return sorted(glob.glob(os.path.join(self.dir, "dump-*-%s.wav" % kind)))

    def stop(self):
        if self.ctl is not None:
            try:
                self.ctl.close()
            except Exception:
                pass
            self.ctl = None
        if self.proc is not None:
            end_group(self.proc, term_wait=3)
        if self._log is not None:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_wav(path):
    with wave.open(path, "rb") as w:
        n, ch, rate = w.getnframes(), w.getnchannels(), w.getframerate()
        data = struct.unpack("<%dh" % (n * ch), w.readframes(n))
    return list(data[::ch]), rate


def goertzel_power(x, rate, f):
    c = 2 * math.cos(2 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + c * s1 - s2, s1
    return s1 * s1 + s2 * s2 - c * s1 * s2


def dominant(x, rate, lo=200, hi=3400, step=10):
    x = x[:4000]
    return max(range(lo, hi, step), key=lambda f: goertzel_power(x, rate, f))


# -- is a tone in what a phone heard (its recording, or rtptap.RtpTap.pcm) ----------------------

def tone_share(x, rate, hz, spread=8, block=800, min_rms=60.0):
    """How much of the signal is a sine of `hz` (+- `spread` Hz): per loud 100 ms block
    (rms >= `min_rms`), 2|X(f)|^2 / (N * energy), which is ~1 for that sine alone, ~0.5
    for one of two equal sines, ~0 when it is absent. Returns (median share over the loud
    blocks, number of loud blocks); (0.0, 0) for silence."""
    shares = []
    for k in range(0, len(x) - block + 1, block):
        b = x[k:k + block]
        energy = float(sum(v * v for v in b))
        if energy < min_rms * min_rms * block:
            continue
        best = max(goertzel_power(b, rate, f) for f in range(hz - spread, hz + spread + 1, 2))
        shares.append(2.0 * best / (block * energy))
    if not shares:
        return 0.0, 0
    shares.sort()
    return shares[len(shares) // 2], len(shares)

