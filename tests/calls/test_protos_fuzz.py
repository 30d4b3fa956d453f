"""The whole PROTOS c07-sip suite and 20 000 seeded mutants into the SIP entry point of the call
layer, wired as app.py wires it (tests/calls/ata.py), on a virtual clock.

PROTOS's own pass criterion is the target staying alive and answering after every case; here,
after every batch: an OPTIONS gets 200, a valid INVITE from the proxy still rings (no phantom
call) and a CANCEL ends it, the line is idle with no call, timer or RTP port left, the
transaction table drains once its timers have run, and the process memory stays flat. Between
batches nothing but SipParseError-style refusals may happen: no exception out of `receive()`,
no `internal error` event. Inside a connected call, only a well-formed BYE of that dialog may
end it.
"""

import os
import random
import zipfile

import pytest

from tipring.firmware.sip.message import SipParseError, parse_message
from tests.calls.ata import Ata, ATA, PROXY, STRANGER, USER, invite, request
from tests.sip.test_message import _corpus, _mutate

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
PROTOS_ZIP = os.path.join(DATA, "protos-c07-sip", "c07-sip-r2-testcases.zip")
MAX_DATAGRAM = 65507
MUTANTS = 20000
SEED = 14


def protos_cases():
    """Each case as its (INVITE, teardown) datagrams, placeholders filled in as the PROTOS
    injector does (tests/data/protos-c07-sip/PROVENANCE.md), aimed at our line's user."""
    with zipfile.ZipFile(PROTOS_ZIP) as z:
        names = sorted(n for n in z.namelist() if n.startswith("testcases/"))
        for index, name in enumerate(names):
            yield index, _records(z.read(name), index)


def _records(raw, index):
    out = []
    pos = 0
    while pos < len(raw):
        sp = raw.index(b" ", pos)
        n = int(raw[pos:sp])
        out.append(_fill(raw[sp + 1:sp + 1 + n], index))
        pos = sp + 1 + n
    return out


def _fill(msg, index):
    subs = {b"<To>": ("%s@%s:%d" % (USER, ATA[0], ATA[1])).encode(), b"<From>": b"protos@127.0.0.1:5060",
            b"<From-Address>": b"127.0.0.1", b"<From-IP>": b"127.0.0.1", b"<Local-Port>": b"5060",
            b"<Call-ID>": str(index).encode(), b"<CSeq>": b"1", b"<Branch-ID>": str(index).encode()}
    for k, v in subs.items():
        msg = msg.replace(k, v)
    end = msg.find(b"\r\n\r\n")
    body = 0 if end < 0 else len(msg) - end - 4
    return msg.replace(b"<Content-Length>", str(body).encode())[:MAX_DATAGRAM]


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class Fuzz:
    """Feeds datagrams and checks the invariants after each one and each batch."""

    def __init__(self):
        self.ata = Ata(rate_limit=False)
        self.fed = 0
        self.batches = 0
        self.statuses = {}
        self.checks = 0

    def feed(self, data, src=PROXY):
        ata = self.ata
        n = len(ata.sent)
        out = ata.ua.receive(data, src, ata.now)     # anything raised here fails the test
        ata.carry(out)
        self.fed += 1
        for _, d in ata.sent[n:]:
            try:
                m = parse_message(d)
            except SipParseError as e:       # what we send must always parse
                raise AssertionError("we sent an unparsable message (%s): %r" % (e, d[:200]))
            if not m.is_request:
                self.statuses[m.status] = self.statuses.get(m.status, 0) + 1
        for call in ata.mgr.calls.values():
            assert call.state != "ended", "an ended call was kept"
            assert call.direction != "in" or call.dialog is not None, "an incoming call without a dialog"
        ringing = {c.server_tx for c in ata.mgr.calls.values()}
        for tx in ata.ua.tl.transactions.values():
            # an INVITE left without a final answer is a call ringing, nothing else
            assert tx.state != "proceeding" or tx.request.method != "INVITE" or tx in ringing, \
                "INVITE left unanswered: %r" % data[:600]
        return out

    def end_batch(self):
        """Let every timer run out, then probe: OPTIONS 200, a valid INVITE rings, idle."""
        ata = self.ata
        self.batches += 1
        bad = [e for e in ata.errors() if "internal error" in e]
        assert not bad, bad[:3]
        ata.tick(ata.now + 200.0)
        for call in list(ata.mgr.calls.values()):       # a caller that never gave up
            ata.act(ata.mgr.hangup(call.port, ata.now))
        ata.ringing.clear()
        ata.tick(ata.now + 200.0)
        assert not ata.ua.tl.transactions, list(ata.ua.tl.transactions)[:3]
        assert not ata.ua.owner and not ata.ua.dest and ata.ua.tus == [ata.mgr]
        assert ata.idle(), (ata.mgr.calls, ata.mgr._timers, ata.rtp_open)
        tag = "probe%d" % self.batches
        r = ata.feed(request("OPTIONS", branch="z9hG4bK" + tag, call_id=tag, contact=None), ("127.0.0.1", 5998))
        assert [x.status for x in r] == [200]
        r = ata.feed(invite(branch="z9hG4bKi" + tag, call_id="i" + tag))
        assert [x.status for x in r] == [180], [(x.status, x.reason) for x in r]
        r = ata.feed(request("CANCEL", branch="z9hG4bKi" + tag, call_id="i" + tag, contact=None))
        assert sorted(x.status for x in r) == [200, 487]
        ata.tick(ata.now + 40.0)
        assert ata.idle() and not ata.ua.tl.transactions
        assert len(ata.ua.history) <= 400
        self.checks += 1
        del ata.sent[:], ata.events[:], ata.line_cmds[:]    # the test's own records, not the ATA's


def test_protos_case_zero_is_answered_like_a_call():
    fz = Fuzz()
    index, (inv, teardown) = next(protos_cases())
    fz.feed(inv)
    assert fz.ata.ringing.get(1) and fz.statuses == {180: 1}
    fz.feed(teardown.replace(b"<Teardown-Method>", b"CANCEL"))
    assert fz.statuses.get(487) == 1 and fz.ata.idle()


@pytest.mark.slow
def test_whole_protos_suite_and_20000_mutants_leave_the_ata_answering_and_idle():
    fz = Fuzz()
    rng = random.Random(SEED)
    corpus = []
    rss = []
    # ---- PROTOS: every case, its INVITE then CANCEL and ACK, as the injector sends them
    for index, records in protos_cases():
        invite_msg, teardown = records[0], records[1]
        fz.feed(invite_msg)
        fz.feed(teardown.replace(b"<Teardown-Method>", b"CANCEL"))
        fz.feed(teardown.replace(b"<Teardown-Method>", b"ACK"))
        if index % 500 == 499:
            fz.end_batch()
            rss.append(rss_kib())
        if index % 150 == 0 and len(invite_msg) < 4000:
            corpus.append(invite_msg)      # a few PROTOS cases seed the mutants too
    fz.end_batch()
    assert fz.fed == 3 * 4527
    # ---- mutants of real messages: the torture corpora, PROTOS, and the requests a PBX
    # sends this ATA (aimed at our user, so mutants get past the Request-URI)
    for m in _corpus():
        corpus.append(m)
        first, sep, rest = m.partition(b" ")
        if sep and first.isalpha() and first.isupper() and b" SIP/2.0" in rest[:300]:
            corpus.append(first + b" sip:%s@127.0.0.1:5070 SIP/2.0" % USER.encode() + rest[rest.index(b"\r\n") if b"\r\n" in rest else len(rest):])
    corpus += [invite(), request("OPTIONS", contact=None), request("CANCEL", contact=None),
               request("BYE", to_tag="t1", contact=None), request("INFO", to_tag="t1", contact=None),
               invite(extra=("Replaces: c9@h;to-tag=1;from-tag=2", "Record-Route: <sip:p1;lr>, <sip:p2;lr>"))]
    in_call = 0
    for i in range(MUTANTS):
        if i % 50 == 0:
            in_call += _mutants_in_a_call(fz, rng, corpus)
        data = rng.choice(corpus)
        for _ in range(rng.randint(1, 3)):
            data = _mutate(rng, data, corpus)
        fz.feed(data, PROXY if rng.random() < 0.7 else STRANGER)
        if i % 1000 == 999:
            fz.end_batch()
            rss.append(rss_kib())
    fz.end_batch()
    assert fz.fed >= 3 * 4527 + MUTANTS + in_call
    # both ways through: refused (4xx) and taken (180) requests, many of each
    assert fz.statuses.get(400, 0) > 1000 and fz.statuses.get(180, 0) > 500, fz.statuses
    # memory is flat: after the first batches warm the caches, growth stays small
    print("fed %d datagrams in %d batches; answers %s; RSS KiB %s" % (fz.fed, fz.batches, sorted(fz.statuses.items()), rss))
    grown = rss[-1] - rss[2]
    assert grown < 16 * 1024, "RSS grew %d KiB over the run: %s" % (grown, rss)


def _mutants_in_a_call(fz, rng, corpus):
    """A connected call, then mutants of requests in its dialog: a bad one never ends it."""
    ata = fz.ata
    tag = "m%d" % fz.fed
    cid = "call-" + tag
    ata.feed(invite(branch="z9hG4bK" + tag, call_id=cid))
    ok = ata.act(ata.mgr.answer(1, ata.now))
    if not ok or ok[0].status != 200:
        return 0
    local = ok[0].to.tag
    ata.feed(request("ACK", branch="z9hG4bKack" + tag, call_id=cid, to_tag=local, contact=None))
    call = ata.mgr.calls[cid]
    base = [request(m, branch="z9hG4bK%s%d" % (m, n), call_id=cid, to_tag=local, cseq=2 + n,
                    contact="<sip:2002@127.0.0.1:5060>" if m in ("INVITE", "UPDATE", "REFER") else None,
                    extra=("Refer-To: <sip:3003@pbx>",) if m == "REFER" else ())
            for n, m in enumerate(("INVITE", "UPDATE", "INFO", "REFER", "OPTIONS", "BYE", "NOTIFY"))]
    fed = 0
    for _ in range(10):
        data = rng.choice(base)
        for _ in range(rng.randint(1, 2)):
            data = _mutate(rng, data, corpus)
        fz.feed(data)
        fed += 1
        if call.state not in ("connected", "held"):
            m = parse_message(data)         # only a well-formed BYE of this dialog ends it
            assert m.method == "BYE" and m.call_id == cid and m.to.tag == local and m.from_.tag == "f1", data[:300]
            break
    if call.state in ("connected", "held"):
        ata.act(ata.mgr.hangup(1, ata.now))
    return fed
