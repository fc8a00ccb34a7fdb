"""docs/payment.md runs as written: every python block, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cardlib.payment  # noqa: F401  (registers the payment load file)

DOC = Path(__file__).resolve().parents[2] / "docs" / "payment.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
VPCD_BLOCK = re.compile(r"^```python vpcd\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_guide_has_the_pos_script_and_the_issuer_check() -> None:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    assert any("verify_arqc" in b for b in blocks) and any("generate_ac" in b for b in blocks)


def test_guide_code_runs(capsys) -> None:
    namespace: dict[str, object] = {"__name__": "payment_guide"}
    for number, block in enumerate(BLOCK.findall(DOC.read_text(encoding="utf-8")), start=1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "ARQC ATC 0001" in out and "final: TC" in out and "rejected:" in out
    assert "credit limit 2000000 offline limit 50000" in out


@pytest.mark.vpcd
def test_guide_runs_through_the_virtual_reader(tmp_path, monkeypatch, capsys) -> None:
    """The same guide, then its ``python vpcd`` blocks: the card served on pcscd + vpcd."""
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "payment_guide"}
    for number, block in enumerate(BLOCK.findall(text), start=1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    vpcd_blocks = VPCD_BLOCK.findall(text)
    assert vpcd_blocks
    for number, block in enumerate(vpcd_blocks, start=1):
        exec(compile(block, f"{DOC.name} vpcd block {number}", "exec"), namespace)
    assert "through pcscd" in capsys.readouterr().out
