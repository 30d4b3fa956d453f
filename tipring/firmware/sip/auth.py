"""Digest authentication, client side: RFC 7616 (with RFC 2617 and RFC 8760 for SIP).

What this module owns
---------------------
Everything a UA needs to answer a 401/407: reading `WWW-Authenticate` / `Proxy-Authenticate`
challenges, choosing one, computing the digest and writing `Authorization` /
`Proxy-Authorization`; plus the memory that stops a wrong password from looping forever.
It knows no transaction, socket or clock: the TU hands it the challenging response and the
request that drew it, and gets back the header(s) to put on the retried request.

Rules
-----
1. Algorithms, strongest first (RFC 8760 §2.4): SHA-512-256, SHA-256, MD5, each also as
   `-sess`. A response may carry several challenges (RFC 7616 §3.7, RFC 8760 §2.4); per realm
   we take the strongest one this platform can compute (MicroPython has no SHA-512/256, so it
   falls back). Unknown algorithms and non-Digest schemes are ignored.
2. qop: `auth` when offered, else `auth-int` when that is all there is, else the RFC 2069 form
   with no qop, cnonce or nc (RFC 2617 §3.2.2). `userhash` is not supported (never sent).
3. nc counts per nonce, from 00000001 (RFC 7616 §3.4): every header computed for that nonce,
   including pre-emptive ones from `authorize()`, takes the next value.
4. 401 -> `WWW-Authenticate` -> `Authorization`; 407 -> `Proxy-Authenticate` ->
   `Proxy-Authorization` (RFC 3261 §22.2, §22.3). Both kinds are read from any response.
5. No loops (RFC 3261 §22.2): if the request that drew the challenge already carried an answer
   this client computed from a fresh challenge for the same realm, the credentials were
   rejected and `respond()` fails, unless the new challenge says `stale=true` (the nonce
   expired, the password was fine: RFC 7616 §3.3), which is answered and is not a failure.
   Cached answers re-sent by `authorize()` are exempt: a server may expire their nonce.

Theory of operation
-------------------
`DigestClient(username, password)` lives as long as the account. When a request comes back
401/407 the TU calls `respond(response, request)` and gets an `AuthResult`: `ok` with the
`headers` (list of (name, value)) to add to the new request (new CSeq, new branch: the
transaction layer's job), or not `ok` with a `reason` to log and report. Each realm answered is
cached, so later requests (REGISTER refreshes) can carry credentials up front through
`authorize(request)`; a failure drops that realm from the cache so the next try starts clean.

The header parser is written by hand (no `re`; MicroPython's is small): a header value is a
comma list of items where `Scheme a=b` opens a challenge and `a=b` continues it, quoted strings
may hold commas and backslash escapes (RFC 7235 §2.1). Several header fields are joined with
commas first, so it does not matter whether the message layer split them.
"""

from tipring.firmware.compat import hexdigest, random_hex

# RFC 8760 §2.4: strongest first. Index = strength rank (lower is stronger).
ALGORITHMS = ("SHA-512-256", "SHA-256", "MD5")
_HASH = {"SHA-512-256": "sha512-256", "SHA-256": "sha256", "MD5": "md5"}

# response status -> (challenge header, credentials header), RFC 3261 §22.2/§22.3
CHALLENGE_HEADERS = (
    ("WWW-Authenticate", "Authorization"),
    ("Proxy-Authenticate", "Proxy-Authorization"),
)

_ANSWERED_MAX = 16  # fresh answers remembered, for loop detection


MAX_AUTH_ROUNDS = 4     # challenges answered in a row before giving up (stale loops included)


class AuthError(ValueError):
    """A challenge header that cannot be parsed."""


class Challenge:
    """One Digest challenge: `scheme`, `params` (lower-case keys, unquoted values), and the
    credentials header name it is answered in."""

    __slots__ = ("scheme", "params", "answer_header")

    def __init__(self, scheme: str, params: dict, answer_header: str = "Authorization"):
        self.scheme = scheme
        self.params = params
        self.answer_header = answer_header

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def algorithm(self) -> str:
        """Canonical upper-case algorithm name; absent means MD5 (RFC 7616 §3.3)."""
        return (self.params.get("algorithm") or "MD5").upper()

    @property
    def base_algorithm(self) -> str:
        a = self.algorithm
        return a[:-5] if a.endswith("-SESS") else a

    @property
    def stale(self) -> bool:
        return (self.params.get("stale") or "").lower() == "true"

    @property
    def qops(self) -> list:
        q = self.params.get("qop")
        if q is None:
            return []
        return [x.strip().lower() for x in q.split(",") if x.strip()]

    def __repr__(self):
        return "<Challenge %s realm=%r algorithm=%s>" % (self.scheme, self.realm, self.algorithm)


class AuthResult:
    """What `respond()` decided.

    `ok`: True when `headers` holds the credentials to add to the retried request;
    `headers`: list of (name, value); `reason`: why not, when not ok (empty when ok);
    `stale`: True when this was a stale-nonce retry (not a failure).
    """

    __slots__ = ("ok", "headers", "reason", "stale")

    def __init__(self, ok: bool, headers: list = None, reason: str = "", stale: bool = False):
        self.ok = ok
        self.headers = headers or []
        self.reason = reason
        self.stale = stale

    @property
    def header(self):
        """(name, value) of the first header, or None: the common one-challenge case."""
        return self.headers[0] if self.headers else None

    def __bool__(self):
        return self.ok

    def __repr__(self):
        if self.ok:
            return "<AuthResult ok %s>" % ", ".join(n for n, _ in self.headers)
        return "<AuthResult failed: %s>" % self.reason


# ---------------------------------------------------------------------------- parsing

def _skip_ws(s, i):
    n = len(s)
    while i < n and s[i] in " \t\r\n":
        i += 1
    return i


_TOKEN_STOP = " \t\r\n,=\""


def _token(s, i):
    j = i
    n = len(s)
    while j < n and s[j] not in _TOKEN_STOP:
        j += 1
    return s[i:j], j


def _quoted(s, i):
    # s[i] == '"'; returns (unescaped text, index after closing quote)
    out = []
    i += 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise AuthError("unterminated quoted string")


def parse_challenges(text: str, answer_header: str = "Authorization") -> list:
    """Parse one or more challenges (RFC 7235 §4.1 list syntax) into `Challenge` objects.

    Also parses credentials (`Authorization` values), which have the same shape. Raises
    `AuthError` on broken syntax.
    """
    out = []
    cur = None
    i = 0
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        while i < n and text[i] == ",":
            i = _skip_ws(text, i + 1)
        if i >= n:
            break
        tok, j = _token(text, i)
        if not tok:
            raise AuthError("expected a token at %r" % text[i:i + 20])
        k = _skip_ws(text, j)
        if k < n and text[k] == "=":
            # auth-param (or a token68 ending in '='; we treat those as a param-less scheme)
            if cur is None:
                raise AuthError("auth-param %r before any scheme" % tok)
            k = _skip_ws(text, k + 1)
            if k < n and text[k] == '"':
                val, k = _quoted(text, k)
            else:
                val, k = _token(text, k)
            cur.params[tok.lower()] = val
            i = k
        else:
            # a new scheme
            cur = Challenge(tok, {}, answer_header)
            out.append(cur)
            i = j
            # token68 form (e.g. "Basic QWxh=="): swallow it, we do not use it
            k = _skip_ws(text, i)
            if k < n and text[k] not in ",":
                t68, e = _token(text, k)
                e2 = e
                while e2 < n and text[e2] == "=":
                    e2 += 1
                e3 = _skip_ws(text, e2)
                if t68 and e2 > e and (e3 >= n or text[e3] == ","):
                    i = e3
        i = _skip_ws(text, i)
        if i < n and text[i] not in ",":
            # next item must be separated by a comma, except a param directly after the scheme
            if not (out and out[-1] is cur and not cur.params):
                raise AuthError("expected ',' at %r" % text[i:i + 20])
    return out


def _header_values(msg, name):
    """All values of header `name`, joined back with commas (safe if the parser split them)."""
    headers = getattr(msg, "headers", None)
    if headers is None:
        return ""
    if hasattr(headers, "get_all"):
        vals = headers.get_all(name)
    else:  # plain list of (name, value)
        vals = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(vals)


def challenges_in(response) -> list:
    """Every Digest challenge in a response, both header kinds, in header order."""
    out = []
    for chal_name, cred_name in CHALLENGE_HEADERS:
        text = _header_values(response, chal_name)
        if text:
            out.extend(c for c in parse_challenges(text, cred_name)
                       if c.scheme.lower() == "digest")
    return out


def _supported(algorithm):
    """True when this platform can compute `algorithm` (may lack SHA-512-256)."""
    base = algorithm[:-5] if algorithm.endswith("-SESS") else algorithm
    if base not in _HASH:
        return False
    try:
        hexdigest(_HASH[base], b"")
    except ValueError:
        return False
    return True


def pick(challenges: list) -> list:
    """Per (header kind, realm), the strongest challenge we can answer (RFC 8760 §2.4).

    Keeps the order in which realms first appear. Challenges with an unknown algorithm, or a
    qop list holding neither `auth` nor `auth-int`, are skipped.
    """
    best = {}
    order = []
    for c in challenges:
        if not _supported(c.algorithm):
            continue
        q = c.qops
        if q and "auth" not in q and "auth-int" not in q:
            continue
        key = (c.answer_header, c.realm)
        rank = ALGORITHMS.index(c.base_algorithm)
        if key not in best:
            order.append(key)
            best[key] = c
        elif rank < ALGORITHMS.index(best[key].base_algorithm):
            best[key] = c
    return [best[k] for k in order]


# ------------------------------------------------------------------------- computing

def _h(alg, text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return hexdigest(_HASH[alg], text)


def digest_response(algorithm: str, username: str, password: str, realm: str, nonce: str,
                    method: str, uri: str, qop: str = None, nc: str = None,
                    cnonce: str = None, body: bytes = b"") -> str:
    """The `response` value (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1).

    `algorithm` as in the challenge (e.g. "SHA-256-sess"); `qop` None, "auth" or "auth-int".
    """
    algorithm = algorithm.upper()
    sess = algorithm.endswith("-SESS")
    alg = algorithm[:-5] if sess else algorithm
    ha1 = _h(alg, "%s:%s:%s" % (username, realm, password))
    if sess:  # RFC 7616 §3.4.2
        ha1 = _h(alg, "%s:%s:%s" % (ha1, nonce, cnonce))
    if qop == "auth-int":  # RFC 7616 §3.4.3
        ha2 = _h(alg, "%s:%s:%s" % (method, uri, _h(alg, body or b"")))
    else:
        ha2 = _h(alg, "%s:%s" % (method, uri))
    if qop:
        return _h(alg, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    return _h(alg, "%s:%s:%s" % (ha1, nonce, ha2))


def _quote(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestClient:
    """Represents one set of credentials answering Digest challenges for a SIP account.

    `username`, `password`: the account's; `cnonce`: a callable returning a fresh cnonce
    (default 16 random hex digits; tests pass a fixed one).

        auth = DigestClient("1001", "secret")
        result = auth.respond(resp_401, register)
        if result.ok:
            for name, value in result.headers: new_register.headers.set(name, value)
    """

    def __init__(self, username: str, password: str, cnonce=None):
        self.username = username
        self.password = password
        self._cnonce = cnonce or (lambda: random_hex(8))
        self._nc = {}        # nonce -> last nc used
        self._cache = {}     # (answer header, realm) -> (Challenge, cnonce)
        self._answered = []  # (realm, nonce, response) of answers to fresh challenges

    def __repr__(self):
        return "<DigestClient %s realms=%r>" % (self.username, [r for _, r in self._cache])

    # -- public verbs

    def respond(self, response, request) -> AuthResult:
        """Answer the 401/407 `response` to `request` (the request as sent, which may already
        carry credentials). Returns an `AuthResult`; never raises on bad input."""
        try:
            chals = challenges_in(response)
        except AuthError as e:
            return AuthResult(False, reason="malformed challenge: %s" % e)
        if not chals:
            return AuthResult(False, reason="no Digest challenge in %s" % _status(response))
        chosen = pick(chals)
        if not chosen:
            algs = ", ".join(sorted(set(c.algorithm for c in chals)))
            return AuthResult(False, reason="no supported digest algorithm (offered: %s)" % algs)
        sent = self._sent_answers(request)
        headers = []
        any_stale = False
        for c in chosen:
            if c.stale:
                any_stale = True
            elif c.realm in sent and (c.realm,) + sent[c.realm] in self._answered:
                # RFC 3261 §22.2: our fresh answer for this realm was turned down
                self.forget(c.realm)
                return AuthResult(False, reason="credentials for %r rejected by realm %r"
                                  % (self.username, c.realm))
            cnonce = self._cnonce()
            self._cache[(c.answer_header, c.realm)] = (c, cnonce)
            value, resp = self._credentials(c, cnonce, request)
            self._remember(c.realm, c.params.get("nonce", ""), resp)
            headers.append((c.answer_header, value))
        return AuthResult(True, headers, stale=any_stale)

    def answer(self, response, request, rounds: int) -> AuthResult:
        """`respond`, for a client that has now been challenged `rounds` times in a row
        (REGISTER, SUBSCRIBE): past MAX_AUTH_ROUNDS it gives up, since a registrar that
        keeps sending stale nonces would loop for ever, and a rejected answer is reported
        as a wrong password."""
        result = self.respond(response, request)
        if not result.ok:
            if "rejected" in result.reason:
                return AuthResult(False, reason="wrong password: " + result.reason)
            return result
        if rounds > MAX_AUTH_ROUNDS:
            return AuthResult(False, reason="authentication loop (%d challenges)" % rounds)
        return result

    def authorize(self, request) -> list:
        """Credentials for `request` from the realms answered before (pre-emptive; e.g. a
        REGISTER refresh). List of (name, value), empty when nothing is cached. Each call uses
        the next nc for the cached nonce."""
        out = []
        for key in self._cache:
            c, cnonce = self._cache[key]
            value, _ = self._credentials(c, cnonce, request)
            out.append((c.answer_header, value))
        return out

    def forget(self, realm: str = None) -> None:
        """Drop cached challenges (all, or for one realm)."""
        for key in list(self._cache):
            if realm is None or key[1] == realm:
                del self._cache[key]

    # -- internals

    def _next_nc(self, nonce):
        n = self._nc.get(nonce, 0) + 1
        self._nc[nonce] = n
        if len(self._nc) > 32:  # keep it small: drop the oldest nonces
            for k in list(self._nc)[:8]:
                if k != nonce:
                    del self._nc[k]
        return "%08x" % n

    def _credentials(self, c, cnonce, request):
        p = c.params
        nonce = p.get("nonce", "")
        qops = c.qops
        qop = "auth" if "auth" in qops else ("auth-int" if "auth-int" in qops else None)
        method = request.method
        uri = request.uri
        nc = self._next_nc(nonce) if qop else None
        resp = digest_response(c.algorithm, self.username, self.password, c.realm, nonce,
                               method, uri, qop, nc, cnonce if (qop or c.algorithm.endswith("-SESS")) else None,
                               getattr(request, "body", b""))
        parts = [
            "username=" + _quote(self.username),
            "realm=" + _quote(c.realm),
            "nonce=" + _quote(nonce),
            "uri=" + _quote(uri),
            "response=" + _quote(resp),
        ]
        if "algorithm" in p:
            parts.append("algorithm=" + p["algorithm"])
        if qop or c.algorithm.endswith("-SESS"):
            parts.append("cnonce=" + _quote(cnonce))
        if "opaque" in p:
            parts.append("opaque=" + _quote(p["opaque"]))
        if qop:
            parts.append("qop=" + qop)
            parts.append("nc=" + nc)
        return "Digest " + ", ".join(parts), resp

    def _remember(self, realm, nonce, resp):
        self._answered.append((realm, nonce, resp))
        if len(self._answered) > _ANSWERED_MAX:
            del self._answered[0]

    def _sent_answers(self, request):
        """realm -> (nonce, response) of the credentials `request` carried."""
        out = {}
        for _, cred_name in CHALLENGE_HEADERS:
            text = _header_values(request, cred_name)
            if not text:
                continue
            try:
                creds = parse_challenges(text, cred_name)
            except AuthError:
                continue
            for c in creds:
                if c.scheme.lower() == "digest":
                    out[c.realm] = (c.params.get("nonce", ""), c.params.get("response", ""))
        return out


def _status(response):
    s = getattr(response, "status", None)
    return "%s response" % s if s is not None else "response"
