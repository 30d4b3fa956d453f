"""The dialog table of tipring/firmware/calls/call.py (issue #16 item 1): every state change goes through
`Call._move`, every event the code moves with is in `TRANSITIONS`, every event in the table is
used, and an event the table has no entry for is an `error` event that changes nothing. The
AST checks read every module `Call` is made of (call.py and the parts it inherits from:
reinvite.py, prack.py, refer.py, and any part added later), found from `Call.__mro__`."""

import ast
import inspect
import sys

from tipring.firmware.calls import call as call_mod
from tipring.firmware.calls.call import TRANSITIONS
from tests.calls.test_call_flows import A, B, pair


def _part_modules():
    """The modules that define `Call` or one of the classes it inherits from."""
    names = []
    for cls in call_mod.Call.__mro__:
        if cls is not object and cls.__module__ not in names:
            names.append(cls.__module__)
    return [sys.modules[n] for n in names]


def _source_trees():
    """(short module name, AST) for every module of `Call`."""
    return [(mod.__name__.rsplit(".", 1)[1], ast.parse(inspect.getsource(mod))) for mod in _part_modules()]


def test_the_checks_read_every_part_of_call():
    names = [m.__name__.rsplit(".", 1)[1] for m in _part_modules()]
    assert names[0] == "call" and {"reinvite", "prack", "refer"} <= set(names), names
    # the parts are chained in single inheritance (STYLE.md: no multiple inheritance in the core)
    assert all(len(cls.__bases__) == 1 for cls in call_mod.Call.__mro__ if cls is not object)


def _moved_events():
    """Every event name the code hands `_move` or `_end` (their literal string arguments),
    with the places ("module:line") it is handed over."""
    events = {}
    for name, node in ((name, node) for name, tree in _source_trees() for node in ast.walk(tree)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr == "_move":
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id == "event":
                continue                        # `_end` passing its own event on
        elif node.func.attr == "_end":
            arg = node.args[1] if len(node.args) > 1 else None
        else:
            continue
        if isinstance(arg, ast.IfExp):          # _move("hold" if held else "resume")
            names = [arg.body, arg.orelse]
        else:
            names = [arg]
        for n in names:
            assert isinstance(n, ast.Constant) and isinstance(n.value, str), \
                "%s:%d: %s with a computed event" % (name, node.lineno, node.func.attr)
            events.setdefault(n.value, []).append("%s:%d" % (name, node.lineno))
    return events


def test_every_event_the_code_moves_with_is_in_the_table_and_every_table_event_is_used():
    used = set(_moved_events())
    listed = {ev for row in TRANSITIONS.values() for ev in row}
    assert used - listed == set(), "events with no entry anywhere"
    assert listed - used == set(), "table events the code never moves with"
    # the parts move the call too: hold/resume/dialog_gone in reinvite.py, the reliable
    # 180's timeout in prack.py, the 302 of a forward in refer.py
    where = {ev: {place.split(":")[0] for place in places} for ev, places in _moved_events().items()}
    assert {"reinvite"} == where["hold"] == where["resume"] == where["dialog_gone"]
    assert "prack" in where["timeout"] and "refer" in where["reject"]


def test_every_state_is_reachable_and_every_next_state_is_a_state():
    targets = {nxt for row in TRANSITIONS.values() for nxt in row.values()}
    assert targets <= set(TRANSITIONS)
    starts = {"dialing", "incoming"}        # Call.__init__
    assert set(TRANSITIONS) - targets - starts == set()
    assert TRANSITIONS["ended"] == {}


def test_no_state_is_written_outside_move_and_init():
    writers = []
    for name, tree in _source_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and any(
                            isinstance(t, ast.Attribute) and t.attr == "state" and
                            isinstance(t.value, ast.Name) and t.value.id == "self"
                            for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])):
                        writers.append("%s.%s" % (name, node.name))
    assert sorted(set(writers)) == ["call.__init__", "call._move"]


def test_a_miss_is_an_error_event_and_changes_nothing():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    net.run(b.answer(1, 1.0), B)
    call = a.call_on(1)
    assert call.state == "connected"
    acts = []
    assert call._move("cancel", acts) is False
    assert call.state == "connected"
    assert acts == [("event", "error", {"where": "calls", "line": 1, "call_id": call.call_id,
                                        "state": "connected", "event": "cancel",
                                        "message": "line 1: call event 'cancel' has no move in state 'connected'"})]
    # `_end` with an event the state has no entry for ends nothing either
    assert [x[1] for x in call._end("no", "answer")] == ["error"] and call.state == "connected"


def test_a_late_final_response_to_an_ended_call_is_dropped_quietly():
    net, a, b = pair()
    net.run(a.dial(1, "1002", 0.0), A)
    call = a.call_on(1)
    net.run(b.hangup(1, 1.0), B)                # B refuses (480): A's call ends
    assert call.state == "ended"
    n = len(net.events)
    from tipring.firmware.sip.message import parse_message
    late = [d for f, t, d in net.raw if f == B and d.startswith(b"SIP/2.0 480")][0]
    assert call.on_response(parse_message(late), 2.0) == []
    assert call.state == "ended" and len(net.events) == n


def test_driving_the_basic_flows_walks_these_entries():
    """A recorder around `_move` while two back-to-back calls run: the common entries are
    really taken (the rest are driven by the tests of each flow)."""
    seen = set()
    real = call_mod.Call._move

    def recording(self, event, acts=None):
        before = self.state
        ok = real(self, event, acts)
        if ok:
            seen.add((before, event))
        return ok
    call_mod.Call._move = recording
    try:
        net, a, b = pair()
        net.run(a.dial(1, "1002", 0.0), A)
        net.run(b.answer(1, 1.0), B)
        net.run(a.flash(1, 2.0), A)              # hold
        net.run(a.flash(1, 3.0), A)              # resume
        net.run(a.hangup(1, 4.0), A)
        net.run(a.dial(1, "1002", 5.0), A)
        net.run(a.hangup(1, 6.0), A)             # cancel while ringing
        net.tick(40.0)
    finally:
        call_mod.Call._move = real
    assert {("dialing", "180"), ("incoming", "answer"), ("ringing", "2xx"), ("connected", "hold"),
            ("held", "resume"), ("connected", "hangup"), ("connected", "bye"), ("releasing", "final"),
            ("ringing", "hangup"), ("cancelling", "failure"), ("incoming", "cancel")} <= seen, seen
