"""Caller ID on call waiting (GR-30-CORE Type II): the FxsLine's ("cidcw", caller_id) output on
virtual time, and `tipring/firmware/line/cidcw.py`'s CidcwSender frame by frame with real DSP (the ACK is
real DTMF through the real detector; the CAS and FSK are checked on the PCM)."""
import array

from tipring.firmware.dsp.callerid import CallerIDReceiver, alert_tone, fsk_burst, mdmf
from tipring.firmware.dsp.classify import tone_shares
from tipring.firmware.dsp.dtmf import generate
from tipring.firmware.dsp.pcm import FRAME_BYTES, SILENT_FRAME, frames
from tipring.firmware.line.cidcw import CidcwSender
from tipring.firmware.line.fxs import FxsLine

CID = {"number": "3004", "name": "CAROL"}


def kinds(out, kind):
    return [o[1:] for o in out if o[0] == kind]


def in_call(**kw):
    line = FxsLine(port=1, **kw)
    line.incoming(None, 0.0)
    line.hook("off_hook", 1.0)
    assert line.state == "talking"
    return line


# -- the line asks for it once per waiting call -------------------------------------------------

def test_first_burst_of_a_waiting_call_asks_for_caller_id_then_never_again():
    line = in_call()
    out = line.command("call_waiting", (CID,), 10.0)
    assert kinds(out, "cidcw") == []                   # not over the SAS itself
    out = line.on_timer(10.6)                          # the burst is over
    assert kinds(out, "play") == [(None,)] and kinds(out, "cidcw") == [(CID,)]
    assert [o[0] for o in out].index("play") < [o[0] for o in out].index("cidcw")
    assert line.state == "waiting"
    out = line.on_timer(20.6)                          # the repeat burst: no caller ID again
    out += line.on_timer(line.deadline())
    assert kinds(out, "play") == [("call_waiting",), (None,)] and kinds(out, "cidcw") == []
    line.command("call_waiting_end", (), 22.0)         # C gave up; D calls
    line.command("call_waiting", ({"number": "3005"},), 30.0)
    assert kinds(line.on_timer(30.6), "cidcw") == [({"number": "3005"},)]


def test_no_cidcw_when_off_or_nothing_to_send():
    for kw, cid in (({"cw_caller_id": False}, CID), ({"caller_id": False}, CID), ({}, None)):
        line = in_call(**kw)
        line.command("call_waiting", (cid,), 10.0)
        assert kinds(line.on_timer(10.6), "cidcw") == [], kw
    line = in_call()
    line.command("call_waiting", (), 10.0)             # the call layer knew no caller ID
    assert kinds(line.on_timer(10.6), "cidcw") == []


def test_a_flash_during_the_burst_answers_and_asks_for_nothing():
    line = in_call()
    line.command("call_waiting", (CID,), 10.0)
    out = line.hook("flash", 10.3)
    assert line.state == "swapped" and line.deadline() is None and kinds(out, "cidcw") == []


# -- the sender, frame by frame -------------------------------------------------------------------

MSG = mdmf("3004", "CAROL", (1, 2, 3, 4))
FSK = fsk_burst(MSG, "bell202", seizure=0, marks=80)


def drive(seq, answer=None, at=None, limit=200):
    """Run `seq` to its end; `answer` (PCM) goes into the capture from frame `at` on, or, when
    `at` is None, from the frame after the one that ended the CAS (as a phone would)."""
    played, cap = [], []
    cas_seen = False
    n = 0
    while not seq.done and n < limit:
        if at is not None and n == at and answer:
            cap = frames(answer)
        played.append(seq.frame(cap.pop(0) if cap else SILENT_FRAME))
        sh, ms = tone_shares(array.array("h", played[-1]), (2130, 2750))
        cas = ms > 1e4 and sum(sh) > 0.8
        if at is None and cas_seen and not cas and answer:
            cap = frames(answer)
            answer = None
        cas_seen = cas_seen or cas
        n += 1
    return played


def test_ack_d_gets_the_fsk_and_the_pcm_is_guard_cas_silence_fsk():
    seq = CidcwSender(FSK)
    played = drive(seq, generate("D", 60, 0))
    assert seq.done and seq.result == "sent" and seq.ack == "D"
    pcm = b"".join(played)
    assert pcm[:5 * FRAME_BYTES] == bytes(5 * FRAME_BYTES)           # 100 ms guard
    assert pcm[5 * FRAME_BYTES:9 * FRAME_BYTES] == alert_tone(80, -15.0)   # CAS, 80 ms
    i = pcm.index(FSK)
    assert pcm[9 * FRAME_BYTES:i] == bytes(i - 9 * FRAME_BYTES)       # silence until the FSK
    assert (i // 2 - 9 * 160) / 8.0 <= 100 + 60 + 120 + 40 + 20       # ACK window + gap, at most
    got = CallerIDReceiver("bell202").feed(pcm)
    assert [m["number"] for m in got] == ["3004"] and got[0]["name"] == "CAROL"


def test_ack_a_from_a_non_adsi_phone_also_counts():
    seq = CidcwSender(FSK)
    drive(seq, generate("A", 60, 0))
    assert seq.result == "sent" and seq.ack == "A"


def test_no_ack_or_a_wrong_key_gets_no_fsk():
    for answer in (None, generate("5", 60, 0)):
        seq = CidcwSender(FSK)
        played = drive(seq, answer)
        assert seq.result == "no_ack" and seq.ack is None
        # guard 5 + CAS 4 frames, then the 180 ms window (9 frames): nothing but silence after
        assert len(played) == 5 + 4 + 9
        assert b"".join(played[9:]) == bytes(9 * FRAME_BYTES)
        assert seq.frame(SILENT_FRAME) == SILENT_FRAME               # done stays done


def test_a_key_before_the_cas_is_not_an_ack_and_a_late_one_is_too_late():
    seq = CidcwSender(FSK)
    drive(seq, generate("D", 60, 0), at=0)             # during the guard: not an answer
    assert seq.result == "no_ack"
    seq = CidcwSender(FSK)
    drive(seq, generate("D", 60, 0), at=9 + 8)         # 160 ms after the CAS: too late
    assert seq.result == "no_ack"
