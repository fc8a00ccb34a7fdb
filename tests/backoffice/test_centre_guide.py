"""docs/settlement.md run as written against PostgreSQL (the guides' own test runs it on
SQLite): the page takes its database from ``DUALCARD_DB`` when one is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docblocks import page_blocks
from tests.guides.sandbox import make_sandbox

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_settlement_guide_runs_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    blocks = page_blocks("settlement.md")
    sandbox = make_sandbox(tmp_path)
    sandbox.env["DUALCARD_DB"] = pg_url
    sandbox.write_files(blocks)
    ran = sandbox.run(blocks, with_vpcd=False)
    assert ran.exit_code == 0, ran.tail()
    assert "topup/C001/2     auto       3,120.00 CNY  completed" in ran.output
