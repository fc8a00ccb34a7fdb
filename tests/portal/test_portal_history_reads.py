"""An account's history page: the latest transfers of the account, debits and credits
merged newest first, and read only as far as the page shows — a merchant's account with a
million transfers costs the page what one with a hundred does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.backoffice.database import Database, insert_rows
from host.backoffice.schema import ledger_accounts, ledger_transfers
from host.portal.views import _HISTORY, history_of

_ACCOUNTS = ("m:cny", "other:cny")
_COLUMNS = ("id", "kind", "debit_account", "credit_account", "asset", "amount", "posted_amount",
            "pending_delta", "reason", "source_kind", "source_id", "linked", "ts",
            *(f"{side}_{kind}" for side in ("dr", "cr")
              for kind in ("debits_posted", "credits_posted", "debits_pending",
                           "credits_pending")), "format_version")


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "empty.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    with db.write() as conn:
        insert_rows(conn, ledger_accounts,
                    ("id", "asset", "owner_id", "role", "created_at", "debits_posted",
                     "credits_posted", "debits_pending", "credits_pending", "format_version"),
                    [(a, "cny", a.split(":")[0], "cny", 0, 0, 0, 0, 0, 1) for a in _ACCOUNTS])
    db.dispose()
    return path


@pytest.fixture
def fresh(schema_file: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "ledger.sqlite3"
    copy.write_bytes(schema_file.read_bytes())
    db = Database(f"sqlite:///{copy}")
    yield db
    db.dispose()


def _post(db: Database, moves: list[tuple[bool, int]], first: int = 0) -> None:
    """Transfers in order of ``seq``: (the merchant pays?, timestamp); transfer n moves
    n + 1 fen and cites source n."""
    rows = []
    for n, (out, ts) in enumerate(moves, start=first):
        debit, credit = _ACCOUNTS if out else reversed(_ACCOUNTS)
        rows.append((f"t{n}", "single", debit, credit, "cny", 1 + n, 1 + n, 0, "purchase",
                     "test", f"s{n}", False, ts, *(0,) * 8, 1))
    with db.write() as conn:
        insert_rows(conn, ledger_transfers, _COLUMNS, rows)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), max_size=2 * _HISTORY + 20))
@settings(max_examples=40, deadline=None)
def test_the_page_lists_the_latest_transfers_newest_first(
        schema_file: Path, tmp_path_factory: pytest.TempPathFactory,
        moves: list[tuple[bool, int]]) -> None:
    copy = tmp_path_factory.mktemp("case") / "ledger.sqlite3"
    copy.write_bytes(schema_file.read_bytes())
    db = Database(f"sqlite:///{copy}")
    try:
        _post(db, moves)
        with db.read() as conn:
            found = history_of(conn, "m", "m:cny")
    finally:
        db.dispose()
    assert found is not None
    newest = sorted(enumerate(moves), key=lambda m: (m[1][1], m[0]), reverse=True)[:_HISTORY]
    assert [(e.source, e.amount) for e in found[1]] == \
        [(f"test/s{n}", -(1 + n) if out else 1 + n) for n, (out, _) in newest]


def _steps(db: Database) -> int:
    """How many SQLite virtual machine steps (in thousands) the page's read takes."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    with db.read() as conn:
        raw = conn.connection.dbapi_connection
        raw.set_progress_handler(tick, 1000)  # type: ignore[union-attr]
        try:
            history_of(conn, "m", "m:cny")
        finally:
            raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
    return counted[0]


def test_the_page_reads_no_more_of_a_long_history(fresh: Database, tmp_path: Path) -> None:
    _post(fresh, [(n % 3 == 0, n // 2) for n in range(2 * _HISTORY)])
    short = _steps(fresh)
    _post(fresh, [(n % 3 == 0, 10**9 + n // 2) for n in range(30_000)],  # 150 times longer
          first=2 * _HISTORY)
    assert _steps(fresh) <= 2 * short + 2
