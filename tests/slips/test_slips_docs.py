"""docs/print.md's python block runs as written, and its slip is the tests' slip."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.docblocks import DOCS, run_page


def test_guide_code_runs() -> None:
    run_page("print.md")


def test_guide_slip_is_the_golden_one() -> None:
    shown = re.search(r"<!-- file: order.json -->\n```json\n(.*?)```",
                      (DOCS / "print.md").read_text(encoding="utf-8"), re.DOTALL)
    assert shown is not None
    assert json.loads(shown.group(1)) == json.loads(
        (Path(__file__).parent / "order.json").read_text(encoding="utf-8"))
