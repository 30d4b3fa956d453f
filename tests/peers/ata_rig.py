"""One end-to-end rig for the handset tests that need several real parties: Kamailio on a free
loopback port, baresip phones (each sending its own sine), tipring line 1001 on the sim board
with its virtual handset, and an RTP tap on loopback (tests/peers/rtptap.py) that tells what
each phone is sent. Everything started is stopped by `stop()` (or the `with` block) whatever
state it is in; a failure while starting stops what is up.

    with AtaRig(str(tmp_path), phones=[("1002", 700), ("1003", 900, "manual")]) as rig:
        b, c = rig.phone("1002"), rig.phone("1003")
        with rig.handset() as h: ...
"""

import time

from tests.peers import rtptap
from tests.peers.baresip import BaresipPhone, tone_share
from tests.peers.firmware import RunningFirmware, sim_line_config
from tests.peers.handset import Handset
from tests.peers.kamailio import Kamailio
from tests.peers.ports import TRIES, PortInUse, free_port
from tests.peers.sipp import Sipp


class AtaRig:
    def __init__(self, workdir, phones=(("1002", 700), ("1003", 900)), record=False, mediaenc=None,
                 **line_keys):
        """`phones`: (user, tone_hz) or (user, tone_hz, answer mode) for each baresip;
        `mediaenc`: the phones' media encryption (BaresipPhone: "srtp", "srtp-mand" or None);
        `record`: the baresips also record (sndfile); `line_keys`: extra [[line]] keys for
        tipring's line 1001. Needs `rtptap.available()` (root or CAP_NET_RAW)."""
        self.workdir = workdir
        self.kam = None
        self.fw = None
        self.tap = None
        self.phones = {}
        self.extra = []        # other peers to stop (SIPp ...), see `adopt`
        try:
            self.tap = rtptap.RtpTap(())
            self.kam = Kamailio(workdir)
            self.kam.start()
            for p in phones:
                user, hz = p[0], p[1]
                answer = p[2] if len(p) > 2 else "auto"
                self.phones[user] = BaresipPhone(workdir, user, registrar=self.kam.address, answer=answer,
                                                 record=record, tone_hz=hz, mediaenc=mediaenc)
                self.tap.add_ports(self.rtp_ports(user))
            self.control = "127.0.0.1:%d" % free_port()
            self.fw = RunningFirmware(workdir, sim_line_config(self.kam.address, self.control, **line_keys))
            if not self.fw.wait_event(lambda e: e["event"] == "registered", 15):
                raise RuntimeError("tipring did not register: %s" % self.fw.events())
        except BaseException:
            self.stop()
            raise

    @property
    def domain(self):
        return self.kam.address

    def phone(self, user):
        return self.phones[user]

    def rtp_ports(self, user):
        lo, hi = self.phones[user].rtp_ports
        return range(lo, hi + 1)

    def handset(self):
        return Handset(self.control)

    def adopt(self, peer):
        """Stop `peer` (anything with stop()) with the rig."""
        self.extra.append(peer)
        return peer

    def sipp_user(self, user, scenario, extra=(), name=None, timeout="30s"):
        """A SIPp UAS running `scenario` as the registered `user` (1001..1004): register.xml
        from a free port first, then the scenario on that port; stopped with the rig. A port lost
        to another process before SIPp bound it is replaced (up to ports.TRIES times)."""
        for _ in range(TRIES):
            port = free_port()
            reg = Sipp(self.workdir, "register.xml", port, name="register-%s" % user,
                       extra=[self.kam.address, "-s", user, "-au", user, "-ap", "secret" + user,
                              "-key", "expires", "120", "-timeout", "10s"])
            rc = reg.wait(15)
            reg.stop()
            if not reg.bind_failed():
                break
        if rc != 0:
            raise RuntimeError("SIPp could not register %s (exit %s): %s" % (user, rc, reg.errors()[-800:]))
        uas = self.adopt(Sipp(self.workdir, scenario, port, name=name or "%s-%s" % (user, scenario[:-4]),
                              extra=list(extra) + ["-timeout", timeout]))
        time.sleep(0.3)                 # listening before anyone calls
        if uas.bind_failed():           # taken between register.xml's exit and this start
            raise PortInUse("SIPp lost port %d after registering %s: %s" % (port, user, uas.output()[-400:]))
        return uas

    # -- the firmware's event log ---------------------------------------------------------
    def mark(self):
        return len(self.fw.events())

    def call_event(self, since=0, timeout=15.0, **fields):
        """The first `call` event since `since` whose fields match (`state="ended", peer="1003"`)."""
        return self.fw.wait_event(lambda e: e["event"] == "call" and all(e.get(k) == v for k, v in fields.items()),
                                  timeout, since)

    def calls_since(self, since=0):
        return [e for e in self.fw.events()[since:] if e["event"] in ("call", "line", "error", "hook")]

    def errors(self):
        return [e for e in self.fw.events() if e["event"] == "error"]

    # -- audio ---------------------------------------------------------------------------
    def listen(self, settle=1.0, ms=1200):
        """After `settle` s, what each phone was sent over the next `ms` ms:
        {user: (samples, rate)} (G.711 decoded from the RTP tap)."""
        time.sleep(settle)
        m = self.tap.mark()
        time.sleep(ms / 1000.0)
        return {u: self.tap.pcm(m, self.rtp_ports(u)) for u in self.phones}

    def sources(self, user, since=0):
        """(SSRCs, timestamp steps back) in what `user` was sent since tap mark `since`."""
        return self.tap.sources(since, self.rtp_ports(user))

    def owner(self, port):
        """The rig's phone whose RTP port range holds `port`, else None (tipring, SIPp ...)."""
        for u in self.phones:
            if port in self.rtp_ports(u):
                return u
        return None

    def senders(self, user, since=0):
        """Who sent RTP to `user` since tap mark `since`: {sender: packets}, the sender being
        one of the rig's phones (its user) or, for anyone else (tipring's media), the UDP
        source port."""
        out = {}
        for p in self.tap.since(since, self.rtp_ports(user)):
            who = self.owner(p[1]) or p[1]
            out[who] = out.get(who, 0) + 1
        return out

    @staticmethod
    def share(heard, hz):
        """(share, loud blocks) of `hz` in one phone's `listen` result (baresip.tone_share)."""
        x, rate = heard
        share, n = tone_share(x, rate, hz)
        return round(share, 3), n

    # -- ending ----------------------------------------------------------------------------
    def stop(self):
        if self.fw is not None:
            try:
                self.fw.stop()
            finally:
                self.fw.kill()
            self.fw = None
        for peer in self.extra:
            try:
                peer.stop()
            except Exception:
                pass
        self.extra = []
        for p in self.phones.values():
            try:
                p.stop()
            except Exception:
                pass
        self.phones = {}
        if self.kam is not None:
            self.kam.stop()
            self.kam = None
        if self.tap is not None:
            self.tap.stop()
            self.tap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
