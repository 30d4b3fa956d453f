"""JCLIP (NTT "Number Display") frames and bursts: tipring/firmware/dsp/callerid.py against spandsp's
own ADSI_STANDARD_JCLIP transmitter and receiver (adsi.c), both ways, and the defects a
receiver must refuse."""

import pytest

from tipring.firmware.dsp import callerid as cid
from tests.dsp.dsp_ref import spandsp, spandsp_adsi_rx, spandsp_adsi_tx

ADSI_JCLIP = 4
PAD = bytes(3200)
needs_spandsp = pytest.mark.skipif(spandsp() is None, reason="libspandsp not installed")


def body_of(*params):
    out = b""
    for t, v in params:
        out += bytes([t, len(v)]) + v
    return out


def test_frame_layout_parity_and_crc():
    f = cid.jclip("0312345678")
    chars = bytes(c & 0x7F for c in f[:-2])
    assert chars == (bytes([cid.DLE, cid.SOH, 0x07, cid.DLE, cid.STX, 0x40, 12, 0x02, 10]) + b"0312345678"
                     + bytes([cid.DLE, cid.ETX]))
    for c in f[:-2]:                                  # 7 bits + even parity in bit 7
        assert bin(c).count("1") % 2 == 0
    assert cid.crc16_itu(f[2:]) == 0                  # CRC appended low byte first
    assert cid.crc16_itu(b"123456789") == 0x2189      # CRC-16/KERMIT check value


@pytest.mark.parametrize("kwargs, want", [
    ({"number": "0312345678"}, {"number": "0312345678"}),
    ({"reason": "P"}, {"number_absent": "P"}),
    ({"reason": "C"}, {"number_absent": "C"}),
    ({}, {"number_absent": "O"}),
    ({"number": "0312345678", "dialed": "0451234567"}, {"number": "0312345678", "dialed": "0451234567"}),
])
def test_build_and_parse_round_trip(kwargs, want):
    got = cid.parse_jclip(cid.jclip(**kwargs))
    assert got["type"] == cid.JCLIP_MDMF
    assert {k: got[k] for k in want} == want


def test_a_dle_in_the_length_is_sent_twice_and_read_back():
    f = cid.jclip("03123456789012")                   # body of 16 bytes: the length is DLE
    assert bytes(c & 0x7F for c in f[5:9]) == bytes([0x40, cid.DLE, cid.DLE, 0x02])
    assert cid.parse_jclip(f)["number"] == "03123456789012"


@pytest.mark.parametrize("damage, why", [
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "CRC"),
    (lambda f: f[:9], "truncated"),
])
def test_defects_are_named(damage, why):
    with pytest.raises(ValueError, match=why):
        cid.parse_jclip(damage(cid.jclip("0312345678")))


def test_parity_and_framing_defects_are_named():
    def resealed(chars):
        crc = cid.crc16_itu(chars[2:])
        return chars + bytes([crc & 0xFF, crc >> 8])
    f = cid.jclip("0312345678")
    bad_parity = bytearray(f[:-2])
    bad_parity[8] ^= 0x80
    with pytest.raises(ValueError, match="parity"):
        cid.parse_jclip(resealed(bytes(bad_parity)))
    no_stx = bytearray(f[:-2])
    no_stx[4] = 0x84                                  # EOT (with parity) where STX belongs
    with pytest.raises(ValueError, match="DLE STX"):
        cid.parse_jclip(resealed(bytes(no_stx)))
    with pytest.raises(ValueError, match="absence reason"):
        cid.jclip(reason="X")


def test_burst_timing_v23_75_marks_4_stop_bits():
    f = cid.jclip("0312345678")
    pcm = cid.jclip_burst(f)
    ms = cid.jclip_burst_ms(f)
    assert ms == pytest.approx((75 + 13 * len(f) + 5) / 1.2)
    assert abs(len(pcm) / 16.0 - ms) < 1.0


def test_receiver_reads_the_burst_with_noise_around_it():
    rx = cid.CallerIDReceiver("jclip")
    f = cid.jclip("0312345678", dialed="0451234567")
    got = []
    pcm = PAD + cid.jclip_burst(f) + PAD
    for i in range(0, len(pcm), 320):                 # frame by frame, as a phone hears it
        got += rx.feed(pcm[i:i + 320])
    assert [(m["number"], m["dialed"]) for m in got] == [("0312345678", "0451234567")]
    assert rx.errors == 0


def test_a_bell202_burst_is_no_jclip_message():
    rx = cid.CallerIDReceiver("jclip")
    assert rx.feed(PAD + cid.fsk_burst(cid.mdmf("0312345678"), "etsi-fsk") + PAD) == []


@needs_spandsp
@pytest.mark.parametrize("kwargs", [{"number": "0312345678"}, {"reason": "P"},
                                    {"number": "0312345678", "dialed": "0451234567"}])
def test_spandsp_jclip_receiver_decodes_tipring_burst(kwargs):
    f = cid.jclip(**kwargs)
    got = spandsp_adsi_rx(PAD + cid.jclip_burst(f) + PAD, ADSI_JCLIP)
    assert got == [bytes(c & 0x7F for c in f[:-2])]   # spandsp strips parity and CRC


@needs_spandsp
@pytest.mark.parametrize("params", [
    ((0x02, b"0312345678"),),
    ((0x02, b"0312345678"), (0x04, b"P")),
    ((0x02, b"03123456789012"),),                     # 16-byte body: a stuffed DLE length
])
def test_tipring_decodes_spandsp_jclip_transmitter(params):
    body = body_of(*params)
    msg = bytes([cid.JCLIP_MDMF, len(body)]) + body
    rx = cid.CallerIDReceiver("jclip")
    got = rx.feed(PAD + spandsp_adsi_tx(msg, ADSI_JCLIP) + PAD)
    assert [m["params"] for m in got] == [list(params)]
    assert rx.errors == 0
