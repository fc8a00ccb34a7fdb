"""The integrator guide docs/points.md runs as written: every python block, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cardlib.purse  # noqa: F401  (registers the purse load file)

DOC = Path(__file__).resolve().parents[2] / "docs" / "points.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
VPCD_BLOCK = re.compile(r"^```python vpcd\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_guide_has_examples():
    assert len(BLOCK.findall(DOC.read_text(encoding="utf-8"))) >= 6


def test_guide_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "points_guide"}
    for number, block in enumerate(BLOCK.findall(DOC.read_text(encoding="utf-8")), start=1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    assert "KCV" in capsys.readouterr().out
    assert namespace["outcome"] is None


@pytest.mark.vpcd
def test_guide_runs_through_the_virtual_reader(tmp_path, monkeypatch, capsys) -> None:
    """The same guide, then its ``python vpcd`` blocks: the card served on pcscd + vpcd."""
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "points_guide"}
    for number, block in enumerate(BLOCK.findall(text), start=1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    vpcd_blocks = VPCD_BLOCK.findall(text)
    assert vpcd_blocks
    for number, block in enumerate(vpcd_blocks, start=1):
        exec(compile(block, f"{DOC.name} vpcd block {number}", "exec"), namespace)
    assert "through pcscd" in capsys.readouterr().out
