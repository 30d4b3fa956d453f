"""JCLIP line sequence: NTT "Number Display" caller ID (Japan) as the line side plays it.

Rules:
1. Sans-IO, MicroPython-portable: figures and PCM only. The states (CAR, the phone off-hook
   reading the data, ringing) live in tipring/firmware/line/fxs.py's table ("car", "cid_offhook");
   the glue (tipring/board/line_port.py) rings the CAR, reverses the line and plays `data_pcm`.
2. Every figure below names where it comes from. NTT's own interface document (電話サービスの
   インタフェース, "Number Display") was not in reach; the figures come from two
   implementations that talk to real JCLIP phones, so they are marked as such.

Theory of operation (spandsp adsi.h "The Japanese specification from NTT"; Realtek VoIP SDK
`rtk_voip/voip_drivers` fsk_gen_msg / SendNTTCAR_Silicon, the NTT mode of an FXS ATA):
    1. the line is reversed (Realtek: OnHookLineReversal before the CAR);
    2. CAR: ringing voltage at the plan's 16 Hz, 0.5 s on / 0.5 s off (Realtek loads the
       Si3215 ring active/inactive timers with 0x0FA0 x 125 µs = 500 ms each), until the phone
       answers it or `CAR_TIMEOUT` (6 s: Realtek polls the hook 30 x 200 ms);
    3. the phone goes off-hook: its "primary response" (一次応答), not an answer. The CAR
       stops; `DATA_DELAY_S` later (Realtek: 800 ms for NTT, 250 ms for the other methods) the
       V.23 frame goes (dsp/callerid.py `jclip`, `jclip_burst`: no seizure, 75 marks);
    4. the polarity comes back `DATA_TAIL_S` after the data; the phone hangs up once it has read it
       (Realtek waits up to 7 s: `JCLIP_ONHOOK_TIMEOUT` in fxs.py), then normal ringing
       follows (IR, the plan's 1 s on / 2 s off) and the next off-hook answers the call.
A phone that never answers the CAR is no JCLIP phone: it is rung normally, without caller ID.
"""

from tipring.firmware.dsp import callerid as cidmod

CAR_HZ = 16                 # the Japan plan's ringing frequency (tone_plans.py "JP")
CAR_CADENCE = (0.5, 0.5)    # s on, s off (Realtek SDK Si3215 RAT/RIT = 4000 x 125 µs)
DATA_DELAY_S = 0.8          # primary response -> first mark bit (Realtek SDK, NTT mode)
DATA_TAIL_S = 0.1           # quiet after the data before the polarity comes back (Realtek: 100 ms)
REVERSE_FOR_CAR = True      # Realtek reverses the line before the CAR, restores it after the data


def caller_id_frame(caller_id: dict) -> bytes:
    """The JCLIP frame for a call's caller ID ({"number", "reason", "called"}): the number's
    digits, or the reason it is absent ("private" -> "P", else "O")."""
    number = "".join(c for c in (caller_id.get("number") or "") if c in "0123456789")
    reason = "P" if caller_id.get("reason") == "private" else "O"
    return cidmod.jclip(number or None, None if number else reason,
                        dialed=caller_id.get("called") or None)


def data_pcm(caller_id: dict, delay_s: float = DATA_DELAY_S) -> bytes:
    """PCM from the primary response on: `delay_s` of silence, the V.23 burst, and
    `DATA_TAIL_S` of silence (the glue restores the polarity when it has all been played)."""
    return (bytes(2 * int(8000 * delay_s)) + cidmod.jclip_burst(caller_id_frame(caller_id))
            + bytes(2 * int(8000 * DATA_TAIL_S)))
