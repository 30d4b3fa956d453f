"""Checking a table of settings against a schema: the one walk behind the config file
(`tipring/firmware/config.py`) and the board files (`tipring/board/__init__.py`).

Rules:
1. A schema maps key -> (check, default). `check` is a function of the value that returns
   what to keep (normalised) or raises `Bad(allowed, why)`; or a `Table(schema)` /
   `Tables(schema, lo, hi)`, a nested table or array of tables, walked the same way.
2. A default of `REQUIRED` means the key must be given; any other default is copied into
   the result when the key is absent (a fresh list or dict each time, never shared).
3. Every problem is one line appended to `problems`, all of them in one pass: unknown keys
   first, then the schema's keys in order, nested ones where they occur. A key whose value is
   refused is left out of the result (the caller raises when `problems` is not empty).
4. The words are the caller's (`Wording`): config and board files keep their own phrasing,
   which INTERFACES.md and the tests hold them to.
"""

import copy

REQUIRED = object()


class Bad(Exception):
    """A value a check refuses: `allowed` says what would do, `why` how this one fails."""

    def __init__(self, allowed: str, why: str = "is not allowed"):
        Exception.__init__(self, allowed)
        self.allowed = allowed
        self.why = why


class Table:
    """A nested table checked against `schema`."""

    def __init__(self, schema: dict, allowed: str = None):
        self.schema = schema
        self.allowed = allowed or "a table with keys: " + ", ".join(schema)


class Tables:
    """An array of tables ([[name]]), each checked against `schema`, `lo`..`hi` of them."""

    def __init__(self, schema: dict, lo: int, hi: int, allowed: str = None):
        self.schema = schema
        self.lo = lo
        self.hi = hi
        self.allowed = allowed or "an array of tables ([[...]]) with keys: " + ", ".join(schema)


class Wording:
    """How problems read. Subclass and override; `path` is the dotted key at fault."""

    def unknown(self, path: str, schema: dict) -> str:
        return "%s: unknown key; allowed: %s" % (path, ", ".join(schema))

    def missing(self, path: str, check) -> str:
        return "%s: missing; it is required" % path

    def bad(self, path: str, key: str, value, bad: Bad) -> str:
        return "%s: %r %s; allowed: %s" % (path, value, bad.why, bad.allowed)

    def count(self, path: str, n: int, tables: Tables) -> str:
        return "%s: %d entries is not allowed; allowed: %d..%d [[%s]] tables" % (
            path, n, tables.lo, tables.hi, path.rsplit(".", 1)[-1])


def join(prefix: str, key: str) -> str:
    """The dotted path of `key` under `prefix` ("" at the top)."""
    return prefix + "." + key if prefix else key


def check_table(prefix: str, table: dict, schema: dict, problems: list, wording: Wording) -> dict:
    """`table` checked against `schema` (rule 1), defaults filled (rule 2); problems appended."""
    out = {}
    for key in table:
        if key not in schema:
            problems.append(wording.unknown(join(prefix, key), schema))
    for key, (check, default) in schema.items():
        path = join(prefix, key)
        if key in table:
            try:
                out[key] = _check_value(path, table[key], check, problems, wording)
            except Bad as b:
                problems.append(wording.bad(path, key, table[key], b))
        elif default is REQUIRED:
            problems.append(wording.missing(path, check))
        else:
            out[key] = copy.deepcopy(default)
    return out


def _check_value(path: str, value, check, problems: list, wording: Wording):
    if isinstance(check, Table):
        if not isinstance(value, dict):
            raise Bad(check.allowed, "is not a table")
        return check_table(path, value, check.schema, problems, wording)
    if isinstance(check, Tables):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise Bad(check.allowed, "is not an array of tables")
        if not check.lo <= len(value) <= check.hi:
            problems.append(wording.count(path, len(value), check))
        return [check_table("%s[%d]" % (path, i), v, check.schema, problems, wording)
                for i, v in enumerate(value)]
    return check(value)
