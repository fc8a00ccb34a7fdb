"""The examples of docs/applets.md and docs/qa.md run, and show the files they claim to."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from tests.qa._docs import ROOT, blocks, console_lines, read, run_console
from tests.qa._examples import use_stamp_card
from tests.qa._known import KNOWN_DEVIATIONS

pytestmark = pytest.mark.sim

APPLETS = read("applets.md")
QA = read("qa.md")


def _file_blocks(page: str) -> dict[str, str]:
    return {b.name: b.text for b in blocks(page) if b.kind == "file"}


def _module_from(page: str, name: str) -> ModuleType:
    """A ``<!-- file: NAME -->`` block of a page, loaded as a test module."""
    spec = importlib.util.spec_from_loader(f"docs_{Path(name).stem}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(_file_blocks(page)[name], f"docs/{name}", "exec"), module.__dict__)
    return module


# --- docs/applets.md ---------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b in blocks(APPLETS) if b.kind == "include"],
                         ids=lambda b: b.name)
def test_the_tutorial_shows_each_file_verbatim(block) -> None:
    assert block.text == (ROOT / block.name).read_text(encoding="utf-8"), \
        "refresh with: python -m tests.qa._docs docs/applets.md"


def test_the_tutorial_includes_every_file_of_the_example() -> None:
    shown = {b.name for b in blocks(APPLETS) if b.kind == "include"}
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "examples" / "stamp_card").rglob("*")
             if p.suffix in (".py", ".toml") and p.name != "__init__.py"}
    assert files == shown


def test_the_tutorial_commands_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_stamp_card()
    import stamp_card.applet  # noqa: F401  (what the entry point does for an installed package)

    monkeypatch.chdir(tmp_path)
    for name, text in _file_blocks(APPLETS).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    ran = [r for r in (run_console(argv, tmp_path) for argv in console_lines(APPLETS)) if r]
    assert [r.argv[1:3] for r in ran] == [["sim", "new"], ["gp", "install"], ["script", "run"],
                                          ["conformance", "--reader"]]
    for result in ran:
        assert result.exit_code == 0, f"{' '.join(result.argv)}\n{result.output}"
    assert "ok: 5 checked answers as expected" in ran[2].output
    assert "PASSED" in ran[3].output and "stamp:REDEEM" in ran[3].output


# --- docs/qa.md ----------------------------------------------------------------------------

_pos = _module_from(QA, "test_pos.py")
points = _pos.points
sam = _pos.sam
loaded = _pos.loaded
test_pos_a_new_card_has_empty_purses = _pos.test_a_new_card_has_empty_purses
test_pos_a_purchase_debits_and_proves_it = _pos.test_a_purchase_debits_and_proves_it
test_pos_card_pulled_out_before_the_debit = _pos.test_card_pulled_out_before_the_debit
test_pos_every_torn_purchase_is_settled_correctly = \
    _pos.test_every_torn_purchase_is_settled_correctly
test_fuzz_malformed_apdus_are_answered_6700 = \
    _module_from(QA, "test_fuzz.py").test_malformed_apdus_are_answered_6700


def test_the_qa_page_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything but the virtual reader (tests/qa/test_qa_vpcd.py runs that part)."""
    monkeypatch.chdir(tmp_path)
    for name, text in _file_blocks(QA).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    lines = [argv for argv in console_lines(QA)
             if "pcsc:Virtual PCD" not in argv and argv[1:3] != ["sim", "serve"]]
    ran = {" ".join(argv[:3]): run_console(argv, tmp_path) for argv in lines
           if argv[1] != "trace"}
    assert ran["dualcard script run"].exit_code == 0, ran["dualcard script run"].output
    assert ran["dualcard apdu --reader"].exit_code == 0
    assert (tmp_path / "session.jsonl").read_text().count('"dir":"cmd"') >= 3
    assert ran["dualcard replay session.jsonl"].exit_code == 0, \
        ran["dualcard replay session.jsonl"].output
    conformance = ran["dualcard conformance --reader"]
    assert conformance.exit_code in (0, 6), conformance.output
    assert_only_known_failures(tmp_path / "conformance.xml")
    assert_traces_decode(tmp_path, [argv for argv in lines if argv[1] == "trace"])


def assert_traces_decode(tmp_path: Path, lines: list[list[str]]) -> None:
    """§6: the traces of §6 and §5 decode, named, with the secure channel undone."""
    gp_trace, jsonl = (run_console(argv, tmp_path) for argv in lines)
    assert gp_trace is not None and jsonl is not None
    assert gp_trace.exit_code == 0, gp_trace.output
    assert "card cryptogram verified with keys default" in gp_trace.output
    assert "secure messaging: SCP03 C-MAC — C-MAC verified" in gp_trace.output
    assert "E3 GP registry entry:" in gp_trace.output
    decoded = json.loads(jsonl.output)
    exchanges = [d for d in decoded if "name" in d]  # the rest are connect/disconnect
    assert [d["name"] for d in exchanges] == [
        "SELECT", "GET RESPONSE", "GET BALANCE", "INITIALIZE FOR LOAD", "GET RESPONSE"]
    assert exchanges[3]["command"]["fields"]["data"]["amount"] == 0x1C37
    assert exchanges[2]["response"]["fields"] == {"balance": 0}


def assert_only_known_failures(junit: Path) -> None:
    """The report's failures are the known deviations of the simulator, nothing else."""
    root = ET.parse(junit).getroot()
    failed = set()
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            kind, _, title = case.get("name", "").partition(": ")
            command = case.get("classname", "").replace(".", ":", 1)
            failed.add((command, kind, title.rsplit(" [", 1)[0]))
    assert failed <= set(KNOWN_DEVIATIONS), failed - set(KNOWN_DEVIATIONS)
    assert int(root.get("tests", "0")) > 200
