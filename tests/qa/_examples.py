"""Load the example packages of ``examples/`` as if they were installed."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAMP_CARD = ROOT / "examples" / "stamp_card"


def use_stamp_card() -> None:
    """Make ``import stamp_card`` work (what ``pip install -e examples/stamp_card`` does)."""
    if str(STAMP_CARD) not in sys.path:
        sys.path.insert(0, str(STAMP_CARD))
