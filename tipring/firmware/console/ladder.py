"""Draws a SIP exchange as a text sequence chart, like the figures of the seed document.

One column per party address (this ATA's local addresses first, then peers in order of
appearance), one numbered arrow per message with its request or status line above it and the
time since the first message in the left margin:

```
              127.0.0.1:5070              127.0.0.1:5060
                (this ATA)
                    |                           |
     0.000          | (1) REGISTER sip:127.0... |
                    |-------------------------->|
     0.004          | (2) 401 Unauthorized      |
                    |<--------------------------|
```

Input is `app.sip_history()`: dicts with `t`, `dir` (`in`/`out`), `summary`, `peer`, `local`,
`call_id` (docs/console-app-api.md). Pure functions, no I/O.
"""

MARGIN = 10
MIN_GAP = 24
MAX_LABEL = 48       # two parties then fit an 80-column terminal


def summary_text(summary: str) -> str:
    """'INVITE sip:x SIP/2.0' -> 'INVITE sip:x'; 'SIP/2.0 180 Ringing' -> '180 Ringing'."""
    s = (summary or "").strip()
    if s.startswith("SIP/2.0 "):
        s = s[8:]
    if s.endswith(" SIP/2.0"):
        s = s[:-8]
    return s


def exchanges(history: list) -> list:
    """[(call_id, method of its first request, message count)], most recently active last."""
    order, method, count = [], {}, {}
    for m in history:
        cid = m.get("call_id") or "?"
        if cid in order:
            order.remove(cid)
        order.append(cid)
        count[cid] = count.get(cid, 0) + 1
        s = summary_text(m.get("summary", ""))
        if cid not in method and s and not s[:1].isdigit():
            method[cid] = s.split(" ", 1)[0]
    return [(cid, method.get(cid, "?"), count[cid]) for cid in order]


def pick(history: list, which: str = None) -> list:
    """The messages to draw: `which` None -> the most recent call (an INVITE exchange, else the
    most recent exchange); "all" -> everything; otherwise call-IDs equal to or starting with it."""
    if not history:
        return []
    if which == "all":
        return list(history)
    if which:
        exact = [m for m in history if m.get("call_id") == which]
        return exact or [m for m in history if str(m.get("call_id", "")).startswith(which)]
    invites = [m for m in history if summary_text(m.get("summary", "")).startswith("INVITE")]
    cid = (invites[-1] if invites else history[-1]).get("call_id")
    return [m for m in history if m.get("call_id") == cid]


def _parties(msgs: list) -> tuple:
    local, peers = [], []
    for m in msgs:
        lo, pe = m.get("local") or "local", m.get("peer") or "peer"
        if lo not in local:
            local.append(lo)
        if pe not in peers and pe not in local:
            peers.append(pe)
    return local, local + [p for p in peers if p not in local]


def render_ladder(msgs: list, max_label: int = MAX_LABEL) -> list:
    """The chart for `msgs` (oldest first) as a list of text lines without line ends."""
    if not msgs:
        return []
    local, parties = _parties(msgs)
    labels = []
    for i, m in enumerate(msgs, 1):
        lab = "(%d) %s" % (i, summary_text(m.get("summary", "")))
        labels.append(lab if len(lab) <= max_label else lab[:max_label - 3] + "...")
    index = {p: i for i, p in enumerate(parties)}
    gaps = [MIN_GAP] * (len(parties) - 1)
    for i, (a, b) in enumerate(zip(parties, parties[1:])):
        gaps[i] = max(gaps[i], (len(a) + 1) // 2 + (len(b) + 1) // 2 + 3)
    spans = sorted(((sorted((index[m.get("local") or "local"], index[m.get("peer") or "peer"])), len(lab))
                    for m, lab in zip(msgs, labels)), key=lambda s: s[0][1] - s[0][0])
    for (a, b), n in spans:
        if b > a:
            short = n + 4 - sum(gaps[a:b])
            if short > 0:
                gaps[b - 1] += short
    first_half = (len(parties[0]) + 1) // 2
    xs = [MARGIN + max(first_half, 6)]
    for g in gaps:
        xs.append(xs[-1] + g)
    width = xs[-1] + (len(parties[-1]) + 1) // 2 + 2

    def blank():
        row = [" "] * width
        for x in xs:
            row[x] = "|"
        return row

    def put(row, x, text):
        for i, ch in enumerate(text):
            if 0 <= x + i < width:
                row[x + i] = ch

    out = []
    head = [" "] * width
    role = [" "] * width
    for x, p in zip(xs, parties):
        put(head, x - len(p) // 2, p)
        if p in local:
            put(role, x - 5, "(this ATA)")
    out += ["".join(head).rstrip(), "".join(role).rstrip(), "".join(blank()).rstrip()]
    t0 = msgs[0].get("t", 0.0) or 0.0
    for m, lab in zip(msgs, labels):
        lo, pe = m.get("local") or "local", m.get("peer") or "peer"
        src, dst = (lo, pe) if m.get("dir") == "out" else (pe, lo)
        xa, xb = xs[parties.index(src)], xs[parties.index(dst)]
        left, right = min(xa, xb), max(xa, xb)
        row = blank()
        put(row, 0, "%8.3f" % ((m.get("t", t0) or 0.0) - t0))
        put(row, left + 2, lab[:max(right - left - 3, 1)] if right > left else lab)
        out.append("".join(row).rstrip())
        row = blank()
        if right > left:
            for x in range(left + 1, right):
                row[x] = "-"
            if xb > xa:
                row[right - 1] = ">"
            else:
                row[left + 1] = "<"
        else:  # a message to itself: a short loop
            put(row, left + 1, "--+")
        out.append("".join(row).rstrip())
    return out
