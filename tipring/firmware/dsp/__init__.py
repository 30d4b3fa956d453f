"""Signal processing for one analog line: G.711, call-progress tones, DTMF, caller ID.

Everything here is sans-IO and MicroPython-portable (no numpy, typing, enum, dataclasses): it
works on 160-sample frames of 8 kHz signed 16-bit little-endian PCM (`bytes`), the line's 20 ms
frame, and never reads a clock. `pcm` holds the shared constants and level conversions.
"""
