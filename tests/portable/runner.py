"""The runner every tests/portable/*_portable.py file uses when run as a script (CPython or
the MicroPython unix port, where pytest does not exist): call each `test_*` function, print
one FAIL line per failure and the closing "N passed, N failed" line, return the failures."""


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
