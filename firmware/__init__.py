"""A thin entry point kept where the design card puts `firmware/`: the code is `tipring.firmware`.

Not installed (pyproject installs only `tipring`), so it collides with nothing on a Pi; it only
lets `python -m firmware ...` run the `tipring` command from a checkout.
"""
