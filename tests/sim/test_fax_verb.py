"""The sim control protocol's `fax` verb (docs/interfaces-additions.md): a spandsp fax machine
plugged in place of the handset's mouth and ear, over the real TCP control port of a running
firmware: plugged, asked for its status, unplugged with its last status; bad requests get one
clear `ok: false` and leave nothing plugged. (A whole fax through the verb:
tests/integration/test_fax_t38_two_atas.py.)"""

import pytest

from tipring.board.sim import fax_machine
from tests.peers.fax_tiff import write_page
from tests.sim.helpers import Running

pytestmark = pytest.mark.skipif(fax_machine.available() is not None, reason="libspandsp not installed")


@pytest.fixture
def rig():
    r = Running()
    yield r
    r.stop()


def test_fax_send_status_and_off(rig, tmp_path):
    page = str(tmp_path / "page.tif")
    write_page(page, rows=50)
    c = rig.client()
    assert c.ok("fax status")["fax"] is None
    st = c.ok("fax send %s" % page)["fax"]
    assert (st["mode"], st["file"], st["done"], st["completion"]) == ("send", page, False, None)
    c.ok("offhook")
    listened = c.ok("listen 1000")         # the handset's own ear still hears the line
    assert "tone" in listened
    st = c.ok("fax status")["fax"]
    assert st["mode"] == "send" and st["done"] is False
    last = c.ok("fax off")["fax"]
    assert last["mode"] == "send"
    assert c.ok("fax status")["fax"] is None
    c.ok("onhook")


@pytest.mark.parametrize("request_, says", [
    ("fax", "usage"), ("fax send", "usage"), ("fax fly /tmp/x", "usage"),
    ("fax send /nonexistent/page.tif", "No such file"), ("fax status extra", "usage"),
    ("fax send a b c", "unexpected argument"),
])
def test_bad_fax_requests_are_refused_clearly(rig, request_, says):
    c = rig.client()
    r = c.ask(request_)
    assert r["ok"] is False and says in r["error"], r
    assert c.ok("fax status")["fax"] is None          # nothing plugged, the handset still answers
