"""G.711: the audioop path and the portable tables agree on every input (Sun g711.c algorithm)."""

import array
import sys

import pytest

from tipring.firmware.dsp import g711

ALL_PCM = array.array("h", range(-32768, 32768)).tobytes()
ALL_CODES = bytes(range(256))

needs_audioop = pytest.mark.skipif(not g711.HAVE_AUDIOOP, reason="no audioop / audioop-lts here")


@needs_audioop
def test_ulaw_encode_matches_audioop_on_all_65536_inputs():
    assert g711.lin2ulaw_pure(ALL_PCM) == g711._audioop.lin2ulaw(ALL_PCM, 2)


@needs_audioop
def test_alaw_encode_matches_audioop_on_all_65536_inputs():
    assert g711.lin2alaw_pure(ALL_PCM) == g711._audioop.lin2alaw(ALL_PCM, 2)


@needs_audioop
def test_ulaw_decode_matches_audioop_on_all_256_codes():
    assert g711.ulaw2lin_pure(ALL_CODES) == g711._audioop.ulaw2lin(ALL_CODES, 2)


@needs_audioop
def test_alaw_decode_matches_audioop_on_all_256_codes():
    assert g711.alaw2lin_pure(ALL_CODES) == g711._audioop.alaw2lin(ALL_CODES, 2)


def test_decode_without_translate_matches(monkeypatch):
    # the MicroPython path (no bytes.translate) must give the same samples
    ref_u, ref_a = g711.ulaw2lin_pure(ALL_CODES), g711.alaw2lin_pure(ALL_CODES)
    monkeypatch.setattr(g711, "_HAS_TRANSLATE", False)
    assert g711.ulaw2lin_pure(ALL_CODES) == ref_u
    assert g711.alaw2lin_pure(ALL_CODES) == ref_a


def test_table_values_known_points():
    # G.711 table 2a/1a landmarks: silence codes, extremes, sign symmetry
    assert g711.ulaw_encode_sample(0) == 0xFF and g711.alaw_encode_sample(0) == 0xD5
    assert g711.ulaw_encode_sample(32767) == 0x80 and g711.ulaw_encode_sample(-32768) == 0x00
    assert g711.alaw_encode_sample(32767) == 0xAA and g711.alaw_encode_sample(-32768) == 0x2A
    assert g711.ulaw_decode_sample(0x80) == 32124 and g711.ulaw_decode_sample(0x00) == -32124
    assert g711.alaw_decode_sample(0xAA) == 32256 and g711.alaw_decode_sample(0x2A) == -32256
    for c in range(256):
        assert g711.ulaw_decode_sample(c) == -g711.ulaw_decode_sample(c ^ 0x80)


def test_round_trip_is_idempotent_on_codes():
    for enc, dec in ((g711.lin2ulaw_pure, g711.ulaw2lin_pure), (g711.lin2alaw_pure, g711.alaw2lin_pure)):
        codes = enc(dec(ALL_CODES))
        # µ-law has two zeros (0x7F, 0xFF) that decode alike; everything else maps back to itself
        assert sum(a != b for a, b in zip(codes, ALL_CODES)) <= 1


def test_public_names_and_frame_sizes():
    frame = array.array("h", [(i * 397) % 20000 - 10000 for i in range(160)]).tobytes()
    for name in ("PCMU", "PCMA"):
        enc, dec = g711.CODECS[name]
        codes = enc(frame)
        assert len(codes) == 160 and len(dec(codes)) == 320
    assert g711.lin2ulaw(bytes(320)) == bytes([g711.ULAW_SILENCE]) * 160
    assert g711.lin2alaw(bytes(320)) == bytes([g711.ALAW_SILENCE]) * 160


def test_odd_length_rejected_by_pure_encoder():
    with pytest.raises(ValueError):
        g711.lin2ulaw_pure(b"\x00\x01\x02")


def test_import_is_silent_about_audioop_deprecation():
    import importlib
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(g711)
    assert sys.modules["tipring.firmware.dsp.g711"] is g711
