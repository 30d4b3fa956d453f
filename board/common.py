"""What every board gives the firmware about its lines, whatever drives them (sim or SLIC).

A board keeps one `firmware.line.port.LinePort` per FXS port in `self.ports`; these methods
are the app's view of them (status for the console, busy for call admission, call-layer
commands in)."""


class LinePortsBoard:
    """Mixin over `self.ports` (port number -> LinePort)."""

    ports: dict

    def line_status(self, port: int) -> dict:
        p = self.ports.get(port)
        if p is None:
            return {"hook": None, "state": None}
        return {"hook": "off" if p.decoder.is_off_hook else "on", "state": p.fxs.state}

    def line_busy(self, port: int) -> bool:
        p = self.ports.get(port)
        return p is None or p.busy

    def line_command(self, port: int, verb: str, *args) -> None:
        """A call-layer command for a line (the app's `("line", port, verb, *args)`)."""
        p = self.ports.get(port)
        if p is not None:
            p.command(verb, args)

    def media_changed(self, port: int) -> None:
        pass
