"""The serial console: a router-style shell on a UART, a pty or TCP (INTERFACES.md, "Serial console").

- `lineedit`: sans-IO line editor (echo, backspace, ctrl-U, history, VT100 arrows, tab completion).
- `shell`: sans-IO command shell over the `app` facade of docs/console-app-api.md.
- `ladder`: draws a SIP exchange as a text sequence chart.
- `views`: status, config, calls, log and trace lines as text (secrets masked).
- `server`: the transports (TCP, serial via pyserial, pty) on the firmware's EventLoop.
- `client`: `tipring console --connect`, a raw terminal relay.
"""
