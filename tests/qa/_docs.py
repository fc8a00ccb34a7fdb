"""Read the runnable parts of a markdown page: included files, file blocks, console lines."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_BLOCK = re.compile(r"<!-- (include|file): (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)
_CONSOLE = re.compile(r"```console\n(.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    kind: str  # "include": a file of the repository shown verbatim; "file": written by the reader
    name: str
    text: str


def blocks(page: str) -> list[Block]:
    return [Block(kind, name, text) for kind, name, text in _BLOCK.findall(page)]


def console_lines(page: str) -> list[list[str]]:
    """The commands of ``console`` blocks (``$ `` lines), split as a shell would."""
    out = []
    for block in _CONSOLE.findall(page):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append(shlex.split(line[2:]))
    return out


def read(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    exit_code: int
    output: str


def _commands() -> dict[str, object]:
    from host.cli import gp_cmds, qa_cmds, reader_cmds, sim_cmds, trace_cmds

    return {"sim": sim_cmds.sim, "gp": gp_cmds.gp, "apdu": reader_cmds.apdu,
            "conformance": qa_cmds.conformance, "script": qa_cmds.script,
            "replay": qa_cmds.replay, "trace": trace_cmds.trace}


def run_console(argv: list[str], cwd: Path) -> Ran | None:
    """Run one documented command line in ``cwd``; None for lines a test does not run (pip)."""
    from click.testing import CliRunner

    if argv[0] == "pip":
        return None
    if argv[:2] == ["python", "-c"]:
        exec(compile(argv[2], "<docs>", "exec"), {"__name__": "__docs__"})
        return Ran(argv, 0, "")
    assert argv[0] == "dualcard", argv
    args, stderr_file = list(argv[1:]), None
    if "2>" in args:
        at = args.index("2>")
        stderr_file = cwd / args[at + 1]
        del args[at:at + 2]
    command = _commands()[args[0]]
    result = CliRunner().invoke(command, args[1:], catch_exceptions=False)  # type: ignore[arg-type]
    if stderr_file is not None:
        stderr_file.write_text(result.stderr, encoding="utf-8")
    return Ran(argv, result.exit_code, result.output)


def refresh_includes(page: Path) -> None:
    """Rewrite every ``<!-- include: PATH -->`` block of ``page`` from the file it names."""

    def current(match: re.Match[str]) -> str:
        kind, name, text = match.groups()
        if kind == "include":
            text = (ROOT / name).read_text(encoding="utf-8")
        fence = match.group(0).split("\n", 2)[1]
        return f"<!-- {kind}: {name} -->\n{fence}\n{text}```\n"

    page.write_text(_BLOCK.sub(current, page.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":  # python -m tests.qa._docs docs/applets.md
    import sys

    for arg in sys.argv[1:]:
        refresh_includes(Path(arg))
