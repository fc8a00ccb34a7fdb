"""docs/personal-reader.md's python block runs as written (its shell blocks run in the
guides suite)."""

from __future__ import annotations

import cardlib.payment  # noqa: F401  (registers the payment load file)
from tests.docblocks import run_page

PAGE = "personal-reader.md"


def test_guide_code_runs() -> None:
    namespace = run_page(PAGE)
    assert namespace["identity"].pan == "6200000000000005"
