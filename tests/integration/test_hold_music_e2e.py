"""Music on hold end to end (line.N.hold_music, tipring/firmware/media/moh.py): tipring on the sim
board behind a real Kamailio, baresip B (1002, 700 Hz). The handset (saying 1000 Hz) talks to
B and flashes: B is held (sendonly) and what tipring sends B over RTP (read off loopback by the
RTP tap) is the line's hold music: the comfort tone's two notes, or the WAV file's audio, never
the handset. Flash again: B hears the handset again. And with B held the handset calls C
(1003): while the handset talks to C, B still hears the music (#15)."""

import math
import shutil
import wave

import pytest

from tests.integration.test_threeway_e2e import A_HZ, B_HZ, C_HZ, _has, _lacks, _near
from tests.peers import rtptap
from tests.peers.ata_rig import AtaRig
from tests.peers.baresip import goertzel_power

pytestmark = [pytest.mark.peers, pytest.mark.timeout(45),
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("baresip")),
                                 reason="kamailio/baresip not installed (tools/setup --test)"),
              pytest.mark.skipif(not rtptap.available(), reason="no AF_PACKET socket on lo (root or CAP_NET_RAW)")]

FILE_HZ = 1300


def blocks(heard, block=800, min_rms=60.0):
    """The loud 100 ms blocks of one phone's `listen` result."""
    x, _ = heard
    out = []
    for k in range(0, len(x) - block + 1, block):
        b = x[k:k + block]
        if sum(v * v for v in b) >= min_rms * min_rms * block:
            out.append(b)
    return out


def share(b, hz, spread=8):
    energy = float(sum(v * v for v in b))
    best = max(goertzel_power(b, 8000, f) for f in range(hz - spread, hz + spread + 1, 2))
    return 2.0 * best / (len(b) * energy)


def hold_b(rig, h):
    b = rig.phone("1002")
    h.ok("offhook")
    assert h.ok("wait tone=dial 5")
    h.ok("say %d" % A_HZ)
    h.ok("dial 1002# mode=dtmf")
    assert rig.call_event(state="connected", peer="1002"), rig.calls_since()
    assert b.wait({"CALL_ESTABLISHED"}, 10)
    _has(rig, rig.listen(settle=1.0, ms=1000), "1002", A_HZ)
    n = rig.mark()
    h.ok("flash")
    assert rig.call_event(since=n, state="held", peer="1002", timeout=10), rig.calls_since(n)
    assert h.ok("wait fxs=flash_dial 5")


def resume_b(rig, h):
    n = rig.mark()
    h.ok("flash")
    assert rig.call_event(since=n, state="connected", peer="1002", timeout=10), rig.calls_since(n)
    _has(rig, rig.listen(settle=1.0, ms=1000), "1002", A_HZ)
    h.ok("onhook")


def test_a_held_party_hears_the_comfort_tone(tmp_path):
    with AtaRig(str(tmp_path), phones=[("1002", B_HZ)], hold_music="tone") as rig:
        with rig.handset() as h:
            hold_b(rig, h)
            heard = rig.listen(settle=0.3, ms=2600)["1002"]       # more than one 2 s cycle
            loud = blocks(heard)
            # 1 s of notes per 2 s: about half the blocks, each one of the two notes
            assert 8 <= len(loud) <= 18, len(loud)
            low = [b for b in loud if share(b, 523) > 0.8]
            high = [b for b in loud if share(b, 659) > 0.8]
            assert len(low) >= 3 and len(high) >= 3, [(round(share(b, 523), 2), round(share(b, 659), 2)) for b in loud]
            # only blocks that straddle a note's edge (about 3 per cycle) are not one pure note
            assert len(low) + len(high) >= 0.6 * len(loud), \
                [(round(share(b, 523), 2), round(share(b, 659), 2)) for b in loud]
            assert all(share(b, A_HZ) < 0.02 for b in loud)        # never the handset
            resume_b(rig, h)
        assert not rig.errors(), rig.errors()


def test_a_held_party_hears_the_wav_file(tmp_path):
    path = str(tmp_path / "hold.wav")
    amp = 8000
    samples = [int(amp * math.sin(2 * math.pi * FILE_HZ * k / 8000)) for k in range(8000)]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(v.to_bytes(2, "little", signed=True) for v in samples))
    with AtaRig(str(tmp_path), phones=[("1002", B_HZ)], hold_music=path) as rig:
        with rig.handset() as h:
            hold_b(rig, h)
            heard = rig.listen(settle=0.3, ms=1500)
            _has(rig, heard, "1002", FILE_HZ)
            loud = blocks(heard["1002"])
            assert len(loud) >= 13 and all(share(b, FILE_HZ) > 0.9 for b in loud)   # the file, looped
            _lacks(rig, heard, "1002", A_HZ)
            level = math.sqrt(sum(v * v for b in loud for v in b) / (800.0 * len(loud)))
            assert abs(level - amp / math.sqrt(2)) < 0.1 * amp     # at the file's own level
            resume_b(rig, h)
        assert not rig.errors(), rig.errors()


def test_a_held_party_still_hears_the_music_once_the_second_call_connects(tmp_path):
    path = str(tmp_path / "hold.wav")
    amp = 8000
    samples = [int(amp * math.sin(2 * math.pi * FILE_HZ * k / 8000)) for k in range(8000)]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(v.to_bytes(2, "little", signed=True) for v in samples))
    with AtaRig(str(tmp_path), phones=[("1002", B_HZ), ("1003", C_HZ)], hold_music=path) as rig:
        c = rig.phone("1003")
        with rig.handset() as h:
            hold_b(rig, h)
            m = rig.mark()
            h.ok("dial 1003# mode=dtmf")
            assert rig.call_event(since=m, state="connected", peer="1003"), rig.calls_since(m)
            assert c.wait({"CALL_ESTABLISHED"}, 10)
            assert h.ok("wait fxs=second_talking 5")
            heard = rig.listen(settle=1.0, ms=1500)
            _has(rig, heard, "1003", A_HZ)                 # C hears the handset
            _has(rig, heard, "1002", FILE_HZ)              # B, held, still hears the music
            loud = blocks(heard["1002"])
            assert len(loud) >= 13 and all(share(b, FILE_HZ) > 0.9 for b in loud)   # all along
            _lacks(rig, heard, "1002", A_HZ)               # never the handset
            _lacks(rig, heard, "1002", C_HZ)               # nor C
            got = h.ok("listen 500")["freqs"]
            assert _near(got, C_HZ) and not _near(got, B_HZ), got
            # B's stream lived on through the second call: one RTP source, never back in time
            assert rig.sources("1002") == (1, 0), rig.sources("1002")
            h.ok("onhook")
        assert not rig.errors(), rig.errors()
