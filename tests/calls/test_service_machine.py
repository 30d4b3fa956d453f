"""The per-line service machine (tipring/firmware/calls/services.py, issue #16 item 1) and its agreement
with the FXS line table (tipring/firmware/line/fxs.py).

The table is checked on its own (every event the manager moves with is listed, every entry is
used, every action exists), then real flows run with A's line 1 as a real `FxsLine` wired to
A's `CallManager` the way app.py wires them (line intents -> manager, `("line", ...)` outputs ->
`FxsLine.command`), on the three-UA virtual network of test_services.py: after every step the
line's state and the service state must be a pair `LINE_STATES` allows."""

import ast
import inspect

import pytest

from tipring.firmware.calls import flash as flash_mod, manager as manager_mod
from tipring.firmware.calls.services import LINE_STATES, STATES, TRANSITIONS, LineService
from tipring.firmware.line import fxs
from tipring.firmware.line.fxs import FxsLine
from tests.calls.test_services import A, B, C, Net, P
from tests.calls.test_threeway import Bridge
from tests.calls.vnet import VirtualNet

pytestmark = pytest.mark.timeout(30)


# ---------------------------------------------------------------------- the table


def _strings(node):
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _manager_events():
    """Every event name the manager hands `LineService.move` (`role + "_end"` is both ends)."""
    events = set()
    source = inspect.getsource(manager_mod) + "\n" + inspect.getsource(flash_mod)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "move":
            arg = node.args[0]
            if isinstance(arg, ast.BinOp):
                events |= {"held_end", "waiting_end"}
            else:
                events |= _strings(arg)
    return events


def test_every_event_the_manager_moves_with_is_listed_and_every_listed_event_is_used():
    listed = {ev for row in TRANSITIONS.values() for ev in row}
    used = _manager_events() | {"empty"}          # `empty` is the machine's own follow-up
    assert used - listed == set()
    assert listed - used == set()


def test_every_state_has_a_row_every_target_is_a_state_every_action_exists():
    assert set(TRANSITIONS) == set(STATES)
    for state, row in TRANSITIONS.items():
        for event, (nxt, action) in row.items():
            assert nxt in STATES, (state, event)
            assert callable(getattr(LineService, "_a_" + action, None)), (state, event, action)
    reached = {nxt for row in TRANSITIONS.values() for nxt, _ in row.values()}
    assert reached == set(STATES)


def test_the_mapping_names_every_line_state_and_every_service_state():
    assert set(LINE_STATES) == set(fxs.STATES)
    named = {s for states in LINE_STATES.values() for s in states}
    assert named <= set(STATES)
    assert set(STATES) - named == set()


def test_a_miss_is_an_error_event_and_changes_nothing():
    svc = LineService(1)
    marker = object()
    svc.active = marker
    svc.state = "single"
    out = svc.move("swap")
    assert out == [("event", "error", {"where": "calls", "line": 1, "state": "single", "event": "swap",
                                       "message": "line 1: service event 'swap' has no move in state 'single'"})]
    assert svc.state == "single" and svc.active is marker and svc.held is None


def test_the_last_call_leaving_brings_the_line_back_to_idle():
    svc = LineService(1)
    b, c = object(), object()
    assert svc.move("dial", b) == [] and svc.state == "single"
    svc.move("hold")
    svc.move("dial_second", c)
    assert (svc.state, svc.active, svc.held) == ("second", c, b)
    svc.move("transfer_on_hangup", c)
    svc.move("active_end", c)
    assert svc.state == "transferring" and svc.held is b
    svc.move("held_end", b)                       # both gone: `empty` follows by itself
    assert svc.state == "idle" and svc.calls() == [] and svc.handing is None


# ---------------------------------------------------------------------- a real line on A


class LinedNet(Net):
    """The three-UA network with A's line 1 a real FxsLine, wired as app.py wires it."""

    def __init__(self, **line_keys):
        super().__init__()
        self.a = self.add(A, "1001")
        self.b = self.add(B, "1002")
        self.c = self.add(C, "1003")
        self.fxs = FxsLine(port=1, **line_keys)
        self.trace = []

    def local(self, o, at):
        """A's line commands go to the FxsLine and its intents to A's manager, each in turn
        (as app.py's loop does); the rest is recorded as VirtualNet records it."""
        if o[0] == "line" and at == A and o[1] == 1:
            self.line_cmds.append((A, o[1], o[2]) + tuple(o[3:]))
            return [(x, A) for x in self.fxs.command(o[2], list(o[3:]), self.now)]
        if o[0] == "intent":
            return [(x, A) for x in self.intent(o[1], *o[2:])]
        return VirtualNet.local(self, o, at)

    def intent(self, name, *args):
        """What app.py's line_intent does with each intent of line 1."""
        mgr, now = self.a, self.now
        if name in ("digit", "feature"):
            return []
        if name == "transfer_attended":
            held = mgr.held_call(1)
            return mgr.transfer_attended(1, held, now, hung_up=True) if held else mgr.hangup(1, now)
        if name == "flash_relay":
            return mgr.flash_info(1, now)
        method = getattr(mgr, name)
        return method(1, *args, now)

    # -- the handset
    def handset(self, kind, t):
        self.now = t
        self.run(self.fxs.hook(kind, t), A)
        self.check(kind)

    def keys(self, digits, t):
        self.now = t
        for d in digits:
            self.run(self.fxs.digit(d, "dtmf", t), A)
        due = self.fxs.deadline()
        if due is not None and self.fxs.state in ("collecting", "flash_collecting"):
            self.run(self.fxs.on_timer(due), A)      # the dial plan's interdigit timer
        self.check("dial " + digits)

    def far(self, what, mgr, at, t):
        self.now = t
        self.run(getattr(mgr, what)(1, t), at)
        self.check(what)

    def check(self, step):
        svc = self.a.service(1)
        pair = (self.fxs.state, svc.state)
        self.trace.append((step,) + pair)
        assert svc.state in LINE_STATES[self.fxs.state], self.trace
        misses = [e for e in self.events if e[1] == "error" and "event" in e[2]]
        assert misses == [], misses                 # no table (call or service) was missed
        return pair


def _talking_to_b(net):
    net.handset("off_hook", 0.0)
    net.keys("1002", 0.1)
    net.far("answer", net.b, B, 0.5)
    assert net.check("talk") == ("talking", "single")


def test_hold_resume_and_hang_up():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    assert net.check("") == ("flash_dial", "held")
    net.handset("flash", 2.0)
    assert net.check("") == ("talking", "single")
    net.handset("on_hook", 3.0)
    assert net.check("") == ("on_hook", "idle") and net.a.calls == {}


def test_second_call_conference_and_drop_last_agree_step_by_step():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    assert net.check("") == ("second_call", "second")
    net.far("answer", net.c, C, 2.0)
    assert net.check("") == ("second_talking", "second")
    assert net.a.held_call(1).peer == "1002" and net.a.call_on(1).peer == "1003"
    assert net.a.ports_with_calls() == [1] and net.a.has_calls()
    net.handset("flash", 3.0)
    assert net.check("") == ("conference", "conference")
    net.handset("flash", 4.0)                     # drop C
    assert net.check("") == ("talking", "single")
    assert net.c.calls == {} and net.b.call_on(1).state == "connected"
    net.handset("on_hook", 5.0)
    assert net.check("") == ("on_hook", "idle")
    assert net.a.ports_with_calls() == [] and not net.a.has_calls() and net.a.held_call(1) is None


def test_giving_up_the_second_call_and_hanging_up_with_one_held_rings_back():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    net.handset("flash", 2.0)                     # give up C while it rings: back to B
    assert net.check("") == ("talking", "single") and net.c.calls == {}
    net.handset("flash", 3.0)
    net.handset("on_hook", 4.0)                   # B on hold: the phone rings back
    assert net.check("") == ("recalling", "recall")
    net.handset("off_hook", 5.0)
    assert net.check("") == ("talking", "single")
    assert net.a.call_on(1).state == "connected"


def test_hanging_up_on_a_second_call_hands_b_over_to_c():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    net.far("answer", net.c, C, 2.0)
    net.handset("on_hook", 3.0)                   # FLOWS §15: attended transfer
    assert net.check("") == ("on_hook", "idle")
    assert net.a.calls == {} and net.b.call_on(1).state == "connected"
    assert net.c.call_on(1).state == "connected"


def test_a_hang_up_transfer_that_fails_goes_through_transferring_to_recall():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    net.far("answer", net.c, C, 2.0)
    net.drop = lambda data: data.startswith(b"REFER ")
    net.handset("on_hook", 3.0)
    assert net.check("") == ("on_hook", "transferring")
    net.tick(40.0)                                # Timer F: the REFER failed
    assert net.check("timer F") == ("recalling", "recall")
    net.drop = None
    net.handset("off_hook", 41.0)
    assert net.check("") == ("talking", "single") and net.a.call_on(1).peer == "1002"


def test_call_waiting_answer_swap_and_the_held_one_leaving():
    net = LinedNet()
    _talking_to_b(net)
    net.now = 1.0
    net.run(net.c.dial(1, "1001", 1.0), C)
    assert net.check("C calls") == ("waiting", "waiting")
    net.handset("flash", 2.0)
    assert net.check("") == ("swapped", "swapped")
    assert net.a.call_on(1).peer == "1003"
    net.handset("flash", 3.0)
    assert net.check("") == ("swapped", "swapped") and net.a.call_on(1).peer == "1002"
    net.far("hangup", net.c, C, 4.0)              # the held one (C) leaves
    assert net.check("") == ("talking", "single")
    net.handset("on_hook", 5.0)
    assert net.check("") == ("on_hook", "idle")


def test_call_waiting_then_hanging_up_rings_for_the_waiting_call():
    net = LinedNet()
    _talking_to_b(net)
    net.now = 1.0
    net.run(net.c.dial(1, "1001", 1.0), C)
    net.handset("on_hook", 2.0)
    assert net.check("") == ("ringing", "single")
    net.handset("off_hook", 3.0)
    assert net.check("") == ("talking", "single") and net.a.call_on(1).peer == "1003"


def test_blind_transfer_from_the_second_dial_tone():
    net = LinedNet()
    _talking_to_b(net)
    net.handset("flash", 1.0)
    net.keys("*981003", 1.5)                      # FLOWS §14
    assert net.check("") in (("transferring", "held"), ("confirm", "idle"))
    net.far("answer", net.c, C, 2.0)
    assert net.fxs.state in ("confirm", "dial_tone") and net.a.service(1).state == "idle"
    assert net.b.call_on(1).peer == "1003"


# ---------------------------------------------------------------------- #15: flash on a bridge


class DroppingBridge(Bridge):
    """The stand-in bridge of test_threeway.py, which also takes a REFER (202, or `refer_code`)."""

    def __init__(self, net, refer_code=202):
        super().__init__(net)
        self.refers = []
        self.refer_code = refer_code
        self.ua.handlers["REFER"] = self.on_refer

    def on_refer(self, req, tx, src, now):
        from tipring.firmware.sip.dialog import make_response
        self.refers.append(req)
        return self.ua.send_response(make_response(req, self.refer_code), now)


def _on_the_bridge(net):
    _talking_to_b(net)
    net.a.lines[1]["conference_uri"] = "conf"
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    net.far("answer", net.c, C, 2.0)
    net.handset("flash", 3.0)                     # join: the bridge is called, B and C referred
    assert net.check("") == ("conference", "bridged")
    assert net.a.call_on(1).peer == "conf"


def test_flash_on_a_network_bridge_asks_it_to_drop_the_last_party():
    net = LinedNet()
    bridge = DroppingBridge(net)
    _on_the_bridge(net)
    n = len(net.events)
    net.handset("flash", 4.0)
    assert net.check("") == ("talking", "single")
    assert len(bridge.refers) == 1
    refer = bridge.refers[0]
    assert refer.headers.get("Refer-To") == "<sip:1003@%s:%d;method=BYE>" % P
    assert refer.call_id == net.a.call_on(1).call_id          # in our dialog with the bridge
    assert net.a.call_on(1).state == "connected" and net.a.call_on(1).refer_out is None
    assert not [e for e in net.events[n:] if e[0] == A and e[1] == "error"]
    net.handset("on_hook", 5.0)
    assert net.check("") == ("on_hook", "idle") and net.a.calls == {}


def test_a_bridge_that_refuses_the_drop_is_logged_and_the_call_stays():
    net = LinedNet()
    DroppingBridge(net, refer_code=403)
    _on_the_bridge(net)
    net.handset("flash", 4.0)
    assert net.check("") == ("talking", "single")
    errors = [e[2]["message"] for e in net.events if e[0] == A and e[1] == "error"]
    assert errors == ["line 1: the conference bridge did not drop sip:1003@%s:%d;method=BYE" % P]
    assert net.a.call_on(1).state == "connected"


def test_a_party_leaving_while_the_bridge_is_called_leaves_the_other_one_for_the_bridge():
    net = LinedNet()
    DroppingBridge(net)
    _talking_to_b(net)
    net.a.lines[1]["conference_uri"] = "conf"
    net.handset("flash", 1.0)
    net.keys("1003", 1.5)
    net.far("answer", net.c, C, 2.0)
    first = []
    net.drop = lambda data: data.startswith(b"INVITE sip:conf@") and not first.append(1) and len(first) == 1
    net.handset("flash", 3.0)                     # the bridge's first INVITE is lost
    assert net.check("") == ("conference", "bridging")
    net.far("hangup", net.c, C, 3.1)              # C leaves meanwhile
    assert net.check("") == ("talking", "bridging")
    net.tick(3.7)                                 # Timer A: the INVITE again; the bridge answers
    assert net.check("bridge up") == ("talking", "bridged")
    assert net.a.call_on(1).peer == "conf" and net.b.call_on(1).peer == "conf"
    net.handset("flash", 3.8)                     # a plain call to the bridge now: flash holds it
    assert net.check("") == ("flash_dial", "held")
    net.handset("flash", 3.9)
    assert net.check("") == ("talking", "single")
    net.handset("on_hook", 4.0)
    assert net.check("") == ("on_hook", "idle") and net.a.calls == {}
