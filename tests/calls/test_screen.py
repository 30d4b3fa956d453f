"""tipring/firmware/calls/screen.py: the check a new INVITE passes before it may ring a line,
driven through the call layer as app.py wires it (tests/calls/ata.py). The refusals one by one
are in test_hostile.py, test_call_flows.py and test_failover.py; here what the screen itself
owns: its order, that it reads the manager's live lines (app.py rebinds them on a config
reload), and its helpers."""

from tipring.firmware.calls.screen import GHOST_REASON, InviteScreen, invite_user, unusable
from tipring.firmware.sip.message import parse_message
from tests.calls.ata import Ata, PROXY, STRANGER, invite, line


def test_the_manager_screens_with_its_own_invite_screen():
    ata = Ata()
    assert isinstance(ata.mgr.screen, InviteScreen) and ata.mgr.screen.manager is ata.mgr
    assert ata.mgr.screen.proxies(1) == [PROXY]
    assert ata.mgr.screen.from_a_proxy(PROXY) and not ata.mgr.screen.from_a_proxy(STRANGER)


def test_a_stranger_gets_the_same_403_whoever_the_invite_names_before_any_other_check():
    """The source comes first: a stranger's INVITE for an unknown user, or one that would be
    refused 400 from the proxy, draws the same stateless 403 (a scanner learns nothing)."""
    ata = Ata()
    answers = []
    for data in (invite(), invite(ruri="sip:9999@127.0.0.1:5070", call_id="c2@h", branch="z9hG4bKb2"),
                 invite(contact=None, call_id="c3@h", branch="z9hG4bKb3")):
        r = ata.feed(data, src=STRANGER)
        assert len(r) == 1
        answers.append((r[0].status, r[0].reason))
    assert answers == [(403, GHOST_REASON)] * 3
    assert ata.idle() and not ata.line_cmds


def test_a_line_added_by_a_reload_is_screened_in_at_once():
    """app.py's reload rebinds `lines` on the manager: the screen sees the new line."""
    ata = Ata()
    r = ata.feed(invite(ruri="sip:1005@127.0.0.1:5070"))
    assert [x.status for x in r] == [404]
    ata.mgr.lines = {1: line(), 2: line(port=2, user="1005")}
    r = ata.feed(invite(ruri="sip:1005@127.0.0.1:5070", call_id="c9@h", branch="z9hG4bKc9"))
    assert [x.status for x in r] == [180] and ata.ringing.get(2)


def test_invite_user_and_unusable_on_parsed_requests():
    req = parse_message(invite())
    assert invite_user(req) == "1001"
    assert unusable(req, {}) is None
    assert unusable(parse_message(invite(contact=None)), {})[0] == 400
    assert unusable(parse_message(invite(ctype="text/plain")), {})[:2] == \
        (415, "Unsupported Media Type")


def test_a_call_id_in_use_is_482_for_the_same_invite_and_486_for_another():
    ata = Ata()
    assert [x.status for x in ata.feed(invite())] == [180]
    calls = ata.mgr.calls
    assert unusable(parse_message(invite()), calls)[:2] == (482, "Loop Detected")
    assert unusable(parse_message(invite(from_tag="other")), calls)[:2] == (486, "Busy Here (Call-ID in use)")
