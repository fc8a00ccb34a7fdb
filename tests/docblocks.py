"""Run a guide's code as written: its ```python blocks, in order, in one namespace, and its
shell blocks (```console, ```sh), in order, in one bash session.

Blocks fenced as ```python vpcd (```console vpcd, ```sh vpcd) need the virtual reader;
tests marked ``vpcd`` run them after the ordinary ones.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs"
_FENCE = r"^```{tag}\n(.*?)^```"


def blocks(page: str, tag: str = "python") -> list[str]:
    """The code of every block fenced ```<tag> in ``docs/<page>``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(_FENCE.format(tag=re.escape(tag)), text, re.MULTILINE | re.DOTALL)


def run(page: str, code: list[str], namespace: dict[str, Any] | None = None, *,
        label: str = "block") -> dict[str, Any]:
    """Execute ``code`` blocks of ``page`` (file/line numbers in tracebacks name the page)."""
    namespace = {"__name__": page.removesuffix(".md") + "_guide"} if namespace is None else namespace
    for number, block in enumerate(code, start=1):
        exec(compile(block, f"{page} {label} {number}", "exec"), namespace)
    return namespace


def run_page(page: str, *, with_vpcd: bool = False) -> dict[str, Any]:
    """The whole page; with ``with_vpcd`` its ```python vpcd blocks after the others."""
    namespace = run(page, blocks(page))
    if with_vpcd:
        vpcd = blocks(page, "python vpcd")
        assert vpcd, f"docs/{page} has no python vpcd block"
        run(page, vpcd, namespace, label="vpcd block")
    return namespace


# --- shell blocks ------------------------------------------------------------------------
#
# A guide's ```console blocks (`$ ` commands, the rest output) and ```sh blocks (a script)
# run in bash, in order, one session per page (docs/decisions.md D25). Words after the
# language in the info string:
#
#   vpcd          the block uses the virtual reader (pcscd + vpcd): it runs only in the
#                 page's vpcd test, which holds the reader;
#   stdin=TEXT    what the reader types at the block's prompt (a PIN), fed as its input;
#   no-run REASON the block is not run, for the reason given (the rest of the line).
#
# A console command whose shown output starts with `Error:` must fail; any other must
# succeed. A block that runs a program the sandbox does not provide must say no-run.

SHELL_LANGS = ("console", "sh")
#: what a guide's shell blocks may run: the sandbox provides dualcard, python and pip;
#: the rest are shell builtins and coreutils
RUNNABLE = frozenset({"dualcard", "python", "python3", "pip", "mkdir", "kill", "wait",
                      "export", "echo", "cat", "ls"})
#: what in a block means it reaches the virtual reader
_PCSC = re.compile(r"pcsc:|sim serve")
_SEPARATORS = frozenset({";", "&", "&&", "|", "||", "\n", "(", ")"})


@dataclass(frozen=True)
class Block:
    """One fenced block of a page and what its info string says."""

    page: str
    line: int  #: the line of the opening fence (1-based)
    lang: str
    words: tuple[str, ...]  #: the info string after the language (before ``no-run``)
    text: str
    no_run: str | None  #: the reason given after ``no-run``, if any
    file: str | None  #: the file the block is (``<!-- file: NAME -->`` above, or ``file=NAME``)

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def shell(self) -> bool:
        return self.lang in SHELL_LANGS

    @property
    def vpcd(self) -> bool:
        return "vpcd" in self.words

    @property
    def stdin(self) -> str | None:
        return next((w.removeprefix("stdin=") for w in self.words if w.startswith("stdin=")),
                    None)

    def commands(self) -> list[Command]:
        """The commands of a console block (``$ `` lines with their continuations)."""
        found: list[Command] = []
        lines = self.text.splitlines()
        for at, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            end = at
            while lines[end].endswith("\\") and end + 1 < len(lines):
                end += 1
            shown = next((x for x in lines[end + 1:end + 2] if not x.startswith("$ ")), "")
            found.append(Command("\n".join([line[2:], *lines[at + 1:end + 1]]),
                                 self.line + 1 + at, shown.startswith("Error:")))
        return found

    def script(self) -> str:
        """The block as bash runs it (a console block: its commands, without output)."""
        if self.lang == "sh":
            return self.text
        return "\n".join(c.text for c in self.commands()) + "\n"


@dataclass(frozen=True)
class Command:
    text: str
    line: int
    fails: bool  #: its shown output starts with ``Error:``


def page_blocks(page: str) -> list[Block]:
    """Every fenced block of ``docs/<page>``, in order."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    found, named, at = [], None, 0
    while at < len(lines):
        line = lines[at]
        if line.startswith("<!-- file: "):
            named = line.removeprefix("<!-- file: ").removesuffix(" -->").strip()
        if not line.startswith("```"):
            at += 1
            continue
        end = next(i for i in range(at + 1, len(lines)) if lines[i].strip() == "```")
        found.append(_block(page, at + 1, line[3:].strip(), "\n".join(lines[at + 1:end]) + "\n",
                            named))
        named, at = None, end + 1
    return found


def _block(page: str, line: int, info: str, text: str, named: str | None) -> Block:
    head, marker, reason = info.partition("no-run")
    words = tuple(head.split())
    lang, words = (words[0], words[1:]) if words else ("", ())
    file = next((w.removeprefix("file=") for w in words if w.startswith("file=")), named)
    return Block(page, line, lang, words, text, reason.strip(" :") if marker else None, file)


def programs(script: str) -> list[str]:
    """The program each command of a shell script starts (assignments and comments skipped)."""
    lex = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=";&|<>()")
    lex.whitespace, lex.commenters, lex.wordchars = " \t\r", "", lex.wordchars + "#%$"
    found, starting, comment = [], True, False
    for token in lex:
        if token == "\n" or (token in _SEPARATORS and not comment):
            starting, comment = True, False
        elif comment:
            continue
        elif token.startswith("#"):
            comment = True
        elif starting and not re.fullmatch(r"[A-Za-z_]\w*=.*", token, re.DOTALL):
            found.append(token)
            starting = False
    return found


def shell_problems(block: Block) -> list[str]:
    """Why ``block`` cannot run as it is marked (empty when it can, or says why not)."""
    if block.no_run is not None:
        return [] if block.no_run else [f"{block.where}: no-run needs a reason"]
    problems = [f"{block.where}: the guide sandbox cannot run `{p}`: provide it, or mark "
                f"the block ```{block.lang} no-run <reason>"
                for p in programs(block.script()) if p not in RUNNABLE]
    if _PCSC.search(block.script()) and not block.vpcd:
        problems.append(f"{block.where}: the block uses the virtual reader: mark it "
                        f"```{block.lang} vpcd")
    return problems


def bash_session(blocks: list[Block], *, with_vpcd: bool, grace: float = 10.0) -> str:
    """One bash script running the runnable shell blocks of a page in order; a failure
    names the block (or command) and its line in the page."""
    parts = ["set -e",
             "trap 'echo \"::failed at $__where (exit $?): $BASH_COMMAND\" >&2' ERR"]
    for block in blocks:
        if not block.shell or block.no_run is not None or (block.vpcd and not with_vpcd) \
                or not block.script().strip():  # a console block showing output only
            continue
        stdin = "/dev/null" if block.stdin is None else f"<(printf '%s\\n' {block.stdin!r})"
        parts += [f"__where={block.where}", "{", _body(block), f"}} < {stdin}"]
    # a server the guide stopped has ``grace`` seconds to finish; one it left running fails it
    parts += [f"for _ in $(seq {round(grace * 10)}); do [ -z \"$(jobs -rp)\" ] && break; sleep 0.1;"
              " done",
              'if [ -n "$(jobs -rp)" ]; then echo "::a background job outlived the guide" >&2;'
              " exit 1; fi"]
    return "\n".join(parts) + "\n"


def _body(block: Block) -> str:
    if block.lang == "sh":
        return block.text.rstrip("\n")
    lines = []
    for command in block.commands():
        lines.append(f"__where=docs/{block.page}:{command.line}")
        if command.fails:
            lines.append(f"if {command.text}\nthen echo \"::$__where succeeded; the guide shows "
                         "an error\" >&2; exit 1; fi")
        else:
            lines.append(command.text)
    return "\n".join(lines)
