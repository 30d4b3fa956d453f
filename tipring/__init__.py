"""tipring: analog telephone adapter firmware for a Raspberry Pi with an FXS SLIC.

One installable package, so nothing collides with other packages on a Pi (Adafruit
Blinka installs a top-level `board`):

- `tipring.firmware`: the SIP user agent, calls, media, DSP, line logic, loop, console;
- `tipring.board`: boards described as data (TOML) and the board glue (sim, SLIC);
- `tipring.hal`: the hardware layer on gpiozero, pyalsaaudio and pyserial.

docs/architecture.md follows one SIP message and one PCM frame through them.
"""
