"""Start and stop a real Kamailio (registrar + proxy) on a free loopback port, for tests.

Does what the rig's kamailio.sh does (absolute db_text URL, private copy of the user table,
absolute ctl socket), but on a port of our own and in its own process group, so that a test can
always kill it whatever happens. Users 1001..1004 with passwords secretNNNN. Ports come from
tests/peers/ports.py (this process's own slice); when Kamailio still loses a bind race on ports
it chose, `start` retries on fresh ones (ports.start_with_retries).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

from tests.peers.ports import PortInUse, bind_failed, free_media_port, free_port, start_with_retries

__all__ = ["Kamailio", "free_media_port", "free_port", "sip_options"]   # the port helpers live in ports.py

HERE = os.path.dirname(os.path.abspath(__file__))


def sip_options(port, timeout=0.3):
    """Send OPTIONS to the proxy itself; return the status code or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    cid = uuid.uuid4().hex
    msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:%d>\r\n"
           "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (port, me, cid[:16], port, cid))
    try:
        s.sendto(msg.encode(), ("127.0.0.1", port))
        s.settimeout(timeout)
        data = s.recvfrom(65535)[0]
        return int(data[8:11])
    except (OSError, ValueError):
        return None
    finally:
        s.close()


class Kamailio:
    """One Kamailio process; use as a context manager or call start()/stop()."""

    def __init__(self, workdir: str, port: int = None, extra_args=(), tls=None, tls_port: int = None,
                 tcp_aliases: bool = False, port_picker=free_port):
        """`tls`: (certificate, key) PEM paths to also listen for SIP over TLS on `tls_port`
        (a free one when omitted); `tcp_aliases`: honour Via `alias` (tcp_accept_aliases).
        `port_picker()` gives the ports not passed in (a test may hand out a busy one)."""
        self.workdir = workdir
        self.pick = port_picker
        self.fixed_port, self.fixed_tls_port = port, tls_port
        self.extra_args = list(extra_args)
        self.tls = tls
        if tcp_aliases:
            self.extra_args += ["-A", "TCP_ALIASES"]
        self.proc = None
        self.attempts = 0       # how many starts it took (more than 1 = a port race was lost)
        self._choose_ports()

    def _choose_ports(self):
        self.port = self.fixed_port or self.pick()
        self.tls_port = (self.fixed_tls_port or self.pick()) if self.tls else None
        self.dir = os.path.join(self.workdir, "kamailio-%d" % self.port)

    @property
    def tls_address(self) -> str:
        return "127.0.0.1:%d" % self.tls_port

    def _tls_args(self):
        if not self.tls:
            return []
        cfg = os.path.join(self.dir, "tls.cfg")
        with open(cfg, "w") as f:
            f.write("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                    "certificate = %s\nprivate_key = %s\n\n[client:default]\nmethod = TLSv1.2+\n"
                    "verify_certificate = no\nrequire_certificate = no\n" % self.tls)
        return ["-A", "WITH_TLS", "-A", 'TLS_CFG="%s"' % cfg, "-A", "LISTEN_TLS=tls:127.0.0.1:%d" % self.tls_port]

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        """Start and wait until it answers OPTIONS; on a lost port race (it exits logging a
        failed bind) start again on fresh ports, unless the caller fixed every port."""
        def attempt(n):
            if n:
                self._choose_ports()
            return self._start_once(timeout)
        if self.fixed_port and (self.fixed_tls_port or not self.tls):
            return self._start_once(timeout)
        return start_with_retries(attempt)

    def _start_once(self, timeout):
        self.attempts += 1
        os.makedirs(self.dir, exist_ok=True)
        db = os.path.join(self.dir, "dbtext")
        shutil.rmtree(db, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "kamailio", "dbtext"), db)
        self.ctl = os.path.join(self.dir, "kamailio_ctl")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        cmd = ["kamailio", "-DD", "-E", "-f", os.path.join(HERE, "kamailio", "kamailio.cfg"), "-Y", self.dir,
               "-A", 'DBURL="text://%s"' % db, "-A", 'CTL_SOCK="unix:%s"' % self.ctl,
               "-A", "LISTEN_UDP=udp:127.0.0.1:%d" % self.port,
               "-A", "LISTEN_TCP=tcp:127.0.0.1:%d" % self.port] + self._tls_args() + self.extra_args
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                if bind_failed(log):
                    raise PortInUse("kamailio could not bind %s: %s" % (self.address, log[-800:]))
                raise RuntimeError("kamailio exited at start: " + log[-800:])
            # Kamailio binds every socket before it forks its workers, so an answer while our
            # process lives is ours (the OPTIONS goes to a port of our own slice)
            if sip_options(self.port) == 200 and self.proc.poll() is None:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("kamailio did not answer OPTIONS within %.0f s: %s" % (timeout, self.log()[-800:]))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the forked workers too
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        self._log.close()

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def contacts(self, user: str) -> list:
        """Contact addresses registered for `user` (from `kamcmd ul.dump`)."""
        r = subprocess.run(["kamcmd", "-s", "unix:" + self.ctl, "ul.dump"], capture_output=True, text=True, timeout=10)
        out, aor = [], None
        for ln in r.stdout.splitlines():
            ln = ln.strip()
            if ln.startswith("AoR:"):
                aor = ln.split(":", 1)[1].strip()
            elif ln.startswith("Address:") and aor is not None and aor.split("@")[0] == user:
                out.append(ln.split(":", 1)[1].strip())
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
