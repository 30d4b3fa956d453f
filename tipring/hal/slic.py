"""The SLIC's power-down input (PD on the AG1171).

Owns one output pin. The AG1171 datasheet's PD polarity is not verified in the notes
(notes/hardware.md §1.2 marks it [U]); most designs tie PD so the SLIC is always enabled. The
board file says which level powers the SLIC down (`line.pd.active`), and this device keeps
the SLIC enabled from construction on unless told otherwise.
"""

from gpiozero import DigitalOutputDevice


class SlicPower(DigitalOutputDevice):
    """Represents the SLIC's power-down input (PD on the AG1171).

    Wire PD to a GPIO output. ``active_high`` says whether a high pin powers the SLIC down
    (board ``pd.active = "high"``)::

        power = SlicPower(23)
        power.power_down()      # e.g. idle saving; power.power_up() before use

    :type pin: int or str
    :param pin: the GPIO wired to PD.
    :type active_high: bool
    :param active_high: True (default) when PD high powers the SLIC down.
    :type powered: bool
    :param powered: whether the SLIC starts enabled (default True).
    :type pin_factory: Factory or None
    :param pin_factory: see gpiozero's pin factories (a ``MockFactory`` in tests).
    """

    def __init__(self, pin=None, *, active_high: bool = True, powered: bool = True,
                 pin_factory=None):
        super().__init__(pin, active_high=active_high, initial_value=not powered,
                         pin_factory=pin_factory)

    @property
    def is_powered(self) -> bool:
        """True while the SLIC is enabled (PD at its inactive level)."""
        return not self.value

    def power_up(self) -> None:
        """Enable the SLIC (PD inactive)."""
        self.off()

    def power_down(self) -> None:
        """Power the SLIC down (PD active): no loop current, no hook detection."""
        self.on()

    def __repr__(self):
        try:
            self._check_open()
            return "<hal.SlicPower on pin %r, is_powered=%s>" % (self.pin, self.is_powered)
        except Exception:
            return "<hal.SlicPower closed>"
