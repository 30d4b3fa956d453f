"""The simulated board: virtual handsets on gpiozero mock pins, driven over a TCP control port.

`board.py` (SimBoard: the wiring and the 20 ms media clock), `handset.py` (VirtualHandset: hook,
dial, bell, caller-ID display, ear and mouth), `control.py` (the INTERFACES.md control protocol),
`client.py` (`tipring phone`, an interactive client of that protocol).
"""
