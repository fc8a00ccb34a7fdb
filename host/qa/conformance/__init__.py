"""A conformance suite generated from the command specs in ``apdu_specs``.

For every registered command: its examples (answered with a status word the spec
declares, a success parsing with the spec's response layout) and negative cases —
wrong length, wrong P1/P2, wrong CLA, unknown INS, missing security, wrong life cycle —
run against any card through one transport per chip.
"""

from host.qa.conformance.applications import APPLICATIONS, Application, Target
from host.qa.conformance.cases import Case, CaseKind, generate_cases
from host.qa.conformance.junit import junit_xml, write_junit
from host.qa.conformance.report import summary_line, table
from host.qa.conformance.results import CaseResult, Outcome, SuiteResult
from host.qa.conformance.runner import ConformanceSuite, SecureOpener

__all__ = [
    "APPLICATIONS",
    "Application",
    "Case",
    "CaseKind",
    "CaseResult",
    "ConformanceSuite",
    "Outcome",
    "SecureOpener",
    "SuiteResult",
    "Target",
    "generate_cases",
    "junit_xml",
    "summary_line",
    "table",
    "write_junit",
]
