"""The `tipring` command line (INTERFACES.md): run, demo, phone, console, check-config.

Exit status: 0 on a clean stop, 2 on a bad command line or config (the message names the key and
what is allowed), 1 on anything else.
"""

import argparse
import os
import sys

from tipring.firmware import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 already; keep its message short and on stderr
        self.print_usage(sys.stderr)
        print("tipring: error: %s" % message, file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tipring", description="tipring: analog telephone adapter firmware (FXS + SIP)")
    p.add_argument("--version", action="version", version="tipring " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    r = sub.add_parser("run", help="run the firmware until SIGTERM/SIGINT")
    r.add_argument("--config", metavar="FILE", help="config file (default /etc/tipring/tipring.toml, "
                   "else the built-in sim default)")
    r.add_argument("--log-json", metavar="FILE|-", help="write the JSON event log to FILE or stdout")
    r.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="human log level on stderr (default info)")
    d = sub.add_parser("demo", help="two sim lines call each other on loopback, narrated")
    d.add_argument("--log-json", metavar="FILE|-", help="also write the JSON event log")
    ph = sub.add_parser("phone", help="interactive virtual handset for the sim board")
    ph.add_argument("--control", default="127.0.0.1:7001", metavar="HOST:PORT")
    ph.add_argument("--line", type=int, default=1, metavar="N")
    c = sub.add_parser("console", help="attach this terminal to the serial console")
    c.add_argument("--connect", default="tcp:127.0.0.1:7100", metavar="tcp:HOST:PORT|DEVICE")
    cc = sub.add_parser("check-config", help="validate a config file; exit 0 if good, 1 if not")
    cc.add_argument("file", metavar="FILE")
    return p


def _setup_logging(level: str) -> None:
    import logging
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s tipring %(levelname)s %(name)s: %(message)s")


def cmd_check_config(args) -> int:
    from tipring.firmware import config
    try:
        cfg = config.load(args.file)
    except config.ConfigError as e:
        print("%s: %d problem%s" % (args.file, len(e.problems), "" if len(e.problems) == 1 else "s"))
        for p in e.problems:
            print("  " + p)
        return 1
    print("%s: ok (board %s, %d line%s)" % (args.file, cfg.board["kind"], len(cfg.lines),
                                          "" if len(cfg.lines) == 1 else "s"))
    return 0


def cmd_run(args) -> int:
    from tipring.firmware import config, config_store
    path = args.config
    if path is None and os.path.exists(config.DEFAULT_PATH):
        path = config.DEFAULT_PATH
    notes = []
    try:
        # a config that fails validation falls back to the last good one (the .bak of the
        # last save), loudly: a typo over the console must never leave the box unbootable
        cfg, notes = config_store.load_with_fallback(path) if path else (config.builtin_default(), [])
    except config.ConfigError as e:
        print("tipring: bad config %s:" % (path or "(built-in)"), file=sys.stderr)
        for p in e.problems:
            print("  " + p, file=sys.stderr)
        return 2
    for n in notes:
        print("tipring: " + n, file=sys.stderr)
    _setup_logging(args.log_level)
    from tipring.firmware.app import Firmware
    fw = Firmware(cfg, log_json=args.log_json)
    fw.config_notes = notes
    return fw.run()


def cmd_demo(args) -> int:
    from tipring.firmware.demo import run_demo
    return run_demo(log_json=args.log_json)


def cmd_phone(args) -> int:
    from tipring.board.sim.client import interactive
    return interactive(args.control, args.line)


def cmd_console(args) -> int:
    from tipring.firmware.console.client import attach
    return attach(args.connect)


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "phone": cmd_phone, "console": cmd_console,
            "check-config": cmd_check_config}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # anything unexpected: one clear line, exit 1
        print("tipring: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        if os.environ.get("TIPRING_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
