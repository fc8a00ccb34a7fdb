"""Run a guide's code as written: its ```python blocks, in order, in one namespace.

Blocks fenced as ```python vpcd need the virtual reader; tests marked ``vpcd`` run them
after the ordinary ones.
"""

from __future__ import annotations

import re
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
