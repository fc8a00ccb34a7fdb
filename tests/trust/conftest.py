"""The hostile-terminal suite runs on both databases and with a real simulated card: it
borrows the back office's database fixtures and the POS rig."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import Rig, open_rig


@pytest.fixture
def rig(sim_card: Any, tmp_path: Path, db_url: str) -> Iterator[Rig]:  # noqa: F811
    """The POS rig on the test's database kind (SQLite, then PostgreSQL)."""
    yield from open_rig(sim_card, tmp_path, db_url)
