"""A virtual network and clock for call-layer tests: tipring user agents joined by address,
every message really serialised and parsed, timers fired in order of their deadlines.

`relay(data, dest) -> new dest or None` lets a subclass play a stand-in proxy (see
test_services.py). Records: `wire` (from, to, start line), `raw` (from, to, bytes),
`line_cmds`, `media`, `events`."""


class VirtualNet:
    def __init__(self):
        self.nodes = {}      # address -> (UserAgent, CallManager)
        self.now = 0.0
        self.line_cmds = []
        self.media = []
        self.events = []
        self.wire = []
        self.raw = []
        self.drop = None     # drop(data) -> True loses that datagram

    def relay(self, data, dest):
        return None

    def run(self, outputs, src):
        queue = [(o, src) for o in outputs]
        while queue:
            o, at = queue.pop(0)
            if o[0] == "send":
                data, dest = o[1], tuple(o[2])
                self.wire.append((at, dest, data.split(b"\r\n", 1)[0].decode()))
                self.raw.append((at, dest, data))
                if self.drop and self.drop(data):
                    continue
                onward = self.relay(data, dest)
                if onward is not None:
                    queue.append((("send", data, onward), dest))
                    continue
                ua, mgr = self.nodes[dest]
                queue += [(x, dest) for x in ua.receive(data, at, self.now)]
            else:
                queue += self.local(o, at)

    def local(self, o, at):
        """An output that stays on node `at` (line, media, event): recorded here. A subclass
        that wires a line to a node returns what that produces, as [(output, node)]."""
        if o[0] == "line":
            self.line_cmds.append((at, o[1], o[2]) + tuple(o[3:]))
        elif o[0] == "media":
            self.media.append((at, o[1], o[2].call_id))
        elif o[0] == "event":
            self.events.append((at, o[1], o[2]))
        return []

    def tick(self, until):
        """Fire every UA timer due up to `until`, earliest first; the clock ends at `until`."""
        while True:
            best = None
            for addr, (ua, mgr) in self.nodes.items():
                d = ua.deadline()
                if d is not None and (best is None or d < best[0]):
                    best = (d, addr)
            if best is None or best[0] > until:
                self.now = until
                return
            self.now = max(self.now, best[0])
            ua, mgr = self.nodes[best[1]]
            self.run(ua.on_timer(self.now), best[1])

    def sent_bytes(self):
        return [d for _, _, d in self.raw]
