"""Caller ID: message bytes, FSK bursts both ways with spandsp, DTMF caller ID, CAS, timing."""

import math

import pytest

from tests.dsp.dsp_ref import ADSI_CLASS, ADSI_CLIP, ADSI_CLIP_DTMF, dft_power, frames, pcm, \
    silence, spandsp, spandsp_adsi_rx, spandsp_adsi_tx, to_samples
from tipring.firmware.dsp import callerid as cid
from tipring.firmware.dsp import fsk

needs_spandsp = pytest.mark.skipif(spandsp() is None, reason="libspandsp2 not installed")

PAD = bytes(320 * 10)
STD = {"bell202": ADSI_CLASS, "etsi-fsk": ADSI_CLIP}

MESSAGES = {
    "sdmf": lambda: cid.sdmf("6095551212", "09301224"),
    "sdmf_private": lambda: cid.sdmf(None, (12, 31, 23, 59), reason="P"),
    "sdmf_unavailable": lambda: cid.sdmf(None, (1, 1, 0, 0), reason="O"),
    "mdmf_full": lambda: cid.mdmf("5551234567", "JOHN DOE", (11, 24, 17, 55)),
    "mdmf_private": lambda: cid.mdmf(None, None, (11, 24, 17, 55), number_reason="P", name_reason="P"),
    "mdmf_unavailable": lambda: cid.mdmf(None, "ACME CORP", "03150905", number_reason="O"),
}


def receive(pcm_bytes, standard):
    rx = cid.CallerIDReceiver(standard)
    out = []
    for f in frames(pcm_bytes):
        out += rx.feed(f)
    return out, rx.errors


# -- message bytes -------------------------------------------------------------------------------

def test_sdmf_matches_the_classic_bellcore_example():
    # GR-30-CORE's SDMF example: Sept 30 12:24, 609-555-1212, checksum 0x51
    msg = cid.sdmf("6095551212", "09301224")
    assert msg.hex() == "0412303933303132323436303935353531323132" + "51"


def test_mdmf_layout_and_parse():
    msg = cid.mdmf("5551234567", "JOHN DOE", (11, 24, 17, 55))
    assert msg[0] == 0x80 and msg[1] == len(msg) - 3 and sum(msg) & 0xFF == 0
    assert msg[2:12] == b"\x01\x0811241755"
    got = cid.parse(msg)
    assert (got["datetime"], got["number"], got["name"]) == ("11241755", "5551234567", "JOHN DOE")
    got = cid.parse(cid.mdmf(None, None, None, number_reason="P", name_reason="O"))
    assert got["number_absent"] == "P" and got["name_absent"] == "O"


@pytest.mark.parametrize("bad,why", [(b"\x80", "truncated"), (b"\x80\x05\x01", "truncated"),
                                     (b"\x04\x02ab\x00", "checksum"), (b"\x55\x00\xab", "unknown")])
def test_parse_names_the_defect(bad, why):
    with pytest.raises(ValueError, match=why):
        cid.parse(bad)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        cid.sdmf("123", "0930122")
    with pytest.raises(ValueError):
        cid.mdmf(None, number_reason="X")
    with pytest.raises(ValueError):
        cid.fsk_burst(b"\x04\x00\xfc", "jclip")
    with pytest.raises(ValueError):
        cid.dtmf_callerid("12a")


# -- FSK: tipring -> tipring and spandsp ---------------------------------------------------------

@pytest.mark.parametrize("standard", ["bell202", "etsi-fsk"])
@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_own_demodulator_round_trip(standard, kind):
    msg = MESSAGES[kind]()
    got, errors = receive(PAD + cid.fsk_burst(msg, standard) + PAD, standard)
    assert errors == 0 and [g["raw"] for g in got] == [msg]


@needs_spandsp
@pytest.mark.parametrize("standard", ["bell202", "etsi-fsk"])
@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_spandsp_adsi_rx_decodes_tipring_burst(standard, kind):
    msg = MESSAGES[kind]()
    got = spandsp_adsi_rx(PAD + cid.fsk_burst(msg, standard) + PAD, STD[standard])
    assert got == [msg[:-1]]          # spandsp hands over the message without its checksum


@needs_spandsp
def test_spandsp_decodes_call_waiting_burst_without_seizure():
    msg = cid.mdmf("5551234567", "JANE", (1, 2, 3, 4))
    burst = cid.alert_tone(80) + bytes(2 * 8 * 100) + cid.fsk_burst(msg, "bell202", seizure=0, marks=80)
    assert spandsp_adsi_rx(PAD + burst + PAD, ADSI_CLASS) == [msg[:-1]]


@needs_spandsp
@pytest.mark.parametrize("level", [-10.0, -28.0])   # spandsp 0.0.6 goes deaf near -29
def test_spandsp_decodes_weak_and_strong_bursts(level):
    msg = MESSAGES["mdmf_full"]()
    assert spandsp_adsi_rx(PAD + cid.fsk_burst(msg, "bell202", level=level) + PAD, ADSI_CLASS) == [msg[:-1]]


@needs_spandsp
@pytest.mark.parametrize("standard", ["bell202", "etsi-fsk"])
@pytest.mark.parametrize("kind", ["sdmf", "mdmf_full", "mdmf_private"])
def test_tipring_decodes_spandsp_adsi_tx(standard, kind):
    msg = MESSAGES[kind]()
    b = spandsp_adsi_tx(msg[:-1], STD[standard])       # spandsp appends the checksum itself
    got, errors = receive(PAD + b + PAD, standard)
    assert errors == 0 and [g["raw"] for g in got] == [msg]


def test_demodulator_survives_noise():
    msg = MESSAGES["mdmf_full"]()
    burst = to_samples(cid.fsk_burst(msg, "v23", level=-20.0))
    for seed in range(4):
        noisy = pcm(silence(100) + list(burst) + silence(100), noise_dbm0=-35, seed=seed)  # 15 dB SNR
        got, _ = receive(noisy, "etsi-fsk")
        assert [g["raw"] for g in got] == [msg]


@pytest.mark.parametrize("lead", range(0, 14, 2))
def test_demodulator_at_every_bit_phase(lead):
    msg = MESSAGES["mdmf_full"]()
    got, errors = receive(bytes(1600 + 2 * lead) + cid.fsk_burst(msg, "bell202") + PAD, "bell202")
    assert errors == 0 and [g["raw"] for g in got] == [msg]


def test_burst_is_phase_continuous_and_timed():
    msg = MESSAGES["mdmf_full"]()
    b = to_samples(cid.fsk_burst(msg, "bell202"))
    assert len(b) == round(cid.burst_ms(msg) * 8)
    a = 22748 * 10 ** (-13.5 / 20)
    bound = a * 2 * math.pi * 2200 / 8000 + 2
    assert max(abs(b[i] - b[i - 1]) for i in range(1, len(b))) <= bound


def test_modem_frequencies():
    for modem, (mark, space) in (("bell202", (1200, 2200)), ("v23", (1300, 2100))):
        m = to_samples(fsk.modulate([1] * 120, modem))
        s = to_samples(fsk.modulate([0] * 120, modem))
        assert dft_power(m, mark) > 100 * dft_power(m, space)
        assert dft_power(s, space) > 100 * dft_power(s, mark)


# -- DTMF caller ID, CAS/DT-AS, timing -----------------------------------------------------------

@needs_spandsp
@pytest.mark.parametrize("number,reason,want", [("5551234", None, "A5551234C"),
                                                (None, "P", "D1C"), (None, "O", "D3C")])
def test_spandsp_decodes_dtmf_callerid(number, reason, want):
    got = spandsp_adsi_rx(PAD + cid.dtmf_callerid(number, reason) + PAD, ADSI_CLIP_DTMF)
    assert got == [want.encode()]
    assert cid.parse_dtmf_callerid(want) == ({"number": number} if number else {"number_absent": reason})


def test_alert_tone_frequencies_and_length():
    x = to_samples(cid.alert_tone(80))
    assert len(x) == 640                                   # 80 ms: GR-30-CORE CAS 80 ± 5 ms
    p = {f: dft_power(x, f) for f in (2130, 2750, 1700, 2440, 3200)}
    assert min(p[2130], p[2750]) > 1000 * max(p[1700], p[2440], p[3200])


def test_post_ring_start():
    us = cid.burst_ms(MESSAGES["mdmf_full"]())
    assert cid.post_ring_start([2000, 4000], us) == 2500
    assert cid.post_ring_start([400, 200, 400, 2000], us) == 1500      # after the double ring
    assert cid.post_ring_start([1000, 2000], us) == 1500                # JP cadence still fits
    with pytest.raises(ValueError):
        cid.post_ring_start([1000, 1000], us)


def test_prering_plan_order():
    steps = cid.prering_plan(cid.burst_ms(MESSAGES["sdmf"]()))
    names = [s for _t, s in steps]
    assert names == ["reverse_polarity", "alert_tone", "fsk", "restore_polarity", "ring"]
    t = dict((s, t) for t, s in steps)
    assert t["alert_tone"] >= 100 and t["fsk"] - (t["alert_tone"] + 100) >= 45
