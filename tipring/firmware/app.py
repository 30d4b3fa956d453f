"""The running firmware: wires config, event loop, SIP, lines, board and console together.

This is the one place that knows every part. It owns no protocol logic: the sans-IO cores
(`tipring/firmware/sip`, `line`, `calls`, `media`, `dsp`) decide, this module carries out what they
return on the event loop (sockets, timers, devices) and writes the event log.

Start-up: bind SIP, start the board (sim or real), start the console, emit `started`, then
register every line. A registrar or proxy given by name is looked up per RFC 3263 (NAPTR, SRV,
A/AAAA) on a worker thread (`tipring/firmware/loop/resolver.py`), never on the loop thread; a numeric
one needs no DNS at all. Shutdown (SIGTERM/SIGINT, console `reboot`): de-register every registered
line (Expires: 0), waiting at most `SHUTDOWN_WAIT` seconds for the answers, then exit 0.
"""

import logging
import os
import signal
import socket

from tipring.firmware import __version__
from tipring.firmware.config import parse_hostport
from tipring.firmware.eventlog import EventLog
from tipring.firmware.loop import EventLoop
from tipring.firmware.loop.udp import UdpEndpoint
from tipring.firmware.calls.manager import CallManager
from tipring.firmware.calls.mwi import MwiService
from tipring.firmware.media.routing import FAX_JITTER_MS, MediaRouter
from tipring.firmware.sip.locate import DEFAULT_PORT, Locator
from tipring.firmware.sip.registration import Registration
from tipring.firmware.sip.useragent import UserAgent

log = logging.getLogger("tipring")

# the [[line]] keys that make a registration; a change to any other key needs none
ACCOUNT_KEYS = ("user", "password", "auth_user", "display_name", "registrar", "proxy", "domain",
                "expires", "register", "registrar_backup", "registrar_ping_s")


def _account(line):
    return None if line is None else tuple(line.get(k) for k in ACCOUNT_KEYS)

SHUTDOWN_WAIT = 2.0
SIP_BATCH = 8          # SIP datagrams per loop turn: a flood gets bounded slices between media frames
FLASH_EVENT_MS = 250   # RFC 4733 event 16 length for a relayed flash (a typical flash is 300-600 ms)


def local_address_towards(host: str, port: int, fallback: str) -> str:
    """The local IP the kernel would use to reach host:port (no packet is sent)."""
    try:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.connect((host, port))
            return s.getsockname()[0]
        finally:
            s.close()
    except OSError:
        return fallback


class Firmware:
    """Represents one running tipring: `run()` returns the exit status."""

    def __init__(self, cfg, log_json=None, loop=None):
        self.cfg = cfg
        self.loop = loop or EventLoop(on_error=self._loop_error)
        if loop is not None:
            self.loop.on_error = self._loop_error
        self.events = EventLog(log_json, clock=self.loop.clock)
        self.ua = None
        self.sip = None
        self.registrations = {}
        self.board = None
        self.console = None
        self._ua_timer = None
        self.calls_mgr = None
        self.mwi = None        # message waiting (tipring/firmware/calls/mwi.py), in front of the calls' NOTIFY
        self.rtp = {}          # local RTP port -> UdpEndpoint
        self.rtcp = {}
        # which stream each line hears, the mix, the hold music; at each line's audio rate
        self.media = MediaRouter(line_rate=self._line_rate)
        self.hold_music = {}   # FXS port -> HoldMusic: what a party we hold hears (line.N.hold_music)
        self.config_notes = []  # what the CLI fell back from (config_fallback), set before start
        self._saver = None     # the config_store.Saver, made at the first save
        self._next_rtp = 0
        self.dns = None        # DnsResolver, made at the first name to look up
        self.hops = {}         # FXS port -> located targets of a line that does not register
        self._stopping = False
        self._exit = 0
        self.started_at = self.loop.now()

    # ------------------------------------------------------------------ errors and events
    def _loop_error(self, where, exc):
        log.exception("error in %s", where, exc_info=exc)
        self.events.error(where, "%s: %s" % (type(exc).__name__, exc))

    def emit(self, name, fields):
        rec = self.events.emit(name, **fields)
        if name in ("registered", "registration_failed", "unregistered"):
            log.info("line %s %s %s", fields.get("line"), name,
                     {k: v for k, v in fields.items() if k not in ("line",)})
        elif name == "error":
            log.warning("%s: %s", fields.get("where"), fields.get("message"))
        return rec

    # ------------------------------------------------------------------ SIP plumbing
    def do(self, outputs) -> None:
        """Carry out what the UA (or a TU through it) returned, then re-arm its timer."""
        registered = []
        for o in outputs:
            if o[0] == "event" and o[1] == "registered":
                registered.append(o[2].get("line"))
            if o[0] == "send":
                self._sip_send(o)
            elif o[0] == "event":
                self.emit(o[1], o[2])
            elif o[0] == "line":
                self._line_command(o[1], o[2], o[3:])
            elif o[0] == "media":
                self._media_out(self.media.op(o[1], o[2], self.loop.now()))
            elif o[0] == "locate":
                self._locate_registrar(o[1])
        if registered and self.mwi is not None and not self._stopping:
            now = self.loop.now()       # MWI: subscribe once the line is registered
            for port in registered:
                self.do(self.mwi.line_registered(port, now))
        self._arm_ua_timer()

    def _arm_ua_timer(self):
        d = self.ua.deadline()
        if self._ua_timer is not None:
            if d is not None and self._ua_timer.when == d and not self._ua_timer.cancelled:
                return
            self._ua_timer.cancel()
            self._ua_timer = None
        if d is not None:
            self._ua_timer = self.loop.call_at(d, self._ua_due)

    def _ua_due(self):
        self._ua_timer = None
        self.do(self.ua.on_timer(self.loop.now()))

    def _datagram(self, data, addr):
        """A SIP message from the transport: a datagram, or one framed off a TCP/TLS stream
        (`addr` is then the connection's peer, where the responses go back)."""
        self.do(self.ua.receive(data, addr, self.loop.now()))

    def _sip_socket_error(self, exc):
        self.emit("error", {"where": "sip", "message": "socket: %s" % exc})

    # ------------------------------------------------------------------ the SIP transport
    def _default_sip_port(self):
        return 5061 if self.cfg.sip["transport"] == "tls" else 5060

    def _open_sip_transport(self, host, port):
        """The SIP transport `sip.transport` names, bound to host:port: a UDP endpoint, or a
        StreamTransport (TCP listening there; TLS with the CA file / system CAs)."""
        s = self.cfg.sip
        kind = s["transport"]
        if kind == "udp":
            return UdpEndpoint(self.loop, host, port, self._datagram, self._sip_socket_error,
                               batch=SIP_BATCH)
        # imported here: the ssl module alone is ~5 MB of RSS that a UDP ATA never needs
        from tipring.firmware.loop.tcp import StreamTransport, tls_client_context
        tls = None
        if kind == "tls":
            ca, verify = s.get("tls_ca_file"), s.get("tls_verify", True)
            try:
                tls = tls_client_context(ca, verify)
            except (OSError, ValueError) as e:    # ssl.SSLError is an OSError
                # run on, refusing every certificate: each line then says why it cannot register
                self.emit("error", {"where": "sip", "message": "sip.tls_ca_file: cannot load %s: %s; "
                                    "no TLS server will be trusted" % (ca, getattr(e, "strerror", None) or e)})
                tls = tls_client_context(None, True, system_cas=False)
        return StreamTransport(self.loop, host, port, self._datagram, self._sip_transport_status, tls=tls)

    @property
    def _sip_is_stream(self) -> bool:
        """SIP runs over TCP/TLS (a StreamTransport), not a UDP endpoint."""
        return self.sip is not None and not isinstance(self.sip, UdpEndpoint)

    def _sip_send(self, o) -> None:
        """("send", bytes, dest[, fallback]): over UDP a datagram; over TCP/TLS the connection
        to dest, opened when needed (fallback: where a response goes when that is gone)."""
        data, dest = o[1], o[2]
        try:
            if self._sip_is_stream:
                self.sip.send(data, dest, o[3] if len(o) > 3 else None)
            else:
                self.sip.send(data, dest)
        except OSError as e:
            self.emit("error", {"where": "sip", "message": "cannot send to %s:%s: %s" % (dest[0], dest[1], e)})

    def _sip_flow(self, target, server_name) -> None:
        """Over TCP/TLS, keep the connection to a line's registrar/proxy up (reconnected with
        back-off when lost) and check its TLS certificate against the configured host name."""
        if self._sip_is_stream:
            self.sip.set_server_name(target, server_name)
            self.sip.keep(target)

    def _sip_transport_status(self, kind, peer, reason) -> None:
        """What the stream transport reports (tipring/firmware/loop/tcp.py rule 4). A connection that
        failed or was lost ends the transactions sent over it at once; a line registered
        through it hears `Registration.on_transport_lost(reason, now)` (it re-registers when
        it was registered); when the kept connection is back a line that is not registering
        starts again."""
        now = self.loop.now()
        if kind == "error" or peer is None:
            self.emit("error", {"where": "sip", "message": reason})
            return
        peer = tuple(peer[:2])
        regs = [r for r in self.registrations.values() if tuple(r.next_hop or ())[:2] == peer]
        if kind in ("failed", "lost"):
            outs = self.ua.transport_failed(peer, reason, now)
            told = {o[2].get("line") for o in outs if o[0] == "event" and o[1] == "registration_failed"}
            self.do(outs)
            for reg in regs:
                if reg.line in told or reg.state in ("idle", "stopped", "unregistering"):
                    continue
                self.do(self.ua.run_tu(reg, reg.on_transport_lost(reason, now), now))
            if not regs and not told:
                self.emit("error", {"where": "sip", "message": reason})
        elif kind == "restored":
            for reg in regs:
                if reg.state not in ("registering", "unregistering", "stopped"):
                    self.do(self.ua.run_tu(reg, reg.start(now), now))

    # ------------------------------------------------------------------ start / stop
    def start(self) -> None:
        self._load_hold_music()
        s = self.cfg.sip
        host, port = parse_hostport(s["bind"], allow_zero=True)
        self.sip = self._open_sip_transport(host, port)
        bound_host, bound_port = self.sip.address
        users = [ln["user"] for ln in self.cfg.lines]
        self.ua = UserAgent(bound_host, bound_port, s["transport"], s["user_agent"],
                            s["t1_ms"] / 1000.0, s["t2_ms"] / 1000.0, s["t4_ms"] / 1000.0, users)
        self.ua.trace = s["trace"]
        self.ua.limiter.is_trusted = self._trusted_peer
        started = {"version": __version__, "sip": "%s:%d" % (bound_host, bound_port), "transport": s["transport"]}
        self._start_board(started)
        self._start_console(started)
        self.emit("started", started)
        notes = self.config_notes
        if notes:
            self.emit("config_fallback", {"path": self.cfg.path, "backup": (self.cfg.path or "") + ".bak",
                                          "problems": notes})
        log.info("tipring %s started, SIP on %s", __version__, started["sip"])
        self.calls_mgr = CallManager(self.ua, self.cfg.lines, self._next_hop_for, self._rtp_alloc,
                                     line_busy=self._line_busy,
                                     features_for=self._features_for,
                                     fallbacks_for=self._fallbacks_for, contact_for=self._contact_for,
                                     media_keys=os.urandom)      # SRTP master keys (RFC 4568)
        self.mwi = MwiService(self.ua, self.cfg.lines, self._next_hop_for, self._mwi_contact,
                              user_agent=s["user_agent"])
        self.do(self.mwi.start(self.loop.now()))
        for ln in self.cfg.lines:
            if ln["register"]:
                self._register_line(ln)
            else:
                self._next_hop_for(ln["port"])     # a name: looked up now, ready for the first call
        self._arm_ua_timer()

    def _start_board(self, started):
        kind = self.cfg.board["kind"]
        from tipring.board import is_sim_board
        if is_sim_board(kind):     # "sim", or a board file of kind "sim" (a 16 kHz sim line)
            from tipring.board.sim.board import SimBoard
            self.board = SimBoard(self)
            self.board.start()
            started["control"] = self.board.address
        else:
            from tipring.board.slic import SlicBoard
            self.board = SlicBoard(self)
            self.board.start()
            started["board"] = kind

    def _start_console(self, started):
        listen = self.cfg.console.get("listen", "off")
        if listen == "off":
            return
        try:
            from tipring.firmware.console.server import ConsoleServer
        except ImportError:
            return
        self.console = ConsoleServer(self.loop, self, listen)
        started["console"] = self.console.address

    # ------------------------------------------------------------------ where requests go (RFC 3263)
    def _locator(self, text):
        """A Locator for a registrar/proxy setting "HOST[:PORT]" (no port: SRV, RFC 3263 §4.2)."""
        host, port = parse_hostport(text, 0, allow_zero=True)
        transport = self.cfg.sip["transport"]
        families = ("AAAA",) if ":" in (self.ua.host if self.ua else "") else ("A",)
        return Locator(host, port or None, transport if transport in DEFAULT_PORT else "udp", families)

    def _locate(self, text, then) -> None:
        """Where requests for `text` go: `then(targets, error)` on the loop thread; at once for
        a numeric host (no DNS), else when the lookup on a worker thread is done."""
        loc = self._locator(text)
        if loc.done:
            then(loc.targets, loc.error)
            return
        if self.dns is None:
            from tipring.firmware.loop.resolver import DnsResolver
            s = self.cfg.sip
            self.dns = DnsResolver(self.loop, servers=s.get("dns_servers") or (), timeout=s.get("dns_timeout_s", 5))
        self.dns.locate(loc.host, loc.port, loc.transport, loc.families, then)

    def _locate_registrar(self, reg) -> None:
        """A registration asked where its REGISTERs go (`("locate", reg)`): look it up, then
        hand it the targets, or the reason there are none."""
        ln = self.cfg.line(reg.line)
        if ln is None:
            return
        text = ln["proxy"] or ln["registrar"]

        def located(targets, error):
            if self.registrations.get(reg.line) is not reg or self._stopping:
                return          # replaced or stopped meanwhile
            now = self.loop.now()
            if targets:
                self._sip_flow(targets[0], self._locator(text).host)
                reg.contact = self._contact(ln["user"], targets[0])
                acts = reg.set_targets(targets, now)
            else:
                acts = reg.locate_failed("DNS: %s" % error, now)
            self.do(self.ua.run_tu(reg, acts, now))

        self._locate(text, located)

    def _targets_for(self, port) -> list:
        """The line's next hops in the order to try them, the one in use first: its
        registration's (where it registered), else its own lookup. [] until one is known; a
        lookup is then started for the next call."""
        reg = self.registrations.get(port)
        if reg is not None and reg.next_hop is not None:
            i = reg.targets.index(reg.next_hop)
            return reg.targets[i:] + reg.targets[:i]
        ln = self.cfg.line(port)
        if ln is None:
            return []
        text = ln["proxy"] or ln["registrar"]
        loc = self._locator(text)
        if loc.done:
            return loc.targets
        if reg is None:     # refresh the line's own lookup (TTL-cached) for the next call
            self._locate(text, lambda targets, error: self._line_located(port, text, targets, error))
        return list(self.hops.get(port, ()))

    def _line_located(self, port, text, targets, error):
        if targets:
            self.hops[port] = targets
        elif port not in self.hops:
            self.emit("error", {"where": "dns", "message": "line %d: proxy %s: %s" % (port, text, error)})

    def _next_hop_for(self, port):
        """Where the line's calls go (None while its proxy's name is still being looked up)."""
        targets = self._targets_for(port)
        return tuple(targets[0]) if targets else None

    def _fallbacks_for(self, port) -> list:
        """The next hops after `_next_hop_for`, for a request that gets no answer (§4.3)."""
        return [tuple(t) for t in self._targets_for(port)[1:]]

    # ------------------------------------------------------------------ calls and media

    def _mwi_contact(self, port):
        """Our Contact URI for a line's subscription: the one it registered (a NAT mapping
        included), else built as a registration would build it."""
        reg = self.registrations.get(port)
        if reg is not None:
            return reg.contact
        ln = self.cfg.line(port)
        return self._contact(ln["user"] if ln else "tipring", self._next_hop_for(port))

    def _trusted_peer(self, host, port) -> bool:
        """True for a line's registrar or proxy: it carries every call, so the SIP rate
        limiter gives it a bucket strangers cannot drain (never a DNS lookup here). Over
        TCP/TLS the proxy's own connections come from ephemeral ports: the host decides."""
        stream = self.cfg.sip["transport"] != "udp"
        for reg in self.registrations.values():
            hop = reg.next_hop
            if hop is not None and hop[0] == host and (stream or hop[1] == port):
                return True
        for ln in self.cfg.lines:
            try:
                h, p = parse_hostport(ln["proxy"] or ln["registrar"], 5060)
            except ValueError:
                continue
            if h == host and (stream or p == port):
                return True
        return False

    def _features_for(self, port):
        """The line's service settings; call waiting as the handset has it now (*56/*57, *70)."""
        feats = dict(self.cfg.line(port) or {})
        now_on = self.board.call_waiting_now(port) if self.board is not None else None
        if now_on is not None:
            feats["call_waiting"] = now_on
        return feats

    def _line_busy(self, port):
        return self.board.line_busy(port) if self.board is not None else False

    # the line's intents (tipring/firmware/line/fxs.py) -> (what carries it out, how many of the
    # intent's arguments it takes): a CallManager method, called (port, *args, now), or one
    # of this class's `_intent_*` methods, called (port, args, now)
    INTENTS = {"dial": ("dial", 1), "answer": ("answer", 0), "hangup": ("hangup", 0),
               # FLOWS §12, §13: hold / resume, answer a waiting call, swap, drop a second call
               "flash": ("flash", 0), "dial_second": ("dial_second", 1),
               "answer_recall": ("answer_recall", 0), "conference": ("conference", 0),
               "drop_last": ("drop_last", 0), "transfer_blind": ("transfer_blind", 1),
               "digit": ("_intent_digit", None), "transfer_attended": ("_intent_transfer_attended", None),
               "feature": ("_intent_feature", None), "flash_relay": ("_intent_flash_relay", None)}

    def line_intent(self, port: int, intent: str, *args) -> None:
        """What the FXS line wants from the call layer: dial NUMBER, answer, hangup, flash...
        (`INTENTS`); an unknown intent is an `error` event."""
        entry = self.INTENTS.get(intent)
        if entry is None:
            self.emit("error", {"where": "calls", "message": "line %d: unknown line intent %r" % (port, intent)})
            return
        how, nargs = entry
        now = self.loop.now()
        if nargs is None:
            getattr(self, how)(port, args, now)
        else:
            self.do(getattr(self.calls_mgr, how)(port, *args[:nargs], now))

    def _intent_digit(self, port, args, now):
        """A digit keyed in a call: RFC 4733 in the heard call's stream when it has
        telephone-event (else the audio carries it in-band)."""
        self.media.send_digit(port, args[0], args[1] if len(args) > 1 else 100)

    def _intent_transfer_attended(self, port, args, now):
        # FLOWS §15: hanging up while talking to C with B on hold joins B and C
        held = self.calls_mgr.held_call(port)
        if held is not None:
            self.do(self.calls_mgr.transfer_attended(port, held, now, hung_up=True))
        else:
            self.do(self.calls_mgr.hangup(port, now))

    def _intent_feature(self, port, args, now):
        self._feature(port, args[0], args[1] if len(args) > 1 else None)

    def _intent_flash_relay(self, port, args, now):
        """Flash relay (`line.N.flash_relay`): the flash goes to the far end's PBX as RFC 4733
        event 16 in the RTP stream, or as SIP INFO; without telephone-event in the call,
        RFC 4733 falls back to INFO, as a Cisco SPA does."""
        method = args[0] if args else "rfc4733"
        if method == "rfc4733" and self.media.send_digit(port, "flash", FLASH_EVENT_MS):
            return
        self.do(self.calls_mgr.flash_info(port, now))

    def _feature(self, port, name, arg):
        """A feature code the line applied (*72, *78 ...): persist it in the config."""
        from tipring.firmware.line.features import CONFIG_KEYS
        from tipring.firmware import config as config_mod
        key = CONFIG_KEYS.get(name)
        if key is None:
            return
        value = self.board.feature_value(port, key) if self.board is not None else None
        if value is None:
            return
        try:
            self.cfg = config_mod.set_value(self.cfg, "line.%d.%s" % (port, key),
                                            ("true" if value else "false") if isinstance(value, bool) else str(value))
        except (KeyError, config_mod.ConfigError) as e:
            self.emit("error", {"where": "features", "message": str(e)})
            return
        event = {"action": "feature", "key": "line.%d.%s" % (port, key), "value": value}
        if not self.cfg.path:
            self.emit("config", event)
            return

        def saved(result):
            if isinstance(result, Exception):
                self.emit("error", {"where": "features", "message": "line %d: %s not saved: %s" % (port, key, result)})
            self.emit("config", event)

        # the write and its fsyncs run on the saver's thread: audio goes on meanwhile, and the
        # `config` event comes when the file holds the change
        self.saver.save(self.cfg, self.cfg.path, saved)

    @property
    def saver(self):
        """The one `config_store.Saver` of this firmware: feature codes, the console's `save`
        and factory reset write through it, off the loop and in order."""
        if self._saver is None:
            from tipring.firmware.config_store import Saver
            self._saver = Saver(self.loop)
        return self._saver

    def _line_command(self, port, verb, args):
        if self.board is not None:
            self.board.line_command(port, verb, *args)

    def _rtp_alloc(self):
        host = self.ua.host
        if host in ("0.0.0.0", "::"):
            hop = self._next_hop_for(self.cfg.lines[0]["port"])
            host = local_address_towards(hop[0], hop[1], "127.0.0.1") if hop else "127.0.0.1"
        for _ in range(200):
            self._next_rtp = (self._next_rtp + 2) % 16384
            port = 16384 + self._next_rtp
            try:
                ep = UdpEndpoint(self.loop, host, port, lambda d, a, p=port: self._rtp_in(p, d, a), media=True)
            except OSError:
                continue
            try:
                self.rtcp[port] = UdpEndpoint(self.loop, host, port + 1, lambda d, a, p=port: self._rtp_in(p, d, a),
                                              media=True)
            except OSError:
                pass
            self.rtp[port] = ep
            return (host, port)
        raise OSError("no free RTP port")

    def _rtp_in(self, local_port, data, addr):
        self._media_out(self.media.packet(local_port, data, addr, self.loop.now()))

    def _media_out(self, outputs) -> None:
        """Carry out what the media router returned (tipring/firmware/media/routing.py)."""
        for o in outputs:
            kind = o[0]
            if kind == "rtp":
                self._rtp_send(o[1], o[2], o[3])
            elif kind == "event":
                self.emit(o[1], o[2])
            elif kind == "line":
                self._line_command(o[1], o[2], o[3:])
            elif kind == "close":
                self._close_rtp(o[1])
            elif kind == "changed" and self.board is not None:
                self.board.media_changed(o[1])

    def media_call(self, port: int):
        """The Call-ID of the call the line's handset hears now, or None (tipring/board/line_echo.py)."""
        return self.media.heard_call_id(port)

    def _line_rate(self, port: int) -> int:
        """The line's audio rate (8000, or 16000 on a wideband board): every media frame is
        20 ms at it (tipring/board/interface.py)."""
        return self.board.line_rate(port) if self.board is not None else 8000

    def has_media(self, port: int) -> bool:
        """True while any call of the line has RTP: the line's media clock must run."""
        return self.media.has_media(port)

    def _load_hold_music(self) -> None:
        """Each line's hold music, read once here (start-up, config load), never per frame:
        the comfort tone, or a WAV's samples (checked by config; one that went away or went
        bad since is an `error` event, and that line's held parties hear silence)."""
        from tipring.firmware.config import read_hold_music
        from tipring.firmware.media.moh import HoldMusic
        music = {}
        for ln in self.cfg.lines:
            what = ln.get("hold_music") or ""
            old = self.hold_music.get(ln["port"])
            if not what:
                continue
            if old is not None and old.source == what:
                music[ln["port"]] = old        # unchanged: keep it (and its place)
                continue
            try:
                moh = HoldMusic(None) if what == "tone" else \
                    HoldMusic(*read_hold_music(what, with_rate=True))
            except Exception as e:      # OSError, wave.Error, ValueError: a bad file
                self.emit("error", {"where": "config", "message": "line %d: hold_music %s: %s; "
                                    "held parties hear silence" % (ln["port"], what, e)})
                continue
            moh.source = what
            music[ln["port"]] = moh
        self.hold_music = music
        self.media.set_hold_music(music)

    def fax_detected(self, port: int, call_id: str, tone: str, direction: str) -> None:
        """The line heard a fax/modem tone (CED, ANSam, CNG) in a call (tipring/board/line_echo.py;
        it already turned its echo canceller off): G.711 pass-through as SPA/HT ATAs do it.
        The call's jitter buffer goes to a fixed delay, the call re-offers PCMU/PCMA when
        it runs another codec (Call.fax_passthrough). There is no VAD or comfort-noise
        generation to turn off: streams send every frame and never send CN (PT 13)."""
        if self.calls_mgr is None:
            return
        now = self.loop.now()
        if direction == "from_line" and self._fax_t38(port):
            # T.38 relay (line.N.fax = "t38"): our own fax machine's tone re-INVITEs to T.38;
            # a refusal falls back to the pass-through below (Call.fax_t38)
            call, outputs = self.calls_mgr.fax_passthrough(port, call_id, tone, now, t38=True)
            if call is not None:
                self.emit("fax_t38", {"line": port, "call_id": call_id, "tone": tone,
                                      "direction": direction,
                                      "reinvite": any(o[0] == "send" for o in outputs)})
                self.do(outputs)
            return
        first = all(c.fax is None for c in self.calls_mgr.calls_on(port))
        call, outputs = self.calls_mgr.fax_passthrough(port, call_id, tone, now)
        if call is None:
            return
        fixed = self.media.fix_jitter(port, call)
        if fixed or first:
            self.emit("fax_passthrough", {"line": port, "call_id": call_id, "tone": tone,
                                          "direction": direction, "jitter_mode": "fixed",
                                          "jitter_target_ms": FAX_JITTER_MS,
                                          "codec": call.plan.codec if call.plan else None,
                                          "reinvite": any(o[0] == "send" for o in outputs)})
        self.do(outputs)

    def _fax_t38(self, port: int) -> bool:
        """The line's fax mode is T.38 and the T.38 engine runs here (else: pass-through)."""
        from tipring.firmware.media.t38_gateway import available
        ln = next((ln for ln in self.cfg.lines if ln["port"] == port), {})
        return ln.get("fax", "t38") == "t38" and available() is None

    def _close_rtp(self, port):
        for table in (self.rtp, self.rtcp):
            ep = table.pop(port, None)
            if ep is not None:
                ep.close()

    def _rtp_send(self, local_port, data, addr):
        ep = self.rtp.get(local_port)
        if ep is not None:
            try:
                ep.send(data, tuple(addr))
            except OSError:
                pass

    def media_frame(self, port: int, capture: bytes, now: float):
        """The line's 20 ms tick while a call has media: send what the handset said (and the
        hold music to held parties), return what it should hear (None: no call media)."""
        heard, outputs = self.media.frame(port, capture, now)
        if outputs:
            self._media_out(outputs)
        return heard

    def _contact(self, user, target) -> str:
        host = self.ua.host
        if host in ("0.0.0.0", "::") and target is not None:
            host = local_address_towards(target[0], target[1], "127.0.0.1")
        return self.ua.contact_uri(user, host)

    def _register_line(self, ln) -> None:
        """A Registration for the line: at once to a numeric registrar; to a name once its
        lookup is done (`Registration.start` asks with a "locate" action, `_locate_registrar`).
        Over TCP/TLS the connection to it is kept up, its certificate checked against the
        configured host name (RFC 5922), not an SRV target's."""
        text = ln["proxy"] or ln["registrar"]
        loc = self._locator(text)
        target = loc.targets[0] if loc.done else None
        if target is not None:
            self._sip_flow(target, loc.host)
        reg = Registration(ln["port"], ln["user"], ln["password"], ln["domain"], target,
                           self._contact(ln["user"], target), ln["expires"], auth_user=ln["auth_user"],
                           display=ln["display_name"], user_agent=self.cfg.sip["user_agent"],
                           registrar_text=ln["registrar"], **self._recovery_options(ln))
        self._locate_backup(reg, ln)
        self.registrations[ln["port"]] = reg
        self._add_registration_tus(reg)
        self.do(self.ua.run_tu(reg, reg.start(self.loop.now()), self.loop.now()))

    # ------------------------------------------------------------------ NAT and recovery
    def _recovery_options(self, ln) -> dict:
        """A Registration's keep-alive, ping and backup settings (sip.nat_keepalive_s,
        line.N.registrar_ping_s, line.N.registrar_backup)."""
        opts = {"keepalive_s": self.cfg.sip.get("nat_keepalive_s", 0),
                "ping_s": ln.get("registrar_ping_s", 0),
                "ping_timeout": max(2.0, 8 * self.cfg.sip["t1_ms"] / 1000.0) if ln.get("registrar_ping_s") else None}
        backup = ln.get("registrar_backup")
        if backup:
            opts["backup_text"] = backup
            loc = self._locator(backup)
            if loc.done and loc.targets:
                opts["backup"] = tuple(loc.targets[0])
        return opts

    def _locate_backup(self, reg, ln) -> None:
        """A backup registrar given by name is looked up off the loop (RFC 3263, as the
        primary); until it is known the line has no backup to fail over to."""
        backup = ln.get("registrar_backup")
        if not backup or reg.backup is not None:
            return

        def located(targets, error):
            if self.registrations.get(reg.line) is not reg:
                return
            if targets:
                reg.backup = tuple(targets[0])
                self._sip_flow(reg.backup, self._locator(backup).host)
            else:
                self.emit("error", {"where": "dns", "message": "line %d: registrar_backup %s: %s"
                                    % (ln["port"], backup, error)})

        self._locate(backup, located)

    def _add_registration_tus(self, reg) -> None:
        """The registration and its keep-alive/ping monitor are transaction users of the UA."""
        self.ua.add_tu(reg)
        if reg.monitor is not None:
            self.ua.add_tu(reg.monitor)

    def _retire_registration(self, reg, now) -> None:
        """A line's registration replaced by a config change: its de-registration goes out
        and it leaves the UA's transaction users with its monitor. The answers still reach
        it (the UA routes a response to its transaction's owner, not through `ua.tus`), and
        no timer of it runs again: no refresh, keep-alive or ping from an old account."""
        self.do(self.ua.run_tu(reg, reg.stop(now), now))
        self.ua.remove_tu(reg)
        if reg.monitor is not None:
            self.ua.remove_tu(reg.monitor)

    def _contact_for(self, port):
        """The Contact a line's calls carry: the registered one (the NAT mapping the registrar
        saw, RFC 3581) when it differs from our socket's address, else None (the UA's own)."""
        reg = self.registrations.get(port)
        if reg is not None and reg.contact != reg.local_contact:
            return reg.contact
        return None

    def shutdown(self, exit_code: int = 0) -> None:
        """Orderly stop: de-register, wait for the answers (bounded), then leave the loop."""
        if self._stopping:
            return
        self._stopping = True
        self._exit = exit_code
        now = self.loop.now()
        if self.calls_mgr is not None:
            for port in self.calls_mgr.ports_with_calls():
                self.do(self.calls_mgr.hangup_all(port, now))
        if self.mwi is not None:
            self.do(self.mwi.stop(now))          # unsubscribe before de-registering
        for reg in self.registrations.values():
            self.do(self.ua.run_tu(reg, reg.stop(now), now))
        self.loop.call_later(SHUTDOWN_WAIT, self.loop.stop)
        self._check_done()

    def _check_done(self):
        if all(r.state in ("stopped", "idle", "failed", "backoff") for r in self.registrations.values()) \
                and (self.mwi is None or self.mwi.settled):
            self.loop.stop()
        else:
            self.loop.call_later(0.02, self._check_done)

    def _signal(self, signum, frame):
        self.loop.call_soon_threadsafe(self.shutdown, 0)

    def run(self) -> int:
        try:
            self.start()
        except OSError as e:
            self.emit("error", {"where": "start", "message": str(e)})
            log.error("cannot start: %s", e)
            self.close()
            return 1
        old = {s: signal.signal(s, self._signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.loop.run()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self.close()
        return self._exit

    def close(self) -> None:
        if self._saver is not None and not self._saver.close(timeout=10.0):   # a save asked just before the stop
            log.warning("a config save was still running at exit")
        for ep in list(self.rtp.values()) + list(self.rtcp.values()):
            ep.close()
        if self.dns is not None:
            self.dns.close()
        for part in (self.console, self.board, self.sip):
            if part is not None:
                try:
                    part.close()
                except Exception as e:  # closing must not hide the exit status
                    log.warning("closing %r: %s", part, e)
        self.events.close()

    # ------------------------------------------------------------------ the console's facade
    version = __version__

    @property
    def config(self):
        return self.cfg

    @property
    def config_path(self):
        return self.cfg.path

    def status(self) -> dict:
        now = self.loop.now()
        lines = []
        for ln in self.cfg.lines:
            reg = self.registrations.get(ln["port"])
            entry = {"port": ln["port"], "user": ln["user"], "registrar": ln["registrar"],
                     "registration": reg.state if reg else "off",
                     "expires_in": int(reg.bound_until - now) if reg and reg.bound_until else None}
            if self.board is not None:
                entry.update(self.board.line_status(ln["port"]))
            if self.mwi is not None:
                entry["mwi"] = self.mwi.status(ln["port"])
            lines.append(entry)
        st = {"version": __version__, "uptime_s": round(now - self.started_at, 1),
              "sip": "%s:%d" % self.sip.address if self.sip else None, "lines": lines, "calls": self.calls()}
        if self.board is not None:
            st["control"] = self.board.address
        if self.console is not None:
            st["console"] = self.console.address
        if self.ua is not None:
            st["sip_stats"] = dict(self.ua.stats, transactions=len(self.ua.tl.transactions),
                                   sources=self.ua.limiter.sources)
        return st

    def calls(self) -> list:
        return self.calls_mgr.status(self.loop.now()) if self.calls_mgr else []

    LIVE_KEYS = {("sip", "trace"), ("sip", "bind"), ("console", "password_hash")}

    def apply_config(self, new_cfg) -> list:
        """Make `new_cfg` the running config; change live what is safe to change live (a line's
        account re-registers, a new SIP bind address moves the transport), and say what waits
        for a reboot."""
        notes = []
        old = self.cfg
        for sec in ("board", "sip", "console"):
            for k, v in new_cfg.data[sec].items():
                if old.data[sec].get(k) != v and (sec, k) not in self.LIVE_KEYS:
                    notes.append("%s.%s: takes effect after reboot" % (sec, k))
        if new_cfg.sip["trace"] != old.sip["trace"]:
            self.set_trace(new_cfg.sip["trace"])
        new_ep = self._new_bind(new_cfg, old, notes)
        rebind = new_ep is not None
        self.cfg = new_cfg
        self._load_hold_music()
        now = self.loop.now()
        old_ports = {l["port"]: l for l in old.lines}
        changed = [ln for ln in new_cfg.lines if rebind or _account(old_ports.get(ln["port"])) != _account(ln)]
        if self.mwi is not None:  # MWI: unsubscribe a changed account first, subscribe per new keys
            self.do(self.mwi.reconfigure(new_cfg.lines, now, [ln["port"] for ln in changed]))
        for ln in changed:     # de-register from where we were, with the old account
            reg = self.registrations.pop(ln["port"], None)
            if reg is not None:
                self._retire_registration(reg, now)
        kept = {ln["port"] for ln in new_cfg.lines}
        for port in sorted(set(old_ports) - kept):   # a [[line]] gone: its account leaves too
            reg = self.registrations.pop(port, None)
            if reg is not None:
                self._retire_registration(reg, now)
                notes.append("line %d: removed; de-registering" % port)
        if rebind:
            old_ep = self.sip
            self.sip = new_ep
            self.ua.host, self.ua.port = new_ep.address
            # answers to the de-registrations still arrive on the old socket for a moment
            self.loop.call_later(SHUTDOWN_WAIT, old_ep.close)
            notes.append("sip.bind: SIP moved to %s:%d" % new_ep.address)
            self.emit("started", {"version": __version__, "sip": "%s:%d" % new_ep.address, "rebind": True})
        for ln in changed:
            if ln["register"]:
                self._register_line(ln)
                notes.append("line %d: re-registering" % ln["port"])
        self.calls_mgr.lines = {l["port"]: l for l in new_cfg.lines}
        self._reconfigure_lines(old_ports, new_cfg.lines)
        return notes

    def _reconfigure_lines(self, old_ports, lines) -> None:
        """A line's own settings apply at once on the board, no re-registration."""
        if self.board is None:
            return
        for ln in lines:
            if old_ports.get(ln["port"]) != ln:
                self.board.reconfigure_line(ln["port"], ln)
        self.board.wake()     # the board's media clock may sleep: a new config restarts it

    def _new_bind(self, new_cfg, old, notes):
        """The SIP transport on a changed `sip.bind`, or None: unchanged, or it cannot bind
        there (a note says why, and the new config keeps the old address)."""
        if new_cfg.sip["bind"] == old.sip["bind"]:
            return None
        try:
            host, port = parse_hostport(new_cfg.sip["bind"], allow_zero=True)
            return self._open_sip_transport(host, port)
        except OSError as e:
            notes.append("sip.bind: cannot bind %s (%s); SIP stays on %s:%d"
                         % (new_cfg.sip["bind"], e.strerror or e, self.ua.host, self.ua.port))
            new_cfg.data["sip"]["bind"] = old.sip["bind"]
            return None

    def hangup(self, line=None) -> str:
        port = line or (self.cfg.lines[0]["port"] if self.cfg.lines else 1)
        if self.calls_mgr is None or self.calls_mgr.call_on(port) is None:
            return "line %s: no call" % port
        self.line_intent(port, "hangup")
        self._line_command(port, "remote_hangup", ())   # the handset hears the call end
        return "line %s: call ended" % port

    def ring(self, line: int) -> str:
        if self.board is not None:
            return self.board.test_ring(line)
        return "line %d: no ringer on this board" % line

    def set_trace(self, on: bool) -> None:
        self.ua.trace = bool(on)

    def sip_history(self, call_id=None) -> list:
        h = list(self.ua.history) if self.ua else []
        if call_id:
            h = [r for r in h if r.get("call_id") == call_id]
        return h

    def reboot(self) -> None:
        self.loop.call_soon(self.shutdown, 0)

    def factory_reset(self) -> None:
        if not self.cfg.path:
            self.reboot()
            return

        def erased(result):
            if isinstance(result, Exception):
                self.emit("error", {"where": "config", "message": "factory reset: %s" % result})
            self.reboot()

        self.saver.erase(self.cfg.path, erased)    # after any save still queued, never before
