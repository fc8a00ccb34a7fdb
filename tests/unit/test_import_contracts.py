"""The import arrows of architecture.md as contracts, read from the source (no import runs).

Every module of the four packages is parsed; its imports are ``import``/``from`` statements
(relative ones resolved), ``importlib.import_module("literal")`` calls and the homes a
package names to :func:`host._lazy.lazy_exports`. Imports under ``if TYPE_CHECKING:`` are
kept apart: they never run, so only the rules about what may be *loaded* ignore them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("apdu_specs", "cardlib", "simulator", "host")

#: the only modules of ``host`` that may load the simulator (docs/decisions.md D9)
SIMULATOR_DOORS = frozenset({"host.transport.sim", "host.testing._simulator", "host.cli.sim_cmds"})
#: what must not reach the ledger: a POS integrator ships none (architecture.md §6)
LEDGER_FREE = ("host.pos", "host.points", "host.records")


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int
    type_only: bool

    def __str__(self) -> str:
        kind = " (TYPE_CHECKING)" if self.type_only else ""
        return f"{self.importer}:{self.line} imports {self.target}{kind}"


def _module_name(path: Path) -> tuple[str, str]:
    """The module's dotted name and the package its relative imports start from."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _resolve(name: str, level: int, package: str) -> str:
    if level == 0:
        return name
    base = package.split(".")[: len(package.split(".")) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, package: str) -> None:
        self.module, self.package = module, package
        self.found: list[Import] = []
        self._type_only = 0

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.module, target, node.lineno, self._type_only > 0))

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node):
            self.generic_visit(node)
            return
        self._type_only += 1
        for child in node.body:
            self.visit(child)
        self._type_only -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(node.module or "", node.level, self.package)
        for alias in node.names:
            # ``from pkg import sub`` may name a submodule: count both, the stricter reading
            self._add(f"{base}.{alias.name}" if alias.name != "*" else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if name == "import_module" and literal:
            self._add(_resolve(literal[0].lstrip("."), len(literal[0]) - len(literal[0].lstrip(".")),
                               self.package), node)
        if name == "lazy_exports" and len(node.args) == 2 and isinstance(node.args[1], ast.Dict):
            for key in node.args[1].keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    dots = len(key.value) - len(key.value.lstrip("."))
                    self._add(_resolve(key.value.lstrip("."), dots, self.module), node)
        self.generic_visit(node)


@cache
def all_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            module, package = _module_name(path)
            collector = _Collector(module, package)
            collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            found.extend(collector.found)
    return tuple(found)


def _within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _violations(importers: tuple[str, ...], allowed: tuple[str, ...], *,
                runtime_only: bool = False) -> list[str]:
    """Imports of our packages by ``importers`` that fall outside ``allowed``."""
    return [str(i) for i in all_imports()
            if _within(i.importer, *importers) and _within(i.target, *OURS)
            and not _within(i.target, *allowed) and not (runtime_only and i.type_only)]


def test_the_walker_sees_imports_of_every_kind() -> None:
    """The contracts below can fail: the walker finds statements, relative imports,
    lazy homes, import_module calls and TYPE_CHECKING blocks."""
    seen = {(i.importer, i.target, i.type_only) for i in all_imports()}
    assert ("host.backoffice.inprocess_link", "host.pos.link.EarnQuote", False) in seen
    assert ("host.pos.config", "host.pos.journal.Journal", False) in seen
    assert ("host.pos", "host.pos.terminal", False) in seen
    assert ("host.testing._simulator", "simulator.faults", False) in seen
    assert ("host.transport.sim", "simulator.card.SimulatedCard", True) in seen


def test_apdu_specs_imports_nothing_of_ours() -> None:
    assert _violations(("apdu_specs",), ("apdu_specs",)) == []


def test_cardlib_imports_only_apdu_specs() -> None:
    assert _violations(("cardlib",), ("cardlib", "apdu_specs")) == []


def test_simulator_imports_only_cardlib_and_apdu_specs() -> None:
    assert _violations(("simulator",), ("simulator", "cardlib", "apdu_specs")) == []


def test_host_never_imports_cardlib() -> None:
    assert _violations(("host",), ("host", "apdu_specs", "simulator")) == []


def test_host_loads_the_simulator_only_through_its_doors() -> None:
    outside = [str(i) for i in all_imports()
               if _within(i.importer, "host") and _within(i.target, "simulator")
               and not i.type_only and i.importer not in SIMULATOR_DOORS]
    assert outside == []


def test_every_simulator_door_exists_and_is_used() -> None:
    """A door that no longer opens onto the simulator leaves the list: the list stays true."""
    doors = {i.importer for i in all_imports()
             if _within(i.target, "simulator") and not i.type_only and _within(i.importer, "host")}
    assert doors == SIMULATOR_DOORS


@pytest.mark.parametrize("package", LEDGER_FREE)
def test_pos_points_and_records_never_import_the_back_office(package: str) -> None:
    reached = [str(i) for i in all_imports()
               if _within(i.importer, package) and _within(i.target, "host.backoffice")]
    assert reached == []


def test_records_import_no_database_code() -> None:
    reached = [str(i) for i in all_imports()
               if _within(i.importer, "host.records") and _within(i.target, "sqlalchemy")]
    assert reached == []


def test_a_terminal_loads_neither_the_ledger_nor_sqlalchemy() -> None:
    code = ("import host.pos.terminal, sys; "
            "print(any(m.startswith(('host.backoffice','sqlalchemy')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
