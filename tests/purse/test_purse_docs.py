"""The integrator guide docs/points.md runs as written: every python block, in order."""

from __future__ import annotations

import pytest

import cardlib.purse  # noqa: F401  (registers the purse load file)
from tests.docblocks import blocks, run_page

PAGE = "points.md"


def test_guide_has_examples():
    assert len(blocks(PAGE)) >= 6


def test_guide_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = run_page(PAGE)
    assert "KCV" in capsys.readouterr().out
    assert namespace["outcome"] is None


@pytest.mark.vpcd
def test_guide_runs_through_the_virtual_reader(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(PAGE, with_vpcd=True)
    assert "through pcscd" in capsys.readouterr().out
