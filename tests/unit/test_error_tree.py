"""One exception tree: every error of the four packages is a ``DualcardError`` and, when it can
be raised, either a ``RemoteError`` (the other side said no) or a ``LocalError`` (the caller's
input or use is wrong), never both; and no two exception classes share a name.

The classes are collected in a child interpreter that imports every module, so that this test
does not change which modules (and CLI error mappings) the rest of the suite has loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from apdu_specs.errors import DualcardError, LocalError, RemoteError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("apdu_specs", "cardlib", "simulator", "host")
#: raised for either kind: its exit code, not its class, says which (docs/decisions.md)
EITHER_KIND = {"host.cli.errors.CLIError"}

_COLLECT = """
import importlib, inspect, json, pkgutil, sys
from apdu_specs.errors import DualcardError, LocalError, RemoteError
found = {}
for package in sys.argv[1:]:
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) \\
                    and obj.__module__ == info.name:
                found[f"{obj.__module__}.{obj.__qualname__}"] = {
                    "name": obj.__name__,
                    "exception": issubclass(obj, Exception),
                    "dualcard": issubclass(obj, DualcardError),
                    "local": issubclass(obj, LocalError),
                    "remote": issubclass(obj, RemoteError),
                }
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def classes() -> dict[str, dict[str, object]]:
    """Every exception class defined in our packages, by dotted name, with its branches."""
    done = subprocess.run([sys.executable, "-c", _COLLECT, *PACKAGES], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=120)
    found: dict[str, dict[str, object]] = json.loads(done.stdout)
    assert len(found) > 50, "the walk found too few exception classes to be complete"
    return found


def _checked(classes: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """All but signals: a BaseException that is not an Exception (``PowerLoss`` cannot be
    caught by ``except Exception``, docs/decisions.md D2), and a module's private classes
    that stay inside it (``_Failed``)."""
    return {dotted: c for dotted, c in classes.items()
            if c["exception"] and (c["dualcard"] or not str(c["name"]).startswith("_"))}


def test_every_error_is_a_dualcard_error(classes: dict[str, dict[str, object]]) -> None:
    outside = sorted(dotted for dotted, c in _checked(classes).items() if not c["dualcard"])
    assert outside == []


def test_no_error_is_both_local_and_remote(classes: dict[str, dict[str, object]]) -> None:
    both = sorted(dotted for dotted, c in classes.items() if c["local"] and c["remote"])
    assert both == []


def test_no_two_exception_classes_share_a_name(classes: dict[str, dict[str, object]]) -> None:
    by_name: dict[str, list[str]] = {}
    for dotted, c in classes.items():
        by_name.setdefault(str(c["name"]), []).append(dotted)
    assert {name: where for name, where in by_name.items() if len(where) > 1} == {}


def _constructed(names: set[str]) -> list[str]:
    """``file:line name`` of every call of one of ``names`` in our packages' sources."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.id if isinstance(func, ast.Name) else \
                    func.attr if isinstance(func, ast.Attribute) else None
                if called in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}")
    return found


def test_only_family_roots_are_in_neither_branch(classes: dict[str, dict[str, object]]) -> None:
    """A class in neither branch groups one library's errors (``POSError``); it is never raised
    itself, so every error raised is exactly one of local or remote."""
    roots = {dotted: c for dotted, c in _checked(classes).items()
             if not c["local"] and not c["remote"] and dotted not in EITHER_KIND}
    assert "apdu_specs.errors.DualcardError" in roots
    assert _constructed({str(c["name"]) for c in roots.values()}) == []


def test_the_branches_split_the_root() -> None:
    assert issubclass(LocalError, DualcardError) and issubclass(RemoteError, DualcardError)
    assert not issubclass(LocalError, RemoteError) and not issubclass(RemoteError, LocalError)
    assert issubclass(DualcardError, Exception)
