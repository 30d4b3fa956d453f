"""What the console shows: status, config, calls, log and trace lines as text, from plain data.

Pure functions over the facade's dicts (docs/console-app-api.md), a `Config` and event dicts;
no I/O. Secrets never leave here unmasked: config values under a secret key print as "****",
event fields go through the event log's `mask_secrets` once more.
"""

from tipring.firmware import config
from tipring.firmware.console import ladder
from tipring.firmware.eventlog import mask_secrets

HIDDEN_KEYS = ("console.password_hash",)   # not offered by completion, set only with passwd
FIXED_VALUES = {"country": config.COUNTRIES, "caller_id": config.CALLER_ID,
                "transport": config.TRANSPORTS, "pulse_variant": ("standard", "sweden", "newzealand")}


def fmt_value(key: str, value) -> str:
    """A config value as the console shows it (TOML-like; secrets as "****")."""
    if key.rsplit(".", 1)[-1] in config.SECRET_KEYS and value:
        return '"****"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    return str(value)


def fmt_duration(seconds) -> str:
    s = int(seconds or 0)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return ("%dd " % d if d else "") + "%02d:%02d:%02d" % (h, m, s)


def config_keys(cfg) -> list:
    """Every dotted key of the running config, in schema order (the console's `set` names)."""
    keys = []
    for sec in ("board", "sip", "console"):
        keys += ["%s.%s" % (sec, k) for k in config.SCHEMA[sec]]
    for ln in cfg.lines:
        keys += ["line.%d.%s" % (ln["port"], k) for k in config.SCHEMA["line"]]
    return [k for k in keys if k not in HIDDEN_KEYS]


def value_hints(key: str) -> list:
    """Values offered by tab completion after `set KEY ` (keys with a fixed set of values)."""
    sec, leaf = key.split(".", 1)[0], key.rsplit(".", 1)[-1]
    entry = config.SCHEMA.get(sec, {}).get(leaf)
    if entry is None:
        return []
    if entry[0] is config._bool:
        return ["true", "false"]
    if sec == "board" and leaf == "kind":
        try:
            return config.board_names()
        except Exception:
            return []
    return list(FIXED_VALUES.get(leaf, ()))


def config_lines(cfg) -> list:
    """`KEY = VALUE` for the whole running config, secrets masked."""
    d = cfg.masked()
    lines = []
    for sec in ("board", "sip", "console"):
        for k, v in d.get(sec, {}).items():
            lines.append("%s.%s = %s" % (sec, k, fmt_value(k, v)))
    for item in d.get("line", []):
        for k, v in item.items():
            lines.append("line.%s.%s = %s" % (item.get("port"), k, fmt_value(k, v)))
    return lines


def call_line(c: dict) -> str:
    return "line %-2s %-3s %-10s %-28s %8s  %s" % (
        c.get("line"), c.get("direction", "?"), c.get("state", "?"), c.get("peer", "?"),
        fmt_duration(c.get("duration_s")), c.get("call_id", ""))


def calls_lines(calls: list) -> list:
    if not calls:
        return ["no calls"]
    return ["line    dir state      peer                         duration  call-id"] + [call_line(c) for c in calls]


def status_lines(st: dict, version: str = "?") -> list:
    """`show status` from `app.status()`; tolerant of missing fields."""
    lines = ["tipring %s   up %s" % (st.get("version", version), fmt_duration(st.get("uptime_s")))]
    for k in ("sip", "console", "control"):
        if st.get(k):
            lines.append("%-8s %s" % (k, st[k]))
    for ln in st.get("lines", []):
        reg = ln.get("registration", "?")
        if reg == "registered" and ln.get("expires_in") is not None:
            reg += " (expires in %d s)" % ln["expires_in"]
        text = "line %-3s %s@%s  %s" % (ln.get("port"), ln.get("user"), ln.get("registrar"), reg)
        if ln.get("hook"):
            text += "  hook %s" % ln["hook"]
        if ln.get("state"):
            text += "  %s" % ln["state"]
        lines.append(text)
        mwi = ln.get("mwi")
        if mwi and (mwi.get("waiting") is not None or mwi.get("subscription") not in (None, "off")):
            lines.append(mwi_line(ln.get("port"), mwi))
    sip = st.get("sip_stats")
    if sip:
        lines.append("sip in   %d messages, %d malformed, %d rate-limited, %d refused (overload); "
                     "%d live transactions" % (sip.get("in", 0), sip.get("bad", 0), sip.get("limited", 0),
                                               sip.get("overload", 0), sip.get("transactions", 0)))
    calls = st.get("calls", [])
    lines.append("calls    %s" % (len(calls) if calls else "none"))
    lines += ["  " + call_line(c) for c in calls]
    return lines


def mwi_line(port, mwi: dict) -> str:
    """A line's message waiting (RFC 3842): lamp, counts, and the subscription's state."""
    w = mwi.get("waiting")
    lamp = "unknown" if w is None else ("messages waiting" if w else "no messages")
    text = "mwi      line %s: %s" % (port, lamp)
    if w is not None:
        text += " (%d new, %d old)" % (mwi.get("new") or 0, mwi.get("old") or 0)
    sub = mwi.get("subscription")
    text += "; subscription %s" % (sub if sub and sub != "off" else "off (unsolicited NOTIFY only)")
    return text


def event_line(ev: dict) -> str:
    """One event-log record as `   12.345 name key=value ...`."""
    ev = mask_secrets(ev)
    rest = " ".join("%s=%s" % (k, v) for k, v in ev.items() if k not in ("t", "event"))
    return "%9.3f %s %s" % (ev.get("t", 0.0), ev.get("event", "?"), rest)


def trace_lines(ev: dict) -> list:
    """A `sip` event as trace output: a summary line, then the message (if given) indented."""
    ev = mask_secrets(ev)
    arrow = "->" if ev.get("dir") == "out" else "<-"
    lines = ["%9.3f SIP %s %s  %s" % (ev.get("t", 0.0), arrow, ev.get("peer", "?"),
                                      ladder.summary_text(ev.get("summary", "")))]
    msg = ev.get("message")
    if isinstance(msg, str):
        lines += ["    " + l for l in msg.replace("\r\n", "\n").split("\n") if l]
    return lines


def fallback_warnings(events) -> list:
    """Loud lines for each `config_fallback` event (start-up ran the backup config)."""
    out = []
    for ev in list(events):
        if ev.get("event") == "config_fallback":
            out.append("!!! CONFIG FALLBACK: %s was unusable; running the last good config from %s"
                       % (ev.get("path", "the config file"), ev.get("backup", "the backup")))
            out += ["!!!   %s" % p for p in ev.get("problems") or []]
    return out
