"""What every tests/portable/*_portable.py file shares, on CPython and on the MicroPython unix
port (where pytest does not exist): `run()` calls each `test_*` function, prints one FAIL line
per failure and the closing "N passed, N failed" line and returns the failures; `data()`,
`manifest()` read tests/data (found from this file's own path with string operations, since
MicroPython may have no os.path); `raises()` stands in for pytest.raises. peer.py beside it is
the virtual network the SIP and call modules share."""

_HERE = __file__.replace("\\", "/").rsplit("/", 1)[0] if "/" in __file__.replace("\\", "/") else "."
DATA = _HERE.rsplit("/portable", 1)[0] + "/data" if _HERE.endswith("/portable") else _HERE + "/../data"


def data(*parts) -> bytes:
    """The bytes of tests/data/<parts...> (e.g. data("rfc4475", "wsinv.dat"))."""
    with open(DATA + "/" + "/".join(parts), "rb") as f:
        return f.read()


def manifest(directory: str) -> list:
    """The rows of tests/data/<directory>/MANIFEST.tsv as dicts (file, rfc_section, expected,
    description); the header row is checked so a changed layout fails loudly."""
    lines = data(directory, "MANIFEST.tsv").decode("utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if header != ["file", "rfc_section", "expected", "description"]:
        raise ValueError("unexpected MANIFEST.tsv header in %s: %r" % (directory, header))
    rows = []
    for line in lines[1:]:
        if line.strip():
            rows.append(dict(zip(header, line.rstrip("\r").split("\t"))))
    return rows


def raises(exc, fn, *args, **kw):
    """The `exc` that fn(*args, **kw) raises; any other outcome fails the test."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("no %s from %r" % (exc.__name__, fn))


def run(namespace: dict) -> int:
    passed = failed = 0
    for name in sorted(n for n in namespace if n.startswith("test_")):
        try:
            namespace[name]()
            passed += 1
        except Exception as e:  # report and carry on: one failure must not hide the others
            failed += 1
            print("FAIL %s: %s %r" % (name, type(e).__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    return failed
