"""docs/payment.md runs as written: every python block, in order, in one namespace."""

from __future__ import annotations

import pytest

import cardlib.payment  # noqa: F401  (registers the payment load file)
from tests.docblocks import blocks, run_page

PAGE = "payment.md"


def test_guide_has_the_pos_script_and_the_issuer_check() -> None:
    code = blocks(PAGE)
    assert len(code) >= 6
    assert any("verify_arqc" in b for b in code) and any("generate_ac" in b for b in code)


def test_guide_code_runs(capsys) -> None:
    run_page(PAGE)
    out = capsys.readouterr().out
    assert "ARQC ATC 0001" in out and "final: TC" in out and "rejected:" in out
    assert "credit limit 2000000 offline limit 50000" in out


@pytest.mark.vpcd
def test_guide_runs_through_the_virtual_reader(capsys) -> None:
    run_page(PAGE, with_vpcd=True)
    assert "through pcscd: ARQC verified" in capsys.readouterr().out
