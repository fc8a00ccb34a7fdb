"""JUnit XML, the report format CI systems read (one testsuite per application)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from apdu_specs.hexutil import to_hex

from .results import CaseResult, Outcome, SuiteResult

__all__ = ["junit_xml", "write_junit"]

SUITE_NAME = "dualcard conformance"


def junit_xml(result: SuiteResult) -> str:
    suites: dict[str, list[CaseResult]] = {}
    for item in result.results:
        suites.setdefault(item.case.application, []).append(item)
    root = ET.Element("testsuites", _counts(result.results, name=SUITE_NAME))
    for application, items in suites.items():
        suite = ET.SubElement(root, "testsuite", _counts(items, name=application))
        for item in items:
            _testcase(suite, item)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: SuiteResult, path: str | Path) -> None:
    Path(path).write_text(junit_xml(result), encoding="utf-8")


def _counts(items: list[CaseResult], *, name: str) -> dict[str, str]:
    counts = Counter(i.outcome for i in items)
    return {"name": name, "tests": str(len(items)), "failures": str(counts[Outcome.FAIL]),
            "errors": str(counts[Outcome.ERROR]), "skipped": str(counts[Outcome.SKIP])}


def _testcase(parent: ET.Element, item: CaseResult) -> None:
    case = item.case
    spec_name = case.spec.name if case.spec is not None else "unknown INS"
    where = f" [{item.target}]" if item.target is not None else ""
    element = ET.SubElement(parent, "testcase", {
        "classname": f"{case.application}.{spec_name}",
        "name": f"{case.kind}: {case.title}{where}",
    })
    if item.outcome is Outcome.SKIP:
        ET.SubElement(element, "skipped", {"message": item.detail})
        return
    detail = f">> {to_hex(case.command)}\n<< {to_hex(item.response)}\n{item.detail}"
    if item.outcome is Outcome.FAIL:
        ET.SubElement(element, "failure", {"message": item.detail, "type": "status word"}).text \
            = detail
    elif item.outcome is Outcome.ERROR:
        ET.SubElement(element, "error", {"message": item.detail, "type": "transport"}).text \
            = detail
    else:
        ET.SubElement(element, "system-out").text = detail
