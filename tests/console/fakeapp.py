"""A small stand-in for the firmware's `app` facade (docs/console-app-api.md) for console tests.

It runs over a real `tipring.firmware.config.Config` and a real `EventLog`; calls, lines and SIP history
are plain data the test sets. `apply_config` applies everything live except `sip.bind`,
`sip.transport`, `board.kind` and `console.listen`, which it says take effect after reboot.
"""

from tipring.firmware import config
from tipring.firmware.eventlog import EventLog

REBOOT_KEYS = (("sip", "bind"), ("sip", "transport"), ("board", "kind"), ("console", "listen"))

LOCAL, PROXY = "127.0.0.1:5070", "127.0.0.1:5060"


def _m(t, d, summary, cid):
    return {"t": t, "dir": d, "summary": summary, "peer": PROXY, "local": LOCAL, "call_id": cid}


# REGISTER with digest auth, then an authenticated outgoing call that ends with BYE (FLOWS.md 2, 4, 6)
HISTORY = [
    _m(10.000, "out", "REGISTER sip:127.0.0.1 SIP/2.0", "reg-7f3a"),
    _m(10.004, "in", "SIP/2.0 401 Unauthorized", "reg-7f3a"),
    _m(10.006, "out", "REGISTER sip:127.0.0.1 SIP/2.0", "reg-7f3a"),
    _m(10.011, "in", "SIP/2.0 200 OK", "reg-7f3a"),
    _m(42.000, "out", "INVITE sip:1002@127.0.0.1 SIP/2.0", "call-91c2"),
    _m(42.003, "in", "SIP/2.0 407 Proxy Authentication Required", "call-91c2"),
    _m(42.004, "out", "ACK sip:1002@127.0.0.1 SIP/2.0", "call-91c2"),
    _m(42.006, "out", "INVITE sip:1002@127.0.0.1 SIP/2.0", "call-91c2"),
    _m(42.009, "in", "SIP/2.0 100 Trying", "call-91c2"),
    _m(42.120, "in", "SIP/2.0 180 Ringing", "call-91c2"),
    _m(45.500, "in", "SIP/2.0 200 OK", "call-91c2"),
    _m(45.502, "out", "ACK sip:1002@127.0.0.1 SIP/2.0", "call-91c2"),
    _m(61.000, "out", "BYE sip:1002@127.0.0.1:5080 SIP/2.0", "call-91c2"),
    _m(61.004, "in", "SIP/2.0 200 OK", "call-91c2"),
]


class FakeApp:
    version = "0.1.0-test"

    def __init__(self, cfg=None, config_path=None, clock=None):
        self.config = cfg or config.builtin_default()
        self.config_path = config_path
        self.events = EventLog(clock=clock)
        self.history = list(HISTORY)
        self.call_list = []
        self.trace = False
        self.log = []            # (method, args) of every action asked of the firmware

    def status(self) -> dict:
        return {"version": self.version, "uptime_s": 3723, "sip": self.config.sip["bind"],
                "console": self.config.console["listen"], "control": self.config.board["control"],
                "lines": [{"port": ln["port"], "user": ln["user"], "registrar": ln["registrar"],
                           "registration": "registered", "expires_in": 3500, "hook": "on",
                           "state": "idle"} for ln in self.config.lines],
                "calls": self.calls()}

    def calls(self) -> list:
        return list(self.call_list)

    def apply_config(self, new_cfg) -> list:
        old = self.config
        notes = []
        for sec, key in REBOOT_KEYS:
            if old.data[sec].get(key) != new_cfg.data[sec].get(key):
                notes.append("%s.%s: takes effect after reboot" % (sec, key))
        for a, b in zip(old.lines, new_cfg.lines):
            if a != b:
                notes.append("line %d: re-registering" % b["port"])
        self.config = new_cfg
        self.log.append(("apply_config", new_cfg))
        return notes

    def hangup(self, line=None) -> str:
        self.log.append(("hangup", line))
        return "line %s: no call" % (line if line is not None else "all")

    def ring(self, line) -> str:
        self.log.append(("ring", line))
        return "line %d: ringing (test)" % line

    def set_trace(self, on) -> None:
        self.trace = on
        self.log.append(("set_trace", on))

    def sip_history(self, call_id=None) -> list:
        return [m for m in self.history if call_id is None or m["call_id"] == call_id]

    def reboot(self) -> None:
        self.log.append(("reboot", None))

    def factory_reset(self) -> None:
        self.log.append(("factory_reset", None))
