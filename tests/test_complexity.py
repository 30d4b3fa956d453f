"""No function of the firmware grades E or F in radon's cyclomatic complexity (issue #16 item 5).

radon (a `test` extra) ranks each function A-F by McCabe complexity: E is 31-40 decision
points, F more. Past D a function is an if-chain no one can read beside FLOWS.md; the cure
used across the tree is a table of small named functions (as h11 does). tools/test prints the
D-and-worse list as a report; this test is the gate at E.
"""

import os

from radon.complexity import cc_rank, cc_visit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_BASE = os.path.join(ROOT, "tipring")   # where firmware/, board/ and hal/ live
SOURCE_DIRS = ("firmware", "board", "hal")
WORST_GRADE = "D"


def _sources():
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(SOURCE_BASE, top)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, SOURCE_BASE).replace(os.sep, "/"), path


def _blocks():
    """(relative path, block) for every function and method radon sees (cc_visit lists
    methods beside their class; a class's own grade is its methods' mean, so it is skipped)."""
    for rel, path in _sources():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for block in cc_visit(text):
            if not hasattr(block, "methods"):
                yield rel, block


def _name(block) -> str:
    cls = getattr(block, "classname", None)
    return "%s.%s" % (cls, block.name) if cls else block.name


def test_sources_are_found():
    rels = [rel for rel, _ in _sources()]
    assert "firmware/sip/uri.py" in rels and "board/__init__.py" in rels
    assert any(rel.startswith("hal/") for rel in rels)


def test_no_function_grades_above_d():
    worse = []
    for rel, block in _blocks():
        grade = cc_rank(block.complexity)
        if grade > WORST_GRADE:
            worse.append("%s:%d %s %s (%d)" % (rel, block.lineno, _name(block), grade,
                                               block.complexity))
    assert not worse, "functions graded above %s (split them into named steps or a table):\n%s" % (
        WORST_GRADE, "\n".join(worse))

