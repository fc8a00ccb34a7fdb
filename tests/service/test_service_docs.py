"""docs/iso8583.md and docs/host.md run as written: every python block in order, in one
namespace, printing what the ``text`` block after it shows; the dialect's tables are the
ones the code holds."""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

import pytest

from host.service.iso8583 import FIELDS, ResponseCode
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.docblocks import DOCS

pytestmark = pytest.mark.sim

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _fences(page: str) -> list[tuple[str, str]]:
    return _FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def _play(page: str, namespace: dict[str, Any]) -> None:
    """Run each python block; a text block right after one is the output it must print."""
    fences = _fences(page)
    for number, (lang, code) in enumerate(fences):
        if lang != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{page} block {number + 1}", "exec"), namespace)
        following = fences[number + 1] if number + 1 < len(fences) else ("", "")
        if following[0] == "text":
            assert out.getvalue() == following[1], f"{page} block {number + 1} printed otherwise"


def _table_rows(page: str, header: str) -> list[list[str]]:
    text = (DOCS / page).read_text(encoding="utf-8")
    table = text[text.index(header):].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()[2:]]


def test_the_dialect_page_runs_and_prints_what_it_shows() -> None:
    _play("iso8583.md", {"__name__": "iso8583_guide"})


def test_the_field_table_is_the_dialect() -> None:
    rows = _table_rows("iso8583.md", "| Field | Format | Meaning |")
    assert rows == [[f.label, f.notation, f.name] for f in FIELDS]


def test_the_response_code_table_lists_every_code_served() -> None:
    rows = _table_rows("iso8583.md", "| DE 39 | Meaning |")
    assert sorted(row[0] for row in rows) == sorted(code.value for code in ResponseCode)


def test_the_host_guide_runs_from_serve_to_a_sale(db_url: str,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The same page, the same commands, on SQLite and on PostgreSQL ($DUALCARD_DB)."""
    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("DUALCARD_DB", db_url)
    namespace: dict[str, Any] = {"__name__": "host_guide"}
    try:
        _play("host.md", namespace)
    finally:
        server = namespace.get("server")
        if server is not None and server.poll() is None:
            server.kill()
            server.communicate()
    assert namespace["server"].returncode == 0
